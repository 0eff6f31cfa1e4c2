//! Host allocator tuning for training loops: keep freed buffers for reuse instead of returning
//! them to the kernel and faulting them back in on the next step.
//!
//! A CPU training step allocates and frees the same large buffers (activations, gradients,
//! optimizer state) every step. glibc's malloc serves large requests with `mmap` and trims the
//! heap top on free, so each step faulted its buffers in again: measured on the MNIST MLP
//! (flex, 2 cores), about 1,900 page faults and a third of the step time in the kernel
//! (`benches/results/2026-11-23-cpu-allocator/`).

/// Requests at least this large still get their own `mmap` (the most glibc's `mallopt` accepts
/// on 64-bit: half its 64 MiB arena heap size).
pub const MMAP_THRESHOLD_BYTES: i32 = 32 << 20;
/// Free memory at the top of a heap is returned to the kernel only above this.
pub const TRIM_THRESHOLD_BYTES: i32 = 1 << 30;

/// What `retain_freed_memory` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tuning {
    /// The thresholds were set.
    Applied,
    /// The user configured malloc through the environment; their settings stand.
    UserSettings,
    /// Not glibc, or glibc refused a value: the allocator is as the platform set it.
    Unchanged,
}

/// Sets glibc's mmap and trim thresholds (fixed, instead of adapting) so the buffers of one
/// training step are reused by the next; a no-op elsewhere, and when `GLIBC_TUNABLES` sets a
/// malloc tunable or `MALLOC_MMAP_THRESHOLD_`/`MALLOC_TRIM_THRESHOLD_` is set.
pub fn retain_freed_memory() -> Tuning {
    if user_settings() {
        return Tuning::UserSettings;
    }
    set_thresholds()
}

/// True when the environment configures glibc's malloc itself.
fn user_settings() -> bool {
    std::env::var("GLIBC_TUNABLES").is_ok_and(|t| t.contains("glibc.malloc."))
        || std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_some()
        || std::env::var_os("MALLOC_TRIM_THRESHOLD_").is_some()
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn set_thresholds() -> Tuning {
    // SAFETY: mallopt only adjusts allocator parameters; it takes the arena locks itself.
    let ok = unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1
            && libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1
    };
    if ok {
        Tuning::Applied
    } else {
        Tuning::Unchanged
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn set_thresholds() -> Tuning {
    Tuning::Unchanged
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    use super::*;

    /// Minor page faults of the calling thread so far.
    fn minor_faults() -> i64 {
        // SAFETY: getrusage writes into the zeroed struct we own.
        unsafe {
            let mut usage: libc::rusage = std::mem::zeroed();
            assert_eq!(libc::getrusage(libc::RUSAGE_THREAD, &mut usage), 0);
            usage.ru_minflt
        }
    }

    #[test]
    fn buffers_freed_by_one_step_are_reused_by_the_next_without_page_faults() {
        if user_settings() {
            return; // the user's (or CI's) malloc settings are in charge
        }
        assert_eq!(retain_freed_memory(), Tuning::Applied);
        // A "step": four 4 MiB buffers written and freed, as activations and gradients are.
        let step = || {
            let bufs: Vec<Vec<u8>> = (0..4).map(|i| vec![i as u8 + 1; 4 << 20]).collect();
            std::hint::black_box(&bufs);
        };
        step(); // first touch faults, as it must
        let before = minor_faults();
        let steps = 20;
        for _ in 0..steps {
            step();
        }
        let faults = minor_faults() - before;
        // Faulting the buffers in again every step would be 20 x 4 x 1024 pages.
        let refault_every_step = steps * 4 * 1024;
        assert!(
            faults < refault_every_step / 10,
            "{faults} page faults over {steps} steps (re-faulting every step: {refault_every_step})"
        );
    }
}

/// The machine's physical memory in bytes (None where the platform does not say).
pub fn physical_memory() -> Option<u64> {
    #[cfg(unix)]
    {
        // SAFETY: sysconf only reads system configuration values.
        let (pages, page) = unsafe {
            (
                libc::sysconf(libc::_SC_PHYS_PAGES),
                libc::sysconf(libc::_SC_PAGESIZE),
            )
        };
        if pages > 0 && page > 0 {
            return Some(pages as u64 * page as u64);
        }
    }
    None
}
