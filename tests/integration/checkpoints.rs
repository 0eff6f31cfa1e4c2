//! Checkpoints through the CLI: corrupt ones are named and skipped, incompatible configs are
//! refused with the differing keys, export never overwrites, Ctrl-C saves and exits 130, a run
//! directory stands for its newest checkpoint that verifies.

use crate::common::{one_line_error, stdout, trainer};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const SMALL: [&str; 6] = [
    "--set",
    "model.mlp.hidden=[32]",
    "--set",
    "train.log_every=10",
    "--backend",
    "cpu",
];

/// Trains `name` for two epochs (checkpoints at steps 57 and 114); returns its checkpoints dir.
fn trained_run(out: &Path, name: &str) -> PathBuf {
    let out_s = out.display().to_string();
    let mut args = vec![
        "fit",
        "--run-name",
        name,
        "--output",
        &out_s,
        "--set",
        "train.epochs=2",
    ];
    args.extend(SMALL);
    let o = trainer(&args);
    assert!(o.status.success(), "{}", crate::common::stderr(&o));
    out.join(name).join("checkpoints")
}

fn verify_error(dir: &Path) -> String {
    one_line_error(&trainer(&[
        "checkpoints",
        "verify",
        &dir.display().to_string(),
    ]))
}

#[test]
fn damaged_checkpoints_fail_verification_with_the_file_named() {
    let tmp = tempfile::tempdir().unwrap();
    let ck = trained_run(tmp.path(), "dmg");
    let newest = ck.join("step-000000114");
    assert!(
        trainer(&["checkpoints", "verify", &newest.display().to_string()])
            .status
            .success()
    );

    let model = newest.join("model.mpk");
    let mut bytes = std::fs::read(&model).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(&model, &bytes).unwrap();
    let e = verify_error(&newest);
    assert!(
        e.contains("model.mpk") && e.contains("SHA-256 mismatch"),
        "{e}"
    );

    let older = ck.join("step-000000057");
    let opt = older.join("optimizer.mpk");
    let len = std::fs::metadata(&opt).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&opt)
        .unwrap()
        .set_len(len / 3)
        .unwrap();
    let e = verify_error(&older);
    assert!(
        e.contains("optimizer.mpk") && e.contains("SHA-256 mismatch"),
        "{e}"
    );
}

#[test]
fn missing_manifest_and_wrong_format_version_are_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let ck = trained_run(tmp.path(), "fmt");
    let a = ck.join("step-000000057");
    let manifest = std::fs::read_to_string(a.join("manifest.json")).unwrap();
    std::fs::write(
        a.join("manifest.json"),
        manifest.replace("\"format_version\": 1", "\"format_version\": 99"),
    )
    .unwrap();
    let e = verify_error(&a);
    assert!(e.contains("format_version 99 is not supported"), "{e}");
    let b = ck.join("step-000000114");
    std::fs::remove_file(b.join("manifest.json")).unwrap();
    let e = verify_error(&b);
    assert!(
        e.contains("manifest.json") && e.contains("incomplete checkpoint"),
        "{e}"
    );
}

#[test]
fn resume_auto_skips_a_corrupt_newest_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let ck = trained_run(tmp.path(), "skip");
    std::fs::write(ck.join("step-000000114/state.json"), b"{ truncated").unwrap();
    let out_s = tmp.path().display().to_string();
    let mut args = vec![
        "fit",
        "--run-name",
        "skip",
        "--output",
        &out_s,
        "--resume",
        "auto",
        "--set",
        "train.epochs=3",
    ];
    args.extend(SMALL);
    let o = trainer(&args);
    assert!(o.status.success(), "{}", crate::common::stderr(&o));
    assert!(
        crate::common::stderr(&o).contains("skipping checkpoint step-000000114"),
        "{}",
        crate::common::stderr(&o)
    );
    assert!(
        stdout(&o).contains("step-000000057 (epoch 2, step 57)"),
        "{}",
        stdout(&o)
    );
    assert!(
        stdout(&o).contains("resuming after step 57"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn resume_with_a_different_architecture_is_refused_with_the_diff() {
    let tmp = tempfile::tempdir().unwrap();
    let ck = trained_run(tmp.path(), "arch");
    let before = std::fs::read(ck.join("step-000000114/model.mpk")).unwrap();
    let out_s = tmp.path().display().to_string();
    let e = one_line_error(&trainer(&[
        "fit",
        "--run-name",
        "arch",
        "--output",
        &out_s,
        "--resume",
        "auto",
        "--set",
        "model.mlp.hidden=[16]",
        "--backend",
        "cpu",
    ]));
    assert!(
        e.contains("cannot resume") && e.contains("model.mlp.hidden: checkpoint [32], now [16]"),
        "{e}"
    );
    assert_eq!(
        std::fs::read(ck.join("step-000000114/model.mpk")).unwrap(),
        before,
        "nothing overwritten"
    );
}

#[test]
fn export_writes_pytorch_names_and_never_overwrites() {
    let tmp = tempfile::tempdir().unwrap();
    let ck = trained_run(tmp.path(), "exp");
    let out = tmp.path().join("model.safetensors");
    let (ck_s, out_s) = (
        ck.join("step-000000114").display().to_string(),
        out.display().to_string(),
    );
    let o = trainer(&["checkpoints", "export", &ck_s, "--out", &out_s]);
    assert!(o.status.success(), "{}", crate::common::stderr(&o));
    let bytes = std::fs::read(&out).unwrap();
    // safetensors: u64 little-endian header length, then a JSON header naming every tensor.
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    assert_eq!(
        header["layers.0.weight"]["shape"],
        serde_json::json!([32, 784]),
        "{header}"
    );
    assert_eq!(
        header["layers.1.weight"]["shape"],
        serde_json::json!([10, 32]),
        "{header}"
    );
    let e = one_line_error(&trainer(&["checkpoints", "export", &ck_s, "--out", &out_s]));
    assert!(e.contains("already exists"), "{e}");
    assert_eq!(std::fs::read(&out).unwrap(), bytes);
}

#[test]
fn ctrl_c_saves_a_checkpoint_and_exits_130() {
    let tmp = tempfile::tempdir().unwrap();
    let out_s = tmp.path().display().to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_trainer"))
        .args([
            "fit",
            "--run-name",
            "int",
            "--output",
            &out_s,
            "--set",
            "train.epochs=1000",
            "--set",
            "train.log_every=1",
        ])
        .args(SMALL)
        .current_dir(crate::common::repo())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(
            std::fs::File::create(tmp.path().join("stderr.txt")).unwrap(),
        ))
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // Wait until training is under way, then stop it.
    for line in lines.by_ref() {
        if line.unwrap().contains("step 10/") {
            break;
        }
    }
    // SIGINT is what Ctrl-C sends; SIGTERM (preemption) takes the same path.
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    for _ in lines {}
    let exit = child.wait().unwrap();
    let err = std::fs::read_to_string(tmp.path().join("stderr.txt")).unwrap_or_default();
    assert_eq!(exit.code(), Some(130), "stderr: {err}");
    let ck = tmp.path().join("int/checkpoints");
    let latest = std::fs::read_to_string(ck.join("latest")).unwrap();
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ck.join(latest.trim()).join("state.json")).unwrap())
            .unwrap();
    assert_eq!(state["interrupted"], true, "{state}");
    let step = state["global_step"].as_u64().unwrap();
    assert!(
        (10..7 * 57).contains(&step),
        "stopped soon after step 10, not at the end: {state}"
    );
}

#[test]
fn a_run_directory_as_checkpoint_means_its_newest_checkpoint_that_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let ck = trained_run(tmp.path(), "newest");
    let run = tmp.path().join("newest");
    let eval = |checkpoint: &Path, json: &str| -> (serde_json::Value, String) {
        let out = tmp.path().join(json);
        let (ck_s, out_s) = (checkpoint.display().to_string(), out.display().to_string());
        let o = trainer(&["eval", "--checkpoint", &ck_s, "--output", &out_s]);
        assert!(o.status.success(), "{}", crate::common::stderr(&o));
        let metrics = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
        (metrics, crate::common::stderr(&o))
    };
    let newest = ck.join("step-000000114");
    let (by_run, said) = eval(&run, "by-run.json");
    let (named, _) = eval(&newest, "named.json");
    assert_eq!(by_run["global_step"], 114, "{by_run}");
    assert_eq!(by_run["checkpoint"], named["checkpoint"]);
    assert_eq!(by_run["loss"], named["loss"]);
    assert!(
        said.contains(&format!("checkpoint: {}", newest.display())),
        "{said}"
    );
    // A damaged newest checkpoint is passed over, with a warning; the checkpoints/ directory
    // itself is resolved the same way, and export takes a run directory too.
    std::fs::write(newest.join("state.json"), b"{ truncated").unwrap();
    let (older, said) = eval(&ck, "older.json");
    assert_eq!(older["global_step"], 57, "{older}");
    assert!(
        said.contains("skipping checkpoint step-000000114"),
        "{said}"
    );
    let out = tmp.path().join("exported.safetensors");
    let (run_s, out_s) = (run.display().to_string(), out.display().to_string());
    let o = trainer(&["checkpoints", "export", &run_s, "--out", &out_s]);
    assert!(o.status.success(), "{}", crate::common::stderr(&o));
    assert!(stdout(&o).contains("step 57"), "{}", stdout(&o));
    // A run without a checkpoint that verifies is refused, naming its checkpoints/ directory.
    std::fs::write(ck.join("step-000000057/state.json"), b"{ truncated").unwrap();
    let e = one_line_error(&trainer(&["eval", "--checkpoint", &run_s]));
    assert!(e.contains("no checkpoint there verifies"), "{e}");
    assert!(e.contains(&ck.display().to_string()), "{e}");
}
