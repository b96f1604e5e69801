//! The terminal view of a run (§10, issue 7): a live progress bar, one aligned
//! table row per epoch, readable diagnostics and a summary with the confusion
//! matrix.
//!
//! Without a terminal (piped, CI), or with `NO_COLOR` set, there is no bar, no
//! escape code and no carriage return: only plain lines, identical on every run
//! unless `--timings` is given.

use std::io::{self, IsTerminal, Write};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::number::human;
use super::paced::Paced;
use crate::events::{
    EndEvent, EndReason, EpochEvent, Event, Observer, RunDiagnostic, Severity, StartEvent,
};
use crate::ir::Metric;

/// How the text view may draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TextOptions {
    /// Draw a live progress bar (on stderr).
    pub tty: bool,
    /// Use ANSI colours.
    pub color: bool,
    /// Show the `time` column and the end's throughput (`--timings`).
    pub timings: bool,
}

impl TextOptions {
    /// For a run printing to stdout in this process: [`TextOptions::decide`]
    /// with `NO_COLOR` and whether stdout and stderr are terminals.
    pub fn detect(timings: bool) -> Self {
        Self::decide(
            std::env::var_os("NO_COLOR").as_deref(),
            io::stdout().is_terminal(),
            io::stderr().is_terminal(),
            timings,
        )
    }

    /// A bar when stdout and stderr are terminals and `NO_COLOR` (its value, if
    /// set) allows colour: with `NO_COLOR`, as piped, plain lines only (no escape
    /// code, no carriage return); colour as
    /// [`super::diagnostic::color_allowed`] decides for stdout.
    pub fn decide(
        no_color: Option<&std::ffi::OsStr>,
        stdout_terminal: bool,
        stderr_terminal: bool,
        timings: bool,
    ) -> Self {
        use super::diagnostic::color_allowed;
        TextOptions {
            tty: color_allowed(no_color, stdout_terminal && stderr_terminal),
            color: color_allowed(no_color, stdout_terminal),
            timings,
        }
    }
}

/// Renders events for people.
pub struct TextObserver<W: Write> {
    out: Paced<W>,
    opts: TextOptions,
    error: Option<io::Error>,
    bar: Option<ProgressBar>,
    start: Option<StartEvent>,
    columns: Option<Columns>,
    best_valid_loss: f64,
    last_draw: Option<Instant>,
    /// The epoch of the bar's text as last drawn.
    drawn_epoch: Option<usize>,
    /// The bar's position when its clock started: at the end of the first step
    /// this view saw (not 0 when resuming). The rate counts the steps after it.
    first_position: Option<u64>,
    /// Every epoch event so far (the summary names the kept epoch's values).
    epochs: Vec<EpochEvent>,
    /// Where the run saves its model (`save`, `--save`), for the summary.
    saved_to: Option<String>,
}

/// Which columns the epoch table has (decided by the first epoch event).
#[derive(Debug, Clone)]
struct Columns {
    accuracy: bool,
    valid: bool,
    penalty: bool,
    time: bool,
    epoch_width: usize,
    /// The valid metrics of §15, in the order logged.
    metrics: Vec<Metric>,
}

/// How often the bar's text is refreshed: formatting it every step would cost more
/// than a small network's step. It is also refreshed at the last step of every
/// epoch and at the first step of the next, so a short run's bar is never stale.
const REDRAW: Duration = Duration::from_millis(100);

/// How long the bar's clock runs before it shows a rate: a rate over the first
/// microseconds of a run (one step over 0.2 µs: "3215434 steps/s") means nothing.
const RATE_AFTER: Duration = Duration::from_millis(500);

impl<W: Write> TextObserver<W> {
    /// Every line passed on (and flushed) as it is written.
    pub fn new(out: W, opts: TextOptions) -> Self {
        Self::with_out(Paced::every_line(out), opts)
    }

    /// The epoch table's rows passed on at most `pace` apart while they come
    /// faster than that ([`super::paced`]); everything else at once. Call
    /// [`TextObserver::finish`] when the run is over.
    pub fn paced(out: W, opts: TextOptions, pace: Duration) -> Self {
        Self::with_out(Paced::at_pace(out, pace), opts)
    }

    fn with_out(out: Paced<W>, opts: TextOptions) -> Self {
        TextObserver {
            out,
            opts,
            error: None,
            bar: None,
            start: None,
            columns: None,
            best_valid_loss: f64::INFINITY,
            last_draw: None,
            drawn_epoch: None,
            first_position: None,
            epochs: Vec::new(),
            saved_to: None,
        }
    }

    /// The summary says where the model was saved (when the run finishes).
    pub fn saving_to(mut self, path: Option<String>) -> Self {
        self.saved_to = path;
        self
    }

    /// The first write error, if any (later output is dropped).
    pub fn error(&self) -> Option<&io::Error> {
        self.error.as_ref()
    }

    pub fn take_error(&mut self) -> Option<io::Error> {
        self.error.take()
    }

    /// Passes on what is held (a run that stopped without its end event) and
    /// returns the first write error, if any.
    pub fn finish(&mut self) -> Option<io::Error> {
        if self.error.is_none() {
            self.error = self.out.pass().err();
        }
        self.error.take()
    }

    pub fn into_inner(self) -> W {
        self.out.into_inner()
    }

    /// Writes lines and passes them on, with the bar (if any) hidden meanwhile.
    fn emit(&mut self, text: &str) {
        self.emit_paced(text, false);
    }

    /// Writes lines; a row of the epoch table (`row`) is passed on when its
    /// pace says (see [`TextObserver::paced`]), anything else at once.
    fn emit_paced(&mut self, text: &str, row: bool) {
        if self.error.is_some() {
            return;
        }
        let out = &mut self.out;
        let mut write = || {
            out.write_all(text.as_bytes())
                .and_then(|()| if row { out.flush() } else { out.pass() })
        };
        let result = match &self.bar {
            Some(bar) => bar.suspend(write),
            None => write(),
        };
        if let Err(e) = result {
            self.error = Some(e);
        }
    }

    fn paint(&self, text: &str, code: &str) -> String {
        if self.opts.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn on_start(&mut self, e: &StartEvent) {
        let mut rows = format!("{} train", e.train_rows);
        if let Some(v) = e.valid_rows {
            rows.push_str(&format!(", {v} valid"));
        }
        if let Some(t) = e.test_rows {
            rows.push_str(&format!(", {t} test"));
        }
        let line = format!(
            "{}: {} parameters, {} rows, seed {}\n",
            self.paint(&e.recipe, "1"),
            e.parameters,
            rows,
            e.seed
        );
        self.emit(&line);
        self.start = Some(e.clone());
        if self.opts.tty {
            let total = (e.epochs * e.steps_per_epoch) as u64;
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            let template = if self.opts.color {
                "{prefix:.bold} [{bar:16.cyan/blue}] {msg} eta {eta}"
            } else {
                "{prefix} [{bar:16}] {msg} eta {eta}"
            };
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_prefix(format!("epoch 1/{}", e.epochs));
            self.bar = Some(bar);
        }
    }

    fn on_epoch(&mut self, e: &EpochEvent) {
        self.epochs.push(e.clone());
        let columns = match self.columns.clone() {
            Some(c) => c,
            None => {
                let epochs = self
                    .start
                    .as_ref()
                    .map_or(e.epoch, |s| s.epochs.max(e.epoch));
                let c = Columns {
                    accuracy: e.train_accuracy.is_some(),
                    valid: e.valid_loss.is_some(),
                    penalty: e.penalty.is_some(),
                    time: self.opts.timings && e.seconds.is_some(),
                    epoch_width: epochs.to_string().len().max(5),
                    metrics: e.valid_metrics.iter().map(|(m, _)| *m).collect(),
                };
                self.columns = Some(c.clone());
                let header = self.header(&c);
                let header = self.paint(&header, "1");
                self.emit_paced(&format!("{header}\n"), true);
                c
            }
        };
        let mut line = format!("{:>w$}", e.epoch, w = columns.epoch_width);
        line.push_str(&format!("  {:>9}", human(e.lr, 4)));
        line.push_str(&format!("  {:>10}", loss(e.train_loss)));
        if columns.accuracy {
            line.push_str(&format!("  {:>9}", percent(e.train_accuracy)));
        }
        if columns.valid {
            let v = e.valid_loss.unwrap_or(f64::NAN);
            let cell = format!("  {:>10}", loss(v));
            // A new best valid loss is worth noticing.
            if v < self.best_valid_loss {
                self.best_valid_loss = v;
                line.push_str(&self.paint(&cell, "32"));
            } else {
                line.push_str(&cell);
            }
            if columns.accuracy {
                line.push_str(&format!("  {:>9}", percent(e.valid_accuracy)));
            }
            for m in &columns.metrics {
                let v = e
                    .valid_metrics
                    .iter()
                    .find(|(x, _)| x == m)
                    .map(|(_, v)| *v);
                line.push_str(&format!(
                    "  {:>w$}",
                    v.map_or("-".into(), metric),
                    w = metric_width(*m)
                ));
            }
        }
        if columns.penalty {
            line.push_str(&format!(
                "  {:>9}",
                e.penalty.map_or("-".into(), |p| human(p, 4))
            ));
        }
        if columns.time {
            line.push_str(&format!("  {:>8}", e.seconds.map_or("-".into(), seconds)));
        }
        line.push('\n');
        self.emit_paced(&line, true);
        if let (Some(bar), Some(s)) = (&self.bar, &self.start) {
            bar.set_position((e.epoch * s.steps_per_epoch) as u64);
            bar.set_prefix(format!(
                "epoch {}/{}",
                (e.epoch + 1).min(s.epochs),
                s.epochs
            ));
        }
    }

    fn header(&self, c: &Columns) -> String {
        let mut h = format!("{:>w$}", "epoch", w = c.epoch_width);
        h.push_str(&format!("  {:>9}  {:>10}", "lr", "train loss"));
        if c.accuracy {
            h.push_str(&format!("  {:>9}", "train acc"));
        }
        if c.valid {
            h.push_str(&format!("  {:>10}", "valid loss"));
            if c.accuracy {
                h.push_str(&format!("  {:>9}", "valid acc"));
            }
            for m in &c.metrics {
                h.push_str(&format!(
                    "  {:>w$}",
                    format!("valid {}", m.name()),
                    w = metric_width(*m)
                ));
            }
        }
        if c.penalty {
            h.push_str(&format!("  {:>9}", "penalty"));
        }
        if c.time {
            h.push_str(&format!("  {:>8}", "time"));
        }
        h
    }

    fn on_diagnostic(&mut self, d: &RunDiagnostic) {
        let (word, code) = match d.severity {
            Severity::Warning => ("warning", "33"),
            Severity::Error => ("error", "31"),
        };
        let mut at = format!("epoch {}", d.epoch);
        if let Some(step) = d.step {
            at.push_str(&format!(", step {step}"));
        }
        let mut text = format!(
            "{}[{}] {at}: {}\n",
            self.paint(word, &format!("1;{code}")),
            d.code,
            d.message
        );
        if d.layer.is_some() || d.line.is_some() {
            let recipe = self.start.as_ref().map_or("recipe", |s| s.recipe.as_str());
            let place = match d.line {
                Some(line) => format!("{recipe}:{line}"),
                None => recipe.to_string(),
            };
            let layer = d.layer.map_or(String::new(), |l| format!(" (layer {l})"));
            text.push_str(&format!("  --> {place}{layer}\n"));
        }
        if let Some(help) = &d.help {
            text.push_str(&format!("  {}: {help}\n", self.paint("help", "36")));
        }
        self.emit(&text);
    }

    fn on_end(&mut self, e: &EndEvent) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        let (reason, code) = match e.reason {
            EndReason::Completed => ("completed", "32"),
            EndReason::EarlyStop => ("stopped early", "33"),
            EndReason::Diverged => ("diverged", "31"),
            EndReason::Interrupted => ("interrupted", "33"),
        };
        let mut text = format!(
            "{} after {} {}",
            self.paint(reason, &format!("1;{code}")),
            e.epochs,
            if e.epochs == 1 { "epoch" } else { "epochs" }
        );
        if let Some(best) = e.best_epoch {
            text.push_str(&format!(", best epoch {best}"));
        }
        text.push('\n');
        // The kept epoch (the best one with early_stop, else the last), when the
        // run logs metrics or saves a model: what the saved model scored.
        let finished = matches!(e.reason, EndReason::Completed | EndReason::EarlyStop);
        let saved = self.saved_to.clone().filter(|_| finished);
        let kept_epoch = e.best_epoch.unwrap_or(e.epochs);
        let kept = self.epochs.iter().rev().find(|x| x.epoch == kept_epoch);
        if let Some(k) =
            kept.filter(|k| finished && (!k.valid_metrics.is_empty() || saved.is_some()))
        {
            let mut parts = Vec::new();
            if let Some(v) = k.valid_loss {
                parts.push(format!("valid loss {}", loss(v)));
            } else {
                parts.push(format!("train loss {}", loss(k.train_loss)));
            }
            if let Some(a) = k.valid_accuracy {
                parts.push(format!("valid accuracy {}", percent(Some(a))));
            }
            for (m, v) in &k.valid_metrics {
                parts.push(format!("valid {} {}", m.name(), metric(*v)));
            }
            let which = if e.best_epoch.is_some() {
                "best epoch"
            } else {
                "last epoch"
            };
            let restored = if e.best_epoch.is_some() && e.best_epoch != Some(e.epochs) {
                ", restored"
            } else {
                ""
            };
            text.push_str(&format!(
                "{which} {kept_epoch}: {}{restored}\n",
                parts.join(", ")
            ));
        }
        if let Some(l) = e.test_loss {
            text.push_str(&format!("test loss {}", loss(l)));
            if let Some(a) = e.test_accuracy {
                text.push_str(&format!(", test accuracy {}", percent(Some(a))));
            }
            for (m, v) in &e.test_metrics {
                text.push_str(&format!(", test {} {}", m.name(), metric(*v)));
            }
            text.push('\n');
        }
        if let Some(path) = &saved {
            text.push_str(&format!("model saved to {path}\n"));
        }
        if self.opts.timings {
            if let Some(s) = e.seconds {
                text.push_str(&format!("time {}", seconds(s)));
                if let Some(r) = e.steps_per_second {
                    text.push_str(&format!(", {} steps/s", human(r, 4)));
                }
                if let Some(t) = e.threads {
                    let s = if t == 1 { "" } else { "s" };
                    text.push_str(&format!(" on {t} thread{s}"));
                }
                text.push('\n');
            }
        }
        if let Some(matrix) = &e.confusion {
            let split = match &self.start {
                Some(s) if s.test_rows.is_some() => "test",
                _ => "valid",
            };
            // With early_stop the best epoch's parameters are the ones evaluated.
            let whose = match (e.best_epoch, e.reason) {
                (Some(best), EndReason::Completed | EndReason::EarlyStop) => {
                    format!(", with the parameters of best epoch {best}")
                }
                _ => String::new(),
            };
            text.push_str(&format!(
                "confusion matrix of the {split} split{whose} (rows: true class, columns: predicted)\n"
            ));
            let names = self.start.as_ref().and_then(|s| s.class_names.as_deref());
            text.push_str(&confusion_table(matrix, names));
        }
        self.emit(&text);
    }
}

impl<W: Write> Observer for TextObserver<W> {
    fn event(&mut self, event: &Event) {
        match event {
            Event::Start(e) => self.on_start(e),
            Event::Epoch(e) => self.on_epoch(e),
            Event::Diagnostic(d) => self.on_diagnostic(d),
            Event::End(e) => self.on_end(e),
        }
    }

    fn step(&mut self, epoch: usize, step: usize, steps_per_epoch: usize, running_loss: f64) {
        let Some(bar) = &self.bar else { return };
        let position = (epoch.saturating_sub(1) * steps_per_epoch + step) as u64;
        bar.set_position(position);
        if self.first_position.is_none() {
            // A resumed run starts mid-way: the jump from 0 is not progress, so the
            // eta (which read it as instant progress: "eta 0s") and the rate start
            // here (issue 11, item 21), at the end of this step.
            self.first_position = Some(position);
            bar.reset_eta();
            bar.reset_elapsed();
        }
        let now = Instant::now();
        let due = self.drawn_epoch != Some(epoch)
            || step >= steps_per_epoch
            || self
                .last_draw
                .is_none_or(|t| now.duration_since(t) >= REDRAW);
        if due {
            self.last_draw = Some(now);
            self.drawn_epoch = Some(epoch);
            let done = position.saturating_sub(self.first_position.unwrap_or(position));
            // The epoch of this step (the prefix said "epoch 1" until the first
            // epoch event of a resumed run).
            if let Some(s) = &self.start {
                bar.set_prefix(format!("epoch {epoch}/{}", s.epochs.max(epoch)));
            }
            bar.set_message(progress_message(
                step,
                steps_per_epoch,
                running_loss,
                done,
                bar.elapsed(),
            ));
        }
    }
}

/// The bar's text: the step, the running loss and, once the clock has run
/// [`RATE_AFTER`] and counted a step, the throughput over the run so far
/// (`done` steps in `elapsed`; indicatif's own rate prints four decimals: too
/// wide for an 80-column terminal).
fn progress_message(
    step: usize,
    steps_per_epoch: usize,
    running_loss: f64,
    done: u64,
    elapsed: Duration,
) -> String {
    let rate = if done > 0 && elapsed >= RATE_AFTER {
        format!(
            ", {} steps/s",
            human(done as f64 / elapsed.as_secs_f64(), 3)
        )
    } else {
        String::new()
    };
    format!(
        "step {step}/{steps_per_epoch}, loss {}{rate},",
        loss(running_loss)
    )
}

/// Losses with four decimals (aligned in the table), exponent form when tiny or
/// from 1e5 up (four decimals of 1234567 overflow the 10-character column).
fn loss(x: f64) -> String {
    if x.is_finite() && x != 0.0 && (x.abs() < 1e-3 || x.abs() >= 1e5) {
        format!("{x:.3e}")
    } else if x.is_finite() {
        format!("{x:.4}")
    } else {
        human(x, 4)
    }
}

/// A metric value with four decimals (`-` when not defined, e.g. auc of one class).
fn metric(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.4}")
    } else {
        "-".into()
    }
}

/// Width of a metric's table column: its header or a value, whichever is wider.
fn metric_width(m: Metric) -> usize {
    ("valid ".len() + m.name().len()).max(9)
}

fn percent(x: Option<f64>) -> String {
    x.map_or("-".into(), |a| format!("{:.1}%", a * 100.0))
}

fn seconds(s: f64) -> String {
    if s < 1.0 {
        format!("{:.0} ms", s * 1000.0)
    } else {
        format!("{s:.2} s")
    }
}

/// The confusion matrix headed by class names.
fn named_confusion_table(m: &[Vec<u64>], names: &[String]) -> String {
    let label = names.iter().map(|n| n.chars().count()).max().unwrap_or(1);
    let widths: Vec<usize> = names
        .iter()
        .enumerate()
        .map(|(c, n)| {
            m.iter()
                .filter_map(|r| r.get(c))
                .map(|v| v.to_string().len())
                .chain(std::iter::once(n.chars().count()))
                .max()
                .unwrap_or(1)
        })
        .collect();
    let mut s = format!("{:>label$}", "");
    for (n, w) in names.iter().zip(&widths) {
        s.push_str(&format!("  {n:>w$}"));
    }
    s.push('\n');
    for (row, name) in m.iter().zip(names) {
        s.push_str(&format!("{name:<label$}"));
        for (v, w) in row.iter().zip(&widths) {
            s.push_str(&format!("  {v:>w$}"));
        }
        s.push('\n');
    }
    s
}

/// The matrix with a header of predicted classes and a column of true classes
/// (class names when the labels were names, §14).
fn confusion_table(m: &[Vec<u64>], names: Option<&[String]>) -> String {
    if let Some(names) = names.filter(|n| n.len() == m.len()) {
        return named_confusion_table(m, names);
    }
    let classes = m.len();
    let width = m
        .iter()
        .flatten()
        .map(|v| v.to_string().len())
        .chain(std::iter::once(classes.to_string().len()))
        .max()
        .unwrap_or(1)
        .max(3);
    let label = classes.to_string().len().max(4);
    let mut s = format!("{:>label$}", "");
    for c in 0..m.first().map_or(0, Vec::len) {
        s.push_str(&format!(" {c:>width$}"));
    }
    s.push('\n');
    for (i, row) in m.iter().enumerate() {
        s.push_str(&format!("{i:>label$}"));
        for v in row {
            s.push_str(&format!(" {v:>width$}"));
        }
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A view drawing a bar, started for 10 epochs of 4 steps (`spe`).
    fn terminal_view(spe: usize) -> TextObserver<Vec<u8>> {
        let mut obs = TextObserver::new(
            Vec::new(),
            TextOptions {
                tty: true,
                color: false,
                timings: false,
            },
        );
        obs.on_start(&StartEvent {
            recipe: "r.nnt".into(),
            parameters: 1,
            train_rows: 8,
            valid_rows: None,
            test_rows: None,
            seed: 0,
            nnt: "0.2.0".into(),
            config: String::new(),
            dropped_rows: None,
            class_names: None,
            classes: None,
            epochs: 10,
            steps_per_epoch: spe,
        });
        obs
    }

    /// Issue 11, item 21: a resumed run's first step shows its own epoch, not
    /// "epoch 1", and does not count the steps before it as progress.
    #[test]
    fn a_resumed_run_shows_its_epoch() {
        let mut obs = terminal_view(4);
        obs.step(7, 1, 4, 0.5);
        let bar = obs.bar.as_ref().unwrap();
        assert_eq!(bar.prefix(), "epoch 7/10");
        assert_eq!(bar.position(), 25);
        assert_eq!(obs.first_position, Some(25));
        bar.finish_and_clear();
    }

    /// The first draw has no rate: its clock started at that very step (it
    /// showed one step over a fraction of a microsecond: "3215434 steps/s").
    #[test]
    fn the_first_draw_shows_no_rate() {
        let mut obs = terminal_view(8);
        obs.step(1, 1, 8, 1.8163);
        let bar = obs.bar.as_ref().unwrap();
        assert_eq!(bar.message(), "step 1/8, loss 1.8163,");
        bar.finish_and_clear();
    }

    /// A run shorter than the redraw interval still shows its last step at
    /// each epoch's end and the new epoch's first step (it stayed at "epoch 1
    /// step 1" for the whole run).
    #[test]
    fn the_bar_is_redrawn_at_each_epoch_end_and_start() {
        let mut obs = terminal_view(8);
        for step in 1..=8 {
            obs.step(1, step, 8, 1.0 / step as f64);
        }
        let bar = obs.bar.clone().unwrap();
        assert_eq!(bar.message(), "step 8/8, loss 0.1250,");
        obs.step(2, 1, 8, 0.5);
        assert_eq!(bar.message(), "step 1/8, loss 0.5000,");
        assert_eq!(bar.prefix(), "epoch 2/10");
        bar.finish_and_clear();
    }

    #[test]
    fn the_rate_waits_for_a_meaningful_clock() {
        let at = |done, elapsed| progress_message(3, 8, 1.0, done, elapsed);
        assert_eq!(at(1, Duration::from_nanos(200)), "step 3/8, loss 1.0000,");
        assert_eq!(at(0, Duration::from_secs(5)), "step 3/8, loss 1.0000,");
        assert_eq!(at(10, RATE_AFTER / 2), "step 3/8, loss 1.0000,");
        assert_eq!(
            at(10, Duration::from_secs(2)),
            "step 3/8, loss 1.0000, 5 steps/s,"
        );
        assert_eq!(
            at(1, Duration::from_secs(8)),
            "step 3/8, loss 1.0000, 0.125 steps/s,"
        );
    }
}
