//! The observers `nnt run` combines around the log it prints: [`Tee`] sends
//! every event to several observers, [`LogRecorder`] keeps the JSONL log in
//! memory (for `--plot` and `--log`), and [`RunDiagnosticPrinter`] shows the
//! run-time diagnostics as rendered diagnostics pointing into the recipe (in JSONL
//! mode, where stdout holds only JSON).

use std::io::Write;

use miette::{LabeledSpan, MietteDiagnostic};

use super::diagnostic::Renderer;
use crate::events::{Event, Observer, RunDiagnostic, Severity};
use crate::ir::Program;

/// Sends every event to several observers, in order.
pub struct Tee<'a>(pub Vec<&'a mut (dyn Observer + Send)>);

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

/// Keeps the JSONL form of the log (spec §10, one line per event) in memory,
/// when `keep` is set.
pub struct LogRecorder<'a> {
    pub keep: bool,
    pub log: &'a mut String,
}

impl Observer for LogRecorder<'_> {
    fn event(&mut self, event: &Event) {
        if self.keep {
            self.log.push_str(&super::jsonl::event_line(event));
            self.log.push('\n');
        }
    }
}

/// Writes each run-time diagnostic to `out` (stderr) as a rendered diagnostic
/// labelled at the layer's line in the recipe (or the `expect` item not met).
/// Write errors are ignored: there is nowhere left to report them.
pub struct RunDiagnosticPrinter<'a, W: Write> {
    pub program: &'a Program,
    pub renderer: Renderer,
    pub out: W,
}

impl<W: Write> Observer for RunDiagnosticPrinter<'_, W> {
    fn event(&mut self, event: &Event) {
        if let Event::Diagnostic(d) = event {
            let diag = run_diagnostic(self.program, d);
            let report = miette::Report::new(diag).with_source_code(super::excerpt::Excerpt::file(
                &self.program.source.name,
                std::sync::Arc::clone(&self.program.source.text),
            ));
            let text = self.renderer.render(report.as_ref());
            let _ = self
                .out
                .write_all(text.as_bytes())
                .and_then(|()| self.out.flush());
        }
    }
}

/// A run-time diagnostic as a miette diagnostic, labelled at what it is about.
pub fn run_diagnostic(program: &Program, d: &RunDiagnostic) -> MietteDiagnostic {
    let severity = match d.severity {
        Severity::Warning => miette::Severity::Warning,
        Severity::Error => miette::Severity::Error,
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
    } else if let Some(x) = d
        .expectation
        .and_then(|i| program.expect.get(i))
        .filter(|x| x.line.is_some())
    {
        diag = diag.with_label(LabeledSpan::at(x.span, "not met"));
    }
    diag
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{check_recipe, CheckOptions};

    const RECIPE: &str = "data { train = xor(n = 16, noise = 0.1) }\nmodel {\n    dense(4)\n    relu\n    dense(2)\n}\nloss = cross_entropy\noptimizer = sgd(lr = 0.1)\ntrain { epochs = 1; batch = full }\n";

    fn program() -> Program {
        let report = check_recipe(
            "xor.nnt",
            RECIPE.as_bytes(),
            std::path::Path::new("."),
            &CheckOptions::default(),
        );
        assert!(report.errors.is_empty());
        report.program.unwrap()
    }

    fn diagnostic(layer: Option<usize>, step: Option<usize>) -> RunDiagnostic {
        RunDiagnostic {
            severity: Severity::Warning,
            code: "nnt::train::dead_relu",
            epoch: 2,
            step,
            layer,
            line: None,
            expectation: None,
            message: "most units are dead".into(),
            help: Some("lower the learning rate".into()),
        }
    }

    /// Counts what it is sent.
    #[derive(Default)]
    struct Count {
        events: usize,
        steps: usize,
    }

    impl Observer for Count {
        fn event(&mut self, _: &Event) {
            self.events += 1;
        }
        fn step(&mut self, _: usize, _: usize, _: usize, _: f64) {
            self.steps += 1;
        }
    }

    #[test]
    fn tee_sends_every_event_and_step_to_each_observer() {
        let (mut a, mut b) = (Count::default(), Count::default());
        {
            let mut tee = Tee(vec![&mut a, &mut b]);
            tee.event(&Event::Diagnostic(diagnostic(None, None)));
            tee.step(1, 1, 2, 0.5);
            tee.step(1, 2, 2, 0.4);
        }
        for c in [a, b] {
            assert_eq!((c.events, c.steps), (1, 2));
        }
    }

    #[test]
    fn the_recorder_keeps_one_jsonl_line_per_event_only_when_asked() {
        let end = Event::Diagnostic(diagnostic(Some(0), None));
        let mut log = String::new();
        LogRecorder {
            keep: true,
            log: &mut log,
        }
        .event(&end);
        assert_eq!(log, format!("{}\n", crate::report::jsonl::event_line(&end)));
        let mut none = String::new();
        LogRecorder {
            keep: false,
            log: &mut none,
        }
        .event(&end);
        assert!(none.is_empty());
    }

    #[test]
    fn run_diagnostics_point_at_their_layer() {
        let p = program();
        let d = run_diagnostic(&p, &diagnostic(Some(1), Some(3)));
        let labels: Vec<LabeledSpan> = d.labels.clone().unwrap_or_default();
        assert_eq!(labels.len(), 1);
        assert_eq!(labels[0].label(), Some("layer 1 (relu), epoch 2, step 3"));
        let at = labels[0].offset();
        assert!(RECIPE[at..].starts_with("relu"), "{}", &RECIPE[at..]);
        // No layer: no label.
        assert!(run_diagnostic(&p, &diagnostic(None, None)).labels.is_none());
    }

    #[test]
    fn the_printer_renders_run_diagnostics_only() {
        let p = program();
        let mut out = Vec::new();
        let mut printer = RunDiagnosticPrinter {
            program: &p,
            renderer: Renderer::plain(),
            out: &mut out,
        };
        printer.event(&Event::Diagnostic(diagnostic(Some(0), None)));
        printer.step(1, 1, 1, 0.3);
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("nnt::train::dead_relu"), "{text}");
        assert!(text.contains("most units are dead"), "{text}");
        assert!(text.contains("xor.nnt:3:5"), "{text}");
        assert!(text.contains("layer 0 (dense), epoch 2"), "{text}");
    }
}
