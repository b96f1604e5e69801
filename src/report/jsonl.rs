//! `--format jsonl` (§10): exactly one JSON object per line, keys in the order of
//! the specification's examples, nothing else on the stream.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::number::json_number;
use super::paced::Paced;
use crate::events::{EndEvent, EpochEvent, Event, Observer, RunDiagnostic, StartEvent};

/// Writes each event as one JSON line and flushes it, so a pipe sees it at once;
/// [`JsonlObserver::paced`] passes epoch lines on at a pace instead
/// ([`super::paced`]).
///
/// A write error (a closed pipe) never panics: the first one is kept (see
/// [`JsonlObserver::error`]) and later events are dropped.
pub struct JsonlObserver<W: Write> {
    out: Paced<W>,
    error: Option<io::Error>,
}

impl<W: Write> JsonlObserver<W> {
    /// Every line passed on (and flushed) as it is written.
    pub fn new(out: W) -> Self {
        JsonlObserver {
            out: Paced::every_line(out),
            error: None,
        }
    }

    /// Epoch lines passed on at most `pace` apart while they come faster than
    /// that; the start, diagnostics and the end at once. Call
    /// [`JsonlObserver::finish`] when the run is over.
    pub fn paced(out: W, pace: std::time::Duration) -> Self {
        JsonlObserver {
            out: Paced::at_pace(out, pace),
            error: None,
        }
    }

    /// Passes on what is held (a run that stopped without its end event) and
    /// returns the first write error, if any.
    pub fn finish(&mut self) -> Option<io::Error> {
        if self.error.is_none() {
            self.error = self.out.pass().err();
        }
        self.error.take()
    }

    /// The first write error, if any.
    pub fn error(&self) -> Option<&io::Error> {
        self.error.as_ref()
    }

    /// Takes the first write error out, if any.
    pub fn take_error(&mut self) -> Option<io::Error> {
        self.error.take()
    }

    pub fn into_inner(self) -> W {
        self.out.into_inner()
    }
}

impl<W: Write> Observer for JsonlObserver<W> {
    fn event(&mut self, event: &Event) {
        if self.error.is_some() {
            return;
        }
        let mut line = event_line(event);
        line.push('\n');
        let out = &mut self.out;
        let result = out.write_all(line.as_bytes()).and_then(|()| match event {
            Event::Epoch(_) => out.flush(),
            _ => out.pass(),
        });
        if let Err(e) = result {
            self.error = Some(e);
        }
    }
}

/// The JSON object of one event, without the line end.
pub fn event_line(event: &Event) -> String {
    let mut o = Obj::new();
    match event {
        Event::Start(e) => start(&mut o, e),
        Event::Epoch(e) => epoch(&mut o, e),
        Event::Diagnostic(d) => diagnostic(&mut o, d),
        Event::End(e) => end(&mut o, e),
    }
    o.finish()
}

fn start(o: &mut Obj, e: &StartEvent) {
    o.str("event", "start");
    o.str("recipe", &e.recipe);
    o.int("parameters", e.parameters as u64);
    o.int("train_rows", e.train_rows as u64);
    o.opt_int("valid_rows", e.valid_rows.map(|v| v as u64));
    o.opt_int("test_rows", e.test_rows.map(|v| v as u64));
    o.int("seed", e.seed);
    o.opt_int("dropped_rows", e.dropped_rows.map(|v| v as u64));
    o.str("nnt", &e.nnt);
    o.str("config", &e.config);
}

fn epoch(o: &mut Obj, e: &EpochEvent) {
    o.str("event", "epoch");
    epoch_fields(o, e);
}

/// An epoch event's fields after `event` (also the end event's `best`).
fn epoch_fields(o: &mut Obj, e: &EpochEvent) {
    o.int("epoch", e.epoch as u64);
    o.num("lr", e.lr);
    o.num("train_loss", e.train_loss);
    o.opt_num("train_accuracy", e.train_accuracy);
    o.opt_num("valid_loss", e.valid_loss);
    o.opt_num("valid_accuracy", e.valid_accuracy);
    for (m, v) in &e.valid_metrics {
        o.num(m.valid_name(), *v);
    }
    o.opt_num("penalty", e.penalty);
    o.num("grad_norm", e.grad_norm);
    o.opt_num("seconds", e.seconds);
}

fn diagnostic(o: &mut Obj, d: &RunDiagnostic) {
    o.str("event", "diagnostic");
    o.str("severity", d.severity.as_str());
    o.str("code", d.code);
    o.int("epoch", d.epoch as u64);
    o.opt_int("step", d.step.map(|v| v as u64));
    o.opt_int("layer", d.layer.map(|v| v as u64));
    o.str("message", &d.message);
    if let Some(help) = &d.help {
        o.str("help", help);
    }
}

fn end(o: &mut Obj, e: &EndEvent) {
    o.str("event", "end");
    o.str("reason", e.reason.as_str());
    o.int("epochs", e.epochs as u64);
    o.opt_int("best_epoch", e.best_epoch.map(|v| v as u64));
    o.opt_num("test_loss", e.test_loss);
    o.opt_num("test_accuracy", e.test_accuracy);
    for (m, v) in &e.test_metrics {
        o.num(m.test_name(), *v);
    }
    if e.expectations_failed {
        o.str("expectations", "failed");
    }
    if let Some(matrix) = &e.confusion {
        o.key("confusion");
        o.buf.push('[');
        for (i, row) in matrix.iter().enumerate() {
            if i > 0 {
                o.buf.push(',');
            }
            o.buf.push('[');
            for (j, v) in row.iter().enumerate() {
                if j > 0 {
                    o.buf.push(',');
                }
                let _ = write!(o.buf, "{v}");
            }
            o.buf.push(']');
        }
        o.buf.push(']');
    }
    if let Some(best) = &e.best {
        o.key("best");
        let mut inner = Obj::new();
        epoch_fields(&mut inner, best);
        o.buf.push_str(&inner.finish());
    }
    if let Some(save) = &e.save {
        o.str("save", save);
    }
    o.opt_num("seconds", e.seconds);
    o.opt_num("steps_per_second", e.steps_per_second);
    if let Some(t) = e.threads {
        o.num("threads", t as f64);
    }
}

/// A JSON object written in key order, compact (no spaces), as in §10.
struct Obj {
    buf: String,
    first: bool,
}

impl Obj {
    fn new() -> Self {
        Obj {
            buf: String::from("{"),
            first: true,
        }
    }
    fn key(&mut self, k: &str) {
        if !self.first {
            self.buf.push(',');
        }
        self.first = false;
        self.buf.push_str(&json_string(k));
        self.buf.push(':');
    }
    fn str(&mut self, k: &str, v: &str) {
        self.key(k);
        self.buf.push_str(&json_string(v));
    }
    fn int(&mut self, k: &str, v: u64) {
        self.key(k);
        let _ = write!(self.buf, "{v}");
    }
    fn opt_int(&mut self, k: &str, v: Option<u64>) {
        if let Some(v) = v {
            self.int(k, v);
        }
    }
    fn num(&mut self, k: &str, v: f64) {
        self.key(k);
        self.buf.push_str(&json_number(v));
    }
    fn opt_num(&mut self, k: &str, v: Option<f64>) {
        if let Some(v) = v {
            self.num(k, v);
        }
    }
    fn finish(mut self) -> String {
        self.buf.push('}');
        self.buf
    }
}

/// A JSON string literal (serde_json's escaping).
fn json_string(s: &str) -> String {
    // Serialising a &str cannot fail; fall back to a plain quote just in case.
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{}\"", s.escape_default()))
}
