//! `nnt plot LOG.jsonl… -o OUT.svg|png` and `nnt run --plot` (§12, §18): loss per
//! epoch (train and valid) and, when logged, accuracy on a second panel, its axis
//! fitted to the values. Several logs share one picture, one colour per log, with a
//! legend of what differs between their configs (else their file names). The best
//! epoch of an early-stopped run is marked, and so are learning-rate changes;
//! a series of one point (a run of one epoch) is a dot; a panel with nothing
//! to list has no legend; `--log-y` draws losses on a log scale. PNG text goes through
//! [`super::glyphs::TextFix`] (letters spaced by their own bearings).
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

use crate::report::excerpt::Excerpt;

/// Width and height of every plot, in pixels.
pub const WIDTH: u32 = 900;
pub const HEIGHT: u32 = 640;

/// Why a log cannot be plotted.
#[derive(Debug, Error, Diagnostic)]
pub enum PlotError {
    /// An empty file, or one of blank lines only.
    #[error("the log{} is empty", named(.log))]
    #[diagnostic(
        code(nnt::plot::empty_log),
        help("write a log with `nnt run R.nnt --format jsonl > LOG.jsonl`")
    )]
    EmptyLog {
        /// The file, when the log is one (`nnt plot`; not a run's own `--plot`).
        log: Option<String>,
    },

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
        src: Arc<Excerpt>,
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
        src: Arc<Excerpt>,
        #[label("this line")]
        span: SourceSpan,
    },

    /// A log with no epoch event: `{"event":"start",...}` alone.
    #[error("the log{} has no epoch events: nothing to plot", named(.log))]
    #[diagnostic(
        code(nnt::plot::no_epochs),
        help("a run prints one epoch event per finished epoch")
    )]
    NoEpochs {
        /// The file, as for [`PlotError::EmptyLog`].
        log: Option<String>,
    },

    /// The drawing library failed (e.g. a font could not be loaded).
    #[error("cannot draw the plot: {0}")]
    #[diagnostic(code(nnt::plot::draw_failed))]
    Draw(String),
}

/// ` NAME` for an error about a named log, nothing for a run's own log.
fn named(log: &Option<String>) -> String {
    log.as_ref()
        .map_or(String::new(), |name| format!(" {name}"))
}

/// How to draw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlotOptions {
    /// Losses on a logarithmic axis (values ≤ 0 are left out).
    pub log_y: bool,
}

/// One log to draw: its name (the file, for errors and for a legend when the
/// configs do not tell the logs apart; empty for a run's own log, which
/// [`render_svg`] and [`render_png`] draw) and its text.
#[derive(Debug, Clone, Copy)]
pub struct Log<'a> {
    pub name: &'a str,
    pub text: &'a str,
}

/// The runs of one log text: a new run starts at each `start` event after the
/// first (logs written one after the other into one file, `cat a.jsonl
/// b.jsonl`), so that each is drawn as its own series instead of one line that
/// jumps back to epoch 1. A text with at most one `start` event is one run.
pub fn split_runs(text: &str) -> Vec<&str> {
    let mut starts = Vec::new();
    let mut at = 0usize;
    for line in text.split_inclusive('\n') {
        let is_start = line.contains("\"start\"")
            && serde_json::from_str::<serde_json::Value>(line.trim())
                .is_ok_and(|v| v["event"] == "start");
        if is_start {
            starts.push(at);
        }
        at += line.len();
    }
    if starts.len() < 2 {
        return vec![text];
    }
    // Anything before the first start belongs to the first run.
    starts[0] = 0;
    starts.push(text.len());
    starts.windows(2).map(|w| &text[w[0]..w[1]]).collect()
}

/// The log as an SVG document.
pub fn render_svg(log: &str, title: &str) -> Result<String, PlotError> {
    let one = [Log {
        name: "",
        text: log,
    }];
    render_svg_logs(&one, title, &PlotOptions::default())
}

/// The log as a PNG image of [`WIDTH`] × [`HEIGHT`] pixels.
pub fn render_png(log: &str, title: &str) -> Result<Vec<u8>, PlotError> {
    let one = [Log {
        name: "",
        text: log,
    }];
    render_png_logs(&one, title, &PlotOptions::default())
}

/// Several logs in one SVG document.
pub fn render_svg_logs(logs: &[Log], title: &str, opts: &PlotOptions) -> Result<String, PlotError> {
    let curves = parse_all(logs)?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        draw(&root, &curves, title, opts)?;
        root.present().map_err(draw_error)?;
    }
    Ok(svg)
}

/// Several logs in one PNG image of [`WIDTH`] × [`HEIGHT`] pixels.
pub fn render_png_logs(
    logs: &[Log],
    title: &str,
    opts: &PlotOptions,
) -> Result<Vec<u8>, PlotError> {
    let curves = parse_all(logs)?;
    let mut rgb = vec![0u8; WIDTH as usize * HEIGHT as usize * 3];
    {
        let font = ab_glyph::FontRef::try_from_slice(FONT)
            .map_err(|_| PlotError::Draw("invalid font data".into()))?;
        let backend = super::glyphs::TextFix {
            inner: BitMapBackend::with_buffer(&mut rgb, (WIDTH, HEIGHT)),
            font,
        };
        let root = backend.into_drawing_area();
        draw(&root, &curves, title, opts)?;
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
    /// The file (or "log").
    name: String,
    recipe: Option<String>,
    /// The `start` event's `config` (§18).
    config: Option<String>,
    train_loss: Vec<(f64, f64)>,
    valid_loss: Vec<(f64, f64)>,
    train_accuracy: Vec<(f64, f64)>,
    valid_accuracy: Vec<(f64, f64)>,
    /// (epoch, learning rate).
    lr: Vec<(f64, f64)>,
    /// The other `valid_*` fields (the metrics of §15), in the order first seen.
    metrics: Vec<(String, Vec<(f64, f64)>)>,
    epochs: usize,
    /// The end event's `best_epoch` (with early_stop).
    best_epoch: Option<usize>,
    stopped_early: bool,
}

fn parse_all(logs: &[Log]) -> Result<Vec<Curves>, PlotError> {
    logs.iter().map(|l| parse(l.text, l.name)).collect()
}

fn parse(log: &str, name: &str) -> Result<Curves, PlotError> {
    let mut curves = Curves {
        name: name.to_string(),
        ..Curves::default()
    };
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
                src: source(name, text, line),
                span: SourceSpan::from((offset, 1.min(text.len() - offset.min(text.len())))),
            }
        })?;
        let invalid = |message: &str| PlotError::InvalidEvent {
            line,
            message: message.to_string(),
            src: source(name, text, line),
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
                curves.config = obj
                    .get("config")
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
                            series.push((x, y.clamp(-Y_LIMIT, Y_LIMIT)));
                        }
                    }
                };
                put("train_loss", &mut curves.train_loss);
                put("valid_loss", &mut curves.valid_loss);
                put("train_accuracy", &mut curves.train_accuracy);
                put("valid_accuracy", &mut curves.valid_accuracy);
                put("lr", &mut curves.lr);
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
                    let point = (x, y.clamp(-Y_LIMIT, Y_LIMIT));
                    match curves.metrics.iter_mut().find(|(n, _)| n == name) {
                        Some((_, series)) => series.push(point),
                        None => curves.metrics.push((name.to_string(), vec![point])),
                    }
                }
                curves.epochs = curves.epochs.max(epoch as usize);
            }
            "end" => {
                curves.best_epoch = obj
                    .get("best_epoch")
                    .and_then(serde_json::Value::as_u64)
                    .map(|e| e as usize);
                curves.stopped_early =
                    obj.get("reason").and_then(|r| r.as_str()) == Some("early_stop");
            }
            // Diagnostics are not drawn; unknown events are tolerated so that logs
            // of later versions still plot.
            _ => {}
        }
    }
    let log = (!name.is_empty()).then(|| name.to_string());
    if !any {
        return Err(PlotError::EmptyLog { log });
    }
    if curves.epochs == 0 {
        return Err(PlotError::NoEpochs { log });
    }
    Ok(curves)
}

fn source(name: &str, text: &str, line: usize) -> Arc<Excerpt> {
    let name = if name.is_empty() { "log" } else { name };
    Arc::new(Excerpt::lines(name, Arc::new(text.to_string()), line, 0))
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

/// The series colours of a single log.
const TRAIN: RGBColor = RGBColor(31, 119, 180);
const VALID: RGBColor = RGBColor(255, 127, 14);
/// One colour per log when several share a picture (matplotlib's tab10).
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];
/// More learning-rate changes than this (a smooth schedule) are not marked.
const MAX_LR_MARKS: usize = 20;

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    all: &[Curves],
    title: &str,
    opts: &PlotOptions,
) -> Result<(), PlotError>
where
    DB::ErrorType: 'static,
{
    fonts()?;
    root.fill(&WHITE).map_err(draw_error)?;
    let default_title = match all {
        [one] => one.recipe.clone().unwrap_or_else(|| "nnt".to_string()),
        _ => format!("{} runs", all.len()),
    };
    let title = if title.is_empty() {
        default_title.as_str()
    } else {
        title
    };
    let body = root
        .titled(title, (FAMILY, 26).into_font().style(FontStyle::Bold))
        .map_err(draw_error)?;
    let labels = legend_labels(all);
    let accuracy = all
        .iter()
        .any(|c| !c.train_accuracy.is_empty() || !c.valid_accuracy.is_empty());
    // The metrics of §15 (`valid_f1`, `valid_rmse`, …), one panel each, in the
    // order the logs first name them.
    let mut metric_names: Vec<&str> = Vec::new();
    for c in all {
        for (name, _) in &c.metrics {
            if !metric_names.contains(&name.as_str()) {
                metric_names.push(name);
            }
        }
    }
    let mut panels = vec![Metric::Loss];
    if accuracy {
        panels.push(Metric::Accuracy);
    }
    panels.extend(metric_names.iter().map(|&n| Metric::Other(n)));
    match panels.as_slice() {
        [only] => panel(&body, all, &labels, *only, opts, true)?,
        [first, second] => {
            let (top, bottom) = body.split_vertically(HEIGHT as i32 * 55 / 100);
            panel(&top, all, &labels, *first, opts, false)?;
            panel(&bottom, all, &labels, *second, opts, true)?;
        }
        _ => {
            let parts = body.split_evenly((panels.len(), 1));
            let last = panels.len() - 1;
            for (i, (area, metric)) in parts.iter().zip(&panels).enumerate() {
                panel(area, all, &labels, *metric, opts, i == last)?;
            }
        }
    }
    Ok(())
}

/// (epoch, value).
type Point = (f64, f64);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Metric<'a> {
    Loss,
    Accuracy,
    /// A metric of §15, drawn from its `valid_NAME` field.
    Other(&'a str),
}

impl<'a> Metric<'a> {
    fn name(self) -> &'a str {
        match self {
            Metric::Loss => "loss",
            Metric::Accuracy => "accuracy",
            Metric::Other(name) => name,
        }
    }
    /// The (train, valid) series of one log (a metric has only a valid series).
    fn series(self, c: &Curves) -> (&[Point], &[Point]) {
        match self {
            Metric::Loss => (&c.train_loss, &c.valid_loss),
            Metric::Accuracy => (&c.train_accuracy, &c.valid_accuracy),
            Metric::Other(name) => (
                &[],
                c.metrics
                    .iter()
                    .find(|(n, _)| n == name)
                    .map_or(&[][..], |(_, s)| &s[..]),
            ),
        }
    }
}

/// One chart: the train and valid series of `metric` of every log per epoch.
fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    all: &[Curves],
    labels: &[String],
    metric: Metric,
    opts: &PlotOptions,
    x_axis_label: bool,
) -> Result<(), PlotError>
where
    DB::ErrorType: 'static,
{
    let log_y = opts.log_y && metric == Metric::Loss;
    // Under --log-y the chart's y is log10 of the value.
    let to_y = |pts: &[(f64, f64)]| -> Vec<(f64, f64)> {
        if log_y {
            pts.iter()
                .filter(|p| p.1 > 0.0)
                .map(|&(x, y)| (x, y.log10()))
                .collect()
        } else {
            pts.to_vec()
        }
    };
    let series: Vec<(Vec<Point>, Vec<Point>)> = all
        .iter()
        .map(|c| {
            let (t, v) = metric.series(c);
            (to_y(t), to_y(v))
        })
        .collect();
    let points = series.iter().flat_map(|(t, v)| t.iter().chain(v));
    let (lo, hi) = match metric {
        Metric::Loss if log_y => log_range(points),
        Metric::Loss | Metric::Other(_) => y_range(points),
        Metric::Accuracy => {
            // Fitted to the values, never beyond 0..1.
            let (lo, hi) = y_range(points);
            let (lo, hi) = (lo.max(0.0), hi.min(1.0));
            if lo < hi {
                (lo, hi)
            } else {
                (0.0, 1.0)
            }
        }
    };
    let epochs = all.iter().map(|c| c.epochs).max().unwrap_or(1).max(1);
    // One epoch still gets a visible x range.
    let x_range = if epochs > 1 {
        1.0..epochs as f64
    } else {
        0.5..1.5
    };
    let mut chart = ChartBuilder::on(area)
        .margin(12)
        .x_label_area_size(if x_axis_label { 45 } else { 30 })
        .y_label_area_size(70)
        .build_cartesian_2d(x_range, lo..hi)
        .map_err(draw_error)?;
    let label_font = (FAMILY, 16);
    let y_desc = if log_y {
        format!("{} (log scale)", metric.name())
    } else {
        metric.name().to_string()
    };
    let y_format = |v: &f64| {
        if log_y {
            short(10f64.powf(*v))
        } else {
            short(*v)
        }
    };
    let mut mesh = chart.configure_mesh();
    mesh.x_labels(epochs.clamp(2, 10))
        // Epochs are integers: a tick between two epochs gets no label.
        .x_label_formatter(&|x| {
            if (x - x.round()).abs() < 1e-9 {
                format!("{}", x.round() as i64)
            } else {
                String::new()
            }
        })
        .y_label_formatter(&y_format)
        .y_desc(y_desc)
        .axis_desc_style(label_font)
        .light_line_style(RGBColor(240, 240, 240))
        .label_style((FAMILY, 13));
    if x_axis_label {
        mesh.x_desc("epoch");
    }
    mesh.draw().map_err(draw_error)?;

    let several = all.len() > 1;
    let what = metric.name();
    // Learning-rate changes: a faint vertical line between the two epochs.
    let mut lr_labelled = false;
    for (i, c) in all.iter().enumerate() {
        let changes: Vec<f64> =
            c.lr.windows(2)
                .filter(|w| w[0].1 != w[1].1)
                .map(|w| w[1].0 - 0.5)
                .collect();
        if changes.is_empty() || changes.len() > MAX_LR_MARKS {
            continue;
        }
        let colour = if several {
            PALETTE[i % PALETTE.len()].mix(0.35)
        } else {
            RGBColor(120, 120, 120).mix(0.6)
        };
        for x in changes {
            let anno = chart
                .draw_series(DashedLineSeries::new(
                    [(x, lo), (x, hi)],
                    4,
                    4,
                    colour.stroke_width(1),
                ))
                .map_err(draw_error)?;
            if !lr_labelled && metric == Metric::Loss {
                lr_labelled = true;
                let style = RGBColor(120, 120, 120).stroke_width(1);
                anno.label("lr change").legend(move |(x, y)| {
                    PathElement::new(vec![(x + 6, y - 6), (x + 6, y + 6)], style)
                });
            }
        }
    }
    let mut best_labelled = false;
    // Whether the chart has a legend entry (an empty legend box is not drawn).
    let mut labelled = lr_labelled;
    // Values far outside the range (an accuracy of -1.7e308 in a damaged log) are
    // drawn at its edge's neighbourhood: their pixel coordinates would overflow.
    let span = hi - lo;
    let clamp = move |&(x, y): &Point| (x, y.clamp(lo - span, hi + span));
    for (i, ((train, valid), c)) in series.iter().zip(all).enumerate() {
        let (train_colour, valid_colour) = if several {
            let p = PALETTE[i % PALETTE.len()];
            (p, p)
        } else {
            (TRAIN, VALID)
        };
        // With several logs the valid curve is solid and the train curve dashed
        // (solid when there is no valid split); the legend names the log once.
        let mut named = false;
        for (points, colour, is_train) in
            [(valid, valid_colour, false), (train, train_colour, true)]
        {
            if points.is_empty() {
                continue;
            }
            let dashed = several && is_train && !valid.is_empty();
            let style = colour.stroke_width(if dashed { 1 } else { 2 });
            let anno = if points.len() == 1 {
                // A line needs two points: one epoch is a dot (hollow where the
                // line would be dashed).
                let dot = if dashed {
                    colour.stroke_width(1)
                } else {
                    colour.filled()
                };
                chart
                    .draw_series(points.iter().map(clamp).map(|p| Circle::new(p, 4, dot)))
                    .map_err(draw_error)?
            } else if dashed {
                chart
                    .draw_series(DashedLineSeries::new(points.iter().map(clamp), 6, 4, style))
                    .map_err(draw_error)?
            } else {
                chart
                    .draw_series(LineSeries::new(points.iter().map(clamp), style))
                    .map_err(draw_error)?
            };
            if !several {
                labelled = true;
                let name = if is_train { "train" } else { "valid" };
                anno.label(format!("{name} {what}"))
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
            } else if !named && metric == Metric::Loss {
                named = true;
                labelled = true;
                let solid = colour.stroke_width(2);
                anno.label(labels[i].clone())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], solid));
            }
        }
        // The kept epoch of an early-stopped run: a dot on its valid curve (else train).
        if let Some(best) = c.best_epoch {
            let on = if valid.is_empty() { train } else { valid };
            if let Some(&p) = on.iter().find(|p| p.0 == best as f64) {
                let colour = if several { train_colour } else { VALID };
                let anno = chart
                    .draw_series(std::iter::once(Circle::new(p, 5, colour.filled())))
                    .map_err(draw_error)?;
                if !best_labelled {
                    best_labelled = true;
                    labelled = true;
                    let text = if c.stopped_early {
                        "best epoch (early stop)"
                    } else {
                        "best epoch"
                    };
                    anno.label(text)
                        .legend(move |(x, y)| Circle::new((x + 10, y), 4, BLACK.filled()));
                }
            }
        }
    }
    if several && metric == Metric::Loss && all.iter().any(|c| !c.valid_loss.is_empty()) {
        labelled = true;
        let style = BLACK.stroke_width(1);
        chart
            .draw_series(std::iter::empty::<PathElement<(f64, f64)>>())
            .map_err(draw_error)?
            .label("solid: valid, dashed: train")
            .legend(move |(x, y)| {
                EmptyElement::at((x, y))
                    + PathElement::new(vec![(0, 0), (6, 0)], style)
                    + PathElement::new(vec![(10, 0), (16, 0)], style)
            });
    }
    if !labelled {
        return Ok(());
    }
    chart
        .configure_series_labels()
        .position(if metric == Metric::Accuracy {
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

/// A short tick label: up to 4 significant digits, no trailing zeros.
fn short(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let a = v.abs();
    if !(1e-3..1e5).contains(&a) {
        return format!("{v:.1e}");
    }
    let decimals = (3 - a.log10().floor() as i32).clamp(0, 6) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// The range of log10 values with 5 % padding (never empty).
fn log_range<'a>(points: impl Iterator<Item = &'a (f64, f64)>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for &(_, y) in points {
        lo = lo.min(y);
        hi = hi.max(y);
    }
    if !lo.is_finite() || !hi.is_finite() {
        return (-1.0, 1.0);
    }
    let pad = if hi > lo { (hi - lo) * 0.05 } else { 0.5 };
    (lo - pad, hi + pad)
}

/// The legend text of each log: what differs between their configs (`key = value`
/// in `--set` key form, such as `optimizer = adam(lr = 0.1)` or `model.0 = dense(64)`),
/// else their names.
fn legend_labels(all: &[Curves]) -> Vec<String> {
    let names: Vec<String> = all.iter().map(|c| c.name.clone()).collect();
    if all.len() < 2 || all.iter().any(|c| c.config.is_none()) {
        return names;
    }
    let configs: Vec<Vec<(String, String)>> = all
        .iter()
        .map(|c| config_entries(c.config.as_deref().unwrap_or("")))
        .collect();
    let mut keys: Vec<&str> = Vec::new();
    for cfg in &configs {
        for (k, _) in cfg {
            if !keys.contains(&k.as_str()) {
                keys.push(k);
            }
        }
    }
    let value = |cfg: &[(String, String)], key: &str| {
        cfg.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    };
    let differing: Vec<&str> = keys
        .into_iter()
        .filter(|k| {
            let first = value(&configs[0], k);
            configs.iter().any(|c| value(c, k) != first)
        })
        .collect();
    if differing.is_empty() {
        return names;
    }
    // Per differing key, the parts that differ: single arguments of the same call
    // where that is what changed (`optimizer.lr`), else the whole value.
    let mut parts: Vec<Vec<String>> = vec![Vec::new(); configs.len()];
    for k in &differing {
        let values: Vec<Option<String>> = configs.iter().map(|c| value(c, k)).collect();
        match crate::check::overrides::differing_args(k, &values) {
            Some(per_log) => {
                for (p, args) in parts.iter_mut().zip(per_log) {
                    p.extend(args);
                }
            }
            None => {
                for (p, v) in parts.iter_mut().zip(&values) {
                    p.push(format!("{k} = {}", v.as_deref().unwrap_or("-")));
                }
            }
        }
    }
    let labels: Vec<String> = parts
        .iter()
        .map(|p| {
            let text = p.join(", ");
            if text.chars().count() > 60 {
                let cut: String = text.chars().take(59).collect();
                format!("{cut}…")
            } else {
                text
            }
        })
        .collect();
    let unique: std::collections::HashSet<&String> = labels.iter().collect();
    if unique.len() < labels.len() {
        return names;
    }
    labels
}

/// A config (`nnt fmt` layout) as `(key, value)` pairs: `seed`, `train.epochs`,
/// `data.train`, and each layer as `model.K` (§5 numbering, `input` apart).
fn config_entries(config: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut section: Option<&str> = None;
    let mut layer = 0usize;
    for line in config.lines() {
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        if !line.starts_with(' ') {
            if let Some(name) = t.strip_suffix(" {") {
                section = Some(name);
                layer = 0;
                continue;
            }
        }
        if t == "}" {
            section = None;
            continue;
        }
        let setting = t.split_once(" = ").filter(|(name, _)| {
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        });
        let (key, value) = match (setting, section) {
            (Some((name, value)), Some(sec)) => (format!("{sec}.{name}"), value.to_string()),
            (Some((name, value)), None) => (name.to_string(), value.to_string()),
            (None, Some("model")) if t.starts_with("input(") => {
                ("model.input".to_string(), t.to_string())
            }
            (None, Some(sec)) => {
                layer += 1;
                (format!("{sec}.{}", layer - 1), t.to_string())
            }
            (None, None) => continue,
        };
        out.push((key, value));
    }
    out
}

/// The largest magnitude drawn: values beyond ±1e300 (a diverging loss of 1.7e308)
/// are drawn at ±1e300, so that the range, its padding and the axis ticks stay
/// finite (an infinite range made the tick search of plotters loop forever).
const Y_LIMIT: f64 = 1e300;

/// A y range around the values with 5 % padding (never empty, always finite, and
/// never narrower than a billionth of its magnitude, so that ticks stay distinct
/// floating-point numbers).
fn y_range<'a>(points: impl Iterator<Item = &'a (f64, f64)>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for &(_, y) in points {
        lo = lo.min(y);
        hi = hi.max(y);
    }
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    let (lo, hi) = (lo.clamp(-Y_LIMIT, Y_LIMIT), hi.clamp(-Y_LIMIT, Y_LIMIT));
    let magnitude = lo.abs().max(hi.abs()).max(1.0);
    let pad = if hi - lo > magnitude * 1e-9 {
        (hi - lo) * 0.05
    } else {
        magnitude * 0.05
    };
    // Losses are never negative: keep the axis at 0 when close.
    let bottom = if lo >= 0.0 {
        (lo - pad).max(0.0)
    } else {
        lo - pad
    };
    (bottom, hi + pad)
}
