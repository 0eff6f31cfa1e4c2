//! `trainer data inspect`: what a dataset file or directory holds, read the way training reads
//! it (so a file that inspects cleanly also loads).

use super::csv_rows::CsvRows;
use super::parquet_table::{self, ParquetTable};
use super::{DataError, IdxFile, IdxKind, cache};
use std::collections::BTreeMap;
use std::path::Path;

/// A description of a dataset: its format and (field, value) rows in display order.
#[derive(Debug, Clone, PartialEq)]
pub struct Inspection {
    /// Detected format.
    pub format: &'static str,
    /// Named facts: samples, shapes, label balance, columns.
    pub rows: Vec<(String, String)>,
}

/// Inspects a dataset directory (IDX pair, CIFAR-10 batches, an image folder, token shards or
/// Parquet parts) or a single file (IDX, CIFAR-10 `.bin`, `.csv`, Parquet, or UTF-8 text).
pub fn inspect(path: &Path) -> Result<Inspection, DataError> {
    if parquet_table::is_parquet(path) {
        return parquet(path);
    }
    if path.is_dir() {
        return inspect_dir(path);
    }
    drop(super::positional::open_regular(path)?);
    let name = path
        .file_name()
        .map_or(String::new(), |n| n.to_string_lossy().into_owned());
    if name.contains("-idx3-ubyte") {
        return idx_images(path);
    }
    if name.contains("-idx1-ubyte") {
        return idx_labels(path);
    }
    if name.ends_with(".bin") {
        return cifar(&[path.to_path_buf()]);
    }
    if name.ends_with(".csv") {
        return csv_table(path);
    }
    if cache::is_gzip(path)? {
        return Err(DataError::Format {
            path: path.to_path_buf(),
            message:
                "a gzipped file that is not named like IDX (`*-idx3-ubyte.gz`, `*-idx1-ubyte.gz`)"
                    .into(),
        });
    }
    text(path)
}

fn inspect_dir(dir: &Path) -> Result<Inspection, DataError> {
    let has = |stem: &str| dir.join(stem).is_file() || dir.join(format!("{stem}.gz")).is_file();
    if has("train-images-idx3-ubyte") {
        let mut rows = Vec::new();
        for prefix in ["train", "t10k"] {
            let images = IdxFile::open(
                &super::idx_dataset::find(dir, &format!("{prefix}-images-idx3-ubyte"))?,
                IdxKind::Images,
            )?;
            let labels = IdxFile::open(
                &super::idx_dataset::find(dir, &format!("{prefix}-labels-idx1-ubyte"))?,
                IdxKind::Labels,
            )?;
            rows.push((format!("{prefix} samples"), images.count().to_string()));
            rows.push((
                format!("{prefix} shape"),
                format!("1x{}x{}", images.item_dims()[0], images.item_dims()[1]),
            ));
            rows.push((format!("{prefix} labels"), balance(&labels.read_all()?)));
            if images.count() != labels.count() {
                rows.push((
                    format!("{prefix} problem"),
                    format!("{} images but {} labels", images.count(), labels.count()),
                ));
            }
        }
        return Ok(Inspection {
            format: "IDX image dataset (MNIST layout)",
            rows,
        });
    }
    // Before CIFAR-10's `*.bin`: nanoGPT's shards are `.bin` files too.
    if dir.join("train.bin").is_file() {
        return token_shards(dir);
    }
    let mut batches: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| DataError::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "bin"))
        .collect();
    batches.sort();
    if !batches.is_empty() {
        return cifar(&batches);
    }
    if let Some(report) = super::image_folder::inspect_image_folder(dir)? {
        return Ok(report);
    }
    Err(DataError::Format {
        path: dir.to_path_buf(),
        message: "not a dataset directory: expected train-images-idx3-ubyte[.gz] (IDX), *.bin (CIFAR-10) or <class>/<image files> (image folder)".into(),
    })
}

/// Token shards: tokens per shard, the id type, the largest id and the vocabulary size.
fn token_shards(dir: &Path) -> Result<Inspection, DataError> {
    let s = super::TokenShards::open(dir, None)?;
    let mut rows = vec![
        ("dtype".to_string(), format!("uint{}", 8 * s.width.bytes())),
        ("vocab size".to_string(), s.vocab_size.to_string()),
    ];
    for (name, shard) in [
        ("train.bin", Some(&s.train)),
        ("val.bin", Some(&s.val)),
        ("test.bin", s.test.as_ref()),
    ] {
        if let Some(shard) = shard {
            rows.push((
                name.to_string(),
                format!("{} tokens, largest id {}", shard.tokens, shard.max_id),
            ));
        }
    }
    Ok(Inspection {
        format: "token shards (nanoGPT layout)",
        rows,
    })
}

fn idx_images(path: &Path) -> Result<Inspection, DataError> {
    let f = IdxFile::open(path, IdxKind::Images)?;
    Ok(Inspection {
        format: "IDX images (idx3)",
        rows: vec![
            ("samples".into(), f.count().to_string()),
            (
                "shape".into(),
                format!("1x{}x{}", f.item_dims()[0], f.item_dims()[1]),
            ),
        ],
    })
}

fn idx_labels(path: &Path) -> Result<Inspection, DataError> {
    let f = IdxFile::open(path, IdxKind::Labels)?;
    Ok(Inspection {
        format: "IDX labels (idx1)",
        rows: vec![
            ("samples".into(), f.count().to_string()),
            ("labels".into(), balance(&f.read_all()?)),
        ],
    })
}

fn cifar(paths: &[std::path::PathBuf]) -> Result<Inspection, DataError> {
    let norm = super::Normalize {
        mean: 0.0,
        std: 1.0,
    };
    let mut rows = Vec::new();
    for p in paths {
        let d = super::CifarDataset::open(std::slice::from_ref(p), norm)?;
        let name = p
            .file_name()
            .map_or(String::new(), |n| n.to_string_lossy().into_owned());
        let labels = d.labels();
        rows.push((
            name,
            format!(
                "{} samples, 3x32x32, labels {}",
                labels.len(),
                balance(labels)
            ),
        ));
    }
    Ok(Inspection {
        format: "CIFAR-10 binary batches",
        rows,
    })
}

fn csv_table(path: &Path) -> Result<Inspection, DataError> {
    let mut csv = CsvRows::open(path)?;
    let mut columns = ColumnStats::new(csv.header().to_vec());
    while csv.next_row()?.is_some() {
        columns.push_row(csv.record().iter().map(|v| Some(v.trim().to_string())));
    }
    Ok(Inspection {
        format: "CSV table",
        rows: columns.rows(Vec::new()),
    })
}

fn parquet(path: &Path) -> Result<Inspection, DataError> {
    let table = ParquetTable::open(path)?;
    let mut columns = ColumnStats::new(table.header().to_vec());
    table.for_each_row(|_, values| {
        columns.push_row(values.iter().map(|v| parquet_table::text(v)));
        Ok(())
    })?;
    let layout = vec![
        ("parts".to_string(), table.parts().len().to_string()),
        ("row groups".to_string(), table.row_groups()?.to_string()),
    ];
    Ok(Inspection {
        format: "Parquet table",
        rows: columns.rows(layout),
    })
}

/// Per column of a table: numeric min/max, or the distinct values (capped) of a text column,
/// and the nulls (Parquet).
struct ColumnStats {
    header: Vec<String>,
    numeric: Vec<(bool, f64, f64)>,
    distinct: Vec<BTreeMap<String, usize>>,
    nulls: Vec<usize>,
    rows: usize,
}

impl ColumnStats {
    fn new(header: Vec<String>) -> Self {
        let n = header.len();
        Self {
            header,
            numeric: vec![(true, f64::INFINITY, f64::NEG_INFINITY); n],
            distinct: vec![BTreeMap::new(); n],
            nulls: vec![0; n],
            rows: 0,
        }
    }

    /// One row's values in column order (None: null).
    fn push_row(&mut self, values: impl Iterator<Item = Option<String>>) {
        self.rows += 1;
        for (c, v) in values.enumerate().take(self.header.len()) {
            let Some(v) = v else {
                self.nulls[c] += 1;
                continue;
            };
            match v.parse::<f64>() {
                Ok(x) if self.numeric[c].0 => {
                    self.numeric[c].1 = self.numeric[c].1.min(x);
                    self.numeric[c].2 = self.numeric[c].2.max(x);
                }
                _ => self.numeric[c].0 = false,
            }
            let distinct = &mut self.distinct[c];
            if distinct.len() < 50 || distinct.contains_key(&v) {
                *distinct.entry(v).or_default() += 1;
            }
        }
    }

    /// The report: row and column counts, `layout`, then a line per column.
    fn rows(self, layout: Vec<(String, String)>) -> Vec<(String, String)> {
        let mut out = vec![
            ("rows".to_string(), self.rows.to_string()),
            ("columns".to_string(), self.header.len().to_string()),
        ];
        out.extend(layout);
        for (c, h) in self.header.iter().enumerate() {
            let (numeric, lo, hi) = self.numeric[c];
            let mut desc = if numeric && self.rows > self.nulls[c] {
                format!("number, {lo} to {hi}")
            } else {
                let counts: Vec<String> = self.distinct[c]
                    .iter()
                    .take(10)
                    .map(|(k, n)| format!("{k}: {n}"))
                    .collect();
                let more = if self.distinct[c].len() > 10 {
                    ", ..."
                } else {
                    ""
                };
                format!(
                    "text, {} distinct ({}{more})",
                    self.distinct[c].len(),
                    counts.join(", ")
                )
            };
            if self.nulls[c] > 0 {
                desc.push_str(&format!(", {} null", self.nulls[c]));
            }
            out.push((format!("column {h}"), desc));
        }
        out
    }
}

fn text(path: &Path) -> Result<Inspection, DataError> {
    let (mut lines, mut distinct) = (0usize, std::collections::BTreeSet::new());
    let characters = super::text::scan(path, |c| {
        lines += usize::from(c == '\n');
        distinct.insert(c);
    })?;
    if characters == 0 {
        return Err(DataError::Format {
            path: path.to_path_buf(),
            message: "empty file, expected UTF-8 text".into(),
        });
    }
    Ok(Inspection {
        format: "UTF-8 text (character-level)",
        rows: vec![
            ("characters".into(), characters.to_string()),
            ("lines".into(), lines.to_string()),
            (
                "vocabulary".into(),
                format!("{} distinct characters", distinct.len()),
            ),
        ],
    })
}

/// `0: 600 (10.0%), 1: ...` for a list of labels.
fn balance(labels: &[u8]) -> String {
    let mut counts = BTreeMap::new();
    for &l in labels {
        *counts.entry(l).or_insert(0usize) += 1;
    }
    let n = labels.len().max(1) as f64;
    counts
        .iter()
        .map(|(l, c)| format!("{l}: {c} ({:.1}%)", 100.0 * *c as f64 / n))
        .collect::<Vec<_>>()
        .join(", ")
}
