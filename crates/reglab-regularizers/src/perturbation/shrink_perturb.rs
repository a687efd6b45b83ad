//! `shrink-perturb=λ:sigma=σ`: shrink and perturb after every optimizer step.
//!
//! ## Update
//! After each optimizer step, every selected tensor is replaced by
//! `W ← (1 − λ)·W + σ·ε`, with `ε` i.i.d. standard normal, one draw per entry and per step.
//! `λ ∈ [0, 1]` is the shrink factor (the strength, so schedules apply to it), `σ ≥ 0` the noise
//! scale (option `sigma`, also spelled `σ`; default 0). It is not a penalty: its value is 0 and
//! it adds no gradient. By default it acts on weights *and* biases (as in the
//! loss-of-plasticity experiments, which perturb every parameter); `select=` overrides that.
//!
//! With `λ = ηλ'` this is the loss-of-plasticity form (the shrink of SGD's weight decay λ' at
//! learning rate η, plus noise after each step; Dohare et al. use `σ ∈ {1e-4, 1e-5, 1e-6}` on
//! permuted MNIST). The original warm-starting form of Ash & Adams (once per data round,
//! `θ ← λθ + p·θ_fresh_init`) is a different schedule of the same idea and is not this file.
//!
//! Symbols: `W` any selected tensor (layout irrelevant: elementwise), `λ` shrink, `σ` noise
//! scale, `ε ∼ N(0, I)`.
//!
//! ## Determinism
//! `ε` for step `t` of tensor `name` comes from a ChaCha8 generator seeded by a hash of
//! `(run seed, t, name)`: no state to save, and a resumed run draws the same numbers.
//!
//! ## Paper
//! Ash & Adams, "On Warm-Starting Neural Network Training", NeurIPS 2020 (shrink and
//! perturb); the per-step form: Dohare, Hernandez-Garcia, Lan, Rahman, Mahmood, Sutton, "Loss of
//! plasticity in deep continual learning", Nature 2024.

use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use reglab_core::{Error, Mode, PostStep, Regularizer, Result, Selection, Spec, Target, TargetGrad, TargetMut};

/// Shrink and perturb. See the module documentation.
#[derive(Debug, Clone)]
pub struct ShrinkPerturb {
    sigma: f64,
    raw: String,
}

impl ShrinkPerturb {
    /// Build from a spec: `shrink-perturb=λ[:sigma=σ]`, `λ ≤ 1`, `σ ≥ 0`.
    pub fn from_spec(spec: &Spec) -> Result<Self> {
        let mut o = spec.options();
        let greek = o.f64_opt("σ")?;
        let latin = o.f64_opt("sigma")?;
        o.ensure(greek.is_none() || latin.is_none(), "give `sigma` or `σ`, not both")?;
        let sigma = greek.or(latin).unwrap_or(0.0);
        o.ensure(sigma >= 0.0, format!("sigma must be ≥ 0, got {sigma}"))?;
        o.ensure(spec.strength <= 1.0, format!("the shrink λ must be in [0, 1], got {}", spec.strength))?;
        o.finish()?;
        Ok(Self { sigma, raw: spec.raw().to_string() })
    }
}

/// The generator for `(seed, step, name)`.
fn rng_for(seed: u64, step: u64, name: &str) -> rand_chacha::ChaCha8Rng {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    for b in step.to_le_bytes().iter().chain(name.as_bytes()) {
        h ^= *b as u64;
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    rand_chacha::ChaCha8Rng::seed_from_u64(h)
}

impl Regularizer for ShrinkPerturb {
    fn name(&self) -> &'static str {
        "shrink-perturb"
    }

    fn eval(&mut self, _t: &Target<'_>, _grad: Option<&mut TargetGrad<'_>>, _scale: f32, _mode: Mode) -> Result<f64> {
        Ok(0.0)
    }

    fn has_post_step(&self) -> bool {
        true
    }

    fn default_selection(&self) -> Option<Selection> {
        Some(Selection::All)
    }

    fn post_step(&mut self, t: &mut TargetMut<'_>, ctx: &PostStep) -> Result<()> {
        if !(0.0..=1.0).contains(&ctx.strength) {
            return Err(Error::Spec { spec: self.raw.clone(), why: format!("shrink λ_t = {} outside [0, 1]", ctx.strength) });
        }
        let keep = (1.0 - ctx.strength) as f32;
        if self.sigma == 0.0 {
            t.weight.iter_mut().for_each(|w| *w *= keep);
            return Ok(());
        }
        let sigma = self.sigma as f32;
        let mut rng = rng_for(ctx.seed, ctx.step, t.name);
        for w in t.weight.iter_mut() {
            let e: f32 = StandardNormal.sample(&mut rng);
            *w = keep * *w + sigma * e;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reglab_core::{Layout, Role};

    fn apply(spec: &str, w: &mut [f32], step: u64, seed: u64) {
        let spec = Spec::parse(spec).unwrap();
        let mut r = ShrinkPerturb::from_spec(&spec).unwrap();
        let shape = [w.len()];
        let mut t = TargetMut { name: "fc.weight", role: Role::LayerWeight, shape: &shape, layout: Layout::RowMajor, weight: w };
        r.post_step(&mut t, &PostStep { strength: spec.strength, lr: 0.1, step, seed }).unwrap();
    }

    #[test]
    fn shrink_without_noise_is_exact() {
        let mut w = vec![1.0f32, -2.0, 0.5, 0.0];
        apply("shrink-perturb=0.25", &mut w, 0, 0);
        assert_eq!(w, vec![0.75, -1.5, 0.375, 0.0]);
    }

    #[test]
    fn noise_has_the_asked_scale_and_is_reproducible() {
        let n = 200_000;
        let mut a = vec![0.0f32; n];
        apply("shrink-perturb=0:sigma=0.01", &mut a, 7, 3);
        let mean = a.iter().map(|&x| x as f64).sum::<f64>() / n as f64;
        let var = a.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 1e-4, "{mean}");
        assert!((var.sqrt() - 0.01).abs() < 2e-4, "{}", var.sqrt());
        let mut b = vec![0.0f32; n];
        apply("shrink-perturb=0:σ=0.01", &mut b, 7, 3);
        assert_eq!(a, b, "same (seed, step, name): same noise");
        let mut c = vec![0.0f32; n];
        apply("shrink-perturb=0:sigma=0.01", &mut c, 8, 3);
        assert_ne!(a, c, "another step: other noise");
        let mut d = vec![0.0f32; n];
        apply("shrink-perturb=0:sigma=0.01", &mut d, 7, 4);
        assert_ne!(a, d, "another seed: other noise");
    }

    #[test]
    fn not_a_penalty_and_acts_on_biases_by_default() {
        let spec = Spec::parse("shrink-perturb=0.1:sigma=1e-3").unwrap();
        let mut r = ShrinkPerturb::from_spec(&spec).unwrap();
        let c = reglab_core::testing::Case::random("fc.weight", &[3, 4], 0);
        assert_eq!(c.value(&mut r), 0.0);
        let (_, g, _) = c.value_and_grad(&mut r);
        assert!(g.iter().all(|&x| x == 0.0));
        assert!(r.default_selection().unwrap().matches("fc.bias", Role::Bias));
    }

    #[test]
    fn bad_specs() {
        for bad in ["shrink-perturb=1.5", "shrink-perturb=0.1:sigma=-1", "shrink-perturb=0.1:sigma=1:σ=1", "shrink-perturb=0.1:k=2"] {
            assert!(ShrinkPerturb::from_spec(&Spec::parse(bad).unwrap()).is_err(), "{bad}");
        }
    }
}
