//! Errors of the core crate. Bad input is reported as `file:line: field path: what is wrong`.

use std::fmt;
use std::path::PathBuf;

/// Where and why an input record could not be read.
///
/// Displays as `file:line: field.path: message`, e.g.
/// `batch.jsonl:12: groups[0].trajectories[3].turns[1].reward: invalid type: string "x", expected f64`.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    /// The file being read (`-` for standard input).
    pub file: PathBuf,
    /// 1-based line number.
    pub line: usize,
    /// Path of the offending field inside the JSON record (`.` for the whole record).
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}",
            self.file.display(),
            self.line,
            self.path,
            self.message
        )
    }
}

impl std::error::Error for ParseError {}

/// Errors of `turnwise-core`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An input record is malformed.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
