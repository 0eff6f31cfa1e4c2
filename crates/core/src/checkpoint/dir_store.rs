//! Checkpoints as directories: `<root>/step-000000120/{model.mpk, optimizer.mpk, state.json,
//! config.toml, manifest.json}` plus a `latest` pointer file.
//!
//! Atomicity: files are written into `<root>/.tmp-<name>-<pid>/` and fsynced, the manifest
//! (SHA-256 of every file) last; the directory is renamed into place and the root fsynced; then
//! `latest` is replaced atomically. A crash at any instant leaves a temp dir (ignored and later
//! removed) or a complete checkpoint. Retention renames a checkpoint to a temp dir before
//! deleting it, for the same reason. Readers trust only directories whose manifest verifies.

use super::{
    CheckpointError, CheckpointStore, FORMAT_VERSION, LatestValid, Retention, Snapshot,
    StoredCheckpoint, TrainState,
};
use crate::digest::sha256_hex;
use crate::fsutil::write_atomic;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The file in a directory of checkpoints that names its newest one.
pub const LATEST_FILE: &str = "latest";
const MANIFEST: &str = "manifest.json";
const MODEL: &str = "model.mpk";
const OPTIMIZER: &str = "optimizer.mpk";
const STATE: &str = "state.json";
const CONFIG: &str = "config.toml";

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    format_version: u32,
    /// File name -> lowercase hex SHA-256.
    files: BTreeMap<String, String>,
}

/// A directory of checkpoints with a retention policy.
#[derive(Debug, Clone)]
pub struct DirStore {
    root: PathBuf,
    retention: Retention,
}

impl DirStore {
    /// Opens `root` for reading: nothing is created or removed (no retention applies), so it
    /// is safe beside a live writer (`checkpoints ls` during `fit`).
    pub fn open(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
            retention: Retention {
                keep_last: usize::MAX,
                keep_best: true,
                maximize: true,
            },
        }
    }

    /// Opens (creating) `root` for saving and removes the temp directories other processes
    /// left there. Only the run's one writer (it holds the run lock) may call this: any other
    /// writer's temp directory is then a dead process's.
    pub fn open_for_writing(root: &Path, retention: Retention) -> Result<Self, CheckpointError> {
        std::fs::create_dir_all(root).map_err(CheckpointError::io(root))?;
        let own = format!("-{}", std::process::id());
        for entry in std::fs::read_dir(root)
            .map_err(CheckpointError::io(root))?
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(".tmp-") && !name.ends_with(&own) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        Ok(Self {
            root: root.to_path_buf(),
            retention,
        })
    }

    /// Checkpoint directory names, newest (highest step) first.
    pub fn names(&self) -> Result<Vec<String>, CheckpointError> {
        checkpoint_names(&self.root)
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

/// The checkpoint directories (`step-N`) in `root`, newest (highest step) first.
pub fn checkpoint_names(root: &Path) -> Result<Vec<String>, CheckpointError> {
    let mut found: Vec<(usize, String)> = std::fs::read_dir(root)
        .map_err(CheckpointError::io(root))?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let step = name.strip_prefix("step-")?.parse().ok()?;
            Some((step, name))
        })
        .collect();
    found.sort_by(|a, b| b.cmp(a));
    Ok(found.into_iter().map(|(_, n)| n).collect())
}

/// Why `path` is no checkpoint directory at all (missing, a file, a run directory, a
/// directory of checkpoints), so the message says what to give instead of "incomplete".
fn not_a_checkpoint(path: &Path) -> Option<String> {
    let shape = "expected a checkpoint directory such as RUN/checkpoints/step-000000120";
    let Ok(meta) = std::fs::metadata(path) else {
        return Some(format!("no such checkpoint directory; {shape}"));
    };
    if !meta.is_dir() {
        return Some(format!("is a file, not a checkpoint; {shape}"));
    }
    if path.join(MANIFEST).exists() {
        return None;
    }
    if path.join(crate::run::CHECKPOINTS_DIR).is_dir() {
        return Some(
            "is a run directory; give one of its checkpoints (RUN/checkpoints/step-N), or `--resume auto` with its --run-name"
                .to_string(),
        );
    }
    if path.join(LATEST_FILE).is_file() {
        return Some(
            "is a directory of checkpoints; give one of them (its `latest` file names the newest)"
                .to_string(),
        );
    }
    None
}

/// Checks a checkpoint directory: manifest present and of this format, every file's SHA-256.
pub fn verify(dir: &Path) -> Result<StoredCheckpoint, CheckpointError> {
    not_a_checkpoint(dir).map_or(Ok(()), |why| Err(CheckpointError::invalid(dir, why)))?;
    let manifest_path = dir.join(MANIFEST);
    let bytes = std::fs::read(&manifest_path).map_err(|e| {
        CheckpointError::invalid(
            &manifest_path,
            format!("cannot read the manifest ({e}); incomplete checkpoint"),
        )
    })?;
    let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| {
        CheckpointError::invalid(&manifest_path, format!("not a valid manifest: {e}"))
    })?;
    if manifest.format_version != FORMAT_VERSION {
        return Err(CheckpointError::invalid(
            &manifest_path,
            format!(
                "format_version {} is not supported (this trainer reads {FORMAT_VERSION})",
                manifest.format_version
            ),
        ));
    }
    for required in [MODEL, OPTIMIZER, STATE, CONFIG] {
        if !manifest.files.contains_key(required) {
            return Err(CheckpointError::invalid(
                &manifest_path,
                format!("does not list {required}"),
            ));
        }
    }
    for (file, expected) in &manifest.files {
        let fixed = [MODEL, OPTIMIZER, STATE, CONFIG].contains(&file.as_str());
        if !fixed && !valid_asset_name(file) {
            return Err(CheckpointError::invalid(
                &manifest_path,
                format!("lists {file:?}, which is not a plain file name"),
            ));
        }
        let path = dir.join(file);
        let data = std::fs::read(&path)
            .map_err(|e| CheckpointError::invalid(&path, format!("missing or unreadable: {e}")))?;
        if sha256_hex(&data) != *expected {
            return Err(CheckpointError::invalid(
                &path,
                "SHA-256 mismatch: the file is corrupt or truncated",
            ));
        }
    }
    let state_path = dir.join(STATE);
    let state: TrainState = serde_json::from_slice(
        &std::fs::read(&state_path).map_err(CheckpointError::io(&state_path))?,
    )
    .map_err(|e| CheckpointError::invalid(&state_path, format!("not a valid state: {e}")))?;
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(StoredCheckpoint {
        name,
        path: dir.to_path_buf(),
        state,
    })
}

/// Verifies and reads a whole checkpoint.
pub fn load(dir: &Path) -> Result<Snapshot, CheckpointError> {
    let stored = verify(dir)?;
    let read = |f: &str| std::fs::read(dir.join(f)).map_err(CheckpointError::io(&dir.join(f)));
    let config_toml = String::from_utf8(read(CONFIG)?)
        .map_err(|_| CheckpointError::invalid(dir.join(CONFIG), "not UTF-8"))?;
    let mut assets = BTreeMap::new();
    for name in asset_names(dir)? {
        assets.insert(name.clone(), read(&name)?);
    }
    Ok(Snapshot {
        state: stored.state,
        model: read(MODEL)?,
        optimizer: read(OPTIMIZER)?,
        config_toml,
        assets,
    })
}

/// The manifest's files other than the fixed four: the model's assets (already verified).
fn asset_names(dir: &Path) -> Result<Vec<String>, CheckpointError> {
    let path = dir.join(MANIFEST);
    let bytes = std::fs::read(&path).map_err(CheckpointError::io(&path))?;
    let manifest: Manifest = serde_json::from_slice(&bytes)
        .map_err(|e| CheckpointError::invalid(&path, format!("not a valid manifest: {e}")))?;
    Ok(manifest
        .files
        .into_keys()
        .filter(|f| ![MODEL, OPTIMIZER, STATE, CONFIG].contains(&f.as_str()))
        .collect())
}

/// An asset name is one plain file name that does not shadow a checkpoint file.
fn valid_asset_name(name: &str) -> bool {
    let plain = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    plain && ![MODEL, OPTIMIZER, STATE, CONFIG, MANIFEST].contains(&name)
}

/// Writes every file of `snap` into `dir`, the manifest (with their SHA-256) last, all fsynced.
fn write_checkpoint_files(dir: &Path, snap: &Snapshot) -> Result<(), CheckpointError> {
    let state = serde_json::to_vec_pretty(&snap.state)
        .map_err(|e| CheckpointError::invalid(dir, e.to_string()))?;
    let mut files: Vec<(&str, &[u8])> = vec![
        (MODEL, &snap.model),
        (OPTIMIZER, &snap.optimizer),
        (STATE, &state),
        (CONFIG, snap.config_toml.as_bytes()),
    ];
    for (name, data) in &snap.assets {
        if !valid_asset_name(name) {
            return Err(CheckpointError::invalid(
                dir.join(name),
                "an asset needs a plain file name (letters, digits, '.', '_', '-')",
            ));
        }
        files.push((name, data));
    }
    let mut manifest = Manifest {
        format_version: FORMAT_VERSION,
        files: BTreeMap::new(),
    };
    for (file, data) in files {
        write_synced(&dir.join(file), data)?;
        manifest.files.insert(file.to_string(), sha256_hex(data));
    }
    let manifest = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| CheckpointError::invalid(dir, e.to_string()))?;
    write_synced(&dir.join(MANIFEST), &manifest)?;
    sync_dir(dir);
    Ok(())
}

fn write_synced(path: &Path, data: &[u8]) -> Result<(), CheckpointError> {
    let mut f = std::fs::File::create(path).map_err(CheckpointError::io(path))?;
    f.write_all(data).map_err(CheckpointError::io(path))?;
    f.sync_all().map_err(CheckpointError::io(path))
}

fn sync_dir(dir: &Path) {
    // Directory fsync makes renames durable on Linux; unsupported on some platforms.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

impl CheckpointStore for DirStore {
    fn save(&mut self, snap: &Snapshot) -> Result<String, CheckpointError> {
        let name = format!("step-{:09}", snap.state.position.global_step);
        let final_dir = self.root.join(&name);
        if final_dir.exists() {
            if verify(&final_dir).is_ok() {
                return Ok(name); // Same step saved twice (e.g. epoch end and an interrupt).
            }
            std::fs::remove_dir_all(&final_dir).map_err(CheckpointError::io(&final_dir))?;
        }
        let tmp = self
            .root
            .join(format!(".tmp-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir(&tmp).map_err(CheckpointError::io(&tmp))?;
        if let Err(e) = write_checkpoint_files(&tmp, snap) {
            // A full disk must not leave half a checkpoint behind to fill it further.
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
        std::fs::rename(&tmp, &final_dir).map_err(CheckpointError::io(&final_dir))?;
        sync_dir(&self.root);
        let latest = self.root.join(LATEST_FILE);
        write_atomic(&latest, name.as_bytes()).map_err(CheckpointError::io(&latest))?;
        self.apply_retention(&name)?;
        Ok(name)
    }

    fn latest_valid(&self) -> Result<Option<LatestValid>, CheckpointError> {
        let mut skipped = Vec::new();
        for name in self.names()? {
            match verify(&self.root.join(&name)) {
                Ok(found) => return Ok(Some((found, skipped))),
                Err(e) => skipped.push((name, e)),
            }
        }
        Ok(None)
    }
}

impl DirStore {
    fn apply_retention(&self, just_saved: &str) -> Result<(), CheckpointError> {
        let all: Vec<(String, usize, Option<f64>)> = self
            .names()?
            .into_iter()
            .filter_map(|n| {
                // Only complete checkpoints take part; reading state.json is enough for that.
                let bytes = std::fs::read(self.root.join(&n).join(STATE)).ok()?;
                let state: TrainState = serde_json::from_slice(&bytes).ok()?;
                Some((n, state.position.global_step, state.position.metric))
            })
            .collect();
        for name in super::select_for_deletion(&all, self.retention) {
            if name != just_saved {
                // Rename first: a crash mid-delete then leaves a temp dir, never half a checkpoint.
                let dir = self.root.join(&name);
                let doomed = self
                    .root
                    .join(format!(".tmp-delete-{name}-{}", std::process::id()));
                std::fs::rename(&dir, &doomed).map_err(CheckpointError::io(&dir))?;
                sync_dir(&self.root);
                std::fs::remove_dir_all(&doomed).map_err(CheckpointError::io(&doomed))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::Position;

    fn retention() -> Retention {
        Retention {
            keep_last: 3,
            keep_best: false,
            maximize: true,
        }
    }

    fn temp_dirs(root: &Path) -> Vec<String> {
        std::fs::read_dir(root)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".tmp-"))
            .collect()
    }

    #[test]
    fn only_the_writer_cleans_temp_dirs_and_a_failed_save_leaves_none() {
        let dir = tempfile::tempdir().unwrap();
        let other = dir.path().join(".tmp-step-000000005-4000000");
        std::fs::create_dir(&other).unwrap();
        let reader = DirStore::open(dir.path());
        assert_eq!(reader.names().unwrap(), Vec::<String>::new());
        assert_eq!(
            temp_dirs(dir.path()).len(),
            1,
            "a reader removed a temp dir"
        );

        let mut writer = DirStore::open_for_writing(dir.path(), retention()).unwrap();
        assert!(temp_dirs(dir.path()).is_empty());
        let snap = Snapshot {
            state: TrainState {
                format_version: FORMAT_VERSION,
                trainer_version: String::new(),
                model: "mlp".into(),
                input_shape: [1, 1, 1],
                num_classes: 2,
                position: Position {
                    batch: 7,
                    global_step: 7,
                    ..Position::default()
                },
                seed: 1,
                tracker_run_id: String::new(),
                interrupted: false,
            },
            model: vec![1, 2, 3],
            optimizer: vec![4],
            config_toml: String::new(),
            // Fails after the temp dir exists, as a full disk would.
            assets: BTreeMap::from([("../escape".to_string(), vec![0])]),
        };
        assert!(writer.save(&snap).is_err());
        assert!(
            temp_dirs(dir.path()).is_empty(),
            "{:?}",
            temp_dirs(dir.path())
        );
        assert!(writer.names().unwrap().is_empty());
    }
}
