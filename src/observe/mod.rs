//! Event consumers at the edge: the run journal and the progress display.

mod journal;
mod plot;
mod progress;

pub use journal::{Journal, JournalLine, append_event, now_ms};
pub use plot::{PlotError, loss_curve_png};
pub use progress::Progress;
