//! `trainer predict`: a checkpoint's model over an IDX image file or a CSV table, logits out.

use super::{Failure, guarded, open_checkpoint};
use crate::backend::select;
use crate::cli::PredictArgs;
use crate::fsutil::AtomicFile;
use crate::jobs::{PredictFormat, PredictJob};
use anyhow::anyhow;
use std::path::Path;

/// Scores `args.input` with the checkpoint's model and writes `args.output`.
pub fn predict(args: PredictArgs) -> Result<(), Failure> {
    // Everything a user can get wrong is checked before a backend is touched.
    super::refuse_existing("--output", &args.output)?;
    let checkpoint = open_checkpoint(&args.checkpoint)?;
    let input = checkpoint
        .saved()
        .unlabelled_source(&checkpoint.path, &args.input)
        .map_err(Failure::input)?;
    let out = AtomicFile::create(&args.output)
        .map_err(|e| Failure::input(anyhow!("{}: {e}", args.output.display())))?;
    let selection = select(args.backend, args.device).map_err(Failure::input)?;
    // Diagnostics go to stderr, results to stdout.
    super::note(format_args!("backend: {}", selection.reason));
    let format = if args.output.extension().is_some_and(|e| e == "csv") {
        PredictFormat::Csv
    } else {
        PredictFormat::JsonLines
    };
    let job = PredictJob {
        checkpoint: &checkpoint,
        input: &input,
        out,
        output: &args.output,
        format,
        batch_size: usize::try_from(args.batch_size).unwrap_or(usize::MAX),
        probabilities: args.probabilities,
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
