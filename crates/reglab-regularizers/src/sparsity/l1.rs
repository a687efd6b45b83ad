//! `l1=λ`: the lasso penalty λ·‖W‖₁, applied by its proximal step (soft-thresholding).
//!
//! ## Formula
//! `R(W) = λ · Σ_ij |W_ij|`, with `W` any selected tensor (by default the weights of linear and
//! conv layers); this module computes the bare `r(W) = Σ_ij |W_ij|` and the caller multiplies by
//! λ (see `reglab_core::sum`).
//!
//! Proximal step, with step `s = η·λ_t` (learning rate times strength), elementwise:
//! `prox_{s·r}(v)_ij = sign(v_ij) · max(|v_ij| − s, 0)` (soft-thresholding). Entries with
//! `|v_ij| ≤ s` become exactly `0`; the others move toward zero by exactly `s`. Training applies
//! this step after the optimizer step ([`Regularizer::has_prox`] is true) and adds no gradient.
//!
//! `eval` with a gradient buffer adds the subgradient `scale · sign(W)` (with `sign(0) = 0`),
//! for reports and for callers that want plain (sub)gradient descent. Training does not use it:
//! subgradient ℓ1 never lands on exact zeros, and its solutions can even grow in ‖W‖₁ as λ
//! grows (paper below), which is why the proximal step is the training path.
//!
//! Symbols: `W` the tensor (any shape; the penalty is elementwise, so the storage layout is
//! irrelevant), `λ ≥ 0` the strength, `η` the learning rate, `s = η·λ_t ≥ 0` the prox step.
//!
//! ## Papers
//! Tibshirani, "Regression Shrinkage and Selection via the Lasso", J. R. Statist. Soc. B 58(1),
//! 1996 (the penalty). Why proximal and not subgradient: S. K. Kumar, "GD doesn't make the cut:
//! Three ways that non-differentiability affects neural network training", arXiv 2401.08426,
//! 2024 (catalog #97; v1 was titled "Three ways that non-differentiability affects neural network
//! training").

use reglab_core::{Error, Mode, Regularizer, Result, Spec, Target, TargetGrad, TargetMut};

/// The ℓ1 norm `Σ|W_ij|` with its soft-threshold proximal step. See the module documentation.
#[derive(Debug, Clone, Default)]
pub struct L1;

impl L1 {
    /// Build from a spec (`l1=λ`, no options).
    pub fn from_spec(spec: &Spec) -> Result<Self> {
        spec.options().finish()?;
        Ok(Self)
    }
}

/// `sign(w)` with `sign(0) = 0` (NaN stays NaN).
#[inline]
fn sign0(w: f32) -> f32 {
    if w == 0.0 { 0.0 } else { w.signum() }
}

/// Soft-threshold one value: `sign(v)·max(|v| − s, 0)`; NaN stays NaN (so a diverged run shows).
#[inline]
fn soft_threshold(v: f32, s: f32) -> f32 {
    let a = v.abs() - s;
    if a > 0.0 {
        a.copysign(v)
    } else if v.is_nan() {
        v
    } else {
        0.0
    }
}

impl Regularizer for L1 {
    fn name(&self) -> &'static str {
        "l1"
    }

    fn eval(&mut self, t: &Target<'_>, grad: Option<&mut TargetGrad<'_>>, scale: f32, _mode: Mode) -> Result<f64> {
        let w = t.weight.data;
        if let Some(g) = grad {
            if g.weight.len() != w.len() {
                return Err(Error::Shape {
                    tensor: t.name.to_string(),
                    why: format!("gradient buffer has {} entries, the tensor {}", g.weight.len(), w.len()),
                });
            }
            for (gi, &wi) in g.weight.iter_mut().zip(w) {
                *gi += scale * sign0(wi);
            }
        }
        Ok(reglab_core::linalg::sum_abs(w))
    }

    fn has_prox(&self) -> bool {
        true
    }

    fn prox(&mut self, target: &mut TargetMut<'_>, step: f32) -> Result<()> {
        if !reglab_core::regularizer::prox_step_ok(self.name(), target, step)? {
            return Ok(());
        }
        for w in target.weight.iter_mut() {
            *w = soft_threshold(*w, step);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reglab_core::Layout;
    use reglab_core::testing::{Case, gradient_error, random_vec, rel};

    fn reg() -> L1 {
        L1::from_spec(&Spec::parse("l1=1").unwrap()).unwrap()
    }

    fn prox_of(case: &Case, s: f32) -> Vec<f32> {
        case.prox(&mut reg(), s).unwrap()
    }

    #[test]
    fn value_is_the_sum_of_absolute_values() {
        let c = Case { weight: vec![1.0, -2.0, 3.0, 0.5, 0.0, -1.25], ..Case::random("fc.weight", &[2, 3], 0) };
        // independent: 1 + 2 + 3 + 0.5 + 0 + 1.25
        assert_eq!(c.value(&mut reg()), 7.75);
        assert_eq!(c.transposed().value(&mut reg()), 7.75);
    }

    #[test]
    fn gradient_is_the_sign_with_zero_at_zero() {
        let c = Case { weight: vec![0.3, -0.2, 0.0, -0.0, 5.0, -1e-8], ..Case::random("fc.weight", &[3, 2], 1) };
        let (_, g, _) = c.value_and_grad(&mut reg());
        assert_eq!(g, vec![1.0, -1.0, 0.0, 0.0, 1.0, -1.0]);
        // scale multiplies and the gradient is added, not overwritten
        let mut gw = vec![10.0; 6];
        let mut tg = TargetGrad { weight: &mut gw, bias: None };
        reg().eval(&c.target(), Some(&mut tg), 0.5, Mode::Exact).unwrap();
        assert_eq!(gw, vec![10.5, 9.5, 10.0, 10.0, 10.5, 9.5]);
    }

    #[test]
    fn gradient_matches_finite_differences_away_from_kinks() {
        // keep every entry at least 0.05 from 0, step 1e-2 never crosses the kink
        let mut c = Case::random("fc.weight", &[7, 5], 2);
        for w in c.weight.iter_mut() {
            *w += 0.05f32.copysign(*w);
        }
        assert!(gradient_error(&mut reg(), &c, 1e-2) < 1e-6);
        assert!(gradient_error(&mut reg(), &c.transposed(), 1e-2) < 1e-6);
    }

    #[test]
    fn prox_gives_exact_zeros_and_shrinks_the_rest_by_exactly_s() {
        let s = 0.1f32;
        let c = Case::random("fc.weight", &[20, 10], 3);
        for case in [c.clone(), c.transposed()] {
            let p = prox_of(&case, s);
            let (mut zeros, mut kept) = (0, 0);
            for (&v, &x) in case.weight.iter().zip(&p) {
                if v.abs() <= s {
                    assert_eq!(x, 0.0, "v={v}");
                    zeros += 1;
                } else {
                    // same sign, magnitude reduced by s (f64 reference, f32 rounding allowed)
                    assert_eq!(x.signum(), v.signum());
                    let want = v.abs() as f64 - s as f64;
                    assert!((x.abs() as f64 - want).abs() <= 1e-7 * v.abs() as f64, "v={v} x={x}");
                    kept += 1;
                }
            }
            // the random draw (uniform in [-0.5, 0.5)) exercises both branches
            assert!(zeros > 10 && kept > 10, "{zeros} {kept}");
        }
        // the boundary |v| = s goes to exactly zero, as do signed zeros
        let b = Case { weight: vec![0.25, -0.25, 0.0, -0.0, 0.2500001, -1.0], ..Case::random("fc.weight", &[2, 3], 4) };
        let p = prox_of(&b, 0.25);
        assert_eq!(&p[..4], &[0.0, 0.0, 0.0, 0.0]);
        assert!(p[4] > 0.0 && p[5] == -0.75);
    }

    #[test]
    fn prox_satisfies_the_optimality_condition() {
        // p = prox_{s|.|}(v)  ⇔  (v − p)/s ∈ ∂|p|: = sign(p) where p ≠ 0, ∈ [−1, 1] where p = 0
        let s = 0.07f32;
        let c = Case { weight: random_vec(500, 0.3, 5), ..Case::random("fc.weight", &[25, 20], 5) };
        let p = prox_of(&c, s);
        for (&v, &x) in c.weight.iter().zip(&p) {
            let sub = (v as f64 - x as f64) / s as f64;
            if x == 0.0 {
                assert!(sub.abs() <= 1.0 + 1e-6, "v={v} sub={sub}");
            } else {
                assert!((sub - x.signum() as f64).abs() < 1e-5, "v={v} x={x} sub={sub}");
            }
        }
        // and p minimises s|x| + (x − v)²/2 against nearby candidates
        let obj = |x: f64, v: f64| s as f64 * x.abs() + 0.5 * (x - v) * (x - v);
        for (&v, &x) in c.weight.iter().zip(&p).take(50) {
            for d in [-1e-3, 1e-3, -1e-2, 1e-2] {
                assert!(obj(x as f64, v as f64) <= obj(x as f64 + d, v as f64) + 1e-12);
            }
        }
    }

    #[test]
    fn prox_step_zero_is_identity_and_bad_steps_are_errors() {
        let c = Case::random("fc.weight", &[4, 4], 6);
        assert_eq!(prox_of(&c, 0.0), c.weight);
        let mut w = c.weight.clone();
        let mut t = TargetMut { name: "fc.weight", role: c.target().role, shape: &c.shape, layout: Layout::RowMajor, weight: &mut w };
        assert!(reg().prox(&mut t, -0.1).is_err());
        assert!(reg().prox(&mut t, f32::NAN).is_err());
        assert_eq!(w, c.weight);
    }

    #[test]
    fn invariants_layout_free_and_homogeneous() {
        let c = Case::random("fc.weight", &[6, 4], 7);
        let v = c.value(&mut reg());
        assert!(rel(v, c.transposed().value(&mut reg())) < 1e-12);
        // ‖αW‖₁ = |α|‖W‖₁ (α a power of two: exact in f32)
        let scaled = Case { weight: c.weight.iter().map(|x| -4.0 * x).collect(), ..c.clone() };
        assert!(rel(scaled.value(&mut reg()), 4.0 * v) < 1e-12);
        assert!(v > 0.0);
    }

    #[test]
    fn rejects_unknown_options() {
        assert!(L1::from_spec(&Spec::parse("l1=1:k=2").unwrap()).is_err());
    }
}
