//! `trainer sample`: text from a character-level GPT checkpoint.

use super::restore::{Opened, open};
use super::{Failure, guarded};
use crate::backend::{BackendJob, dispatch, select};
use crate::cli::SampleArgs;
use crate::model::{Sampling, generate};
use crate::task::TaskModel;
use anyhow::anyhow;
use burn::tensor::backend::AutodiffBackend;

struct SampleJob<'a> {
    args: &'a SampleArgs,
    checkpoint: &'a Opened,
}

impl BackendJob for SampleJob<'_> {
    type Output = Result<String, Failure>;

    fn run<B: AutodiffBackend>(self, _backend: &'static str, device: B::Device) -> Self::Output {
        let (args, r) = (self.args, self.checkpoint);
        let TaskModel::Text(model, vocab) = r.restore::<B::InnerBackend>(&device)? else {
            return Err(Failure::input(anyhow!(
                "{}: holds a {} model; text generation needs a gpt checkpoint",
                r.path.display(),
                r.state.model
            )));
        };
        let sampling = Sampling {
            temperature: args.temperature,
            top_k: args.top_k,
            seed: args.seed,
        };
        let prompt = vocab.encode(&args.prompt);
        let ids = generate(&model, &prompt, args.tokens, sampling, &device)
            .map_err(|e| Failure::runtime(anyhow!("sampling: {e}")))?;
        Ok(vocab.decode(&ids))
    }
}

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
    let checkpoint = open(&args.checkpoint)?;
    checkpoint.vocab()?; // a wrong checkpoint fails here, before a backend is touched
    let selection = select(args.backend, args.device).map_err(Failure::input)?;
    eprintln!("backend: {}", selection.reason);
    let job = SampleJob {
        args: &args,
        checkpoint: &checkpoint,
    };
    let text = guarded("sampling", || dispatch(&selection.choice, job))??;
    crate::outln!("{}{text}", args.prompt);
    Ok(())
}
