//! Crash-safe file writes.

use std::io::{Read, Write};
use std::path::Path;

/// The most bytes a settings file the user names (config, sweep space) may hold.
pub const MAX_SETTINGS_BYTES: u64 = 16 << 20;

/// An `InvalidInput` error saying what is wrong with a file the user named.
fn refused(what: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidInput, what)
}

/// Opens a file the user named for reading, refusing anything but a regular file before it is
/// opened (opening a FIFO blocks until a writer comes, and `/dev/zero` never ends); `expected`
/// ("a data file", "a TOML file") ends the message. Returns the file and its length.
pub fn open_regular_file(path: &Path, expected: &str) -> std::io::Result<(std::fs::File, u64)> {
    let meta = std::fs::metadata(path)?;
    if meta.is_dir() {
        return Err(refused(format!("a directory; expected {expected}")));
    }
    if !meta.is_file() {
        return Err(refused(format!(
            "not a regular file (a FIFO, socket or device); expected {expected}"
        )));
    }
    Ok((std::fs::File::open(path)?, meta.len()))
}

/// The bytes of a small settings file: a regular file ([`open_regular_file`]) of at most
/// `MAX_SETTINGS_BYTES`.
pub fn read_settings_file(path: &Path) -> std::io::Result<Vec<u8>> {
    let (file, len) = open_regular_file(path, "a TOML file")?;
    if len > MAX_SETTINGS_BYTES {
        return Err(refused(format!(
            "{len} bytes; a settings file holds at most {MAX_SETTINGS_BYTES}"
        )));
    }
    let mut bytes = Vec::new();
    // The file may grow after the check: read no more than the limit (and one byte to tell).
    file.take(MAX_SETTINGS_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_SETTINGS_BYTES {
        return Err(refused(format!(
            "grew past {MAX_SETTINGS_BYTES} bytes while read"
        )));
    }
    Ok(bytes)
}

/// Writes `bytes` to `path` atomically: temp file in the same directory, fsync, rename, fsync dir.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = AtomicFile::create(path)?;
    f.write_all(bytes)?;
    f.commit()
}

/// A file written through a temporary sibling and renamed into place by `commit`, so readers
/// never see a partial file and a failure leaves any previous file untouched.
pub struct AtomicFile {
    path: std::path::PathBuf,
    tmp: std::path::PathBuf,
    writer: std::io::BufWriter<std::fs::File>,
}

impl AtomicFile {
    /// Starts writing `path` (nothing is visible there until `commit`).
    pub fn create(path: &Path) -> std::io::Result<Self> {
        let (dir, name) = split(path);
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = dir.join(format!(".{name}.tmp-{}-{n}", std::process::id()));
        let file = std::fs::File::create(&tmp)?;
        Ok(Self {
            path: path.to_path_buf(),
            tmp,
            writer: std::io::BufWriter::new(file),
        })
    }

    /// Flushes, fsyncs and renames the file into place.
    pub fn commit(mut self) -> std::io::Result<()> {
        self.writer.flush()?;
        self.writer.get_ref().sync_all()?;
        std::fs::rename(&self.tmp, &self.path)?;
        sync_dir(split(&self.path).0);
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.writer.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.writer.flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        // After a successful commit the temp name no longer exists; otherwise clean up.
        let _ = std::fs::remove_file(&self.tmp);
    }
}

fn split(path: &Path) -> (&Path, String) {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    (dir, name)
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        // Directory fsync makes the rename durable; not supported everywhere, so best effort.
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_files_must_be_small_regular_files() {
        let dir = tempfile::tempdir().unwrap();
        let ok = dir.path().join("a.toml");
        std::fs::write(&ok, "x = 1\n").unwrap();
        assert_eq!(read_settings_file(&ok).unwrap(), b"x = 1\n");
        let e = read_settings_file(dir.path()).unwrap_err().to_string();
        assert!(e.contains("directory"), "{e}");
        let e = read_settings_file(Path::new("/dev/zero"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a regular file"), "{e}");
        let big = dir.path().join("big.toml");
        let f = std::fs::File::create(&big).unwrap();
        f.set_len(MAX_SETTINGS_BYTES + 1).unwrap();
        let e = read_settings_file(&big).unwrap_err().to_string();
        assert!(e.contains("at most"), "{e}");
    }

    #[test]
    fn replaces_content_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.json");
        super::write_atomic(&p, b"one").unwrap();
        super::write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
