//! Hessian-vector products of the training cross-entropy by central differences of burn's
//! gradient (burn has no double backward):
//!
//! ```text
//! H v ≈ (∇CE(w + εv) − ∇CE(w − εv)) / (2ε),     ε = ε_rel · max(‖w‖, 1) / ‖v‖
//! ```
//! `CE(w) = (1/N) Σ_n −log softmax(f(x_n; w))_{y_n}` on a fixed batch of `N` examples
//! ([`Batch`]), `w`, `v ∈ ℝⁿ` flat ([`super::slots`] order), gradients in f32 (burn), the
//! differences in f64.
//!
//! The step: the perturbation `εv` has norm `ε_rel · max(‖w‖, 1)`, a fixed fraction of the
//! weights whatever the scale of `v`. Truncation (central differences): the error is
//! `ε² ∇³CE[v, v, v]/6`, relative `O(ε_rel²)` when the loss varies on the scale of `‖w‖`.
//! Rounding: each f32 gradient carries an absolute error of about `u·G` (`u = 2⁻²⁴ ≈ 6e-8`,
//! `G` the size of the per-example terms summed, not of their nearly cancelling mean at an
//! optimum), amplified by `1/(2ε)`, relative `O(u/ε_rel)`; also `w ± εv` is itself rounded to
//! f32, a relative error `u/ε_rel` of the displacement. Balancing `c₃ ε_rel² ≈ c_u u/ε_rel`
//! gives `ε_rel ∝ u^{1/3} ≈ 4e-3` up to the problem's constants. Measured against the exact
//! product of multinomial logistic regression (`hypergrad::tests`, 90 examples, ‖w‖ ≈ 2.6),
//! relative errors for ε_rel = 1e-1, 1e-2, 1e-3, 1e-4, 1e-5: 1.7e-3, 2.7e-5, 4.2e-4, 1.8e-3,
//! 3.1e-2 — truncation ∝ ε² above 1e-2, rounding ∝ 1/ε below — hence the default
//! [`DEFAULT_EPS_REL`] = 1e-2 (a perturbation of 1 % of ‖w‖).
//!
//! With ReLU networks the gradient jumps where a unit's pre-activation crosses 0 between
//! `w − εv` and `w + εv`; the difference quotient then includes those jumps, which the
//! generalized Hessian (ReLU'' = 0) leaves out. The crossings grow like `ε` and each weighs
//! `~1/ε`, so that part does not vanish as `ε → 0`: it measures the density of
//! pre-activations near 0, i.e. how the gradient really changes over a finite step (what the
//! minimum's response to `θ` also sees; a ReLU MLP's hypergradient matches central
//! differences of its re-trained validation loss to 7.2e-3 in `hypergrad::tests`).

use super::{flatten, norm, unflatten};
use crate::error::TrainError;
use crate::model::Net;
use crate::sharpness::Flat;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Int, Tensor, TensorData};
use reglab_core::Dataset;

/// Default relative step of the finite-difference Hessian-vector product (see the module
/// documentation).
pub const DEFAULT_EPS_REL: f64 = 1e-2;

/// A fixed batch of examples as tensors on the model's device.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Inputs `[N, d]`.
    pub x: Tensor<2>,
    /// Labels `[N]`.
    pub y: Tensor<1, Int>,
    /// `N`.
    pub n: usize,
}

impl Batch {
    /// The examples `idx` of `data` (all of them when `None`) on `device`.
    pub fn new(data: &Dataset, idx: Option<&[usize]>, device: &Device) -> Result<Self, TrainError> {
        let all: Vec<usize>;
        let idx = match idx {
            Some(i) => i,
            None => {
                all = (0..data.len()).collect();
                &all
            }
        };
        if idx.is_empty() {
            return Err(TrainError::Config(format!("a batch of {} needs at least one example", data.name)));
        }
        let d = data.example_len();
        let mut x = Vec::with_capacity(idx.len() * d);
        let mut y = Vec::with_capacity(idx.len());
        for &i in idx {
            if i >= data.len() {
                return Err(TrainError::Config(format!("example {i} is outside {} ({} examples)", data.name, data.len())));
            }
            x.extend_from_slice(data.example(i));
            y.push(data.labels[i] as i64);
        }
        let n = idx.len();
        Ok(Self { x: Tensor::<2>::from_data(TensorData::new(x, [n, d]), device), y: Tensor::<1, Int>::from_data(TensorData::new(y, [n]), device), n })
    }
}

/// The mean cross-entropy of `net` on `b` (plain forward pass: no dropout or other hook) and
/// its gradient, flat in [`super::slots`] order (0 for frozen parameters).
pub fn ce_gradient(net: &Net, b: &Batch) -> Result<(f64, Vec<f64>), TrainError> {
    let loss = CrossEntropyLossConfig::new().init(&b.x.device()).forward(net.forward(b.x.clone()), b.y.clone());
    let lv = loss.clone().into_scalar::<f32>() as f64;
    if !lv.is_finite() {
        return Err(TrainError::non_finite("the cross-entropy of a hypergradient batch", lv));
    }
    let grads = GradientsParams::from_grads(loss.backward(), net);
    let g = crate::sharpness::grads(net, &grads)?;
    Ok((lv, flatten(&g)))
}

/// `v ↦ ∇²CE(w) v` by central differences at the weights `net` has when made (see the module
/// documentation); the model is back at those weights, bit for bit, after every product.
pub struct FdHvp<'a> {
    net: &'a mut Net,
    base: Vec<Flat>,
    w_norm: f64,
    batch: &'a Batch,
    eps_rel: f64,
    /// Gradient evaluations so far (two per product).
    pub grad_evals: usize,
}

impl<'a> FdHvp<'a> {
    /// Products at `net`'s current weights on `batch`, relative step `eps_rel` (finite, in
    /// (0, 1)).
    pub fn new(net: &'a mut Net, batch: &'a Batch, eps_rel: f64) -> Result<Self, TrainError> {
        if !(eps_rel > 0.0 && eps_rel < 1.0) {
            return Err(TrainError::Config(format!("the relative finite-difference step ε_rel must be in (0, 1), got {eps_rel}")));
        }
        let base = crate::sharpness::params(net)?;
        let w_norm = norm(&flatten(&base.iter().map(|(v, _)| v.clone()).collect::<Vec<_>>()));
        Ok(Self { net, base, w_norm, batch, eps_rel, grad_evals: 0 })
    }

    /// Number of parameters `n`.
    pub fn dim(&self) -> usize {
        self.base.iter().map(|(v, _)| v.len()).sum()
    }

    /// The step `ε` used for a direction of norm `v_norm`.
    pub fn step(&self, v_norm: f64) -> f64 {
        self.eps_rel * self.w_norm.max(1.0) / v_norm
    }

    /// `∇²CE(w) v`, flat.
    pub fn apply(&mut self, v: &[f64]) -> Result<Vec<f64>, TrainError> {
        if v.len() != self.dim() {
            return Err(TrainError::Other(format!("a direction of {} entries for {} parameters", v.len(), self.dim())));
        }
        let vn = norm(v);
        if vn == 0.0 {
            return Ok(vec![0.0; v.len()]);
        }
        if !vn.is_finite() {
            return Err(TrainError::non_finite("the norm of a Hessian-vector product's direction", vn));
        }
        let eps = self.step(vn);
        let plus: Vec<f64> = v.iter().map(|x| eps * x).collect();
        let minus: Vec<f64> = plus.iter().map(|x| -x).collect();
        let mut grad_at = |d: &[f64]| -> Result<Vec<f64>, TrainError> {
            crate::sharpness::set_params(self.net, &self.base, Some(&unflatten(d, &self.base)));
            let r = ce_gradient(self.net, self.batch);
            crate::sharpness::set_params(self.net, &self.base, None);
            r.map(|(_, g)| g)
        };
        let gp = grad_at(&plus)?;
        let gm = grad_at(&minus)?;
        self.grad_evals += 2;
        Ok(gp.iter().zip(&gm).map(|(a, b)| (a - b) / (2.0 * eps)).collect())
    }
}
