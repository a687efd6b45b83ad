//! `reglab penalty`: regularizers evaluated on the tensors of a file.
//!
//! Every tensor is a target (unless `select` narrows them; biases are not excluded here).
//! Matrix regularizers skip 1-D tensors, except that a regularizer that joins the bias
//! (`spectral`) reads `P.bias` as the extra column of `P.weight` when the file holds both, as in
//! training. Iterative quantities run to convergence (σ_max: relative change of σ and of the
//! singular vector below 1e-12, so gradients are accurate too). For
//! regularizers applied by a proximal step in training (`l1`), the gradient written is the
//! subgradient (sign(w), 0 at 0).

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
        return Err("give at least one --reg NAME=λ".into());
    }
    let selection = match select {
        Some(p) => Selection::pattern(p)?,
        None => Selection::All,
    };
    if let Some(s) = specs.iter().find(|s| reglab_regularizers::is_output(s)) {
        return Err(format!("`{s}` acts on the logits of a training batch, not on tensors: use it with `reglab train` or `reglab run`"));
    }
    if let Some(s) = specs.iter().find(|s| reglab_regularizers::is_batch(s) || reglab_train::hook::registry::is_step_hook(s)) {
        return Err(format!("`{s}` acts on training batches or the forward pass, not on tensors: use it with `reglab train` or `reglab run`"));
    }
    let mut set = reglab_regularizers::build_set(specs, selection).map_err(|e| e.to_string())?;
    // init tensors by name, shapes checked
    let mut inits: Vec<Option<&NamedTensor>> = Vec::with_capacity(weights.len());
    for w in weights {
        let i = init.and_then(|i| i.iter().find(|t| t.name == w.name));
        if let Some(i) = i
            && i.shape != w.shape
        {
            return Err(format!("init tensor `{}` has shape {:?}, the weights have {:?}", w.name, i.shape, w.shape));
        }
        inits.push(i);
    }
    if init.is_some() && inits.iter().all(|i| i.is_none()) {
        return Err("the init file shares no tensor name with the weights file".into());
    }
    let bias_of = |w: &NamedTensor| -> Option<usize> {
        let prefix = w.name.strip_suffix("weight")?;
        let rows = *w.shape.first()?;
        weights.iter().position(|b| b.name == format!("{prefix}bias") && b.shape == [rows])
    };
    let companions: Vec<Option<usize>> = weights.iter().map(|w| if w.shape.len() >= 2 { bias_of(w) } else { None }).collect();
    let targets: Vec<Target<'_>> = weights
        .iter()
        .zip(&inits)
        .zip(&companions)
        .map(|((w, i), c)| Target {
            name: &w.name,
            role: reglab_core::select::role_from_name(&w.name, w.shape.len()),
            weight: TensorRef { shape: &w.shape, layout: Layout::RowMajor, data: &w.data },
            bias: c.map(|c| weights[c].view()),
            init: i.map(|i| i.view()),
        })
        .collect();
    let mut gw: Vec<Vec<f32>> = if want_grad { weights.iter().map(|w| vec![0.0; w.data.len()]).collect() } else { vec![] };
    let mut gb: Vec<Vec<f32>> =
        if want_grad { companions.iter().map(|c| vec![0.0; c.map(|c| weights[c].data.len()).unwrap_or(0)]).collect() } else { vec![] };
    let ev = if want_grad {
        let mut grads: Vec<TargetGrad<'_>> = gw
            .iter_mut()
            .zip(gb.iter_mut())
            .zip(&companions)
            .map(|((w, b), c)| TargetGrad { weight: w.as_mut_slice(), bias: c.map(|_| b.as_mut_slice()) })
            .collect();
        set.eval(&targets, Some(&mut grads), 0, 1, Mode::Exact, false)
    } else {
        set.eval(&targets, None, 0, 1, Mode::Exact, false)
    }
    .map_err(|e| e.to_string())?;
    let labels = set.labels();
    let terms: Vec<TermRow> =
        ev.detail.iter().map(|d| TermRow { reg: labels[d.term].clone(), tensor: weights[d.target].name.clone(), value: d.value }).collect();
    if terms.is_empty() {
        return Err("no tensor of the file is selected by any regularizer (matrix regularizers skip 1-D tensors)".into());
    }
    let report = PenaltyReport { total: ev.total(), terms };
    let grads = want_grad.then(|| {
        let mut out: Vec<NamedTensor> = weights.iter().zip(gw).map(|(w, g)| NamedTensor::new(w.name.clone(), w.shape.clone(), g)).collect();
        for (c, b) in companions.iter().zip(gb) {
            if let Some(c) = c {
                for (o, v) in out[*c].data.iter_mut().zip(b) {
                    *o += v;
                }
            }
        }
        out
    });
    Ok((report, grads))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reglab_core::testing::random_vec;

    fn t(name: &str, shape: &[usize], seed: u64) -> NamedTensor {
        NamedTensor::new(name, shape.to_vec(), random_vec(shape.iter().product(), 0.5, seed))
    }

    #[test]
    fn l2_on_every_tensor_biases_included() {
        let w = vec![t("fc.weight", &[3, 4], 1), t("fc.bias", &[3], 2)];
        let (r, g) = evaluate(&w, None, &["l2=2".into()], None, true).unwrap();
        assert_eq!(r.terms.len(), 2);
        let want: f64 = w.iter().map(|t| reglab_core::linalg::sum_sq(&t.data)).sum();
        assert!((r.total - want).abs() < 1e-9 * want);
        let g = g.unwrap();
        for (gt, wt) in g.iter().zip(&w) {
            for (a, b) in gt.data.iter().zip(&wt.data) {
                assert!((a - 2.0 * b).abs() < 1e-6);
            }
        }
    }

    #[test]
    fn select_narrows_and_missing_init_is_an_error() {
        let w = vec![t("a.weight", &[3, 4], 1), t("a.bias", &[3], 2), t("b.weight", &[2, 3], 3)];
        let (r, _) = evaluate(&w, None, &["l2=1".into()], Some("b.*"), false).unwrap();
        assert_eq!(r.terms.len(), 1);
        assert_eq!(r.terms[0].tensor, "b.weight");
        let e = evaluate(&w, None, &["l2-init=1".into()], None, false).unwrap_err();
        assert!(e.contains("initial weights"), "{e}");
        let bad_init = vec![t("a.weight", &[4, 3], 1)];
        let e = evaluate(&w, Some(&bad_init), &["l2-init=1".into()], None, false).unwrap_err();
        assert!(e.contains("shape"), "{e}");
        assert!(evaluate(&w, None, &[], None, false).is_err());
        assert!(evaluate(&w, None, &["nope=1".into()], None, false).unwrap_err().contains("unknown regularizer"));
    }
}
