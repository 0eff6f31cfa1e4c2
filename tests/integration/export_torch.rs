//! The exported safetensors load into the equivalent `torch.nn.Module` (strict
//! `load_state_dict`) and predict what `trainer predict` predicts, logits within 1e-5.
//! Needs `TRAINER_TORCH_VENV` (set by tests/run-all.sh through tests/setup.sh).

use crate::common::{one_line_error, repo, stderr, trainer};
use std::path::{Path, PathBuf};
use std::process::Command;

const IMAGES: &str = "datasets/mnist-10k/t10k-images-idx3-ubyte.gz";

/// The torch venv's Python (numpy, torch, safetensors).
pub fn python() -> PathBuf {
    let venv = std::env::var_os("TRAINER_TORCH_VENV").expect(
        "TRAINER_TORCH_VENV is not set: run the suite with tests/run-all.sh (it creates the venv)",
    );
    Path::new(&venv).join("bin/python")
}

/// Trains a small MLP for two epochs, keeping both epoch-end checkpoints.
fn train(out: &Path) -> Vec<String> {
    let o = trainer(&[
        "fit",
        "--backend",
        "cpu",
        "--run-name",
        "m",
        "--output",
        &out.display().to_string(),
        "--set",
        "model.mlp.hidden=[48,24]",
        "--set",
        "train.epochs=2",
        "--set",
        "checkpoint.keep_last=5",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let ck = out.join("m/checkpoints");
    let mut names: Vec<String> = std::fs::read_dir(&ck)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("step-"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|n| ck.join(n).display().to_string())
        .collect()
}

fn export_and_predict(checkpoint: &str, dir: &Path, tag: &str) -> (String, String) {
    let st = dir.join(format!("{tag}.safetensors")).display().to_string();
    let o = trainer(&["checkpoints", "export", checkpoint, "--out", &st]);
    assert!(o.status.success(), "{}", stderr(&o));
    let jsonl = dir.join(format!("{tag}.jsonl")).display().to_string();
    let o = trainer(&[
        "predict",
        "--checkpoint",
        checkpoint,
        "--input",
        IMAGES,
        "--output",
        &jsonl,
        "--backend",
        "cpu",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    (st, jsonl)
}

fn torch_check(st: &str, jsonl: &str) -> std::process::Output {
    Command::new(python())
        .arg(repo().join("tests/python/check_export.py"))
        .args([
            "--safetensors",
            st,
            "--images",
            IMAGES,
            "--predictions",
            jsonl,
        ])
        .args(["--mean", "0.1307", "--std", "0.3081", "--tol", "1e-5"])
        .current_dir(repo())
        .output()
        .expect("the torch venv's python runs")
}

#[test]
fn exported_mlp_predicts_like_trainer_in_pytorch() {
    let tmp = tempfile::tempdir().unwrap();
    let checkpoints = train(tmp.path());
    assert_eq!(checkpoints.len(), 2, "{checkpoints:?}");
    let (st, jsonl) = export_and_predict(&checkpoints[1], tmp.path(), "final");
    let o = torch_check(&st, &jsonl);
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("class disagreements 0"));

    // The check can fail: the epoch-1 model's predictions do not match the final weights.
    let (_, early) = export_and_predict(&checkpoints[0], tmp.path(), "early");
    let o = torch_check(&st, &early);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("mismatch"));
}

#[test]
fn export_is_byte_identical_for_the_same_weights() {
    let tmp = tempfile::tempdir().unwrap();
    let checkpoints = train(tmp.path());
    let (a, _) = export_and_predict(&checkpoints[1], tmp.path(), "a");
    let (b, _) = export_and_predict(&checkpoints[1], tmp.path(), "b");
    assert!(std::fs::read(a).unwrap() == std::fs::read(b).unwrap());
}

#[test]
fn predict_rejects_bad_input_without_writing_output() {
    let tmp = tempfile::tempdir().unwrap();
    let checkpoints = train(tmp.path());
    let out = tmp.path().join("p.csv");
    let o = trainer(&[
        "predict",
        "--checkpoint",
        &checkpoints[1],
        "--input",
        "datasets/mnist-10k/t10k-labels-idx1-ubyte.gz",
        "--output",
        &out.display().to_string(),
    ]);
    let line = one_line_error(&o);
    assert!(line.contains("t10k-labels-idx1-ubyte.gz"), "{line}");
    assert!(line.contains("expected 0x00000803"), "{line}");
    assert!(!out.exists());

    let small = tmp.path().join("small-images-idx3-ubyte");
    std::fs::write(&small, crate::common::idx(0x803, &[1, 4, 4], &[0; 16])).unwrap();
    let o = trainer(&[
        "predict",
        "--checkpoint",
        &checkpoints[1],
        "--input",
        &small.display().to_string(),
        "--output",
        &out.display().to_string(),
    ]);
    let line = one_line_error(&o);
    assert!(line.contains("trained on [1, 28, 28]"), "{line}");
    assert!(!out.exists());
    let leftovers = std::fs::read_dir(tmp.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        })
        .count();
    assert_eq!(leftovers, 0);
}

#[test]
fn predict_csv_rows_match_the_json_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let checkpoints = train(tmp.path());
    let (_, jsonl) = export_and_predict(&checkpoints[1], tmp.path(), "j");
    let csv = tmp.path().join("p.csv").display().to_string();
    let o = trainer(&[
        "predict",
        "--checkpoint",
        &checkpoints[1],
        "--input",
        IMAGES,
        "--output",
        &csv,
        "--backend",
        "cpu",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = std::fs::read_to_string(csv).unwrap();
    let jsonl = std::fs::read_to_string(jsonl).unwrap();
    let mut rows = csv.lines();
    assert!(rows.next().unwrap().starts_with("index,predicted,logit_0,"));
    let (mut n, mut seen) = (0, 0);
    for (c, j) in rows.zip(jsonl.lines()) {
        let j: serde_json::Value = serde_json::from_str(j).unwrap();
        let cells: Vec<f64> = c.split(',').map(|v| v.parse().unwrap()).collect();
        assert_eq!(cells[0] as u64, j["index"].as_u64().unwrap());
        assert_eq!(cells[1] as u64, j["predicted"].as_u64().unwrap());
        let logits: Vec<f64> = j["logits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(&cells[2..], &logits[..]);
        n += 1;
        seen += usize::from(cells[1] as u64 == 7);
    }
    assert_eq!(n, 2000);
    assert!(seen > 0, "a trained model predicts more than one class");
}

/// Runs one of the `tests/python/check_export_*.py` scripts in the torch venv.
fn torch_script(script: &str, args: &[&str]) -> std::process::Output {
    Command::new(python())
        .arg(repo().join("tests/python").join(script))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("the torch venv's python runs")
}

/// Exports `run`'s oldest checkpoint (not `newest`) into `dir`: weights the checks must reject.
fn export_first_checkpoint(run: &Path, newest: &Path, dir: &Path) -> String {
    let first = std::fs::read_dir(run.join("checkpoints"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("step-"))
        })
        .min()
        .unwrap();
    assert_ne!(first, newest);
    let out = dir.join("first.safetensors").display().to_string();
    let e = trainer(&[
        "checkpoints",
        "export",
        first.to_str().unwrap(),
        "--out",
        &out,
    ]);
    assert!(e.status.success(), "{}", stderr(&e));
    out
}

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn exported_table_mlp_scores_csv_rows_like_trainer_in_pytorch() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().display().to_string();
    let o = trainer(&[
        "fit",
        "--config",
        "configs/wine.toml",
        "--output",
        &out,
        "--run-name",
        "wine",
        "--backend",
        "cpu",
        "--set",
        "train.epochs=3",
        "--set",
        "checkpoint.keep_last=5",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let run = tmp.path().join("wine");
    // A finished run leaves its weights in PyTorch layout, the preprocessing in the header.
    let st = run.join("model.safetensors");
    assert!(st.is_file(), "{}", text(&o));
    let checkpoint = crate::tasks::newest_checkpoint(&run);
    let jsonl = tmp.path().join("wine.jsonl").display().to_string();
    let csv = "datasets/tabular/wine.csv";
    let p = trainer(&[
        "predict",
        "--checkpoint",
        checkpoint.to_str().unwrap(),
        "--input",
        csv,
        "--output",
        &jsonl,
        "--backend",
        "cpu",
    ]);
    assert!(p.status.success(), "{}", stderr(&p));
    let st = st.display().to_string();
    let check = |weights: &str| {
        let args = [
            "--safetensors",
            weights,
            "--csv",
            csv,
            "--predictions",
            jsonl.as_str(),
        ];
        torch_script("check_export_table.py", &args)
    };
    let agrees = check(&st);
    assert!(agrees.status.success(), "{}", text(&agrees));
    assert!(
        text(&agrees).contains("class disagreements 0"),
        "{}",
        text(&agrees)
    );

    // The check can fail: an untrained model's logits are not these.
    let first = export_first_checkpoint(&run, &checkpoint, tmp.path());
    let differs = check(&first);
    assert_eq!(differs.status.code(), Some(1), "{}", text(&differs));
}

#[test]
fn exported_gpt_continues_a_prompt_like_trainer_sample_in_pytorch() {
    let tmp = tempfile::tempdir().unwrap();
    let file = crate::tasks::shakespeare_head(tmp.path(), 12_000);
    let out = tmp.path().join("runs");
    crate::tasks::tiny_gpt(
        &file,
        &out,
        "g",
        &["--set", "train.epochs=2", "--set", "checkpoint.keep_last=5"],
    );
    let run = out.join("g");
    let st = run.join("model.safetensors");
    assert!(st.is_file());
    let checkpoint = crate::tasks::newest_checkpoint(&run);
    let (prompt, tokens) = ("ROMEO:", "60");
    let s = trainer(&[
        "sample",
        "--checkpoint",
        checkpoint.to_str().unwrap(),
        "--prompt",
        prompt,
        "--tokens",
        tokens,
        "--temperature",
        "0",
        "--backend",
        "cpu",
    ]);
    assert!(s.status.success(), "{}", stderr(&s));
    let sample = tmp.path().join("sample.txt");
    std::fs::write(&sample, &s.stdout).unwrap();
    let (st, sample) = (st.display().to_string(), sample.display().to_string());
    let check = |weights: &str| {
        let args = [
            "--safetensors",
            weights,
            "--prompt",
            prompt,
            "--tokens",
            tokens,
            "--sample",
            sample.as_str(),
        ];
        torch_script("check_export_gpt.py", &args)
    };
    let agrees = check(&st);
    assert!(agrees.status.success(), "{}", text(&agrees));

    // The check can fail: the first epoch's weights continue the prompt differently.
    let first = export_first_checkpoint(&run, &checkpoint, tmp.path());
    let differs = check(&first);
    assert_eq!(differs.status.code(), Some(1), "{}", text(&differs));
}
