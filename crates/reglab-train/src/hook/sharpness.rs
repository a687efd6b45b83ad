//! The steps that take the gradient at other weights, as hooks
//! ([`reglab_regularizers::stochastic::sharpness`]):
//!
//! - **AMP** and **SAM** move θ to θ + δ before the forward pass (AMP: `K` ascent steps in an
//!   ε-ball per tensor; SAM: `ρ·g/‖g‖₂`), so the step's gradient is taken there; θ is put back
//!   after the backward pass, before any other gradient transformation.
//! - **grad-norm** adds `λ‖∇L‖²`: after the backward pass, its gradient
//!   `2λ‖g₀‖(∇L(θ + h·ĝ₀) − g₀)/h` by finite differences (no double backpropagation).
//!
//! The extra gradients use the step's batch, labels (mixup's too) and dropout masks
//! ([`super::Pass`]).

use super::{StepCx, StepHook};
use crate::error::TrainError;
use crate::sharpness::{Flat, add_grads, params, set_params};
use burn::optim::GradientsParams;
use reglab_regularizers::stochastic::sharpness::{Sharpness, amp_update, grad_norm_gradient, grad_norm_step, sam_delta};

/// AMP, SAM or the gradient-norm penalty.
pub struct SharpnessHook {
    kind: Sharpness,
    /// θ while the weights are moved (between the two phases).
    theta: Option<Vec<Flat>>,
}

impl SharpnessHook {
    /// The hook of `kind`.
    pub fn new(kind: Sharpness) -> Self {
        Self { kind, theta: None }
    }
}

impl StepHook for SharpnessHook {
    fn before_forward(&mut self, cx: &mut StepCx<'_>) -> Result<(), TrainError> {
        match self.kind {
            Sharpness::Amp { eps, lr, steps } => {
                let theta = params(cx.net)?;
                let mut delta: Vec<Vec<f32>> = theta.iter().map(|(v, _)| vec![0.0; v.len()]).collect();
                for k in 0..steps {
                    if k > 0 {
                        set_params(cx.net, &theta, Some(&delta));
                    }
                    let g = cx.pass.ce_grads(cx.net, cx.x.clone(), cx.y.clone(), cx.mix)?;
                    amp_update(&mut delta, &g, eps, lr);
                }
                set_params(cx.net, &theta, Some(&delta));
                self.theta = Some(theta);
            }
            Sharpness::Sam { rho } => {
                let theta = params(cx.net)?;
                let g = cx.pass.ce_grads(cx.net, cx.x.clone(), cx.y.clone(), cx.mix)?;
                let delta = sam_delta(&g, rho);
                set_params(cx.net, &theta, Some(&delta));
                self.theta = Some(theta);
            }
            Sharpness::GradNorm { .. } => {}
        }
        Ok(())
    }

    fn after_backward(&mut self, cx: &mut StepCx<'_>, grads: &mut GradientsParams) -> Result<(), TrainError> {
        if let Some(theta) = self.theta.take() {
            set_params(cx.net, &theta, None);
        }
        if let Sharpness::GradNorm { lambda, h } = self.kind {
            // λ‖∇CE‖²: its gradient 2λ‖g₀‖(∇CE(θ + h·ĝ₀) − g₀)/h added to the step's gradient
            let theta = params(cx.net)?;
            let g0 = cx.pass.ce_grads(cx.net, cx.x.clone(), cx.y.clone(), cx.mix)?;
            let step = grad_norm_step(&g0, h);
            set_params(cx.net, &theta, Some(&step));
            let g1 = cx.pass.ce_grads(cx.net, cx.x.clone(), cx.y.clone(), cx.mix)?;
            set_params(cx.net, &theta, None);
            let extra = grad_norm_gradient(&g0, &g1, lambda, h);
            add_grads(cx.net, grads, &extra)?;
            let value = lambda * g0.iter().flatten().map(|&v| (v as f64) * (v as f64)).sum::<f64>();
            cx.values.push(("grad-norm".into(), value));
        }
        Ok(())
    }
}
