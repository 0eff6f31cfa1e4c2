//! Token shards in nanoGPT's format (`data.format = "tokens"`): `train.bin` and `val.bin` (and
//! `test.bin` if there is one) in `data.dir`, flat arrays of little-endian token ids, uint16
//! unless `meta.json` says `"dtype": "uint32"`. The vocabulary size is `meta.json`'s
//! `vocab_size`, else the largest id plus one. Windows are read by offset: a shard is never
//! loaded whole. A `tokenizer.json` beside the shards (what `trainer data tokenize` writes)
//! travels with the run's checkpoints, and `meta.json`'s `bytes` give bits per byte.

use super::text::{TextWindows, TokenWidth};
use super::{BatchSource, DataError, PositionalFile, Splits, Vocab};
use crate::config::DataConfig;
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The shard directory's description of its tokens.
pub const SHARD_META_FILE: &str = "meta.json";

/// The tokenizer file beside the shards, saved in the run's checkpoints.
pub const TOKENIZER_FILE: &str = "tokenizer.json";

/// `meta.json`: the vocabulary size and the id type; optionally the tokenizer file and the
/// UTF-8 size of each shard's text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardMeta {
    /// Ids in the tokenizer's vocabulary (every id in the shards is below it).
    pub vocab_size: usize,
    /// `"uint16"` (default) or `"uint32"`.
    #[serde(default = "uint16")]
    pub dtype: String,
    /// The tokenizer that made the shards (a file name in the directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokenizer: Option<String>,
    /// Bytes of UTF-8 text each shard holds, by shard name (`train`, `val`, `test`).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub bytes: std::collections::BTreeMap<String, u64>,
}

impl ShardMeta {
    /// The id type for a vocabulary of `vocab_size` ids: uint16 up to 65,536, else uint32.
    pub fn width_for(vocab_size: usize) -> TokenWidth {
        if vocab_size <= 1 << 16 {
            TokenWidth::U16
        } else {
            TokenWidth::U32
        }
    }

    /// `dtype`'s name for `width`.
    pub fn dtype_name(width: TokenWidth) -> &'static str {
        match width {
            TokenWidth::U16 => "uint16",
            TokenWidth::U32 => "uint32",
        }
    }
}

fn uint16() -> String {
    "uint16".into()
}

/// One shard file: its tokens and the largest id in it.
#[derive(Debug, Clone)]
pub struct Shard {
    /// The open file.
    pub file: Arc<PositionalFile>,
    /// Tokens it holds.
    pub tokens: usize,
    /// Its largest token id.
    pub max_id: u32,
    /// Bytes of UTF-8 text it holds, when `meta.json` says.
    pub bytes: Option<u64>,
}

/// The shards of one directory.
#[derive(Debug, Clone)]
pub struct TokenShards {
    /// Bytes per id.
    pub width: TokenWidth,
    /// Ids in the vocabulary.
    pub vocab_size: usize,
    /// `train.bin`.
    pub train: Shard,
    /// `val.bin`.
    pub val: Shard,
    /// `test.bin`, when present.
    pub test: Option<Shard>,
    /// The tokenizer file's bytes, when the directory has one.
    pub tokenizer: Option<Vec<u8>>,
}

impl TokenShards {
    /// Opens and checks `dir`'s shards: each a whole number of ids, every id below the
    /// vocabulary size (`meta.json`'s, else `vocab_size` when given, e.g. a checkpoint's, else
    /// the largest id plus one). Each shard is read through once, in chunks.
    pub fn open(dir: &Path, vocab_size: Option<usize>) -> Result<Self, DataError> {
        let meta_path = dir.join(SHARD_META_FILE);
        let meta = match std::fs::read(&meta_path) {
            Ok(bytes) => Some(serde_json::from_slice::<ShardMeta>(&bytes).map_err(|e| {
                DataError::Format {
                    path: meta_path.clone(),
                    message: format!(
                        "expected {{\"vocab_size\": N, \"dtype\": \"uint16\"|\"uint32\"}}: {e}"
                    ),
                }
            })?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(DataError::io(&meta_path, e)),
        };
        let width = match meta.as_ref().map(|m| m.dtype.as_str()) {
            None | Some("uint16") => TokenWidth::U16,
            Some("uint32") => TokenWidth::U32,
            Some(other) => {
                return Err(DataError::Format {
                    path: meta_path,
                    message: format!("dtype {other:?}: expected \"uint16\" or \"uint32\""),
                });
            }
        };
        let size = |name: &str| meta.as_ref().and_then(|m| m.bytes.get(name).copied());
        let train = Shard::open(&required(dir, "train.bin")?, width, size("train"))?;
        let val = Shard::open(&required(dir, "val.bin")?, width, size("val"))?;
        let test_path = dir.join("test.bin");
        let test = match test_path.exists() {
            true => Some(Shard::open(&test_path, width, size("test"))?),
            false => None,
        };
        let tokenizer_name = meta.as_ref().and_then(|m| m.tokenizer.clone());
        let tokenizer_path = dir.join(tokenizer_name.as_deref().unwrap_or(TOKENIZER_FILE));
        let tokenizer = match std::fs::read(&tokenizer_path) {
            Ok(bytes) => Some(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && tokenizer_name.is_none() => None,
            Err(e) => return Err(DataError::io(&tokenizer_path, e)),
        };
        let shards = [Some(&train), Some(&val), test.as_ref()];
        let largest = shards.iter().flatten().map(|s| s.max_id).max().unwrap_or(0);
        let vocab_size = match meta.as_ref().map(|m| m.vocab_size).or(vocab_size) {
            Some(n) => {
                if let Some(s) = shards.iter().flatten().find(|s| s.max_id as usize >= n) {
                    return Err(DataError::Format {
                        path: s.file.path().to_path_buf(),
                        message: format!(
                            "holds token id {} but the vocabulary has {n} ids ({})",
                            s.max_id,
                            if meta.is_some() {
                                "meta.json's vocab_size"
                            } else {
                                "the checkpoint's"
                            }
                        ),
                    });
                }
                n
            }
            None => largest as usize + 1,
        };
        Ok(Self {
            width,
            vocab_size,
            train,
            val,
            test,
            tokenizer,
        })
    }

    /// Windows of `window` tokens over a shard, one every `stride` tokens.
    pub fn windows(&self, shard: &Shard, window: usize, stride: usize) -> TextWindows {
        let limit = u32::try_from(self.vocab_size).ok();
        let bytes_per_token = shard
            .bytes
            .filter(|_| shard.tokens > 0)
            .map(|b| b as f64 / shard.tokens as f64);
        TextWindows::over(
            shard.file.clone(),
            (0..shard.tokens, self.width, limit),
            window,
            stride,
        )
        .with_bytes_per_token(bytes_per_token)
    }

    /// The shard evaluation scores: `test.bin`, else `val.bin`.
    pub fn test_shard(&self) -> &Shard {
        self.test.as_ref().unwrap_or(&self.val)
    }
}

impl Shard {
    /// Opens `path` and reads it through once for its length check and largest id.
    fn open(path: &Path, width: TokenWidth, bytes: Option<u64>) -> Result<Self, DataError> {
        let file = PositionalFile::open(path)?;
        let len = file.len();
        if len % width.bytes() as u64 != 0 {
            return Err(DataError::Format {
                path: path.to_path_buf(),
                message: format!(
                    "{len} bytes is not a whole number of {}-byte token ids",
                    width.bytes()
                ),
            });
        }
        let max_id = max_id(path, width, &super::cache_dir())?;
        Ok(Self {
            file: Arc::new(file),
            tokens: (len / width.bytes() as u64) as usize,
            max_id,
            bytes,
        })
    }
}

/// The largest id in the shard at `path`: remembered in `cache` per version of the file (path,
/// size, modification time), so a multi-GB shard is read through once, not at every start.
fn max_id(path: &Path, width: TokenWidth, cache: &Path) -> Result<u32, DataError> {
    let key = super::cache::fingerprint(path, &[width.bytes() as u8])?;
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let remembered = cache.join(format!("{name}-{key}.max-id"));
    if let Some(id) = std::fs::read_to_string(&remembered)
        .ok()
        .and_then(|t| t.trim().parse().ok())
    {
        return Ok(id);
    }
    let mut max_id = 0;
    let mut reader = super::open_regular(path)?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = read_full(&mut reader, &mut buf).map_err(|e| DataError::io(path, e))?;
        if n == 0 {
            break;
        }
        max_id = width.decode(&buf[..n]).fold(max_id, u32::max);
    }
    // A cache that cannot be written costs the next start a read, not this run.
    let saved = std::fs::create_dir_all(cache).and_then(|()| {
        let mut f = crate::fsutil::AtomicFile::create(&remembered)?;
        std::io::Write::write_all(&mut f, max_id.to_string().as_bytes())?;
        f.commit()
    });
    if let Err(e) = saved {
        tracing::debug!("not remembered in {}: {e}", remembered.display());
    }
    Ok(max_id)
}

/// Fills `buf` as far as the reader goes (a whole number of ids per chunk: `buf`'s length is
/// a multiple of 4).
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// `dir/name`, or an error saying what the format needs.
fn required(dir: &Path, name: &str) -> Result<PathBuf, DataError> {
    let path = dir.join(name);
    if path.exists() {
        return Ok(path);
    }
    Err(DataError::Io {
        path,
        message: "not found; data.format = \"tokens\" reads train.bin and val.bin (nanoGPT's prepare.py layout)".into(),
    })
}

/// Opens `data.dir` as token shards for a model of `window` tokens: training windows every
/// `data.stride` tokens (0: every `window`) of `train.bin`, validation windows of `val.bin`,
/// test windows of `test.bin` (else `val.bin`); with `saved` (a checkpoint's), its id count is
/// the vocabulary.
pub fn load_token_splits(
    cfg: &DataConfig,
    window: usize,
    saved: Option<Vocab>,
) -> Result<TokenSplits, DataError> {
    let shards = TokenShards::open(&cfg.dir, saved.map(|v| v.size()))?;
    let stride = if cfg.stride == 0 { window } else { cfg.stride };
    let splits = Splits {
        train: Arc::new(shards.windows(&shards.train, window, stride)),
        valid: Arc::new(shards.windows(&shards.val, window, window)),
        test: Arc::new(shards.windows(shards.test_shard(), window, window)),
    };
    if splits.train.is_empty() {
        return Err(DataError::Format {
            path: cfg.dir.join("train.bin"),
            message: format!(
                "{} tokens: shorter than one window of {window} + 1",
                shards.train.tokens
            ),
        });
    }
    Ok(TokenSplits {
        splits,
        vocab: Vocab::token_ids(shards.vocab_size),
        tokenizer: shards.tokenizer,
    })
}

/// A shard directory opened for training.
pub struct TokenSplits {
    /// Training, validation and test windows.
    pub splits: Splits<TextWindows>,
    /// The shards' vocabulary (an id count).
    pub vocab: Vocab,
    /// The directory's tokenizer file, if it has one.
    pub tokenizer: Option<Vec<u8>>,
}

/// Every window of a shard directory's test (else validation) shard, with a run's vocabulary:
/// what `eval --data DIR` scores.
pub fn open_token_windows(
    dir: &Path,
    window: usize,
    vocab: &Vocab,
) -> Result<TextWindows, DataError> {
    let shards = TokenShards::open(dir, Some(vocab.size()))?;
    Ok(shards.windows(shards.test_shard(), window, window))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_u16(path: &Path, ids: &[u16]) {
        let bytes: Vec<u8> = ids.iter().flat_map(|i| i.to_le_bytes()).collect();
        std::fs::write(path, bytes).unwrap();
    }

    #[test]
    fn shards_are_read_by_window_with_the_vocabulary_from_meta_or_the_ids() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write_u16(&d.join("train.bin"), &[1, 2, 3, 4, 5, 6, 7]);
        write_u16(&d.join("val.bin"), &[7, 6, 5]);
        let s = TokenShards::open(d, None).unwrap();
        assert_eq!((s.vocab_size, s.train.tokens, s.val.tokens), (8, 7, 3));
        let w = s.windows(&s.train, 3, 2);
        assert_eq!(w.len(), 2);
        let b = w.read_batch(&[1]).unwrap();
        assert_eq!((b.inputs, b.targets), (vec![3, 4, 5], vec![4, 5, 6]));
        std::fs::write(d.join("meta.json"), r#"{"vocab_size": 50304}"#).unwrap();
        assert_eq!(TokenShards::open(d, None).unwrap().vocab_size, 50304);
    }

    #[test]
    fn a_shards_largest_id_is_read_once_per_version_of_the_file() {
        let (dir, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let shard = dir.path().join("train.bin");
        write_u16(&shard, &[4, 9, 2]);
        assert_eq!(max_id(&shard, TokenWidth::U16, cache.path()).unwrap(), 9);
        // The second open takes the remembered value (planted here to tell them apart).
        let remembered: Vec<_> = std::fs::read_dir(cache.path()).unwrap().collect();
        assert_eq!(remembered.len(), 1);
        std::fs::write(remembered[0].as_ref().unwrap().path(), "7").unwrap();
        assert_eq!(max_id(&shard, TokenWidth::U16, cache.path()).unwrap(), 7);
        // Another version of the file (another size) is read again.
        write_u16(&shard, &[4, 11, 2, 1]);
        assert_eq!(max_id(&shard, TokenWidth::U16, cache.path()).unwrap(), 11);
    }

    #[test]
    fn bad_shards_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write_u16(&d.join("train.bin"), &[1, 2, 3]);
        let e = TokenShards::open(d, None).unwrap_err().to_string();
        assert!(e.contains("val.bin: not found"), "{e}");
        std::fs::write(d.join("val.bin"), [1u8, 0, 2]).unwrap();
        let e = TokenShards::open(d, None).unwrap_err().to_string();
        assert!(
            e.contains("val.bin: 3 bytes is not a whole number of 2-byte"),
            "{e}"
        );
        write_u16(&d.join("val.bin"), &[9, 1]);
        std::fs::write(d.join("meta.json"), r#"{"vocab_size": 5}"#).unwrap();
        let e = TokenShards::open(d, None).unwrap_err().to_string();
        assert!(
            e.contains("val.bin: holds token id 9 but the vocabulary has 5 ids"),
            "{e}"
        );
        std::fs::write(d.join("meta.json"), "{vocab").unwrap();
        let e = TokenShards::open(d, None).unwrap_err().to_string();
        assert!(e.contains("meta.json: expected {\"vocab_size\""), "{e}");
    }
}
