//! Why a job failed, sorted by who is at fault (the exit code follows).

use crate::exit::Exit;
use crate::train::TrainError;

/// A job's failure: the user's input, the run, or the training core.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// A checkpoint, data file or request that cannot be used (exit 2).
    #[error("{0}")]
    Input(String),
    /// A failure while running, e.g. writing the output (exit 1).
    #[error("{0}")]
    Runtime(String),
    /// A failure inside the training core (its own sorting decides the exit code).
    #[error(transparent)]
    Train(#[from] TrainError),
}

impl JobError {
    /// Bad input, with the message of `e` and its sources.
    pub fn input(e: impl std::error::Error) -> Self {
        JobError::Input(error_chain(&e))
    }

    /// A run-time failure, with the message of `e` and its sources.
    pub fn runtime(e: impl std::error::Error) -> Self {
        JobError::Runtime(error_chain(&e))
    }

    /// The exit code this failure ends the process with.
    pub fn exit(&self) -> Exit {
        match self {
            JobError::Input(_) => Exit::BadInput,
            JobError::Runtime(_) => Exit::Failure,
            JobError::Train(e) if e.is_bad_input() => Exit::BadInput,
            JobError::Train(_) => Exit::Failure,
        }
    }
}

/// An error and its sources on one line, `outer: inner: ...` (as `anyhow`'s `{:#}`).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.ends_with(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}
