//! Parameter-space penalties as a hook: the regularizers of `--reg` that act on the weights
//! ([`crate::step::Regularization`]), as an optax-style gradient transformation. After the
//! backward pass each term adds `λ_t ∇R` to the gradients (proximal terms excepted); after the
//! optimizer step the proximal steps and post-step transforms run on the new weights. The
//! hook is always in the chain, empty or not: it holds the initial-weight snapshot (W₀ of the
//! anchored terms, `init.safetensors`).

use super::{StepCx, StepHook};
use crate::error::TrainError;
use crate::model::Net;
use crate::step::Regularization;
use burn::optim::GradientsParams;
use reglab_core::{Mode, NamedTensor};

/// The parameter penalties bound to the model.
pub struct Penalties {
    /// The bound regularizers.
    pub reg: Regularization,
}

impl Penalties {
    /// Each term's `λ_t·r(θ)` on `net`'s current weights at optimizer step `step` of `total`
    /// (σ_max to convergence), with its label.
    pub fn values(&mut self, net: &Net, step: u64, total: u64) -> Result<Vec<(String, f64)>, String> {
        let ev = self.reg.evaluate(net, Mode::Exact, step, total)?;
        Ok(self.reg.labels().into_iter().zip(ev.per_term).collect())
    }
}

impl StepHook for Penalties {
    fn after_backward(&mut self, cx: &mut StepCx<'_>, grads: &mut GradientsParams) -> Result<(), TrainError> {
        let values = self.reg.add_gradients(cx.net, grads, cx.step, cx.total)?;
        if let Some((j, v)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(TrainError::non_finite(format!("regularizer `{}`", self.reg.labels()[j]), *v));
        }
        Ok(())
    }

    fn after_optimizer(&mut self, cx: &mut StepCx<'_>) -> Result<(), TrainError> {
        Ok(self.reg.after_step(cx.net, cx.lr, cx.step, cx.total, cx.seed)?)
    }

    fn state(&self) -> Result<Vec<NamedTensor>, TrainError> {
        Ok(self.reg.set().state())
    }

    fn owns(&self, name: &str) -> bool {
        name.starts_with("reg.")
    }

    fn load_state(&mut self, _net: &mut Net, state: &[NamedTensor]) -> Result<(), TrainError> {
        self.reg.set_mut().load_state(state).map_err(|e| TrainError::Other(e.to_string()))
    }
}
