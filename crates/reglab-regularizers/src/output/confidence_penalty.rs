//! `confidence-penalty=β`: minus β times the entropy of the prediction.
//!
//! ## Formula
//! `R(z) = β · (1/B)·Σ_i Σ_k p_{ik} log p_{ik} = −β · (1/B)·Σ_i H(p_i)`, `p_i = softmax(z_i)`.
//!
//! Gradient (with `H_i = −Σ_k p_{ik} log p_{ik}`): `∂R/∂z_{ik} = (β/B)·p_{ik}·(log p_{ik} + H_i)`.
//! `R` is smallest (`−β log C`) at a uniform prediction and tends to 0 as the prediction becomes
//! one-hot: it penalizes confident (low-entropy) outputs. Symbols: `z` `[B, C]` logits, `β ≥ 0`.
//!
//! ## Paper
//! Pereyra, Tucker, Chorowski, Kaiser, Hinton, "Regularizing Neural Networks by Penalizing
//! Confident Output Distributions", ICLR 2017 workshop (arXiv 1701.06548), eq. (2), without the
//! hinge variant.

use reglab_core::output::{log_softmax, softmax};
use reglab_core::{OutputBatch, OutputRegularizer, Result, Spec};

/// The confidence penalty `−β·H(p)`. See the module documentation.
#[derive(Debug, Clone, Default)]
pub struct ConfidencePenalty;

impl ConfidencePenalty {
    /// Build from a spec (`confidence-penalty=β`, no options).
    pub fn from_spec(spec: &Spec) -> Result<Self> {
        spec.options().finish()?;
        Ok(Self)
    }
}

impl OutputRegularizer for ConfidencePenalty {
    fn name(&self) -> &'static str {
        "confidence-penalty"
    }

    fn eval(&self, b: &OutputBatch<'_>, mut grad: Option<&mut [f64]>, scale: f64) -> Result<f64> {
        let n = b.n as f64;
        let mut r = 0.0;
        for i in 0..b.n {
            let (p, lp) = (softmax(b.row(i)), log_softmax(b.row(i)));
            // p·log p with 0·log 0 = 0 (an underflowed p contributes nothing)
            let neg_h: f64 = p.iter().zip(&lp).map(|(p, l)| if *p > 0.0 { p * l } else { 0.0 }).sum();
            r += neg_h;
            if let Some(g) = grad.as_deref_mut() {
                let row = &mut g[i * b.classes..(i + 1) * b.classes];
                for ((gk, pk), lk) in row.iter_mut().zip(&p).zip(&lp) {
                    *gk += scale * pk * (lk - neg_h) / n;
                }
            }
        }
        Ok(r / n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::test_util::Fixture;
    use reglab_core::testing::output_gradient_error;

    fn reg() -> ConfidencePenalty {
        ConfidencePenalty::from_spec(&Spec::parse("confidence-penalty=0.1").unwrap()).unwrap()
    }

    #[test]
    fn value_is_minus_the_mean_entropy() {
        // z = [0, ln 3] → p = [1/4, 3/4]: −H = ¼ln¼ + ¾ln¾
        let (z, y, idx) = (vec![0.0, 3f32.ln()], vec![0], vec![0]);
        let b = OutputBatch { logits: &z, n: 1, classes: 2, labels: &y, index: &idx };
        let want = 0.25 * 0.25f64.ln() + 0.75 * 0.75f64.ln();
        assert!((reg().eval(&b, None, 1.0).unwrap() - want).abs() < 1e-7);
    }

    #[test]
    fn gradient_matches_finite_differences() {
        for (seed, scale) in [(0, 1.0), (1, 4.0), (2, 0.1)] {
            let f = Fixture::new(7, 5, scale, seed);
            let e = output_gradient_error(&reg(), &f.batch(), 1e-3);
            assert!(e < 1e-4, "seed {seed}: {e}");
        }
    }

    #[test]
    fn invariants_minimum_at_uniform_zero_at_one_hot_shift_free() {
        let (y, idx) = (vec![0, 1], vec![0, 1]);
        let uniform = vec![2.0f32; 8];
        let b = OutputBatch { logits: &uniform, n: 2, classes: 4, labels: &y, index: &idx };
        assert!((reg().eval(&b, None, 1.0).unwrap() + 4f64.ln()).abs() < 1e-12);
        let mut g = vec![0.0; 8];
        reg().eval(&b, Some(&mut g), 1.0).unwrap();
        assert!(g.iter().all(|v| v.abs() < 1e-15), "stationary at the uniform prediction");
        let peaked = vec![80.0f32, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 80.0];
        let b = OutputBatch { logits: &peaked, ..b };
        assert!(reg().eval(&b, None, 1.0).unwrap().abs() < 1e-30);
        let f = Fixture::new(4, 3, 2.0, 3);
        let shifted: Vec<f32> = f.logits.iter().map(|v| v + 5.0).collect();
        let (a, c) = (reg().eval(&f.batch(), None, 1.0).unwrap(), reg().eval(&OutputBatch { logits: &shifted, ..f.batch() }, None, 1.0).unwrap());
        assert!((a - c).abs() < 1e-6);
    }
}
