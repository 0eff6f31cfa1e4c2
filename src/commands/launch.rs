//! `trainer launch --nprocs N -- fit ...`: `mpirun` on this host with what users trip on handled:
//! running as root, more ranks than cores, Open MPI's default core binding (which pins each
//! rank's thread pool to one core), and thread pools sized to share the cores.

use super::Failure;
use crate::cli::LaunchArgs;
use crate::exit::Exit;
use anyhow::anyhow;
use std::process::Command;

/// Runs `mpirun -np N <this trainer> ARGS...` and returns with its exit status.
pub fn launch(args: LaunchArgs) -> Result<(), Failure> {
    if args.nprocs == 0 {
        return Err(Failure::input(anyhow!(
            "--nprocs: expected at least 1, got 0"
        )));
    }
    if args.command.is_empty() {
        return Err(Failure::input(anyhow!(
            "expected the trainer command to run after `--`, e.g. `trainer launch --nprocs 2 -- fit --config configs/mnist-mlp.toml`"
        )));
    }
    if !cfg!(feature = "mpi") {
        return Err(Failure::input(anyhow!(
            "this trainer was built without MPI; build it with `cargo build --release --features mpi` (and an MPI library: Debian's libopenmpi-dev + openmpi-bin, or mpich)"
        )));
    }
    let exe = std::env::current_exe()
        .map_err(|e| Failure::runtime(anyhow!("cannot find this trainer's executable: {e}")))?;
    let version = Command::new(&args.mpirun).arg("--version").output().map_err(|e| {
        Failure::input(anyhow!(
            "{}: cannot run it ({e}); install Open MPI (openmpi-bin) or MPICH, or name the launcher with --mpirun",
            args.mpirun
        ))
    })?;
    let open_mpi = String::from_utf8_lossy(&version.stdout).contains("Open MPI");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut cmd = Command::new(&args.mpirun);
    cmd.arg("-np").arg(args.nprocs.to_string());
    if open_mpi {
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } == 0 {
            cmd.arg("--allow-run-as-root");
        }
        if args.nprocs > cores {
            cmd.arg("--oversubscribe");
        }
        cmd.args(["--bind-to", "none"]);
    }
    // Each rank's CPU thread pool gets its share of the cores unless the user set one.
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        let threads = (cores / args.nprocs).max(1).to_string();
        cmd.env("RAYON_NUM_THREADS", &threads);
        if open_mpi {
            cmd.args(["-x", "RAYON_NUM_THREADS"]);
        } else {
            cmd.args(["-genv", "RAYON_NUM_THREADS", &threads]);
        }
    }
    cmd.arg(exe).args(&args.command);
    let status = cmd
        .status()
        .map_err(|e| Failure::runtime(anyhow!("{}: {e}", args.mpirun)))?;
    match status.code() {
        Some(0) => Ok(()),
        code => Err(Failure {
            code: match code {
                Some(2) => Exit::BadInput,
                Some(130) => Exit::Interrupted,
                _ => Exit::Failure,
            },
            error: anyhow!(
                "{} -np {} ended with {}",
                args.mpirun,
                args.nprocs,
                code.map_or("a signal".to_string(), |c| format!("exit status {c}"))
            ),
        }),
    }
}
