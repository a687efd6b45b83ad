//! The training step as an ordered chain of hooks, optax's `chain` for a training step: each
//! technique is one hook, one file, and takes part in the phases it needs; the trainer runs the
//! phases in order and every hook of the chain in each, and knows no technique by name.
//!
//! One optimizer step on a mini-batch, phase by phase:
//!
//! | phase | method | hooks |
//! |---|---|---|
//! | 1. the batch | [`StepHook::perturb_batch`] | data perturbations: cutout, mixup, input noise ([`data`]) |
//! | 2. before the forward pass | [`StepHook::before_forward`] | weight perturbations: SAM and AMP move θ to θ + δ ([`sharpness`]), mixout swaps in W̃ ([`mixout`]) |
//! | 2b. the training inputs | [`StepHook::train_inputs`] | adversarial training: the step trains on `x + δ` ([`adversarial`], [`aaer`]) |
//! | 3. in the forward pass | [`StepHook::activation_mask`] | dropout ([`dropout`]) |
//! | 4. loss terms | [`StepHook::loss_terms`], [`StepHook::feature_terms`] | output regularizers on the logits ([`output`]), mixup's label term ([`data`]); terms on the features: distillation to the initial (pretrained) network ([`distill`]), neural collapse ([`neural_collapse`]), rationale invariance ([`ridg`], which also adds to the head's gradient after the backward pass) |
//! | 4c. terms in the graph | [`StepHook::graph_terms`] | terms with forward passes of their own: ELLE's local-linearity error ([`elle`]), ARoW and TRADES ([`arow`]), AAER on the adversarial logits ([`aaer`]) |
//! | 5. after the backward pass | [`StepHook::after_backward`] | weights put back and gradients transformed: mixout's mask, SAM/AMP's θ restored, the gradient-norm penalty ([`sharpness`]), EWC's Fisher-weighted pull ([`ewc`]), the parameter penalties' analytic gradients ([`penalties`]), the reparameterization's chain rule ([`reparam`]), pruning masks on the gradients ([`prune`]), half fine-tuning's frozen layers ([`hft`]) |
//! | 6. after the optimizer step | [`StepHook::after_optimizer`] | proximal steps and post-step transforms ([`penalties`]), the reparameterization's extras and effective weights ([`reparam`]), pruning masks on the weights ([`prune`]) |
//!
//! and once per epoch [`StepHook::start_of_epoch`] / [`StepHook::end_of_epoch`] (masks made
//! from data, a data-dependent initialisation). Hooks run in the order of the chain, which
//! [`registry::build_chain`] makes from the configuration: data perturbations, step
//! perturbations (in the order given), output terms, parameter penalties, reparameterization,
//! pruning, and last half fine-tuning (which removes frozen layers' gradients). A hook's state goes into checkpoints ([`StepHook::state`]) so a resumed run continues
//! bit for bit.
//!
//! Adding a technique that acts in the step: a file here implementing [`StepHook`] and one
//! line in [`registry::HOOK_ENTRIES`] (its name, family, formula, paper and builder), which the
//! catalog (`reglab list`) and `--reg NAME=…` then know; `trainer.rs` does not change.

pub mod aaer;
pub mod adversarial;
#[cfg(test)]
mod adversarial_tests;
pub mod arow;
pub mod data;
pub mod distill;
pub mod dropout;
pub mod elle;
pub mod ewc;
pub mod hft;
pub mod mixout;
pub mod neural_collapse;
pub mod output;
pub mod penalties;
pub mod prune;
pub mod registry;
pub mod reparam;
pub mod ridg;
pub mod sharpness;
pub mod smart;

use crate::error::TrainError;
use crate::model::Net;
use crate::optim::OptimSpec;
use burn::nn::loss::CrossEntropyLoss;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Int, Tensor, TensorData};
use reglab_core::batch::{BatchMut, LabelMix};
use reglab_core::{Dataset, NamedTensor, OutputBatch};
use std::any::Any;

/// One technique acting in the training step. Every method has a default that does nothing,
/// so a hook implements only its phases (see the [module documentation](self)).
pub trait StepHook: AsAny + Send {
    /// Phase 1: transform the batch's inputs in place (seeded by `(seed, step)`); a hook that
    /// mixes labels returns their mix (mixup).
    fn perturb_batch(&mut self, batch: &mut BatchMut<'_>, seed: u64, step: u64) -> Result<Option<LabelMix>, TrainError> {
        let _ = (batch, seed, step);
        Ok(None)
    }

    /// Phase 2: before the main forward pass; may move the weights (restored in
    /// [`StepHook::after_backward`]).
    fn before_forward(&mut self, cx: &mut StepCx<'_>) -> Result<(), TrainError> {
        let _ = cx;
        Ok(())
    }

    /// Phase 2b: the inputs the step trains on instead of the batch's (adversarial training:
    /// `x + δ`); at most one hook of a chain returns some.
    fn train_inputs(&mut self, cx: &mut StepCx<'_>) -> Result<Option<Tensor<2>>, TrainError> {
        let _ = cx;
        Ok(None)
    }

    /// Phase 3: a multiplicative mask on the hidden activations of the training forward passes
    /// (asked once, when the chain is built).
    fn activation_mask(&self) -> Option<Box<dyn ActivationMask>> {
        None
    }

    /// Phase 4: terms on the logits. Add `∂R/∂z` into `grad` (`n × classes`, row-major) and
    /// push each term's `(label, λ_t·r)` into `values`.
    fn loss_terms(&mut self, cx: &LossCx<'_>, grad: &mut [f64], values: &mut Vec<(String, f64)>) -> Result<(), TrainError> {
        let _ = (cx, grad, values);
        Ok(())
    }

    /// Whether the hook adds terms on the features (the input of the last layer); then the
    /// training forward pass also returns them ([`Pass::forward_features`]).
    fn needs_features(&self) -> bool {
        false
    }

    /// Phase 4b: terms on the features `f` (`n × d`, the input of the last layer). Add `∂R/∂f`
    /// into `grad` (`n × d`, row-major) and push each term's `(label, λ_t·r)` into `values`.
    fn feature_terms(&mut self, cx: &FeatureCx<'_>, grad: &mut [f64], values: &mut Vec<(String, f64)>) -> Result<(), TrainError> {
        let _ = (cx, grad, values);
        Ok(())
    }

    /// Whether the hook adds terms in the autodiff graph ([`StepHook::graph_terms`]).
    fn needs_graph_terms(&self) -> bool {
        false
    }

    /// Phase 4c: a term of the loss as a scalar of the autodiff graph (its own forward passes
    /// through `cx.net`, the main pass's logits), added to the loss before the backward pass;
    /// push its `(label, λ_t·r)` into `values`. For terms that need more forward passes with
    /// gradients (ELLE's triplets, ARoW's adversarial predictions).
    fn graph_terms(&mut self, cx: &GraphCx<'_>, values: &mut Vec<(String, f64)>) -> Result<Option<Tensor<1>>, TrainError> {
        let _ = (cx, values);
        Ok(None)
    }

    /// Phase 5: after the backward pass: put moved weights back and transform the gradients.
    fn after_backward(&mut self, cx: &mut StepCx<'_>, grads: &mut GradientsParams) -> Result<(), TrainError> {
        let _ = (cx, grads);
        Ok(())
    }

    /// Phase 6: after the optimizer step, on the new weights.
    fn after_optimizer(&mut self, cx: &mut StepCx<'_>) -> Result<(), TrainError> {
        let _ = cx;
        Ok(())
    }

    /// Before the first step of an epoch.
    fn start_of_epoch(&mut self, cx: &mut EpochCx<'_>) -> Result<(), TrainError> {
        let _ = cx;
        Ok(())
    }

    /// After the last step of an epoch.
    fn end_of_epoch(&mut self, cx: &mut EpochCx<'_>) -> Result<(), TrainError> {
        let _ = cx;
        Ok(())
    }

    /// At the end of a task of a continual stream (`cx.data` its training set), after its last
    /// epoch and before the next task's first (EWC consolidates here).
    fn end_of_task(&mut self, cx: &mut EpochCx<'_>) -> Result<(), TrainError> {
        let _ = cx;
        Ok(())
    }

    /// Whether it needs the batch's labels and example indices (output terms, mixup).
    fn needs_batch_info(&self) -> bool {
        false
    }

    /// Whether its loss terms replace the cross-entropy instead of being added to it (feasible
    /// learning); the reported training loss stays the cross-entropy.
    fn replaces_loss(&self) -> bool {
        false
    }

    /// Its state for checkpoints (names unique to the hook, e.g. under a prefix).
    fn state(&self) -> Result<Vec<NamedTensor>, TrainError> {
        Ok(Vec::new())
    }

    /// Whether a checkpoint tensor named `name` is this hook's.
    fn owns(&self, name: &str) -> bool {
        let _ = name;
        false
    }

    /// Restore [`StepHook::state`] (the tensors it [`StepHook::owns`]).
    fn load_state(&mut self, net: &mut Net, state: &[NamedTensor]) -> Result<(), TrainError> {
        let _ = (net, state);
        Ok(())
    }
}

/// A hook as `Any`, for typed access to a hook of the chain ([`Chain::find`]); every hook has
/// it through the blanket implementation.
pub trait AsAny: Any {
    /// As `Any`.
    fn as_any(&self) -> &dyn Any;
    /// As `Any`, mutably.
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<T: Any> AsAny for T {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// A mask on the hidden activations `[batch, width]` of layer `layer` in training forward
/// passes: `h ← h ⊙ mask`.
pub trait ActivationMask: Send + Sync {
    /// The mask, row-major `n = batch·width` values, from `(seed, step, layer)`.
    fn mask(&self, n: usize, seed: u64, step: u64, layer: usize) -> Vec<f32>;
}

/// The training forward pass and loss of one step, for the hooks that take gradients at other
/// weights (SAM, AMP, the gradient-norm penalty).
pub struct Pass<'a> {
    /// Activation masks of the chain (dropout).
    pub masks: &'a [Box<dyn ActivationMask>],
    /// Cross-entropy.
    pub loss: &'a CrossEntropyLoss,
    /// Run's seed and this step (the masks' seeds).
    pub seed: u64,
    /// Optimizer step.
    pub step: u64,
    /// Device of the batch.
    pub device: &'a Device,
}

impl Pass<'_> {
    /// Logits of `net` on `x` in training mode (the activation masks applied).
    pub fn forward(&self, net: &Net, x: Tensor<2>) -> Tensor<2> {
        if self.masks.is_empty() {
            return net.forward(x);
        }
        net.forward_with(x, &mut |layer, h| self.mask(layer, h))
    }

    /// `h` (hidden layer `layer`'s activations) times the product of the chain's masks.
    fn mask(&self, layer: usize, h: Tensor<2>) -> Tensor<2> {
        if self.masks.is_empty() {
            return h;
        }
        let [b, w] = h.dims();
        let mut m = self.masks[0].mask(b * w, self.seed, self.step, layer);
        for extra in &self.masks[1..] {
            for (a, v) in m.iter_mut().zip(extra.mask(b * w, self.seed, self.step, layer)) {
                *a *= v;
            }
        }
        h * Tensor::<2>::from_data(TensorData::new(m, [b, w]), &self.device.clone())
    }

    /// The features (the input of the last layer, after the activation masks) and the logits of
    /// `net` on `x` in training mode; an error for a model without hidden features (a linear
    /// MLP).
    pub fn forward_features(&self, net: &Net, x: Tensor<2>) -> Result<(Tensor<2>, Tensor<2>), TrainError> {
        let mut last: Option<Tensor<2>> = None;
        let logits = net.forward_with(x, &mut |layer, h| {
            let out = self.mask(layer, h);
            last = Some(out.clone());
            out
        });
        let f = last.ok_or_else(|| TrainError::Config("a term on the features needs a model with hidden features (not a linear one)".into()))?;
        Ok((f, logits))
    }

    /// The cross-entropy of `net` on `(x, y)` (mixup's, with its labels).
    pub fn loss(&self, net: &Net, x: Tensor<2>, y: Tensor<1, Int>, mix: Option<&LabelMix>) -> Tensor<1> {
        let logits = self.forward(net, x);
        match mix {
            None => self.loss.forward(logits, y),
            Some(m) => {
                let n = m.labels_b.len();
                let yb = Tensor::<1, Int>::from_data(TensorData::new(m.labels_b.iter().map(|&l| l as i64).collect::<Vec<_>>(), [n]), self.device);
                self.loss.forward(logits.clone(), y).mul_scalar(m.lam) + self.loss.forward(logits, yb).mul_scalar(1.0 - m.lam)
            }
        }
    }

    /// The gradient of the cross-entropy at `net`'s current weights, flat (see
    /// [`crate::sharpness`]).
    pub fn ce_grads(&self, net: &Net, x: Tensor<2>, y: Tensor<1, Int>, mix: Option<&LabelMix>) -> Result<Vec<Vec<f32>>, TrainError> {
        let grads = GradientsParams::from_grads(self.loss(net, x, y, mix).backward(), net);
        Ok(crate::sharpness::grads(net, &grads)?)
    }
}

/// What the step's hooks see.
pub struct StepCx<'a> {
    /// The model.
    pub net: &'a mut Net,
    /// The batch's inputs (after the data perturbations).
    pub x: &'a Tensor<2>,
    /// The batch's labels.
    pub y: &'a Tensor<1, Int>,
    /// Mixup's second labels and weight, if the inputs were mixed.
    pub mix: Option<&'a LabelMix>,
    /// Optimizer step (0-based) and the steps planned.
    pub step: u64,
    /// Steps planned (schedules).
    pub total: u64,
    /// The run's seed.
    pub seed: u64,
    /// Learning rate.
    pub lr: f64,
    /// The forward pass and loss.
    pub pass: &'a Pass<'a>,
    /// Values the hooks report for this batch (`(label, λ_t·r)`), averaged over the epoch.
    pub values: &'a mut Vec<(String, f64)>,
}

/// What the loss-term hooks see.
pub struct LossCx<'a> {
    /// The logits, labels and example indices.
    pub batch: &'a OutputBatch<'a>,
    /// Mixup's second labels and weight, if the inputs were mixed.
    pub mix: Option<&'a LabelMix>,
    /// Optimizer step.
    pub step: u64,
    /// Steps planned.
    pub total: u64,
}

/// What the graph-term hooks see.
pub struct GraphCx<'a> {
    /// The model.
    pub net: &'a Net,
    /// The batch's inputs (after the data perturbations), before any adversarial perturbation.
    pub x: &'a Tensor<2>,
    /// The main pass's logits, in the graph.
    pub logits: &'a Tensor<2>,
    /// The same on the host, `n × classes` row-major.
    pub z: &'a [f32],
    /// The labels.
    pub labels: &'a [usize],
    /// Classes.
    pub classes: usize,
    /// The run's seed.
    pub seed: u64,
    /// Optimizer step.
    pub step: u64,
}

/// What the feature-term hooks see.
pub struct FeatureCx<'a> {
    /// The batch's inputs (after the data perturbations).
    pub x: &'a Tensor<2>,
    /// The features, `n × d` row-major.
    pub features: &'a [f32],
    /// The batch's labels, `[n]`.
    pub labels: &'a [usize],
    /// Examples.
    pub n: usize,
    /// Feature width.
    pub d: usize,
    /// Optimizer step.
    pub step: u64,
    /// Steps planned.
    pub total: u64,
}

/// What the epoch hooks see.
pub struct EpochCx<'a> {
    /// The model.
    pub net: &'a mut Net,
    /// The training set.
    pub data: &'a Dataset,
    /// 1-based epoch.
    pub epoch: usize,
    /// The epoch's order of the training examples.
    pub order: &'a [usize],
    /// Steps this epoch.
    pub steps: usize,
    /// The device of the model.
    pub device: &'a Device,
    /// The optimizer (a hook that changes which entries train may reset their state).
    pub optim: &'a mut ModuleOptimizer,
    /// The optimizer's configuration (to rebuild it).
    pub optim_spec: &'a OptimSpec,
}

/// A chain's hooks (mutably) beside its activation masks.
pub type Split<'a> = (&'a mut [Box<dyn StepHook>], &'a [Box<dyn ActivationMask>]);

/// The hooks of a run, in order, and the activation masks they contribute.
#[derive(Default)]
pub struct Chain {
    hooks: Vec<Box<dyn StepHook>>,
    masks: Vec<Box<dyn ActivationMask>>,
}

impl Chain {
    /// A chain of `hooks`, in order.
    pub fn new(hooks: Vec<Box<dyn StepHook>>) -> Self {
        let masks = hooks.iter().filter_map(|h| h.activation_mask()).collect();
        Self { hooks, masks }
    }

    /// The hooks, in order.
    pub fn hooks(&self) -> &[Box<dyn StepHook>] {
        &self.hooks
    }

    /// The hooks, mutably.
    pub fn hooks_mut(&mut self) -> &mut [Box<dyn StepHook>] {
        &mut self.hooks
    }

    /// The activation masks (dropout).
    pub fn masks(&self) -> &[Box<dyn ActivationMask>] {
        &self.masks
    }

    /// The hooks (mutably) and the activation masks, for one step.
    pub fn split(&mut self) -> Split<'_> {
        (&mut self.hooks, &self.masks)
    }

    /// Insert `hook` right after the first hook of type `T` (at the end if there is none), e.g.
    /// a gradient transformation added by a caller after the chain was built (the learned weight
    /// decay of [`crate::hypergrad`], after the parameter penalties and before pruning masks and
    /// frozen layers act on the gradients). A hook that contributes an activation mask cannot be
    /// inserted this way (the masks are collected when the chain is made).
    pub fn insert_after<T: 'static>(&mut self, hook: Box<dyn StepHook>) -> Result<(), TrainError> {
        if hook.activation_mask().is_some() {
            return Err(TrainError::Config("a hook with an activation mask must be in the chain when it is built".into()));
        }
        let at = self.hooks.iter().position(|h| (**h).as_any().is::<T>()).map_or(self.hooks.len(), |i| i + 1);
        self.hooks.insert(at, hook);
        Ok(())
    }

    /// The first hook of type `T`.
    pub fn find<T: 'static>(&self) -> Option<&T> {
        // `(**h)`: the hook itself, not its box (which is `Any` too, through the blanket impl)
        self.hooks.iter().find_map(|h| (**h).as_any().downcast_ref::<T>())
    }

    /// The first hook of type `T`, mutably.
    pub fn find_mut<T: 'static>(&mut self) -> Option<&mut T> {
        self.hooks.iter_mut().find_map(|h| (**h).as_any_mut().downcast_mut::<T>())
    }

    /// Whether a hook needs the batch's labels and example indices.
    pub fn needs_batch_info(&self) -> bool {
        self.hooks.iter().any(|h| h.needs_batch_info())
    }

    /// Whether a hook's terms replace the cross-entropy.
    pub fn replaces_loss(&self) -> bool {
        self.hooks.iter().any(|h| h.replaces_loss())
    }

    /// Whether a hook adds terms on the features.
    pub fn needs_features(&self) -> bool {
        self.hooks.iter().any(|h| h.needs_features())
    }

    /// Whether a hook adds terms in the autodiff graph.
    pub fn needs_graph_terms(&self) -> bool {
        self.hooks.iter().any(|h| h.needs_graph_terms())
    }

    /// Every hook's checkpoint state, in chain order.
    pub fn state(&self) -> Result<Vec<NamedTensor>, TrainError> {
        let mut out = Vec::new();
        for h in &self.hooks {
            out.extend(h.state()?);
        }
        Ok(out)
    }

    /// Give each hook the tensors of `state` it owns; a tensor no hook owns is an error.
    pub fn load_state(&mut self, net: &mut Net, state: Vec<NamedTensor>) -> Result<(), TrainError> {
        let mut rest = state;
        for h in self.hooks.iter_mut() {
            let (mine, others): (Vec<NamedTensor>, Vec<NamedTensor>) = rest.into_iter().partition(|t| h.owns(&t.name));
            h.load_state(net, &mine)?;
            rest = others;
        }
        match rest.first() {
            None => Ok(()),
            Some(t) => {
                let what = [
                    ("prune/", "pruning masks"),
                    ("reparam/", "a reparameterization's state"),
                    ("output/", "an output regularizer's state"),
                    ("reg.", "a regularizer's state"),
                ]
                .iter()
                .find(|(p, _)| t.name.starts_with(p))
                .map_or("state", |(_, w)| w);
                Err(TrainError::Other(format!(
                    "the checkpoint holds {what} (`{}`), which no part of this run reads: the run was configured differently",
                    t.name
                )))
            }
        }
    }
}
