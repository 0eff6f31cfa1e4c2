//! The metric points a run's journal lines carry (what trackers and run reports read): names
//! in the tracker-safe alphabet, each at the global step it happened after.

use super::JournalLine;
use crate::train::Event;

/// Longest metric key trackers accept (MLflow's limit).
pub const MAX_KEY_LEN: usize = 250;

/// One metric point.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Metric name.
    pub key: String,
    /// Value (NaN/Inf allowed).
    pub value: f64,
    /// Milliseconds since the epoch (the journal line's `ts_ms`).
    pub timestamp: i64,
    /// Global step.
    pub step: i64,
}

/// A key trackers accept (MLflow's rule): `[/\w.\- :]`, at most 250 characters; anything else becomes `_`.
pub fn sanitize_key(key: &str) -> String {
    key.chars()
        .map(|c| {
            if c.is_alphanumeric() || "_/.- :".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(MAX_KEY_LEN)
        .collect()
}

/// The metric points of one journal line; `last_step` carries the global step between lines
/// (epoch and evaluation events are logged at the step they happened after).
pub fn metrics_of(line: &JournalLine, last_step: &mut i64) -> Vec<Point> {
    if let Event::SystemMetrics { sample, values } = &line.event {
        // MLflow's names and steps: `system/<name>`, one step per sample.
        return values
            .iter()
            .map(|(name, value)| Point {
                key: sanitize_key(&format!("system/{name}")),
                value: *value,
                timestamp: line.ts_ms,
                step: *sample as i64,
            })
            .collect();
    }
    let values: Vec<(String, f64)> = match &line.event {
        Event::Step {
            global_step,
            loss,
            lr,
            samples_per_sec,
            ..
        } => {
            *last_step = *global_step as i64;
            vec![
                ("train_loss".into(), *loss),
                ("lr".into(), *lr),
                ("samples_per_sec".into(), *samples_per_sec),
            ]
        }
        Event::SamplesSkipped { total, .. } => vec![("skipped_samples".into(), *total as f64)],
        Event::CheckpointSaved { global_step, .. } => {
            *last_step = *global_step as i64;
            Vec::new()
        }
        Event::EpochEnded {
            epoch,
            train_loss,
            seconds,
            ..
        } => vec![
            ("epoch_train_loss".into(), *train_loss),
            ("epoch_seconds".into(), *seconds),
            ("epoch".into(), *epoch as f64 + 1.0), // epochs completed
        ],
        // Each task's metrics: only those the evaluation has.
        Event::Evaluated { split, result, .. } => {
            let split = crate::config::toml_name(split);
            result
                .metrics()
                .into_iter()
                .map(|(m, v)| (format!("{split}_{m}"), v))
                .collect()
        }
        Event::TrialEnded {
            trial, objective, ..
        } => {
            *last_step = *trial as i64;
            objective
                .map(|o| vec![("trial_objective".to_string(), o)])
                .unwrap_or_default()
        }
        Event::SweepBest { objective, .. } => vec![("best_objective".into(), *objective)],
        Event::RunStarted { .. }
        | Event::EpochStarted { .. }
        | Event::RunEnded { .. }
        | Event::DataUsed { .. }
        | Event::SystemMetrics { .. }
        | Event::SweepStarted { .. } => Vec::new(),
    };
    values
        .into_iter()
        .map(|(key, value)| Point {
            key: sanitize_key(&key),
            value,
            timestamp: line.ts_ms,
            step: *last_step,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn line(v: Value) -> JournalLine {
        serde_json::from_value(v).expect("a journal line")
    }

    #[test]
    fn step_lines_become_points_at_their_global_step() {
        let mut last = 0;
        let step = json!({"event":"step","global_step":20,"loss":0.5,"lr":0.001,
                          "samples_per_sec":100.0,"ts_ms":7});
        let p = metrics_of(&line(step), &mut last);
        assert_eq!(last, 20);
        assert_eq!(p.len(), 3);
        assert_eq!(
            p[0],
            Point {
                key: "train_loss".into(),
                value: 0.5,
                timestamp: 7,
                step: 20
            }
        );
        let eval = json!({"event":"evaluated","split":"valid","loss":0.3,"accuracy":0.9,"ts_ms":8});
        let p = metrics_of(&line(eval), &mut last);
        assert_eq!(p[1].key, "valid_accuracy");
        assert_eq!(p[1].step, 20);
        // A regression evaluation logs its own metrics, and only those.
        let eval = json!({"event":"evaluated","split":"test","loss":0.2,"rmse":1.5,"mae":1.0,
                          "r2":0.8,"samples":10,"ts_ms":9});
        let keys: Vec<String> = metrics_of(&line(eval), &mut last)
            .into_iter()
            .map(|p| p.key)
            .collect();
        assert_eq!(keys, ["test_loss", "test_rmse", "test_mae", "test_r2"]);
    }

    #[test]
    fn keys_are_sanitized() {
        assert_eq!(sanitize_key("a$b/c d"), "a_b/c d");
        assert_eq!(sanitize_key(&"k".repeat(300)).len(), 250);
    }
}
