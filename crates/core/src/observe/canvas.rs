//! A small RGB raster for the PNG plots: lines, dots, digits, PNG encoding.

use super::plot::PlotError;

/// Image width in pixels.
pub(super) const WIDTH: usize = 800;
/// Image height in pixels.
pub(super) const HEIGHT: usize = 400;
/// Plot area margins: left, right, top, bottom.
pub(super) const MARGIN: (usize, usize, usize, usize) = (70, 20, 20, 40);
/// The first series.
pub(super) const BLUE: [u8; 3] = [31, 119, 180];
/// The second series.
pub(super) const ORANGE: [u8; 3] = [255, 127, 14];
/// Axes and text.
pub(super) const GRAY: [u8; 3] = [120, 120, 120];
/// Grid lines.
pub(super) const LIGHT: [u8; 3] = [225, 225, 225];

/// The smallest of 1, 2, 2.5, 5 times a power of ten that is >= `v`.
pub(super) fn nice_ceiling(v: f64) -> f64 {
    let p = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|c| *c >= v)
        .unwrap_or(v)
}

/// Which end of the text sits at the given x.
pub(super) enum Align {
    /// Text starts at x.
    Left,
    /// Text ends at x.
    Right,
}

/// An RGB raster with just what the plot needs.
pub(super) struct Canvas(Vec<u8>);

/// 3x5 glyphs (rows top to bottom, 3 bits each) for the characters numbers need.
fn glyph(c: char) -> Option<[u8; 5]> {
    Some(match c {
        '0' => [7, 5, 5, 5, 7],
        '1' => [2, 6, 2, 2, 7],
        '2' => [7, 1, 7, 4, 7],
        '3' => [7, 1, 7, 1, 7],
        '4' => [5, 5, 7, 1, 1],
        '5' => [7, 4, 7, 1, 7],
        '6' => [7, 4, 7, 5, 7],
        '7' => [7, 1, 1, 1, 1],
        '8' => [7, 5, 7, 5, 7],
        '9' => [7, 5, 7, 1, 7],
        '.' => [0, 0, 0, 0, 2],
        '-' => [0, 0, 7, 0, 0],
        _ => return None,
    })
}

impl Canvas {
    pub(super) fn new() -> Self {
        Self(vec![255; WIDTH * HEIGHT * 3])
    }

    fn set(&mut self, x: i64, y: i64, rgb: [u8; 3]) {
        if (0..WIDTH as i64).contains(&x) && (0..HEIGHT as i64).contains(&y) {
            let i = (y as usize * WIDTH + x as usize) * 3;
            self.0[i..i + 3].copy_from_slice(&rgb);
        }
    }

    pub(super) fn line(&mut self, a: (f64, f64), b: (f64, f64), rgb: [u8; 3]) {
        let n = (b.0 - a.0).abs().max((b.1 - a.1).abs()).ceil().max(1.0) as usize;
        for i in 0..=n {
            let t = i as f64 / n as f64;
            let (x, y) = (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t);
            self.set(x.round() as i64, y.round() as i64, rgb);
            self.set(x.round() as i64, y.round() as i64 + 1, rgb);
        }
    }

    pub(super) fn dot(&mut self, p: (f64, f64), rgb: [u8; 3]) {
        for dx in -2..=2 {
            for dy in -2..=2 {
                self.set(p.0.round() as i64 + dx, p.1.round() as i64 + dy, rgb);
            }
        }
    }

    /// Writes `text` at 2x scale, vertically centred on `y`, starting or ending at `x`.
    pub(super) fn text(&mut self, text: &str, x: usize, y: usize, align: Align) {
        let width = text.chars().count() as i64 * 8;
        let x0 = match align {
            Align::Left => x as i64,
            Align::Right => x as i64 - width,
        };
        for (i, c) in text.chars().enumerate() {
            let Some(rows) = glyph(c) else { continue };
            for (r, bits) in rows.iter().enumerate() {
                for col in 0..3 {
                    if bits & (4 >> col) != 0 {
                        for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                            let px = x0 + i as i64 * 8 + col * 2 + dx;
                            let py = y as i64 - 5 + r as i64 * 2 + dy;
                            self.set(px, py, GRAY);
                        }
                    }
                }
            }
        }
    }

    pub(super) fn encode(self) -> Result<Vec<u8>, PlotError> {
        let mut out = Vec::new();
        let mut enc = png::Encoder::new(&mut out, WIDTH as u32, HEIGHT as u32);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let err = |e: png::EncodingError| PlotError::Encode(e.to_string());
        let mut writer = enc.write_header().map_err(err)?;
        writer.write_image_data(&self.0).map_err(err)?;
        writer.finish().map_err(err)?;
        Ok(out)
    }
}
