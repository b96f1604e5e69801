//! Snapshots of the checked program (the IR) of valid recipes: every default filled
//! in, every name resolved, every width known. The data tables are summarised by
//! their shapes (their values belong to the data module), and paths are shown
//! relative to the repository.

use std::path::Path;

use nnt::check::{check_recipe, CheckOptions};
use nnt::ir::{Program, Table};

fn shape(t: &Table) -> String {
    format!(
        "{} rows x {} features -> {} targets",
        t.rows, t.features, t.targets
    )
}

fn summary(p: &Program) -> String {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut out = String::new();
    out.push_str(&format!(
        "source: {}\nseed: {}\nprecision: {:?}\n",
        p.source.name, p.seed, p.precision
    ));
    out.push_str(&format!("data.train: {}\n", shape(&p.data.train)));
    if let Some(v) = &p.data.valid {
        out.push_str(&format!("data.valid: {}\n", shape(v)));
    }
    if let Some(t) = &p.data.test {
        out.push_str(&format!("data.test: {}\n", shape(t)));
    }
    out.push_str(&format!("model: {:#?}\n", p.model));
    out.push_str(&format!(
        "loss: {:?}\noptimizer: {:#?}\nregularize: {:#?}\ntrain: {:#?}\n",
        p.loss, p.optimizer, p.regularize, p.train
    ));
    out.push_str(&format!(
        "init_from: {:?}\nsave: {:?}\ncheckpoint: {:#?}\ndiagnose: {:#?}\n",
        p.init_from, p.save, p.checkpoint, p.diagnose
    ));
    out.replace(root, "<root>")
}

fn program(file: &str, opts: &CheckOptions) -> Program {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/valid");
    let bytes = std::fs::read(dir.join(file)).unwrap();
    let report = check_recipe(&format!("valid/{file}"), &bytes, &dir, opts);
    assert!(report.errors.is_empty(), "{file} has errors");
    report.program.expect("a program")
}

#[test]
fn ir_of_the_spec_example() {
    insta::assert_snapshot!(summary(&program("iris_like.nnt", &CheckOptions::default())));
}

#[test]
fn ir_of_a_recipe_using_everything() {
    insta::assert_snapshot!(summary(&program(
        "everything.nnt",
        &CheckOptions::default()
    )));
}

#[test]
fn ir_with_defaults_only() {
    insta::assert_snapshot!(summary(&program("one_line.nnt", &CheckOptions::default())));
}

#[test]
fn overrides_seed_and_save_apply() {
    let opts = CheckOptions {
        overrides: vec![
            "train.epochs=7".into(),
            "optimizer=sgd(lr = 0.2)".into(),
            "train.batch=full".into(),
        ],
        seed: Some(99),
        save: Some("elsewhere.safetensors".into()),
        ..CheckOptions::default()
    };
    let p = program("iris_like.nnt", &opts);
    assert_eq!(p.seed, 99);
    assert_eq!(p.train.epochs, 7);
    assert_eq!(p.train.batch, nnt::ir::Batch::Full);
    assert_eq!(p.optimizer.name(), "sgd");
    assert_eq!(p.optimizer.lr(), 0.2);
    assert_eq!(p.save.as_deref(), Some(Path::new("elsewhere.safetensors")));
}

#[test]
fn an_override_can_add_a_missing_section_item() {
    let opts = CheckOptions {
        overrides: vec!["checkpoint.every=2".into(), "checkpoint.path=\"c\"".into()],
        ..Default::default()
    };
    let p = program("synthetic.nnt", &opts);
    let c = p.checkpoint.expect("checkpoint from overrides");
    assert_eq!(c.every, 2);
    assert!(c.path.ends_with("c"));
}

#[test]
fn relative_paths_resolve_against_the_recipe_directory() {
    let p = program("everything.nnt", &CheckOptions::default());
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/valid");
    assert_eq!(p.init_from, Some(dir.join("init.safetensors")));
    assert_eq!(p.save, Some(dir.join("out/model.safetensors")));
}

#[test]
fn default_init_follows_the_next_activation() {
    use nnt::ir::{Init, LayerKind};
    let p = program("iris_like.nnt", &CheckOptions::default());
    // dense(16, he_uniform) relu dropout dense(3): the last has no activation after it.
    match &p.model.layers[3].kind {
        LayerKind::Dense { init, .. } => assert_eq!(*init, Init::XavierUniform),
        k => panic!("{k:?}"),
    }
    let p = program("regression.nnt", &CheckOptions::default());
    match &p.model.layers[0].kind {
        LayerKind::Dense { init, .. } => assert_eq!(*init, Init::XavierUniform, "before sigmoid"),
        k => panic!("{k:?}"),
    }
    let p = program("synthetic.nnt", &CheckOptions::default());
    match &p.model.layers[0].kind {
        LayerKind::Dense { init, .. } => assert_eq!(*init, Init::HeUniform, "before relu"),
        k => panic!("{k:?}"),
    }
}

/// v1.2's layer_norm and nadam: their defaults fill in, `--set` reaches nadam's
/// arguments, and the default initialiser looks past layer_norm (and dropout) to
/// the activation (§5).
#[test]
fn layer_norm_and_nadam_resolve() {
    use nnt::ir::{Init, LayerKind, Optimizer};
    let p = program("layer_norm_nadam.nnt", &CheckOptions::default());
    let kinds: Vec<&LayerKind> = p.model.layers.iter().map(|l| &l.kind).collect();
    assert_eq!(*kinds[1], LayerKind::LayerNorm { eps: 1e-5 });
    assert_eq!(*kinds[4], LayerKind::LayerNorm { eps: 1e-3 });
    assert_eq!(
        (p.model.layers[4].in_width, p.model.layers[4].out_width),
        (6, 6)
    );
    let init = |i: usize| match kinds[i] {
        LayerKind::Dense { init, .. } => *init,
        k => panic!("{k:?}"),
    };
    assert_eq!(init(0), Init::HeUniform, "dense, layer_norm, gelu");
    assert_eq!(
        init(3),
        Init::XavierUniform,
        "dense, layer_norm, dropout, tanh"
    );
    assert_eq!(
        p.optimizer,
        Optimizer::NAdam {
            lr: 0.002,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            momentum_decay: 0.004,
        }
    );
    let opts = CheckOptions {
        overrides: vec![
            "optimizer=nadam(0.01, 0.8, weight_decay = 0.1, momentum_decay = 0.01)".into(),
        ],
        ..Default::default()
    };
    assert_eq!(
        program("layer_norm_nadam.nnt", &opts).optimizer,
        Optimizer::NAdam {
            lr: 0.01,
            beta1: 0.8,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.1,
            momentum_decay: 0.01,
        }
    );
}
