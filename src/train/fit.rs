//! `fit`: the training loop, generic over the backend. Reads top to bottom.

use super::{AnyOptimizer, EvalResult, Event, Observer, Split, TrainError, evaluate, train_step};
use crate::config::Config;
use crate::data::{Splits, epoch_order, fill_batch};
use crate::model::{Classifier, check_input};
use burn::module::{AutodiffModule, Module};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use std::time::Instant;

/// What a finished run reports (the run summary is built from it).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FitReport {
    /// Epochs completed.
    pub epochs: usize,
    /// Optimizer steps taken.
    pub steps: usize,
    /// Trainable parameters.
    pub parameters: usize,
    /// Training samples processed.
    pub samples: usize,
    /// Seconds spent in training steps (evaluation excluded).
    pub train_seconds: f64,
    /// Training throughput.
    pub samples_per_sec: f64,
    /// Mean training loss of the last epoch.
    pub final_train_loss: f64,
    /// Validation result after the last epoch (None when the validation split is empty).
    pub valid: Option<EvalResult>,
    /// Test result at the end.
    pub test: EvalResult,
}

/// Trains the configured model on `data.train`, validating each epoch and testing at the end.
pub fn fit<B: AutodiffBackend>(
    cfg: &Config,
    data: &Splits,
    backend: &str,
    device: &B::Device,
    observer: &mut dyn Observer,
) -> Result<FitReport, TrainError> {
    let shape = data.train.feature_shape();
    check_input(&cfg.model, shape).map_err(TrainError::Data)?;
    let classes = data.train.num_classes().max(data.test.num_classes());
    if data.train.is_empty() {
        return Err(TrainError::Data(
            "the training split is empty (lower data.validation_fraction)".into(),
        ));
    }
    B::seed(device, cfg.run.seed);
    let mut model = Classifier::<B>::new(&cfg.model, shape, classes, device);
    let mut optim = AnyOptimizer::<B>::new(&cfg.train);
    let (t, n) = (&cfg.train, data.train.len());
    let steps_per_epoch = if t.drop_last {
        n / t.batch_size
    } else {
        n.div_ceil(t.batch_size)
    };
    if steps_per_epoch == 0 {
        return Err(TrainError::Data(format!(
            "train.batch_size = {} exceeds the {n} training samples with train.drop_last = true",
            t.batch_size
        )));
    }
    observer.on_event(&Event::RunStarted {
        backend: backend.to_string(),
        device: format!("{device:?}"),
        parameters: model.num_params(),
        train_samples: n,
        steps_per_epoch,
        epochs: t.epochs,
    });

    let (mut global_step, mut samples, mut train_seconds, mut last_loss) = (0, 0, 0.0, f64::NAN);
    let mut valid = None;
    for epoch in 0..t.epochs {
        observer.on_event(&Event::EpochStarted { epoch });
        let started = Instant::now();
        let order = epoch_order(cfg.run.seed, epoch, n);
        let (mut window, mut window_steps, mut epoch_loss_sum, mut epoch_samples) =
            (None, 0, 0.0, 0);
        for (i, indices) in order.chunks(t.batch_size).take(steps_per_epoch).enumerate() {
            let batch = fill_batch(data.train.as_ref(), indices);
            let out = train_step(model, &mut optim, &batch, t.lr, device);
            model = out.model;
            // Sum losses on the device; reading one back forces a sync, so only every log_every.
            window = Some(window.map_or(out.loss.clone(), |w| w + out.loss));
            window_steps += 1;
            global_step += 1;
            epoch_samples += batch.len();
            if (i + 1) % t.log_every == 0 || i + 1 == steps_per_epoch {
                let sum = read_scalar(window.take())?;
                epoch_loss_sum += sum;
                let elapsed = started.elapsed().as_secs_f64();
                observer.on_event(&Event::Step {
                    epoch,
                    step_in_epoch: i + 1,
                    global_step,
                    loss: sum / window_steps as f64,
                    lr: t.lr,
                    samples_per_sec: epoch_samples as f64 / elapsed.max(1e-9),
                });
                window_steps = 0;
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        train_seconds += seconds;
        samples += epoch_samples;
        last_loss = epoch_loss_sum / steps_per_epoch as f64;
        observer.on_event(&Event::EpochEnded {
            epoch,
            train_loss: last_loss,
            seconds,
            samples_per_sec: epoch_samples as f64 / seconds.max(1e-9),
        });
        if !data.valid.is_empty() {
            let r = evaluate(
                &model.valid(),
                data.valid.as_ref(),
                cfg.data.eval_batch_size,
                device,
            )?;
            observer.on_event(&eval_event(Some(epoch), Split::Valid, &r));
            valid = Some(r);
        }
    }
    let test = evaluate(
        &model.valid(),
        data.test.as_ref(),
        cfg.data.eval_batch_size,
        device,
    )?;
    observer.on_event(&eval_event(None, Split::Test, &test));
    Ok(FitReport {
        epochs: t.epochs,
        steps: global_step,
        parameters: model.num_params(),
        samples,
        train_seconds,
        samples_per_sec: samples as f64 / train_seconds.max(1e-9),
        final_train_loss: last_loss,
        valid,
        test,
    })
}

fn eval_event(epoch: Option<usize>, split: Split, r: &EvalResult) -> Event {
    Event::Evaluated {
        epoch,
        split,
        loss: r.loss,
        accuracy: r.accuracy,
        samples: r.samples,
    }
}

/// Reads a one-element tensor back to the host (a device sync).
pub fn read_scalar<B: Backend>(t: Option<Tensor<B, 1>>) -> Result<f64, TrainError> {
    let Some(t) = t else { return Ok(0.0) };
    let data = t
        .try_into_data()
        .map_err(|e| TrainError::Backend(format!("{e:?}")))?;
    data.convert::<f64>()
        .to_vec::<f64>()
        .ok()
        .and_then(|v| v.first().copied())
        .ok_or_else(|| TrainError::Backend("loss read-back was empty".into()))
}
