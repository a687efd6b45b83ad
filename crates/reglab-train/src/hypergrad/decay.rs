//! Per-group weight decay with learnable strengths, the first target of the IFT hypergradient,
//! and its anchored form, the L2-init strengths (`l2-init`), the second.
//!
//! ```text
//! R(w; θ) = Σ_l (λ_l/2) ‖w_l − a_l‖²,   λ_l = exp(θ_l)
//! ∇_w R   = λ_l (w_l − a_l)               on the entries of group l (a gradient transformation)
//! ∇²_w R  = diag(λ_l)                     (exact, added to the Hessian-vector products)
//! ∂²_{wθ_l} R = λ_l (w_l − a_l)           on group l, 0 elsewhere (the IFT's mixed term)
//! ```
//! `a` the anchor: 0 for weight decay, the initial weights `w₀` for L2-init
//! ([`DecayGroups::with_anchor`]).
//! `w_l` the concatenated entries of the tensors of group `l` (by default one group per layer
//! weight, biases undecayed, as `l2=λ` selects; burn stores a `Linear` weight `[d_in, d_out]`,
//! which does not matter for an elementwise penalty). The convention `λ/2` is reglab's
//! (`l2=λ` ≡ PyTorch's `weight_decay=λ`), so a learned `λ_l` can be read as an `l2` strength.
//!
//! Why `λ = exp(θ)`: the constraint `λ ≥ 0` holds without projection (λ = 0 is the limit
//! θ → −∞, so a starting λ must be > 0); sensible strengths span orders of magnitude (grids are
//! log-spaced), and a step on `θ` changes `λ` by a factor, the same for 1e-5 as for 1e-1, where
//! a step on `λ` itself would be too small for one and overshoot below 0 for the other
//! (`dL/dθ = λ dL/dλ` rescales the gradient accordingly).
//!
//! The gradient is computed analytically on the host and added to burn's gradients by
//! parameter id after the backward pass, outside the autodiff graph, like every parameter
//! penalty of reglab ([`crate::step`]).

use super::{LogStrengths, Slot, Strengths, slots};
use crate::error::TrainError;
use crate::hook::{StepCx, StepHook};
use crate::model::Net;
use burn::optim::GradientsParams;

/// Weight-decay groups and their log-strengths `θ` (see the module documentation).
#[derive(Debug, Clone, PartialEq)]
pub struct DecayGroups {
    /// Group names and `θ_l = ln λ_l`.
    strengths: LogStrengths,
    /// Per group, the flat slots of its tensors.
    members: Vec<Vec<Slot>>,
    /// The anchor `a` (flat, every parameter), `None`: 0.
    anchor: Option<Vec<f64>>,
}

impl DecayGroups {
    /// One group per layer weight of `net` (named like the weight, `layers.0.weight`), with the
    /// starting strengths `lambda`: one for every layer, or one per layer.
    pub fn per_layer(net: &Net, lambda: &[f64]) -> Result<Self, TrainError> {
        let weights: Vec<String> = net.layers().iter().map(|l| l.weight_name()).collect();
        let groups: Vec<(String, Vec<String>)> = weights.iter().map(|w| (w.clone(), vec![w.clone()])).collect();
        Self::new(net, &groups, lambda)
    }

    /// Groups of parameter tensors by name (`(group name, [tensor names])`, PyTorch names such
    /// as `layers.0.weight`, `layers.0.bias`), with starting strengths `lambda` (one for all or
    /// one per group). A tensor in no group is not decayed; a tensor in two groups, an unknown
    /// name or an empty group is an error.
    pub fn new(net: &Net, groups: &[(String, Vec<String>)], lambda: &[f64]) -> Result<Self, TrainError> {
        if groups.is_empty() {
            return Err(TrainError::Config("weight decay groups: none given".into()));
        }
        // the strengths first: a count or a value that is wrong is named before the tensors
        let strengths = LogStrengths::new("weight decay", groups.iter().map(|(n, _)| n.clone()).collect(), lambda)?;
        let all = slots(net);
        let mut seen = std::collections::BTreeSet::new();
        let mut members = Vec::new();
        for (name, tensors) in groups {
            if tensors.is_empty() {
                return Err(TrainError::Config(format!("weight decay group `{name}` has no tensors")));
            }
            let mut m = Vec::new();
            for t in tensors {
                let s = all.iter().find(|s| &s.name == t).ok_or_else(|| {
                    TrainError::Config(format!(
                        "weight decay group `{name}`: the model has no tensor `{t}` (it has {})",
                        all.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
                    ))
                })?;
                if !seen.insert(t.clone()) {
                    return Err(TrainError::Config(format!("weight decay: tensor `{t}` is in two groups")));
                }
                m.push(s.clone());
            }
            members.push(m);
        }
        Ok(Self { strengths, members, anchor: None })
    }

    /// The same groups pulled toward `anchor` (flat, every parameter of the model in
    /// [`super::slots`] order, e.g. the initial weights for L2-init) instead of 0.
    pub fn with_anchor(mut self, anchor: Vec<f64>) -> Result<Self, TrainError> {
        let n = self.members.iter().flatten().map(|s| s.range.end).max().unwrap_or(0);
        if anchor.len() < n {
            return Err(TrainError::Config(format!("an anchor of {} entries for parameters up to entry {n}", anchor.len())));
        }
        if let Some(i) = anchor.iter().position(|x| !x.is_finite()) {
            return Err(TrainError::non_finite(format!("entry {i} of the anchor"), anchor[i]));
        }
        self.anchor = Some(anchor);
        Ok(self)
    }

    /// The anchor (flat), if any.
    pub fn anchor(&self) -> Option<&[f64]> {
        self.anchor.as_deref()
    }

    /// `w_i − a_i`.
    fn offset(&self, w: &[f64], i: usize) -> f64 {
        w[i] - self.anchor.as_ref().map_or(0.0, |a| a[i])
    }

    /// Number of groups.
    pub fn len(&self) -> usize {
        self.strengths.theta().len()
    }

    /// True without groups (never, once built).
    pub fn is_empty(&self) -> bool {
        self.strengths.theta().is_empty()
    }

    /// The slots of group `l`.
    pub fn members(&self, l: usize) -> &[Slot] {
        &self.members[l]
    }

    /// `R(w) = Σ_l (λ_l/2)‖w_l − a_l‖²` on the flat parameters `w`.
    pub fn penalty(&self, w: &[f64]) -> f64 {
        self.groups().map(|(lam, m)| 0.5 * lam * m.iter().flat_map(|s| s.range.clone()).map(|i| self.offset(w, i).powi(2)).sum::<f64>()).sum()
    }

    /// `out += ∇R(w) = λ_l (w_l − a_l)` on every group's entries.
    pub fn add_gradient(&self, w: &[f64], out: &mut [f64]) {
        for (lam, m) in self.groups() {
            for i in m.iter().flat_map(|s| s.range.clone()) {
                out[i] += lam * self.offset(w, i);
            }
        }
    }

    fn groups(&self) -> impl Iterator<Item = (f64, &Vec<Slot>)> {
        self.strengths.lambdas().into_iter().zip(&self.members)
    }
}

impl Strengths for DecayGroups {
    fn strengths(&self) -> &LogStrengths {
        &self.strengths
    }

    fn strengths_mut(&mut self) -> &mut LogStrengths {
        &mut self.strengths
    }

    /// `out += ∇²R v = λ_l v_l` on every group's entries (`w` does not enter).
    fn add_hessian_product(&self, _w: &[f64], v: &[f64], out: &mut [f64]) {
        for (lam, m) in self.groups() {
            for i in m.iter().flat_map(|s| s.range.clone()) {
                out[i] += lam * v[i];
            }
        }
    }

    /// `pᵀ ∂²_{wθ_l} L_T = λ_l ⟨p_l, w_l − a_l⟩` for every group `l` (flat `w`, `p`).
    fn mixed_products(&self, w: &[f64], p: &[f64]) -> Vec<f64> {
        self.groups().map(|(lam, m)| lam * m.iter().flat_map(|s| s.range.clone()).map(|i| self.offset(w, i) * p[i]).sum::<f64>()).collect()
    }
}

/// The learned decay as a step hook: after the backward pass, `λ_l (w_l − a_l)` is added to the
/// gradient of each tensor of group `l` (an optax-style gradient transformation; the tuning
/// loop changes `θ` between steps through [`crate::hook::Chain::find_mut`]).
pub struct LearnedDecay {
    /// The groups and their strengths.
    pub groups: DecayGroups,
}

impl StepHook for LearnedDecay {
    fn after_backward(&mut self, cx: &mut StepCx<'_>, grads: &mut GradientsParams) -> Result<(), TrainError> {
        add_decay_gradient(cx.net, &self.groups, grads)
    }
}

/// Add `λ_l (w_l − a_l)` to the gradients in `grads` of every tensor of every group.
pub fn add_decay_gradient(net: &Net, groups: &DecayGroups, grads: &mut GradientsParams) -> Result<(), TrainError> {
    for (lam, m) in groups.groups() {
        let lam = lam as f32;
        for s in m {
            let (wid, bid) = net.param_ids(s.layer);
            let (w, b) = net.layer_data(s.layer);
            let (id, data) = if s.bias { (bid, b) } else { (Some(wid), Some(w)) };
            let (id, data) = match (id, data) {
                (Some(i), Some(d)) => (i, d),
                _ => return Err(TrainError::Other(format!("`{}` is not a parameter of the model", s.name))),
            };
            let rank = data.shape().len();
            let vals = data.as_slice::<f32>().map_err(|e| TrainError::Other(format!("`{}`: {e:?}", s.name)))?;
            let (mut g, dev) =
                crate::model::remove_grad(grads, id, rank).ok_or_else(|| TrainError::Other(format!("no gradient for `{}`", s.name)))?;
            let gs = g.as_mut_slice::<f32>().map_err(|e| TrainError::Other(format!("gradient of `{}`: {e:?}", s.name)))?;
            match groups.anchor() {
                None => gs.iter_mut().zip(vals).for_each(|(gi, &wi)| *gi += lam * wi),
                Some(a) => gs.iter_mut().zip(vals).zip(&a[s.range.clone()]).for_each(|((gi, &wi), &ai)| *gi += lam * (wi - ai as f32)),
            }
            crate::model::register_grad(grads, id, g, &dev);
        }
    }
    Ok(())
}
