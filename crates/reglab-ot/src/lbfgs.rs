//! A compact L-BFGS minimizer with a Wolfe line search, for the smooth OT duals.
//!
//! # Problem
//!
//! Minimize a differentiable `f : ℝ^d → ℝ` given by a closure `x ↦ (f(x), ∇f(x))`, starting from
//! `x_0`. L-BFGS (Nocedal & Wright, *Numerical Optimization*, 2nd ed., Alg. 7.4–7.5) keeps the last
//! [`memory`](LbfgsOptions::memory) pairs `s_k = x_{k+1} − x_k`, `y_k = ∇f(x_{k+1}) − ∇f(x_k)`
//! and takes the direction `d_k = −H_k ∇f(x_k)`, with `H_k` the limited-memory BFGS inverse-Hessian
//! approximation (two-loop recursion, initial scaling `H⁰ = (sᵀy / yᵀy) I`). Pairs with
//! `sᵀy ≤ 1e-12 ‖s‖ ‖y‖` are skipped, so `H_k` stays positive definite.
//!
//! # Line search
//!
//! Along `φ(t) = f(x_k + t d_k)` a step is accepted when it satisfies the (weak) Wolfe conditions
//!
//! ```text
//! φ(t) ≤ φ(0) + c₁ t φ'(0)        (sufficient decrease, c₁ = 1e-4)
//! φ'(t) ≥ c₂ φ'(0)                (curvature, c₂ = 0.9)
//! ```
//!
//! found by bracketing (doubling `t`) then shrinking the bracket by safeguarded cubic
//! interpolation (a "Moré–Thuente-lite"). The curvature condition makes `sᵀy > 0`. The weak
//! form (rather than the strong `|φ'(t)| ≤ c₂ |φ'(0)|`) also accepts steps across a kink, so the
//! search still ends on the piecewise-smooth sparsity-constrained dual (Lewis & Overton, 2013). Near a minimizer, changes of `f`
//! fall below its rounding error long before `∇f` is small; as in Hager & Zhang (2005) the
//! sufficient-decrease test is then replaced by the *approximate Wolfe* test
//! `φ'(t) ≤ (2c₁ − 1) φ'(0)` whenever `φ(t) ≤ φ(0) + 1e-12 |φ(0)|`, which only uses derivatives.
//! The first iteration tries `t = 1 / ‖∇f(x_0)‖₂` (capped at 1), later ones `t = 1`.
//!
//! # Stopping
//!
//! - [`Termination::Gradient`]: `‖∇f(x_k)‖_∞ ≤ gtol` (checked first, also at `x_0`);
//! - [`Termination::Decrease`]: `f(x_{k−1}) − f(x_k) ≤ ftol · max(|f(x_{k−1})|, |f(x_k)|, 1)`
//!   (scipy's `ftol` rule; only when `ftol > 0`);
//! - [`Termination::Step`]: a step moved no coordinate by more than `xtol · max(‖x‖_∞, 1)`
//!   (stalled; `f` changes are then far below rounding, so this rule rather than `ftol` ends the
//!   non-smooth cases without cutting short the smooth ones);
//! - [`Termination::MaxIter`]: `max_iter` iterations ran;
//! - [`Termination::LineSearch`]: no acceptable step was found (typical at a kink of a
//!   non-smooth `f`, or when `f` is flat to rounding); `x` is the best point found.
//!
//! The first two count as converged.

use crate::error::{Error, Result};

/// Options of [`minimize`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LbfgsOptions {
    /// Number of stored `(s, y)` pairs; default 10.
    pub memory: usize,
    /// Most iterations (line searches); default 1000.
    pub max_iter: usize,
    /// Stop when `‖∇f‖_∞ ≤ gtol`; default `1e-9`.
    pub gtol: f64,
    /// Stop when the relative decrease of `f` in one iteration is `≤ ftol` (0 disables); default 0.
    pub ftol: f64,
    /// Stop when a step moves no coordinate by more than `xtol · max(‖x‖_∞, 1)` (0 disables);
    /// default `1e-14`.
    pub xtol: f64,
    /// Most evaluations of `f` in one line search; default 40.
    pub max_line_evals: usize,
}

impl Default for LbfgsOptions {
    fn default() -> Self {
        Self { memory: 10, max_iter: 1000, gtol: 1e-9, ftol: 0.0, xtol: 1e-14, max_line_evals: 40 }
    }
}

impl LbfgsOptions {
    /// Errors with [`Error::Option`] for `memory = 0`, `max_iter = 0`, `max_line_evals = 0`, or a
    /// negative or non-finite `gtol`, `ftol` or `xtol`.
    pub fn validate(&self) -> Result<()> {
        for (name, v) in [("memory", self.memory), ("max_iter", self.max_iter), ("max_line_evals", self.max_line_evals)] {
            if v == 0 {
                return Err(Error::Option { name, why: "must be at least 1".into() });
            }
        }
        for (name, v) in [("gtol", self.gtol), ("ftol", self.ftol), ("xtol", self.xtol)] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::Option { name, why: format!("must be finite and ≥ 0, got {v}") });
            }
        }
        Ok(())
    }
}

/// Why [`minimize`] stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Termination {
    /// `‖∇f‖_∞ ≤ gtol`.
    Gradient,
    /// The relative decrease of `f` fell to `ftol` or below.
    Decrease,
    /// `max_iter` iterations ran.
    MaxIter,
    /// The last step was below `xtol` (stalled, typically at a kink of a non-smooth `f`).
    Step,
    /// The line search found no acceptable step.
    LineSearch,
}

/// The outcome of [`minimize`].
#[derive(Debug, Clone, PartialEq)]
pub struct LbfgsResult {
    /// The final point (the best one found).
    pub x: Vec<f64>,
    /// `f(x)`.
    pub value: f64,
    /// `∇f(x)`.
    pub gradient: Vec<f64>,
    /// Iterations (accepted steps).
    pub iterations: usize,
    /// Evaluations of `f`, the one at `x_0` included.
    pub evaluations: usize,
    /// Why it stopped.
    pub termination: Termination,
    /// Whether it stopped by [`Termination::Gradient`] or [`Termination::Decrease`].
    pub converged: bool,
}

/// Minimizes `f` from `x0` by L-BFGS (see the [module docs](self)); `f(x)` returns the value and
/// the gradient (of length `x.len()`).
///
/// Errors: invalid options, an empty `x0`, and [`Error::NonFinite`] when `f(x0)` or its gradient
/// is not finite (non-finite values at trial points only shorten the step).
pub fn minimize<F>(mut f: F, x0: &[f64], opts: &LbfgsOptions) -> Result<LbfgsResult>
where
    F: FnMut(&[f64]) -> (f64, Vec<f64>),
{
    opts.validate()?;
    if x0.is_empty() {
        return Err(Error::Empty { what: "x0" });
    }
    let d = x0.len();
    let mut x = x0.to_vec();
    let (mut fx, mut g) = f(&x);
    let mut evaluations = 1;
    if !fx.is_finite() {
        return Err(Error::NonFinite { what: "f(x0)", at: "value".into(), value: fx });
    }
    assert_eq!(g.len(), d, "gradient of length {} for {d} variables", g.len());
    if let Some(k) = g.iter().position(|v| !v.is_finite()) {
        return Err(Error::NonFinite { what: "∇f(x0)", at: format!("index {k}"), value: g[k] });
    }
    let m = opts.memory;
    let (mut s_hist, mut y_hist, mut rho): (Vec<Vec<f64>>, Vec<Vec<f64>>, Vec<f64>) = (vec![], vec![], vec![]);
    let mut dir = vec![0.0; d];
    let mut alpha = vec![0.0; m];
    let mut iterations = 0;
    let termination = loop {
        if norm_inf(&g) <= opts.gtol {
            break Termination::Gradient;
        }
        if iterations == opts.max_iter {
            break Termination::MaxIter;
        }
        two_loop(&g, &s_hist, &y_hist, &rho, &mut alpha, &mut dir);
        let mut slope = dot(&g, &dir);
        if slope.is_nan() || slope >= 0.0 {
            // Not a descent direction (rounding in H): restart from steepest descent.
            s_hist.clear();
            y_hist.clear();
            rho.clear();
            dir.iter_mut().zip(&g).for_each(|(di, gi)| *di = -gi);
            slope = -dot(&g, &g);
        }
        let t0 = if s_hist.is_empty() { (1.0 / norm2(&dir)).min(1.0) } else { 1.0 };
        let Some(step) = line_search(&mut f, &x, fx, slope, &dir, t0, opts.max_line_evals, &mut evaluations) else {
            break Termination::LineSearch;
        };
        iterations += 1;
        let s: Vec<f64> = dir.iter().map(|di| step.t * di).collect();
        let y: Vec<f64> = step.g.iter().zip(&g).map(|(gn, go)| gn - go).collect();
        let sy = dot(&s, &y);
        if sy > 1e-12 * norm2(&s) * norm2(&y) {
            if s_hist.len() == m {
                s_hist.remove(0);
                y_hist.remove(0);
                rho.remove(0);
            }
            s_hist.push(s);
            y_hist.push(y);
            rho.push(1.0 / sy);
        }
        x.iter_mut().zip(&dir).for_each(|(xi, di)| *xi += step.t * di);
        let f_prev = fx;
        (fx, g) = (step.f, step.g);
        if norm_inf(&g) > opts.gtol && step.t * norm_inf(&dir) <= opts.xtol * norm_inf(&x).max(1.0) {
            break Termination::Step;
        }
        if opts.ftol > 0.0 && f_prev - fx <= opts.ftol * f_prev.abs().max(fx.abs()).max(1.0) {
            break if norm_inf(&g) <= opts.gtol { Termination::Gradient } else { Termination::Decrease };
        }
    };
    let converged = matches!(termination, Termination::Gradient | Termination::Decrease);
    Ok(LbfgsResult { x, value: fx, gradient: g, iterations, evaluations, termination, converged })
}

/// `dir = −H ∇f` by the two-loop recursion over the stored pairs (oldest first).
fn two_loop(g: &[f64], s: &[Vec<f64>], y: &[Vec<f64>], rho: &[f64], alpha: &mut [f64], dir: &mut [f64]) {
    dir.iter_mut().zip(g).for_each(|(di, gi)| *di = -gi);
    for k in (0..s.len()).rev() {
        alpha[k] = rho[k] * dot(&s[k], dir);
        dir.iter_mut().zip(&y[k]).for_each(|(di, yi)| *di -= alpha[k] * yi);
    }
    if let (Some(sl), Some(yl)) = (s.last(), y.last()) {
        let gamma = dot(sl, yl) / dot(yl, yl);
        dir.iter_mut().for_each(|di| *di *= gamma);
    }
    for k in 0..s.len() {
        let beta = rho[k] * dot(&y[k], dir);
        dir.iter_mut().zip(&s[k]).for_each(|(di, si)| *di += (alpha[k] - beta) * si);
    }
}

/// An accepted step: `t`, `f(x + t d)`, `∇f(x + t d)`.
struct Step {
    t: f64,
    f: f64,
    g: Vec<f64>,
}

/// A trial point of the line search: `t`, `φ(t)`, `φ'(t)` and the full gradient.
struct Trial {
    t: f64,
    f: f64,
    df: f64,
    g: Vec<f64>,
}

const C1: f64 = 1e-4;
const C2: f64 = 0.9;

/// Weak-Wolfe line search by bracketing and safeguarded cubic interpolation; `None` when no
/// acceptable step was found within `max_evals` evaluations.
#[allow(clippy::too_many_arguments)]
fn line_search<F>(f: &mut F, x: &[f64], f0: f64, df0: f64, dir: &[f64], t0: f64, max_evals: usize, evaluations: &mut usize) -> Option<Step>
where
    F: FnMut(&[f64]) -> (f64, Vec<f64>),
{
    let mut xt = vec![0.0; x.len()];
    // Sufficient decrease, or Hager–Zhang's approximate version when f is flat to rounding.
    let decrease = |p: &Trial| p.f <= f0 + C1 * p.t * df0 || (p.f <= f0 + 1e-12 * f0.abs() && p.df <= (2.0 * C1 - 1.0) * df0);
    // Invariants: lo satisfies sufficient decrease with φ'(lo) < c₂ φ'(0) < 0 (a minimizer lies
    // beyond it); hi, once set, fails sufficient decrease or is not finite.
    let mut lo = Trial { t: 0.0, f: f0, df: df0, g: vec![] };
    let mut hi: Option<Trial> = None;
    let mut t = t0;
    for _ in 0..max_evals {
        xt.iter_mut().zip(x).zip(dir).for_each(|((xi, x0), di)| *xi = x0 + t * di);
        *evaluations += 1;
        let (v, g) = f(&xt);
        let df = if v.is_finite() && g.iter().all(|gi| gi.is_finite()) { dot(&g, dir) } else { f64::NAN };
        let p = Trial { t, f: if df.is_nan() { f64::NAN } else { v }, df, g };
        if !p.f.is_finite() || !decrease(&p) {
            hi = Some(p);
        } else if p.df < C2 * df0 {
            lo = p;
        } else {
            return Some(Step { t: p.t, f: p.f, g: p.g });
        }
        t = match &hi {
            None => 2.0 * lo.t.max(t0),
            Some(h) => {
                let width = h.t - lo.t;
                if width <= 1e-16 * h.t {
                    break;
                }
                let tc = if h.f.is_finite() { cubic_min(&lo, h) } else { None };
                tc.unwrap_or(lo.t + 0.5 * width).clamp(lo.t + 0.1 * width, h.t - 0.1 * width)
            }
        };
    }
    // Out of evaluations: take lo if it moved (it decreased f sufficiently).
    (lo.t > 0.0).then_some(Step { t: lo.t, f: lo.f, g: lo.g })
}

/// Minimizer of the cubic interpolating `φ` and `φ'` at the two trial points, if it exists.
fn cubic_min(p: &Trial, q: &Trial) -> Option<f64> {
    if !(p.f.is_finite() && q.f.is_finite() && p.df.is_finite() && q.df.is_finite()) {
        return None;
    }
    let d1 = p.df + q.df - 3.0 * (p.f - q.f) / (p.t - q.t);
    let disc = d1 * d1 - p.df * q.df;
    if disc < 0.0 {
        return None;
    }
    let d2 = (q.t - p.t).signum() * disc.sqrt();
    let t = q.t - (q.t - p.t) * (q.df + d2 - d1) / (q.df - p.df + 2.0 * d2);
    t.is_finite().then_some(t)
}

#[inline]
fn dot(x: &[f64], y: &[f64]) -> f64 {
    x.iter().zip(y).map(|(a, b)| a * b).sum()
}

#[inline]
fn norm2(x: &[f64]) -> f64 {
    dot(x, x).sqrt()
}

#[inline]
fn norm_inf(x: &[f64]) -> f64 {
    x.iter().fold(0.0, |s, v| s.max(v.abs()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{Rng, assert_close};

    /// `A = BᵀB + diag(λ)` (B random, λ from 1 down to 1e-3) and `b` for `f(x) = ½ xᵀ A x − bᵀ x`.
    fn quadratic(d: usize, seed: u64) -> (Vec<f64>, Vec<f64>) {
        let mut rng = Rng::new(seed);
        let bm: Vec<f64> = (0..d * d).map(|_| rng.uniform() - 0.5).collect();
        let mut a = vec![0.0; d * d];
        for i in 0..d {
            for j in 0..d {
                a[i * d + j] = (0..d).map(|k| bm[k * d + i] * bm[k * d + j]).sum::<f64>();
            }
            a[i * d + i] += 10f64.powf(-3.0 * i as f64 / (d - 1) as f64);
        }
        let b = (0..d).map(|_| rng.uniform() - 0.5).collect();
        (a, b)
    }

    /// Solves `A x = b` by Gaussian elimination with partial pivoting (reference).
    fn solve(a: &[f64], b: &[f64]) -> Vec<f64> {
        let d = b.len();
        let (mut a, mut x) = (a.to_vec(), b.to_vec());
        for c in 0..d {
            let p = (c..d).max_by(|&i, &j| a[i * d + c].abs().total_cmp(&a[j * d + c].abs())).unwrap();
            for k in 0..d {
                a.swap(c * d + k, p * d + k);
            }
            x.swap(c, p);
            for r in c + 1..d {
                let l = a[r * d + c] / a[c * d + c];
                for k in c..d {
                    a[r * d + k] -= l * a[c * d + k];
                }
                x[r] -= l * x[c];
            }
        }
        for c in (0..d).rev() {
            let s: f64 = (c + 1..d).map(|k| a[c * d + k] * x[k]).sum();
            x[c] = (x[c] - s) / a[c * d + c];
        }
        x
    }

    #[test]
    fn minimizes_a_convex_quadratic() {
        let d = 20;
        let (a, b) = quadratic(d, 11);
        let f = |x: &[f64]| {
            let ax: Vec<f64> = (0..d).map(|i| dot(&a[i * d..(i + 1) * d], x)).collect();
            (0.5 * dot(x, &ax) - dot(&b, x), ax.iter().zip(&b).map(|(p, q)| p - q).collect())
        };
        let opts = LbfgsOptions { gtol: 1e-12, ..Default::default() };
        let r = minimize(f, &vec![0.0; d], &opts).unwrap();
        assert!(r.converged && r.termination == Termination::Gradient, "{:?} after {}", r.termination, r.iterations);
        assert!(r.gradient.iter().all(|g| g.abs() <= 1e-12));
        let x_star = solve(&a, &b);
        assert_close(&r.x, &x_star, 1e-8, "minimizer vs A⁻¹b");
        // L-BFGS on a quadratic with exact-ish line searches behaves like CG: about d steps.
        assert!(r.iterations < 10 * d, "{} iterations", r.iterations);
    }

    fn rosenbrock(x: &[f64]) -> (f64, Vec<f64>) {
        let mut v = 0.0;
        let mut g = vec![0.0; x.len()];
        for i in 0..x.len() - 1 {
            let (p, q) = (x[i + 1] - x[i] * x[i], 1.0 - x[i]);
            v += 100.0 * p * p + q * q;
            g[i] += -400.0 * x[i] * p - 2.0 * q;
            g[i + 1] += 200.0 * p;
        }
        (v, g)
    }

    #[test]
    fn minimizes_the_rosenbrock_function() {
        let opts = LbfgsOptions { gtol: 1e-10, ..Default::default() };
        let r = minimize(rosenbrock, &[-1.2, 1.0], &opts).unwrap();
        assert!(r.converged, "{:?} after {} iterations", r.termination, r.iterations);
        assert_close(&r.x, &[1.0, 1.0], 1e-9, "2-D Rosenbrock minimizer");
        assert!(r.value < 1e-18 && r.iterations < 100, "{} after {} iterations", r.value, r.iterations);
        // The extended (chained) version in 10 dimensions, from a standard start.
        let x0: Vec<f64> = (0..10).map(|i| if i % 2 == 0 { -1.2 } else { 1.0 }).collect();
        let r = minimize(rosenbrock, &x0, &opts).unwrap();
        assert!(r.converged, "{:?} after {} iterations", r.termination, r.iterations);
        assert_close(&r.x, &[1.0; 10], 1e-9, "10-D Rosenbrock minimizer");
    }

    #[test]
    fn the_line_search_keeps_wolfe_steps_and_decreases_f() {
        // Every accepted step decreases f (or keeps it within rounding), so the sequence of values
        // seen at accepted points is non-increasing: record them through the closure.
        let mut seen = vec![];
        let r = minimize(
            |x| {
                let (v, g) = rosenbrock(x);
                seen.push(v);
                (v, g)
            },
            &[-1.2, 1.0],
            &LbfgsOptions::default(),
        )
        .unwrap();
        assert_eq!(seen.len(), r.evaluations);
        assert!(r.value <= seen[0] && seen.iter().all(|&v| v >= r.value));
    }

    #[test]
    fn stops_on_max_iter_and_on_relative_decrease() {
        let r = minimize(rosenbrock, &[-1.2, 1.0], &LbfgsOptions { max_iter: 3, ..Default::default() }).unwrap();
        assert_eq!((r.iterations, r.termination, r.converged), (3, Termination::MaxIter, false));
        let r = minimize(rosenbrock, &[-1.2, 1.0], &LbfgsOptions { ftol: 1e-3, gtol: 0.0, ..Default::default() }).unwrap();
        assert_eq!((r.termination, r.converged), (Termination::Decrease, true));
        // Already optimal: no iteration.
        let r = minimize(rosenbrock, &[1.0, 1.0], &LbfgsOptions::default()).unwrap();
        assert_eq!((r.iterations, r.evaluations, r.termination), (0, 1, Termination::Gradient));
    }

    #[test]
    fn a_kink_ends_in_a_line_search_failure_near_the_minimizer() {
        // f(x) = |x_0| + x_1², non-smooth at its minimizer 0.
        let f = |x: &[f64]| (x[0].abs() + x[1] * x[1], vec![x[0].signum(), 2.0 * x[1]]);
        let r = minimize(f, &[0.7, -0.3], &LbfgsOptions { gtol: 1e-12, ..Default::default() }).unwrap();
        assert!(!r.converged);
        assert!(matches!(r.termination, Termination::LineSearch | Termination::Step | Termination::MaxIter));
        assert!(r.value < 1e-6, "{}", r.value);
    }

    #[test]
    fn bad_inputs_are_errors() {
        let ok = LbfgsOptions::default();
        assert!(matches!(minimize(rosenbrock, &[], &ok), Err(Error::Empty { .. })));
        for bad in [
            LbfgsOptions { memory: 0, ..ok },
            LbfgsOptions { max_iter: 0, ..ok },
            LbfgsOptions { max_line_evals: 0, ..ok },
            LbfgsOptions { gtol: -1.0, ..ok },
            LbfgsOptions { ftol: f64::NAN, ..ok },
        ] {
            assert!(matches!(minimize(rosenbrock, &[0.0, 0.0], &bad), Err(Error::Option { .. })), "{bad:?}");
        }
        let nan = |_: &[f64]| (f64::NAN, vec![0.0]);
        assert!(matches!(minimize(nan, &[0.0], &ok), Err(Error::NonFinite { .. })));
    }
}
