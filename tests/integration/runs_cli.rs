//! `trainer runs ls | show | compare` on real runs, and the files a finished run leaves
//! (`loss.png`, `model.safetensors`).

use crate::common::{one_line_error, png_pixels_of, stderr, stdout, summary, trainer};
use serde_json::Value;
use std::path::Path;
use trainer_plots::Color;

/// Trains a one-epoch MLP named `name` under `out` with learning rate `lr`.
fn fit(out: &Path, name: &str, lr: &str) {
    let out = out.display().to_string();
    let lr = format!("train.lr={lr}");
    let o = trainer(&[
        "fit",
        "--run-name",
        name,
        "--output",
        &out,
        "--backend",
        "cpu",
        "--set",
        "train.epochs=1",
        "--set",
        "model.mlp.hidden=[32]",
        "--set",
        &lr,
    ]);
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
}

fn line_with<'a>(text: &'a str, needle: &str) -> &'a str {
    text.lines()
        .find(|l| l.split_whitespace().next() == Some(needle))
        .unwrap_or_else(|| panic!("no line starting with {needle} in:\n{text}"))
}

#[test]
fn runs_are_listed_shown_and_compared() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().display().to_string();
    fit(dir.path(), "slow", "0.0001");
    fit(dir.path(), "fast", "0.003");
    // A run that died mid-way: its journal has no end.
    let died = dir.path().join("died");
    std::fs::create_dir(&died).unwrap();
    let journal = std::fs::read_to_string(dir.path().join("slow/journal.jsonl")).unwrap();
    let head: Vec<&str> = journal.lines().take(5).collect();
    std::fs::write(
        died.join("journal.jsonl"),
        head.join("\n") + "\n{\"event\":\"st",
    )
    .unwrap();

    let o = trainer(&["runs", "ls", "--output", &out]);
    assert!(o.status.success(), "{}", stderr(&o));
    let ls = stdout(&o);
    for name in ["slow", "fast"] {
        let acc = summary(&dir.path().join(name))["test_accuracy"]
            .as_f64()
            .unwrap();
        let line = line_with(&ls, name);
        assert!(line.contains("finished"), "{line}");
        assert!(line.contains(&format!("{:.2}%", acc * 100.0)), "{line}");
        assert!(line.contains("1/1"), "{line}");
    }
    assert!(line_with(&ls, "died").contains("incomplete"), "{ls}");

    let o = trainer(&["runs", "show", "fast", "--output", &out]);
    assert!(o.status.success(), "{}", stderr(&o));
    let show = stdout(&o);
    let s = summary(&dir.path().join("fast"));
    let test_acc = line_with(&show, "test_accuracy");
    assert!(
        test_acc.contains(&format!("{:.4}", s["test_accuracy"].as_f64().unwrap())),
        "{show}"
    );
    assert!(line_with(&show, "train.lr").contains("0.003"), "{show}");
    assert!(line_with(&show, "status").contains("finished"), "{show}");
    let epoch = line_with(&show, "1");
    assert!(
        epoch.contains(&format!("{:.4}", s["final_train_loss"].as_f64().unwrap())),
        "{show}"
    );

    let o = trainer(&["runs", "compare", "slow", "fast", "--output", &out]);
    assert!(o.status.success(), "{}", stderr(&o));
    let cmp = stdout(&o);
    let lr = line_with(&cmp, "train.lr");
    assert!(lr.contains("0.0001") && lr.contains("0.003"), "{cmp}");
    assert!(
        !cmp.contains("model.kind"),
        "equal params are not listed:\n{cmp}"
    );
    let acc = line_with(&cmp, "test_accuracy");
    for name in ["slow", "fast"] {
        let v = summary(&dir.path().join(name))["test_accuracy"]
            .as_f64()
            .unwrap();
        assert!(acc.contains(&format!("{v:.4}")), "{cmp}");
    }

    let e = one_line_error(&trainer(&["runs", "show", "nope", "--output", &out]));
    assert!(
        e.contains("nope") && e.contains("not a run directory"),
        "{e}"
    );
    let missing = dir.path().join("missing").display().to_string();
    let e = one_line_error(&trainer(&["runs", "ls", "--output", &missing]));
    assert!(e.contains(&missing), "{e}");
}

#[test]
fn a_finished_run_leaves_its_loss_curve_and_final_weights() {
    let dir = tempfile::tempdir().unwrap();
    fit(dir.path(), "done", "0.001");
    let run = dir.path().join("done");
    let curve = run.join("loss.png");
    assert!(
        png_pixels_of(&curve, Color::Blue.rgb()) > 300,
        "the training curve"
    );
    assert_eq!(png_pixels_of(&curve, Color::Red.rgb()), 0, "no stop marker");

    let weights = std::fs::read(run.join("model.safetensors")).expect("model.safetensors");
    let len = u64::from_le_bytes(weights[..8].try_into().unwrap()) as usize;
    let header: Value = serde_json::from_slice(&weights[8..8 + len]).unwrap();
    assert_eq!(
        header["layers.0.weight"]["shape"],
        serde_json::json!([32, 784])
    );
    let steps = summary(&run)["steps"].as_u64().unwrap();
    assert_eq!(
        header["__metadata__"]["global_step"],
        steps.to_string(),
        "the final weights"
    );
}
