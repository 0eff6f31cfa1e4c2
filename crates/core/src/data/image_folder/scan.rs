//! Listing an image folder: `<dir>/<class>/<file>` (any depth below the class folder), classes
//! sorted by name as torchvision's `ImageFolder` does; hidden entries and other file types are
//! skipped and counted.

use crate::data::DataError;
use std::path::{Path, PathBuf};

/// File extensions read as images (compared case-insensitively).
pub const IMAGE_EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];

/// The image files of one folder, with their class indices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderListing {
    /// The folder listed.
    pub dir: PathBuf,
    /// Class names, sorted (index = label).
    pub classes: Vec<String>,
    /// Every image file, sorted by class then path, with its class index.
    pub files: Vec<(PathBuf, u32)>,
    /// Entries skipped: hidden files and folders, files of other types, files outside class
    /// folders.
    pub skipped: usize,
}

impl FolderListing {
    /// Images per class, in class order.
    pub fn counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.classes.len()];
        for (_, c) in &self.files {
            counts[*c as usize] += 1;
        }
        counts
    }
}

/// Whether `path` has an image extension.
pub fn is_image_file(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

/// Lists `dir` as class folders. With `expected` (the training split's or a checkpoint's
/// classes, and whose they are), the folder must hold exactly those classes.
pub fn scan(dir: &Path, expected: Option<(&[String], &str)>) -> Result<FolderListing, DataError> {
    let mut skipped = 0;
    let mut found = Vec::new();
    for entry in sorted_entries(dir)? {
        if hidden(&entry) {
            skipped += 1;
        } else if entry.is_dir() {
            found.push(entry);
        } else {
            skipped += 1; // a file beside the class folders
        }
    }
    if found.is_empty() {
        return Err(DataError::Format {
            path: dir.to_path_buf(),
            message:
                "holds no class folders; expected <dir>/<class>/<image files> (.png, .jpg, .jpeg)"
                    .into(),
        });
    }
    let names: Vec<String> = found.iter().map(|d| file_name(d)).collect();
    if let Some((expected, whose)) = expected
        && expected != names.as_slice()
    {
        return Err(DataError::Mismatch {
            message: format!(
                "{}: holds the classes [{}] but {whose} classes are [{}]",
                dir.display(),
                names.join(", "),
                expected.join(", ")
            ),
        });
    }
    let mut files = Vec::new();
    for (label, class_dir) in found.iter().enumerate() {
        let before = files.len();
        walk(class_dir, label as u32, &mut files, &mut skipped)?;
        if files.len() == before {
            return Err(DataError::Format {
                path: class_dir.clone(),
                message: "class folder holds no .png, .jpg or .jpeg files".into(),
            });
        }
    }
    Ok(FolderListing {
        dir: dir.to_path_buf(),
        classes: names,
        files,
        skipped,
    })
}

/// Every image file under `dir` (recursively, sorted; hidden entries skipped), whatever the
/// layout, and how many entries were skipped.
pub fn image_files_under(dir: &Path) -> Result<(Vec<PathBuf>, usize), DataError> {
    let (mut files, mut skipped) = (Vec::new(), 0);
    walk(dir, 0, &mut files, &mut skipped)?;
    Ok((files.into_iter().map(|(p, _)| p).collect(), skipped))
}

/// Adds the image files under `dir` (recursively, sorted) with `label`.
fn walk(
    dir: &Path,
    label: u32,
    files: &mut Vec<(PathBuf, u32)>,
    skipped: &mut usize,
) -> Result<(), DataError> {
    for entry in sorted_entries(dir)? {
        if hidden(&entry) {
            *skipped += 1;
        } else if entry.is_dir() {
            walk(&entry, label, files, skipped)?;
        } else if entry.is_file() && is_image_file(&entry) {
            files.push((entry, label));
        } else {
            *skipped += 1;
        }
    }
    Ok(())
}

/// The entries of `dir`, sorted by path.
fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let read = std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))?;
    let mut entries = read
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| DataError::io(dir, e))?;
    entries.sort();
    Ok(entries)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn hidden(path: &Path) -> bool {
    file_name(path).starts_with('.')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"x").unwrap();
    }

    #[test]
    fn classes_are_sorted_and_other_entries_are_counted() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for f in ["dog/b.png", "dog/a.JPG", "cat/x/deep.jpeg", "cat/1.png"] {
            touch(&d.join(f));
        }
        for f in [
            "cat/.hidden.png",
            "cat/notes.txt",
            "README.md",
            ".git/config",
        ] {
            touch(&d.join(f));
        }
        let l = scan(d, None).unwrap();
        assert_eq!(l.classes, ["cat", "dog"]);
        let names: Vec<_> = l
            .files
            .iter()
            .map(|(p, c)| (p.strip_prefix(d).unwrap().to_path_buf(), *c))
            .collect();
        assert_eq!(
            names,
            [
                (PathBuf::from("cat/1.png"), 0),
                (PathBuf::from("cat/x/deep.jpeg"), 0),
                (PathBuf::from("dog/a.JPG"), 1),
                (PathBuf::from("dog/b.png"), 1),
            ]
        );
        assert_eq!(l.skipped, 4);
        assert_eq!(l.counts(), [2, 2]);
    }

    #[test]
    fn empty_folders_and_other_class_sets_are_errors_naming_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let e = scan(d, None).unwrap_err().to_string();
        assert!(e.contains("holds no class folders"), "{e}");
        touch(&d.join("a/1.png"));
        std::fs::create_dir_all(d.join("b")).unwrap();
        touch(&d.join("b/readme.txt"));
        let e = scan(d, None).unwrap_err().to_string();
        assert!(e.contains("/b: class folder holds no"), "{e}");
        std::fs::remove_dir_all(d.join("b")).unwrap();
        let expected = ["a".to_string(), "c".to_string()];
        let e = scan(d, Some((&expected, "the training split's")))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("holds the classes [a] but the training split's classes are [a, c]"),
            "{e}"
        );
    }
}
