//! The process exit codes every command uses, in one place (documented in the README).

/// How a command ended, as the process exit code users and scripts see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The command did what was asked.
    Success = 0,
    /// A failure while running (a backend, disk or network error, a diverged run).
    Failure = 1,
    /// Bad input: a config, data file, checkpoint, flag or unavailable backend.
    BadInput = 2,
    /// Stopped by Ctrl-C or SIGTERM (after saving a checkpoint where training).
    Interrupted = 130,
}

impl Exit {
    /// The numeric exit code.
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(exit.code())
    }
}
