//! A checkpoint's model over unlabelled images or table rows: one row of outputs per sample.

use super::{BackendJob, JobError, Opened};
use crate::data::{
    BatchSource, DataSource, IdxImages, InMemoryImages, Normalize, TableRows, TableTask,
    TargetScale,
};
use crate::fsutil::AtomicFile;
use crate::task::TaskModel;
use crate::train::{PredictError, predict as run_model};
use burn::tensor::backend::AutodiffBackend;
use std::io::Write;
use std::path::Path;

/// How each row is written.
#[derive(Clone, Copy)]
pub enum PredictFormat {
    /// `index,predicted,...` rows with a header.
    Csv,
    /// One JSON object a line.
    JsonLines,
}

/// What each row reports: the class (with its name for tables) and logits, or a value.
enum Output {
    Classes(Option<Vec<String>>),
    Values(TargetScale),
}

/// What is scored: IDX images for image models, CSV rows for the tabular MLP.
pub enum PredictInput {
    /// Unlabelled images.
    Images(IdxImages),
    /// Table rows with the model's feature columns.
    Table(TableRows),
}

/// Scores `input` with the checkpoint's model and writes one row per sample to `out`.
pub struct PredictJob<'a> {
    /// A verified checkpoint.
    pub checkpoint: &'a Opened,
    /// What to score.
    pub input: PredictInput,
    /// The output file (committed when every row is written).
    pub out: AtomicFile,
    /// Where `out` goes (for messages).
    pub output: &'a Path,
    /// How rows are written.
    pub format: PredictFormat,
    /// Samples a batch.
    pub batch_size: usize,
}

impl BackendJob for PredictJob<'_> {
    type Output = Result<usize, JobError>;

    fn run<B: AutodiffBackend>(self, _backend: &'static str, device: B::Device) -> Self::Output {
        let (r, mut out, format) = (self.checkpoint, self.out, self.format);
        let output_path = self.output;
        let out_err =
            |e: std::io::Error| JobError::Runtime(format!("{}: {e}", output_path.display()));
        let model = r.restore::<B::InnerBackend>(&device)?;
        let output = match &model {
            TaskModel::Table(_, prep) => match prep.task {
                TableTask::Classification => Output::Classes(Some(prep.classes.clone())),
                TableTask::Regression => Output::Values(prep.target),
            },
            _ => Output::Classes(None),
        };
        if let PredictFormat::Csv = format {
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
            writeln!(out, "{header}").map_err(out_err)?;
        }
        let batch = self.batch_size;
        let sink = |first: usize, outputs: &[f32], width: usize| match &output {
            Output::Classes(names) => {
                write_rows(&mut out, format, first, outputs, width, names.as_deref())
            }
            Output::Values(scale) => write_values(&mut out, format, first, outputs, scale),
        };
        let count = match (self.input, model) {
            (PredictInput::Images(images), TaskModel::Images(model)) => {
                let shape = [1, images.rows, images.cols];
                let norm = Normalize {
                    mean: r.config.data.normalize_mean as f32,
                    std: r.config.data.normalize_std as f32,
                };
                let count = images.count;
                let source = InMemoryImages::unlabelled(images.pixels, count, shape, norm);
                run_model(&model, &source as &dyn DataSource, batch, &device, sink).map(|_| count)
            }
            (PredictInput::Table(rows), TaskModel::Table(model, _)) => {
                run_model(&model, &rows, batch, &device, sink).map(|_| rows.len())
            }
            _ => {
                return Err(JobError::Input(format!(
                    "{}: predict scores images and tables; this checkpoint holds a {} model",
                    r.path.display(),
                    r.state.model
                )));
            }
        }
        .map_err(|e| match e {
            PredictError::Train(e) => JobError::runtime(e),
            PredictError::Sink(e) => out_err(e),
        })?;
        out.commit().map_err(out_err)?;
        Ok(count)
    }
}

/// Writes one row per sample; `names` (tables) adds the predicted class name as `label`.
fn write_rows(
    out: &mut impl Write,
    format: PredictFormat,
    first: usize,
    logits: &[f32],
    classes: usize,
    names: Option<&[String]>,
) -> std::io::Result<()> {
    for (i, row) in logits.chunks(classes.max(1)).enumerate() {
        let predicted = argmax(row);
        let label = names.and_then(|n| n.get(predicted)).map(String::as_str);
        match format {
            PredictFormat::Csv => {
                write!(out, "{},{predicted}", first + i)?;
                if let Some(l) = label {
                    write!(out, ",{}", csv_field(l))?;
                }
                for v in row {
                    write!(out, ",{v}")?;
                }
                writeln!(out)?;
            }
            PredictFormat::JsonLines => {
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
    format: PredictFormat,
    first: usize,
    outputs: &[f32],
    scale: &TargetScale,
) -> std::io::Result<()> {
    for (i, &v) in outputs.iter().enumerate() {
        let prediction = scale.original(f64::from(v));
        match format {
            PredictFormat::Csv => writeln!(out, "{},{prediction}", first + i)?,
            PredictFormat::JsonLines => {
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
