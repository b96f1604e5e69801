//! §18 nested `--set` keys: each key changes exactly the argument it names and
//! keeps the rest of the recipe. The recipe after the override is compared with
//! the recipe edited by hand (both in config layout), and for checked programs the
//! plan and the resolved parts are compared too. Errors on unknown parameters, bad
//! layer indices and repeated keys are fixtures in `tests/fixtures/invalid/`.

use std::path::{Path, PathBuf};

use nnt::check::{check_recipe, resolve_recipe, CheckOptions};

fn valid_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/valid")
}

fn opts(sets: &[&str]) -> CheckOptions {
    CheckOptions {
        overrides: sets.iter().map(|s| s.to_string()).collect(),
        ..CheckOptions::default()
    }
}

/// The recipe after `sets`, in config layout; panics on any error.
fn configured(text: &str, sets: &[&str]) -> String {
    let report = resolve_recipe("r.nnt", text.as_bytes(), &valid_dir(), &opts(sets));
    let errors: Vec<String> = report.errors.iter().map(|e| format!("{e:?}")).collect();
    assert!(errors.is_empty(), "{sets:?}: {errors:?}");
    nnt::cli::format::config_text(&report.recipe.expect("a recipe"))
}

/// `(key=value, text in the recipe, the same text edited by hand)`.
const EVERYTHING_CASES: &[(&str, &str, &str)] = &[
    // Positional arguments are replaced in place.
    ("optimizer.lr=0.5", "sgd(0.05,", "sgd(0.5,"),
    ("optimizer.momentum=0.5", "sgd(0.05, 0.9,", "sgd(0.05, 0.5,"),
    ("optimizer.weight_decay=0.01", "true, 1e-4)", "true, 0.01)"),
    // Named arguments keep their place.
    (
        "loss.label_smoothing=0.1",
        "label_smoothing = 0.05",
        "label_smoothing = 0.1",
    ),
    (
        "train.lr_schedule.epochs=3",
        "warmup(epochs = 2",
        "warmup(epochs = 3",
    ),
    (
        "train.lr_schedule.then.min_lr=0.001",
        "min_lr = 1e-4",
        "min_lr = 0.001",
    ),
    (
        "train.early_stop.monitor=valid_loss",
        "monitor = valid_accuracy",
        "monitor = valid_loss",
    ),
    ("train.early_stop.p=5", "patience(3,", "patience(5,"),
    ("train.clip.max=2.0", "norm(1.0)", "norm(2.0)"),
    ("data.train.label=3", "label = 4", "label = 3"),
    (
        "data.valid.fraction=0.3",
        "split(train, 0.2, stratify = true)",
        "split(train, 0.3, stratify = true)",
    ),
    // Layers by §5 index (`input` not counted).
    ("model.0.units=16", "linear(12,", "linear(16,"),
    ("model.1.slope=0.3", "leaky_relu(0.2)", "leaky_relu(0.3)"),
    (
        "model.2.init.std=0.1",
        "normal(std = 0.05)",
        "normal(std = 0.1)",
    ),
    ("model.3.alpha=1.5", "elu(alpha = 0.5)", "elu(alpha = 1.5)"),
    (
        "model.4.eps=0.01",
        "batch_norm(0.2, 1e-3)",
        "batch_norm(0.2, 0.01)",
    ),
    (
        "model.5.bias=true",
        "torch_default, false",
        "torch_default, true",
    ),
    ("model.6=relu", "gelu", "relu"),
    (
        "model.7.init=he_normal",
        "dense(6, init = uniform(0.1))",
        "dense(6, init = he_normal)",
    ),
    // An argument the call did not give is added by name.
    (
        "model.9.bias=false",
        "dense(3, init = xavier_normal)",
        "dense(3, init = xavier_normal, bias = false)",
    ),
    // A list's element is named by its call.
    ("regularize.l1.lambda=0.001", "l1(1e-5)", "l1(0.001)"),
];

#[test]
fn each_nested_key_changes_exactly_what_it_names() {
    let text = std::fs::read_to_string(valid_dir().join("everything.nnt")).unwrap();
    let base = configured(&text, &[]);
    for (set, from, to) in EVERYTHING_CASES {
        assert!(text.contains(from), "{set}: the fixture lacks {from:?}");
        let edited = text.replacen(from, to, 1);
        let got = configured(&text, &[set]);
        assert_ne!(got, base, "{set} changed nothing");
        assert_eq!(got, configured(&edited, &[]), "{set}");
    }
}

#[test]
fn several_keys_combine() {
    let text = std::fs::read_to_string(valid_dir().join("everything.nnt")).unwrap();
    let edited = text
        .replacen("sgd(0.05, 0.9,", "sgd(0.1, 0.8,", 1)
        .replacen("linear(12,", "linear(32,", 1);
    let got = configured(
        &text,
        &[
            "optimizer.lr=0.1",
            "model.0.units=32",
            " optimizer.momentum = 0.8",
        ],
    );
    assert_eq!(got, configured(&edited, &[]));
}

#[test]
fn a_bare_layer_becomes_a_call_with_the_argument() {
    let text = "data {\n    train = xor(n = 40)\n}\nmodel {\n    dense(8)\n    leaky_relu\n    dense(1)\n}\nloss = binary_cross_entropy\noptimizer = adam(lr = 0.01)\ntrain {\n    epochs = 1\n}\n";
    let got = configured(text, &["model.1.slope=0.2"]);
    assert!(got.contains("leaky_relu(slope = 0.2)"), "{got}");
    let edited = text.replace("leaky_relu\n", "leaky_relu(slope = 0.2)\n");
    assert_eq!(got, configured(&edited, &[]));
}

fn checked(file: &str, sets: &[&str]) -> nnt::ir::Program {
    let bytes = std::fs::read(valid_dir().join(file)).unwrap();
    checked_text(&bytes, sets)
}

fn checked_text(bytes: &[u8], sets: &[&str]) -> nnt::ir::Program {
    let report = check_recipe("valid/r.nnt", bytes, &valid_dir(), &opts(sets));
    let errors: Vec<String> = report.errors.iter().map(|e| format!("{e:?}")).collect();
    assert!(errors.is_empty(), "{sets:?}: {errors:?}");
    report.program.expect("a program")
}

#[test]
fn the_checked_program_changes_only_where_named() {
    let text = std::fs::read_to_string(valid_dir().join("iris_like.nnt")).unwrap();
    let cases: &[(&str, &str, &str)] = &[
        ("optimizer.lr=0.1", "adam(lr = 0.01)", "adam(lr = 0.1)"),
        ("model.0.units=32", "dense(16,", "dense(32,"),
        ("model.2.p=0.3", "dropout(0.1)", "dropout(0.3)"),
        (
            "train.early_stop.monitor=valid_accuracy",
            "monitor = valid_loss",
            "monitor = valid_accuracy",
        ),
        ("regularize.l2.lambda=0.01", "l2(1e-4)", "l2(0.01)"),
    ];
    let base = checked("iris_like.nnt", &[]);
    for (set, from, to) in cases {
        let got = checked("iris_like.nnt", &[set]);
        let want = checked_text(text.replacen(from, to, 1).as_bytes(), &[]);
        let plan = |p: &nnt::ir::Program| nnt::report::explain::explain(p);
        let parts = |p: &nnt::ir::Program| {
            format!(
                "{:?}\n{:?}\n{:?}\n{:?}\n{:?}",
                p.optimizer,
                p.loss,
                p.regularize,
                p.train,
                p.model.layers.iter().map(|l| &l.kind).collect::<Vec<_>>()
            )
        };
        assert_eq!(plan(&got), plan(&want), "{set}");
        assert_eq!(parts(&got), parts(&want), "{set}");
        assert_ne!(parts(&got), parts(&base), "{set} changed nothing");
    }
}

/// The override module binds positional arguments by the parameter order of each
/// call (`params_of`); the checker lists the same parameters, in the same order,
/// when an unknown one is named.
#[test]
fn positional_parameter_order_matches_the_checker() {
    use nnt::check::overrides::{params_of, Context};
    let text = "data {\n    train = xor(n = 40)\n    valid = split(train, 0.25)\n}\nmodel {\n    dense(8)\n    relu\n    dense(2)\n}\nloss = cross_entropy\noptimizer = adam(lr = 0.01)\nregularize = [l2(0.1)]\ntrain {\n    epochs = 1\n}\n";
    // (the item set first, the key reaching its call, the context, the call)
    let cases: &[(&str, &str, Context, &str)] = &[
        (
            "optimizer=sgd(lr = 0.1)",
            "optimizer",
            Context::Other,
            "sgd",
        ),
        (
            "optimizer=adam(lr = 0.1)",
            "optimizer",
            Context::Other,
            "adam",
        ),
        (
            "optimizer=adamw(lr = 0.1)",
            "optimizer",
            Context::Other,
            "adamw",
        ),
        (
            "optimizer=rmsprop(lr = 0.1)",
            "optimizer",
            Context::Other,
            "rmsprop",
        ),
        (
            "optimizer=adagrad(lr = 0.1)",
            "optimizer",
            Context::Other,
            "adagrad",
        ),
        (
            "optimizer=nadam(lr = 0.1)",
            "optimizer",
            Context::Other,
            "nadam",
        ),
        (
            "loss=cross_entropy",
            "loss",
            Context::Other,
            "cross_entropy",
        ),
        ("loss=huber", "loss", Context::Other, "huber"),
        (
            "regularize=[l2(0.1)]",
            "regularize.l2",
            Context::Other,
            "l2",
        ),
        (
            "regularize=[max_norm(2)]",
            "regularize.max_norm",
            Context::Other,
            "max_norm",
        ),
        (
            "train.lr_schedule=step(2)",
            "train.lr_schedule",
            Context::Other,
            "step",
        ),
        (
            "train.lr_schedule=exponential(0.9)",
            "train.lr_schedule",
            Context::Other,
            "exponential",
        ),
        (
            "train.lr_schedule=cosine",
            "train.lr_schedule",
            Context::Other,
            "cosine",
        ),
        (
            "train.lr_schedule=warmup(2)",
            "train.lr_schedule",
            Context::Other,
            "warmup",
        ),
        (
            "train.lr_schedule=reduce_on_plateau",
            "train.lr_schedule",
            Context::Other,
            "reduce_on_plateau",
        ),
        ("train.clip=norm(1.0)", "train.clip", Context::Other, "norm"),
        (
            "train.clip=value(1.0)",
            "train.clip",
            Context::Other,
            "value",
        ),
        (
            "train.early_stop=patience(3)",
            "train.early_stop",
            Context::Other,
            "patience",
        ),
        ("model.0=dense(8)", "model.0", Context::Model, "dense"),
        ("model.0=linear(8)", "model.0", Context::Model, "linear"),
        (
            "model.1=leaky_relu",
            "model.1",
            Context::Model,
            "leaky_relu",
        ),
        ("model.1=elu", "model.1", Context::Model, "elu"),
        ("model.1=dropout(0.1)", "model.1", Context::Model, "dropout"),
        (
            "model.1=batch_norm",
            "model.1",
            Context::Model,
            "batch_norm",
        ),
        (
            "model.1=layer_norm",
            "model.1",
            Context::Model,
            "layer_norm",
        ),
        (
            "model.0=dense(8, init = normal)",
            "model.0.init",
            Context::Model,
            "normal",
        ),
        (
            "model.0=dense(8, init = uniform)",
            "model.0.init",
            Context::Model,
            "uniform",
        ),
        (
            "data.train=csv(\"t.csv\", label = \"y\")",
            "data.train",
            Context::Data,
            "csv",
        ),
        (
            "data.train=blobs(n = 40, features = 2, classes = 2)",
            "data.train",
            Context::Data,
            "blobs",
        ),
        (
            "data.train=spirals(n = 40, classes = 2)",
            "data.train",
            Context::Data,
            "spirals",
        ),
        (
            "data.train=moons(n = 40)",
            "data.train",
            Context::Data,
            "moons",
        ),
        ("data.train=xor(n = 40)", "data.train", Context::Data, "xor"),
        (
            "data.train=linear(n = 40, features = 2)",
            "data.train",
            Context::Data,
            "linear",
        ),
        (
            "data.valid=split(train, 0.2)",
            "data.valid",
            Context::Data,
            "split",
        ),
    ];
    let mut checked = 0;
    for (item, key, ctx, call) in cases {
        let unknown = format!("{key}.zzqqxxvv=1");
        let report = resolve_recipe(
            "r.nnt",
            text.as_bytes(),
            &valid_dir(),
            &opts(&[item, &unknown]),
        );
        let codes: Vec<String> = report
            .errors
            .iter()
            .map(|e| e.code().map(|c| c.to_string()).unwrap_or_default())
            .collect();
        // Calls of the spec that this checker does not know yet (added by another
        // part of v1.2) are skipped, not guessed.
        if codes.iter().any(|c| c == "nnt::check::unknown_name")
            && ["nadam", "layer_norm"].contains(call)
        {
            continue;
        }
        let helps: Vec<String> = report
            .errors
            .iter()
            .filter(|e| {
                e.code()
                    .is_some_and(|c| c.to_string() == "nnt::check::unknown_argument")
            })
            .filter_map(|e| e.help().map(|h| h.to_string()))
            .collect();
        let params =
            params_of(*ctx, call).unwrap_or_else(|| panic!("{call}: no parameters listed"));
        let want = format!("its parameters are: {}", params.join(", "));
        assert_eq!(helps, [want], "{item} / {unknown}: {codes:?}");
        checked += 1;
    }
    assert!(checked >= 30, "{checked}");
}

/// A setting replaced by `--set` keeps its place in the `config` layout (the
/// `start` event's, a sweep's `recipe.nnt`): the blank lines and comments
/// around it stay as the recipe has them. A blank line appeared after it and
/// its comments moved to the next entry.
#[test]
fn a_replaced_setting_keeps_its_blank_lines_and_comments() {
    let config = |text: &str, sets: &[&str]| {
        let report = check_recipe("r.nnt", text.as_bytes(), &valid_dir(), &opts(sets));
        let errors: Vec<String> = report.errors.iter().map(|e| format!("{e:?}")).collect();
        assert!(errors.is_empty(), "{sets:?}: {errors:?}");
        report.program.expect("a program").source.config
    };
    let text = "seed = 1  # fixed\n\ndata { train = xor(n = 8) }\nmodel { dense(2) }\n\
                loss = cross_entropy\noptimizer = sgd(lr = 0.1)\n\ntrain {\n    # how long\n    \
                epochs = 50  # quick\n\n    batch = 16\n    shuffle = false\n}\n";
    let by_hand = text
        .replace("seed = 1", "seed = 2")
        .replace("epochs = 50", "epochs = 1")
        .replace("batch = 16", "batch = 8");
    assert_eq!(
        config(text, &["train.epochs=1", "train.batch=8", "seed=2"]),
        config(&by_hand, &[])
    );
}
