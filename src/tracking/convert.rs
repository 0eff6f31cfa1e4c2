//! Pure translation from journal lines and configs to MLflow entities, within MLflow's limits.

use crate::observe::JournalLine;
use crate::train::Event;
use serde_json::{Value, json};

/// Most metrics in one `runs/log-batch` request.
pub const MAX_METRICS_PER_BATCH: usize = 1000;
/// Most params in one request.
pub const MAX_PARAMS_PER_BATCH: usize = 100;
/// Longest key MLflow accepts.
pub const MAX_KEY_LEN: usize = 250;
/// Longest param value MLflow accepts.
pub const MAX_PARAM_VALUE_LEN: usize = 6000;

/// One metric point.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Metric name.
    pub key: String,
    /// Value (NaN/Inf allowed; sent as MLflow's strings).
    pub value: f64,
    /// Milliseconds since the epoch (the journal line's `ts_ms`).
    pub timestamp: i64,
    /// Global step.
    pub step: i64,
}

impl Point {
    /// The MLflow JSON form.
    pub fn to_json(&self) -> Value {
        json!({
            "key": self.key,
            "value": metric_value(self.value),
            "timestamp": self.timestamp,
            "step": self.step,
        })
    }
}

/// Finite values as numbers; NaN and infinities as the strings MLflow's JSON parser accepts.
pub fn metric_value(v: f64) -> Value {
    if v.is_nan() {
        json!("NaN")
    } else if v == f64::INFINITY {
        json!("Infinity")
    } else if v == f64::NEG_INFINITY {
        json!("-Infinity")
    } else {
        json!(v)
    }
}

/// A key MLflow accepts: `[/\w.\- :]`, at most 250 characters; anything else becomes `_`.
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

/// A resolved config flattened to `section.key = value` params, keys sanitized and values
/// clipped to MLflow's limits.
pub fn params_of(config_toml: &str) -> Vec<(String, String)> {
    crate::config::flatten_toml(config_toml)
        .into_iter()
        .map(|(k, v)| {
            (
                sanitize_key(&k),
                v.chars().take(MAX_PARAM_VALUE_LEN).collect(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn non_finite_values_use_mlflow_strings() {
        assert_eq!(metric_value(f64::NAN), json!("NaN"));
        assert_eq!(metric_value(f64::NEG_INFINITY), json!("-Infinity"));
        assert_eq!(metric_value(1.5), json!(1.5));
        let mut last = 3;
        let step = json!({"event":"step","global_step":4,"loss":null,"lr":0.1,
                          "samples_per_sec":1.0,"ts_ms":1});
        assert!(metrics_of(&line(step), &mut last)[0].value.is_nan());
    }

    #[test]
    fn keys_are_sanitized_and_params_flattened() {
        assert_eq!(sanitize_key("a$b/c d"), "a_b/c d");
        assert_eq!(sanitize_key(&"k".repeat(300)).len(), 250);
        let p = params_of("[train]\nlr = 0.1\n[model.mlp]\nhidden = [1, 2]\n");
        assert!(p.contains(&("train.lr".into(), "0.1".into())));
        assert!(p.contains(&("model.mlp.hidden".into(), "[1, 2]".into())));
    }
}
