//! The embedded font (DejaVu Sans, Latin-1 subset; see `assets/FONT-LICENSE`), registered once
//! as plotters' `sans-serif` so charts look the same on machines without system fonts.

use crate::PlotError;
use std::sync::OnceLock;

/// The font family every text in a chart uses.
pub(crate) const FAMILY: &str = "sans-serif";

static FONT: &[u8] = include_bytes!("../assets/DejaVuSans-Latin1.ttf");

/// Registers the embedded font with plotters (first call only).
pub(crate) fn ensure_registered() -> Result<(), PlotError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FAMILY, plotters::style::FontStyle::Normal, FONT).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(PlotError::Draw(
            "the embedded font could not be read".into(),
        ))
    }
}

/// `text` with characters outside the embedded font replaced by `?`.
pub(crate) fn printable(text: &str) -> String {
    text.chars()
        .map(|c| match c as u32 {
            0x20..=0x7e | 0xa0..=0xff | 0x2013 | 0x2014 | 0x2026 | 0x2212 => c,
            _ => '?',
        })
        .collect()
}
