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
