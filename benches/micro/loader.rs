//! The streaming loader alone (no model): one shuffled epoch per iteration, read from the
//! bundled files by worker threads, for each data family and worker count.

use super::support::config;
use criterion::{BenchmarkId, Criterion, Throughput};
use std::sync::Arc;
use std::time::Duration;
use trainer_core::data::{
    BatchList, BatchSource, EpochPlan, Loader, LoaderSettings, batches_per_epoch, load_splits,
    load_table_splits, load_text_splits,
};

fn loader_epochs(c: &mut Criterion) {
    let mut group = c.benchmark_group("loader");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));

    // Each data family at the batch size of the config that trains on it.
    let cfg = config("mnist-mlp");
    let images = load_splits(&cfg.data, cfg.run.seed).expect("open the bundled MNIST");
    let images = (images.train, cfg.train.batch_size);
    let cfg = config("shakespeare-gpt-cpu");
    let (text, _) =
        load_text_splits(&cfg.data, cfg.model.gpt.block_size, None).expect("open Tiny Shakespeare");
    let text = (text.train, cfg.train.batch_size);
    let cfg = config("breast-cancer");
    let (table, _) = load_table_splits(&cfg.data, cfg.run.seed, None).expect("open the table");
    let table = (table.train, cfg.train.batch_size);
    for workers in [1, 2] {
        epoch(&mut group, "mnist-idx", &images.0, images.1, workers);
        epoch(&mut group, "shakespeare-windows", &text.0, text.1, workers);
        epoch(&mut group, "breast-cancer-rows", &table.0, table.1, workers);
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
    let samples = batches_per_epoch(n, batch_size, plan.drop_last) * batch_size;
    group.throughput(Throughput::Elements(samples as u64));
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
