//! Plots of JSONL logs: valid SVG/PNG with the expected series, and errors that
//! name the log line.

use crate::common;

use miette::Diagnostic;
use nnt::report::plot::{Log, HEIGHT, WIDTH};
use nnt::report::{
    render_png, render_png_logs, render_svg, render_svg_logs, PlotError, PlotOptions,
};

/// A classification log with train and valid loss and accuracy, a diagnostic, a
/// `null` and an end event.
fn classification_log() -> String {
    let mut log = String::from(
        r#"{"event":"start","recipe":"iris.nnt","parameters":131,"train_rows":120,"valid_rows":30,"seed":7}"#,
    );
    log.push('\n');
    for e in 1..=20 {
        let t = 1.1 * (-0.15 * e as f64).exp() + 0.05;
        let v = 1.0 * (-0.12 * e as f64).exp() + 0.1;
        let ta = 1.0 - 0.65 * (-0.2 * e as f64).exp();
        let va = 1.0 - 0.6 * (-0.18 * e as f64).exp();
        log.push_str(&format!(
            r#"{{"event":"epoch","epoch":{e},"lr":0.01,"train_loss":{t},"train_accuracy":{ta},"valid_loss":{v},"valid_accuracy":{va},"grad_norm":0.5}}"#
        ));
        log.push('\n');
        if e == 3 {
            log.push_str(r#"{"event":"diagnostic","severity":"warning","code":"nnt::train::x","epoch":3,"message":"m"}"#);
            log.push('\n');
        }
    }
    log.push_str(r#"{"event":"end","reason":"completed","epochs":20}"#);
    log.push('\n');
    log
}

fn regression_log() -> String {
    (1..=5)
        .map(|e| format!("{{\"event\":\"epoch\",\"epoch\":{e},\"lr\":0.1,\"train_loss\":{},\"grad_norm\":null}}\n", 10.0 / e as f64))
        .collect()
}

/// Series are drawn as polylines in the series colours (legend samples included,
/// so each series appears twice).
fn series(svg: &str, colour: &str) -> usize {
    svg.split("<polyline")
        .skip(1)
        .filter(|p| p.split('>').next().unwrap_or("").contains(colour))
        .count()
}

/// The contents of the SVG's `<text>` elements.
fn texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| {
            t.split_once('>')
                .and_then(|(_, rest)| rest.split_once("</text>"))
        })
        .map(|(content, _)| content.trim().to_string())
        .collect()
}

const TRAIN: &str = "#1F77B4";
const VALID: &str = "#FF7F0E";

#[test]
fn svg_of_a_classification_log_has_four_series() {
    let svg = render_svg(&classification_log(), "iris.nnt").unwrap();
    if let Ok(dir) = std::env::var("NNT_PLOT_OUT") {
        std::fs::write(format!("{dir}/classification.svg"), &svg).unwrap();
    }
    assert!(
        svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
        "{}",
        &svg[..100]
    );
    // train and valid, on the loss and on the accuracy panel: each a line and a
    // legend sample.
    assert_eq!(series(&svg, TRAIN), 4, "train series");
    assert_eq!(series(&svg, VALID), 4, "valid series");
    let texts = texts(&svg);
    for text in [
        "iris.nnt",
        "epoch",
        "loss",
        "accuracy",
        "train loss",
        "valid accuracy",
    ] {
        assert!(
            texts.iter().any(|t| t == text),
            "missing text {text} in {texts:?}"
        );
    }
}

#[test]
fn svg_of_a_regression_log_has_one_series() {
    let svg = render_svg(&regression_log(), "fit.nnt").unwrap();
    assert_eq!(series(&svg, TRAIN), 2);
    assert_eq!(series(&svg, VALID), 0);
    let texts = texts(&svg);
    assert!(texts.iter().any(|t| t == "fit.nnt") && texts.iter().any(|t| t == "train loss"));
    assert!(!texts.iter().any(|t| t == "accuracy"));
}

#[test]
fn png_decodes_with_the_right_size() {
    let png = render_png(&classification_log(), "iris.nnt").unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let decoder = png::Decoder::new(std::io::Cursor::new(&png));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (WIDTH, HEIGHT));
    // Not a blank canvas: some pixels are the train colour.
    let train_pixels = buf.chunks_exact(3).filter(|p| p == &[31, 119, 180]).count();
    assert!(train_pixels > 100, "{train_pixels}");
    if let Ok(dir) = std::env::var("NNT_PLOT_OUT") {
        std::fs::write(format!("{dir}/classification.png"), &png).unwrap();
        std::fs::write(
            format!("{dir}/regression.png"),
            render_png(&regression_log(), "fit.nnt").unwrap(),
        )
        .unwrap();
    }
}

/// The classification log cut to its first epoch (an end event without
/// `best_epoch`, so nothing else is drawn at that epoch).
fn one_epoch_log() -> String {
    let mut log: String = classification_log()
        .lines()
        .filter(|l| !l.contains("\"epoch\":") || l.contains("\"epoch\":1,"))
        .filter(|l| !l.contains("\"end\""))
        .map(|l| format!("{l}\n"))
        .collect();
    log.push_str("{\"event\":\"end\",\"reason\":\"completed\",\"epochs\":1}\n");
    log
}

/// The `<circle>` elements filled with `colour`.
fn dots(svg: &str, colour: &str) -> usize {
    svg.split("<circle")
        .skip(1)
        .filter(|c| {
            c.split('>')
                .next()
                .unwrap_or("")
                .contains(&format!("fill=\"{colour}\""))
        })
        .count()
}

/// A series of one point (a run of one epoch) is a dot: a line through one
/// point drew nothing, so the legend named series that were not there.
#[test]
fn a_single_epoch_is_drawn_as_dots() {
    let log = one_epoch_log();
    assert_eq!(log.matches("\"event\":\"epoch\"").count(), 1, "{log}");
    let svg = render_svg(&log, "iris.nnt").unwrap();
    // train and valid, on the loss and on the accuracy panel.
    assert_eq!(dots(&svg, TRAIN), 2, "train dots");
    assert_eq!(dots(&svg, VALID), 2, "valid dots");
    assert_eq!(
        dots(&render_svg(&classification_log(), "").unwrap(), TRAIN),
        0
    );
    // In the PNG too: train-coloured pixels around the middle of the x axis,
    // far from the legend's samples (on the right).
    let png = render_png(&log, "iris.nnt").unwrap();
    let mut reader = png::Decoder::new(std::io::Cursor::new(&png))
        .read_info()
        .unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    reader.next_frame(&mut buf).unwrap();
    let middle = buf
        .chunks_exact(3)
        .enumerate()
        .filter(|(i, p)| {
            let x = i % WIDTH as usize;
            (350..650).contains(&x) && p == &[31, 119, 180]
        })
        .count();
    assert!(middle > 20, "{middle} train pixels in the middle");
}

/// With several logs, an error says which one.
#[test]
fn errors_name_the_log_of_several() {
    let good = classification_log();
    for (bad, said) in [
        ("\n", "the log empty.jsonl is empty"),
        (
            "{\"event\":\"start\"}\n",
            "the log empty.jsonl has no epoch events: nothing to plot",
        ),
    ] {
        let logs = [
            Log {
                name: "good.jsonl",
                text: &good,
            },
            Log {
                name: "empty.jsonl",
                text: bad,
            },
        ];
        let err = render_svg_logs(&logs, "", &PlotOptions::default()).unwrap_err();
        assert_eq!(err.to_string(), said);
        let err = render_png_logs(&logs, "", &PlotOptions::default()).unwrap_err();
        assert_eq!(err.to_string(), said);
    }
}

fn fails(log: &str, code: &str) -> String {
    let err: PlotError = render_svg(log, "t")
        .err()
        .unwrap_or_else(|| panic!("{log} plotted"));
    assert_eq!(err.code().map(|c| c.to_string()).as_deref(), Some(code));
    common::render(&err)
}

#[test]
fn errors_name_the_line() {
    insta::assert_snapshot!("plot_empty", fails("\n\n", "nnt::plot::empty_log"));
    insta::assert_snapshot!(
        "plot_invalid_json",
        fails(
            "{\"event\":\"start\"}\n{\"event\":\"epoch\",\n",
            "nnt::plot::invalid_json"
        )
    );
    insta::assert_snapshot!(
        "plot_invalid_event",
        fails("{\"event\":\"start\"}\n[1,2]\n", "nnt::plot::invalid_event")
    );
    insta::assert_snapshot!(
        "plot_missing_loss",
        fails(
            "{\"event\":\"epoch\",\"epoch\":1}\n",
            "nnt::plot::invalid_event"
        )
    );
    insta::assert_snapshot!(
        "plot_no_epochs",
        fails("{\"event\":\"start\"}\n", "nnt::plot::no_epochs")
    );
}

/// Renders in a thread and fails when it takes longer than `secs` (a hang).
fn render_within(
    log: String,
    secs: u64,
) -> (Result<String, PlotError>, Result<Vec<u8>, PlotError>) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let svg = render_svg(&log, "extreme");
        let png = render_png(&log, "extreme");
        let _ = tx.send((svg, png));
    });
    rx.recv_timeout(std::time::Duration::from_secs(secs))
        .expect("plotting an extreme log hung")
}

/// Issue 11, item 10: a loss of 1.7e308 made the y range overflow to infinity and
/// the tick search loop forever. Extreme, tiny and nearly flat ranges all end, and
/// draw both series.
#[test]
fn extreme_losses_plot_quickly() {
    let cases: &[&[&str]] = &[
        &["1.7e308", "1.0"],
        &["1.75e308", "1.7976931348623157e308"],
        &["-1.7e308", "1.7e308"],
        &["1e300", "1.7e308"],
        &["5e-324", "1e-323"],
        &["1e15", "1000000000000001"],
        &["1e17", "100000000000000016"],
        &["0.5", "0.5000000000000001"],
        &["-0.0", "0.0"],
    ];
    for values in cases {
        let log: String = values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                format!(
                    "{{\"event\":\"epoch\",\"epoch\":{},\"train_loss\":{v},\"valid_loss\":{v}}}\n",
                    i + 1
                )
            })
            .collect();
        let (svg, png) = render_within(log, 30);
        let svg = svg.unwrap_or_else(|e| panic!("{values:?}: {e}"));
        assert!(series(&svg, "#1F77B4") >= 1, "{values:?}: no train series");
        assert!(png.is_ok(), "{values:?}");
    }
}

/// Found by the property test of issue 11: an accuracy far outside [0, 1] (a
/// damaged log) panicked while mapping it to pixels.
#[test]
fn extreme_accuracies_plot() {
    for acc in ["-1.7e308", "1.7e308", "1e20", "-5"] {
        let log = format!(
            "{{\"event\":\"epoch\",\"epoch\":1,\"train_loss\":0.5,\"train_accuracy\":{acc}}}\n{{\"event\":\"epoch\",\"epoch\":2,\"train_loss\":0.4,\"train_accuracy\":0.5}}\n"
        );
        let (svg, png) = render_within(log, 30);
        assert!(svg.is_ok() && png.is_ok(), "{acc}");
    }
}

/// The metrics of §15 (`valid_f1`, `valid_rmse`, …) get one panel each, named
/// after the metric; a log without them keeps its two panels.
#[test]
fn metrics_get_a_panel_each() {
    let log = concat!(
        r#"{"event":"start","recipe":"m.nnt","parameters":3,"train_rows":8,"valid_rows":2,"seed":0}"#,
        "\n",
        r#"{"event":"epoch","epoch":1,"lr":0.1,"train_loss":0.7,"train_accuracy":0.5,"valid_loss":0.8,"valid_accuracy":0.5,"valid_f1":0.4,"valid_auc":0.6,"grad_norm":1}"#,
        "\n",
        r#"{"event":"epoch","epoch":2,"lr":0.1,"train_loss":0.6,"train_accuracy":0.6,"valid_loss":0.7,"valid_accuracy":0.6,"valid_f1":0.5,"valid_auc":0.7,"grad_norm":1}"#,
        "\n"
    );
    let t = texts(&render_svg(log, "m.nnt").unwrap());
    for name in ["valid f1", "valid auc", "f1", "auc"] {
        assert!(t.iter().any(|s| s == name), "no `{name}` in {t:?}");
    }
    let plain = texts(&render_svg(&classification_log(), "iris.nnt").unwrap());
    assert!(!plain.iter().any(|s| s.starts_with("valid f1")));
}
