//! One chart: series of (x, y) points drawn as lines and/or dots, vertical markers, a title,
//! axis labels with tick values and a legend, rendered to PNG.

use crate::encode::rgb_png;
use crate::font::{FAMILY, ensure_registered, printable};
use crate::scale::{Scale, tick_text};
use crate::{HEIGHT, PlotError, WIDTH};
use plotters::prelude::*;
use plotters::style::Color as _;

/// The colours series are drawn in (matplotlib's first ones, so charts look familiar).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Color {
    /// The first series.
    Blue,
    /// The second series.
    Orange,
    /// Failures and stops.
    Red,
    /// Highlights (e.g. the best trial).
    Green,
}

impl Color {
    /// The colour's 8-bit RGB value.
    pub fn rgb(self) -> [u8; 3] {
        match self {
            Color::Blue => [31, 119, 180],
            Color::Orange => [255, 127, 14],
            Color::Red => [214, 39, 40],
            Color::Green => [44, 160, 44],
        }
    }

    fn style(self) -> RGBColor {
        let [r, g, b] = self.rgb();
        RGBColor(r, g, b)
    }
}

/// How a series' points are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    /// Joined by a line.
    Line,
    /// One dot each.
    Dots,
    /// A dot each, joined by a line.
    LineAndDots,
}

/// One named set of points.
#[derive(Clone, Debug)]
pub struct Series {
    /// Its name in the legend.
    pub label: String,
    /// The points, in data units; those a scale cannot show (non-finite, or <= 0 on a log
    /// axis) are left out.
    pub points: Vec<(f64, f64)>,
    /// Its colour.
    pub color: Color,
    /// Line, dots or both.
    pub mark: Mark,
}

/// A vertical line across the plot at one x, with its own legend entry.
#[derive(Clone, Debug)]
pub struct Marker {
    /// Where, in data units.
    pub x: f64,
    /// Its name in the legend.
    pub label: String,
    /// Its colour.
    pub color: Color,
}

/// Everything a chart shows.
#[derive(Clone, Debug)]
pub struct Chart {
    /// The line above the plot.
    pub title: String,
    /// The x axis' name (with its unit).
    pub x_label: String,
    /// The y axis' name (with its unit).
    pub y_label: String,
    /// How x values map to positions.
    pub x_scale: Scale,
    /// How y values map to positions.
    pub y_scale: Scale,
    /// When not empty, x values are the positions 0, 1, ... of these names, which the x ticks
    /// show instead of numbers.
    pub x_categories: Vec<String>,
    /// The data.
    pub series: Vec<Series>,
    /// Vertical lines (e.g. where a run failed).
    pub markers: Vec<Marker>,
}

/// The values' range with 5% padding on both sides; a single value (or values equal to
/// print precision) gets 10% of its size (1 around zero), so the ticks still differ. None
/// without values.
fn padded(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    if lo > hi {
        return None;
    }
    let size = lo.abs().max(hi.abs());
    let pad = if hi - lo > 1e-6 * size {
        (hi - lo) * 0.05
    } else if size > 0.0 {
        size * 0.1
    } else {
        1.0
    };
    Some((lo - pad, hi + pad))
}

/// Draws `chart`; returns PNG bytes. Err(Empty) when no point can be shown.
pub fn render_png(chart: &Chart) -> Result<Vec<u8>, PlotError> {
    ensure_registered()?;
    let (sx, sy) = (chart.x_scale, chart.y_scale);
    let shown: Vec<Vec<(f64, f64)>> = chart
        .series
        .iter()
        .map(|s| {
            s.points
                .iter()
                .filter_map(|&(x, y)| Some((sx.position_of(x)?, sy.position_of(y)?)))
                .collect()
        })
        .collect();
    let markers: Vec<(f64, &Marker)> = chart
        .markers
        .iter()
        .filter_map(|m| Some((sx.position_of(m.x)?, m)))
        .collect();
    let points = || shown.iter().flatten();
    let y_range = padded(points().map(|p| p.1)).ok_or(PlotError::Empty)?;
    let x_range = if chart.x_categories.is_empty() {
        padded(points().map(|p| p.0).chain(markers.iter().map(|m| m.0))).ok_or(PlotError::Empty)?
    } else {
        (-0.5, chart.x_categories.len() as f64 - 0.5)
    };
    let mut pixels = vec![255u8; (WIDTH * HEIGHT * 3) as usize];
    draw(chart, &shown, &markers, x_range, y_range, &mut pixels)
        .map_err(|e| PlotError::Draw(e.to_string()))?;
    rgb_png(&pixels, WIDTH, HEIGHT)
}

/// Draws into an RGB buffer of WIDTH x HEIGHT.
fn draw(
    chart: &Chart,
    shown: &[Vec<(f64, f64)>],
    markers: &[(f64, &Marker)],
    (x0, x1): (f64, f64),
    (y0, y1): (f64, f64),
    pixels: &mut [u8],
) -> Result<(), Box<dyn std::error::Error>> {
    let root = BitMapBackend::with_buffer(pixels, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut ctx = ChartBuilder::on(&root)
        .caption(printable(&chart.title), (FAMILY, 20))
        .margin(14)
        .x_label_area_size(48)
        .y_label_area_size(76)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    let (sx, sy) = (chart.x_scale, chart.y_scale);
    let categories = &chart.x_categories;
    let x_text = |t: &f64| {
        if categories.is_empty() {
            tick_text(sx.value_at(*t))
        } else if (t - t.round()).abs() < 1e-6 && *t >= 0.0 {
            categories
                .get(t.round() as usize)
                .map(|c| printable(c))
                .unwrap_or_default()
        } else {
            String::new()
        }
    };
    let y_text = |t: &f64| tick_text(sy.value_at(*t));
    ctx.configure_mesh()
        .x_desc(printable(&chart.x_label))
        .y_desc(printable(&chart.y_label))
        .x_labels(if categories.is_empty() {
            8
        } else {
            categories.len().min(12)
        })
        .y_labels(7)
        .x_label_formatter(&x_text)
        .y_label_formatter(&y_text)
        .label_style((FAMILY, 13))
        .axis_desc_style((FAMILY, 15))
        .light_line_style(WHITE)
        .bold_line_style(RGBColor(215, 215, 215))
        .draw()?;
    // Markers first: the data stays on top of them.
    for (x, marker) in markers {
        let color = marker.color.style();
        ctx.draw_series(LineSeries::new([(*x, y0), (*x, y1)], color.stroke_width(2)))?
            .label(printable(&marker.label))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 22, y)], color.stroke_width(2))
            });
    }
    for (series, points) in chart.series.iter().zip(shown) {
        if points.is_empty() {
            continue;
        }
        let color = series.color.style();
        let label = printable(&series.label);
        let line = matches!(series.mark, Mark::Line | Mark::LineAndDots);
        // A line through one point is invisible: it gets its dot.
        let dots = matches!(series.mark, Mark::Dots | Mark::LineAndDots) || points.len() == 1;
        if line {
            ctx.draw_series(LineSeries::new(
                points.iter().copied(),
                color.stroke_width(2),
            ))?;
        }
        if dots {
            ctx.draw_series(points.iter().map(|&p| Circle::new(p, 4, color.filled())))?;
        }
        // An empty series carries the legend entry, drawn as the series is.
        let line_style = if line {
            color.stroke_width(2)
        } else {
            TRANSPARENT.stroke_width(0)
        };
        let dot_style = if dots {
            color.filled()
        } else {
            TRANSPARENT.filled()
        };
        ctx.draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())?
            .label(label)
            .legend(move |(x, y)| {
                EmptyElement::at((x, y))
                    + PathElement::new(vec![(0, 0), (22, 0)], line_style)
                    + Circle::new((11, 0), 4, dot_style)
            });
    }
    ctx.configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font((FAMILY, 13))
        .background_style(WHITE.mix(0.9))
        .border_style(RGBColor(180, 180, 180))
        .draw()?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes PNG bytes to (width, RGB pixels).
    fn decode(png_bytes: &[u8]) -> (usize, Vec<u8>) {
        let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        (info.width as usize, buf)
    }

    /// Pixels of colour `rgb` inside the box `x0..x1, y0..y1`.
    fn count_in(
        img: &(usize, Vec<u8>),
        (x0, x1, y0, y1): (usize, usize, usize, usize),
        rgb: [u8; 3],
    ) -> usize {
        let (w, px) = img;
        (y0..y1)
            .flat_map(|y| (x0..x1).map(move |x| (x, y)))
            .filter(|(x, y)| px[(y * w + x) * 3..(y * w + x) * 3 + 3] == rgb)
            .count()
    }

    /// Dark (text) pixels inside a box.
    fn dark_in(img: &(usize, Vec<u8>), (x0, x1, y0, y1): (usize, usize, usize, usize)) -> usize {
        let (w, px) = img;
        (y0..y1)
            .flat_map(|y| (x0..x1).map(move |x| (x, y)))
            .filter(|(x, y)| {
                px[(y * w + x) * 3..(y * w + x) * 3 + 3]
                    .iter()
                    .all(|c| *c < 100)
            })
            .count()
    }

    fn chart(title: &str, x_label: &str) -> Chart {
        Chart {
            title: title.into(),
            x_label: x_label.into(),
            y_label: "loss".into(),
            x_scale: Scale::Linear,
            y_scale: Scale::Linear,
            x_categories: Vec::new(),
            series: vec![
                Series {
                    label: "training".into(),
                    points: (1..=300).map(|s| (s as f64, 2.0 / s as f64)).collect(),
                    color: Color::Blue,
                    mark: Mark::Line,
                },
                Series {
                    label: "validation".into(),
                    points: vec![(100.0, 0.03), (200.0, 0.02), (300.0, f64::NAN)],
                    color: Color::Orange,
                    mark: Mark::LineAndDots,
                },
            ],
            markers: vec![Marker {
                x: 300.0,
                label: "FAILED at step 300".into(),
                color: Color::Red,
            }],
        }
    }

    #[test]
    fn draws_title_axes_ticks_legend_series_and_markers() {
        let (w, h) = (WIDTH as usize, HEIGHT as usize);
        let img = decode(&render_png(&chart("a run - loss", "step")).unwrap());
        // Series: the training line, the two finite validation dots, the marker line.
        let plot_area = (80, w - 14, 40, h - 50);
        assert!(
            count_in(&img, plot_area, Color::Blue.rgb()) > 600,
            "training line"
        );
        assert!(
            count_in(&img, plot_area, Color::Orange.rgb()) > 2 * 30,
            "validation dots"
        );
        assert!(
            count_in(&img, plot_area, Color::Red.rgb()) > 300,
            "marker line"
        );
        // Text: the title above the plot, tick values and the axis names beside it.
        assert!(dark_in(&img, (0, w, 0, 36)) > 100, "title");
        let y_text = dark_in(&img, (0, 90, 40, h - 50));
        assert!(y_text > 100, "y ticks and y label: {y_text}");
        assert!(
            dark_in(&img, (80, w, h - 50, h)) > 200,
            "x ticks and x label"
        );
        // The legend box in the upper right carries every colour and its labels.
        let legend = (w / 2, w, 30, 160);
        for color in [Color::Blue, Color::Orange, Color::Red] {
            assert!(
                count_in(&img, legend, color.rgb()) > 20,
                "{color:?} in the legend"
            );
        }
        assert!(dark_in(&img, legend) > 150, "legend labels");

        // Without a title, the band above the plot stays empty: the text check can fail.
        let untitled = decode(&render_png(&chart("", "step")).unwrap());
        assert_eq!(dark_in(&untitled, (0, w, 0, 30)), 0);
    }

    #[test]
    fn a_single_point_is_drawn_with_distinct_ticks() {
        let mut c = chart("one step", "step");
        c.series.truncate(1);
        c.series[0].points = vec![(20.0, 2.5e23)];
        c.markers[0].x = 20.0;
        c.y_scale = Scale::Log10;
        let img = decode(&render_png(&c).unwrap());
        let (w, h) = (WIDTH as usize, HEIGHT as usize);
        let plot_area = (80, w * 3 / 4, 40, h - 50);
        assert!(
            count_in(&img, plot_area, Color::Blue.rgb()) > 30,
            "the point's dot"
        );
        assert_eq!(padded([20.0].into_iter()), Some((18.0, 22.0)));
        assert_eq!(padded([0.0, 0.0].into_iter()), Some((-1.0, 1.0)));
        assert_eq!(padded(std::iter::empty()), None);
    }

    #[test]
    fn log_scale_categories_and_nothing_to_plot() {
        let mut c = chart("diverged", "step");
        c.y_scale = Scale::Log10;
        c.series[0].points = (1..=50).map(|s| (s as f64, 10f64.powi(s))).collect();
        assert!(render_png(&c).is_ok());
        c.x_categories = vec!["relu".into(), "gelu".into()];
        c.series.truncate(1);
        c.series[0].points = vec![(0.0, 0.5), (1.0, 0.7)];
        c.markers.clear();
        assert!(render_png(&c).is_ok());
        c.series[0].points = vec![(0.0, f64::NAN), (1.0, -1.0)];
        assert!(matches!(render_png(&c), Err(PlotError::Empty)));
    }

    #[test]
    #[ignore = "writes the sample charts to target/plots-sample for a look"]
    fn write_samples() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/plots-sample");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("loss.png"),
            render_png(&chart("run mnist-mlp - loss (FAILED)", "step")).unwrap(),
        )
        .unwrap();
        let mut c = chart("diverged", "step");
        c.y_scale = Scale::Log10;
        c.series[0].points = (1..=50).map(|s| (s as f64, 10f64.powi(s))).collect();
        std::fs::write(dir.join("log.png"), render_png(&c).unwrap()).unwrap();
        c.x_categories = vec!["relu".into(), "gelu".into(), "tanh".into()];
        c.y_scale = Scale::Linear;
        c.series.truncate(1);
        c.series[0].points = vec![(0.0, 0.5), (1.0, 0.7), (2.0, 0.6)];
        c.series[0].mark = Mark::Dots;
        c.markers.clear();
        std::fs::write(dir.join("cat.png"), render_png(&c).unwrap()).unwrap();
    }
}
