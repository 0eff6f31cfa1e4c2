//! Event consumers at the edge: the run journal and the progress display.

mod canvas;
mod journal;
mod metric_points;
mod plot;
mod progress;
mod scatter;

pub use journal::{Journal, JournalLine, append_event, now_ms};
pub use metric_points::{MAX_KEY_LEN, Point, metrics_of, sanitize_key};
pub use plot::{PlotError, loss_curve_png};
pub use progress::Progress;
pub use scatter::scatter_png;
