//! The linear model with squared loss, and solvers for `min_w f(w) + λ r(w)` with a library
//! regularizer `r` (the lasso when `r = ‖·‖₁`, the `l1` entry of the registry).
//!
//! ## The model
//! `f(w) = 1/(2n) ‖X w − y‖₂²` with `X ∈ R^{n×d}` (row-major), `y ∈ R^n`, `w ∈ R^d`;
//! `∇f(w) = Xᵀ(X w − y)/n`. `∇f` is Lipschitz with constant `L = σ_max(X)²/n` (the largest
//! eigenvalue of `XᵀX/n`), computed by power iteration ([`LeastSquares::lipschitz`]). For the
//! lasso, `λ_max = ‖Xᵀy‖_∞/n` is the smallest λ whose solution is `w = 0`.
//!
//! ## Precision
//! The parameters are `f32`, as a network's weights are: the library's regularizers act on `f32`
//! tensors through [`reglab_core::Regularizer`], and the solvers call them exactly as training
//! does. Every sum (`X w`, `Xᵀ r`, objectives, norms, updates before rounding) is `f64`, and
//! the result of each update is rounded once to `f32`. A solver's answer is therefore exact to
//! about `f32` precision; [`lasso_cd`] gives an `f64` reference solution.
//!
//! ## Solvers (all start from `w = 0`)
//! - [`subgradient`]: `w ← w − η_t (∇f(w) + λ s(w))`, `s(w)` the (sub)gradient the regularizer's
//!   `eval` adds (for `l1`: `sign(w)` with `sign(0) = 0`, what autograd gives for `|w|`). This is
//!   what a training loop does with `loss + λ‖w‖₁` and plain gradient descent. Step rules
//!   ([`StepRule`]): `constant` (`η_t = η`, default `η = 1/L`), `sqrt` (`η_t = η/√(t+1)`,
//!   `t = 0, 1, …`, default `η = 1/L`), and `adam` (Adam on the same subgradient with PyTorch's
//!   defaults `β₁ = 0.9`, `β₂ = 0.999`, `ε = 10⁻⁸`; default learning rate `10⁻³`). It runs exactly
//!   the number of iterations asked (there is no convergence test that a subgradient method could
//!   pass: its step does not vanish at the minimum) and returns the last iterate.
//! - [`proximal`]: ISTA `w⁺ = prox_{ηλr}(y − η∇f(y))` with `y = w` (proximal gradient), or FISTA
//!   (Beck & Teboulle 2009) with `y = w_k + ((t_k − 1)/t_{k+1}) (w_k − w_{k−1})`,
//!   `t_{k+1} = (1 + √(1 + 4 t_k²))/2`, `t_1 = 1`; the prox is the regularizer's own
//!   [`Regularizer::prox`] (for `l1`: soft-thresholding by `ηλ`, exact zeros). Default step
//!   `η = 1/L`. Stops at the first iteration with `‖w⁺ − y‖₂ ≤ tol · ‖w⁺‖₂` (the proximal-gradient
//!   step from `y` moved less than `tol` relative to the iterate: `‖w⁺ − y‖/η` is the norm of the
//!   gradient mapping, zero exactly at a minimizer), or after `max_iterations`.
//! - [`lasso_cd`]: cyclic coordinate descent for the lasso in `f64` (the reference; independent
//!   of the library's prox): `w_j ← S(X_jᵀ r_j/n, λ) / (‖X_j‖²/n)`, `S(a, λ) = sign(a) max(|a| − λ, 0)`,
//!   `r_j` the residual without feature `j`, until a sweep changes no entry by more than
//!   `tol · max_j |w_j|`.
//!
//! ## Optimality ([`l1_kkt_residual`])
//! `w` minimizes `f + λ‖·‖₁` iff `0 ∈ ∇f(w) + λ ∂‖w‖₁`: `∇f(w)_j = −λ sign(w_j)` where `w_j ≠ 0`
//! and `|∇f(w)_j| ≤ λ` where `w_j = 0`. The residual is the ∞-norm of the smallest element of
//! `∇f(w) + λ ∂‖w‖₁`: `max_j` of `|∇f(w)_j + λ sign(w_j)|` (`w_j ≠ 0`) and
//! `max(|∇f(w)_j| − λ, 0)` (`w_j = 0`).

use crate::synthetic::Regression;
use reglab_core::{Layout, Mode, Regularizer, Role, Target, TargetGrad, TargetMut};

/// Power-iteration tolerance on the relative change of the eigenvalue estimate.
const POWER_TOL: f64 = 1e-13;
/// Most power iterations.
const POWER_MAX_ITERS: usize = 100_000;
/// Name of the parameter tensor the regularizer sees.
const PARAM: &str = "w";

/// `f(w) = 1/(2n) ‖X w − y‖₂²`. See the module documentation.
#[derive(Debug, Clone, PartialEq)]
pub struct LeastSquares {
    n: usize,
    d: usize,
    /// Row-major `[n, d]`.
    x: Vec<f64>,
    y: Vec<f64>,
}

impl LeastSquares {
    /// The model on `X` (row-major `[n, d]`) and `y` (`[n]`); an error on inconsistent sizes or
    /// non-finite values.
    pub fn new(n: usize, d: usize, x: Vec<f64>, y: Vec<f64>) -> Result<Self, String> {
        if n == 0 || d == 0 {
            return Err(format!("least squares needs n ≥ 1 and d ≥ 1, got n = {n}, d = {d}"));
        }
        if x.len() != n * d || y.len() != n {
            return Err(format!("X has {} entries and y {}, expected n·d = {} and n = {n}", x.len(), y.len(), n * d));
        }
        if !x.iter().chain(&y).all(|v| v.is_finite()) {
            return Err("X or y has a non-finite entry".into());
        }
        Ok(LeastSquares { n, d, x, y })
    }

    /// The model of a synthetic regression problem.
    pub fn from_regression(p: &Regression) -> Self {
        LeastSquares { n: p.n, d: p.d, x: p.x.clone(), y: p.y.clone() }
    }

    /// Examples n.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Features d.
    pub fn d(&self) -> usize {
        self.d
    }

    /// `out = X v` (`v` of length d, `out` of length n).
    pub fn apply(&self, v: &[f64], out: &mut [f64]) {
        for (row, o) in self.x.chunks_exact(self.d).zip(out.iter_mut()) {
            *o = row.iter().zip(v).map(|(a, b)| a * b).sum();
        }
    }

    /// `out = Xᵀ r` (`r` of length n, `out` of length d).
    pub fn apply_t(&self, r: &[f64], out: &mut [f64]) {
        out.fill(0.0);
        for (row, &ri) in self.x.chunks_exact(self.d).zip(r) {
            for (o, &a) in out.iter_mut().zip(row) {
                *o += ri * a;
            }
        }
    }

    /// `f(w)`.
    pub fn value(&self, w: &[f64]) -> f64 {
        let mut r = vec![0.0; self.n];
        self.apply(w, &mut r);
        r.iter().zip(&self.y).map(|(a, b)| (a - b) * (a - b)).sum::<f64>() / (2.0 * self.n as f64)
    }

    /// `f(w)`, and `∇f(w) = Xᵀ(X w − y)/n` into `grad` (length d).
    pub fn value_grad(&self, w: &[f64], grad: &mut [f64]) -> f64 {
        let mut r = vec![0.0; self.n];
        self.apply(w, &mut r);
        let mut s = 0.0;
        for (ri, yi) in r.iter_mut().zip(&self.y) {
            *ri -= yi;
            s += *ri * *ri;
        }
        self.apply_t(&r, grad);
        let inv_n = 1.0 / self.n as f64;
        grad.iter_mut().for_each(|g| *g *= inv_n);
        s * 0.5 * inv_n
    }

    /// `L = σ_max(X)²/n`, the Lipschitz constant of `∇f`, by power iteration on `XᵀX/n` from a
    /// fixed start (`v_j = 1 + j/d`), until the estimate changes by less than 10⁻¹³ relative.
    /// The estimate approaches `L` from below.
    pub fn lipschitz(&self) -> f64 {
        let d = self.d;
        let mut v: Vec<f64> = (0..d).map(|j| 1.0 + j as f64 / d as f64).collect();
        let mut xv = vec![0.0; self.n];
        let mut w = vec![0.0; d];
        let mut est = 0.0;
        for _ in 0..POWER_MAX_ITERS {
            let nv = v.iter().map(|a| a * a).sum::<f64>().sqrt();
            if nv == 0.0 {
                return 0.0;
            }
            v.iter_mut().for_each(|a| *a /= nv);
            self.apply(&v, &mut xv);
            // Rayleigh quotient ‖X v‖²/n with ‖v‖ = 1
            let next = xv.iter().map(|a| a * a).sum::<f64>() / self.n as f64;
            self.apply_t(&xv, &mut w);
            std::mem::swap(&mut v, &mut w);
            let done = (next - est).abs() <= POWER_TOL * next;
            est = next;
            if done {
                break;
            }
        }
        est
    }

    /// `λ_max = ‖Xᵀy‖_∞/n`: the lasso solution is 0 exactly for `λ ≥ λ_max`.
    pub fn lambda_max(&self) -> f64 {
        let mut g = vec![0.0; self.d];
        self.apply_t(&self.y, &mut g);
        g.iter().fold(0.0f64, |m, v| m.max(v.abs())) / self.n as f64
    }
}

/// The step rule of [`subgradient`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepRule {
    /// `η_t = η`.
    Constant,
    /// `η_t = η/√(t+1)`.
    Sqrt,
    /// Adam (PyTorch defaults) with learning rate `η`.
    Adam,
}

impl StepRule {
    /// `constant`, `sqrt`, `adam`.
    pub fn name(self) -> &'static str {
        match self {
            StepRule::Constant => "constant",
            StepRule::Sqrt => "sqrt",
            StepRule::Adam => "adam",
        }
    }

    /// Parse a name.
    pub fn parse(s: &str) -> Option<StepRule> {
        match s {
            "constant" => Some(StepRule::Constant),
            "sqrt" => Some(StepRule::Sqrt),
            "adam" => Some(StepRule::Adam),
            _ => None,
        }
    }

    /// The default `η` given `L`: `1/L` for `constant` and `sqrt`, `10⁻³` for `adam`.
    pub fn default_step(self, lipschitz: f64) -> f64 {
        match self {
            StepRule::Adam => ADAM_DEFAULT_LR,
            _ => 1.0 / lipschitz,
        }
    }
}

/// Adam's default learning rate (PyTorch's).
pub const ADAM_DEFAULT_LR: f64 = 1e-3;
const ADAM_BETA1: f64 = 0.9;
const ADAM_BETA2: f64 = 0.999;
const ADAM_EPS: f64 = 1e-8;

/// What a solver returns.
#[derive(Debug, Clone, PartialEq)]
pub struct Solution {
    /// The parameters, as stored (`f32`).
    pub w: Vec<f32>,
    /// Iterations done.
    pub iterations: usize,
    /// Whether the stopping rule was met (`None` for [`subgradient`], which has none).
    pub converged: Option<bool>,
    /// `f(w) + λ r(w)`.
    pub objective: f64,
}

fn to_f64(w: &[f32]) -> Vec<f64> {
    w.iter().map(|&v| v as f64).collect()
}

fn shape_of(d: usize) -> [usize; 1] {
    [d]
}

/// `r(w)` from the regularizer, with `scale · ∂r(w)` added into `grad` when given.
fn reg_eval(reg: &mut dyn Regularizer, w: &[f32], grad: Option<&mut [f32]>, scale: f32) -> Result<f64, String> {
    let shape = shape_of(w.len());
    let target = Target { name: PARAM, role: Role::Other, weight: reglab_core::TensorRef::new(&shape, w), bias: None, init: None };
    let r = match grad {
        Some(g) => {
            let mut tg = TargetGrad { weight: g, bias: None };
            reg.eval(&target, Some(&mut tg), scale, Mode::Exact)
        }
        None => reg.eval(&target, None, scale, Mode::Exact),
    };
    r.map_err(|e| e.to_string())
}

/// `F(w) = f(w) + λ r(w)` for `f32` parameters.
pub fn objective(ls: &LeastSquares, reg: &mut dyn Regularizer, lambda: f64, w: &[f32]) -> Result<f64, String> {
    Ok(ls.value(&to_f64(w)) + lambda * reg_eval(reg, w, None, 1.0)?)
}

fn check_common(ls: &LeastSquares, lambda: f64, step: f64) -> Result<(), String> {
    if !(lambda >= 0.0 && lambda.is_finite()) {
        return Err(format!("λ must be finite and ≥ 0, got {lambda}"));
    }
    if !(step > 0.0 && step.is_finite()) {
        return Err(format!("the step must be finite and > 0, got {step}"));
    }
    if ls.d == 0 {
        return Err("no parameters".into());
    }
    Ok(())
}

/// Subgradient descent on `f + λ r` from `w = 0` for exactly `iterations` steps, with `η` =
/// `step` and the rule `rule`; returns the last iterate. See the module documentation.
pub fn subgradient(
    ls: &LeastSquares,
    reg: &mut dyn Regularizer,
    lambda: f64,
    rule: StepRule,
    step: f64,
    iterations: usize,
) -> Result<Solution, String> {
    check_common(ls, lambda, step)?;
    let d = ls.d;
    let mut w32 = vec![0.0f32; d];
    let mut w = vec![0.0f64; d];
    let mut g = vec![0.0f64; d];
    let mut sub = vec![0.0f32; d];
    let (mut m, mut v) = (vec![0.0f64; d], vec![0.0f64; d]);
    let (mut b1t, mut b2t) = (1.0f64, 1.0f64);
    for t in 0..iterations {
        ls.value_grad(&w, &mut g);
        sub.fill(0.0);
        reg_eval(reg, &w32, Some(&mut sub), lambda as f32)?;
        match rule {
            StepRule::Constant | StepRule::Sqrt => {
                let eta = if rule == StepRule::Sqrt { step / ((t + 1) as f64).sqrt() } else { step };
                for j in 0..d {
                    w[j] -= eta * (g[j] + sub[j] as f64);
                }
            }
            StepRule::Adam => {
                b1t *= ADAM_BETA1;
                b2t *= ADAM_BETA2;
                for j in 0..d {
                    let gj = g[j] + sub[j] as f64;
                    m[j] = ADAM_BETA1 * m[j] + (1.0 - ADAM_BETA1) * gj;
                    v[j] = ADAM_BETA2 * v[j] + (1.0 - ADAM_BETA2) * gj * gj;
                    let (mh, vh) = (m[j] / (1.0 - b1t), v[j] / (1.0 - b2t));
                    w[j] -= step * mh / (vh.sqrt() + ADAM_EPS);
                }
            }
        }
        for (a, b) in w32.iter_mut().zip(w.iter_mut()) {
            *a = *b as f32;
            *b = *a as f64;
        }
        if !w.iter().all(|x| x.is_finite()) {
            return Err(format!("subgradient descent diverged at iteration {} (step {step} too large?)", t + 1));
        }
    }
    let objective = objective(ls, reg, lambda, &w32)?;
    Ok(Solution { w: w32, iterations, converged: None, objective })
}

/// ISTA (`accelerated = false`) or FISTA (`true`) on `f + λ r` from `w = 0` with step `step`,
/// using the regularizer's proximal step; stops when `‖w⁺ − y‖₂ ≤ tol · ‖w⁺‖₂` or after
/// `max_iterations`. See the module documentation.
pub fn proximal(
    ls: &LeastSquares,
    reg: &mut dyn Regularizer,
    lambda: f64,
    accelerated: bool,
    step: f64,
    max_iterations: usize,
    tol: f64,
) -> Result<Solution, String> {
    check_common(ls, lambda, step)?;
    if !reg.has_prox() {
        return Err(format!("regularizer `{}` has no proximal step", reg.name()));
    }
    let d = ls.d;
    let shape = shape_of(d);
    let mut x = vec![0.0f32; d];
    let mut x_prev = vec![0.0f32; d];
    let mut y = vec![0.0f64; d];
    let mut g = vec![0.0f64; d];
    let mut u = vec![0.0f32; d];
    let mut t_k = 1.0f64;
    let s = (step * lambda) as f32;
    let mut converged = false;
    let mut iterations = 0;
    while iterations < max_iterations {
        iterations += 1;
        ls.value_grad(&y, &mut g);
        for j in 0..d {
            u[j] = (y[j] - step * g[j]) as f32;
        }
        {
            let mut tm = TargetMut { name: PARAM, role: Role::Other, shape: &shape, layout: Layout::RowMajor, weight: &mut u };
            reg.prox(&mut tm, s).map_err(|e| e.to_string())?;
        }
        if !u.iter().all(|v| v.is_finite()) {
            return Err(format!("the proximal method diverged at iteration {iterations} (step {step} too large?)"));
        }
        std::mem::swap(&mut x_prev, &mut x);
        x.copy_from_slice(&u);
        let moved = x.iter().zip(&y).map(|(&a, &b)| (a as f64 - b) * (a as f64 - b)).sum::<f64>().sqrt();
        let size = x.iter().map(|&a| a as f64 * a as f64).sum::<f64>().sqrt();
        if moved <= tol * size {
            converged = true;
            break;
        }
        if accelerated {
            let t_next = (1.0 + (1.0 + 4.0 * t_k * t_k).sqrt()) / 2.0;
            let beta = (t_k - 1.0) / t_next;
            for j in 0..d {
                y[j] = x[j] as f64 + beta * (x[j] as f64 - x_prev[j] as f64);
            }
            t_k = t_next;
        } else {
            for j in 0..d {
                y[j] = x[j] as f64;
            }
        }
    }
    let objective = objective(ls, reg, lambda, &x)?;
    Ok(Solution { w: x, iterations, converged: Some(converged), objective })
}

/// The `f64` lasso reference of [`lasso_cd`].
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    /// The solution.
    pub w: Vec<f64>,
    /// Sweeps over the coordinates.
    pub sweeps: usize,
    /// Whether the stopping rule was met.
    pub converged: bool,
    /// `f(w) + λ‖w‖₁`.
    pub objective: f64,
}

/// Cyclic coordinate descent for `f(w) + λ‖w‖₁` in `f64` from `w = 0`, until a sweep changes no
/// entry by more than `tol · max_j |w_j|` (or `max_sweeps`). The residual is recomputed from
/// scratch at the start of every sweep (no drift). Columns of `X` that are exactly zero keep
/// `w_j = 0`.
pub fn lasso_cd(ls: &LeastSquares, lambda: f64, tol: f64, max_sweeps: usize) -> Reference {
    let (n, d) = (ls.n, ls.d);
    let inv_n = 1.0 / n as f64;
    let col_sq: Vec<f64> = (0..d).map(|j| (0..n).map(|i| ls.x[i * d + j] * ls.x[i * d + j]).sum::<f64>() * inv_n).collect();
    let mut w = vec![0.0f64; d];
    let mut r = vec![0.0f64; n];
    let mut converged = false;
    let mut sweeps = 0;
    while sweeps < max_sweeps {
        sweeps += 1;
        // r = y − X w
        ls.apply(&w, &mut r);
        for (ri, yi) in r.iter_mut().zip(&ls.y) {
            *ri = yi - *ri;
        }
        let mut max_delta = 0.0f64;
        for j in 0..d {
            if col_sq[j] == 0.0 {
                continue;
            }
            let mut a = 0.0;
            for (row, ri) in ls.x.chunks_exact(d).zip(&r) {
                a += row[j] * ri;
            }
            let a = a * inv_n + col_sq[j] * w[j];
            let new = soft(a, lambda) / col_sq[j];
            let delta = new - w[j];
            if delta != 0.0 {
                for (row, ri) in ls.x.chunks_exact(d).zip(r.iter_mut()) {
                    *ri -= row[j] * delta;
                }
                w[j] = new;
                max_delta = max_delta.max(delta.abs());
            }
        }
        let size = w.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        if max_delta <= tol * size {
            converged = true;
            break;
        }
    }
    let objective = ls.value(&w) + lambda * w.iter().map(|v| v.abs()).sum::<f64>();
    Reference { w, sweeps, converged, objective }
}

/// `sign(a) max(|a| − λ, 0)`.
fn soft(a: f64, lambda: f64) -> f64 {
    if a > lambda {
        a - lambda
    } else if a < -lambda {
        a + lambda
    } else {
        0.0
    }
}

/// The lasso's KKT residual at `w` (see the module documentation): 0 exactly at a minimizer of
/// `f + λ‖·‖₁`.
pub fn l1_kkt_residual(ls: &LeastSquares, w: &[f64], lambda: f64) -> f64 {
    let mut g = vec![0.0; ls.d];
    ls.value_grad(w, &mut g);
    g.iter().zip(w).map(|(&gj, &wj)| if wj == 0.0 { (gj.abs() - lambda).max(0.0) } else { (gj + lambda * wj.signum()).abs() }).fold(0.0f64, f64::max)
}

/// Entries exactly 0.
pub fn exact_zeros<T: Copy + Into<f64>>(w: &[T]) -> usize {
    w.iter().filter(|&&v| v.into() == 0.0).count()
}

/// Entries with `|w_j| < threshold` (the exact zeros included).
pub fn below<T: Copy + Into<f64>>(w: &[T], threshold: f64) -> usize {
    w.iter().filter(|&&v| v.into().abs() < threshold).count()
}

/// `‖w‖₁` in `f64`.
pub fn l1_norm<T: Copy + Into<f64>>(w: &[T]) -> f64 {
    w.iter().map(|&v| v.into().abs()).sum()
}

#[cfg(test)]
mod tests;
