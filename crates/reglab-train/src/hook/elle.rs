//! ELLE and ELLE-A as a hook (the math, the rule and the paper in
//! [`reglab_regularizers::adversarial::elle`]): per step, the triplets `x_a, x_b, x_c` around the
//! clean batch go through the model in one forward pass of `3n` examples, and `λ_t·E_lin` enters
//! the loss through their logits (`Σ G ⊙ z`, `G = λ_t ∂E_lin/∂z`, exact). ELLE-A still measures
//! `E_lin` while it is off (`λ_t = 0`) but then skips its backward pass. Reported per epoch:
//! `elle` (`λ_t·E_lin`), `elle/E_lin` and, for ELLE-A, `elle/lambda` (`λ_t`). ELLE-A's state goes
//! into checkpoints (`elle/state`, exact).

use super::{GraphCx, StepHook};
use crate::attack::host;
use crate::error::TrainError;
use crate::model::Net;
use burn::tensor::{Tensor, TensorData};
use reglab_core::{NamedTensor, Spec};
use reglab_regularizers::adversarial::elle::{Controller, Elle, linearity_error_logits, midpoints, triplets};

const STATE: &str = "elle/state";

/// ELLE / ELLE-A bound to a run.
pub struct ElleHook {
    e: Elle,
    eps: f64,
    c: Controller,
    /// The last step's `E_lin` (tests, diagnostics).
    pub last_error: f64,
}

impl ElleHook {
    /// From `elle=λ[:…]` / `elle-a=λ[:…]`; `eps` defaults to `attack_eps` (the run's
    /// adversarial training's radius).
    pub fn new(spec: &Spec, net: &Net, attack_eps: Option<f64>) -> Result<Self, TrainError> {
        let e = Elle::from_spec(spec).map_err(|e| TrainError::Config(e.to_string()))?;
        if !crate::attack::on_inputs(net) {
            return Err(TrainError::Config(format!("`{}` perturbs the inputs: not for a bert model", spec.raw())));
        }
        let eps = e.eps.or(attack_eps).ok_or_else(|| {
            TrainError::Config(format!("`{}`: give `eps=…` or train adversarially in the same run (fgsm-at, fgsm-rs-at, pgd-at)", spec.raw()))
        })?;
        let c = Controller::new(&e);
        Ok(Self { e, eps, c, last_error: f64::NAN })
    }

    /// `λ_t` of the next step.
    pub fn lambda(&self) -> f64 {
        self.c.lambda
    }
}

/// `f64`s stored exactly in an `f32` tensor: four 16-bit pieces each (integers < 2¹⁶ are exact).
pub(crate) fn f64s_to_tensor(name: &str, v: &[f64]) -> NamedTensor {
    let data: Vec<f32> = v.iter().flat_map(|x| (0..4).map(move |k| ((x.to_bits() >> (16 * k)) & 0xffff) as f32)).collect();
    NamedTensor::new(name, vec![data.len()], data)
}

/// The inverse of [`f64s_to_tensor`].
pub(crate) fn tensor_to_f64s(t: &NamedTensor) -> Option<Vec<f64>> {
    if !t.data.len().is_multiple_of(4) || t.data.iter().any(|&p| !(0.0..65536.0).contains(&p) || p.fract() != 0.0) {
        return None;
    }
    Some(t.data.chunks(4).map(|c| f64::from_bits(c.iter().enumerate().map(|(k, &p)| (p as u64) << (16 * k)).sum())).collect())
}

impl StepHook for ElleHook {
    fn needs_graph_terms(&self) -> bool {
        true
    }

    fn graph_terms(&mut self, cx: &GraphCx<'_>, values: &mut Vec<(String, f64)>) -> Result<Option<Tensor<1>>, TrainError> {
        let x = host(cx.x.clone())?;
        let n = cx.labels.len();
        let d = x.len() / n.max(1);
        let (xa, xb, alpha) = triplets(&x, n, self.eps, cx.seed, cx.step);
        let xc = midpoints(&xa, &xb, &alpha);
        let all: Vec<f32> = xa.into_iter().chain(xb).chain(xc).collect();
        let device = cx.x.device();
        let z = cx.net.forward(Tensor::<2>::from_data(TensorData::new(all, [3 * n, d]), &device));
        let zh = host(z.clone().detach())?;
        let (err, g) = linearity_error_logits(&zh, cx.labels, &alpha, cx.classes);
        let lambda = self.c.lambda;
        self.last_error = err;
        values.push(("elle".into(), lambda * err));
        values.push(("elle/E_lin".into(), err));
        if self.e.adaptive.is_some() {
            values.push(("elle/lambda".into(), lambda));
        }
        self.c.update(&self.e, err);
        if lambda == 0.0 {
            return Ok(None);
        }
        let gt = Tensor::<2>::from_data(TensorData::new(g.iter().map(|&v| (lambda * v) as f32).collect::<Vec<_>>(), [3 * n, cx.classes]), &device);
        Ok(Some((z * gt).sum()))
    }

    fn state(&self) -> Result<Vec<NamedTensor>, TrainError> {
        Ok(if self.e.adaptive.is_some() { vec![f64s_to_tensor(STATE, &self.c.to_vec())] } else { vec![] })
    }

    fn owns(&self, name: &str) -> bool {
        name == STATE
    }

    fn load_state(&mut self, _net: &mut Net, state: &[NamedTensor]) -> Result<(), TrainError> {
        if let Some(t) = state.iter().find(|t| t.name == STATE) {
            self.c = tensor_to_f64s(t)
                .and_then(|v| Controller::from_slice(&v))
                .ok_or_else(|| TrainError::Other(format!("checkpoint tensor `{STATE}` is not ELLE-A's state")))?;
        }
        Ok(())
    }
}
