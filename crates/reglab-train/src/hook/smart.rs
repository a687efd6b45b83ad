//! SMART as a hook ([`reglab_regularizers::stochastic::smart`], where the objective is stated).
//!
//! Per step, before the main forward pass: the clean logits `z` (no activation masks), the
//! perturbation `δ` by `K` ascent steps (each one forward and backward pass through the
//! perturbed model, the gradient taken with respect to `δ`), then one more forward and backward
//! pass at the final `δ` whose parameter gradient — that of `λ_s·R_s` through the perturbed
//! branch — is kept; and, with `μ > 0`, the teacher's logits. On the main pass's logits
//! ([`StepHook::loss_terms`]): the clean branch of `λ_s·R_s` and `μ·D`. After the backward pass
//! the kept gradient is added; after the optimizer step the teacher moves:
//! `θ̃ ← (1 − β)θ + βθ̃`. The teacher is saved with checkpoints (`smart/teacher/<tensor>`).
//!
//! Cost: `K + 1` forward and backward passes and one or two forward passes more than a plain
//! step. Activation masks (dropout) act in the main pass only.

use super::{LossCx, StepCx, StepHook};
use crate::attack::host;
use crate::error::TrainError;
use crate::model::Net;
use crate::sharpness::{add_grads, grads as flat_grads, params, set_params};
use burn::optim::GradientsParams;
use burn::tensor::{Tensor, TensorData};
use reglab_core::{NamedTensor, Spec};
use reglab_regularizers::stochastic::smart::{Smart, ascent, initial_noise, sym_kl};

const PREFIX: &str = "smart/teacher/";

/// SMART bound to a model.
pub struct SmartHook {
    s: Smart,
    teacher: Option<Net>,
    /// This step's: perturbed logits at the final δ, the teacher's logits, the perturbed
    /// branch's parameter gradient (flat).
    adv: Option<Vec<f32>>,
    teacher_logits: Option<Vec<f32>>,
    adv_grads: Option<Vec<Vec<f32>>>,
    /// The last step's final perturbation `[n, K]` (for tests and diagnostics).
    pub last_delta: Vec<f32>,
}

impl SmartHook {
    /// From `smart=λ_s[:…]` on `net` (the teacher starts as a copy of it).
    pub fn new(spec: &Spec, net: &Net) -> Result<Self, TrainError> {
        let s = Smart::from_spec(spec).map_err(|e| TrainError::Config(e.to_string()))?;
        let teacher = (s.mu > 0.0).then(|| net.clone());
        Ok(Self { s, teacher, adv: None, teacher_logits: None, adv_grads: None, last_delta: Vec::new() })
    }

    /// The teacher θ̃ (PyTorch layout), when `μ > 0`.
    pub fn teacher(&self) -> Option<Vec<NamedTensor>> {
        self.teacher.as_ref().map(|t| t.to_pytorch())
    }
}

/// `Σ G ⊙ z` for the surrogate backward pass of a term whose gradient with respect to `z` is
/// `G` (constant).
fn surrogate(z: Tensor<2>, g: &[f64]) -> Tensor<1> {
    let dims = z.dims();
    let gt = Tensor::<2>::from_data(TensorData::new(g.iter().map(|&v| v as f32).collect::<Vec<_>>(), dims), &z.device());
    (z * gt).sum()
}

impl StepHook for SmartHook {
    fn needs_batch_info(&self) -> bool {
        true
    }

    fn before_forward(&mut self, cx: &mut StepCx<'_>) -> Result<(), TrainError> {
        let x = cx.x.clone();
        let net = &*cx.net;
        let z0 = host(net.forward(x.clone()).detach())?;
        let [n, k] = net.delta_dims(x.clone());
        let c = z0.len() / n.max(1);
        let device = x.device();
        let mut delta = initial_noise(n * k, self.s.sigma, cx.seed, cx.step);
        for _ in 0..self.s.steps {
            let d = Tensor::<2>::from_data(TensorData::new(delta.clone(), [n, k]), &device).require_grad();
            let za = net.forward_delta(x.clone(), d.clone());
            let (_, ga, _) = sym_kl(&host(za.clone().detach())?, &z0, c);
            let g = surrogate(za, &ga).backward();
            let gd = d.grad(&g).ok_or_else(|| TrainError::Other("smart: no gradient with respect to the perturbation".into()))?;
            ascent(&mut delta, &host(gd)?, n, self.s.eta, self.s.eps);
        }
        // the perturbed branch of λ_s·R_s at the final δ: its parameter gradient, kept for later
        let d = Tensor::<2>::from_data(TensorData::new(delta.clone(), [n, k]), &device);
        self.last_delta = delta;
        let za = net.forward_delta(x.clone(), d);
        let za_host = host(za.clone().detach())?;
        let (_, ga, _) = sym_kl(&za_host, &z0, c);
        let ga: Vec<f64> = ga.iter().map(|g| g * self.s.lambda).collect();
        let g = GradientsParams::from_grads(surrogate(za, &ga).backward(), net);
        self.adv_grads = Some(flat_grads(net, &g).map_err(TrainError::Other)?);
        self.adv = Some(za_host);
        self.teacher_logits = match &self.teacher {
            Some(t) => Some(host(t.forward(x).detach())?),
            None => None,
        };
        Ok(())
    }

    fn loss_terms(&mut self, cx: &LossCx<'_>, grad: &mut [f64], values: &mut Vec<(String, f64)>) -> Result<(), TrainError> {
        let b = cx.batch;
        let adv = self.adv.as_ref().ok_or_else(|| TrainError::Other("smart: no perturbed logits for this step".into()))?;
        if adv.len() != b.logits.len() {
            return Err(TrainError::Other(format!("smart: {} perturbed logits for {} logits", adv.len(), b.logits.len())));
        }
        // the clean branch of λ_s·R_s (the perturbed logits constant)
        let (r, gz, _) = sym_kl(b.logits, adv, b.classes);
        for (a, g) in grad.iter_mut().zip(&gz) {
            *a += self.s.lambda * g;
        }
        values.push(("smart".into(), self.s.lambda * r));
        if let Some(zt) = &self.teacher_logits {
            let (d, gz, _) = sym_kl(b.logits, zt, b.classes);
            for (a, g) in grad.iter_mut().zip(&gz) {
                *a += self.s.mu * g;
            }
            values.push(("smart-bregman".into(), self.s.mu * d));
        }
        Ok(())
    }

    fn after_backward(&mut self, cx: &mut StepCx<'_>, grads: &mut GradientsParams) -> Result<(), TrainError> {
        let extra = self.adv_grads.take().ok_or_else(|| TrainError::Other("smart: no perturbed-branch gradient for this step".into()))?;
        add_grads(cx.net, grads, &extra).map_err(TrainError::Other)?;
        self.adv = None;
        self.teacher_logits = None;
        Ok(())
    }

    fn after_optimizer(&mut self, cx: &mut StepCx<'_>) -> Result<(), TrainError> {
        if let Some(t) = self.teacher.as_mut() {
            let beta = self.s.beta_at(cx.step, cx.total) as f32;
            let (theta, tilde) = (params(cx.net).map_err(TrainError::Other)?, params(t).map_err(TrainError::Other)?);
            let blended: Vec<(Vec<f32>, Vec<usize>)> = theta
                .iter()
                .zip(&tilde)
                .map(|((a, shape), (b, _))| (a.iter().zip(b).map(|(x, y)| (1.0 - beta) * x + beta * y).collect(), shape.clone()))
                .collect();
            set_params(t, &blended, None);
        }
        Ok(())
    }

    fn state(&self) -> Result<Vec<NamedTensor>, TrainError> {
        Ok(self.teacher().unwrap_or_default().into_iter().map(|t| NamedTensor { name: format!("{PREFIX}{}", t.name), ..t }).collect())
    }

    fn owns(&self, name: &str) -> bool {
        name.starts_with(PREFIX)
    }

    fn load_state(&mut self, _net: &mut Net, state: &[NamedTensor]) -> Result<(), TrainError> {
        let mine: Vec<NamedTensor> =
            state.iter().filter_map(|t| t.name.strip_prefix(PREFIX).map(|n| NamedTensor { name: n.to_string(), ..t.clone() })).collect();
        match self.teacher.as_mut() {
            Some(t) if !mine.is_empty() => t.load_pytorch(&mine).map_err(|e| TrainError::Other(format!("smart teacher: {e}"))),
            None if !mine.is_empty() => Err(TrainError::Other("the checkpoint holds a SMART teacher, but this run has μ = 0".into())),
            _ => Ok(()),
        }
    }
}
