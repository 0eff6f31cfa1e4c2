//! May a run resume under a (possibly edited) config? Only keys that do not change the model,
//! the data or the optimization path may differ.

use crate::config::{Config, flatten_value};
use std::collections::BTreeMap;

/// Keys (or key prefixes ending in '.') that may change between a checkpoint and its resume.
const SAFE_KEYS: &[&str] = &[
    "run.name",
    "run.output_dir",
    "run.backend",
    "run.device",
    "run.step_timeout_seconds",
    "data.dir",
    "data.file",
    "data.eval_batch_size",
    "train.epochs",
    "train.early_stopping_patience",
    "train.divergence_factor",
    "train.log_every",
    "checkpoint.",
    "tracking.",
];

/// The differing keys that forbid resuming, as `key: checkpoint X, now Y`.
pub fn incompatible_keys(saved: &Config, now: &Config) -> Vec<String> {
    let (a, b) = (flatten(saved), flatten(now));
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|k| {
            !SAFE_KEYS.iter().any(|s| {
                if s.ends_with('.') {
                    k.starts_with(s)
                } else {
                    k.as_str() == *s
                }
            })
        })
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| {
            let show = |v: Option<&String>| v.cloned().unwrap_or_else(|| "(unset)".into());
            format!("{k}: checkpoint {}, now {}", show(a.get(k)), show(b.get(k)))
        })
        .collect()
}

/// `cfg` as `dotted.key -> value` (strings unquoted, as in `config.toml` listings).
fn flatten(cfg: &Config) -> BTreeMap<String, String> {
    toml::Value::try_from(cfg)
        .map(|value| flatten_value(&value).into_iter().collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_keys_may_change() {
        let a = Config::default();
        let mut b = a.clone();
        b.train.epochs = 99;
        b.checkpoint.every_steps = 5;
        b.run.backend = crate::config::BackendRequest::Wgpu;
        assert!(incompatible_keys(&a, &b).is_empty());
    }

    #[test]
    fn architecture_and_data_changes_are_listed() {
        let a = Config::default();
        let mut b = a.clone();
        b.model.mlp.hidden = vec![16];
        b.train.lr = 0.5;
        let diff = incompatible_keys(&a, &b);
        assert_eq!(diff.len(), 2, "{diff:?}");
        assert!(
            diff[0].starts_with("model.mlp.hidden: checkpoint [512, 512], now [16]"),
            "{diff:?}"
        );
        assert!(diff[1].starts_with("train.lr: "), "{diff:?}");
    }
}
