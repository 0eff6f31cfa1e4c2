//! Mixed precision and the data-parallel path on the backends this machine has: flex (CPU
//! bf16/f16) and wgpu on Mesa lavapipe (f16; it has no bf16). CUDA data parallel over several
//! GPUs needs a multi-GPU box; here its path runs with replicas on one device.

use crate::common::{one_line_error, stdout, trainer, trainer_env};
use crate::train_backends::{lavapipe, small_config, step_losses, train, train_on};
use trainer_backends::Choice;
use trainer_core::config::Precision;

/// Each logged loss of `reduced` is within `tol` (relative) of the f32 run's, every one finite,
/// and the two differ somewhere (the reduced run really computed in another type).
fn close_to_f32(f32_losses: &[f64], reduced: &[f64], tol: f64) {
    assert_eq!(f32_losses.len(), reduced.len());
    assert!(reduced.iter().all(|l| l.is_finite()), "{reduced:?}");
    for (a, b) in f32_losses.iter().zip(reduced) {
        assert!((a - b).abs() / a < tol, "f32 {f32_losses:?} vs {reduced:?}");
    }
    assert_ne!(
        f32_losses, reduced,
        "no difference: the cast did not happen"
    );
}

#[test]
fn bf16_and_f16_on_flex_learn_like_f32() {
    let mut cfg = small_config(42, 1);
    let (full, f32_events) = train(&Choice::Flex, &cfg);
    for precision in [Precision::Bf16, Precision::F16] {
        cfg.run.precision = precision;
        let (report, events) = train(&Choice::Flex, &cfg);
        close_to_f32(&step_losses(&f32_events), &step_losses(&events), 0.1);
        let (a, b) = (full.test.accuracy.unwrap(), report.test.accuracy.unwrap());
        assert!(
            (a - b).abs() < 0.02,
            "{precision:?}: test accuracy {b} vs f32 {a}"
        );
    }
}

#[test]
fn f16_on_wgpu_learns_like_f32() {
    // Lavapipe is slow: 20 steps of 400.
    let mut cfg = small_config(42, 1);
    cfg.train.batch_size = 400;
    cfg.data.eval_batch_size = 400;
    cfg.train.log_every = 5;
    let (_, f32_events) = train(&lavapipe(), &cfg);
    cfg.run.precision = Precision::F16;
    let (report, events) = train(&lavapipe(), &cfg);
    close_to_f32(&step_losses(&f32_events), &step_losses(&events), 0.1);
    assert!(report.test.accuracy.is_some_and(|a| a > 0.8), "{report:?}");
}

#[test]
fn the_data_parallel_path_with_one_device_is_bit_identical_to_one_device() {
    let cfg = small_config(3, 1);
    let (_, plain) = train(&Choice::Flex, &cfg);
    let (_, parallel) = train_on(&Choice::Flex, &[0], &cfg);
    assert_eq!(step_losses(&plain), step_losses(&parallel));
}

#[test]
fn batches_split_over_three_replicas_train_like_the_whole_batch() {
    let mut cfg = small_config(3, 1);
    cfg.model.mlp.dropout = 0.0; // dropout masks are drawn per shard
    let (whole, plain) = train(&Choice::Flex, &cfg);
    // Three replicas on the one CPU device: shards of 34, 33 and 33 samples per batch of 100.
    let (split, parallel) = train_on(&Choice::Flex, &[0, 0, 0], &cfg);
    let (a, b) = (step_losses(&plain), step_losses(&parallel));
    for (x, y) in a.iter().zip(&b) {
        assert!((x - y).abs() < 1e-3 * x.abs().max(1.0), "{a:?} vs {b:?}");
    }
    assert_eq!(whole.steps, split.steps);
    assert_eq!(whole.samples, split.samples);
}

#[test]
fn an_f16_run_checkpoints_its_loss_scale_and_resume_carries_it_on() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().display().to_string();
    let fit = |name: &str, epochs: &str, resume: bool| {
        let mut args = vec![
            "fit",
            "--output",
            &out,
            "--run-name",
            name,
            "--backend",
            "flex",
            "--precision",
            "f16",
            "--set",
            "model.mlp.hidden=[32]",
            "--set",
            epochs,
        ];
        if resume {
            args.extend(["--resume", "auto"]);
        }
        let o = trainer(&args);
        assert!(o.status.success(), "{}", crate::common::stderr(&o));
        stdout(&o)
    };
    let scale_at = |name: &str, step: u64| -> serde_json::Value {
        let state = dir
            .path()
            .join(format!("{name}/checkpoints/step-{step:09}/state.json"));
        let text = std::fs::read_to_string(&state).unwrap_or_else(|e| panic!("{state:?}: {e}"));
        serde_json::from_str::<serde_json::Value>(&text).unwrap()["loss_scale"].clone()
    };
    let first = fit("half", "train.epochs=1", false);
    assert!(
        first.contains("precision: f16 forward/backward, f32 weights"),
        "{first}"
    );
    // 7,200 training samples in batches of 128: 57 updates, some skipped while the scale
    // comes down from 65536 to what f16 holds.
    let s = scale_at("half", 57);
    let (scale, good) = (
        s["scale"].as_f64().unwrap(),
        s["good_steps"].as_u64().unwrap(),
    );
    assert!(
        (1.0..=65536.0).contains(&scale) && scale.log2().fract() == 0.0,
        "{s}"
    );
    assert!((1..=57).contains(&good), "{s}");
    fit("half", "train.epochs=2", true);
    fit("whole", "train.epochs=2", false);
    assert_eq!(
        scale_at("half", 114),
        scale_at("whole", 114),
        "the resumed run's scaler continues exactly where it stopped"
    );
}

#[test]
fn fit_on_one_listed_device_takes_the_data_parallel_path() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().display().to_string();
    let o = trainer(&[
        "fit",
        "--output",
        &out,
        "--run-name",
        "dp",
        "--backend",
        "cpu",
        "--devices",
        "0",
        "--set",
        "train.epochs=1",
        "--set",
        "model.mlp.hidden=[32]",
    ]);
    assert!(o.status.success(), "{}", crate::common::stderr(&o));
    assert!(
        crate::common::stderr(&o).contains("(data parallel path, one device)"),
        "{}",
        crate::common::stderr(&o)
    );
    let saved = std::fs::read_to_string(dir.path().join("dp/config.toml")).unwrap();
    assert!(saved.contains("devices = [0]"), "{saved}");
}

#[test]
fn placement_errors_are_one_line_and_name_the_key() {
    let cases: [(&[&str], &str); 4] = [
        (&["--devices", "0,1", "--backend", "cpu"], "run.devices"),
        (&["--devices", "0,0"], "device 0 is listed twice"),
        (
            &["--precision", "bf16", "--backend", "ndarray"],
            "ndarray computes in f32 only",
        ),
        (&["--devices", "all"], "needs cuda"),
    ];
    for (extra, want) in cases {
        let mut args = vec!["fit", "--set", "train.epochs=1"];
        args.extend(extra);
        let line = one_line_error(&trainer(&args));
        assert!(line.contains(want), "{extra:?}: {line}");
    }
    // Lavapipe has f16 but no bf16: refused before the first step, naming what would work.
    let o = trainer(&[
        "fit",
        "--backend",
        "wgpu",
        "--precision",
        "bf16",
        "--set",
        "train.epochs=1",
    ]);
    let line = one_line_error(&o);
    assert!(
        line.contains("run.precision = \"bf16\"") && line.contains("use \"f16\" or \"f32\""),
        "{line}"
    );
}

#[test]
fn bench_measures_precisions_side_by_side() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("b.json");
    let o = trainer(&[
        "bench",
        "--backends",
        "flex",
        "--precision",
        "f32,bf16",
        "--steps",
        "2",
        "--warmup",
        "1",
        "--checkpoint-repeats",
        "0",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", crate::common::stderr(&o));
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let rows = doc["results"].as_array().unwrap();
    let precisions: Vec<&str> = rows
        .iter()
        .map(|r| r["precision"].as_str().unwrap())
        .collect();
    assert_eq!(precisions, ["f32", "bf16"]);
    assert!(
        rows.iter()
            .all(|r| r["first_step_seconds"].as_f64().unwrap() > 0.0)
    );
}

#[test]
fn warmup_reports_the_first_step_and_where_kernels_are_cached() {
    let o = trainer(&[
        "warmup",
        "--backend",
        "cpu",
        "--set",
        "model.mlp.hidden=[32]",
    ]);
    assert!(o.status.success(), "{}", crate::common::stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("first step"), "{text}");
    assert!(text.contains("nothing to cache"), "{text}");

    let cache = tempfile::tempdir().unwrap();
    let dir = cache.path().join("kernels");
    let o = trainer_env(
        &[
            "warmup",
            "--backend",
            "wgpu",
            "--set",
            "model.mlp.hidden=[32]",
        ],
        &[("TRAINER_KERNEL_CACHE", dir.to_str().unwrap())],
    );
    assert!(o.status.success(), "{}", crate::common::stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("autotune results"), "{text}");
    assert!(text.contains(dir.to_str().unwrap()), "{text}");
    // The GPU runtime wrote its autotune results there (not to ./target/autotune).
    let autotune = dir.join("autotune");
    let files = walk(&autotune);
    assert!(
        !files.is_empty(),
        "nothing cached under {}",
        autotune.display()
    );
}

/// Every file under `dir`, recursively (empty when it does not exist).
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .flat_map(|e| {
            let p = e.path();
            if p.is_dir() { walk(&p) } else { vec![p] }
        })
        .collect()
}
