//! What a run checks about its files before it trains: no output replaces an
//! input (the recipe, a data file, `init_from`, the checkpoint resumed), every
//! output can be written, stale temporary files of dead runs are removed from the
//! output directories, and the checkpoint directory is locked for this run.

use std::path::{Path, PathBuf};

use crate::io::atomic;
use crate::io::checkpoint;
use crate::io::guard::{self, DirLock, IoError};
use crate::io::weights::WeightsError;
use crate::ir::Program;
use crate::train::{snapshot, RunOptions, TrainError};

/// The files a run reads (role, path): the caller's (recipe, data files), then
/// `init_from` and the checkpoint resumed.
fn inputs<'a>(program: &'a Program, opts: &'a RunOptions) -> Vec<(&'a str, &'a Path)> {
    let mut v: Vec<(&str, &Path)> = opts
        .inputs
        .iter()
        .map(|(r, p)| (r.as_str(), p.as_path()))
        .collect();
    if let Some(p) = &program.init_from {
        v.push(("init_from weights", p));
    }
    if let Some(p) = &opts.resume {
        v.push(("checkpoint resumed", p));
    }
    v
}

/// The files a run writes, checkpoints aside (role, path).
fn outputs<'a>(program: &'a Program, opts: &'a RunOptions) -> Vec<(&'a str, &'a Path)> {
    let mut v: Vec<(&str, &Path)> = Vec::new();
    if let Some(p) = &program.save {
        v.push((SAVE_ROLE, p));
    }
    v.extend(opts.outputs.iter().map(|(r, p)| (r.as_str(), p.as_path())));
    v
}

/// The recipe item a file problem concerns, so that `nnt check` and the
/// editor server can show it at that item's line (an output given on the
/// command line, `--plot` or `--log`, has none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Concerns {
    /// `init_from = "…"`.
    InitFrom,
    /// `save = "…"`.
    Save,
    /// `checkpoint { path = "…" }`.
    CheckpointPath,
    /// Nothing in the recipe: a command-line output, or the checkpoint resumed.
    CommandLine,
}

/// A problem [`check`] found, and the recipe item it concerns.
#[derive(Debug)]
pub struct Problem {
    pub error: TrainError,
    pub concerns: Concerns,
}

impl From<Problem> for TrainError {
    fn from(p: Problem) -> Self {
        p.error
    }
}

/// The role of `save` among the outputs (how [`check`] tells that an output
/// problem is `save`'s).
const SAVE_ROLE: &str = "save path";
/// The role of the checkpoint directory among the outputs.
const CHECKPOINT_ROLE: &str = "checkpoint directory";

/// [`check`], then that `init_from` loads into the model (safetensors holding
/// every tensor with its shape, finite in the run's precision), without a run:
/// what `nnt check` (every format), `nnt run` before it trains and the editor
/// server ask (`cli::check::file_problems`). A run itself loads `init_from`
/// once, when it builds its network (`Trainer::new`), so [`prepare`] does not
/// read it again.
pub fn check_files(program: &Program, opts: &RunOptions) -> Vec<Problem> {
    let mut problems = check_all(program, opts);
    let init_from_read = !problems.iter().any(|p| p.concerns == Concerns::InitFrom);
    if let (Some(p), true) = (&program.init_from, init_from_read) {
        if let Err(e) = snapshot::check_init_from(program, p) {
            problems.push(Problem {
                error: e.into(),
                concerns: Concerns::InitFrom,
            });
        }
    }
    problems
}

/// The first problem of [`check_all`]: what a run refuses before it trains.
pub fn check(program: &Program, opts: &RunOptions) -> Result<(), Problem> {
    match check_all(program, opts).into_iter().next() {
        Some(p) => Err(p),
        None => Ok(()),
    }
}

/// Checks that need no writing and read no file: outputs are not inputs and
/// can replace what is at their path, `init_from` is a readable regular file,
/// the checkpoint path is not a file. Every problem is reported (one per
/// recipe item: a `save` that collides is not also said to be unwritable).
pub fn check_all(program: &Program, opts: &RunOptions) -> Vec<Problem> {
    let mut problems: Vec<Problem> = Vec::new();
    let mut report = |p: Problem| {
        let seen = problems.iter().any(|q| {
            (q.concerns == p.concerns && p.concerns != Concerns::CommandLine)
                || q.error.to_string() == p.error.to_string()
        });
        if !seen {
            problems.push(p);
        }
    };
    let ins = inputs(program, opts);
    let outs = outputs(program, opts);
    let of_role = |role: &str| {
        if role == SAVE_ROLE {
            Concerns::Save
        } else if role == CHECKPOINT_ROLE {
            Concerns::CheckpointPath
        } else {
            Concerns::CommandLine
        }
    };
    let at = |concerns: Concerns| {
        move |e: IoError| Problem {
            error: e.into(),
            concerns,
        }
    };
    if let Err(e) = guard::outputs_are_not_inputs(&outs, &ins) {
        let concerns = match &e {
            IoError::OutputIsInput { output_role, .. } => of_role(output_role),
            _ => Concerns::CommandLine,
        };
        report(at(concerns)(e));
    }
    let mut all_outs = outs.clone();
    if let Some(ck) = &program.checkpoint {
        all_outs.push((CHECKPOINT_ROLE, &ck.path));
    }
    if let Err(e) = guard::outputs_are_distinct(&all_outs) {
        // The recipe's own item when one of the two is the recipe's.
        let concerns = match &e {
            IoError::OutputsCollide { a_role, b_role, .. } => {
                match (of_role(a_role), of_role(b_role)) {
                    (Concerns::CommandLine, c) | (c, _) => c,
                }
            }
            _ => Concerns::CommandLine,
        };
        report(at(concerns)(e));
    }
    if let Some(p) = &program.init_from {
        let init_from = |error: TrainError| Problem {
            error,
            concerns: Concerns::InitFrom,
        };
        match guard::check_regular("init_from weights", p) {
            Err(IoError::Unreadable { source, .. }) => report(init_from(
                WeightsError::Unreadable {
                    path: p.display().to_string(),
                    source,
                }
                .into(),
            )),
            Err(e) => report(init_from(e.into())),
            Ok(_) => {}
        }
    }
    // The checkpoint resumed, before anything is created for the run (its
    // checkpoint folder).
    if let Some(p) = &opts.resume {
        if let Err(e) = guard::check_regular("checkpoint to resume", p) {
            report(at(Concerns::CommandLine)(e));
        }
    }
    if let Some(ck) = checkpoint_problem(program, &ins, &outs) {
        report(at(Concerns::CheckpointPath)(ck));
    }
    // After the collisions with checkpoints: `ck/epoch-2.safetensors` is one
    // before its folder is found missing (the run creates the checkpoint folder).
    // An output in the checkpoint folder needs no folder yet: the run makes it.
    let in_checkpoint_folder = |p: &Path| {
        program.checkpoint.as_ref().is_some_and(|ck| {
            let parent = match p.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => Path::new("."),
            };
            parent == ck.path || guard::same_file(parent, &ck.path)
        })
    };
    for (role, p) in &outs {
        match guard::check_output(role, p) {
            Err(IoError::Unwritable { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound && in_checkpoint_folder(p) => {}
            Err(e) => report(at(of_role(role))(e)),
            Ok(_) => {}
        }
    }
    problems
}

/// The first problem of the checkpoint folder: a path that is not a folder, a
/// checkpoint the run would write over that is not a regular file, an output
/// or input that is one of the run's checkpoints.
fn checkpoint_problem(
    program: &Program,
    ins: &[(&str, &Path)],
    outs: &[(&str, &Path)],
) -> Option<IoError> {
    let ck = program.checkpoint.as_ref()?;
    if let Err(e) = guard::check_checkpoint_path(&ck.path) {
        return Some(e);
    }
    // A checkpoint this run may write over must be a regular file (a FIFO
    // named `epoch-3.safetensors` was found after three epochs).
    for e in checkpoint::list(&ck.path) {
        if (1..=program.train.epochs).contains(&e) {
            let p = checkpoint::path_for(&ck.path, e);
            if let Err(e) = guard::check_output("checkpoint", &p) {
                return Some(e);
            }
        }
    }
    // A checkpoint this run may write must not be one of the inputs (the
    // checkpoint resumed is checked once its epoch is known).
    // Only the epochs this run has (a checkpoint on Ctrl-C may be any).
    let writes = |e: usize| (1..=program.train.epochs).contains(&e);
    for (role, p) in outs {
        if let Some(e) = checkpoint_epoch_in(&ck.path, p).filter(|&e| writes(e)) {
            return Some(IoError::OutputsCollide {
                a_role: role.to_string(),
                a: p.display().to_string(),
                b_role: "checkpoint".to_string(),
                b: checkpoint::path_for(&ck.path, e).display().to_string(),
            });
        }
    }
    for (role, p) in ins.iter().filter(|(r, _)| *r != "checkpoint resumed") {
        if let Some(e) = checkpoint_epoch_in(&ck.path, p).filter(|&e| writes(e)) {
            return Some(IoError::OutputIsInput {
                output_role: "checkpoint".to_string(),
                output: checkpoint::path_for(&ck.path, e).display().to_string(),
                input_role: role.to_string(),
                input: p.display().to_string(),
            });
        }
    }
    None
}

/// The epoch of `file` when it is a checkpoint name (`epoch-N.safetensors`) in
/// directory `dir` (the same directory, however it is spelled).
pub fn checkpoint_epoch_in(dir: &Path, file: &Path) -> Option<usize> {
    let target = atomic::resolve_target(file).unwrap_or_else(|_| file.to_path_buf());
    let name = target.file_name()?.to_str()?;
    let epoch = checkpoint::parse_name(name)?;
    let parent = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    guard::same_file(&parent, dir).then_some(epoch)
}

/// Everything before training: [`check`], then a write probe of every output,
/// stale temporaries removed, the checkpoint directory created and locked. The
/// lock is released when the returned guard is dropped.
pub fn prepare(program: &Program, opts: &RunOptions) -> Result<Option<DirLock>, TrainError> {
    check(program, opts)?;
    // The checkpoint folder first: an output may be written into it.
    if let Some(ck) = &program.checkpoint {
        guard::probe_checkpoint_dir(&ck.path)?;
    }
    for (role, p) in outputs(program, opts) {
        guard::probe_file(role, p)?;
        if let Ok(t) = atomic::resolve_target(p) {
            let dir = match t.parent() {
                Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                _ => PathBuf::from("."),
            };
            // Only this output's own temporaries: the folder is the user's.
            if let Some(name) = t.file_name().map(|n| n.to_string_lossy().into_owned()) {
                atomic::remove_stale_temps(&dir, |n| n == name);
            }
        }
    }
    match &program.checkpoint {
        Some(ck) => {
            let lock = guard::lock_dir(&ck.path)?;
            // Only temporaries of checkpoints (`epoch-N.safetensors`).
            atomic::remove_stale_temps(&ck.path, |n| checkpoint::parse_name(n).is_some());
            Ok(Some(lock))
        }
        None => Ok(None),
    }
}
