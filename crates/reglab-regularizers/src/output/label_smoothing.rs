//! `label-smoothing=ε`: the cross-entropy against `(1 − ε)·onehot(y) + ε/C`, as a term added to
//! the plain cross-entropy.
//!
//! ## Formula
//! Label smoothing trains on the targets `q = (1 − ε)·e_y + ε·u`, `u = 1/C`:
//! `CE_ε(z, y) = −Σ_k q_k log p_k = (1 − ε)·CE(z, y) + ε·(1/C)·Σ_k (−log p_k)`, `p = softmax(z)`
//! (PyTorch's `cross_entropy(..., label_smoothing=ε)`). Added to the plain cross-entropy, the
//! regularizer is the difference, in which the log-partition cancels:
//!
//! `R(z) = ε · (1/B)·Σ_i [ z_{i,y_i} − (1/C)·Σ_k z_{ik} ]`,  so  `CE + R = CE_ε`.
//!
//! Gradient `∂R/∂z_{ik} = (ε/B)·(δ_{k,y_i} − 1/C)`: a constant that pulls the true logit down
//! and the others up, whatever the prediction. Symbols: `z` `[B, C]` logits, `y_i` the
//! (training) label of example `i`, `ε ∈ [0, 1]` the strength.
//!
//! ## Paper
//! Szegedy, Vanhoucke, Ioffe, Shlens, Wojna, "Rethinking the Inception Architecture for Computer
//! Vision", CVPR 2016 (§7); as a regularizer: Müller, Kornblith, Hinton, "When does label
//! smoothing help?", NeurIPS 2019.

use reglab_core::{Error, OutputBatch, OutputRegularizer, Result, Spec};

/// Label smoothing as a term added to the cross-entropy. See the module documentation.
#[derive(Debug, Clone, Default)]
pub struct LabelSmoothing;

impl LabelSmoothing {
    /// Build from a spec (`label-smoothing=ε`, `ε ≤ 1`, no options).
    pub fn from_spec(spec: &Spec) -> Result<Self> {
        spec.options().finish()?;
        if spec.strength > 1.0 {
            return Err(Error::Spec { spec: spec.raw().into(), why: format!("ε = {} > 1: the smoothed target would be negative", spec.strength) });
        }
        Ok(Self)
    }
}

impl OutputRegularizer for LabelSmoothing {
    fn name(&self) -> &'static str {
        "label-smoothing"
    }

    fn eval(&self, b: &OutputBatch<'_>, grad: Option<&mut [f64]>, scale: f64) -> Result<f64> {
        let (n, c) = (b.n as f64, b.classes as f64);
        let mut r = 0.0;
        for i in 0..b.n {
            let z = b.row(i);
            r += z[b.labels[i]] as f64 - z.iter().map(|&v| v as f64).sum::<f64>() / c;
        }
        if let Some(g) = grad {
            for i in 0..b.n {
                let row = &mut g[i * b.classes..(i + 1) * b.classes];
                for (k, gk) in row.iter_mut().enumerate() {
                    *gk += scale * ((k == b.labels[i]) as u8 as f64 - 1.0 / c) / n;
                }
            }
        }
        Ok(r / n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::test_util::{Fixture, cross_entropy};
    use reglab_core::output::log_softmax;
    use reglab_core::testing::output_gradient_error;

    fn reg(s: &str) -> LabelSmoothing {
        LabelSmoothing::from_spec(&Spec::parse(s).unwrap()).unwrap()
    }

    /// PyTorch's definition: −Σ_k q_k log p_k with q = (1 − ε)e_y + ε/C, mean over the batch.
    fn smoothed_ce(b: &OutputBatch<'_>, eps: f64) -> f64 {
        (0..b.n)
            .map(|i| {
                let lp = log_softmax(b.row(i));
                let c = b.classes as f64;
                lp.iter().enumerate().map(|(k, l)| -((1.0 - eps) * (k == b.labels[i]) as u8 as f64 + eps / c) * l).sum::<f64>()
            })
            .sum::<f64>()
            / b.n as f64
    }

    #[test]
    fn ce_plus_the_term_is_the_smoothed_cross_entropy() {
        for (seed, eps) in [(0, 0.1), (1, 0.3), (2, 1.0), (3, 0.0)] {
            let f = Fixture::new(9, 5, 3.0, seed);
            let b = f.batch();
            let total = cross_entropy(&b) + eps * reg("label-smoothing=0.1").eval(&b, None, 1.0).unwrap();
            assert!((total - smoothed_ce(&b, eps)).abs() < 1e-5, "ε {eps}: {total} vs {}", smoothed_ce(&b, eps));
        }
    }

    #[test]
    fn fixed_value_by_hand() {
        // z = [[1, 2, 3], [0, 0, 6]], y = [2, 0]: ((3 − 2) + (0 − 2))/2 = −0.5
        let (z, y, idx) = (vec![1.0, 2.0, 3.0, 0.0, 0.0, 6.0], vec![2, 0], vec![0, 1]);
        let b = OutputBatch { logits: &z, n: 2, classes: 3, labels: &y, index: &idx };
        assert_eq!(reg("label-smoothing=0.1").eval(&b, None, 1.0).unwrap(), -0.5);
    }

    #[test]
    fn gradient_is_constant_and_matches_finite_differences() {
        let f = Fixture::new(6, 4, 2.0, 4);
        let b = f.batch();
        assert!(output_gradient_error(&reg("label-smoothing=0.2"), &b, 1e-2) < 1e-6);
        let mut g = vec![0.0; 24];
        reg("label-smoothing=0.2").eval(&b, Some(&mut g), 0.2).unwrap();
        for i in 0..6 {
            for k in 0..4 {
                let want = 0.2 * (if k == f.labels[i] { 0.75 } else { -0.25 }) / 6.0;
                assert!((g[i * 4 + k] - want).abs() < 1e-15);
            }
        }
    }

    #[test]
    fn invariant_to_a_shift_of_a_row_and_rejects_eps_above_one() {
        let f = Fixture::new(5, 3, 2.0, 5);
        let mut shifted = f.logits.clone();
        shifted[3..6].iter_mut().for_each(|v| *v += 4.0);
        let b2 = OutputBatch { logits: &shifted, ..f.batch() };
        let (a, b) = (reg("label-smoothing=0.1").eval(&f.batch(), None, 1.0).unwrap(), reg("label-smoothing=0.1").eval(&b2, None, 1.0).unwrap());
        assert!((a - b).abs() < 1e-6);
        assert!(LabelSmoothing::from_spec(&Spec::parse("label-smoothing=1.5").unwrap()).unwrap_err().to_string().contains("> 1"));
        assert!(LabelSmoothing::from_spec(&Spec::parse("label-smoothing=0.1:k=2").unwrap()).is_err());
    }
}
