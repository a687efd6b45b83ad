//! `mixup=α`: train on convex combinations of pairs of examples and of their labels.
//!
//! ## What it does
//! Per mini-batch of `B` examples: draw `λ ~ Beta(α, α)` (one λ for the batch; `α = 0` gives
//! λ = 1, no mixing) and a uniformly random permutation `π` of the batch, replace the inputs by
//! `x̃_i = λ·x_i + (1 − λ)·x_{π(i)}` and the loss by `λ·CE(z_i, y_i) + (1 − λ)·CE(z_i, y_{π(i)})`
//! (mean over the batch). The label part reaches the trainer as a [`LabelMix`]: added to the
//! plain `CE(z, y)` it is the term `(1 − λ)·mean_i[CE(z_i, y_{π(i)}) − CE(z_i, y_i)]`, whose
//! gradient with respect to the logits is `(1 − λ)/B·(e_{y_i} − e_{y_{π(i)}})`, reported as
//! `reg/mixup`. This is the official recipe (facebookresearch/mixup-cifar10: one `λ` per batch,
//! `torch.randperm` partners, the two cross-entropies weighted by `λ`).
//!
//! Symbols: `α > 0` the Beta parameter (the strength; 1 in the paper's CIFAR-10 runs), `x` the
//! inputs `[B, …]`, `y` the labels.
//!
//! ## Paper
//! Zhang, Cissé, Dauphin, Lopez-Paz, "mixup: Beyond Empirical Risk Minimization", ICLR 2018.

use rand::seq::SliceRandom;
use rand_distr::{Beta, Distribution};
use reglab_core::batch::{BatchMut, BatchTransform, LabelMix};
use reglab_core::{Error, Result, Spec};

/// Mixup. See the module documentation.
#[derive(Debug, Clone)]
pub struct Mixup {
    alpha: f64,
}

impl Mixup {
    /// Build from a spec (`mixup=α`, no options).
    pub fn from_spec(spec: &Spec) -> Result<Self> {
        spec.options().finish()?;
        Ok(Self { alpha: spec.strength })
    }

    /// `λ` for this batch.
    fn draw_lambda(&self, rng: &mut rand_chacha::ChaCha8Rng) -> Result<f64> {
        if self.alpha == 0.0 {
            return Ok(1.0);
        }
        let beta = Beta::new(self.alpha, self.alpha).map_err(|e| Error::Spec { spec: format!("mixup={}", self.alpha), why: e.to_string() })?;
        Ok(beta.sample(rng))
    }
}

impl BatchTransform for Mixup {
    fn name(&self) -> &'static str {
        "mixup"
    }

    fn apply(&self, b: &mut BatchMut<'_>, rng: &mut rand_chacha::ChaCha8Rng) -> Result<Option<LabelMix>> {
        let lam = self.draw_lambda(rng)?;
        let mut perm: Vec<usize> = (0..b.n).collect();
        perm.shuffle(rng);
        let len = b.example_len();
        let orig = b.x.to_vec();
        let (l, m) = (lam as f32, (1.0 - lam) as f32);
        for (i, &j) in perm.iter().enumerate() {
            let (xi, xj) = (&orig[i * len..(i + 1) * len], &orig[j * len..(j + 1) * len]);
            for ((v, a), c) in b.x[i * len..(i + 1) * len].iter_mut().zip(xi).zip(xj) {
                *v = l * a + m * c;
            }
        }
        Ok(Some(LabelMix { labels_b: perm.iter().map(|&j| b.labels[j]).collect(), lam }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn mixup(s: &str) -> Mixup {
        Mixup::from_spec(&Spec::parse(s).unwrap()).unwrap()
    }

    #[test]
    fn inputs_and_labels_are_mixed_with_one_lambda_and_a_permutation() {
        let shape = [3usize];
        let x0: Vec<f32> = (0..12).map(|v| v as f32).collect();
        let mut x = x0.clone();
        let labels = [0usize, 1, 2, 3];
        let mut b = BatchMut { x: &mut x, n: 4, example_shape: &shape, labels: &labels };
        let mix = mixup("mixup=1").apply(&mut b, &mut rand_chacha::ChaCha8Rng::seed_from_u64(5)).unwrap().unwrap();
        assert!((0.0..=1.0).contains(&mix.lam));
        let mut partners = mix.labels_b.clone();
        partners.sort();
        assert_eq!(partners, vec![0, 1, 2, 3], "a permutation");
        for i in 0..4 {
            let j = mix.labels_b[i]; // label j is example j here
            for k in 0..3 {
                let want = mix.lam as f32 * x0[i * 3 + k] + (1.0 - mix.lam) as f32 * x0[j * 3 + k];
                assert_eq!(x[i * 3 + k], want);
            }
        }
    }

    #[test]
    fn lambda_follows_beta_alpha_alpha() {
        // Beta(α, α): mean ½, variance 1/(4(2α + 1)); α = 0.2 (U-shaped) and α = 2
        for alpha in [0.2, 2.0] {
            let m = mixup(&format!("mixup={alpha}"));
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
            let draws: Vec<f64> = (0..20_000).map(|_| m.draw_lambda(&mut rng).unwrap()).collect();
            let mean = draws.iter().sum::<f64>() / 2e4;
            let var = draws.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 2e4;
            assert!((mean - 0.5).abs() < 0.01, "α {alpha}: mean {mean}");
            assert!((var - 1.0 / (4.0 * (2.0 * alpha + 1.0))).abs() < 0.006, "α {alpha}: var {var}");
        }
        assert_eq!(mixup("mixup=0").draw_lambda(&mut rand_chacha::ChaCha8Rng::seed_from_u64(0)).unwrap(), 1.0);
        assert!(Mixup::from_spec(&Spec::parse("mixup=1:k=2").unwrap()).is_err());
    }
}
