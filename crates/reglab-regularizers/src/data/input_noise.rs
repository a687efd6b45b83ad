//! `input-noise=σ`: additive Gaussian noise on the training inputs.
//!
//! ## What it does
//! `x ← x + σ·ε`, `ε ~ N(0, I)` drawn anew for every example of every training batch (test
//! inputs are clean). For a linear model and small σ this is equivalent to Tikhonov (ridge)
//! regularization of strength `σ²` on the weights (Bishop 1995).
//!
//! ## Paper
//! Bishop, "Training with Noise is Equivalent to Tikhonov Regularization", Neural Computation
//! 7(1), 1995.

use rand_distr::{Distribution, StandardNormal};
use reglab_core::batch::{BatchMut, BatchTransform, LabelMix};
use reglab_core::{Result, Spec};

/// Gaussian input noise. See the module documentation.
#[derive(Debug, Clone)]
pub struct InputNoise {
    sigma: f32,
}

impl InputNoise {
    /// Build from a spec (`input-noise=σ`, no options).
    pub fn from_spec(spec: &Spec) -> Result<Self> {
        spec.options().finish()?;
        Ok(Self { sigma: spec.strength as f32 })
    }
}

impl BatchTransform for InputNoise {
    fn name(&self) -> &'static str {
        "input-noise"
    }

    fn apply(&self, b: &mut BatchMut<'_>, rng: &mut rand_chacha::ChaCha8Rng) -> Result<Option<LabelMix>> {
        for v in b.x.iter_mut() {
            let e: f32 = StandardNormal.sample(rng);
            *v += self.sigma * e;
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn noise_has_the_given_standard_deviation_and_repeats_per_seed() {
        let n = InputNoise::from_spec(&Spec::parse("input-noise=0.3").unwrap()).unwrap();
        let shape = [1000usize];
        let labels = [0usize; 20];
        let mut x = vec![2.0f32; 20_000];
        let mut b = BatchMut { x: &mut x, n: 20, example_shape: &shape, labels: &labels };
        n.apply(&mut b, &mut rand_chacha::ChaCha8Rng::seed_from_u64(4)).unwrap();
        let mean = x.iter().map(|&v| v as f64).sum::<f64>() / 2e4;
        let sd = (x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / 2e4).sqrt();
        assert!((mean - 2.0).abs() < 0.01 && (sd - 0.3).abs() < 0.005, "{mean} {sd}");
        let mut y = vec![2.0f32; 20_000];
        let mut b = BatchMut { x: &mut y, n: 20, example_shape: &shape, labels: &labels };
        n.apply(&mut b, &mut rand_chacha::ChaCha8Rng::seed_from_u64(4)).unwrap();
        assert_eq!(x, y);
        let zero = InputNoise::from_spec(&Spec::parse("input-noise=0").unwrap()).unwrap();
        let mut z = vec![2.0f32; 10];
        let mut b = BatchMut { x: &mut z, n: 1, example_shape: &[10], labels: &[0] };
        zero.apply(&mut b, &mut rand_chacha::ChaCha8Rng::seed_from_u64(4)).unwrap();
        assert!(z.iter().all(|&v| v == 2.0));
    }
}
