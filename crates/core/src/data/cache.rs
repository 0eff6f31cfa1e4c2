//! Gzipped inputs are decompressed once into a cache directory and then read from disk.
//!
//! The cache entry's name carries a hash of the source's path, size and modification time, so a
//! changed source gets a fresh entry; entries are written atomically, so a crash or a corrupt
//! stream never leaves a half-written file that a later run would trust.

use super::DataError;
use super::positional::open_regular;
use crate::fsutil::AtomicFile;
use flate2::read::GzDecoder;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Environment variable that overrides the cache directory.
pub const CACHE_DIR_ENV: &str = "TRAINER_CACHE_DIR";

/// The directory decompressed datasets are cached in: `$TRAINER_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/trainer`, else `~/.cache/trainer`, else the system temp dir.
pub fn cache_dir() -> PathBuf {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    env(CACHE_DIR_ENV)
        .or_else(|| env("XDG_CACHE_HOME").map(|d| d.join("trainer")))
        .or_else(|| env("HOME").map(|d| d.join(".cache").join("trainer")))
        .unwrap_or_else(|| std::env::temp_dir().join("trainer-cache"))
}

/// True when the file starts with the gzip magic bytes.
pub fn is_gzip(path: &Path) -> Result<bool, DataError> {
    let mut head = [0u8; 2];
    let mut f = open_regular(path)?;
    let n = f.read(&mut head).map_err(|e| DataError::io(path, e))?;
    Ok(n == 2 && head == [0x1f, 0x8b])
}

/// `path` itself when it is not gzipped; otherwise the path of its decompressed copy in the
/// cache (decompressing it now if no valid copy exists yet).
pub fn decompressed(path: &Path) -> Result<PathBuf, DataError> {
    decompressed_in(path, &cache_dir())
}

/// `decompressed` with an explicit cache directory.
pub fn decompressed_in(path: &Path, dir: &Path) -> Result<PathBuf, DataError> {
    if !is_gzip(path)? {
        return Ok(path.to_path_buf());
    }
    let dir = dir.to_path_buf();
    let target = dir.join(entry_name(path)?);
    if target.is_file() {
        return Ok(target);
    }
    std::fs::create_dir_all(&dir).map_err(|e| DataError::Io {
        path: dir.clone(),
        message: format!(
            "cannot create the data cache directory ({CACHE_DIR_ENV} overrides it): {e}"
        ),
    })?;
    let source = open_regular(path)?;
    let mut out = AtomicFile::create(&target).map_err(|e| DataError::io(&target, e))?;
    std::io::copy(
        &mut GzDecoder::new(std::io::BufReader::new(source)),
        &mut out,
    )
    .map_err(|e| DataError::Io {
        path: path.to_path_buf(),
        message: format!("corrupt or truncated gzip data: {e}"),
    })?;
    out.commit().map_err(|e| DataError::io(&target, e))?;
    tracing::info!(source = %path.display(), cache = %target.display(), "decompressed once into the data cache");
    Ok(target)
}

/// `<name without .gz>-<fingerprint>`.
fn entry_name(path: &Path) -> Result<String, DataError> {
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let stem = name.strip_suffix(".gz").unwrap_or(&name);
    Ok(format!("{stem}-{}", fingerprint(path, &[])?))
}

/// 16 hex digits naming a cache entry derived from `path`: a hash of its canonical path, size,
/// modification time and `extra` (what else the entry depends on), so any change to the source
/// gets a fresh entry.
pub(super) fn fingerprint(path: &Path, extra: &[u8]) -> Result<String, DataError> {
    let meta = std::fs::metadata(path).map_err(|e| DataError::io(path, e))?;
    let canonical = std::fs::canonicalize(path).map_err(|e| DataError::io(path, e))?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let mut h = Sha256::new();
    h.update(canonical.to_string_lossy().as_bytes());
    h.update(meta.len().to_le_bytes());
    h.update(mtime.to_le_bytes());
    h.update(extra);
    Ok(crate::digest::hex(&h.finalize()[..8]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn plain_files_pass_through_and_truncated_gzip_names_the_source() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain");
        std::fs::write(&plain, b"hello").unwrap();
        assert_eq!(decompressed_in(&plain, dir.path()).unwrap(), plain);

        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&[7u8; 10_000]).unwrap();
        let gz = enc.finish().unwrap();
        let cut = dir.path().join("cut.gz");
        std::fs::write(&cut, &gz[..gz.len() / 2]).unwrap();
        let cache = dir.path().join("cache");
        let e = decompressed_in(&cut, &cache).unwrap_err().to_string();
        assert!(e.contains("cut.gz") && e.contains("truncated"), "{e}");
        assert_eq!(
            std::fs::read_dir(dir.path().join("cache")).unwrap().count(),
            0
        );

        let whole = dir.path().join("whole.gz");
        std::fs::write(&whole, &gz).unwrap();
        let cached = decompressed_in(&whole, &cache).unwrap();
        assert!(cached.starts_with(&cache));
        assert_eq!(std::fs::read(&cached).unwrap(), vec![7u8; 10_000]);
        assert_eq!(decompressed_in(&whole, &cache).unwrap(), cached);
    }
}
