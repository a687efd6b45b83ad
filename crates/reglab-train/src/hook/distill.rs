//! `feature-distill=λ`: keep the features close to those of the initial network — for a
//! pretrained model, the pretrained encoder — on the same mini-batch (feature distillation).
//!
//! ## Formula
//! `R(θ) = λ · (1/n) Σ_i ‖f_θ(x_i) − f_{θ₀}(x_i)‖²₂` over the `n` examples of the mini-batch,
//! `f` the features the last layer reads (`d` values per example: BERT's mean-pooled last hidden
//! state, an MLP's last hidden layer, a CNN's flattened conv features; after the activation
//! masks), `θ₀` the weights when training starts (the anchor: the loaded pretrained weights, or
//! `--anchor`). `∂R/∂f_θ(x_i) = 2λ/n · (f_θ(x_i) − f_{θ₀}(x_i))`, which enters the backward pass
//! as the extra loss `Σ G ⊙ f` with `G` constant ([`super::StepHook::feature_terms`]); the
//! reference network `f_{θ₀}` runs without autodiff (one more forward pass per step, frozen).
//! The reported value is `λ·r` averaged over the epoch's mini-batches.
//!
//! ## Paper
//! Smith, Tian, Halbe, Hsu, Lin, Kira, Kira, "A Closer Look at Rehearsal-Free Continual
//! Learning", CVPR Workshops 2023 (arXiv 2203.17269), catalog #102: feature distillation
//! `‖h − h*‖²` to the pretrained model's features, a baseline beside L2 and EWC (they find plain
//! L2 to the pretrained weights stronger). reglab averages over the batch (the paper's scale
//! convention is not stated in the catalog; λ absorbs it).

use super::{FeatureCx, StepHook};
use crate::error::TrainError;
use crate::model::Net;
use burn::module::Module;
use reglab_core::{NamedTensor, Spec};

/// The value `r = (1/n) Σ_i ‖f_i − f0_i‖²` and its gradient `2/n (f − f0)` (`n × d`, row-major).
pub fn distill_value_and_grad(f: &[f32], f0: &[f32], n: usize) -> (f64, Vec<f64>) {
    let inv = 1.0 / n.max(1) as f64;
    let mut v = 0.0;
    let g = f
        .iter()
        .zip(f0)
        .map(|(&a, &b)| {
            let d = a as f64 - b as f64;
            v += d * d;
            2.0 * inv * d
        })
        .collect();
    (v * inv, g)
}

/// The hook: the strength and the frozen reference network.
pub struct FeatureDistill {
    lambda: f64,
    reference: Net,
}

impl FeatureDistill {
    /// From `feature-distill=λ` (λ ≥ 0, no options) and the model; the reference is the model
    /// as built (or with `anchor` loaded), without autodiff.
    pub fn new(spec: &Spec, net: &Net, anchor: Option<&[NamedTensor]>) -> Result<Self, TrainError> {
        spec.options().finish().map_err(|e| TrainError::Config(e.to_string()))?;
        if !(spec.strength >= 0.0 && spec.strength.is_finite()) {
            return Err(TrainError::Config(format!("`{}`: the strength must be ≥ 0", spec.raw())));
        }
        let mut reference = net.clone();
        if let Some(a) = anchor {
            reference.load_pytorch(a).map_err(|e| TrainError::Config(format!("anchor checkpoint: {e}")))?;
        }
        Ok(Self { lambda: spec.strength, reference: reference.valid() })
    }
}

impl StepHook for FeatureDistill {
    fn needs_features(&self) -> bool {
        true
    }

    fn feature_terms(&mut self, cx: &FeatureCx<'_>, grad: &mut [f64], values: &mut Vec<(String, f64)>) -> Result<(), TrainError> {
        let x = cx.x.clone().inner();
        let f0 = self.reference.features(x).into_data().convert::<f32>();
        let f0: &[f32] = f0.as_slice().map_err(|e| TrainError::Other(format!("reference features: {e:?}")))?;
        if f0.len() != cx.features.len() {
            return Err(TrainError::Other(format!("reference features {} values, the model's {}", f0.len(), cx.features.len())));
        }
        let (r, g) = distill_value_and_grad(cx.features, f0, cx.n);
        for (a, b) in grad.iter_mut().zip(g) {
            *a += self.lambda * b;
        }
        values.push(("feature-distill".into(), self.lambda * r));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_and_gradient_against_an_independent_computation_and_finite_differences() {
        let f = [1.0f32, -2.0, 0.5, 3.0, 0.0, 1.0];
        let f0 = [0.5f32, -2.0, 1.5, 1.0, 1.0, 1.0];
        // independent: rows (0.25 + 0 + 1) and (4 + 1 + 0), mean over n = 2
        let (v, g) = distill_value_and_grad(&f, &f0, 2);
        assert_eq!(v, (1.25 + 5.0) / 2.0);
        for i in 0..6 {
            let h = 1.0f32 / 1024.0; // exact in f32 around these values: the central difference of a quadratic is exact
            let mut p = f;
            p[i] += h;
            let mut m = f;
            m[i] -= h;
            let fd = (distill_value_and_grad(&p, &f0, 2).0 - distill_value_and_grad(&m, &f0, 2).0) / (2.0 * h as f64);
            assert!((fd - g[i]).abs() < 1e-9, "{i}: {fd} vs {}", g[i]);
        }
        // invariants: 0 with gradient 0 at the reference, ≥ 0 everywhere
        let (v0, g0) = distill_value_and_grad(&f0, &f0, 2);
        assert_eq!(v0, 0.0);
        assert!(g0.iter().all(|&x| x == 0.0));
    }
}
