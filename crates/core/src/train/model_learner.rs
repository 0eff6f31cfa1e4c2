//! The `Learner` of a Burn model on backend `B`: what the training loop has done on the device
//! (building or restoring the model, gradients and updates, loss read-backs, evaluation,
//! snapshots). Generic, so it is compiled where a job names the backend.

use super::accumulate::Accumulation;
use super::cadence::steps_per_epoch;
use super::collective::rank_gradients;
use super::learner::{Learner, LearnerInfo, StepPlan, Stepped};
use super::parallel::Replicas;
use super::precision::{Compute, check_supported, materialize};
use super::record::{model_from_bytes, model_to_bytes};
use super::snapshot::{ModelSpec, SaveContext, snapshot};
use super::step::update;
use super::{
    AnyOptimizer, EvalResult, ModelPlan, Split, TrainError, check_fits, count_params, evaluate,
    params_finite, read_scalar,
};
use crate::checkpoint::{Position, Snapshot};
use crate::config::Config;
use crate::data::{BatchList, BatchSource, Loader, LoaderSettings, Splits};
use crate::model::Trainable;
use burn::module::AutodiffModule;
use burn::prelude::*;
use trainer_ops::TrainBackend;

/// A model `M` on backend `B` training on splits of source `S`.
pub struct ModelLearner<'a, B, M, S>
where
    B: TrainBackend,
    M: Trainable<B> + AutodiffModule<B>,
    S: BatchSource<Batch = M::Batch> + ?Sized,
{
    cfg: &'a Config,
    spec: ModelSpec,
    backend: &'static str,
    device_label: String,
    replicas: Replicas<B::Device>,
    data: Splits<S>,
    /// None only after an update failed, which ends the run.
    model: Option<M>,
    optim: AnyOptimizer<B, M>,
    accumulation: Accumulation<M>,
    parameters: usize,
    /// The running epoch's batches.
    loader: Option<Loader<M::Batch>>,
    /// Training losses summed on the device since the last read-back.
    losses: Option<Tensor<B::InnerBackend, 1>>,
}

/// How a learner is made: the run, its model and data, where it trains and what it resumes.
pub struct LearnerParts<'a, F, S: ?Sized, D> {
    /// The run's resolved config.
    pub cfg: &'a Config,
    /// The model's identity and builder.
    pub plan: ModelPlan<F>,
    /// The splits it reads (training: this process's shard).
    pub data: Splits<S>,
    /// The backend's name.
    pub backend: &'static str,
    /// How runs name the device (`cuda:0 NVIDIA H200`, `cpu (2 threads)`).
    pub device_label: String,
    /// The devices it trains on.
    pub replicas: Replicas<D>,
    /// The checkpoint whose weights and optimizer state it continues from.
    pub resume: Option<&'a Snapshot>,
    /// Memory the model's weights, gradients and optimizer state may take (None: unchecked).
    pub memory_budget: Option<u64>,
}

impl<'a, B, M, S> ModelLearner<'a, B, M, S>
where
    B: TrainBackend,
    M: Trainable<B> + AutodiffModule<B>,
    M::InnerModule: Trainable<B::InnerBackend, Batch = M::Batch>,
    S: BatchSource<Batch = M::Batch> + ?Sized + 'static,
{
    /// Builds the model from the run's seed (or restores it and the optimizer from `resume`);
    /// Err when the run cannot train (no full step, precision, memory, another checkpoint's
    /// model).
    pub fn prepare<F: FnOnce(&B::Device) -> M>(
        parts: LearnerParts<'a, F, S, B::Device>,
    ) -> Result<Self, TrainError> {
        let LearnerParts {
            cfg,
            plan,
            data,
            backend,
            device_label,
            replicas,
            resume,
            memory_budget,
        } = parts;
        let (spec, device, t) = (plan.spec, replicas.main(), &cfg.train);
        let batches = steps_per_epoch(t, data.train.len())?;
        check_supported::<B>(cfg.run.precision, backend, device)?;
        B::seed(device, cfg.run.seed);
        let mut model = (plan.build)(device); // lazily initialized: nothing is allocated yet
        let parameters = count_params(&model);
        if let Some(budget) = memory_budget {
            check_fits(parameters, budget, &format!("model.{}", spec.kind))?;
        }
        if resume.is_none() {
            // Initialized now, from the run's seed: replicas and cast copies must share the values.
            materialize(&model);
            if let Some(group) = replicas.ranks() {
                // Every rank starts from rank 0's weights (a resumed job loads one checkpoint).
                let mut bytes = match group.is_leader() {
                    true => model_to_bytes::<B, M>(&model)?,
                    false => Vec::new(),
                };
                group.share_weights(&mut bytes)?;
                if !group.is_leader() {
                    model = model_from_bytes::<B, M>(model, bytes, device)?;
                }
            }
        }
        let optim = AnyOptimizer::<B, M>::new(t);
        let (model, optim) = match resume {
            Some(snap) => restore(model, optim, snap, &spec, device)?,
            None => (model, optim),
        };
        let accumulation = Accumulation::new(
            t.grad_accumulation_steps,
            data.train.len(),
            t.batch_size,
            batches,
        );
        Ok(Self {
            cfg,
            spec,
            backend,
            device_label,
            replicas,
            data,
            model: Some(model),
            optim,
            accumulation,
            parameters,
            loader: None,
            losses: None,
        })
    }

    /// Gradients of batch `i` (seeded per device and rank), summed into the window's loss,
    /// and the update when the accumulation window ends.
    fn train_on(
        &mut self,
        i: usize,
        batch: M::Batch,
        plan: StepPlan<'_>,
    ) -> Result<Stepped, TrainError> {
        // Dropout differs across shards: per device, and per rank of a job.
        let replicas = &self.replicas;
        let first = replicas.ranks().map_or(0, |g| g.collective.rank()) * replicas.all().len();
        for (k, device) in replicas.all().iter().enumerate() {
            B::seed(device, plan.seed.wrapping_add((first + k) as u64));
        }
        let weight = self.accumulation.weight(i);
        let compute = Compute::new(self.cfg.run.precision, plan.loss_scale.as_deref());
        let model = present(&self.model)?;
        let (grads, loss, rows) = rank_gradients(model, &batch, weight, compute, replicas)?;
        self.losses = Some(match self.losses.take() {
            Some(sum) => sum + loss,
            None => loss,
        });
        if let Some(grads) = self.accumulation.add(model, i, grads)
            && let Some(model) = self.model.take()
        {
            let updated = update(
                model,
                &mut self.optim,
                grads,
                plan.settings,
                plan.loss_scale,
            )?;
            self.model = Some(updated);
        }
        Ok(Stepped { index: i, rows })
    }

    fn split(&self, split: Split) -> &std::sync::Arc<S> {
        match split {
            Split::Valid => &self.data.valid,
            Split::Test => &self.data.test,
        }
    }
}

impl<B, M, S> Learner for ModelLearner<'_, B, M, S>
where
    B: TrainBackend,
    M: Trainable<B> + AutodiffModule<B>,
    M::InnerModule: Trainable<B::InnerBackend, Batch = M::Batch>,
    S: BatchSource<Batch = M::Batch> + ?Sized + 'static,
{
    fn info(&self) -> LearnerInfo {
        LearnerInfo {
            model: self.spec.kind.clone(),
            backend: self.backend.to_string(),
            device: self.device_label.clone(),
            parameters: self.parameters,
        }
    }

    fn train_samples(&self) -> usize {
        self.data.train.len()
    }

    fn samples(&self, split: Split) -> usize {
        self.split(split).len()
    }

    fn start_epoch(&mut self, batches: BatchList, from: usize, loader: LoaderSettings) {
        self.loader = None; // the last epoch's workers end first
        self.loader = Some(Loader::start(
            self.data.train.clone(),
            batches,
            from,
            loader,
        ));
    }

    fn step(&mut self, plan: StepPlan<'_>) -> Option<Result<Stepped, TrainError>> {
        let Some(item) = self.loader.as_mut()?.next() else {
            self.loader = None;
            return None;
        };
        Some(match item {
            Ok((i, batch)) => self.train_on(i, batch, plan),
            Err(e) => Err(e.into()),
        })
    }

    fn accumulating(&self) -> bool {
        self.accumulation.pending()
    }

    fn read_losses(&mut self) -> Result<f64, TrainError> {
        read_scalar(self.losses.take())
    }

    fn evaluate(
        &self,
        split: Split,
        batch_size: usize,
        loader: LoaderSettings,
    ) -> Result<EvalResult, TrainError> {
        let model = present(&self.model)?.valid();
        evaluate(
            &model,
            self.split(split),
            batch_size,
            loader,
            self.replicas.main(),
        )
    }

    fn skipped(&self) -> Vec<String> {
        [&self.data.train, &self.data.valid, &self.data.test]
            .iter()
            .flat_map(|s| s.skipped())
            .collect()
    }

    fn snapshot(
        &self,
        pos: &Position,
        interrupted: bool,
        tracker_run_id: &str,
    ) -> Result<Snapshot, TrainError> {
        let model = present(&self.model)?;
        // The last update may have broken the weights after the last finite loss.
        if !params_finite(&model.valid())? {
            return Err(TrainError::Diverged {
                step: pos.global_step,
                what: "a weight is NaN or infinite".into(),
            });
        }
        let ctx = SaveContext {
            cfg: self.cfg,
            model,
            optim: &self.optim,
            pos,
            spec: &self.spec,
        };
        snapshot(ctx, interrupted, tracker_run_id)
    }
}

/// The model, unless an earlier update failed and took it.
fn present<M>(model: &Option<M>) -> Result<&M, TrainError> {
    model.as_ref().ok_or(TrainError::Backend {
        during: "training",
        cause: "the model was lost in an earlier failed update".into(),
    })
}

/// Resumes the model's weights and the optimizer's state from a checkpoint of the same model.
fn restore<B: TrainBackend, M: AutodiffModule<B>>(
    model: M,
    optim: AnyOptimizer<B, M>,
    snap: &Snapshot,
    spec: &ModelSpec,
    device: &B::Device,
) -> Result<(M, AnyOptimizer<B, M>), TrainError> {
    let s = &snap.state;
    if s.model != spec.kind
        || s.input_shape != spec.input_shape
        || s.num_classes != spec.num_classes
    {
        return Err(TrainError::CheckpointMismatch {
            saved: s.model.clone(),
            saved_shape: s.input_shape,
            saved_classes: s.num_classes,
            model: spec.kind.clone(),
            shape: spec.input_shape,
            classes: spec.num_classes,
        });
    }
    let model = model_from_bytes(model, snap.model.clone(), device)?; // first: it restores param ids
    let optim = optim.from_bytes(snap.optimizer.clone(), device)?;
    Ok((model, optim))
}
