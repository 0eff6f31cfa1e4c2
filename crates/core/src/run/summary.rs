//! `summary.json`: what a finished run did and reached.

use crate::train::FitReport;
use serde::Serialize;

/// The run summary written at the end of `fit`.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// `trainer` version that produced the run.
    pub trainer_version: &'static str,
    /// Run name.
    pub run_name: String,
    /// Model kind (`mlp`, ...), or the name of a library user's model.
    pub model: String,
    /// Backend name.
    pub backend: &'static str,
    /// Device description.
    pub device: String,
    /// Why that backend was chosen.
    pub backend_reason: String,
    /// Seed.
    pub seed: u64,
    /// The data the run read (none for a library user's own data).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub datasets: Vec<crate::data::DatasetRecord>,
    /// Wall seconds from start to finish (loading and evaluation included).
    pub wall_seconds: f64,
    /// Validation accuracy after the last epoch (classification with a validation split).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_accuracy: Option<f64>,
    /// Validation loss after the last epoch.
    pub valid_loss: Option<f64>,
    /// Test accuracy at the end (classification with a test split).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_accuracy: Option<f64>,
    /// Test loss at the end.
    pub test_loss: f64,
    /// Everything the training loop reported.
    #[serde(flatten)]
    pub report: FitReport,
}
