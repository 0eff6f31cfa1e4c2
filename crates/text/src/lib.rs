//! Text preparation for the GPT: a byte-level BPE tokenizer (trained, or loaded from a
//! `tokenizer.json` or GPT-2's `vocab.json` + `merges.txt`) through HuggingFace's `tokenizers`,
//! and token shards in nanoGPT's format written from UTF-8 text files.

mod error;
mod shards;
mod stream;
mod tokenizer;

pub use error::TextError;
pub use shards::{ShardReport, TokenizeOptions, input_files, train_tokenizer, write_shards};
pub use tokenizer::{END_OF_TEXT, Tokenizer};
