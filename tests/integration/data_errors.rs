//! Bad dataset files: one-line errors naming the file, exit code 2, no panic.

use crate::common::{idx, one_line_error, tiny_dataset, trainer, write};
use std::path::Path;

fn fit_on(dir: &Path) -> String {
    let data_dir = format!("data.dir={}", dir.display());
    let out = dir.join("runs").display().to_string();
    one_line_error(&trainer(&[
        "fit",
        "--set",
        &data_dir,
        "--output",
        &out,
        "--backend",
        "cpu",
    ]))
}

#[test]
fn truncated_image_file_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    tiny_dataset(dir.path(), 30);
    let p = dir.path().join("train-images-idx3-ubyte");
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() - 7]).unwrap();
    let e = fit_on(dir.path());
    assert!(
        e.contains("train-images-idx3-ubyte") && e.contains("truncated"),
        "{e}"
    );
}

#[test]
fn truncated_gzip_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    tiny_dataset(dir.path(), 30);
    let src = crate::common::repo().join("datasets/mnist-10k/t10k-images-idx3-ubyte.gz");
    let gz = std::fs::read(src).unwrap();
    std::fs::remove_file(dir.path().join("t10k-images-idx3-ubyte")).unwrap();
    write(dir.path(), "t10k-images-idx3-ubyte.gz", &gz[..gz.len() / 2]);
    let e = fit_on(dir.path());
    assert!(
        e.contains("t10k-images-idx3-ubyte.gz") && e.contains("gzip"),
        "{e}"
    );
}

#[test]
fn wrong_magic_number_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    tiny_dataset(dir.path(), 30);
    write(
        dir.path(),
        "train-labels-idx1-ubyte",
        idx(0x803, &[30], &[0; 30]),
    );
    let e = fit_on(dir.path());
    assert!(
        e.contains("train-labels-idx1-ubyte") && e.contains("wrong magic number 0x00000803"),
        "{e}"
    );
}

#[test]
fn image_label_count_mismatch_names_both_files() {
    let dir = tempfile::tempdir().unwrap();
    tiny_dataset(dir.path(), 30);
    write(
        dir.path(),
        "train-labels-idx1-ubyte",
        idx(0x801, &[29], &[1; 29]),
    );
    let e = fit_on(dir.path());
    assert!(
        e.contains("train-images-idx3-ubyte") && e.contains("train-labels-idx1-ubyte"),
        "{e}"
    );
    assert!(e.contains("30 images") && e.contains("29 labels"), "{e}");
}

#[test]
fn header_shorter_than_required_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    tiny_dataset(dir.path(), 30);
    write(dir.path(), "t10k-images-idx3-ubyte", [0u8, 0, 8]);
    let e = fit_on(dir.path());
    assert!(
        e.contains("t10k-images-idx3-ubyte") && e.contains("too short"),
        "{e}"
    );
}

#[test]
fn missing_dataset_directory_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let e = fit_on(&dir.path().join("nowhere"));
    assert!(e.contains("nowhere") && e.contains("not found"), "{e}");
}
