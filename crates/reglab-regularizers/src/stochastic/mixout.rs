//! `mixout=p[:grad=exact|official]`: mix each linear layer's weights with the anchor weights.
//!
//! ## What it does
//! For a linear weight `W` (`[out, in]`) and its anchor `U` (the initial weights, or a given
//! pretrained checkpoint: `reglab train --anchor`), every training forward pass uses
//!
//! `W̃ = ((1 − M)⊙U + M⊙W − p·U)/(1 − p)`,  `M ~ Bernoulli(1 − p)`,
//!
//! with one mask value per input column, shared by all rows (the official `MixLinear` draws one
//! row of noise and repeats it). So `p` is the probability that a column is replaced by the
//! anchor's; `E[W̃] = W`; a column kept is `(W − pU)/(1 − p)`, a column mixed out is `U`. With
//! `U = 0` it is dropout on the layer's inputs. Biases are not mixed; evaluation uses `W`. The
//! gradient reaching `W` is `∂L/∂W̃ ⊙ M/(1 − p)` (`grad=exact`, the derivative) or `∂L/∂W̃ ⊙ M`
//! (`grad=official`: the official backward drops the `1/(1 − p)`). Masks come from `(seed, step,
//! layer)`. Only linear layers (the MLP's, the CNN's head) are mixed.
//!
//! Symbols: `p ∈ [0, 1)` the mix probability (the strength), `M` the column mask.
//!
//! ## Paper
//! Lee, Cho, Kang, "Mixout: Effective Regularization to Finetune Large-scale Pretrained Language
//! Models", ICLR 2020 (code: bloodwass/mixout).

use rand::{Rng, SeedableRng};
use reglab_core::{Error, Result, Spec};

/// Mixout. See the module documentation.
#[derive(Debug, Clone, PartialEq)]
pub struct Mixout {
    /// Mix probability.
    pub p: f64,
    /// The exact gradient (`M/(1 − p)`) or the official one (`M`).
    pub exact: bool,
}

impl Mixout {
    /// Build from a spec (`mixout=p[:grad=exact|official]`, `0 ≤ p < 1`).
    pub fn from_spec(spec: &Spec) -> Result<Self> {
        let mut o = spec.options();
        let exact = o.choice("grad", &["exact", "official"], "exact")? == "exact";
        o.finish()?;
        if spec.strength >= 1.0 {
            return Err(Error::Spec { spec: spec.raw().into(), why: format!("p = {} must be < 1", spec.strength) });
        }
        Ok(Self { p: spec.strength, exact })
    }

    /// The 0/1 mask over the `inputs` columns of layer `layer` at step `step`.
    pub fn mask(&self, inputs: usize, seed: u64, step: u64, layer: usize) -> Vec<f32> {
        let h = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ step.wrapping_mul(0x2545_F491_4F6C_DD1D)
            ^ (layer as u64 + 1).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(h);
        (0..inputs).map(|_| if rng.random::<f64>() < 1.0 - self.p { 1.0 } else { 0.0 }).collect()
    }

    /// `W̃` of `w` with anchor `u` (same layout); `input(k)` is the input column of entry `k`.
    pub fn mix(&self, w: &[f32], u: &[f32], mask: &[f32], input: impl Fn(usize) -> usize) -> Vec<f32> {
        let (p, q) = (self.p as f32, (1.0 - self.p) as f32);
        w.iter()
            .zip(u)
            .enumerate()
            .map(|(k, (&wk, &uk))| {
                let m = mask[input(k)];
                ((1.0 - m) * uk + m * wk - p * uk) / q
            })
            .collect()
    }

    /// The factor of the gradient reaching `W` from `W̃`, per input column.
    pub fn grad_factor(&self, mask: &[f32]) -> Vec<f32> {
        let s = if self.exact { (1.0 / (1.0 - self.p)) as f32 } else { 1.0 };
        mask.iter().map(|m| m * s).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::excessive_precision)]
    fn matches_the_official_mixout_with_a_fixed_mask() {
        // Fixture: the official `mixout` (bloodwass/mixout, mixout/mixout.py, 6c6a5574) run in
        // torch 2.15 with `bernoulli_` patched to give the column mask [1, 0, 1, 1, 0]; W, U
        // [3, 5], p = 0.4; `grad` is ∂Σ(W̃ ⊙ R)/∂W through its backward.
        let w = [
            -1.2000000476837158f32,
            -0.699999988079071,
            -0.20000000298023224,
            0.30000001192092896,
            0.800000011920929,
            1.2999999523162842,
            1.7999999523162842,
            -1.2000000476837158,
            -0.699999988079071,
            -0.20000000298023224,
            0.30000001192092896,
            0.800000011920929,
            1.2999999523162842,
            1.7999999523162842,
            -1.2000000476837158,
        ];
        let u = [
            -0.4000000059604645f32,
            -0.10000000149011612,
            0.20000000298023224,
            0.5,
            0.800000011920929,
            -0.4000000059604645,
            -0.10000000149011612,
            0.20000000298023224,
            0.5,
            0.800000011920929,
            -0.4000000059604645,
            -0.10000000149011612,
            0.20000000298023224,
            0.5,
            0.800000011920929,
        ];
        let want = [
            -1.7333333492279053f32,
            -0.09999999403953552,
            -0.46666663885116577,
            0.1666666716337204,
            0.7999999523162842,
            2.433333158493042,
            -0.09999999403953552,
            -2.133333444595337,
            -1.4999998807907104,
            0.7999999523162842,
            0.7666667103767395,
            -0.09999999403953552,
            2.0333330631256104,
            2.6666665077209473,
            0.7999999523162842,
        ];
        let r = [-0.2f32, -0.1, 0.0, 0.1, 0.2, -0.4, -0.2, 0.0, 0.2, 0.4, -0.6, -0.3, 0.0, 0.3, 0.6];
        let want_grad = [-0.2f32, -0.0, 0.0, 0.1, 0.0, -0.4, -0.0, 0.0, 0.2, 0.0, -0.6, -0.0, 0.0, 0.3, 0.0];
        let mask = [1.0f32, 0.0, 1.0, 1.0, 0.0];
        let official = Mixout::from_spec(&Spec::parse("mixout=0.4:grad=official").unwrap()).unwrap();
        let mixed = official.mix(&w, &u, &mask, |k| k % 5);
        for (a, b) in mixed.iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
        let f = official.grad_factor(&mask);
        for (k, (ri, gi)) in r.iter().zip(want_grad).enumerate() {
            assert!((ri * f[k % 5] - gi).abs() < 1e-7);
        }
        // the exact gradient is 1/(1 − p) times the official one on kept columns
        let exact = Mixout::from_spec(&Spec::parse("mixout=0.4").unwrap()).unwrap();
        assert_eq!(exact.grad_factor(&mask)[0], 1.0 / 0.6);
    }

    #[test]
    fn invariants_mixed_columns_are_the_anchor_and_the_mean_is_w() {
        let m = Mixout::from_spec(&Spec::parse("mixout=0.3").unwrap()).unwrap();
        let (w, u) = ([2.0f32, -1.0], [0.5f32, 0.25]);
        let mixed_out = m.mix(&w, &u, &[0.0, 0.0], |k| k);
        assert!((mixed_out[0] - 0.5).abs() < 1e-6 && (mixed_out[1] - 0.25).abs() < 1e-6);
        // E[W̃] = (1 − p)·kept + p·U = W
        let kept = m.mix(&w, &u, &[1.0, 1.0], |k| k);
        for k in 0..2 {
            assert!((0.7 * kept[k] + 0.3 * mixed_out[k] - w[k]).abs() < 1e-6);
        }
        let mask = m.mask(100_000, 3, 4, 0);
        let kept_frac = mask.iter().sum::<f32>() / 1e5;
        assert!((kept_frac - 0.7).abs() < 0.005);
        assert_eq!(mask, m.mask(100_000, 3, 4, 0));
        assert!(Mixout::from_spec(&Spec::parse("mixout=1").unwrap()).is_err());
        assert!(Mixout::from_spec(&Spec::parse("mixout=0.5:grad=x").unwrap()).is_err());
    }
}
