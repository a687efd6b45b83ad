//! Errors of the optimal-transport solvers.

use thiserror::Error;

/// Everything that can go wrong when building or solving a transport problem.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum Error {
    /// An input with no entries (no points, no coordinates, no weights).
    #[error("{what} is empty")]
    Empty {
        /// Which input.
        what: &'static str,
    },
    /// Rows of different lengths given where a matrix was expected.
    #[error("{what}: row {row} has {len} entries, row 0 has {expected}")]
    Ragged {
        /// Which input.
        what: &'static str,
        /// The first offending row.
        row: usize,
        /// Its length.
        len: usize,
        /// The length of row 0.
        expected: usize,
    },
    /// A buffer whose length is not `rows × cols`.
    #[error("{what}: {len} values do not fill a {rows}×{cols} matrix")]
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
    /// Two point clouds living in spaces of different dimension.
    #[error("dimension mismatch: X has {x} coordinates per point, Y has {y}")]
    DimensionMismatch {
        /// Dimension of the points of X.
        x: usize,
        /// Dimension of the points of Y.
        y: usize,
    },
    /// A cost matrix whose shape does not match the marginals.
    #[error("cost matrix is {rows}×{cols} but a has {n} weights and b has {m}")]
    CostShape {
        /// Rows of the cost matrix.
        rows: usize,
        /// Columns of the cost matrix.
        cols: usize,
        /// Length of `a`.
        n: usize,
        /// Length of `b`.
        m: usize,
    },
    /// Points and weights of different lengths.
    #[error("{what}: {points} points but {weights} weights")]
    LengthMismatch {
        /// Which measure.
        what: &'static str,
        /// Number of points.
        points: usize,
        /// Number of weights.
        weights: usize,
    },
    /// A NaN or infinite value.
    #[error("{what}: non-finite value {value} at {at}")]
    NonFinite {
        /// Which input.
        what: &'static str,
        /// Where, e.g. `index 3` or `row 2, column 1`.
        at: String,
        /// The value found.
        value: f64,
    },
    /// A negative entry in a histogram.
    #[error("{what}: negative weight {value} at index {index}")]
    NegativeWeight {
        /// Which histogram.
        what: &'static str,
        /// Its index.
        index: usize,
        /// The weight found.
        value: f64,
    },
    /// A histogram with zero total mass.
    #[error("{what}: weights sum to zero")]
    ZeroMass {
        /// Which histogram.
        what: &'static str,
    },
    /// Two histograms of different total mass (relative difference above 1e-9).
    #[error("marginals carry different mass: a sums to {a}, b sums to {b}")]
    MassMismatch {
        /// Total of `a`.
        a: f64,
        /// Total of `b`.
        b: f64,
    },
    /// An entropic regularization strength that is not a finite positive number.
    #[error("regularization ε must be finite and > 0, got {0}")]
    Regularization(f64),
    /// A solver option out of its range.
    #[error("invalid option `{name}`: {why}")]
    Option {
        /// The option.
        name: &'static str,
        /// What is wrong with it.
        why: String,
    },
    /// A problem the solver does not handle (e.g. a non-square assignment).
    #[error("unsupported problem: {0}")]
    Unsupported(String),
    /// Underflow or overflow of the kernel scalings (ε too small for plain Sinkhorn).
    #[error("numerical failure at iteration {iteration}: {why} (ε too small for plain Sinkhorn? use `sinkhorn_log`)")]
    Numerical {
        /// The iteration at which it happened.
        iteration: usize,
        /// What happened.
        why: String,
    },
}

/// Result with the optimal-transport [`Error`](enum@Error).
pub type Result<T> = std::result::Result<T, Error>;
