//! Strength schedules: λ_t = λ · s(t), t the optimizer step (0-based), T the total steps.

/// A schedule factor `s(t) ∈ [0, 1]`.
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
}
