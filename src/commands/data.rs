//! `trainer data inspect` and `trainer data fetch`.

use super::Failure;
use crate::cli::DataCommand;
use crate::data::inspect;
use crate::fetch::{FetchError, Source, dataset, fetch, names};

/// Runs a `trainer data` subcommand.
pub fn data(cmd: DataCommand) -> Result<(), Failure> {
    match cmd {
        DataCommand::Inspect { path } => {
            let report = inspect(&path).map_err(Failure::input)?;
            crate::outln!("{}: {}", path.display(), report.format);
            let width = report.rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
            for (key, value) in &report.rows {
                crate::outln!("  {key:<width$}  {value}");
            }
            Ok(())
        }
        DataCommand::Fetch { name, dir, mirror } => {
            let set = dataset(&name).ok_or_else(|| {
                Failure::input(FetchError::Unknown {
                    name: name.clone(),
                    known: names().join(", "),
                })
            })?;
            if let Some(m) = mirror.as_deref().filter(|m| !crate::config::is_http_url(m)) {
                return Err(Failure::input(anyhow::anyhow!(
                    "--mirror {m}: expected an http:// or https:// URL"
                )));
            }
            let source = Source { mirror };
            let target = fetch(set, &dir, &source, &mut |line| eprintln!("fetch: {line}"))
                .map_err(Failure::runtime)?;
            crate::outln!("{}", target.display());
            Ok(())
        }
    }
}
