//! The learning rate at each optimizer step: a pure function of the step, so a resumed run
//! continues the schedule exactly (no scheduler state to checkpoint).

use crate::config::{ScheduleKind, TrainConfig};

/// The rate for optimizer step `step` (0-based) of a run of `total_steps` steps.
pub fn learning_rate(t: &TrainConfig, step: usize, total_steps: usize) -> f64 {
    let s = &t.schedule;
    if step < s.warmup_steps {
        return t.lr * (step + 1) as f64 / s.warmup_steps as f64;
    }
    match s.kind {
        ScheduleKind::Constant => t.lr,
        ScheduleKind::Cosine => {
            let span = total_steps.saturating_sub(s.warmup_steps).max(1);
            let progress = ((step - s.warmup_steps) as f64 / span as f64).min(1.0);
            s.min_lr + 0.5 * (t.lr - s.min_lr) * (1.0 + (std::f64::consts::PI * progress).cos())
        }
        ScheduleKind::Step => {
            let decays = (step / s.step_every.max(1)).min(i32::MAX as usize) as i32;
            t.lr * s.gamma.powi(decays)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ScheduleConfig;

    fn train(kind: ScheduleKind, warmup_steps: usize) -> TrainConfig {
        TrainConfig {
            lr: 1.0,
            schedule: ScheduleConfig {
                kind,
                warmup_steps,
                min_lr: 0.1,
                step_every: 10,
                gamma: 0.5,
            },
            ..TrainConfig::default()
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn warmup_rises_linearly_to_the_base_rate() {
        let t = train(ScheduleKind::Constant, 4);
        let lrs: Vec<f64> = (0..6).map(|s| learning_rate(&t, s, 100)).collect();
        assert_eq!(lrs, [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]);
    }

    #[test]
    fn cosine_falls_from_the_base_rate_to_min_lr_after_warmup() {
        let t = train(ScheduleKind::Cosine, 4);
        // 10 steps after warm-up: half way (step 9) is the mid-point of lr and min_lr.
        assert!(close(learning_rate(&t, 4, 14), 1.0));
        assert!(close(learning_rate(&t, 9, 14), 0.55));
        assert!(close(learning_rate(&t, 14, 14), 0.1));
        assert!(
            close(learning_rate(&t, 50, 14), 0.1),
            "held at min_lr past the end"
        );
        // cos(pi/10) = 0.951056...: 0.1 + 0.45 * 1.951056 = 0.977975...
        assert!((learning_rate(&t, 5, 14) - 0.977_975_3).abs() < 1e-6);
    }

    #[test]
    fn step_decay_multiplies_by_gamma_every_step_every_steps() {
        let t = train(ScheduleKind::Step, 0);
        assert_eq!(learning_rate(&t, 9, 100), 1.0);
        assert_eq!(learning_rate(&t, 10, 100), 0.5);
        assert_eq!(learning_rate(&t, 25, 100), 0.25);
    }
}
