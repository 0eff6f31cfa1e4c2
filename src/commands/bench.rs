//! `trainer bench`.

use super::{Failure, guarded};
use crate::backend::{Choice, select};
use crate::bench::{BenchJob, BenchOptions, BenchResult, CheckpointBenchOptions};
use crate::cli::BenchArgs;
use crate::task::TaskData;
use anyhow::anyhow;
use trainer_core::config::{self, BackendRequest};
use trainer_core::data::LoaderSettings;

/// Benchmarks the config's training step on each requested backend; prints a table and
/// optionally writes JSON (schema: `benches/README.md`).
pub fn bench(args: BenchArgs) -> Result<Vec<BenchResult>, Failure> {
    if let Some(path) = &args.json {
        // Checked before anything runs: the JSON never replaces a file (the config included).
        super::refuse_existing("--json", path)?;
    }
    let cfg = config::load(args.config.config.as_deref(), &args.config.overrides)
        .map_err(Failure::input)?;
    let choices = resolve_backends(&args.backends, args.device)?;
    let data = TaskData::open(&cfg, None).map_err(Failure::input)?;
    let precisions = if args.precision.is_empty() {
        vec![cfg.run.precision]
    } else {
        args.precision.clone()
    };
    let base = BenchOptions {
        warmup: args.warmup,
        steps: args.steps.max(1),
        feed: args.data_feed,
        loader: LoaderSettings::resolve(cfg.data.workers, cfg.data.prefetch),
        precision: cfg.run.precision,
    };
    let checkpoint = (args.checkpoint_repeats > 0).then(|| CheckpointBenchOptions {
        // A fresh directory of our own, so retention never touches a user's checkpoints.
        dir: args
            .checkpoint_dir
            .as_ref()
            .unwrap_or(&cfg.run.output_dir)
            .join(format!(".bench-checkpoints-{}", std::process::id())),
        repeats: args.checkpoint_repeats,
    });
    let mut results = Vec::new();
    let runs = choices
        .iter()
        .flat_map(|c| precisions.iter().map(move |&p| (c, p)));
    for (choice, precision) in runs {
        let options = BenchOptions { precision, ..base };
        eprintln!(
            "bench: {} {} on {} ({} warm-up + {} timed steps)",
            choice.name(),
            precision.name(),
            choice.device(),
            options.warmup.max(1),
            options.steps
        );
        let job = BenchJob {
            cfg: &cfg,
            data: &data,
            options,
            checkpoint: checkpoint.as_ref(),
        };
        match guarded("benchmark", || crate::backend::bench(choice, job))
            .and_then(|r| r.map_err(Failure::runtime))
        {
            Ok(mut r) => {
                r.device = choice.device();
                results.push(r);
            }
            Err(f) => eprintln!(
                "bench: {} {} skipped: {:#}",
                choice.name(),
                precision.name(),
                f.error
            ),
        }
    }
    if let Some(c) = &checkpoint {
        match std::fs::remove_dir_all(&c.dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                eprintln!("bench: could not remove {}: {e}", c.dir.display());
            }
            _ => {}
        }
    }
    print_table(&results);
    if let Some(path) = &args.json {
        let doc = serde_json::json!({
            "schema": "trainer-bench/1",
            "trainer_version": env!("CARGO_PKG_VERSION"),
            "config": args.config.config.as_ref().map(|p| p.display().to_string()),
            "host": host_description(),
            "results": results,
        });
        let bytes = serde_json::to_vec_pretty(&doc).map_err(Failure::runtime)?;
        crate::fsutil::write_atomic(path, &bytes)
            .map_err(|e| Failure::runtime(anyhow!("cannot write {}: {e}", path.display())))?;
    }
    if results.is_empty() {
        return Err(Failure::runtime(anyhow!(
            "no backend completed the benchmark"
        )));
    }
    Ok(results)
}

/// The training split of a run's data, as the benchmark reads it.
fn resolve_backends(spec: &str, device: usize) -> Result<Vec<Choice>, Failure> {
    let spec = spec.trim();
    if spec == "all" {
        // Every backend that is usable here; an explicit wgpu request accepts software adapters.
        let all = [
            BackendRequest::Cuda,
            BackendRequest::Wgpu,
            BackendRequest::Flex,
            BackendRequest::Ndarray,
        ];
        let found: Vec<Choice> = all
            .into_iter()
            .filter_map(|r| select(r, device).ok())
            .map(|s| s.choice)
            .collect();
        return Ok(found);
    }
    spec.split(',')
        .map(|name| {
            let request = <BackendRequest as clap::ValueEnum>::from_str(name.trim(), true).map_err(|_| {
                Failure::input(anyhow!(
                    "--backends: unknown backend `{name}`; expected auto, all, or a list of cuda, wgpu, cpu, flex, ndarray"
                ))
            })?;
            let selection = select(request, device).map_err(Failure::input)?;
            eprintln!("bench: {}", selection.reason);
            Ok(selection.choice)
        })
        .collect()
}

fn host_description() -> String {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    format!("{cpu}, {threads} threads, {}", std::env::consts::OS)
}

fn print_table(results: &[BenchResult]) {
    crate::outln!(
        "{:<8} {:<5} {:<5} {:>6} {:>10} {:>12} {:>12} {:>9} {:>8} {:>11} {:>10} {:>9}  device",
        "backend",
        "model",
        "prec",
        "batch",
        "feed",
        "samples/s",
        "loader s/s",
        "ms/step",
        "data ms",
        "compute ms",
        "first s",
        "rss MiB"
    );
    for r in results {
        crate::outln!(
            "{:<8} {:<5} {:<5} {:>6} {:>10} {:>12.0} {:>12.0} {:>9.2} {:>8.3} {:>11.2} {:>10.2} {:>9}  {}",
            r.backend,
            r.model,
            r.precision,
            r.batch_size,
            format!("{:?}", r.data_feed).to_lowercase(),
            r.samples_per_sec,
            r.loader_samples_per_sec,
            r.ms_per_step,
            r.data_ms_per_step,
            r.compute_ms_per_step,
            r.first_step_seconds,
            r.peak_rss_mib.map_or("-".into(), |m| format!("{m:.0}")),
            r.device
        );
    }
    if results.iter().any(|r| r.checkpoint.is_some()) {
        crate::outln!();
        crate::outln!(
            "{:<8} {:<5} {:>9} {:>9} {:>10} {:>9} {:>10} {:>11} {:>12}",
            "backend",
            "model",
            "ckpt MB",
            "save ms",
            "save MB/s",
            "(write)",
            "restore ms",
            "restore MB/s",
            "stall steps"
        );
        for r in results {
            if let Some(c) = &r.checkpoint {
                crate::outln!(
                    "{:<8} {:<5} {:>9.2} {:>9.1} {:>10.0} {:>9.1} {:>10.1} {:>11.0} {:>12.1}",
                    r.backend,
                    r.model,
                    c.bytes as f64 / 1e6,
                    c.save_ms,
                    c.save_mb_per_s,
                    c.write_ms,
                    c.restore_ms,
                    c.restore_mb_per_s,
                    c.stall_steps_per_save
                );
            }
        }
    }
}
