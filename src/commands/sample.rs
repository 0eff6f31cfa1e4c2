//! `trainer sample`: text from a GPT checkpoint, through its characters or its tokenizer.

use super::{Failure, guarded, open_checkpoint};
use crate::backend::select;
use crate::cli::SampleArgs;
use crate::jobs::SampleJob;
use anyhow::anyhow;
use trainer_core::data::TOKENIZER_FILE;
use trainer_core::model::Sampling;

/// Prints the prompt and `--tokens` generated characters to stdout (status lines to stderr).
pub fn sample(args: SampleArgs) -> Result<(), Failure> {
    if !(args.temperature >= 0.0 && args.temperature.is_finite()) {
        return Err(Failure::input(anyhow!(
            "--temperature: expected a number >= 0, got {}",
            args.temperature
        )));
    }
    if args.top_k == Some(0) {
        return Err(Failure::input(anyhow!(
            "--top-k: expected an integer >= 1, got 0"
        )));
    }
    if args.prompt.is_empty() {
        return Err(Failure::input(anyhow!(
            "--prompt: expected at least one character"
        )));
    }
    let checkpoint = open_checkpoint(&args.checkpoint)?;
    checkpoint.vocab()?; // a wrong checkpoint fails here, before a backend is touched
    let tokenizer = match checkpoint.assets().get(TOKENIZER_FILE) {
        Some(bytes) => Some(trainer_text::Tokenizer::from_bytes(bytes).map_err(|e| {
            Failure::input(anyhow!(
                "{}: {TOKENIZER_FILE}: {e}",
                checkpoint.path.display()
            ))
        })?),
        None => None,
    };
    let selection = select(args.backend, args.device).map_err(Failure::input)?;
    super::note(format_args!("backend: {}", selection.reason));
    let job = SampleJob {
        checkpoint: &checkpoint,
        prompt: &args.prompt,
        tokens: args.tokens,
        sampling: Sampling {
            temperature: args.temperature,
            top_k: args.top_k,
            seed: args.seed,
        },
        codec: tokenizer
            .as_ref()
            .map(|t| t as &dyn trainer_core::data::TextCodec),
    };
    let text = guarded("sampling", || {
        crate::backend::sample(&selection.choice, job)
    })??;
    crate::outln!("{}{text}", args.prompt);
    Ok(())
}
