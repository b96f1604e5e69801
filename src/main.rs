//! The `nnt` command line (ripgrep's shape). [`run`] parses the arguments and runs
//! a command; every command returns `Result<Status, CliError>`. `main` only shows
//! the error's diagnostic, if any, and maps the status to the exit code
//! ([`nnt::cli::exit::Status`] names each one).
//!
//! Every diagnostic is rendered by [`nnt::report::diagnostic::Renderer`], which
//! also decides colour (`NO_COLOR`, a terminal); with `data`, `io` and `cli` this
//! is one of the only places that touch files.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use miette::Diagnostic;

use nnt::cli::exit::{CliError, Status};
use nnt::cli::files::{plot_format, read_log, read_recipe, PlotFormat};
use nnt::cli::output::{GenerationError, Stdout};
use nnt::events::EndReason;
use nnt::ir::Program;
use nnt::report::diagnostic::Renderer;
use nnt::report::observers::{LogRecorder, RunDiagnosticPrinter, Tee};
use nnt::report::paced::PACE;

/// Large blocks (parameters, gradients, data, faer's packing buffers) on
/// transparent huge pages: `nnt::memory`.
#[global_allocator]
static ALLOCATOR: nnt::memory::HugePages = nnt::memory::HugePages;

/// What a command returns.
type Outcome = Result<Status, CliError>;

#[derive(Parser, Debug)]
#[command(
    name = "nnt",
    version = nnt::cli::version::text(),
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
        after_help = "Examples:\n  nnt run examples/iris.nnt\n  nnt run examples/iris.nnt --format jsonl > log.jsonl\n  nnt run examples/iris.nnt --seed 3 --set 'optimizer=sgd(lr = 0.1)' --set train.epochs=5\n  nnt run examples/iris.nnt --save weights.safetensors --plot loss.svg\n\nExit status: 0 success, 1 invalid recipe or data, 2 usage error, 3 training diverged, 4 an expectation was not met."
    )]
    Run(RunArgs),
    /// Parse and check a recipe, reading and validating its data, without training.
    #[command(
        after_help = "Examples:\n  nnt check examples/iris.nnt\n  nnt check examples/iris.nnt --format json     # one JSON object per diagnostic\n  nnt check examples/iris.nnt --format github   # GitHub Actions annotations\n\nExit status: 0 when the recipe is valid (warnings allowed), 1 when it is not."
    )]
    Check(CheckArgs),
    /// Show the plan: layers, shapes, parameters, rows, batches and learning rates (of a recipe, or of a saved .safetensors model with its data schema).
    #[command(
        after_help = "Examples:\n  nnt explain examples/iris.nnt\n  nnt explain iris.safetensors",
        mut_arg("recipe", |a| a
            .help("The recipe file, or a model file written by `save` or `--save`")
            .add(nnt::cli::complete::recipes_and_models()))
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
    /// Draw the loss (and accuracy) curves of JSONL logs as SVG or PNG.
    #[command(
        after_help = "Examples:\n  nnt run examples/iris.nnt --format jsonl > log.jsonl\n  nnt plot log.jsonl -o loss.svg\n  nnt plot sweep/run-*/log.jsonl -o compare.png --log-y"
    )]
    Plot(PlotArgs),
    /// Train a recipe once per combination of values; resumable, parallel, shardable.
    #[command(
        after_help = "Examples:\n  nnt sweep r.nnt --grid 'optimizer.lr=[0.1, 0.01]' --grid 'model.0.units=[32, 64]' -o sweep\n  nnt sweep r.nnt --grid 'optimizer.lr=[0.1, 0.03, 0.01]' --random 2 --jobs 2 -o sweep\n  nnt sweep r.nnt --grid 'optimizer.lr=[0.1, 0.01]' --shard 0/2 -o sweep   # one job of an array\n  nnt sweep --summarize sweep\n\nRun k lives in DIR/run-k/ (recipe.nnt, log.jsonl, the model when saved); complete runs are\nskipped, so an interrupted sweep resumes. See docs/experiments.md for Slurm and Kubernetes."
    )]
    Sweep(SweepArgs),
    /// Rewrite recipes in canonical layout, keeping comments.
    #[command(
        after_help = "Examples:\n  nnt fmt examples/iris.nnt\n  nnt fmt --check examples/*.nnt   # exit 1 when a file would change"
    )]
    Fmt(FmtArgs),
    /// Run the language server on stdio, for editors (diagnostics, hover, completion, formatting).
    #[command(
        after_help = "Started by an editor, not by hand; see docs/editors.md.\n\nExit status: 0 after an LSP `shutdown` request and `exit`, 1 otherwise."
    )]
    Lsp,
    /// Print the manual page (roff): `nnt man | gzip > /usr/local/share/man/man1/nnt.1.gz`.
    #[command(hide = true)]
    Man,
    /// Run recipes and compare what they print with their stored snapshots.
    #[command(
        after_help = "Examples:\n  nnt test                      # every recipe under the current directory\n  nnt test examples --update    # write missing and changed snapshots\n  nnt test --tolerance 1e-6 --junit report.xml\n\nExit status: 0 when every recipe passes (or with --update), 1 when one fails, 2 usage error, 130 interrupted (Ctrl-C, SIGTERM: the running recipes are stopped and not compared)."
    )]
    Test(nnt::cli::test::TestArgs),
    /// Print a shell completion script.
    #[command(
        after_help = "The script calls back into `nnt` on every TAB, so `nnt` must be on the PATH.\n\nExamples:\n  nnt completions bash > ~/.local/share/bash-completion/completions/nnt\n  source <(nnt completions zsh)   # in ~/.zshrc, after compinit\n  nnt completions fish > ~/.config/fish/completions/nnt.fish"
    )]
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
    #[arg(value_hint = clap::ValueHint::FilePath, add = nnt::cli::complete::recipes())]
    recipe: PathBuf,
    /// Override a setting in recipe syntax: `seed=3`, `train.epochs=5`, `optimizer.lr=0.01`, `model.0.units=64`.
    #[arg(long = "set", value_name = "KEY=VALUE", value_hint = clap::ValueHint::Other, add = nnt::cli::complete::setting_keys())]
    set: Vec<String>,
    /// The seed of the random generator (same as `--set seed=N`).
    #[arg(long, value_name = "N", value_hint = clap::ValueHint::Other)]
    seed: Option<u64>,
}

#[derive(clap::Args, Debug)]
struct CheckArgs {
    #[command(flatten)]
    recipe: RecipeArgs,
    /// Output format: rendered text on stderr, or JSON lines / GitHub Actions commands on stdout.
    #[arg(long, value_enum, default_value = "text")]
    format: nnt::cli::check::CheckFormat,
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    #[command(flatten)]
    recipe: RecipeArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Write the final (or, with early_stop, the best) parameters here, as safetensors.
    #[arg(long, value_name = "PATH", value_hint = clap::ValueHint::FilePath, add = nnt::cli::complete::weights())]
    save: Option<PathBuf>,
    /// Continue from a checkpoint written by this recipe's `checkpoint` section
    /// (a relative path is relative to the current directory, not the recipe).
    #[arg(long, value_name = "CKPT", value_hint = clap::ValueHint::FilePath, add = nnt::cli::complete::weights())]
    resume: Option<PathBuf>,
    /// Add wall-clock seconds and steps per second to the log.
    #[arg(long)]
    timings: bool,
    /// Also draw the loss curves into this SVG or PNG file.
    #[arg(long, value_name = "OUT")]
    plot: Option<PathBuf>,
    /// Also write the JSONL log to FILE (written whole when the run ends).
    #[arg(long, value_name = "FILE")]
    log: Option<PathBuf>,
    /// Threads to train on (default: every core, used while they help: a run
    /// on a busy machine measures and goes on alone). The log is the same for any N.
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    threads: Option<String>,
}

#[derive(clap::Args, Debug)]
struct PredictArgs {
    /// A model file written by `save` or `--save`.
    #[arg(value_hint = clap::ValueHint::FilePath, add = nnt::cli::complete::weights())]
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
    #[arg(value_hint = clap::ValueHint::FilePath, add = nnt::cli::complete::weights())]
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
        #[arg(value_hint = clap::ValueHint::FilePath, add = nnt::cli::complete::weights())]
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
    /// JSONL logs written by `nnt run --format jsonl` or `--log`; several share one picture.
    #[arg(required = true, value_name = "LOG")]
    logs: Vec<PathBuf>,
    /// The picture to write: `.svg` or `.png`.
    #[arg(short, long, value_name = "OUT")]
    output: PathBuf,
    /// Draw losses on a logarithmic axis.
    #[arg(long)]
    log_y: bool,
}

#[derive(clap::Args, Debug)]
struct SweepArgs {
    /// The recipe file.
    #[arg(required_unless_present = "summarize", value_hint = clap::ValueHint::FilePath, add = nnt::cli::complete::recipes())]
    recipe: Option<PathBuf>,
    /// Values of one key, in recipe syntax: `optimizer.lr=[0.1, 0.01]`; the last grid varies fastest.
    #[arg(long, value_name = "KEY=LIST", required_unless_present = "summarize")]
    grid: Vec<String>,
    /// Override a setting in every run (as in `nnt run`).
    #[arg(long = "set", value_name = "KEY=VALUE", value_hint = clap::ValueHint::Other, add = nnt::cli::complete::setting_keys())]
    set: Vec<String>,
    /// Run N combinations drawn with the recipe's seed instead of all of them.
    #[arg(long, value_name = "N")]
    random: Option<usize>,
    /// Runs at once.
    #[arg(long, value_name = "J", default_value_t = 1)]
    jobs: usize,
    /// Run only the runs k with k mod N = I (one job of a cluster's job array).
    #[arg(long, value_name = "I/N", value_parser = nnt::cli::sweep::parse_shard)]
    shard: Option<(usize, usize)>,
    /// The sweep's folder.
    #[arg(short, long, value_name = "DIR", required_unless_present = "summarize")]
    output: Option<PathBuf>,
    /// Only rebuild DIR/summary.csv and the ranked table from the complete runs in DIR.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["recipe", "grid", "set", "random", "shard", "output"])]
    summarize: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
struct FmtArgs {
    /// The recipes to format in place.
    #[arg(required = true, value_hint = clap::ValueHint::FilePath, add = nnt::cli::complete::recipes())]
    recipes: Vec<PathBuf>,
    /// Only report files that would change; exit 1 if any would.
    #[arg(long)]
    check: bool,
}

fn main() -> ExitCode {
    // With `COMPLETE=SHELL` set (by the script of `nnt completions`), answer a TAB and exit.
    clap_complete::CompleteEnv::with_factory(Cli::command).complete();
    let status = match run() {
        Ok(status) => status,
        Err(e) => {
            if let Some(d) = e.diagnostic() {
                show(d);
            }
            e.status()
        }
    };
    status.into()
}

/// Parses the command line and runs the command.
fn run() -> Outcome {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() => {
            // clap's own rendering of a usage error, on stderr, under the code
            // every usage error carries.
            nnt::cli::output::eprint("nnt::cli::usage\n\n");
            let _ = e.print();
            return Ok(Status::Usage);
        }
        Err(e) => {
            // `--help`, `--version`: written like any other output, so that a
            // full disk or a broken stdout is `nnt::io::stdout_failed`, not a
            // silent success (a closed pipe stays a success).
            use std::io::IsTerminal;
            let text = e.render();
            let text = if std::io::stdout().is_terminal() {
                text.ansi().to_string()
            } else {
                text.to_string()
            };
            let mut out = Stdout::new();
            out.print(&text);
            return finish_stdout(out, Status::Success);
        }
    };
    match cli.command {
        Command::Run(args) => cmd_run(args),
        Command::Check(args) => cmd_check(&args),
        Command::Explain(args) => cmd_explain(&args),
        Command::Predict(args) => cmd_predict(&args),
        Command::Eval(args) => cmd_eval(&args),
        Command::Export(ExportCommand::Onnx { model, output }) => {
            nnt::cli::export_onnx::run(&model, &output).map_err(CliError::failure)?;
            Ok(Status::Success)
        }
        Command::Export(ExportCommand::Torch(args)) => cmd_export_torch(&args),
        Command::Plot(args) => cmd_plot(&args),
        Command::Sweep(args) => cmd_sweep(args),
        Command::Fmt(args) => cmd_fmt(&args),
        Command::Lsp => match nnt::cli::lsp::run_stdio() {
            Ok(0) => Ok(Status::Success),
            Ok(_) => Ok(Status::Failure),
            Err(source) => Err(CliError::new(
                nnt::cli::output::StdoutError { source },
                Status::Failure,
            )),
        },
        Command::Man => {
            // Generated in memory, then written like any other output.
            let mut page = Vec::new();
            nnt::cli::version::man_page(Cli::command(), &mut page).map_err(|source| {
                CliError::failure(GenerationError {
                    what: "the manual page",
                    source,
                })
            })?;
            let mut out = Stdout::new();
            out.write_bytes(&page);
            finish_stdout(out, Status::Success)
        }
        Command::Test(args) => nnt::cli::test::main(
            &args,
            &mut std::io::stdout(),
            nnt::cli::child::Interrupt::on_signals(),
        ),
        Command::Completions { shell } => {
            // Generated in memory: a failed write must not panic or leave half a script.
            let mut script = Vec::new();
            nnt::cli::complete::write_registration(shell, &mut script).map_err(|source| {
                CliError::usage(GenerationError {
                    what: "the completion script",
                    source,
                })
            })?;
            let mut out = Stdout::new();
            out.write_bytes(&script);
            finish_stdout(out, Status::Success)
        }
    }
}

// ------------------------------------------------------------------ commands

fn cmd_check(args: &CheckArgs) -> Outcome {
    if args.format != nnt::cli::check::CheckFormat::Text {
        let r = &args.recipe;
        return nnt::cli::check::main(&r.recipe, &r.set, r.seed, args.format);
    }
    let args = &args.recipe;
    let (program, data_files) = load_program(args, None)?;
    let opts = nnt::train::RunOptions {
        inputs: nnt::cli::check::run_inputs(&args.recipe, data_files),
        ..Default::default()
    };
    check_files(args, false, &program, &opts)?;
    Ok(Status::Success)
}

/// The recipe's files as a run would find them, without writing any
/// (`nnt::cli::check::file_problems`), shown at the recipe's line as the
/// checker's errors are.
fn check_files(
    args: &RecipeArgs,
    save_option: bool,
    program: &Program,
    opts: &nnt::train::RunOptions,
) -> Result<(), CliError> {
    let given = (args.set.as_slice(), save_option);
    let problems = nnt::cli::check::file_problems(program, opts, given);
    if problems.is_empty() {
        return Ok(());
    }
    for e in &problems {
        show(e.as_ref());
    }
    let name = &program.source.name;
    let n = problems.len();
    let errors = if n == 1 { "error" } else { "errors" };
    nnt::cli::output::eprint(&format!("{name}: {n} {errors}\n"));
    Err(CliError::Reported(Status::Failure))
}

fn cmd_explain(args: &RecipeArgs) -> Outcome {
    let text = if nnt::cli::explain_model::is_model_path(&args.recipe) {
        nnt::cli::explain_model::explain(&args.recipe).map_err(CliError::failure)?
    } else {
        let (program, _) = load_program(args, None)?;
        nnt::report::explain::explain(&program)
    };
    // Column and class names come from data files: their control characters
    // (a terminal's escape sequences) are shown escaped, as in diagnostics.
    let mut out = Stdout::new();
    out.print(&nnt::report::diagnostic::printable(&text));
    finish_stdout(out, Status::Success)
}

fn cmd_run(args: RunArgs) -> Outcome {
    let threads = args
        .threads
        .as_deref()
        .map(nnt::cli::options::threads)
        .transpose()
        .map_err(CliError::usage)?;
    let plot_format = args
        .plot
        .as_deref()
        .map(plot_format)
        .transpose()
        .map_err(CliError::usage)?;
    let (program, data_files) = load_program(&args.recipe, args.save.clone())?;
    // Ctrl-C, SIGTERM or SIGHUP stops training after the current step; a
    // second signal (not the same one delivered twice) ends the run at once.
    let interrupt = nnt::cli::child::Interrupt::on_signals();
    // A run of `nnt sweep` or `nnt test` stops, as on SIGTERM, when the parent
    // that started it is killed outright.
    nnt::cli::child::follow_parent(&interrupt);
    let interrupt = interrupt.flag();
    let opts = nnt::train::RunOptions {
        resume: args.resume.clone(),
        timings: args.timings,
        interrupt: Some(interrupt),
        inputs: nnt::cli::check::run_inputs(&args.recipe.recipe, data_files),
        outputs: args
            .plot
            .iter()
            .map(|p| ("plot".to_string(), p.clone()))
            .chain(args.log.iter().map(|p| ("log".to_string(), p.clone())))
            .collect(),
        threads,
    };
    check_files(&args.recipe, args.save.is_some(), &program, &opts)?;
    // The data's preparation is done: its freed working copies go back to the
    // kernel instead of staying resident through training.
    nnt::memory::return_free_heap();
    let mut log = String::new();
    let (outcome, log_error) = {
        let mut stderr_diags = RunDiagnosticPrinter {
            program: &program,
            renderer: Renderer::stderr(),
            out: std::io::stderr(),
        };
        let mut recorder = LogRecorder {
            keep: args.plot.is_some() || args.log.is_some(),
            log: &mut log,
        };
        match args.format {
            // Into a pipe or a file the epoch lines go on at a pace, not one
            // write a line (nnt::report::paced); a terminal sees each at once.
            Format::Jsonl => {
                let stdout = std::io::stdout();
                let mut jsonl = if stdout.is_terminal() {
                    nnt::report::jsonl::JsonlObserver::new(stdout)
                } else {
                    nnt::report::jsonl::JsonlObserver::paced(stdout, PACE)
                };
                let mut tee = Tee(vec![&mut jsonl, &mut stderr_diags, &mut recorder]);
                let outcome = nnt::train::run(&program, &opts, &mut tee);
                (outcome, jsonl.finish())
            }
            Format::Text => {
                let stdout = std::io::stdout();
                let options = nnt::report::text::TextOptions::detect(args.timings);
                let text = if stdout.is_terminal() {
                    nnt::report::text::TextObserver::new(stdout, options)
                } else {
                    nnt::report::text::TextObserver::paced(stdout, options, PACE)
                };
                let mut text =
                    text.saving_to(program.save.as_ref().map(|p| p.display().to_string()));
                let mut tee = Tee(vec![&mut text, &mut recorder]);
                let outcome = nnt::train::run(&program, &opts, &mut tee);
                (outcome, text.finish())
            }
        }
    };
    // A log that could not be written (a full disk, /dev/full) is an error; a
    // reader that went away (a closed pipe) is not.
    let log_error = log_error
        .or_else(|| std::io::stdout().flush().err())
        .filter(|e| !nnt::cli::output::is_closed_pipe(e));
    let outcome = outcome.map_err(CliError::failure)?;
    if let Some(path) = &args.log {
        nnt::io::atomic::write_file(path, log.as_bytes()).map_err(CliError::failure)?;
    }
    let mut status = match outcome.end.reason {
        EndReason::Diverged => Status::Diverged,
        EndReason::Interrupted => Status::Interrupted,
        EndReason::Completed | EndReason::EarlyStop if outcome.end.expectations_failed => {
            Status::ExpectationFailed
        }
        EndReason::Completed | EndReason::EarlyStop => Status::Success,
    };
    // A diverged or interrupted run is still plotted (up to where it stopped); a
    // plot that fails is reported but never hides the run's own status (3, 130).
    if let (Some(out), Some(format)) = (&args.plot, plot_format) {
        let title = program.source.name.clone();
        if let Err(e) = write_plot(&log, &title, out, format) {
            show_error(&e);
            if status == Status::Success {
                status = e.status();
            }
        }
    }
    if let Some(source) = log_error {
        show(&nnt::io::guard::IoError::LogWrite { source });
        if status == Status::Success {
            status = Status::Failure;
        }
    }
    Ok(status)
}

fn cmd_predict(args: &PredictArgs) -> Outcome {
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
    let summary = result.map_err(CliError::failure)?;
    if summary.unseen_categories > 0 {
        nnt::cli::output::eprint(&format!(
            "warning[nnt::predict::unseen_category]: {} cell(s) held a category the train split does not have (encoded as all zeros)\n",
            summary.unseen_categories
        ));
    }
    Ok(Status::Success)
}

fn cmd_eval(args: &EvalArgs) -> Outcome {
    let report = nnt::cli::eval::run(&args.model, &args.data).map_err(CliError::failure)?;
    let loss = report.loss_function;
    let text = match args.format {
        EvalFormat::Text => report.text(&loss),
        EvalFormat::Json => format!("{}\n", report.json(&loss)),
    };
    let mut out = Stdout::new();
    out.print(&text);
    finish_stdout(out, Status::Success)
}

fn cmd_plot(args: &PlotArgs) -> Outcome {
    let format = plot_format(&args.output).map_err(CliError::usage)?;
    let mut texts = Vec::new();
    for path in &args.logs {
        let text = read_log(path).map_err(|(e, status)| CliError::boxed(e, status))?;
        texts.push((path.display().to_string(), text));
    }
    let inputs: Vec<(&str, &Path)> = args.logs.iter().map(|p| ("log", p.as_path())).collect();
    nnt::io::guard::outputs_are_not_inputs(&[("picture", args.output.as_path())], &inputs)
        .map_err(CliError::failure)?;
    // A file holding several runs (logs written one after the other) is
    // drawn as that many series, named `FILE (run K)`.
    let mut runs: Vec<(String, &str)> = Vec::new();
    for (name, text) in &texts {
        let parts = nnt::report::plot::split_runs(text);
        let several = parts.len() > 1;
        for (k, part) in parts.into_iter().enumerate() {
            let shown = if several {
                format!("{name} (run {})", k + 1)
            } else {
                name.clone()
            };
            runs.push((shown, part));
        }
    }
    let title = match runs.as_slice() {
        [(name, log)] => title_from_log(log).unwrap_or_else(|| name.clone()),
        _ => String::new(),
    };
    let logs: Vec<nnt::report::plot::Log> = runs
        .iter()
        .map(|(name, text)| nnt::report::plot::Log { name, text })
        .collect();
    let opts = nnt::report::PlotOptions { log_y: args.log_y };
    let bytes = if format == PlotFormat::Png {
        nnt::report::render_png_logs(&logs, &title, &opts)
    } else {
        nnt::report::render_svg_logs(&logs, &title, &opts).map(String::into_bytes)
    }
    .map_err(CliError::failure)?;
    nnt::io::atomic::write_file(&args.output, &bytes).map_err(CliError::failure)?;
    Ok(Status::Success)
}

fn cmd_sweep(args: SweepArgs) -> Outcome {
    use nnt::cli::sweep;
    let print = |d: &dyn Diagnostic| show(d);
    if let Some(dir) = &args.summarize {
        let summary = sweep::summarize(dir).map_err(|e| CliError::boxed(e, Status::Failure))?;
        let mut out = Stdout::new();
        out.print(&summary.table(None));
        return finish_stdout(out, Status::Success);
    }
    // clap requires both unless `--summarize` is given.
    let (Some(recipe), Some(out)) = (args.recipe, args.output) else {
        return Ok(Status::Usage);
    };
    let opts = sweep::SweepOptions {
        recipe,
        grid: args.grid,
        set: args.set,
        random: args.random,
        jobs: args.jobs,
        shard: args.shard,
        out,
        progress: true,
        interrupt: nnt::cli::child::Interrupt::on_signals(),
    };
    Ok(sweep::sweep(&opts, &print))
}

fn cmd_export_torch(args: &ExportTorchArgs) -> Outcome {
    let (program, data_files) = load_program(&args.recipe, None)?;
    let inputs = nnt::cli::check::run_inputs(&args.recipe.recipe, data_files);
    let files = nnt::cli::export_torch::export(&program, &args.output, &inputs)
        .map_err(CliError::failure)?;
    for f in files {
        nnt::cli::output::eprint(&format!("wrote {}\n", f.display()));
    }
    Ok(Status::Success)
}

fn cmd_fmt(args: &FmtArgs) -> Outcome {
    let mut status = Status::Success;
    // A closed pipe stops the listing, never the formatting of the other files.
    let mut out = Stdout::new();
    for path in &args.recipes {
        // A file that cannot be read or formatted is reported; the others are formatted.
        let bytes = match read_recipe(path) {
            Ok(b) => b,
            Err(e) => {
                // A path that names no recipe is a usage error, as for every
                // other command (§12).
                show(e.as_ref());
                status = status.max(Status::Usage);
                continue;
            }
        };
        let name = path.display().to_string();
        let formatted = match nnt::cli::format::format_recipe(&name, &bytes) {
            Ok(s) => s,
            Err(diag) => {
                show(diag.as_ref());
                status = status.max(Status::Failure);
                continue;
            }
        };
        if formatted.as_bytes() == bytes.as_slice() {
            continue;
        }
        if args.check {
            out.print(&format!("would reformat {name}\n"));
            status = status.max(Status::Failure);
        } else if let Err(e) = nnt::io::atomic::write_file(path, formatted.as_bytes()) {
            show(&e);
            status = status.max(Status::Failure);
        } else {
            out.print(&format!("formatted {name}\n"));
        }
    }
    finish_stdout(out, status)
}

// ------------------------------------------------------------------ helpers

/// Reads and checks a recipe; shows its warnings and errors. `Ok` holds the
/// program and the data files it reads.
fn load_program(
    args: &RecipeArgs,
    save: Option<PathBuf>,
) -> Result<(Program, Vec<PathBuf>), CliError> {
    if let Some(e) = nnt::cli::options::conflict(&args.set, args.seed) {
        return Err(CliError::usage(e));
    }
    let bytes = read_recipe(&args.recipe).map_err(|e| CliError::boxed(e, Status::Usage))?;
    let dir = recipe_dir(&args.recipe);
    let opts = nnt::check::CheckOptions {
        overrides: args.set.clone(),
        grid: Vec::new(),
        seed: args.seed,
        save,
    };
    let name = args.recipe.display().to_string();
    let report = nnt::check::check_recipe(&name, &bytes, &dir, &opts);
    for w in &report.warnings {
        show(w.as_ref());
    }
    for e in &report.errors {
        show(e.as_ref());
    }
    match report.program {
        Some(p) if report.errors.is_empty() => Ok((p, report.data_files)),
        _ => {
            let n = report.errors.len();
            nnt::cli::output::eprint(&format!(
                "{name}: {n} error{}\n",
                if n == 1 { "" } else { "s" }
            ));
            Err(CliError::Reported(Status::Failure))
        }
    }
}

fn recipe_dir(recipe: &Path) -> PathBuf {
    match recipe.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Shows a diagnostic on stderr: the one renderer, colour as it decides.
fn show(diag: &dyn Diagnostic) {
    nnt::cli::output::eprint(&Renderer::stderr().render(diag));
}

/// Shows an error's diagnostic, if it still has one.
fn show_error(e: &CliError) {
    if let Some(d) = e.diagnostic() {
        show(d);
    }
}

/// The status once a command's output is done: `status`, or an
/// `nnt::io::stdout_failed` error when stdout failed (a closed pipe is quiet).
fn finish_stdout(out: Stdout, status: Status) -> Outcome {
    out.finish()
        .map_err(|e| CliError::new(e, status.max(Status::Failure)))?;
    Ok(status)
}

fn write_plot(log: &str, title: &str, out: &Path, format: PlotFormat) -> Result<(), CliError> {
    let bytes = if format == PlotFormat::Png {
        nnt::report::plot::render_png(log, title)
    } else {
        nnt::report::plot::render_svg(log, title).map(String::into_bytes)
    }
    .map_err(CliError::failure)?;
    nnt::io::atomic::write_file(out, &bytes).map_err(CliError::failure)
}

fn title_from_log(log: &str) -> Option<String> {
    let first = log.lines().next()?;
    let v: serde_json::Value = serde_json::from_str(first).ok()?;
    v.get("recipe")?.as_str().map(str::to_owned)
}
