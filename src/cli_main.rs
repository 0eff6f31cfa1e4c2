//! The command line's entry point: parse, run a command, map failures to one line and an exit
//! code. The binary (`src/main.rs`) only calls it, so the CLI's modules stay private to the
//! library.

use crate::cli::{Cli, Command};
use crate::commands::{self, Failure, panic_message};
use clap::Parser;
use std::panic::AssertUnwindSafe;
use std::process::ExitCode;
use trainer_core::config::redact_userinfo;
use trainer_core::exit::Exit;

/// The `trainer` command line: parses the process's arguments, runs the command, and maps a
/// failure to one line on stderr and its exit code.
pub fn main() -> ExitCode {
    // First, before any thread allocates or anything uses rayon: CPU steps reuse their buffers,
    // and this thread trains as one of the compute threads.
    let tuning = crate::host::tune();
    quiet_mesa();
    let parsed = Cli::try_parse();
    let level = match &parsed {
        Ok(cli) if cli.quiet => "error",
        Ok(cli) if cli.verbose == 1 => "info",
        Ok(cli) if cli.verbose > 1 => "debug",
        _ => "warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TRAINER_LOG")
                .unwrap_or_else(|_| level.into()),
        )
        .with_writer(std::io::stderr)
        // Colour only on a terminal, and never with NO_COLOR set (https://no-color.org).
        .with_ansi(
            std::io::IsTerminal::is_terminal(&std::io::stderr())
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        )
        .init();
    tracing::debug!(
        "host allocator: {:?}; compute threads: {:?}",
        tuning.memory,
        tuning.threads
    );
    quiet_panics();
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => e.exit(), // --help, --version
        Err(e) => {
            eprintln!("error: {}", redact_userinfo(&one_line_usage_error(&e)));
            return Exit::BadInput.into();
        }
    };
    commands::set_quiet(cli.quiet);
    let is_fit = matches!(cli.command, Command::Fit(_) | Command::Sweep(_));
    // A panic is a bug, but users get one line and exit code 1, never a bare exit 101.
    let result =
        std::panic::catch_unwind(AssertUnwindSafe(|| run(cli.command))).unwrap_or_else(|payload| {
            Err(Failure::runtime(anyhow::anyhow!(
                "internal error (a bug in trainer; RUST_BACKTRACE=1 shows where): {}",
                panic_message(payload.as_ref())
            )))
        });
    // MPI's finalize, in a job (after the final barrier of `fit`).
    crate::ranks::finish();
    match result {
        Ok(()) => match trainer_core::console::lost_output() {
            // Training output is progress only: the run directory holds the results.
            Some(e) if !is_fit => {
                eprintln!("error: cannot write to standard output: {e}");
                Exit::Failure.into()
            }
            Some(e) => {
                eprintln!(
                    "warning: progress output stopped ({e}); the run directory has every result"
                );
                ExitCode::SUCCESS
            }
            None => ExitCode::SUCCESS,
        },
        Err(Failure { code, error }) => {
            // Every message may quote a URL the user gave: never print its password.
            eprintln!("error: {}", redact_userinfo(&format!("{error:#}")));
            code.into()
        }
    }
}

/// Runs one command.
fn run(command: Command) -> Result<(), Failure> {
    match command {
        Command::Fit(args) => commands::fit(args).map(|_| ()),
        Command::Backends { json } => {
            commands::backends(json);
            Ok(())
        }
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "trainer", &mut std::io::stdout());
            Ok(())
        }
        Command::Bench(args) => commands::bench(args).map(|_| ()),
        Command::Checkpoints(cmd) => commands::checkpoints(cmd),
        Command::Predict(args) => commands::predict(args),
        Command::Sample(args) => commands::sample(args),
        Command::Eval(args) => commands::eval(args),
        Command::Runs(cmd) => commands::runs(cmd),
        Command::Models(cmd) => commands::models(cmd),
        Command::Data(cmd) => commands::data(cmd),
        Command::Sweep(args) => commands::sweep(args),
        Command::Warmup(args) => commands::warmup(args),
        Command::Launch(args) => commands::launch(args),
    }
}

/// clap renders usage errors over several lines; users get them as one.
fn one_line_usage_error(e: &clap::Error) -> String {
    e.render()
        .to_string()
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty() && !l.starts_with("For more information") && !l.starts_with("Usage:")
        })
        .map(|l| l.strip_prefix("error: ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Panics are logged at debug level instead of dumping a backtrace: the command reports them
/// as one line (main's `catch_unwind`, `commands::guarded`); RUST_BACKTRACE=1 restores the
/// default report when debugging.
fn quiet_panics() {
    if std::env::var_os("RUST_BACKTRACE").is_some() {
        return;
    }
    std::panic::set_hook(Box::new(|info| {
        let msg = panic_message(info.payload());
        let thread = std::thread::current()
            .name()
            .unwrap_or("unnamed")
            .to_string();
        tracing::debug!("panic in thread {thread}: {msg}");
    }));
}

/// Mesa's Vulkan loader prints "error: XDG_RUNTIME_DIR is invalid" when the variable is unset
/// (headless boxes, CI), which reads like a trainer failure. Point it at the temp dir first.
fn quiet_mesa() {
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        // SAFETY: called first thing in main, before any other thread exists.
        unsafe { std::env::set_var("XDG_RUNTIME_DIR", std::env::temp_dir()) };
    }
}
