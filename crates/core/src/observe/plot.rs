//! The loss curve of a run as a PNG, drawn from its journal: training loss per step (blue,
//! averaged per pixel column) and validation loss per epoch (orange), with the y scale and
//! the last step written on the axes. Two streaming passes: memory does not grow with the run.

use super::JournalLine;
use super::canvas::{
    Align, BLUE, Canvas, GRAY, HEIGHT, LIGHT, MARGIN, ORANGE, WIDTH, nice_ceiling,
};
use crate::train::{Event, Split};
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// Why the curve could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// The journal could not be read.
    #[error("{path}: {cause}")]
    Io {
        /// The journal.
        path: PathBuf,
        /// OS error.
        cause: std::io::Error,
    },
    /// No finite training loss in the journal.
    #[error("{0}: no training loss to plot")]
    Empty(PathBuf),
    /// PNG encoding failed.
    #[error("encoding the loss curve: {0}")]
    Encode(String),
}

/// Draws the journal's loss curve; returns PNG bytes.
pub fn loss_curve_png(journal: &Path) -> Result<Vec<u8>, PlotError> {
    let mut max_step = 0i64;
    let mut max_loss = 0f64;
    for_each_loss(journal, |_, step, loss| {
        max_step = max_step.max(step);
        max_loss = max_loss.max(loss);
    })?;
    if max_step == 0 || max_loss <= 0.0 {
        return Err(PlotError::Empty(journal.to_path_buf()));
    }
    let (left, right, top, bottom) = MARGIN;
    let (pw, ph) = (WIDTH - left - right, HEIGHT - top - bottom);
    let mut columns = vec![(0f64, 0u32); pw];
    let mut valid: Vec<(i64, f64)> = Vec::new();
    for_each_loss(journal, |is_train, step, loss| {
        if is_train {
            let x = ((step as f64 / max_step as f64) * (pw - 1) as f64).round() as usize;
            let c = &mut columns[x.min(pw - 1)];
            *c = (c.0 + loss, c.1 + 1);
        } else {
            valid.push((step, loss));
        }
    })?;
    let y_max = nice_ceiling(max_loss);
    let to_px = |step: i64, loss: f64| {
        let x = left as f64 + step as f64 / max_step as f64 * (pw - 1) as f64;
        let y = top as f64 + (1.0 - (loss / y_max).clamp(0.0, 1.0)) * (ph - 1) as f64;
        (x, y)
    };

    let mut img = Canvas::new();
    for i in 0..=4 {
        let y = top + (ph - 1) * i / 4;
        img.line(
            (left as f64, y as f64),
            ((left + pw) as f64, y as f64),
            LIGHT,
        );
        let value = y_max * (4 - i) as f64 / 4.0;
        img.text(&format!("{value:.2}"), left - 8, y, Align::Right);
    }
    img.line(
        (left as f64, top as f64),
        (left as f64, (top + ph) as f64),
        GRAY,
    );
    img.line(
        (left as f64, (top + ph) as f64),
        ((left + pw) as f64, (top + ph) as f64),
        GRAY,
    );
    img.text("0", left, top + ph + 14, Align::Left);
    img.text(
        &max_step.to_string(),
        left + pw,
        top + ph + 14,
        Align::Right,
    );

    let mut prev: Option<(f64, f64)> = None;
    for (x, (sum, n)) in columns.iter().enumerate() {
        if *n == 0 {
            continue;
        }
        let step = (x as f64 / (pw - 1) as f64 * max_step as f64).round() as i64;
        let p = to_px(step, sum / *n as f64);
        if let Some(q) = prev {
            img.line(q, p, BLUE);
        }
        prev = Some(p);
    }
    let mut prev: Option<(f64, f64)> = None;
    for (step, loss) in valid {
        let p = to_px(step, loss);
        img.dot(p, ORANGE);
        if let Some(q) = prev {
            img.line(q, p, ORANGE);
        }
        prev = Some(p);
    }
    img.encode()
}

/// Calls `f(is_train, step, loss)` for each finite training-step and validation loss.
fn for_each_loss(journal: &Path, mut f: impl FnMut(bool, i64, f64)) -> Result<(), PlotError> {
    let io = |cause| PlotError::Io {
        path: journal.to_path_buf(),
        cause,
    };
    let file = std::fs::File::open(journal).map_err(io)?;
    let mut last_step = 0i64;
    for line in std::io::BufReader::new(file).split(b'\n') {
        let Some(line) = JournalLine::parse(&line.map_err(io)?) else {
            continue;
        };
        match line.event {
            Event::Step {
                global_step, loss, ..
            } if loss.is_finite() => f(true, global_step as i64, loss),
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
            last_step = global_step as i64;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_the_curve_and_refuses_a_journal_without_losses() {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("journal.jsonl");
        let mut text = String::new();
        for s in 1..=200 {
            let loss = 2.0 / s as f64;
            text.push_str(&format!(
                "{{\"event\":\"step\",\"global_step\":{s},\"loss\":{loss}}}\n"
            ));
            if s % 50 == 0 {
                text.push_str(&format!(
                    "{{\"event\":\"evaluated\",\"split\":\"valid\",\"loss\":{}}}\n",
                    loss * 1.1
                ));
            }
        }
        std::fs::write(&journal, &text).unwrap();
        let png = loss_curve_png(&journal).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        let decoder = png::Decoder::new(std::io::Cursor::new(png));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        reader.next_frame(&mut buf).unwrap();
        let count = |rgb: [u8; 3]| buf.chunks(3).filter(|p| *p == rgb).count();
        assert!(count(BLUE) > 500, "the training curve is drawn");
        assert!(count(ORANGE) >= 4 * 25, "the validation points are drawn");

        std::fs::write(&journal, "{\"event\":\"run_started\"}\n").unwrap();
        assert!(matches!(loss_curve_png(&journal), Err(PlotError::Empty(_))));
        assert_eq!(nice_ceiling(2.3), 2.5);
        assert_eq!(nice_ceiling(0.7), 1.0);
    }
}
