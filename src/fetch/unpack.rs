//! Unpacking a verified `.tar.gz` into a dataset directory, atomically: members are written to a
//! temporary sibling directory that is renamed into place when complete.

use super::FetchError;
use flate2::read::GzDecoder;
use std::path::{Component, Path};

/// Extracts the regular files under `top/` in `archive` into `dest` (which must not exist).
pub fn unpack_tar_gz(archive: &Path, top: &str, dest: &Path) -> Result<usize, FetchError> {
    let fail = |message: String| FetchError::Io {
        path: archive.to_path_buf(),
        message,
    };
    let parent = dest.parent().unwrap_or(Path::new("."));
    let tmp = parent.join(format!(".{top}.unpack-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp)
        .map_err(|e| fail(format!("cannot create {}: {e}", tmp.display())))?;
    let result = (|| {
        let file = std::fs::File::open(archive).map_err(|e| fail(e.to_string()))?;
        let mut tar = tar::Archive::new(GzDecoder::new(std::io::BufReader::new(file)));
        let mut count = 0;
        for entry in tar
            .entries()
            .map_err(|e| fail(format!("not a tar.gz archive: {e}")))?
        {
            let mut entry = entry.map_err(|e| fail(format!("corrupt archive: {e}")))?;
            if !entry.header().entry_type().is_file() {
                continue;
            }
            let path = entry
                .path()
                .map_err(|e| fail(format!("bad member name: {e}")))?
                .into_owned();
            let parts: Vec<_> = path.components().collect();
            // Only `top/<name>`: no other directories, no absolute or `..` paths.
            let [Component::Normal(first), Component::Normal(name)] = parts.as_slice() else {
                continue;
            };
            if *first != top {
                continue;
            }
            entry
                .unpack(tmp.join(name))
                .map_err(|e| fail(format!("cannot extract {}: {e}", path.display())))?;
            count += 1;
        }
        if count == 0 {
            return Err(fail(format!("holds no files under {top}/")));
        }
        std::fs::rename(&tmp, dest).map_err(|e| FetchError::Io {
            path: dest.to_path_buf(),
            message: e.to_string(),
        })?;
        Ok(count)
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}
