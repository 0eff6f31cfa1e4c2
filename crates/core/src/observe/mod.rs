//! Event consumers at the edge: the run journal, the progress display, and the losses read
//! back for the loss curve.

mod journal;
mod loss_history;
mod metric_points;
mod progress;

pub use journal::{Journal, JournalLine, JournalSender, append_event, now_ms};
pub use loss_history::{LossHistory, LossHistoryError, read_loss_history};
pub use metric_points::{MAX_KEY_LEN, Point, metrics_of, sanitize_key};
pub use progress::Progress;
