//! `trainer data inspect`.

use super::Failure;
use crate::cli::DataCommand;
use crate::data::inspect;

/// Runs a `trainer data` subcommand.
pub fn data(cmd: DataCommand) -> Result<(), Failure> {
    match cmd {
        DataCommand::Inspect { path } => {
            let report = inspect(&path).map_err(Failure::input)?;
            println!("{}: {}", path.display(), report.format);
            let width = report.rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
            for (key, value) in &report.rows {
                println!("  {key:<width$}  {value}");
            }
            Ok(())
        }
    }
}
