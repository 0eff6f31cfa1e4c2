//! Text generation with a GPT checkpoint's model.

use super::{BackendJob, JobError, Opened};
use crate::data::TextCodec;
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
    /// The run's tokenizer (a token-shard run's `tokenizer.json`); None for character-level
    /// runs, which use their vocabulary.
    pub codec: Option<&'a dyn TextCodec>,
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
        let Some(codec) = self.codec else {
            if vocab.token_ids.is_some() {
                return Err(JobError::Input(format!(
                    "{}: trained on token shards without a tokenizer.json beside them; `trainer sample` needs the tokenizer (make shards with `trainer data tokenize`) or a character-level run",
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
            return Ok(vocab.decode(&ids));
        };
        let tokenizer_error =
            |e: String| JobError::Input(format!("{}: the run's tokenizer: {e}", r.path.display()));
        let prompt = codec.encode(self.prompt).map_err(tokenizer_error)?;
        if let Some(&id) = prompt.iter().find(|&&id| id as usize >= vocab.size()) {
            return Err(JobError::Input(format!(
                "{}: the tokenizer gives the prompt id {id}, but the model has {} ids",
                r.path.display(),
                vocab.size()
            )));
        }
        let prompt: Vec<i64> = prompt.into_iter().map(i64::from).collect();
        let ids = generate(&model, &prompt, self.tokens, self.sampling, None, &device)
            .map_err(|e| JobError::Runtime(format!("sampling: {e}")))?;
        // Decoded with the prompt: a byte-level token may complete a character the prompt's
        // last token began.
        let all: Vec<u32> = prompt.iter().chain(&ids).map(|&i| i as u32).collect();
        let text = codec.decode(&all).map_err(tokenizer_error)?;
        Ok(match text.strip_prefix(self.prompt) {
            Some(rest) => rest.to_string(),
            None => text,
        })
    }
}
