//! One writer per run directory: `fit` holds an exclusive lock on `<run>/.lock` for as long as
//! it runs, so a second `fit` on the same run fails at once instead of interleaving writes. The
//! OS drops the lock when the process ends, however it ends (no stale lock after `kill -9`).

use super::{RunDirError, RunLayout};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::Path;

/// A held run-directory lock; released when dropped.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

impl RunLock {
    /// Takes the exclusive lock on `run_dir`, or says which process holds it.
    pub fn acquire(run_dir: &Path) -> Result<Self, RunDirError> {
        let path = RunLayout::of(run_dir).lock();
        let io = |cause| RunDirError::Io {
            path: path.clone(),
            cause,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                return Err(RunDirError::InUse {
                    path: run_dir.to_path_buf(),
                    holder: holder.trim().to_string(),
                });
            }
            Err(TryLockError::Error(cause)) => return Err(io(cause)),
        }
        // Who holds it, for the other process's message (best effort).
        let _ = file.set_len(0);
        let _ = file.rewind();
        let _ = write!(file, "pid {}", std::process::id());
        Ok(Self { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_run_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = RunLock::acquire(dir.path()).unwrap();
        let e = RunLock::acquire(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("in use") && e.contains(&format!("pid {}", std::process::id())),
            "{e}"
        );
        drop(first);
        RunLock::acquire(dir.path()).unwrap();
    }
}
