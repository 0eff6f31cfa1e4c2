//! Parquet tables: one file or a directory of part files (`*.parquet`, sorted by name), read
//! row group by row group through the `parquet` crate's row API, so memory holds one row group
//! of one part at a time, never the table.

use super::DataError;
use super::positional::open_regular;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The four bytes every Parquet file starts (and ends) with.
const MAGIC: &[u8; 4] = b"PAR1";

/// True when `path` is a Parquet file (by its magic bytes) or a directory of `*.parquet` parts.
pub fn is_parquet(path: &Path) -> bool {
    if path.is_dir() {
        return part_files(path).is_ok_and(|p| !p.is_empty());
    }
    let mut head = [0u8; 4];
    open_regular(path)
        .ok()
        .and_then(|mut f| f.read_exact(&mut head).ok())
        .is_some_and(|()| &head == MAGIC)
}

/// The `*.parquet` files of `dir`, sorted by name (hidden files and Spark's `_SUCCESS` and
/// `.crc` files are not parts).
fn part_files(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let entries = std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))?;
    let mut parts: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .map(|n| n.to_string_lossy())
                .is_some_and(|n| !n.starts_with(['.', '_']) && n.ends_with(".parquet"))
        })
        .collect();
    parts.sort();
    Ok(parts)
}

/// A Parquet table: its part files and their shared top-level columns.
#[derive(Debug)]
pub struct ParquetTable {
    parts: Vec<PathBuf>,
    header: Vec<String>,
    /// Per column: `Some(kind)` when it is a struct, list or map (not a flat value).
    nested: Vec<Option<&'static str>>,
    rows: usize,
}

/// Where a row is: its part file and 1-based row number in the table.
#[derive(Debug, Clone, Copy)]
pub struct RowAt<'a> {
    /// The part file holding it.
    pub part: &'a Path,
    /// 1-based over the whole table (all parts).
    pub row: usize,
}

impl RowAt<'_> {
    /// A format error naming the part file, this row and, if given, the column.
    pub fn error(&self, column: Option<&str>, what: impl std::fmt::Display) -> DataError {
        let at = match column {
            Some(c) => format!("row {}, column `{c}`", self.row),
            None => format!("row {}", self.row),
        };
        DataError::Format {
            path: self.part.to_path_buf(),
            message: format!("{at}: {what}"),
        }
    }
}

fn format_error(path: &Path, message: impl std::fmt::Display) -> DataError {
    DataError::Format {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

fn open_reader(path: &Path) -> Result<SerializedFileReader<std::fs::File>, DataError> {
    SerializedFileReader::new(open_regular(path)?)
        .map_err(|e| format_error(path, format!("not a readable Parquet file: {e}")))
}

impl ParquetTable {
    /// Opens `path` (a file or a directory of parts) and reads the footers: every part must have
    /// the first part's columns, in the same order.
    pub fn open(path: &Path) -> Result<Self, DataError> {
        let parts = if path.is_dir() {
            let parts = part_files(path)?;
            if parts.is_empty() {
                return Err(format_error(
                    path,
                    "a directory without *.parquet part files",
                ));
            }
            parts
        } else {
            vec![path.to_path_buf()]
        };
        let (mut header, mut nested, mut rows) = (Vec::new(), Vec::new(), 0usize);
        for (i, part) in parts.iter().enumerate() {
            let reader = open_reader(part)?;
            let meta = reader.metadata().file_metadata();
            let fields = meta.schema().get_fields();
            let names: Vec<String> = fields.iter().map(|f| f.name().to_string()).collect();
            if i == 0 {
                header = names;
                nested = fields.iter().map(|f| nested_kind(f)).collect();
            } else if names != header {
                return Err(format_error(
                    part,
                    format!(
                        "columns [{}] differ from {}'s [{}]; every part needs the same columns",
                        names.join(", "),
                        parts[0].display(),
                        header.join(", ")
                    ),
                ));
            }
            rows += usize::try_from(meta.num_rows()).unwrap_or(0);
        }
        Ok(Self {
            parts,
            header,
            nested,
            rows,
        })
    }

    /// Column names, in schema order.
    pub fn header(&self) -> &[String] {
        &self.header
    }

    /// Rows in all parts (from the footers).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The part files.
    pub fn parts(&self) -> &[PathBuf] {
        &self.parts
    }

    /// Row groups in all parts.
    pub fn row_groups(&self) -> Result<usize, DataError> {
        self.parts.iter().try_fold(0, |n, part| {
            Ok(n + open_reader(part)?.metadata().num_row_groups())
        })
    }

    /// An error when column `c` is a struct, list or map (tables read flat values only).
    pub fn check_flat(&self, c: usize) -> Result<(), DataError> {
        match self.nested[c] {
            None => Ok(()),
            Some(kind) => Err(format_error(
                &self.parts[0],
                format!(
                    "column `{}` is nested (a {kind}); table columns must hold single numbers, or text for a class label",
                    self.header[c]
                ),
            )),
        }
    }

    /// Reads every row in order, one row group at a time, handing `each` the row's values in
    /// column order.
    pub fn for_each_row(
        &self,
        mut each: impl FnMut(RowAt<'_>, &[&Field]) -> Result<(), DataError>,
    ) -> Result<(), DataError> {
        let mut row = 0usize;
        for part in &self.parts {
            let reader = open_reader(part)?;
            let read_error = |row: usize, e: parquet::errors::ParquetError| {
                format_error(part, format!("reading row {}: {e}", row + 1))
            };
            for g in 0..reader.metadata().num_row_groups() {
                let group = reader.get_row_group(g).map_err(|e| read_error(row, e))?;
                for r in group.get_row_iter(None).map_err(|e| read_error(row, e))? {
                    let r = r.map_err(|e| read_error(row, e))?;
                    row += 1;
                    let values: Vec<&Field> = r.get_column_iter().map(|(_, f)| f).collect();
                    each(RowAt { part, row }, &values)?;
                }
            }
        }
        Ok(())
    }
}

/// `Some("struct" | "list" | "map")` for a group column.
fn nested_kind(field: &parquet::schema::types::Type) -> Option<&'static str> {
    use parquet::basic::{ConvertedType, LogicalType};
    if !field.is_group() {
        return None;
    }
    let info = field.get_basic_info();
    Some(match (info.logical_type_ref(), info.converted_type()) {
        (Some(LogicalType::List), _) | (_, ConvertedType::LIST) => "list",
        (Some(LogicalType::Map), _) | (_, ConvertedType::MAP | ConvertedType::MAP_KEY_VALUE) => {
            "map"
        }
        _ => "struct",
    })
}

/// A numeric value as f64 (None for null, text, dates and the like, and non-finite numbers).
pub fn number(field: &Field) -> Option<f64> {
    let v = match *field {
        Field::Bool(b) => f64::from(u8::from(b)),
        Field::Byte(v) => f64::from(v),
        Field::Short(v) => f64::from(v),
        Field::Int(v) => f64::from(v),
        Field::Long(v) => v as f64,
        Field::UByte(v) => f64::from(v),
        Field::UShort(v) => f64::from(v),
        Field::UInt(v) => f64::from(v),
        Field::ULong(v) => v as f64,
        Field::Float16(v) => f64::from(v),
        Field::Float(v) => f64::from(v),
        Field::Double(v) => v,
        _ => return None,
    };
    v.is_finite().then_some(v)
}

/// A value as the text a CSV cell would hold (`5`, `7.4`, `red`); None for null.
pub fn text(field: &Field) -> Option<String> {
    match field {
        Field::Null => None,
        Field::Str(s) => Some(s.trim().to_string()),
        other => Some(number(other).map_or_else(|| other.to_string(), |v| v.to_string())),
    }
}

/// What a value is, for errors: `null`, or the value.
pub fn describe(field: &Field) -> String {
    match field {
        Field::Null => "null".into(),
        Field::Str(s) => format!("`{s}`"),
        other => format!("`{other}`"),
    }
}
