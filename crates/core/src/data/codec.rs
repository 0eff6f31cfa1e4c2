//! The port between text and token ids for generation: a subword tokenizer the caller supplies
//! (the CLI's adapter for a run's `tokenizer.json`); character-level runs use their `Vocab`.

/// Turns text into token ids and back.
pub trait TextCodec {
    /// The ids of `text`.
    fn encode(&self, text: &str) -> Result<Vec<u32>, String>;
    /// The text of `ids`.
    fn decode(&self, ids: &[u32]) -> Result<String, String>;
}
