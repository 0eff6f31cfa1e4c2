//! Character-level text for language modelling: a vocabulary built from the training split
//! (saved with the run), the corpus encoded once into a token file in the data cache, and
//! fixed-length windows read from that file by offset.

use super::json_file::{load_json, save_json};
use super::{BatchSource, DataError, PositionalFile, cache_dir};
use crate::fsutil::AtomicFile;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

/// File name of the vocabulary saved in a run directory.
pub const VOCAB_FILE: &str = "vocab.json";

/// Characters to token ids: the training split's distinct characters in code-point order, then
/// one id for characters the training split never had.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vocab {
    /// The characters, id = position.
    pub chars: String,
    /// Token shards (`data.format = "tokens"`): the vocabulary is this many token ids made by
    /// another tool's tokenizer, with no characters of its own (None for character-level text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_ids: Option<usize>,
}

impl Vocab {
    /// A vocabulary of `n` token ids from token shards (no characters).
    pub fn token_ids(n: usize) -> Self {
        Self {
            chars: String::new(),
            token_ids: Some(n),
        }
    }

    /// Token ids in use: one per character plus the unknown id, or the shards' id count.
    pub fn size(&self) -> usize {
        self.token_ids
            .unwrap_or_else(|| self.chars.chars().count() + 1)
    }

    /// The id given to characters outside the vocabulary.
    pub fn unknown(&self) -> u16 {
        (self.size() - 1) as u16
    }

    /// Writes the vocabulary (JSON) atomically.
    pub fn save(&self, path: &Path) -> Result<(), DataError> {
        save_json(path, self)
    }

    /// Reads a vocabulary saved by `save`.
    pub fn load(path: &Path) -> Result<Self, DataError> {
        load_json(path, "a vocabulary {\"chars\": \"...\"}")
    }

    fn ids(&self) -> std::collections::HashMap<char, u16> {
        self.chars
            .chars()
            .enumerate()
            .map(|(i, c)| (c, i as u16))
            .collect()
    }

    /// The ids of `text` (characters outside the vocabulary get the unknown id).
    pub fn encode(&self, text: &str) -> Vec<i64> {
        let ids = self.ids();
        text.chars()
            .map(|c| ids.get(&c).copied().unwrap_or(self.unknown()) as i64)
            .collect()
    }

    /// The text of a sequence of ids (unknown ids read as U+FFFD).
    pub fn decode(&self, ids: &[i64]) -> String {
        let chars: Vec<char> = self.chars.chars().collect();
        ids.iter()
            .map(|&i| chars.get(i as usize).copied().unwrap_or('\u{FFFD}'))
            .collect()
    }
}

/// A corpus encoded into a token file (u16 little-endian), split into contiguous ranges.
#[derive(Debug)]
pub struct TextCorpus {
    /// The vocabulary (from the training range).
    pub vocab: Vocab,
    /// Tokens of the whole text.
    pub tokens: usize,
    /// Token ranges: training first, then validation, then test (nanoGPT-style).
    pub train: Range<usize>,
    /// See `train`.
    pub valid: Range<usize>,
    /// See `train`.
    pub test: Range<usize>,
    /// UTF-8 bytes of the training, validation and test ranges.
    bytes: [u64; 3],
    file: std::sync::Arc<PositionalFile>,
}

impl TextCorpus {
    /// Reads `path` (UTF-8) and encodes it once into the data cache; the last
    /// `valid_fraction + test_fraction` of the characters are held out, and the vocabulary comes
    /// from the rest. With `vocab` given (a run's saved one) it is used instead.
    pub fn open(
        path: &Path,
        valid_fraction: f64,
        test_fraction: f64,
        vocab: Option<Vocab>,
    ) -> Result<Self, DataError> {
        // One pass counts the characters and notes where each distinct one first appears: the
        // training split's vocabulary is the characters first seen before its end.
        let mut first_seen = std::collections::HashMap::new();
        let mut position = 0usize;
        let total = scan(path, |c| {
            first_seen.entry(c).or_insert(position);
            position += 1;
        })?;
        if total == 0 {
            return Err(DataError::Format {
                path: path.to_path_buf(),
                message: "empty file, expected UTF-8 text".into(),
            });
        }
        let held_out = ((total as f64) * (valid_fraction + test_fraction)).round() as usize;
        let n_test = ((total as f64) * test_fraction).round() as usize;
        let train_end = total - held_out.min(total);
        let vocab = match vocab {
            Some(v) => v,
            None => {
                let seen: BTreeSet<char> = first_seen
                    .into_iter()
                    .filter(|&(_, at)| at < train_end)
                    .map(|(c, _)| c)
                    .collect();
                Vocab {
                    chars: seen.into_iter().collect(),
                    token_ids: None,
                }
            }
        };
        if vocab.size() > u16::MAX as usize {
            return Err(DataError::Format {
                path: path.to_path_buf(),
                message: format!(
                    "{} distinct characters: more than a u16 token id holds",
                    vocab.size()
                ),
            });
        }
        let tokens_path = encode(path, &vocab)?;
        let test_start = total - n_test.min(total - train_end);
        // A second pass sizes each range in bytes (for bits per byte).
        let (mut bytes, mut at) = ([0u64; 3], 0usize);
        scan(path, |c| {
            bytes[usize::from(at >= train_end) + usize::from(at >= test_start)] +=
                c.len_utf8() as u64;
            at += 1;
        })?;
        Ok(Self {
            tokens: total,
            train: 0..train_end,
            valid: train_end..test_start,
            test: test_start..total,
            bytes,
            file: std::sync::Arc::new(PositionalFile::open(&tokens_path)?),
            vocab,
        })
    }

    /// Windows of `window` tokens over `range`, one every `stride` tokens.
    pub fn windows(&self, range: Range<usize>, window: usize, stride: usize) -> TextWindows {
        let split = [&self.train, &self.valid, &self.test]
            .iter()
            .position(|r| **r == range);
        let bytes_per_token = split
            .filter(|_| !range.is_empty())
            .map(|s| self.bytes[s] as f64 / range.len() as f64);
        TextWindows::over(
            self.file.clone(),
            (range, TokenWidth::U16, None),
            window,
            stride,
        )
        .with_bytes_per_token(bytes_per_token)
    }
}

/// How many bytes a token id takes in a token file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenWidth {
    /// Little-endian uint16 (vocabularies up to 65,536 ids).
    U16,
    /// Little-endian uint32.
    U32,
}

impl TokenWidth {
    /// Bytes per token.
    pub fn bytes(self) -> usize {
        match self {
            TokenWidth::U16 => 2,
            TokenWidth::U32 => 4,
        }
    }

    /// The ids of little-endian `bytes`.
    pub fn decode(self, bytes: &[u8]) -> impl Iterator<Item = u32> + '_ {
        bytes.chunks_exact(self.bytes()).map(move |b| match self {
            TokenWidth::U16 => u32::from(u16::from_le_bytes([b[0], b[1]])),
            TokenWidth::U32 => u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        })
    }
}

/// Streams the characters of `path` to `each`; returns how many. Non-UTF-8 input is an error
/// naming the line and byte. Memory stays bounded: text is read in chunks of at most
/// `SCAN_CHUNK` bytes, however long its lines.
pub(super) fn scan(path: &Path, mut each: impl FnMut(char)) -> Result<usize, DataError> {
    let mut reader = BufReader::new(super::open_regular(path)?);
    // `buf` holds undecoded bytes: a chunk, or the start of a character split by the chunk end.
    let (mut buf, mut count, mut line, mut line_bytes) = (Vec::new(), 0, 1, 0);
    loop {
        let n = (&mut reader)
            .take(SCAN_CHUNK)
            .read_until(b'\n', &mut buf)
            .map_err(|e| DataError::io(path, e))?;
        let at_end = n == 0;
        let valid = match std::str::from_utf8(&buf) {
            Ok(text) => text.len(),
            // Only a character cut by the chunk's end may wait for the next chunk.
            Err(e) if e.error_len().is_none() && !at_end => e.valid_up_to(),
            Err(e) => {
                return Err(DataError::Format {
                    path: path.to_path_buf(),
                    message: format!(
                        "line {line}, byte {}: not valid UTF-8 text",
                        line_bytes + e.valid_up_to() + 1
                    ),
                });
            }
        };
        let text = std::str::from_utf8(&buf[..valid]).unwrap_or_default();
        for c in text.chars() {
            each(c);
            count += 1;
        }
        line_bytes += valid;
        if text.ends_with('\n') {
            (line, line_bytes) = (line + 1, 0);
        }
        buf.drain(..valid);
        if at_end {
            return Ok(count);
        }
    }
}

/// Most bytes `scan` reads at once.
const SCAN_CHUNK: u64 = 1 << 20;

/// Encodes `path` with `vocab` into `<cache>/<name>-<hash>.tokens` (once) and returns it.
fn encode(path: &Path, vocab: &Vocab) -> Result<PathBuf, DataError> {
    let hash = super::cache::fingerprint(path, vocab.chars.as_bytes())?;
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let dir = cache_dir();
    let target = dir.join(format!("{name}-{hash}.tokens"));
    if target.is_file() {
        return Ok(target);
    }
    let cache_err = |e: std::io::Error| DataError::Io {
        path: target.clone(),
        message: format!("cannot write the token cache: {e}"),
    };
    std::fs::create_dir_all(&dir).map_err(cache_err)?;
    let mut out = AtomicFile::create(&target).map_err(cache_err)?;
    let (ids, unknown) = (vocab.ids(), vocab.unknown());
    let mut failed = None;
    scan(path, |c| {
        let id = ids.get(&c).copied().unwrap_or(unknown);
        if failed.is_none()
            && let Err(e) = out.write_all(&id.to_le_bytes())
        {
            failed = Some(e);
        }
    })?;
    if let Some(e) = failed {
        return Err(cache_err(e));
    }
    out.commit().map_err(cache_err)?;
    Ok(target)
}

/// Fixed-length windows of a token file: sample `i` is the `window` tokens starting at
/// `start + i * stride`, and its targets are the same window shifted by one token.
#[derive(Debug, Clone)]
pub struct TextWindows {
    file: std::sync::Arc<PositionalFile>,
    start: usize,
    window: usize,
    stride: usize,
    count: usize,
    width: TokenWidth,
    /// Ids must be below this (token shards, whose ids come from another tool).
    limit: Option<u32>,
    /// UTF-8 bytes of text per token of the range, when known.
    bytes_per_token: Option<f64>,
}

impl TextWindows {
    /// Windows of `window` tokens over the token range of `file`, one every `stride` tokens
    /// (a window needs `window + 1` tokens: the targets are shifted by one); ids of `width`,
    /// checked against `limit` when given.
    pub fn over(
        file: std::sync::Arc<PositionalFile>,
        (range, width, limit): (Range<usize>, TokenWidth, Option<u32>),
        window: usize,
        stride: usize,
    ) -> Self {
        let span = range.len().saturating_sub(window);
        let stride = stride.max(1);
        Self {
            file,
            start: range.start,
            window,
            stride,
            count: if window == 0 || span == 0 {
                0
            } else {
                span.div_ceil(stride)
            },
            width,
            limit,
            bytes_per_token: None,
        }
    }

    /// The same windows, whose text is `bytes` UTF-8 bytes per token (for bits per byte).
    pub fn with_bytes_per_token(mut self, bytes: Option<f64>) -> Self {
        self.bytes_per_token = bytes;
        self
    }
}

/// A batch of token windows: `inputs` and `targets` are `[len, window]`, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenBatch {
    /// Input token ids.
    pub inputs: Vec<i64>,
    /// The next token after each input position.
    pub targets: Vec<i64>,
    /// Tokens per window.
    pub window: usize,
}

impl super::Samples for TokenBatch {
    fn samples(&self) -> usize {
        self.inputs.len() / self.window.max(1)
    }

    fn slice(&self, range: std::ops::Range<usize>) -> Self {
        let tokens = range.start * self.window..range.end * self.window;
        TokenBatch {
            inputs: self.inputs[tokens.clone()].to_vec(),
            targets: self.targets[tokens].to_vec(),
            window: self.window,
        }
    }
}

impl BatchSource for TextWindows {
    type Batch = TokenBatch;

    fn len(&self) -> usize {
        self.count
    }

    fn bytes_per_row(&self) -> Option<f64> {
        self.bytes_per_token
    }

    fn read_batch(&self, indices: &[u32]) -> Result<TokenBatch, DataError> {
        let w = self.window;
        let (mut inputs, mut targets) = (
            Vec::with_capacity(indices.len() * w),
            Vec::with_capacity(indices.len() * w),
        );
        let width = self.width.bytes();
        let mut bytes = vec![0u8; width * (w + 1)];
        for &i in indices {
            let first = self.start + i as usize * self.stride;
            self.file
                .read_exact_at(&mut bytes, (width * first) as u64)?;
            let ids: Vec<i64> = self.width.decode(&bytes).map(i64::from).collect();
            if let Some(limit) = self.limit
                && let Some(at) = ids.iter().position(|&id| id >= i64::from(limit))
            {
                return Err(DataError::Format {
                    path: self.file.path().to_path_buf(),
                    message: format!(
                        "token {} is id {} but the vocabulary has {limit} ids",
                        first + at,
                        ids[at]
                    ),
                });
            }
            inputs.extend_from_slice(&ids[..w]);
            targets.extend_from_slice(&ids[1..]);
        }
        Ok(TokenBatch {
            inputs,
            targets,
            window: w,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{BatchList, Loader, LoaderSettings};
    use std::sync::Arc;

    #[test]
    fn windows_hold_the_text_and_targets_are_shifted_by_one() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.txt");
        // 'z' only appears in the held-out tail: it maps to the unknown id.
        std::fs::write(&p, "abcabcabc\nbca\nbbbbzz").unwrap();
        let corpus = TextCorpus::open(&p, 0.1, 0.0, None).unwrap();
        assert_eq!(corpus.vocab.chars, "\nabc");
        assert_eq!(
            (corpus.tokens, corpus.train.clone(), corpus.valid.clone()),
            (20, 0..18, 18..20)
        );
        let train = corpus.windows(corpus.train.clone(), 4, 4);
        assert_eq!(BatchSource::len(&train), 4); // starts 0, 4, 8, 12 (each needs 5 tokens)
        let b = train.read_batch(&[1, 3]).unwrap();
        assert_eq!(corpus.vocab.decode(&b.inputs), "bcab".to_string() + "a\nbb");
        assert_eq!(
            corpus.vocab.decode(&b.targets),
            "cabc".to_string() + "\nbbb"
        );
        let valid = corpus.windows(corpus.valid.clone(), 1, 1);
        let v = valid.read_batch(&[0]).unwrap();
        assert_eq!(v.inputs, vec![corpus.vocab.unknown() as i64]);

        let saved = dir.path().join(VOCAB_FILE);
        corpus.vocab.save(&saved).unwrap();
        assert_eq!(Vocab::load(&saved).unwrap(), corpus.vocab);
    }

    #[test]
    fn each_split_knows_its_bytes_per_token_for_bits_per_byte() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.txt");
        // 8 one-byte characters, then 2 two-byte ones (é) held out.
        std::fs::write(&p, "abcdabcdéé").unwrap();
        let corpus = TextCorpus::open(&p, 0.2, 0.0, None).unwrap();
        let rate = |r: std::ops::Range<usize>| corpus.windows(r, 1, 1).bytes_per_row();
        assert_eq!(rate(corpus.train.clone()), Some(1.0));
        assert_eq!(rate(corpus.valid.clone()), Some(2.0));
        assert_eq!(rate(3..5), None, "not a split: unknown");
    }

    #[test]
    fn loader_yields_the_same_windows_for_any_worker_count() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.txt");
        let text: String = (0..3000)
            .map(|i| char::from(b'a' + (i * 7 % 26) as u8))
            .collect();
        std::fs::write(&p, text).unwrap();
        let corpus = TextCorpus::open(&p, 0.1, 0.1, None).unwrap();
        let windows = Arc::new(corpus.windows(corpus.train.clone(), 16, 3));
        let run = |workers| -> Vec<TokenBatch> {
            let list = BatchList::new(
                crate::data::epoch_order(1, 0, BatchSource::len(&*windows)),
                32,
                false,
            );
            let settings = LoaderSettings {
                workers,
                prefetch: 2,
            };
            Loader::start(windows.clone(), list, 0, settings)
                .map(|r| r.unwrap().1)
                .collect()
        };
        let one = run(1);
        assert_eq!(
            one.iter().map(|b| b.inputs.len() / 16).sum::<usize>(),
            BatchSource::len(&*windows)
        );
        assert_eq!(run(2), one);
        assert_eq!(run(8), one);
    }

    #[test]
    fn tiny_shakespeare_has_its_65_characters_and_nanogpt_split() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../datasets/tinyshakespeare/input.txt");
        let corpus = TextCorpus::open(&path, 0.1, 0.0, None).unwrap();
        assert_eq!(corpus.tokens, 1_115_394);
        assert_eq!(corpus.vocab.size(), 65 + 1);
        assert_eq!(corpus.train, 0..1_003_855); // nanoGPT: the first 90% trains
        let windows = corpus.windows(corpus.train.clone(), 8, 1_000_000);
        let b = windows.read_batch(&[0]).unwrap();
        assert_eq!(corpus.vocab.decode(&b.inputs), "First Ci");
        assert_eq!(corpus.vocab.decode(&b.targets), "irst Cit");
    }

    #[test]
    fn bad_text_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.txt");
        std::fs::write(&p, b"fine\nalso fine\nbro\xffken\n").unwrap();
        let e = TextCorpus::open(&p, 0.1, 0.0, None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("bad.txt") && e.contains("line 3, byte 4") && e.contains("UTF-8"),
            "{e}"
        );
        std::fs::write(&p, b"").unwrap();
        let e = TextCorpus::open(&p, 0.1, 0.0, None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("empty file"), "{e}");
    }
}
