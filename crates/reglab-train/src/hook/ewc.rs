//! EWC as a hook ([`reglab_regularizers::anchor::ewc`]): before the first step the diagonal
//! Fisher of the anchor network's features is computed on reference examples of the training set
//! ([`crate::fisher`]); after every backward pass `λ F̂ ⊙ (θ − θ⁰)` is added to the gradients.
//! The Fisher is saved with every checkpoint (`ewc/fisher/<tensor>`, PyTorch layout), so a
//! resumed run does not compute it again and continues bit for bit.
//!
//! The reference examples are the first `n` of a shuffle with a fixed seed (the same for every
//! run seed, so all seeds of an experiment anchor with the same Fisher), their inputs only; the
//! probes are drawn from that seed too.

use super::{EpochCx, StepCx, StepHook};
use crate::error::TrainError;
use crate::model::Net;
use crate::step::Regularization;
use burn::optim::GradientsParams;
use reglab_core::sum::Term;
use reglab_core::{NamedTensor, RegSet, Selection, Spec};
use reglab_regularizers::anchor::ewc::{Ewc, Probes};

/// The seed of the reference sample and the probes.
const FISHER_SEED: u64 = 0x00e3_c0de;

/// EWC bound to the model.
pub struct EwcHook {
    reg: Regularization,
    n: usize,
    probes: Probes,
    has_fisher: bool,
}

/// The prefix of the hook's checkpoint tensors, and that of the set's own state.
const PREFIX: &str = "ewc/";
const SET_PREFIX: &str = "reg.0.ewc/";

impl EwcHook {
    /// From `ewc=λ[:…]` on `net`, anchored at `anchor` (PyTorch layout) or `net`'s current weights.
    pub fn new(spec: &Spec, net: &Net, anchor: Option<&[NamedTensor]>) -> Result<Self, TrainError> {
        let cfg = |e: reglab_core::Error| TrainError::Config(e.to_string());
        if !(spec.strength >= 0.0 && spec.strength.is_finite()) {
            return Err(TrainError::Config(format!("`{}`: the strength must be ≥ 0", spec.raw())));
        }
        let ewc = Ewc::from_spec(spec).map_err(cfg)?;
        let (n, probes) = (ewc.n, ewc.probes);
        // the term reads the strength and the common options, which a step hook refuses
        let set = RegSet::new(vec![Term::new(spec.clone(), Box::new(ewc)).map_err(cfg)?], Selection::LayerWeights);
        let reg = Regularization::new(set, net, anchor).map_err(TrainError::Config)?;
        Ok(Self { reg, n, probes, has_fisher: false })
    }

    /// Compute the Fisher of the anchor network on `data` (inputs of its first `n` examples
    /// of a fixed shuffle) and set it.
    pub fn compute_fisher(&mut self, net: &Net, data: &reglab_core::Dataset) -> Result<(), TrainError> {
        let mut at_anchor = net.clone();
        at_anchor.load_pytorch(&self.reg.anchor_pytorch()).map_err(TrainError::Other)?;
        let idx = crate::prune::fish::sample_indices(data.len(), self.n, FISHER_SEED);
        let fisher = crate::fisher::feature_fisher(&at_anchor, data, &idx, self.probes, FISHER_SEED)?;
        self.set_fisher(fisher)
    }

    fn set_fisher(&mut self, fisher: Vec<NamedTensor>) -> Result<(), TrainError> {
        let state: Vec<NamedTensor> = fisher.into_iter().map(|t| NamedTensor { name: format!("{SET_PREFIX}fisher/{}", t.name), ..t }).collect();
        self.reg.set_mut().load_state(&state).map_err(|e| TrainError::Other(e.to_string()))?;
        self.has_fisher = true;
        Ok(())
    }

    /// The Fisher (PyTorch names and layout), once computed or loaded.
    pub fn fisher(&self) -> Vec<NamedTensor> {
        self.state()
            .unwrap_or_default()
            .into_iter()
            .map(|t| NamedTensor { name: t.name[PREFIX.len() + "fisher/".len()..].to_string(), ..t })
            .collect()
    }
}

impl StepHook for EwcHook {
    fn start_of_epoch(&mut self, cx: &mut EpochCx<'_>) -> Result<(), TrainError> {
        if !self.has_fisher {
            self.compute_fisher(cx.net, cx.data)?;
        }
        Ok(())
    }

    fn after_backward(&mut self, cx: &mut StepCx<'_>, grads: &mut GradientsParams) -> Result<(), TrainError> {
        if !self.has_fisher {
            return Err(TrainError::Other("ewc: no Fisher yet (it is computed at the start of the first epoch)".into()));
        }
        let v = self.reg.add_gradients(cx.net, grads, cx.step, cx.total).map_err(TrainError::Other)?;
        let v = v.first().copied().unwrap_or(0.0);
        if !v.is_finite() {
            return Err(TrainError::non_finite("regularizer `ewc`".to_string(), v));
        }
        cx.values.push(("ewc".into(), v));
        Ok(())
    }

    fn state(&self) -> Result<Vec<NamedTensor>, TrainError> {
        Ok(self
            .reg
            .set()
            .state()
            .into_iter()
            .filter_map(|t| t.name.strip_prefix(SET_PREFIX).map(|n| NamedTensor { name: format!("{PREFIX}{n}"), ..t.clone() }))
            .collect())
    }

    fn owns(&self, name: &str) -> bool {
        name.starts_with(PREFIX)
    }

    fn load_state(&mut self, _net: &mut Net, state: &[NamedTensor]) -> Result<(), TrainError> {
        let fisher: Vec<NamedTensor> =
            state.iter().filter_map(|t| t.name.strip_prefix("ewc/fisher/").map(|n| NamedTensor { name: n.to_string(), ..t.clone() })).collect();
        if !fisher.is_empty() {
            self.set_fisher(fisher)?;
        }
        Ok(())
    }
}
