//! Data lineage: which files a run read (with their SHA-256, hashed once per file version and
//! cached) and how they were split, recorded in the journal, the summary and the tracker.

use super::DataError;
use super::cache::{cache_dir, fingerprint};
use super::positional::open_regular;
use crate::config::{DataConfig, DataFormat};
use crate::fsutil::write_atomic;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The dataset a run trained, validated and tested on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetRecord {
    /// Its name: the data directory's or file's name (`fashion-mnist`, `tinyshakespeare`).
    pub name: String,
    /// `data.format`.
    pub format: String,
    /// Where it was read from (`data.dir` or `data.file`, absolute).
    pub source: String,
    /// SHA-256 over the files' names and contents (see [`dataset_digest`]).
    pub digest: String,
    /// Files read.
    pub files: usize,
    /// Their total size in bytes.
    pub bytes: u64,
    /// Samples in the three splits together (windows for text).
    pub rows: usize,
    /// Classes (None for a regression or a language model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classes: Option<usize>,
    /// Samples in each split.
    pub splits: SplitSizes,
    /// The seed that drew the validation (and, for one-file formats, test) split.
    pub seed: u64,
}

/// Samples per split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SplitSizes {
    /// Training samples.
    pub train: usize,
    /// Validation samples.
    pub valid: usize,
    /// Test samples.
    pub test: usize,
}

impl DatasetRecord {
    /// Records `[data]` as opened: hashes its files (once per file version) and notes the split.
    pub fn of(
        cfg: &DataConfig,
        seed: u64,
        splits: SplitSizes,
        classes: Option<usize>,
    ) -> Result<Self, DataError> {
        let files = dataset_files(cfg)?;
        let root = source_path(cfg);
        let source = std::fs::canonicalize(&root).unwrap_or(root);
        let name = source
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "dataset".into());
        let bytes = files
            .iter()
            .map(|f| std::fs::metadata(f).map_or(0, |m| m.len()))
            .sum();
        Ok(Self {
            name,
            format: cfg.format.name().to_string(),
            source: source.display().to_string(),
            digest: match cfg.format {
                DataFormat::ImageFolder => folder_digest(&cfg.dir, &files)?,
                _ => dataset_digest(&files)?,
            },
            files: files.len(),
            bytes,
            rows: splits.train + splits.valid + splits.test,
            classes,
            splits,
            seed,
        })
    }

    /// A digest of one split (`train`, `valid`, `test`): the data's digest with the seed and
    /// the split's size, so two runs that drew different splits of the same files differ.
    pub fn split_digest(&self, split: &str) -> String {
        let size = match split {
            "train" => self.splits.train,
            "valid" => self.splits.valid,
            _ => self.splits.test,
        };
        let key = format!("{}:{split}:{}:{size}", self.digest, self.seed);
        crate::digest::sha256_hex(key.as_bytes())
    }

    /// The first 12 hex digits of the digest, for tables.
    pub fn short_digest(&self) -> &str {
        self.digest.get(..12).unwrap_or(&self.digest)
    }
}

/// `data.file` for one-file formats, else `data.dir`.
fn source_path(cfg: &DataConfig) -> PathBuf {
    match cfg.format {
        DataFormat::Text | DataFormat::Csv | DataFormat::Parquet => cfg.file.clone(),
        DataFormat::Idx | DataFormat::Cifar10 | DataFormat::ImageFolder | DataFormat::Tokens => {
            cfg.dir.clone()
        }
    }
}

/// The files a format reads, sorted by name: the data file, or the directory's IDX
/// (`train-*`, `t10k-*`) or CIFAR-10 (`data_batch_*`, `test_batch*`) files.
pub fn dataset_files(cfg: &DataConfig) -> Result<Vec<PathBuf>, DataError> {
    let prefixes: &[&str] = match cfg.format {
        DataFormat::Text | DataFormat::Csv => return Ok(vec![cfg.file.clone()]),
        DataFormat::Parquet => return Ok(super::ParquetTable::open(&cfg.file)?.parts().to_vec()),
        DataFormat::ImageFolder => return super::image_folder_files(cfg),
        DataFormat::Idx => &["train-", "t10k-"],
        DataFormat::Cifar10 => &["data_batch_", "test_batch"],
        DataFormat::Tokens => &["train.bin", "val.bin", "test.bin", "meta.json"],
    };
    let entries = std::fs::read_dir(&cfg.dir).map_err(|e| DataError::io(&cfg.dir, e))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
            name.is_some_and(|n| prefixes.iter().any(|pre| n.starts_with(pre)))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// SHA-256 over every file of an image folder, in order: its path relative to `root`, a NUL,
/// its length and its bytes. One pass reads the whole folder, so the result is cached under
/// the fingerprints (path, size, mtime) of all its files: a later run over the same files
/// only lists them.
pub fn folder_digest(root: &Path, files: &[PathBuf]) -> Result<String, DataError> {
    let mut listing = Sha256::new();
    for f in files {
        listing.update(fingerprint(f, b"folder")?.as_bytes());
    }
    let cache = cache_dir().join("digests");
    let key = format!("folder-{}", crate::digest::hex(&listing.finalize()[..8]));
    cached(&cache, &key, || {
        let mut hasher = Sha256::new();
        for f in files {
            let name = f.strip_prefix(root).unwrap_or(f);
            hasher.update(name.to_string_lossy().as_bytes());
            hasher.update([0]);
            let mut file = open_regular(f)?;
            let len = file.metadata().map_err(|e| DataError::io(f, e))?.len();
            hasher.update(len.to_le_bytes());
            std::io::copy(&mut file, &mut hasher).map_err(|e| DataError::io(f, e))?;
        }
        Ok(crate::digest::hex(&hasher.finalize()))
    })
}

/// The digest stored under `cache/key`, else `compute()`'s, stored there (a cache that cannot
/// be written is only logged).
fn cached(
    cache: &Path,
    key: &str,
    compute: impl FnOnce() -> Result<String, DataError>,
) -> Result<String, DataError> {
    let entry = cache.join(key);
    if let Ok(text) = std::fs::read_to_string(&entry) {
        let text = text.trim();
        if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(text.to_string());
        }
    }
    let digest = compute()?;
    if let Err(e) =
        std::fs::create_dir_all(cache).and_then(|()| write_atomic(&entry, digest.as_bytes()))
    {
        tracing::debug!("digest cache {}: {e}", cache.display());
    }
    Ok(digest)
}

/// SHA-256 over `<sha256 of the file>  <file name>\n` for each file in order (the lines
/// `sha256sum` prints), so the digest names the content, not where it lies.
pub fn dataset_digest(files: &[PathBuf]) -> Result<String, DataError> {
    let mut listing = String::new();
    for f in files {
        let name = f
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        listing.push_str(&format!("{}  {name}\n", file_digest(f)?));
    }
    Ok(crate::digest::sha256_hex(listing.as_bytes()))
}

/// The file's SHA-256, from the digest cache when this version of it (path, size, modification
/// time) was hashed before.
pub fn file_digest(path: &Path) -> Result<String, DataError> {
    file_digest_in(path, &cache_dir().join("digests"))
}

/// `file_digest` with an explicit cache directory.
pub fn file_digest_in(path: &Path, cache: &Path) -> Result<String, DataError> {
    cached(cache, &fingerprint(path, b"sha256")?, || {
        let mut file = open_regular(path)?;
        let mut hasher = Sha256::new();
        std::io::copy(&mut file, &mut hasher).map_err(|e| DataError::io(path, e))?;
        Ok(crate::digest::hex(&hasher.finalize()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_name_content_and_are_cached_per_file_version() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        let f = dir.path().join("a.txt");
        std::fs::write(&f, b"abc").unwrap();
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(file_digest_in(&f, &cache).unwrap(), abc);
        assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 1);
        // A cached entry is trusted for the same version of the file...
        let entry = std::fs::read_dir(&cache)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        std::fs::write(&entry, "0".repeat(64)).unwrap();
        assert_eq!(file_digest_in(&f, &cache).unwrap(), "0".repeat(64));
        // ...and a changed file is hashed again.
        std::fs::write(&f, b"abcd").unwrap();
        let t = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
        std::fs::File::options()
            .write(true)
            .open(&f)
            .unwrap()
            .set_modified(t)
            .unwrap();
        assert_ne!(file_digest_in(&f, &cache).unwrap(), "0".repeat(64));
    }

    #[test]
    fn the_split_digest_changes_with_the_seed() {
        let rec = |seed| DatasetRecord {
            name: "d".into(),
            format: "csv".into(),
            source: "/d.csv".into(),
            digest: "ab".repeat(32),
            files: 1,
            bytes: 3,
            rows: 10,
            classes: Some(2),
            splits: SplitSizes {
                train: 7,
                valid: 1,
                test: 2,
            },
            seed,
        };
        assert_ne!(rec(1).split_digest("train"), rec(2).split_digest("train"));
        assert_ne!(rec(1).split_digest("train"), rec(1).split_digest("test"));
        assert_eq!(rec(1).short_digest(), "abababababab");
    }
}
