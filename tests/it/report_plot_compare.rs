//! §18 plots: several logs in one picture (one colour per log, a legend of what
//! differs between their configs), the accuracy axis fitted to the values, `--log-y`,
//! and markers for the best epoch and learning-rate changes.

use nnt::report::plot::Log;
use nnt::report::{render_png_logs, render_svg, render_svg_logs, PlotOptions};

/// A log whose start event carries `config`; losses fall from `l0`, accuracy rises
/// to `top`; the learning rate halves after epoch 3; early stop at `best`.
fn log(config: &str, l0: f64, top: f64, best: Option<usize>) -> String {
    let start = serde_json::json!({"event": "start", "recipe": "r.nnt", "parameters": 10,
        "train_rows": 40, "valid_rows": 10, "seed": 1, "nnt": "0.1.0", "config": config});
    let mut out = format!("{start}\n");
    for e in 1..=6 {
        let lr = if e <= 3 { 0.1 } else { 0.05 };
        let t = l0 / e as f64;
        let a = top - 0.01 * (6 - e) as f64;
        out.push_str(&format!(
            "{{\"event\":\"epoch\",\"epoch\":{e},\"lr\":{lr},\"train_loss\":{t},\"train_accuracy\":{a},\"valid_loss\":{},\"valid_accuracy\":{a},\"grad_norm\":1}}\n",
            t * 1.1
        ));
    }
    match best {
        Some(b) => out.push_str(&format!(
            "{{\"event\":\"end\",\"reason\":\"early_stop\",\"epochs\":6,\"best_epoch\":{b}}}\n"
        )),
        None => out.push_str("{\"event\":\"end\",\"reason\":\"completed\",\"epochs\":6}\n"),
    }
    out
}

const CONFIG: &str = "seed = 1\n\nmodel {\n    dense(8)\n    relu\n    dense(2)\n}\n\noptimizer = sgd(0.1, momentum = 0.9)\n\ntrain {\n    epochs = 6\n}\n";

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

fn polylines_in(svg: &str, colour: &str) -> usize {
    svg.split("<polyline")
        .skip(1)
        .filter(|p| p.split('>').next().unwrap_or("").contains(colour))
        .count()
}

#[test]
fn several_logs_one_colour_each_and_a_legend_of_what_differs() {
    let a = log(CONFIG, 1.0, 0.95, Some(4));
    let b = log(&CONFIG.replace("sgd(0.1,", "sgd(0.01,"), 2.0, 0.9, None);
    let c = log(&CONFIG.replace("dense(8)", "dense(16)"), 3.0, 0.85, None);
    let logs = [
        Log {
            name: "a.jsonl",
            text: &a,
        },
        Log {
            name: "b.jsonl",
            text: &b,
        },
        Log {
            name: "c.jsonl",
            text: &c,
        },
    ];
    let svg = render_svg_logs(&logs, "", &PlotOptions::default()).unwrap();
    if let Ok(dir) = std::env::var("NNT_PLOT_OUT") {
        std::fs::write(format!("{dir}/compare.svg"), &svg).unwrap();
    }
    let t = texts(&svg);
    assert!(t.contains(&"3 runs".to_string()), "{t:?}");
    for label in [
        "model.0.units = 8, optimizer.lr = 0.1",
        "model.0.units = 8, optimizer.lr = 0.01",
        "model.0.units = 16, optimizer.lr = 0.1",
    ] {
        assert!(t.contains(&label.to_string()), "{label} not in {t:?}");
    }
    // One colour per log: each log's colour draws its curves on both panels.
    for colour in ["#1F77B4", "#FF7F0E", "#2CA02C"] {
        assert!(polylines_in(&svg, colour) >= 4, "{colour}");
    }
    assert!(t.contains(&"best epoch (early stop)".to_string()), "{t:?}");
    assert!(t.contains(&"lr change".to_string()), "{t:?}");
    assert!(
        t.contains(&"solid: valid, dashed: train".to_string()),
        "{t:?}"
    );
    // PNG too.
    let png = render_png_logs(&logs, "", &PlotOptions { log_y: true }).unwrap();
    assert_eq!(&png[1..4], b"PNG");
}

#[test]
fn without_configs_the_legend_names_the_files() {
    let strip = |l: String| -> String {
        l.lines()
            .filter(|x| !x.contains("\"start\""))
            .map(|x| format!("{x}\n"))
            .collect()
    };
    let a = strip(log(CONFIG, 1.0, 0.95, None));
    let b = strip(log(CONFIG, 2.0, 0.95, None));
    let logs = [
        Log {
            name: "runs/a.jsonl",
            text: &a,
        },
        Log {
            name: "runs/b.jsonl",
            text: &b,
        },
    ];
    let t = texts(&render_svg_logs(&logs, "", &PlotOptions::default()).unwrap());
    assert!(t.contains(&"runs/a.jsonl".to_string()), "{t:?}");
    assert!(t.contains(&"runs/b.jsonl".to_string()), "{t:?}");
}

/// The legend boxes of a picture (each a black border).
fn legend_boxes(svg: &str) -> usize {
    svg.matches("fill=\"none\" stroke=\"#000000\"").count()
}

/// The accuracy panel of several logs has nothing to list when no run has a
/// best epoch: it gets no legend (it got an empty box).
#[test]
fn a_panel_with_nothing_to_list_has_no_legend() {
    let a = log(CONFIG, 1.0, 0.95, None);
    let b = log(&CONFIG.replace("dense(8)", "dense(16)"), 2.0, 0.9, None);
    let logs = [
        Log {
            name: "a.jsonl",
            text: &a,
        },
        Log {
            name: "b.jsonl",
            text: &b,
        },
    ];
    let svg = render_svg_logs(&logs, "", &PlotOptions::default()).unwrap();
    // The loss panel's legend only.
    assert_eq!(legend_boxes(&svg), 1, "{svg}");
    // A best epoch is listed on both panels.
    let a = log(CONFIG, 1.0, 0.95, Some(4));
    let logs = [
        Log {
            name: "a.jsonl",
            text: &a,
        },
        Log {
            name: "b.jsonl",
            text: &b,
        },
    ];
    let svg = render_svg_logs(&logs, "", &PlotOptions::default()).unwrap();
    assert_eq!(legend_boxes(&svg), 2);
    // One log: both panels list its series.
    assert_eq!(legend_boxes(&render_svg(&b, "").unwrap()), 2);
}

/// The fractional tick labels drawn after the accuracy panel's description (its
/// y axis; the epochs on its x axis are whole numbers).
fn accuracy_ticks(svg: &str) -> Vec<f64> {
    let t = texts(svg);
    let at = t.iter().position(|x| x == "accuracy").unwrap();
    t[at + 1..]
        .iter()
        .filter(|x| x.contains('.'))
        .filter_map(|x| x.parse::<f64>().ok())
        .collect()
}

#[test]
fn the_accuracy_axis_is_fitted_to_the_values() {
    let svg = render_svg(&log(CONFIG, 1.0, 0.98, None), "").unwrap();
    // Values 0.93..0.98: the axis shows that range, not 0..1.
    let y = accuracy_ticks(&svg);
    assert!(y.len() >= 3, "{y:?}");
    assert!(y.iter().all(|v| *v > 0.9 && *v < 1.0), "{y:?}");
}

#[test]
fn log_y_draws_losses_on_a_log_scale() {
    let mut l = log(CONFIG, 1000.0, 0.9, None);
    // A zero loss cannot be drawn on a log axis: left out, not an error.
    l.push_str("{\"event\":\"epoch\",\"epoch\":7,\"lr\":0.05,\"train_loss\":0,\"grad_norm\":1}\n");
    let opts = PlotOptions { log_y: true };
    let svg = render_svg_logs(
        &[Log {
            name: "x",
            text: &l,
        }],
        "",
        &opts,
    )
    .unwrap();
    let t = texts(&svg);
    assert!(t.contains(&"loss (log scale)".to_string()), "{t:?}");
    // Ticks span the decades 1000 / 6 ... 1100.
    let nums: Vec<f64> = t.iter().filter_map(|x| x.parse().ok()).collect();
    assert!(nums.iter().any(|v| *v > 500.0), "{nums:?}");
    assert!(nums.iter().any(|v| *v < 250.0 && *v > 100.0), "{nums:?}");
    let linear = texts(&render_svg(&l, "").unwrap());
    assert!(!linear.contains(&"loss (log scale)".to_string()));
}
