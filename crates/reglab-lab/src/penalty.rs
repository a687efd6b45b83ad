//! `reglab penalty`: regularizers evaluated on the tensors of a file, by
//! [`reglab_regularizers::penalty`] (which the Python binding calls too); here step hooks are
//! refused by name first.
//!
//! Every tensor is a target (unless `select` narrows them; biases are not excluded here).
//! Matrix regularizers skip 1-D tensors, except that a regularizer that joins the bias
//! (`spectral`) reads `P.bias` as the extra column of `P.weight` when the file holds both, as in
//! training. Iterative quantities run to convergence (σ_max: relative change of σ and of the
//! singular vector below 1e-12, so gradients are accurate too). For
//! regularizers applied by a proximal step in training (`l1`), the gradient written is the
//! subgradient (sign(w), 0 at 0).

use reglab_core::NamedTensor;
pub use reglab_regularizers::penalty::{PenaltyReport, TermRow};

/// Evaluate `specs` on `weights` (with `init` as W₀ where needed). With `want_grad`, also
/// return the gradient of the total under the same tensor names. See
/// [`reglab_regularizers::penalty::evaluate`]; step hooks (`sam`, …) are refused with a message.
pub fn evaluate(
    weights: &[NamedTensor],
    init: Option<&[NamedTensor]>,
    specs: &[String],
    select: Option<&str>,
    want_grad: bool,
) -> Result<(PenaltyReport, Option<Vec<NamedTensor>>), String> {
    if let Some(s) = specs.iter().find(|s| reglab_train::hook::registry::is_step_hook(s)) {
        return Err(format!("`{s}` acts on training batches or the forward pass, not on tensors: use it with `reglab train` or `reglab run`"));
    }
    reglab_regularizers::penalty::evaluate(weights, init, specs, select, want_grad)
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
