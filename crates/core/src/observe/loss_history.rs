//! A run's losses read back from its journal for the loss curve: training loss per step,
//! averaged into at most `bins` buckets of consecutive steps, and validation loss per
//! evaluation. Two streaming passes: memory does not grow with the run.

use super::JournalLine;
use crate::train::{Event, Split};
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// The journal could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {cause}")]
pub struct LossHistoryError {
    /// The journal.
    pub path: PathBuf,
    /// OS error.
    pub cause: std::io::Error,
}

/// The finite losses of a run, as (step, loss) points.
#[derive(Debug, Default, PartialEq)]
pub struct LossHistory {
    /// Training loss: the mean step and mean loss of each bucket of consecutive steps.
    pub train: Vec<(f64, f64)>,
    /// Validation loss at the step it was measured after.
    pub valid: Vec<(f64, f64)>,
    /// Training steps averaged into one point (1 when every step has its own).
    pub steps_per_point: u64,
    /// The last step the journal records (0 when none ran).
    pub last_step: u64,
}

/// Reads `journal`'s losses, the training steps averaged into at most `bins` points.
pub fn read_loss_history(journal: &Path, bins: usize) -> Result<LossHistory, LossHistoryError> {
    let mut last_step = 0u64;
    for_each_loss(journal, |_, step, _| last_step = last_step.max(step))?;
    let bins = bins.max(1) as u64;
    let steps_per_point = last_step.div_ceil(bins).max(1);
    let mut sums = vec![(0f64, 0f64, 0u32); last_step.div_ceil(steps_per_point) as usize + 1];
    let mut valid = Vec::new();
    for_each_loss(journal, |is_train, step, loss| {
        if is_train {
            let bucket = &mut sums[(step.saturating_sub(1) / steps_per_point) as usize];
            *bucket = (bucket.0 + step as f64, bucket.1 + loss, bucket.2 + 1);
        } else {
            valid.push((step as f64, loss));
        }
    })?;
    let train = sums
        .into_iter()
        .filter(|b| b.2 > 0)
        .map(|(steps, losses, n)| (steps / n as f64, losses / n as f64))
        .collect();
    Ok(LossHistory {
        train,
        valid,
        steps_per_point,
        last_step,
    })
}

/// Calls `f(is_train, step, loss)` for each finite training-step and validation loss; a
/// validation loss takes the step of the last step or checkpoint event before it.
fn for_each_loss(
    journal: &Path,
    mut f: impl FnMut(bool, u64, f64),
) -> Result<(), LossHistoryError> {
    let io = |cause| LossHistoryError {
        path: journal.to_path_buf(),
        cause,
    };
    let file = std::fs::File::open(journal).map_err(io)?;
    let mut last_step = 0u64;
    for line in std::io::BufReader::new(file).split(b'\n') {
        let Some(line) = JournalLine::parse(&line.map_err(io)?) else {
            continue;
        };
        match line.event {
            Event::Step {
                global_step, loss, ..
            } if loss.is_finite() => f(true, global_step as u64, loss),
            // Logged at the step it ran after.
            Event::Evaluated {
                split: Split::Valid,
                result,
                ..
            } if result.loss.is_finite() => f(false, last_step, result.loss),
            _ => {}
        }
        if let Event::Step { global_step, .. } | Event::CheckpointSaved { global_step, .. } =
            line.event
        {
            last_step = global_step as u64;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn averages_steps_into_bins_and_keeps_validation_points() {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("journal.jsonl");
        let mut text = String::new();
        for s in 1..=200 {
            let loss = if s == 7 { f64::NAN } else { s as f64 };
            text.push_str(&format!(
                "{{\"event\":\"step\",\"global_step\":{s},\"loss\":{loss}}}\n"
            ));
            if s % 50 == 0 {
                text.push_str(&format!(
                    "{{\"event\":\"evaluated\",\"split\":\"valid\",\"loss\":{}}}\n",
                    s as f64 / 100.0
                ));
            }
        }
        std::fs::write(&journal, text.replace("NaN", "null")).unwrap();
        let h = read_loss_history(&journal, 40).unwrap();
        assert_eq!(
            (h.steps_per_point, h.last_step, h.train.len()),
            (5, 200, 40)
        );
        assert_eq!(
            h.train[1],
            (8.25, 8.25),
            "steps 6..=10 without the NaN at 7"
        );
        assert_eq!(h.train[39], (198.0, 198.0));
        assert_eq!(
            h.valid,
            vec![(50.0, 0.5), (100.0, 1.0), (150.0, 1.5), (200.0, 2.0)]
        );
        assert_eq!(read_loss_history(&journal, 1000).unwrap().train.len(), 199);

        std::fs::write(&journal, "{\"event\":\"run_started\"}\n").unwrap();
        let empty = read_loss_history(&journal, 40).unwrap();
        assert!(empty.train.is_empty() && empty.valid.is_empty());
        assert!(read_loss_history(&dir.path().join("missing"), 40).is_err());
    }
}
