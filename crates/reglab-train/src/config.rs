//! What to train and how: the model, the optimizer, the schedule of the loop, and the
//! techniques (regularizer specs, a reparameterization, pruning masks), checked before any
//! training starts.

use crate::error::TrainError;
use crate::model::ModelSpec;
use crate::optim::OptimSpec;
use crate::prune::PruneSpec;
use crate::reparam::ReparamSpec;

/// What to train and how.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Architecture.
    pub model: ModelSpec,
    /// Optimizer.
    pub optim: OptimSpec,
    /// Learning rate.
    pub lr: f64,
    /// Mini-batch size.
    pub batch: usize,
    /// Passes over the training set.
    pub epochs: usize,
    /// Seed of the initialisation and the shuffling.
    pub seed: u64,
    /// Regularizer specs, `NAME=λ[:key=value]`, parsed when the configuration is made (strings
    /// in configuration files).
    #[serde(default)]
    pub regs: Vec<reglab_core::Spec>,
    /// Reparameterization of the layers' weights (weight-norm, spectral-norm, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reparam: Option<ReparamSpec>,
    /// Pruning masks (`magnitude:…`, `random:…`, `fish:…`; see [`crate::prune`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prune: Option<PruneSpec>,
}

impl TrainConfig {
    /// Check values that a type does not rule out.
    pub fn validate(&self) -> Result<(), TrainError> {
        let bad = |m: String| Err(TrainError::Config(m));
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return bad(format!("learning rate must be finite and > 0, got {}", self.lr));
        }
        if self.batch == 0 {
            return bad("batch size must be ≥ 1".into());
        }
        if self.epochs == 0 {
            return bad("epochs must be ≥ 1".into());
        }
        if let (Some(p), Some(r)) = (&self.prune, &self.reparam) {
            return bad(format!("pruning (`{p}`) cannot be combined with a reparameterization (`{r}`) yet"));
        }
        self.optim.validate().map_err(TrainError::Config)
    }
}
