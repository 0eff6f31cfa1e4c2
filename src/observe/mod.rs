//! Event consumers at the edge: the run journal and the progress display.

mod journal;
mod progress;

pub use journal::{Journal, append_event};
pub use progress::Progress;
