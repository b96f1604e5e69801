//! How a command ends (ripgrep's shape): every command returns
//! `Result<Status, CliError>`, and `main` only renders the error, if any, and maps
//! the status to the process's exit code.
//!
//! The exit codes are part of nnt's interface (spec §11, the `--help` texts, the
//! tests and scripts that call nnt): [`Status`] names each one, and its numeric
//! values never change.

use std::process::ExitCode;

use miette::Diagnostic;

/// The exit status of a command.
///
/// Ordered by severity as numbers are, so a command that goes on after a failure
/// (`fmt` over several files) keeps the largest: `status.max(Status::Failure)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    /// 0: the command did what it was asked.
    Success,
    /// 1: the recipe, its data, a model or a file is invalid or cannot be used
    /// (`nnt fmt --check`: a file would change; `nnt test`: a recipe failed).
    Failure,
    /// 2: wrong command-line usage (contradicting options, an unreadable recipe,
    /// a plot format nnt cannot draw).
    Usage,
    /// 3: training diverged.
    Diverged,
    /// 4: an `expect { … }` item was not met (after the model and the log are written).
    ExpectationFailed,
    /// 130: interrupted (Ctrl-C, SIGTERM), after the last finished epoch's checkpoint.
    Interrupted,
}

impl Status {
    /// The process's exit code.
    pub const fn code(self) -> u8 {
        match self {
            Status::Success => 0,
            Status::Failure => 1,
            Status::Usage => 2,
            Status::Diverged => 3,
            Status::ExpectationFailed => 4,
            Status::Interrupted => 130,
        }
    }
}

impl From<Status> for ExitCode {
    fn from(status: Status) -> ExitCode {
        ExitCode::from(status.code())
    }
}

/// A failure that ends a command.
#[derive(Debug)]
pub enum CliError {
    /// One diagnostic (with an `nnt::` code) for `main` to render, and the status.
    Diagnostic {
        diagnostic: Box<dyn Diagnostic>,
        status: Status,
    },
    /// The command has already shown its diagnostics (a recipe's errors and their
    /// count); only the status is left.
    Reported(Status),
}

impl CliError {
    /// `diagnostic` ends the command with `status`.
    pub fn new(diagnostic: impl Diagnostic + 'static, status: Status) -> Self {
        CliError::Diagnostic {
            diagnostic: Box::new(diagnostic),
            status,
        }
    }

    /// A boxed diagnostic (the checker's, the formatter's) ends the command.
    pub fn boxed(diagnostic: Box<dyn Diagnostic + Send + Sync + 'static>, status: Status) -> Self {
        CliError::Diagnostic { diagnostic, status }
    }

    /// `diagnostic` ends the command with [`Status::Failure`].
    pub fn failure(diagnostic: impl Diagnostic + 'static) -> Self {
        CliError::new(diagnostic, Status::Failure)
    }

    /// `diagnostic` is a usage error ([`Status::Usage`]).
    pub fn usage(diagnostic: impl Diagnostic + 'static) -> Self {
        CliError::new(diagnostic, Status::Usage)
    }

    /// The exit status.
    pub fn status(&self) -> Status {
        match self {
            CliError::Diagnostic { status, .. } | CliError::Reported(status) => *status,
        }
    }

    /// The diagnostic still to be shown, if any.
    pub fn diagnostic(&self) -> Option<&dyn Diagnostic> {
        match self {
            CliError::Diagnostic { diagnostic, .. } => Some(diagnostic.as_ref()),
            CliError::Reported(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_keep_their_numbers() {
        let codes: Vec<u8> = [
            Status::Success,
            Status::Failure,
            Status::Usage,
            Status::Diverged,
            Status::ExpectationFailed,
            Status::Interrupted,
        ]
        .iter()
        .map(|s| s.code())
        .collect();
        assert_eq!(codes, [0, 1, 2, 3, 4, 130]);
    }

    #[test]
    fn the_larger_status_is_the_more_severe() {
        assert_eq!(Status::Success.max(Status::Failure), Status::Failure);
        assert_eq!(Status::Usage.max(Status::Failure), Status::Usage);
        assert!(Status::Interrupted > Status::ExpectationFailed);
    }

    #[test]
    fn an_error_keeps_its_diagnostic_and_status() {
        let d = miette::MietteDiagnostic::new("no").with_code("nnt::cli::x");
        let e = CliError::usage(d);
        assert_eq!(e.status(), Status::Usage);
        let code = e.diagnostic().and_then(|d| d.code()).map(|c| c.to_string());
        assert_eq!(code.as_deref(), Some("nnt::cli::x"));
        assert!(CliError::Reported(Status::Failure).diagnostic().is_none());
    }
}
