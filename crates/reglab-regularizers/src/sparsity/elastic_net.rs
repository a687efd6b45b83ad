//! `elastic-net=λ[:alpha=0.5]`: the elastic-net penalty, applied by its proximal step.
//!
//! ## Formula
//! `R(W) = λ · r(W)` with
//! `r(W) = α · Σ_ij |W_ij| + (1 − α)/2 · ‖W‖²_F`, `α ∈ [0, 1]`
//! (the glmnet / scikit-learn `ElasticNet` convention, `alpha` here being scikit-learn's
//! `l1_ratio`). `α = 1` is `l1`, `α = 0` is `l2` (weight decay). This module computes the bare
//! `r` and the caller multiplies by λ (see `reglab_core::sum`).
//!
//! Proximal step, with step `s = η·λ_t`, elementwise. `p = prox_{s·r}(v)` minimises
//! `s·α|x| + s(1 − α)/2·x² + (x − v)²/2`; its optimality condition is
//! `0 ∈ s·α·∂|x| + s(1 − α)·x + x − v`, i.e. `(1 + s(1 − α))·x ∈ v − s·α·∂|x|`, whose solution is
//! `p = soft_threshold(v, s·α) / (1 + s(1 − α))`
//! `  = sign(v) · max(|v| − s·α, 0) / (1 + s(1 − α))`:
//! soft-threshold by `s·α`, then shrink by the factor `1/(1 + s(1 − α))`. Entries with
//! `|v| ≤ s·α` become exactly `0` (none do for `α = 0`, apart from zeros). Training applies this
//! step after the optimizer step ([`Regularizer::has_prox`] is true) and adds no gradient.
//!
//! `eval` with a gradient buffer adds the subgradient `scale · (α·sign(W) + (1 − α)·W)` (with
//! `sign(0) = 0`), for reports and callers that want plain (sub)gradient descent.
//!
//! Symbols: `W` the tensor (any shape; elementwise, so the storage layout is irrelevant),
//! `λ ≥ 0` the strength, `α ∈ [0, 1]` the ℓ1 share, `η` the learning rate, `s = η·λ_t ≥ 0` the
//! prox step.
//!
//! ## Paper
//! Zou & Hastie, "Regularization and variable selection via the elastic net", J. R. Statist.
//! Soc. B 67(2), 2005. (Their "naive elastic net" penalty `λ₁‖β‖₁ + λ₂‖β‖²`; the `α`
//! parametrisation with the `1/2` on the ridge part is glmnet's, Friedman, Hastie & Tibshirani,
//! JSS 2010.)

use reglab_core::{Error, Mode, Regularizer, Result, Spec, Target, TargetGrad, TargetMut};

/// The elastic net `α‖W‖₁ + (1 − α)/2·‖W‖²_F` with its proximal step. See the module
/// documentation.
#[derive(Debug, Clone)]
pub struct ElasticNet {
    /// The ℓ1 share `α ∈ [0, 1]`.
    pub alpha: f64,
}

impl ElasticNet {
    /// Build from a spec (`elastic-net=λ[:alpha=0.5]`).
    pub fn from_spec(spec: &Spec) -> Result<Self> {
        let mut o = spec.options();
        let alpha = o.f64("alpha", 0.5)?;
        o.ensure((0.0..=1.0).contains(&alpha), format!("option `alpha` must be in [0, 1], got {alpha}"))?;
        o.finish()?;
        Ok(Self { alpha })
    }
}

/// `sign(w)` with `sign(0) = 0` (NaN stays NaN).
#[inline]
fn sign0(w: f32) -> f32 {
    if w == 0.0 { 0.0 } else { w.signum() }
}

impl Regularizer for ElasticNet {
    fn name(&self) -> &'static str {
        "elastic-net"
    }

    fn eval(&mut self, t: &Target<'_>, grad: Option<&mut TargetGrad<'_>>, scale: f32, _mode: Mode) -> Result<f64> {
        let w = t.weight.data;
        let a = self.alpha;
        if let Some(g) = grad {
            if g.weight.len() != w.len() {
                return Err(Error::Shape {
                    tensor: t.name.to_string(),
                    why: format!("gradient buffer has {} entries, the tensor {}", g.weight.len(), w.len()),
                });
            }
            let (ga, gb) = ((scale as f64 * a) as f32, (scale as f64 * (1.0 - a)) as f32);
            for (gi, &wi) in g.weight.iter_mut().zip(w) {
                *gi += ga * sign0(wi) + gb * wi;
            }
        }
        let l1 = reglab_core::linalg::sum_abs(w);
        let sq = reglab_core::linalg::sum_sq(w);
        Ok(a * l1 + 0.5 * (1.0 - a) * sq)
    }

    fn has_prox(&self) -> bool {
        true
    }

    fn prox(&mut self, target: &mut TargetMut<'_>, step: f32) -> Result<()> {
        if !reglab_core::regularizer::prox_step_ok(self.name(), target, step)? {
            return Ok(());
        }
        // One pass in f32 (the threshold and 1/(1 + s(1 − α)) computed once in f64).
        let s = step as f64;
        let thr = (s * self.alpha) as f32;
        let inv = (1.0 / (1.0 + s * (1.0 - self.alpha))) as f32;
        for w in target.weight.iter_mut() {
            let v = *w;
            let m = v.abs() - thr;
            *w = if m > 0.0 {
                (m * inv).copysign(v)
            } else if v.is_nan() {
                v
            } else {
                0.0
            };
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reglab_core::Layout;
    use reglab_core::testing::{Case, gradient_error, random_vec, rel};

    fn reg(alpha: f64) -> ElasticNet {
        ElasticNet::from_spec(&Spec::parse(&format!("elastic-net=1:alpha={alpha}")).unwrap()).unwrap()
    }

    fn prox_of(case: &Case, alpha: f64, s: f32) -> Vec<f32> {
        case.prox(&mut reg(alpha), s).unwrap()
    }

    /// r(x) computed independently, in f64.
    fn r64(x: &[f64], a: f64) -> f64 {
        x.iter().map(|v| a * v.abs() + 0.5 * (1.0 - a) * v * v).sum()
    }

    #[test]
    fn value_on_a_hand_example() {
        let c = Case { weight: vec![1.0, -2.0, 3.0, 0.5, 0.0, -1.25], ..Case::random("fc.weight", &[2, 3], 0) };
        // Σ|w| = 7.75, Σw² = 1 + 4 + 9 + 0.25 + 0 + 1.5625 = 15.8125
        // α = 0.5: 0.5·7.75 + 0.25·15.8125 = 3.875 + 3.953125
        assert_eq!(c.value(&mut reg(0.5)), 7.828125);
        assert_eq!(c.transposed().value(&mut reg(0.5)), 7.828125);
        // α = 1 is ℓ1, α = 0 is ½‖W‖²
        assert_eq!(c.value(&mut reg(1.0)), 7.75);
        assert_eq!(c.value(&mut reg(0.0)), 7.90625);
        // default alpha is 0.5
        let mut d = ElasticNet::from_spec(&Spec::parse("elastic-net=2").unwrap()).unwrap();
        assert_eq!(d.alpha, 0.5);
        assert_eq!(c.value(&mut d), 7.828125);
        // conv kernel: elementwise, shape irrelevant
        let k = Case::random("conv.weight", &[3, 2, 3, 3], 9);
        let want = r64(&k.weight.iter().map(|&x| x as f64).collect::<Vec<_>>(), 0.3);
        assert!(rel(k.value(&mut reg(0.3)), want) < 1e-12);
    }

    #[test]
    fn gradient_is_the_subgradient_with_zero_sign_at_zero() {
        let c = Case { weight: vec![0.5, -0.25, 0.0, -0.0, 2.0, -1.0], ..Case::random("fc.weight", &[3, 2], 1) };
        let (_, g, _) = c.value_and_grad(&mut reg(0.5));
        // 0.5·sign(w) + 0.5·w
        assert_eq!(g, vec![0.75, -0.625, 0.0, 0.0, 1.5, -1.0]);
        // scale multiplies and the gradient is added
        let mut gw = vec![10.0; 6];
        let mut tg = TargetGrad { weight: &mut gw, bias: None };
        reg(0.5).eval(&c.target(), Some(&mut tg), 2.0, Mode::Exact).unwrap();
        assert_eq!(gw, vec![11.5, 8.75, 10.0, 10.0, 13.0, 8.0]);
        // wrong buffer length is a shape error
        let mut short = vec![0.0; 5];
        let mut tg = TargetGrad { weight: &mut short, bias: None };
        assert!(matches!(reg(0.5).eval(&c.target(), Some(&mut tg), 1.0, Mode::Exact), Err(Error::Shape { .. })));
    }

    #[test]
    fn gradient_matches_finite_differences_away_from_kinks() {
        let mut c = Case::random("fc.weight", &[7, 5], 2);
        for w in c.weight.iter_mut() {
            *w += 0.05f32.copysign(*w);
        }
        for a in [0.0, 0.3, 0.5, 1.0] {
            assert!(gradient_error(&mut reg(a), &c, 1e-2) < 1e-5, "alpha={a}");
            assert!(gradient_error(&mut reg(a), &c.transposed(), 1e-2) < 1e-5, "alpha={a}");
        }
        let mut k = Case::random("conv.weight", &[4, 2, 3, 3], 3);
        for w in k.weight.iter_mut() {
            *w += 0.05f32.copysign(*w);
        }
        assert!(gradient_error(&mut reg(0.7), &k, 1e-2) < 1e-5);
    }

    #[test]
    fn prox_gives_exact_zeros_and_the_closed_form() {
        let s = 0.2f32;
        let a = 0.5;
        let c = Case::random("fc.weight", &[20, 10], 4);
        let k = Case::random("conv.weight", &[5, 2, 3, 3], 5);
        for case in [c.clone(), c.transposed(), k] {
            let p = prox_of(&case, a, s);
            let thr = s as f64 * a;
            let den = 1.0 + s as f64 * (1.0 - a);
            let (mut zeros, mut kept) = (0, 0);
            for (&v, &x) in case.weight.iter().zip(&p) {
                if (v.abs() as f64) <= thr {
                    assert_eq!(x, 0.0, "v={v}");
                    zeros += 1;
                } else {
                    assert_eq!(x.signum(), v.signum());
                    let want = (v.abs() as f64 - thr) / den;
                    assert!((x.abs() as f64 - want).abs() <= 1e-7 * v.abs() as f64, "v={v} x={x}");
                    kept += 1;
                }
            }
            assert!(zeros > 5 && kept > 5, "{zeros} {kept}");
        }
        // boundary |v| = s·α goes to exactly zero, signed zeros too; α = 0 is a pure shrink
        let b = Case { weight: vec![0.25, -0.25, 0.0, -0.0, 0.75, -1.25], ..Case::random("fc.weight", &[2, 3], 6) };
        let p = prox_of(&b, 0.5, 0.5);
        // 0.75 → (0.75 − 0.25)/1.25 = 0.4; −1.25 → −(1.0)/1.25 = −0.8
        assert_eq!(&p[..4], &[0.0, 0.0, 0.0, 0.0]);
        assert!((p[4] - 0.4).abs() < 1e-7 && (p[5] + 0.8).abs() < 1e-7, "{p:?}");
        let p0 = prox_of(&b, 0.0, 0.5);
        for (&v, &x) in b.weight.iter().zip(&p0) {
            assert!((x as f64 - v as f64 / 1.5).abs() < 1e-7);
        }
        // α = 1 is exactly l1's soft-threshold
        let p1 = prox_of(&b, 1.0, 0.5);
        assert_eq!(p1, vec![0.0, 0.0, 0.0, 0.0, 0.25, -0.75]);
    }

    #[test]
    fn prox_satisfies_the_optimality_condition() {
        // (v − p)/s ∈ ∂r(p) = α·∂|p| + (1 − α)·p
        let s = 0.15f32;
        let c = Case { weight: random_vec(500, 0.3, 7), ..Case::random("fc.weight", &[25, 20], 7) };
        for a in [0.0, 0.25, 0.5, 1.0] {
            let p = prox_of(&c, a, s);
            for (&v, &x) in c.weight.iter().zip(&p) {
                let sub = (v as f64 - x as f64) / s as f64 - (1.0 - a) * x as f64;
                if x == 0.0 {
                    assert!(sub.abs() <= a + 1e-6, "a={a} v={v} sub={sub}");
                } else {
                    assert!((sub - a * x.signum() as f64).abs() < 1e-5, "a={a} v={v} x={x} sub={sub}");
                }
            }
        }
    }

    #[test]
    fn prox_is_the_minimiser_against_perturbations() {
        // p minimises r(x) + ‖x − v‖²/(2s): no small random perturbation lowers the objective
        let s = 0.3f64;
        let a = 0.6;
        let c = Case::random("fc.weight", &[3, 4], 8);
        let v: Vec<f64> = c.weight.iter().map(|&x| x as f64).collect();
        let p: Vec<f64> = prox_of(&c, a, s as f32).iter().map(|&x| x as f64).collect();
        assert!(p.contains(&0.0) && p.iter().any(|&x| x != 0.0));
        let obj = |x: &[f64]| r64(x, a) + x.iter().zip(&v).map(|(x, v)| (x - v) * (x - v)).sum::<f64>() / (2.0 * s);
        let f0 = obj(&p);
        for (k, scale) in [1e-4f32, 1e-3, 1e-2, 1e-1].iter().enumerate() {
            for t in 0..200u64 {
                let d = random_vec(p.len(), *scale, 1000 + 1000 * k as u64 + t);
                let x: Vec<f64> = p.iter().zip(&d).map(|(p, d)| p + *d as f64).collect();
                assert!(obj(&x) >= f0 - 1e-9, "scale={scale} t={t}: {} < {f0}", obj(&x));
            }
        }
    }

    #[test]
    fn prox_step_zero_is_identity_and_bad_steps_are_errors() {
        let c = Case::random("fc.weight", &[4, 4], 9);
        assert_eq!(prox_of(&c, 0.5, 0.0), c.weight);
        let mut w = c.weight.clone();
        let mut t = TargetMut { name: "fc.weight", role: c.target().role, shape: &c.shape, layout: Layout::RowMajor, weight: &mut w };
        assert!(reg(0.5).prox(&mut t, -0.1).is_err());
        assert!(reg(0.5).prox(&mut t, f32::NAN).is_err());
        assert!(reg(0.5).prox(&mut t, f32::INFINITY).is_err());
        assert_eq!(w, c.weight);
        // NaN stays NaN
        let mut w = vec![f32::NAN, 1.0];
        let shape = [2usize];
        let mut t = TargetMut { name: "x", role: c.target().role, shape: &shape, layout: Layout::RowMajor, weight: &mut w };
        reg(0.5).prox(&mut t, 0.1).unwrap();
        assert!(w[0].is_nan());
    }

    #[test]
    fn option_validation() {
        for bad in [
            "elastic-net=1:alpha=-0.1",
            "elastic-net=1:alpha=1.5",
            "elastic-net=1:alpha=nan",
            "elastic-net=1:alpha=x",
            "elastic-net=1:k=2",
            "elastic-net=1:alpha=0.5:l1_ratio=0.5",
        ] {
            assert!(ElasticNet::from_spec(&Spec::parse(bad).unwrap()).is_err(), "{bad}");
        }
        for good in ["elastic-net=1:alpha=0", "elastic-net=1:alpha=1", "elastic-net=1:alpha=0.2:select=*.weight"] {
            assert!(ElasticNet::from_spec(&Spec::parse(good).unwrap()).is_ok(), "{good}");
        }
    }
}
