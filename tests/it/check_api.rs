//! The checker's public behaviour beyond single fixtures.

use std::path::Path;

use nnt::check::{check_recipe, resolve_recipe, CheckOptions};

fn dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/valid")
}

fn codes(list: &[Box<dyn miette::Diagnostic + Send + Sync>]) -> Vec<String> {
    list.iter()
        .map(|d| d.code().map(|c| c.to_string()).unwrap_or_default())
        .collect()
}

const GOOD: &str = "data { train = csv(\"data/three.csv\", label = \"label\") }\nmodel { dense(8); relu; dense(3) }\nloss = cross_entropy\noptimizer = adam(lr = 0.01)\ntrain { epochs = 2 }\n";

#[test]
fn all_errors_are_reported_at_once() {
    let text = GOOD
        .replace("adam(lr = 0.01)", "adamm(lr = 0.01)")
        .replace("relu", "rleu")
        .replace("epochs = 2", "epochs = 0");
    let r = check_recipe("r.nnt", text.as_bytes(), &dir(), &CheckOptions::default());
    assert!(r.program.is_none());
    assert_eq!(
        codes(&r.errors),
        [
            "nnt::check::unknown_name",
            "nnt::check::unknown_name",
            "nnt::check::out_of_range"
        ]
    );
}

/// A layer whose arguments are wrong still has a width, so the errors that
/// need the data (input width, class count) are reported with its own: they
/// were hidden until the layer was fixed. Every argument error of one layer
/// is reported too (batch_norm stopped at the first).
#[test]
fn layer_argument_errors_do_not_hide_the_data_errors() {
    let text = GOOD.replace(
        "dense(8); relu; dense(3)",
        "input(5); dense(8, init = foo, bias = 3); dropout(2); batch_norm(momentum = 3, eps = -1); layer_norm(eps = 0); dense(2)",
    );
    let r = check_recipe("r.nnt", text.as_bytes(), &dir(), &CheckOptions::default());
    assert!(r.program.is_none());
    let mut got = codes(&r.errors);
    got.sort();
    let mut want = [
        "nnt::check::input_width",
        "nnt::check::class_count",
        "nnt::check::unknown_name",
        "nnt::check::wrong_type",
        "nnt::check::out_of_range",
        "nnt::check::out_of_range",
        "nnt::check::out_of_range",
        "nnt::check::out_of_range",
    ];
    want.sort();
    assert_eq!(got, want, "{:#?}", r.errors);
    // A layer that gives no width (an unknown name) leaves the widths after it
    // unknown: no guess about them.
    let text = GOOD.replace(
        "dense(8); relu; dense(3)",
        "input(5); dense(8); rleu; dense(2)",
    );
    let r = check_recipe("r.nnt", text.as_bytes(), &dir(), &CheckOptions::default());
    assert_eq!(codes(&r.errors), ["nnt::check::unknown_name"]);
}

/// §13: an unknown field in `expect` does not hide the fields this run does
/// not log; every one is reported in one check, in recipe order.
#[test]
fn every_expect_error_is_reported_at_once() {
    let text = format!(
        "seed = 1\ndata {{ train = xor(n = 20) }}\nmodel {{ dense(3); tanh; dense(2) }}\nloss = cross_entropy\noptimizer = adam(lr = 0.01)\ntrain {{ epochs = 2 }}\n{}",
        "expect { valid_accuracy = at_least(0.9); test_loss = at_most(0.3); penalty = at_most(1); foo = at_most(1) }\n"
    );
    let r = check_recipe("r.nnt", text.as_bytes(), &dir(), &CheckOptions::default());
    assert!(r.program.is_none());
    assert_eq!(
        codes(&r.errors),
        [
            "nnt::check::not_logged",
            "nnt::check::not_logged",
            "nnt::check::not_logged",
            "nnt::check::unknown_name",
        ]
    );
    // And each bad bound beside them: its field is still judged (the test
    // split is missing too).
    let text = text.replace("at_most(0.3)", "at_most(\"low\")");
    let r = check_recipe("r.nnt", text.as_bytes(), &dir(), &CheckOptions::default());
    let mut got = codes(&r.errors);
    got.sort();
    assert_eq!(
        got,
        [
            "nnt::check::not_logged",
            "nnt::check::not_logged",
            "nnt::check::not_logged",
            "nnt::check::unknown_name",
            "nnt::check::wrong_type",
        ],
        "{got:?}"
    );
}

/// §13: the parts of an `expect` item are checked on their own. A wrong bound
/// does not hide that its field is not logged, an unknown bound does not hide
/// that its field is named again, and a duplicate does not hide its own wrong
/// bound.
#[test]
fn an_expect_items_field_and_bound_are_checked_apart() {
    let base = "seed = 1\ndata { train = xor(n = 20) }\nmodel { dense(3); tanh; dense(2) }\nloss = cross_entropy\noptimizer = adam(lr = 0.01)\ntrain { epochs = 2 }\n";
    for (expect, want) in [
        (
            "expect { valid_accuracy = at_least(\"x\") }",
            &["nnt::check::not_logged", "nnt::check::wrong_type"][..],
        ),
        (
            "expect { train_loss = between(0, 1)\ntrain_loss = at_most(2) }",
            &["nnt::check::duplicate_item", "nnt::check::unknown_name"],
        ),
        (
            "expect { train_loss = at_most(1)\ntrain_loss = at_most() }",
            &["nnt::check::duplicate_item", "nnt::check::missing_argument"],
        ),
        (
            "expect { trian_loss = at_most() }",
            &["nnt::check::missing_argument", "nnt::check::unknown_name"],
        ),
    ] {
        let text = format!("{base}{expect}\n");
        let r = check_recipe("r.nnt", text.as_bytes(), &dir(), &CheckOptions::default());
        assert!(r.program.is_none());
        let mut got = codes(&r.errors);
        got.sort();
        assert_eq!(got, want, "{expect}");
    }
}

#[test]
fn warnings_do_not_block_the_program() {
    let text = GOOD.replace("dense(3) }", "dense(3); softmax }");
    let r = check_recipe("r.nnt", text.as_bytes(), &dir(), &CheckOptions::default());
    assert!(r.errors.is_empty());
    assert!(r.program.is_some());
    assert_eq!(
        codes(&r.warnings),
        ["nnt::lint::softmax_before_cross_entropy"]
    );
    for w in &r.warnings {
        assert_eq!(w.severity(), Some(miette::Severity::Warning));
    }
}

#[test]
fn the_program_knows_its_source_and_layer_lines() {
    let r = check_recipe(
        "some/path.nnt",
        GOOD.as_bytes(),
        &dir(),
        &CheckOptions::default(),
    );
    let p = r.program.unwrap();
    assert_eq!(p.source.name, "some/path.nnt");
    assert_eq!(p.model.layers.len(), 3);
    assert!(p.model.layers.iter().all(|l| l.line == 2));
    assert_eq!(p.model.input_width, 4);
    assert_eq!(
        (p.model.layers[2].in_width, p.model.layers[2].out_width),
        (8, 3)
    );
    assert_eq!(p.seed, 0);
    assert_eq!(p.train.batch, nnt::ir::Batch::Size(32));
    assert!(p.train.shuffle);
    assert_eq!(p.train.lr_schedule, nnt::ir::Schedule::Constant);
}

#[test]
fn invalid_utf8_and_byte_order_marks() {
    let mut bytes = GOOD.as_bytes().to_vec();
    bytes.insert(10, 0xff);
    let r = check_recipe("r.nnt", &bytes, &dir(), &CheckOptions::default());
    assert_eq!(codes(&r.errors), ["nnt::syntax::invalid_utf8"]);
    let with_bom = format!("\u{feff}{GOOD}");
    let r = check_recipe(
        "r.nnt",
        with_bom.as_bytes(),
        &dir(),
        &CheckOptions::default(),
    );
    assert!(r.errors.is_empty(), "{:?}", codes(&r.errors));
}

#[test]
fn an_empty_recipe_lists_what_is_missing() {
    let r = check_recipe("r.nnt", b"", &dir(), &CheckOptions::default());
    assert_eq!(codes(&r.errors), vec!["nnt::check::missing_item"; 5]);
}

#[test]
fn seed_option_is_a_set_override() {
    let opts = CheckOptions {
        seed: Some(5),
        ..CheckOptions::default()
    };
    let r = check_recipe("r.nnt", GOOD.as_bytes(), &dir(), &opts);
    assert_eq!(r.program.unwrap().seed, 5);
    let opts = CheckOptions {
        overrides: vec!["seed=1.5".into()],
        ..CheckOptions::default()
    };
    let r = check_recipe("r.nnt", GOOD.as_bytes(), &dir(), &opts);
    assert_eq!(codes(&r.errors), ["nnt::check::wrong_type"]);
}

#[test]
fn override_diagnostics_show_the_override_text() {
    let opts = CheckOptions {
        overrides: vec!["train.epochs=0".into()],
        ..CheckOptions::default()
    };
    let r = check_recipe("r.nnt", GOOD.as_bytes(), &dir(), &opts);
    let d = &r.errors[0];
    let src = d.source_code().unwrap();
    let label = d.labels().unwrap().next().unwrap();
    let span = src.read_span(label.inner(), 0, 0).unwrap();
    assert_eq!(span.name(), Some("--set train.epochs=0"));
    assert_eq!(std::str::from_utf8(span.data()).unwrap(), "0");
    for bad in [
        "epochs",
        "=3",
        "a.b.c=1",
        "trian.epochs=1",
        "model.x=1",
        "train=1",
    ] {
        let opts = CheckOptions {
            overrides: vec![bad.into()],
            ..CheckOptions::default()
        };
        let r = check_recipe("r.nnt", GOOD.as_bytes(), &dir(), &opts);
        assert_eq!(codes(&r.errors), ["nnt::check::bad_override"], "{bad}");
    }
}

#[test]
fn resolve_recipe_needs_no_data() {
    let text = GOOD.replace("data/three.csv", "data/does_not_exist.csv");
    let r = resolve_recipe("r.nnt", text.as_bytes(), &dir(), &CheckOptions::default());
    assert!(r.errors.is_empty());
    assert_eq!(r.recipe.unwrap().items.len(), 5);
    let r = check_recipe("r.nnt", text.as_bytes(), &dir(), &CheckOptions::default());
    assert!(codes(&r.errors)[0].starts_with("nnt::data"));
}

#[test]
fn errors_far_right_on_a_long_line_keep_their_line() {
    let mut text = String::from("seed = 1\n\n\nregularize = [");
    for _ in 0..10_000 {
        text.push_str("l2(1e-4), ");
    }
    text.push_str("l3(1)]\n");
    let r = check_recipe("big.nnt", text.as_bytes(), &dir(), &CheckOptions::default());
    let d = r
        .errors
        .iter()
        .find(|d| d.code().unwrap().to_string() == "nnt::check::unknown_name")
        .unwrap();
    let label = d.labels().unwrap().next().unwrap();
    let span = d
        .source_code()
        .unwrap()
        .read_span(label.inner(), 0, 0)
        .unwrap();
    assert_eq!(span.line() + 1, 4);
    assert_eq!(std::str::from_utf8(span.data()).unwrap(), "l3");
    let mut out = String::new();
    miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
        .render_report(&mut out, d.as_ref())
        .unwrap();
    assert!(out.contains("big.nnt:4:"), "{out}");
}

#[test]
fn every_argument_of_a_call_is_checked() {
    let text = GOOD
        .replace("adam(lr = 0.01)", "adam(lr = 0, beta1 = 2)")
        .replace("dense(8)", "dense(8.5, init = he, bias = 1)");
    let r = check_recipe("r.nnt", text.as_bytes(), &dir(), &CheckOptions::default());
    assert_eq!(
        codes(&r.errors),
        [
            "nnt::check::wrong_type",
            "nnt::check::unknown_name",
            "nnt::check::wrong_type",
            "nnt::check::out_of_range",
            "nnt::check::out_of_range"
        ]
    );
}

#[test]
fn an_empty_override_value_is_a_syntax_error_in_the_override() {
    let opts = CheckOptions {
        overrides: vec!["seed=".into()],
        ..CheckOptions::default()
    };
    let r = check_recipe("r.nnt", GOOD.as_bytes(), &dir(), &opts);
    assert_eq!(codes(&r.errors), ["nnt::syntax::unexpected"]);
    assert_eq!(
        r.errors[0].to_string(),
        "expected a value: a number, string, name, call or list, found nothing"
    );
}

/// A bad label names its line in the file, also after `split` has moved rows
/// between train and valid (and the row number is the split's own).
#[test]
fn label_errors_name_the_file_line_through_splits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut csv = String::from("x0,x1,label\n");
    for i in 0..20 {
        let label = if i == 13 {
            "2.5".to_string()
        } else {
            (i % 3).to_string()
        };
        csv.push_str(&format!("0.{i},-0.{i},{label}\n"));
    }
    std::fs::write(dir.path().join("bad.csv"), csv).expect("write");
    let text = GOOD.replace("data/three.csv", "bad.csv").replace(
        "label = \"label\") }",
        "label = \"label\")\n valid = split(train, 0.5) }",
    );
    let r = check_recipe(
        "r.nnt",
        text.as_bytes(),
        dir.path(),
        &CheckOptions::default(),
    );
    assert_eq!(codes(&r.errors), ["nnt::check::label_not_class"]);
    let message = r.errors[0].to_string();
    // header on line 1, row i on line i + 2
    assert!(
        message.contains("(line 15 of `bad.csv`) has label 2.5"),
        "{message}"
    );
}

/// A misspelt monitor is suggested only among those the run measures: a
/// regression's `valid_acuracy` is not told `did you mean valid_accuracy`,
/// which regressions do not measure (it was, the train section being checked
/// without the loss); a classification's is.
#[test]
fn a_monitor_typo_is_suggested_among_the_measured_monitors() {
    let regression = std::fs::read_to_string(dir().join("regression.nnt"))
        .unwrap()
        .replace("monitor = train_loss)\n}", "monitor = valid_acuracy)\n}");
    let classification = GOOD.replace(
        "epochs = 2",
        "epochs = 2\n    early_stop = patience(2, monitor = valid_acuracy)",
    );
    for (text, suggested) in [
        (regression, "expected one of: train_loss, valid_loss"),
        (classification, "did you mean `valid_accuracy`?"),
    ] {
        let r = check_recipe("r.nnt", text.as_bytes(), &dir(), &CheckOptions::default());
        assert_eq!(codes(&r.errors), ["nnt::check::unknown_name"], "{text}");
        let help = r.errors[0]
            .help()
            .map(|h| h.to_string())
            .unwrap_or_default();
        assert!(help.starts_with(suggested), "{help}");
    }
}

/// An integer past 64 bits names the limit it broke ("a reasonable integer"
/// said nothing a user could act on).
#[test]
fn an_integer_past_64_bits_names_the_limit() {
    for (text, limit) in [
        (
            "seed = 9223372036854775808\n",
            "at most 9223372036854775807",
        ),
        (
            "seed = -9223372036854775809\n",
            "at least -9223372036854775808",
        ),
    ] {
        let r = check_recipe(
            "r.nnt",
            format!("{text}{GOOD}").as_bytes(),
            &dir(),
            &CheckOptions::default(),
        );
        let message = r
            .errors
            .iter()
            .find(|d| {
                d.code()
                    .is_some_and(|c| c.to_string() == "nnt::check::out_of_range")
            })
            .map(|d| d.to_string());
        assert!(
            message.as_deref().is_some_and(|m| m.contains(limit)),
            "{message:?}"
        );
    }
}
