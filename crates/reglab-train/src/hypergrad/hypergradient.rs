//! The IFT hypergradient of the validation loss with respect to the log-strengths of a learned
//! penalty `R(w; θ) = Σ_l e^{θ_l} r_l(w)` (see the [module documentation](super) for the formula
//! and the paper):
//!
//! ```text
//! dL_V/dθ_l ≈ − λ_l ⟨p, ∇r_l(w)⟩,    p = α Σ_{j=0..K} (I − αH)^j ∇_w L_V(w)
//! H u = (∇CE_T(w + εu) − ∇CE_T(w − εu)) / (2ε) + ∇²R(w) u
//! ```
//! with `∇r_l = w_l − a_l` and `∇²R u = λ ⊙ u` for the weight decay ([`super::decay`]), the
//! surrogate's terms for `spectral` ([`super::spectral`]), both through [`Strengths`].
//! at the current weights `w` (ideally a minimum of `L_T`), `CE_T` on the training batch,
//! `L_V = CE_V` on the validation batch. Cost: `1 + 2K` gradient evaluations (one on the
//! validation batch, `2K` on the training batch).

use super::hvp::{Batch, DEFAULT_EPS_REL, FdHvp, ce_gradient};
use super::{Strengths, flatten, neumann};
use crate::error::TrainError;
use crate::model::Net;

/// The approximation's settings.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct IftOptions {
    /// Neumann step `α` (> 0; the series converges for `α < 2/μ_max(H)`; the paper uses the
    /// training learning rate of SGD).
    pub alpha: f64,
    /// Neumann terms `K` (Hessian-vector products; 0: `H⁻¹ ≈ αI`).
    pub k: usize,
    /// Relative finite-difference step `ε_rel` of the Hessian-vector products ([`super::hvp`]).
    pub eps_rel: f64,
}

impl Default for IftOptions {
    fn default() -> Self {
        Self { alpha: 0.1, k: 20, eps_rel: DEFAULT_EPS_REL }
    }
}

impl IftOptions {
    /// Check the values.
    pub fn validate(&self) -> Result<(), TrainError> {
        if !(self.alpha > 0.0 && self.alpha.is_finite()) {
            return Err(TrainError::Config(format!("the Neumann step α must be finite and > 0, got {}", self.alpha)));
        }
        if !(self.eps_rel > 0.0 && self.eps_rel < 1.0) {
            return Err(TrainError::Config(format!("the relative finite-difference step ε_rel must be in (0, 1), got {}", self.eps_rel)));
        }
        Ok(())
    }
}

/// One hypergradient and what it cost.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Hypergradient {
    /// `dL_V/dθ_l` per group.
    pub grad: Vec<f64>,
    /// `L_V` on the validation batch at the weights it was taken at.
    pub val_loss: f64,
    /// Gradient evaluations: `1 + 2K`.
    pub grad_evals: usize,
    /// Examples through a forward and backward pass: `N_val + 2K·N_train`.
    pub examples: usize,
}

/// The hypergradient at `net`'s current weights (left unchanged, bit for bit) for the learned
/// strengths `groups` (weight decay, L2-init or `spectral`: the penalty's own Hessian and mixed
/// term come from [`Strengths`]), the Hessian on `train`, the validation loss on `val`.
pub fn hypergradient(net: &mut Net, groups: &dyn Strengths, train: &Batch, val: &Batch, o: &IftOptions) -> Result<Hypergradient, TrainError> {
    o.validate()?;
    let (val_loss, v) = ce_gradient(net, val)?;
    let w = flatten(&crate::sharpness::params(net)?.into_iter().map(|(v, _)| v).collect::<Vec<_>>());
    let mut fd = FdHvp::new(net, train, o.eps_rel)?;
    let p = neumann::inverse_hvp(
        |u| {
            let mut h = fd.apply(u)?;
            groups.add_hessian_product(&w, u, &mut h);
            Ok(h)
        },
        &v,
        o.alpha,
        o.k,
    )?;
    let hvp_evals = fd.grad_evals;
    let grad: Vec<f64> = groups.mixed_products(&w, &p).into_iter().map(|m| -m).collect();
    if let Some((l, g)) = grad.iter().enumerate().find(|(_, g)| !g.is_finite()) {
        return Err(TrainError::non_finite(format!("the hypergradient of group `{}`", groups.names()[l]), *g));
    }
    Ok(Hypergradient { grad, val_loss, grad_evals: 1 + hvp_evals, examples: val.n + hvp_evals * train.n })
}
