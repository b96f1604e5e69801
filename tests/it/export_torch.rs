//! `nnt export torch` (spec §17), tested structurally without Python: the files
//! of the export, no path of the exporting machine, the rendered layer list and
//! optimizer, the rows of every split and the start weights, each compared with
//! what nnt itself computes. (The numerical agreement of the exported program
//! with the PyTorch references is checked by scripts/verify-torch-export.sh.)

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use nnt::io::weights::WeightsFile;

const FILES: [&str; 4] = [
    "train.py",
    "data.safetensors",
    "init.safetensors",
    "model_meta.json",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn conformance_cases() -> Vec<PathBuf> {
    let dir = root().join("tests/fixtures/conformance");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("recipe.nnt").is_file())
        .collect();
    cases.sort();
    assert!(cases.len() >= 10, "the conformance cases are present");
    cases
}

fn nnt(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nnt"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("the nnt binary runs")
}

/// Exports `recipe` (with `--set` overrides) into a fresh folder.
fn export(recipe: &Path, sets: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("export");
    let mut args = vec![
        "export",
        "torch",
        recipe.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ];
    for s in sets {
        args.push("--set");
        args.push(s);
    }
    let r = nnt(&args);
    assert!(
        r.status.success(),
        "export of {} failed: {}",
        recipe.display(),
        String::from_utf8_lossy(&r.stderr)
    );
    dir
}

fn program(recipe: &Path, sets: &[&str]) -> nnt::ir::Program {
    let bytes = std::fs::read(recipe).unwrap();
    let opts = nnt::check::CheckOptions {
        overrides: sets.iter().map(|s| s.to_string()).collect(),
        seed: None,
        save: None,
        ..nnt::check::CheckOptions::default()
    };
    let report = nnt::check::check_recipe(
        &recipe.display().to_string(),
        &bytes,
        recipe.parent().unwrap(),
        &opts,
    );
    report.program.expect("the recipe checks")
}

fn tensors(path: &Path) -> WeightsFile {
    WeightsFile::read(path).unwrap()
}

/// The values of a tensor (as f64) and its shape.
fn values(file: &WeightsFile, name: &str) -> (Vec<usize>, Vec<f64>) {
    let t = file
        .tensors
        .get(name)
        .unwrap_or_else(|| panic!("{} lacks {name}", file.path));
    let shape = t.shape.clone();
    let data = file.get(name, &shape).unwrap().to_vec();
    (shape, data)
}

#[test]
fn every_conformance_case_exports_its_files_without_a_path_of_this_machine() {
    for case in conformance_cases() {
        let dir = export(&case.join("recipe.nnt"), &[]);
        let out = dir.path().join("export");
        let forbidden = [
            case.display().to_string(),
            root().display().to_string(),
            dir.path().display().to_string(),
            std::env::current_dir().unwrap().display().to_string(),
        ];
        for name in FILES {
            let bytes = std::fs::read(out.join(name))
                .unwrap_or_else(|_| panic!("{}: {name} written", case.display()));
            assert!(!bytes.is_empty());
            let text = String::from_utf8_lossy(&bytes);
            for f in &forbidden {
                assert!(
                    !text.contains(f.as_str()),
                    "{}: {name} holds the path {f}",
                    case.display()
                );
            }
        }
        let py = std::fs::read_to_string(out.join("train.py")).unwrap();
        assert!(py.contains("HERE = os.path.dirname(os.path.abspath(__file__))"));
        assert!(!py.contains("__NNT_"), "every placeholder is rendered");
    }
}

/// The `build_model` body: one module per line, its nn.Sequential index as comment.
fn model_lines(py: &str) -> Vec<String> {
    let start = py.find("return nn.Sequential(\n").unwrap();
    let body = &py[start..];
    let end = body.find("\n    )\n").unwrap();
    body[..end]
        .lines()
        .skip(1)
        .map(|l| l.trim().to_string())
        .collect()
}

#[test]
fn train_py_holds_the_layer_list_loss_and_optimizer_of_the_checked_program() {
    let conf = root().join("tests/fixtures/conformance");
    let cases: [(&str, &[&str], &str, &str); 3] = [
        (
            "iris_adam_tanh",
            &["nn.Linear(4, 16),  # 0", "nn.Tanh(),  # 1", "nn.Linear(16, 3),  # 2"],
            "nn.CrossEntropyLoss(label_smoothing=0.0)",
            "torch.optim.Adam(params, lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False)",
        ),
        (
            "cancer_bce_adamw_batchnorm_step",
            &[
                "nn.Linear(30, 16, bias=False),  # 0",
                "nn.BatchNorm1d(16, eps=1e-5, momentum=0.1),  # 1",
                "nn.ReLU(),  # 2",
                "nn.Linear(16, 1),  # 3",
            ],
            "nn.BCEWithLogitsLoss()",
            "torch.optim.AdamW(params, lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)",
        ),
        (
            "huber_adagrad_fullbatch_clipvalue",
            &[
                "nn.Linear(",
                "nn.LeakyReLU(0.1),  # 1",
                "nn.Linear(8, 8),  # 2",
                "nn.ELU(alpha=1.0),  # 3",
                "nn.Linear(8, 1),  # 4",
            ],
            "nn.HuberLoss(delta=0.5)",
            "torch.optim.Adagrad(params, lr=0.05, eps=1e-10, weight_decay=0.0)",
        ),
    ];
    for (name, layers, loss, optimizer) in cases {
        let dir = export(&conf.join(name).join("recipe.nnt"), &[]);
        let py = std::fs::read_to_string(dir.path().join("export/train.py")).unwrap();
        let lines = model_lines(&py);
        assert_eq!(lines.len(), layers.len(), "{name}: {lines:?}");
        for (got, want) in lines.iter().zip(layers) {
            assert!(got.starts_with(want), "{name}: {got} is not {want}");
        }
        assert!(py.contains(&format!("return {loss}\n")), "{name}: loss");
        assert!(
            py.contains(&format!("return {optimizer}\n")),
            "{name}: optimizer"
        );
    }
    // Schedules, clipping, penalties and early stopping come from the IR too.
    let dir = export(
        &conf.join("cancer_bce_adamw_batchnorm_step/recipe.nnt"),
        &[],
    );
    let py = std::fs::read_to_string(dir.path().join("export/train.py")).unwrap();
    assert!(py.contains("torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)"));
    let dir = export(&conf.join("digits_nesterov_l2_clip/recipe.nnt"), &[]);
    let py = std::fs::read_to_string(dir.path().join("export/train.py")).unwrap();
    assert!(py.contains("\"clip\": (\"norm\", 1.0),"));
    assert!(py.contains("\"l2\": 0.0001,"));
    assert!(py.contains("nesterov=True"));
    let dir = export(&conf.join("f64_early_stop_test/recipe.nnt"), &[]);
    let py = std::fs::read_to_string(dir.path().join("export/train.py")).unwrap();
    assert!(py.contains("\"precision\": \"f64\","));
    assert!(py.contains(
        "\"early_stop\": {\"patience\": 2, \"monitor\": \"valid_loss\", \"min_delta\": 0.002, \"higher\": False},"
    ));
    // --set reaches the export: what nnt would run, not what the file says.
    let dir = export(
        &conf.join("seed_sgd/recipe.nnt"),
        &[
            "optimizer=rmsprop(lr = 0.002, centered = true)",
            "train.epochs=3",
        ],
    );
    let py = std::fs::read_to_string(dir.path().join("export/train.py")).unwrap();
    assert!(py.contains(
        "torch.optim.RMSprop(params, lr=0.002, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=True)"
    ));
    assert!(py.contains("\"epochs\": 3,"));
    // The start event's `nnt` and `config` as `nnt run` logs them (the recipe
    // after the export's overrides), the layers' places for a divergence, and
    // `expect`'s items with their bounds.
    let recipe = conf.join("seed_sgd/recipe.nnt");
    let sets = [
        "train.epochs=3",
        "expect.train_loss=at_most(0.5)",
        "expect.valid_accuracy=at_least(1e-7)",
    ];
    let dir = export(&recipe, &sets);
    let py = std::fs::read_to_string(dir.path().join("export/train.py")).unwrap();
    let config = program(&recipe, &sets).source.config;
    assert!(config.contains("epochs = 3"), "{config}");
    assert!(
        py.contains(&format!(
            "\"config\": {},",
            serde_json::to_string(&config).unwrap()
        )),
        "config"
    );
    assert!(py.contains(&format!("\"nnt\": \"{}\",", env!("CARGO_PKG_VERSION"))));
    assert!(py.contains("0: (\"dense\", \"line "), "layer places");
    assert!(py.contains(
        "\"expect\": [(\"train_loss\", \"at most\", 0.5), (\"valid_accuracy\", \"at least\", 1e-7)],"
    ));
}

#[test]
fn a_recipe_nnt_check_rejects_is_not_exported() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("export");
    let recipe = root().join("tests/fixtures/conformance/seed_sgd/recipe.nnt");
    let r = nnt(&[
        "export",
        "torch",
        recipe.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--set",
        "optimizer=sgd(lr = 0.1, nesterov = true)",
    ]);
    assert_eq!(r.status.code(), Some(1));
    assert!(!out.exists(), "nothing is written for an invalid recipe");
}

/// The files of an export belong together: when one cannot be written, none
/// of the others is (never a new train.py beside an earlier export's data), and
/// the earlier export stays whole.
#[test]
fn an_export_is_written_whole_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("export");
    let seed = root().join("tests/fixtures/conformance/seed_sgd/recipe.nnt");
    let export_to = |recipe: &Path| {
        nnt(&[
            "export",
            "torch",
            recipe.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ])
    };
    assert!(export_to(&seed).status.success());
    let before: Vec<Vec<u8>> = FILES
        .iter()
        .map(|f| std::fs::read(out.join(f)).unwrap())
        .collect();
    // The third file cannot be replaced: a folder stands at its name.
    std::fs::remove_file(out.join(FILES[2])).unwrap();
    std::fs::create_dir(out.join(FILES[2])).unwrap();
    let other = root().join("tests/fixtures/conformance/iris_adam_tanh/recipe.nnt");
    let r = export_to(&other);
    assert_eq!(r.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(stderr.contains("nnt::export::write"), "{stderr}");
    for (i, f) in FILES.iter().enumerate() {
        if i != 2 {
            let now = std::fs::read(out.join(f)).unwrap();
            assert!(now == before[i], "{f} was replaced by a failed export");
        }
    }
    let names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        names.len(),
        FILES.len(),
        "no temporary file left: {names:?}"
    );
}

#[test]
fn data_files_hold_exactly_the_rows_nnt_selects_and_prepares() {
    let recipes = [
        (root().join("examples/breast_cancer.nnt"), vec![]),
        (
            root().join("tests/fixtures/conformance/f64_early_stop_test/recipe.nnt"),
            vec![],
        ),
        (root().join("examples/spirals.nnt"), vec!["seed=9"]),
    ];
    for (recipe, sets) in recipes {
        let p = program(&recipe, &sets);
        let dir = export(&recipe, &sets);
        let data = tensors(&dir.path().join("export/data.safetensors"));
        let mut splits = vec![("train", Some(&p.data.train))];
        splits.push(("valid", p.data.valid.as_ref()));
        splits.push(("test", p.data.test.as_ref()));
        for (name, table) in splits {
            let Some(t) = table else {
                assert!(!data.tensors.contains_key(&format!("{name}_x")));
                continue;
            };
            let (xs, x) = values(&data, &format!("{name}_x"));
            let (ys, y) = values(&data, &format!("{name}_y"));
            assert_eq!(xs, vec![t.rows, t.features], "{name}");
            assert_eq!(ys, vec![t.rows, t.targets], "{name}");
            assert_eq!(x, t.x, "{}: {name} features", recipe.display());
            assert_eq!(y, t.y, "{}: {name} labels", recipe.display());
        }
        // The row counts are those `nnt run` reports.
        let mut args = vec!["run", recipe.to_str().unwrap(), "--format", "jsonl"];
        let mut all_sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        all_sets.push("train.epochs=1".into());
        for s in &all_sets {
            args.push("--set");
            args.push(s);
        }
        let r = nnt(&args);
        let first = String::from_utf8(r.stdout).unwrap();
        let start: serde_json::Value = serde_json::from_str(first.lines().next().unwrap()).unwrap();
        assert_eq!(start["train_rows"], p.data.train.rows);
        if let Some(v) = &p.data.valid {
            assert_eq!(start["valid_rows"], v.rows);
        }
    }
}

/// Trains one epoch at a learning rate so small that every update is exactly 0:
/// the saved parameters are nnt's initial ones.
fn nnt_initial_weights(recipe: &Path, dir: &Path) -> (WeightsFile, WeightsFile) {
    let saved = dir.join("start.safetensors");
    let r = nnt(&[
        "run",
        recipe.to_str().unwrap(),
        "--format",
        "jsonl",
        "--set",
        "train.epochs=1",
        "--set",
        "optimizer=sgd(lr = 1e-300)",
        "--save",
        saved.to_str().unwrap(),
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    (
        tensors(&saved),
        tensors(&dir.join("export/init.safetensors")),
    )
}

/// Each tensor's dtype, from the safetensors header.
fn header_dtypes(path: &Path) -> HashMap<String, String> {
    let bytes = std::fs::read(path).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    header
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| *k != "__metadata__")
        .map(|(k, v)| (k.clone(), v["dtype"].as_str().unwrap().to_string()))
        .collect()
}

#[test]
fn init_weights_are_the_ones_nnt_draws_or_init_from_gives() {
    for recipe in ["examples/spirals.nnt", "examples/xor.nnt"] {
        let recipe = root().join(recipe);
        let dir = export(&recipe, &[]);
        let (nnt_start, exported) = nnt_initial_weights(&recipe, dir.path());
        let mut names: Vec<&String> = exported.tensors.keys().collect();
        names.sort();
        let mut nnt_names: Vec<&String> = nnt_start
            .tensors
            .keys()
            .filter(|n| !n.ends_with("num_batches_tracked"))
            .collect();
        nnt_names.sort();
        assert_eq!(names, nnt_names);
        for name in names {
            assert_eq!(
                values(&exported, name),
                values(&nnt_start, name),
                "{}: {name}",
                recipe.display()
            );
        }
    }
    // init_from: the file's tensors, in the recipe's precision.
    for case in conformance_cases() {
        let dir = export(&case.join("recipe.nnt"), &[]);
        let exported = tensors(&dir.path().join("export/init.safetensors"));
        let given = tensors(&case.join("init.safetensors"));
        let f64s = std::fs::read_to_string(case.join("recipe.nnt"))
            .unwrap()
            .contains("precision = f64");
        let header = header_dtypes(&dir.path().join("export/init.safetensors"));
        for name in exported.tensors.keys() {
            let (shape, got) = values(&exported, name);
            let want: Vec<f64> = given
                .get(name, &shape)
                .unwrap()
                .iter()
                .map(|&v| if f64s { v } else { v as f32 as f64 })
                .collect();
            assert_eq!(got, want, "{}: {name}", case.display());
            assert_eq!(header[name], if f64s { "F64" } else { "F32" });
        }
    }
}

#[test]
fn model_meta_json_is_the_metadata_nnt_writes_into_a_model_file() {
    let recipe = root().join("examples/spirals.nnt");
    let dir = export(&recipe, &[]);
    let (saved, _) = nnt_initial_weights(&recipe, dir.path());
    let json = std::fs::read_to_string(dir.path().join("export/model_meta.json")).unwrap();
    let exported: HashMap<String, String> = serde_json::from_str(&json).unwrap();
    assert_eq!(exported, saved.metadata);
}

/// A checkpoint written on a GPU resumes there: generator states are loaded as
/// CPU byte tensors (`map_location="cpu"`; with the device as map location
/// `Generator.set_state` raised "RNG state must be a torch.ByteTensor" on CUDA,
/// seen on an H200 with torch 2.11), and the device's generator, from which
/// dropout draws on a GPU, is saved and restored. The run itself is checked by
/// `scripts/verify-torch-export.sh --device cuda --modes resume`.
#[test]
fn checkpoints_resume_on_the_device_they_were_written_on() {
    let dir = export(&root().join("examples/breast_cancer.nnt"), &[]);
    let py = std::fs::read_to_string(dir.path().join("export/train.py")).unwrap();
    assert!(py.contains("torch.load(args.resume, map_location=\"cpu\", weights_only=False)"));
    assert!(!py.contains("map_location=device"));
    assert!(py.contains(
        "\"cuda_rng\": torch.cuda.get_rng_state(device) if device.type == \"cuda\" else None,"
    ));
    assert!(py.contains("torch.cuda.set_rng_state(ck[\"cuda_rng\"], device)"));
    // torchrun with one process takes the data-parallel path (nccl on one GPU).
    assert!(py.contains("distributed = \"RANK\" in os.environ\n"));
}
