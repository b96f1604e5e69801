//! The `nnt` command line. `main` only maps [`run`] to an exit status; every
//! command is a function of the parsed arguments that returns one.
//!
//! This is the only place that renders diagnostics with miette's graphical
//! handler, and (with `data` and `io`) one of the only places that touches files.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteDiagnostic};

use nnt::events::{EndReason, Event, Observer, RunDiagnostic};
use nnt::ir::Program;

/// Exit status: the recipe or its data is invalid.
const EXIT_INVALID: u8 = 1;
/// Exit status: wrong command-line usage.
const EXIT_USAGE: u8 = 2;
/// Exit status: training diverged.
const EXIT_DIVERGED: u8 = 3;

#[derive(Parser, Debug)]
#[command(
    name = "nnt",
    version,
    about = "Train neural networks from checked, reproducible recipes",
    long_about = "nnt reads a .nnt recipe (data, layers, loss, optimizer, regularisation, \
                  schedule), checks it before any compute, and trains it on the CPU with \
                  PyTorch's arithmetic. The same recipe and seed print byte-identical logs.",
    after_help = "Examples:\n  nnt run examples/iris.nnt\n  nnt run examples/iris.nnt --format jsonl --set train.epochs=5\n  nnt check examples/iris.nnt\n  nnt explain examples/iris.nnt\n  nnt plot log.jsonl -o loss.svg\n  nnt fmt --check examples/*.nnt"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check a recipe, then train it and print the log.
    #[command(
        after_help = "Examples:\n  nnt run examples/iris.nnt\n  nnt run examples/iris.nnt --format jsonl > log.jsonl\n  nnt run examples/iris.nnt --seed 3 --set 'optimizer=sgd(lr = 0.1)' --set train.epochs=5\n  nnt run examples/iris.nnt --save weights.safetensors --plot loss.svg\n\nExit status: 0 success, 1 invalid recipe or data, 2 usage error, 3 training diverged."
    )]
    Run(RunArgs),
    /// Parse and check a recipe, reading and validating its data, without training.
    #[command(
        after_help = "Example:\n  nnt check examples/iris.nnt\n\nExit status: 0 when the recipe is valid (warnings allowed), 1 when it is not."
    )]
    Check(RecipeArgs),
    /// Show the plan: layers, shapes, parameters, rows, batches and learning rates (of a recipe, or of a saved .safetensors model with its data schema).
    #[command(
        after_help = "Examples:\n  nnt explain examples/iris.nnt\n  nnt explain iris.safetensors"
    )]
    Explain(RecipeArgs),
    /// Predict with a saved model: one CSV row per row of DATA (spec §15).
    #[command(
        after_help = "Examples:\n  nnt predict iris.safetensors new.csv\n  nnt predict iris.safetensors new.csv -o predictions.csv --keep id"
    )]
    Predict(PredictArgs),
    /// Evaluate a saved model on a labelled file: loss, accuracy, per-class and regression metrics.
    #[command(
        after_help = "Examples:\n  nnt eval iris.safetensors test.csv\n  nnt eval iris.safetensors test.csv --format json"
    )]
    Eval(EvalArgs),
    /// Export a saved model (ONNX) or a recipe (a PyTorch program) to another format.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Draw the loss (and accuracy) curves of a JSONL log as SVG or PNG.
    #[command(
        after_help = "Example:\n  nnt run examples/iris.nnt --format jsonl > log.jsonl\n  nnt plot log.jsonl -o loss.svg"
    )]
    Plot(PlotArgs),
    /// Rewrite recipes in canonical layout, keeping comments.
    #[command(
        after_help = "Examples:\n  nnt fmt examples/iris.nnt\n  nnt fmt --check examples/*.nnt   # exit 1 when a file would change"
    )]
    Fmt(FmtArgs),
    /// Print a shell completion script.
    #[command(after_help = "Example:\n  nnt completions bash > /etc/bash_completion.d/nnt")]
    Completions {
        /// The shell to generate completions for.
        shell: clap_complete::Shell,
    },
}

#[derive(clap::Args, Debug)]
struct ExportTorchArgs {
    #[command(flatten)]
    recipe: RecipeArgs,
    /// The folder to write (created if absent).
    #[arg(short, long, value_name = "DIR")]
    output: PathBuf,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    /// A progress bar and a readable line per epoch.
    Text,
    /// One JSON object per line on stdout (spec §10).
    Jsonl,
}

#[derive(clap::Args, Debug)]
struct RecipeArgs {
    /// The recipe file.
    recipe: PathBuf,
    /// Override a setting in recipe syntax: `seed=3`, `train.epochs=5`, `optimizer=adam(lr = 0.01)`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// The seed of the random generator (same as `--set seed=N`).
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    #[command(flatten)]
    recipe: RecipeArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Write the final (or, with early_stop, the best) parameters here, as safetensors.
    #[arg(long, value_name = "PATH")]
    save: Option<PathBuf>,
    /// Continue from a checkpoint written by this recipe's `checkpoint` section.
    #[arg(long, value_name = "CKPT")]
    resume: Option<PathBuf>,
    /// Add wall-clock seconds and steps per second to the log.
    #[arg(long)]
    timings: bool,
    /// Also draw the loss curves into this SVG or PNG file.
    #[arg(long, value_name = "OUT")]
    plot: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
struct PredictArgs {
    /// A model file written by `save` or `--save`.
    model: PathBuf,
    /// The rows to predict (CSV; label columns may be absent).
    data: PathBuf,
    /// Write the predictions here (atomically) instead of to standard output.
    #[arg(short, long, value_name = "OUT.csv")]
    output: Option<PathBuf>,
    /// Copy this column of DATA into the output (repeatable).
    #[arg(long, value_name = "COLUMN")]
    keep: Vec<String>,
}

#[derive(clap::Args, Debug)]
struct EvalArgs {
    /// A model file written by `save` or `--save`.
    model: PathBuf,
    /// A labelled CSV file.
    data: PathBuf,
    /// `text` (a readable report) or `json` (one object).
    #[arg(long, value_enum, default_value = "text")]
    format: EvalFormat,
}

#[derive(Subcommand, Debug)]
enum ExportCommand {
    /// The network as an ONNX graph (opset 13): input `features`, normalisation and missing-value fill included.
    #[command(after_help = "Example:\n  nnt export onnx iris.safetensors -o iris.onnx")]
    Onnx {
        /// A model file written by `save` or `--save`.
        model: PathBuf,
        /// The ONNX file to write.
        #[arg(short, long, value_name = "OUT.onnx")]
        output: PathBuf,
    },
    /// Write a self-contained PyTorch program for the recipe (train.py, its data and start weights).
    #[command(
        after_help = "Examples:\n  nnt export torch examples/iris.nnt -o iris-torch\n  python iris-torch/train.py --device auto --save iris.safetensors\n  torchrun --nproc_per_node=2 iris-torch/train.py"
    )]
    Torch(ExportTorchArgs),
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum EvalFormat {
    Text,
    Json,
}

#[derive(clap::Args, Debug)]
struct PlotArgs {
    /// A JSONL log written by `nnt run --format jsonl`.
    log: PathBuf,
    /// The picture to write: `.svg` or `.png`.
    #[arg(short, long, value_name = "OUT")]
    output: PathBuf,
}

#[derive(clap::Args, Debug)]
struct FmtArgs {
    /// The recipes to format in place.
    #[arg(required = true)]
    recipes: Vec<PathBuf>,
    /// Only report files that would change; exit 1 if any would.
    #[arg(long)]
    check: bool,
}

fn main() -> ExitCode {
    ExitCode::from(run())
}

/// Parses the command line and runs the command; returns the exit status.
fn run() -> u8 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { EXIT_USAGE } else { 0 };
        }
    };
    match cli.command {
        Command::Run(args) => cmd_run(args),
        Command::Check(args) => cmd_check(&args),
        Command::Explain(args) => cmd_explain(&args),
        Command::Predict(args) => cmd_predict(&args),
        Command::Eval(args) => cmd_eval(&args),
        Command::Export(ExportCommand::Onnx { model, output }) => {
            match nnt::cli::export_onnx::run(&model, &output) {
                Ok(()) => 0,
                Err(e) => {
                    eprint_diagnostic(&e, use_color());
                    EXIT_INVALID
                }
            }
        }
        Command::Plot(args) => cmd_plot(&args),
        Command::Fmt(args) => cmd_fmt(&args),
        Command::Export(ExportCommand::Torch(args)) => cmd_export_torch(&args),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "nnt", &mut std::io::stdout());
            0
        }
    }
}

// ------------------------------------------------------------------ commands

fn cmd_check(args: &RecipeArgs) -> u8 {
    match load_program(args, None) {
        Ok(_) => 0,
        Err(code) => code,
    }
}

fn cmd_explain(args: &RecipeArgs) -> u8 {
    if nnt::cli::explain_model::is_model_path(&args.recipe) {
        return match nnt::cli::explain_model::explain(&args.recipe) {
            Ok(text) => {
                print!("{text}");
                0
            }
            Err(e) => {
                eprint_diagnostic(&e, use_color());
                EXIT_INVALID
            }
        };
    }
    match load_program(args, None) {
        Ok(program) => {
            print!("{}", nnt::report::explain::explain(&program));
            0
        }
        Err(code) => code,
    }
}

fn cmd_run(args: RunArgs) -> u8 {
    let program = match load_program(&args.recipe, args.save.clone()) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let interrupt = Arc::new(AtomicBool::new(false));
    {
        let flag = Arc::clone(&interrupt);
        // A second Ctrl-C while the first is being handled ends the process at once.
        let _ = ctrlc::set_handler(move || {
            if flag.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
        });
    }
    let opts = nnt::train::RunOptions {
        resume: args.resume.clone(),
        timings: args.timings,
        interrupt: Some(interrupt),
    };
    let color = use_color();
    let mut log = String::new();
    let outcome = {
        let mut stderr_diags = RunDiagnosticPrinter {
            program: &program,
            color,
        };
        let mut recorder = LogRecorder {
            keep: args.plot.is_some(),
            log: &mut log,
        };
        match args.format {
            Format::Jsonl => {
                let stdout = std::io::stdout();
                let mut jsonl = nnt::report::jsonl::JsonlObserver::new(stdout);
                let mut tee = Tee(vec![&mut jsonl, &mut stderr_diags, &mut recorder]);
                nnt::train::run(&program, &opts, &mut tee)
            }
            Format::Text => {
                let stdout = std::io::stdout();
                let options = nnt::report::text::TextOptions::detect(args.timings);
                let mut text = nnt::report::text::TextObserver::new(stdout, options)
                    .saving_to(program.save.as_ref().map(|p| p.display().to_string()));
                let mut tee = Tee(vec![&mut text, &mut recorder]);
                nnt::train::run(&program, &opts, &mut tee)
            }
        }
    };
    let _ = std::io::stdout().flush();
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            eprint_diagnostic(&e, color);
            return EXIT_INVALID;
        }
    };
    if let Some(out) = &args.plot {
        let title = program.source.name.clone();
        if let Err(code) = write_plot(&log, &title, out) {
            return code;
        }
    }
    match outcome.end.reason {
        EndReason::Diverged => EXIT_DIVERGED,
        EndReason::Interrupted => 130,
        EndReason::Completed | EndReason::EarlyStop => 0,
    }
}

fn cmd_predict(args: &PredictArgs) -> u8 {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let result = nnt::cli::predict::run(
        &args.model,
        &args.data,
        args.output.as_deref(),
        &args.keep,
        &mut out,
    );
    drop(out);
    match result {
        Ok(summary) => {
            if summary.unseen_categories > 0 {
                eprintln!(
                    "warning[nnt::predict::unseen_category]: {} cell(s) held a category the train split does not have (encoded as all zeros)",
                    summary.unseen_categories
                );
            }
            0
        }
        Err(e) => {
            eprint_diagnostic(&e, use_color());
            EXIT_INVALID
        }
    }
}

fn cmd_eval(args: &EvalArgs) -> u8 {
    match nnt::cli::eval::run(&args.model, &args.data) {
        Ok(report) => {
            let loss = report.loss_function;
            match args.format {
                EvalFormat::Text => print!("{}", report.text(&loss)),
                EvalFormat::Json => println!("{}", report.json(&loss)),
            }
            0
        }
        Err(e) => {
            eprint_diagnostic(&e, use_color());
            EXIT_INVALID
        }
    }
}

fn cmd_plot(args: &PlotArgs) -> u8 {
    let log = match std::fs::read_to_string(&args.log) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", args.log.display());
            return EXIT_INVALID;
        }
    };
    let title = title_from_log(&log).unwrap_or_else(|| args.log.display().to_string());
    match write_plot(&log, &title, &args.output) {
        Ok(()) => 0,
        Err(code) => code,
    }
}

fn cmd_export_torch(args: &ExportTorchArgs) -> u8 {
    let program = match load_program(&args.recipe, None) {
        Ok(p) => p,
        Err(code) => return code,
    };
    match nnt::cli::export_torch::export(&program, &args.output) {
        Ok(files) => {
            for f in files {
                eprintln!("wrote {}", f.display());
            }
            0
        }
        Err(e) => {
            eprint_diagnostic(&e, use_color());
            EXIT_INVALID
        }
    }
}

fn cmd_fmt(args: &FmtArgs) -> u8 {
    let mut status = 0;
    for path in &args.recipes {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", path.display());
                status = status.max(EXIT_INVALID);
                continue;
            }
        };
        let name = path.display().to_string();
        let formatted = match nnt::fmt::format_recipe(&name, &bytes) {
            Ok(s) => s,
            Err(diag) => {
                eprint_diagnostic(diag.as_ref(), use_color());
                status = status.max(EXIT_INVALID);
                continue;
            }
        };
        if formatted.as_bytes() == bytes.as_slice() {
            continue;
        }
        if args.check {
            println!("would reformat {name}");
            status = status.max(1);
        } else if let Err(e) = nnt::io::atomic::write_atomic(path, formatted.as_bytes()) {
            eprintln!("error: cannot write {name}: {e}");
            status = status.max(EXIT_INVALID);
        } else {
            println!("formatted {name}");
        }
    }
    status
}

// ------------------------------------------------------------------ helpers

/// Reads and checks a recipe; prints its diagnostics. `Err` holds the exit status.
fn load_program(args: &RecipeArgs, save: Option<PathBuf>) -> Result<Program, u8> {
    let color = use_color();
    let bytes = match std::fs::read(&args.recipe) {
        Ok(b) => b,
        Err(e) => {
            eprintln!(
                "error[nnt::cli::unreadable_recipe]: cannot read {}: {e}",
                args.recipe.display()
            );
            return Err(EXIT_USAGE);
        }
    };
    let dir = recipe_dir(&args.recipe);
    let opts = nnt::check::CheckOptions {
        overrides: args.set.clone(),
        seed: args.seed,
        save,
    };
    let name = args.recipe.display().to_string();
    let report = nnt::check::check_recipe(&name, &bytes, &dir, &opts);
    for w in &report.warnings {
        eprint_diagnostic(w.as_ref(), color);
    }
    for e in &report.errors {
        eprint_diagnostic(e.as_ref(), color);
    }
    match report.program {
        Some(p) if report.errors.is_empty() => Ok(p),
        _ => {
            let n = report.errors.len();
            eprintln!("{name}: {n} error{}", if n == 1 { "" } else { "s" });
            Err(EXIT_INVALID)
        }
    }
}

fn recipe_dir(recipe: &Path) -> PathBuf {
    match recipe.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn use_color() -> bool {
    std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal()
}

fn handler(color: bool) -> GraphicalReportHandler {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    GraphicalReportHandler::new_themed(theme).with_links(false)
}

fn eprint_diagnostic(diag: &dyn Diagnostic, color: bool) {
    let mut out = String::new();
    if handler(color).render_report(&mut out, diag).is_err() {
        out = format!("{diag}\n");
    }
    eprint!("{out}");
}

fn write_plot(log: &str, title: &str, out: &Path) -> Result<(), u8> {
    let is_png = out
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("png"));
    let bytes = if is_png {
        nnt::report::plot::render_png(log, title)
    } else {
        nnt::report::plot::render_svg(log, title).map(String::into_bytes)
    };
    let bytes = match bytes {
        Ok(b) => b,
        Err(e) => {
            eprint_diagnostic(&e, use_color());
            return Err(EXIT_INVALID);
        }
    };
    nnt::io::atomic::write_atomic(out, &bytes).map_err(|e| {
        eprintln!("error: cannot write {}: {e}", out.display());
        EXIT_INVALID
    })
}

fn title_from_log(log: &str) -> Option<String> {
    let first = log.lines().next()?;
    let v: serde_json::Value = serde_json::from_str(first).ok()?;
    v.get("recipe")?.as_str().map(str::to_owned)
}

/// Sends every event to several observers.
struct Tee<'a>(Vec<&'a mut (dyn Observer + Send)>);

impl Observer for Tee<'_> {
    fn event(&mut self, event: &Event) {
        for o in self.0.iter_mut() {
            o.event(event);
        }
    }
    fn step(&mut self, epoch: usize, step: usize, steps: usize, loss: f64) {
        for o in self.0.iter_mut() {
            o.step(epoch, step, steps, loss);
        }
    }
}

/// Keeps the JSONL form of the log in memory for `--plot`.
struct LogRecorder<'a> {
    keep: bool,
    log: &'a mut String,
}

impl Observer for LogRecorder<'_> {
    fn event(&mut self, event: &Event) {
        if self.keep {
            self.log.push_str(&nnt::report::jsonl::event_line(event));
            self.log.push('\n');
        }
    }
}

/// In JSONL mode stdout holds only JSON; run-time diagnostics are also shown on
/// stderr as miette warnings pointing at the layer's line in the recipe. (In text
/// mode the text view shows them in the log itself.)
struct RunDiagnosticPrinter<'a> {
    program: &'a Program,
    color: bool,
}

impl Observer for RunDiagnosticPrinter<'_> {
    fn event(&mut self, event: &Event) {
        if let Event::Diagnostic(d) = event {
            let diag = run_diagnostic(self.program, d);
            let report = miette::Report::new(diag).with_source_code(miette::NamedSource::new(
                self.program.source.name.clone(),
                self.program.source.text.to_string(),
            ));
            eprint_diagnostic(report.as_ref(), self.color);
        }
    }
}

fn run_diagnostic(program: &Program, d: &RunDiagnostic) -> MietteDiagnostic {
    let severity = match d.severity {
        nnt::events::Severity::Warning => miette::Severity::Warning,
        nnt::events::Severity::Error => miette::Severity::Error,
    };
    let mut diag = MietteDiagnostic::new(d.message.clone())
        .with_code(d.code)
        .with_severity(severity);
    if let Some(help) = &d.help {
        diag = diag.with_help(help.clone());
    }
    if let Some(layer) = d
        .layer
        .and_then(|i| program.model.layers.iter().find(|l| l.index == i))
    {
        let where_ = match d.step {
            Some(s) => format!(
                "layer {} ({}), epoch {}, step {s}",
                layer.index,
                layer.kind.name(),
                d.epoch
            ),
            None => format!(
                "layer {} ({}), epoch {}",
                layer.index,
                layer.kind.name(),
                d.epoch
            ),
        };
        diag = diag.with_label(LabeledSpan::at(layer.span, where_));
    }
    diag
}
