//! A reparameterization as a hook ([`crate::reparam`]): the layers compute with an effective
//! weight `W = f(P, e)`. At the first epoch's start the data-dependent initialisation runs
//! (weight norm, on the first 500 examples of the epoch's order); after the backward pass the
//! chain rule maps `∇_W` to `∇_P` and `∇_e` and puts `P` into the weight parameters; after the
//! optimizer step the extras take their own step and `W` is stored again.

use super::{EpochCx, StepCx, StepHook};
use crate::error::TrainError;
use crate::model::Net;
use crate::reparam::Reparam;
use burn::optim::GradientsParams;
use burn::tensor::{Tensor, TensorData};
use reglab_core::NamedTensor;

/// The reparameterization of a run.
pub struct ReparamHook {
    /// The reparameterization.
    pub reparam: Reparam,
    /// The extras' gradients between the backward pass and the optimizer step.
    extra_grads: Option<GradientsParams>,
}

impl ReparamHook {
    /// The hook of `reparam`.
    pub fn new(reparam: Reparam) -> Self {
        Self { reparam, extra_grads: None }
    }
}

impl StepHook for ReparamHook {
    fn start_of_epoch(&mut self, cx: &mut EpochCx<'_>) -> Result<(), TrainError> {
        // the data-dependent initialisation runs once, on the first 500 examples of the first
        // epoch's order (a restored run has done it already)
        let n = cx.order.len().min(500);
        let x = if self.reparam.pending_data_init() {
            let d = cx.data.example_len();
            let x: Vec<f32> = cx.order[..n].iter().flat_map(|&i| cx.data.example(i).iter().copied()).collect();
            Some(Tensor::<2>::from_data(TensorData::new(x, [n, d]), cx.device))
        } else {
            None
        };
        Ok(self.reparam.data_init(cx.net, x, cx.steps)?)
    }

    fn after_backward(&mut self, cx: &mut StepCx<'_>, grads: &mut GradientsParams) -> Result<(), TrainError> {
        self.extra_grads = Some(self.reparam.backward(cx.net, grads)?);
        Ok(())
    }

    fn after_optimizer(&mut self, cx: &mut StepCx<'_>) -> Result<(), TrainError> {
        if let Some(g) = self.extra_grads.take() {
            self.reparam.step_extras(cx.lr, g);
        }
        Ok(self.reparam.after_step(cx.net, cx.step)?)
    }

    fn state(&self) -> Result<Vec<NamedTensor>, TrainError> {
        Ok(self.reparam.state()?)
    }

    fn owns(&self, name: &str) -> bool {
        name.starts_with("reparam/")
    }

    fn load_state(&mut self, net: &mut Net, state: &[NamedTensor]) -> Result<(), TrainError> {
        Ok(self.reparam.load_state(net, state)?)
    }
}
