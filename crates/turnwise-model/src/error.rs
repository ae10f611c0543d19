//! Errors of the policy model: bad files and fields (named with path, line, field), bad
//! options, and libtorch failures.

use std::path::PathBuf;

/// Everything that can go wrong when loading, running, sampling or saving a policy.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A file could not be read or written.
    #[error("{path}: {err}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        err: std::io::Error,
    },
    /// A JSON file (config.json, index) is malformed or a field has the wrong type.
    #[error("{path}:{line}:{column}: field `{field}`: {message}")]
    Json {
        /// The file.
        path: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// The JSON path of the offending field (`.` for the whole document).
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A config field has a value turnwise cannot use.
    #[error("{path}: field `{field}`: {message}")]
    Config {
        /// The config file (or `<preset NAME>`).
        path: PathBuf,
        /// The field.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A safetensors file is malformed or lacks a tensor, or a tensor has the wrong shape.
    #[error("{path}: {message}")]
    Checkpoint {
        /// The checkpoint file or folder.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// An option value (device, dtype, sampling parameter, input ids) is invalid.
    #[error("option `{option}`: {message}")]
    Option {
        /// The option name.
        option: String,
        /// What is wrong.
        message: String,
    },
    /// The tokenizer failed.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// libtorch reported an error (shape mismatch, out of memory, CUDA unavailable, ...).
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
}

impl ModelError {
    /// An [`ModelError::Option`] error.
    pub fn option(option: &str, message: impl Into<String>) -> Self {
        ModelError::Option {
            option: option.to_string(),
            message: message.into(),
        }
    }

    /// A [`ModelError::Checkpoint`] error.
    pub fn checkpoint(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        ModelError::Checkpoint {
            path: path.into(),
            message: message.into(),
        }
    }

    /// An [`ModelError::Io`] error.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ModelError::Io {
            path: path.into(),
            err: source,
        }
    }
}

/// Result with [`ModelError`].
pub type Result<T> = std::result::Result<T, ModelError>;
