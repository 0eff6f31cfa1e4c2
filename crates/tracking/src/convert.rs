//! Pure translation from journal lines and configs to MLflow entities, within MLflow's limits.

use serde_json::{Value, json};
use trainer_core::observe::{Point, sanitize_key};

/// Most metrics in one `runs/log-batch` request.
pub const MAX_METRICS_PER_BATCH: usize = 1000;
/// Most params in one request.
pub const MAX_PARAMS_PER_BATCH: usize = 100;
/// Longest param value MLflow accepts.
pub const MAX_PARAM_VALUE_LEN: usize = 6000;

/// A metric point's MLflow JSON form.
pub fn point_json(p: &Point) -> Value {
    json!({
        "key": p.key,
        "value": metric_value(p.value),
        "timestamp": p.timestamp,
        "step": p.step,
    })
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

/// A resolved config flattened to `section.key = value` params, keys sanitized and values
/// clipped to MLflow's limits.
pub fn params_of(config_toml: &str) -> Vec<(String, String)> {
    trainer_core::config::flatten_toml(config_toml)
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
    use trainer_core::observe::{JournalLine, metrics_of};

    fn line(v: Value) -> JournalLine {
        serde_json::from_value(v).expect("a journal line")
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
    fn params_are_flattened() {
        let p = params_of("[train]\nlr = 0.1\n[model.mlp]\nhidden = [1, 2]\n");
        assert!(p.contains(&("train.lr".into(), "0.1".into())));
        assert!(p.contains(&("model.mlp.hidden".into(), "[1, 2]".into())));
    }
}
