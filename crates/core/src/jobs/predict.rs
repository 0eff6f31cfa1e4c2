//! A checkpoint's model over unlabelled images (IDX, image files) or table rows: one row of
//! outputs per sample.

use super::{BackendJob, JobError, Opened};
use crate::data::{BatchSource, TableTask, TargetScale};
use crate::fsutil::AtomicFile;
use crate::model::Trainable;
use crate::task::{SourceJob, TaskModel, TaskSource};
use crate::train::{PredictError, predict as run_model};
use burn::prelude::Backend;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use trainer_ops::TrainBackend;

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

/// Scores `input` with the checkpoint's model and writes one row per sample to `out`.
pub struct PredictJob<'a> {
    /// A verified checkpoint.
    pub checkpoint: &'a Opened,
    /// What to score: unlabelled samples of the model's task
    /// ([`SavedModel::unlabelled_source`](crate::task::SavedModel::unlabelled_source)).
    pub input: &'a TaskSource,
    /// The output file (committed when every row is written).
    pub out: AtomicFile,
    /// Where `out` goes (for messages).
    pub output: &'a Path,
    /// How rows are written.
    pub format: PredictFormat,
    /// Samples a batch.
    pub batch_size: usize,
    /// Also write each class's probability (the softmax of the logits).
    pub probabilities: bool,
}

impl BackendJob for PredictJob<'_> {
    type Output = Result<usize, JobError>;

    fn run<B: TrainBackend>(self, _backend: &'static str, device: B::Device) -> Self::Output {
        let (r, mut out, format) = (self.checkpoint, self.out, self.format);
        let probabilities = self.probabilities;
        let output_path = self.output;
        let out_err =
            |e: std::io::Error| JobError::Runtime(format!("{}: {e}", output_path.display()));
        let model = r.restore::<B::InnerBackend>(&device)?;
        let output = match &model {
            TaskModel::Table(_, prep) => match prep.task {
                TableTask::Classification => Output::Classes(Some(prep.classes.clone())),
                TableTask::Regression => Output::Values(prep.target),
            },
            TaskModel::Images(_) => Output::Classes(r.saved().image_classes().ok().flatten()),
            TaskModel::Text(..) => Output::Classes(None),
        };
        // Image files scored one by one are named in each row.
        let files = match self.input {
            TaskSource::Images(s) => s.sample_names(),
            _ => None,
        };
        if let PredictFormat::Csv = format {
            let header = match &output {
                Output::Values(_) => "index,prediction".to_string(),
                Output::Classes(names) => {
                    let label = if names.is_some() { ",label" } else { "" };
                    let file = if files.is_some() { ",file" } else { "" };
                    let classes = 0..r.state.num_classes;
                    let logits: String = classes.clone().map(|c| format!(",logit_{c}")).collect();
                    let probs: String = match probabilities {
                        true => classes.map(|c| format!(",prob_{c}")).collect(),
                        false => String::new(),
                    };
                    format!("index{file},predicted{label}{logits}{probs}")
                }
            };
            writeln!(out, "{header}").map_err(out_err)?;
        }
        let batch = self.batch_size;
        let sink = |first: usize, outputs: &[f32], width: usize| match &output {
            Output::Classes(names) => {
                let rows = Rows {
                    format,
                    first,
                    classes: width,
                    names: names.as_deref(),
                    files: files.as_deref(),
                    probabilities,
                };
                write_rows(&mut out, outputs, rows)
            }
            Output::Values(scale) => write_values(&mut out, format, first, outputs, scale),
        };
        let score = Score::<B::InnerBackend, _> {
            batch,
            device: &device,
            sink,
        };
        let scored = model.with_source(self.input, score).ok_or_else(|| {
            JobError::Input(format!(
                "{}: predict scores images and tables; this checkpoint holds a {} model",
                r.path.display(),
                r.state.model
            ))
        })?;
        let count = scored.map_err(|e| match e {
            PredictError::Train(e) => JobError::runtime(e),
            PredictError::Sink(e) => out_err(e),
        })?;
        out.commit().map_err(out_err)?;
        Ok(count)
    }
}

/// Runs a model over a source of its batches, handing each batch's outputs to `sink`;
/// returns the samples scored.
struct Score<'a, B: Backend, K> {
    batch: usize,
    device: &'a B::Device,
    sink: K,
}

impl<B, K> SourceJob<B> for Score<'_, B, K>
where
    B: Backend,
    K: FnMut(usize, &[f32], usize) -> std::io::Result<()>,
{
    type Output = Result<usize, PredictError<std::io::Error>>;

    fn run<M, S>(self, model: M, source: &Arc<S>) -> Self::Output
    where
        M: Trainable<B>,
        S: BatchSource<Batch = M::Batch> + ?Sized + 'static,
    {
        run_model(&model, source.as_ref(), self.batch, self.device, self.sink)?;
        Ok(source.len())
    }
}

/// How a batch of class rows is written.
struct Rows<'a> {
    format: PredictFormat,
    /// Index of the batch's first sample.
    first: usize,
    /// Logits per row.
    classes: usize,
    /// Class names (tables, image folders): adds the predicted class name as `label`.
    names: Option<&'a [String]>,
    /// Each sample's file (image files): adds it as `file`.
    files: Option<&'a [String]>,
    /// Also the softmax probabilities.
    probabilities: bool,
}

/// Writes one row per sample of `logits`.
fn write_rows(out: &mut impl Write, logits: &[f32], how: Rows<'_>) -> std::io::Result<()> {
    for (i, row) in logits.chunks(how.classes.max(1)).enumerate() {
        let predicted = argmax(row);
        let label = how.names.and_then(|n| n.get(predicted)).map(String::as_str);
        let probabilities = how.probabilities.then(|| softmax(row));
        let file = how
            .files
            .and_then(|f| f.get(how.first + i))
            .map(String::as_str);
        match how.format {
            PredictFormat::Csv => {
                write!(out, "{}", how.first + i)?;
                if let Some(f) = file {
                    write!(out, ",{}", csv_field(f))?;
                }
                write!(out, ",{predicted}")?;
                if let Some(l) = label {
                    write!(out, ",{}", csv_field(l))?;
                }
                for v in row.iter().chain(probabilities.iter().flatten()) {
                    write!(out, ",{v}")?;
                }
                writeln!(out)?;
            }
            PredictFormat::JsonLines => {
                let line = Row {
                    index: how.first + i,
                    file,
                    predicted,
                    label,
                    logits: row,
                    probabilities,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<&'a str>,
    predicted: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<&'a str>,
    logits: &'a [f32],
    #[serde(skip_serializing_if = "Option::is_none")]
    probabilities: Option<Vec<f32>>,
}

/// The softmax of `row` (computed in f64 from the largest logit: no overflow).
fn softmax(row: &[f32]) -> Vec<f32> {
    let top = row.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let exps: Vec<f64> = row.iter().map(|&v| (v as f64 - top).exp()).collect();
    let sum: f64 = exps.iter().sum();
    exps.iter().map(|e| (e / sum) as f32).collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probabilities_are_the_softmax_and_sum_to_one() {
        let p = softmax(&[1000.0, 1000.0, f32::NEG_INFINITY]);
        assert_eq!(p, vec![0.5, 0.5, 0.0]);
        let p = softmax(&[0.0, (2.0f32).ln()]);
        assert!((p[1] - 2.0 / 3.0).abs() < 1e-6, "{p:?}");
        let mut out = Vec::new();
        let how = Rows {
            format: PredictFormat::Csv,
            first: 4,
            classes: 2,
            names: None,
            files: None,
            probabilities: true,
        };
        write_rows(&mut out, &[0.0, 0.0], how).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "4,0,0,0,0.5,0.5\n");
        let (names, files) = (["cat".to_string()], ["a.png", "b,c.png"].map(String::from));
        let mut out = Vec::new();
        let how = Rows {
            format: PredictFormat::Csv,
            first: 1,
            classes: 1,
            names: Some(&names),
            files: Some(&files),
            probabilities: false,
        };
        write_rows(&mut out, &[3.0], how).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "1,\"b,c.png\",0,cat,3\n");
    }
}
