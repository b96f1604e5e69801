//! `nnt plot LOG.jsonl -o OUT.svg|png` and `nnt run --plot` (§12): loss per epoch
//! (train and valid) and, when logged, accuracy on a second panel.
//!
//! The picture is returned as bytes; the binary writes it. Text is drawn with the
//! DejaVu Sans font vendored in `assets/` (licence beside it), registered with
//! plotters at first use, so plots look the same on every machine.

use std::sync::{Arc, OnceLock};

use miette::{Diagnostic, SourceSpan};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};
use thiserror::Error;

use crate::data::LineSource;

/// Width and height of every plot, in pixels.
pub const WIDTH: u32 = 900;
pub const HEIGHT: u32 = 640;

/// Why a log cannot be plotted.
#[derive(Debug, Error, Diagnostic)]
pub enum PlotError {
    /// An empty file, or one of blank lines only.
    #[error("the log is empty")]
    #[diagnostic(
        code(nnt::plot::empty_log),
        help("write a log with `nnt run R.nnt --format jsonl > LOG.jsonl`")
    )]
    EmptyLog,

    /// A line that is not JSON: `{"event":"epoch",`.
    #[error("line {line} of the log is not valid JSON: {message}")]
    #[diagnostic(
        code(nnt::plot::invalid_json),
        help("the log must be the output of `nnt run --format jsonl`")
    )]
    InvalidJson {
        line: usize,
        message: String,
        #[source_code]
        src: Arc<LineSource>,
        #[label("here")]
        span: SourceSpan,
    },

    /// A line that is JSON but not an event: `[1, 2]` or `{"epoch": 1}`.
    #[error("line {line} of the log is not an nnt event: {message}")]
    #[diagnostic(code(nnt::plot::invalid_event))]
    InvalidEvent {
        line: usize,
        message: String,
        #[source_code]
        src: Arc<LineSource>,
        #[label("this line")]
        span: SourceSpan,
    },

    /// A log with no epoch event: `{"event":"start",...}` alone.
    #[error("the log has no epoch events: nothing to plot")]
    #[diagnostic(
        code(nnt::plot::no_epochs),
        help("a run prints one epoch event per finished epoch")
    )]
    NoEpochs,

    /// The drawing library failed (e.g. a font could not be loaded).
    #[error("cannot draw the plot: {0}")]
    #[diagnostic(code(nnt::plot::draw_failed))]
    Draw(String),
}

/// The log as an SVG document.
pub fn render_svg(log: &str, title: &str) -> Result<String, PlotError> {
    let curves = parse(log)?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        draw(&root, &curves, title)?;
        root.present().map_err(draw_error)?;
    }
    Ok(svg)
}

/// The log as a PNG image of [`WIDTH`] × [`HEIGHT`] pixels.
pub fn render_png(log: &str, title: &str) -> Result<Vec<u8>, PlotError> {
    let curves = parse(log)?;
    let mut rgb = vec![0u8; WIDTH as usize * HEIGHT as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (WIDTH, HEIGHT)).into_drawing_area();
        draw(&root, &curves, title)?;
        root.present().map_err(draw_error)?;
    }
    let mut png_bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut png_bytes, WIDTH, HEIGHT);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder
            .write_header()
            .map_err(|e| PlotError::Draw(e.to_string()))?;
        writer
            .write_image_data(&rgb)
            .map_err(|e| PlotError::Draw(e.to_string()))?;
    }
    Ok(png_bytes)
}

// ---------------------------------------------------------------- the log

/// The curves of a log: (epoch, value) per series, non-finite values left out.
#[derive(Debug, Default)]
struct Curves {
    recipe: Option<String>,
    train_loss: Vec<(f64, f64)>,
    valid_loss: Vec<(f64, f64)>,
    train_accuracy: Vec<(f64, f64)>,
    valid_accuracy: Vec<(f64, f64)>,
    /// The other `valid_*` fields (the metrics of §15), in the order first seen.
    metrics: Vec<(String, Vec<(f64, f64)>)>,
    epochs: usize,
}

fn parse(log: &str) -> Result<Curves, PlotError> {
    let mut curves = Curves::default();
    let mut any = false;
    for (i, text) in log.lines().enumerate() {
        let line = i + 1;
        let text = text.trim_end_matches('\r');
        if text.trim().is_empty() {
            continue;
        }
        any = true;
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            let offset = offset_of(text, e.line(), e.column());
            PlotError::InvalidJson {
                line,
                message: without_position(&e.to_string()),
                src: source(text, line),
                span: SourceSpan::from((offset, 1.min(text.len() - offset.min(text.len())))),
            }
        })?;
        let invalid = |message: &str| PlotError::InvalidEvent {
            line,
            message: message.to_string(),
            src: source(text, line),
            span: SourceSpan::from((0, text.len())),
        };
        let Some(obj) = value.as_object() else {
            return Err(invalid("not a JSON object"));
        };
        let Some(event) = obj.get("event").and_then(|e| e.as_str()) else {
            return Err(invalid("no \"event\" field"));
        };
        match event {
            "start" => {
                curves.recipe = obj
                    .get("recipe")
                    .and_then(|r| r.as_str())
                    .map(str::to_string);
            }
            "epoch" => {
                let Some(epoch) = obj.get("epoch").and_then(serde_json::Value::as_u64) else {
                    return Err(invalid("an epoch event needs an integer \"epoch\""));
                };
                // `null` (a non-finite value) is valid and simply not drawn.
                match obj.get("train_loss") {
                    Some(v) if v.is_number() || v.is_null() => {}
                    _ => return Err(invalid("an epoch event needs \"train_loss\"")),
                }
                let x = epoch as f64;
                let put = |key: &str, series: &mut Vec<(f64, f64)>| {
                    if let Some(y) = obj.get(key).and_then(serde_json::Value::as_f64) {
                        if y.is_finite() {
                            series.push((x, y));
                        }
                    }
                };
                put("train_loss", &mut curves.train_loss);
                put("valid_loss", &mut curves.valid_loss);
                put("train_accuracy", &mut curves.train_accuracy);
                put("valid_accuracy", &mut curves.valid_accuracy);
                for (key, v) in obj {
                    let Some(name) = key.strip_prefix("valid_") else {
                        continue;
                    };
                    if name == "loss" || name == "accuracy" {
                        continue;
                    }
                    let Some(y) = v.as_f64().filter(|y| y.is_finite()) else {
                        continue;
                    };
                    match curves.metrics.iter_mut().find(|(n, _)| n == name) {
                        Some((_, series)) => series.push((x, y)),
                        None => curves.metrics.push((name.to_string(), vec![(x, y)])),
                    }
                }
                curves.epochs = curves.epochs.max(epoch as usize);
            }
            // Diagnostics and the end event are not drawn; unknown events are
            // tolerated so that logs of later versions still plot.
            _ => {}
        }
    }
    if !any {
        return Err(PlotError::EmptyLog);
    }
    if curves.epochs == 0 {
        return Err(PlotError::NoEpochs);
    }
    Ok(curves)
}

fn source(text: &str, line: usize) -> Arc<LineSource> {
    Arc::new(LineSource::new("log", text.to_string(), line, 0))
}

/// serde_json's message without its " at line 1 column 17" (the line of the log
/// is named by the diagnostic itself).
fn without_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// Byte offset of serde_json's 1-based (line, column) in a one-line text.
fn offset_of(text: &str, _line: usize, column: usize) -> usize {
    column.saturating_sub(1).min(text.len().saturating_sub(1))
}

// ---------------------------------------------------------------- drawing

const FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";

fn fonts() -> Result<(), PlotError> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            for style in [FontStyle::Normal, FontStyle::Bold] {
                register_font(FAMILY, style, FONT).map_err(|_| "invalid font data".to_string())?;
            }
            Ok(())
        })
        .clone()
        .map_err(PlotError::Draw)
}

fn draw_error<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> PlotError {
    PlotError::Draw(e.to_string())
}

const TRAIN: RGBColor = RGBColor(31, 119, 180);
const VALID: RGBColor = RGBColor(255, 127, 14);

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    c: &Curves,
    title: &str,
) -> Result<(), PlotError>
where
    DB::ErrorType: 'static,
{
    fonts()?;
    root.fill(&WHITE).map_err(draw_error)?;
    let title = if title.is_empty() {
        c.recipe.as_deref().unwrap_or("nnt")
    } else {
        title
    };
    let body = root
        .titled(title, (FAMILY, 26).into_font().style(FontStyle::Bold))
        .map_err(draw_error)?;
    let accuracy = !c.train_accuracy.is_empty() || !c.valid_accuracy.is_empty();
    if !c.metrics.is_empty() {
        // Loss, then accuracy (when logged), then the valid metrics.
        let panels = if accuracy { 3 } else { 2 };
        let parts = body.split_evenly((panels, 1));
        panel(
            &parts[0],
            c,
            "loss",
            &c.train_loss,
            &c.valid_loss,
            None,
            false,
        )?;
        if accuracy {
            panel(
                &parts[1],
                c,
                "accuracy",
                &c.train_accuracy,
                &c.valid_accuracy,
                Some((0.0, 1.0)),
                false,
            )?;
        }
        let series: Vec<Series<'_>> = c
            .metrics
            .iter()
            .enumerate()
            .map(|(i, (name, points))| {
                (
                    format!("valid {name}"),
                    &points[..],
                    PALETTE[i % PALETTE.len()],
                )
            })
            .collect();
        chart(&parts[panels - 1], c, "metric", &series, None, true)?;
        return Ok(());
    }
    if accuracy {
        let (top, bottom) = body.split_vertically(HEIGHT as i32 * 55 / 100);
        panel(&top, c, "loss", &c.train_loss, &c.valid_loss, None, false)?;
        panel(
            &bottom,
            c,
            "accuracy",
            &c.train_accuracy,
            &c.valid_accuracy,
            Some((0.0, 1.0)),
            true,
        )?;
    } else {
        panel(&body, c, "loss", &c.train_loss, &c.valid_loss, None, true)?;
    }
    Ok(())
}

/// One chart: a train and a valid series of `what` per epoch.
fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    c: &Curves,
    what: &str,
    train: &[(f64, f64)],
    valid: &[(f64, f64)],
    fixed: Option<(f64, f64)>,
    x_axis_label: bool,
) -> Result<(), PlotError>
where
    DB::ErrorType: 'static,
{
    let series = [
        (format!("train {what}"), train, TRAIN),
        (format!("valid {what}"), valid, VALID),
    ];
    chart(area, c, what, &series, fixed, x_axis_label)
}

/// A named line of (epoch, value) points and its colour.
type Series<'a> = (String, &'a [(f64, f64)], RGBColor);

/// Further series colours (the metrics panel).
const PALETTE: [RGBColor; 5] = [
    VALID,
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// One chart of named series per epoch.
fn chart<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    c: &Curves,
    what: &str,
    series: &[Series<'_>],
    fixed: Option<(f64, f64)>,
    x_axis_label: bool,
) -> Result<(), PlotError>
where
    DB::ErrorType: 'static,
{
    let epochs = c.epochs.max(1) as f64;
    // One epoch still gets a visible x range.
    let x_range = if epochs > 1.0 { 1.0..epochs } else { 0.5..1.5 };
    let (lo, hi) = fixed.unwrap_or_else(|| y_range(series.iter().flat_map(|s| s.1.iter())));
    let mut chart = ChartBuilder::on(area)
        .margin(12)
        .x_label_area_size(if x_axis_label { 45 } else { 30 })
        .y_label_area_size(70)
        .build_cartesian_2d(x_range, lo..hi)
        .map_err(draw_error)?;
    let label_font = (FAMILY, 16);
    let mut mesh = chart.configure_mesh();
    mesh.x_labels((c.epochs).clamp(2, 10))
        // Epochs are integers: a tick between two epochs gets no label.
        .x_label_formatter(&|x| {
            if (x - x.round()).abs() < 1e-9 {
                format!("{}", x.round() as i64)
            } else {
                String::new()
            }
        })
        .y_desc(what)
        .axis_desc_style(label_font)
        .light_line_style(RGBColor(240, 240, 240))
        .label_style((FAMILY, 13));
    if x_axis_label {
        mesh.x_desc("epoch");
    }
    mesh.draw().map_err(draw_error)?;
    for (name, points, color) in series {
        if points.is_empty() {
            continue;
        }
        let style = color.stroke_width(2);
        chart
            .draw_series(LineSeries::new(points.iter().copied(), style))
            .map_err(draw_error)?
            .label(name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
    }
    chart
        .configure_series_labels()
        .position(if fixed.is_some() {
            SeriesLabelPosition::LowerRight
        } else {
            SeriesLabelPosition::UpperRight
        })
        .label_font((FAMILY, 14))
        .border_style(BLACK)
        .background_style(WHITE.mix(0.85))
        .draw()
        .map_err(draw_error)?;
    Ok(())
}

/// A y range around the values with 5 % padding (never empty).
fn y_range<'a>(points: impl Iterator<Item = &'a (f64, f64)>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for &(_, y) in points {
        lo = lo.min(y);
        hi = hi.max(y);
    }
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    let pad = if hi > lo {
        (hi - lo) * 0.05
    } else {
        lo.abs().max(1.0) * 0.05
    };
    // Losses are never negative: keep the axis at 0 when close.
    let bottom = if lo >= 0.0 {
        (lo - pad).max(0.0)
    } else {
        lo - pad
    };
    (bottom, hi + pad)
}
