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

/// For a fit on CUDA with no kernel cached yet: the first steps compile every kernel (about
/// two minutes per model on an H200, `benches/results/2026-12-04-h200`), so the run says why
/// it seems to stand still. None for other backends and for a cache that holds kernels.
pub(crate) fn cold_cache_note(choice: &Choice) -> Option<String> {
    if choice.name() != "cuda" {
        return None;
    }
    cold_cuda_cache(&configure_kernel_cache())
}

/// The note for a CUDA run whose kernel cache is `cache` (see [`cold_cache_note`]).
fn cold_cuda_cache(cache: &KernelCache) -> Option<String> {
    let what = "the first steps compile the model's CUDA kernels (minutes";
    match cache {
        KernelCache::Trainer(dir) => {
            let empty = std::fs::read_dir(dir).map_or(true, |mut d| d.next().is_none());
            empty.then(|| {
                format!(
                    "kernels: none cached yet in {}: {what}; later runs reuse them, `trainer warmup` compiles them ahead)",
                    dir.display()
                )
            })
        }
        KernelCache::Off => Some(format!(
            "kernels: {what} in every run: the kernel cache is {cache})"
        )),
        KernelCache::CubeclConfig(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cold_cuda_cache_is_announced_and_a_filled_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let empty = KernelCache::Trainer(dir.path().to_path_buf());
        let note = cold_cuda_cache(&empty).expect("an empty cache is cold");
        assert!(note.contains(&dir.path().display().to_string()), "{note}");
        assert!(note.contains("trainer warmup"), "{note}");
        let missing = KernelCache::Trainer(dir.path().join("not-yet"));
        assert!(cold_cuda_cache(&missing).is_some());
        std::fs::write(dir.path().join("kernel.ptx"), b"compiled").unwrap();
        assert_eq!(cold_cuda_cache(&empty), None);
        let off = cold_cuda_cache(&KernelCache::Off).expect("no cache: every run compiles");
        assert!(off.contains("every run"), "{off}");
        assert_eq!(
            cold_cuda_cache(&KernelCache::CubeclConfig("cubecl.toml".into())),
            None
        );
    }

    #[test]
    fn cpu_fits_have_no_kernel_note() {
        #[cfg(feature = "flex")]
        assert_eq!(cold_cache_note(&Choice::Flex), None);
    }
}
