//! `trainer data tokenize`: UTF-8 text files to token shards in nanoGPT's format (`train.bin`,
//! `val.bin`, `test.bin` when a test fraction is held out: flat little-endian uint16 ids, uint32
//! past 65,536 ids), with `meta.json` and the `tokenizer.json` that made them.

use crate::stream::{Chunks, SplitPoints};
use crate::{TextError, Tokenizer};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use trainer_core::data::{SHARD_META_FILE, ShardMeta, TOKENIZER_FILE, TokenWidth};
use trainer_core::fsutil::AtomicFile;

/// The shard file of each split.
const SHARD_FILES: [&str; 3] = ["train.bin", "val.bin", "test.bin"];
/// The split names `meta.json`'s `bytes` uses.
const SPLIT_NAMES: [&str; 3] = ["train", "val", "test"];
/// Chunks encoded together (in parallel) before they are written.
const CHUNKS_PER_BATCH: usize = 16;

/// How the text is split.
#[derive(Debug, Clone, Copy)]
pub struct TokenizeOptions {
    /// Fraction of the text (by bytes, from the end, before the test part) for `val.bin`.
    pub valid_fraction: f64,
    /// Fraction of the text (by bytes, at the end) for `test.bin`; 0 writes none.
    pub test_fraction: f64,
}

impl TokenizeOptions {
    /// An error unless both fractions are in range and leave training text.
    pub fn check(&self) -> Result<(), TextError> {
        let (v, t) = (self.valid_fraction, self.test_fraction);
        if !(v > 0.0 && v < 1.0) {
            return Err(TextError::Setting(format!(
                "--valid-fraction: expected a number in (0, 1) (training reads val.bin), got {v}"
            )));
        }
        if !(0.0..1.0).contains(&t) || v + t >= 1.0 {
            return Err(TextError::Setting(format!(
                "--test-fraction: expected a number in [0, 1) with --valid-fraction summing below 1, got {t}"
            )));
        }
        Ok(())
    }

    fn points(&self, files: &[PathBuf]) -> Result<SplitPoints, TextError> {
        let mut total = 0;
        for f in files {
            total += f.metadata().map_err(|e| TextError::io(f, e))?.len();
        }
        Ok(SplitPoints::new(
            total,
            self.valid_fraction,
            self.test_fraction,
        ))
    }
}

/// What `write_shards` wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct ShardReport {
    /// Ids in the tokenizer's vocabulary.
    pub vocab_size: usize,
    /// `uint16` or `uint32`.
    pub dtype: &'static str,
    /// Tokens per split (train, validation, test).
    pub tokens: [u64; 3],
    /// UTF-8 bytes of text per split.
    pub bytes: [u64; 3],
}

/// The text files of `input`: the file itself, or every regular file under the directory
/// (hidden entries skipped), sorted by path.
pub fn input_files(input: &Path) -> Result<Vec<PathBuf>, TextError> {
    if !input.is_dir() {
        if !input.is_file() {
            return Err(TextError::io(
                input,
                "not found (expected a text file or a directory of them)",
            ));
        }
        return Ok(vec![input.to_path_buf()]);
    }
    let mut files = Vec::new();
    let mut dirs = vec![input.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).map_err(|e| TextError::io(&dir, e))? {
            let entry = entry.map_err(|e| TextError::io(&dir, e))?;
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            match entry.file_type() {
                Ok(t) if t.is_dir() => dirs.push(entry.path()),
                Ok(t) if t.is_file() => files.push(entry.path()),
                _ => {}
            }
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(TextError::format(input, "a directory without text files"));
    }
    Ok(files)
}

/// Trains a byte-level BPE of `vocab_size` ids on the training part of `files` (the
/// held-out text never shapes the vocabulary).
pub fn train_tokenizer(
    files: &[PathBuf],
    options: TokenizeOptions,
    vocab_size: usize,
) -> Result<Tokenizer, TextError> {
    let mut chunks = Chunks::new(files.to_vec(), options.points(files)?);
    let mut failed = None;
    let texts = std::iter::from_fn(|| match chunks.next_chunk() {
        Ok(Some((0, text))) => Some(text),
        Ok(_) => None,
        Err(e) => {
            failed = Some(e);
            None
        }
    });
    let source = files.first().map_or(Path::new(""), PathBuf::as_path);
    let tokenizer = Tokenizer::train(texts, vocab_size, source);
    match failed {
        Some(e) => Err(e),
        None => tokenizer,
    }
}

/// Encodes `files` with `tokenizer` into shards in `out` (created if missing). Refuses a
/// directory that already holds any file it would write; a failure leaves none of them.
pub fn write_shards(
    files: &[PathBuf],
    tokenizer: &Tokenizer,
    out: &Path,
    options: TokenizeOptions,
) -> Result<ShardReport, TextError> {
    options.check()?;
    let with_test = options.test_fraction > 0.0;
    let names = [&SHARD_FILES[..], &[SHARD_META_FILE, TOKENIZER_FILE]].concat();
    if let Some(existing) = names.iter().map(|n| out.join(n)).find(|p| p.exists()) {
        return Err(TextError::Exists(existing));
    }
    std::fs::create_dir_all(out).map_err(|e| TextError::io(out, e))?;
    let vocab_size = tokenizer.vocab_size();
    let width = ShardMeta::width_for(vocab_size);
    let mut shards = Vec::new();
    for name in SHARD_FILES.iter().take(if with_test { 3 } else { 2 }) {
        let path = out.join(name);
        shards.push((
            AtomicFile::create(&path).map_err(|e| TextError::io(&path, e))?,
            path,
        ));
    }
    let mut report = ShardReport {
        vocab_size,
        dtype: ShardMeta::dtype_name(width),
        tokens: [0; 3],
        bytes: [0; 3],
    };
    let mut chunks = Chunks::new(files.to_vec(), options.points(files)?);
    let mut batch: Vec<(usize, String)> = Vec::new();
    loop {
        let next = chunks.next_chunk()?;
        let done = next.is_none();
        batch.extend(next);
        if batch.len() < CHUNKS_PER_BATCH && !done {
            continue;
        }
        let (splits, texts): (Vec<usize>, Vec<String>) =
            std::mem::take(&mut batch).into_iter().unzip();
        for (split, text) in splits.iter().zip(&texts) {
            report.bytes[*split] += text.len() as u64;
        }
        let encoded = tokenizer
            .encode_all(texts)
            .map_err(|e| TextError::format(&files[0], format!("encoding: {e}")))?;
        for (split, ids) in splits.into_iter().zip(encoded) {
            // Without a test shard the test text is none: its fraction is 0.
            let (file, path) = &mut shards[split];
            report.tokens[split] += ids.len() as u64;
            file.write_all(&le_bytes(&ids, width))
                .map_err(|e| TextError::io(path, e))?;
        }
        if done {
            break;
        }
    }
    let meta = ShardMeta {
        vocab_size,
        dtype: report.dtype.to_string(),
        tokenizer: Some(TOKENIZER_FILE.to_string()),
        bytes: SPLIT_NAMES
            .iter()
            .zip(report.bytes)
            .take(shards.len())
            .map(|(n, b)| (n.to_string(), b))
            .collect::<BTreeMap<_, _>>(),
    };
    let json = |what: &str, text: Result<String, String>| {
        text.map_err(|e| TextError::Setting(format!("encoding {what}: {e}")))
    };
    let meta_text = json(
        SHARD_META_FILE,
        serde_json::to_string_pretty(&meta).map_err(|e| e.to_string()),
    )?;
    let tokenizer_text = json(TOKENIZER_FILE, tokenizer.to_json())?;
    for (name, text) in [
        (SHARD_META_FILE, meta_text),
        (TOKENIZER_FILE, tokenizer_text),
    ] {
        let path = out.join(name);
        let mut file = AtomicFile::create(&path).map_err(|e| TextError::io(&path, e))?;
        file.write_all(text.as_bytes())
            .map_err(|e| TextError::io(&path, e))?;
        shards.push((file, path));
    }
    for (file, path) in shards {
        file.commit().map_err(|e| TextError::io(&path, e))?;
    }
    Ok(report)
}

/// `ids` as little-endian bytes of `width`.
fn le_bytes(ids: &[u32], width: TokenWidth) -> Vec<u8> {
    match width {
        TokenWidth::U16 => ids.iter().flat_map(|&i| (i as u16).to_le_bytes()).collect(),
        TokenWidth::U32 => ids.iter().flat_map(|&i| i.to_le_bytes()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_u16(path: &Path) -> Vec<u32> {
        let bytes = std::fs::read(path).unwrap();
        bytes
            .chunks_exact(2)
            .map(|b| u32::from(u16::from_le_bytes([b[0], b[1]])))
            .collect()
    }

    #[test]
    fn shards_decode_back_to_the_text_split_at_line_ends() {
        let dir = tempfile::tempdir().unwrap();
        let text: String = (0..400)
            .map(|i| format!("line {i}: the quick brown fox ✓\n"))
            .collect();
        let input = dir.path().join("in.txt");
        std::fs::write(&input, &text).unwrap();
        let files = input_files(&input).unwrap();
        let options = TokenizeOptions {
            valid_fraction: 0.1,
            test_fraction: 0.1,
        };
        let t = train_tokenizer(&files, options, 300).unwrap();
        let out = dir.path().join("shards");
        let report = write_shards(&files, &t, &out, options).unwrap();
        let parts: Vec<String> = SHARD_FILES
            .iter()
            .map(|n| t.decode(&read_u16(&out.join(n))).unwrap())
            .collect();
        assert_eq!(parts.concat(), text);
        assert!(parts.iter().all(|p| p.ends_with('\n')));
        let lens: Vec<u64> = parts.iter().map(|p| p.len() as u64).collect();
        assert_eq!(report.bytes.to_vec(), lens);
        let valid_share = lens[1] as f64 / text.len() as f64;
        assert!((valid_share - 0.1).abs() < 0.01, "{valid_share}");
        let meta: ShardMeta =
            serde_json::from_slice(&std::fs::read(out.join(SHARD_META_FILE)).unwrap()).unwrap();
        assert_eq!((meta.vocab_size, meta.dtype.as_str()), (300, "uint16"));
        assert_eq!(meta.bytes["val"], lens[1]);
        let e = write_shards(&files, &t, &out, options)
            .unwrap_err()
            .to_string();
        assert!(e.contains("train.bin: already exists"), "{e}");
    }

    #[test]
    fn text_that_is_not_utf8_names_the_file_and_byte() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("bad.txt");
        std::fs::write(&input, b"fine line\nbad \xff byte\n").unwrap();
        let files = input_files(&input).unwrap();
        let options = TokenizeOptions {
            valid_fraction: 0.5,
            test_fraction: 0.0,
        };
        let e = train_tokenizer(&files, options, 300)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("bad.txt: byte 15: not valid UTF-8"), "{e}");
    }
}
