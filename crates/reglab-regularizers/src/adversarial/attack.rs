//! `fgsm-at=ε`, `fgsm-rs-at=ε`, `pgd-at=ε`: the attacks of adversarial training and of robust
//! evaluation, as projected sign (ℓ∞) or normalised (ℓ2) gradient ascent on the loss.
//!
//! ## Formula
//! For a mini-batch of `n` examples `x_i` (each `k` values, in the data range `[lo, hi]`; `[0, 1]`
//! for images) with labels `y_i`, loss `ℓ(x, y)` (the cross-entropy of the logits), radius `ε`
//! and step `α`, one run of the attack is
//! ```text
//! δ⁰_i ~ U([−rε, rε]^k)                        (ℓ∞; `init=r`, 0: δ⁰ = 0)
//! δ⁰_i = rε·u·s^(1/k), u uniform on the sphere, s ~ U[0, 1]        (ℓ2: uniform in the ball)
//! δ⁰_i ← clip(x_i + δ⁰_i, lo, hi) − x_i
//! K times:  g_i = ∇_δ ℓ(x_i + δ_i, y_i)
//!           δ_i ← δ_i + α·sign(g_i)            (ℓ∞)   or   δ_i ← δ_i + α·g_i/‖g_i‖₂  (ℓ2; g_i = 0: no move)
//!           δ_i ← Π_ε(δ_i)                    (‖δ_i‖∞ ≤ ε: clamp; ‖δ_i‖₂ ≤ ε: rescale; with `project=true`)
//!           δ_i ← clip(x_i + δ_i, lo, hi) − x_i
//! ```
//! and the adversarial example is `x_i + δ_i`. With `R` restarts the attack runs `R` times from
//! independent starts and keeps, per example, the `δ` of largest final loss. Randomness comes
//! from `(seed, step, restart)` only, so an attack is deterministic.
//!
//! | name | defaults | paper |
//! |---|---|---|
//! | `fgsm-at=ε` | `steps=1`, `step=1` (α = ε), `init=0` | Goodfellow, Shlens, Szegedy, Explaining and Harnessing Adversarial Examples, ICLR 2015 |
//! | `fgsm-rs-at=ε` | `steps=1`, `step=1.25`, `init=1` | Wong, Rice, Kolter, Fast is better than free: Revisiting adversarial training, ICLR 2020 |
//! | `pgd-at=ε` | `steps=10`, `step=2.5/K` (α = 2.5ε/K), `init=1` | Madry, Makelov, Schmidt, Tsipras, Vladu, Towards Deep Learning Models Resistant to Adversarial Attacks, ICLR 2018 |
//!
//! `step` is α in units of ε. N-FGSM (de Jorge et al., NeurIPS 2022) is
//! `fgsm-rs-at=ε:init=2,step=1,project=false`. Symbols: `ε > 0` (the strength, in data units:
//! 0.3 is 0.3 of the pixel range on MNIST), `K = steps ≥ 1`, `α > 0`, `r = init ≥ 0`,
//! `R = restarts ≥ 1`, `norm = linf | l2`.

use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use reglab_core::{Result, Spec};

/// The ball of the attack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Norm {
    /// `‖δ‖∞ ≤ ε`.
    Linf,
    /// `‖δ‖₂ ≤ ε`.
    L2,
}

/// An attack: ball, radius, step, iterations, restarts, start. See the module documentation.
#[derive(Debug, Clone, PartialEq)]
pub struct Attack {
    /// The ball.
    pub norm: Norm,
    /// `ε`.
    pub eps: f64,
    /// `α` (absolute, data units).
    pub alpha: f64,
    /// `K`.
    pub steps: usize,
    /// `R`.
    pub restarts: usize,
    /// `r`: the start is uniform in the ball of radius `rε` (0: no random start).
    pub init: f64,
    /// Project onto the ε-ball after every step.
    pub project: bool,
}

impl Attack {
    /// FGSM: one step of `α = ε` from `δ = 0`.
    pub fn fgsm(eps: f64) -> Self {
        Attack { norm: Norm::Linf, eps, alpha: eps, steps: 1, restarts: 1, init: 0.0, project: true }
    }

    /// PGD-`K` (ℓ∞) with step `α` and `R` restarts from uniform starts.
    pub fn pgd(eps: f64, steps: usize, alpha: f64, restarts: usize) -> Self {
        Attack { norm: Norm::Linf, eps, alpha, steps, restarts, init: 1.0, project: true }
    }

    /// From `fgsm-at=ε[:…]`, `fgsm-rs-at=ε[:…]` or `pgd-at=ε[:…]` (the name picks the defaults).
    pub fn from_spec(spec: &Spec) -> Result<Self> {
        let (steps0, init0) = match spec.name.as_str() {
            "fgsm-at" => (1, 0.0),
            "fgsm-rs-at" => (1, 1.0),
            _ => (10, 1.0),
        };
        let mut o = spec.options();
        let steps = o.usize("steps", steps0)?;
        let step0 = match spec.name.as_str() {
            "fgsm-at" => 1.0,
            "fgsm-rs-at" => 1.25,
            _ => 2.5 / steps.max(1) as f64,
        };
        let step = o.f64("step", step0)?;
        let init = o.f64("init", init0)?;
        let restarts = o.usize("restarts", 1)?;
        let norm = match o.choice("norm", &["linf", "l2"], "linf")?.as_str() {
            "l2" => Norm::L2,
            _ => Norm::Linf,
        };
        let project = o.choice("project", &["true", "false"], "true")? == "true";
        let eps = spec.strength;
        o.ensure(eps > 0.0 && eps.is_finite(), "the strength ε (the attack's radius) must be > 0")?;
        o.ensure(steps >= 1, "option `steps` must be ≥ 1")?;
        o.ensure(step > 0.0, "option `step` (α in units of ε) must be > 0")?;
        o.ensure(init >= 0.0, "option `init` (the random start's radius in units of ε) must be ≥ 0")?;
        o.ensure(restarts >= 1, "option `restarts` must be ≥ 1")?;
        o.finish()?;
        Ok(Attack { norm, eps, alpha: step * eps, steps, restarts, init, project })
    }

    /// The start `δ⁰` of restart `restart` for `n` examples of `k` values (before clipping to the
    /// data range), from `(seed, step, restart)`.
    pub fn start(&self, n: usize, k: usize, seed: u64, step: u64, restart: usize) -> Vec<f32> {
        let r = self.init * self.eps;
        if r == 0.0 {
            return vec![0.0; n * k];
        }
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(
            seed ^ 0xad7e_0000_0000_0000 ^ step.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (restart as u64).wrapping_mul(0xc2b2_ae3d_27d4_eb4f),
        );
        match self.norm {
            Norm::Linf => (0..n * k).map(|_| rng.random_range(-r..=r) as f32).collect(),
            Norm::L2 => {
                let mut out = Vec::with_capacity(n * k);
                for _ in 0..n {
                    let u: Vec<f64> = (0..k).map(|_| StandardNormal.sample(&mut rng)).collect();
                    let norm = u.iter().map(|v| v * v).sum::<f64>().sqrt().max(f64::MIN_POSITIVE);
                    let radius = r * rng.random::<f64>().powf(1.0 / k.max(1) as f64);
                    out.extend(u.iter().map(|v| (v / norm * radius) as f32));
                }
                out
            }
        }
    }

    /// One ascent step on `delta` (`n` rows) along the loss gradient `g`, then the projection
    /// onto the ε-ball (with `project`); clipping to the data range is [`clip_to_range`].
    pub fn ascend(&self, delta: &mut [f32], g: &[f32], n: usize) {
        let k = delta.len() / n.max(1);
        for (d, gr) in delta.chunks_mut(k.max(1)).zip(g.chunks(k.max(1))) {
            match self.norm {
                Norm::Linf => {
                    for (di, &gi) in d.iter_mut().zip(gr) {
                        let s = if gi > 0.0 {
                            1.0
                        } else if gi < 0.0 {
                            -1.0
                        } else {
                            0.0
                        };
                        *di = (*di as f64 + self.alpha * s) as f32;
                    }
                }
                Norm::L2 => {
                    let gn = gr.iter().map(|&v| v as f64 * v as f64).sum::<f64>().sqrt();
                    if gn > 0.0 && gn.is_finite() {
                        for (di, &gi) in d.iter_mut().zip(gr) {
                            *di = (*di as f64 + self.alpha * gi as f64 / gn) as f32;
                        }
                    }
                }
            }
            if self.project {
                project(d, self.norm, self.eps);
            }
        }
    }
}

/// Project one example's `δ` onto the ball of radius `eps`.
pub fn project(d: &mut [f32], norm: Norm, eps: f64) {
    match norm {
        Norm::Linf => {
            for v in d.iter_mut() {
                *v = (*v as f64).clamp(-eps, eps) as f32;
            }
        }
        Norm::L2 => {
            let n = d.iter().map(|&v| v as f64 * v as f64).sum::<f64>().sqrt();
            if n > eps {
                let s = eps / n;
                for v in d.iter_mut() {
                    *v = (*v as f64 * s) as f32;
                }
            }
        }
    }
}

/// `δ ← clip(x + δ, lo, hi) − x`, so that `x + δ` stays in the data range.
pub fn clip_to_range(delta: &mut [f32], x: &[f32], lo: f32, hi: f32) {
    for (d, &xi) in delta.iter_mut().zip(x) {
        *d = (xi + *d).clamp(lo, hi) - xi;
    }
}

/// Per-example cross-entropy of logits `z` (`[n, c]`) against `y`, and its gradient with respect
/// to `z` (`p − e_y` per row, not divided by `n`).
pub fn cross_entropy_rows(z: &[f32], y: &[usize], c: usize) -> (Vec<f64>, Vec<f64>) {
    let mut losses = Vec::with_capacity(y.len());
    let mut g = Vec::with_capacity(z.len());
    for (row, &yi) in z.chunks(c).zip(y) {
        let lp = reglab_core::output::log_softmax(row);
        losses.push(-lp[yi]);
        g.extend(lp.iter().enumerate().map(|(j, &l)| l.exp() - if j == yi { 1.0 } else { 0.0 }));
    }
    (losses, g)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Attack> {
        Attack::from_spec(&Spec::parse(s)?)
    }

    #[test]
    fn the_names_set_the_papers_defaults() {
        let f = parse("fgsm-at=0.3").unwrap();
        assert_eq!((f.steps, f.init, f.project), (1, 0.0, true));
        assert!((f.alpha - 0.3).abs() < 1e-15);
        let rs = parse("fgsm-rs-at=0.3").unwrap();
        assert!((rs.alpha - 0.375).abs() < 1e-12 && rs.init == 1.0);
        let p = parse("pgd-at=0.3").unwrap();
        assert_eq!(p.steps, 10);
        assert!((p.alpha - 0.075).abs() < 1e-12, "α = 2.5ε/K");
        let p = parse("pgd-at=0.3:steps=40,step=0.05,restarts=2,norm=l2").unwrap();
        assert_eq!((p.steps, p.restarts, p.norm), (40, 2, Norm::L2));
        assert!((p.alpha - 0.015).abs() < 1e-12);
        let n = parse("fgsm-rs-at=0.1:init=2,step=1,project=false").unwrap();
        assert_eq!((n.init, n.project), (2.0, false));
    }

    #[test]
    fn bad_specs_are_errors_naming_the_problem() {
        for (s, want) in [
            ("fgsm-at=0", "ε"),
            ("pgd-at=0.3:steps=0", "steps"),
            ("pgd-at=0.3:step=-1", "step"),
            ("fgsm-rs-at=0.3:init=-1", "init"),
            ("pgd-at=0.3:restarts=0", "restarts"),
            ("pgd-at=0.3:norm=l1", "norm"),
            ("fgsm-at=0.3:bogus=1", "bogus"),
        ] {
            let e = parse(s).unwrap_err().to_string();
            assert!(e.contains(want), "{s}: {e}");
        }
    }

    #[test]
    fn starts_are_in_the_ball_deterministic_and_differ_by_restart() {
        let a = parse("pgd-at=0.25").unwrap();
        let s = a.start(4, 50, 7, 3, 0);
        assert!(s.iter().all(|v| v.abs() <= 0.25));
        assert!(s.iter().any(|v| v.abs() > 0.2), "uniform on the whole cube");
        assert_eq!(s, a.start(4, 50, 7, 3, 0));
        assert_ne!(s, a.start(4, 50, 7, 3, 1));
        assert_ne!(s, a.start(4, 50, 7, 4, 0));
        let l2 = parse("pgd-at=0.5:norm=l2").unwrap();
        for row in l2.start(20, 30, 1, 0, 0).chunks(30) {
            let n = row.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt();
            assert!(n <= 0.5 + 1e-6, "{n}");
        }
        assert!(parse("fgsm-at=0.3").unwrap().start(2, 3, 1, 1, 0).iter().all(|&v| v == 0.0));
    }

    #[test]
    fn linf_step_is_alpha_sign_and_stays_in_the_ball() {
        let a = Attack { alpha: 0.2, ..Attack::fgsm(0.3) };
        let mut d = vec![0.0f32, 0.25, -0.25, 0.1];
        a.ascend(&mut d, &[1.0, 1.0, -2.0, 0.0], 1);
        // 0 + 0.2; 0.25 + 0.2 → 0.3 (projected); −0.25 − 0.2 → −0.3; zero gradient: no move
        let want = [0.2f32, 0.3, -0.3, 0.1];
        for (x, w) in d.iter().zip(want) {
            assert!((x - w).abs() < 1e-7, "{d:?}");
        }
        let free = Attack { project: false, ..a };
        let mut d = vec![0.25f32];
        free.ascend(&mut d, &[1.0], 1);
        assert!((d[0] - 0.45).abs() < 1e-7, "no projection without `project`");
    }

    #[test]
    fn l2_step_moves_alpha_along_the_normalised_gradient_and_projects() {
        let a = Attack { norm: Norm::L2, alpha: 0.5, ..Attack::fgsm(1.0) };
        let mut d = vec![0.0f32, 0.0, 0.0, 0.0];
        a.ascend(&mut d, &[3.0, 4.0, 0.0, 0.0], 2);
        assert!((d[0] - 0.3).abs() < 1e-7 && (d[1] - 0.4).abs() < 1e-7 && d[2] == 0.0 && d[3] == 0.0, "{d:?}");
        let mut d = vec![0.9f32, 0.0];
        a.ascend(&mut d, &[1.0, 0.0], 1);
        assert!((d[0] - 1.0).abs() < 1e-7, "rescaled onto the sphere: {d:?}");
    }

    #[test]
    fn clipping_keeps_the_adversarial_example_in_the_data_range() {
        let x = [0.0f32, 0.5, 1.0];
        let mut d = vec![-0.3f32, 0.3, 0.3];
        clip_to_range(&mut d, &x, 0.0, 1.0);
        assert_eq!(d, vec![0.0, 0.3, 0.0]);
    }

    #[test]
    fn cross_entropy_rows_against_a_direct_computation_and_finite_differences() {
        let z = [0.5f32, -1.0, 2.0, 0.0, 0.3, -0.2];
        let y = [2usize, 0];
        let (l, g) = cross_entropy_rows(&z, &y, 3);
        for (i, row) in z.chunks(3).enumerate() {
            let s: f64 = row.iter().map(|&v| (v as f64).exp()).sum();
            assert!((l[i] - (s.ln() - row[y[i]] as f64)).abs() < 1e-12);
        }
        let h = 1e-3f32;
        for j in 0..6 {
            let (mut zp, mut zm) = (z, z);
            zp[j] += h;
            zm[j] -= h;
            let f = |z: &[f32]| cross_entropy_rows(z, &y, 3).0.iter().sum::<f64>();
            let fd = (f(&zp) - f(&zm)) / (2.0 * h as f64);
            assert!((fd - g[j]).abs() < 1e-4, "{j}: {fd} vs {}", g[j]);
        }
    }
}
