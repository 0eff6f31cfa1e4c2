//! `trainer eval`: a checkpoint's model on its run's test (or validation) split, on another
//! image directory's test files, or on a whole other table or text file; prints the metrics
//! and can write them as JSON.

use super::restore::{Opened, open};
use super::run_data::RunData;
use super::{Failure, guarded};
use crate::backend::{BackendJob, dispatch, select};
use crate::cli::{EvalArgs, EvalSplit};
use crate::config::DataFormat;
use crate::data::{
    BatchSource, DataSource, LoaderSettings, TableRows, TextWindows, open_table_rows,
    open_text_windows,
};
use crate::fsutil::write_atomic;
use crate::metrics::ConfusionMatrix;
use crate::model::Trainable;
use crate::train::{EvalResult, evaluate_with_confusion};
use anyhow::anyhow;
use burn::tensor::backend::{AutodiffBackend, Backend};
use std::sync::Arc;

/// The one source `eval` scores, by data family.
enum EvalSource {
    Images(Arc<dyn DataSource>),
    Text(Arc<TextWindows>),
    Table(Arc<TableRows>),
}

impl EvalSource {
    /// The `split` of the run's data (`data` already re-pointed by `--data` for images).
    fn split(data: RunData, split: EvalSplit) -> Self {
        fn pick<T>(split: EvalSplit, test: T, valid: T) -> T {
            if split == EvalSplit::Test {
                test
            } else {
                valid
            }
        }
        match data {
            RunData::Images(s) => EvalSource::Images(pick(split, s.test, s.valid)),
            RunData::Text(s, _) => EvalSource::Text(pick(split, s.test, s.valid)),
            RunData::Table(s, _) => EvalSource::Table(pick(split, s.test, s.valid)),
        }
    }

    /// Every labelled row (table) or window (text) of `file`, read the run's way.
    fn whole_file(checkpoint: &Opened, file: &std::path::Path) -> Result<Self, Failure> {
        let cfg = &checkpoint.config;
        Ok(match cfg.data.format {
            DataFormat::Csv => {
                let rows =
                    open_table_rows(file, checkpoint.preprocessing()?).map_err(Failure::input)?;
                if !rows.labelled() {
                    return Err(Failure::input(anyhow!(
                        "{}: no `{}` column; eval needs labels (predict scores unlabelled rows)",
                        file.display(),
                        cfg.data.label
                    )));
                }
                EvalSource::Table(Arc::new(rows))
            }
            _ => {
                let windows =
                    open_text_windows(file, cfg.model.gpt.block_size, checkpoint.vocab()?)
                        .map_err(Failure::input)?;
                EvalSource::Text(Arc::new(windows))
            }
        })
    }
}

struct EvalJob<'a> {
    checkpoint: &'a Opened,
    source: &'a EvalSource,
}

impl BackendJob for EvalJob<'_> {
    type Output = Result<(EvalResult, ConfusionMatrix), Failure>;

    fn run<B: AutodiffBackend>(self, _backend: &'static str, device: B::Device) -> Self::Output {
        let r = self.checkpoint;
        let d = &r.config.data;
        let loader = LoaderSettings::resolve(d.workers, d.prefetch);
        let (bs, dev) = (d.eval_batch_size, &device);
        match self.source {
            EvalSource::Images(s) => {
                let model = r.model::<B::InnerBackend>(dev)?;
                on_source(model, s, loader, bs, dev)
            }
            EvalSource::Text(s) => {
                let (model, _) = r.gpt::<B::InnerBackend>(dev)?;
                on_source(model, s, loader, bs, dev)
            }
            EvalSource::Table(s) => {
                let model = r.table_mlp::<B::InnerBackend>(dev)?;
                on_source(model, s, loader, bs, dev)
            }
        }
    }
}

/// Evaluates `model` on `source`.
fn on_source<B, M, S>(
    model: M,
    source: &Arc<S>,
    loader: LoaderSettings,
    batch_size: usize,
    device: &B::Device,
) -> Result<(EvalResult, ConfusionMatrix), Failure>
where
    B: Backend,
    M: Trainable<B>,
    S: BatchSource<Batch = M::Batch> + ?Sized + 'static,
{
    if source.is_empty() {
        return Err(Failure::input(anyhow!(
            "nothing to evaluate: the split is empty (check data.validation_fraction / data.test_fraction)"
        )));
    }
    evaluate_with_confusion(&model, source, batch_size, loader, device).map_err(Failure::train)
}

/// Prints the split's loss and task metrics (per-class ones for up to 20 classes); with
/// `--output`, writes them as JSON.
pub fn eval(args: EvalArgs) -> Result<(), Failure> {
    let checkpoint = open(&args.checkpoint)?;
    let mut cfg = checkpoint.config.clone();
    if let Some(out) = &args.output {
        super::refuse_existing("--output", out)?;
    }
    let image_data = matches!(cfg.data.format, DataFormat::Idx | DataFormat::Cifar10);
    let source = match &args.data {
        Some(file) if !image_data => EvalSource::whole_file(&checkpoint, file)?,
        other => {
            if let Some(dir) = other {
                cfg.data.dir = dir.clone();
            }
            let data = RunData::open(&cfg, Some(checkpoint.assets())).map_err(Failure::input)?;
            EvalSource::split(data, args.split)
        }
    };
    if let EvalSource::Images(s) = &source
        && s.num_classes() > checkpoint.state.num_classes
    {
        return Err(Failure::input(anyhow!(
            "{}: labels go up to {} but the checkpoint's model has {} classes",
            cfg.data.dir.display(),
            s.num_classes() - 1,
            checkpoint.state.num_classes
        )));
    }
    let language_model = matches!(source, EvalSource::Text(_));
    let what = match (&args.data, image_data) {
        (Some(file), false) => format!("{} (all of it)", file.display()),
        _ => format!("{} split", args.split.name()),
    };
    let selection = select(args.backend, args.device).map_err(Failure::input)?;
    crate::outln!("backend: {}", selection.reason);
    let job = EvalJob {
        checkpoint: &checkpoint,
        source: &source,
    };
    let (r, confusion) = guarded("evaluation", || dispatch(&selection.choice, job))??;
    let names = class_names(&checkpoint, confusion.classes());
    crate::outln!(
        "{what}: {} ({} {})",
        r.describe(),
        r.samples,
        if language_model { "tokens" } else { "samples" }
    );
    let classes = confusion.classes();
    if !language_model && classes > 0 && classes <= MAX_PRINTED_CLASSES {
        print_per_class(&confusion, &names);
    }
    if let Some(out) = &args.output {
        let mut json = serde_json::json!({
            "checkpoint": args.checkpoint.display().to_string(),
            "model": checkpoint.state.model,
            "global_step": checkpoint.state.global_step,
            "data": match (&args.data, image_data) {
                (Some(p), _) => p.display().to_string(),
                (None, true) => cfg.data.dir.display().to_string(),
                (None, false) => cfg.data.file.display().to_string(),
            },
            "split": if args.data.is_some() && !image_data { "all" } else { args.split.name() },
        });
        if let (Some(obj), Ok(serde_json::Value::Object(metrics))) =
            (json.as_object_mut(), serde_json::to_value(r))
        {
            obj.extend(metrics);
            if classes > 0 {
                obj.insert("per_class".into(), per_class_json(&confusion, &names));
                obj.insert(
                    "confusion_matrix".into(),
                    serde_json::json!(confusion.rows()),
                );
            }
        }
        let bytes = serde_json::to_vec_pretty(&json).map_err(Failure::runtime)?;
        write_atomic(out, &bytes)
            .map_err(|e| Failure::runtime(anyhow!("{}: {e}", out.display())))?;
        crate::outln!("wrote {}", out.display());
    }
    Ok(())
}

/// Above this many classes the per-class table is only in the JSON output.
const MAX_PRINTED_CLASSES: usize = 20;

/// Class names: a table's saved classes, a text's characters, else the class ids.
fn class_names(checkpoint: &Opened, classes: usize) -> Vec<String> {
    let saved = match checkpoint.config.data.format {
        DataFormat::Csv => checkpoint.preprocessing().ok().map(|p| p.classes),
        DataFormat::Text => checkpoint
            .vocab()
            .ok()
            .map(|v| v.chars.chars().map(|c| format!("{c:?}")).collect()),
        DataFormat::Idx | DataFormat::Cifar10 => None,
    };
    (0..classes)
        .map(|c| {
            saved
                .as_ref()
                .and_then(|n| n.get(c).cloned())
                .unwrap_or_else(|| c.to_string())
        })
        .collect()
}

/// Precision, recall, F1 and support per class, then the confusion matrix.
fn print_per_class(m: &ConfusionMatrix, names: &[String]) {
    let width = names.iter().map(String::len).max().unwrap_or(5).max(5);
    crate::outln!("  {:<width$}  precision  recall     f1  support", "class");
    for (c, name) in names.iter().enumerate() {
        crate::outln!(
            "  {name:<width$}  {:>9.4}  {:>6.4}  {:>5.4}  {:>7}",
            m.precision(c),
            m.recall(c),
            m.f1(c),
            m.support(c)
        );
    }
    crate::outln!("  confusion matrix (rows: true class, columns: predicted):");
    for (name, row) in names.iter().zip(m.rows()) {
        let cells: Vec<String> = row.iter().map(|v| format!("{v:>6}")).collect();
        crate::outln!("  {name:<width$}  {}", cells.join(""));
    }
}

fn per_class_json(m: &ConfusionMatrix, names: &[String]) -> serde_json::Value {
    let rows: Vec<serde_json::Value> = names
        .iter()
        .enumerate()
        .map(|(c, name)| {
            serde_json::json!({
                "class": name,
                "precision": m.precision(c),
                "recall": m.recall(c),
                "f1": m.f1(c),
                "support": m.support(c),
            })
        })
        .collect();
    serde_json::Value::Array(rows)
}
