//! Why training stopped early or could not start.

/// Why training stopped early or could not start.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A bad configuration (regularizer spec, model, hyper-parameter).
    #[error("{0}")]
    Config(String),
    /// The loss (or a regularizer value) became NaN or infinite.
    #[error("{what} became {value} at epoch {epoch}, step {step}")]
    NonFinite { epoch: usize, step: usize, what: String, value: f64 },
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

impl TrainError {
    /// `what` became the non-finite `value` (epoch and step are filled in by the loop).
    pub fn non_finite(what: impl Into<String>, value: f64) -> Self {
        Self::NonFinite { epoch: 0, step: 0, what: what.into(), value }
    }
}

impl From<String> for TrainError {
    fn from(m: String) -> Self {
        Self::Other(m)
    }
}
