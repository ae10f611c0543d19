//! Errors of the tokenizer module. Bad input names the file and the field (or the template
//! line) that is wrong.

use std::path::PathBuf;

/// Everything that can go wrong while loading, using, training or saving a tokenizer.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file is not what it should be (bad JSON, bad tokenizer.json, …).
    #[error("{}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, with line and column where known.
        message: String,
    },
    /// A field of a configuration file has a wrong type or value.
    #[error("{}: field `{field}`: {message}", path.display())]
    Field {
        /// The file.
        path: PathBuf,
        /// The JSON field.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The `tokenizers` crate failed while encoding or decoding.
    #[error("tokenizer: {0}")]
    Tokenizers(String),
    /// A chat template failed to compile or to render (the message names the template line).
    #[error("chat template: {0}")]
    Template(String),
    /// Training options or corpus are unusable.
    #[error("tokenizer training: {0}")]
    Train(String),
}

/// Result alias of the tokenizer module.
pub type Result<T> = std::result::Result<T, TokenizerError>;

/// Converts an error of the `tokenizers` crate.
pub(crate) fn tk(e: tokenizers::Error) -> TokenizerError {
    TokenizerError::Tokenizers(e.to_string())
}

/// Wraps an I/O error with its path.
pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> TokenizerError + '_ {
    move |source| TokenizerError::Io {
        path: path.to_path_buf(),
        source,
    }
}
