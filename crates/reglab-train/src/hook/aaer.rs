//! AAER as a hook (the math and paper in [`reglab_regularizers::adversarial::aaer`]): its own
//! single-step adversarial training (the attack's first forward pass gives the start's logits
//! and losses), and the term on the main pass's logits — the adversarial examples' — entering the
//! loss as `Σ G ⊙ z`. Reported: `aaer` (the term's value) and `aaer/abnormal` (the fraction `m/n`
//! of abnormal adversarial examples). Cost: as FGSM training.

use super::{GraphCx, StepCx, StepHook};
use crate::attack::{Objective, apply, labels_of, perturb};
use crate::error::TrainError;
use burn::tensor::{Tensor, TensorData};
use reglab_core::Spec;
use reglab_regularizers::adversarial::aaer::Aaer;

/// AAER bound to a run, with this step's start logits and losses.
pub struct AaerHook {
    a: Aaer,
    start: Option<(Vec<f32>, Vec<f64>)>,
}

impl AaerHook {
    /// From `aaer=λ₁:eps=ε[:…]`.
    pub fn new(spec: &Spec) -> Result<Self, TrainError> {
        Ok(Self { a: Aaer::from_spec(spec).map_err(|e| TrainError::Config(e.to_string()))?, start: None })
    }
}

impl StepHook for AaerHook {
    fn train_inputs(&mut self, cx: &mut StepCx<'_>) -> Result<Option<Tensor<2>>, TrainError> {
        let y = labels_of(cx.y)?;
        let p = perturb(cx.net, cx.x, &y, &self.a.attack, Objective::CrossEntropy, cx.seed, cx.step)?;
        let x = apply(cx.x, &p);
        self.start = Some((p.start_logits, p.start_losses));
        Ok(Some(x))
    }

    fn needs_graph_terms(&self) -> bool {
        true
    }

    fn graph_terms(&mut self, cx: &GraphCx<'_>, values: &mut Vec<(String, f64)>) -> Result<Option<Tensor<1>>, TrainError> {
        let (z0, l0) = self.start.take().ok_or_else(|| TrainError::Other("aaer: no attack start for this step".into()))?;
        let n = cx.labels.len();
        let t = self.a.term(&z0, &l0, cx.z, cx.labels, cx.classes);
        values.push(("aaer".into(), t.value));
        values.push(("aaer/abnormal".into(), t.abnormal as f64 / n.max(1) as f64));
        if t.grad.iter().all(|&g| g == 0.0) {
            return Ok(None);
        }
        let g = Tensor::<2>::from_data(TensorData::new(t.grad.into_iter().map(|v| v as f32).collect::<Vec<_>>(), [n, cx.classes]), &cx.x.device());
        Ok(Some((cx.logits.clone() * g).sum()))
    }
}
