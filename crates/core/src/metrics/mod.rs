//! Evaluation metrics as plain, streaming accumulators over host values: classification
//! (confusion matrix, accuracy, top-k, per-class and macro precision/recall/F1), regression
//! (RMSE, MAE, R²) and language modelling (perplexity). Backend-free, so they are checked
//! against hand-computed values.

mod classification;
mod regression;

pub use classification::{ConfusionMatrix, top_k_hits};
pub use regression::RegressionStats;

/// Perplexity from a mean cross-entropy in nats per token.
pub fn perplexity(mean_nats: f64) -> f64 {
    mean_nats.exp()
}

#[cfg(test)]
mod tests {
    #[test]
    fn perplexity_is_exp_of_mean_nats() {
        assert!((super::perplexity(2.0f64.ln()) - 2.0).abs() < 1e-12);
        assert_eq!(super::perplexity(0.0), 1.0);
    }
}
