//! Regression metrics, accumulated in one pass.

use serde::Serialize;

/// Running sums for RMSE, MAE and R².
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct RegressionStats {
    n: u64,
    sum_sq_err: f64,
    sum_abs_err: f64,
    sum_y: f64,
    sum_y_sq: f64,
}

impl RegressionStats {
    /// Records one (target, prediction) pair.
    pub fn add(&mut self, target: f64, predicted: f64) {
        let e = predicted - target;
        self.n += 1;
        self.sum_sq_err += e * e;
        self.sum_abs_err += e.abs();
        self.sum_y += target;
        self.sum_y_sq += target * target;
    }

    /// Pairs recorded.
    pub fn count(&self) -> u64 {
        self.n
    }

    /// Root mean squared error.
    pub fn rmse(&self) -> f64 {
        (self.sum_sq_err / self.n as f64).sqrt()
    }

    /// Mean absolute error.
    pub fn mae(&self) -> f64 {
        self.sum_abs_err / self.n as f64
    }

    /// Coefficient of determination, `1 - SSE / SST` (NaN when the targets do not vary).
    pub fn r2(&self) -> f64 {
        let n = self.n as f64;
        let sst = self.sum_y_sq - self.sum_y * self.sum_y / n;
        if sst <= 0.0 {
            return f64::NAN;
        }
        1.0 - self.sum_sq_err / sst
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_hand_computation() {
        // targets 1 2 3 4, predictions 1.5 2 2 5: errors 0.5 0 -1 1.
        let mut s = RegressionStats::default();
        for (y, p) in [(1.0, 1.5), (2.0, 2.0), (3.0, 2.0), (4.0, 5.0)] {
            s.add(y, p);
        }
        assert_eq!(s.count(), 4);
        assert!((s.mae() - 2.5 / 4.0).abs() < 1e-12);
        assert!((s.rmse() - (2.25f64 / 4.0).sqrt()).abs() < 1e-12);
        // SST = sum (y - 2.5)^2 = 5, SSE = 2.25 -> R² = 0.55.
        assert!((s.r2() - 0.55).abs() < 1e-12);
        let mut flat = RegressionStats::default();
        flat.add(3.0, 2.0);
        flat.add(3.0, 4.0);
        assert!(flat.r2().is_nan());
    }
}
