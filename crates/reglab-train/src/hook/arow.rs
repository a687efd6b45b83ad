//! ARoW and TRADES as a hook (the math and papers in
//! [`reglab_regularizers::adversarial::arow`]): the step trains on the clean batch; per step the
//! KL-adversarial examples `x̂` are found by PGD against the main pass's (clean) predictions,
//! one more forward pass gives `ẑ = f(x̂)` in the graph, and the term enters the loss through
//! both logits (`Σ G_z ⊙ z + Σ G_ẑ ⊙ ẑ`, exact). Reported: `arow` / `trades` (`λ·mean(w·KL)`)
//! and `arow/ls` (the label-smoothing part). Cost: `K` attack passes (input gradients only) and
//! one forward and backward pass more than a plain step.

use super::{GraphCx, StepHook};
use crate::attack::{Objective, apply, host, perturb};
use crate::error::TrainError;
use burn::tensor::{Tensor, TensorData};
use reglab_core::Spec;
use reglab_regularizers::adversarial::arow::RobustKl;

/// ARoW / TRADES bound to a run.
pub struct ArowHook {
    r: RobustKl,
    label: &'static str,
}

impl ArowHook {
    /// From `arow=λ:eps=ε[:…]` or `trades=λ:eps=ε[:…]`.
    pub fn new(spec: &Spec) -> Result<Self, TrainError> {
        let r = RobustKl::from_spec(spec).map_err(|e| TrainError::Config(e.to_string()))?;
        let label = if r.weighted { "arow" } else { "trades" };
        Ok(Self { r, label })
    }
}

impl StepHook for ArowHook {
    fn needs_graph_terms(&self) -> bool {
        true
    }

    fn graph_terms(&mut self, cx: &GraphCx<'_>, values: &mut Vec<(String, f64)>) -> Result<Option<Tensor<1>>, TrainError> {
        let n = cx.labels.len();
        let p = perturb(cx.net, cx.x, cx.labels, &self.r.attack(), Objective::KlToClean(cx.z), cx.seed, cx.step)?;
        let za = cx.net.forward(apply(cx.x, &p));
        let zah = host(za.clone().detach())?;
        let (ls, rob, gz, ga) = self.r.term(cx.z, &zah, cx.labels, cx.classes);
        if self.r.smoothing > 0.0 {
            values.push((format!("{}/ls", self.label), ls));
        }
        values.push((self.label.into(), rob));
        let device = cx.x.device();
        let t = |g: Vec<f64>| Tensor::<2>::from_data(TensorData::new(g.into_iter().map(|v| v as f32).collect::<Vec<_>>(), [n, cx.classes]), &device);
        Ok(Some((cx.logits.clone() * t(gz)).sum() + (za * t(ga)).sum()))
    }
}
