//! The streaming loader alone (no model): one shuffled epoch per iteration, read from the
//! bundled files by worker threads, for each data family and worker count.

use super::support::config;
use criterion::{BenchmarkId, Criterion, Throughput};
use std::sync::Arc;
use std::time::Duration;
use trainer::data::{
    BatchList, BatchSource, EpochPlan, Loader, LoaderSettings, load_splits, load_table_splits,
    load_text_splits,
};

fn loader_epochs(c: &mut Criterion) {
    let mut group = c.benchmark_group("loader");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));

    let cfg = config("mnist-mlp");
    let images = load_splits(&cfg.data, cfg.run.seed).expect("open the bundled MNIST");
    let text = {
        let cfg = config("shakespeare-gpt-cpu");
        load_text_splits(&cfg.data, cfg.model.gpt.block_size, None)
            .expect("open Tiny Shakespeare")
            .0
    };
    let table = {
        let cfg = config("breast-cancer");
        load_table_splits(&cfg.data, cfg.run.seed, None)
            .expect("open the table")
            .0
    };
    for workers in [1, 2] {
        epoch(&mut group, "mnist-idx", &images.train, 128, workers);
        epoch(&mut group, "shakespeare-windows", &text.train, 32, workers);
        epoch(&mut group, "breast-cancer-rows", &table.train, 32, workers);
    }
    group.finish();
}

/// `loader/<data>/<workers>`: every batch of one epoch, counted in samples.
fn epoch<S: BatchSource + ?Sized + 'static>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    data: &str,
    source: &Arc<S>,
    batch_size: usize,
    workers: usize,
) {
    let plan = EpochPlan {
        seed: 7,
        batch_size,
        drop_last: true,
    };
    let settings = LoaderSettings {
        workers,
        prefetch: 2 * workers,
    };
    let n = source.len();
    let batches = BatchList::epoch(&plan, 0, n);
    group.throughput(Throughput::Elements((batches.len() * batch_size) as u64));
    let mut epoch = 0;
    group.bench_function(BenchmarkId::new(data, workers), |b| {
        b.iter(|| {
            epoch += 1;
            let list = BatchList::epoch(&plan, epoch, n);
            for batch in Loader::start(source.clone(), list, 0, settings) {
                std::hint::black_box(batch.expect("read a batch"));
            }
        })
    });
}

criterion::criterion_group!(benches, loader_epochs);
