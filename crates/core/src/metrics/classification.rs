//! Classification metrics from a confusion matrix, and top-k hits from logits.

use serde::Serialize;

/// Counts of (true class, predicted class) pairs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfusionMatrix {
    classes: usize,
    /// Row-major `[true][predicted]` counts.
    counts: Vec<u64>,
}

impl ConfusionMatrix {
    /// An empty matrix for `classes` classes.
    pub fn new(classes: usize) -> Self {
        Self {
            classes,
            counts: vec![0; classes * classes],
        }
    }

    /// Number of classes.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// The counts as rows: `rows()[t][p]` samples of true class `t` were predicted `p`.
    pub fn rows(&self) -> Vec<Vec<u64>> {
        self.counts
            .chunks(self.classes.max(1))
            .map(<[u64]>::to_vec)
            .collect()
    }

    /// Samples whose true class is `c`.
    pub fn support(&self, c: usize) -> u64 {
        (0..self.classes).map(|p| self.count(c, p)).sum()
    }

    /// Records one prediction; ids outside `0..classes` are ignored and reported as `false`.
    pub fn add(&mut self, truth: usize, predicted: usize) -> bool {
        if truth >= self.classes || predicted >= self.classes {
            return false;
        }
        self.counts[truth * self.classes + predicted] += 1;
        true
    }

    /// How often class `truth` was predicted as `predicted`.
    pub fn count(&self, truth: usize, predicted: usize) -> u64 {
        self.counts[truth * self.classes + predicted]
    }

    /// Samples recorded.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Samples predicted correctly (the diagonal).
    pub fn correct(&self) -> u64 {
        (0..self.classes).map(|c| self.count(c, c)).sum()
    }

    /// Fraction predicted correctly (NaN when empty).
    pub fn accuracy(&self) -> f64 {
        self.correct() as f64 / self.total() as f64
    }

    fn predicted_as(&self, c: usize) -> u64 {
        (0..self.classes).map(|t| self.count(t, c)).sum()
    }

    fn actually(&self, c: usize) -> u64 {
        (0..self.classes).map(|p| self.count(c, p)).sum()
    }

    /// Precision of class `c`: correct / predicted as `c` (0 when never predicted).
    pub fn precision(&self, c: usize) -> f64 {
        ratio(self.count(c, c), self.predicted_as(c))
    }

    /// Recall of class `c`: correct / truly `c` (0 when absent).
    pub fn recall(&self, c: usize) -> f64 {
        ratio(self.count(c, c), self.actually(c))
    }

    /// F1 of class `c`: harmonic mean of precision and recall (0 when both are 0).
    pub fn f1(&self, c: usize) -> f64 {
        let (p, r) = (self.precision(c), self.recall(c));
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }

    /// Unweighted mean over classes present in the data or the predictions (scikit-learn's
    /// `average="macro"` over the observed labels).
    fn macro_of(&self, per_class: impl Fn(usize) -> f64) -> f64 {
        let seen: Vec<usize> = (0..self.classes)
            .filter(|&c| self.actually(c) + self.predicted_as(c) > 0)
            .collect();
        seen.iter().map(|&c| per_class(c)).sum::<f64>() / seen.len().max(1) as f64
    }

    /// Macro-averaged precision.
    pub fn macro_precision(&self) -> f64 {
        self.macro_of(|c| self.precision(c))
    }

    /// Macro-averaged recall.
    pub fn macro_recall(&self) -> f64 {
        self.macro_of(|c| self.recall(c))
    }

    /// Macro-averaged F1 (the mean of per-class F1 scores).
    pub fn macro_f1(&self) -> f64 {
        self.macro_of(|c| self.f1(c))
    }
}

fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

/// How many rows of `logits` (row-major `[targets.len(), classes]`) rank their target among
/// the `k` highest scores (ties broken by the lower class id, like a stable sort).
pub fn top_k_hits(logits: &[f32], classes: usize, targets: &[usize], k: usize) -> usize {
    targets
        .iter()
        .zip(logits.chunks_exact(classes.max(1)))
        .filter(|&(&t, row)| {
            t < row.len() && {
                let score = row[t];
                // Classes that outrank the target: higher score, or equal score and lower id.
                let above = row
                    .iter()
                    .enumerate()
                    .filter(|&(c, &s)| s > score || (s == score && c < t))
                    .count();
                above < k
            }
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// truth:     0 0 0 1 1 2 2 2 2 2
    /// predicted: 0 0 1 1 2 2 2 2 0 1
    fn example() -> ConfusionMatrix {
        let mut m = ConfusionMatrix::new(3);
        let truth = [0, 0, 0, 1, 1, 2, 2, 2, 2, 2];
        let pred = [0, 0, 1, 1, 2, 2, 2, 2, 0, 1];
        for (t, p) in truth.into_iter().zip(pred) {
            assert!(m.add(t, p));
        }
        m
    }

    #[test]
    fn per_class_and_macro_scores_match_hand_computation() {
        let m = example();
        assert_eq!(m.total(), 10);
        assert_eq!((m.count(2, 0), m.count(2, 1), m.count(2, 2)), (1, 1, 3));
        assert_eq!(m.rows(), [[2, 1, 0], [0, 1, 1], [1, 1, 3]]);
        assert_eq!((m.support(0), m.support(1), m.support(2)), (3, 2, 5));
        assert!((m.accuracy() - 0.6).abs() < 1e-12); // 2 + 1 + 3 correct of 10
        // Class 0: predicted 3 times (2 right), truly 3 -> P 2/3, R 2/3, F1 2/3.
        // Class 1: predicted 3 times (1 right), truly 2 -> P 1/3, R 1/2, F1 0.4.
        // Class 2: predicted 4 times (3 right), truly 5 -> P 3/4, R 3/5, F1 2/3.
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        assert!(close(m.precision(1), 1.0 / 3.0) && close(m.recall(1), 0.5) && close(m.f1(1), 0.4));
        assert!(
            close(m.precision(2), 0.75) && close(m.recall(2), 0.6) && close(m.f1(2), 2.0 / 3.0)
        );
        assert!(close(
            m.macro_precision(),
            (2.0 / 3.0 + 1.0 / 3.0 + 0.75) / 3.0
        ));
        assert!(close(m.macro_recall(), (2.0 / 3.0 + 0.5 + 0.6) / 3.0));
        assert!(close(m.macro_f1(), (2.0 / 3.0 + 0.4 + 2.0 / 3.0) / 3.0));
    }

    #[test]
    fn absent_classes_do_not_dilute_macro_scores_and_bad_ids_are_refused() {
        let mut m = ConfusionMatrix::new(4);
        m.add(0, 0);
        m.add(1, 0);
        assert!(!m.add(4, 0) && !m.add(0, 7));
        // Classes 2 and 3 never occur: macro over {0, 1}. P0 = 1/2, P1 = 0 (never predicted).
        assert!((m.macro_precision() - 0.25).abs() < 1e-12);
        assert!((m.macro_recall() - 0.5).abs() < 1e-12);
        assert!(ConfusionMatrix::new(2).accuracy().is_nan());
    }

    #[test]
    fn top_k_counts_targets_within_the_k_best() {
        let logits = [
            0.1, 0.7, 0.2, // target 2: rank 2
            0.9, 0.05, 0.05, // target 0: rank 1
            0.3, 0.3, 0.4, // target 1: tied with class 0, which wins the tie: rank 3
        ];
        let targets = [2, 0, 1];
        assert_eq!(top_k_hits(&logits, 3, &targets, 1), 1);
        assert_eq!(top_k_hits(&logits, 3, &targets, 2), 2);
        assert_eq!(top_k_hits(&logits, 3, &targets, 3), 3);
    }
}
