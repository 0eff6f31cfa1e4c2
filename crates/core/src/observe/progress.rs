//! Progress display: indicatif bars on a terminal, plain lines otherwise (logs, CI).

use crate::train::{Event, Observer, Split};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;

/// Shows training progress on stdout.
pub struct Progress {
    bar: Option<ProgressBar>,
    interactive: bool,
    epochs: usize,
    steps_per_epoch: usize,
}

impl Progress {
    /// Bars when stdout is a terminal, else plain lines.
    pub fn new() -> Self {
        Self {
            bar: None,
            interactive: std::io::stdout().is_terminal(),
            epochs: 0,
            steps_per_epoch: 0,
        }
    }
}

impl Default for Progress {
    fn default() -> Self {
        Self::new()
    }
}

impl Observer for Progress {
    fn on_event(&mut self, event: &Event) {
        match *event {
            Event::RunStarted {
                ref model,
                ref backend,
                ref device,
                parameters,
                train_samples,
                steps_per_epoch,
                epochs,
                resumed_at_step,
            } => {
                self.epochs = epochs;
                self.steps_per_epoch = steps_per_epoch;
                let resumed = if resumed_at_step > 0 {
                    format!(", resuming after step {resumed_at_step}")
                } else {
                    String::new()
                };
                crate::outln!(
                    "training {model} ({parameters} parameters) on {backend}, {device}: {train_samples} samples, \
                     {epochs} epochs x {steps_per_epoch} steps{resumed}"
                );
            }
            Event::CheckpointSaved {
                ref name,
                global_step,
            } => {
                let line = format!("checkpoint {name} saved (step {global_step})");
                match &self.bar {
                    Some(bar) => bar.println(line),
                    None => crate::outln!("{line}"),
                }
            }
            Event::EpochStarted { epoch } if self.interactive => {
                let bar = ProgressBar::new(self.steps_per_epoch as u64);
                let style = ProgressStyle::with_template(
                    "epoch {prefix} [{bar:30}] {pos}/{len} {msg} ETA {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
                bar.set_style(style);
                bar.set_prefix(format!("{}/{}", epoch + 1, self.epochs));
                self.bar = Some(bar);
            }
            Event::Step {
                epoch,
                step_in_epoch,
                loss,
                samples_per_sec,
                ..
            } => {
                let msg = format!("loss {loss:.4} {samples_per_sec:.0} samples/s");
                match &self.bar {
                    Some(bar) => {
                        bar.set_position(step_in_epoch as u64);
                        bar.set_message(msg);
                    }
                    None => crate::outln!(
                        "epoch {}/{} step {step_in_epoch}/{} {msg}",
                        epoch + 1,
                        self.epochs,
                        self.steps_per_epoch
                    ),
                }
            }
            Event::EpochEnded {
                epoch,
                train_loss,
                seconds,
                samples_per_sec,
            } => {
                if let Some(bar) = self.bar.take() {
                    bar.finish_and_clear();
                }
                crate::outln!(
                    "epoch {}/{} done: train loss {train_loss:.4}, {seconds:.1}s, {samples_per_sec:.0} samples/s",
                    epoch + 1,
                    self.epochs
                );
            }
            Event::Evaluated { split, result, .. } => {
                let name = match split {
                    Split::Valid => "validation",
                    Split::Test => "test",
                };
                crate::outln!(
                    "  {name}: {} ({} samples)",
                    result.describe(),
                    result.samples
                );
            }
            Event::SamplesSkipped {
                ref files, total, ..
            } => {
                if let Some(last) = files.last() {
                    crate::outln!(
                        "  skipped {total} unreadable file(s) so far (data.bad_samples = \"skip\"); newest: {last}"
                    );
                }
            }
            Event::EpochStarted { .. }
            | Event::RunEnded { .. }
            | Event::DataUsed { .. }
            | Event::SystemMetrics { .. }
            | Event::SweepStarted { .. }
            | Event::TrialEnded { .. }
            | Event::SweepBest { .. } => {}
        }
    }
}
