//! `trainer data fetch`: the canonical datasets, downloaded with SHA-256 verification,
//! resumable and atomic. An adapter at the edge (network, files); the training core never sees it.

mod catalog;
mod download;
mod unpack;

pub use catalog::{Dataset, RemoteFile, Unpack, dataset, names};
pub use download::{Outcome, download};
pub use unpack::unpack_tar_gz;

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Why a fetch failed; each names the URL or file.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// No such dataset in the catalog.
    #[error("unknown dataset `{name}`; expected one of: {known}")]
    Unknown {
        /// The name given.
        name: String,
        /// The names `fetch` knows.
        known: String,
    },
    /// The server could not be reached, answered an error, or the transfer broke off.
    #[error("{url}: {message}")]
    Http {
        /// The URL.
        url: String,
        /// What happened.
        message: String,
    },
    /// A local file or directory could not be read or written.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// The download does not match its pinned SHA-256.
    #[error(
        "{file}: SHA-256 mismatch, expected {expected}, got {actual} (from {url}); the download was discarded"
    )]
    Checksum {
        /// Where it would have gone.
        file: PathBuf,
        /// Where it came from.
        url: String,
        /// The pin.
        expected: String,
        /// What arrived.
        actual: String,
    },
}

/// Where files come from: the canonical URLs, or a mirror holding the same file names.
#[derive(Debug, Clone, Default)]
pub struct Source {
    /// Base URL replacing everything before each file name (e.g. `http://host:8000/mnist/`).
    pub mirror: Option<String>,
}

impl Source {
    /// The URL to fetch `file` from.
    pub fn url(&self, file: &RemoteFile) -> String {
        match &self.mirror {
            Some(base) => format!("{}/{}", base.trim_end_matches('/'), file.file_name()),
            None => file.url.to_string(),
        }
    }
}

/// Fetches `set` into `<dir>/<set.dir>`, calling `report` with one line per step; returns the
/// dataset directory.
pub fn fetch(
    set: &Dataset,
    dir: &Path,
    source: &Source,
    report: &mut dyn FnMut(String),
) -> Result<PathBuf, FetchError> {
    let client = reqwest::blocking::Client::builder()
        .connect_timeout(Duration::from_secs(20))
        .timeout(None::<Duration>)
        .build()
        .map_err(|e| FetchError::Http {
            url: String::new(),
            message: format!("cannot build an HTTP client: {e}"),
        })?;
    let target = dir.join(set.dir);
    let mkdir = |p: &Path| {
        std::fs::create_dir_all(p).map_err(|e| FetchError::Io {
            path: p.to_path_buf(),
            message: e.to_string(),
        })
    };
    match set.unpack {
        Unpack::Keep => {
            mkdir(&target)?;
            for file in set.files {
                get(&client, source, file, &target, report)?;
            }
        }
        Unpack::TarGz => {
            if target.is_dir() {
                report(format!("{}: already present", target.display()));
                return Ok(target);
            }
            mkdir(dir)?;
            for file in set.files {
                let archive = get(&client, source, file, dir, report)?;
                let n = unpack_tar_gz(&archive, set.dir, &target)?;
                let _ = std::fs::remove_file(&archive);
                report(format!("{}: unpacked {n} files", target.display()));
            }
        }
    }
    Ok(target)
}

/// Downloads `file` into `into`, reports the outcome, returns the local path.
fn get(
    client: &reqwest::blocking::Client,
    source: &Source,
    file: &RemoteFile,
    into: &Path,
    report: &mut dyn FnMut(String),
) -> Result<PathBuf, FetchError> {
    let url = source.url(file);
    let dest = into.join(file.file_name());
    let outcome = download(client, &url, &dest, file.sha256)?;
    report(describe(&dest, &url, outcome));
    Ok(dest)
}

fn describe(dest: &Path, url: &str, outcome: Outcome) -> String {
    match outcome {
        Outcome::AlreadyPresent => format!("{}: already present, SHA-256 verified", dest.display()),
        Outcome::Downloaded { resumed_at: 0 } => {
            format!(
                "{}: downloaded from {url}, SHA-256 verified",
                dest.display()
            )
        }
        Outcome::Downloaded { resumed_at } => format!(
            "{}: resumed at byte {resumed_at} from {url}, SHA-256 verified",
            dest.display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_urls_keep_the_file_name() {
        let file = &dataset("mnist").unwrap().files[0];
        let mirror = Source {
            mirror: Some("http://127.0.0.1:9/data/".into()),
        };
        assert_eq!(
            mirror.url(file),
            "http://127.0.0.1:9/data/train-images-idx3-ubyte.gz"
        );
        assert_eq!(Source::default().url(file), file.url);
        assert!(
            catalog::DATASETS
                .iter()
                .flat_map(|d| d.files)
                .all(|f| f.sha256.len() == 64)
        );
    }

    #[test]
    fn unpacks_only_regular_files_under_the_top_directory() {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("a.tar.gz");
        let gz = flate2::write::GzEncoder::new(
            std::fs::File::create(&archive).unwrap(),
            flate2::Compression::fast(),
        );
        let mut tar = tar::Builder::new(gz);
        for (name, body) in [
            ("top/data_batch_1.bin", &b"abc"[..]),
            ("other/x.bin", b"no"),
            ("top/readme.html", b"hi"),
        ] {
            let mut h = tar::Header::new_gnu();
            h.set_size(body.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            tar.append_data(&mut h, name, body).unwrap();
        }
        tar.into_inner().unwrap().finish().unwrap();
        let dest = dir.path().join("top");
        assert_eq!(unpack_tar_gz(&archive, "top", &dest).unwrap(), 2);
        assert_eq!(
            std::fs::read(dest.join("data_batch_1.bin")).unwrap(),
            b"abc"
        );
        assert!(!dir.path().join("other").exists());
    }
}
