//! The `data` section (§4): sources, splits and normalisation, resolved into a
//! [`DataSpec`] for [`crate::data::load`].

use std::path::Path;

use crate::ast::{Expr, ExprKind, Section, Span};
use crate::ir::{ColumnRef, CsvSpec, DataSpec, Missing, Normalize, SourceSpec};

use super::args::{bind, Args};
use super::catalog::Kind;
use super::error::{same_source, CheckError};
use super::layout;
use super::values;
use super::Cx;

/// What a data source's builder needs besides its arguments.
#[derive(Debug, Clone, Copy)]
pub struct SourceCx<'a> {
    /// The directory relative paths are resolved against.
    pub dir: &'a Path,
}

/// The resolved data section and where each split is written.
#[derive(Debug, Clone)]
pub struct RData {
    pub spec: DataSpec,
    pub train_span: Span,
    pub valid_span: Option<Span>,
    pub test_span: Option<Span>,
    /// Where `normalize`, `normalize_targets`, `categorical` and `split(...,
    /// stratify = true)` are written (for lints and errors).
    pub normalize_span: Option<Span>,
    pub normalize_targets_span: Option<Span>,
    pub stratify_span: Option<Span>,
    /// Where each entry of `features`, `ignore` and `categorical` is written,
    /// by list name (for the data errors about a column's role).
    pub list_spans: Vec<(&'static str, Vec<Span>)>,
}

impl RData {
    /// Where entry `index` of the column list `list` is written.
    pub fn list_entry_span(&self, list: &str, index: usize) -> Option<Span> {
        let (_, spans) = self.list_spans.iter().find(|(name, _)| *name == list)?;
        spans.get(index).copied()
    }
}

pub fn resolve(cx: &mut Cx, sec: &Section, dir: &Path) -> Option<RData> {
    let before = cx.errors.len();
    let e = layout::entries(cx, sec);
    let train = match e.value("train") {
        Some(x) => source(cx, x, "train", dir),
        None => {
            layout::missing_entry(
                cx,
                sec,
                "train",
                "train = csv(\"train.csv\", label = \"label\")",
            );
            None
        }
    };
    let valid = e.value("valid").map(|x| source(cx, x, "valid", dir));
    let test = e.value("test").map(|x| source(cx, x, "test", dir));
    let normalize = match e.value("normalize") {
        Some(x) => values::declared_value(
            cx,
            x,
            "normalisation",
            Kind::Value("normalize"),
            &Normalize::ALL,
            Normalize::name,
        ),
        None => Some(Normalize::None),
    };
    let features = e.value("features").map(|x| column_list(cx, x, "features"));
    let ignore = e.value("ignore").map(|x| column_list(cx, x, "ignore"));
    let categorical = e
        .value("categorical")
        .map(|x| column_list(cx, x, "categorical"));
    if let (Some(f), Some(i)) = (e.get("features"), e.get("ignore")) {
        cx.errors.push((
            i.value.span,
            Box::new(super::tabular::TabularError::FeaturesWithIgnore {
                span: i.value.span,
                features: same_source(i.value.span, Some(f.value.span)),
            }),
        ));
    }
    let missing = match e.value("missing") {
        Some(x) => values::declared_value(
            cx,
            x,
            "missing-value policy",
            Kind::Value("missing"),
            &Missing::ALL,
            Missing::name,
        ),
        None => Some(Missing::Error),
    };
    let normalize_targets = match e.value("normalize_targets") {
        Some(x) => values::declared_value(
            cx,
            x,
            "target normalisation",
            Kind::Value("normalize_targets"),
            &[false, true],
            |&on| if on { "standard" } else { "none" },
        ),
        None => Some(false),
    };
    if cx.errors.len() > before {
        return None;
    }
    let list_spans = ["features", "ignore", "categorical"]
        .into_iter()
        .map(|list| {
            let spans = match e.value(list).map(|x| &x.kind) {
                Some(ExprKind::List(items)) => items.iter().map(|x| x.span).collect(),
                _ => Vec::new(),
            };
            (list, spans)
        })
        .collect();
    let stratify_span = [e.value("valid"), e.value("test")]
        .into_iter()
        .flatten()
        .find_map(stratify_of);
    Some(RData {
        spec: DataSpec {
            train: train?,
            valid: match valid {
                Some(v) => Some(v?),
                None => None,
            },
            test: match test {
                Some(v) => Some(v?),
                None => None,
            },
            normalize: normalize?,
            features: match features {
                Some(f) => Some(f?),
                None => None,
            },
            ignore: ignore.flatten().unwrap_or_default(),
            categorical: categorical.flatten().unwrap_or_default(),
            missing: missing?,
            normalize_targets: normalize_targets?,
            classification: None,
            precision: crate::ir::Precision::F32,
        },
        train_span: e.value("train").map(|x| x.span)?,
        valid_span: e.value("valid").map(|x| x.span),
        test_span: e.value("test").map(|x| x.span),
        normalize_span: e.value("normalize").map(|x| x.span),
        normalize_targets_span: e.value("normalize_targets").map(|x| x.span),
        stratify_span,
        list_spans,
    })
}

/// The span of `stratify = true` in a `split(...)` source, if written so.
fn stratify_of(e: &Expr) -> Option<Span> {
    let ExprKind::Call(call) = &e.kind else {
        return None;
    };
    call.args.iter().enumerate().find_map(|(i, a)| {
        let named = match &a.name {
            Some(n) => n.name == "stratify",
            None => i == 2,
        };
        (named && matches!(a.value.kind, ExprKind::Bool(true))).then_some(a.value.span)
    })
}

/// `features`, `ignore`, `categorical`: a list of column names or indices.
fn column_list(cx: &mut Cx, e: &Expr, what: &str) -> Option<Vec<ColumnRef>> {
    match &e.kind {
        ExprKind::List(items) => {
            let cols: Vec<Option<ColumnRef>> = items.iter().map(|x| column(cx, x)).collect();
            let cols: Vec<ColumnRef> = cols.into_iter().collect::<Option<_>>()?;
            if what == "features" && cols.is_empty() {
                cx.err(CheckError::WrongType {
                    expected: "at least one feature column".into(),
                    found: "an empty list".into(),
                    span: e.span,
                    help: Some("list the feature columns, e.g. `features = [\"a\", \"b\"]`, or remove the item to use every other column".into()),
                });
                return None;
            }
            Some(cols)
        }
        _ => {
            cx.err(CheckError::WrongType {
                expected: format!("a list of columns for `{what}`"),
                found: values::describe(e),
                span: e.span,
                help: Some(format!("write `{what} = [\"name\"]`, with names in quotes (or 0-based indices without a header)")),
            });
            None
        }
    }
}

fn source(cx: &mut Cx, e: &Expr, split: &str, dir: &Path) -> Option<SourceSpec> {
    let (decl, id) = values::declared(
        cx,
        e,
        Kind::Source,
        "data source",
        "csv(\"train.csv\", label = \"label\")",
    )?;
    if split == "train" && decl.name == "split" {
        cx.err(CheckError::SplitForTrain { span: id.span });
        return None;
    }
    let b = bind(cx, e, decl);
    decl.build
        .source()
        .and_then(|build| build(cx, &b, &SourceCx { dir }))
}

// The builders of the data sources declared in `catalog`.

pub(super) fn csv(cx: &mut Cx, b: &Args, at: &SourceCx) -> Option<SourceSpec> {
    let path = b
        .get("path")
        .and_then(|x| values::string(cx, x, "the path"));
    let label = b.get("label").and_then(|x| labels(cx, x));
    let header = b.boolean(cx, "header");
    let delimiter = match b.get("delimiter") {
        Some(x) => delimiter(cx, x),
        None => Some(b','),
    };
    if header == Some(false) {
        if let (Some(cols), Some(x)) = (&label, b.get("label")) {
            if cols.iter().any(|c| matches!(c, ColumnRef::Name(_))) {
                cx.err(CheckError::WrongType {
                    expected: "a column index".into(),
                    found: "a column name".into(),
                    span: x.span,
                    help: Some(
                        "without a header row, columns are chosen by 0-based index: `label = 0`"
                            .into(),
                    ),
                });
                return None;
            }
        }
    }
    let written = path?;
    let resolved = if Path::new(&written).is_absolute() {
        Path::new(&written).to_path_buf()
    } else {
        at.dir.join(&written)
    };
    // Diagnostics name the file as it is opened from the current directory
    // (`proj/d.csv` for `nnt check proj/r.nnt`), so that CI annotations and
    // editors find it; a recipe named by an absolute path (the editor server,
    // tests) keeps the recipe's own spelling.
    let from_here = at.dir.is_relative() && !matches!(at.dir.to_str(), Some("" | "."));
    let display = if from_here && Path::new(&written).is_relative() {
        resolved.display().to_string()
    } else {
        written
    };
    Some(SourceSpec::Csv(CsvSpec {
        path: resolved,
        display,
        label: label?,
        header: header?,
        delimiter: delimiter?,
    }))
}

pub(super) fn split(cx: &mut Cx, b: &Args, _: &SourceCx) -> Option<SourceSpec> {
    // The source, the fraction and stratify are each checked, whatever the
    // others hold (§13: all errors at once).
    let mut from_ok = true;
    if let Some(x) = b.get("from") {
        match values::bare_name(x) {
            Some(n) if n.name == "train" => {}
            Some(n) => {
                cx.err(CheckError::UnknownName {
                    what: "split to take rows from".into(),
                    name: n.name.clone(),
                    span: n.span,
                    help: Some(
                        "rows can only be split off `train`: write `split(train, 0.2)`".into(),
                    ),
                });
                from_ok = false;
            }
            None => {
                cx.err(CheckError::WrongType {
                    expected: "the name `train`".into(),
                    found: values::describe(x),
                    span: x.span,
                    help: Some("write `split(train, 0.2)`".into()),
                });
                from_ok = false;
            }
        }
    }
    let stratify = b.boolean(cx, "stratify");
    let fraction = b.float(cx, "fraction");
    if !from_ok {
        return None;
    }
    let fraction = fraction?;
    Some(SourceSpec::Split {
        fraction,
        stratify: stratify?,
    })
}

pub(super) fn blobs(cx: &mut Cx, b: &Args, _: &SourceCx) -> Option<SourceSpec> {
    let n = b.count(cx, "n");
    let features = b.count(cx, "features");
    let classes = b.count(cx, "classes");
    let spread = b.float(cx, "spread");
    too_big(cx, b, n?, features?)?;
    Some(SourceSpec::Blobs {
        n: n?,
        features: features?,
        classes: classes?,
        spread: spread?,
    })
}

pub(super) fn spirals(cx: &mut Cx, b: &Args, _: &SourceCx) -> Option<SourceSpec> {
    let n = b.count(cx, "n");
    let classes = b.count(cx, "classes");
    let noise = b.float(cx, "noise");
    Some(SourceSpec::Spirals {
        n: n?,
        classes: classes?,
        noise: noise?,
    })
}

pub(super) fn moons(cx: &mut Cx, b: &Args, _: &SourceCx) -> Option<SourceSpec> {
    let n = b.count(cx, "n");
    let noise = b.float(cx, "noise");
    Some(SourceSpec::Moons {
        n: n?,
        noise: noise?,
    })
}

pub(super) fn xor(cx: &mut Cx, b: &Args, _: &SourceCx) -> Option<SourceSpec> {
    let n = b.count(cx, "n");
    let noise = b.float(cx, "noise");
    Some(SourceSpec::Xor {
        n: n?,
        noise: noise?,
    })
}

pub(super) fn linear(cx: &mut Cx, b: &Args, _: &SourceCx) -> Option<SourceSpec> {
    let n = b.count(cx, "n");
    let features = b.count(cx, "features");
    let targets = b.count(cx, "targets");
    let noise = b.float(cx, "noise");
    too_big(cx, b, n?, features? + targets?)?;
    Some(SourceSpec::Linear {
        n: n?,
        features: features?,
        targets: targets?,
        noise: noise?,
    })
}

/// Synthetic sets are generated in memory: at most 10^8 cells.
fn too_big(cx: &mut Cx, b: &Args, n: usize, width: usize) -> Option<()> {
    let cells = n.saturating_mul(width);
    if cells > 100_000_000 {
        cx.err(CheckError::OutOfRange {
            what: "the synthetic set's size (rows × columns)".into(),
            rule: "at most 100000000".into(),
            value: cells.to_string(),
            span: b.span,
            help: Some("use fewer rows or features".into()),
        });
        return None;
    }
    Some(())
}

fn column(cx: &mut Cx, e: &Expr) -> Option<ColumnRef> {
    match &e.kind {
        ExprKind::String(s) => Some(ColumnRef::Name(s.clone())),
        ExprKind::Number(_) => values::count(cx, e, "a column index", 0).map(ColumnRef::Index),
        _ => {
            cx.err(CheckError::WrongType {
                expected: "a column name or index".into(),
                found: values::describe(e),
                span: e.span,
                help: Some(
                    "write a header name in quotes (`\"label\"`) or a 0-based index (`0`)".into(),
                ),
            });
            None
        }
    }
}

fn labels(cx: &mut Cx, e: &Expr) -> Option<Vec<ColumnRef>> {
    match &e.kind {
        ExprKind::List(items) => {
            if items.is_empty() {
                cx.err(CheckError::WrongType {
                    expected: "at least one label column".into(),
                    found: "an empty list".into(),
                    span: e.span,
                    help: Some("write `label = \"y\"` or `label = [\"y0\", \"y1\"]`".into()),
                });
                return None;
            }
            let cols: Vec<Option<ColumnRef>> = items.iter().map(|x| column(cx, x)).collect();
            cols.into_iter().collect()
        }
        _ => column(cx, e).map(|c| vec![c]),
    }
}

fn delimiter(cx: &mut Cx, e: &Expr) -> Option<u8> {
    let s = values::string(cx, e, "the delimiter")?;
    match s.as_bytes() {
        [b] if b.is_ascii() && *b != b'"' && *b != b'\n' && *b != b'\r' => Some(*b),
        _ => {
            cx.err(CheckError::OutOfRange {
                what: "the delimiter".into(),
                rule: "one ASCII character other than a quote or line end".into(),
                value: format!("{e}"),
                span: e.span,
                help: Some("for example `delimiter = \";\"` or `delimiter = \"\\t\"`".into()),
            });
            None
        }
    }
}
