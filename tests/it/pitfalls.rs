//! The training pitfalls of issue 5, end to end through the `nnt` binary: each
//! recipe of `examples/pitfalls/` triggers its check-time lint or run-time
//! detector (snapshots of the JSONL diagnostic events and of the rendered stderr
//! warnings), held-out variants of the same kinds (other seeds, widths, depths,
//! optimizers) trigger the same detector, and well-behaved recipes (clean.nnt, the
//! examples, the conformance recipes) stay silent.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `nnt run --format jsonl PATH ARGS…` from the repository root, without colour.
fn run(path: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nnt"))
        .current_dir(root())
        .env("NO_COLOR", "1")
        .env_remove("CLICOLOR_FORCE")
        .arg("run")
        .arg(path)
        .args(["--format", "jsonl"])
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// The JSONL `diagnostic` events of a run, parsed.
fn diagnostics(o: &Output) -> Vec<serde_json::Value> {
    text(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["event"] == "diagnostic")
        .collect()
}

fn codes(o: &Output) -> Vec<String> {
    diagnostics(o)
        .iter()
        .map(|d| d["code"].as_str().unwrap().to_string())
        .collect()
}

/// The `nnt::lint::*` codes in a run's stderr.
fn lints(o: &Output) -> Vec<String> {
    let err = text(&o.stderr);
    let mut v: Vec<String> = err
        .split_whitespace()
        .filter(|w| w.starts_with("nnt::lint::"))
        .map(str::to_string)
        .collect();
    v.dedup();
    v
}

fn example(name: &str) -> PathBuf {
    PathBuf::from("examples/pitfalls").join(format!("{name}.nnt"))
}

/// Asserts that `code` was reported as a JSONL diagnostic naming a layer that
/// exists in the recipe, and returns that event.
fn expect_code(o: &Output, code: &str, what: &str) -> serde_json::Value {
    let found = diagnostics(o)
        .into_iter()
        .find(|d| d["code"] == code)
        .unwrap_or_else(|| {
            panic!(
                "{what}: expected {code}, got {:?}\nstderr:\n{}",
                codes(o),
                text(&o.stderr)
            )
        });
    assert!(found["layer"].is_u64(), "{what}: {found} names no layer");
    assert!(found["epoch"].as_u64().unwrap() >= 1, "{what}: {found}");
    found
}

/// Snapshots of what a user sees for one pitfall recipe: its diagnostic events
/// and its stderr (lints and run-time warnings rendered by miette).
fn snapshot(name: &str, o: &Output) {
    let events: Vec<String> = text(&o.stdout)
        .lines()
        .filter(|l| l.contains("\"event\":\"diagnostic\""))
        .map(str::to_string)
        .collect();
    insta::assert_snapshot!(format!("{name}_jsonl"), events.join("\n"));
    insta::assert_snapshot!(format!("{name}_stderr"), text(&o.stderr));
}

// ------------------------------------------------------------ run-time pitfalls

#[test]
fn exploding_gradients_example() {
    let o = run(&example("exploding_gradients"), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let d = expect_code(&o, "nnt::train::exploding_gradient", "example");
    assert!(d["step"].is_u64(), "{d}");
    let msg = d["message"].as_str().unwrap();
    assert!(msg.contains("gradient norm per layer"), "{msg}");
    assert_eq!(codes(&o), vec!["nnt::train::exploding_gradient"]);
    snapshot("exploding_gradients", &o);
}

#[test]
fn divergence_example() {
    let o = run(&example("diverge"), &[]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o.stderr));
    let d = expect_code(&o, "nnt::train::diverged", "example");
    assert_eq!(d["severity"], "error");
    assert!(d["step"].is_u64(), "{d}");
    assert!(codes(&o).contains(&"nnt::train::exploding_gradient".to_string()));
    assert!(text(&o.stdout).contains("\"reason\":\"diverged\""));
    snapshot("diverge", &o);
}

#[test]
fn vanishing_gradients_example() {
    let o = run(&example("vanishing_gradients"), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let d = expect_code(&o, "nnt::train::vanishing_gradient", "example");
    assert_eq!(d["layer"], 0, "the first dense layer vanishes first");
    let msg = d["message"].as_str().unwrap();
    assert!(
        msg.contains("gradient/weight ratio per dense layer: 0: "),
        "{msg}"
    );
    let p = expect_code(&o, "nnt::train::plateau", "example");
    assert!(p["message"].as_str().unwrap().contains("saturated"), "{p}");
    assert_eq!(lints(&o), vec!["nnt::lint::deep_saturating_stack"]);
    snapshot("vanishing_gradients", &o);
}

#[test]
fn dead_relu_example() {
    let o = run(&example("dead_relu"), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let d = expect_code(&o, "nnt::train::dead_relu", "example");
    let msg = d["message"].as_str().unwrap();
    assert!(msg.contains("(relu, line"), "{msg}");
    snapshot("dead_relu", &o);
}

#[test]
fn plateau_example() {
    let o = run(&example("plateau"), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let d = expect_code(&o, "nnt::train::plateau", "example");
    let msg = d["message"].as_str().unwrap();
    assert!(msg.contains("a learning rate too small"), "{msg}");
    assert_eq!(codes(&o), vec!["nnt::train::plateau"]);
    assert!(lints(&o).is_empty(), "{:?}", lints(&o));
    snapshot("plateau", &o);
}

#[test]
fn detectors_can_be_turned_off() {
    let off = [
        ("exploding_gradients", "diagnose.exploding_abs=off"),
        ("vanishing_gradients", "diagnose.vanishing_ratio=off"),
        ("dead_relu", "diagnose.dead_relu_fraction=off"),
        ("plateau", "diagnose.plateau_delta=off"),
    ];
    for (name, set) in off {
        let o = run(&example(name), &["--set", set]);
        assert_eq!(o.status.code(), Some(0), "{name}: {}", text(&o.stderr));
        let code = match name {
            "exploding_gradients" => "nnt::train::exploding_gradient",
            "vanishing_gradients" => "nnt::train::vanishing_gradient",
            "dead_relu" => "nnt::train::dead_relu",
            _ => "nnt::train::plateau",
        };
        assert!(
            !codes(&o).iter().any(|c| c == code),
            "{name} with {set}: {:?}",
            codes(&o)
        );
    }
}

// ------------------------------------------------------------ held-out variants

/// A recipe written to a temporary directory.
struct Recipe {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn recipe(text: &str) -> Recipe {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("variant.nnt");
    std::fs::write(&path, text).unwrap();
    Recipe { _dir: dir, path }
}

fn classifier(seed: u64, data: &str, model: &str, optimizer: &str, train: &str) -> String {
    format!(
        "seed = {seed}\ndata {{\n    {data}\n}}\nmodel {{\n{model}\n}}\nloss = cross_entropy\noptimizer = {optimizer}\ntrain {{\n    {train}\n}}\n"
    )
}

fn stack(depth: usize, width: usize, act: &str, out: usize) -> String {
    let mut s = String::new();
    for _ in 0..depth {
        s.push_str(&format!("    dense({width})\n    {act}\n"));
    }
    s.push_str(&format!("    dense({out})"));
    s
}

#[test]
fn exploding_variants() {
    // Large initialisations of other depths and widths, with regression or
    // classification, and an over-large SGD step on raw inputs.
    let big = |depth: usize, width: usize, out: usize| {
        let mut s = String::new();
        for _ in 0..depth {
            s.push_str(&format!(
                "    dense({width}, init = normal(std = 1.0))\n    relu\n"
            ));
        }
        s.push_str(&format!("    dense({out}, init = normal(std = 1.0))"));
        s
    };
    let cases = [
        format!(
            "seed = 1\ndata {{ train = linear(n = 256, features = 6, noise = 0.1) }}\nmodel {{\n{}\n}}\nloss = mse\noptimizer = adam(lr = 0.001)\ntrain {{ epochs = 3 }}\n",
            big(2, 64, 1)
        ),
        format!(
            "seed = 5\ndata {{ train = linear(n = 256, features = 10, noise = 0.1) }}\nmodel {{\n{}\n}}\nloss = mse\noptimizer = adam(lr = 0.001)\ntrain {{ epochs = 3 }}\n",
            big(4, 16, 1)
        ),
        classifier(
            2,
            "train = blobs(n = 256, features = 8, classes = 3)",
            &big(4, 48, 3),
            "adam(lr = 0.001)",
            "epochs = 3",
        ),
        classifier(
            4,
            "train = blobs(n = 512, features = 8, classes = 4)",
            &stack(2, 64, "relu", 4),
            "sgd(lr = 0.3)",
            "epochs = 3",
        ),
    ];
    for (i, text) in cases.iter().enumerate() {
        let r = recipe(text);
        let o = run(&r.path, &[]);
        expect_code(
            &o,
            "nnt::train::exploding_gradient",
            &format!("variant {i}"),
        );
    }
}

#[test]
fn vanishing_variants() {
    for (seed, depth, width, opt) in [
        (1, 5, 32, "sgd(lr = 0.1)"),
        (2, 6, 16, "adam(lr = 0.001)"),
        (3, 6, 64, "sgd(lr = 0.05, momentum = 0.9)"),
        (4, 10, 24, "adam(lr = 0.01)"),
    ] {
        let text = classifier(
            seed,
            "train = blobs(n = 400, features = 6, classes = 3)\n    normalize = standard",
            &stack(depth, width, "sigmoid", 3),
            opt,
            "epochs = 4",
        );
        let r = recipe(&text);
        let o = run(&r.path, &[]);
        let d = expect_code(
            &o,
            "nnt::train::vanishing_gradient",
            &format!("depth {depth} width {width} {opt}"),
        );
        assert_eq!(d["layer"], 0, "{d}");
    }
}

#[test]
fn dead_relu_variants() {
    let mut cases = Vec::new();
    // A too large rate on raw inputs, other seeds and widths.
    for (seed, width, opt) in [
        (1, 64, "adam(lr = 0.3)"),
        (4, 64, "adam(lr = 0.5)"),
        (6, 48, "rmsprop(lr = 0.3)"),
        (8, 64, "adam(lr = 1.0)"),
    ] {
        cases.push(classifier(
            seed,
            "train = blobs(n = 512, features = 8, classes = 4)",
            &stack(2, width, "relu", 4),
            opt,
            "epochs = 5",
        ));
    }
    // A zero initialisation: every unit starts (and stays) at relu(0) = 0.
    cases.push(classifier(
        3,
        "train = blobs(n = 256, features = 4, classes = 3)\n    normalize = standard",
        "    dense(32, init = zeros)\n    relu\n    dense(3)",
        "adam(lr = 0.01)",
        "epochs = 3",
    ));
    for (i, text) in cases.iter().enumerate() {
        let r = recipe(text);
        let o = run(&r.path, &[]);
        expect_code(
            &o,
            "nnt::train::dead_relu",
            &format!("variant {i}:\n{text}"),
        );
    }
}

#[test]
fn plateau_variants() {
    let blobs = "train = blobs(n = 512, features = 8, classes = 4)\n    normalize = standard";
    let cases = [
        // other seeds and a smaller rate (which the lint also flags)
        classifier(1, blobs, &stack(1, 32, "relu", 4), "sgd(lr = 0.00001)", "epochs = 12"),
        classifier(5, blobs, &stack(2, 16, "relu", 4), "adam(lr = 0.000001)", "epochs = 12"),
        // full batch: one step per epoch, so the window spans 50 epochs
        classifier(
            2,
            blobs,
            &stack(1, 32, "relu", 4),
            "sgd(lr = 0.0001)",
            "epochs = 60\n    batch = full",
        ),
        // regression: the loss stays above half of epoch 1's
        "seed = 3\ndata { train = linear(n = 512, features = 8, noise = 0.1) }\nmodel {\n    dense(32)\n    relu\n    dense(1)\n}\nloss = mse\noptimizer = sgd(lr = 0.00001)\ntrain { epochs = 12 }\n".to_string(),
    ];
    for (i, text) in cases.iter().enumerate() {
        let r = recipe(text);
        let o = run(&r.path, &[]);
        let d = expect_code(&o, "nnt::train::plateau", &format!("variant {i}:\n{text}"));
        let msg = d["message"].as_str().unwrap();
        assert!(
            msg.contains("a learning rate too small"),
            "variant {i}: {msg}"
        );
    }
    // A plateau caused by dead units names them.
    let text = classifier(
        3,
        "train = blobs(n = 256, features = 4, classes = 3)\n    normalize = standard",
        "    dense(32, init = zeros)\n    relu\n    dense(3)",
        "adam(lr = 0.01)",
        "epochs = 12",
    );
    let r = recipe(&text);
    let o = run(&r.path, &[]);
    let d = expect_code(&o, "nnt::train::plateau", "dead units");
    assert!(
        d["message"].as_str().unwrap().contains("dead relu units"),
        "{d}"
    );
}

// ------------------------------------------------------------ check-time lints

#[test]
fn each_lint_example_warns_exactly_its_lint() {
    for lint in [
        "softmax_before_cross_entropy",
        "sigmoid_before_binary_cross_entropy",
        "deep_saturating_stack",
        "init_mismatch",
        "bias_before_batch_norm",
        "stacked_dense",
        "learning_rate",
        "dropout_on_output",
        "double_weight_decay",
    ] {
        let o = run(&example(lint), &[]);
        assert_eq!(o.status.code(), Some(0), "{lint}: {}", text(&o.stderr));
        assert_eq!(lints(&o), vec![format!("nnt::lint::{lint}")], "{lint}");
        assert!(codes(&o).is_empty(), "{lint}: {:?}", codes(&o));
        insta::assert_snapshot!(format!("lint_{lint}"), text(&o.stderr));
    }
}

// ------------------------------------------------------------ no false alarms

fn assert_silent(path: &Path) {
    let o = run(path, &[]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}: {}",
        path.display(),
        text(&o.stderr)
    );
    assert!(
        diagnostics(&o).is_empty(),
        "{}: {:?}",
        path.display(),
        diagnostics(&o)
    );
    assert!(
        !text(&o.stderr).contains("nnt::"),
        "{}: {}",
        path.display(),
        text(&o.stderr)
    );
}

fn recipes_in(dir: &Path, nested: bool) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|p| {
            if nested {
                Some(p.join("recipe.nnt")).filter(|r| r.is_file())
            } else {
                Some(p).filter(|p| p.extension().is_some_and(|e| e == "nnt"))
            }
        })
        .collect();
    v.sort();
    v
}

#[test]
fn clean_recipe_is_silent() {
    assert_silent(&example("clean"));
}

#[test]
fn examples_are_silent() {
    let all = recipes_in(&root().join("examples"), false);
    assert!(all.len() >= 5);
    for p in all {
        assert_silent(&p);
    }
}

#[test]
fn conformance_recipes_are_silent() {
    let all = recipes_in(&root().join("tests/fixtures/conformance"), true);
    assert!(all.len() >= 5);
    for p in all {
        assert_silent(&p);
    }
}

/// Run-time help leaves out what the recipe has. A relu network whose hidden
/// layer starts from he_uniform was told to "use relu … with he_uniform" (the
/// output layer, which keeps xavier, counted), and `normalize = standard` with
/// a constant column (only centred, so not unit-scale when measured) was told
/// to "normalise the inputs".
#[test]
fn run_time_help_leaves_out_what_the_recipe_has() {
    let dir = tempfile::tempdir().unwrap();
    // The helps of the run-time diagnostics of `source` (trained as `name`),
    // after checking that there are some.
    let helps = |name: &str, source: &str| -> Vec<String> {
        let recipe = dir.path().join(name);
        std::fs::write(&recipe, source).unwrap();
        let o = run(&recipe, &[]);
        let found = diagnostics(&o);
        assert!(!found.is_empty(), "{}", text(&o.stdout));
        found
            .iter()
            .map(|d| d["help"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    for help in helps(
        "he.nnt",
        "seed = 3\ndata {\n    train = blobs(n = 512, features = 2, classes = 4, spread = 20.0)\n    normalize = standard\n}\nmodel {\n    dense(16, init = he_uniform)\n    relu\n    dense(4)\n}\nloss = cross_entropy\noptimizer = sgd(lr = 5.0)\ntrain {\n    epochs = 10\n    batch = 32\n}\n",
    ) {
        assert!(!help.contains("he_uniform"), "{help}");
        assert!(!help.contains("use relu"), "{help}");
    }
    // A constant column beside standardised ones.
    let mut csv = String::from("a,b,k,label\n");
    for i in 0..512u32 {
        let c = i % 4;
        let noise = f64::from((i * 7919) % 101) / 50.0 - 1.0;
        csv.push_str(&format!(
            "{:.4},{:.4},0.1,{c}\n",
            f64::from(c) + noise,
            -f64::from(c) - noise
        ));
    }
    std::fs::write(dir.path().join("c.csv"), csv).unwrap();
    for help in helps(
        "dead.nnt",
        "seed = 2\ndata {\n    train = csv(\"c.csv\", label = \"label\")\n    normalize = standard\n}\nmodel {\n    dense(64)\n    relu\n    dense(64)\n    relu\n    dense(4)\n}\nloss = cross_entropy\noptimizer = adam(lr = 0.3)\ntrain {\n    epochs = 10\n    batch = 32\n}\n",
    ) {
        assert!(!help.contains("normalise"), "{help}");
    }
    // One dense layer (a dropout before it): nothing is "between layers".
    for help in helps(
        "one.nnt",
        "seed = 1\ndata {\n    train = linear(n = 256, features = 4)\n}\nmodel {\n    dropout(0.1)\n    dense(1)\n}\nloss = mse\noptimizer = sgd(lr = 5.0)\ntrain {\n    epochs = 5\n}\n",
    ) {
        assert!(!help.contains("between layers"), "{help}");
    }
}
