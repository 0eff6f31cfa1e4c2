//! Axis scales: values are drawn in scale space (log10 for a log axis) and ticks are written in
//! data units.

/// How an axis maps values to positions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    /// Evenly spaced values.
    Linear,
    /// Evenly spaced powers of ten; values <= 0 cannot be shown.
    Log10,
}

impl Scale {
    /// The position of `v` on this scale, None when it cannot be shown.
    pub(crate) fn position_of(self, v: f64) -> Option<f64> {
        let t = match self {
            Scale::Linear => v,
            Scale::Log10 if v > 0.0 => v.log10(),
            Scale::Log10 => return None,
        };
        t.is_finite().then_some(t)
    }

    /// The value at axis position `t`.
    pub(crate) fn value_at(self, t: f64) -> f64 {
        match self {
            Scale::Linear => t,
            Scale::Log10 => 10f64.powf(t),
        }
    }

    /// The scale a series of positive values spanning `lo..=hi` reads best on: log when it
    /// covers more than three orders of magnitude.
    pub fn fitting(lo: f64, hi: f64) -> Scale {
        if lo > 0.0 && hi / lo > 1e3 {
            Scale::Log10
        } else {
            Scale::Linear
        }
    }
}

/// A tick value as people write it: `0.25`, `1200`, `3e-5`, `1.5e21`.
pub(crate) fn tick_text(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if !(1e-3..1e6).contains(&a) {
        let s = format!("{v:.1e}");
        s.replace(".0e", "e")
    } else {
        let s = format!("{v:.4}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_read_like_numbers_and_log_drops_non_positive_values() {
        assert_eq!(tick_text(0.25), "0.25");
        assert_eq!(tick_text(1200.0), "1200");
        assert_eq!(tick_text(3e-5), "3e-5");
        assert_eq!(tick_text(1.5e21), "1.5e21");
        assert_eq!(tick_text(0.0), "0");
        assert_eq!(Scale::Log10.position_of(0.0), None);
        assert_eq!(Scale::Log10.position_of(100.0), Some(2.0));
        assert_eq!(Scale::fitting(1.0, 1e21), Scale::Log10);
        assert_eq!(Scale::fitting(0.2, 2.3), Scale::Linear);
    }
}
