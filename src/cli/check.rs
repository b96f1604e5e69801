//! `nnt check --format json|github` (spec §16): diagnostics for machines.
//!
//! `json` prints one JSON object per diagnostic (warnings first, then errors, as
//! the text view shows them): `code`, `severity`, `message`, `help`, `file`,
//! `line`, `column`, `end_line`, `end_column`, positions 1-based (columns in
//! characters, as editors and GitHub's annotations count them; the end is the
//! position just after the span), `null` where a diagnostic has no place.
//! `github` prints GitHub Actions workflow commands
//! (`::error file=F,line=L,col=C,endLine=…,endColumn=…,title=CODE::MESSAGE`).

use miette::{Diagnostic, SourceSpan};
use serde_json::{json, Value};

use super::exit::{CliError, Status};
use super::output::{Stdout, StdoutError};
use crate::check::{BoxedDiagnostic, Sourced};
use crate::train::preflight::Concerns;

/// How `nnt check` prints its diagnostics.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CheckFormat {
    /// Rendered diagnostics on stderr.
    #[default]
    Text,
    /// One JSON object per diagnostic on stdout.
    Json,
    /// GitHub Actions workflow commands (`::error file=…::message`) on stdout.
    Github,
}

/// A diagnostic, flattened.
#[derive(Debug, Clone, PartialEq)]
pub struct Flat {
    pub code: Option<String>,
    pub severity: &'static str,
    pub message: String,
    pub help: Option<String>,
    pub file: Option<String>,
    /// (line, column, end line, end column), 1-based.
    pub range: Option<(usize, usize, usize, usize)>,
}

/// Flattens a diagnostic; `recipe` names the file when the diagnostic has no source.
pub fn flatten(d: &(dyn Diagnostic + 'static), recipe: &str) -> Flat {
    let severity = match d.severity() {
        Some(miette::Severity::Warning) => "warning",
        Some(miette::Severity::Advice) => "notice",
        _ => "error",
    };
    let mut file = None;
    let mut range = None;
    // A recipe's diagnostic may render a window of a very long line: the
    // machine formats give the place of its labels in the whole text.
    let (labels, source) = match (d as &dyn std::error::Error).downcast_ref::<Sourced>() {
        Some(s) => (
            s.inner().labels(),
            Some(s.whole() as &dyn miette::SourceCode),
        ),
        None => (d.labels(), d.source_code()),
    };
    let label = labels
        .and_then(|mut ls| {
            let all: Vec<_> = ls.by_ref().collect();
            all.iter().find(|l| l.primary()).or(all.first()).cloned()
        })
        .map(|l| *l.inner());
    if let Some(p) = label
        .zip(source)
        .and_then(|(span, src)| crate::report::excerpt::Place::of(src, span))
    {
        // Our sources ([`crate::report::excerpt::Excerpt`]) give the real
        // line and the column in characters, as editors and GitHub count.
        file = p.name;
        range = Some((p.start.0 + 1, p.start.1 + 1, p.end.0 + 1, p.end.1 + 1));
    }
    Flat {
        code: d.code().map(|c| c.to_string()),
        severity,
        message: d.to_string(),
        help: d.help().map(|h| h.to_string()),
        file: file.or_else(|| Some(recipe.to_owned())),
        range,
    }
}

/// One JSON object (one line) per diagnostic.
pub fn json_line(f: &Flat) -> String {
    let (line, column, end_line, end_column) = match f.range {
        Some((a, b, c, d)) => (json!(a), json!(b), json!(c), json!(d)),
        None => (Value::Null, Value::Null, Value::Null, Value::Null),
    };
    // Written field by field so the keys keep this order.
    let fields = [
        ("code", json!(f.code)),
        ("severity", json!(f.severity)),
        ("message", json!(f.message)),
        ("help", json!(f.help)),
        ("file", json!(f.file)),
        ("line", line),
        ("column", column),
        ("end_line", end_line),
        ("end_column", end_column),
    ];
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}:{v}", json!(k)))
        .collect();
    format!("{{{}}}", body.join(","))
}

/// A GitHub Actions workflow command for one diagnostic.
pub fn github_line(f: &Flat) -> String {
    let command = match f.severity {
        "warning" => "warning",
        "notice" => "notice",
        _ => "error",
    };
    let mut props = Vec::new();
    if let Some(file) = &f.file {
        props.push(format!("file={}", escape_property(file)));
    }
    if let Some((l, c, el, ec)) = f.range {
        props.push(format!("line={l}"));
        props.push(format!("col={c}"));
        props.push(format!("endLine={el}"));
        props.push(format!("endColumn={ec}"));
    }
    if let Some(code) = &f.code {
        props.push(format!("title={}", escape_property(code)));
    }
    let mut message = f.message.clone();
    if let Some(h) = &f.help {
        message.push_str("\nhelp: ");
        message.push_str(h);
    }
    let props = if props.is_empty() {
        String::new()
    } else {
        format!(" {}", props.join(","))
    };
    format!("::{command}{props}::{}", escape_data(&message))
}

/// GitHub's escaping of a command's message: `%`, `\r`, `\n`; other control
/// characters (a data file's escape sequences) as `\u{1b}` ([`printable`]).
///
/// [`printable`]: crate::report::diagnostic::printable
pub fn escape_data(s: &str) -> String {
    crate::report::diagnostic::printable(s)
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// GitHub's escaping of a command's property value: also `:` and `,`.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// Prints the diagnostics of a check in `format` (json or github) on stdout (a
/// closed pipe is quiet, any other write error is returned).
pub fn print(
    format: CheckFormat,
    recipe: &str,
    warnings: &[BoxedDiagnostic],
    errors: &[BoxedDiagnostic],
) -> Result<(), StdoutError> {
    let mut out = Stdout::new();
    for d in warnings.iter().chain(errors) {
        let f = flatten(d.as_ref(), recipe);
        let line = match format {
            CheckFormat::Github => github_line(&f),
            _ => json_line(&f),
        };
        out.print(&format!("{line}\n"));
    }
    out.finish()
}

/// What `nnt check` finds about the files of a recipe that checks
/// ([`crate::train::preflight::check_files`]: no output replaces an input,
/// outputs can replace what is at their paths, `init_from` loads into the
/// model, the checkpoint path is a directory), as a diagnostic shown at the
/// recipe item it concerns (in the recipe's own text, `program.source`). Every
/// format of `nnt check`, `nnt run` and the editor server ask it, so all of
/// them report what a run would refuse before training.
/// `opts` name the run's inputs ([`run_inputs`], the checkpoint resumed) and
/// command-line outputs; `given` the `--set` overrides and whether `--save`
/// was given (an item given on the command line has no place in the recipe).
/// Every problem is reported, one per item.
pub fn file_problems(
    program: &crate::ir::Program,
    opts: &crate::train::RunOptions,
    given: (&[String], bool),
) -> Vec<BoxedDiagnostic> {
    crate::train::preflight::check_files(program, opts)
        .into_iter()
        .map(|p| file_problem(program, p, given))
        .collect()
}

/// One problem of [`file_problems`] as a diagnostic at its place.
fn file_problem(
    program: &crate::ir::Program,
    problem: crate::train::preflight::Problem,
    given: (&[String], bool),
) -> BoxedDiagnostic {
    let error = problem.error;
    let (overrides, save_option) = given;
    let key = match problem.concerns {
        Concerns::InitFrom => "init_from",
        Concerns::Save => "save",
        Concerns::CheckpointPath => "checkpoint",
        Concerns::CommandLine => "",
    };
    let on_command_line = (problem.concerns == Concerns::Save && save_option)
        || overrides
            .iter()
            .filter_map(|o| o.split_once('='))
            .map(|(k, _)| crate::check::overrides::normal_key(k))
            .any(|k| k == key || k.starts_with(&format!("{key}.")));
    let source = &program.source;
    // Where the path is written: the recipe's item, or the value of the last
    // `--set` that gave it (`--set save="dir"`, `--set checkpoint.path="f"`).
    let (name, text, span) =
        if on_command_line {
            let given =
                overrides.iter().rev().find_map(|o| {
                    let (k, v) = o.split_once('=')?;
                    let k = crate::check::overrides::normal_key(k);
                    (!key.is_empty() && (k == key || k.starts_with(&format!("{key}."))))
                        .then_some((o, k.len(), v))
                });
            match given {
                Some((o, _, v)) => {
                    let start = o.len() - v.len() + (v.len() - v.trim_start().len());
                    let span: SourceSpan = (start, v.trim().len()).into();
                    (format!("--set {o}"), std::sync::Arc::new(o.clone()), span)
                }
                None => return Box::new(error),
            }
        } else {
            match item_span(&source.text, problem.concerns) {
                Some(span) => (source.name.clone(), source.text.clone(), span),
                None => return Box::new(error),
            }
        };
    // The message with its causes ("…: Is a directory"), as the text view
    // shows them under the error.
    let mut message = error.to_string();
    let mut cause = std::error::Error::source(&error);
    while let Some(c) = cause {
        message.push_str(&format!(": {c}"));
        cause = c.source();
    }
    let what = if problem.concerns == Concerns::CheckpointPath {
        "this folder"
    } else {
        "this file"
    };
    let diag = crate::check::located::relabel(&error, message, what, span);
    Box::new(crate::check::Sourced::new(Box::new(diag), &name, text))
}

/// The files a run of the recipe at `recipe` reads, as (role, path) pairs for
/// [`crate::train::RunOptions::inputs`]: the recipe, then its data files.
pub fn run_inputs(
    recipe: &std::path::Path,
    data_files: impl IntoIterator<Item = std::path::PathBuf>,
) -> Vec<(String, std::path::PathBuf)> {
    let mut v = vec![("recipe".to_string(), recipe.to_path_buf())];
    v.extend(data_files.into_iter().map(|p| ("data file".to_string(), p)));
    v
}

/// Where the recipe gives the item a file problem concerns: the value of
/// `init_from`, `save` or the checkpoint's `path` (none when `--set` or a
/// command-line option gave it).
fn item_span(text: &str, concerns: Concerns) -> Option<SourceSpan> {
    use crate::ast::{Entry, Item};
    let recipe = crate::syntax::parse(text, crate::ast::SourceId(0)).ok()?;
    let setting = |name: &str| {
        recipe.items.iter().rev().find_map(|i| match i {
            Item::Setting(s) if s.name.name == name => Some(s.value.span),
            _ => None,
        })
    };
    let span = match concerns {
        Concerns::InitFrom => setting("init_from")?,
        Concerns::Save => setting("save")?,
        Concerns::CheckpointPath => recipe.items.iter().rev().find_map(|i| match i {
            Item::Section(s) if s.name.name == "checkpoint" => {
                s.entries.iter().rev().find_map(|e| match e {
                    Entry::Setting(s) if s.name.name == "path" => Some(s.value.span),
                    _ => None,
                })
            }
            _ => None,
        })?,
        Concerns::CommandLine => return None,
    };
    Some((span.start, span.len()).into())
}

/// `nnt check --format json|github`: checks the recipe and prints its
/// diagnostics: [`Status::Success`] when it is valid, [`Status::Failure`] when it
/// is not, a usage error when it cannot be read.
pub fn main(
    recipe: &std::path::Path,
    overrides: &[String],
    seed: Option<u64>,
    format: CheckFormat,
) -> Result<Status, CliError> {
    let name = recipe.display().to_string();
    // Options that set one thing twice are a usage error, as in the text
    // format, reported in the format asked for.
    if let Some(e) = super::options::conflict(overrides, seed) {
        let e: BoxedDiagnostic = Box::new(e);
        print(format, &name, &[], &[e]).map_err(|e| CliError::new(e, Status::Usage))?;
        return Ok(Status::Usage);
    }
    // A recipe that cannot be read is reported in the format asked for too
    // (a CI job collecting JSON gets an object), with the usage status.
    let bytes = match super::files::read_recipe(recipe) {
        Ok(b) => b,
        Err(e) => {
            print(format, &name, &[], &[e]).map_err(|e| CliError::new(e, Status::Usage))?;
            return Ok(Status::Usage);
        }
    };
    let dir = match recipe.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let opts = crate::check::CheckOptions {
        overrides: overrides.to_vec(),
        grid: Vec::new(),
        seed,
        save: None,
    };
    let mut report = crate::check::check_recipe(&name, &bytes, &dir, &opts);
    if let Some(program) = report.program.as_ref().filter(|_| report.errors.is_empty()) {
        let opts = crate::train::RunOptions {
            inputs: run_inputs(recipe, report.data_files.iter().cloned()),
            ..Default::default()
        };
        report
            .errors
            .extend(file_problems(program, &opts, (overrides, false)));
    }
    let status = if report.errors.is_empty() && report.program.is_some() {
        Status::Success
    } else {
        Status::Failure
    };
    print(format, &name, &report.warnings, &report.errors)
        .map_err(|e| CliError::new(e, status.max(Status::Failure)))?;
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{check_recipe, CheckOptions};

    fn flat(recipe: &str) -> Vec<Flat> {
        let r = check_recipe(
            "r.nnt",
            recipe.as_bytes(),
            std::path::Path::new("."),
            &CheckOptions::default(),
        );
        r.warnings
            .iter()
            .chain(&r.errors)
            .map(|d| flatten(d.as_ref(), "r.nnt"))
            .collect()
    }

    #[test]
    fn positions_are_one_based_and_end_after_the_span() {
        let f = flat("model {\n    dense(2)\n    relu\n    dense(2)\n    tahn\n}\n");
        let unknown = f
            .iter()
            .find(|f| f.code.as_deref() == Some("nnt::check::unknown_name"))
            .unwrap();
        assert_eq!(unknown.range, Some((5, 5, 5, 9)));
        assert_eq!(unknown.file.as_deref(), Some("r.nnt"));
        assert_eq!(unknown.severity, "error");
        assert!(unknown.help.as_deref().unwrap().contains("tanh"));
    }

    #[test]
    fn github_escapes() {
        let f = Flat {
            code: Some("nnt::check::x".into()),
            severity: "warning",
            message: "100% sure\r\nreally".into(),
            help: None,
            file: Some("a,b:c.nnt".into()),
            range: Some((1, 2, 3, 4)),
        };
        assert_eq!(
            github_line(&f),
            "::warning file=a%2Cb%3Ac.nnt,line=1,col=2,endLine=3,endColumn=4,title=nnt%3A%3Acheck%3A%3Ax::100%25 sure%0D%0Areally"
        );
    }
}
