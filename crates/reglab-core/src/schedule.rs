//! Strength schedules: λ_t = λ · s(t), t the optimizer step (0-based), T the total steps.
//!
//! `constant`, `warmup` and `cosine` keep `s(t) ∈ [0, 1]`; `exp` multiplies the strength by a
//! constant factor every `every` steps (`s(t) = factor^⌊t/every⌋`, growing without bound for a
//! factor above 1 unless capped): the growing penalty of Adaptive Regularized Training
//! (HyperSparse, `hypersparse`), where λ is multiplied by η = 1.05 once per epoch. The user knows
//! the number of optimizer steps per epoch (`⌈n_train / batch⌉`); `every` = that number gives
//! one growth per epoch.

/// A schedule factor `s(t)`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Schedule {
    /// `s(t) = 1`.
    #[default]
    Constant,
    /// Linear warm-up: `s(t) = min(1, (t+1)/steps)`.
    Warmup {
        /// Length of the warm-up in steps.
        steps: u64,
    },
    /// Optional linear warm-up, then cosine decay to zero at the last step:
    /// `s(t) = ½(1 + cos(π (t − w)/(T − w)))` for `t ≥ w`.
    Cosine {
        /// Warm-up steps before the decay (0: none).
        warmup: u64,
    },
    /// Exponential: `s(t) = min(factor^⌊t/every⌋, cap)`. `factor > 0` (above 1: growth, below 1:
    /// decay), `every ≥ 1` steps, `cap > 0` (`+∞`: none). The caller ([`crate::spec::Common`])
    /// derives `cap` from the user's `max=Λ` on λ_t as `Λ/λ`.
    Exp {
        /// Multiplier applied every `every` steps.
        factor: f64,
        /// Steps between two multiplications (steps per epoch for a per-epoch growth).
        every: u64,
        /// Upper bound on `s(t)` (`f64::INFINITY`: none).
        cap: f64,
    },
}

impl Schedule {
    /// The factor at step `t` of `total` steps.
    pub fn factor(&self, t: u64, total: u64) -> f64 {
        match *self {
            Schedule::Constant => 1.0,
            Schedule::Warmup { steps } => ((t + 1) as f64 / steps.max(1) as f64).min(1.0),
            Schedule::Cosine { warmup } => {
                if t < warmup {
                    return (t + 1) as f64 / warmup as f64;
                }
                let span = total.saturating_sub(warmup).max(1) as f64;
                let x = ((t - warmup) as f64 / span).min(1.0);
                0.5 * (1.0 + (std::f64::consts::PI * x).cos())
            }
            Schedule::Exp { factor, every, cap } => {
                let k = t / every.max(1);
                // powi takes an i32; beyond that the factor has long overflowed or vanished
                let f = match i32::try_from(k) {
                    Ok(k) => factor.powi(k),
                    Err(_) => factor.powf(k as f64),
                };
                f.min(cap)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_is_one() {
        assert_eq!(Schedule::Constant.factor(0, 10), 1.0);
        assert_eq!(Schedule::Constant.factor(99, 10), 1.0);
    }

    #[test]
    fn warmup_ramps_linearly_then_holds() {
        let s = Schedule::Warmup { steps: 4 };
        let f: Vec<f64> = (0..6).map(|t| s.factor(t, 100)).collect();
        assert_eq!(f, vec![0.25, 0.5, 0.75, 1.0, 1.0, 1.0]);
    }

    #[test]
    fn cosine_goes_from_one_to_zero() {
        let s = Schedule::Cosine { warmup: 0 };
        assert_eq!(s.factor(0, 100), 1.0);
        assert!((s.factor(50, 100) - 0.5).abs() < 1e-12);
        assert!(s.factor(100, 100).abs() < 1e-12);
        let w = Schedule::Cosine { warmup: 10 };
        assert!((w.factor(4, 110) - 0.5).abs() < 1e-12);
        assert_eq!(w.factor(10, 110), 1.0);
        // monotone non-increasing after warm-up
        let v: Vec<f64> = (10..=110).map(|t| w.factor(t, 110)).collect();
        assert!(v.windows(2).all(|p| p[1] <= p[0]));
    }

    #[test]
    fn exp_multiplies_once_every_period() {
        let s = Schedule::Exp { factor: 1.05, every: 3, cap: f64::INFINITY };
        let f: Vec<f64> = (0..10).map(|t| s.factor(t, 10)).collect();
        // steps 0–2: 1, 3–5: 1.05, 6–8: 1.05², 9: 1.05³ (independent products)
        let want = [1.0, 1.0, 1.0, 1.05, 1.05, 1.05, 1.05 * 1.05, 1.05 * 1.05, 1.05 * 1.05, 1.05 * 1.05 * 1.05];
        for (t, (a, b)) in f.iter().zip(want).enumerate() {
            assert!((a - b).abs() < 1e-15, "step {t}: {a} vs {b}");
        }
        // the total number of steps plays no role
        assert_eq!(s.factor(9, 10), s.factor(9, 1_000_000));
        // 100 epochs of 1.05: 131.50...
        assert!((s.factor(300, 0) - 131.501_257_846_3).abs() < 1e-6, "{}", s.factor(300, 0));
        // a factor below 1 decays; every = 1 multiplies at each step
        let d = Schedule::Exp { factor: 0.5, every: 1, cap: f64::INFINITY };
        assert_eq!((0..4).map(|t| d.factor(t, 4)).collect::<Vec<_>>(), vec![1.0, 0.5, 0.25, 0.125]);
    }

    #[test]
    fn exp_is_capped_and_never_nan() {
        let s = Schedule::Exp { factor: 2.0, every: 1, cap: 5.0 };
        assert_eq!((0..5).map(|t| s.factor(t, 5)).collect::<Vec<_>>(), vec![1.0, 2.0, 4.0, 5.0, 5.0]);
        // huge step counts: capped, or +∞ without a cap (never NaN); a decaying factor goes to 0
        assert_eq!(s.factor(u64::MAX, 1), 5.0);
        let u = Schedule::Exp { factor: 2.0, every: 1, cap: f64::INFINITY };
        assert_eq!(u.factor(u64::MAX, 1), f64::INFINITY);
        let d = Schedule::Exp { factor: 0.5, every: 1, cap: f64::INFINITY };
        assert_eq!(d.factor(u64::MAX, 1), 0.0);
    }
}
