//! Successive halving (asynchronous, ASHA-style): at each rung (an epoch count) a trial goes
//! on only if it is among the best 1/eta of all trials that have reached that rung so far.

use super::space::{EarlyStopping, Mode};

/// The rungs below `epochs`: `min_epochs * eta^k` (a trial's last epoch is never a rung).
pub fn rungs(es: &EarlyStopping, epochs: usize) -> Vec<usize> {
    if !es.enabled {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut r = es.min_epochs.max(1);
    while r < epochs {
        out.push(r);
        r = r.saturating_mul(es.eta.max(2));
    }
    out
}

/// True when a trial reaching a rung with `value` should stop, given the values `others`
/// reached there before: it must rank among the best `ceil(n / eta)` of the `n` values.
/// A non-finite value ranks last.
pub fn stops(mode: Mode, eta: usize, others: &[f64], value: f64) -> bool {
    let n = others.len() + 1;
    let keep = n.div_ceil(eta.max(2));
    let better = others
        .iter()
        .filter(|&&o| !value.is_finite() || mode.better(o, value))
        .count();
    better >= keep
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rungs_grow_by_eta_below_the_last_epoch() {
        let es = EarlyStopping {
            enabled: true,
            min_epochs: 1,
            eta: 3,
        };
        assert_eq!(rungs(&es, 10), [1, 3, 9]);
        assert_eq!(rungs(&es, 9), [1, 3]);
        assert!(rungs(&EarlyStopping::default(), 10).is_empty());
    }

    #[test]
    fn only_the_best_third_goes_on() {
        // The first trial at a rung always goes on.
        assert!(!stops(Mode::Min, 3, &[], 5.0));
        // Two seen: keep 1 of 3.
        assert!(stops(Mode::Min, 3, &[1.0, 2.0], 1.5));
        assert!(!stops(Mode::Min, 3, &[1.0, 2.0], 0.5));
        assert!(!stops(Mode::Max, 3, &[0.8, 0.9], 0.95));
        assert!(stops(Mode::Max, 3, &[0.8, 0.9], 0.85));
        assert!(stops(Mode::Min, 2, &[1.0], f64::NAN));
    }
}
