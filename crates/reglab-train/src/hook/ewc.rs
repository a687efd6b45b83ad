//! EWC as a hook ([`reglab_regularizers::anchor::ewc`]): before the first step the diagonal
//! Fisher of the anchor network's features is computed on reference examples of the training set
//! ([`crate::fisher`]); after every backward pass `λ F̂ ⊙ (θ − θ⁰)` is added to the gradients.
//! The Fisher is saved with every checkpoint (`ewc/fisher/<tensor>`, PyTorch layout), so a
//! resumed run does not compute it again and continues bit for bit.
//!
//! The reference examples are the first `n` of a shuffle with a fixed seed (the same for every
//! run seed, so all seeds of an experiment anchor with the same Fisher), their inputs only (with
//! `fisher=labels`, their labels too); the probes are drawn from that seed too.
//!
//! With `consolidate=task` nothing happens before the first task ends; at the end of each task
//! ([`StepHook::end_of_task`]) the Fisher of the current weights on that task's training set is
//! added to the running one (`F ← γF + F⁽ᵗ⁾`) and the anchor moves to the current weights. Both
//! are saved with every checkpoint (`ewc/fisher/…`, `ewc/anchor/…`).

use super::{EpochCx, StepCx, StepHook};
use crate::error::TrainError;
use crate::model::Net;
use crate::step::Regularization;
use burn::optim::GradientsParams;
use reglab_core::sum::Term;
use reglab_core::{NamedTensor, RegSet, Selection, Spec};
use reglab_regularizers::anchor::ewc::{Consolidate, Ewc, Likelihood, Probes};

/// The seed of the reference sample and the probes.
const FISHER_SEED: u64 = 0x00e3_c0de;

/// EWC bound to the model.
pub struct EwcHook {
    reg: Regularization,
    n: usize,
    probes: Probes,
    likelihood: Likelihood,
    consolidate: Consolidate,
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
        let (n, probes, likelihood, consolidate) = (ewc.n, ewc.probes, ewc.likelihood, ewc.consolidate);
        // the term reads the strength and the common options, which a step hook refuses
        let set = RegSet::new(vec![Term::new(spec.clone(), Box::new(ewc)).map_err(cfg)?], Selection::LayerWeights);
        let reg = Regularization::new(set, net, anchor).map_err(TrainError::Config)?;
        Ok(Self { reg, n, probes, likelihood, consolidate, has_fisher: false })
    }

    /// The Fisher of `net` as it is on `data` (`n` examples of a fixed shuffle).
    fn fisher_of(&self, net: &Net, data: &reglab_core::Dataset) -> Result<Vec<NamedTensor>, TrainError> {
        let idx = crate::prune::fish::sample_indices(data.len(), self.n, FISHER_SEED);
        match self.likelihood {
            Likelihood::Features => crate::fisher::feature_fisher(net, data, &idx, self.probes, FISHER_SEED),
            Likelihood::Labels => crate::fisher::label_fisher(net, data, &idx),
        }
    }

    /// Compute the Fisher of the anchor network on `data` (inputs of its first `n` examples
    /// of a fixed shuffle) and set it.
    pub fn compute_fisher(&mut self, net: &Net, data: &reglab_core::Dataset) -> Result<(), TrainError> {
        let mut at_anchor = net.clone();
        at_anchor.load_pytorch(&self.reg.anchor_pytorch()).map_err(TrainError::Other)?;
        let fisher = self.fisher_of(&at_anchor, data)?;
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
        let prefix = format!("{SET_PREFIX}fisher/");
        self.reg
            .set()
            .state()
            .into_iter()
            .filter_map(|t| t.name.strip_prefix(&prefix).map(|n| NamedTensor { name: n.to_string(), ..t.clone() }))
            .collect()
    }
}

impl StepHook for EwcHook {
    fn start_of_epoch(&mut self, cx: &mut EpochCx<'_>) -> Result<(), TrainError> {
        if !self.has_fisher && self.consolidate == Consolidate::Start {
            self.compute_fisher(cx.net, cx.data)?;
        }
        Ok(())
    }

    fn end_of_task(&mut self, cx: &mut EpochCx<'_>) -> Result<(), TrainError> {
        let Consolidate::Task { gamma } = self.consolidate else { return Ok(()) };
        let mut fisher = self.fisher_of(cx.net, cx.data)?;
        if self.has_fisher {
            let old = self.fisher();
            for t in &mut fisher {
                let o = old.iter().find(|o| o.name == t.name).ok_or_else(|| TrainError::Other(format!("ewc: no running Fisher for `{}`", t.name)))?;
                for (v, &u) in t.data.iter_mut().zip(&o.data) {
                    *v += (gamma * u as f64) as f32;
                }
            }
        }
        self.reg.set_anchor(cx.net, None).map_err(TrainError::Other)?;
        self.set_fisher(fisher)
    }

    fn after_backward(&mut self, cx: &mut StepCx<'_>, grads: &mut GradientsParams) -> Result<(), TrainError> {
        if !self.has_fisher {
            if matches!(self.consolidate, Consolidate::Task { .. }) {
                // the first task of a stream: nothing to consolidate toward yet
                return Ok(());
            }
            return Err(TrainError::Other("ewc: no Fisher yet (it is computed at the start of the first epoch)".into()));
        }
        let v = self.reg.add_gradients(cx.net, grads, cx.step, cx.total)?;
        let v = v.first().copied().unwrap_or(0.0);
        if !v.is_finite() {
            return Err(TrainError::non_finite("regularizer `ewc`".to_string(), v));
        }
        cx.values.push(("ewc".into(), v));
        Ok(())
    }

    fn state(&self) -> Result<Vec<NamedTensor>, TrainError> {
        let mut out: Vec<NamedTensor> = self
            .reg
            .set()
            .state()
            .into_iter()
            .filter_map(|t| t.name.strip_prefix(SET_PREFIX).map(|n| NamedTensor { name: format!("{PREFIX}{n}"), ..t.clone() }))
            .collect();
        // a consolidated anchor is not the run's start: save it
        if matches!(self.consolidate, Consolidate::Task { .. }) && self.has_fisher {
            out.extend(self.reg.anchor_pytorch().into_iter().map(|t| NamedTensor { name: format!("{PREFIX}anchor/{}", t.name), ..t }));
        }
        Ok(out)
    }

    fn owns(&self, name: &str) -> bool {
        name.starts_with(PREFIX)
    }

    fn load_state(&mut self, net: &mut Net, state: &[NamedTensor]) -> Result<(), TrainError> {
        let strip = |prefix: &str| -> Vec<NamedTensor> {
            state.iter().filter_map(|t| t.name.strip_prefix(prefix).map(|n| NamedTensor { name: n.to_string(), ..t.clone() })).collect()
        };
        let (fisher, anchor) = (strip("ewc/fisher/"), strip("ewc/anchor/"));
        if !fisher.is_empty() {
            self.set_fisher(fisher)?;
        }
        if !anchor.is_empty() {
            self.reg.set_anchor(net, Some(&anchor)).map_err(TrainError::Other)?;
        } else if self.has_fisher && matches!(self.consolidate, Consolidate::Task { .. }) {
            return Err(TrainError::Other("ewc (consolidate=task): the checkpoint has a Fisher but no `ewc/anchor/…` tensors".into()));
        }
        Ok(())
    }
}
