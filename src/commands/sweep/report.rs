//! A sweep's results: its trials ranked by the objective, `best.toml` (the best trial's
//! resolved config), one PNG of the objective against each searched key, and the best trial
//! in the sweep's journal (and so on its MLflow run).

use super::SweepPlan;
use super::trials::{describe, status_of};
use crate::commands::Failure;
use crate::commands::runs::render;
use crate::config::Config;
use crate::fsutil::write_atomic;
use crate::observe::scatter_png;
use crate::run::RunLayout;
use crate::sweep::TrialStatus;
use crate::sweep::{Dim, SweepSpec, SweepState};
use crate::task::{Task, eval_metrics, is_regression};
use crate::train::Event;
use anyhow::anyhow;
use std::collections::BTreeMap;

/// The best trial's resolved config, in the sweep directory.
pub const BEST_CONFIG_FILE: &str = "best.toml";

/// The objective must be a metric every trial logs: the training losses, or an evaluation
/// metric the run's task has (regression: loss, RMSE, MAE, R²; classes: loss, accuracy,
/// top-5, macro F1, and perplexity for the language model).
pub(super) fn check_objective(spec: &SweepSpec, cfg: &Config) -> Result<(), anyhow::Error> {
    let task = Task::of(cfg.data.format);
    let regression = is_regression(cfg);
    let mut known: Vec<String> = ["train_loss", "epoch_train_loss"]
        .map(String::from)
        .to_vec();
    for split in ["valid", "test"] {
        known.extend(eval_metrics(cfg).iter().map(|m| format!("{split}_{m}")));
    }
    let at = format!("{}: objective", spec.path.display());
    if !known.contains(&spec.objective) {
        return Err(anyhow!(
            "{at}: expected a metric {} runs log ({}), got {:?}",
            if regression {
                "regression"
            } else {
                task.name()
            },
            known.join(", "),
            spec.objective
        ));
    }
    let needs_valid = spec.objective.starts_with("valid_") || spec.early_stopping.enabled;
    if needs_valid && cfg.data.validation_fraction <= 0.0 {
        return Err(anyhow!(
            "{at}: {} needs a validation split; set data.validation_fraction > 0",
            if spec.early_stopping.enabled {
                "early stopping"
            } else {
                spec.objective.as_str()
            }
        ));
    }
    Ok(())
}

/// After every trial ended: the ranking, `best.toml`, the plots and the best trial's event.
pub(super) fn finish(
    plan: &SweepPlan,
    state: &mut SweepState,
    event: &dyn Fn(&Event) -> Result<(), Failure>,
) -> Result<(), Failure> {
    let mut rows: Vec<(usize, TrialStatus, Option<f64>)> = plan
        .trials
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let (status, objective) = status_of(plan, state, t);
            (i, status, objective)
        })
        .collect();
    let mode = plan.spec.mode;
    let rank = |r: &(usize, TrialStatus, Option<f64>)| match (&r.1, r.2) {
        (TrialStatus::Finished, Some(v)) => (0, mode.best_first(v)),
        (_, Some(v)) => (1, mode.best_first(v)),
        _ => (2, 0.0),
    };
    rows.sort_by(|a, b| {
        let (ka, kb) = (rank(a), rank(b));
        ka.0.cmp(&kb.0)
            .then(ka.1.total_cmp(&kb.1))
            .then(a.0.cmp(&b.0))
    });
    print_table(plan, &rows);
    write_plots(plan, &rows);
    let best = rows
        .iter()
        .find(|(_, s, o)| *s == TrialStatus::Finished && o.is_some());
    let Some(&(i, _, Some(objective))) = best else {
        return Err(Failure::runtime(anyhow!(
            "no trial finished with a {}; see the logs in {}",
            plan.spec.objective,
            plan.dir.join("logs").display()
        )));
    };
    let trial = &plan.trials[i];
    let config = RunLayout::of(&plan.dir.join(&trial.name)).config();
    let best_toml = plan.dir.join(BEST_CONFIG_FILE);
    let bytes = std::fs::read(&config)
        .map_err(|e| Failure::runtime(anyhow!("{}: {e}", config.display())))?;
    write_atomic(&best_toml, &bytes)
        .map_err(|e| Failure::runtime(anyhow!("{}: {e}", best_toml.display())))?;
    crate::outln!(
        "best: {} with {} = {objective:.4} ({}); its config: {}",
        trial.name,
        plan.spec.objective,
        describe(trial),
        best_toml.display()
    );
    if !state.best_reported {
        event(&Event::SweepBest {
            name: trial.name.clone(),
            objective,
            params: trial.params.clone(),
        })?;
        state.best_reported = true;
        state.save(&plan.dir).map_err(Failure::runtime)?;
    }
    Ok(())
}

/// The trials, best first: status, objective and the searched values.
fn print_table(plan: &SweepPlan, rows: &[(usize, TrialStatus, Option<f64>)]) {
    let keys: Vec<&String> = plan.spec.space.keys().collect();
    let mut header = vec!["trial", "status", plan.spec.objective.as_str()];
    header.extend(keys.iter().map(|k| k.as_str()));
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|(i, status, objective)| {
            let t = &plan.trials[*i];
            let mut row = vec![
                t.name.clone(),
                status.name().to_string(),
                objective.map_or_else(|| "-".into(), |o| format!("{o:.4}")),
            ];
            row.extend(
                keys.iter()
                    .map(|k| t.params.get(*k).cloned().unwrap_or_default()),
            );
            row
        })
        .collect();
    crate::outln!("{}", render(&header, &body).trim_end());
}

/// `objective_vs_<key>.png` per searched key: numbers on their axis (log for `log_uniform`),
/// other values at their position in the key's list. A plot that cannot be drawn is a warning.
fn write_plots(plan: &SweepPlan, rows: &[(usize, TrialStatus, Option<f64>)]) {
    for (key, dim) in &plan.spec.space {
        let position: BTreeMap<String, f64> = match dim {
            Dim::List(values) => values
                .iter()
                .enumerate()
                .map(|(i, v)| (v.to_string(), i as f64))
                .collect(),
            _ => BTreeMap::new(),
        };
        let numeric =
            !matches!(dim, Dim::List(v) if v.iter().any(|x| !(x.is_float() || x.is_integer())));
        let points: Vec<(f64, f64)> = rows
            .iter()
            .filter_map(|(i, _, objective)| {
                let value = plan.trials[*i].params.get(key)?;
                let x = if numeric {
                    value.parse().ok()?
                } else {
                    *position.get(value)?
                };
                Some((x, (*objective)?))
            })
            .collect();
        let file = plan.dir.join(format!(
            "objective_vs_{}.png",
            crate::observe::sanitize_key(key).replace('/', "_")
        ));
        let log_x = matches!(dim, Dim::LogUniform(..));
        match scatter_png(&points, log_x) {
            Ok(png) => {
                if let Err(e) = write_atomic(&file, &png) {
                    eprintln!("warning: {}: {e}", file.display());
                }
            }
            Err(e) => eprintln!("warning: {}: {e}", file.display()),
        }
    }
}
