//! The [`Regularizer`] interface for parameter-space regularizers.
//!
//! A regularizer `r(θ)` reads plain tensors (never the autodiff graph) and answers three
//! questions: its value, its gradient (added, times the strength, into the model's gradients by
//! the caller) and, where one exists, its proximal step
//! `prox_{η λ r}(θ) = argmin_x λ r(x) + ‖x − θ‖²/(2η)`, run after the optimizer step.
//! Strength and schedule live outside the regularizer (see [`crate::sum`]): every method works
//! on the bare `r`, and `eval` adds `scale · ∇r` so the caller passes `scale = λ_t`.
//!
//! The unit a regularizer acts on is a [`Target`]: one tensor (usually a layer's weight), with
//! the layer's bias beside it for regularizers that join the bias (spectral), and the tensor's
//! initial value for regularizers anchored to initialisation (l2-init, wasserstein-init).

use crate::error::Result;
use crate::select::Role;
use crate::tensor::{Layout, NamedTensor, TensorRef};

/// One tensor a regularizer acts on, with what it may need beside it.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// PyTorch-style name, e.g. `layers.0.weight`.
    pub name: &'a str,
    /// What the tensor is (layer weight, bias, other).
    pub role: Role,
    /// The tensor.
    pub weight: TensorRef<'a>,
    /// The layer's bias `[out]`, when the tensor is a layer weight and the layer has one.
    pub bias: Option<TensorRef<'a>>,
    /// The tensor at initialisation (or at a given anchor checkpoint), same shape and layout.
    pub init: Option<TensorRef<'a>>,
}

impl<'a> Target<'a> {
    /// A bare target: row-major tensor, no bias, no init; role judged from the name.
    pub fn new(name: &'a str, shape: &'a [usize], data: &'a [f32]) -> Self {
        Self { name, role: crate::select::role_from_name(name, shape.len()), weight: TensorRef::new(shape, data), bias: None, init: None }
    }

    /// With a bias.
    pub fn with_bias(mut self, bias: TensorRef<'a>) -> Self {
        self.bias = Some(bias);
        self
    }

    /// With initial values.
    pub fn with_init(mut self, init: TensorRef<'a>) -> Self {
        self.init = Some(init);
        self
    }

    /// With a storage layout for the weight (and init).
    pub fn with_layout(mut self, layout: Layout) -> Self {
        self.weight.layout = layout;
        if let Some(i) = self.init.as_mut() {
            i.layout = layout;
        }
        self
    }
}

/// Where a regularizer adds its gradient: buffers laid out like the target's tensors.
#[derive(Debug)]
pub struct TargetGrad<'a> {
    /// Gradient of the weight, same layout as [`Target::weight`].
    pub weight: &'a mut [f32],
    /// Gradient of the bias, when the target has one.
    pub bias: Option<&'a mut [f32]>,
}

/// A target to modify in place (proximal steps, projections, masks).
#[derive(Debug)]
pub struct TargetMut<'a> {
    /// PyTorch-style name.
    pub name: &'a str,
    /// What the tensor is.
    pub role: Role,
    /// Shape in PyTorch convention.
    pub shape: &'a [usize],
    /// Storage layout of `weight`.
    pub layout: Layout,
    /// The values, modified in place.
    pub weight: &'a mut [f32],
}

/// What a post-step transform may depend on. Randomness must be a function of
/// `(seed, step, tensor name)`, so that a resumed run draws the same numbers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PostStep {
    /// Strength λ_t of the term at this step.
    pub strength: f64,
    /// Learning rate of the step just taken.
    pub lr: f64,
    /// Index of the step just taken (0-based).
    pub step: u64,
    /// The run's seed.
    pub seed: u64,
}

/// Check a proximal step size `step = η·λ_t` for `reg` on `target`: an error unless it is
/// finite and non-negative. Returns `false` for a zero step (the proximal map is the identity).
pub fn prox_step_ok(reg: &str, target: &TargetMut<'_>, step: f32) -> Result<bool> {
    if !(step >= 0.0 && step.is_finite()) {
        return Err(crate::Error::Spec {
            spec: reg.to_string(),
            why: format!("proximal step η·λ must be finite and non-negative, got {step} (tensor `{}`)", target.name),
        });
    }
    Ok(step > 0.0)
}

/// Check that `t`'s weight is a matrix (2-D, or a conv kernel `[out, in, kh, kw]` read as
/// `[out, in·kh·kw]`) whose shape matches its values, and that `grad` (if any) has as many
/// values; return the matrix view's `(rows, cols)`. A [`crate::Error::Shape`] naming the tensor
/// (and `reg`) otherwise, for regularizers on the rows of a layer.
pub fn check_matrix(reg: &str, t: &Target<'_>, grad: Option<&TargetGrad<'_>>) -> Result<(usize, usize)> {
    if !t.weight.is_matrix() {
        return Err(shape_error(t, format!("{reg} needs a matrix, got shape {:?}", t.weight.shape)));
    }
    check_values(t, grad)?;
    Ok(t.weight.matrix_dims())
}

/// Check that `t`'s weight shape matches its number of values and that `grad` (if any) has as
/// many: a [`crate::Error::Shape`] naming the tensor otherwise.
pub fn check_values(t: &Target<'_>, grad: Option<&TargetGrad<'_>>) -> Result<()> {
    let wt = &t.weight;
    if wt.shape.iter().product::<usize>() != wt.len() {
        return Err(shape_error(t, format!("shape {:?} does not match {} values", wt.shape, wt.len())));
    }
    if let Some(g) = grad
        && g.weight.len() != wt.len()
    {
        return Err(shape_error(t, format!("gradient buffer has {} values, the weight {}", g.weight.len(), wt.len())));
    }
    Ok(())
}

/// A [`crate::Error::Shape`] about `t`'s tensor.
pub fn shape_error(t: &Target<'_>, why: String) -> crate::Error {
    crate::Error::Shape { tensor: t.name.to_string(), why }
}

/// How exactly to evaluate iterative quantities (σ_max by power iteration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// One refinement per call, carrying state across calls (training: one step per update).
    #[default]
    Step,
    /// Run to convergence (reports, `reglab penalty`, tests).
    Exact,
}

/// A parameter-space regularizer `r(θ)`. See the module documentation.
pub trait Regularizer: Send {
    /// Name on the command line, e.g. `spectral`.
    fn name(&self) -> &'static str;

    /// Whether this regularizer acts on `tensor` at all (matrix regularizers skip 1-D tensors).
    fn accepts(&self, tensor: &TensorRef<'_>) -> bool {
        let _ = tensor;
        true
    }

    /// Whether the layer's bias joins the weight (as the extra column of `[W | b]`).
    fn joins_bias(&self) -> bool {
        false
    }

    /// Whether [`Target::init`] is required.
    fn needs_init(&self) -> bool {
        false
    }

    /// Whether the regularizer couples the tensors it acts on through a statistic of all of
    /// them (e.g. a magnitude threshold ranked over every selected weight at once). When true,
    /// [`crate::RegSet::eval`] calls [`Regularizer::prepare`] before the per-target `eval` calls.
    fn couples_targets(&self) -> bool {
        false
    }

    /// With every target this term acts on at this evaluation, in order, before `eval` is called
    /// on each of them (only for [`Regularizer::couples_targets`]). The regularizer computes its
    /// joint statistic here; the next `eval` of each of these targets uses it. A target evaluated
    /// without a `prepare` that listed it (one tensor at a time, e.g. the bench) gets statistics
    /// of its own tensor alone; each regularizer documents that fallback.
    fn prepare(&mut self, targets: &[&Target<'_>]) -> Result<()> {
        let _ = targets;
        Ok(())
    }

    /// `r(θ)` for one target; when `grad` is given, add `scale · ∇r(θ)` into it (for
    /// non-smooth `r`, a subgradient). Values are accumulated in f64.
    fn eval(&mut self, target: &Target<'_>, grad: Option<&mut TargetGrad<'_>>, scale: f32, mode: Mode) -> Result<f64>;

    /// Whether [`Regularizer::prox`] is implemented. Training then applies the proximal step
    /// after the optimizer step instead of adding a (sub)gradient.
    fn has_prox(&self) -> bool {
        false
    }

    /// In place: `θ ← prox_{step·r}(θ)`, where the caller passes `step = η·λ_t`.
    fn prox(&mut self, target: &mut TargetMut<'_>, step: f32) -> Result<()> {
        let _ = (target, step);
        Ok(())
    }

    /// Whether [`Regularizer::post_step`] is implemented: a transform of the weights after each
    /// optimizer step that is not the proximal step of a penalty (perturbations such as
    /// shrink-and-perturb).
    fn has_post_step(&self) -> bool {
        false
    }

    /// In place, after the optimizer step (and after proximal steps of earlier terms).
    fn post_step(&mut self, target: &mut TargetMut<'_>, ctx: &PostStep) -> Result<()> {
        let _ = (target, ctx);
        Ok(())
    }

    /// The tensors this regularizer sees when the spec has no `select`, if it differs from the
    /// caller's default (e.g. shrink-and-perturb acts on weights and biases alike).
    fn default_selection(&self) -> Option<crate::select::Selection> {
        None
    }

    /// Persistent state to save with a checkpoint (e.g. power-iteration vectors), as named
    /// tensors; names are prefixed by the caller.
    fn state(&self) -> Vec<NamedTensor> {
        Vec::new()
    }

    /// Restore what [`Regularizer::state`] saved.
    fn load_state(&mut self, state: &[NamedTensor]) -> Result<()> {
        let _ = state;
        Ok(())
    }
}
