//! Loss and task metrics of a model on a batch source (no graph, dropout off): accuracy, top-5,
//! macro F1 and perplexity for classes; RMSE, MAE and R² for regression.

use super::TrainError;
use crate::data::{BatchList, BatchSource, Loader, LoaderSettings};
use crate::metrics::{ConfusionMatrix, RegressionStats, perplexity};
use crate::model::{Scores, Trainable};
use burn::prelude::*;
use burn::tensor::Transaction;
use std::sync::Arc;

/// `k` of the reported top-k accuracy (reported when there are more than `k` classes).
pub const TOP_K: usize = 5;

/// Journal field names of the evaluation metrics, in display order.
pub const EVAL_METRICS: [&str; 9] = [
    "loss",
    "accuracy",
    "top5_accuracy",
    "macro_f1",
    "perplexity",
    "bits_per_byte",
    "rmse",
    "mae",
    "r2",
];

/// Evaluation totals; each metric is present only where it applies to the task.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EvalResult {
    /// Mean loss per scored row: cross-entropy (nats per token for language models), or the
    /// mean squared error of the standardized target for regression.
    #[serde(
        default = "super::events::nan",
        deserialize_with = "super::events::nan_if_null"
    )]
    pub loss: f64,
    /// Classification: fraction correct.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<f64>,
    /// Classification with more than 5 classes: fraction whose true class is among the 5
    /// highest scores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top5_accuracy: Option<f64>,
    /// Classification: unweighted mean of the per-class F1 scores (classes present in labels
    /// or predictions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub macro_f1: Option<f64>,
    /// Language models: `exp(loss)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub perplexity: Option<f64>,
    /// Language models whose text's size in bytes is known: the loss in bits per UTF-8 byte
    /// (`loss / ln 2 / bytes per token`), comparable across tokenizers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bits_per_byte: Option<f64>,
    /// Regression: root mean squared error, in the target's units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rmse: Option<f64>,
    /// Regression: mean absolute error, in the target's units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mae: Option<f64>,
    /// Regression: coefficient of determination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r2: Option<f64>,
    /// Rows scored: samples, or tokens for language models.
    #[serde(default)]
    pub samples: usize,
}

impl EvalResult {
    /// The result of an empty split: NaN loss, no metrics.
    pub fn empty() -> Self {
        Self {
            loss: f64::NAN,
            accuracy: None,
            top5_accuracy: None,
            macro_f1: None,
            perplexity: None,
            bits_per_byte: None,
            rmse: None,
            mae: None,
            r2: None,
            samples: 0,
        }
    }

    /// The metrics in display order, as `(name, value)` with the journal's field names.
    pub fn metrics(&self) -> Vec<(&'static str, f64)> {
        let values = [
            Some(self.loss),
            self.accuracy,
            self.top5_accuracy,
            self.macro_f1,
            self.perplexity,
            self.bits_per_byte,
            self.rmse,
            self.mae,
            self.r2,
        ];
        EVAL_METRICS
            .into_iter()
            .zip(values)
            .filter_map(|(k, v)| Some((k, v?)))
            .collect()
    }

    /// One line for people: `loss 0.1234, accuracy 97.50%, top-5 99.90%, macro F1 0.9749`.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = self
            .metrics()
            .into_iter()
            .map(|(k, v)| match k {
                "accuracy" => format!("accuracy {:.2}%", v * 100.0),
                "top5_accuracy" => format!("top-{TOP_K} {:.2}%", v * 100.0),
                "macro_f1" => format!("macro F1 {v:.4}"),
                "perplexity" => format!("perplexity {v:.3}"),
                "bits_per_byte" => format!("{v:.4} bits/byte"),
                "rmse" => format!("RMSE {v:.4}"),
                "mae" => format!("MAE {v:.4}"),
                "r2" => format!("R² {v:.4}"),
                _ => format!("{k} {v:.4}"),
            })
            .collect();
        parts.join(", ")
    }
}

/// Evaluates in batches of `batch_size` streamed by the loader. Every scored row counts: a
/// sample, or a token for language models.
pub fn evaluate<B, M, S>(
    model: &M,
    source: &Arc<S>,
    batch_size: usize,
    loader: LoaderSettings,
    device: &B::Device,
) -> Result<EvalResult, TrainError>
where
    B: Backend,
    M: Trainable<B>,
    S: BatchSource<Batch = M::Batch> + ?Sized + 'static,
{
    evaluate_with_confusion(model, source, batch_size, loader, device).map(|(r, _)| r)
}

/// [`evaluate`], also returning the confusion matrix (rows: true class, columns: predicted;
/// empty for regression).
pub fn evaluate_with_confusion<B, M, S>(
    model: &M,
    source: &Arc<S>,
    batch_size: usize,
    loader: LoaderSettings,
    device: &B::Device,
) -> Result<(EvalResult, ConfusionMatrix), TrainError>
where
    B: Backend,
    M: Trainable<B>,
    S: BatchSource<Batch = M::Batch> + ?Sized + 'static,
{
    let n = source.len();
    let mut loss_sum = Tensor::<B, 1>::zeros([1], device);
    let mut totals = Totals::default();
    let batches = BatchList::new((0..n as u32).collect(), batch_size, false);
    for item in Loader::start(source.clone(), batches, 0, loader) {
        let (_, batch) = item?;
        let scores = model.score(&batch, device);
        let rows = scores.rows();
        totals.rows += rows;
        // The loss sum stays on the device until the end; predictions come back a batch at a
        // time, so memory stays O(batch + classes²) however large the split.
        loss_sum = loss_sum + scores.loss() * (rows as f32);
        totals.add(scores)?;
    }
    if totals.rows == 0 {
        return Ok((EvalResult::empty(), ConfusionMatrix::new(0)));
    }
    let loss = super::read_scalar(Some(loss_sum))? / totals.rows as f64;
    let (mut result, confusion) = totals.finish(loss, M::LANGUAGE_MODEL);
    if M::LANGUAGE_MODEL {
        result.bits_per_byte = source
            .bytes_per_row()
            .filter(|b| *b > 0.0)
            .map(|b| loss / std::f64::consts::LN_2 / b);
    }
    Ok((result, confusion))
}

/// What an evaluation has counted so far.
#[derive(Default)]
struct Totals {
    rows: usize,
    confusion: Option<ConfusionMatrix>,
    /// Rows whose true class ranked in the top `TOP_K` (counted when classes > `TOP_K`).
    top_k_hits: Option<u64>,
    regression: Option<RegressionStats>,
}

impl Totals {
    /// Reads one batch's predictions back and counts them.
    fn add<B: Backend>(&mut self, scores: Scores<B>) -> Result<(), TrainError> {
        match scores {
            Scores::Classes { logits, targets } => {
                let classes = logits.dims()[1];
                let predicted = logits.clone().argmax(1).squeeze_dim::<1>(1);
                let mut wanted = vec![predicted, targets.clone()];
                if classes > TOP_K {
                    wanted.push(target_rank(logits, targets));
                }
                let back = read_back(wanted)?;
                let m = self
                    .confusion
                    .get_or_insert_with(|| ConfusionMatrix::new(classes));
                for (&p, &t) in back[0].iter().zip(&back[1]) {
                    m.add(t as usize, p as usize);
                }
                if let Some(ranks) = back.get(2) {
                    let hits = ranks.iter().filter(|&&r| r < TOP_K as i64).count() as u64;
                    *self.top_k_hits.get_or_insert(0) += hits;
                }
            }
            Scores::Values {
                predicted,
                targets,
                scale,
            } => {
                let rows = targets.dims()[0];
                let both = Tensor::cat(vec![predicted.reshape([rows]), targets], 0);
                let values = both
                    .into_data()
                    .convert::<f32>()
                    .into_vec::<f32>()
                    .map_err(TrainError::backend("evaluation read-back"))?;
                let (p, t) = values.split_at(rows);
                let stats = self.regression.get_or_insert_with(Default::default);
                for (&p, &t) in p.iter().zip(t) {
                    let original = |v: f32| scale.original(f64::from(v));
                    stats.add(original(t), original(p));
                }
            }
        }
        Ok(())
    }

    /// The metrics of everything counted, with the mean `loss`.
    fn finish(self, loss: f64, language_model: bool) -> (EvalResult, ConfusionMatrix) {
        let rows = self.rows as f64;
        let mut r = EvalResult {
            loss,
            samples: self.rows,
            ..EvalResult::empty()
        };
        if let Some(s) = &self.regression {
            (r.rmse, r.mae, r.r2) = (Some(s.rmse()), Some(s.mae()), Some(s.r2()));
        }
        let confusion = self.confusion.unwrap_or_else(|| ConfusionMatrix::new(0));
        if confusion.classes() > 0 {
            // A prediction is in 0..classes, so the diagonal counts every label it matched.
            r.accuracy = Some(confusion.correct() as f64 / rows);
            r.macro_f1 = Some(confusion.macro_f1());
            r.top5_accuracy = self.top_k_hits.map(|h| h as f64 / rows);
            r.perplexity = language_model.then(|| perplexity(loss));
        }
        (r, confusion)
    }
}

/// For each row, how many classes score strictly higher than its true class (0 = top-1).
fn target_rank<B: Backend>(logits: Tensor<B, 2>, targets: Tensor<B, 1, Int>) -> Tensor<B, 1, Int> {
    let [rows, classes] = logits.dims();
    let target_score = logits.clone().gather(1, targets.unsqueeze_dim::<2>(1)); // [rows, 1]
    logits
        .greater(target_score.expand([rows, classes]))
        .int()
        .sum_dim(1)
        .squeeze_dim::<1>(1)
}

/// Reads integer tensors back to the host in one transaction.
fn read_back<B: Backend>(tensors: Vec<Tensor<B, 1, Int>>) -> Result<Vec<Vec<i64>>, TrainError> {
    let data: Vec<TensorData> = tensors
        .into_iter()
        .fold(Transaction::default(), |t, x| t.register(x))
        .try_execute()
        .map_err(TrainError::backend("evaluation read-back"))?;
    data.into_iter()
        .map(|d| {
            d.convert::<i64>()
                .to_vec::<i64>()
                .map_err(TrainError::backend("evaluation read-back"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::top_k_hits;
    use burn::backend::Flex;
    use rand::{Rng, SeedableRng};

    #[test]
    fn device_ranks_agree_with_the_host_top_k_count() {
        let (rows, classes) = (64, 12);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let logits: Vec<f32> = (0..rows * classes).map(|_| rng.random()).collect();
        let targets: Vec<i64> = (0..rows)
            .map(|_| rng.random_range(0..classes as i64))
            .collect();
        let device = Default::default();
        let l =
            Tensor::<Flex, 2>::from_data(TensorData::new(logits.clone(), [rows, classes]), &device);
        let t =
            Tensor::<Flex, 1, Int>::from_data(TensorData::new(targets.clone(), [rows]), &device);
        let ranks = read_back(vec![target_rank(l, t)]).unwrap().remove(0);
        let as_usize: Vec<usize> = targets.iter().map(|&t| t as usize).collect();
        for k in [1, 3, 5, 12] {
            let device_hits = ranks.iter().filter(|&&r| r < k as i64).count();
            assert_eq!(
                device_hits,
                top_k_hits(&logits, classes, &as_usize, k),
                "k = {k}"
            );
        }
        // Hand-made: row scores [0.1, 0.9, 0.5] with true class 2 rank 1 (only 0.9 is higher).
        let l =
            Tensor::<Flex, 2>::from_data(TensorData::new(vec![0.1f32, 0.9, 0.5], [1, 3]), &device);
        let t = Tensor::<Flex, 1, Int>::from_data(TensorData::new(vec![2i64], [1]), &device);
        assert_eq!(read_back(vec![target_rank(l, t)]).unwrap(), [[1]]);
    }

    #[test]
    fn totals_turn_counts_into_metrics() {
        let mut confusion = ConfusionMatrix::new(3);
        for (t, p) in [(0, 0), (1, 1), (2, 1), (2, 2)] {
            confusion.add(t, p);
        }
        let totals = Totals {
            rows: 4,
            confusion: Some(confusion),
            top_k_hits: None,
            regression: None,
        };
        let (r, _) = totals.finish(2f64.ln(), true);
        assert_eq!(r.accuracy, Some(0.75));
        assert!((r.perplexity.unwrap() - 2.0).abs() < 1e-12);
        assert_eq!((r.top5_accuracy, r.rmse), (None, None));
        let mut stats = RegressionStats::default();
        stats.add(1.0, 3.0);
        stats.add(3.0, 3.0);
        let totals = Totals {
            rows: 2,
            regression: Some(stats),
            ..Totals::default()
        };
        let (r, m) = totals.finish(0.5, false);
        assert_eq!(
            (r.rmse, r.mae, r.r2),
            (Some(2f64.sqrt()), Some(1.0), Some(-1.0))
        );
        assert_eq!((r.accuracy, m.classes()), (None, 0));
        assert_eq!(
            r.describe(),
            "loss 0.5000, RMSE 1.4142, MAE 1.0000, R² -1.0000"
        );
    }
}
