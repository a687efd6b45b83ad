//! `spectral-decoupling=λ`: an L2 penalty on the logits.
//!
//! ## Formula
//! `R(z) = λ/2 · (1/B)·Σ_i ‖z_i − γ‖²`, gradient `∂R/∂z_i = (λ/B)·(z_i − γ)`, with `z` the
//! `[B, C]` logits, `γ` a scalar target (option `gamma`, default 0: the paper's plain form).
//! The paper's loss per example is `CE + λ/2·‖ŷ‖²`; averaged over the batch like the
//! cross-entropy. (Third-party re-implementations differ in the scale: e.g. `λ·mean(z²)` over all
//! `B·C` entries, which is this term with strength `2λ/C`.)
//!
//! ## Paper
//! Pezeshki, Kaba, Bengio, Courville, Precup, Lajoie, "Gradient Starvation: A Learning
//! Proclivity in Neural Networks", NeurIPS 2021, §4 (Spectral Decoupling).

use reglab_core::{OutputBatch, OutputRegularizer, Result, Spec};

/// Spectral decoupling `λ/2·‖z − γ‖²`. See the module documentation.
#[derive(Debug, Clone, Default)]
pub struct SpectralDecoupling {
    gamma: f64,
}

impl SpectralDecoupling {
    /// Build from a spec (`spectral-decoupling=λ[:gamma=γ]`).
    pub fn from_spec(spec: &Spec) -> Result<Self> {
        let mut o = spec.options();
        let gamma = o.f64("gamma", 0.0)?;
        o.finish()?;
        Ok(Self { gamma })
    }
}

impl OutputRegularizer for SpectralDecoupling {
    fn name(&self) -> &'static str {
        "spectral-decoupling"
    }

    fn eval(&self, b: &OutputBatch<'_>, grad: Option<&mut [f64]>, scale: f64) -> Result<f64> {
        let n = b.n as f64;
        let r: f64 = b.logits.iter().map(|&v| (v as f64 - self.gamma).powi(2)).sum::<f64>() / (2.0 * n);
        if let Some(g) = grad {
            for (gi, &v) in g.iter_mut().zip(b.logits) {
                *gi += scale * (v as f64 - self.gamma) / n;
            }
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::test_util::Fixture;
    use reglab_core::testing::output_gradient_error;

    fn reg(s: &str) -> SpectralDecoupling {
        SpectralDecoupling::from_spec(&Spec::parse(s).unwrap()).unwrap()
    }

    #[test]
    fn value_by_hand() {
        // ½·(1 + 4 + 9 + 16)/2 = 7.5; with γ = 1: ½·(0 + 1 + 4 + 9)/2 = 3.5
        let (z, y, idx) = (vec![1.0, 2.0, 3.0, 4.0], vec![0, 1], vec![0, 1]);
        let b = OutputBatch { logits: &z, n: 2, classes: 2, labels: &y, index: &idx };
        assert_eq!(reg("spectral-decoupling=1").eval(&b, None, 1.0).unwrap(), 7.5);
        assert_eq!(reg("spectral-decoupling=1:gamma=1").eval(&b, None, 1.0).unwrap(), 3.5);
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let f = Fixture::new(5, 4, 3.0, 1);
        assert!(output_gradient_error(&reg("spectral-decoupling=1"), &f.batch(), 1e-2) < 1e-6);
        assert!(output_gradient_error(&reg("spectral-decoupling=1:gamma=0.5"), &f.batch(), 1e-2) < 1e-6);
    }

    #[test]
    fn invariants_zero_at_gamma_and_quadratic() {
        let (z, y, idx) = (vec![0.5f32; 6], vec![0, 1], vec![0, 1]);
        let b = OutputBatch { logits: &z, n: 2, classes: 3, labels: &y, index: &idx };
        assert_eq!(reg("spectral-decoupling=1:gamma=0.5").eval(&b, None, 1.0).unwrap(), 0.0);
        let f = Fixture::new(4, 3, 1.0, 2);
        let doubled: Vec<f32> = f.logits.iter().map(|v| 2.0 * v).collect();
        let (a, c) = (
            reg("spectral-decoupling=1").eval(&f.batch(), None, 1.0).unwrap(),
            reg("spectral-decoupling=1").eval(&OutputBatch { logits: &doubled, ..f.batch() }, None, 1.0).unwrap(),
        );
        assert!((c - 4.0 * a).abs() < 1e-9 * c);
        assert!(SpectralDecoupling::from_spec(&Spec::parse("spectral-decoupling=1:gamma=x").unwrap()).is_err());
    }
}
