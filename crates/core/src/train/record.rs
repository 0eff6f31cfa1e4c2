//! Model and optimizer state as bytes (Burn's named MessagePack, full precision): what
//! checkpoints store. The core encodes; the store decides where bytes go.

use super::{AnyOptimizer, TrainError};
use burn::module::Module;
use burn::optim::Optimizer;
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Recorder};
use burn::tensor::backend::Backend;
use trainer_ops::TrainBackend;

fn recorder() -> NamedMpkBytesRecorder<FullPrecisionSettings> {
    NamedMpkBytesRecorder::new()
}

fn err(what: &str) -> impl FnOnce(burn::record::RecorderError) -> TrainError + '_ {
    move |e| TrainError::Record {
        what: what.to_string(),
        cause: e.to_string(),
    }
}

/// Encodes the model's weights.
pub fn model_to_bytes<B: Backend, M: Module<B>>(model: &M) -> Result<Vec<u8>, TrainError> {
    Recorder::<B>::record(&recorder(), model.clone().into_record(), ())
        .map_err(err("encoding the model"))
}

/// Loads weights into `model` (which must have the same architecture).
pub fn model_from_bytes<B: Backend, M: Module<B>>(
    model: M,
    bytes: Vec<u8>,
    device: &B::Device,
) -> Result<M, TrainError> {
    let record = Recorder::<B>::load(&recorder(), bytes, device)
        .map_err(err("decoding the model weights"))?;
    Ok(model.load_record(record))
}

impl<B: TrainBackend, M: burn::module::AutodiffModule<B>> AnyOptimizer<B, M> {
    /// Encodes the optimizer state (moments, step counts).
    pub fn to_bytes(&self) -> Result<Vec<u8>, TrainError> {
        let r = recorder();
        match self {
            Self::Adam(o) => Recorder::<B>::record(&r, o.to_record(), ()),
            Self::AdamW(o) => Recorder::<B>::record(&r, o.to_record(), ()),
            Self::Sgd(o) => Recorder::<B>::record(&r, o.to_record(), ()),
        }
        .map_err(err("encoding the optimizer state"))
    }

    /// Restores the optimizer state; load the model first (its parameter ids key this state).
    pub fn from_bytes(self, bytes: Vec<u8>, device: &B::Device) -> Result<Self, TrainError> {
        let r = recorder();
        let e = err("decoding the optimizer state");
        Ok(match self {
            Self::Adam(o) => {
                Self::Adam(o.load_record(Recorder::<B>::load(&r, bytes, device).map_err(e)?))
            }
            Self::AdamW(o) => {
                Self::AdamW(o.load_record(Recorder::<B>::load(&r, bytes, device).map_err(e)?))
            }
            Self::Sgd(o) => {
                Self::Sgd(o.load_record(Recorder::<B>::load(&r, bytes, device).map_err(e)?))
            }
        })
    }
}
