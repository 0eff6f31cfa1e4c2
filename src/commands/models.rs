//! `trainer models ls | show | alias | pull`: MLflow's Model Registry from the command line.

use super::Failure;
use super::runs::{render, utc};
use crate::checkpoint;
use crate::cli::{ModelsCommand, ServerArgs};
use crate::tracking::{
    MLMODEL_FILE, MlflowClient, MlflowError, MlflowSettings, ModelVersion, listed_checksums,
};
use anyhow::anyhow;
use std::path::{Path, PathBuf};
use trainer_core::config::TrackingConfig;

/// Runs one `models` subcommand.
pub fn models(cmd: ModelsCommand) -> Result<(), Failure> {
    match cmd {
        ModelsCommand::Ls { name, server } => ls(&client(&server)?, name.as_deref()),
        ModelsCommand::Show { model, server } => show(&client(&server)?, &model),
        ModelsCommand::Alias {
            name,
            version,
            alias,
            server,
        } => {
            let c = client(&server)?;
            c.model_version(&name, version).map_err(registry_failure)?;
            c.set_alias(&name, &alias, version)
                .map_err(registry_failure)?;
            crate::outln!("{name}@{alias} -> version {version}");
            Ok(())
        }
        ModelsCommand::Pull {
            model,
            output,
            server,
        } => pull(&client(&server)?, &model, &output),
    }
}

/// The client for `--tracking-uri`, else `MLFLOW_TRACKING_URI`.
fn client(server: &ServerArgs) -> Result<MlflowClient, Failure> {
    let cfg = TrackingConfig {
        mlflow_uri: server.tracking_uri.clone().unwrap_or_default(),
        ..TrackingConfig::default()
    };
    let settings = MlflowSettings::resolve(&cfg, |k| std::env::var(k).ok()).ok_or_else(|| {
        Failure::input(anyhow!(
            "no MLflow server: pass --tracking-uri http://HOST:PORT or set MLFLOW_TRACKING_URI"
        ))
    })?;
    MlflowClient::new(&settings).map_err(Failure::runtime)
}

/// A registry error: something that does not exist or a refused request is bad input (exit 2);
/// an unreachable server is a failure (exit 1).
fn registry_failure(e: MlflowError) -> Failure {
    if e.is_final_answer() {
        Failure::input(e)
    } else {
        Failure::runtime(e)
    }
}

/// Which version `spec` names: `NAME@ALIAS`, `NAME/VERSION` or `NAME` (its latest version).
fn resolve(c: &MlflowClient, spec: &str) -> Result<ModelVersion, Failure> {
    if let Some((name, alias)) = spec.rsplit_once('@') {
        return c.version_by_alias(name, alias).map_err(|e| match e {
            MlflowError::NotFound(_) | MlflowError::Rejected(_) => Failure::input(anyhow!(
                "{spec}: model {name:?} has no alias {alias:?} ({e})"
            )),
            e => Failure::runtime(e),
        });
    }
    if let Some((name, version)) = spec.rsplit_once('/') {
        let version: u64 = version.parse().map_err(|_| {
            Failure::input(anyhow!(
                "{spec}: expected NAME/VERSION with a version number, NAME@ALIAS or NAME"
            ))
        })?;
        return c.model_version(name, version).map_err(registry_failure);
    }
    c.model_versions(spec)
        .map_err(registry_failure)?
        .into_iter()
        .next()
        .ok_or_else(|| Failure::input(anyhow!("{spec}: no registered model with versions")))
}

/// Registered models, or one model's versions.
fn ls(c: &MlflowClient, name: Option<&str>) -> Result<(), Failure> {
    let Some(name) = name else {
        let models = c.registered_models().map_err(registry_failure)?;
        if models.is_empty() {
            crate::outln!("no registered models");
            return Ok(());
        }
        let rows: Vec<Vec<String>> = models
            .iter()
            .map(|m| {
                let aliases: Vec<String> =
                    m.aliases.iter().map(|(a, v)| format!("@{a}={v}")).collect();
                vec![
                    m.name.clone(),
                    m.latest_version.to_string(),
                    or_dash(aliases.join(" ")),
                    utc(m.updated_ms),
                ]
            })
            .collect();
        crate::outln!(
            "{}",
            render(&["MODEL", "LATEST", "ALIASES", "UPDATED (UTC)"], &rows)
        );
        return Ok(());
    };
    let versions = c.model_versions(name).map_err(registry_failure)?;
    if versions.is_empty() {
        return Err(Failure::input(anyhow!(
            "no registered model {name:?} (or it has no versions); `trainer models ls` lists them"
        )));
    }
    let rows: Vec<Vec<String>> = versions
        .iter()
        .map(|v| {
            vec![
                v.version.to_string(),
                v.status.clone(),
                or_dash(
                    v.aliases
                        .iter()
                        .map(|a| format!("@{a}"))
                        .collect::<Vec<_>>()
                        .join(" "),
                ),
                utc(v.created_ms),
                or_dash(v.run_id.clone()),
            ]
        })
        .collect();
    crate::outln!(
        "{}",
        render(
            &["VERSION", "STATUS", "ALIASES", "CREATED (UTC)", "RUN"],
            &rows
        )
    );
    Ok(())
}

/// One version and its lineage: the run that made it, its metrics, data and commit.
fn show(c: &MlflowClient, spec: &str) -> Result<(), Failure> {
    let v = resolve(c, spec)?;
    let aliases: Vec<String> = v.aliases.iter().map(|a| format!("@{a}")).collect();
    let mut facts = vec![
        ("model", format!("{} version {}", v.name, v.version)),
        ("aliases", or_dash(aliases.join(" "))),
        ("status", v.status.clone()),
        ("created", utc(v.created_ms)),
        ("source", v.source.clone()),
        ("run", or_dash(v.run_id.clone())),
    ];
    if !v.description.is_empty() {
        facts.push(("description", v.description.clone()));
    }
    let run = if v.run_id.is_empty() {
        None
    } else {
        match c.get_run(&v.run_id) {
            Ok(r) => Some(r),
            Err(e) => {
                eprintln!("warning: run {}: {e}", v.run_id);
                None
            }
        }
    };
    let run = run.as_ref().map(|r| &r["run"]);
    if let Some(r) = run {
        let tag = |k: &str| tag_value(&r["data"]["tags"], k).map(str::to_string);
        facts.push((
            "run name",
            or_dash(r["info"]["run_name"].as_str().unwrap_or("").into()),
        ));
        facts.push((
            "trained on",
            or_dash(tag("trainer.backend").unwrap_or_default()),
        ));
        facts.push((
            "commit",
            or_dash(tag("mlflow.source.git.commit").unwrap_or_default()),
        ));
    }
    for (k, val) in facts {
        crate::outln!("{k:<12} {val}");
    }
    let Some(r) = run else {
        return Ok(());
    };
    let metrics: Vec<Vec<String>> = r["data"]["metrics"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| {
            let key = m["key"].as_str()?;
            let value = m["value"].as_f64()?;
            (key.starts_with("test_") || key.starts_with("valid_"))
                .then(|| vec![key.to_string(), format!("{value:.4}")])
        })
        .collect();
    if !metrics.is_empty() {
        crate::outln!("\nmetrics of the run");
        crate::outln!("{}", render(&["METRIC", "VALUE"], &metrics));
    }
    let datasets: Vec<Vec<String>> = r["inputs"]["dataset_inputs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            let context = tag_value(&d["tags"], "mlflow.data.context").unwrap_or("-");
            let profile: serde_json::Value = d["dataset"]["profile"]
                .as_str()
                .and_then(|p| serde_json::from_str(p).ok())
                .unwrap_or_default();
            let source: serde_json::Value = d["dataset"]["source"]
                .as_str()
                .and_then(|p| serde_json::from_str(p).ok())
                .unwrap_or_default();
            vec![
                context.to_string(),
                d["dataset"]["name"].as_str().unwrap_or("-").to_string(),
                profile["num_rows"].to_string(),
                profile["sha256"]
                    .as_str()
                    .map_or_else(|| "-".into(), |s| s.chars().take(12).collect()),
                source["uri"].as_str().unwrap_or("-").to_string(),
            ]
        })
        .collect();
    if !datasets.is_empty() {
        crate::outln!("\ndata of the run");
        crate::outln!(
            "{}",
            render(
                &["CONTEXT", "DATASET", "ROWS", "SHA-256", "SOURCE"],
                &datasets
            )
        );
    }
    Ok(())
}

/// Downloads the version's files into a scratch directory beside `output`, verifies every
/// checksum (the `MLmodel` listing and the checkpoint manifest), then renames it to `output`.
fn pull(c: &MlflowClient, spec: &str, output: &Path) -> Result<(), Failure> {
    if output.exists() {
        return Err(Failure::input(anyhow!(
            "--output {}: already exists; pull into a new directory",
            output.display()
        )));
    }
    let v = resolve(c, spec)?;
    let parent = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent)
        .map_err(|e| Failure::runtime(anyhow!("{}: {e}", parent.display())))?;
    let leaf = output
        .file_name()
        .map_or_else(|| "model".into(), |n| n.to_string_lossy().into_owned());
    let scratch = parent.join(format!(".{leaf}.pull-{}", std::process::id()));
    std::fs::create_dir(&scratch)
        .map_err(|e| Failure::runtime(anyhow!("{}: {e}", scratch.display())))?;
    let fetched = download_tree(c, &v.source, &scratch, "").and_then(|files| {
        verify_pulled(&scratch, &files).map_err(|e| {
            Failure::runtime(anyhow!(
                "{} version {}: the downloaded files do not verify: {e}",
                v.name,
                v.version
            ))
        })?;
        std::fs::rename(&scratch, output)
            .map_err(|e| Failure::runtime(anyhow!("{}: {e}", output.display())))?;
        Ok(files)
    });
    let files = fetched.inspect_err(|_| {
        // Nothing half-downloaded is left behind.
        let _ = std::fs::remove_dir_all(&scratch);
    })?;
    crate::outln!(
        "pulled {} version {} into {} ({} files, checksums verified); use it as a checkpoint: trainer eval --checkpoint {}",
        v.name,
        v.version,
        output.display(),
        files.len(),
        output.display()
    );
    Ok(())
}

/// Downloads everything under `uri` into `dir`; returns the relative paths written.
fn download_tree(
    c: &MlflowClient,
    uri: &str,
    dir: &Path,
    prefix: &str,
) -> Result<Vec<String>, Failure> {
    let mut written = Vec::new();
    for (name, is_dir) in c.list_artifacts(uri).map_err(registry_failure)? {
        // Names come from the server: never let one leave the directory.
        if name.is_empty() || name.contains(['/', '\\']) || name == "." || name == ".." {
            return Err(Failure::runtime(anyhow!(
                "the server listed an unsafe file name {name:?} under {uri}"
            )));
        }
        let child_uri = format!("{}/{name}", uri.trim_end_matches('/'));
        let rel = format!("{prefix}{name}");
        let path = dir.join(&name);
        if is_dir {
            std::fs::create_dir(&path)
                .map_err(|e| Failure::runtime(anyhow!("{}: {e}", path.display())))?;
            written.extend(download_tree(c, &child_uri, &path, &format!("{rel}/"))?);
        } else {
            let bytes = c.download_artifact(&child_uri).map_err(registry_failure)?;
            std::fs::write(&path, bytes)
                .map_err(|e| Failure::runtime(anyhow!("{}: {e}", path.display())))?;
            written.push(rel);
        }
    }
    if written.is_empty() && prefix.is_empty() {
        return Err(Failure::input(anyhow!(
            "{uri}: no files there; the version's source holds no model"
        )));
    }
    Ok(written)
}

/// Every file the `MLmodel` lists has its SHA-256, no other file came, and the checkpoint's
/// manifest verifies.
fn verify_pulled(dir: &Path, files: &[String]) -> anyhow::Result<()> {
    let mlmodel = std::fs::read_to_string(dir.join(MLMODEL_FILE))
        .map_err(|e| anyhow!("{MLMODEL_FILE}: {e}"))?;
    let listed = listed_checksums(&mlmodel);
    if listed.is_empty() {
        return Err(anyhow!(
            "{MLMODEL_FILE} lists no files: not a trainer model"
        ));
    }
    for (name, want) in &listed {
        let bytes = std::fs::read(dir.join(name)).map_err(|e| anyhow!("{name}: {e}"))?;
        let got = crate::digest::sha256_hex(&bytes);
        if got != *want {
            return Err(anyhow!("{name}: SHA-256 {got}, expected {want}"));
        }
    }
    if let Some(extra) = files
        .iter()
        .find(|f| *f != MLMODEL_FILE && !listed.iter().any(|(n, _)| n == *f))
    {
        return Err(anyhow!("{extra} is not listed in {MLMODEL_FILE}"));
    }
    checkpoint::verify(dir).map_err(|e| anyhow!("{e}"))?;
    Ok(())
}

/// The value of `key` in an MLflow `[{"key", "value"}]` tag list (run tags, input tags).
fn tag_value<'a>(tags: &'a serde_json::Value, key: &str) -> Option<&'a str> {
    tags.as_array()?
        .iter()
        .find(|t| t["key"] == key)
        .and_then(|t| t["value"].as_str())
}

fn or_dash(s: String) -> String {
    if s.is_empty() { "-".into() } else { s }
}
