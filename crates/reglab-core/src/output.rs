//! Output-level (function-space) regularizers: terms on a mini-batch's logits, labels and
//! example indices, e.g. label smoothing, the confidence penalty, spectral decoupling, ELR.
//!
//! `R(z) = λ_t · r(z)` where `z` is the `[B, C]` matrix of logits of a mini-batch of `B`
//! examples and `C` classes, and `r` a mean over the batch (so that `λ` does not depend on the
//! batch size, like the cross-entropy it is added to). Each term gives its value and its exact
//! gradient `∂R/∂z` (`[B, C]`); the trainer adds `Σ_ij G_ij z_ij` with `G = ∂R/∂z` held constant
//! to the loss, so that one backward pass through the network carries `Jᵀ G` to the weights,
//! which is the gradient of `R`, without building `r` out of autodiff operations (burn costs
//! ≈0.1 ms per op; these terms are a few passes over `B·C` numbers).
//!
//! A term may keep state across steps, indexed by the examples' positions in the training set
//! (ELR's running targets): [`OutputRegularizer::observe`] updates it from the batch before
//! [`OutputRegularizer::eval`], which is a pure function of the logits given the state, so its
//! gradient can be checked by finite differences ([`crate::testing::output_gradient_error`]).

use crate::error::{Error, Result};
use crate::schedule::Schedule;
use crate::spec::Spec;
use crate::tensor::NamedTensor;

/// One mini-batch as an output regularizer sees it.
#[derive(Debug, Clone, Copy)]
pub struct OutputBatch<'a> {
    /// Logits `z`, `[n, classes]` row-major.
    pub logits: &'a [f32],
    /// Examples in the batch, `B`.
    pub n: usize,
    /// Classes, `C`.
    pub classes: usize,
    /// The (possibly noisy) training labels, `[n]`.
    pub labels: &'a [usize],
    /// The examples' indices in the training set, `[n]` (for per-example state).
    pub index: &'a [usize],
}

impl OutputBatch<'_> {
    /// Check the shapes and the labels.
    pub fn check(&self, name: &str) -> Result<()> {
        let bad = |why: String| Err(Error::Shape { tensor: name.to_string(), why });
        if self.n == 0 || self.classes == 0 {
            return bad(format!("an empty batch ({} examples, {} classes)", self.n, self.classes));
        }
        if self.logits.len() != self.n * self.classes {
            return bad(format!("{} logits for {} examples × {} classes", self.logits.len(), self.n, self.classes));
        }
        if self.labels.len() != self.n || self.index.len() != self.n {
            return bad(format!("{} labels and {} indices for {} examples", self.labels.len(), self.index.len(), self.n));
        }
        if let Some(&y) = self.labels.iter().find(|&&y| y >= self.classes) {
            return bad(format!("label {y} with {} classes", self.classes));
        }
        Ok(())
    }

    /// Row `i` of the logits.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.logits[i * self.classes..(i + 1) * self.classes]
    }
}

/// `softmax(z)` of one row, in f64 (max-shifted).
pub fn softmax(z: &[f32]) -> Vec<f64> {
    let m = z.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) as f64;
    let mut p: Vec<f64> = z.iter().map(|&v| (v as f64 - m).exp()).collect();
    let s: f64 = p.iter().sum();
    p.iter_mut().for_each(|v| *v /= s);
    p
}

/// `log softmax(z)` of one row, in f64.
pub fn log_softmax(z: &[f32]) -> Vec<f64> {
    let m = z.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) as f64;
    let lse = m + z.iter().map(|&v| (v as f64 - m).exp()).sum::<f64>().ln();
    z.iter().map(|&v| v as f64 - lse).collect()
}

/// An output-level regularizer (see the module documentation).
pub trait OutputRegularizer: Send {
    /// Command-line name, e.g. `elr`.
    fn name(&self) -> &'static str;

    /// Bind to a training set of `examples` examples and `classes` classes (before the first
    /// step; per-example state is allocated here).
    fn prepare(&mut self, _examples: usize, _classes: usize) -> Result<()> {
        Ok(())
    }

    /// Update the state from the batch before [`OutputRegularizer::eval`] (ELR's running
    /// targets). Default: no state.
    fn observe(&mut self, _batch: &OutputBatch<'_>) -> Result<()> {
        Ok(())
    }

    /// `r(z)`, a mean over the batch, and, when `grad` is given (`[n, classes]`), `scale ·
    /// ∂r/∂z` added into it.
    fn eval(&self, batch: &OutputBatch<'_>, grad: Option<&mut [f64]>, scale: f64) -> Result<f64>;

    /// Whether the term replaces the cross-entropy instead of being added to it: the training
    /// step then minimizes the output terms alone (feasible learning's Lagrangian, whose
    /// per-example weights take the place of the mean). Default: added.
    fn replaces_loss(&self) -> bool {
        false
    }

    /// Persistent state, for checkpoints (names start with the regularizer's name).
    fn state(&self) -> Vec<NamedTensor> {
        Vec::new()
    }

    /// Restore [`OutputRegularizer::state`].
    fn load_state(&mut self, _state: &[NamedTensor]) -> Result<()> {
        Ok(())
    }
}

/// One output term: its spec, the regularizer, its schedule.
pub struct OutputTerm {
    /// The spec (name, λ, options).
    pub spec: Spec,
    /// The regularizer.
    pub reg: Box<dyn OutputRegularizer>,
    /// Strength schedule.
    pub schedule: Schedule,
    /// Acts on steps before this one only.
    pub until: Option<u64>,
}

impl OutputTerm {
    /// A term from a parsed spec and its regularizer. `select` does not apply (the term sees
    /// the logits): an error.
    pub fn new(spec: Spec, reg: Box<dyn OutputRegularizer>) -> Result<Self> {
        let common = spec.common()?;
        if common.select.is_some() {
            return Err(Error::Spec { spec: spec.raw().into(), why: "`select` does not apply: the term acts on the logits, not on tensors".into() });
        }
        Ok(Self { spec, reg, schedule: common.schedule, until: common.until })
    }

    /// λ_t (0 from step `until` on).
    pub fn strength(&self, step: u64, total: u64) -> f64 {
        if self.until.is_some_and(|u| step >= u) {
            return 0.0;
        }
        self.spec.strength * self.schedule.factor(step, total)
    }
}

/// A sum of output terms, each reporting its own value `λ_t·r_j`.
#[derive(Default)]
pub struct OutputSet {
    terms: Vec<OutputTerm>,
}

impl OutputSet {
    /// The set of `terms`.
    pub fn new(terms: Vec<OutputTerm>) -> Self {
        Self { terms }
    }

    /// The terms.
    pub fn terms(&self) -> &[OutputTerm] {
        &self.terms
    }

    /// No term.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Names of the terms, in order, made unique by the spec when repeated (as
    /// [`crate::RegSet::labels`]).
    pub fn labels(&self) -> Vec<String> {
        crate::spec::unique_labels(&self.terms.iter().map(|t| &t.spec).collect::<Vec<_>>())
    }

    /// Whether a term replaces the cross-entropy ([`OutputRegularizer::replaces_loss`]).
    pub fn replaces_loss(&self) -> bool {
        self.terms.iter().any(|t| t.reg.replaces_loss())
    }

    /// Bind every term to the training set.
    pub fn prepare(&mut self, examples: usize, classes: usize) -> Result<()> {
        self.terms.iter_mut().try_for_each(|t| t.reg.prepare(examples, classes))
    }

    /// At optimizer step `step` of `total`: update each term's state from the batch, then its
    /// value `λ_t·r_j` (one per term) and `Σ_j λ_t ∂r_j/∂z` into `grad` (`[n, classes]`,
    /// overwritten).
    pub fn eval(&mut self, batch: &OutputBatch<'_>, grad: &mut [f64], step: u64, total: u64) -> Result<Vec<f64>> {
        grad.iter_mut().for_each(|g| *g = 0.0);
        let mut values = Vec::with_capacity(self.terms.len());
        for t in &mut self.terms {
            batch.check(t.reg.name())?;
            t.reg.observe(batch)?;
            let lam = t.strength(step, total);
            let v = if lam == 0.0 { t.reg.eval(batch, None, 0.0)? } else { t.reg.eval(batch, Some(grad), lam)? };
            values.push(lam * v);
        }
        Ok(values)
    }

    /// Every term's state.
    pub fn state(&self) -> Vec<NamedTensor> {
        self.terms.iter().flat_map(|t| t.reg.state()).collect()
    }

    /// Restore every term's state.
    pub fn load_state(&mut self, state: &[NamedTensor]) -> Result<()> {
        self.terms.iter_mut().try_for_each(|t| t.reg.load_state(state))
    }
}
