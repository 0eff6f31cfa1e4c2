//! Hyperparameter search: a space file names the keys to search and the metric to optimize;
//! each trial is a normal run with its values set. The trial list is a function of the seed,
//! poor trials can be stopped early by successive halving, and the sweep's own state lets a
//! rerun finish it without repeating a finished trial.

mod halving;
mod space;
mod state;
mod trial_status;

pub use halving::{rungs, stops};
pub use space::{DEFAULT_TRIALS, Dim, EarlyStopping, Mode, SpaceError, SweepSpec, Trial};
pub use state::{PlannedTrial, STATE_FILE, StateError, SweepState};
pub use trial_status::TrialStatus;
