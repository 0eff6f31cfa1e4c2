//! The streaming loader inside `fit`: the same batches (hence bit-identical losses) for any
//! worker count, and `fit` training from CIFAR-10 binary files with the shipped config.

use crate::common::{repo, stdout, summary, trainer};
use crate::train_backends::{small_config, step_losses, train};
use trainer_backends::Choice;

fn losses_with(workers: usize, prefetch: usize) -> Vec<f64> {
    let mut cfg = small_config(3, 1);
    cfg.train.log_every = 1;
    cfg.train.drop_last = false;
    cfg.data.workers = workers;
    cfg.data.prefetch = prefetch;
    step_losses(&train(&Choice::Flex, &cfg).1)
}

#[test]
fn same_seed_same_losses_with_1_2_and_8_workers() {
    let one = losses_with(1, 1);
    assert_eq!(
        one.len(),
        80,
        "8,000 samples in batches of 100, every step logged"
    );
    assert_eq!(losses_with(2, 4), one, "2 workers");
    assert_eq!(losses_with(8, 3), one, "8 workers");
}

/// CIFAR-10 binary records: a label byte, then 3x32x32 pixels (class-dependent brightness so
/// the model has something to learn).
pub fn cifar_file(path: &std::path::Path, records: usize, offset: usize) {
    let mut bytes = Vec::new();
    for r in 0..records {
        let label = ((r + offset) % 10) as u8;
        bytes.push(label);
        bytes.extend((0..3072).map(|i| (label as usize * 20 + (i * 7 + r) % 40) as u8));
    }
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn fit_trains_from_cifar10_binary_files_with_the_shipped_config() {
    let dir = tempfile::tempdir().unwrap();
    cifar_file(&dir.path().join("data_batch_1.bin"), 64, 0);
    cifar_file(&dir.path().join("data_batch_2.bin"), 56, 3);
    cifar_file(&dir.path().join("test_batch.bin"), 40, 5);
    let config = repo()
        .join("configs/cifar10-cnn.toml")
        .display()
        .to_string();
    let data_dir = format!("data.dir={}", dir.path().display());
    let out = dir.path().join("runs").display().to_string();
    let o = trainer(&[
        "fit",
        "--config",
        &config,
        "--set",
        &data_dir,
        "--set",
        "train.epochs=1",
        "--set",
        "train.batch_size=16",
        "--set",
        "model.cnn.channels=[4, 8]",
        "--set",
        "model.cnn.fc_hidden=16",
        "--set",
        "data.workers=3",
        "--output",
        &out,
        "--backend",
        "cpu",
        "--run-name",
        "c",
    ]);
    let err = crate::common::stderr(&o);
    assert!(
        o.status.success(),
        "stderr:\n{err}\nstdout:\n{}",
        stdout(&o)
    );
    let run = dir.path().join("runs/c");
    let summary = summary(&run);
    assert_eq!(summary["test"]["samples"], 40, "{summary}");
    // 120 training records, 12 held out for validation: 108 in 7 batches of up to 16.
    assert_eq!(summary["steps"], 7, "{summary}");
}
