//! A scatter plot as a PNG: one dot per (x, y) point, x on a linear or log scale, with the
//! ranges written on the axes (a sweep's objective against one searched key).

use super::canvas::{Align, BLUE, Canvas, GRAY, HEIGHT, LIGHT, MARGIN, WIDTH};
use super::plot::PlotError;
use std::path::PathBuf;

/// Draws `points` (non-finite ones skipped); `log_x` puts x on a log scale. Err when no point
/// is finite.
pub fn scatter_png(points: &[(f64, f64)], log_x: bool) -> Result<Vec<u8>, PlotError> {
    let tx = |x: f64| if log_x { x.log10() } else { x };
    let finite: Vec<(f64, f64)> = points
        .iter()
        .map(|&(x, y)| (tx(x), y))
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    if finite.is_empty() {
        return Err(PlotError::Empty(PathBuf::from("the sweep's trials")));
    }
    let span = |v: &mut dyn Iterator<Item = f64>| {
        let (lo, hi) = v.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(x), b.max(x))
        });
        let pad = ((hi - lo) * 0.05).max(1e-9 * lo.abs().max(1.0));
        (lo - pad, hi + pad)
    };
    let (x0, x1) = span(&mut finite.iter().map(|p| p.0));
    let (y0, y1) = span(&mut finite.iter().map(|p| p.1));
    let (left, right, top, bottom) = MARGIN;
    let (pw, ph) = (
        (WIDTH - left - right) as f64,
        (HEIGHT - top - bottom) as f64,
    );
    let mut img = Canvas::new();
    for i in 0..=4 {
        let y = top + (ph as usize - 1) * i / 4;
        img.line((left as f64, y as f64), (left as f64 + pw, y as f64), LIGHT);
        let value = y1 - (y1 - y0) * i as f64 / 4.0;
        img.text(&format!("{value:.4}"), left - 8, y, Align::Right);
    }
    let (l, t, b) = (left as f64, top as f64, top as f64 + ph);
    img.line((l, t), (l, b), GRAY);
    img.line((l, b), (l + pw, b), GRAY);
    let shown = |x: f64| {
        let v = if log_x { 10f64.powf(x) } else { x };
        format!("{}", (v * 1e6).round() / 1e6)
    };
    img.text(&shown(x0), left, top + ph as usize + 14, Align::Left);
    img.text(
        &shown(x1),
        left + pw as usize,
        top + ph as usize + 14,
        Align::Right,
    );
    for (x, y) in finite {
        let px = l + (x - x0) / (x1 - x0) * (pw - 1.0);
        let py = t + (1.0 - (y - y0) / (y1 - y0)) * (ph - 1.0);
        img.dot((px, py), BLUE);
    }
    img.encode()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_dot_per_point_and_none_without_finite_points() {
        let png = scatter_png(&[(1e-4, 0.5), (1e-2, 0.3), (1e-1, f64::NAN)], true).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(png));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        reader.next_frame(&mut buf).unwrap();
        let blue = buf.chunks(3).filter(|p| *p == BLUE).count();
        assert_eq!(blue, 2 * 25, "two 5x5 dots");
        assert!(scatter_png(&[(1.0, f64::NAN)], false).is_err());
    }
}
