//! Reading a config: file -> TOML table -> `--set` overrides -> typed `Config` -> validation.

use super::{Config, ConfigError, validate::validate};
use std::path::Path;

/// One `--set key=value` override.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// Dotted key path, e.g. `train.lr`.
    pub key: String,
    /// The value, parsed as TOML when possible, else taken as a string.
    pub value: toml::Value,
    /// Where it came from, as the user wrote it (`--set train.lr=0.1`, `--run-name x`).
    pub origin: String,
}

impl Override {
    /// An override from a dedicated flag such as `--run-name NAME`.
    pub fn flag(flag: &str, key: &str, value: toml::Value) -> Self {
        let shown = value
            .as_str()
            .map_or_else(|| value.to_string(), str::to_string);
        Override {
            key: key.to_string(),
            value,
            origin: format!("{flag} {shown}"),
        }
    }
}

impl std::str::FromStr for Override {
    type Err = ConfigError;

    fn from_str(arg: &str) -> Result<Self, Self::Err> {
        let bad = |message: &str| ConfigError::BadOverride {
            arg: format!("--set {arg}"),
            message: message.to_string(),
        };
        let (key, value) = arg
            .split_once('=')
            .ok_or_else(|| bad("expected KEY=VALUE, e.g. train.lr=0.01"))?;
        let key = key.trim();
        let key_ok = !key.is_empty()
            && key.split('.').all(|part| {
                !part.is_empty()
                    && part
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            });
        if !key_ok {
            return Err(bad("expected a dotted key such as train.lr before '='"));
        }
        Ok(Override {
            key: key.to_string(),
            value: parse_value(value.trim()),
            origin: format!("--set {arg}"),
        })
    }
}

/// Parses an override value as a TOML value (`0.01`, `true`, `[64, 32]`, `"x"`), or a bare string.
fn parse_value(text: &str) -> toml::Value {
    let doc = format!("v = {text}");
    match toml::from_str::<toml::Table>(&doc) {
        Ok(mut table) => table
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(text.to_string())),
        Err(_) => toml::Value::String(text.to_string()),
    }
}

/// Loads and validates a config: defaults, then `path` (if any), then `overrides`.
pub fn load(path: Option<&Path>, overrides: &[Override]) -> Result<Config, ConfigError> {
    let origin = path.map_or_else(
        || "built-in defaults".to_string(),
        |p| p.display().to_string(),
    );
    let mut table = match path {
        Some(p) => parse_file(p)?,
        None => toml::Table::new(),
    };
    for o in overrides {
        apply_override(&mut table, o)?;
    }
    let chosen = |key: &str| has_key(&table, key);
    let (metric_set, mode_set) = (
        chosen("checkpoint.best_metric"),
        chosen("checkpoint.best_mode"),
    );
    let mut config: Config =
        serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
            let key = e.path().to_string();
            let inner = e.inner().to_string();
            let message = with_suggestion(inner.lines().next().unwrap_or_default().trim());
            let key = unknown_key_path(&key, &message);
            ConfigError::Key {
                origin: origin_of(&key, &origin, overrides),
                key,
                message,
            }
        })?;
    follow_the_task(&mut config, metric_set, mode_set);
    validate(&config).map_err(|(key, message)| {
        let key = blamed_key(&key, overrides);
        ConfigError::Key {
            origin: origin_of(&key, &origin, overrides),
            key,
            message,
        }
    })?;
    Ok(config)
}

fn parse_file(path: &Path) -> Result<toml::Table, ConfigError> {
    let bytes = crate::fsutil::read_settings_file(path).map_err(|cause| ConfigError::Read {
        path: path.to_path_buf(),
        cause,
    })?;
    let text = String::from_utf8(bytes).map_err(|e| ConfigError::Syntax {
        origin: path.display().to_string(),
        line: 1,
        column: 1,
        message: format!(
            "file is not UTF-8 (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ),
    })?;
    toml::from_str::<toml::Table>(&text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        let before = &text[..offset.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        ConfigError::Syntax {
            origin: path.display().to_string(),
            line,
            column,
            message: e.message().trim().replace('\n', " "),
        }
    })
}

fn apply_override(table: &mut toml::Table, o: &Override) -> Result<(), ConfigError> {
    let parts: Vec<&str> = o.key.split('.').collect();
    let (last, parents) = parts.split_last().ok_or_else(|| ConfigError::BadOverride {
        arg: o.origin.clone(),
        message: "empty key".into(),
    })?;
    let mut current = table;
    for (i, part) in parents.iter().enumerate() {
        let entry = current
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = entry
            .as_table_mut()
            .ok_or_else(|| ConfigError::BadOverride {
                arg: o.origin.clone(),
                message: format!("`{}` is a value, not a table", parts[..=i].join(".")),
            })?;
    }
    current.insert(last.to_string(), o.value.clone());
    Ok(())
}

/// Where the value at `key` came from: the `--set` that wrote it (last wins), else the file.
/// Defaults that depend on the task, where the user left them unset: a regression (no
/// accuracy) keeps its best checkpoint by the validation loss, minimized.
fn follow_the_task(cfg: &mut Config, metric_set: bool, mode_set: bool) {
    if cfg.data.is_regression() && !metric_set {
        cfg.checkpoint.best_metric = super::BestMetric::ValidLoss;
        if !mode_set {
            cfg.checkpoint.best_mode = super::BestMode::Min;
        }
    }
}

/// Whether the dotted `key` (`a.b.c`) is present in `table`.
fn has_key(table: &toml::Table, key: &str) -> bool {
    let mut parts = key.split('.').peekable();
    let mut t = table;
    while let Some(part) = parts.next() {
        match (t.get(part), parts.peek()) {
            (Some(_), None) => return true,
            (Some(toml::Value::Table(inner)), Some(_)) => t = inner,
            _ => return false,
        }
    }
    false
}

/// A check on several keys names them `a|b`: the one an override set last, else the first.
fn blamed_key(keys: &str, overrides: &[Override]) -> String {
    let candidates: Vec<&str> = keys.split('|').collect();
    overrides
        .iter()
        .rev()
        .find_map(|o| candidates.iter().find(|k| **k == o.key))
        .unwrap_or(&candidates[0])
        .to_string()
}

fn origin_of(key: &str, file_origin: &str, overrides: &[Override]) -> String {
    overrides
        .iter()
        .rev()
        .find(|o| {
            // `key` may reach inside the override's value: `a.b.c`, or an item `a.b[1]`.
            let inside = |outer: &str, inner: &str| {
                inner
                    .strip_prefix(outer)
                    .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
            };
            key == o.key || inside(&o.key, key) || inside(key, &o.key)
        })
        .map_or_else(|| file_origin.to_string(), |o| o.origin.clone())
}

/// For "unknown field `x`" errors the reported path stops at the parent table: append `x`.
fn unknown_key_path(path: &str, message: &str) -> String {
    let Some(rest) = message.strip_prefix("unknown field `") else {
        return path.to_string();
    };
    let Some(field) = rest.split('`').next() else {
        return path.to_string();
    };
    if path == "." || path.is_empty() {
        field.to_string()
    } else if path.ends_with(field) {
        path.to_string()
    } else {
        format!("{path}.{field}")
    }
}

/// Rewrites serde's "unknown field/variant `x`, expected one of `a`, `b`" into a shorter
/// message with a "did you mean" when one of the expected names is close.
fn with_suggestion(message: &str) -> String {
    let kind = if message.starts_with("unknown field") {
        "unknown key"
    } else if message.starts_with("unknown variant") {
        "unknown value"
    } else {
        return message.to_string();
    };
    let mut ticks = message.split('`').skip(1).step_by(2);
    let Some(given) = ticks.next() else {
        return message.to_string();
    };
    let expected: Vec<&str> = ticks.collect();
    let best = expected
        .iter()
        .map(|cand| (strsim::jaro_winkler(given, cand), *cand))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    let list = expected.join(", ");
    match best {
        Some((_, cand)) => {
            format!("{kind} `{given}` (did you mean `{cand}`?); expected one of: {list}")
        }
        None => format!("{kind} `{given}`; expected one of: {list}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(sets: &[&str]) -> Result<Config, ConfigError> {
        let overrides: Vec<Override> = sets.iter().map(|s| s.parse().unwrap()).collect();
        load(None, &overrides)
    }

    #[test]
    fn a_regression_keeps_its_best_checkpoint_by_validation_loss_unless_told() {
        let regression = [
            "data.format=\"csv\"",
            "data.task=\"regression\"",
            "data.file=\"x.csv\"",
            "data.label=\"y\"",
        ];
        let cfg = with(&regression).expect("a regression needs no checkpoint keys");
        assert_eq!(
            cfg.checkpoint.best_metric,
            super::super::BestMetric::ValidLoss
        );
        assert_eq!(cfg.checkpoint.best_mode, super::super::BestMode::Min);
        // Said explicitly, accuracy is still refused for a regression.
        let mut told = regression.to_vec();
        told.push("checkpoint.best_metric=\"valid_accuracy\"");
        let e = with(&told).unwrap_err().to_string();
        assert!(e.contains("checkpoint.best_metric"), "{e}");
    }

    #[test]
    fn the_sum_of_the_fractions_blames_the_key_that_was_set() {
        let e = with(&["data.validation_fraction=0.95"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("data.validation_fraction"), "{e}");
        assert!(e.contains("--set data.validation_fraction=0.95"), "{e}");
    }

    #[test]
    fn suggestion_picks_the_near_miss() {
        let m =
            with_suggestion("unknown field `lrr`, expected one of `epochs`, `lr`, `batch_size`");
        assert!(m.contains("did you mean `lr`?"), "{m}");
    }

    #[test]
    fn no_suggestion_when_nothing_is_close() {
        let m = with_suggestion("unknown field `zzzz`, expected one of `epochs`, `lr`");
        assert!(!m.contains("did you mean"), "{m}");
        assert!(m.contains("expected one of: epochs, lr"), "{m}");
    }

    #[test]
    fn override_values_parse_as_toml_or_string() {
        let o: Override = "train.lr=0.5".parse().unwrap();
        assert_eq!(o.value, toml::Value::Float(0.5));
        let o: Override = "model.mlp.hidden=[64, 32]".parse().unwrap();
        assert!(o.value.is_array());
        let o: Override = "run.name=my-run".parse().unwrap();
        assert_eq!(o.value, toml::Value::String("my-run".into()));
    }

    #[test]
    fn bad_override_shapes_are_rejected() {
        assert!("train.lr".parse::<Override>().is_err());
        assert!("=3".parse::<Override>().is_err());
        assert!("train..lr=3".parse::<Override>().is_err());
    }

    #[test]
    fn override_wins_over_defaults() {
        let cfg = load(None, &["train.lr=0.05".parse().unwrap()]).unwrap();
        assert_eq!(cfg.train.lr, 0.05);
    }
}
