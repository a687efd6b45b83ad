//! Pruning masks as a hook ([`crate::prune`]): masks made before the first step or at the end
//! of an epoch (magnitude, FISH) or from the start (random); the masked entries' gradients are
//! zeroed after the backward pass and their weights zeroed (or, for FISH, written back) after
//! the optimizer step. When the masks change, the optimizer's per-entry state of the masked
//! entries is zeroed too ([`crate::prune::optim_state`]).

use super::{EpochCx, StepCx, StepHook};
use crate::error::TrainError;
use crate::model::Net;
use crate::prune::Masks;
use burn::optim::GradientsParams;
use reglab_core::NamedTensor;

/// The pruning masks of a run.
pub struct PruneHook {
    /// The masks.
    pub masks: Masks,
}

impl PruneHook {
    /// After `change` ran: if the masks changed, zero the optimizer state of the pruned entries.
    fn mask_optimizer_if_changed(
        &mut self,
        cx: &mut EpochCx<'_>,
        change: impl FnOnce(&mut Masks, &mut EpochCx<'_>) -> Result<(), String>,
    ) -> Result<(), TrainError> {
        let v = self.masks.version();
        change(&mut self.masks, cx)?;
        if self.masks.version() != v {
            let optim = std::mem::replace(cx.optim, cx.optim_spec.init());
            *cx.optim = crate::prune::optim_state::mask_optimizer_state(optim, &self.masks.param_masks(cx.net))?;
        }
        Ok(())
    }
}

impl StepHook for PruneHook {
    fn start_of_epoch(&mut self, cx: &mut EpochCx<'_>) -> Result<(), TrainError> {
        self.mask_optimizer_if_changed(cx, |m, cx| m.start_of_epoch(cx.net, cx.data, cx.epoch))
    }

    fn end_of_epoch(&mut self, cx: &mut EpochCx<'_>) -> Result<(), TrainError> {
        self.mask_optimizer_if_changed(cx, |m, cx| m.end_of_epoch(cx.net, cx.epoch, cx.data))
    }

    fn after_backward(&mut self, cx: &mut StepCx<'_>, grads: &mut GradientsParams) -> Result<(), TrainError> {
        Ok(self.masks.mask_gradients(cx.net, grads)?)
    }

    fn after_optimizer(&mut self, cx: &mut StepCx<'_>) -> Result<(), TrainError> {
        Ok(self.masks.apply(cx.net)?)
    }

    fn state(&self) -> Result<Vec<NamedTensor>, TrainError> {
        Ok(self.masks.state())
    }

    fn owns(&self, name: &str) -> bool {
        name.starts_with("prune/")
    }

    fn load_state(&mut self, net: &mut Net, state: &[NamedTensor]) -> Result<(), TrainError> {
        Ok(self.masks.load_state(net, state)?)
    }
}
