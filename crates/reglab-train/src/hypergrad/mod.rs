//! Hypergradients by the implicit function theorem (catalog #24; Lorraine, Vicol & Duvenaud
//! 2020, "Optimizing Millions of Hyperparameters by Implicit Differentiation", AISTATS):
//! learning regularization strengths by gradient descent on the validation loss.
//!
//! ## Formula
//! Training loss `L_T(w, θ) = CE_T(w) + Σ_l (λ_l/2)‖w_l − a_l‖²`, `λ_l = exp(θ_l)`, the anchor
//! `a = 0` (per-layer weight decay) or `a = w₀` (L2-init strengths) ([`decay`]); or
//! `CE_T(w) + Σ_l λ_l (σ_max(W̃_l)² − 1)²`, per-layer `spectral` ([`spectral`], with its
//! approximation: the singular vectors held fixed in the Hessian), through the same
//! [`Strengths`] interface — below, the formulas of the decay;
//! validation loss `L_V(w) = CE_V(w)` (no penalty, no direct dependence on `θ`). At a minimum
//! `w*(θ)` of `L_T`, `∇_w L_T(w*(θ), θ) = 0`; differentiating that identity (IFT) gives
//! `dw*/dθ = −H⁻¹ ∂²_{wθ} L_T` and
//! ```text
//! dL_V/dθ_l = ∂_{θ_l} L_V − ∇_w L_Vᵀ H⁻¹ ∂²_{wθ_l} L_T = − λ_l ⟨(H⁻¹ ∇_w L_V)_l, w_l − a_l⟩
//! ```
//! - `w ∈ ℝⁿ`: every trainable parameter, flat, in [`crate::sharpness::params`]'s order (per
//!   layer its weight, burn layout — `Linear` stores `[d_in, d_out]`, transposed against
//!   PyTorch; weight decay is elementwise so the layout does not matter — then its bias);
//! - `H = ∇²_w L_T = ∇²CE_T + diag(λ_l on the entries of group l)` (`n × n`), only ever applied
//!   to vectors: the cross-entropy part by central differences of burn's gradient ([`hvp`]),
//!   the decay part exactly;
//! - `∂²_{wθ_l} L_T = ∂(λ_l (w_l − a_l))/∂θ_l = λ_l (w_l − a_l)` on the entries of group `l`,
//!   0 elsewhere;
//! - `∂_θ L_V = 0` here (the validation loss carries no penalty);
//! - `H⁻¹ ∇_w L_V` by the truncated Neumann series `α Σ_{j=0..K} (I − αH)^j ∇_w L_V`
//!   ([`neumann`]), the paper's Algorithm 3.
//!
//! Exact at an exact minimum with exact `H⁻¹`; at an approximate minimum (`T` optimizer steps)
//! with `K` Neumann terms it is the paper's approximation. Cost of one hypergradient: one
//! validation gradient and `K` Hessian-vector products of two gradients each, `1 + 2K`
//! gradient evaluations ([`hypergradient::hypergradient`]).
//!
//! ## Checks (`hypergrad::tests`, measured)
//! | what | against | relative error |
//! |---|---|---|
//! | FD Hessian-vector product, ε_rel = 1e-2 | closed-form HVP of multinomial logistic regression (f64) | 2.7e-5 |
//! | Neumann series, K terms | direct solve on an SPD matrix | exactly ‖(I − αH)^{K+1}H⁻¹v‖ (to 1e-10) |
//! | hypergradient, groups {W}, {b} of logistic regression, weight decay | central differences in θ of L_V at the optimum re-solved by f64 Newton | 2.0e-5 (IFT formula alone in f64: 7.7e-11) |
//! | the same, L2-init (anchor w₀) | the same | 3.6e-5 |
//! | per-layer decay of a ReLU MLP 6-12-3 (K = 2000) | central differences (h = 0.1) of L_V re-trained from w* | 7.2e-3 (minima on ReLU kinks) |
//! | the same | the layer-rescaling invariant dL_V/dθ₀ = dL_V/dθ₁ | 0.41 % apart |
//! | `spectral` strength of logistic regression (vectors held fixed, decay 0.05 beside it) | central differences in θ of L_V re-solved by f64 Newton | 4.1e-6 |
//! | `spectral` surrogate: ∇R, ∇²R v, mixed term | central differences (f64) | < 1e-7 |
//! | σ̂ at converged vectors; ∇R | σ_max of W̃W̃ᵀ formed from the PyTorch export; `spectral`'s own Exact gradient | 1e-9; 1e-5 |
//!
//! Cost, MLP 784-256-256-10 on one thread (ignored test `hyperstep_cost_on_an_mnist_sized_mlp`):
//! a training step (batch 128) 3.2–3.4 ms, one gradient for the Hessian (128 examples) 3.6 ms,
//! a hypergradient with K = 20 on 128 training and 1,000 validation examples 270–360 ms
//! (41 gradient evaluations; the rest is host-side copying of the 270k parameters).
//!
//! ## Tuning (Algorithm 1)
//! [`tune::tune`] alternates `T` steps of the run's optimizer on `w` (the decay added to the
//! gradients analytically, outside the autodiff graph, by the [`decay::LearnedDecay`] hook)
//! with one hyper-step of Adam or SGD on `θ`, and records `λ`, the validation loss and
//! accuracy and the compute spent, per hyper-step.

pub mod decay;
pub mod hvp;
pub mod hypergradient;
pub mod neumann;
pub mod spectral;
#[cfg(test)]
mod spectral_tests;
#[cfg(test)]
mod tests;
pub mod tune;

pub use decay::{DecayGroups, LearnedDecay};
pub use hvp::{Batch, FdHvp, ce_gradient};
pub use hypergradient::{Hypergradient, IftOptions, hypergradient};
pub use neumann::{inverse_hvp, largest_eigenvalue};
pub use spectral::SpectralGroups;
pub use tune::{HyperOptim, TuneOptions, TuneRecord, TuneResult, tune};

use crate::model::Net;

/// Learnable strengths of a penalty `R(w; θ) = Σ_l exp(θ_l) r_l(w)`: what the IFT hypergradient
/// needs of it ([`DecayGroups`]: weight decay and L2-init; [`SpectralGroups`]: `spectral`).
/// Vectors are flat, in [`slots`] order.
pub trait Strengths {
    /// The groups' names and log-strengths.
    fn strengths(&self) -> &LogStrengths;
    /// The same, to change `θ`.
    fn strengths_mut(&mut self) -> &mut LogStrengths;
    /// Group names, one per `θ_l`.
    fn names(&self) -> &[String] {
        self.strengths().names()
    }
    /// `θ_l = ln λ_l`.
    fn theta(&self) -> &[f64] {
        self.strengths().theta()
    }
    /// `λ_l = exp(θ_l)`.
    fn lambdas(&self) -> Vec<f64> {
        self.strengths().lambdas()
    }
    /// Set `θ` ([`LogStrengths::set_theta`]).
    fn set_theta(&mut self, theta: &[f64]) -> Result<(), crate::error::TrainError> {
        self.strengths_mut().set_theta(theta)
    }
    /// `out += ∇²_w R(w) v`.
    fn add_hessian_product(&self, w: &[f64], v: &[f64], out: &mut [f64]);
    /// `pᵀ ∂²_{wθ_l} R(w) = λ_l ⟨p, ∇r_l(w)⟩`, one per group.
    fn mixed_products(&self, w: &[f64], p: &[f64]) -> Vec<f64>;
}

/// Named log-strengths `θ_l = ln λ_l`, `λ_l = exp(θ_l) > 0`, of one penalty (its groups'
/// common bookkeeping: [`DecayGroups`], [`SpectralGroups`]).
#[derive(Debug, Clone, PartialEq)]
pub struct LogStrengths {
    /// The penalty, for messages (`weight decay`, `spectral`).
    what: &'static str,
    names: Vec<String>,
    theta: Vec<f64>,
}

impl LogStrengths {
    /// One strength per name from `lambda`: one for all or one per name, each finite and > 0
    /// (λ = 0 is the limit θ → −∞, out of reach).
    pub fn new(what: &'static str, names: Vec<String>, lambda: &[f64]) -> Result<Self, crate::error::TrainError> {
        use crate::error::TrainError;
        if lambda.len() != 1 && lambda.len() != names.len() {
            return Err(TrainError::Config(format!("{what}: {} strengths for {} groups (give 1 or {})", lambda.len(), names.len(), names.len())));
        }
        let mut theta = Vec::with_capacity(names.len());
        for (g, n) in names.iter().enumerate() {
            let l = lambda[if lambda.len() == 1 { 0 } else { g }];
            if !(l > 0.0 && l.is_finite()) {
                return Err(TrainError::Config(format!(
                    "the {what} λ of `{n}` must be finite and > 0 (it is learned as λ = exp(θ); λ = 0 is out of reach), got {l}"
                )));
            }
            theta.push(l.ln());
        }
        Ok(Self { what, names, theta })
    }

    /// Group names.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// `θ_l = ln λ_l`.
    pub fn theta(&self) -> &[f64] {
        &self.theta
    }

    /// `λ_l = exp(θ_l)`.
    pub fn lambdas(&self) -> Vec<f64> {
        self.theta.iter().map(|t| t.exp()).collect()
    }

    /// Set `θ` (one per group, finite, with `exp(θ)` finite and > 0).
    pub fn set_theta(&mut self, theta: &[f64]) -> Result<(), crate::error::TrainError> {
        use crate::error::TrainError;
        if theta.len() != self.theta.len() {
            return Err(TrainError::Config(format!("{} log-strengths for {} {} groups", theta.len(), self.theta.len(), self.what)));
        }
        for (n, &t) in self.names.iter().zip(theta) {
            let l = t.exp();
            if !(t.is_finite() && l > 0.0 && l.is_finite()) {
                return Err(TrainError::non_finite(format!("the log {} θ of `{n}` (λ = {l})", self.what), t));
            }
        }
        self.theta.copy_from_slice(theta);
        Ok(())
    }
}

/// One parameter tensor of a model as the flat vector sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Slot {
    /// PyTorch-style name (`layers.0.weight`).
    pub name: String,
    /// Layer index ([`Net::layers`]).
    pub layer: usize,
    /// The layer's bias (else its weight).
    pub bias: bool,
    /// Entries `start..end` of the flat vector.
    pub range: std::ops::Range<usize>,
}

/// The parameter tensors of `net` in flat order ([`crate::sharpness::params`]): per layer its
/// weight, then its bias.
pub fn slots(net: &Net) -> Vec<Slot> {
    let mut out = Vec::new();
    let mut at = 0;
    for (i, l) in net.layers().iter().enumerate() {
        let n: usize = l.shape.iter().product();
        out.push(Slot { name: l.weight_name(), layer: i, bias: false, range: at..at + n });
        at += n;
        if l.has_bias {
            out.push(Slot { name: l.bias_name(), layer: i, bias: true, range: at..at + l.shape[0] });
            at += l.shape[0];
        }
    }
    out
}

/// Per-tensor f32 vectors (burn layout) as one flat f64 vector.
pub(crate) fn flatten(parts: &[Vec<f32>]) -> Vec<f64> {
    parts.iter().flat_map(|p| p.iter().map(|&x| x as f64)).collect()
}

/// A flat f64 vector cut into per-tensor f32 vectors of the lengths of `like`.
pub(crate) fn unflatten(flat: &[f64], like: &[crate::sharpness::Flat]) -> Vec<Vec<f32>> {
    let mut at = 0;
    like.iter()
        .map(|(v, _)| {
            let out = flat[at..at + v.len()].iter().map(|&x| x as f32).collect();
            at += v.len();
            out
        })
        .collect()
}

pub(crate) fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}
