//! AST -> [`crate::ir::Program`]: every name resolved, every default filled in,
//! the data loaded and every width and label checked. All errors of a recipe are
//! collected in one run; warnings (lints) come along.
//!
//! One concern per file: `layout` (which items exist), [`args`] (argument
//! binding), `values` (typed values), `model`, [`optim`] (loss, optimizer,
//! regularize), `train`, [`data`], `diagnose`, `top` (small settings),
//! `labels` (facts that need the data), `lints` (warnings), [`overrides`]
//! (`--set`), `error` (the error kinds), `sourced` (attaching source text).

// The checker's internals are `pub(crate)`; public are what the integration
// tests and tools use (`catalog`, `optim::OPTIMIZERS`, `overrides`), and `args`,
// `data` and `data_cache`, whose `pub` items not read inside the crate
// (`Bound::call`/`span`, `RData::normalize_span`, `data_cache::loads`) would
// otherwise be dead code.
pub mod args;
pub mod catalog;
pub mod data;
pub mod data_cache;
pub(crate) mod diagnose;
pub(crate) mod error;
pub(crate) mod expect;
pub(crate) mod labels;
pub(crate) mod layout;
pub(crate) mod lints;
pub(crate) mod located;
pub(crate) mod memory;
pub(crate) mod model;
pub mod optim;
pub mod overrides;
pub(crate) mod sourced;
pub(crate) mod suggest;
pub(crate) mod tabular;
pub(crate) mod top;
pub(crate) mod train;
pub(crate) mod values;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::Diagnostic;

use crate::ast::{Recipe, SourceId, Span};
use crate::ir::Task;
use crate::ir::{DiagnoseConfig, Loss, Monitor, Precision, Program, SourceFile};
use crate::syntax::{self, SyntaxError, SyntaxErrorKind};

pub use error::CheckError;
pub use lints::Lint;
pub use sourced::Sourced;

/// Options from the command line.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// `--set KEY=VALUE`, in order.
    pub overrides: Vec<String>,
    /// A sweep run's values of its `--grid` keys (`KEY=VALUE`), applied after
    /// `overrides` as they are, and shown as `--grid KEY=VALUE`.
    pub grid: Vec<String>,
    /// `--seed N`: the same as `--set seed=N`.
    pub seed: Option<u64>,
    /// `--save PATH`: replaces the recipe's `save` (taken as given, not recipe-relative).
    pub save: Option<PathBuf>,
}

pub type BoxedDiagnostic = Box<dyn Diagnostic + Send + Sync + 'static>;

/// What checking a recipe found.
pub struct CheckReport {
    /// `Some` iff `errors` is empty.
    pub program: Option<Program>,
    /// The model with every width known, whenever the data and the `model` section
    /// check, even when other parts of the recipe do not (for editors' hover).
    pub model: Option<crate::ir::Model>,
    pub errors: Vec<BoxedDiagnostic>,
    pub warnings: Vec<BoxedDiagnostic>,
    /// The data files the recipe reads (resolved paths), so that the caller can
    /// refuse an output that would replace one.
    pub data_files: Vec<PathBuf>,
}

/// The result of [`resolve_recipe`]: the parsed (and overridden) recipe, and the
/// diagnostics found without the data.
pub struct ResolveReport {
    /// The recipe after `--set` overrides; `None` when it does not parse.
    pub recipe: Option<Recipe>,
    pub errors: Vec<BoxedDiagnostic>,
    pub warnings: Vec<BoxedDiagnostic>,
}

/// Checks a recipe. `name` is the recipe path as given on the command line (used
/// in diagnostics and in `Program.source.name`), `bytes` its content, `dir` the
/// recipe's directory (relative paths in the recipe are resolved against it).
pub fn check_recipe(name: &str, bytes: &[u8], dir: &Path, opts: &CheckOptions) -> CheckReport {
    let run = run(name, bytes, dir, opts, true);
    CheckReport {
        program: run.program,
        model: run.model,
        errors: run.errors,
        warnings: run.warnings,
        data_files: run.data_files,
    }
}

/// Parse + resolve without loading data or checking data-dependent facts, for
/// tools that only need the AST-level result (fmt, tests).
pub fn resolve_recipe(name: &str, bytes: &[u8], dir: &Path, opts: &CheckOptions) -> ResolveReport {
    let run = run(name, bytes, dir, opts, false);
    ResolveReport {
        recipe: run.recipe,
        errors: run.errors,
        warnings: run.warnings,
    }
}

/// At most this many errors (and warnings) are reported; the rest are counted.
const MAX_ERRORS: usize = 50;

/// Where diagnostics go while checking; each carries the span that decides which
/// source text it is shown with.
#[derive(Default)]
pub struct Cx {
    pub errors: Vec<(Span, BoxedDiagnostic)>,
    pub warnings: Vec<(Span, BoxedDiagnostic)>,
    /// Errors beyond what is kept (a pathological input can have millions).
    pub dropped: usize,
}

impl Cx {
    pub fn err(&mut self, e: CheckError) {
        if self.errors.len() >= 4 * MAX_ERRORS {
            self.dropped += 1;
            return;
        }
        self.errors.push((e.primary(), Box::new(e)));
    }

    /// True once enough errors are kept that more would not be shown.
    pub fn full(&self) -> bool {
        self.errors.len() >= 4 * MAX_ERRORS
    }
    pub fn syntax(&mut self, e: SyntaxError) {
        self.errors.push((e.span, Box::new(e)));
    }
    pub fn warn(&mut self, w: Lint) {
        self.warnings.push((w.primary(), Box::new(w)));
    }
    /// A warning of another kind, shown at `span`.
    pub fn warn_any(&mut self, span: Span, w: BoxedDiagnostic) {
        self.warnings.push((span, w));
    }
}

struct Run {
    program: Option<Program>,
    model: Option<crate::ir::Model>,
    recipe: Option<Recipe>,
    errors: Vec<BoxedDiagnostic>,
    warnings: Vec<BoxedDiagnostic>,
    data_files: Vec<PathBuf>,
}

/// The texts diagnostics can point into: the recipe, then one per override.
struct Sources(Vec<(String, Arc<String>)>);

impl Sources {
    fn wrap(&self, list: Vec<(Span, BoxedDiagnostic)>) -> Vec<BoxedDiagnostic> {
        list.into_iter()
            .map(|(span, d)| match self.0.get(span.source.0 as usize) {
                Some((name, text)) => {
                    Box::new(Sourced::new(d, name, text.clone())) as BoxedDiagnostic
                }
                None => d,
            })
            .collect()
    }
}

/// Decodes the recipe, reporting the first invalid byte.
fn decode(bytes: &[u8]) -> Result<String, Box<(String, SyntaxError)>> {
    match std::str::from_utf8(bytes) {
        Ok(t) => Ok(t.to_string()),
        Err(e) => {
            let at = e.valid_up_to();
            // The lossy text keeps the valid prefix byte for byte, so `at` still
            // points at the first replacement character (3 bytes in UTF-8).
            let lossy = String::from_utf8_lossy(bytes).into_owned();
            let end = (at + '\u{FFFD}'.len_utf8()).min(lossy.len());
            // The bytes of the invalid sequence (at most 3), or of the rest of
            // a file that ends inside one.
            let bad = e.error_len().unwrap_or(bytes.len() - at).min(3);
            let hex: Vec<String> = bytes[at..at + bad]
                .iter()
                .map(|b| format!("0x{b:02X}"))
                .collect();
            let err = SyntaxError::new(
                SyntaxErrorKind::InvalidUtf8 {
                    bytes: format!(
                        "{} {}",
                        if bad == 1 { "the byte" } else { "the bytes" },
                        hex.join(" ")
                    ),
                    utf16: bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]),
                },
                Span::new(SourceId::RECIPE, at, end),
            );
            Err(Box::new((lossy, err)))
        }
    }
}

fn run(name: &str, bytes: &[u8], dir: &Path, opts: &CheckOptions, with_data: bool) -> Run {
    let mut cx = Cx::default();
    let (text, utf8_error) = match decode(bytes) {
        Ok(t) => (t, None),
        Err(b) => {
            let (t, e) = *b;
            (t, Some(e))
        }
    };
    let text = Arc::new(text);
    let mut sources = Sources(vec![(name.to_string(), text.clone())]);
    let done = |cx: Cx, sources: &Sources, recipe: Option<Recipe>, program: Option<Program>| {
        let mut errors = cx.errors;
        // Source order reads best; the data-dependent errors follow their spans too.
        errors.sort_by_key(|(s, _)| (s.source, s.start));
        if errors.len() > MAX_ERRORS {
            let rest = errors.split_off(MAX_ERRORS);
            let more = rest.len() + cx.dropped;
            let span = rest[0].0;
            let e = CheckError::TooManyErrors {
                more,
                plural: error::plural(more),
                span,
            };
            errors.push((span, Box::new(e)));
        }
        let mut warnings = cx.warnings;
        warnings.sort_by_key(|(s, _)| (s.source, s.start));
        warnings.truncate(MAX_ERRORS);
        let errors = sources.wrap(errors);
        let program = if errors.is_empty() { program } else { None };
        Run {
            program,
            model: None,
            recipe,
            errors,
            warnings: sources.wrap(warnings),
            data_files: Vec::new(),
        }
    };
    if let Some(e) = utf8_error {
        cx.syntax(e);
        return done(cx, &sources, None, None);
    }
    // A byte-order mark is not part of the recipe; blank it out, keeping offsets.
    let parse_text = match text.strip_prefix('\u{feff}') {
        Some(rest) => format!("   {rest}"),
        None => text.to_string(),
    };
    let mut recipe = match syntax::parse(&parse_text, SourceId::RECIPE) {
        Ok(r) => r,
        Err(e) => {
            cx.syntax(e);
            return done(cx, &sources, None, None);
        }
    };
    let seed = opts.seed.map(|seed| format!("seed={seed}"));
    let list: Vec<(&str, &str)> = opts
        .overrides
        .iter()
        .map(|t| ("--set", t.as_str()))
        .chain(opts.grid.iter().map(|t| ("--grid", t.as_str())))
        .chain(seed.as_deref().map(|t| ("--set", t)))
        .collect();
    overrides::apply(&mut cx, &mut recipe, &list, &mut sources.0);
    // Missing items are reported at the end of the recipe's last line of text.
    let last = text.trim_end().len();
    let end = Span::new(SourceId::RECIPE, last, last);
    let st = resolve(&mut cx, &recipe, dir, end);

    // Lints look at what resolved, whatever else failed.
    if let Some(m) = &st.model {
        for w in lints::model(m, st.loss) {
            cx.warn(w);
        }
    }
    if let Some(o) = &st.optimizer {
        for w in lints::optimizer(o, st.regularize.as_ref()) {
            cx.warn(w);
        }
    }

    let source = SourceFile {
        name: name.to_string(),
        text: text.clone(),
        // §18: the recipe after overrides, as `nnt fmt` writes it. Only a recipe
        // that can still become a program needs it (a run logs it); one with errors
        // already is never run, and may be huge (10 MB of unknown items).
        config: if cx.errors.is_empty() {
            crate::fmt::format_ast(&recipe, &parse_text, &catalog::canonical_order())
        } else {
            String::new()
        },
    };
    let mut program = None;
    let mut checked_model = None;
    if with_data {
        if let Some(rdata) = &st.data {
            tabular::items(&mut cx, rdata, st.loss);
            let mut spec = rdata.spec.clone();
            spec.classification = st.loss.and_then(|(l, _)| match l.task() {
                Task::Multiclass => Some(st.model.as_ref().map_or(0, output_units)),
                Task::Binary => Some(2),
                Task::Regression => None,
            });
            spec.precision = st.precision.unwrap_or_default();
            let loaded = data_cache::load_all(&spec, st.seed.unwrap_or(0));
            for e in loaded.errors {
                let entry = e.error.list_entry();
                match located::locate(e, rdata, entry) {
                    // No place of its own: shown at the recipe's data source.
                    Ok((span, d)) => cx.errors.push((span, Box::new(d))),
                    // The data module's errors with a place carry their own source.
                    Err(e) => cx.errors.push((Span::new(SourceId(u16::MAX), 0, 0), e)),
                }
            }
            for w in loaded.warnings {
                if let Ok((span, d)) = located::locate(w, rdata, None) {
                    cx.warn_any(span, Box::new(d));
                }
            }
            // The label and width checks of the data that loaded (all of it,
            // or train and the sources that loaded beside a failed one).
            let check_labels = |cx: &mut Cx, data: &crate::ir::Data| {
                labels::check(
                    cx,
                    &source,
                    data,
                    rdata,
                    st.model.as_ref(),
                    st.loss,
                    st.train.as_ref(),
                )
            };
            if let Some(data) = loaded.data {
                let metrics: Vec<crate::ir::Metric> = st
                    .train
                    .as_ref()
                    .map(|t| t.metrics.iter().map(|(m, _)| *m).collect())
                    .unwrap_or_default();
                tabular::lints(&mut cx, &data, rdata, st.loss.map(|(l, _)| l), &metrics);
                let before = cx.errors.len();
                let model = check_labels(&mut cx, &data);
                if cx.errors.len() == before && st.loss.is_some_and(|(l, _)| l.is_classification())
                {
                    tabular::empty_classes(&mut cx, &data, rdata);
                }
                checked_model = model.clone();
                program = assemble(&st, &source, data, model, opts);
                if let (Some(p), Some(m)) = (&program, &st.model) {
                    if let Some(e) = memory::check(p, m.span) {
                        cx.err(e);
                    }
                }
            } else if let Some(data) = loaded.partial {
                // A valid or test source failed: what depends only on the data
                // that loaded is still checked (§13); no program is built.
                check_labels(&mut cx, &data);
            }
        }
    }
    let data_files = st
        .data
        .as_ref()
        .map(|d| d.spec.files().into_iter().map(Path::to_path_buf).collect())
        .unwrap_or_default();
    let mut run = Run {
        data_files,
        ..done(cx, &sources, Some(recipe), program)
    };
    run.model = checked_model;
    run
}

/// The output width the model's last dense layer gives (0 without one).
fn output_units(m: &model::RModel) -> usize {
    m.layers
        .iter()
        .rev()
        .find_map(|l| {
            if let crate::ir::LayerKind::Dense { units, .. } = l.kind {
                Some(units)
            } else {
                None
            }
        })
        .unwrap_or(0)
}

/// Everything resolved from the recipe before the data is read.
struct Static {
    seed: Option<u64>,
    precision: Option<Precision>,
    data: Option<data::RData>,
    model: Option<model::RModel>,
    loss: Option<(Loss, Span)>,
    optimizer: Option<optim::ROptimizer>,
    regularize: Option<optim::RRegularize>,
    train: Option<train::RTrain>,
    init_from: Option<Option<PathBuf>>,
    save: Option<Option<PathBuf>>,
    checkpoint: Option<Option<crate::ir::CheckpointPlan>>,
    diagnose: Option<DiagnoseConfig>,
    expect: Option<Vec<expect::RExpect>>,
}

fn optional<T>(
    x: Option<&crate::ast::Expr>,
    f: impl FnOnce(&crate::ast::Expr) -> Option<T>,
) -> Option<Option<T>> {
    match x {
        Some(e) => f(e).map(Some),
        None => Some(None),
    }
}

fn resolve(cx: &mut Cx, recipe: &Recipe, dir: &Path, end: Span) -> Static {
    let lay = layout::layout(cx, recipe);
    let seed = match lay.setting("seed") {
        Some(e) => top::seed(cx, e),
        None => Some(0),
    };
    let precision = match lay.setting("precision") {
        Some(e) => top::precision(cx, e),
        None => Some(Precision::F32),
    };
    let data = match lay.sections.get("data") {
        Some(s) => data::resolve(cx, s, dir),
        None => {
            if !lay.present.contains(&"data") {
                layout::missing(cx, end, "data", true);
            }
            None
        }
    };
    let model = match lay.sections.get("model") {
        Some(s) => model::resolve(cx, s),
        None => {
            if !lay.present.contains(&"model") {
                layout::missing(cx, end, "model", true);
            }
            None
        }
    };
    let loss = match lay.setting("loss") {
        Some(e) => optim::loss(cx, e).map(|l| (l, e.span)),
        None => {
            if !lay.present.contains(&"loss") {
                layout::missing(cx, end, "loss", false);
            }
            None
        }
    };
    let optimizer = match lay.setting("optimizer") {
        Some(e) => optim::optimizer(cx, e),
        None => {
            if !lay.present.contains(&"optimizer") {
                layout::missing(cx, end, "optimizer", false);
            }
            None
        }
    };
    let regularize = match lay.setting("regularize") {
        Some(e) => optim::regularize(cx, e),
        None => Some(optim::RRegularize::default()),
    };
    let train = match lay.sections.get("train") {
        Some(s) => train::resolve(cx, s, loss.as_ref().map(|&(l, _)| l)),
        None => {
            if !lay.present.contains(&"train") {
                layout::missing(cx, end, "train", true);
            }
            None
        }
    };
    let init_from = optional(lay.setting("init_from"), |e| {
        top::path(cx, e, "init_from", dir)
    });
    let save = optional(lay.setting("save"), |e| top::path(cx, e, "save", dir));
    let checkpoint = match lay.sections.get("checkpoint") {
        Some(s) => top::checkpoint(cx, s, dir).map(Some),
        None => Some(None),
    };
    let diagnose = match lay.sections.get("diagnose") {
        Some(s) => diagnose::resolve(cx, s),
        None => Some(DiagnoseConfig::default()),
    };

    // Every item with a known field is checked against the recipe, even
    // beside a bad one or with a bad bound (§13: all errors at once).
    let listed = train.as_ref().map(|t| t.plan.metrics.as_slice());
    let expect = match lay.sections.get("expect") {
        Some(s) => {
            let (items, named, ok) = expect::resolve(cx, s, listed.unwrap_or_default());
            expect::loggable(
                cx,
                &named,
                data.as_ref(),
                loss.map(|(l, _)| l),
                regularize.as_ref().map(|r| &r.reg),
                listed,
            );
            ok.then_some(items)
        }
        None => Some(Vec::new()),
    };

    // A `valid_*` monitor needs a valid split; accuracy needs a classification loss.
    if let (Some(d), Some(t)) = (&data, &train) {
        for (m, span) in &t.monitors {
            if *m != Monitor::TrainLoss && d.spec.valid.is_none() {
                cx.err(CheckError::NoValidSplit {
                    monitor: m.name().to_string(),
                    span: *span,
                    help: Some(
                        "add `valid = split(train, 0.2)` to `data`, or use `monitor = train_loss`"
                            .into(),
                    ),
                });
            }
        }
    }
    if let (Some((l, _)), Some(t)) = (&loss, &train) {
        for (m, span) in &t.monitors {
            if *m == Monitor::ValidAccuracy && !l.is_classification() {
                cx.err(CheckError::NoAccuracy {
                    span: *span,
                    help: Some("monitor `valid_loss` instead".into()),
                });
            }
        }
        for (m, span) in &t.metrics {
            if !m.fits(l) {
                let auc = *m == crate::ir::Metric::Auc;
                let (needs, help) = match (auc, l.is_classification()) {
                    (true, true) => (
                        "binary_cross_entropy",
                        "`auc` is the ROC AUC of the positive-class probability; use `f1` or `precision` for other classifiers",
                    ),
                    (false, true) => (
                        "a regression loss",
                        "classification runs can log `precision`, `recall`, `f1` (and `auc` with binary_cross_entropy)",
                    ),
                    (true, false) => (
                        "binary_cross_entropy",
                        "regression runs can log `rmse`, `mae` and `r2`",
                    ),
                    (false, false) => (
                        "a classification loss",
                        "regression runs can log `rmse`, `mae` and `r2`",
                    ),
                };
                cx.err(CheckError::MetricLoss {
                    metric: m.name().to_string(),
                    loss_name: l.name().to_string(),
                    span: *span,
                    needs: needs.to_string(),
                    help: Some(help.to_string()),
                });
            }
        }
    }
    if let (Some(m), Some(t)) = (&model, &train) {
        labels::batch_norm_batch_one(cx, m, t);
    }
    if let Some(t) = &train {
        for (m, span) in &t.monitors {
            if let Monitor::Valid(metric) = m {
                if !t.metrics.iter().any(|(x, _)| x == metric) {
                    // A metric the loss has not (f1 of a regression) cannot be
                    // added; a list the recipe has is added to, not given twice.
                    let fits = loss.as_ref().is_none_or(|(l, _)| metric.fits(l));
                    let help = match &loss {
                        Some((l, _)) if !fits => {
                            let names: Vec<String> = crate::ir::Metric::ALL
                                .iter()
                                .filter(|x| x.fits(l))
                                .map(|x| format!("valid_{}", x.name()))
                                .collect();
                            format!(
                                "`{}` is not measured for {}: monitor `valid_loss`, or one of {} (listed in `metrics`)",
                                metric.name(),
                                l.name(),
                                names.join(", ")
                            )
                        }
                        _ if t.metrics.is_empty() => {
                            format!("add `metrics = [{}]` to `train`", metric.name())
                        }
                        _ => format!("add `{}` to `train`'s `metrics`", metric.name()),
                    };
                    cx.err(CheckError::MonitorNotLogged {
                        monitor: m.name().to_string(),
                        metric: metric.name().to_string(),
                        span: *span,
                        help: Some(help),
                    });
                }
            }
        }
    }
    Static {
        seed,
        precision,
        data,
        model,
        loss,
        optimizer,
        regularize,
        train,
        init_from,
        save,
        checkpoint,
        diagnose,
        expect,
    }
}

fn assemble(
    st: &Static,
    source: &SourceFile,
    data: crate::ir::Data,
    model: Option<crate::ir::Model>,
    opts: &CheckOptions,
) -> Option<Program> {
    let save = match &opts.save {
        Some(p) => Some(p.clone()),
        None => st.save.clone()?,
    };
    Some(Program {
        source: source.clone(),
        seed: st.seed?,
        precision: st.precision?,
        data,
        model: model?,
        loss: st.loss?.0,
        optimizer: st.optimizer.as_ref()?.opt,
        regularize: st.regularize.as_ref()?.reg,
        train: st.train.as_ref()?.plan.clone(),
        init_from: st.init_from.clone()?,
        save,
        checkpoint: st.checkpoint.clone()?,
        diagnose: st.diagnose.clone()?,
        expect: st
            .expect
            .as_ref()?
            .iter()
            .map(|r| crate::ir::Expectation {
                field: r.field.clone(),
                bound: r.bound,
                span: r.span,
                line: (r.span.source == SourceId::RECIPE).then(|| source.line_of(r.span.start)),
            })
            .collect(),
    })
}
