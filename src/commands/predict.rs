//! `trainer predict`: a checkpoint's model over an IDX image file, logits out.

use super::restore::{Opened, open};
use super::{Failure, guarded};
use crate::backend::{BackendJob, dispatch, select};
use crate::cli::PredictArgs;
use crate::data::{DataSource, IdxImages, InMemoryImages, Normalize, read_idx_images};
use crate::fsutil::AtomicFile;
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

struct PredictJob<'a> {
    args: &'a PredictArgs,
    checkpoint: &'a Opened,
    images: IdxImages,
    out: AtomicFile,
}

impl BackendJob for PredictJob<'_> {
    type Output = Result<usize, Failure>;

    fn run<B: AutodiffBackend>(self, _backend: &'static str, device: B::Device) -> Self::Output {
        let (args, r, images, mut out) = (self.args, self.checkpoint, self.images, self.out);
        let model = r.model::<B::InnerBackend>(&device)?;
        let shape = [1, images.rows, images.cols];
        let norm = Normalize {
            mean: r.config.data.normalize_mean as f32,
            std: r.config.data.normalize_std as f32,
        };
        let count = images.count;
        let source = InMemoryImages::unlabelled(images.pixels, count, shape, norm);
        let format = if args.output.extension().is_some_and(|e| e == "csv") {
            Format::Csv
        } else {
            Format::JsonLines
        };
        let out_err = |e: std::io::Error| anyhow!("{}: {e}", args.output.display());
        if let Format::Csv = format {
            let logits: Vec<String> = (0..r.state.num_classes)
                .map(|c| format!(",logit_{c}"))
                .collect();
            writeln!(out, "index,predicted{}", logits.concat())
                .map_err(|e| Failure::runtime(out_err(e)))?;
        }
        let batch = usize::try_from(args.batch_size).unwrap_or(usize::MAX);
        run_model(&model, &source, batch, &device, |first, logits, classes| {
            write_rows(&mut out, format, first, logits, classes)
        })
        .map_err(|e| match e {
            PredictError::Train(e) => Failure::runtime(e),
            PredictError::Sink(e) => Failure::runtime(out_err(e)),
        })?;
        out.commit().map_err(|e| Failure::runtime(out_err(e)))?;
        Ok(source.len())
    }
}

fn write_rows(
    out: &mut impl Write,
    format: Format,
    first: usize,
    logits: &[f32],
    classes: usize,
) -> std::io::Result<()> {
    for (i, row) in logits.chunks(classes.max(1)).enumerate() {
        let predicted = argmax(row);
        match format {
            Format::Csv => {
                write!(out, "{},{predicted}", first + i)?;
                for v in row {
                    write!(out, ",{v}")?;
                }
                writeln!(out)?;
            }
            Format::JsonLines => {
                let line = Row {
                    index: first + i,
                    predicted,
                    logits: row,
                };
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
    logits: &'a [f32],
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
    let checkpoint = open(&args.checkpoint)?;
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
    let out = AtomicFile::create(&args.output)
        .map_err(|e| Failure::input(anyhow!("{}: {e}", args.output.display())))?;
    let selection = select(args.backend, args.device).map_err(Failure::input)?;
    println!("backend: {}", selection.reason);
    let job = PredictJob {
        args: &args,
        checkpoint: &checkpoint,
        images,
        out,
    };
    let n = guarded("prediction", || dispatch(&selection.choice, job))??;
    println!("wrote {} ({n} predictions)", display(&args.output));
    Ok(())
}

fn display(p: &Path) -> String {
    p.display().to_string()
}
