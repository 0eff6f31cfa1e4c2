//! A sweep's results: its trials ranked by the objective, `best.toml` (the best trial's
//! resolved config), one PNG of the objective against each searched key, and the best trial
//! in the sweep's journal (and so on its MLflow run).

use super::SweepPlan;
use super::trials::{describe, status_of};
use crate::commands::Failure;
use crate::commands::final_artifacts::write_chart;
use crate::commands::runs::render;
use crate::fsutil::write_atomic;
use crate::run::RunLayout;
use crate::sweep::TrialStatus;
use crate::sweep::{Dim, SweepSpec, SweepState};
use crate::task::{Task, eval_metrics, is_regression};
use anyhow::anyhow;
use trainer_core::config::Config;
use trainer_core::train::Event;
use trainer_plots::{Chart, Color, Mark, Scale, Series};

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
/// other values at their position in the key's list, the best finished trial in green.
/// `rows` come best first. A plot that cannot be drawn is a warning.
fn write_plots(plan: &SweepPlan, rows: &[(usize, TrialStatus, Option<f64>)]) {
    let objective = &plan.spec.objective;
    let best = rows
        .iter()
        .find(|(_, s, o)| *s == TrialStatus::Finished && o.is_some())
        .map(|r| r.0);
    for (key, dim) in &plan.spec.space {
        let categories: Vec<String> = match dim {
            Dim::List(values) if values.iter().any(|x| !(x.is_float() || x.is_integer())) => {
                values.iter().map(|v| v.to_string()).collect()
            }
            _ => Vec::new(),
        };
        let (mut trials, mut best_point) = (Vec::new(), Vec::new());
        for (i, _, value) in rows {
            let (Some(param), Some(value)) = (plan.trials[*i].params.get(key), value) else {
                continue;
            };
            let x = if categories.is_empty() {
                param.parse().ok()
            } else {
                categories.iter().position(|c| c == param).map(|p| p as f64)
            };
            let Some(x) = x else { continue };
            if Some(*i) == best {
                best_point.push((x, *value));
            } else {
                trials.push((x, *value));
            }
        }
        let mut series = vec![Series {
            label: "trial".into(),
            points: trials,
            color: Color::Blue,
            mark: Mark::Dots,
        }];
        if let Some(i) = best.filter(|_| !best_point.is_empty()) {
            series.push(Series {
                label: format!("best ({})", plan.trials[i].name),
                points: best_point,
                color: Color::Green,
                mark: Mark::Dots,
            });
        }
        let chart = Chart {
            title: format!("{objective} by {key} ({} trials)", plan.trials.len()),
            x_label: key.clone(),
            y_label: objective.clone(),
            x_scale: if matches!(dim, Dim::LogUniform(..)) {
                Scale::Log10
            } else {
                Scale::Linear
            },
            y_scale: Scale::Linear,
            x_categories: categories,
            series,
            markers: Vec::new(),
        };
        let file = plan.dir.join(format!(
            "objective_vs_{}.png",
            crate::observe::sanitize_key(key).replace('/', "_")
        ));
        write_chart(&chart, &file);
    }
}
