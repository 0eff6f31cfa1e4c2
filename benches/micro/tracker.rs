//! What tracking costs: the training thread's part (an event handed to the run journal, which
//! serializes it and queues it for its writer thread) and the MLflow sender's part per journal
//! line (parse and convert to metric points), which runs on its own thread.

use criterion::{Criterion, Throughput};
use std::time::Duration;
use trainer_core::observe::metrics_of;
use trainer_core::observe::{Journal, JournalLine};
use trainer_core::train::{EvalResult, Event, Observer, Split};

fn step_event(global_step: usize) -> Event {
    Event::Step {
        epoch: 3,
        step_in_epoch: global_step % 468,
        global_step,
        loss: 0.123_456_789,
        lr: 1e-3,
        samples_per_sec: 12_345.6,
    }
}

fn eval_event() -> Event {
    let mut result = EvalResult::empty();
    result.loss = 0.31;
    result.accuracy = Some(0.91);
    result.macro_f1 = Some(0.9);
    result.samples = 10_000;
    Event::Evaluated {
        epoch: Some(3),
        split: Split::Valid,
        result,
    }
}

fn tracking(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut group = c.benchmark_group("tracker");
    // Each enqueue is microseconds and adds a journal line: short runs keep the file small.
    group
        .throughput(Throughput::Elements(1))
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));

    let mut journal = Journal::open(&dir.path().join("journal.jsonl")).expect("open a journal");
    let mut step = 0;
    group.bench_function("journal_enqueue/step", |b| {
        b.iter(|| {
            step += 1;
            journal.on_event(&step_event(step));
        })
    });
    let eval = eval_event();
    group.bench_function("journal_enqueue/evaluated", |b| {
        b.iter(|| journal.on_event(&eval))
    });
    drop(journal); // flushes and joins the writer

    let mut line = serde_json::to_value(step_event(1000)).expect("serialize");
    line["ts_ms"] = 1_790_000_000_000u64.into();
    let line = line.to_string();
    let mut last_step = 0;
    group.bench_function("mlflow_points/step_line", |b| {
        b.iter(|| {
            let line = JournalLine::parse(line.as_bytes()).expect("parse");
            metrics_of(&line, &mut last_step)
        })
    });
    group.finish();
}

criterion::criterion_group!(benches, tracking);
