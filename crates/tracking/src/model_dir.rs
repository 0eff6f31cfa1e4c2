//! The `model/` directory a registered run logs: its final checkpoint (weights, optimizer
//! state, resolved config, assets such as `vocab.json`, manifest), the PyTorch-named
//! `model.safetensors` when the model exports one, and an `MLmodel` file MLflow reads (flavor,
//! signature, and the SHA-256 of every other file, which `models pull` verifies).

use std::path::Path;
use trainer_core::checkpoint::TrainState;
use trainer_core::checkpoint::{CheckpointStore, DirStore};
use trainer_core::digest::sha256_hex;
use trainer_core::run::{MODEL_FILE, RunLayout};

/// The artifact directory the model's files go in, and the registry's source within a run.
pub const MODEL_ARTIFACT_DIR: &str = "model";
/// MLflow's model description file.
pub const MLMODEL_FILE: &str = "MLmodel";
/// The MLflow flavor name of a trainer model.
pub const FLAVOR: &str = "trainer";

/// The files of `run_dir`'s model (file name, bytes), `MLmodel` last; Err says why there is no
/// model to log (a run without checkpoints).
pub fn model_files(
    run_dir: &Path,
    run_id: &str,
    created_ms: i64,
) -> Result<Vec<(String, Vec<u8>)>, String> {
    let layout = RunLayout::of(run_dir);
    let store = DirStore::open(&layout.checkpoints());
    let newest = store
        .latest_valid()
        .map_err(|e| e.to_string())?
        .map(|(newest, _)| newest)
        .ok_or_else(|| format!("{}: no valid checkpoint to register", run_dir.display()))?;
    let mut files = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(&newest.path)
        .map_err(|e| format!("{}: {e}", newest.path.display()))?
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in names {
        let path = newest.path.join(&name);
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        files.push((name, bytes));
    }
    if let Ok(weights) = std::fs::read(layout.model()) {
        files.push((MODEL_FILE.to_string(), weights));
    }
    let config = files
        .iter()
        .find(|(n, _)| n == "config.toml")
        .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default();
    let mlmodel = mlmodel_text(&newest.state, &config, run_id, created_ms, &files);
    files.push((MLMODEL_FILE.to_string(), mlmodel.into_bytes()));
    Ok(files)
}

/// `MLmodel` (YAML) for the checkpoint `state`: the trainer flavor with the file checksums,
/// and the signature of the model's inputs and outputs as tensor specs.
fn mlmodel_text(
    state: &TrainState,
    config: &str,
    run_id: &str,
    created_ms: i64,
    files: &[(String, Vec<u8>)],
) -> String {
    let format = config
        .parse::<toml::Table>()
        .ok()
        .and_then(|t| t.get("data")?.get("format")?.as_str().map(str::to_string))
        .unwrap_or_default();
    let [c, h, w] = state.input_shape;
    let classes = state.num_classes;
    let (input, output) = match (state.model.as_str(), format.as_str()) {
        ("gpt", _) => (
            tensor_spec("int64", &[-1, w as i64]),
            tensor_spec("float32", &[-1, w as i64, classes as i64]),
        ),
        (_, "csv" | "parquet") => (
            tensor_spec("float32", &[-1, w as i64]),
            tensor_spec("float32", &[-1, classes as i64]),
        ),
        _ => (
            tensor_spec("float32", &[-1, c as i64, h as i64, w as i64]),
            tensor_spec("float32", &[-1, classes as i64]),
        ),
    };
    let weights = if files.iter().any(|(n, _)| n == MODEL_FILE) {
        quote(MODEL_FILE)
    } else {
        "null".into()
    };
    let mut yaml = format!(
        "artifact_path: {MODEL_ARTIFACT_DIR}\nflavors:\n  {FLAVOR}:\n    trainer_version: {}\n    framework: {}\n    model: {}\n    checkpoint_format: {}\n    global_step: {}\n    weights: {weights}\n    files:\n",
        quote(&state.trainer_version),
        quote("burn 0.21.0"),
        quote(&state.model),
        state.format_version,
        state.position.global_step,
    );
    for (name, bytes) in files {
        yaml.push_str(&format!("      {}: {}\n", quote(name), sha256_hex(bytes)));
    }
    yaml.push_str(&format!(
        "model_uuid: {}\nrun_id: {}\nsignature:\n  inputs: {}\n  outputs: {}\n  params: null\nutc_time_created: {}\n",
        quote(&format!("{:032x}", rand::random::<u128>())),
        quote(run_id),
        quote(&format!("[{input}]")),
        quote(&format!("[{output}]")),
        quote(&utc_text(created_ms)),
    ));
    yaml
}

/// One MLflow tensor spec as JSON.
fn tensor_spec(dtype: &str, shape: &[i64]) -> String {
    serde_json::json!({"type": "tensor", "tensor-spec": {"dtype": dtype, "shape": shape}})
        .to_string()
}

/// A YAML single-quoted scalar.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// `YYYY-MM-DD HH:MM:SS.ffffff` (UTC), as MLflow writes `utc_time_created`.
fn utc_text(ms: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_micros(t)
        .to_string()
        .replace('T', " ")
        .trim_end_matches('Z')
        .to_string()
}

/// The `files:` checksums of an `MLmodel` text: (file name, SHA-256).
pub fn listed_checksums(mlmodel: &str) -> Vec<(String, String)> {
    let mut in_files = false;
    let mut out = Vec::new();
    for line in mlmodel.lines() {
        if line.trim_end() == "    files:" {
            in_files = true;
            continue;
        }
        if !in_files {
            continue;
        }
        let Some(entry) = line.strip_prefix("      ") else {
            break;
        };
        if let Some((name, digest)) = entry.rsplit_once(": ") {
            let name = name
                .strip_prefix('\'')
                .and_then(|n| n.strip_suffix('\''))
                .unwrap_or(name)
                .replace("''", "'");
            out.push((name, digest.trim().to_string()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_text_is_mlflows_format() {
        assert_eq!(utc_text(0), "1970-01-01 00:00:00.000000");
        // 2026-12-04 11:13:34.250 UTC
        assert_eq!(utc_text(1_796_382_814_250), "2026-12-04 11:13:34.250000");
    }

    #[test]
    fn checksums_round_trip_through_the_mlmodel_text() {
        let state = TrainState {
            format_version: 1,
            trainer_version: "0.1.0".into(),
            model: "it's".into(),
            input_shape: [1, 28, 28],
            num_classes: 10,
            position: Default::default(),
            seed: 1,
            tracker_run_id: String::new(),
            interrupted: false,
        };
        let files = vec![
            ("model.mpk".to_string(), b"w".to_vec()),
            ("odd 'name'.json".to_string(), b"{}".to_vec()),
        ];
        let text = mlmodel_text(&state, "[data]\nformat = \"idx\"\n", "r1", 0, &files);
        assert!(text.contains("model: 'it''s'"), "{text}");
        assert!(text.contains("\"shape\":[-1,1,28,28]"), "{text}");
        let listed = listed_checksums(&text);
        assert_eq!(
            listed,
            vec![
                ("model.mpk".to_string(), sha256_hex(b"w")),
                ("odd 'name'.json".to_string(), sha256_hex(b"{}")),
            ]
        );
    }
}
