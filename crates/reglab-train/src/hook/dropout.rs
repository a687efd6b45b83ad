//! Dropout as a hook: a mask on the hidden activations of every training forward pass
//! ([`reglab_regularizers::stochastic::dropout`]: inverted dropout, masks from
//! `(seed, step, layer)`, so the passes of one step share them and a resumed run repeats them).

use super::{ActivationMask, StepHook};
use reglab_regularizers::stochastic::dropout::Dropout;

/// Dropout in the training forward passes.
pub struct DropoutHook(pub Dropout);

impl ActivationMask for Dropout {
    fn mask(&self, n: usize, seed: u64, step: u64, layer: usize) -> Vec<f32> {
        Dropout::mask(self, n, seed, step, layer)
    }
}

impl StepHook for DropoutHook {
    fn activation_mask(&self) -> Option<Box<dyn ActivationMask>> {
        Some(Box::new(self.0.clone()))
    }
}
