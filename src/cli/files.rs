//! The files the binary itself reads and writes: recipes (every command that
//! reads one goes through [`read_recipe`]), logs and pictures; their errors as
//! diagnostics with `nnt::` codes (issue 11, items 17 and 19), and the picture
//! formats `--plot` and `plot -o` accept.

use std::io;
use std::path::Path;

use super::exit::Status;

use miette::Diagnostic;
use thiserror::Error;

use crate::io::guard::{read_regular, IoError, LOG_LIMIT, RECIPE_LIMIT};

/// A file that could not be read: [`FileError`] (it exists but cannot be read)
/// or [`IoError`] (a device, a FIFO, a directory, a file beyond the size limit).
pub type ReadError = Box<dyn Diagnostic + Send + Sync + 'static>;

/// The bytes of a recipe (a regular file of at most [`RECIPE_LIMIT`] bytes).
pub fn read_recipe(path: &Path) -> Result<Vec<u8>, ReadError> {
    read_regular("recipe", path, RECIPE_LIMIT).map_err(|e| match e {
        IoError::Unreadable { source, .. } => Box::new(FileError::UnreadableRecipe {
            path: path.display().to_string(),
            error: source,
        }) as ReadError,
        e => Box::new(e),
    })
}

/// The text of a JSONL log (a regular UTF-8 file of at most [`LOG_LIMIT`] bytes).
/// The error comes with its exit status (§12): usage when the path names no
/// file that can be read (as for a recipe), failure when the file's bytes are
/// not UTF-8 text.
pub fn read_log(path: &Path) -> Result<String, (ReadError, Status)> {
    let unreadable = |error| {
        Box::new(FileError::UnreadableLog {
            path: path.display().to_string(),
            error,
        }) as ReadError
    };
    match read_regular("log", path, LOG_LIMIT) {
        Ok(bytes) => String::from_utf8(bytes).map_err(|e| {
            (
                unreadable(io::Error::new(io::ErrorKind::InvalidData, e)),
                Status::Failure,
            )
        }),
        Err(IoError::Unreadable { source, .. }) => Err((unreadable(source), Status::Usage)),
        Err(e) => Err((Box::new(e), Status::Usage)),
    }
}

/// A file of `fmt` or `plot` that cannot be read or written, or a picture name
/// with an extension nnt cannot draw.
#[derive(Debug, Error, Diagnostic)]
pub enum FileError {
    /// `nnt fmt missing.nnt`.
    #[error("cannot read {path}: {error}")]
    #[diagnostic(code(nnt::cli::unreadable_recipe))]
    UnreadableRecipe { path: String, error: io::Error },

    /// `nnt plot missing.jsonl -o x.svg`, or a log that is not UTF-8.
    #[error("cannot read the log {path}: {error}")]
    #[diagnostic(
        code(nnt::plot::unreadable_log),
        help("the log must be the output of `nnt run R.nnt --format jsonl`")
    )]
    UnreadableLog { path: String, error: io::Error },

    /// A formatted recipe or a picture that cannot be written.
    #[error("cannot write {path}: {error}")]
    #[diagnostic(code(nnt::io::write_failed))]
    CannotWrite { path: String, error: io::Error },

    /// `--plot loss.jpg`, `plot -o loss`: only SVG and PNG are drawn.
    #[error("cannot draw {path}: a plot is an .svg or a .png file")]
    #[diagnostic(
        code(nnt::cli::unsupported_plot_format),
        help("name the picture `{stem}.svg` or `{stem}.png`")
    )]
    PlotFormat { path: String, stem: String },
}

/// The picture formats of `--plot` and `plot -o`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlotFormat {
    Svg,
    Png,
}

/// The format named by the extension of `path` (`.svg` or `.png`, any case); any
/// other extension, or none, is [`FileError::PlotFormat`]: a usage error found
/// before any work, so that no SVG bytes end up in a file called `x.jpg`.
pub fn plot_format(path: &Path) -> Result<PlotFormat, FileError> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    if ext.eq_ignore_ascii_case("svg") {
        Ok(PlotFormat::Svg)
    } else if ext.eq_ignore_ascii_case("png") {
        Ok(PlotFormat::Png)
    } else {
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "loss".to_string());
        Err(FileError::PlotFormat {
            path: path.display().to_string(),
            stem,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(e: &ReadError) -> String {
        e.code().map(|c| c.to_string()).unwrap_or_default()
    }

    #[test]
    fn unreadable_files_have_codes() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.nnt");
        assert_eq!(
            code(&read_recipe(&missing).unwrap_err()),
            "nnt::cli::unreadable_recipe"
        );
        assert_eq!(
            code(&read_log(&missing).unwrap_err().0),
            "nnt::plot::unreadable_log"
        );
        assert_eq!(read_log(&missing).unwrap_err().1, Status::Usage);
        // A directory is refused before it is opened.
        assert!(code(&read_recipe(dir.path()).unwrap_err()).starts_with("nnt::io::"));
        let latin1 = dir.path().join("log.jsonl");
        std::fs::write(&latin1, b"{\"a\": \"\xe9\"}\n").unwrap();
        assert_eq!(
            code(&read_log(&latin1).unwrap_err().0),
            "nnt::plot::unreadable_log"
        );
        assert_eq!(read_log(&latin1).unwrap_err().1, Status::Failure);
        let ok = dir.path().join("r.nnt");
        std::fs::write(&ok, "seed = 1\n").unwrap();
        assert_eq!(read_recipe(&ok).unwrap(), b"seed = 1\n");
    }

    #[test]
    fn only_svg_and_png_are_drawn() {
        assert_eq!(
            plot_format(Path::new("a/loss.svg")).ok(),
            Some(PlotFormat::Svg)
        );
        assert_eq!(
            plot_format(Path::new("loss.SVG")).ok(),
            Some(PlotFormat::Svg)
        );
        assert_eq!(
            plot_format(Path::new("loss.Png")).ok(),
            Some(PlotFormat::Png)
        );
        for bad in ["loss.jpg", "loss", "loss.svg.bak", ".svg", "x.pdf"] {
            let e = plot_format(Path::new(bad)).unwrap_err();
            assert_eq!(
                e.code().map(|c| c.to_string()).as_deref(),
                Some("nnt::cli::unsupported_plot_format"),
                "{bad}"
            );
        }
    }
}
