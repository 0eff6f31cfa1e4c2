//! Range checks on a typed config; each failure names the key.

use super::Config;

/// Checks every value's range; returns the first failing `(key, expectation)`.
pub(super) fn validate(c: &Config) -> Result<(), (String, String)> {
    let fail = |key: &str, msg: String| Err((key.to_string(), msg));
    let name_ok = c
        .run
        .name
        .chars()
        .all(|ch| ch.is_ascii_alphanumeric() || "._-".contains(ch));
    if !name_ok || c.run.name.starts_with('.') {
        return fail(
            "run.name",
            format!(
                "expected letters, digits, '.', '_' or '-' (a directory name), got {:?}",
                c.run.name
            ),
        );
    }
    if c.run.output_dir.as_os_str().is_empty() {
        return fail(
            "run.output_dir",
            "expected a directory path, got an empty string".into(),
        );
    }
    if !(0.0..1.0).contains(&c.data.validation_fraction) {
        return fail(
            "data.validation_fraction",
            format!(
                "expected a number in [0, 1), got {}",
                c.data.validation_fraction
            ),
        );
    }
    if !(c.data.normalize_std > 0.0 && c.data.normalize_std.is_finite()) {
        return fail(
            "data.normalize_std",
            format!("expected a number > 0, got {}", c.data.normalize_std),
        );
    }
    if !c.data.normalize_mean.is_finite() {
        return fail(
            "data.normalize_mean",
            format!("expected a finite number, got {}", c.data.normalize_mean),
        );
    }
    if c.data.eval_batch_size == 0 {
        return fail(
            "data.eval_batch_size",
            "expected an integer >= 1, got 0".into(),
        );
    }
    if c.data.workers > 256 {
        return fail(
            "data.workers",
            format!(
                "expected 0 (one per two cores) to 256, got {}",
                c.data.workers
            ),
        );
    }
    if let Some((key, msg)) = data_and_model(c) {
        return fail(key, msg);
    }
    if c.model.mlp.hidden.is_empty() || c.model.mlp.hidden.contains(&0) {
        return fail(
            "model.mlp.hidden",
            format!(
                "expected a non-empty list of widths >= 1, got {:?}",
                c.model.mlp.hidden
            ),
        );
    }
    for (key, p) in [
        ("model.mlp.dropout", c.model.mlp.dropout),
        ("model.cnn.dropout_conv", c.model.cnn.dropout_conv),
        ("model.cnn.dropout_fc", c.model.cnn.dropout_fc),
        ("model.gpt.dropout", c.model.gpt.dropout),
    ] {
        if !(0.0..1.0).contains(&p) {
            return fail(key, format!("expected a probability in [0, 1), got {p}"));
        }
    }
    if c.model.cnn.channels.contains(&0) {
        return fail(
            "model.cnn.channels",
            format!(
                "expected two channel counts >= 1, got {:?}",
                c.model.cnn.channels
            ),
        );
    }
    if c.model.cnn.fc_hidden == 0 {
        return fail(
            "model.cnn.fc_hidden",
            "expected an integer >= 1, got 0".into(),
        );
    }
    let t = &c.train;
    if t.epochs == 0 {
        return fail("train.epochs", "expected an integer >= 1, got 0".into());
    }
    if t.batch_size == 0 {
        return fail("train.batch_size", "expected an integer >= 1, got 0".into());
    }
    if !(t.lr > 0.0 && t.lr.is_finite()) {
        return fail("train.lr", format!("expected a number > 0, got {}", t.lr));
    }
    if !(t.weight_decay >= 0.0 && t.weight_decay.is_finite()) {
        return fail(
            "train.weight_decay",
            format!("expected a number >= 0, got {}", t.weight_decay),
        );
    }
    if !(0.0..1.0).contains(&t.momentum) {
        return fail(
            "train.momentum",
            format!("expected a number in [0, 1), got {}", t.momentum),
        );
    }
    if t.log_every == 0 {
        return fail("train.log_every", "expected an integer >= 1, got 0".into());
    }
    if t.grad_accumulation_steps == 0 {
        return fail(
            "train.grad_accumulation_steps",
            "expected an integer >= 1 (1 = no accumulation), got 0".into(),
        );
    }
    if !(t.grad_clip_norm >= 0.0 && t.grad_clip_norm.is_finite()) {
        return fail(
            "train.grad_clip_norm",
            format!("expected a number >= 0 (0 = off), got {}", t.grad_clip_norm),
        );
    }
    let s = &t.schedule;
    if !(s.min_lr >= 0.0 && s.min_lr <= t.lr) {
        return fail(
            "train.schedule.min_lr",
            format!(
                "expected a number in [0, train.lr = {}], got {}",
                t.lr, s.min_lr
            ),
        );
    }
    if !(s.gamma > 0.0 && s.gamma <= 1.0) {
        return fail(
            "train.schedule.gamma",
            format!("expected a number in (0, 1], got {}", s.gamma),
        );
    }
    if s.step_every == 0 {
        return fail(
            "train.schedule.step_every",
            "expected an integer >= 1, got 0".into(),
        );
    }
    let tr = &c.tracking;
    if !(tr.drain_seconds >= 0.0 && tr.drain_seconds.is_finite()) {
        return fail(
            "tracking.drain_seconds",
            format!("expected a number >= 0, got {}", tr.drain_seconds),
        );
    }
    let uri = tr.mlflow_uri.trim();
    if !(uri.is_empty() || uri.starts_with("http://") || uri.starts_with("https://")) {
        return fail(
            "tracking.mlflow_uri",
            "expected an http:// or https:// URL".to_string(),
        );
    }
    let ck = &c.checkpoint;
    if ck.best_mode != ck.best_metric.natural_mode() {
        let (mode, metric) = (toml_name(&ck.best_mode), toml_name(&ck.best_metric));
        let want = toml_name(&ck.best_metric.natural_mode());
        return fail(
            "checkpoint.best_mode",
            format!(
                "expected \"{want}\" for best_metric = \"{metric}\" (\"{mode}\" would keep the worst checkpoint)"
            ),
        );
    }
    if c.checkpoint.keep_last == 0 {
        return fail(
            "checkpoint.keep_last",
            "expected an integer >= 1, got 0".into(),
        );
    }
    if !(c.checkpoint.every_seconds >= 0.0 && c.checkpoint.every_seconds.is_finite()) {
        return fail(
            "checkpoint.every_seconds",
            format!("expected a number >= 0, got {}", c.checkpoint.every_seconds),
        );
    }
    Ok(())
}

/// The data format, the model kind and the keys they need agree; `(key, expectation)` if not.
fn data_and_model(c: &Config) -> Option<(&'static str, String)> {
    use super::{DataFormat as F, ModelKind as K};
    let (d, m) = (&c.data, &c.model);
    let allowed: &[K] = match d.format {
        F::Idx | F::Cifar10 => &[K::Mlp, K::Cnn, K::Resnet],
        F::Text => &[K::Gpt],
        F::Csv => &[K::Mlp],
    };
    if !allowed.contains(&m.kind) {
        let names: Vec<String> = allowed
            .iter()
            .map(|k| format!("\"{}\"", k.name()))
            .collect();
        return Some((
            "model.kind",
            format!(
                "expected {} for data.format = \"{}\", got \"{}\"",
                names.join(" or "),
                d.format.name(),
                m.kind.name()
            ),
        ));
    }
    let file_based = matches!(d.format, F::Text | F::Csv);
    if file_based && d.file.as_os_str().is_empty() {
        return Some((
            "data.file",
            format!("expected the path of the {} file", d.format.name()),
        ));
    }
    if d.format == F::Csv && d.label.trim().is_empty() {
        return Some(("data.label", "expected the name of the label column".into()));
    }
    if let Some(f) = d.features.iter().find(|f| **f == d.label) {
        return Some((
            "data.features",
            format!("expected columns other than the label, got the label column `{f}`"),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(f) = d.features.iter().find(|f| !seen.insert(f.as_str())) {
        return Some((
            "data.features",
            format!("expected each column once, got `{f}` twice"),
        ));
    }
    if d.task == crate::data::TableTask::Regression {
        if d.format != F::Csv {
            return Some((
                "data.task",
                format!(
                    "expected \"classification\" for data.format = \"{}\" (regression reads a csv table)",
                    d.format.name()
                ),
            ));
        }
        if c.checkpoint.best_metric == super::BestMetric::ValidAccuracy {
            return Some((
                "checkpoint.best_metric",
                "expected \"valid_loss\" (with best_mode = \"min\") for data.task = \"regression\": a regression has no accuracy".into(),
            ));
        }
    }
    if !(0.0..1.0).contains(&(d.test_fraction + d.validation_fraction)) || d.test_fraction < 0.0 {
        return Some((
            "data.test_fraction",
            format!(
                "expected a number >= 0 with test_fraction + validation_fraction < 1, got {}",
                d.test_fraction
            ),
        ));
    }
    if m.kind == K::Resnet && (m.resnet.widths.contains(&0) || m.resnet.blocks == 0) {
        return Some((
            "model.resnet",
            format!(
                "expected widths >= 1 and blocks >= 1, got widths = {:?}, blocks = {}",
                m.resnet.widths, m.resnet.blocks
            ),
        ));
    }
    let g = &m.gpt;
    if m.kind == K::Gpt {
        for (key, v) in [
            ("model.gpt.layers", g.layers),
            ("model.gpt.heads", g.heads),
            ("model.gpt.block_size", g.block_size),
        ] {
            if v == 0 {
                return Some((key, "expected an integer >= 1, got 0".into()));
            }
        }
        if g.embedding == 0 || g.embedding % g.heads != 0 {
            return Some((
                "model.gpt.embedding",
                format!(
                    "expected a positive multiple of model.gpt.heads = {}, got {}",
                    g.heads, g.embedding
                ),
            ));
        }
    }
    None
}

/// How a unit enum value is spelled in TOML (`valid_loss`).
pub fn toml_name<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best_mode_against_the_metric_is_rejected() {
        let mut c = Config::default();
        c.checkpoint.best_metric = crate::config::BestMetric::ValidLoss;
        let (key, msg) = validate(&c).unwrap_err();
        assert_eq!(key, "checkpoint.best_mode");
        assert!(msg.contains("expected \"min\""), "{msg}");
        c.checkpoint.best_mode = crate::config::BestMode::Min;
        assert!(validate(&c).is_ok());
    }

    #[test]
    fn defaults_are_valid() {
        assert!(validate(&Config::default()).is_ok());
    }

    #[test]
    fn zero_batch_size_names_the_key() {
        let mut c = Config::default();
        c.train.batch_size = 0;
        assert_eq!(validate(&c).unwrap_err().0, "train.batch_size");
    }
}
