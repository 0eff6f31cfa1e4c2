//! `trainer warmup`: runs a few training steps of the config so the GPU runtime compiles and
//! tunes its kernels into the kernel cache, and reports the first-step and warm step times.

use super::{Failure, guarded};
use crate::backend::{Choice, KernelCache, configure_kernel_cache, select};
use crate::bench::{BenchJob, BenchOptions, DataFeed};
use crate::cli::WarmupArgs;
use crate::task::TaskData;
use trainer_core::config;
use trainer_core::data::LoaderSettings;

/// Warms the config's training step up on the chosen backend; prints where kernels are cached.
pub fn warmup(args: WarmupArgs) -> Result<(), Failure> {
    let mut overrides = args.config.overrides.clone();
    overrides.extend(args.flag_overrides());
    let cfg = config::load(args.config.config.as_deref(), &overrides).map_err(Failure::input)?;
    let selection = select(cfg.run.backend, cfg.run.device).map_err(Failure::input)?;
    // Diagnostics go to stderr, results to stdout.
    super::note(format_args!("backend: {}", selection.reason));
    let data = TaskData::open(&cfg, None).map_err(Failure::input)?;
    let steps = usize::try_from(args.steps).unwrap_or(usize::MAX);
    let options = BenchOptions {
        warmup: steps - 1,
        steps: 1,
        feed: DataFeed::Prebuilt,
        loader: LoaderSettings::resolve(cfg.data.workers, cfg.data.prefetch),
        precision: cfg.run.precision,
    };
    let job = BenchJob {
        cfg: &cfg,
        data: &data,
        options,
        checkpoint: None,
    };
    let r = guarded("warm-up", || crate::backend::bench(&selection.choice, job))?
        .map_err(Failure::train)?;
    crate::outln!(
        "{} {} {}: first step {:.2} s, then {:.1} ms/step",
        r.backend,
        r.model,
        r.precision,
        r.first_step_seconds,
        r.ms_per_step
    );
    crate::outln!("kernel cache: {}", cache_note(&selection.choice));
    Ok(())
}

/// Where this backend's compiled kernels went.
fn cache_note(choice: &Choice) -> String {
    match choice.name() {
        "cuda" | "wgpu" => {
            let cache = configure_kernel_cache();
            let what = if choice.name() == "cuda" {
                "compiled kernels and autotune results"
            } else {
                "autotune results (Vulkan/Metal compile their shaders in each process)"
            };
            match cache {
                KernelCache::Off => cache.to_string(),
                dir => format!("{what}: {dir}"),
            }
        }
        _ => "nothing to cache: CPU backends compile no kernels at run time".to_string(),
    }
}
