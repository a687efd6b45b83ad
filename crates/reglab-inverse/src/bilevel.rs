//! Learning the TV strength from training images: bilevel learning by MAID, the method of
//! adaptive inexact descent (Salehi, Mukherjee, Roberts & Ehrhardt, "An adaptively inexact
//! first-order method for bilevel optimization with application to hyperparameter learning",
//! SIAM J. Math. Data Sci. 2025, arXiv:2308.10098; catalog #14).
//!
//! **The problem.** Training pairs `(y_s, x†_s)`, `s = 1..S`: data `y_s ∈ ℝᵐ` of a known image
//! `x†_s ∈ ℝⁿ` under the forward operator `A` (`n = rows·cols`). With `θ = log λ`,
//!
//! `min_θ  f(θ) = (1/S) Σ_s ‖x̂_s(θ) − x†_s‖² / (2n)`  (upper level: mean squared error / 2),
//!
//! `x̂_s(θ) = argmin_x  g_s(x, θ) = ½‖Ax − y_s‖² + e^θ TV_ν(x) + (μ/2)‖x‖²`  (lower level),
//!
//! with the smoothed TV of [`crate::smooth_tv`] (smoothing `ν > 0`) and a small ridge `μ > 0`
//! that makes `g_s` `μ`-strongly convex (few-view `AᵀA` is singular), so `x̂_s` is unique and
//! `‖x − x̂_s‖ ≤ ‖∇ₓg_s(x)‖/μ` for every `x`.
//!
//! **The hypergradient** (implicit function theorem): `∇ₓg_s(x̂_s, θ) = 0` gives
//! `dx̂_s/dθ = −H_s⁻¹ b_s` with `H_s = ∇²ₓₓg_s = AᵀA + e^θ∇²TV_ν(x̂_s) + μI` and
//! `b_s = ∂_θ∇ₓg_s = e^θ ∇TV_ν(x̂_s)`, so
//!
//! `f'(θ) = −Σ_s q_sᵀ b_s`,  `H_s q_s = ∇_{x_s} f = (x̂_s − x†_s)/(nS)`.
//!
//! MAID evaluates it inexactly: `x̃_s` from the lower-level solver (L-BFGS, [`crate::lbfgs`]) run
//! until `‖∇ₓg_s(x̃_s)‖ ≤ ε ‖∇ₓg_s(0)‖` (accuracy `ε` relative to the gradient at the start, so it
//! does not depend on the scale of `A` and `y`); `q̃_s` from conjugate gradients run until the
//! residual `‖H̃_s q̃_s − ∇f‖ ≤ δ ‖∇f‖`; `h̃ = −Σ_s q̃_sᵀ b̃_s`.
//!
//! **The algorithm** (the paper's Algorithms 1–3, the constants of the official code
//! `MohammadSadeghSalehi/MAID`, `MAID.py` at 208d073, read for this implementation):
//!
//! 1. *Inexact hypergradient with an accuracy test*: compute `h̃` at accuracies `(ε, δ)` and an
//!    error bound `ω ≈ |h̃ − f'(θ)|` (below); while `ω/|h̃| > 1 − η`, shrink `ε ← τε`, `δ ← τδ`
//!    and recompute (`MAID.inexact_gradient`).
//! 2. *Inexact backtracking*: try `θ' = θ − βρⁱ h̃`, `i = 0, 1, …, 9 + j` (`j` the retry below),
//!    with `x̃'` from the lower level at `θ'` to accuracy `ε`, and accept the first `i` with
//!    `f̃(θ') + E(x̃') − f̃(θ) + E(x̃) ≤ −η βρⁱ h̃²`, where `E(x̃) = Σ_s (‖∇_{x_s}f(x̃)‖ e_s + e_s²/(2nS))`
//!    bounds `|f(θ) − f̃(θ)|` when `‖x̃_s − x̂_s‖ ≤ e_s` (`f̃` = `f` at `x̃`), so acceptance means a
//!    decrease of the true `f` (`MAID.backtrack`; the code multiplies by `η²`, we keep the
//!    paper's `η`).
//! 3. *Adaptive accuracy and step*: on acceptance `ε ← ν ε`, `δ ← ν δ` (`ν = 1.05`, loosen) and
//!    `β ← βρⁱ·10/9`; if no `i` is accepted, `ε ← τε`, `δ ← τδ` and go back to 1, at most
//!    3 times per iteration (`max_bt_loop`) (`MAID.main`).
//!
//! Defaults as the official code's TV example where they carry over: `η = 10⁻⁴`, `ρ = 0.5`,
//! `τ = 0.5`, `ν = 1.05`. Its `ε₀ = δ₀ = 10⁻¹` are absolute (its images are denoised, `A = I`);
//! ours are relative, default `10⁻²`. The first step is `β = step0/|h̃₀|` (a change of `log λ` by
//! `step0`) instead of a fixed `β = 0.01`, because our `f` is a per-pixel mean and the size of
//! `h̃` depends on the images.
//!
//! **The error estimates.** `e_s = ‖∇ₓg_s(x̃_s)‖ / μ̂_s` bounds `‖x̃_s − x̂_s‖` when `μ̂_s` is the
//! strong-convexity modulus of `g_s`; we take for `μ̂_s` the smallest Rayleigh quotient `dᵀH_sd/dᵀd`
//! over the CG directions of the last hypergradient (an estimate of `H_s`'s smallest eigenvalue
//! from above, never below the ridge `μ`, which is the guaranteed but, for few-view `A`, very
//! pessimistic modulus). The hypergradient's error is estimated by three terms per sample,
//! `ω = Σ_s [ ‖b̃_s‖ (δ‖∇f‖ + e_s/(nS)) / μ̂_s + ‖q̃_s‖ L̂_s e_s ]`: the error of `q̃_s` through the
//! linear-system residual and through `∇f` at `x̃_s`, times `‖b_s‖`; and the error of `b` at `x̃_s`,
//! with `L̂_s = ‖b(x̃_s + e_s r) − b(x̃_s)‖/e_s` for one random unit `r` (a local secant estimate of
//! `b`'s Lipschitz constant, as the official code probes its constants with one random
//! perturbation). The term of the paper's bound in the Lipschitz constant of the Hessian is left
//! out (for `TV_ν` it is `O(e^θ/ν²)`, a worst case that would force `ε` to rounding level). So `ω`
//! and `E` are estimates, as the official code's.
//!
//! **Stopping.** After `max_iter` upper-level iterations, or after an accepted step that moves
//! `θ` by less than `theta_tol` (default `10⁻³`, λ by 0.1 %).
//!
//! **Cost.** Every lower-level evaluation and every CG iteration applies `A` and `Aᵀ` once:
//! [`MaidResult::operator_pairs`] counts them (the unit in which a grid search over `λ` is
//! compared).

use crate::error::{Error, Result, check_finite};
use crate::lbfgs::minimize;
use crate::operator::{LinearOperator, dot};
use crate::phantom::Rng;
use crate::smooth_tv::{SmoothTv, SmoothTvAt};

/// One training pair: data `y_s = A x†_s + noise` and the image `x†_s`.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingPair {
    /// `y_s ∈ ℝᵐ`.
    pub data: Vec<f64>,
    /// `x†_s ∈ ℝⁿ`.
    pub truth: Vec<f64>,
}

/// The bilevel problem of learning `θ = log λ` of smoothed-TV reconstruction (see the
/// [module docs](self)).
pub struct TvBilevel<'a, A: LinearOperator> {
    op: &'a A,
    tv: SmoothTv,
    mu: f64,
    pairs: Vec<TrainingPair>,
    /// `‖∇ₓg_s(0)‖ = ‖Aᵀy_s‖`, the scale of the lower-level accuracy.
    grad0: Vec<f64>,
}

impl<A: LinearOperator> std::fmt::Debug for TvBilevel<'_, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TvBilevel").field("pairs", &self.pairs.len()).field("nu", &self.tv.nu()).field("mu", &self.mu).finish()
    }
}

/// Lower-level solutions `x̃_s` at one `θ`.
#[derive(Debug, Clone)]
pub struct LowerSolutions {
    /// `x̃_s`, one per training pair.
    pub xs: Vec<Vec<f64>>,
    /// Evaluations of `g_s` and its gradient (each applies `A` and `Aᵀ` once).
    pub evaluations: usize,
    /// `‖∇ₓg_s(x̃_s)‖`, one per training pair.
    pub grad_norms: Vec<f64>,
    /// Whether every solve met its tolerance (not: it hit `max_iter` or rounding).
    pub converged: bool,
}

/// An inexact hypergradient and its error bound.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hypergradient {
    /// `h̃ ≈ f'(θ)`.
    pub value: f64,
    /// The error bound estimate `ω` (see the [module docs](self)).
    pub bound: f64,
    /// CG iterations over all pairs (each applies `A` and `Aᵀ` once).
    pub cg_iterations: usize,
}

/// The estimate `μ̂_s` of each lower level's strong-convexity modulus (see the [module docs](self)).
pub type Moduli = Vec<f64>;

impl<'a, A: LinearOperator> TvBilevel<'a, A> {
    /// The problem for `rows × cols` images under `op`, smoothing `ν`, ridge `μ` and the training
    /// pairs; `Err` on empty or mismatched pairs, non-finite values, or `ν, μ` not finite `> 0`.
    pub fn new(op: &'a A, rows: usize, cols: usize, nu: f64, mu: f64, pairs: Vec<TrainingPair>) -> Result<Self> {
        let tv = SmoothTv::new(rows, cols, nu)?;
        if op.input_len() != rows * cols {
            return Err(Error::Length { what: "operator input", expected: rows * cols, len: op.input_len() });
        }
        if !(mu > 0.0 && mu.is_finite()) {
            return Err(Error::Option { name: "mu", why: format!("the ridge must be finite and > 0, got {mu}") });
        }
        if pairs.is_empty() {
            return Err(Error::Empty { what: "training pairs" });
        }
        for p in &pairs {
            if p.data.len() != op.output_len() {
                return Err(Error::Length { what: "training data", expected: op.output_len(), len: p.data.len() });
            }
            if p.truth.len() != rows * cols {
                return Err(Error::Length { what: "training image", expected: rows * cols, len: p.truth.len() });
            }
            check_finite("training data", &p.data)?;
            check_finite("training image", &p.truth)?;
        }
        let grad0 = pairs.iter().map(|p| op.transpose(&p.data).map(|g| dot(&g, &g).sqrt())).collect::<Result<Vec<f64>>>()?;
        Ok(Self { op, tv, mu, pairs, grad0 })
    }

    /// `S`, the number of training pairs.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Always false (construction refuses no pairs).
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    fn n(&self) -> usize {
        self.tv.len()
    }

    /// `g_s(x, θ)`, writing `∇ₓg_s` into `grad`.
    fn lower(&self, s: usize, lambda: f64, x: &[f64], grad: &mut [f64]) -> f64 {
        let y = &self.pairs[s].data;
        let mut r = self.op.forward(x).expect("length checked");
        for (ri, yi) in r.iter_mut().zip(y) {
            *ri -= yi;
        }
        self.op.adjoint(&r, grad);
        let at = self.tv.at(x);
        let mut gtv = vec![0.0; x.len()];
        at.gradient(&mut gtv);
        for k in 0..x.len() {
            grad[k] += lambda * gtv[k] + self.mu * x[k];
        }
        0.5 * dot(&r, &r) + lambda * at.value() + 0.5 * self.mu * dot(x, x)
    }

    /// `x̃_s` at `θ` to relative accuracy `ε` (`‖∇ₓg_s(x̃_s)‖ ≤ ε‖∇ₓg_s(0)‖`), warm-started from
    /// `start` (zeros if `None`), at most `max_iter` L-BFGS iterations per pair.
    pub fn solve_lower(&self, theta: f64, start: Option<&[Vec<f64>]>, eps: f64, max_iter: usize) -> LowerSolutions {
        let lambda = theta.exp();
        let mut out = LowerSolutions { xs: Vec::with_capacity(self.len()), evaluations: 0, grad_norms: Vec::new(), converged: true };
        for s in 0..self.len() {
            let x0 = start.map(|st| st[s].clone()).unwrap_or_else(|| vec![0.0; self.n()]);
            let m = minimize(|x, g| self.lower(s, lambda, x, g), x0, eps * self.grad0[s], max_iter, 10);
            out.evaluations += m.evaluations;
            out.grad_norms.push(m.grad_norm);
            out.converged &= m.converged;
            out.xs.push(m.x);
        }
        out
    }

    /// `‖x_s − x†_s‖²`, one per training pair: what [`upper`](Self::upper) and
    /// [`value_error`](Self::value_error) are made of.
    fn squared_errors(&self, xs: &[Vec<f64>]) -> Vec<f64> {
        xs.iter().zip(&self.pairs).map(|(x, p)| x.iter().zip(&p.truth).map(|(a, b)| (a - b) * (a - b)).sum::<f64>()).collect()
    }

    /// `f` at the lower-level solutions: `(1/S) Σ_s ‖x_s − x†_s‖²/(2n)`.
    pub fn upper(&self, xs: &[Vec<f64>]) -> f64 {
        self.upper_of(&self.squared_errors(xs))
    }

    fn upper_of(&self, squared_errors: &[f64]) -> f64 {
        squared_errors.iter().sum::<f64>() * (1.0 / (2.0 * self.n() as f64 * self.len() as f64))
    }

    /// `E(x̃) = Σ_s (‖∇_{x_s} f‖ e_s + e_s²/(2nS))`, `e_s = ‖∇ₓg_s(x̃_s)‖/μ̂_s`: a bound on `|f − f̃|`
    /// when every `‖x̃_s − x̂_s‖ ≤ e_s`.
    pub fn value_error(&self, sol: &LowerSolutions, moduli: &[f64]) -> f64 {
        self.value_error_of(&self.squared_errors(&sol.xs), sol, moduli)
    }

    fn value_error_of(&self, squared_errors: &[f64], sol: &LowerSolutions, moduli: &[f64]) -> f64 {
        let scale = 1.0 / (self.n() as f64 * self.len() as f64);
        squared_errors
            .iter()
            .zip(sol.grad_norms.iter().zip(moduli))
            .map(|(sq, (g, m))| {
                let e = g / m;
                sq.sqrt() * scale * e + e * e * scale / 2.0
            })
            .sum()
    }

    /// `(f̃, f̃ + E)`: the upper loss at `sol` and that plus its error bound, from one pass over
    /// the images.
    fn upper_and_bound(&self, sol: &LowerSolutions, moduli: &[f64]) -> (f64, f64) {
        let sq = self.squared_errors(&sol.xs);
        let f = self.upper_of(&sq);
        (f, f + self.value_error_of(&sq, sol, moduli))
    }

    /// `b = e^θ ∇TV_ν(x)` from `TV_ν` at `x`.
    fn mixed(lambda: f64, at: &SmoothTvAt) -> Vec<f64> {
        let mut b = vec![0.0; at.len()];
        at.gradient(&mut b);
        b.iter_mut().for_each(|v| *v *= lambda);
        b
    }

    /// The inexact hypergradient at `θ` and the lower-level solutions `sol`, the linear systems
    /// solved by CG to relative residual `δ` (at most `max_cg` iterations each), with the new
    /// estimates `μ̂_s` of the lower levels' moduli; `seed` draws the probe of the bound.
    pub fn hypergradient(&self, theta: f64, sol: &LowerSolutions, delta: f64, max_cg: usize, seed: u64) -> (Hypergradient, Moduli) {
        let lambda = theta.exp();
        let (n, big_s) = (self.n(), self.len() as f64);
        let mut out = Hypergradient { value: 0.0, bound: 0.0, cg_iterations: 0 };
        let mut moduli = Vec::with_capacity(self.len());
        let mut rng = Rng::new(seed);
        for (s, x) in sol.xs.iter().enumerate() {
            let at = self.tv.at(x);
            let b = Self::mixed(lambda, &at);
            let rhs: Vec<f64> = x.iter().zip(&self.pairs[s].truth).map(|(a, t)| (a - t) / (n as f64 * big_s)).collect();
            let mut mu_hat = f64::INFINITY;
            let mut ax = vec![0.0; self.op.output_len()];
            let mut tvh = vec![0.0; n];
            let mut apply = |d: &[f64], out: &mut [f64]| {
                self.op.apply(d, &mut ax);
                self.op.adjoint(&ax, out);
                at.hessian_times(d, &mut tvh);
                for k in 0..n {
                    out[k] += lambda * tvh[k] + self.mu * d[k];
                }
                let dd = dot(d, d);
                if dd > 0.0 {
                    mu_hat = mu_hat.min(dot(d, out) / dd);
                }
            };
            let mut cg = crate::cg::Cg::new(&rhs, vec![0.0; n], &vec![0.0; n]);
            let rhs_norm = dot(&rhs, &rhs).sqrt();
            let mut its = 0;
            while cg.rr.sqrt() > delta * rhs_norm && its < max_cg && cg.step(&mut apply) {
                its += 1;
            }
            out.cg_iterations += its;
            let q = cg.x;
            out.value -= dot(&q, &b);
            // The bound's local constants.
            let mu_hat = if mu_hat.is_finite() { mu_hat.max(self.mu) } else { self.mu };
            moduli.push(mu_hat);
            let e = sol.grad_norms[s] / mu_hat;
            let lip = if e > 0.0 {
                let mut r: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
                let rn = dot(&r, &r).sqrt();
                r.iter_mut().for_each(|v| *v *= e / rn);
                let xp: Vec<f64> = x.iter().zip(&r).map(|(a, b)| a + b).collect();
                let bp = Self::mixed(lambda, &self.tv.at(&xp));
                bp.iter().zip(&b).map(|(p, q)| (p - q) * (p - q)).sum::<f64>().sqrt() / e
            } else {
                0.0
            };
            let bn = dot(&b, &b).sqrt();
            out.bound += bn * (delta * rhs_norm + e / (n as f64 * big_s)) / mu_hat + dot(&q, &q).sqrt() * lip * e;
        }
        (out, moduli)
    }
}

/// Options of [`maid`] (defaults: the official code's TV example; see the [module docs](self)).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MaidOptions {
    /// Starting `θ₀ = log λ₀`.
    pub theta0: f64,
    /// Upper-level iterations.
    pub max_iter: usize,
    /// Initial lower-level accuracy `ε₀` (the gradient norm relative to its value at 0).
    pub eps0: f64,
    /// Initial CG tolerance `δ₀` (the residual relative to the right-hand side).
    pub delta0: f64,
    /// The first trial step in `θ` (`β₀ = step0/|h̃₀|`).
    pub step0: f64,
    /// Sufficient decrease `η ∈ (0, 1)`.
    pub eta: f64,
    /// Backtracking factor `ρ ∈ (0, 1)`.
    pub rho: f64,
    /// Accuracy shrink factor `τ ∈ (0, 1)`.
    pub tau: f64,
    /// Accuracy growth factor after an accepted step, `ν ≥ 1`.
    pub nu_growth: f64,
    /// Smallest accuracy `ε` and `δ` (the shrinking stops there).
    pub eps_min: f64,
    /// Lower-level L-BFGS iterations per solve.
    pub max_lower_iter: usize,
    /// CG iterations per linear system.
    pub max_cg: usize,
    /// Stop after an accepted step that changes `θ` by less than this (`0`: run `max_iter`).
    pub theta_tol: f64,
    /// Seed of the bound's probes.
    pub seed: u64,
}

impl Default for MaidOptions {
    fn default() -> Self {
        Self {
            theta0: 0.0,
            max_iter: 30,
            eps0: 1e-2,
            delta0: 1e-2,
            step0: 1.0,
            eta: 1e-4,
            rho: 0.5,
            tau: 0.5,
            nu_growth: 1.05,
            eps_min: 1e-12,
            max_lower_iter: 2000,
            max_cg: 2000,
            theta_tol: 1e-3,
            seed: 0,
        }
    }
}

impl MaidOptions {
    /// `Err` naming the first option out of its range.
    pub fn validate(&self) -> Result<()> {
        let bad = |name: &'static str, why: String| Err(Error::Option { name, why });
        if !self.theta0.is_finite() {
            return bad("theta0", format!("must be finite, got {}", self.theta0));
        }
        for (name, v) in [("eps0", self.eps0), ("delta0", self.delta0), ("step0", self.step0), ("eps_min", self.eps_min)] {
            if !(v > 0.0 && v.is_finite()) {
                return bad(name, format!("must be finite and > 0, got {v}"));
            }
        }
        for (name, v) in [("eta", self.eta), ("rho", self.rho), ("tau", self.tau)] {
            if !(v > 0.0 && v < 1.0) {
                return bad(name, format!("must be in (0, 1), got {v}"));
            }
        }
        if !(self.theta_tol >= 0.0 && self.theta_tol.is_finite()) {
            return bad("theta_tol", format!("must be finite and ≥ 0, got {}", self.theta_tol));
        }
        if !(self.nu_growth >= 1.0 && self.nu_growth.is_finite()) {
            return bad("nu_growth", format!("must be finite and ≥ 1, got {}", self.nu_growth));
        }
        if self.max_iter == 0 || self.max_lower_iter == 0 || self.max_cg == 0 {
            return bad("max_iter", "max_iter, max_lower_iter and max_cg must be ≥ 1".into());
        }
        Ok(())
    }
}

/// One accepted upper-level iteration of [`maid`] (index 0: the start).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MaidStep {
    /// `θ = log λ` after the iteration.
    pub theta: f64,
    /// `f̃(θ)`, the upper-level loss at the lower-level solutions.
    pub loss: f64,
    /// `|h̃|` of the iteration (0 at the start).
    pub grad: f64,
    /// Accuracy `ε` used.
    pub eps: f64,
    /// CG tolerance `δ` used.
    pub delta: f64,
    /// The accepted step `βρⁱ` (0 at the start).
    pub step: f64,
    /// Operator pairs (`A` and `Aᵀ`) applied so far.
    pub operator_pairs: usize,
}

/// What [`maid`] returns.
#[derive(Debug, Clone, PartialEq)]
pub struct MaidResult {
    /// The learned `θ = log λ`.
    pub theta: f64,
    /// One entry per accepted iteration, the start first.
    pub trajectory: Vec<MaidStep>,
    /// Lower-level evaluations in total.
    pub lower_evaluations: usize,
    /// CG iterations in total.
    pub cg_iterations: usize,
    /// Lower-level evaluations plus CG iterations: each applies `A` and `Aᵀ` once.
    pub operator_pairs: usize,
    /// Iterations whose three retries all failed to decrease `f` (the accuracy then shrank).
    pub failed_iterations: usize,
}

/// Learn `θ = log λ` by MAID (see the [module docs](self)).
pub fn maid<A: LinearOperator>(problem: &TvBilevel<'_, A>, opts: &MaidOptions) -> Result<MaidResult> {
    opts.validate()?;
    let (mut theta, mut eps, mut delta) = (opts.theta0, opts.eps0, opts.delta0);
    let mut beta: Option<f64> = None;
    let (mut lower_evals, mut cg_its, mut failed) = (0usize, 0usize, 0usize);
    let mut sol = problem.solve_lower(theta, None, eps, opts.max_lower_iter);
    lower_evals += sol.evaluations;
    let mut trajectory = vec![MaidStep { theta, loss: problem.upper(&sol.xs), grad: 0.0, eps, delta, step: 0.0, operator_pairs: lower_evals }];
    let mut probe = opts.seed;
    let tighten = |eps: &mut f64, delta: &mut f64| {
        *eps = (*eps * opts.tau).max(opts.eps_min);
        *delta = (*delta * opts.tau).max(opts.eps_min);
    };
    for _ in 0..opts.max_iter {
        let mut accepted = None;
        let mut last_h = 0.0;
        for retry in 0..3 {
            // 1. The inexact hypergradient, accurate enough for its own error estimate.
            let (h, moduli) = loop {
                probe = probe.wrapping_add(1);
                let (h, moduli) = problem.hypergradient(theta, &sol, delta, opts.max_cg, probe);
                cg_its += h.cg_iterations;
                let at_floor = eps <= opts.eps_min && delta <= opts.eps_min;
                let accurate = h.bound <= (1.0 - opts.eta) * h.value.abs(); // false for NaN too
                if !accurate && !at_floor {
                    tighten(&mut eps, &mut delta);
                    sol = problem.solve_lower(theta, Some(&sol.xs), eps, opts.max_lower_iter);
                    lower_evals += sol.evaluations;
                    continue;
                }
                break (h.value, moduli);
            };
            last_h = h;
            if !h.is_finite() || h == 0.0 {
                break;
            }
            let b = *beta.get_or_insert(opts.step0 / h.abs());
            // 2. Backtracking on inexact values.
            let f_old = problem.upper_and_bound(&sol, &moduli).1;
            let mut t = b;
            for _ in 0..(10 + retry) {
                let th = theta - t * h;
                let trial = problem.solve_lower(th, Some(&sol.xs), eps, opts.max_lower_iter);
                lower_evals += trial.evaluations;
                let (loss, f_new) = problem.upper_and_bound(&trial, &moduli);
                if f_new - f_old <= -opts.eta * t * h * h {
                    accepted = Some((th, trial, t, loss));
                    break;
                }
                t *= opts.rho;
            }
            if accepted.is_some() {
                break;
            }
            // 3. No decrease: tighten the accuracy and retry.
            tighten(&mut eps, &mut delta);
            sol = problem.solve_lower(theta, Some(&sol.xs), eps, opts.max_lower_iter);
            lower_evals += sol.evaluations;
        }
        match accepted {
            Some((th, trial, t, loss)) => {
                let small = (th - theta).abs() < opts.theta_tol;
                theta = th;
                sol = trial;
                beta = Some(t * 10.0 / 9.0);
                trajectory.push(MaidStep { theta, loss, grad: last_h.abs(), eps, delta, step: t, operator_pairs: lower_evals + cg_its });
                eps *= opts.nu_growth;
                delta *= opts.nu_growth;
                if small {
                    break;
                }
            }
            None => failed += 1,
        }
        if !last_h.is_finite() || last_h == 0.0 {
            break;
        }
    }
    if !theta.is_finite() {
        return Err(Error::NonFinite { what: "learned log λ", index: 0, value: theta });
    }
    Ok(MaidResult {
        theta,
        trajectory,
        lower_evaluations: lower_evals,
        cg_iterations: cg_its,
        operator_pairs: lower_evals + cg_its,
        failed_iterations: failed,
    })
}

#[cfg(test)]
mod tests;
