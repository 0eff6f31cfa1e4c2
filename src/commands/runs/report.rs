//! `trainer runs ls | show | compare`: run directories read back, as tables.

use super::table::render;
use crate::checkpoint::checkpoint_names;
use crate::commands::Failure;
use crate::run::{RunLayout, RunRecord, RunStatus, SweepRecord};
use crate::tracking::{SyncState, pending_lines};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

/// The names of system metrics (`system/cpu_utilization_percentage`), as MLflow shows them.
const SYSTEM_PREFIX: &str = "system/";

/// Metrics shown first (in this order) wherever final metrics are listed.
const HEADLINE: [&str; 5] = [
    "test_accuracy",
    "test_loss",
    "valid_accuracy",
    "valid_loss",
    "epoch_train_loss",
];

/// Prints one line per run under `output` (a JSON array with `json`).
pub fn ls(dirs: &[PathBuf], output: &Path, json: bool) -> Result<(), Failure> {
    if json {
        let runs: Vec<serde_json::Value> = dirs
            .iter()
            .filter_map(|dir| match RunRecord::load(dir) {
                Ok(r) => Some(serde_json::json!({
                    "name": r.name,
                    "dir": dir.display().to_string(),
                    "status": r.status.name(),
                    "model": r.model.as_deref(),
                    "backend": r.backend,
                    "steps": r.steps,
                    "started_ms": r.started_ms,
                    "metrics": r.metrics,
                })),
                Err(e) => {
                    eprintln!("warning: {e}");
                    None
                }
            })
            .collect();
        crate::outln!("{}", serde_json::Value::Array(runs));
        return Ok(());
    }
    if dirs.is_empty() {
        crate::outln!("no runs under {}", output.display());
        return Ok(());
    }
    let mut rows = Vec::new();
    for dir in dirs {
        match RunRecord::load(dir) {
            Ok(r) => rows.push(match &r.sweep {
                Some(s) => sweep_row(&r, s, dir),
                None => vec![
                    r.name.clone(),
                    r.status.name().to_string(),
                    r.model.as_deref().unwrap_or("-").to_string(),
                    r.backend.clone().unwrap_or_else(|| "-".into()),
                    epochs(&r),
                    r.steps.to_string(),
                    headline(&r, "valid"),
                    headline(&r, "test"),
                    r.started_ms.map_or_else(|| "-".into(), utc),
                    mlflow(dir).0,
                ],
            }),
            Err(e) => eprintln!("warning: {e}"),
        }
    }
    let header = [
        "RUN",
        "STATUS",
        "MODEL",
        "BACKEND",
        "EPOCHS",
        "STEPS",
        "VALID",
        "TEST",
        "STARTED (UTC)",
        "MLFLOW",
    ];
    crate::outln!("{}", render(&header, &rows));
    Ok(())
}

/// A sweep's row in `runs ls`: trials ended of planned, and the best objective so far.
fn sweep_row(r: &RunRecord, s: &SweepRecord, dir: &Path) -> Vec<String> {
    let scored = s.ended.iter().filter(|t| t.objective.is_some()).count();
    let best = match (&s.best, scored) {
        (Some((name, o)), _) => format!("best {o:.4} ({name})"),
        (None, 0) => "-".into(),
        (None, n) => format!("{n} trial(s) scored"),
    };
    vec![
        r.name.clone(),
        r.status.name().to_string(),
        "sweep".into(),
        s.objective.clone(),
        format!("{}/{} trials", s.ended.len(), s.trials),
        "-".into(),
        best,
        "-".into(),
        r.started_ms.map_or_else(|| "-".into(), utc),
        mlflow(dir).0,
    ]
}

/// Prints one run in detail (its record as JSON with `json`); a sweep as its trial table.
pub fn show(dir: &Path, json: bool) -> Result<(), Failure> {
    let r = RunRecord::load(dir).map_err(Failure::input)?;
    if json {
        let text = serde_json::to_string_pretty(&r).map_err(Failure::runtime)?;
        crate::outln!("{text}");
        return Ok(());
    }
    if let Some(s) = &r.sweep {
        crate::outln!("sweep        {} ({})", r.name, dir.display());
        crate::outln!("status       {}", r.status.name());
        crate::outln!("objective    {}", s.objective);
        crate::outln!("trials       {} of {} ended", s.ended.len(), s.trials);
        if let Some((name, o)) = &s.best {
            crate::outln!("best         {name}: {o:.4}");
        }
        let rows: Vec<Vec<String>> = s
            .ended
            .iter()
            .map(|t| {
                vec![
                    t.name.clone(),
                    t.status.name().to_string(),
                    number(t.objective.as_ref()),
                ]
            })
            .collect();
        let header = ["TRIAL", "STATUS", s.objective.as_str()];
        crate::outln!("\n{}", render(&header, &rows));
        return Ok(());
    }
    let mut status = r.status.name().to_string();
    if r.resumes > 0 {
        status.push_str(&format!(" (resumed {} time(s))", r.resumes));
    }
    if r.status == RunStatus::Incomplete {
        status.push_str(&format!(
            " - running, or stopped without an end; continue with `trainer fit --config {} --resume {}`",
            RunLayout::of(dir).config().display(),
            dir.display()
        ));
    }
    let backend = match (&r.backend, &r.device) {
        (Some(b), Some(d)) => format!("{b} on {d}"),
        _ => "-".into(),
    };
    let checkpoints = checkpoint_names(&RunLayout::of(dir).checkpoints())
        .map(|names| match names.first() {
            Some(newest) => format!("{} (newest {newest})", names.len()),
            None => "none".into(),
        })
        .unwrap_or_else(|_| "none".into());
    let (mlflow_state, mlflow_id) = mlflow(dir);
    let mlflow_line = if mlflow_id.is_empty() {
        mlflow_state
    } else {
        format!("run {mlflow_id}: {mlflow_state}")
    };
    let mut facts = vec![
        ("run", format!("{} ({})", r.name, dir.display())),
        ("status", status),
        ("model", r.model.as_deref().unwrap_or("-").to_string()),
        ("backend", backend),
        (
            "progress",
            format!("epoch {}, step {}", epochs(&r), r.steps),
        ),
        ("started", r.started_ms.map_or_else(|| "-".into(), utc)),
        ("last event", r.last_ms.map_or_else(|| "-".into(), utc)),
        ("checkpoints", checkpoints),
        ("mlflow", mlflow_line),
    ];
    if let Some(registry) = registry(dir, r.param("tracking.register_model")) {
        facts.push(("registry", registry));
    }
    if let Some(first) = r.skipped_samples.first() {
        facts.push((
            "skipped",
            format!(
                "{} unreadable file(s) left out (data.bad_samples = \"skip\"); first: {first}",
                r.skipped_samples.len()
            ),
        ));
    }
    if r.unreadable_lines > 0 {
        facts.push((
            "journal",
            format!("{} unreadable line(s) skipped", r.unreadable_lines),
        ));
    }
    for (k, v) in facts {
        crate::outln!("{k:<12} {v}");
    }

    if !r.datasets.is_empty() {
        crate::outln!("\ndata");
        let rows: Vec<Vec<String>> = r.datasets.iter().map(dataset_row).collect();
        let header = [
            "NAME", "FORMAT", "SHA-256", "FILES", "TRAIN", "VALID", "TEST", "CLASSES", "SEED",
            "SOURCE",
        ];
        crate::outln!("{}", indent(&render(&header, &rows)));
    }

    crate::outln!("\nfinal metrics");
    let rows: Vec<Vec<String>> = metric_keys(std::slice::from_ref(&r))
        .into_iter()
        .map(|k| vec![k.clone(), number(r.metrics.get(&k))])
        .collect();
    crate::outln!("{}", indent(&render(&["METRIC", "VALUE"], &rows)));

    let system: Vec<Vec<String>> = r
        .metrics
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix(SYSTEM_PREFIX)
                .map(|k| vec![k.to_string(), number(Some(v))])
        })
        .collect();
    if !system.is_empty() {
        crate::outln!("\nsystem (last sample)");
        crate::outln!("{}", indent(&render(&["METRIC", "VALUE"], &system)));
    }

    crate::outln!("\nepochs");
    let rows: Vec<Vec<String>> = r
        .epochs
        .iter()
        .map(|e| {
            vec![
                e.epoch.to_string(),
                number(e.train_loss.as_ref()),
                number(e.valid_loss.as_ref()),
                percent(e.valid_accuracy.as_ref()),
                e.seconds.map_or_else(|| "-".into(), |s| format!("{s:.1}")),
            ]
        })
        .collect();
    let header = ["EPOCH", "TRAIN LOSS", "VALID LOSS", "VALID ACC", "SECONDS"];
    crate::outln!("{}", indent(&render(&header, &rows)));

    crate::outln!("\nparams");
    let rows: Vec<Vec<String>> = r
        .params
        .iter()
        .map(|(k, v)| vec![k.clone(), v.clone()])
        .collect();
    crate::outln!("{}", indent(&render(&["KEY", "VALUE"], &rows)));
    Ok(())
}

/// Prints the params that differ between runs and their final metrics, side by side.
pub fn compare(dirs: &[PathBuf], json: bool) -> Result<(), Failure> {
    let runs = dirs
        .iter()
        .map(|d| RunRecord::load(d).map_err(Failure::input))
        .collect::<Result<Vec<_>, _>>()?;
    if json {
        let text = serde_json::to_string_pretty(&runs).map_err(Failure::runtime)?;
        crate::outln!("{text}");
        return Ok(());
    }
    let mut header = vec!["PARAM"];
    header.extend(runs.iter().map(|r| r.name.as_str()));

    let keys: BTreeSet<&str> = runs
        .iter()
        .flat_map(|r| r.params.iter().map(|(k, _)| k.as_str()))
        .collect();
    let differing: Vec<Vec<String>> = keys
        .into_iter()
        .filter(|k| *k != "run.name")
        .filter_map(|k| {
            let values: Vec<String> = runs
                .iter()
                .map(|r| r.param(k).unwrap_or("-").to_string())
                .collect();
            let differs = values.iter().any(|v| *v != values[0]);
            differs.then(|| std::iter::once(k.to_string()).chain(values).collect())
        })
        .collect();
    if differing.is_empty() {
        crate::outln!("params: all equal");
    } else {
        crate::outln!("{}", render(&header, &differing));
    }

    let mut rows = vec![
        std::iter::once("status".to_string())
            .chain(runs.iter().map(|r| r.status.name().to_string()))
            .collect::<Vec<_>>(),
        std::iter::once("backend".to_string())
            .chain(runs.iter().map(|r| r.backend.clone().unwrap_or_default()))
            .collect(),
        std::iter::once("steps".to_string())
            .chain(runs.iter().map(|r| r.steps.to_string()))
            .collect(),
    ];
    for k in metric_keys(&runs) {
        rows.push(
            std::iter::once(k.clone())
                .chain(runs.iter().map(|r| number(r.metrics.get(&k))))
                .collect(),
        );
    }
    rows.push(
        std::iter::once("data".to_string())
            .chain(runs.iter().map(data_cell))
            .collect(),
    );
    // The same files split the same way: equal split digests.
    let data: BTreeSet<Vec<String>> = runs
        .iter()
        .map(|r| {
            r.datasets
                .iter()
                .flat_map(|d| ["train", "valid", "test"].map(|s| d.split_digest(s)))
                .collect()
        })
        .collect();
    if data.len() > 1 {
        crate::outln!(
            "\ndata differs: the runs read different files or splits (see the data row; `runs show` lists each run's data)"
        );
    }
    header[0] = "FINAL";
    crate::outln!("\n{}", render(&header, &rows));
    Ok(())
}

/// One dataset of `runs show`'s data table.
fn dataset_row(d: &trainer_core::data::DatasetRecord) -> Vec<String> {
    vec![
        d.name.clone(),
        d.format.clone(),
        d.short_digest().to_string(),
        d.files.to_string(),
        d.splits.train.to_string(),
        d.splits.valid.to_string(),
        d.splits.test.to_string(),
        d.classes.map_or_else(|| "-".into(), |c| c.to_string()),
        d.seed.to_string(),
        d.source.clone(),
    ]
}

/// A run's data in `runs compare`: each dataset's name, short digest and split sizes.
fn data_cell(r: &RunRecord) -> String {
    if r.datasets.is_empty() {
        return "-".into();
    }
    r.datasets
        .iter()
        .map(|d| {
            format!(
                "{} {} ({}/{}/{})",
                d.name,
                d.short_digest(),
                d.splits.train,
                d.splits.valid,
                d.splits.test
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The run's model registration, as `runs show` reports it (None when none was asked for).
fn registry(dir: &Path, asked: Option<&str>) -> Option<String> {
    let s = SyncState::load(dir).ok().flatten().unwrap_or_default();
    let asked = asked.map(|a| a.trim_matches('"')).filter(|a| !a.is_empty());
    if let Some(name) = asked
        && s.registered_version == 0
        && s.registration_error.is_empty()
    {
        return Some(format!(
            "model {name}: not registered yet (when the run finishes; `trainer runs sync` retries)"
        ));
    }
    if s.registered_version > 0 {
        Some(format!(
            "model {} version {}",
            s.registered_model, s.registered_version
        ))
    } else if !s.registration_error.is_empty() {
        Some(format!(
            "model {} not registered: {}",
            s.registered_model, s.registration_error
        ))
    } else {
        None
    }
}

/// The metric names of `runs`: headline metrics first, then the rest alphabetically.
fn metric_keys(runs: &[RunRecord]) -> Vec<String> {
    // System metrics describe the machine, not the model: `runs show` lists them apart.
    let all: BTreeSet<&String> = runs
        .iter()
        .flat_map(|r| r.metrics.keys())
        .filter(|k| !k.starts_with(SYSTEM_PREFIX))
        .collect();
    let mut keys: Vec<String> = HEADLINE
        .iter()
        .filter(|k| all.iter().any(|a| a == k))
        .map(|k| k.to_string())
        .collect();
    keys.extend(
        all.into_iter()
            .filter(|k| !HEADLINE.contains(&k.as_str()))
            .cloned(),
    );
    keys
}

/// "done/planned" epochs.
fn epochs(r: &RunRecord) -> String {
    let done = r.metrics.get("epoch").map_or(0, |e| *e as u64);
    match r.epochs_planned {
        Some(planned) => format!("{done}/{planned}"),
        None => done.to_string(),
    }
}

/// The MLflow state of a run ("synced", "N line(s) pending", "-") and its MLflow run id.
fn mlflow(dir: &Path) -> (String, String) {
    match SyncState::load(dir) {
        Ok(Some(s)) if !s.mlflow_run_id.is_empty() => {
            let pending = pending_lines(dir, s.acked_offset);
            let state = if pending == 0 {
                "synced".to_string()
            } else {
                format!("{pending} line(s) pending")
            };
            (state, s.mlflow_run_id)
        }
        Ok(_) => ("-".into(), String::new()),
        Err(e) => (format!("unreadable: {e}"), String::new()),
    }
}

/// The split's headline metric for the run's task: accuracy for classes, RMSE for a
/// regression, perplexity for the language model (named in the cell: columns mix tasks).
fn headline(r: &RunRecord, split: &str) -> String {
    let param = |k: &str| r.param(k).unwrap_or_default();
    let get = |m: &str| r.metrics.get(&format!("{split}_{m}"));
    match (param("data.format"), param("data.task")) {
        ("csv" | "parquet", "regression") => {
            get("rmse").map_or_else(|| "-".into(), |v| format!("rmse {v:.4}"))
        }
        ("text", _) => get("perplexity").map_or_else(|| "-".into(), |v| format!("ppl {v:.3}")),
        _ => percent(get("accuracy")),
    }
}

fn percent(v: Option<&f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{:.2}%", v * 100.0))
}

/// Four decimals; scientific notation where that would hide the value (a small learning rate).
fn number(v: Option<&f64>) -> String {
    match v {
        None => "-".into(),
        Some(v) if *v != 0.0 && (v.abs() < 1e-3 || v.abs() >= 1e7) => format!("{v:.3e}"),
        Some(v) => format!("{v:.4}"),
    }
}

/// `ms` since the epoch as `YYYY-MM-DD HH:MM:SS` (UTC).
pub(crate) fn utc(ms: i64) -> String {
    let t = UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_seconds(t)
        .to_string()
        .replace('T', " ")
        .trim_end_matches('Z')
        .to_string()
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_small_values_visible() {
        assert_eq!(number(Some(&0.84451)), "0.8445");
        assert_eq!(number(Some(&3e-5)), "3.000e-5");
        assert_eq!(number(Some(&0.0)), "0.0000");
        assert_eq!(number(None), "-");
        assert_eq!(percent(Some(&0.8675)), "86.75%");
        assert_eq!(utc(0), "1970-01-01 00:00:00");
    }
}
