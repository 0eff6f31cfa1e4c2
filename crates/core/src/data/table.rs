//! Tables (CSV or Parquet) for classification or regression, file-backed: one pass at open
//! validates every row; features are re-read from disk per sample (a CSV row from where it
//! starts, a Parquet row from the feature values the pass wrote to an unnamed cache file). Feature
//! standardization is fitted on the training rows only and saved with the run, so evaluation
//! and prediction apply exactly the same transform.

use super::csv_rows::CsvRows;
use super::json_file::{load_json, save_json};
use super::parquet_table::{self, ParquetTable};
use super::{BatchSource, DataError, PositionalFile, split_indices};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

/// File name of the preprocessing saved in a run directory.
pub const PREPROCESSING_FILE: &str = "preprocessing.json";

/// What the label column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TableTask {
    /// Class names (any text); classes are the sorted distinct names of the training file.
    Classification,
    /// A number to predict.
    Regression,
}

/// The declared schema: label column, task, and optionally the feature columns.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSpec {
    /// Name of the label column.
    pub label: String,
    /// Classification or regression.
    pub task: TableTask,
    /// Feature columns in order; empty infers them: every other column (all must be numeric).
    pub features: Vec<String>,
}

/// The transform fitted on the training rows, saved with the run (`preprocessing.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TablePreprocessing {
    /// Feature columns, in model-input order.
    pub features: Vec<String>,
    /// Per-feature mean over the training rows.
    pub mean: Vec<f64>,
    /// Per-feature standard deviation over the training rows (1 where it was 0).
    pub std: Vec<f64>,
    /// Label column.
    pub label: String,
    /// Classification or regression.
    pub task: TableTask,
    /// Class names, id = position (empty for regression).
    pub classes: Vec<String>,
    /// Regression: the target's standardization over the training rows (the model learns
    /// `(y - mean) / std`; predictions are mapped back). Identity for classification.
    #[serde(default)]
    pub target: TargetScale,
}

/// A regression target's standardization: `standardized = (y - mean) / std`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TargetScale {
    /// Mean of the training targets.
    pub mean: f64,
    /// Standard deviation of the training targets (1 where it was 0).
    pub std: f64,
}

impl Default for TargetScale {
    fn default() -> Self {
        Self {
            mean: 0.0,
            std: 1.0,
        }
    }
}

impl TargetScale {
    /// A standardized value in the target's own units.
    pub fn original(&self, standardized: f64) -> f64 {
        standardized * self.std + self.mean
    }

    /// A value in the target's units, standardized.
    pub fn standardized(&self, original: f64) -> f64 {
        (original - self.mean) / self.std
    }
}

impl TablePreprocessing {
    /// Writes it as JSON, atomically.
    pub fn save(&self, path: &Path) -> Result<(), DataError> {
        save_json(path, self)
    }

    /// Reads what `save` wrote.
    pub fn load(path: &Path) -> Result<Self, DataError> {
        load_json(path, "saved table preprocessing")
    }

    /// Outputs a model needs: one logit per class, or one value for regression.
    pub fn outputs(&self) -> usize {
        match self.task {
            TableTask::Classification => self.classes.len(),
            TableTask::Regression => 1,
        }
    }
}

/// Targets of every row, held in memory (a few bytes a row).
#[derive(Debug, Clone, PartialEq)]
pub enum TableTargets {
    /// Class ids.
    Classes(Vec<i64>),
    /// Regression targets.
    Values(Vec<f32>),
    /// No label column (a file to score with a run's saved features and classes): the count.
    Unlabelled(usize),
}

/// A validated table: header, where each row's features are, and every row's target.
#[derive(Debug)]
pub struct TableFile {
    store: RowStore,
    header: Vec<String>,
    feature_cols: Vec<usize>,
    features: Vec<String>,
    targets: TableTargets,
    classes: Vec<String>,
}

/// Where the feature values of each row are read from.
#[derive(Debug)]
enum RowStore {
    /// The CSV file itself.
    Csv {
        file: PositionalFile,
        /// Byte offset of each data row, then the end of the last one.
        offsets: Vec<u64>,
        /// CSV line number of each data row (for errors found later).
        lines: Vec<u64>,
    },
    /// Little-endian f64 feature values, row-major (a Parquet table's, written at open).
    Values { file: PositionalFile, rows: usize },
}

/// The label column (None when scoring a file without one) and the feature columns.
fn columns(
    header: &[String],
    spec: &TableSpec,
    scoring: bool,
) -> Result<(Option<usize>, Vec<usize>), String> {
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| format!("no column `{name}`; the header has: {}", header.join(", ")))
    };
    let label_col = match column(&spec.label) {
        Ok(c) => Some(c),
        Err(_) if scoring => None,
        Err(e) => return Err(e),
    };
    let feature_cols = if spec.features.is_empty() {
        (0..header.len())
            .filter(|&c| Some(c) != label_col)
            .collect()
    } else {
        spec.features
            .iter()
            .map(|f| column(f))
            .collect::<Result<_, _>>()?
    };
    Ok((label_col, feature_cols))
}

/// Each row's target as the file is scanned: a value (regression), a known class (a run's
/// saved classes), or a class seen first here (numbered in sorted order at the end).
struct Labels<'a> {
    task: TableTask,
    known: Option<(&'a [String], HashMap<&'a str, i64>)>,
    seen: HashMap<String, i64>,
    class_ids: Vec<i64>,
    values: Vec<f32>,
}

impl<'a> Labels<'a> {
    fn new(spec: &TableSpec, classes: Option<&'a [String]>) -> Self {
        let known = classes.map(|c| {
            let ids = c
                .iter()
                .enumerate()
                .map(|(i, s)| (s.as_str(), i as i64))
                .collect();
            (c, ids)
        });
        Self {
            task: spec.task,
            known,
            seen: HashMap::new(),
            class_ids: Vec::new(),
            values: Vec::new(),
        }
    }

    /// Records one row's label; Err((names the label column, what is wrong)).
    fn push(&mut self, label: &str) -> Result<(), (bool, String)> {
        if label.is_empty() {
            return Err((true, "empty label".into()));
        }
        match (self.task, &self.known) {
            (TableTask::Regression, _) => {
                let v = parse_number(label).ok_or((true, format!("`{label}` is not a number")))?;
                self.values.push(v as f32);
            }
            (TableTask::Classification, Some((names, ids))) => {
                let id = ids.get(label).ok_or_else(|| {
                    let names = names.join(", ");
                    (
                        false,
                        format!("unknown label `{label}`; the run's classes are {names}"),
                    )
                })?;
                self.class_ids.push(*id);
            }
            (TableTask::Classification, None) => {
                let next = self.seen.len() as i64;
                let id = *self.seen.entry(label.to_string()).or_insert(next);
                self.class_ids.push(id);
            }
        }
        Ok(())
    }

    /// The targets and class names.
    fn finish(self) -> (TableTargets, Vec<String>) {
        match (self.task, self.known) {
            (TableTask::Regression, _) => (TableTargets::Values(self.values), Vec::new()),
            (TableTask::Classification, Some((names, _))) => {
                (TableTargets::Classes(self.class_ids), names.to_vec())
            }
            (TableTask::Classification, None) => {
                // Sorted class names; remap first-seen ids to sorted ids.
                let mut names: Vec<(String, i64)> = self.seen.into_iter().collect();
                names.sort();
                let mut remap = vec![0; names.len()];
                for (sorted, (_, first_seen)) in names.iter().enumerate() {
                    remap[*first_seen as usize] = sorted as i64;
                }
                let ids = self.class_ids.iter().map(|&i| remap[i as usize]).collect();
                (
                    TableTargets::Classes(ids),
                    names.into_iter().map(|(n, _)| n).collect(),
                )
            }
        }
    }
}

impl TableFile {
    /// Opens and validates `path` against `spec`: a Parquet file (by its magic bytes) or a
    /// directory of Parquet parts, else CSV. With `classes` (a run's saved ones), labels are
    /// mapped to them and an unseen label is an error; otherwise the file's own sorted classes.
    /// With `classes` and declared features, the label column may be absent: the rows are then
    /// `Unlabelled` (a file to score).
    pub fn open(
        path: &Path,
        spec: &TableSpec,
        classes: Option<&[String]>,
    ) -> Result<Self, DataError> {
        if parquet_table::is_parquet(path) {
            return Self::open_parquet(path, spec, classes);
        }
        Self::open_csv(path, spec, classes)
    }

    fn open_csv(
        path: &Path,
        spec: &TableSpec,
        classes: Option<&[String]>,
    ) -> Result<Self, DataError> {
        let fmt = |message: String| DataError::Format {
            path: path.to_path_buf(),
            message,
        };
        let file = PositionalFile::open(path)?;
        if file.is_empty() {
            return Err(fmt("empty file, expected a CSV header line".into()));
        }
        let mut rows = CsvRows::open(path)?;
        let header = rows.header().to_vec();
        let scoring = classes.is_some() && !spec.features.is_empty();
        let (label_col, feature_cols) = columns(&header, spec, scoring).map_err(fmt)?;
        let mut labels = Labels::new(spec, classes);
        let (mut offsets, mut lines) = (Vec::new(), Vec::new());
        while let Some(start) = rows.next_row()? {
            let (line, record) = (start.line, rows.record());
            for &c in &feature_cols {
                parse_number(&record[c]).ok_or_else(|| {
                    rows.error(
                        line,
                        Some(&header[c]),
                        format!("`{}` is not a number", &record[c]),
                    )
                })?;
            }
            if let Some(c) = label_col {
                let label = record[c].trim().to_string();
                labels.push(&label).map_err(|(column, what)| {
                    rows.error(line, column.then_some(spec.label.as_str()), what)
                })?;
            }
            offsets.push(start.byte);
            lines.push(line);
        }
        offsets.push(rows.end_byte());
        if lines.is_empty() {
            return Err(fmt("no data rows after the header".into()));
        }
        let (targets, classes) = match label_col {
            None => (
                TableTargets::Unlabelled(lines.len()),
                classes.unwrap_or_default().to_vec(),
            ),
            Some(_) => labels.finish(),
        };
        let features = feature_cols.iter().map(|&c| header[c].clone()).collect();
        Ok(Self {
            store: RowStore::Csv {
                file,
                offsets,
                lines,
            },
            header,
            feature_cols,
            features,
            targets,
            classes,
        })
    }

    /// A Parquet file or directory of parts: one pass over the row groups checks every row,
    /// keeps the labels and writes the features (f64) to an unnamed file in the data cache.
    fn open_parquet(
        path: &Path,
        spec: &TableSpec,
        classes: Option<&[String]>,
    ) -> Result<Self, DataError> {
        let table = ParquetTable::open(path)?;
        let header = table.header().to_vec();
        let fmt = |message: String| DataError::Format {
            path: path.to_path_buf(),
            message,
        };
        let scoring = classes.is_some() && !spec.features.is_empty();
        let (label_col, feature_cols) = columns(&header, spec, scoring).map_err(fmt)?;
        for &c in label_col.iter().chain(&feature_cols) {
            table.check_flat(c)?;
        }
        let cache = super::cache_dir();
        std::fs::create_dir_all(&cache).map_err(|e| DataError::io(&cache, e))?;
        let spool = tempfile::tempfile_in(&cache).map_err(|e| DataError::io(&cache, e))?;
        let spool_error = |e: std::io::Error| DataError::io(&cache, e);
        let mut out = std::io::BufWriter::new(spool);
        let mut labels = Labels::new(spec, classes);
        let mut rows = 0usize;
        table.for_each_row(|at, values| {
            for &c in &feature_cols {
                let v = parquet_table::number(values[c]).ok_or_else(|| {
                    let what = parquet_table::describe(values[c]);
                    at.error(Some(&header[c]), format!("{what} is not a number"))
                })?;
                out.write_all(&v.to_le_bytes()).map_err(spool_error)?;
            }
            if let Some(c) = label_col {
                let label = parquet_table::text(values[c])
                    .ok_or_else(|| at.error(Some(&spec.label), "null label"))?;
                labels.push(&label).map_err(|(column, what)| {
                    at.error(column.then_some(spec.label.as_str()), what)
                })?;
            }
            rows += 1;
            Ok(())
        })?;
        if rows == 0 {
            return Err(fmt("no data rows".into()));
        }
        let spool = out
            .into_inner()
            .map_err(|e| DataError::io(&cache, e.into_error()))?;
        let (targets, classes) = match label_col {
            None => (
                TableTargets::Unlabelled(rows),
                classes.unwrap_or_default().to_vec(),
            ),
            Some(_) => labels.finish(),
        };
        let features = feature_cols.iter().map(|&c| header[c].clone()).collect();
        Ok(Self {
            store: RowStore::Values {
                file: PositionalFile::from_file(path, spool).map_err(spool_error)?,
                rows,
            },
            header,
            feature_cols,
            features,
            targets,
            classes,
        })
    }

    /// True when the file has its label column (false: rows to score).
    pub fn labelled(&self) -> bool {
        !matches!(self.targets, TableTargets::Unlabelled(_))
    }

    /// Data rows.
    pub fn rows(&self) -> usize {
        match &self.store {
            RowStore::Csv { lines, .. } => lines.len(),
            RowStore::Values { rows, .. } => *rows,
        }
    }

    /// Column names of the header.
    pub fn header(&self) -> &[String] {
        &self.header
    }

    /// Feature column names, in model-input order.
    pub fn features(&self) -> &[String] {
        &self.features
    }

    /// Class names (empty for regression).
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// Every row's target.
    pub fn targets(&self) -> &TableTargets {
        &self.targets
    }

    /// Reads row `row`'s raw feature values into `out`.
    pub fn read_features(&self, row: usize, out: &mut [f64]) -> Result<(), DataError> {
        let (file, offsets, lines) = match &self.store {
            RowStore::Csv {
                file,
                offsets,
                lines,
            } => (file, offsets, lines),
            RowStore::Values { file, .. } => {
                let width = 8 * self.feature_cols.len();
                let mut bytes = vec![0u8; width];
                file.read_exact_at(&mut bytes, (row * width) as u64)?;
                for (o, b) in out.iter_mut().zip(bytes.chunks_exact(8)) {
                    *o = f64::from_le_bytes(b.try_into().unwrap_or_default());
                }
                return Ok(());
            }
        };
        let (start, end) = (offsets[row], offsets[row + 1]);
        let mut bytes = vec![0u8; (end - start) as usize];
        file.read_exact_at(&mut bytes, start)?;
        let changed = |what: &str| DataError::Format {
            path: file.path().to_path_buf(),
            message: format!("line {}: {what} since the file was opened", lines[row]),
        };
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(bytes.as_slice());
        let mut record = csv::StringRecord::new();
        if !rdr
            .read_record(&mut record)
            .map_err(|_| changed("the row changed"))?
        {
            return Err(changed("the row vanished"));
        }
        for (o, &c) in out.iter_mut().zip(&self.feature_cols) {
            *o = record
                .get(c)
                .and_then(parse_number)
                .ok_or_else(|| changed("a value changed"))?;
        }
        Ok(())
    }

    /// Fits standardization on `rows` (the training split).
    pub fn fit_preprocessing(
        &self,
        rows: &[u32],
        label: &str,
        task: TableTask,
    ) -> Result<TablePreprocessing, DataError> {
        let mut features = vec![Welford::default(); self.features.len()];
        let mut values = vec![0f64; features.len()];
        for &row in rows {
            self.read_features(row as usize, &mut values)?;
            features
                .iter_mut()
                .zip(&values)
                .for_each(|(w, &x)| w.push(x));
        }
        let mean = features.iter().map(|w| w.mean).collect();
        let std = features.iter().map(Welford::std_or_one).collect();
        let target = match &self.targets {
            TableTargets::Values(v) => {
                let mut y = Welford::default();
                rows.iter().for_each(|&r| y.push(f64::from(v[r as usize])));
                TargetScale {
                    mean: y.mean,
                    std: y.std_or_one(),
                }
            }
            _ => TargetScale::default(),
        };
        Ok(TablePreprocessing {
            features: self.features.clone(),
            mean,
            std,
            label: label.to_string(),
            task,
            classes: self.classes.clone(),
            target,
        })
    }
}

/// Welford's running mean and variance (numerically stable in one pass).
#[derive(Debug, Clone, Copy, Default)]
struct Welford {
    n: u64,
    mean: f64,
    m2: f64,
}

impl Welford {
    fn push(&mut self, x: f64) {
        self.n += 1;
        let delta = x - self.mean;
        self.mean += delta / self.n as f64;
        self.m2 += delta * (x - self.mean);
    }

    /// Population standard deviation; 1 when it is 0 (a constant column stays as it is).
    fn std_or_one(&self) -> f64 {
        let s = (self.m2 / self.n.max(1) as f64).sqrt();
        if s > 0.0 { s } else { 1.0 }
    }
}

fn parse_number(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Rows of a table, standardized: a `BatchSource` of `TableBatch`es.
#[derive(Debug, Clone)]
pub struct TableRows {
    table: Arc<TableFile>,
    rows: Vec<u32>,
    prep: Arc<TablePreprocessing>,
}

impl TableRows {
    /// The rows `rows` of `table`, transformed by `prep`.
    pub fn new(table: Arc<TableFile>, rows: Vec<u32>, prep: Arc<TablePreprocessing>) -> Self {
        Self { table, rows, prep }
    }

    /// True when the rows carry labels.
    pub fn labelled(&self) -> bool {
        self.table.labelled()
    }
}

/// A batch of table rows: `features` is `[len, features]` row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct TableBatch {
    /// Standardized features.
    pub features: Vec<f32>,
    /// The rows' targets (regression values standardized by `target`).
    pub targets: TableTargets,
    /// How regression values map back to the target's units.
    pub target: TargetScale,
}

impl super::Samples for TableBatch {
    fn samples(&self) -> usize {
        match &self.targets {
            TableTargets::Classes(c) => c.len(),
            TableTargets::Values(v) => v.len(),
            TableTargets::Unlabelled(n) => *n,
        }
    }

    fn slice(&self, range: std::ops::Range<usize>) -> Self {
        let width = self.features.len() / self.samples().max(1);
        let targets = match &self.targets {
            TableTargets::Classes(c) => TableTargets::Classes(c[range.clone()].to_vec()),
            TableTargets::Values(v) => TableTargets::Values(v[range.clone()].to_vec()),
            TableTargets::Unlabelled(_) => TableTargets::Unlabelled(range.len()),
        };
        TableBatch {
            features: self.features[range.start * width..range.end * width].to_vec(),
            targets,
            target: self.target,
        }
    }
}

impl BatchSource for TableRows {
    type Batch = TableBatch;

    fn len(&self) -> usize {
        self.rows.len()
    }

    fn read_batch(&self, indices: &[u32]) -> Result<TableBatch, DataError> {
        let f = self.prep.features.len();
        let mut raw = vec![0f64; f];
        let mut features = Vec::with_capacity(indices.len() * f);
        for &i in indices {
            self.table
                .read_features(self.rows[i as usize] as usize, &mut raw)?;
            features.extend(
                raw.iter()
                    .zip(&self.prep.mean)
                    .zip(&self.prep.std)
                    .map(|((x, m), s)| ((x - m) / s) as f32),
            );
        }
        let rows = indices.iter().map(|&i| self.rows[i as usize] as usize);
        let targets = match self.table.targets() {
            TableTargets::Classes(c) => TableTargets::Classes(rows.map(|r| c[r]).collect()),
            TableTargets::Values(v) => {
                let scale = &self.prep.target;
                let standardized = rows.map(|r| scale.standardized(f64::from(v[r])) as f32);
                TableTargets::Values(standardized.collect())
            }
            TableTargets::Unlabelled(_) => TableTargets::Unlabelled(indices.len()),
        };
        Ok(TableBatch {
            features,
            targets,
            target: self.prep.target,
        })
    }
}

/// Train/validation/test rows of one table, with preprocessing fitted on the train rows.
#[derive(Debug)]
pub struct TableSplits {
    /// Training rows.
    pub train: TableRows,
    /// Validation rows.
    pub valid: TableRows,
    /// Test rows.
    pub test: TableRows,
    /// The fitted transform (save it with the run).
    pub preprocessing: Arc<TablePreprocessing>,
}

impl TableSplits {
    /// Shuffles the rows with `seed` and holds out `test_fraction`, then `valid_fraction` of the
    /// rest; the split depends only on (seed, row count). Standardization is fitted on the
    /// training rows.
    pub fn open(
        path: &Path,
        spec: &TableSpec,
        valid_fraction: f64,
        test_fraction: f64,
        seed: u64,
    ) -> Result<Self, DataError> {
        Self::open_with(path, spec, (valid_fraction, test_fraction), seed, None)
    }

    /// [`TableSplits::open`] with a run's saved preprocessing (`None` fits it).
    pub fn open_with(
        path: &Path,
        spec: &TableSpec,
        (valid_fraction, test_fraction): (f64, f64),
        seed: u64,
        saved: Option<TablePreprocessing>,
    ) -> Result<Self, DataError> {
        let table = match &saved {
            Some(p) => {
                let spec = TableSpec {
                    features: p.features.clone(),
                    ..spec.clone()
                };
                TableFile::open(path, &spec, Some(&p.classes))?
            }
            None => TableFile::open(path, spec, None)?,
        };
        if saved.is_none() && spec.task == TableTask::Classification && table.classes().len() < 2 {
            // One class trains a constant model that scores 100%: nothing was learned.
            return Err(DataError::Format {
                path: path.to_path_buf(),
                message: format!(
                    "label column `{}` holds {} class{} ({}); classification needs at least 2 (for a numeric target set data.task = \"regression\")",
                    spec.label,
                    table.classes().len(),
                    if table.classes().len() == 1 { "" } else { "es" },
                    table.classes().join(", ")
                ),
            });
        }
        let table = Arc::new(table);
        let (rest, test) = split_indices(table.rows(), test_fraction, seed);
        let (train_pos, valid_pos) = split_indices(
            rest.len(),
            valid_fraction / (1.0 - test_fraction).max(1e-9),
            seed ^ 0x5EED,
        );
        let pick =
            |pos: Vec<u32>| -> Vec<u32> { pos.into_iter().map(|p| rest[p as usize]).collect() };
        let (train, valid) = (pick(train_pos), pick(valid_pos));
        let prep = Arc::new(match saved {
            Some(p) => p,
            None => table.fit_preprocessing(&train, &spec.label, spec.task)?,
        });
        Ok(Self {
            train: TableRows::new(table.clone(), train, prep.clone()),
            valid: TableRows::new(table.clone(), valid, prep.clone()),
            test: TableRows::new(table, test, prep.clone()),
            preprocessing: prep,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{BatchList, Loader, LoaderSettings};

    fn spec(task: TableTask) -> TableSpec {
        TableSpec {
            label: "y".into(),
            task,
            features: Vec::new(),
        }
    }

    #[test]
    fn standardization_is_fitted_on_train_rows_and_saved() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.csv");
        let mut text = String::from("a,y,b\n");
        for i in 0..100 {
            text += &format!("{},{},\"{}\"\n", i, ["cat", "ant", "bee"][i % 3], 2 * i + 1);
        }
        std::fs::write(&p, text).unwrap();
        let s = TableSplits::open(&p, &spec(TableTask::Classification), 0.2, 0.1, 4).unwrap();
        assert_eq!((s.train.len(), s.valid.len(), s.test.len()), (70, 20, 10));
        let prep = &s.preprocessing;
        assert_eq!(prep.features, ["a", "b"]);
        assert_eq!(prep.classes, ["ant", "bee", "cat"]);
        let train_a: Vec<f64> = s.train.rows.iter().map(|&r| r as f64).collect();
        let mean = train_a.iter().sum::<f64>() / 70.0;
        assert!((prep.mean[0] - mean).abs() < 1e-9);
        let var = train_a.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / 70.0;
        assert!((prep.std[0] - var.sqrt()).abs() < 1e-9);
        assert!((prep.mean[1] - (2.0 * mean + 1.0)).abs() < 1e-9);
        let b = s.test.read_batch(&[0]).unwrap();
        let row = s.test.rows[0] as usize;
        assert!((b.features[0] as f64 - (row as f64 - mean) / prep.std[0]).abs() < 1e-5);
        assert_eq!(b.targets, TableTargets::Classes(vec![[2, 0, 1][row % 3]]));

        let saved = dir.path().join(PREPROCESSING_FILE);
        prep.save(&saved).unwrap();
        assert_eq!(&TablePreprocessing::load(&saved).unwrap(), &**prep);
    }

    #[test]
    fn loader_yields_the_same_rows_for_any_worker_count() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.csv");
        let mut text = String::from("x1,x2,y\n");
        for i in 0..500 {
            text += &format!("{},{},{}\n", i % 17, (i * 3) % 11, i as f64 * 0.5);
        }
        std::fs::write(&p, text).unwrap();
        let s = TableSplits::open(&p, &spec(TableTask::Regression), 0.1, 0.1, 1).unwrap();
        let rows = Arc::new(s.train);
        let run = |workers| -> Vec<TableBatch> {
            let list = BatchList::new(crate::data::epoch_order(2, 0, rows.len()), 32, false);
            let settings = LoaderSettings {
                workers,
                prefetch: 3,
            };
            Loader::start(rows.clone(), list, 0, settings)
                .map(|r| r.unwrap().1)
                .collect()
        };
        let one = run(1);
        assert_eq!(one.iter().map(|b| b.features.len() / 2).sum::<usize>(), 400);
        // The target is standardized with the training rows' mean and std, and maps back.
        let ys: Vec<f64> = rows.rows.iter().map(|&r| r as f64 * 0.5).collect();
        let mean = ys.iter().sum::<f64>() / ys.len() as f64;
        let std = (ys.iter().map(|y| (y - mean).powi(2)).sum::<f64>() / ys.len() as f64).sqrt();
        let t = s.preprocessing.target;
        assert!((t.mean - mean).abs() < 1e-9 && (t.std - std).abs() < 1e-9);
        let b = rows.read_batch(&[0]).unwrap();
        let TableTargets::Values(v) = &b.targets else {
            panic!("regression targets")
        };
        assert!((t.original(f64::from(v[0])) - ys[0]).abs() < 1e-4);
        assert_eq!(run(2), one);
        assert_eq!(run(8), one);
    }

    #[test]
    fn bundled_uci_tables_load_with_inferred_schemas() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/tabular");
        let spec = |label: &str| TableSpec {
            label: label.into(),
            task: TableTask::Classification,
            features: Vec::new(),
        };
        let wine =
            TableSplits::open(&dir.join("wine.csv"), &spec("cultivar"), 0.1, 0.2, 42).unwrap();
        let p = &wine.preprocessing;
        assert_eq!(
            (p.features.len(), p.classes.clone()),
            (
                13,
                vec!["class_0".to_string(), "class_1".into(), "class_2".into()]
            )
        );
        assert_eq!(wine.train.len() + wine.valid.len() + wine.test.len(), 178);
        let b = wine
            .train
            .read_batch(&(0..wine.train.len() as u32).collect::<Vec<_>>())
            .unwrap();
        let mean0 = b
            .features
            .iter()
            .step_by(13)
            .map(|&x| x as f64)
            .sum::<f64>()
            / wine.train.len() as f64;
        assert!(
            mean0.abs() < 1e-5,
            "standardized on the training rows: mean {mean0}"
        );
        let cancer =
            TableFile::open(&dir.join("breast_cancer.csv"), &spec("diagnosis"), None).unwrap();
        assert_eq!((cancer.rows(), cancer.features().len()), (569, 30));
        assert_eq!(cancer.classes(), ["benign", "malignant"]);
    }

    #[test]
    fn bad_rows_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.csv");
        let open = |text: &str, task| {
            std::fs::write(&p, text).unwrap();
            TableFile::open(&p, &spec(task), None)
                .unwrap_err()
                .to_string()
        };
        let e = open("a,y\n1,2\n3\n", TableTask::Regression);
        assert!(
            e.contains("bad.csv") && e.contains("line 3: 1 fields, expected 2"),
            "{e}"
        );
        let e = open("a,y\n1,2\nx,3\n", TableTask::Regression);
        assert!(e.contains("line 3, column `a`: `x` is not a number"), "{e}");
        let e = open("a,y\n1,two\n", TableTask::Regression);
        assert!(
            e.contains("line 2, column `y`: `two` is not a number"),
            "{e}"
        );
        let e = open("", TableTask::Regression);
        assert!(e.contains("empty file"), "{e}");
        let e = open("a,y\n", TableTask::Classification);
        assert!(e.contains("no data rows"), "{e}");
        let e = open("a,z\n1,2\n", TableTask::Classification);
        assert!(e.contains("no column `y`; the header has: a, z"), "{e}");
        std::fs::write(&p, "a,y\n1,cat\n2,dog\n").unwrap();
        let classes = ["cat".to_string()];
        let e = TableFile::open(&p, &spec(TableTask::Classification), Some(&classes))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 3: unknown label `dog`; the run's classes are cat"),
            "{e}"
        );
        // CRLF line ends count lines exactly; empty labels and repeated names are refused.
        let e = open("a,y\r\n1,2\r\nx,3\r\n", TableTask::Regression);
        assert!(e.contains("line 3, column `a`: `x` is not a number"), "{e}");
        let e = open("a,y\r\n1,2\r\n3\r\n", TableTask::Regression);
        assert!(e.contains("line 3: 1 fields, expected 2"), "{e}");
        let e = open("a,y\n1,cat\n2, \n", TableTask::Classification);
        assert!(e.contains("line 3, column `y`: empty label"), "{e}");
        let e = open("a,y,a\n1,cat,2\n", TableTask::Classification);
        assert!(e.contains("line 1: column 3 repeats the name `a`"), "{e}");
        // CRLF rows still read back right after the checks.
        std::fs::write(&p, "a,y\r\n1,cat\r\n2,dog\r\n").unwrap();
        let t = TableFile::open(&p, &spec(TableTask::Classification), None).unwrap();
        let mut out = [0.0];
        t.read_features(1, &mut out).unwrap();
        assert_eq!(out, [2.0]);
    }

    #[test]
    fn a_label_column_of_one_class_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("one.csv");
        std::fs::write(&path, "a,b,y\n1,2,cat\n3,4,cat\n5,6,cat\n").unwrap();
        let Err(e) = TableSplits::open(&path, &spec(TableTask::Classification), 0.0, 0.0, 1) else {
            panic!("a one-class label column was accepted");
        };
        let e = e.to_string();
        assert!(
            e.contains("one.csv") && e.contains("1 class (cat)") && e.contains("at least 2"),
            "{e}"
        );
    }
}
