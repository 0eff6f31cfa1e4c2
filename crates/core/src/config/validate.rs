//! Range checks on a typed config; each failure names the key.

use super::Config;

/// A failed check: the key and what was expected.
type Check = Result<(), (String, String)>;

fn fail(key: &str, msg: String) -> Check {
    Err((key.to_string(), msg))
}

/// `value` must be at least 1.
fn at_least_one(key: &str, value: usize) -> Check {
    if value == 0 {
        return fail(key, "expected an integer >= 1, got 0".into());
    }
    Ok(())
}

/// Checks every value's range; returns the first failing `(key, expectation)`.
pub(super) fn validate(c: &Config) -> Check {
    run(c)?;
    data(c)?;
    data_and_model(c)?;
    image_folder(c)?;
    splits_and_task(c)?;
    architecture(c)?;
    model(c)?;
    train(c)?;
    schedule(c)?;
    tracking(c)?;
    checkpoint(c)
}

fn run(c: &Config) -> Check {
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
    let t = c.run.step_timeout_seconds;
    if !(t >= 0.0 && t.is_finite()) {
        return fail(
            "run.step_timeout_seconds",
            format!("expected a number of seconds >= 0 (0 = no limit), got {t}"),
        );
    }
    devices(c)?;
    precision(c)
}

/// `run.devices`: distinct indices, not mixed with `run.device`, several only where the
/// backend can have several.
fn devices(c: &Config) -> Check {
    use super::{BackendRequest, DeviceList};
    let r = &c.run;
    if let DeviceList::Listed(list) = &r.devices
        && let Some(d) = list
            .iter()
            .enumerate()
            .find_map(|(i, d)| list[..i].contains(d).then_some(d))
    {
        return fail(
            "run.devices",
            format!("device {d} is listed twice in {list:?}"),
        );
    }
    if r.devices.is_set() && r.device != 0 {
        return fail(
            "run.devices",
            format!(
                "set either run.devices or run.device (= {}), not both: list the device in run.devices",
                r.device
            ),
        );
    }
    let several = match &r.devices {
        DeviceList::Unset => false,
        DeviceList::Listed(list) => list.len() > 1,
        DeviceList::All => true,
    };
    if several && !matches!(r.backend, BackendRequest::Cuda | BackendRequest::Auto) {
        return fail(
            "run.devices",
            format!(
                "data parallel over several devices runs on cuda; run.backend = \"{}\" trains on one device (set run.backend = \"cuda\", or use run.device)",
                toml_name(&r.backend)
            ),
        );
    }
    Ok(())
}

/// `run.precision`: bf16/f16 need a backend with those types and a model without batch norm.
fn precision(c: &Config) -> Check {
    use super::{BackendRequest, ModelKind, Precision};
    let p = c.run.precision;
    if p == Precision::F32 {
        return Ok(());
    }
    if c.run.backend == BackendRequest::Ndarray {
        return fail(
            "run.precision",
            format!(
                "ndarray computes in f32 only; {} needs run.backend = \"cuda\", \"wgpu\" or \"flex\"",
                p.name()
            ),
        );
    }
    if c.model.kind == ModelKind::Resnet {
        return fail(
            "run.precision",
            format!(
                "{} is not supported for model.kind = \"resnet\" (its batch-norm running statistics are kept in f32 and shared with the f32 weights); use \"f32\"",
                p.name()
            ),
        );
    }
    Ok(())
}

fn data(c: &Config) -> Check {
    let d = &c.data;
    if !(0.0..1.0).contains(&d.validation_fraction) {
        return fail(
            "data.validation_fraction",
            format!("expected a number in [0, 1), got {}", d.validation_fraction),
        );
    }
    if !(d.normalize_std > 0.0 && d.normalize_std.is_finite()) {
        return fail(
            "data.normalize_std",
            format!("expected a number > 0, got {}", d.normalize_std),
        );
    }
    if !d.normalize_mean.is_finite() {
        return fail(
            "data.normalize_mean",
            format!("expected a finite number, got {}", d.normalize_mean),
        );
    }
    at_least_one("data.eval_batch_size", d.eval_batch_size)?;
    if d.workers > 256 {
        return fail(
            "data.workers",
            format!("expected 0 (one per two cores) to 256, got {}", d.workers),
        );
    }
    if d.prefetch > MAX_PREFETCH {
        return fail(
            "data.prefetch",
            format!(
                "expected 0 (twice the workers) to {MAX_PREFETCH} batches, got {}",
                d.prefetch
            ),
        );
    }
    Ok(())
}

/// The most batches the loader may hold ready (the loader's memory is bounded by it).
const MAX_PREFETCH: usize = 1024;

fn model(c: &Config) -> Check {
    let m = &c.model;
    if m.mlp.hidden.is_empty() || m.mlp.hidden.contains(&0) {
        return fail(
            "model.mlp.hidden",
            format!(
                "expected a non-empty list of widths >= 1, got {:?}",
                m.mlp.hidden
            ),
        );
    }
    for (key, p) in [
        ("model.mlp.dropout", m.mlp.dropout),
        ("model.cnn.dropout_conv", m.cnn.dropout_conv),
        ("model.cnn.dropout_fc", m.cnn.dropout_fc),
        ("model.gpt.dropout", m.gpt.dropout),
    ] {
        if !(0.0..1.0).contains(&p) {
            return fail(key, format!("expected a probability in [0, 1), got {p}"));
        }
    }
    if m.cnn.channels.contains(&0) {
        return fail(
            "model.cnn.channels",
            format!("expected two channel counts >= 1, got {:?}", m.cnn.channels),
        );
    }
    at_least_one("model.cnn.fc_hidden", m.cnn.fc_hidden)
}

fn train(c: &Config) -> Check {
    let t = &c.train;
    at_least_one("train.epochs", t.epochs)?;
    at_least_one("train.batch_size", t.batch_size)?;
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
    at_least_one("train.log_every", t.log_every)?;
    if t.grad_accumulation_steps == 0 {
        return fail(
            "train.grad_accumulation_steps",
            "expected an integer >= 1 (1 = no accumulation), got 0".into(),
        );
    }
    let f = t.divergence_factor;
    if !(f == 0.0 || (f > 1.0 && f.is_finite())) {
        return fail(
            "train.divergence_factor",
            format!("expected 0 (off) or a number > 1, got {f}"),
        );
    }
    if !(t.grad_clip_norm >= 0.0 && t.grad_clip_norm.is_finite()) {
        return fail(
            "train.grad_clip_norm",
            format!("expected a number >= 0 (0 = off), got {}", t.grad_clip_norm),
        );
    }
    Ok(())
}

fn schedule(c: &Config) -> Check {
    let (lr, s) = (c.train.lr, &c.train.schedule);
    if !(s.min_lr >= 0.0 && s.min_lr <= lr) {
        return fail(
            "train.schedule.min_lr",
            format!(
                "expected a number in [0, train.lr = {lr}], got {}",
                s.min_lr
            ),
        );
    }
    if !(s.gamma > 0.0 && s.gamma <= 1.0) {
        return fail(
            "train.schedule.gamma",
            format!("expected a number in (0, 1], got {}", s.gamma),
        );
    }
    at_least_one("train.schedule.step_every", s.step_every)
}

fn tracking(c: &Config) -> Check {
    let tr = &c.tracking;
    if !(tr.drain_seconds >= 0.0 && tr.drain_seconds.is_finite()) {
        return fail(
            "tracking.drain_seconds",
            format!("expected a number >= 0, got {}", tr.drain_seconds),
        );
    }
    if !(tr.system_metrics_every >= 0.0 && tr.system_metrics_every.is_finite()) {
        return fail(
            "tracking.system_metrics_every",
            format!(
                "expected seconds >= 0 (0 turns system metrics off), got {}",
                tr.system_metrics_every
            ),
        );
    }
    let uri = tr.mlflow_uri.trim();
    if !(uri.is_empty() || super::is_http_url(uri)) {
        return fail(
            "tracking.mlflow_uri",
            "expected an http:// or https:// URL".to_string(),
        );
    }
    let name = &tr.register_model;
    if name.contains(['/', ':']) || (!name.is_empty() && name.trim().is_empty()) {
        return fail(
            "tracking.register_model",
            format!("expected a model name without '/' or ':' (MLflow's rule), got {name:?}"),
        );
    }
    Ok(())
}

fn checkpoint(c: &Config) -> Check {
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
    at_least_one("checkpoint.keep_last", ck.keep_last)?;
    if !(ck.every_seconds >= 0.0 && ck.every_seconds.is_finite()) {
        return fail(
            "checkpoint.every_seconds",
            format!("expected a number >= 0, got {}", ck.every_seconds),
        );
    }
    Ok(())
}

/// The data format, the model kind and the keys they need agree.
fn data_and_model(c: &Config) -> Check {
    use super::{DataFormat as F, ModelKind as K};
    let (d, m) = (&c.data, &c.model);
    let allowed: &[K] = match d.format {
        F::Idx | F::Cifar10 | F::ImageFolder => &[K::Mlp, K::Cnn, K::Resnet],
        F::Text | F::Tokens => &[K::Gpt],
        F::Csv | F::Parquet => &[K::Mlp],
    };
    if !allowed.contains(&m.kind) {
        let names: Vec<String> = allowed
            .iter()
            .map(|k| format!("\"{}\"", k.name()))
            .collect();
        return fail(
            "model.kind",
            format!(
                "expected {} for data.format = \"{}\", got \"{}\"",
                names.join(" or "),
                d.format.name(),
                m.kind.name()
            ),
        );
    }
    let file_based = matches!(d.format, F::Text | F::Csv | F::Parquet);
    if file_based && d.file.as_os_str().is_empty() {
        return fail(
            "data.file",
            format!("expected the path of the {} file", d.format.name()),
        );
    }
    if d.format.is_table() && d.label.trim().is_empty() {
        return fail("data.label", "expected the name of the label column".into());
    }
    if let Some(f) = d.features.iter().find(|f| **f == d.label) {
        return fail(
            "data.features",
            format!("expected columns other than the label, got the label column `{f}`"),
        );
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(f) = d.features.iter().find(|f| !seen.insert(f.as_str())) {
        return fail(
            "data.features",
            format!("expected each column once, got `{f}` twice"),
        );
    }
    Ok(())
}

/// `image-folder`'s keys: a target size, 1 or 3 channels, per-channel statistics, and
/// augmentation ranges; augmentation only where images are decoded.
fn image_folder(c: &Config) -> Check {
    let d = &c.data;
    if d.format != super::DataFormat::ImageFolder {
        if d.bad_samples == super::BadSamples::Skip {
            return fail(
                "data.bad_samples",
                format!(
                    "\"skip\" applies to data.format = \"image-folder\" only (other formats are checked when opened), got \"{}\"",
                    d.format.name()
                ),
            );
        }
        if d.augment.any() {
            return fail(
                "data.augment",
                format!(
                    "applies to data.format = \"image-folder\" only, got \"{}\"",
                    d.format.name()
                ),
            );
        }
        return Ok(());
    }
    if d.image_size.contains(&0) {
        return fail(
            "data.image_size",
            format!(
                "expected [height, width] (both >= 1) for data.format = \"image-folder\", got {:?}",
                d.image_size
            ),
        );
    }
    if !matches!(d.channels, 1 | 3) {
        return fail(
            "data.channels",
            format!("expected 1 (grayscale) or 3 (RGB), got {}", d.channels),
        );
    }
    for (key, values) in [("data.mean", &d.mean), ("data.std", &d.std)] {
        if !matches!(values.len(), 0 | 1) && values.len() != d.channels {
            return fail(
                key,
                format!(
                    "expected one value or one per channel ({}), got {}",
                    d.channels,
                    values.len()
                ),
            );
        }
        if values.iter().any(|v| !v.is_finite()) {
            return fail(key, format!("expected finite numbers, got {values:?}"));
        }
    }
    if d.std.iter().any(|&s| s <= 0.0) {
        return fail("data.std", format!("expected numbers > 0, got {:?}", d.std));
    }
    let a = &d.augment;
    let [lo, hi] = a.crop_scale;
    if !(lo > 0.0 && lo <= hi && hi <= 1.0) {
        return fail(
            "data.augment.crop_scale",
            format!(
                "expected [min, max] with 0 < min <= max <= 1, got {:?}",
                a.crop_scale
            ),
        );
    }
    let [lo, hi] = a.crop_ratio;
    if !(lo > 0.0 && lo <= hi && hi.is_finite()) {
        return fail(
            "data.augment.crop_ratio",
            format!(
                "expected [min, max] with 0 < min <= max, got {:?}",
                a.crop_ratio
            ),
        );
    }
    Ok(())
}

/// Regression only on tables (and never ranked by accuracy); the splits leave training rows.
fn splits_and_task(c: &Config) -> Check {
    let d = &c.data;
    if d.task == crate::data::TableTask::Regression {
        if !d.format.is_table() {
            return fail(
                "data.task",
                format!(
                    "expected \"classification\" for data.format = \"{}\" (regression reads a csv or parquet table)",
                    d.format.name()
                ),
            );
        }
        if c.checkpoint.best_metric == super::BestMetric::ValidAccuracy {
            return fail(
                "checkpoint.best_metric",
                "expected \"valid_loss\" (with best_mode = \"min\") for data.task = \"regression\": a regression has no accuracy".into(),
            );
        }
    }
    if d.test_fraction < 0.0 {
        return fail(
            "data.test_fraction",
            format!("expected a number >= 0, got {}", d.test_fraction),
        );
    }
    if !(0.0..1.0).contains(&(d.test_fraction + d.validation_fraction)) {
        // Either key may be the one to change: the error names the one the user set.
        return fail(
            "data.test_fraction|data.validation_fraction",
            format!(
                "expected test_fraction + validation_fraction < 1, got {} + {}",
                d.test_fraction, d.validation_fraction
            ),
        );
    }
    Ok(())
}

/// The chosen architecture's own sizes.
fn architecture(c: &Config) -> Check {
    let m = &c.model;
    if m.kind == super::ModelKind::Resnet && (m.resnet.widths.contains(&0) || m.resnet.blocks == 0)
    {
        return fail(
            "model.resnet",
            format!(
                "expected widths >= 1 and blocks >= 1, got widths = {:?}, blocks = {}",
                m.resnet.widths, m.resnet.blocks
            ),
        );
    }
    let g = &m.gpt;
    if m.kind == super::ModelKind::Gpt {
        at_least_one("model.gpt.layers", g.layers)?;
        at_least_one("model.gpt.heads", g.heads)?;
        at_least_one("model.gpt.block_size", g.block_size)?;
        if g.embedding == 0 || !g.embedding.is_multiple_of(g.heads) {
            return fail(
                "model.gpt.embedding",
                format!(
                    "expected a positive multiple of model.gpt.heads = {}, got {}",
                    g.heads, g.embedding
                ),
            );
        }
    }
    Ok(())
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
    fn devices_are_distinct_not_mixed_with_device_and_several_only_on_cuda() {
        use crate::config::{BackendRequest, DeviceList};
        let mut c = Config::default();
        c.run.devices = DeviceList::Listed(vec![0, 1, 0]);
        let (key, msg) = validate(&c).unwrap_err();
        assert_eq!(key, "run.devices");
        assert!(msg.contains("device 0 is listed twice"), "{msg}");
        c.run.devices = DeviceList::Listed(vec![1]);
        c.run.device = 2;
        assert!(validate(&c).unwrap_err().1.contains("not both"));
        c.run.device = 0;
        assert!(validate(&c).is_ok(), "one listed device runs anywhere");
        c.run.devices = DeviceList::All;
        for backend in [
            BackendRequest::Flex,
            BackendRequest::Wgpu,
            BackendRequest::Ndarray,
        ] {
            c.run.backend = backend;
            let (key, msg) = validate(&c).unwrap_err();
            assert_eq!(key, "run.devices");
            assert!(msg.contains("runs on cuda"), "{msg}");
        }
        for backend in [BackendRequest::Cuda, BackendRequest::Auto] {
            c.run.backend = backend;
            assert!(validate(&c).is_ok());
        }
    }

    #[test]
    fn reduced_precision_is_refused_on_ndarray_and_for_resnet() {
        use crate::config::{BackendRequest, ModelKind, Precision};
        let mut c = Config::default();
        c.run.precision = Precision::Bf16;
        assert!(validate(&c).is_ok());
        c.run.backend = BackendRequest::Ndarray;
        let (key, msg) = validate(&c).unwrap_err();
        assert_eq!(key, "run.precision");
        assert!(msg.contains("ndarray computes in f32 only"), "{msg}");
        c.run.backend = BackendRequest::Auto;
        c.model.kind = ModelKind::Resnet;
        let (key, msg) = validate(&c).unwrap_err();
        assert_eq!(
            (key.as_str(), msg.contains("resnet")),
            ("run.precision", true),
            "{msg}"
        );
    }

    #[test]
    fn zero_batch_size_names_the_key() {
        let mut c = Config::default();
        c.train.batch_size = 0;
        assert_eq!(validate(&c).unwrap_err().0, "train.batch_size");
    }
}
