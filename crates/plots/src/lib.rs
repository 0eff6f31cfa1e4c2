//! `trainer-plots`: charts as PNG files people open: a title, labelled axes with tick values, a
//! legend, on a linear or log scale. It knows points and labels, never runs or journals: the
//! loss curve and the sweep plots are both one [`Chart`].

mod chart;
mod encode;
mod font;
mod scale;

pub use chart::{Chart, Color, Mark, Marker, Series, render_png};
pub use scale::Scale;

/// Image width in pixels.
pub const WIDTH: u32 = 900;
/// Image height in pixels.
pub const HEIGHT: u32 = 500;

/// Why a chart could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// No series has a point that can be shown (finite, and positive on a log axis).
    #[error("nothing to plot: no finite values")]
    Empty,
    /// The drawing library failed.
    #[error("drawing the chart: {0}")]
    Draw(String),
    /// PNG encoding failed.
    #[error("encoding the chart as PNG: {0}")]
    Encode(String),
}
