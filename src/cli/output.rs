//! Writing to stdout and stderr without panicking (issue 11, item 9).
//!
//! `print!` panics when stdout is a closed pipe (`nnt explain R | head -c 10`) or
//! a full device (`> /dev/full`); every write of the binary to stdout goes through
//! [`Stdout`] instead.
//!
//! The convention (ripgrep's): a **closed pipe ends the output quietly**. The
//! reader has all it asked for, so it is not an error: nnt stops printing but
//! finishes the command (`nnt fmt a b c | head -1` still formats every file, a run
//! still trains, saves and checkpoints) and exits with the status the command would
//! have had. **Any other write error** (a full disk, an I/O error) is the
//! diagnostic `nnt::io::stdout_failed` and exit status 1, since output the user
//! wanted is lost.
//!
//! Diagnostics go to stderr through [`eprint()`], which ignores errors: there is
//! nowhere left to report them.

use std::io::{self, Write};

use miette::Diagnostic;
use thiserror::Error;

/// Standard output could not be written (not a closed pipe: that is quiet).
#[derive(Debug, Error, Diagnostic)]
#[error("cannot write to standard output: {source}")]
#[diagnostic(
    code(nnt::io::stdout_failed),
    help("the output was cut short; check the disk or the device stdout is redirected to")
)]
pub struct StdoutError {
    #[source]
    pub source: io::Error,
}

/// Text nnt generates for a command (the manual page, a completion script)
/// could not be made; nothing was written.
#[derive(Debug, Error, Diagnostic)]
#[error("cannot generate {what}: {source}")]
#[diagnostic(code(nnt::cli::generation_failed))]
pub struct GenerationError {
    pub what: &'static str,
    #[source]
    pub source: io::Error,
}

/// Whether a write error is the reader going away (a closed pipe).
pub fn is_closed_pipe(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe
}

/// Stdout for one command: remembers a closed pipe (and then drops the rest of the
/// output) and the first real error.
#[derive(Debug, Default)]
pub struct Stdout {
    closed: bool,
    error: Option<io::Error>,
}

impl Stdout {
    pub fn new() -> Self {
        Stdout::default()
    }

    /// Writes `text` and flushes it. After a closed pipe or an error, does nothing.
    pub fn print(&mut self, text: &str) {
        self.write_bytes(text.as_bytes());
    }

    /// Writes `bytes` and flushes them. After a closed pipe or an error, does nothing.
    pub fn write_bytes(&mut self, bytes: &[u8]) {
        self.write_to(&mut io::stdout().lock(), bytes);
    }

    /// Writes `bytes` to `out` (stdout, or what a command was given in its place)
    /// and flushes it, with the same rules.
    pub fn write_to(&mut self, out: &mut dyn Write, bytes: &[u8]) {
        if self.closed || self.error.is_some() {
            return;
        }
        if let Err(e) = out.write_all(bytes).and_then(|()| out.flush()) {
            self.record(e);
        }
    }

    /// Records an error of a write done elsewhere (the run's log observers).
    pub fn record(&mut self, e: io::Error) {
        if is_closed_pipe(&e) {
            self.closed = true;
        } else if self.error.is_none() {
            self.error = Some(e);
        }
    }

    /// Whether the reader closed the pipe.
    pub fn closed(&self) -> bool {
        self.closed
    }

    /// The first write error that is not a closed pipe.
    pub fn finish(self) -> Result<(), StdoutError> {
        match self.error {
            Some(source) => Err(StdoutError { source }),
            None => Ok(()),
        }
    }
}

/// Writes to stderr, ignoring errors (a closed or full stderr cannot be told).
pub fn eprint(text: &str) {
    let mut err = io::stderr().lock();
    let _ = err.write_all(text.as_bytes()).and_then(|()| err.flush());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that fails every write with `kind`.
    struct Failing(io::ErrorKind);

    impl Write for Failing {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::from(self.0))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn writes_to_any_writer_follow_the_same_rules() {
        let mut out = Stdout::new();
        let mut buf = Vec::new();
        out.write_to(&mut buf, b"a\n");
        assert_eq!(buf, b"a\n");
        out.write_to(&mut Failing(io::ErrorKind::BrokenPipe), b"b");
        out.write_to(&mut buf, b"c\n");
        assert_eq!(buf, b"a\n", "nothing is written after a closed pipe");
        assert!(out.finish().is_ok());
        let mut out = Stdout::new();
        out.write_to(&mut Failing(io::ErrorKind::StorageFull), b"b");
        assert!(out.finish().is_err());
    }

    #[test]
    fn a_closed_pipe_is_quiet_and_other_errors_are_kept() {
        let mut out = Stdout::new();
        out.record(io::Error::from(io::ErrorKind::BrokenPipe));
        assert!(out.closed());
        assert!(out.finish().is_ok());

        let mut out = Stdout::new();
        out.record(io::Error::new(io::ErrorKind::StorageFull, "no space"));
        out.record(io::Error::other("later"));
        let e = out.finish().unwrap_err();
        assert_eq!(e.source.kind(), io::ErrorKind::StorageFull);
        assert_eq!(
            e.code().map(|c| c.to_string()).as_deref(),
            Some("nnt::io::stdout_failed")
        );
    }
}
