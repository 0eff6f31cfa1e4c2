//! Experiment tracking beyond the local journal: the journal is the spool, and an MLflow
//! adapter replays it over the REST API on its own thread (`worker`) or on demand (`runs sync`).

mod client;
mod convert;
mod model_dir;
mod registry;
mod settings;
mod sync;
mod worker;

pub use client::{MlflowClient, MlflowError};
pub use convert::{metric_value, params_of, point_json};
pub use model_dir::{FLAVOR, MLMODEL_FILE, MODEL_ARTIFACT_DIR, listed_checksums, model_files};
pub use registry::{ModelVersion, RegisteredModel};
pub use settings::{Auth, MlflowSettings};
pub use sync::{SyncState, Syncer, pending_lines};
pub use worker::{Backoff, DrainReport, MlflowWorker};
