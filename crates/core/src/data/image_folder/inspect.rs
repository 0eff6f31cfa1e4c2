//! `trainer data inspect DIR` for an image folder: classes and counts per split, the images'
//! sizes (read from their headers), unreadable and skipped files.

use super::{FolderListing, scan, split_dirs};
use crate::data::{DataError, Inspection};
use std::collections::BTreeMap;
use std::path::Path;

/// Describes `dir` as an image folder, or None when it is not laid out as one (no class
/// folder holds an image file).
pub fn inspect_image_folder(dir: &Path) -> Result<Option<Inspection>, DataError> {
    let splits: Vec<(&str, std::path::PathBuf)> = match split_dirs(dir) {
        Some((train, valid, test)) => [("train", Some(train)), ("valid", valid), ("test", test)]
            .into_iter()
            .filter_map(|(n, d)| d.map(|d| (n, d)))
            .collect(),
        None => vec![("all", dir.to_path_buf())],
    };
    let mut rows = Vec::new();
    let mut sizes: BTreeMap<(u32, u32), usize> = BTreeMap::new();
    let mut unreadable = Vec::new();
    for (i, (name, split_dir)) in splits.iter().enumerate() {
        let listing = match scan(split_dir, None) {
            Ok(l) => l,
            // Not an image folder at all: the caller tries other layouts.
            Err(_) if i == 0 && !looks_like_image_folder(split_dir) => return Ok(None),
            Err(e) => return Err(e),
        };
        rows.push((format!("{name} samples"), listing.files.len().to_string()));
        rows.push((format!("{name} classes"), class_counts(&listing)));
        if listing.skipped > 0 {
            rows.push((
                format!("{name} skipped"),
                format!(
                    "{} entries (hidden, not .png/.jpg/.jpeg, or outside class folders)",
                    listing.skipped
                ),
            ));
        }
        for (path, _) in &listing.files {
            match image::ImageReader::open(path)
                .and_then(|r| r.with_guessed_format())
                .map_err(|e| e.to_string())
                .and_then(|r| r.into_dimensions().map_err(|e| e.to_string()))
            {
                Ok(size) => *sizes.entry(size).or_default() += 1,
                Err(e) => unreadable.push(format!("{}: {e}", path.display())),
            }
        }
    }
    rows.push(("image sizes".into(), size_histogram(&sizes)));
    if !unreadable.is_empty() {
        let first = &unreadable[0];
        rows.push((
            "unreadable".into(),
            format!("{} files (first: {first})", unreadable.len()),
        ));
    }
    Ok(Some(Inspection {
        format: "image folder (<class>/<image files>)",
        rows,
    }))
}

/// True when some subfolder of `dir` holds an image file directly.
fn looks_like_image_folder(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.filter_map(Result::ok).any(|e| {
        e.path().is_dir()
            && std::fs::read_dir(e.path()).is_ok_and(|mut inner| {
                inner.any(|f| f.is_ok_and(|f| super::is_image_file(&f.path())))
            })
    })
}

/// `cat: 120 (50.0%), dog: 120 (50.0%)`.
fn class_counts(listing: &FolderListing) -> String {
    let n = listing.files.len().max(1) as f64;
    listing
        .classes
        .iter()
        .zip(listing.counts())
        .map(|(c, k)| format!("{c}: {k} ({:.1}%)", 100.0 * k as f64 / n))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The five most common `WxH` sizes with their counts, and how many other sizes there are.
fn size_histogram(sizes: &BTreeMap<(u32, u32), usize>) -> String {
    let mut common: Vec<_> = sizes.iter().collect();
    common.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let mut parts: Vec<String> = common
        .iter()
        .take(5)
        .map(|((w, h), k)| format!("{w}x{h}: {k}"))
        .collect();
    if common.len() > 5 {
        let rest: usize = common[5..].iter().map(|(_, k)| **k).sum();
        parts.push(format!("{} other sizes: {rest}", common.len() - 5));
    }
    if parts.is_empty() {
        return "none readable".into();
    }
    parts.join(", ")
}
