//! The JSONL log (§10) and the non-terminal text view of a hand-built run.

use nnt::events::{
    EndEvent, EndReason, EpochEvent, Event, Observer, RunDiagnostic, Severity, StartEvent,
};
use nnt::report::jsonl::event_line;
use nnt::report::{JsonlObserver, TextObserver, TextOptions};

fn classification_run() -> Vec<Event> {
    let mut events = vec![Event::Start(StartEvent {
        recipe: "iris.nnt".into(),
        parameters: 131,
        train_rows: 120,
        valid_rows: Some(30),
        test_rows: None,
        seed: 7,
        dropped_rows: None,
        class_names: None,
        nnt: "1.2.0".into(),
        config: "seed = 7\n\nmodel {\n    dense(3)\n}\n".into(),
        classes: Some(3),
        epochs: 3,
        steps_per_epoch: 8,
    })];
    let losses = [
        (1.0986, 0.35, 1.01, 0.5),
        (0.7, 0.7, 0.75, 0.8),
        (0.45, 0.9, 0.8, 0.9),
    ];
    for (i, (tl, ta, vl, va)) in losses.into_iter().enumerate() {
        events.push(Event::Epoch(EpochEvent {
            epoch: i + 1,
            lr: 0.01,
            train_loss: tl,
            train_accuracy: Some(ta),
            valid_loss: Some(vl),
            valid_accuracy: Some(va),
            penalty: Some(0.0012),
            grad_norm: 0.83,
            valid_metrics: Vec::new(),
            seconds: None,
        }));
        if i == 1 {
            events.push(Event::Diagnostic(RunDiagnostic {
                severity: Severity::Warning,
                code: "nnt::train::vanishing_gradient",
                epoch: 2,
                step: None,
                layer: Some(0),
                line: Some(12),
                expectation: None,
                message: "layer 0's gradient is 1e-7 of its weights".into(),
                help: Some("use relu or batch_norm".into()),
            }));
        }
    }
    events.push(Event::End(EndEvent {
        reason: EndReason::EarlyStop,
        epochs: 3,
        best_epoch: Some(2),
        test_loss: None,
        test_accuracy: None,
        test_metrics: Vec::new(),
        confusion: Some(vec![vec![10, 0, 0], vec![0, 9, 1], vec![0, 2, 8]]),
        best: Some(EpochEvent {
            epoch: 2,
            lr: 0.01,
            train_loss: 0.7,
            train_accuracy: Some(0.7),
            valid_loss: Some(0.75),
            valid_accuracy: Some(0.8),
            valid_metrics: Vec::new(),
            penalty: Some(0.0012),
            grad_norm: 0.83,
            seconds: None,
        }),
        save: Some("out/model.safetensors".into()),
        seconds: None,
        steps_per_second: None,
        threads: None,
        expectations_failed: false,
    }));
    events
}

fn regression_run() -> Vec<Event> {
    vec![
        Event::Start(StartEvent {
            recipe: "dir/with \"quote\".nnt".into(),
            parameters: 10,
            train_rows: 80,
            valid_rows: None,
            test_rows: Some(20),
            seed: 0,
            dropped_rows: None,
            class_names: None,
            nnt: "1.2.0".into(),
            config: String::new(),
            classes: None,
            epochs: 2,
            steps_per_epoch: 3,
        }),
        Event::Epoch(EpochEvent {
            epoch: 1,
            lr: 1e-7,
            train_loss: 1.0,
            train_accuracy: None,
            valid_loss: None,
            valid_accuracy: None,
            penalty: None,
            grad_norm: f64::INFINITY,
            valid_metrics: Vec::new(),
            seconds: Some(0.25),
        }),
        Event::Diagnostic(RunDiagnostic {
            severity: Severity::Error,
            code: "nnt::train::diverged",
            epoch: 2,
            step: Some(3),
            layer: Some(2),
            line: Some(9),
            expectation: None,
            message: "the loss became NaN in the forward pass of layer 2".into(),
            help: None,
        }),
        Event::End(EndEvent {
            reason: EndReason::Diverged,
            epochs: 1,
            best_epoch: None,
            test_loss: Some(f64::NAN),
            test_accuracy: None,
            test_metrics: Vec::new(),
            confusion: None,
            best: None,
            save: None,
            seconds: Some(0.5),
            steps_per_second: Some(12.0),
            threads: Some(2),
            expectations_failed: false,
        }),
    ]
}

fn jsonl(events: &[Event]) -> String {
    let mut obs = JsonlObserver::new(Vec::new());
    for e in events {
        obs.event(e);
    }
    assert!(obs.error().is_none());
    String::from_utf8(obs.into_inner()).unwrap()
}

fn text(events: &[Event], timings: bool) -> String {
    let mut obs = TextObserver::new(
        Vec::new(),
        TextOptions {
            tty: false,
            color: false,
            timings,
        },
    );
    for e in events {
        obs.event(e);
        // Steps never print anything without a terminal.
        obs.step(1, 1, 8, 0.5);
    }
    assert!(obs.error().is_none());
    String::from_utf8(obs.into_inner()).unwrap()
}

#[test]
fn jsonl_matches_the_spec_layout() {
    let log = jsonl(&classification_run());
    insta::assert_snapshot!("jsonl_classification", log);
    let lines: Vec<&str> = log.lines().collect();
    // The spec's own example lines, field for field (§10), then §18's additions.
    assert_eq!(
        lines[0],
        r#"{"event":"start","recipe":"iris.nnt","parameters":131,"train_rows":120,"valid_rows":30,"seed":7,"nnt":"1.2.0","config":"seed = 7\n\nmodel {\n    dense(3)\n}\n"}"#
    );
    assert_eq!(
        lines[1],
        r#"{"event":"epoch","epoch":1,"lr":0.01,"train_loss":1.0986,"train_accuracy":0.35,"valid_loss":1.01,"valid_accuracy":0.5,"penalty":0.0012,"grad_norm":0.83}"#
    );
    // Every line is one JSON object.
    for line in &lines {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(v.is_object());
    }
}

#[test]
fn jsonl_escapes_strings_and_writes_null_for_non_finite() {
    let log = jsonl(&regression_run());
    insta::assert_snapshot!("jsonl_regression", log);
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["recipe"], "dir/with \"quote\".nnt");
    assert!(lines[1]["grad_norm"].is_null());
    assert_eq!(lines[1]["lr"].as_f64(), Some(1e-7));
    assert!(lines[3]["test_loss"].is_null());
    assert!(log.contains(r#""seconds":0.25}"#));
}

#[test]
fn jsonl_keys_follow_the_spec_order() {
    let line = event_line(&regression_run()[2]);
    assert_eq!(
        line,
        r#"{"event":"diagnostic","severity":"error","code":"nnt::train::diverged","epoch":2,"step":3,"layer":2,"message":"the loss became NaN in the forward pass of layer 2"}"#
    );
    let end = event_line(&classification_run()[5]);
    assert_eq!(
        end,
        r#"{"event":"end","reason":"early_stop","epochs":3,"best_epoch":2,"confusion":[[10,0,0],[0,9,1],[0,2,8]],"best":{"epoch":2,"lr":0.01,"train_loss":0.7,"train_accuracy":0.7,"valid_loss":0.75,"valid_accuracy":0.8,"penalty":0.0012,"grad_norm":0.83},"save":"out/model.safetensors"}"#
    );
}

/// A writer whose pipe is closed.
struct Broken(usize);
impl std::io::Write for Broken {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        self.0 += 1;
        Err(std::io::Error::new(
            std::io::ErrorKind::BrokenPipe,
            "closed",
        ))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn write_errors_are_kept_not_panicked() {
    let mut obs = JsonlObserver::new(Broken(0));
    for e in classification_run() {
        obs.event(&e);
    }
    assert_eq!(
        obs.error().map(|e| e.kind()),
        Some(std::io::ErrorKind::BrokenPipe)
    );
    // After the first failure nothing more is attempted.
    assert_eq!(obs.into_inner().0, 1);
    let mut t = TextObserver::new(Broken(0), TextOptions::default());
    for e in classification_run() {
        t.event(&e);
    }
    assert!(t.take_error().is_some());
}

#[test]
fn text_without_a_terminal_is_plain() {
    let out = text(&classification_run(), false);
    assert!(!out.contains('\x1b') && !out.contains('\r'), "{out:?}");
    insta::assert_snapshot!("text_classification", out);
    let out = text(&regression_run(), true);
    assert!(!out.contains('\x1b') && !out.contains('\r'), "{out:?}");
    insta::assert_snapshot!("text_regression_timings", out);
}

#[test]
fn text_without_timings_shows_no_time() {
    let out = text(&regression_run(), false);
    assert!(!out.contains("time") && !out.contains("steps/s"), "{out}");
}

#[test]
fn colour_only_when_asked() {
    let mut obs = TextObserver::new(
        Vec::new(),
        TextOptions {
            tty: false,
            color: true,
            timings: false,
        },
    );
    for e in classification_run() {
        obs.event(&e);
    }
    let out = String::from_utf8(obs.into_inner()).unwrap();
    assert!(out.contains("\x1b[1;33mwarning\x1b[0m"), "{out:?}");
}

#[test]
fn terminal_mode_keeps_the_table_on_the_writer() {
    // The bar draws on stderr (hidden when stderr is not a terminal, as under
    // `cargo test`); the table rows still go to the writer, step calls included.
    let mut obs = TextObserver::new(
        Vec::new(),
        TextOptions {
            tty: true,
            color: false,
            timings: false,
        },
    );
    for e in classification_run() {
        if let Event::Epoch(ep) = &e {
            for step in 1..=8 {
                obs.step(ep.epoch, step, 8, 0.5);
            }
        }
        obs.event(&e);
    }
    obs.step(0, 0, 0, f64::NAN);
    let out = String::from_utf8(obs.into_inner()).unwrap();
    assert_eq!(out, text(&classification_run(), false));
}
