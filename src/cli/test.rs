//! `nnt test`: snapshot tests of recipes (spec §16).
//!
//! Each recipe runs as a child process of the current executable in the recipe's
//! own directory (`nnt run NAME.nnt --format jsonl`), so what it prints does not
//! depend on where `nnt test` was started. A recipe whose check fails is
//! snapshotted as the diagnostics `nnt check NAME.nnt` renders there without
//! colour at width 100. The output is compared with `snapshots/NAME.jsonl`
//! byte for byte, or number by number within `--tolerance`.
//!
//! A signal (Ctrl-C, SIGTERM, SIGHUP) starts no more recipes and is passed on
//! to the running children ([`super::child`]), which are waited for; a recipe
//! they did not finish is `interrupted` in the report: never compared, nothing
//! written for it (no snapshot, no `.new` file), neither passed nor failed.
//! The report of the others is printed and `nnt test` exits with 130.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use serde_json::Value;

use super::child::Interrupt;
use super::exit::{CliError, Status};
use crate::io::guard::{self, IoError};

/// Why `nnt test` cannot start, or could not write its JUnit report.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum TestError {
    /// `--tolerance -1`, `--jobs 0`, a path that cannot be read.
    #[error("{0}")]
    #[diagnostic(code(nnt::cli::usage))]
    Usage(String),
    /// The running executable cannot be found (to start one child per recipe).
    #[error("cannot find the nnt executable: {0}")]
    #[diagnostic(code(nnt::cli::no_executable))]
    NoExecutable(std::io::Error),
    /// `--junit FILE` that cannot be written.
    #[error("cannot write {path}: {source}")]
    #[diagnostic(code(nnt::cli::unwritable))]
    Unwritable {
        path: String,
        source: std::io::Error,
    },
    /// `nnt test /dev/null` (`nnt::io::not_a_file`: a recipe that is not a
    /// regular file), `nnt test t.nnt --junit t.nnt`, `--junit
    /// snapshots/t.jsonl` or `--junit data.csv` where `t.nnt` reads `data.csv`
    /// (`nnt::io::output_is_input`: the report would replace a recipe, a
    /// snapshot, or a data or `init_from` file of a recipe); `--junit
    /// model.safetensors` where `t.nnt` has `save = "model.safetensors"`, or
    /// `--junit ck` where it has `checkpoint { path = "ck" }`
    /// (`nnt::io::outputs_collide`: the report would replace a file a recipe
    /// writes), `--junit ck/report.xml` (`nnt::io::output_in_checkpoint_dir`);
    /// `snapshots/t.jsonl.new` a link to `../t.nnt` or to `data.csv` (or, with
    /// `--update`, `snapshots/t.jsonl` such a link) (`nnt::io::output_is_input`:
    /// the snapshot or `.new` file would replace an input).
    /// Nothing is run or written.
    /// Test: tests/it/cli_outputs_guard.rs `test_junit_never_replaces_a_recipe_or_a_snapshot`,
    /// `test_never_writes_a_snapshot_over_an_input`,
    /// `test_junit_never_replaces_a_file_a_recipe_reads`,
    /// `test_junit_never_replaces_a_file_a_recipe_writes`,
    /// `test_refuses_a_recipe_that_is_not_a_file`.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Io(#[from] IoError),
}

/// Why one recipe could not be run: its `ERROR` line of the report and its
/// JUnit failure (as `error[CODE]: message: cause`); the other recipes still run.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ChildError {
    /// The child `nnt run` (or `nnt check`) cannot be started: the executable
    /// was removed while the tests ran, or no process can be created. Test:
    /// tests/it/cli_test.rs `test_reports_a_child_that_cannot_start_or_is_killed`
    /// (a [`Runner`] whose `exe` is a missing file).
    #[error("cannot run {exe}")]
    #[diagnostic(
        code(nnt::test::cannot_run),
        help("nnt test runs each recipe with its own executable: check that it still exists and that processes can be started")
    )]
    CannotRun {
        exe: String,
        #[source]
        source: std::io::Error,
    },
    /// The child ended by a signal, not with an exit status: the kernel's
    /// out-of-memory killer, `kill -9`, a crash. Test: tests/it/cli_test.rs
    /// `test_reports_a_child_that_cannot_start_or_is_killed` (a [`Runner`] whose
    /// `exe` is `/bin/sh`, running a script named `run` that kills itself).
    #[error("`nnt {command} {recipe}` was killed ({status})")]
    #[diagnostic(
        code(nnt::test::killed),
        help("run `nnt {command} {recipe}` in the recipe's folder to see it end; a recipe too large for the memory is killed by the system")
    )]
    Killed {
        /// `run`, or `check` for the rendering of a rejected recipe.
        command: &'static str,
        recipe: String,
        /// How it ended (`signal: 9 (SIGKILL)`).
        status: String,
    },
    /// `nnt run` ended with a status that is no result (not 0, 3 diverged, 4
    /// an expectation not met, or 130 interrupted) while `nnt check` accepts
    /// the recipe: a failure only the run finds (a `save` folder that does not
    /// exist, a checkpoint folder locked by another run). Its output is never a
    /// snapshot; the message holds what the run printed on stderr (its last
    /// lines). Test: tests/it/cli_test.rs
    /// `test_reports_a_recipe_that_checks_but_cannot_run`.
    #[error("`nnt run {recipe}` failed with exit status {code}{stderr}")]
    #[diagnostic(
        code(nnt::test::run_failed),
        help("a run that fails is never a snapshot: run `nnt run {recipe}` in the recipe's folder to see why; its snapshot is left as it is")
    )]
    RunFailed {
        recipe: String,
        code: i32,
        /// The run's stderr, each line indented, after a line break (empty
        /// when it printed nothing).
        stderr: String,
    },
    /// `nnt test` was interrupted (Ctrl-C, SIGTERM, SIGHUP) before this
    /// recipe's run ended, or before it started: its output is partial or
    /// absent, so it is never compared, and nothing is written for it. Test:
    /// tests/it/cli_test.rs `sigterm_stops_nnt_test_and_writes_no_snapshot`.
    #[error("interrupted before `nnt {command} {recipe}` ended")]
    #[diagnostic(code(nnt::test::interrupted))]
    Interrupted {
        /// `run`, or `check` for the rendering of a rejected recipe.
        command: &'static str,
        recipe: String,
    },
    /// A recipe path without a file name (`nnt::io::not_a_file`); discovery
    /// only yields files, so only a caller of [`Runner::test_one`] can give one,
    /// and its regular-file check refuses it first.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Io(#[from] IoError),
}

/// How many differences the report shows per recipe.
const SHOWN_DIFFERENCES: usize = 5;

/// The width at which diagnostics of rejected recipes are rendered.
pub const SNAPSHOT_WIDTH: usize = 100;

#[derive(clap::Args, Debug, Clone)]
pub struct TestArgs {
    /// Recipes, or directories searched recursively for `*.nnt` (hidden
    /// directories, `snapshots/` and links to directories skipped).
    #[arg(value_name = "PATH", default_value = ".")]
    pub paths: Vec<PathBuf>,
    /// Write the snapshots of failing and new recipes (and remove their `.new` files).
    #[arg(long)]
    pub update: bool,
    /// Accept numbers that differ by at most REL relative: |a − b| ≤ REL·max(|a|, |b|).
    #[arg(long, value_name = "REL")]
    pub tolerance: Option<f64>,
    /// Also write a JUnit XML report to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Recipes run at the same time (default: the number of cores).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
}

/// One difference between a snapshot and the actual output.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    /// 1-based line of the output.
    pub line: usize,
    /// The event of that line (`start`, `epoch 3`, `end`, …), when it is a JSON event.
    pub event: Option<String>,
    /// The field that differs, when the line is a JSON object.
    pub field: Option<String>,
    /// The snapshot's value (`None`: absent).
    pub snapshot: Option<String>,
    /// The actual value (`None`: absent).
    pub actual: Option<String>,
    /// |a − b| / max(|a|, |b|) when both values are numbers.
    pub relative: Option<f64>,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}", self.line)?;
        if let Some(e) = &self.event {
            write!(f, ", {e}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ", {field}")?;
        }
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(absent)".to_owned());
        write!(
            f,
            ": snapshot {}, actual {}",
            show(&self.snapshot),
            show(&self.actual)
        )?;
        if let Some(r) = self.relative {
            write!(f, " (relative difference {r:.3e})")?;
        }
        Ok(())
    }
}

/// The verdict on one recipe.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Passed,
    /// No snapshot yet.
    New,
    /// The output differs from the snapshot.
    Failed(Vec<Difference>),
    /// The recipe could not be run at all (the executable did not start, …).
    Error(String),
    /// A signal stopped `nnt test` before the recipe's run ended (or began):
    /// not compared, nothing written, neither passed nor failed.
    Interrupted,
}

/// One recipe's result.
#[derive(Debug, Clone)]
pub struct RecipeResult {
    /// The recipe as discovered (relative to where `nnt test` runs).
    pub path: PathBuf,
    pub verdict: Verdict,
    /// Whether `--update` wrote its snapshot.
    pub updated: bool,
    /// A file that could not be written (the `.new` file or the snapshot).
    pub write_error: Option<String>,
    pub seconds: f64,
}

impl RecipeResult {
    pub fn passed(&self) -> bool {
        self.verdict == Verdict::Passed && self.write_error.is_none()
    }
}

/// Options of a test run that do not come from the command line.
#[derive(Debug, Clone)]
pub struct Runner {
    /// The `nnt` executable that runs each recipe.
    pub exe: PathBuf,
    pub update: bool,
    pub tolerance: Option<f64>,
    pub jobs: usize,
    /// Set by a signal ([`Interrupt::on_signals`]): no recipe starts after it,
    /// and the running ones are stopped.
    pub interrupt: Interrupt,
}

/// `nnt test`: prints the report on `out`; [`Status::Success`] when every
/// recipe passed (or `--update` wrote the snapshots), [`Status::Failure`] when
/// one failed or had no snapshot, a usage error when it cannot start,
/// [`Status::Interrupted`] when `interrupt` stopped a recipe or kept one from
/// starting.
pub fn main(
    args: &TestArgs,
    out: &mut dyn Write,
    interrupt: Interrupt,
) -> Result<Status, CliError> {
    let usage = |m: String| CliError::usage(TestError::Usage(m));
    if let Some(t) = args.tolerance {
        if !(t.is_finite() && t >= 0.0) {
            return Err(usage(format!(
                "--tolerance must be a finite number ≥ 0, not {t}"
            )));
        }
    }
    if args.jobs == Some(0) {
        return Err(usage("--jobs must be at least 1".into()));
    }
    let recipes = discover(&args.paths).map_err(CliError::usage)?;
    if let Some(junit) = &args.junit {
        junit_is_not_an_input(junit, &recipes).map_err(CliError::failure)?;
    }
    snapshots_are_not_inputs(&recipes, args.update).map_err(CliError::failure)?;
    let exe = std::env::current_exe().map_err(|e| CliError::usage(TestError::NoExecutable(e)))?;
    let jobs = args.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let runner = Runner {
        exe,
        update: args.update,
        tolerance: args.tolerance,
        jobs,
        interrupt,
    };
    // A closed pipe ends the report quietly; any other write error is reported.
    let mut sink = super::output::Stdout::new();
    let results = runner.run_all(&recipes, |r| {
        sink.write_to(out, report_entry(r).as_bytes());
    });
    sink.write_to(out, summary_line(&results).as_bytes());
    let errors = results
        .iter()
        .any(|r| matches!(r.verdict, Verdict::Error(_)));
    let interrupted = results.iter().any(|r| r.verdict == Verdict::Interrupted);
    let status = if interrupted {
        Status::Interrupted
    } else if !errors
        && (args.update || results.iter().all(RecipeResult::passed))
        && !results.iter().any(|r| r.write_error.is_some())
    {
        Status::Success
    } else {
        Status::Failure
    };
    if let Some(path) = &args.junit {
        let written = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => std::fs::create_dir_all(dir),
            _ => Ok(()),
        }
        .and_then(|()| crate::io::atomic::write_atomic(path, junit_xml(&results).as_bytes()));
        if let Err(source) = written {
            return Err(CliError::failure(TestError::Unwritable {
                path: path.display().to_string(),
                source,
            }));
        }
    }
    sink.finish()
        .map_err(|e| CliError::new(e, status.max(Status::Failure)))?;
    Ok(status)
}

/// Refuses a JUnit report that would replace a recipe being tested, one of
/// the snapshot files (`NAME.jsonl`, `NAME.jsonl.new`) the run reads or writes,
/// or a file a recipe reads (its `csv` data, its `init_from` weights)
/// (`nnt::io::output_is_input`); or a file a recipe writes: its `save` file or
/// its checkpoint directory (`nnt::io::outputs_collide`), or a path inside that
/// directory (`nnt::io::output_in_checkpoint_dir`). Also through links, `..`,
/// or a folder (`snapshots/`, the checkpoint directory) or file not created
/// yet. A recipe that does not parse names no files here; its run reports it.
pub fn junit_is_not_an_input(junit: &Path, recipes: &[PathBuf]) -> Result<(), IoError> {
    use super::recipe_files::{named_files, PathUse};
    let files: Vec<[PathBuf; 2]> = recipes
        .iter()
        .map(|r| [snapshot_path(r), new_path(r)])
        .collect();
    let named: Vec<(PathUse, PathBuf)> = recipes.iter().flat_map(|r| named_files(r)).collect();
    let mut inputs: Vec<(&str, &Path)> = Vec::with_capacity(recipes.len() * 3 + named.len());
    for (r, [snap, new]) in recipes.iter().zip(&files) {
        inputs.push(("recipe", r));
        inputs.push(("snapshot", snap));
        inputs.push(("actual-output file", new));
    }
    let named_for = |keep: fn(PathUse) -> bool| {
        named
            .iter()
            .filter(move |(u, _)| keep(*u))
            .map(|(u, p)| (u.role(), p.as_path()))
    };
    inputs.extend(named_for(PathUse::is_read));
    let report = [("JUnit report", junit)];
    guard::outputs_are_not_paths(&report, &inputs)?;
    let saves: Vec<(&str, &Path)> = named_for(|u| u == PathUse::Save).collect();
    guard::outputs_are_not_written_paths(&report, &saves)?;
    let checkpoints: Vec<&Path> = named_for(|u| u == PathUse::Checkpoint)
        .map(|(_, p)| p)
        .collect();
    guard::outputs_are_outside_checkpoint_dirs(&report, &checkpoints)
}

/// What the recipes of one `nnt test` read: each recipe, the files it names
/// that a run reads (`csv` data, `init_from` weights), and, when `snapshots`,
/// each snapshot (read and compared, not written, without `--update`), as
/// (role, path) pairs.
fn inputs_of(recipes: &[PathBuf], snapshots: bool) -> Vec<(&'static str, PathBuf)> {
    use super::recipe_files::named_files;
    let mut inputs = Vec::new();
    for r in recipes {
        inputs.push(("recipe", r.clone()));
        if snapshots {
            inputs.push(("snapshot", snapshot_path(r)));
        }
        inputs.extend(
            named_files(r)
                .into_iter()
                .filter(|(u, _)| u.is_read())
                .map(|(u, p)| (u.role(), p)),
        );
    }
    inputs
}

/// The files `nnt test` may write for `recipe`: its snapshot with `--update`,
/// else its `.new` file.
fn outputs_of(recipe: &Path, update: bool) -> (&'static str, PathBuf) {
    if update {
        ("snapshot", snapshot_path(recipe))
    } else {
        ("actual-output file", new_path(recipe))
    }
}

/// Refuses, before any recipe runs, a file `nnt test` may write (a snapshot
/// with `--update`, else a `.new` file) that is one of its inputs: a recipe, a
/// file a recipe reads, or (without `--update`) a snapshot, also through a
/// link (`snapshots/r.jsonl.new` linked to `../r.nnt` or to its data)
/// (`nnt::io::output_is_input`). A link to any other file is written through.
pub fn snapshots_are_not_inputs(recipes: &[PathBuf], update: bool) -> Result<(), IoError> {
    let inputs = inputs_of(recipes, !update);
    let outputs: Vec<(&str, PathBuf)> = recipes.iter().map(|r| outputs_of(r, update)).collect();
    guard::outputs_are_not_paths(&outputs, &inputs)
}

// ------------------------------------------------------------------ discovery

/// The recipes under `paths`, in path order, each once (two paths of one
/// recipe, `a/x.nnt` and `b/../a/x.nnt` or a link to `a`, count once: they
/// share a snapshot). A path that is neither a directory nor a regular file
/// (`/dev/null`, a FIFO) is refused.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, TestError> {
    let mut found = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p)
            .map_err(|e| TestError::Usage(format!("cannot read {}: {e}", p.display())))?;
        if meta.is_dir() {
            walk(p, &mut found)
                .map_err(|e| TestError::Usage(format!("cannot read {}: {e}", p.display())))?;
        } else {
            guard::check_regular("recipe", p)?;
            found.push(p.clone());
        }
    }
    // Of the paths of one recipe, the shortest is kept.
    let mut keyed: Vec<(PathBuf, usize, PathBuf)> = found
        .into_iter()
        .map(|p| {
            let p = tidy(&p);
            (identity(&p), p.as_os_str().len(), p)
        })
        .collect();
    keyed.sort();
    keyed.dedup_by(|b, a| a.0 == b.0);
    let mut found: Vec<PathBuf> = keyed.into_iter().map(|(_, _, p)| p).collect();
    found.sort();
    Ok(found)
}

/// What makes two recipe paths one recipe: the canonical directory (where its
/// snapshot lives) and the file name.
fn identity(recipe: &Path) -> PathBuf {
    let dir = recipe_dir(recipe);
    let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
    dir.join(recipe.file_name().unwrap_or_default())
}

/// Collects the `*.nnt` under `dir`. Links to directories are not followed (a
/// link to `.` or `..` would loop, and any other finds recipes found elsewhere);
/// links to files are recipes like files.
fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries = std::fs::read_dir(dir)?.collect::<Result<Vec<_>, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name();
        let name = name.to_string_lossy();
        let path = e.path();
        let kind = e.file_type()?;
        if kind.is_dir() {
            if name.starts_with('.') || name == "snapshots" {
                continue;
            }
            walk(&path, found)?;
        } else if kind.is_symlink() && path.is_dir() {
            continue;
        } else if path.extension().is_some_and(|x| x == "nnt") {
            found.push(path);
        }
    }
    Ok(())
}

/// `./a/b.nnt` → `a/b.nnt`.
fn tidy(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        if c != std::path::Component::CurDir {
            out.push(c);
        }
    }
    if out.as_os_str().is_empty() {
        p.to_path_buf()
    } else {
        out
    }
}

/// Where the snapshot of `recipe` lives: `DIR/snapshots/NAME.jsonl`.
pub fn snapshot_path(recipe: &Path) -> PathBuf {
    let stem = recipe
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    recipe
        .parent()
        .unwrap_or(Path::new(""))
        .join("snapshots")
        .join(format!("{stem}.jsonl"))
}

/// The snapshot's `.new` sibling: `DIR/snapshots/NAME.jsonl.new`.
pub fn new_path(recipe: &Path) -> PathBuf {
    let mut p = snapshot_path(recipe).into_os_string();
    p.push(".new");
    PathBuf::from(p)
}

fn recipe_dir(recipe: &Path) -> PathBuf {
    match recipe.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

// ------------------------------------------------------------------ running

impl Runner {
    /// Runs every recipe, up to `jobs` at a time; `report` sees each result in
    /// path order as soon as it and all before it are done. After the
    /// interrupt no recipe starts: those left are [`Verdict::Interrupted`].
    pub fn run_all(
        &self,
        recipes: &[PathBuf],
        mut report: impl FnMut(&RecipeResult),
    ) -> Vec<RecipeResult> {
        let next = AtomicUsize::new(0);
        let (tx, rx) = mpsc::channel::<(usize, RecipeResult)>();
        let mut slots: Vec<Option<RecipeResult>> = vec![None; recipes.len()];
        let mut printed = 0;
        std::thread::scope(|scope| {
            for _ in 0..self.jobs.min(recipes.len()).max(1) {
                let tx = tx.clone();
                let next = &next;
                scope.spawn(move || loop {
                    if self.interrupt.is_set() {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(recipe) = recipes.get(i) else { break };
                    if tx.send((i, self.test_one(recipe))).is_err() {
                        break;
                    }
                });
            }
            drop(tx);
            for (i, r) in rx {
                slots[i] = Some(r);
                while let Some(Some(r)) = slots.get(printed) {
                    report(r);
                    printed += 1;
                }
            }
        });
        // The recipes a signal kept from starting.
        let results: Vec<RecipeResult> = slots
            .into_iter()
            .zip(recipes)
            .map(|(slot, recipe)| {
                slot.unwrap_or_else(|| RecipeResult {
                    path: recipe.clone(),
                    verdict: Verdict::Interrupted,
                    updated: false,
                    write_error: None,
                    seconds: 0.0,
                })
            })
            .collect();
        for r in results.iter().skip(printed) {
            report(r);
        }
        results
    }

    /// Runs one recipe and compares its output with its snapshot.
    pub fn test_one(&self, recipe: &Path) -> RecipeResult {
        let started = std::time::Instant::now();
        let mut result = RecipeResult {
            path: recipe.to_path_buf(),
            verdict: Verdict::Passed,
            updated: false,
            write_error: None,
            seconds: 0.0,
        };
        if let Err(e) = guard::check_regular("recipe", recipe) {
            result.verdict = Verdict::Error(coded(&e));
            result.seconds = started.elapsed().as_secs_f64();
            return result;
        }
        let actual = match self.output_of(recipe) {
            Ok(a) => a,
            // A partial output: never compared, nothing written.
            Err(ChildError::Interrupted { .. }) => {
                result.verdict = Verdict::Interrupted;
                result.seconds = started.elapsed().as_secs_f64();
                return result;
            }
            Err(e) => {
                result.verdict = Verdict::Error(coded(&e));
                result.seconds = started.elapsed().as_secs_f64();
                return result;
            }
        };
        let snap_path = snapshot_path(recipe);
        let new = new_path(recipe);
        // A regular file only (a FIFO would block, a device never ends), read
        // within the size of a log.
        result.verdict = match guard::read_regular("snapshot", &snap_path, guard::LOG_LIMIT) {
            Ok(snapshot) => {
                let diffs = compare(&snapshot, &actual, self.tolerance);
                if diffs.is_empty() {
                    Verdict::Passed
                } else {
                    Verdict::Failed(diffs)
                }
            }
            Err(IoError::Unreadable { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                Verdict::New
            }
            Err(e) => Verdict::Error(coded(&e)),
        };
        let unwritable = |role: &str, path: &Path, source: std::io::Error| {
            coded(&IoError::Unwritable {
                role: role.to_string(),
                path: path.display().to_string(),
                source,
            })
        };
        let write = |role: &str, path: &Path, bytes: &[u8]| -> Result<(), String> {
            // Checked for all recipes before they run; again here, just before
            // the write, for this recipe's own inputs (a link made meanwhile).
            let inputs = inputs_of(&[recipe.to_path_buf()], !self.update);
            guard::outputs_are_not_paths(&[(role, path)], &inputs).map_err(|e| coded(&e))?;
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| unwritable(role, path, e))?;
            }
            crate::io::atomic::write_atomic(path, bytes).map_err(|e| unwritable(role, path, e))
        };
        let remove_new = || match std::fs::remove_file(&new) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(unwritable("actual-output file", &new, e)),
        };
        let written = match &result.verdict {
            Verdict::Passed => remove_new(),
            Verdict::Error(_) | Verdict::Interrupted => Ok(()),
            Verdict::New | Verdict::Failed(_) if self.update => {
                // Reported as written only once it is.
                let w = write("snapshot", &snap_path, &actual);
                result.updated = w.is_ok();
                w.and_then(|()| remove_new())
            }
            Verdict::New | Verdict::Failed(_) => write("actual-output file", &new, &actual),
        };
        result.write_error = written.err();
        result.seconds = started.elapsed().as_secs_f64();
        result
    }

    /// What the recipe prints: its JSONL log, or its check's diagnostics when
    /// its check fails; a run that fails otherwise (an exit status other than
    /// 0, 3, 4 and 130) is [`ChildError::RunFailed`], and one that the
    /// interrupt stopped (or kept from starting) [`ChildError::Interrupted`].
    fn output_of(&self, recipe: &Path) -> Result<Vec<u8>, ChildError> {
        let dir = recipe_dir(recipe);
        let name = recipe.file_name().ok_or_else(|| IoError::NotAFile {
            path: recipe.display().to_string(),
            what: "no file name".to_string(),
        })?;
        let interrupted = |command: &'static str| ChildError::Interrupted {
            command,
            recipe: name.to_string_lossy().into_owned(),
        };
        let child = |command: &'static str, args: &[&std::ffi::OsStr]| {
            // After a signal no child starts.
            if self.interrupt.is_set() {
                return Err(interrupted(command));
            }
            let ended = super::child::run(
                Command::new(&self.exe)
                    .arg(command)
                    .args(args)
                    .current_dir(&dir)
                    .env("NO_COLOR", "1")
                    .env_remove("CLICOLOR_FORCE")
                    .env("COLUMNS", SNAPSHOT_WIDTH.to_string())
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped()),
                &self.interrupt,
            )
            .map_err(|source| ChildError::CannotRun {
                exe: self.exe.display().to_string(),
                source,
            })?;
            // Stopped by the signal: its output is partial.
            if ended.stopped() {
                return Err(interrupted(command));
            }
            Ok(ended)
        };
        // A child ended by a signal printed only part of its output: never a
        // snapshot, and never compared with one.
        let killed = |command: &'static str, status: std::process::ExitStatus| ChildError::Killed {
            command,
            recipe: name.to_string_lossy().into_owned(),
            status: status.to_string(),
        };
        let threads = super::options::child_threads(self.jobs).to_string();
        let run = child(
            "run",
            &[
                name,
                "--format".as_ref(),
                "jsonl".as_ref(),
                "--threads".as_ref(),
                threads.as_ref(),
            ],
        )?;
        let code = match run.status.code() {
            None => return Err(killed("run", run.status)),
            // A result: completed, diverged, an expectation not met, or
            // interrupted (its log up to there).
            Some(0 | 3 | 4 | 130) => return Ok(run.stdout),
            Some(code) => code,
        };
        // A recipe that fails its check prints nothing on stdout: its snapshot
        // is the check's rendering.
        if code == 1 && run.stdout.is_empty() {
            let check = child("check", &[name])?;
            if check.status.code().is_none() {
                return Err(killed("check", check.status));
            }
            if !check.status.success() {
                return Ok(check.stderr);
            }
        }
        // The check passes but the run failed: no output to compare.
        Err(ChildError::RunFailed {
            recipe: name.to_string_lossy().into_owned(),
            code,
            stderr: indented_tail(&run.stderr),
        })
    }
}

/// Most lines of a failed run's stderr that its `ERROR` entry shows (the last
/// ones: the error ends it).
const SHOWN_STDERR_LINES: usize = 40;

/// The last [`SHOWN_STDERR_LINES`] lines of `stderr`, each indented by four
/// spaces, after a line break; empty for no text.
fn indented_tail(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.trim_end().lines().collect();
    if lines.iter().all(|l| l.trim().is_empty()) {
        return String::new();
    }
    let skipped = lines.len().saturating_sub(SHOWN_STDERR_LINES);
    let mut out = String::from(":");
    if skipped > 0 {
        out.push_str(&format!("\n    … {skipped} earlier line(s)"));
    }
    for l in &lines[skipped..] {
        out.push('\n');
        if !l.trim().is_empty() {
            out.push_str("    ");
            out.push_str(l.trim_end());
        }
    }
    out
}

/// A diagnostic on one line for the report: `error[CODE]: message: cause`.
fn coded(d: &dyn miette::Diagnostic) -> String {
    let mut s = match d.code() {
        Some(code) => format!("error[{code}]: {d}"),
        None => format!("error: {d}"),
    };
    let mut cause = d.source();
    while let Some(c) = cause {
        s.push_str(&format!(": {c}"));
        cause = c.source();
    }
    s
}

// ------------------------------------------------------------------ comparing

/// The differences between a snapshot and an actual output; empty when the
/// recipe passes (equal bytes, or equal within `tolerance`).
pub fn compare(snapshot: &[u8], actual: &[u8], tolerance: Option<f64>) -> Vec<Difference> {
    if snapshot == actual {
        return Vec::new();
    }
    let snapshot = String::from_utf8_lossy(snapshot);
    let actual = String::from_utf8_lossy(actual);
    let s_lines: Vec<&str> = snapshot.split_inclusive('\n').collect();
    let a_lines: Vec<&str> = actual.split_inclusive('\n').collect();
    let mut diffs = Vec::new();
    for i in 0..s_lines.len().max(a_lines.len()) {
        let (s, a) = (s_lines.get(i).copied(), a_lines.get(i).copied());
        if s == a {
            continue;
        }
        let line = i + 1;
        match (s, a) {
            (Some(s), Some(a)) => line_differences(line, s, a, tolerance, &mut diffs),
            _ => {
                let ev = s.or(a).and_then(|l| event_name(&parse_object(l)?));
                diffs.push(Difference {
                    line,
                    event: ev,
                    field: None,
                    snapshot: s.map(show_line),
                    actual: a.map(show_line),
                    relative: None,
                });
            }
        }
    }
    if diffs.is_empty() && tolerance.is_none() {
        // Equal as text line by line but not as bytes cannot happen; keep a
        // difference anyway so that unequal bytes never pass.
        diffs.push(Difference {
            line: 1,
            event: None,
            field: None,
            snapshot: Some(format!("{} bytes", snapshot.len())),
            actual: Some(format!("{} bytes", actual.len())),
            relative: None,
        });
    }
    diffs
}

/// A line as the report shows it: quoted and escaped, a `\r` before its line
/// end visible and a last line without one said to be so (a snapshot with CRLF
/// line ends, or without its final newline, looked the same as the output).
fn show_line(l: &str) -> String {
    match l.strip_suffix('\n') {
        Some(body) => format!("{body:?}"),
        None => format!("{l:?} (no line end)"),
    }
}

/// A JSON object with its keys in written order.
struct Object(Vec<(String, Value)>);

impl<'de> serde::Deserialize<'de> for Object {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Object;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Object, A::Error> {
                let mut v = Vec::new();
                while let Some(kv) = m.next_entry::<String, Value>()? {
                    v.push(kv);
                }
                Ok(Object(v))
            }
        }
        d.deserialize_map(V)
    }
}

impl Object {
    fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

fn parse_object(line: &str) -> Option<Object> {
    serde_json::from_str(line.trim_end()).ok()
}

/// `start`, `epoch 3`, `end`, `diagnostic (epoch 2)`.
fn event_name(o: &Object) -> Option<String> {
    let event = o.get("event")?.as_str()?;
    match o.get("epoch").and_then(Value::as_u64) {
        Some(n) if event == "epoch" => Some(format!("epoch {n}")),
        Some(n) if event != "end" => Some(format!("{event} (epoch {n})")),
        _ => Some(event.to_owned()),
    }
}

fn line_differences(
    line: usize,
    s: &str,
    a: &str,
    tolerance: Option<f64>,
    diffs: &mut Vec<Difference>,
) {
    let (Some(so), Some(ao)) = (parse_object(s), parse_object(a)) else {
        diffs.push(Difference {
            line,
            event: None,
            field: None,
            snapshot: Some(show_line(s)),
            actual: Some(show_line(a)),
            relative: None,
        });
        return;
    };
    let event = event_name(&so).or_else(|| event_name(&ao));
    let before = diffs.len();
    let mut keys: Vec<&str> = so.0.iter().map(|(k, _)| k.as_str()).collect();
    for (k, _) in &ao.0 {
        if !keys.contains(&k.as_str()) {
            keys.push(k);
        }
    }
    for key in keys {
        let (sv, av) = (so.get(key), ao.get(key));
        let (equal, relative) = match (sv, av) {
            (Some(x), Some(y)) => values_agree(x, y, tolerance.unwrap_or(0.0)),
            _ => (false, None),
        };
        if !equal {
            diffs.push(Difference {
                line,
                event: event.clone(),
                field: Some(key.to_owned()),
                snapshot: sv.map(Value::to_string),
                actual: av.map(Value::to_string),
                relative,
            });
        }
    }
    // Without a tolerance the bytes decide: a line whose values all agree but
    // whose text differs (key order, spacing) still differs. With one, only
    // numbers may differ: the keys too must be the same, in the same order (a
    // snapshot with a key twice passed when the first of them agreed).
    let same_keys = so.0.iter().map(|(k, _)| k).eq(ao.0.iter().map(|(k, _)| k));
    if diffs.len() == before && (tolerance.is_none() || !same_keys) {
        diffs.push(Difference {
            line,
            event,
            field: None,
            snapshot: Some(show_line(s)),
            actual: Some(show_line(a)),
            relative: None,
        });
    }
}

/// Whether two JSON values agree (numbers within `rel` relative, everything else
/// exactly), and the largest relative difference of differing numbers.
fn values_agree(x: &Value, y: &Value, rel: f64) -> (bool, Option<f64>) {
    match (x, y) {
        (Value::Number(a), Value::Number(b)) => {
            let (Some(a), Some(b)) = (a.as_f64(), b.as_f64()) else {
                return (x == y, None);
            };
            if a == b {
                return (true, None);
            }
            let scale = a.abs().max(b.abs());
            let d = (a - b).abs();
            (d <= rel * scale, Some(d / scale))
        }
        (Value::Array(a), Value::Array(b)) => {
            if a.len() != b.len() {
                return (false, None);
            }
            merge(a.iter().zip(b).map(|(p, q)| values_agree(p, q, rel)))
        }
        (Value::Object(a), Value::Object(b)) => {
            if a.len() != b.len() || a.keys().any(|k| !b.contains_key(k)) {
                return (false, None);
            }
            merge(a.iter().map(|(k, v)| values_agree(v, &b[k], rel)))
        }
        _ => (x == y, None),
    }
}

fn merge(parts: impl Iterator<Item = (bool, Option<f64>)>) -> (bool, Option<f64>) {
    let mut all = true;
    let mut worst: Option<f64> = None;
    for (ok, r) in parts {
        all &= ok;
        if let Some(r) = r {
            worst = Some(worst.map_or(r, |w| w.max(r)));
        }
    }
    (all, worst)
}

// ------------------------------------------------------------------ reports

/// The report's lines for one recipe.
pub fn report_entry(r: &RecipeResult) -> String {
    let path = r.path.display();
    let mut s = match &r.verdict {
        Verdict::Passed => format!("ok      {path}\n"),
        Verdict::New if r.updated => format!(
            "new     {path}: snapshot written to {}\n",
            snapshot_path(&r.path).display()
        ),
        // Nothing was written: the error line below says why.
        Verdict::New if r.write_error.is_some() => format!("new     {path}: no snapshot\n"),
        Verdict::New => format!(
            "new     {path}: no snapshot; the output is in {}\n",
            new_path(&r.path).display()
        ),
        Verdict::Failed(diffs) => {
            let mut s = if r.updated {
                format!(
                    "FAILED  {path}: snapshot updated ({})\n",
                    snapshot_path(&r.path).display()
                )
            } else if r.write_error.is_some() {
                format!(
                    "FAILED  {path}: the output differs from {}\n",
                    snapshot_path(&r.path).display()
                )
            } else {
                format!(
                    "FAILED  {path}: the output differs from {} (actual output in {})\n",
                    snapshot_path(&r.path).display(),
                    new_path(&r.path).display()
                )
            };
            s.push_str(&differences_text(diffs, "    "));
            s
        }
        Verdict::Error(e) => format!("ERROR   {path}: {e}\n"),
        Verdict::Interrupted => {
            format!("stopped {path}: interrupted before it ended; not compared, nothing written\n")
        }
    };
    if let Some(e) = &r.write_error {
        s.push_str(&format!("    {e}\n"));
    }
    s
}

fn differences_text(diffs: &[Difference], indent: &str) -> String {
    let mut s = String::new();
    for d in diffs.iter().take(SHOWN_DIFFERENCES) {
        s.push_str(&format!("{indent}{d}\n"));
    }
    if diffs.len() > SHOWN_DIFFERENCES {
        let more = diffs.len() - SHOWN_DIFFERENCES;
        s.push_str(&format!(
            "{indent}… and {more} more difference{}\n",
            if more == 1 { "" } else { "s" }
        ));
    }
    s
}

/// The report's last line: `N passed, M failed`, and `, K interrupted` when a
/// signal stopped some (neither passed nor failed).
pub fn summary_line(results: &[RecipeResult]) -> String {
    let passed = results.iter().filter(|r| r.passed()).count();
    let interrupted = interrupted_count(results);
    let failed = results.len() - passed - interrupted;
    if interrupted == 0 {
        format!("{passed} passed, {failed} failed\n")
    } else {
        format!("{passed} passed, {failed} failed, {interrupted} interrupted\n")
    }
}

fn interrupted_count(results: &[RecipeResult]) -> usize {
    results
        .iter()
        .filter(|r| r.verdict == Verdict::Interrupted)
        .count()
}

/// A JUnit XML report: one test case per recipe (`<skipped>` for one a signal
/// stopped).
pub fn junit_xml(results: &[RecipeResult]) -> String {
    let skipped = interrupted_count(results);
    let failures = results.iter().filter(|r| !r.passed()).count() - skipped;
    let total: f64 = results.iter().map(|r| r.seconds).sum();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.push_str(&format!(
        "<testsuites name=\"nnt test\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" time=\"{total:.3}\">\n",
        results.len()
    ));
    x.push_str(&format!(
        "  <testsuite name=\"nnt test\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{total:.3}\">\n",
        results.len()
    ));
    for r in results {
        let path = r.path.display().to_string();
        let class = recipe_dir(&r.path).display().to_string();
        x.push_str(&format!(
            "    <testcase name=\"{}\" classname=\"{}\" file=\"{}\" time=\"{:.3}\"",
            xml_escape(&path),
            xml_escape(&class),
            xml_escape(&path),
            r.seconds
        ));
        if r.verdict == Verdict::Interrupted {
            x.push_str(
                ">\n      <skipped message=\"interrupted before it ended\"/>\n    </testcase>\n",
            );
            continue;
        }
        let failure = match &r.verdict {
            Verdict::Passed | Verdict::Interrupted => r
                .write_error
                .clone()
                .map(|e| ("cannot write".to_owned(), e)),
            Verdict::New => Some((
                "no snapshot".to_owned(),
                match &r.write_error {
                    Some(e) => format!("no snapshot {}\n{e}", snapshot_path(&r.path).display()),
                    None => format!(
                        "no snapshot {}; the output is in {}",
                        snapshot_path(&r.path).display(),
                        new_path(&r.path).display()
                    ),
                },
            )),
            Verdict::Failed(d) => Some((
                format!(
                    "the output differs from {} ({} difference{})",
                    snapshot_path(&r.path).display(),
                    d.len(),
                    if d.len() == 1 { "" } else { "s" }
                ),
                differences_text(d, "")
                    + &r.write_error
                        .as_ref()
                        .map_or(String::new(), |e| format!("{e}\n")),
            )),
            Verdict::Error(e) => Some(("error".to_owned(), e.clone())),
        };
        match failure {
            None => x.push_str("/>\n"),
            Some((message, body)) => {
                x.push_str(&format!(
                    ">\n      <failure message=\"{}\" type=\"snapshot\">{}</failure>\n    </testcase>\n",
                    xml_escape(&message),
                    xml_escape(&body)
                ));
            }
        }
    }
    x.push_str("  </testsuite>\n</testsuites>\n");
    x
}

/// Escapes text for XML attributes and content; characters XML 1.0 does not
/// allow become U+FFFD.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Line ends are part of what is shown: a CRLF snapshot, or one without its
    /// final newline, differed from the output with two identical strings.
    #[test]
    fn line_end_differences_are_visible() {
        let d = compare(b"x\r\ny\n", b"x\ny\n", None);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_ne!(d[0].snapshot, d[0].actual, "{d:?}");
        assert_eq!(d[0].snapshot.as_deref(), Some("\"x\\r\""));
        let d = compare(b"x\ny", b"x\ny\n", None);
        assert_eq!(d[0].snapshot.as_deref(), Some("\"y\" (no line end)"));
        assert_eq!(d[0].actual.as_deref(), Some("\"y\""));
    }

    #[test]
    fn equal_bytes_pass() {
        assert!(compare(b"{\"a\":1}\n", b"{\"a\":1}\n", None).is_empty());
    }

    #[test]
    fn numbers_within_tolerance_pass() {
        let s = b"{\"event\":\"epoch\",\"epoch\":2,\"train_loss\":1.0}\n";
        let a = b"{\"event\":\"epoch\",\"epoch\":2,\"train_loss\":1.001}\n";
        let d = compare(s, a, None);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].event.as_deref(), Some("epoch 2"));
        assert_eq!(d[0].field.as_deref(), Some("train_loss"));
        assert_eq!(d[0].snapshot.as_deref(), Some("1.0"));
        assert_eq!(d[0].actual.as_deref(), Some("1.001"));
        let r = d[0].relative.unwrap();
        assert!((r - 0.001 / 1.001).abs() < 1e-12);
        assert!(compare(s, a, Some(1e-3)).is_empty());
        assert_eq!(compare(s, a, Some(9e-4)).len(), 1);
    }

    #[test]
    fn strings_and_keys_must_match_under_tolerance() {
        let s = b"{\"event\":\"end\",\"reason\":\"completed\"}\n";
        let a = b"{\"event\":\"end\",\"reason\":\"early_stop\"}\n";
        assert_eq!(compare(s, a, Some(1.0)).len(), 1);
        let a = b"{\"event\":\"end\",\"reason\":\"completed\",\"x\":1}\n";
        let d = compare(s, a, Some(1.0));
        assert_eq!(d[0].field.as_deref(), Some("x"));
        assert_eq!(d[0].snapshot, None);
        // A key twice, or the keys in another order: the line differs.
        let s = b"{\"event\":\"epoch\",\"acc\":0,\"acc\":1}\n";
        let a = b"{\"event\":\"epoch\",\"acc\":0}\n";
        assert_eq!(compare(s, a, Some(0.5)).len(), 1);
        let s = b"{\"event\":\"epoch\",\"loss\":1,\"acc\":0}\n";
        let a = b"{\"event\":\"epoch\",\"acc\":0,\"loss\":1}\n";
        let d = compare(s, a, Some(0.5));
        assert_eq!((d.len(), d[0].field.as_deref()), (1, None));
    }

    #[test]
    fn missing_lines_differ() {
        let d = compare(b"a\nb\n", b"a\n", Some(0.5));
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].line, 2);
        assert_eq!(d[0].actual, None);
    }

    #[test]
    fn xml_escapes() {
        assert_eq!(
            xml_escape("a<b>&\"'\u{1b}"),
            "a&lt;b&gt;&amp;&quot;&apos;\u{FFFD}"
        );
    }

    #[test]
    fn snapshot_paths() {
        let p = Path::new("dir/sub/iris.nnt");
        assert_eq!(snapshot_path(p), Path::new("dir/sub/snapshots/iris.jsonl"));
        assert_eq!(new_path(p), Path::new("dir/sub/snapshots/iris.jsonl.new"));
        assert_eq!(
            snapshot_path(Path::new("x.nnt")),
            Path::new("snapshots/x.jsonl")
        );
    }
}
