//! `trainer predict`: a checkpoint's model over an IDX image file or a CSV table, logits out.

use super::{Failure, guarded};
use crate::backend::select;
use crate::cli::PredictArgs;
use crate::data::{open_table_rows, read_idx_images};
use crate::fsutil::AtomicFile;
use crate::jobs::{PredictFormat, PredictInput as Input, PredictJob, open};
use crate::task::Task;
use anyhow::anyhow;
use std::path::Path;

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
    let format = if args.output.extension().is_some_and(|e| e == "csv") {
        PredictFormat::Csv
    } else {
        PredictFormat::JsonLines
    };
    let job = PredictJob {
        checkpoint: &checkpoint,
        input,
        out,
        output: &args.output,
        format,
        batch_size: usize::try_from(args.batch_size).unwrap_or(usize::MAX),
    };
    let n = guarded("prediction", || {
        crate::backend::predict(&selection.choice, job)
    })??;
    crate::outln!("wrote {} ({n} predictions)", display(&args.output));
    Ok(())
}

fn display(p: &Path) -> String {
    p.display().to_string()
}
