//! Issue 11, "Done when": random recipes and random JSONL logs fed to check,
//! explain, fmt and plot, each under a time bound (a hang fails the case instead
//! of the suite) and, on Linux, the whole test under a memory bound. Every error
//! must be a diagnostic with an `nnt::` code; nothing may panic.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use miette::Diagnostic;
use proptest::prelude::*;

/// Runs `f` on another thread and fails when it panics or takes longer than
/// `secs` seconds.
fn within<T: Send + 'static>(secs: u64, what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(v) => v,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what}: still running after {secs} s"),
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{what}: panicked"),
    }
}

fn code(d: &dyn Diagnostic) -> String {
    d.code().map(|c| c.to_string()).unwrap_or_default()
}

/// Peak resident memory of this process so far, in kB (Linux; 0 elsewhere).
fn peak_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

const MEMORY_LIMIT_KB: u64 = 3_000_000;

/// Cases that got as far as a checked program, and logs that made a picture: a
/// property that only ever saw errors would prove little.
static PROGRAMS: AtomicUsize = AtomicUsize::new(0);
static PICTURES: AtomicUsize = AtomicUsize::new(0);

// ---------------------------------------------------------------- recipes

fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => (1u32..20).prop_map(|n| n.to_string()),
        4 => (0.01f64..0.9).prop_map(|x| format!("{x}")),
        1 => (-1.0f64..2.0).prop_map(|x| format!("{x}")),
        1 => prop::sample::select(vec![
            "0",
            "-0.1",
            "1e300",
            "1e-300",
            "16384",
            "100000",
            "9223372036854775807",
            "100000000",
        ])
        .prop_map(str::to_string),
    ]
}

fn integer() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => (1u32..60).prop_map(|n| n.to_string()),
        1 => prop::sample::select(vec![
            "0",
            "100000000",
            "9223372036854775807",
            "18446744073709551615",
        ])
        .prop_map(str::to_string),
    ]
}

fn layer() -> impl Strategy<Value = String> {
    prop_oneof![
        (1usize..40).prop_map(|n| format!("dense({n})")),
        (
            number(),
            prop::sample::select(vec![
                "he_uniform",
                "he_normal",
                "xavier_uniform",
                "zeros",
                "lecun_normal"
            ])
        )
            .prop_map(|(n, i)| format!("dense({n}, init = {i})")),
        Just("dense(16384)".to_string()),
        Just("relu".to_string()),
        Just("tanh".to_string()),
        Just("sigmoid".to_string()),
        Just("softmax".to_string()),
        Just("gelu".to_string()),
        number().prop_map(|p| format!("dropout({p})")),
        number().prop_map(|a| format!("leaky_relu({a})")),
        Just("batch_norm".to_string()),
        Just("input(2)".to_string()),
    ]
}

fn data() -> impl Strategy<Value = String> {
    prop_oneof![
        (1usize..300, 1usize..6, 1usize..5)
            .prop_map(|(n, f, c)| format!("blobs(n = {n}, features = {f}, classes = {c})")),
        (1usize..300).prop_map(|n| format!("xor(n = {n}, noise = 0.1)")),
        (1usize..300, 1usize..4)
            .prop_map(|(n, c)| format!("spirals(n = {n}, classes = {c}, noise = 0.1)")),
        (1usize..300, 1usize..6, 1usize..3).prop_map(|(n, f, t)| format!(
            "linear(n = {n}, features = {f}, targets = {t}, noise = 0.1)"
        )),
        Just("csv(\"data/iris.csv\", label = \"label\")".to_string()),
    ]
}

fn schedule() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("constant".to_string()),
        (number(), number()).prop_map(|(e, f)| format!("step({e}, {f})")),
        number().prop_map(|g| format!("exponential({g})")),
        number().prop_map(|m| format!("cosine(min_lr = {m})")),
        (
            number(),
            prop::sample::select(vec!["cosine", "constant", "step(10, 0.5)"])
        )
            .prop_map(|(w, t)| format!("warmup(epochs = {w}, then = {t})")),
        Just("reduce_on_plateau(0.5, 3)".to_string()),
    ]
}

fn recipe() -> impl Strategy<Value = String> {
    (
        0u64..1_000_000,
        data(),
        prop::option::of(number()),
        prop::sample::select(vec!["none", "standard", "minmax"]),
        prop::collection::vec(layer(), 0..7),
        prop::sample::select(vec![
            "cross_entropy",
            "cross_entropy",
            "cross_entropy",
            "binary_cross_entropy",
            "mse",
            "mae",
            "huber(1.0)",
        ]),
        (
            prop::sample::select(vec!["sgd", "adam", "adamw", "rmsprop", "adagrad"]),
            prop_oneof![8 => (0.001f64..0.5).prop_map(|x| format!("{x}")), 1 => number()],
            prop::option::of(number()),
        ),
        (integer(), prop_oneof![Just("full".to_string()), integer()], schedule()),
        any::<bool>(),
    )
        .prop_map(
            |(seed, data, valid, normalize, layers, loss, (opt, lr, momentum), (epochs, batch, sched), early)| {
                let mut r = format!("seed = {seed}\n\ndata {{\n    train = {data}\n");
                if let Some(v) = valid {
                    r.push_str(&format!("    valid = split(train, {v})\n"));
                }
                r.push_str(&format!("    normalize = {normalize}\n}}\n\nmodel {{\n"));
                for l in layers {
                    r.push_str(&format!("    {l}\n"));
                }
                r.push_str("    dense(8)\n");
                r.push_str(&format!("}}\n\nloss = {loss}\noptimizer = {opt}(lr = {lr}"));
                if let Some(m) = momentum.filter(|_| opt == "sgd" || opt == "rmsprop") {
                    r.push_str(&format!(", momentum = {m}"));
                }
                r.push_str(&format!(
                    ")\n\ntrain {{\n    epochs = {epochs}\n    batch = {batch}\n    lr_schedule = {sched}\n"
                ));
                if early {
                    r.push_str("    early_stop = patience(3)\n");
                }
                r.push_str("}\n");
                r
            },
        )
}

/// A recipe, sometimes with a byte deleted or inserted.
fn mutated_recipe() -> impl Strategy<Value = Vec<u8>> {
    (
        recipe(),
        prop::option::of((any::<prop::sample::Index>(), any::<u8>(), any::<bool>())),
    )
        .prop_map(|(r, m)| {
            let mut b = r.into_bytes();
            if let Some((at, byte, insert)) = m {
                let i = at.index(b.len() + 1);
                if insert {
                    b.insert(i, byte);
                } else if i < b.len() {
                    b.remove(i);
                }
            }
            b
        })
}

fn examples_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

/// Runs a property on a thread with a large stack: the nested strategies of a
/// whole recipe overflow a test thread's 2 MiB in an unoptimised build.
fn run_property<S: Strategy + 'static>(
    cases: u32,
    strategy: impl FnOnce() -> S + Send + 'static,
    test: impl Fn(S::Value) -> Result<(), TestCaseError> + Send + 'static,
) {
    let handle = std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || {
            // A fixed seed: the same cases on every run, so the counts below
            // (how many cases made a program or a picture) cannot flicker.
            let config = ProptestConfig {
                cases,
                failure_persistence: None,
                ..ProptestConfig::default()
            };
            let rng = proptest::test_runner::TestRng::deterministic_rng(config.rng_algorithm);
            let mut runner = proptest::test_runner::TestRunner::new_with_rng(config, rng);
            runner.run(&strategy(), test).map_err(|e| e.to_string())
        })
        .unwrap();
    if let Err(e) = handle.join().unwrap() {
        panic!("{e}");
    }
}

/// check, explain and fmt end in time, with coded diagnostics, on random
/// recipes (huge epoch counts, models too large, wrong values, stray bytes).
#[test]
fn random_recipes_check_explain_and_format() {
    run_property(320, mutated_recipe, |bytes| {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let b = bytes.clone();
        let (program, codes) = within(30, &format!("check of\n{text}"), move || {
            let report = nnt::check::check_recipe(
                "prop.nnt",
                &b,
                &examples_dir(),
                &nnt::check::CheckOptions::default(),
            );
            let codes: Vec<String> = report
                .errors
                .iter()
                .chain(&report.warnings)
                .map(|d| code(d.as_ref()))
                .collect();
            (report.program, codes)
        });
        for c in &codes {
            prop_assert!(
                c.starts_with("nnt::"),
                "a diagnostic without a code in\n{}",
                text
            );
        }
        if let Some(program) = program {
            PROGRAMS.fetch_add(1, Ordering::Relaxed);
            let plan = within(30, &format!("explain of\n{text}"), move || {
                nnt::report::explain::explain(&program)
            });
            // The table of rates is bounded whatever the epoch count.
            let rates = plan
                .lines()
                .skip_while(|l| !l.starts_with("learning rate per epoch"))
                .count();
            prop_assert!(rates <= 42, "{} lines of rates for\n{}", rates, text);
        }
        let b = bytes.clone();
        let formatted = within(30, &format!("fmt of\n{text}"), move || {
            nnt::cli::format::format_recipe("prop.nnt", &b).map_err(|d| code(d.as_ref()))
        });
        match formatted {
            Ok(once) => {
                let again = nnt::cli::format::format_recipe("prop.nnt", once.as_bytes());
                prop_assert!(
                    again.as_ref().is_ok_and(|t| *t == once),
                    "fmt is not idempotent on\n{}",
                    text
                );
            }
            Err(c) => prop_assert!(
                c.starts_with("nnt::"),
                "fmt error without a code on\n{}",
                text
            ),
        }
        prop_assert!(peak_kb() < MEMORY_LIMIT_KB, "peak memory {} kB", peak_kb());
        Ok(())
    });
    let programs = PROGRAMS.load(Ordering::Relaxed);
    assert!(
        programs >= 5,
        "only {programs} random recipes checked clean"
    );
}

// ---------------------------------------------------------------- logs

fn json_number() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<f64>()
            .prop_filter("finite", |x| x.is_finite())
            .prop_map(|x| format!("{x:e}")),
        (0.0f64..5.0).prop_map(|x| format!("{x}")),
        Just("null".to_string()),
        Just("1.7e308".to_string()),
        Just("-1.7e308".to_string()),
        Just("5e-324".to_string()),
        Just("0".to_string()),
        Just("\"x\"".to_string()),
    ]
}

fn log_line() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (
            prop_oneof![any::<u64>().prop_map(|e| e.to_string()), (0u64..50).prop_map(|e| e.to_string()), Just("-1".to_string()), Just("1.5".to_string())],
            json_number(),
            prop::option::of(json_number()),
            prop::option::of(json_number()),
            prop::option::of(json_number()),
        )
            .prop_map(|(epoch, loss, valid, acc, vacc)| {
                let mut l = format!("{{\"event\":\"epoch\",\"epoch\":{epoch},\"lr\":0.1,\"train_loss\":{loss}");
                if let Some(v) = valid {
                    l.push_str(&format!(",\"valid_loss\":{v}"));
                }
                if let Some(a) = acc {
                    l.push_str(&format!(",\"train_accuracy\":{a}"));
                }
                if let Some(a) = vacc {
                    l.push_str(&format!(",\"valid_accuracy\":{a}"));
                }
                l.push('}');
                l
            }),
        1 => Just("{\"event\":\"start\",\"recipe\":\"r.nnt\",\"seed\":1}".to_string()),
        1 => Just("{\"event\":\"end\",\"reason\":\"completed\",\"epochs\":3}".to_string()),
        1 => Just(String::new()),
        1 => "[ -~]{0,40}",
    ]
}

/// plot ends in time on random logs: a picture, or an `nnt::plot` error.
#[test]
fn random_logs_plot_or_fail_cleanly() {
    run_property(
        48,
        || prop::collection::vec(log_line(), 0..12),
        |lines| {
            let log = lines.join("\n");
            let shown = log.clone();
            let (svg, png) = within(60, &format!("plot of\n{shown}"), move || {
                let svg = nnt::report::render_svg(&log, "prop").map_err(|e| code(&e));
                let png = nnt::report::render_png(&log, "prop")
                    .map(|b| b.len())
                    .map_err(|e| code(&e));
                (svg, png)
            });
            match (&svg, &png) {
                (Ok(s), Ok(n)) => {
                    PICTURES.fetch_add(1, Ordering::Relaxed);
                    prop_assert!(s.contains("</svg>") && *n > 0)
                }
                (Err(a), Err(b)) => {
                    prop_assert!(a.starts_with("nnt::plot::"), "{} on\n{}", a, shown);
                    prop_assert_eq!(a, b);
                }
                _ => prop_assert!(false, "svg and png disagree on\n{}", shown),
            }
            prop_assert!(peak_kb() < MEMORY_LIMIT_KB, "peak memory {} kB", peak_kb());
            Ok(())
        },
    );
    let pictures = PICTURES.load(Ordering::Relaxed);
    assert!(pictures >= 3, "only {pictures} random logs made a picture");
}
