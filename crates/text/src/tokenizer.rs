//! A byte-level BPE tokenizer: HuggingFace `tokenizers` with GPT-2's byte-level pre-tokenizer
//! and decoder and no normalizer, so `decode(encode(text)) == text` for any UTF-8 text.

use crate::TextError;
use std::path::Path;
use tokenizers::AddedToken;
use tokenizers::models::TrainerWrapper;
use tokenizers::models::bpe::{BPE, BpeTrainerBuilder};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;

/// GPT-2's end-of-text token, added to every trained vocabulary.
pub const END_OF_TEXT: &str = "<|endoftext|>";

/// A tokenizer from `tokenizer.json`, GPT-2 files, or trained here.
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
}

/// GPT-2's byte-level pre-tokenizer without the leading space it adds by default (which would
/// break the exact round trip).
fn byte_level() -> ByteLevel {
    ByteLevel::default().add_prefix_space(false)
}

fn with_byte_level(model: BPE) -> tokenizers::Tokenizer {
    let mut t = tokenizers::Tokenizer::new(model);
    t.with_pre_tokenizer(Some(byte_level()));
    t.with_decoder(Some(byte_level()));
    t
}

impl Tokenizer {
    /// Trains a byte-level BPE of `vocab_size` ids (the 256 byte symbols, `<|endoftext|>`, and
    /// merges) on `texts`. `source` names the input in errors.
    pub fn train<I, S>(texts: I, vocab_size: usize, source: &Path) -> Result<Self, TextError>
    where
        I: Iterator<Item = S> + Send,
        S: AsRef<str> + Send,
    {
        let alphabet = ByteLevel::alphabet();
        if vocab_size <= alphabet.len() {
            return Err(TextError::Setting(format!(
                "--vocab-size: expected more than {} (the byte alphabet and {END_OF_TEXT}), got {vocab_size}",
                alphabet.len()
            )));
        }
        let trainer = BpeTrainerBuilder::new()
            .show_progress(false)
            .vocab_size(vocab_size)
            .min_frequency(0)
            .special_tokens(vec![AddedToken::from(END_OF_TEXT, true)])
            .initial_alphabet(alphabet.into_iter().collect())
            .build();
        let mut inner = with_byte_level(BPE::default());
        inner
            .train(&mut TrainerWrapper::BpeTrainer(trainer), texts)
            .map_err(|e| TextError::format(source, format!("training the tokenizer: {e}")))?;
        Ok(Self { inner })
    }

    /// Loads a `tokenizer.json` (HuggingFace's format).
    pub fn load(path: &Path) -> Result<Self, TextError> {
        let bytes = std::fs::read(path).map_err(|e| TextError::io(path, e))?;
        Self::from_bytes(&bytes).map_err(|e| TextError::format(path, e))
    }

    /// A tokenizer from the bytes of a `tokenizer.json`; Err says why it does not parse.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        tokenizers::Tokenizer::from_bytes(bytes)
            .map(|inner| Self { inner })
            .map_err(|e| format!("not a tokenizer.json (HuggingFace tokenizers format): {e}"))
    }

    /// GPT-2 style files: `vocab.json` (token -> id) and `merges.txt`, byte-level.
    pub fn from_gpt2_files(vocab: &Path, merges: &Path) -> Result<Self, TextError> {
        for p in [vocab, merges] {
            if !p.is_file() {
                return Err(TextError::io(p, "not found"));
            }
        }
        let (v, m) = (vocab.to_string_lossy(), merges.to_string_lossy());
        let model = BPE::from_file(&v, &m).build().map_err(|e| {
            TextError::format(
                vocab,
                format!(
                    "with {}: not a GPT-2 vocab.json + merges.txt pair: {e}",
                    merges.display()
                ),
            )
        })?;
        Ok(Self {
            inner: with_byte_level(model),
        })
    }

    /// Ids in the vocabulary, added tokens included: every id is below it.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// The ids of `text` (no special tokens added).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, String> {
        self.inner
            .encode(text, false)
            .map(|e| e.get_ids().to_vec())
            .map_err(|e| e.to_string())
    }

    /// The ids of several texts, encoded in parallel, in order.
    pub fn encode_all(&self, texts: Vec<String>) -> Result<Vec<Vec<u32>>, String> {
        self.inner
            .encode_batch(texts, false)
            .map(|all| all.into_iter().map(|e| e.get_ids().to_vec()).collect())
            .map_err(|e| e.to_string())
    }

    /// The text of `ids` (special tokens kept).
    pub fn decode(&self, ids: &[u32]) -> Result<String, String> {
        self.inner.decode(ids, false).map_err(|e| e.to_string())
    }

    /// The tokenizer as `tokenizer.json` text.
    pub fn to_json(&self) -> Result<String, String> {
        self.inner.to_string(true).map_err(|e| e.to_string())
    }
}

impl trainer_core::data::TextCodec for Tokenizer {
    fn encode(&self, text: &str) -> Result<Vec<u32>, String> {
        Tokenizer::encode(self, text)
    }

    fn decode(&self, ids: &[u32]) -> Result<String, String> {
        Tokenizer::decode(self, ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trained_tokenizer_round_trips_text_it_never_saw() {
        let text = "the cat sat on the mat; the cat ate the rat.\n".repeat(50);
        let t = Tokenizer::train(text.lines(), 300, Path::new("t")).unwrap();
        // Training stops early when no pair is left to merge (this text has few).
        assert!((258..=300).contains(&t.vocab_size()), "{}", t.vocab_size());
        let ids = t.encode(&text).unwrap();
        assert!(ids.len() < text.len() / 2, "merges shorten the text");
        assert_eq!(t.decode(&ids).unwrap(), text);
        let unseen = "  Ünïcödé ✓ \t\r\n日本語  ";
        assert_eq!(t.decode(&t.encode(unseen).unwrap()).unwrap(), unseen);
        let again = Tokenizer::from_bytes(t.to_json().unwrap().as_bytes()).unwrap();
        assert_eq!(again.encode(&text).unwrap(), ids);
    }

    #[test]
    fn bad_tokenizer_files_say_what_they_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("tokenizer.json");
        std::fs::write(&p, "{\"model\": 3}").unwrap();
        let e = Tokenizer::load(&p).err().unwrap().to_string();
        assert!(e.contains("tokenizer.json: not a tokenizer.json"), "{e}");
        let e = Tokenizer::train(["a"].into_iter(), 200, Path::new("t"))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("--vocab-size: expected more than 256"), "{e}");
    }
}
