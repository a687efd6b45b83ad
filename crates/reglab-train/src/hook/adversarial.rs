//! Adversarial training as a hook (`fgsm-at`, `fgsm-rs-at`, `pgd-at`; the attacks' math and
//! papers in [`reglab_regularizers::adversarial::attack`]): before the main forward pass the
//! batch is attacked at the current weights ([`crate::attack::perturb`], seeded by the run's
//! seed and the step) and the step trains on `x + δ` — the cross-entropy of the adversarial
//! examples replaces the clean one. Cost: `K` forward and backward passes (input gradients
//! only) more than a plain step.

use super::{StepCx, StepHook};
use crate::attack::{Objective, apply, labels_of, perturb};
use crate::error::TrainError;
use burn::tensor::Tensor;
use reglab_core::Spec;
use reglab_regularizers::adversarial::attack::Attack;

/// Adversarial training with one attack.
pub struct AdversarialTraining {
    /// The attack.
    pub attack: Attack,
}

impl AdversarialTraining {
    /// From `fgsm-at=ε[:…]`, `fgsm-rs-at=ε[:…]` or `pgd-at=ε[:…]`.
    pub fn new(spec: &Spec) -> Result<Self, TrainError> {
        Ok(Self { attack: Attack::from_spec(spec).map_err(|e| TrainError::Config(e.to_string()))? })
    }
}

impl StepHook for AdversarialTraining {
    fn train_inputs(&mut self, cx: &mut StepCx<'_>) -> Result<Option<Tensor<2>>, TrainError> {
        let y = labels_of(cx.y)?;
        let p = perturb(cx.net, cx.x, &y, &self.attack, Objective::CrossEntropy, cx.seed, cx.step)?;
        Ok(Some(apply(cx.x, &p)))
    }
}
