//! `dropout=p`: drop hidden units at random during training.
//!
//! ## What it does
//! On every training forward pass, each hidden activation `h_j` (MLP: the output of every hidden
//! ReLU layer; CNN: the flattened convolutional features before the classifier) is multiplied by
//! `m_j/(1 − p)` with `m_j ~ Bernoulli(1 − p)` drawn independently per example and unit ("inverted"
//! dropout, as `torch.nn.Dropout` and burn's `Dropout`), so `E[h̃] = h` and evaluation uses the
//! network unchanged. Masks come from a generator seeded by `(run seed, step, layer)`: runs
//! repeat bit for bit and resume without state.
//!
//! Symbols: `p ∈ [0, 1)` the drop probability (the strength).
//!
//! ## Paper
//! Srivastava, Hinton, Krizhevsky, Sutskever, Salakhutdinov, "Dropout: A Simple Way to Prevent
//! Neural Networks from Overfitting", JMLR 15, 2014.

use rand::{Rng, SeedableRng};
use reglab_core::{Error, Result, Spec};

/// Dropout. See the module documentation.
#[derive(Debug, Clone, PartialEq)]
pub struct Dropout {
    /// Drop probability.
    pub p: f64,
}

impl Dropout {
    /// Build from a spec (`dropout=p`, `0 ≤ p < 1`, no options).
    pub fn from_spec(spec: &Spec) -> Result<Self> {
        let o = spec.options();
        o.finish()?;
        if spec.strength >= 1.0 {
            return Err(Error::Spec {
                spec: spec.raw().into(),
                why: format!("p = {} must be < 1 (p is the probability of dropping a unit)", spec.strength),
            });
        }
        Ok(Self { p: spec.strength })
    }

    /// The `n` mask values (`0` or `1/(1 − p)`) of layer `layer` at step `step` of a run with
    /// seed `seed`.
    pub fn mask(&self, n: usize, seed: u64, step: u64, layer: usize) -> Vec<f32> {
        let h = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ step.wrapping_mul(0xD6E8_FEB8_6659_FD93)
            ^ (layer as u64 + 1).wrapping_mul(0xA24B_AED4_963E_E407);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(h);
        let keep = 1.0 - self.p;
        let scale = (1.0 / keep) as f32;
        (0..n).map(|_| if rng.random::<f64>() < keep { scale } else { 0.0 }).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_a_fraction_one_minus_p_scaled_to_keep_the_mean() {
        let d = Dropout::from_spec(&Spec::parse("dropout=0.3").unwrap()).unwrap();
        let m = d.mask(100_000, 1, 2, 0);
        let kept = m.iter().filter(|&&v| v != 0.0).count() as f64 / 1e5;
        assert!((kept - 0.7).abs() < 0.005, "{kept}");
        assert!(m.iter().all(|&v| v == 0.0 || (v - 1.0 / 0.7).abs() < 1e-6));
        let mean = m.iter().map(|&v| v as f64).sum::<f64>() / 1e5;
        assert!((mean - 1.0).abs() < 0.01, "E[m] = 1: {mean}");
        // deterministic per (seed, step, layer), different across them
        assert_eq!(m, d.mask(100_000, 1, 2, 0));
        assert_ne!(m[..64], d.mask(64, 1, 3, 0)[..]);
        assert_ne!(m[..64], d.mask(64, 1, 2, 1)[..]);
        // p = 0 keeps everything at scale 1
        assert!(Dropout::from_spec(&Spec::parse("dropout=0").unwrap()).unwrap().mask(100, 0, 0, 0).iter().all(|&v| v == 1.0));
    }

    #[test]
    fn bad_specs_are_errors() {
        assert!(Dropout::from_spec(&Spec::parse("dropout=1").unwrap()).unwrap_err().to_string().contains("< 1"));
        assert!(Dropout::from_spec(&Spec::parse("dropout=0.5:k=1").unwrap()).is_err());
    }
}
