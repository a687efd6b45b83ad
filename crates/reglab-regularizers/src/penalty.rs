//! Regularizers evaluated on named tensors: what `reglab penalty` and the Python binding's
//! `reglab.penalty` compute, in one place.
//!
//! Every tensor is a target (unless `select` narrows them; biases are not excluded here).
//! Matrix regularizers skip 1-D tensors, except that a regularizer that joins the bias
//! (`spectral`) reads `P.bias` as the extra column of `P.weight` when the tensors hold both, as in
//! training. Iterative quantities run to convergence (σ_max: relative change of σ and of the
//! singular vector below 1e-12, so gradients are accurate too). For
//! regularizers applied by a proximal step in training (`l1`), the gradient written is the
//! subgradient (sign(w), 0 at 0). Terms on the logits or on training batches are refused with a
//! message; step hooks (`sam`, `amp`, …, in `reglab-train`) are unknown names here, and
//! `reglab_lab::penalty` refuses them by name before calling this.

use reglab_core::{Layout, Mode, NamedTensor, Selection, Target, TargetGrad, TensorRef};
use serde::Serialize;

/// One row of the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TermRow {
    /// Regularizer label (its name, or the whole spec when a name is repeated).
    pub reg: String,
    /// Tensor name.
    pub tensor: String,
    /// `λ·r` on that tensor.
    pub value: f64,
}

/// The whole evaluation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PenaltyReport {
    /// Sum of every row.
    pub total: f64,
    /// Per regularizer and tensor.
    pub terms: Vec<TermRow>,
}

/// Evaluate `specs` on `weights` (with `init` as W₀ where needed). With `want_grad`, also
/// return the gradient of the total under the same tensor names.
pub fn evaluate(
    weights: &[NamedTensor],
    init: Option<&[NamedTensor]>,
    specs: &[String],
    select: Option<&str>,
    want_grad: bool,
) -> Result<(PenaltyReport, Option<Vec<NamedTensor>>), String> {
    if specs.is_empty() {
        return Err("give at least one regularizer, NAME=λ".into());
    }
    let selection = match select {
        Some(p) => Selection::pattern(p)?,
        None => Selection::All,
    };
    refuse_non_parameter(specs)?;
    let mut set = crate::build_set(specs, selection).map_err(|e| e.to_string())?;
    let inits = reglab_core::tensor::match_init(weights, init, "the weights")?;
    let views: Vec<Named<'_>> = weights.iter().map(|w| Named { name: &w.name, shape: &w.shape, data: &w.data }).collect();
    let init_data: Vec<Option<&[f32]>> = inits.iter().map(|i| i.map(|i| i.data.as_slice())).collect();
    let (ev, grads) = eval_named(&mut set, &views, &init_data, 0, 1, Mode::Exact, false, want_grad)?;
    let labels = set.labels();
    let terms: Vec<TermRow> =
        ev.detail.iter().map(|d| TermRow { reg: labels[d.term].clone(), tensor: weights[d.target].name.clone(), value: d.value }).collect();
    if terms.is_empty() {
        return Err("no tensor is selected by any regularizer (matrix regularizers skip 1-D tensors)".into());
    }
    let report = PenaltyReport { total: ev.total(), terms };
    let grads = grads.map(|g| weights.iter().zip(g).map(|(w, g)| NamedTensor::new(w.name.clone(), w.shape.clone(), g)).collect());
    Ok((report, grads))
}

/// An error naming the first spec that is not a parameter-space term: terms on the logits or on
/// training batches (they need `reglab train` or `reglab run`).
pub fn refuse_non_parameter(specs: &[String]) -> Result<(), String> {
    if let Some(s) = specs.iter().find(|s| crate::is_output(s)) {
        return Err(format!("`{s}` acts on the logits of a training batch, not on tensors: use it with `reglab train` or `reglab run`"));
    }
    if let Some(s) = specs.iter().find(|s| crate::is_batch(s)) {
        return Err(format!("`{s}` acts on training batches or the forward pass, not on tensors: use it with `reglab train` or `reglab run`"));
    }
    Ok(())
}

/// A tensor by name, borrowed: `shape` in PyTorch's orientation, `data` row-major.
#[derive(Debug, Clone, Copy)]
pub struct Named<'a> {
    /// PyTorch-style name (`fc1.weight`); its role (layer weight, bias, other) follows from it.
    pub name: &'a str,
    /// Shape.
    pub shape: &'a [usize],
    /// Values.
    pub data: &'a [f32],
}

/// For each tensor, the index of its layer's bias (`P.bias` of shape `[rows]` next to the matrix
/// `P.weight`), which regularizers that join the bias read as the extra column of `[W | b]`.
pub fn bias_companions(names: &[&str], shapes: &[&[usize]]) -> Vec<Option<usize>> {
    names
        .iter()
        .zip(shapes)
        .map(|(name, shape)| {
            let prefix = name.strip_suffix("weight").filter(|_| shape.len() >= 2)?;
            let bias = format!("{prefix}bias");
            (0..names.len()).find(|&j| names[j] == bias && shapes[j] == [shape[0]])
        })
        .collect()
}

/// What [`eval_named`] returns: the evaluation and, when asked for, one gradient per tensor.
pub type NamedEvaluation = (reglab_core::Evaluation, Option<Vec<Vec<f32>>>);

/// Evaluate `set` on `weights` (with `init[i]` as tensor i's W₀, shapes already checked) at step
/// `step` of `total`, as [`reglab_core::RegSet::eval`] does in training: a layer's bias joins its
/// matrix for the terms that read `[W | b]`. With `want_grad`, also return `Σ λ_t ∇r` per tensor
/// (aligned with `weights`; a bias gets its share through the matrix it joins). With
/// `prox_aware`, terms applied by a proximal step add no gradient (their value still counts).
#[allow(clippy::too_many_arguments)]
pub fn eval_named(
    set: &mut reglab_core::RegSet,
    weights: &[Named<'_>],
    init: &[Option<&[f32]>],
    step: u64,
    total: u64,
    mode: Mode,
    prox_aware: bool,
    want_grad: bool,
) -> Result<NamedEvaluation, String> {
    if !want_grad {
        return Ok((eval_named_into(set, weights, init, step, total, mode, prox_aware, None)?, None));
    }
    let mut gw: Vec<Vec<f32>> = weights.iter().map(|w| vec![0.0; w.data.len()]).collect();
    let ev = {
        let mut out: Vec<&mut [f32]> = gw.iter_mut().map(Vec::as_mut_slice).collect();
        eval_named_into(set, weights, init, step, total, mode, prox_aware, Some(&mut out))?
    };
    Ok((ev, Some(gw)))
}

/// [`eval_named`] adding `Σ λ_t ∇r` into the caller's buffers `grads` (one per tensor, of its
/// size; e.g. a framework's `.grad`, updated in place without a copy) when given.
#[allow(clippy::too_many_arguments)]
pub fn eval_named_into(
    set: &mut reglab_core::RegSet,
    weights: &[Named<'_>],
    init: &[Option<&[f32]>],
    step: u64,
    total: u64,
    mode: Mode,
    prox_aware: bool,
    grads: Option<&mut [&mut [f32]]>,
) -> Result<reglab_core::Evaluation, String> {
    assert_eq!(init.len(), weights.len(), "one init slot per tensor");
    let names: Vec<&str> = weights.iter().map(|w| w.name).collect();
    let shapes: Vec<&[usize]> = weights.iter().map(|w| w.shape).collect();
    let companions = bias_companions(&names, &shapes);
    let targets: Vec<Target<'_>> = weights
        .iter()
        .zip(init)
        .zip(&companions)
        .map(|((w, i), c)| Target {
            name: w.name,
            role: reglab_core::select::role_from_name(w.name, w.shape.len()),
            weight: TensorRef { shape: w.shape, layout: Layout::RowMajor, data: w.data },
            bias: c.map(|c| TensorRef { shape: weights[c].shape, layout: Layout::RowMajor, data: weights[c].data }),
            init: i.map(|i| TensorRef { shape: w.shape, layout: Layout::RowMajor, data: i }),
        })
        .collect();
    let Some(out) = grads else {
        return set.eval(&targets, None, step, total, mode, prox_aware).map_err(|e| e.to_string());
    };
    if out.len() != weights.len() || out.iter().zip(weights).any(|(g, w)| g.len() != w.data.len()) {
        return Err("one gradient buffer per tensor, of its size".into());
    }
    // a joined bias gets its gradient in a buffer of its own (the bias may also be a target
    // itself), added into its tensor's buffer at the end
    let mut gb: Vec<Vec<f32>> = companions.iter().map(|c| vec![0.0; c.map(|c| weights[c].data.len()).unwrap_or(0)]).collect();
    let ev = {
        let mut tg: Vec<TargetGrad<'_>> = out
            .iter_mut()
            .zip(gb.iter_mut())
            .zip(&companions)
            .map(|((w, b), c)| TargetGrad { weight: w, bias: c.map(|_| b.as_mut_slice()) })
            .collect();
        set.eval(&targets, Some(&mut tg), step, total, mode, prox_aware).map_err(|e| e.to_string())?
    };
    for (c, b) in companions.iter().zip(gb) {
        if let Some(c) = c {
            for (o, v) in out[*c].iter_mut().zip(b) {
                *o += v;
            }
        }
    }
    Ok(ev)
}

/// After an optimizer step with learning rate `lr` (step `step` of `total`, the run's `seed`):
/// every proximal step and post-step transform of `set`, in term order, in place on `weights`
/// (`names[i]`, `shapes[i]`, row-major), as [`reglab_core::RegSet::after_step`] in training.
#[allow(clippy::too_many_arguments)]
pub fn after_step_named(
    set: &mut reglab_core::RegSet,
    names: &[&str],
    shapes: &[&[usize]],
    weights: &mut [&mut [f32]],
    lr: f64,
    step: u64,
    total: u64,
    seed: u64,
) -> Result<(), String> {
    assert!(names.len() == weights.len() && shapes.len() == weights.len(), "one name and shape per tensor");
    let mut targets: Vec<reglab_core::TargetMut<'_>> = weights
        .iter_mut()
        .zip(names.iter().zip(shapes))
        .map(|(w, (name, shape))| reglab_core::TargetMut {
            name,
            role: reglab_core::select::role_from_name(name, shape.len()),
            shape,
            layout: Layout::RowMajor,
            weight: w,
        })
        .collect();
    set.after_step(&mut targets, lr, step, total, seed).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reglab_core::testing::random_vec;

    #[test]
    fn one_matrix_l2_init_value_and_gradient() {
        let w = vec![NamedTensor::new("weight", vec![3, 4], random_vec(12, 0.5, 1))];
        let w0 = vec![NamedTensor::new("weight", vec![3, 4], random_vec(12, 0.5, 2))];
        let (r, g) = evaluate(&w, Some(&w0), &["l2-init=0.5".into()], None, true).unwrap();
        let d: Vec<f32> = w[0].data.iter().zip(&w0[0].data).map(|(a, b)| a - b).collect();
        let want = 0.25 * reglab_core::linalg::sum_sq(&d);
        assert!((r.total - want).abs() < 1e-9 * want, "{} {want}", r.total);
        for (g, d) in g.unwrap()[0].data.iter().zip(&d) {
            assert!((g - 0.5 * d).abs() < 1e-6);
        }
    }

    #[test]
    fn output_and_batch_terms_are_refused() {
        let w = vec![NamedTensor::new("weight", vec![2, 2], vec![1.0; 4])];
        assert!(evaluate(&w, None, &["label-smoothing=0.1".into()], None, false).unwrap_err().contains("logits"));
        assert!(evaluate(&w, None, &["mixup=0.2".into()], None, false).unwrap_err().contains("training batches"));
        assert!(evaluate(&w, None, &["spectral=1".into()], Some("nothing"), false).unwrap_err().contains("no tensor is selected"));
    }
}
