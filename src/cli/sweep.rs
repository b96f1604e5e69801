//! `nnt sweep` (§18): one training per combination of `--grid` values (or `--random N`
//! of them), each a child `nnt run` of its own saved recipe, in parallel (`--jobs`) or
//! split over a cluster's job array (`--shard I/N`); complete runs are skipped, so an
//! interrupted sweep resumes; `summary.csv` and a ranked table at the end.
//!
//! Layout of the output folder:
//!
//! ```text
//! DIR/run-K/recipe.nnt        the recipe after the run's overrides (`nnt fmt` layout),
//!                             data paths rewritten so that they resolve from here
//! DIR/run-K/sweep.json        {"k": K, "values": [[KEY, VALUE], …]}: what was swept
//! DIR/run-K/log.jsonl         the JSONL log (written whole when the run ends)
//! DIR/run-K/model.safetensors when the recipe saves one (`save` lands in the run's folder)
//! DIR/run-K/stderr.txt        what the run printed on stderr, when it printed anything
//! DIR/run-K/done              the marker, written last: the run is complete
//! DIR/summary.csv             one row per complete run
//! ```
//!
//! A run is complete only when its marker exists, its log ends with an `end` event and
//! its saved recipe is the one this sweep would write; anything else is rerun from
//! the start (never half-counted). A signal (Ctrl-C, SIGTERM, SIGHUP) starts no
//! more runs, is passed on to the running ones ([`super::child`]), which stop
//! without their marker, waits for them, and writes the summary of the complete
//! ones; the sweep exits with 130. Every file is written through
//! [`crate::io::atomic`], and none over a file the runs read (the recipe, its
//! data, `init_from`): such a sweep is refused before it writes anything.

use std::collections::HashSet;
use std::io::IsTerminal;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use miette::{Diagnostic, MietteDiagnostic};
use rand::Rng;

use crate::ast::{Entry, Expr, ExprKind, Item, Recipe, SourceId};
use crate::check::{resolve_recipe, BoxedDiagnostic, CheckOptions, Sourced};
use crate::io::atomic::write_atomic;
use crate::ir::Monitor;

use super::child::Interrupt;
use super::exit::Status;
use super::recipe_files::{files_of, PathUse};

/// What `nnt sweep R.nnt …` was asked to do.
#[derive(Debug, Clone)]
pub struct SweepOptions {
    pub recipe: PathBuf,
    /// `KEY=LIST` texts, in order: the last varies fastest.
    pub grid: Vec<String>,
    /// Fixed `--set KEY=VALUE` overrides applied to every run.
    pub set: Vec<String>,
    /// Draw this many combinations with the recipe's seed instead of all of them.
    pub random: Option<usize>,
    /// Runs at once.
    pub jobs: usize,
    /// `(I, N)`: only the runs with k mod N = I.
    pub shard: Option<(usize, usize)>,
    pub out: PathBuf,
    /// Show a progress display (on a terminal only).
    pub progress: bool,
    /// Set by SIGINT, SIGTERM or SIGHUP ([`Interrupt::on_signals`]): no run
    /// starts after it, and the running ones are stopped and waited for.
    pub interrupt: Interrupt,
}

/// One `--grid KEY=LIST`: the key and each value in recipe syntax.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    pub key: String,
    pub values: Vec<String>,
}

/// Parses `--shard I/N` (clap's value parser).
pub fn parse_shard(s: &str) -> Result<(usize, usize), String> {
    let (i, n) = s
        .split_once('/')
        .ok_or_else(|| format!("expected I/N, such as 0/4, found `{s}`"))?;
    let i: usize = i
        .trim()
        .parse()
        .map_err(|_| format!("`{i}` is not a shard index"))?;
    let n: usize = n
        .trim()
        .parse()
        .map_err(|_| format!("`{n}` is not a shard count"))?;
    if n == 0 {
        return Err(format!(
            "the shard count must be at least 1, found `{s}`: I/N with N ≥ 1, such as 0/4"
        ));
    }
    if i >= n {
        return Err(format!(
            "the shard index must be below the count: 0/{n} to {}/{n}",
            n - 1
        ));
    }
    Ok((i, n))
}

fn usage(message: impl Into<String>, help: Option<String>) -> BoxedDiagnostic {
    let mut d = MietteDiagnostic::new(message.into()).with_code("nnt::cli::sweep_usage");
    if let Some(h) = help {
        d = d.with_help(h);
    }
    Box::new(d)
}

/// Parses one `--grid KEY=LIST`; a syntax error is shown on the option's own text.
pub fn parse_grid(text: &str) -> Result<Grid, BoxedDiagnostic> {
    let example = Some("for example `--grid 'optimizer.lr=[0.1, 0.01]'`".to_string());
    let Some((key, list)) = text.split_once('=') else {
        return Err(usage(
            format!("bad grid `{text}`: expected KEY=LIST"),
            example,
        ));
    };
    let key = key.trim();
    if key.is_empty() {
        return Err(usage(
            format!("bad grid `{text}`: no key before `=`"),
            example,
        ));
    }
    let padded = format!("{}{list}", " ".repeat(text.len() - list.len()));
    let value = crate::syntax::parse_expr(&padded, SourceId(0)).map_err(|e| {
        Box::new(Sourced::new(
            Box::new(e),
            &format!("--grid {text}"),
            Arc::new(text.to_string()),
        )) as BoxedDiagnostic
    })?;
    match value.kind {
        ExprKind::List(items) if !items.is_empty() => Ok(Grid {
            key: key.to_string(),
            values: items.iter().map(Expr::to_string).collect(),
        }),
        _ => Err(usage(
            format!("bad grid `{text}`: the values must be a non-empty list"),
            example,
        )),
    }
}

/// The number of combinations of `grids` (`None` when it does not fit a `u64`).
fn total(grids: &[Grid]) -> Option<u64> {
    grids
        .iter()
        .try_fold(1u64, |n, g| n.checked_mul(g.values.len() as u64))
}

/// The value index of each grid in combination `index` of the product (the last
/// grid varies fastest).
fn combination(grids: &[Grid], mut index: u64) -> Vec<usize> {
    let mut out = vec![0; grids.len()];
    for (i, g) in grids.iter().enumerate().rev() {
        let n = g.values.len() as u64;
        out[i] = (index % n) as usize;
        index /= n;
    }
    out
}

/// The combinations a sweep runs, as product indices in increasing order: all of
/// them, or `random` distinct ones drawn with `seed` (all when there are no more).
pub fn plan(grids: &[Grid], random: Option<usize>, seed: u64) -> Option<Vec<u64>> {
    let total = total(grids)?;
    match random {
        Some(n) if (n as u64) < total => {
            let mut rng = crate::rng::generator(seed, crate::rng::Stream::Sweep);
            let mut picked = HashSet::new();
            while picked.len() < n {
                picked.insert(rng.gen_range(0..total));
            }
            let mut v: Vec<u64> = picked.into_iter().collect();
            v.sort_unstable();
            Some(v)
        }
        _ => {
            // A run per combination: a product too large to hold is refused earlier.
            let n = usize::try_from(total).ok()?;
            Some((0..n as u64).collect())
        }
    }
}

/// The combinations a sweep runs, in run order (run k is the k-th).
#[derive(Debug, Clone, PartialEq)]
pub enum Planned {
    /// Product indices in increasing order ([`plan`]): a product that fits a `u64`.
    Product(Vec<u64>),
    /// Each grid's value index, in product order ([`draw`]): `--random N` over
    /// a product too large for a `u64`.
    Drawn(Vec<Vec<usize>>),
}

impl Planned {
    pub fn len(&self) -> usize {
        match self {
            Planned::Product(v) => v.len(),
            Planned::Drawn(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value index of each grid in run `k`.
    pub fn choice(&self, grids: &[Grid], k: usize) -> Vec<usize> {
        match self {
            Planned::Product(v) => combination(grids, v[k]),
            Planned::Drawn(v) => v[k].clone(),
        }
    }
}

/// `n` distinct combinations of a product too large to number in a `u64`,
/// drawn with `seed`: each grid's value index uniformly and independently, the
/// grids in order; sorted in the product's order (the last grid fastest). The
/// same for every shard and `--jobs`: it depends on the grids and the seed only.
pub fn draw(grids: &[Grid], n: usize, seed: u64) -> Vec<Vec<usize>> {
    let mut rng = crate::rng::generator(seed, crate::rng::Stream::Sweep);
    let mut picked: HashSet<Vec<usize>> = HashSet::new();
    // The product has more than u64::MAX combinations, so n distinct ones exist.
    while picked.len() < n {
        picked.insert(
            grids
                .iter()
                .map(|g| rng.gen_range(0..g.values.len()))
                .collect(),
        );
    }
    let mut v: Vec<Vec<usize>> = picked.into_iter().collect();
    v.sort_unstable();
    v
}

/// The runs of a sweep: [`plan`] for a product that fits a `u64` (so the
/// draws of existing sweeps stay the same), [`draw`] for `--random N` over a
/// larger one; `None` for all the combinations of a larger one.
pub fn planned(grids: &[Grid], random: Option<usize>, seed: u64) -> Option<Planned> {
    match (total(grids), random) {
        (Some(_), _) => plan(grids, random, seed).map(Planned::Product),
        (None, Some(n)) => Some(Planned::Drawn(draw(grids, n, seed))),
        (None, None) => None,
    }
}

/// Most runs one sweep may plan (all of the combinations, or `--random N`).
const MAX_RUNS: u64 = 1_000_000;

/// One run of the sweep, ready to start.
struct Run {
    k: usize,
    values: Vec<(String, String)>,
    dir: PathBuf,
    recipe_text: String,
}

/// Runs a sweep; `print` shows a diagnostic. Returns the exit status.
pub fn sweep(opts: &SweepOptions, print: &dyn Fn(&dyn Diagnostic)) -> Status {
    match prepare(opts) {
        Ok((runs, notes)) => {
            for d in &notes {
                print(d.as_ref());
            }
            execute(opts, runs, print)
        }
        Err((diags, code)) => {
            for d in &diags {
                print(d.as_ref());
            }
            code
        }
    }
}

type Refusal = (Vec<BoxedDiagnostic>, Status);

fn refuse(d: BoxedDiagnostic, code: Status) -> Refusal {
    (vec![d], code)
}

/// Parses the grids, checks every run's recipe (without its data) and writes
/// nothing: a sweep that cannot run starts no run.
/// Returns the runs and the warnings to show before they start.
fn prepare(opts: &SweepOptions) -> Result<(Vec<Run>, Vec<BoxedDiagnostic>), Refusal> {
    if opts.jobs == 0 {
        return Err(refuse(
            usage("--jobs must be at least 1", None),
            Status::Usage,
        ));
    }
    if opts.random == Some(0) {
        return Err(refuse(
            usage("--random must be at least 1", None),
            Status::Usage,
        ));
    }
    let mut grids = Vec::new();
    for g in &opts.grid {
        grids.push(parse_grid(g).map_err(|d| refuse(d, Status::Usage))?);
    }
    if grids.is_empty() {
        return Err(refuse(
            usage(
                "nothing to sweep: give at least one --grid KEY=LIST",
                Some("for example `--grid 'optimizer.lr=[0.1, 0.01]'`".into()),
            ),
            Status::Usage,
        ));
    }
    // A key given twice, or a whole value with one of its parts, in `--set`
    // or `--grid` alike.
    let options: Vec<(&str, &str)> = opts
        .set
        .iter()
        .map(|t| ("--set", t.as_str()))
        .chain(opts.grid.iter().map(|t| ("--grid", t.as_str())))
        .collect();
    if let Some(e) = super::options::conflict_among(&options, None) {
        return Err(refuse(Box::new(e), Status::Usage));
    }
    let bytes = super::files::read_recipe(&opts.recipe).map_err(|e| refuse(e, Status::Usage))?;
    let name = opts.recipe.display().to_string();
    // For the layout of comments in the saved recipes (spans index this text).
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let recipe_dir = match opts.recipe.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // The recipe with the `--set` overrides and a run's `--grid` values
    // (`KEY=VALUE`, shown as `--grid KEY=VALUE` in its errors).
    let resolve = |grid: Vec<String>| -> Result<Recipe, Vec<BoxedDiagnostic>> {
        let report = resolve_recipe(
            &name,
            &bytes,
            &recipe_dir,
            &CheckOptions {
                overrides: opts.set.clone(),
                grid,
                ..CheckOptions::default()
            },
        );
        match report.recipe {
            Some(r) if report.errors.is_empty() => Ok(r),
            _ => Err(report.errors),
        }
    };
    let base = resolve(Vec::new()).map_err(|e| (e, Status::Failure))?;
    let combinations = total(&grids);
    // The runs planned: all the combinations, or N of them.
    let count = match (combinations, opts.random) {
        (Some(t), Some(n)) => t.min(n as u64),
        (None, Some(n)) => n as u64,
        (t, None) => t.unwrap_or(u64::MAX),
    };
    if count > MAX_RUNS {
        let (message, help) = match opts.random {
            Some(n) => (
                format!("--random {n} is more runs than one sweep plans (at most {MAX_RUNS})"),
                "draw fewer, or split the grids over several sweeps".to_string(),
            ),
            None => (
                "the grids have too many combinations to run them all".to_string(),
                format!("draw at most {MAX_RUNS} of them with `--random N`"),
            ),
        };
        return Err(refuse(usage(message, Some(help)), Status::Usage));
    }
    let mut notes: Vec<BoxedDiagnostic> = Vec::new();
    if let (Some(t), Some(n)) = (combinations, opts.random) {
        if n as u64 > t {
            notes.push(Box::new(
                MietteDiagnostic::new(format!(
                    "--random {n} asks for more runs than the grids have combinations ({t}): all {t} are run"
                ))
                .with_code("nnt::cli::random_exceeds_grid")
                .with_severity(miette::Severity::Warning)
                .with_help("leave out `--random` to run every combination"),
            ));
        }
    }
    let Some(planned) = planned(&grids, opts.random, seed_of(&base)) else {
        return Err(refuse(
            usage("the grids have too many combinations", None),
            Status::Usage,
        ));
    };
    let from = std::fs::canonicalize(&recipe_dir).map_err(|e| {
        refuse(
            usage(format!("cannot find {}: {e}", recipe_dir.display()), None),
            Status::Usage,
        )
    })?;
    // The folder is created only once every run's recipe checks.
    let out_abs = std::env::current_dir()
        .and_then(std::fs::canonicalize)
        .map(|cwd| lexical(&cwd.join(&opts.out)))
        .map_err(|e| {
            refuse(
                usage(format!("cannot find the current folder: {e}"), None),
                Status::Failure,
            )
        })?;
    let mut runs = Vec::new();
    let mut invalid = Invalid::default();
    // What the runs read (the recipe, each run's data and `init_from` files
    // after its overrides) and what the sweep and its runs write.
    let mut inputs: Vec<(&'static str, PathBuf)> = vec![("recipe", opts.recipe.clone())];
    let mut outputs: Vec<(&'static str, PathBuf)> = vec![("sweep summary", opts.out.join(SUMMARY))];
    for k in 0..planned.len() {
        if let Some((i, n)) = opts.shard {
            if k % n != i {
                continue;
            }
        }
        let choice = planned.choice(&grids, k);
        let values: Vec<(String, String)> = grids
            .iter()
            .zip(&choice)
            .map(|(g, &c)| (g.key.clone(), g.values[c].clone()))
            .collect();
        let mut recipe = match resolve(values.iter().map(|(key, v)| format!("{key}={v}")).collect())
        {
            Ok(r) => r,
            Err(errors) => {
                invalid.add(k, errors);
                continue;
            }
        };
        inputs.extend(
            files_of(&recipe, &recipe_dir)
                .into_iter()
                .filter(|(u, _)| u.is_read())
                .map(|(u, p)| (u.role(), p)),
        );
        let run_name = format!("run-{k}");
        relocate(&mut recipe, &from, &out_abs.join(&run_name));
        let dir = opts.out.join(&run_name);
        outputs.extend(RUN_FILES.iter().map(|(role, f)| (*role, dir.join(f))));
        outputs.extend(
            files_of(&recipe, &dir)
                .into_iter()
                .filter(|(u, _)| *u == PathUse::Save)
                .map(|(u, p)| (u.role(), p)),
        );
        runs.push(Run {
            k,
            values,
            dir,
            recipe_text: super::format::format_ast(&recipe, &text),
        });
    }
    if !invalid.runs.is_empty() {
        return Err((
            invalid.diagnostics(planned_here(opts, planned.len())),
            Status::Failure,
        ));
    }
    inputs.sort();
    inputs.dedup();
    // Refused before anything is written, also through a link or a linked
    // run folder. Test: tests/it/cli_outputs_guard.rs
    // `sweep_never_writes_over_an_input`.
    crate::io::guard::outputs_are_not_paths(&outputs, &inputs)
        .map_err(|e| refuse(Box::new(e), Status::Failure))?;
    crate::io::atomic::create_out_dir(&opts.out).map_err(|e| {
        refuse(
            usage(format!("cannot create {}: {e}", opts.out.display()), None),
            Status::Failure,
        )
    })?;
    Ok((runs, notes))
}

/// Most distinct errors shown for the runs whose recipe does not check.
const SHOWN_ERRORS: usize = 20;

/// The runs whose recipe does not check: every failing combination's errors
/// are reported (a bad value of one grid hides none of another's), each
/// distinct diagnostic once (a bad value is in many runs), at most
/// [`SHOWN_ERRORS`] of them.
#[derive(Default)]
struct Invalid {
    /// The runs that do not check.
    runs: Vec<usize>,
    shown: Vec<BoxedDiagnostic>,
    /// The rendering of each diagnostic shown (what "distinct" compares).
    seen: HashSet<String>,
    /// Whether some distinct diagnostic was left out.
    more: bool,
}

impl Invalid {
    fn add(&mut self, k: usize, errors: Vec<BoxedDiagnostic>) {
        self.runs.push(k);
        for e in errors {
            if self.more {
                // Past the limit: nothing more is rendered.
                break;
            }
            let text = crate::report::diagnostic::Renderer::plain().render(e.as_ref());
            if self.seen.contains(&text) {
                continue;
            }
            if self.shown.len() == SHOWN_ERRORS {
                self.more = true;
                break;
            }
            self.seen.insert(text);
            self.shown.push(e);
        }
    }

    /// The distinct errors, then how many of `planned` runs do not check.
    fn diagnostics(self, planned: usize) -> Vec<BoxedDiagnostic> {
        let mut out = self.shown;
        let shown = out.len();
        let message = format!(
            "{} of {planned} run(s) do not check ({}); nothing was run",
            self.runs.len(),
            run_names(&self.runs)
        );
        let help = if self.more {
            format!("the first {shown} distinct errors are shown above; fix them and check again")
        } else {
            "each distinct error is shown once above".to_string()
        };
        out.push(Box::new(
            MietteDiagnostic::new(message)
                .with_code("nnt::cli::sweep_invalid_runs")
                .with_help(help),
        ));
        out
    }
}

/// How many of the `planned` runs this shard runs.
fn planned_here(opts: &SweepOptions, planned: usize) -> usize {
    match opts.shard {
        Some((i, n)) => (0..planned).filter(|k| k % n == i).count(),
        None => planned,
    }
}

/// The files the sweep writes in each run's folder, with their roles.
const RUN_FILES: &[(&str, &str)] = &[
    ("run's recipe", RECIPE),
    ("run's sweep.json", "sweep.json"),
    ("run's log", LOG),
    ("run's stderr.txt", "stderr.txt"),
    ("run's marker", MARKER),
];

/// The summary's file name in the sweep folder.
const SUMMARY: &str = "summary.csv";

/// The recipe's `seed` (0 when it has none), for `--random`.
fn seed_of(recipe: &Recipe) -> u64 {
    recipe
        .items
        .iter()
        .find_map(|i| match i {
            Item::Setting(s) if s.name.name == "seed" => match &s.value.kind {
                ExprKind::Number(n) if n.is_integer && n.value >= 0.0 => n.text.parse().ok(),
                _ => None,
            },
            _ => None,
        })
        .unwrap_or(0)
}

/// Rewrites the recipe's paths for its new home `to` (the run's folder): files it
/// reads (`csv` data, `init_from`) point back to where they are, relative to `to`;
/// files it writes (`save`, the checkpoint folder) land inside `to`.
fn relocate(recipe: &mut Recipe, from: &Path, to: &Path) {
    super::recipe_files::paths_mut(recipe, |use_, s| {
        if use_.is_read() {
            *s = relative_to(&from.join(&*s), to);
        } else if let Some(name) = Path::new(s.as_str()).file_name() {
            *s = name.to_string_lossy().into_owned();
        }
    });
}

/// `target` as a path relative to the folder `base` (both absolute); `target` as
/// it is when it is relative to nothing they share (another drive).
fn relative_to(target: &Path, base: &Path) -> String {
    let target = lexical(target);
    let base = lexical(base);
    let t: Vec<Component> = target.components().collect();
    let b: Vec<Component> = base.components().collect();
    let common = t.iter().zip(&b).take_while(|(x, y)| x == y).count();
    if common == 0 {
        return target.display().to_string();
    }
    let mut rel = PathBuf::new();
    for _ in common..b.len() {
        rel.push("..");
    }
    for c in &t[common..] {
        rel.push(c.as_os_str());
    }
    // Recipes use `/` on every system.
    rel.to_string_lossy().replace('\\', "/")
}

/// `a/./b/../c` as `a/c`, without touching the file system.
fn lexical(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            c => out.push(c.as_os_str()),
        }
    }
    out
}

/// Whether the run in `dir` is complete: its marker, a log that ends with an `end`
/// event, and (when given) the recipe this sweep would write.
pub fn is_complete(dir: &Path, recipe_text: Option<&str>) -> bool {
    if !dir.join(MARKER).is_file() {
        return false;
    }
    if let Some(want) = recipe_text {
        match std::fs::read_to_string(dir.join(RECIPE)) {
            Ok(have) if have == want => {}
            _ => return false,
        }
    }
    read_end(dir).is_some()
}

const MARKER: &str = "done";
const RECIPE: &str = "recipe.nnt";
const LOG: &str = "log.jsonl";

/// The `end` event of the run's log, when its last line is one.
fn read_end(dir: &Path) -> Option<serde_json::Value> {
    let log = std::fs::read_to_string(dir.join(LOG)).ok()?;
    let last = log.lines().rev().find(|l| !l.trim().is_empty())?;
    let v: serde_json::Value = serde_json::from_str(last).ok()?;
    (v["event"] == "end").then_some(v)
}

/// Most runs a message names one by one.
const SHOWN_RUNS: usize = 10;

/// `run-0, run-3, … and 4 more`: the runs `ks`, at most [`SHOWN_RUNS`] by name.
fn run_names(ks: &[usize]) -> String {
    let mut names: Vec<String> = ks
        .iter()
        .take(SHOWN_RUNS)
        .map(|k| format!("run-{k}"))
        .collect();
    if ks.len() > SHOWN_RUNS {
        names.push(format!("… and {} more", ks.len() - SHOWN_RUNS));
    }
    names.join(", ")
}

/// Whether a run's end event says that an `expect` item was not met.
fn missed_expectations(end: &serde_json::Value) -> bool {
    end["expectations"] == "failed"
}

/// What became of one run.
enum Outcome {
    Skipped,
    Done,
    Failed(String),
    /// Stopped by a signal before its end (no marker: it is run again next
    /// time), or never started after one.
    Interrupted,
}

/// How a run that started ended, when it did not fail.
enum Ended {
    /// Complete: its marker is written.
    Done,
    /// Stopped by the interrupt: no marker.
    Interrupted,
}

fn execute(opts: &SweepOptions, runs: Vec<Run>, print: &dyn Fn(&dyn Diagnostic)) -> Status {
    let exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            print(
                &MietteDiagnostic::new(format!("cannot find the nnt binary: {e}"))
                    .with_code("nnt::cli::sweep_failed"),
            );
            return Status::Failure;
        }
    };
    let todo: Vec<&Run> = runs
        .iter()
        .filter(|r| !is_complete(&r.dir, Some(&r.recipe_text)))
        .collect();
    let skipped = runs.len() - todo.len();
    // A bar only on a terminal, and not with NO_COLOR (as `nnt run`'s).
    let live = crate::report::diagnostic::color_allowed(
        std::env::var_os("NO_COLOR").as_deref(),
        std::io::stderr().is_terminal(),
    );
    let bar = if opts.progress && live {
        let bar = indicatif::ProgressBar::new(todo.len() as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} sweep {bar:30} {pos}/{len} runs {elapsed_precise} {msg}",
        ) {
            bar.set_style(style);
        }
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    if skipped > 0 {
        // A hidden bar prints nothing: say it on stderr all the same.
        let line = format!("{skipped} run(s) already complete, skipped");
        if bar.is_hidden() {
            crate::cli::output::eprint(&format!("{line}\n"));
        } else {
            bar.println(line);
        }
    }
    let next = AtomicUsize::new(0);
    let outcomes: Mutex<Vec<(usize, Outcome)>> = Mutex::new(Vec::new());
    let threads = super::options::child_threads(opts.jobs);
    std::thread::scope(|s| {
        for _ in 0..opts.jobs.min(todo.len().max(1)) {
            s.spawn(|| loop {
                // After a signal no run starts.
                if opts.interrupt.is_set() {
                    break;
                }
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(run) = todo.get(i) else {
                    break;
                };
                let outcome = match start_run(&exe, run, threads, &opts.interrupt) {
                    Ok(Ended::Done) => Outcome::Done,
                    Ok(Ended::Interrupted) => Outcome::Interrupted,
                    Err(e) => Outcome::Failed(e),
                };
                bar.inc(1);
                bar.set_message(format!("run-{} finished", run.k));
                if let Ok(mut o) = outcomes.lock() {
                    o.push((run.k, outcome));
                }
            });
        }
    });
    bar.finish_and_clear();
    let mut outcomes = outcomes.into_inner().unwrap_or_default();
    // The runs a signal stopped, and those it kept from starting.
    let mut stopped: Vec<usize> = outcomes
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Interrupted))
        .map(|(k, _)| *k)
        .collect();
    stopped.sort_unstable();
    let started: HashSet<usize> = outcomes.iter().map(|(k, _)| *k).collect();
    let not_started: Vec<usize> = todo
        .iter()
        .map(|r| r.k)
        .filter(|k| !started.contains(k))
        .collect();
    outcomes.extend(not_started.iter().map(|&k| (k, Outcome::Interrupted)));
    // A set, not a scan of `todo` per run (a sweep may have a million runs).
    let to_run: std::collections::HashSet<usize> = todo.iter().map(|r| r.k).collect();
    outcomes.extend(
        runs.iter()
            .filter(|r| !to_run.contains(&r.k))
            .map(|r| (r.k, Outcome::Skipped)),
    );
    outcomes.sort_by_key(|(k, _)| *k);
    let mut status = Status::Success;
    for (k, o) in &outcomes {
        if let Outcome::Failed(why) = o {
            print(
                &MietteDiagnostic::new(format!("run-{k} failed: {why}"))
                    .with_code("nnt::cli::run_failed")
                    .with_help(format!(
                        "see {} and run it again with `nnt run {}`",
                        opts.out.join(format!("run-{k}/stderr.txt")).display(),
                        opts.out.join(format!("run-{k}/{RECIPE}")).display()
                    )),
            );
            status = Status::Failure;
        }
    }
    // Complete runs (run now or before) that missed an `expect` item: a result
    // each, in the summary, and the sweep's status is 4 as a run's would be
    // (unless a run failed), on every rerun alike.
    let missed: Vec<usize> = runs
        .iter()
        .filter(|r| read_end(&r.dir).is_some_and(|end| missed_expectations(&end)))
        .map(|r| r.k)
        .collect();
    if !missed.is_empty() {
        print(
            &MietteDiagnostic::new(format!(
                "{} of {} run(s) missed their expectations: {}",
                missed.len(),
                runs.len(),
                run_names(&missed)
            ))
            .with_code("nnt::cli::expectations_missed")
            .with_severity(miette::Severity::Warning)
            .with_help(format!(
                "they are complete and in the summary (column `expectations`); see each run's stderr.txt, e.g. {}",
                opts.out.join(format!("run-{}/stderr.txt", missed[0])).display()
            )),
        );
        if status == Status::Success {
            status = Status::ExpectationFailed;
        }
    }
    let ran = outcomes
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Done))
        .count();
    // A signal that came once every run had ended changed nothing.
    if !stopped.is_empty() || !not_started.is_empty() {
        print(&interrupted(&stopped, not_started.len()));
        status = Status::Interrupted;
    }
    // The summary of the complete runs is written after a signal too; the
    // status stays 130 then.
    match summarize(&opts.out) {
        Ok(summary) => {
            let mut out = super::output::Stdout::new();
            out.print(&summary.table(Some((ran, skipped))));
            if let Err(e) = out.finish() {
                print(&e);
                status = status.max(Status::Failure);
            }
        }
        Err(e) => {
            print(e.as_ref());
            status = status.max(Status::Failure);
        }
    }
    status
}

/// What the sweep says after a signal: the runs it stopped (`stopped`, by
/// number) and how many it did not start.
fn interrupted(stopped: &[usize], not_started: usize) -> MietteDiagnostic {
    let stopped_text = if stopped.is_empty() {
        "no run was stopped".to_string()
    } else {
        format!("{} run(s) stopped ({})", stopped.len(), run_names(stopped))
    };
    MietteDiagnostic::new(format!(
        "the sweep was interrupted: {stopped_text}, {not_started} not started"
    ))
    .with_code("nnt::cli::sweep_interrupted")
    .with_severity(miette::Severity::Warning)
    .with_help(
        "the summary holds the complete runs; run the same command again to run the others (complete runs are skipped)",
    )
}

/// Runs one training as a child `nnt run` of its saved recipe; writes the marker
/// when its log is complete. A run stopped by `interrupt` (SIGTERM passed on to
/// it) gets no marker.
fn start_run(
    exe: &Path,
    run: &Run,
    threads: usize,
    interrupt: &Interrupt,
) -> Result<Ended, String> {
    let io = |what: &str, e: std::io::Error| format!("cannot {what}: {e}");
    std::fs::create_dir_all(&run.dir).map_err(|e| io("create the run's folder", e))?;
    // The marker goes first: whatever happens next, the run is not complete.
    // Only regular files of the run's own names are removed: a link, FIFO or
    // device there is the user's, and the run refuses to go on.
    for f in [MARKER, LOG, "stderr.txt"] {
        let p = run.dir.join(f);
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.is_file() => {
                std::fs::remove_file(&p).map_err(|e| io(&format!("remove {}", p.display()), e))?;
            }
            Ok(m) => {
                return Err(format!(
                    "{} is {}; a sweep only replaces its own regular files",
                    p.display(),
                    if m.file_type().is_symlink() {
                        "a symbolic link"
                    } else {
                        crate::io::atomic::kind_of(&m)
                    }
                ))
            }
            Err(_) => {}
        }
    }
    write_atomic(&run.dir.join(RECIPE), run.recipe_text.as_bytes())
        .map_err(|e| io("write the run's recipe", e))?;
    let values: Vec<serde_json::Value> = run
        .values
        .iter()
        .map(|(k, v)| serde_json::json!([k, v]))
        .collect();
    let meta = serde_json::json!({ "k": run.k, "values": values });
    write_atomic(&run.dir.join("sweep.json"), format!("{meta}\n").as_bytes())
        .map_err(|e| io("write sweep.json", e))?;
    let mut command = Command::new(exe);
    command
        .arg("run")
        .arg(run.dir.join(RECIPE))
        .args(["--format", "jsonl", "--log"])
        .arg(run.dir.join(LOG))
        .args(["--threads", &threads.to_string()])
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let out = super::child::run(&mut command, interrupt).map_err(|e| io("start nnt", e))?;
    if !out.stderr.is_empty() {
        write_atomic(&run.dir.join("stderr.txt"), &out.stderr)
            .map_err(|e| io("write stderr.txt", e))?;
    }
    // 0: completed or stopped early; 3: diverged; 4: an `expect` item not met
    // (the run finished and its log ends with its end event): each a result.
    let code = out.status.code();
    if !matches!(code, Some(0 | 3 | 4)) || read_end(&run.dir).is_none() {
        if out.stopped() {
            return Ok(Ended::Interrupted);
        }
        return Err(match code {
            Some(c) => format!("`nnt run` exited with status {c}"),
            None => "`nnt run` was killed".to_string(),
        });
    }
    write_atomic(&run.dir.join(MARKER), b"complete\n").map_err(|e| io("write the marker", e))?;
    Ok(Ended::Done)
}

/// One complete run, as read back from its folder.
#[derive(Debug, Clone)]
pub struct Row {
    pub k: usize,
    pub values: Vec<(String, String)>,
    pub end: serde_json::Value,
}

/// The complete runs of a sweep folder.
#[derive(Debug, Clone)]
pub struct Summary {
    pub rows: Vec<Row>,
    /// Swept keys, in order of first appearance.
    pub keys: Vec<String>,
    /// The metric runs are ranked by, and whether higher is better.
    pub monitor: String,
    pub higher_is_better: bool,
    /// The kept epoch's metric columns present in some run.
    pub metrics: Vec<&'static str>,
    /// Whether some run missed an `expect` item: the `expectations` column
    /// (`met` or `failed`) after `reason`.
    pub expectations: bool,
}

/// Reads every complete run of `dir` and writes `DIR/summary.csv`.
pub fn summarize(dir: &Path) -> Result<Summary, BoxedDiagnostic> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        Box::new(
            MietteDiagnostic::new(format!("cannot read {}: {e}", dir.display()))
                .with_code("nnt::cli::sweep_folder"),
        ) as BoxedDiagnostic
    })?;
    let mut ks: Vec<usize> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_prefix("run-")?
                .parse::<usize>()
                .ok()
        })
        .collect();
    ks.sort_unstable();
    let mut rows = Vec::new();
    let mut monitor: Option<String> = None;
    for k in ks {
        let run = dir.join(format!("run-{k}"));
        if !is_complete(&run, None) {
            continue;
        }
        let Some(end) = read_end(&run) else {
            continue;
        };
        let values = std::fs::read_to_string(run.join("sweep.json"))
            .ok()
            .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
            .and_then(|v| {
                v["values"].as_array().map(|a| {
                    a.iter()
                        .filter_map(|p| {
                            Some((p[0].as_str()?.to_string(), p[1].as_str()?.to_string()))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .unwrap_or_default();
        if monitor.is_none() {
            monitor = std::fs::read_to_string(run.join(RECIPE))
                .ok()
                .and_then(|t| crate::syntax::parse(&t, SourceId::RECIPE).ok())
                .and_then(|r| monitor_of(&r));
        }
        rows.push(Row { k, values, end });
    }
    let mut keys: Vec<String> = Vec::new();
    for r in &rows {
        for (key, _) in &r.values {
            if !keys.contains(key) {
                keys.push(key.clone());
            }
        }
    }
    let has = |m: &str| {
        rows.iter()
            .any(|r| !r.end["best"][m].is_null() || !r.end[m].is_null())
    };
    // The fields `expect` can name that measure the model (the kept epoch's,
    // then the end event's), those some run logged.
    let metrics: Vec<&'static str> = crate::check::expect::metric_fields()
        .into_iter()
        .filter(|m| has(m))
        .collect();
    let monitor = monitor.unwrap_or_else(|| {
        if has("valid_loss") {
            "valid_loss".to_string()
        } else {
            "train_loss".to_string()
        }
    });
    let summary = Summary {
        // The direction is the IR's (a score such as `valid_f1` ranks high
        // first, an error such as `valid_rmse` low first).
        higher_is_better: Monitor::all()
            .iter()
            .find(|m| m.name() == monitor)
            .is_some_and(Monitor::higher_is_better),
        expectations: rows.iter().any(|r| missed_expectations(&r.end)),
        monitor,
        rows,
        keys,
        metrics,
    };
    // The summary never replaces what it was read from (a link to a run's log).
    let read: Vec<(&'static str, PathBuf)> = summary
        .rows
        .iter()
        .flat_map(|r| {
            let run = dir.join(format!("run-{}", r.k));
            RUN_FILES.iter().map(move |(role, f)| (*role, run.join(f)))
        })
        .collect();
    crate::io::guard::outputs_are_not_paths(&[("sweep summary", dir.join(SUMMARY))], &read)
        .map_err(|e| Box::new(e) as BoxedDiagnostic)?;
    write_atomic(&dir.join(SUMMARY), summary.csv().as_bytes()).map_err(|e| {
        Box::new(
            MietteDiagnostic::new(format!("cannot write {}: {e}", dir.join(SUMMARY).display()))
                .with_code("nnt::cli::sweep_folder"),
        ) as BoxedDiagnostic
    })?;
    Ok(summary)
}

/// The `monitor` of the recipe's `early_stop` (`valid_loss` when it names none), else
/// of a `reduce_on_plateau` schedule.
fn monitor_of(recipe: &Recipe) -> Option<String> {
    let train = recipe.items.iter().find_map(|i| match i {
        Item::Section(s) if s.name.name == "train" => Some(s),
        _ => None,
    })?;
    let item = |name: &str| {
        train.entries.iter().find_map(|e| match e {
            Entry::Setting(s) if s.name.name == name => Some(&s.value),
            _ => None,
        })
    };
    // (call, positional index of `monitor`)
    for (name, call, at) in [
        ("early_stop", "patience", 1),
        ("lr_schedule", "reduce_on_plateau", 2),
    ] {
        let Some(Expr {
            kind: ExprKind::Call(c),
            ..
        }) = item(name)
        else {
            continue;
        };
        if c.name.name != call {
            continue;
        }
        let arg = c
            .args
            .iter()
            .find(|a| a.name.as_ref().is_some_and(|n| n.name == "monitor"))
            .or_else(|| c.args.iter().take_while(|a| a.name.is_none()).nth(at));
        return Some(match arg.map(|a| &a.value.kind) {
            Some(ExprKind::Name(id)) => id.name.clone(),
            _ => "valid_loss".to_string(),
        });
    }
    None
}

/// A JSON value as a table cell: numbers as logged, strings bare, absent empty.
fn cell(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

impl Row {
    fn value(&self, key: &str) -> &str {
        self.values
            .iter()
            .find(|(k, _)| k == key)
            .map_or("", |(_, v)| v.as_str())
    }
    /// A kept-epoch metric, or a test metric of the end event.
    fn metric(&self, m: &str) -> &serde_json::Value {
        if m.starts_with("test_") {
            &self.end[m]
        } else {
            &self.end["best"][m]
        }
    }
}

impl Summary {
    fn header(&self) -> Vec<String> {
        let mut h = vec!["k".to_string()];
        h.extend(self.keys.iter().cloned());
        h.push("reason".to_string());
        if self.expectations {
            h.push("expectations".to_string());
        }
        h.extend(["epochs", "kept_epoch"].map(String::from));
        h.extend(self.metrics.iter().map(|m| m.to_string()));
        h
    }

    fn cells(&self, r: &Row) -> Vec<String> {
        let mut c = vec![r.k.to_string()];
        c.extend(self.keys.iter().map(|key| r.value(key).to_string()));
        c.push(cell(&r.end["reason"]));
        if self.expectations {
            // The runs of one sweep share their `expect` section: a run
            // whose end event does not say `failed` met it.
            c.push(
                if missed_expectations(&r.end) {
                    "failed"
                } else {
                    "met"
                }
                .to_string(),
            );
        }
        c.push(cell(&r.end["epochs"]));
        c.push(cell(&r.end["best"]["epoch"]));
        c.extend(self.metrics.iter().map(|m| cell(r.metric(m))));
        c
    }

    /// `summary.csv`: one row per complete run, in run order.
    pub fn csv(&self) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        let _ = w.write_record(self.header());
        for r in &self.rows {
            let _ = w.write_record(self.cells(r));
        }
        let bytes = w.into_inner().unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// The runs, best first by the monitor (runs without a value last, then by k).
    pub fn ranked(&self) -> Vec<&Row> {
        let mut rows: Vec<&Row> = self.rows.iter().collect();
        let key = |r: &Row| {
            r.metric(&self.monitor)
                .as_f64()
                .filter(|v| v.is_finite())
                .map(|v| if self.higher_is_better { -v } else { v })
        };
        rows.sort_by(|a, b| match (key(a), key(b)) {
            (Some(x), Some(y)) => x.total_cmp(&y).then(a.k.cmp(&b.k)),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a.k.cmp(&b.k),
        });
        rows
    }

    /// The ranked table shown on the terminal; `counts` is (run now, skipped) after a sweep.
    pub fn table(&self, counts: Option<(usize, usize)>) -> String {
        let mut lines: Vec<Vec<String>> = vec![{
            let mut h = vec!["rank".to_string()];
            h.extend(self.header());
            h
        }];
        for (i, r) in self.ranked().into_iter().enumerate() {
            let mut c = vec![(i + 1).to_string()];
            c.extend(self.cells(r));
            lines.push(c);
        }
        let cols = lines[0].len();
        let widths: Vec<usize> = (0..cols)
            .map(|c| {
                lines
                    .iter()
                    .map(|l| l.get(c).map_or(0, |s| s.chars().count()))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let direction = if self.higher_is_better {
            "higher is better"
        } else {
            "lower is better"
        };
        let counts = match counts {
            Some((ran, skipped)) => format!(" ({ran} run now, {skipped} skipped)"),
            None => String::new(),
        };
        let mut out = format!(
            "{} complete run(s){counts}, ranked by {} ({direction})\n",
            self.rows.len(),
            self.monitor
        );
        for l in &lines {
            let cells: Vec<String> = l
                .iter()
                .zip(&widths)
                .map(|(s, w)| format!("{s:<w$}"))
                .collect();
            out.push_str(cells.join("  ").trim_end());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(key: &str, n: usize) -> Grid {
        Grid {
            key: key.into(),
            values: (0..n).map(|i| i.to_string()).collect(),
        }
    }

    #[test]
    fn the_last_grid_varies_fastest() {
        let g = [grid("a", 2), grid("b", 3)];
        let all: Vec<Vec<usize>> = (0..6).map(|i| combination(&g, i)).collect();
        assert_eq!(
            all,
            [[0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [1, 2]].map(|x| x.to_vec())
        );
    }

    #[test]
    fn random_draws_are_distinct_seeded_and_capped() {
        let g = [grid("a", 4), grid("b", 5)];
        let a = plan(&g, Some(7), 3).unwrap();
        assert_eq!(a.len(), 7);
        assert!(a.windows(2).all(|w| w[0] < w[1]), "{a:?}");
        assert_eq!(a, plan(&g, Some(7), 3).unwrap());
        assert_ne!(a, plan(&g, Some(7), 4).unwrap());
        assert_eq!(plan(&g, Some(50), 3).unwrap(), (0..20).collect::<Vec<_>>());
    }

    /// `--random N` over a product too large for a `u64`: N distinct
    /// combinations, in product order, the same for the same seed.
    #[test]
    fn draws_over_a_product_beyond_u64() {
        let g: Vec<Grid> = (0..7).map(|i| grid(&format!("k{i}"), 1000)).collect();
        assert_eq!(total(&g), None);
        let Some(Planned::Drawn(a)) = planned(&g, Some(50), 3) else {
            panic!("expected drawn combinations");
        };
        assert_eq!(a.len(), 50);
        assert!(a.windows(2).all(|w| w[0] < w[1]), "{a:?}");
        assert!(a
            .iter()
            .all(|c| c.len() == 7 && c.iter().all(|&i| i < 1000)));
        assert_eq!(planned(&g, Some(50), 3), Some(Planned::Drawn(a.clone())));
        assert_ne!(planned(&g, Some(50), 4), Some(Planned::Drawn(a)));
        assert_eq!(planned(&g, None, 3), None);
        // A product that fits keeps its draws by product index.
        let small = [grid("a", 4), grid("b", 5)];
        assert_eq!(
            planned(&small, Some(7), 3),
            Some(Planned::Product(plan(&small, Some(7), 3).unwrap()))
        );
    }

    #[test]
    fn grids_and_shards_parse() {
        let g = parse_grid("optimizer.lr=[0.1, 1e-2, adam(lr = 0.1)]").unwrap();
        assert_eq!(g.key, "optimizer.lr");
        assert_eq!(g.values, ["0.1", "1e-2", "adam(lr = 0.1)"]);
        assert!(parse_grid("optimizer.lr=0.1").is_err());
        assert!(parse_grid("optimizer.lr=[]").is_err());
        assert!(parse_grid("=[1]").is_err());
        assert!(parse_grid("x=[1,").is_err());
        assert_eq!(parse_shard("1/4"), Ok((1, 4)));
        assert!(parse_shard("4/4").is_err());
        assert_eq!(
            parse_shard("0/0"),
            Err(
                "the shard count must be at least 1, found `0/0`: I/N with N ≥ 1, such as 0/4"
                    .into()
            )
        );
        assert_eq!(
            parse_shard("4/4"),
            Err("the shard index must be below the count: 0/4 to 3/4".into())
        );
        assert!(parse_shard("a/2").is_err());
    }

    #[test]
    fn paths_are_made_relative_to_the_run() {
        assert_eq!(
            relative_to(Path::new("/w/data/x.csv"), Path::new("/w/out/run-0")),
            "../../data/x.csv"
        );
        assert_eq!(
            relative_to(Path::new("/w/./a/../data/x.csv"), Path::new("/w")),
            "data/x.csv"
        );
    }
}
