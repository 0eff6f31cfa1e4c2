//! Event consumers at the edge: the run journal and the progress display.

mod journal;
mod progress;

pub use journal::{Journal, append_event, now_ms};
pub use progress::Progress;
