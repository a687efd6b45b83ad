//! Errors of the inverse-problem operators and solvers.

use thiserror::Error;

/// Everything that can go wrong when building an operator, an image or a solver run.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum Error {
    /// An image, kernel or angle set with no entries.
    #[error("{what} is empty")]
    Empty {
        /// Which input.
        what: &'static str,
    },
    /// A buffer whose length is not `rows × cols`.
    #[error("{what}: {len} values do not fill a {rows}×{cols} image")]
    BufferLength {
        /// Which input.
        what: &'static str,
        /// Length of the buffer.
        len: usize,
        /// Rows asked for.
        rows: usize,
        /// Columns asked for.
        cols: usize,
    },
    /// A vector of the wrong length for an operator.
    #[error("{what}: expected {expected} values, got {len}")]
    Length {
        /// Which vector.
        what: &'static str,
        /// The length the operator needs.
        expected: usize,
        /// The length given.
        len: usize,
    },
    /// A NaN or infinite value.
    #[error("{what}: non-finite value {value} at index {index}")]
    NonFinite {
        /// Which input.
        what: &'static str,
        /// Its index.
        index: usize,
        /// The value found.
        value: f64,
    },
    /// A parameter or option out of its range.
    #[error("invalid option `{name}`: {why}")]
    Option {
        /// The option.
        name: &'static str,
        /// What is wrong with it.
        why: String,
    },
}

/// Result with the inverse-problem [`Error`](enum@Error).
pub type Result<T> = std::result::Result<T, Error>;

/// `Err(NonFinite)` at the first NaN or infinity of `x`.
pub(crate) fn check_finite(what: &'static str, x: &[f64]) -> Result<()> {
    match x.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(Error::NonFinite { what, index, value: x[index] }),
        None => Ok(()),
    }
}
