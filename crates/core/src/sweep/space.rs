//! The search-space file (`--space sweep.toml`): what to optimize, how many trials, and the
//! values each config key may take. The trial list is a pure function of the file and its seed.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A space file that cannot be used, named by file and key.
#[derive(Debug, thiserror::Error)]
pub enum SpaceError {
    /// The file could not be read.
    #[error("cannot read sweep space {path}: {cause}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        cause: std::io::Error,
    },
    /// Not valid TOML, or a key with a wrong name, type or value.
    #[error("{path}: {key}: {message}")]
    Key {
        /// The file.
        path: PathBuf,
        /// The key in the space file (`space.train.lr`, `objective`).
        key: String,
        /// What was expected.
        message: String,
    },
}

/// Whether the objective is minimized or maximized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Smaller is better (losses).
    Min,
    /// Larger is better (accuracies).
    Max,
}

impl Mode {
    /// The objective as a key that sorts the best first (ascending).
    pub fn best_first(self, v: f64) -> f64 {
        match self {
            Mode::Min => v,
            Mode::Max => -v,
        }
    }

    /// True when `a` is better than `b`.
    pub fn better(self, a: f64, b: f64) -> bool {
        match self {
            Mode::Min => a < b,
            Mode::Max => a > b,
        }
    }
}

/// Successive halving of poor trials on the per-epoch validation metric.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EarlyStopping {
    /// Off unless set.
    pub enabled: bool,
    /// The first rung: epochs every trial trains before it can be stopped.
    pub min_epochs: usize,
    /// Keep the best 1/eta of the trials seen at each rung (rungs at min_epochs * eta^k).
    pub eta: usize,
}

impl Default for EarlyStopping {
    fn default() -> Self {
        Self {
            enabled: false,
            min_epochs: 1,
            eta: 3,
        }
    }
}

/// The values one key may take.
#[derive(Debug, Clone, PartialEq)]
pub enum Dim {
    /// These values (a grid axis, or drawn uniformly in a random search).
    List(Vec<toml::Value>),
    /// A float drawn uniformly from `[lo, hi)`.
    Uniform(f64, f64),
    /// A float whose log is drawn uniformly from `[ln lo, ln hi)`.
    LogUniform(f64, f64),
    /// An integer drawn uniformly from `lo..=hi`.
    Int(i64, i64),
}

impl Dim {
    /// Values that stand for the whole dimension when checking it against the config.
    pub fn examples(&self) -> Vec<toml::Value> {
        match self {
            Dim::List(v) => v.clone(),
            Dim::Uniform(lo, hi) | Dim::LogUniform(lo, hi) => {
                vec![toml::Value::Float(*lo), toml::Value::Float(*hi)]
            }
            Dim::Int(lo, hi) => vec![toml::Value::Integer(*lo), toml::Value::Integer(*hi)],
        }
    }

    fn draw(&self, rng: &mut ChaCha8Rng) -> toml::Value {
        match self {
            Dim::List(v) => v[rng.random_range(0..v.len())].clone(),
            Dim::Uniform(lo, hi) => toml::Value::Float(round(rng.random_range(*lo..*hi))),
            Dim::LogUniform(lo, hi) => {
                let x = rng.random_range(lo.ln()..hi.ln()).exp();
                toml::Value::Float(round(x))
            }
            Dim::Int(lo, hi) => toml::Value::Integer(rng.random_range(*lo..=*hi)),
        }
    }
}

/// Six significant digits: short `--set` values and table cells, still distinct trials.
fn round(x: f64) -> f64 {
    format!("{x:.5e}").parse().unwrap_or(x)
}

/// One trial: a value for every searched key.
#[derive(Debug, Clone, PartialEq)]
pub struct Trial {
    /// `trial-000`, ...
    pub name: String,
    /// Searched key -> value.
    pub params: BTreeMap<String, toml::Value>,
}

/// A parsed and checked space file.
#[derive(Debug, Clone)]
pub struct SweepSpec {
    /// The file it came from.
    pub path: PathBuf,
    /// SHA-256 of the file's text (a rerun of a sweep must use the same file).
    pub digest: String,
    /// The metric to optimize, as `runs show` names it (`valid_loss`, `test_accuracy`).
    pub objective: String,
    /// Minimize or maximize it.
    pub mode: Mode,
    /// Trial budget: random-search draws, or the most grid points run.
    pub trials: usize,
    /// Seed of the random search.
    pub seed: u64,
    /// Trial processes at once.
    pub parallel: usize,
    /// Stopping poor trials early.
    pub early_stopping: EarlyStopping,
    /// Searched key -> its values.
    pub space: BTreeMap<String, Dim>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SpaceFile {
    objective: String,
    mode: Mode,
    #[serde(default)]
    trials: Option<usize>,
    #[serde(default)]
    seed: u64,
    #[serde(default = "one")]
    parallel: usize,
    #[serde(default)]
    early_stopping: EarlyStopping,
    space: toml::Table,
}

fn one() -> usize {
    1
}

/// Random-search trials when the file does not say.
pub const DEFAULT_TRIALS: usize = 8;

/// The most trials a sweep runs (each is a process and a run directory).
pub const MAX_TRIALS: usize = 10_000;

/// Keys a sweep may not search: they change where a trial's results go or how they are
/// reported, never the objective.
const UNSEARCHABLE: &[&str] = &["run.name", "run.output_dir", "tracking."];

impl SweepSpec {
    /// Reads and checks `path` (not yet against the config: the sweep command does that).
    pub fn load(path: &Path) -> Result<Self, SpaceError> {
        let read = |cause| SpaceError::Read {
            path: path.to_path_buf(),
            cause,
        };
        let bytes = crate::fsutil::read_settings_file(path).map_err(read)?;
        let text = String::from_utf8(bytes).map_err(|e| {
            read(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "not UTF-8 (invalid byte at offset {})",
                    e.utf8_error().valid_up_to()
                ),
            ))
        })?;
        Self::parse(path, &text)
    }

    /// Parses the text of a space file.
    pub fn parse(path: &Path, text: &str) -> Result<Self, SpaceError> {
        let bad = |key: &str, message: String| SpaceError::Key {
            path: path.to_path_buf(),
            key: key.to_string(),
            message,
        };
        let file: SpaceFile = toml::from_str(text).map_err(|e| {
            let key = e.span().map_or_else(String::new, |s| {
                let line = text[..s.start].lines().count().max(1);
                format!("line {line}")
            });
            bad(&key, e.message().trim().to_string())
        })?;
        if file.objective.trim().is_empty() {
            return Err(bad(
                "objective",
                "expected a metric name such as valid_loss".into(),
            ));
        }
        let mut space = BTreeMap::new();
        flatten_space(&file.space, "", &mut space).map_err(|(k, m)| bad(&k, m))?;
        if space.is_empty() {
            return Err(bad("space", "expected at least one key to search".into()));
        }
        if let Some(key) = space.keys().find(|k| {
            UNSEARCHABLE
                .iter()
                .any(|u| k.as_str() == *u || (u.ends_with('.') && k.starts_with(u)))
        }) {
            return Err(bad(
                &format!("space.{key}"),
                "expected a key that changes training; run names, output directories and tracking settings cannot be searched".into(),
            ));
        }
        check_mode(&file.objective, file.mode).map_err(|m| bad("mode", m))?;
        let grid_size = grid_size(&space);
        let trials = match (file.trials, grid_size) {
            (Some(0), _) => return Err(bad("trials", "expected an integer >= 1, got 0".into())),
            (Some(n), _) => n,
            (None, Some(n)) => n,
            (None, None) => DEFAULT_TRIALS,
        };
        if trials > MAX_TRIALS {
            let what = match file.trials {
                Some(_) => format!("got {trials}"),
                None => format!("the grid has {trials} points; set trials to sample it"),
            };
            return Err(bad(
                "trials",
                format!("expected at most {MAX_TRIALS} trials, {what}"),
            ));
        }
        if file.parallel == 0 {
            return Err(bad("parallel", "expected an integer >= 1, got 0".into()));
        }
        let es = file.early_stopping;
        if es.enabled && (es.min_epochs == 0 || es.eta < 2) {
            return Err(bad(
                "early_stopping",
                format!(
                    "expected min_epochs >= 1 and eta >= 2, got min_epochs = {}, eta = {}",
                    es.min_epochs, es.eta
                ),
            ));
        }
        Ok(Self {
            path: path.to_path_buf(),
            digest: crate::digest::sha256_hex(text.as_bytes()),
            objective: file.objective.trim().to_string(),
            mode: file.mode,
            trials,
            seed: file.seed,
            parallel: file.parallel,
            early_stopping: es,
            space,
        })
    }

    /// The trials to run, in order: every grid point (all keys lists; shuffled by the seed
    /// when the budget is smaller), else `trials` random draws.
    pub fn trial_list(&self) -> Vec<Trial> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let points: Vec<BTreeMap<String, toml::Value>> = match grid_size(&self.space) {
            Some(_) => {
                let mut all = grid(&self.space);
                if all.len() > self.trials {
                    // Fisher-Yates with the sweep's RNG, then the first `trials`.
                    for i in (1..all.len()).rev() {
                        all.swap(i, rng.random_range(0..=i));
                    }
                    all.truncate(self.trials);
                }
                all
            }
            None => (0..self.trials)
                .map(|_| {
                    self.space
                        .iter()
                        .map(|(k, d)| (k.clone(), d.draw(&mut rng)))
                        .collect()
                })
                .collect(),
        };
        points
            .into_iter()
            .enumerate()
            .map(|(i, params)| Trial {
                name: format!("trial-{i:03}"),
                params,
            })
            .collect()
    }
}

/// Number of grid points when every key is a list.
fn grid_size(space: &BTreeMap<String, Dim>) -> Option<usize> {
    space.values().try_fold(1usize, |n, d| match d {
        Dim::List(v) => Some(n.saturating_mul(v.len())),
        _ => None,
    })
}

/// Every combination of the lists, the last key varying fastest.
fn grid(space: &BTreeMap<String, Dim>) -> Vec<BTreeMap<String, toml::Value>> {
    let mut points = vec![BTreeMap::new()];
    for (key, dim) in space {
        let Dim::List(values) = dim else { continue };
        points = points
            .into_iter()
            .flat_map(|p| {
                values.iter().map(move |v| {
                    let mut q = p.clone();
                    q.insert(key.clone(), v.clone());
                    q
                })
            })
            .collect();
    }
    points
}

/// Adds `key` once: `"train.lr" = [...]` and `[train] lr = [...]` name the same key.
fn insert(out: &mut BTreeMap<String, Dim>, key: String, dim: Dim) -> Result<(), (String, String)> {
    if out.contains_key(&key) {
        return Err((
            format!("space.{key}"),
            "given twice (once as a dotted key, once in a table); keep one".into(),
        ));
    }
    out.insert(key, dim);
    Ok(())
}

/// A mode against the objective's direction: losses and errors go down, accuracies, F1 and
/// R² go up (the rule `checkpoint.best_mode` follows).
fn check_mode(objective: &str, mode: Mode) -> Result<(), String> {
    let m = objective.trim();
    let natural = if ["loss", "rmse", "mae", "perplexity"]
        .iter()
        .any(|s| m.ends_with(s))
    {
        Mode::Min
    } else if ["accuracy", "f1", "r2"].iter().any(|s| m.ends_with(s)) {
        Mode::Max
    } else {
        return Ok(());
    };
    if mode == natural {
        return Ok(());
    }
    let name = |m: Mode| if m == Mode::Min { "min" } else { "max" };
    Err(format!(
        "expected \"{}\" for objective = \"{m}\", got \"{}\" (it would pick the worst trial)",
        name(natural),
        name(mode)
    ))
}

/// `[space]` as dotted keys: an array is a list, a table with one of `uniform`, `log_uniform`,
/// `int` is a range, any other table nests keys.
fn flatten_space(
    table: &toml::Table,
    prefix: &str,
    out: &mut BTreeMap<String, Dim>,
) -> Result<(), (String, String)> {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        let shown = format!("space.{key}");
        match v {
            toml::Value::Array(values) if values.is_empty() => {
                return Err((
                    shown,
                    "expected at least one value, got an empty list".into(),
                ));
            }
            toml::Value::Array(values) => insert(out, key, Dim::List(values.clone()))?,
            toml::Value::Table(t) if is_range(t) => {
                let dim = range(t).map_err(|m| (shown, m))?;
                insert(out, key, dim)?;
            }
            toml::Value::Table(t) => flatten_space(t, &key, out)?,
            other => {
                return Err((
                    shown,
                    format!(
                        "expected a list of values or {{ uniform | log_uniform | int = [lo, hi] }}, got {other}"
                    ),
                ));
            }
        }
    }
    Ok(())
}

const RANGES: [&str; 3] = ["uniform", "log_uniform", "int"];

fn is_range(t: &toml::Table) -> bool {
    t.keys().any(|k| RANGES.contains(&k.as_str()))
}

fn range(t: &toml::Table) -> Result<Dim, String> {
    let expected = "expected exactly one of uniform, log_uniform or int = [lo, hi]";
    let [(kind, bounds)] = t.iter().collect::<Vec<_>>()[..] else {
        return Err(expected.into());
    };
    let pair = bounds
        .as_array()
        .filter(|a| a.len() == 2)
        .ok_or_else(|| format!("{kind}: expected [lo, hi], got {bounds}"))?;
    let num = |v: &toml::Value| {
        v.as_float()
            .or_else(|| v.as_integer().map(|i| i as f64))
            .filter(|x| x.is_finite())
    };
    match kind.as_str() {
        "int" => {
            let (Some(lo), Some(hi)) = (pair[0].as_integer(), pair[1].as_integer()) else {
                return Err(format!("int: expected two integers, got {bounds}"));
            };
            if lo > hi {
                return Err(format!("int: empty range [{lo}, {hi}]: expected lo <= hi"));
            }
            Ok(Dim::Int(lo, hi))
        }
        "uniform" | "log_uniform" => {
            let (Some(lo), Some(hi)) = (num(&pair[0]), num(&pair[1])) else {
                return Err(format!("{kind}: expected two finite numbers, got {bounds}"));
            };
            if lo >= hi {
                return Err(format!(
                    "{kind}: empty range [{lo}, {hi}]: expected lo < hi"
                ));
            }
            if kind == "uniform" {
                return Ok(Dim::Uniform(lo, hi));
            }
            if lo <= 0.0 {
                return Err(format!(
                    "log_uniform: range [{lo}, {hi}] must be above 0 (a log scale)"
                ));
            }
            Ok(Dim::LogUniform(lo, hi))
        }
        _ => Err(expected.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str) -> Result<SweepSpec, SpaceError> {
        SweepSpec::parse(Path::new("sweep.toml"), text)
    }

    const RANDOM: &str = r#"
objective = "valid_loss"
mode = "min"
trials = 6
seed = 3
[space]
"train.lr" = { log_uniform = [1e-4, 1e-1] }
model.mlp.hidden = [[32], [64]]
"#;

    #[test]
    fn random_trials_are_a_function_of_the_seed_and_stay_in_range() {
        let a = spec(RANDOM).unwrap().trial_list();
        assert_eq!(a, spec(RANDOM).unwrap().trial_list());
        assert_eq!(a.len(), 6);
        assert_eq!(a[5].name, "trial-005");
        for t in &a {
            let lr = t.params["train.lr"].as_float().unwrap();
            assert!((1e-4..1e-1).contains(&lr), "{lr}");
            assert!(t.params.contains_key("model.mlp.hidden"));
        }
        let other = spec(&RANDOM.replace("seed = 3", "seed = 4")).unwrap();
        assert_ne!(a, other.trial_list());
    }

    #[test]
    fn all_lists_make_a_grid() {
        let s = spec(
            "objective = \"valid_accuracy\"\nmode = \"max\"\n[space]\n\"train.lr\" = [0.1, 0.01]\n\"train.batch_size\" = [32, 64, 128]\n",
        )
        .unwrap();
        let trials = s.trial_list();
        assert_eq!(trials.len(), 6);
        let mut seen: Vec<String> = trials.iter().map(|t| format!("{:?}", t.params)).collect();
        seen.dedup();
        assert_eq!(seen.len(), 6);
    }

    #[test]
    fn bad_files_name_the_key() {
        let cases = [
            (
                "[space]\n\"train.lr\" = { uniform = [0.5, 0.1] }",
                "space.train.lr",
                "empty range",
            ),
            (
                "[space]\n\"train.lr\" = { log_uniform = [0.0, 0.1] }",
                "space.train.lr",
                "above 0",
            ),
            (
                "[space]\n\"model.mlp.hidden\" = []",
                "space.model.mlp.hidden",
                "empty list",
            ),
            (
                "[space]\n\"train.lr\" = 0.1",
                "space.train.lr",
                "expected a list",
            ),
            (
                "trials = 0\n[space]\n\"train.lr\" = [0.1]",
                "trials",
                ">= 1",
            ),
            (
                "colour = 1\n[space]\n\"train.lr\" = [0.1]",
                "line",
                "unknown field",
            ),
            (
                "trials = 100000000000\n[space]\n\"train.lr\" = [0.1]",
                "trials",
                "at most 10000 trials, got 100000000000",
            ),
            (
                "[space]\n\"train.lr\" = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n\"train.batch_size\" = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n\"train.epochs\" = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n\"run.seed\" = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]",
                "trials",
                "the grid has 11000 points",
            ),
            (
                "[space]\n\"train.lr\" = [0.1]\n[space.train]\nlr = [0.2]",
                "space.train.lr",
                "given twice",
            ),
            (
                "[space]\n\"run.name\" = [\"a\", \"b\"]",
                "space.run.name",
                "cannot be searched",
            ),
            (
                "[space]\n\"tracking.mlflow_uri\" = [\"http://a\"]",
                "space.tracking.mlflow_uri",
                "cannot be searched",
            ),
        ];
        for (body, key, what) in cases {
            let text = format!("objective = \"valid_loss\"\nmode = \"min\"\n{body}\n");
            let e = spec(&text).unwrap_err().to_string();
            assert!(e.starts_with("sweep.toml: "), "{e}");
            assert!(e.contains(key) && e.contains(what), "{body}: {e}");
        }
    }

    #[test]
    fn a_mode_against_the_objective_is_refused() {
        let text =
            "objective = \"valid_accuracy\"\nmode = \"min\"\n[space]\n\"train.lr\" = [0.1]\n";
        let e = spec(text).unwrap_err().to_string();
        assert!(
            e.contains("mode") && e.contains("expected \"max\" for objective = \"valid_accuracy\""),
            "{e}"
        );
        let text = "objective = \"test_rmse\"\nmode = \"max\"\n[space]\n\"train.lr\" = [0.1]\n";
        assert!(spec(text).is_err());
        let text =
            "objective = \"valid_macro_f1\"\nmode = \"max\"\n[space]\n\"train.lr\" = [0.1]\n";
        assert!(spec(text).is_ok());
    }
}
