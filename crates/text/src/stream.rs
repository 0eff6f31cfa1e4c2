//! UTF-8 text files read as one stream of chunks, each in one split: the stream's first
//! `1 - valid - test` of its bytes is training text, then validation, then test (nanoGPT's
//! contiguous split), cut at line ends. Memory holds one chunk.

use crate::TextError;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;

/// Bytes a chunk grows to before it is handed on (it ends at a line end, or inside a longer
/// line at a character boundary).
pub const CHUNK_BYTES: usize = 1 << 18;

/// Where the splits begin, in bytes of the whole stream.
#[derive(Debug, Clone, Copy)]
pub struct SplitPoints {
    /// First byte of the validation text.
    pub valid: u64,
    /// First byte of the test text.
    pub test: u64,
}

impl SplitPoints {
    /// The points for `total` bytes with these fractions held out at the end.
    pub fn new(total: u64, valid_fraction: f64, test_fraction: f64) -> Self {
        let held = (total as f64 * (valid_fraction + test_fraction)).round() as u64;
        let test = (total as f64 * test_fraction).round() as u64;
        Self {
            valid: total - held.min(total),
            test: total - test.min(total),
        }
    }

    /// The split (0 train, 1 validation, 2 test) of a line starting at byte `at`.
    fn split(&self, at: u64) -> usize {
        usize::from(at >= self.valid) + usize::from(at >= self.test)
    }
}

/// Part of one line: its split, where it starts in its file, its bytes.
type Piece = (usize, u64, Vec<u8>);

/// The chunks of a list of files.
pub struct Chunks {
    files: std::vec::IntoIter<PathBuf>,
    current: Option<(PathBuf, BufReader<File>, u64)>,
    points: SplitPoints,
    /// Bytes of the stream before the current file.
    offset: u64,
    /// A line read but not yet handed on (it starts the next chunk).
    held: Option<Piece>,
}

impl Chunks {
    /// Reads `files` in order as one stream split at `points`.
    pub fn new(files: Vec<PathBuf>, points: SplitPoints) -> Self {
        Self {
            files: files.into_iter(),
            current: None,
            points,
            offset: 0,
            held: None,
        }
    }

    /// The next piece of one line (at most `CHUNK_BYTES`), with its split; None at the end.
    fn next_piece(&mut self) -> Result<Option<Piece>, TextError> {
        if let Some(held) = self.held.take() {
            return Ok(Some(held));
        }
        loop {
            if self.current.is_none() {
                let Some(path) = self.files.next() else {
                    return Ok(None);
                };
                let file = File::open(&path).map_err(|e| TextError::io(&path, e))?;
                self.current = Some((path, BufReader::new(file), 0));
            }
            let Some((path, reader, read)) = self.current.as_mut() else {
                continue;
            };
            let mut piece = Vec::new();
            let n = reader
                .by_ref()
                .take(CHUNK_BYTES as u64)
                .read_until(b'\n', &mut piece)
                .map_err(|e| TextError::io(path, e))?;
            if n == 0 {
                self.offset += *read;
                self.current = None;
                continue;
            }
            // A piece cut inside a long line may end inside a character: finish it.
            while std::str::from_utf8(&piece).is_err_and(|e| e.error_len().is_none()) {
                let mut byte = [0u8];
                match reader.read(&mut byte).map_err(|e| TextError::io(path, e))? {
                    0 => break,
                    _ => piece.push(byte[0]),
                }
            }
            let start = *read;
            *read += piece.len() as u64;
            return Ok(Some((self.points.split(self.offset + start), start, piece)));
        }
    }

    /// The next chunk: whole lines of one split up to about `CHUNK_BYTES`, as text. A file
    /// that is not UTF-8 is an error naming it and the byte.
    pub fn next_chunk(&mut self) -> Result<Option<(usize, String)>, TextError> {
        let Some((split, start, mut bytes)) = self.next_piece()? else {
            return Ok(None);
        };
        let path = self.current.as_ref().map(|(p, ..)| p.clone());
        while bytes.len() < CHUNK_BYTES {
            match self.next_piece()? {
                Some((s, _, more)) if s == split && self.same_file(path.as_ref()) => {
                    bytes.extend_from_slice(&more)
                }
                Some(other) => {
                    self.held = Some(other);
                    break;
                }
                None => break,
            }
        }
        let text = String::from_utf8(bytes).map_err(|e| {
            let at = start + e.utf8_error().valid_up_to() as u64 + 1;
            let path = path.unwrap_or_default();
            TextError::format(&path, format!("byte {at}: not valid UTF-8 text"))
        })?;
        Ok(Some((split, text)))
    }

    fn same_file(&self, path: Option<&PathBuf>) -> bool {
        self.current.as_ref().map(|(p, ..)| p) == path
    }
}
