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
    let flat = trainer_core::config::flatten_toml(config_toml);
    let value = |key: &str| {
        flat.iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.trim_matches('"').to_string())
    };
    let (format, kind) = (value("data.format"), value("model.kind"));
    flat.iter()
        .filter(|(k, _)| applies(k, format.as_deref(), kind.as_deref()))
        .map(|(k, v)| {
            (
                sanitize_key(k),
                v.chars().take(MAX_PARAM_VALUE_LEN).collect(),
            )
        })
        .collect()
}

/// Whether a flattened config key is about this run: every key but the sub-tables of the
/// other model kinds and the `data.*` keys only other formats read (a key not listed here,
/// or a config without a format or kind, is kept).
fn applies(key: &str, format: Option<&str>, kind: Option<&str>) -> bool {
    if let (Some(rest), Some(kind)) = (key.strip_prefix("model."), kind) {
        return rest.split_once('.').is_none_or(|(k, _)| k == kind);
    }
    let (Some(field), Some(format)) = (key.strip_prefix("data."), format) else {
        return true;
    };
    let only: &[&str] = match field.split('.').next().unwrap_or(field) {
        "dir" => &["idx", "cifar10", "image-folder", "tokens"],
        "file" => &["text", "csv", "parquet"],
        "validation_fraction" => &["idx", "cifar10", "image-folder", "text", "csv", "parquet"],
        "test_fraction" => &["image-folder", "text", "csv", "parquet"],
        "normalize_mean" | "normalize_std" => &["idx", "cifar10", "image-folder"],
        "label" | "task" | "features" => &["csv", "parquet"],
        "stride" => &["text", "tokens"],
        "image_size" | "channels" | "mean" | "std" | "bad_samples" | "augment" => &["image-folder"],
        _ => return true,
    };
    only.contains(&format)
}

#[cfg(test)]
mod tests {
    use super::*;
    use trainer_core::observe::{JournalLine, metrics_of};

    fn line(v: Value) -> JournalLine {
        serde_json::from_value(v).expect("a journal line")
    }

    #[test]
    fn params_leave_out_other_models_and_other_formats_keys() {
        let text = "[data]\nformat = \"idx\"\ndir = \"d\"\nfile = \"\"\nimage_size = [0, 0]\n\
                    workers = 2\n[data.augment]\nhorizontal_flip = false\n[model]\nkind = \"mlp\"\n\
                    [model.mlp]\nhidden = [8]\n[model.gpt]\nlayers = 4\n[train]\nlr = 0.1\n";
        let keys: Vec<String> = params_of(text).into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            [
                "data.dir",
                "data.format",
                "data.workers",
                "model.kind",
                "model.mlp.hidden",
                "train.lr"
            ],
            "{keys:?}"
        );
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
