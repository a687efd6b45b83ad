//! `smart=λ_s[:eps=ε][:sigma=σ][:eta=η][:steps=K][:mu=μ][:beta=β][:beta_late=β'][:warm=w]`:
//! smoothness-inducing adversarial regularization with a momentum Bregman proximal point term.
//!
//! ## Formula
//! Each step minimises, on the mini-batch `{x_i}` of `n` examples,
//! ```text
//! F(θ) = L(θ) + λ_s·R_s(θ) + μ·D(θ, θ̃)
//! R_s(θ) = (1/n) Σ_i ℓ_s(f(x̃_i; θ), f(x_i; θ))            x̃_i = x_i + δ_i, ‖δ_i‖_∞ ≤ ε
//! D(θ, θ̃) = (1/n) Σ_i ℓ_s(f(x_i; θ), f(x_i; θ̃))
//! ℓ_s(z, z') = KL(p‖p') + KL(p'‖p),  p = softmax(z), p' = softmax(z')   (symmetric KL)
//! θ̃ ← (1 − β)·θ + β·θ̃  after every optimizer step (θ̃ starts at θ₀; β for the first w·T steps, β' after)
//! ```
//! with `f(x; θ)` the logits `[n, C]` and `δ` found by `K` steps of projected normalised ascent on
//! `R_s` (paper's Algorithm 1): `δ ← N(0, σ²)`, then `K` times
//! `δ_i ← Π_{‖·‖∞ ≤ ε}(δ_i + η·g_i/‖g_i‖_∞)`, `g = ∂R_s/∂δ` (each example normalised by its own
//! largest entry; a row with `g_i = 0` is only projected). For BERT `x` is the embedding output (after
//! the embeddings' LayerNorm), `[n, S, H]`; for other models the input. The step's gradient is the
//! exact gradient of `F` at the final `δ` (held constant): through the clean and the perturbed
//! forward passes for `R_s`, through the clean pass for `D` (θ̃ is constant).
//!
//! Gradients used (rows of `n × C` logits, `q` constant, `KL = KL(p‖q)`):
//! `∂KL(p‖q)/∂z_j = p_j (log p_j − log q_j − KL)` and `∂KL(q‖p)/∂z_j = p_j − q_j`.
//!
//! Symbols: `λ_s ≥ 0` (the strength), `ε > 0`, `σ ≥ 0`, `η > 0`, `K ≥ 1`, `μ ≥ 0` (0: no
//! Bregman term, no teacher), `β, β' ∈ [0, 1)`, `w ∈ [0, 1]`.
//!
//! ## Paper and official code
//! Jiang, He, Chen, Liu, Gao, Zhao, "SMART: Robust and Efficient Fine-Tuning for Pre-trained
//! Natural Language Models through Principled Regularized Optimization", ACL 2020
//! (arXiv 1911.03437; catalog #99). Defaults: the paper's GLUE settings as reported (ε = 1e-5,
//! σ = 1e-5, η = 1e-3, K = 1, μ = 1, β = 0.99 for the first 10% of the updates and 0.999 after,
//! λ_s ∈ {1, 3, 5}); the paper text itself could not be read here, so these are checked against
//! secondary summaries only. The official code (namisan/mt-dnn, `mt_dnn/perturbation.py`,
//! `mt_dnn/loss.py`) differs: it has no Bregman term; its perturbation is renormalised to
//! per-token ∞-norm ≈ 1 instead of projected onto an ε-ball; its symmetric KL sends the
//! gradient of each direction into one branch only (`KL(p̃‖p)` into the clean pass, `KL(p‖p̃)`
//! into the perturbed one); its ascent loss is a "stable" KL on log-odds. reglab follows the
//! paper's objective and takes its exact gradient.

use rand::SeedableRng;
use rand_distr::{Distribution, Normal};
use reglab_core::{Result, Spec};

/// SMART's settings. See the module documentation.
#[derive(Debug, Clone, PartialEq)]
pub struct Smart {
    /// `λ_s`.
    pub lambda: f64,
    /// `ε`, the ∞-ball radius.
    pub eps: f64,
    /// `σ`, the initial noise's standard deviation.
    pub sigma: f64,
    /// `η`, the ascent step.
    pub eta: f64,
    /// `K`, ascent steps.
    pub steps: usize,
    /// `μ`, the Bregman term's weight.
    pub mu: f64,
    /// `β` (early), `β'` (late) and the early fraction `w` of the steps.
    pub beta: f64,
    /// `β'`.
    pub beta_late: f64,
    /// `w`.
    pub warm: f64,
}

impl Smart {
    /// From `smart=λ_s[:…]`.
    pub fn from_spec(spec: &Spec) -> Result<Self> {
        let mut o = spec.options();
        let s = Smart {
            lambda: spec.strength,
            eps: o.f64("eps", 1e-5)?,
            sigma: o.f64("sigma", 1e-5)?,
            eta: o.f64("eta", 1e-3)?,
            steps: o.usize("steps", 1)?,
            mu: o.f64("mu", 1.0)?,
            beta: o.f64("beta", 0.99)?,
            beta_late: o.f64("beta_late", 0.999)?,
            warm: o.f64("warm", 0.1)?,
        };
        o.ensure(s.lambda >= 0.0 && s.lambda.is_finite(), "the strength λ_s must be ≥ 0")?;
        o.ensure(s.eps > 0.0 && s.eps.is_finite(), "option `eps` must be > 0")?;
        o.ensure(s.sigma >= 0.0 && s.sigma.is_finite(), "option `sigma` must be ≥ 0")?;
        o.ensure(s.eta > 0.0 && s.eta.is_finite(), "option `eta` must be > 0")?;
        o.ensure(s.steps >= 1, "option `steps` must be ≥ 1")?;
        o.ensure(s.mu >= 0.0 && s.mu.is_finite(), "option `mu` must be ≥ 0")?;
        o.ensure((0.0..1.0).contains(&s.beta) && (0.0..1.0).contains(&s.beta_late), "options `beta`, `beta_late` must be in [0, 1)")?;
        o.ensure((0.0..=1.0).contains(&s.warm), "option `warm` must be in [0, 1]")?;
        o.finish()?;
        Ok(s)
    }

    /// The teacher's momentum after optimizer step `step` of `total`.
    pub fn beta_at(&self, step: u64, total: u64) -> f64 {
        if (step as f64) < self.warm * total as f64 { self.beta } else { self.beta_late }
    }
}

/// The initial perturbation of optimizer step `step`: `len` draws of `N(0, σ²)` from
/// `(seed, step)`.
pub fn initial_noise(len: usize, sigma: f64, seed: u64, step: u64) -> Vec<f32> {
    if sigma == 0.0 {
        return vec![0.0; len];
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x5a37_0000_0000_0000 ^ step.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let normal = Normal::new(0.0, sigma).expect("σ ≥ 0 is checked");
    (0..len).map(|_| normal.sample(&mut rng) as f32).collect()
}

/// Row-wise log-softmax of logits `[n, c]` in f64.
fn log_softmax(z: &[f32], c: usize) -> Vec<f64> {
    z.chunks(c).flat_map(reglab_core::output::log_softmax).collect()
}

/// `(1/n) Σ_i KL(p_i‖q_i)` of logits `zp`, `zq` (`[n, c]`), and its gradients with respect to
/// `zp` and to `zq` (each with the other held constant).
pub fn kl(zp: &[f32], zq: &[f32], c: usize) -> (f64, Vec<f64>, Vec<f64>) {
    let n = zp.len() / c.max(1);
    let (lp, lq) = (log_softmax(zp, c), log_softmax(zq, c));
    let inv = 1.0 / n.max(1) as f64;
    let (mut total, mut gp, mut gq) = (0.0, vec![0.0; zp.len()], vec![0.0; zq.len()]);
    for i in 0..n {
        let r = i * c..(i + 1) * c;
        let k: f64 = r.clone().map(|j| lp[j].exp() * (lp[j] - lq[j])).sum();
        total += k;
        for j in r {
            let (p, q) = (lp[j].exp(), lq[j].exp());
            gp[j] = inv * p * (lp[j] - lq[j] - k);
            gq[j] = inv * (q - p);
        }
    }
    (total * inv, gp, gq)
}

/// The symmetric `(1/n) Σ_i [KL(p_i‖q_i) + KL(q_i‖p_i)]` and its gradients with respect to `za`
/// and `zb` (`p = softmax(za)`, `q = softmax(zb)`).
pub fn sym_kl(za: &[f32], zb: &[f32], c: usize) -> (f64, Vec<f64>, Vec<f64>) {
    let (v1, ga1, gb1) = kl(za, zb, c);
    let (v2, gb2, ga2) = kl(zb, za, c);
    (v1 + v2, ga1.iter().zip(&ga2).map(|(a, b)| a + b).collect(), gb1.iter().zip(&gb2).map(|(a, b)| a + b).collect())
}

/// One projected normalised ascent step on `delta` (`n` rows): `δ_i ← clip(δ_i + η·g_i/‖g_i‖_∞,
/// −ε, ε)`; a row whose gradient is 0 (or not finite) is only projected.
pub fn ascent(delta: &mut [f32], g: &[f32], n: usize, eta: f64, eps: f64) {
    let k = delta.len() / n.max(1);
    for (d, gr) in delta.chunks_mut(k).zip(g.chunks(k)) {
        let m = gr.iter().fold(0.0f32, |a, &b| a.max(b.abs())) as f64;
        let step = if m.is_finite() && m > 0.0 { eta / m } else { 0.0 };
        for (di, &gi) in d.iter_mut().zip(gr) {
            *di = ((*di as f64) + step * gi as f64).clamp(-eps, eps) as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(s: &str) -> Result<Smart> {
        Smart::from_spec(&Spec::parse(s)?)
    }

    #[test]
    fn kl_against_a_direct_computation_and_finite_differences() {
        let (za, zb) = ([0.5f32, -1.0, 2.0, 0.0, 0.3, -0.2], [1.0f32, 0.0, -0.5, 0.2, 0.2, 0.9]);
        // direct: softmax by hand, Σ p log(p/q), mean over the 2 rows
        let sm = |z: &[f32]| -> Vec<f64> {
            let e: Vec<f64> = z.iter().map(|&v| (v as f64).exp()).collect();
            let s: f64 = e.iter().sum();
            e.iter().map(|v| v / s).collect()
        };
        let mut want = 0.0;
        for r in 0..2 {
            let (p, q) = (sm(&za[r * 3..r * 3 + 3]), sm(&zb[r * 3..r * 3 + 3]));
            want += p.iter().zip(&q).map(|(a, b)| a * (a / b).ln()).sum::<f64>() / 2.0;
        }
        let (v, ga, gb) = kl(&za, &zb, 3);
        assert!((v - want).abs() < 1e-12, "{v} vs {want}");
        let h = 1e-3f32;
        for j in 0..6 {
            for (which, g) in [(0, &ga), (1, &gb)] {
                let (mut ap, mut am, mut bp, mut bm) = (za, za, zb, zb);
                if which == 0 {
                    ap[j] += h;
                    am[j] -= h;
                } else {
                    bp[j] += h;
                    bm[j] -= h;
                }
                let fd = (kl(&ap, &bp, 3).0 - kl(&am, &bm, 3).0) / (2.0 * h as f64);
                assert!((fd - g[j]).abs() < 1e-5, "{which} {j}: {fd} vs {}", g[j]);
            }
        }
        // symmetric KL: symmetric, 0 on equal logits (and shift-invariant), its gradients by finite differences
        let (s1, sa, _) = sym_kl(&za, &zb, 3);
        let (s2, _, sb2) = sym_kl(&zb, &za, 3);
        assert!((s1 - s2).abs() < 1e-12);
        for j in 0..6 {
            assert!((sa[j] - sb2[j]).abs() < 1e-12);
        }
        let shifted: Vec<f32> = za.iter().map(|v| v + 3.0).collect();
        let (z0, g0, _) = sym_kl(&za, &shifted, 3);
        assert!(z0.abs() < 1e-10 && g0.iter().all(|g| g.abs() < 1e-6), "f32 rounding of the shift only");
        for j in 0..6 {
            let (mut p, mut m) = (za, za);
            p[j] += h;
            m[j] -= h;
            let fd = (sym_kl(&p, &zb, 3).0 - sym_kl(&m, &zb, 3).0) / (2.0 * h as f64);
            assert!((fd - sa[j]).abs() < 1e-5);
        }
    }

    #[test]
    fn ascent_normalises_each_row_by_its_largest_entry_and_projects() {
        let mut d = vec![0.0f32, 0.5e-5, 0.0, 0.0, 1.0, -1.0];
        let g = [2.0f32, -1.0, 0.5, 0.0, 0.0, 0.0];
        ascent(&mut d, &g, 2, 1e-5, 1e-5);
        // row 0: + η·(1, −0.5, 0.25), clipped to ±1e-5; row 1: zero gradient, only projected
        let want = [1e-5f32, 0.0, 0.25e-5];
        for (a, b) in d[..3].iter().zip(want) {
            assert!((a - b).abs() < 1e-11, "{a} vs {b}");
        }
        assert_eq!(&d[3..], &[0.0, 1e-5, -1e-5]);
        // a large step lands on the ε-ball's faces: sign(g)·ε
        let mut d = vec![0.0f32; 3];
        ascent(&mut d, &[3.0, -2.0, 1.0], 1, 1.0, 1e-5);
        assert_eq!(d, vec![1e-5, -1e-5, 1e-5]);
    }

    #[test]
    fn initial_noise_has_the_asked_spread_and_repeats() {
        let a = initial_noise(20_000, 1e-3, 7, 3);
        assert_eq!(a, initial_noise(20_000, 1e-3, 7, 3));
        assert_ne!(a, initial_noise(20_000, 1e-3, 7, 4));
        let sd = (a.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / a.len() as f64).sqrt();
        assert!((sd / 1e-3 - 1.0).abs() < 0.03, "{sd}");
        assert!(initial_noise(5, 0.0, 1, 1).iter().all(|&v| v == 0.0));
    }

    #[test]
    fn options_defaults_schedule_and_errors() {
        let s = spec("smart=1").unwrap();
        assert_eq!((s.eps, s.sigma, s.eta, s.steps, s.mu, s.beta, s.beta_late, s.warm), (1e-5, 1e-5, 1e-3, 1, 1.0, 0.99, 0.999, 0.1));
        assert_eq!(s.beta_at(9, 100), 0.99);
        assert_eq!(s.beta_at(10, 100), 0.999);
        for (bad, want) in [
            ("smart=1:eps=0", "eps"),
            ("smart=1:eta=-1", "eta"),
            ("smart=1:steps=0", "steps"),
            ("smart=1:mu=-1", "mu"),
            ("smart=1:beta=1", "beta"),
            ("smart=1:warm=2", "warm"),
            ("smart=1:x=1", "unknown"),
        ] {
            let e = spec(bad).unwrap_err().to_string();
            assert!(e.contains(want), "{bad}: {e}");
        }
    }
}
