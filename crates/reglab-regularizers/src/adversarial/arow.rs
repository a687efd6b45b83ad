//! `arow=λ:eps=ε[:steps=K][:step=a][:ls=s]` and `trades=λ:eps=ε[:steps=K][:step=a]`: the
//! TRADES robustness term, and ARoW's anti-robust weighting of it with label smoothing.
//!
//! ## Formula
//! For a mini-batch of `n` examples with clean logits `z_i = f(x_i)` and adversarial logits
//! `ẑ_i = f(x̂_i)`, `p_i = softmax(z_i)`, `q_i = softmax(ẑ_i)`, `C` classes:
//! ```text
//! x̂_i = argmax_{‖x̂ − x_i‖∞ ≤ ε} KL(p_i ‖ softmax(f(x̂)))      (PGD-K, step α = aε, uniform start, p_i constant)
//! TRADES: loss = CE(z, y) + λ·(1/n) Σ_i KL(p_i ‖ q_i)
//! ARoW:   loss = CE_s(z, y) + λ·(1/n) Σ_i KL(p_i ‖ q_i)·(1 − q_i,y_i)
//! CE_s(z, y) = (1/n) Σ_i [(1 − s)·(−log p_i,y_i) + s·(1/C) Σ_k (−log p_i,k)]       (label smoothing)
//! ```
//! The weight `1 − q_y` (small for examples that stay robust) puts more of the regularization on
//! less robust examples; its gradient is not stopped. reglab adds to the run's cross-entropy
//! `CE(z, y)` the term `R = s·(1/n) Σ_i [(1/C) Σ_k (−log p_i,k) + log p_i,y_i] + λ·(1/n) Σ_i w_i KL_i`
//! (`w_i = 1 − q_i,y_i` for ARoW, 1 for TRADES, `s = 0` for TRADES), so that `CE + R` is the loss
//! above. Gradients (per row, `KL_i = KL(p_i‖q_i)`):
//! `∂R/∂z_j = [s·(e_y − 1/C)_j + λ·w_i·p_j(log p_j − log q_j − KL_i)]/n`,
//! `∂R/∂ẑ_j = λ·[w_i·(q_j − p_j) − KL_i·q_y(e_y − q)_j·[ARoW]]/n`.
//!
//! Symbols: `λ ≥ 0` (the strength; the official default 6), `ε > 0`, `K ≥ 1` (default 10),
//! `a > 0` (α/ε, default 0.25), `s ∈ [0, 1)` (default 0.2 for ARoW, 0 for TRADES).
//!
//! ## Papers and official code
//! ARoW: Yang, Kong, Kim, "Improving Adversarial Robustness by Putting More
//! Regularizations on Less Robust Samples", ICML 2023 (catalog #46). Checked against the official
//! code (dyoony/ARoW: `loss.py` `ARoW_loss`, `attacks/pgd.py` `PGD_Linf`, `main.py`): the
//! KL-maximising PGD with uniform start clipped to `[0, 1]` and step ε/4, 10 steps; label
//! smoothing 0.2; `λ·mean(KL·(1 − q_y))` with `λ` (`--lamb`) 6. The code adds 1e-12 inside the
//! log of `q`; reglab uses the exact log-softmax. TRADES: Zhang, Yu, Jiao, Xing, El Ghaoui,
//! Jordan, "Theoretically Principled Trade-off between Robustness and Accuracy", ICML 2019.

use reglab_core::output::log_softmax;
use reglab_core::{Result, Spec};

/// ARoW / TRADES settings. See the module documentation.
#[derive(Debug, Clone, PartialEq)]
pub struct RobustKl {
    /// `λ`.
    pub lambda: f64,
    /// `ε`.
    pub eps: f64,
    /// `K`.
    pub steps: usize,
    /// `α = aε` (absolute).
    pub alpha: f64,
    /// `s`.
    pub smoothing: f64,
    /// ARoW's weight `1 − q_y` (false: TRADES).
    pub weighted: bool,
}

impl RobustKl {
    /// From `arow=λ:eps=ε[:…]` or `trades=λ:eps=ε[:…]`.
    pub fn from_spec(spec: &Spec) -> Result<Self> {
        let arow = spec.name == "arow";
        let mut o = spec.options();
        let eps = o.f64_opt("eps")?;
        let steps = o.usize("steps", 10)?;
        let a = o.f64("step", 0.25)?;
        let smoothing = if arow { o.f64("ls", 0.2)? } else { 0.0 };
        o.ensure(spec.strength >= 0.0 && spec.strength.is_finite(), "the strength λ must be ≥ 0")?;
        o.ensure(eps.is_some(), "option `eps` (the attack's radius, in data units) is required")?;
        let eps = eps.unwrap_or(1.0);
        o.ensure(eps > 0.0, "option `eps` must be > 0")?;
        o.ensure(steps >= 1, "option `steps` must be ≥ 1")?;
        o.ensure(a > 0.0, "option `step` (α in units of ε) must be > 0")?;
        o.ensure((0.0..1.0).contains(&smoothing), "option `ls` must be in [0, 1)")?;
        o.finish()?;
        Ok(RobustKl { lambda: spec.strength, eps, steps, alpha: a * eps, smoothing, weighted: arow })
    }

    /// The attack that finds `x̂`: PGD-K (ℓ∞) from a uniform start, maximising the KL.
    pub fn attack(&self) -> super::attack::Attack {
        super::attack::Attack::pgd(self.eps, self.steps, self.alpha, 1)
    }

    /// The term `R` (see the module documentation) on clean logits `z` and adversarial logits
    /// `za` (`[n, c]`) with labels `y`: `(label smoothing part, robustness part, ∂R/∂z, ∂R/∂ẑ)`.
    pub fn term(&self, z: &[f32], za: &[f32], y: &[usize], c: usize) -> (f64, f64, Vec<f64>, Vec<f64>) {
        let n = y.len();
        let inv = 1.0 / n.max(1) as f64;
        let (mut ls, mut rob) = (0.0, 0.0);
        let (mut gz, mut ga) = (vec![0.0; z.len()], vec![0.0; za.len()]);
        for i in 0..n {
            let r = i * c..(i + 1) * c;
            let (lp, lq) = (log_softmax(&z[r.clone()]), log_softmax(&za[r.clone()]));
            let yi = y[i];
            let kl: f64 = (0..c).map(|j| lp[j].exp() * (lp[j] - lq[j])).sum();
            let qy = lq[yi].exp();
            let w = if self.weighted { 1.0 - qy } else { 1.0 };
            ls += self.smoothing * ((0..c).map(|j| -lp[j]).sum::<f64>() / c as f64 + lp[yi]) * inv;
            rob += self.lambda * w * kl * inv;
            for j in 0..c {
                let (p, q) = (lp[j].exp(), lq[j].exp());
                let ey = if j == yi { 1.0 } else { 0.0 };
                gz[i * c + j] = (self.smoothing * (ey - 1.0 / c as f64) + self.lambda * w * p * (lp[j] - lq[j] - kl)) * inv;
                let dw = if self.weighted { -qy * (ey - q) } else { 0.0 };
                ga[i * c + j] = self.lambda * (w * (q - p) + kl * dw) * inv;
            }
        }
        (ls, rob, gz, ga)
    }
}

/// The attack's objective: per-example `KL(p_i‖softmax(ẑ_i))` with `p = softmax(z)` constant, and
/// its gradient with respect to `ẑ` (`q − p` per row, not divided by `n`).
pub fn kl_to_clean(z: &[f32], za: &[f32], c: usize) -> (Vec<f64>, Vec<f64>) {
    let mut vals = Vec::with_capacity(z.len() / c.max(1));
    let mut g = Vec::with_capacity(za.len());
    for (zr, ar) in z.chunks(c).zip(za.chunks(c)) {
        let (lp, lq) = (log_softmax(zr), log_softmax(ar));
        vals.push((0..c).map(|j| lp[j].exp() * (lp[j] - lq[j])).sum());
        g.extend((0..c).map(|j| lq[j].exp() - lp[j].exp()));
    }
    (vals, g)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<RobustKl> {
        RobustKl::from_spec(&Spec::parse(s)?)
    }

    const Z: [f32; 6] = [0.5, -1.0, 2.0, 0.0, 0.3, -0.2];
    const ZA: [f32; 6] = [1.0, 0.0, -0.5, 0.2, 0.2, 0.9];
    const Y: [usize; 2] = [2, 0];

    #[test]
    fn specs_parse_with_the_official_defaults_and_bad_ones_are_named() {
        let a = parse("arow=6:eps=0.3").unwrap();
        assert_eq!((a.steps, a.smoothing, a.weighted), (10, 0.2, true));
        assert!((a.alpha - 0.075).abs() < 1e-12);
        let t = parse("trades=6:eps=0.3,steps=5").unwrap();
        assert_eq!((t.steps, t.smoothing, t.weighted), (5, 0.0, false));
        for (s, want) in [("arow=6", "eps"), ("arow=6:eps=0.3,ls=1", "ls"), ("trades=6:eps=0.3,ls=0.1", "ls"), ("arow=6:eps=0.3,steps=0", "steps")] {
            let e = parse(s).unwrap_err().to_string();
            assert!(e.contains(want), "{s}: {e}");
        }
    }

    #[test]
    fn term_against_a_direct_computation() {
        let a = parse("arow=6:eps=0.1").unwrap();
        let (ls, rob, _, _) = a.term(&Z, &ZA, &Y, 3);
        let sm = |z: &[f32]| -> Vec<f64> {
            let e: Vec<f64> = z.iter().map(|&v| (v as f64).exp()).collect();
            let s: f64 = e.iter().sum();
            e.iter().map(|v| v / s).collect()
        };
        let (mut want_ls, mut want_rob) = (0.0, 0.0);
        for i in 0..2 {
            let (p, q) = (sm(&Z[i * 3..i * 3 + 3]), sm(&ZA[i * 3..i * 3 + 3]));
            let kl: f64 = (0..3).map(|j| p[j] * (p[j] / q[j]).ln()).sum();
            want_rob += 6.0 * kl * (1.0 - q[Y[i]]) / 2.0;
            // label-smoothed CE minus plain CE
            let ce = -p[Y[i]].ln();
            let smooth: f64 = (0..3).map(|j| -p[j].ln()).sum::<f64>() / 3.0;
            want_ls += ((0.8 * ce + 0.2 * smooth) - ce) / 2.0;
        }
        assert!((rob - want_rob).abs() < 1e-12, "{rob} vs {want_rob}");
        assert!((ls - want_ls).abs() < 1e-12, "{ls} vs {want_ls}");
        // TRADES: unweighted, no smoothing
        let t = parse("trades=6:eps=0.1").unwrap();
        let (ls, rob_t, _, _) = t.term(&Z, &ZA, &Y, 3);
        assert_eq!(ls, 0.0);
        assert!(rob_t > rob, "ARoW's weight is ≤ 1");
    }

    #[test]
    fn gradients_against_finite_differences() {
        for spec in ["arow=6:eps=0.1", "trades=2:eps=0.1"] {
            let a = parse(spec).unwrap();
            let (_, _, gz, ga) = a.term(&Z, &ZA, &Y, 3);
            let f = |z: &[f32], za: &[f32]| {
                let (l, r, _, _) = a.term(z, za, &Y, 3);
                l + r
            };
            let h = 1e-3f32;
            for j in 0..6 {
                let (mut p, mut m) = (Z, Z);
                p[j] += h;
                m[j] -= h;
                let fd = (f(&p, &ZA) - f(&m, &ZA)) / (2.0 * h as f64);
                assert!((fd - gz[j]).abs() < 1e-4, "{spec} ∂z {j}: {fd} vs {}", gz[j]);
                let (mut p, mut m) = (ZA, ZA);
                p[j] += h;
                m[j] -= h;
                let fd = (f(&Z, &p) - f(&Z, &m)) / (2.0 * h as f64);
                assert!((fd - ga[j]).abs() < 1e-4, "{spec} ∂ẑ {j}: {fd} vs {}", ga[j]);
            }
        }
    }

    #[test]
    fn the_term_vanishes_when_the_adversarial_logits_equal_the_clean_ones() {
        let t = parse("trades=3:eps=0.1").unwrap();
        let (_, rob, _, ga) = t.term(&Z, &Z, &Y, 3);
        assert!(rob.abs() < 1e-12 && ga.iter().all(|g| g.abs() < 1e-12));
        let (v, g) = kl_to_clean(&Z, &Z, 3);
        assert!(v.iter().all(|v| v.abs() < 1e-12) && g.iter().all(|g| g.abs() < 1e-12));
        let (v, g) = kl_to_clean(&Z, &ZA, 3);
        let h = 1e-3f32;
        for j in 0..6 {
            let (mut p, mut m) = (ZA, ZA);
            p[j] += h;
            m[j] -= h;
            let s = |za: &[f32]| kl_to_clean(&Z, za, 3).0.iter().sum::<f64>();
            assert!(((s(&p) - s(&m)) / (2.0 * h as f64) - g[j]).abs() < 1e-4);
        }
        assert!(v.iter().all(|&v| v > 0.0));
    }
}
