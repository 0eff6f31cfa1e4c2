//! Standard output that never panics: `println!` panics when stdout is a closed pipe
//! (`trainer runs ls | head -1`) or a full disk (`> /dev/full`). Output written through
//! [`outln!`](crate::outln) stops at the first failed write and the failure is remembered, so
//! training goes on and the command decides at its end what the failure means.

use std::io::{ErrorKind, Write};
use std::sync::Mutex;

/// The first error writing to stdout, if any (later output is dropped).
static FAILED: Mutex<Option<ErrorKind>> = Mutex::new(None);

/// Writes `args` and a newline to stdout; after a failed write, does nothing.
pub fn write_line(args: std::fmt::Arguments<'_>) {
    let Ok(mut failed) = FAILED.lock() else {
        return;
    };
    if failed.is_some() {
        return;
    }
    let mut out = std::io::stdout().lock();
    let result = out
        .write_fmt(args)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    if let Err(e) = result {
        tracing::debug!("stdout: {e}; further output is dropped");
        *failed = Some(e.kind());
    }
}

/// Whether stdout is gone (closed pipe or write error): long outputs can stop early.
pub fn closed() -> bool {
    FAILED.lock().map(|f| f.is_some()).unwrap_or(true)
}

/// A failed stdout write that lost output: None when every write succeeded or the reader
/// closed the pipe (it asked for no more, like `head`), else what went wrong.
pub fn lost_output() -> Option<std::io::Error> {
    match *FAILED.lock().ok()? {
        None | Some(ErrorKind::BrokenPipe) => None,
        Some(kind) => Some(std::io::Error::from(kind)),
    }
}

/// `println!` that never panics: see the module doc.
#[macro_export]
macro_rules! outln {
    () => {
        $crate::console::write_line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::console::write_line(format_args!($($arg)*))
    };
}
