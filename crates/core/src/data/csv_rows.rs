//! A CSV file read row by row with the checks every CSV reader here needs: a header, and rows
//! as wide as the header; errors name the file and line.

use super::{DataError, PositionalFile, open_regular};
use std::fs::File;
use std::path::{Path, PathBuf};

/// Where a row starts: its CSV line number and byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct RowStart {
    /// 1-based line (the header is line 1).
    pub line: u64,
    /// Byte offset of the row's first byte.
    pub byte: u64,
}

/// Rows of a CSV file after its header.
pub(super) struct CsvRows {
    path: PathBuf,
    reader: csv::Reader<File>,
    /// The same file, for a look at single bytes (see `next_row`).
    peek: PositionalFile,
    header: Vec<String>,
    record: csv::StringRecord,
}

impl CsvRows {
    /// Opens `path` and reads its header (names trimmed).
    pub fn open(path: &Path) -> Result<Self, DataError> {
        let fmt = |message: String| DataError::Format {
            path: path.to_path_buf(),
            message,
        };
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .from_reader(open_regular(path)?);
        let header: Vec<String> = reader
            .headers()
            .map_err(|e| fmt(format!("line 1: {e}")))?
            .iter()
            .map(|h| h.trim().to_string())
            .collect();
        if let Some((i, name)) = header
            .iter()
            .enumerate()
            .find(|(i, h)| header[..*i].contains(h))
        {
            return Err(fmt(format!(
                "line 1: column {} repeats the name `{name}`; column names must be unique",
                i + 1
            )));
        }
        Ok(Self {
            path: path.to_path_buf(),
            reader,
            peek: PositionalFile::open(path)?,
            header,
            record: csv::StringRecord::new(),
        })
    }

    /// Column names.
    pub fn header(&self) -> &[String] {
        &self.header
    }

    /// Reads the next row (then available as `record`); `None` at the end of the file.
    pub fn next_row(&mut self) -> Result<Option<RowStart>, DataError> {
        let pos = self.reader.position();
        let mut start = RowStart {
            line: pos.line(),
            byte: pos.byte(),
        };
        // After a CRLF the reader stands on the "\n", its line count not yet past it.
        let mut next = [0u8];
        if start.byte < self.peek.len() {
            self.peek.read_exact_at(&mut next, start.byte)?;
            if next[0] == b'\n' {
                (start.line, start.byte) = (start.line + 1, start.byte + 1);
            }
        }
        let more = self
            .reader
            .read_record(&mut self.record)
            .map_err(|e| self.error(start.line, None, e))?;
        if !more {
            return Ok(None);
        }
        if self.record.len() != self.header.len() {
            return Err(self.error(
                start.line,
                None,
                format!(
                    "{} fields, expected {} like the header",
                    self.record.len(),
                    self.header.len()
                ),
            ));
        }
        Ok(Some(start))
    }

    /// The row read last.
    pub fn record(&self) -> &csv::StringRecord {
        &self.record
    }

    /// Byte offset just past the rows read so far (the file's end after the last row).
    pub fn end_byte(&self) -> u64 {
        self.reader.position().byte()
    }

    /// A format error naming the file, `line` and, if given, the column.
    pub fn error(
        &self,
        line: u64,
        column: Option<&str>,
        what: impl std::fmt::Display,
    ) -> DataError {
        let at = match column {
            Some(c) => format!("line {line}, column `{c}`"),
            None => format!("line {line}"),
        };
        DataError::Format {
            path: self.path.clone(),
            message: format!("{at}: {what}"),
        }
    }
}
