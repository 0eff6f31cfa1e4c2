//! One verified, resumable, atomic download: bytes go to `<file>.part` (continued with an HTTP
//! `Range` request if a previous attempt left one), the SHA-256 is checked, and only then is the
//! file renamed into place. A mismatch discards the download; nothing already there is replaced.

use super::FetchError;
use sha2::{Digest, Sha256};
use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// What happened to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It was already there with the right checksum.
    AlreadyPresent,
    /// Downloaded (from `resumed_at` bytes on; 0 for a fresh download) and verified.
    Downloaded {
        /// Bytes that were already in the `.part` file.
        resumed_at: u64,
    },
}

/// Downloads `url` to `dest` unless it is already there, verifying `sha256`.
pub fn download(
    client: &reqwest::blocking::Client,
    url: &str,
    dest: &Path,
    sha256: &str,
) -> Result<Outcome, FetchError> {
    if dest.exists() {
        let actual = sha256_of(dest)?;
        if actual == sha256 {
            return Ok(Outcome::AlreadyPresent);
        }
        return Err(FetchError::Io {
            path: dest.to_path_buf(),
            message: format!(
                "exists with SHA-256 {actual}, expected {sha256}; not replaced (remove it to download again)"
            ),
        });
    }
    let part = part_path(dest);
    let io = |path: &Path, e: std::io::Error| FetchError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut resumed_at = std::fs::metadata(&part).map_or(0, |m| m.len());
    let mut request = client.get(url);
    if resumed_at > 0 {
        request = request.header(reqwest::header::RANGE, format!("bytes={resumed_at}-"));
    }
    let http = |message: String| FetchError::Http {
        url: url.to_string(),
        message,
    };
    let mut response = request
        .send()
        .map_err(|e| http(error_chain(&e.without_url())))?;
    let status = response.status();
    let append = match status.as_u16() {
        206 => true,
        // A range past the end: the part file may already be whole; the checksum decides.
        416 if resumed_at > 0 => true,
        _ if status.is_success() => {
            resumed_at = 0; // the server sent the whole file
            false
        }
        _ => return Err(http(format!("server answered {status}"))),
    };
    let mut file = OpenOptions::new()
        .create(true)
        .write(true)
        .append(append)
        .truncate(!append)
        .open(&part)
        .map_err(|e| io(&part, e))?;
    if status.as_u16() != 416 {
        let mut buf = vec![0u8; 1 << 16];
        let mut received = 0u64;
        loop {
            let n = response.read(&mut buf).map_err(|e| {
                http(format!(
                    "download interrupted after {} bytes ({e}); run the command again to resume",
                    resumed_at + received
                ))
            })?;
            if n == 0 {
                break;
            }
            file.write_all(&buf[..n]).map_err(|e| io(&part, e))?;
            received += n as u64;
        }
    }
    file.sync_all().map_err(|e| io(&part, e))?;
    drop(file);
    let actual = sha256_of(&part)?;
    if actual != sha256 {
        let _ = std::fs::remove_file(&part);
        return Err(FetchError::Checksum {
            file: dest.to_path_buf(),
            url: url.to_string(),
            expected: sha256.to_string(),
            actual,
        });
    }
    std::fs::rename(&part, dest).map_err(|e| io(dest, e))?;
    Ok(Outcome::Downloaded { resumed_at })
}

/// An error and its causes on one line (reqwest's own message omits them: "error sending
/// request" alone does not say that the host did not resolve).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cause = c.source();
    }
    parts.join(": ")
}

/// `<dest>.part`.
pub fn part_path(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    dest.with_file_name(name)
}

/// SHA-256 of a file, lowercase hex, streamed.
pub fn sha256_of(path: &Path) -> Result<String, FetchError> {
    let io = |e: std::io::Error| FetchError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(crate::digest::hex(&h.finalize()))
}
