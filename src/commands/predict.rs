//! `trainer predict`: a checkpoint's model over an IDX image file or a CSV table, logits out.

use super::restore::{Opened, open};
use super::{Failure, guarded};
use crate::backend::{BackendJob, dispatch, select};
use crate::cli::PredictArgs;
use crate::data::{
    BatchSource, DataSource, IdxImages, InMemoryImages, Normalize, TableRows, TableTask,
    TargetScale, open_table_rows, read_idx_images,
};
use crate::fsutil::AtomicFile;
use crate::task::{Task, TaskModel};
use crate::train::{PredictError, predict as run_model};
use anyhow::anyhow;
use burn::tensor::backend::AutodiffBackend;
use std::io::Write;
use std::path::Path;

/// How each row is written.
#[derive(Clone, Copy)]
enum Format {
    Csv,
    JsonLines,
}

/// What each row reports: the class (with its name for tables) and logits, or a value.
enum Output {
    Classes(Option<Vec<String>>),
    Values(TargetScale),
}

/// What is scored: IDX images for image models, CSV rows for the tabular MLP.
enum Input {
    Images(IdxImages),
    Table(TableRows),
}

struct PredictJob<'a> {
    args: &'a PredictArgs,
    checkpoint: &'a Opened,
    input: Input,
    out: AtomicFile,
}

impl BackendJob for PredictJob<'_> {
    type Output = Result<usize, Failure>;

    fn run<B: AutodiffBackend>(self, _backend: &'static str, device: B::Device) -> Self::Output {
        let (args, r, mut out) = (self.args, self.checkpoint, self.out);
        let format = if args.output.extension().is_some_and(|e| e == "csv") {
            Format::Csv
        } else {
            Format::JsonLines
        };
        let out_err = |e: std::io::Error| anyhow!("{}: {e}", args.output.display());
        let model = r.restore::<B::InnerBackend>(&device)?;
        let output = match &model {
            TaskModel::Table(_, prep) => match prep.task {
                TableTask::Classification => Output::Classes(Some(prep.classes.clone())),
                TableTask::Regression => Output::Values(prep.target),
            },
            _ => Output::Classes(None),
        };
        if let Format::Csv = format {
            let header = match &output {
                Output::Values(_) => "index,prediction".to_string(),
                Output::Classes(names) => {
                    let label = if names.is_some() { ",label" } else { "" };
                    let logits: Vec<String> = (0..r.state.num_classes)
                        .map(|c| format!(",logit_{c}"))
                        .collect();
                    format!("index,predicted{label}{}", logits.concat())
                }
            };
            writeln!(out, "{header}").map_err(|e| Failure::runtime(out_err(e)))?;
        }
        let batch = usize::try_from(args.batch_size).unwrap_or(usize::MAX);
        let sink = |first: usize, outputs: &[f32], width: usize| match &output {
            Output::Classes(names) => {
                write_rows(&mut out, format, first, outputs, width, names.as_deref())
            }
            Output::Values(scale) => write_values(&mut out, format, first, outputs, scale),
        };
        let count = match (self.input, model) {
            (Input::Images(images), TaskModel::Images(model)) => {
                let shape = [1, images.rows, images.cols];
                let norm = Normalize {
                    mean: r.config.data.normalize_mean as f32,
                    std: r.config.data.normalize_std as f32,
                };
                let count = images.count;
                let source = InMemoryImages::unlabelled(images.pixels, count, shape, norm);
                run_model(&model, &source as &dyn DataSource, batch, &device, sink).map(|_| count)
            }
            (Input::Table(rows), TaskModel::Table(model, _)) => {
                run_model(&model, &rows, batch, &device, sink).map(|_| rows.len())
            }
            _ => {
                return Err(Failure::input(anyhow!(
                    "{}: predict scores images and tables; this checkpoint holds a {} model",
                    r.path.display(),
                    r.state.model
                )));
            }
        }
        .map_err(|e| match e {
            PredictError::Train(e) => Failure::runtime(e),
            PredictError::Sink(e) => Failure::runtime(out_err(e)),
        })?;
        out.commit().map_err(|e| Failure::runtime(out_err(e)))?;
        Ok(count)
    }
}

/// Writes one row per sample; `names` (tables) adds the predicted class name as `label`.
fn write_rows(
    out: &mut impl Write,
    format: Format,
    first: usize,
    logits: &[f32],
    classes: usize,
    names: Option<&[String]>,
) -> std::io::Result<()> {
    for (i, row) in logits.chunks(classes.max(1)).enumerate() {
        let predicted = argmax(row);
        let label = names.and_then(|n| n.get(predicted)).map(String::as_str);
        match format {
            Format::Csv => {
                write!(out, "{},{predicted}", first + i)?;
                if let Some(l) = label {
                    write!(out, ",{}", csv_field(l))?;
                }
                for v in row {
                    write!(out, ",{v}")?;
                }
                writeln!(out)?;
            }
            Format::JsonLines => {
                let line = Row {
                    index: first + i,
                    predicted,
                    label,
                    logits: row,
                };
                serde_json::to_writer(&mut *out, &line)?;
                writeln!(out)?;
            }
        }
    }
    Ok(())
}

/// Writes one predicted value per row, in the target's units.
fn write_values(
    out: &mut impl Write,
    format: Format,
    first: usize,
    outputs: &[f32],
    scale: &TargetScale,
) -> std::io::Result<()> {
    for (i, &v) in outputs.iter().enumerate() {
        let prediction = scale.original(f64::from(v));
        match format {
            Format::Csv => writeln!(out, "{},{prediction}", first + i)?,
            Format::JsonLines => {
                let line = serde_json::json!({"index": first + i, "prediction": prediction});
                serde_json::to_writer(&mut *out, &line)?;
                writeln!(out)?;
            }
        }
    }
    Ok(())
}

/// One JSON line (f32 logits print in their shortest exact form).
#[derive(serde::Serialize)]
struct Row<'a> {
    index: usize,
    predicted: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<&'a str>,
    logits: &'a [f32],
}

/// A CSV field, quoted when it holds a comma, quote or line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Index of the largest value (the first on ties), as `argmax` in Burn and PyTorch.
fn argmax(row: &[f32]) -> usize {
    row.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |(bi, bv), (i, &v)| {
            if v > bv { (i, v) } else { (bi, bv) }
        })
        .0
}

/// Scores `args.input` with the checkpoint's model and writes `args.output`.
pub fn predict(args: PredictArgs) -> Result<(), Failure> {
    // Everything a user can get wrong is checked before a backend is touched.
    super::refuse_existing("--output", &args.output)?;
    let checkpoint = open(&args.checkpoint)?;
    let input = match checkpoint.saved().task() {
        Task::Table => Input::Table(
            open_table_rows(&args.input, checkpoint.preprocessing()?).map_err(Failure::input)?,
        ),
        Task::Text => {
            return Err(Failure::input(anyhow!(
                "{}: holds a gpt model; predict scores images and tables, `trainer sample` generates text",
                args.checkpoint.display()
            )));
        }
        Task::Images => {
            let images = read_idx_images(&args.input).map_err(Failure::input)?;
            let shape = [1, images.rows, images.cols];
            if shape != checkpoint.state.input_shape {
                return Err(Failure::input(anyhow!(
                    "{}: images are {:?} but the model was trained on {:?}",
                    args.input.display(),
                    shape,
                    checkpoint.state.input_shape
                )));
            }
            Input::Images(images)
        }
    };
    let out = AtomicFile::create(&args.output)
        .map_err(|e| Failure::input(anyhow!("{}: {e}", args.output.display())))?;
    let selection = select(args.backend, args.device).map_err(Failure::input)?;
    crate::outln!("backend: {}", selection.reason);
    let job = PredictJob {
        args: &args,
        checkpoint: &checkpoint,
        input,
        out,
    };
    let n = guarded("prediction", || dispatch(&selection.choice, job))??;
    crate::outln!("wrote {} ({n} predictions)", display(&args.output));
    Ok(())
}

fn display(p: &Path) -> String {
    p.display().to_string()
}
