//! Text generation with a GPT checkpoint's model.

use super::{BackendJob, JobError, Opened};
use crate::model::{Sampling, generate};
use crate::task::TaskModel;
use trainer_ops::TrainBackend;

/// Generates `tokens` tokens after `prompt` with the checkpoint's model.
pub struct SampleJob<'a> {
    /// A verified GPT checkpoint.
    pub checkpoint: &'a Opened,
    /// The text to continue.
    pub prompt: &'a str,
    /// How many tokens to generate.
    pub tokens: usize,
    /// Temperature, top-k and seed.
    pub sampling: Sampling,
}

impl BackendJob for SampleJob<'_> {
    type Output = Result<String, JobError>;

    fn run<B: TrainBackend>(self, _backend: &'static str, device: B::Device) -> Self::Output {
        let r = self.checkpoint;
        let TaskModel::Text(model, vocab) = r.restore::<B::InnerBackend>(&device)? else {
            return Err(JobError::Input(format!(
                "{}: holds a {} model; text generation needs a gpt checkpoint",
                r.path.display(),
                r.state.model
            )));
        };
        if vocab.token_ids.is_some() {
            return Err(JobError::Input(format!(
                "{}: trained on token shards, whose tokenizer the trainer does not have; `trainer sample` needs a character-level (data.format = \"text\") run",
                r.path.display()
            )));
        }
        let prompt = vocab.encode(self.prompt);
        let unknown = Some(usize::from(vocab.unknown()));
        let ids = generate(
            &model,
            &prompt,
            self.tokens,
            self.sampling,
            unknown,
            &device,
        )
        .map_err(|e| JobError::Runtime(format!("sampling: {e}")))?;
        Ok(vocab.decode(&ids))
    }
}
