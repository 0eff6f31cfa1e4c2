//! `cargo bench --bench micro`: criterion micro-benchmarks of what a training run is made of —
//! one training step per model on each CPU backend, one attention layer through the host op and
//! Burn's composed path, the streaming loader's throughput per data family, and what a tracked
//! event costs the training thread. Filter with a name prefix, e.g.
//! `cargo bench --bench micro -- train_step/flex`. Throughput-level numbers against PyTorch come
//! from `trainer bench` and `benches/compare`, not from here.

mod attention;
mod loader;
mod support;
mod tracker;
mod train_step;

/// `criterion_main!` with the allocator tuned first, as the `trainer` binary does.
fn main() {
    trainer_core::host_memory::retain_freed_memory();
    train_step::benches();
    attention::benches();
    loader::benches();
    tracker::benches();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
}
