//! Output-level regularizers as a hook: terms on the logits of each batch (label smoothing,
//! confidence penalty, spectral decoupling, ELR; [`reglab_core::output`]). Each gives its exact
//! gradient `G = ∂R/∂z` with respect to the logits; the trainer adds `Σ G ⊙ z` (with `G`
//! constant) to the loss, so one backward pass carries it to the weights. ELR keeps
//! per-example targets, indexed by the examples' positions in the training set, in its state.

use super::{LossCx, StepHook};
use crate::error::TrainError;
use crate::model::Net;
use reglab_core::{NamedTensor, OutputSet};

/// Prefix of the output regularizers' state in checkpoints (`output/elr.targets`).
pub const OUTPUT_PREFIX: &str = "output/";

/// The output terms.
pub struct OutputTerms {
    /// The terms.
    pub set: OutputSet,
}

impl OutputTerms {
    /// Hook for the terms of `set`.
    pub fn new(set: OutputSet) -> Self {
        Self { set }
    }

    /// Bind the terms to a training set of `examples` examples and `classes` classes (per-example
    /// state is sized then; the terms keep their state when the sizes are the ones they have).
    pub fn prepare(&mut self, examples: usize, classes: usize) -> Result<(), TrainError> {
        self.set.prepare(examples, classes).map_err(|e| TrainError::Config(e.to_string()))
    }
}

impl StepHook for OutputTerms {
    fn needs_batch_info(&self) -> bool {
        !self.set.is_empty()
    }

    fn replaces_loss(&self) -> bool {
        self.set.replaces_loss()
    }

    fn loss_terms(&mut self, cx: &LossCx<'_>, grad: &mut [f64], values: &mut Vec<(String, f64)>) -> Result<(), TrainError> {
        let v = self.set.eval(cx.batch, grad, cx.step, cx.total).map_err(|e| TrainError::Other(e.to_string()))?;
        values.extend(self.set.labels().into_iter().zip(v));
        Ok(())
    }

    fn state(&self) -> Result<Vec<NamedTensor>, TrainError> {
        Ok(self
            .set
            .state()
            .into_iter()
            .map(|mut t| {
                t.name = format!("{OUTPUT_PREFIX}{}", t.name);
                t
            })
            .collect())
    }

    fn owns(&self, name: &str) -> bool {
        name.starts_with(OUTPUT_PREFIX)
    }

    fn load_state(&mut self, _net: &mut Net, state: &[NamedTensor]) -> Result<(), TrainError> {
        let mine: Vec<NamedTensor> = state.iter().map(|t| NamedTensor { name: t.name[OUTPUT_PREFIX.len()..].to_string(), ..t.clone() }).collect();
        self.set.load_state(&mine).map_err(|e| TrainError::Other(e.to_string()))
    }
}
