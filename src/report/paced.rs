//! Passing a run's log lines on at a pace instead of one write a line.
//!
//! A run's observers end every event with a flush, so that a reader sees each
//! line at once. Into a pipe or a file that is one `write(2)` an epoch, and
//! for a small network an epoch is a few tens of microseconds: on the 2-core
//! guest, the 64-32-10 benchmark (16 steps of ~2.4 µs an epoch) spent 2.6 %
//! of its time in those writes into a file and 18.7 % into a pipe whose
//! reader the kernel wakes for every line (`perf`, round 15).
//!
//! [`Paced`] keeps the lines and passes them on when a **pace** has gone by
//! since it last did, so a reader still sees the log grow, at most about a
//! pace late while lines come steadily. A line due to wait is passed on at
//! once when the gap since the previous one says the next would come after
//! the pace (slow epochs print as they end); the observers pass on at once
//! what must not wait (the start, diagnostics, the end), and everything when
//! the run is over ([`Paced::pass`]). A terminal gets every line at once
//! ([`Paced::every_line`]); so does anything when the pace is zero.
//!
//! Nothing passes a held line on while the run is inside an epoch (there is
//! no timer thread): when epochs that came fast suddenly become slow, the
//! last fast line waits for the next one, at most one epoch.

use std::io::{self, Write};
use std::time::{Duration, Instant};

/// How long a log line may wait when stdout is not a terminal.
pub const PACE: Duration = Duration::from_millis(100);

/// A writer whose `flush` passes what was written on to `out` only when due
/// (see the module); [`Paced::pass`] passes it on now.
#[derive(Debug)]
pub struct Paced<W: Write> {
    out: W,
    /// Written and not yet passed on.
    held: Vec<u8>,
    /// `None`: every flush passes on.
    pace: Option<Duration>,
    /// When what was held was last passed on.
    last_pass: Option<Instant>,
    /// When `flush` was last called (the end of the previous line).
    last_flush: Option<Instant>,
}

/// What is held beyond this is passed on whatever the time.
const MOST_HELD: usize = 1 << 16;

impl<W: Write> Paced<W> {
    /// Passes every flush on at once (a terminal, the tests).
    pub fn every_line(out: W) -> Self {
        Paced {
            out,
            held: Vec::new(),
            pace: None,
            last_pass: None,
            last_flush: None,
        }
    }

    /// Passes lines on at most `pace` apart while they come faster than that.
    pub fn at_pace(out: W, pace: Duration) -> Self {
        Paced {
            pace: (!pace.is_zero()).then_some(pace),
            ..Paced::every_line(out)
        }
    }

    /// Passes everything held on to `out` now, and flushes it.
    pub fn pass(&mut self) -> io::Result<()> {
        self.last_pass = Some(Instant::now());
        let result = self
            .out
            .write_all(&self.held)
            .and_then(|()| self.out.flush());
        // Whatever happened, what was held is not tried twice (the observers
        // stop writing after the first error).
        self.held.clear();
        result
    }

    pub fn get_ref(&self) -> &W {
        &self.out
    }

    /// The writer, after passing on what is held (an error of that is lost:
    /// call [`Paced::pass`] first to see it).
    pub fn into_inner(mut self) -> W {
        let _ = self.pass();
        let Paced { out, .. } = self;
        out
    }

    /// Whether a flush at `now` passes on: the first always; then when the
    /// time since the last pass, with the gap the next line is expected
    /// after, reaches the pace.
    fn due(&self, now: Instant) -> bool {
        let (Some(pace), Some(last_pass)) = (self.pace, self.last_pass) else {
            return true;
        };
        let gap = self
            .last_flush
            .map_or(Duration::ZERO, |t| now.saturating_duration_since(t));
        now.saturating_duration_since(last_pass) + gap >= pace
    }
}

impl<W: Write> Write for Paced<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.pace.is_none() {
            return self.out.write(buf);
        }
        self.held.extend_from_slice(buf);
        if self.held.len() >= MOST_HELD {
            self.pass()?;
        }
        Ok(buf.len())
    }

    /// The end of a line: passed on when due (see the module).
    fn flush(&mut self) -> io::Result<()> {
        let now = Instant::now();
        let due = self.due(now);
        self.last_flush = Some(now);
        if due {
            self.pass()
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records what reaches it and how many times it was flushed.
    #[derive(Default)]
    struct Sink {
        bytes: Vec<u8>,
        flushes: usize,
    }

    impl Write for &mut Sink {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.bytes.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            self.flushes += 1;
            Ok(())
        }
    }

    fn line(p: &mut Paced<&mut Sink>, text: &str) {
        p.write_all(text.as_bytes()).unwrap();
        p.flush().unwrap();
    }

    #[test]
    fn every_line_passes_each_line_on() {
        let mut sink = Sink::default();
        let mut p = Paced::every_line(&mut sink);
        line(&mut p, "a\n");
        assert_eq!(p.get_ref().bytes, b"a\n");
        line(&mut p, "b\n");
        assert_eq!(p.get_ref().bytes, b"a\nb\n");
        assert_eq!(p.get_ref().flushes, 2);
        // A zero pace is every line too.
        let mut sink = Sink::default();
        let mut p = Paced::at_pace(&mut sink, Duration::ZERO);
        line(&mut p, "a\n");
        line(&mut p, "b\n");
        assert_eq!(
            (p.get_ref().bytes.as_slice(), p.get_ref().flushes),
            (&b"a\nb\n"[..], 2)
        );
    }

    /// The first line goes at once; lines that come fast wait for the pace
    /// (an hour here) or a pass, and nothing is lost or reordered.
    #[test]
    fn fast_lines_wait_and_pass_together() {
        let mut sink = Sink::default();
        let mut p = Paced::at_pace(&mut sink, Duration::from_secs(3600));
        line(&mut p, "start\n");
        assert_eq!(p.get_ref().bytes, b"start\n");
        for i in 0..50 {
            line(&mut p, &format!("epoch {i}\n"));
        }
        assert_eq!(p.get_ref().bytes, b"start\n", "held while lines come fast");
        assert_eq!(p.get_ref().flushes, 1);
        p.pass().unwrap();
        let want: String = std::iter::once("start\n".to_string())
            .chain((0..50).map(|i| format!("epoch {i}\n")))
            .collect();
        assert_eq!(p.get_ref().bytes, want.as_bytes());
        assert_eq!(p.get_ref().flushes, 2);
        line(&mut p, "end\n");
        let sink = p.into_inner();
        assert!(
            sink.bytes.ends_with(b"epoch 49\nend\n"),
            "into_inner passes on"
        );
    }

    /// Lines that come slower than the pace pass on as they come.
    #[test]
    fn slow_lines_pass_at_once() {
        let mut sink = Sink::default();
        let mut p = Paced::at_pace(&mut sink, Duration::from_millis(20));
        line(&mut p, "a\n");
        std::thread::sleep(Duration::from_millis(25));
        line(&mut p, "b\n");
        assert_eq!(p.get_ref().bytes, b"a\nb\n");
    }

    /// Past [`MOST_HELD`] bytes the held lines go whatever the time.
    #[test]
    fn a_full_buffer_passes_on() {
        let mut sink = Sink::default();
        let mut p = Paced::at_pace(&mut sink, Duration::from_secs(3600));
        line(&mut p, "start\n");
        let long = "x".repeat(1000) + "\n";
        for _ in 0..MOST_HELD / long.len() + 1 {
            line(&mut p, &long);
        }
        assert!(p.get_ref().bytes.len() >= MOST_HELD);
        assert_eq!(p.get_ref().bytes.len() % long.len(), "start\n".len());
    }

    /// A failing writer's error comes out of the pass that met it.
    #[test]
    fn errors_come_out_of_the_pass() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::other("disk full"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut p = Paced::at_pace(Full, Duration::from_secs(3600));
        assert!(p.write_all(b"a\n").is_ok(), "held, not yet written");
        assert!(p.flush().is_err(), "the first flush passes on");
        assert!(p.write_all(b"b\n").and_then(|()| p.flush()).is_ok());
        assert!(p.pass().is_err());
    }
}
