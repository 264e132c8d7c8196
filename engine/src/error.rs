//! The engine's error type.

use std::path::PathBuf;

/// Everything that can go wrong in the engine, with enough context to act on it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}: {error}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error (part of the message, so not chained again).
        error: std::io::Error,
    },
    /// An image could not be decoded, or is unusable (empty, too large, no ink).
    #[error("{path}: {message}")]
    Image {
        /// The image file (or a description such as `<canvas>`).
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A dataset entry is malformed.
    #[error("{path}:{line}: {message}")]
    Data {
        /// The file holding the entry.
        path: PathBuf,
        /// 1-based line number (0 when unknown).
        line: usize,
        /// What is wrong with it.
        message: String,
    },
    /// A configuration file or value is invalid.
    #[error("config: {0}")]
    Config(String),
    /// A model file is unreadable, truncated, or of the wrong kind.
    #[error("model {path}: {message}")]
    Model {
        /// The model file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// Invalid arguments or state that the caller can fix.
    #[error("{0}")]
    Invalid(String),
    /// Another worker or machine of a multi-worker run failed or disconnected; the run stops
    /// and its last checkpoint is kept.
    #[error("scale-out: {0}")]
    Peer(String),
    /// A run was cancelled by the user; its last checkpoint is kept.
    #[error("cancelled at step {0}; the last checkpoint is kept, so the run can resume")]
    Cancelled(usize),
}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Whether this is a write that failed for lack of room (a full disk, a file-size limit,
    /// a quota). Files are written whole or not at all ([`crate::model_file::write_atomic`]),
    /// so after such an error the previous checkpoint and models are intact.
    pub fn is_out_of_space(&self) -> bool {
        matches!(
            self,
            Error::Io { error, .. } if matches!(
                error.kind(),
                std::io::ErrorKind::StorageFull
                    | std::io::ErrorKind::FileTooLarge
                    | std::io::ErrorKind::QuotaExceeded
            )
        )
    }

    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            error: source,
        }
    }

    /// An image error on `path`.
    pub fn image(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Image {
            path: path.into(),
            message: message.into(),
        }
    }

    /// A model-file error on `path`.
    pub fn model(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Model {
            path: path.into(),
            message: message.into(),
        }
    }

    /// A dataset entry error.
    pub fn data(path: impl Into<PathBuf>, line: usize, message: impl Into<String>) -> Self {
        Error::Data {
            path: path.into(),
            line,
            message: message.into(),
        }
    }
}
