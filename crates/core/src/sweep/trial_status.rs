//! What a sweep made of one trial: its run's [`RunStatus`](crate::train::RunStatus) read
//! through the sweep's own decisions (not started yet, stopped early by halving).

use crate::train::RunStatus;
use serde::{Deserialize, Serialize};

/// What one trial ended as (the journal's `trial_ended` status, the sweep table's column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrialStatus {
    /// Not started, or interrupted: runs (again, resuming) next time. Never journaled.
    Pending,
    /// Trained to the end.
    Finished,
    /// Stopped early by successive halving.
    #[serde(rename = "stopped early")]
    Stopped,
    /// The run failed.
    Failed,
}

impl TrialStatus {
    /// The trial's status from its run's (`None`: no run directory yet) and whether the sweep
    /// pruned it.
    pub fn of(run: Option<RunStatus>, pruned: bool) -> Self {
        match run {
            _ if pruned => Self::Stopped,
            Some(RunStatus::Finished) => Self::Finished,
            Some(RunStatus::Failed) => Self::Failed,
            Some(RunStatus::Killed | RunStatus::Incomplete) | None => Self::Pending,
        }
    }

    /// Its name in tables and the journal.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Finished => "finished",
            Self::Stopped => "stopped early",
            Self::Failed => "failed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_names_are_the_table_names() {
        for s in [
            TrialStatus::Finished,
            TrialStatus::Stopped,
            TrialStatus::Failed,
        ] {
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.name()));
            assert_eq!(serde_json::from_str::<TrialStatus>(&json).unwrap(), s);
        }
    }

    #[test]
    fn pruning_wins_and_unfinished_runs_are_pending() {
        assert_eq!(
            TrialStatus::of(Some(RunStatus::Finished), true),
            TrialStatus::Stopped
        );
        assert_eq!(
            TrialStatus::of(Some(RunStatus::Killed), false),
            TrialStatus::Pending
        );
        assert_eq!(TrialStatus::of(None, false), TrialStatus::Pending);
        assert_eq!(
            TrialStatus::of(Some(RunStatus::Failed), false),
            TrialStatus::Failed
        );
    }
}
