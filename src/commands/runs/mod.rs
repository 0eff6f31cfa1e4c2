//! `trainer runs`: list, show and compare run directories; replay journals into MLflow.

mod report;
mod sync;
mod table;

pub(crate) use report::utc;
pub(crate) use table::render;

use super::Failure;
use crate::cli::RunsCommand;
use crate::run::{JOURNAL_FILE, RunLayout};
use anyhow::anyhow;
use std::path::{Path, PathBuf};

/// Runs a `trainer runs` subcommand.
pub fn runs(cmd: RunsCommand) -> Result<(), Failure> {
    match cmd {
        RunsCommand::Sync {
            runs,
            all,
            output,
            timeout,
        } => {
            let dirs = if all {
                all_runs(&output)?
            } else if runs.is_empty() {
                return Err(Failure::input(anyhow!(
                    "name the runs to sync (run directories or names under --output), or pass --all"
                )));
            } else {
                named_runs(&runs, &output)?
            };
            sync::sync(&dirs, timeout)
        }
        RunsCommand::Ls { output, json } => report::ls(&all_runs(&output)?, &output, json),
        RunsCommand::Show { run, output, json } => {
            report::show(&named_runs(&[run], &output)?[0], json)
        }
        RunsCommand::Compare { runs, output, json } => {
            report::compare(&named_runs(&runs, &output)?, json)
        }
    }
}

/// Every run directory under `output`, by name.
fn all_runs(output: &Path) -> Result<Vec<PathBuf>, Failure> {
    let entries = std::fs::read_dir(output).map_err(|e| {
        Failure::input(anyhow!(
            "{}: {e} (pass --output with the parent of your run directories)",
            output.display()
        ))
    })?;
    let mut dirs: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| RunLayout::of(p).has_journal())
        .collect();
    dirs.sort();
    Ok(dirs)
}

/// Each of `runs` as a run directory: a path, or a run name under `output`.
fn named_runs(runs: &[PathBuf], output: &Path) -> Result<Vec<PathBuf>, Failure> {
    runs.iter()
        .map(|r| {
            let dir = if RunLayout::of(r).has_journal() {
                r.clone()
            } else {
                output.join(r)
            };
            if RunLayout::of(&dir).has_journal() {
                Ok(dir)
            } else {
                Err(Failure::input(anyhow!(
                    "{}: not a run directory (no {JOURNAL_FILE}, nor under --output {})",
                    r.display(),
                    output.display()
                )))
            }
        })
        .collect()
}
