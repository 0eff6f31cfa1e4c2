//! `trainer eval`: a checkpoint's model on its run's test (or validation) split, on another
//! image directory's test files, or on a whole other table or text file; prints the metrics
//! and can write them as JSON.

use super::{Failure, guarded, open_checkpoint};
use crate::backend::select;
use crate::cli::{EvalArgs, EvalSplit};
use crate::fsutil::write_atomic;
use crate::jobs::EvalJob;
use crate::metrics::ConfusionMatrix;
use crate::task::{Task, TaskData, TaskSource};
use anyhow::anyhow;

/// Prints the split's loss and task metrics (per-class ones for up to 20 classes); with
/// `--output`, writes them as JSON.
pub fn eval(args: EvalArgs) -> Result<(), Failure> {
    let checkpoint = open_checkpoint(&args.checkpoint)?;
    let mut cfg = checkpoint.config.clone();
    if let Some(out) = &args.output {
        super::refuse_existing("--output", out)?;
    }
    let task = checkpoint.saved().task();
    let image_data = !task.reads_one_file();
    // `--data` scores a whole other file, or an image directory's test files; the validation
    // split of another image directory comes from its training files, as in a run.
    let mut split = args.split.unwrap_or(EvalSplit::Test);
    let other_valid_split = image_data && split == EvalSplit::Valid;
    let source = match &args.data {
        Some(path) if !other_valid_split => {
            TaskSource::whole_file(&checkpoint.saved(), path).map_err(Failure::input)?
        }
        other => {
            if let Some(dir) = other {
                cfg.data.dir = dir.clone();
            }
            let data = TaskData::open(&cfg, Some(checkpoint.assets())).map_err(|e| {
                Failure::input(super::relative_data_hint(
                    e,
                    &cfg,
                    "start eval where the run was started, or give --data",
                ))
            })?;
            if args.split.is_none() && !data.has_test() {
                super::note(format_args!(
                    "the run has no test split: evaluating its validation split"
                ));
                split = EvalSplit::Valid;
            }
            data.split(split == EvalSplit::Test)
        }
    };
    if let TaskSource::Images(s) = &source
        && s.num_classes() > checkpoint.state.num_classes
    {
        return Err(Failure::input(anyhow!(
            "{}: labels go up to {} but the checkpoint's model has {} classes",
            args.data.as_ref().unwrap_or(&cfg.data.dir).display(),
            s.num_classes() - 1,
            checkpoint.state.num_classes
        )));
    }
    let language_model = task == Task::Text;
    let what = match (&args.data, image_data) {
        (Some(file), false) => format!("{} (all of it)", file.display()),
        _ => format!("{} split", split.name()),
    };
    let selection = select(args.backend, args.device).map_err(Failure::input)?;
    // Diagnostics go to stderr, results to stdout.
    super::note(format_args!("backend: {}", selection.reason));
    let job = EvalJob {
        checkpoint: &checkpoint,
        source: &source,
    };
    let (r, confusion) = guarded("evaluation", || {
        crate::backend::eval(&selection.choice, job)
    })??;
    let names = checkpoint.saved().class_names(confusion.classes());
    crate::outln!("{what}: {} ({} {})", r.describe(), r.samples, task.unit());
    let classes = confusion.classes();
    if !language_model && classes > 0 && classes <= MAX_PRINTED_CLASSES {
        print_per_class(&confusion, &names);
    }
    if let Some(out) = &args.output {
        let mut json = serde_json::json!({
            "checkpoint": checkpoint.path.display().to_string(),
            "model": checkpoint.state.model,
            "global_step": checkpoint.state.position.global_step,
            "data": match (&args.data, image_data) {
                (Some(p), _) => p.display().to_string(),
                (None, true) => cfg.data.dir.display().to_string(),
                (None, false) => cfg.data.file.display().to_string(),
            },
            "split": if args.data.is_some() && !image_data { "all" } else { split.name() },
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
