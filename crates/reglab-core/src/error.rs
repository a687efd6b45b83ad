//! Errors of the core layer.

use thiserror::Error;

/// Everything that can go wrong when building or evaluating a regularizer.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum Error {
    /// A `NAME=λ[:key=value,...]` spec that does not parse.
    #[error("bad regularizer spec `{spec}`: {why}")]
    Spec { spec: String, why: String },
    /// A name no regularizer answers to.
    #[error("unknown regularizer `{name}`; known: {known}")]
    Unknown { name: String, known: String },
    /// A tensor whose shape a regularizer cannot use.
    #[error("tensor `{tensor}`: {why}")]
    Shape { tensor: String, why: String },
    /// A regularizer that needs the initial weights was given none.
    #[error("`{reg}` needs the initial weights of `{tensor}` (give an init/anchor checkpoint)")]
    MissingInit { reg: String, tensor: String },
    /// Saved state that does not fit.
    #[error("regularizer state: {0}")]
    State(String),
}

/// Result with the core [`Error`](enum@Error).
pub type Result<T> = std::result::Result<T, Error>;
