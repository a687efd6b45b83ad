//! The recovery methods and their solvers.
//!
//! - `cs`: `min ‖A x − b‖₂² + λ ℓ_bin(x)` over R^N (the penalized form of the issue), by
//!   accelerated gradient descent (`fista` with the identity as prox).
//! - `cs-affine`: `min ℓ_bin(x)` subject to `A x = b` (the official `binary_recovery.m`, method 1),
//!   by accelerated projected gradient (`fista` with the affine projection as prox).
//! - `box`: `min ‖A x − b‖₂²` subject to `−1 ≤ xᵢ ≤ 1`, by accelerated projected gradient
//!   from `x = 0` (convex; no restarts).
//! - `linf`: `min ‖x‖_∞` subject to `A x = b` (the official script's baseline, method 0), by
//!   Douglas–Rachford splitting (`linf_dr`).
//!
//! `fista` follows the FASTA solver the official script calls (`accelerate = 1`,
//! `backtrack = 1`, `adaptive = 0`): a first step τ = 0.2 / L with L estimated from the gradients
//! at two random points, a non-monotone backtracking line search over the last 10 values
//! (τ ← τ/2, at most 20 times per iteration, τ never grows), FISTA momentum with the
//! gradient-based momentum restart, and the iterate of lowest objective returned.
//!
//! The two `cs` methods restart from a fresh random start up to `restarts` times, as the official
//! script does (`max_restart_count = 10`). What decides a restart, and what stops a start early:
//! - `oracle = false` (default): only what a user could know. A start stops once its iterate is
//!   certified binary — the scale-free `ℓ_bin(x) / ‖x‖₂⁴ ≤ 10⁻¹²` (for `cs` also
//!   `‖A x − b‖₂² / ‖b‖₂² ≤ 10⁻¹²`) — or when it stagnates (`‖x⁺ − y‖ ≤ tol · ‖x⁺‖`: the
//!   gradient step from the extrapolated point `y` moved less than `tol`), or after `max_iters`;
//!   a new start follows unless the result is certified; the answer is the start whose result
//!   has the smallest certificate value.
//! - `oracle = true`: the official script's rule, which uses the true x: a start stops once
//!   `‖x_k − x‖ / ‖x‖ < threshold`, a new start follows unless the result meets it, and the
//!   answer is the last start's result.
//!
//! For a Gaussian A the only point of `{A v = b}` with all `|vᵢ|` equal is x (almost surely), so
//! the certificate accepts x and nothing else; the tolerance 10⁻¹² is far below the value of the
//! nearest nearly-binary feasible points of a small system (≈ 10⁻⁷ for M = 10, N = 100).

use super::problem::{Problem, Projector, dot, lbin_normalized, lbin_value_grad, norm};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use std::collections::VecDeque;

/// Certificate tolerance of the `cs` methods (scale-free; see the module documentation).
pub const CERT_TOL: f64 = 1e-12;
/// Non-monotone line-search window (FASTA's `window`).
const WINDOW: usize = 10;
/// Most step-size halvings per iteration (FASTA's limit).
const MAX_BACKTRACKS: usize = 20;

/// Where a start of the `cs` methods begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// `P(z)` with `z ~ N(0, I_N)` and P the projection onto `{A v = b}` (the official start).
    Random,
    /// The first start at the least-norm solution `A⁺ b`, later ones random.
    LeastNorm,
}

/// What a method solves.
#[derive(Debug, Clone, PartialEq)]
pub enum MethodKind {
    /// `min ‖A x − b‖₂² + λ ℓ_bin(x)`.
    Cs { lambda: f64, restarts: usize, start: Start },
    /// `min ℓ_bin(x)` s.t. `A x = b`.
    CsAffine { restarts: usize, start: Start },
    /// `min ‖A x − b‖₂²` s.t. `‖x‖_∞ ≤ 1`, from 0.
    Box,
    /// `min ‖x‖_∞` s.t. `A x = b`, Douglas–Rachford with prox step `t`.
    Linf { t: f64 },
}

/// One method of an experiment.
#[derive(Debug, Clone, PartialEq)]
pub struct Method {
    /// Label (unique in an experiment): the name in tables and plots, and the key of its random
    /// stream.
    pub label: String,
    /// The problem and solver.
    pub kind: MethodKind,
    /// Iterations per start.
    pub max_iters: usize,
    /// Stagnation tolerance (0: never stop for stagnation).
    pub tol: f64,
    /// Use the true x to stop and restart (the official script's rule).
    pub oracle: bool,
}

/// The result of one method on one trial.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Outcome {
    /// `sign(x̂) = x` entrywise (an entry exactly 0 is wrong).
    pub sign_ok: bool,
    /// `‖x̂ − x‖₂ / ‖x‖₂ < threshold` (the official success criterion).
    pub exact_ok: bool,
    /// `‖x̂ − x‖₂ / ‖x‖₂`.
    pub rel_err: f64,
    /// `‖A x̂ − b‖₂ / ‖b‖₂`.
    pub residual: f64,
    /// Entries with `sign(x̂ᵢ) ≠ xᵢ`.
    pub bit_errors: usize,
    /// Iterations, summed over the starts.
    pub iterations: usize,
    /// Starts used (1 for `box` and `linf`).
    pub starts: usize,
}

/// `‖v − x‖ / ‖x‖`.
fn rel_err(v: &[f64], x: &[f64]) -> f64 {
    let d: f64 = v.iter().zip(x).map(|(a, b)| (a - b) * (a - b)).sum();
    (d / dot(x, x)).sqrt()
}

fn randn(n: usize, rng: &mut ChaCha8Rng) -> Vec<f64> {
    (0..n).map(|_| StandardNormal.sample(rng)).collect()
}

/// A smooth objective: its value at x and, when asked, its gradient.
pub(crate) type Smooth<'a> = dyn Fn(&[f64], Option<&mut [f64]>) -> f64 + 'a;

/// The penalized objective of `cs`: `F(x) = ‖A x − b‖₂² + λ ℓ_bin(x)`,
/// `∇F(x) = 2 Aᵀ (A x − b) + λ (4N x³ − 4 ‖x‖₂² x)`.
pub fn penalized_value_grad(p: &Problem, lambda: f64, x: &[f64], grad: Option<&mut [f64]>) -> f64 {
    let mut r = vec![0.0; p.m];
    let data = p.residual(x, &mut r);
    match grad {
        Some(g) => {
            let reg = lbin_value_grad(x, Some(g));
            let mut at_r = vec![0.0; p.n];
            p.apply_t(&r, &mut at_r);
            for (gi, ai) in g.iter_mut().zip(&at_r) {
                *gi = 2.0 * ai + lambda * *gi;
            }
            data + lambda * reg
        }
        None => data + lambda * lbin_value_grad(x, None),
    }
}

/// The box objective `‖A x − b‖₂²`, gradient `2 Aᵀ (A x − b)`.
fn data_value_grad(p: &Problem, x: &[f64], grad: Option<&mut [f64]>) -> f64 {
    let mut r = vec![0.0; p.m];
    let data = p.residual(x, &mut r);
    if let Some(g) = grad {
        p.apply_t(&r, g);
        g.iter_mut().for_each(|v| *v *= 2.0);
    }
    data
}

/// FASTA's first step: `τ = 0.2 / L` (its `2 / L / 10`), with `L = ‖∇f(u) − ∇f(v)‖ / ‖u − v‖`
/// for `u, v ~ N(0, I)` (at least 10⁻⁶).
fn initial_step(f: &Smooth<'_>, n: usize, rng: &mut ChaCha8Rng) -> f64 {
    let (u, v) = (randn(n, rng), randn(n, rng));
    let (mut gu, mut gv) = (vec![0.0; n], vec![0.0; n]);
    f(&u, Some(&mut gu));
    f(&v, Some(&mut gv));
    let dg: f64 = gu.iter().zip(&gv).map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt();
    let dx: f64 = u.iter().zip(&v).map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt();
    let l = if dx > 0.0 && dg.is_finite() { (dg / dx).max(1e-6) } else { 1.0 };
    0.2 / l
}

/// Accelerated (projected) gradient descent on `f` over the set that `prox` projects onto, from
/// `x0` with first step `tau`, as described in the module documentation. Stops when `stop`
/// holds at an iterate, when `‖x⁺ − y‖ ≤ tol ‖x⁺‖`, or after `max_iters` iterations. Returns
/// the iterate of lowest `f` and the iterations done.
pub(crate) fn fista(
    f: &Smooth<'_>,
    prox: &dyn Fn(&mut [f64]),
    x0: Vec<f64>,
    mut tau: f64,
    max_iters: usize,
    tol: f64,
    stop: &dyn Fn(&[f64]) -> bool,
) -> (Vec<f64>, usize) {
    let n = x0.len();
    let mut y = x0.clone();
    let mut g = vec![0.0; n];
    let fy = f(&y, Some(&mut g));
    // f at the last gradient points (f(x0) until the first extrapolation replaces it).
    let mut window: VecDeque<f64> = VecDeque::from([fy]);
    let mut x_prev = x0;
    let mut best = x_prev.clone();
    let mut best_f = f64::INFINITY;
    let mut x1 = vec![0.0; n];
    let mut alpha: f64 = 1.0;
    let mut iters = 0;
    for i in 1..=max_iters {
        iters = i;
        let f_max = window.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mut backtracks = 0;
        let (f1, step) = loop {
            for ((xj, yj), gj) in x1.iter_mut().zip(&y).zip(&g) {
                *xj = yj - tau * gj;
            }
            prox(&mut x1);
            let (mut lin, mut sq) = (0.0, 0.0);
            for ((xj, yj), gj) in x1.iter().zip(&y).zip(&g) {
                let d = xj - yj;
                lin += d * gj;
                sq += d * d;
            }
            let f1 = f(&x1, None);
            // A NaN value counts as a failed test: the step shrinks.
            let accept = f1 - 1e-12 <= f_max + lin + sq / (2.0 * tau);
            if accept || backtracks >= MAX_BACKTRACKS {
                break (f1, sq.sqrt());
            }
            tau *= 0.5;
            backtracks += 1;
        };
        if f1 < best_f {
            best_f = f1;
            best.copy_from_slice(&x1);
        }
        if stop(&x1) || step <= tol * norm(&x1) {
            break;
        }
        // FISTA momentum, restarted when the step goes against the momentum.
        let mut against = 0.0;
        for ((yj, xj), pj) in y.iter().zip(&x1).zip(&x_prev) {
            against += (yj - xj) * (xj - pj);
        }
        if against > 0.0 {
            alpha = 1.0;
        }
        let alpha1 = (1.0 + (1.0 + 4.0 * alpha * alpha).sqrt()) / 2.0;
        let beta = (alpha - 1.0) / alpha1;
        for ((yj, xj), pj) in y.iter_mut().zip(&x1).zip(x_prev.iter_mut()) {
            *yj = xj + beta * (xj - *pj);
            *pj = *xj;
        }
        alpha = alpha1;
        let fy = f(&y, Some(&mut g));
        if i == 1 {
            window.clear();
        }
        window.push_back(fy);
        if window.len() > WINDOW {
            window.pop_front();
        }
    }
    (best, iters)
}

/// The prox of `t ‖·‖_∞`: `argmin_v t ‖v‖_∞ + ½ ‖v − w‖₂²`, i.e. `w` with its magnitudes clipped
/// at `α = max_k (Σ_{i≤k} |w|_(i) − t) / k` (`|w|` sorted decreasingly), or 0 when `α ≤ 0`.
pub fn prox_linf(w: &[f64], t: f64, out: &mut [f64]) {
    let mut mags: Vec<f64> = w.iter().map(|v| v.abs()).collect();
    mags.sort_by(|a, b| b.total_cmp(a));
    let (mut cum, mut alpha) = (0.0, f64::NEG_INFINITY);
    for (k, m) in mags.iter().enumerate() {
        cum += m;
        alpha = alpha.max((cum - t) / (k + 1) as f64);
    }
    for (o, &v) in out.iter_mut().zip(w) {
        *o = if alpha > 0.0 { v.abs().min(alpha).copysign(v) } else { 0.0 };
    }
}

/// `min ‖x‖_∞` s.t. `A x = b` by Douglas–Rachford splitting (the official `Linf_minim`):
/// `w = 2x − z`, `y = prox_{t‖·‖∞}(w)`, `z ← z + y − x`, `x ← P(z)`, from `x = x0`, `z = 0`.
/// Stops when `stop(x)`, when `‖x_k − x_{k−1}‖ ≤ tol ‖x_k‖`, or after `max_iters`. Returns
/// the last x and the iterations done.
pub(crate) fn linf_dr(proj: &Projector, x0: Vec<f64>, t: f64, max_iters: usize, tol: f64, stop: &dyn Fn(&[f64]) -> bool) -> (Vec<f64>, usize) {
    let n = x0.len();
    let mut x = x0;
    let mut z = vec![0.0; n];
    let (mut w, mut y, mut x_new) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    let mut iters = 0;
    for i in 1..=max_iters {
        iters = i;
        for ((wj, xj), zj) in w.iter_mut().zip(&x).zip(&z) {
            *wj = 2.0 * xj - zj;
        }
        prox_linf(&w, t, &mut y);
        for ((zj, yj), xj) in z.iter_mut().zip(&y).zip(&x) {
            *zj += yj - xj;
        }
        x_new.copy_from_slice(&z);
        proj.project(&mut x_new);
        let step: f64 = x_new.iter().zip(&x).map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt();
        std::mem::swap(&mut x, &mut x_new);
        if stop(&x) || step <= tol * norm(&x) {
            break;
        }
    }
    (x, iters)
}

/// Run `method` on `p` (with `proj`, its affine projector), drawing its random numbers from
/// `rng`. `threshold` is the relative error below which a result counts as exact.
pub fn solve(method: &Method, p: &Problem, proj: &Projector, threshold: f64, rng: &mut ChaCha8Rng) -> Outcome {
    let n = p.n;
    let b_sq = dot(&p.b, &p.b);
    let oracle_ok = |v: &[f64]| rel_err(v, &p.x) < threshold;
    let (xhat, iterations, starts) = match &method.kind {
        MethodKind::Cs { lambda, restarts, start } => {
            let lambda = *lambda;
            let f = move |x: &[f64], g: Option<&mut [f64]>| penalized_value_grad(p, lambda, x, g);
            let cert = |x: &[f64]| {
                let mut r = vec![0.0; p.m];
                let data = if b_sq > 0.0 { p.residual(x, &mut r) / b_sq } else { 0.0 };
                lbin_normalized(x).max(data)
            };
            with_restarts(method, &f, &|_: &mut [f64]| {}, &cert, *restarts, *start, proj, &oracle_ok, rng)
        }
        MethodKind::CsAffine { restarts, start } => {
            let f = |x: &[f64], g: Option<&mut [f64]>| lbin_value_grad(x, g);
            let prox = |x: &mut [f64]| proj.project(x);
            with_restarts(method, &f, &prox, &lbin_normalized, *restarts, *start, proj, &oracle_ok, rng)
        }
        MethodKind::Box => {
            let f = |x: &[f64], g: Option<&mut [f64]>| data_value_grad(p, x, g);
            let prox = |x: &mut [f64]| x.iter_mut().for_each(|v| *v = v.clamp(-1.0, 1.0));
            let tau = initial_step(&f, n, rng);
            let never = |_: &[f64]| false;
            let stop: &dyn Fn(&[f64]) -> bool = if method.oracle { &oracle_ok } else { &never };
            let (x, it) = fista(&f, &prox, vec![0.0; n], tau, method.max_iters, method.tol, stop);
            (x, it, 1)
        }
        MethodKind::Linf { t } => {
            let x0 = randn(n, rng);
            let never = |_: &[f64]| false;
            let stop: &dyn Fn(&[f64]) -> bool = if method.oracle { &oracle_ok } else { &never };
            let (x, it) = linf_dr(proj, x0, *t, method.max_iters, method.tol, stop);
            (x, it, 1)
        }
    };
    let bit_errors = xhat.iter().zip(&p.x).filter(|(v, s)| !(v.signum() == **s && **v != 0.0)).count();
    let mut r = vec![0.0; p.m];
    let res = p.residual(&xhat, &mut r);
    let err = rel_err(&xhat, &p.x);
    Outcome {
        sign_ok: bit_errors == 0,
        exact_ok: err < threshold,
        rel_err: err,
        residual: if b_sq > 0.0 { (res / b_sq).sqrt() } else { res.sqrt() },
        bit_errors,
        iterations,
        starts,
    }
}

/// The starts of the `cs` methods: see the module documentation.
#[allow(clippy::too_many_arguments)]
fn with_restarts(
    method: &Method,
    f: &Smooth<'_>,
    prox: &dyn Fn(&mut [f64]),
    cert: &dyn Fn(&[f64]) -> f64,
    restarts: usize,
    start: Start,
    proj: &Projector,
    oracle_ok: &dyn Fn(&[f64]) -> bool,
    rng: &mut ChaCha8Rng,
) -> (Vec<f64>, usize, usize) {
    let n = proj.least_norm().len();
    let certified = |x: &[f64]| cert(x) <= CERT_TOL;
    let good: &dyn Fn(&[f64]) -> bool = if method.oracle { oracle_ok } else { &certified };
    let (mut total, mut starts) = (0, 0);
    let mut answer: Option<(Vec<f64>, f64)> = None;
    for s in 0..restarts.max(1) {
        let x0 = if s == 0 && start == Start::LeastNorm {
            proj.least_norm().to_vec()
        } else {
            let mut z = randn(n, rng);
            proj.project(&mut z);
            z
        };
        let tau = initial_step(f, n, rng);
        let (x, it) = fista(f, prox, x0, tau, method.max_iters, method.tol, good);
        total += it;
        starts += 1;
        let done = good(&x);
        let c = cert(&x);
        // oracle: the last start's result; otherwise the most nearly binary result so far.
        if method.oracle || answer.as_ref().is_none_or(|(_, best)| c < *best || best.is_nan()) {
            answer = Some((x, c));
        }
        if done {
            break;
        }
    }
    let (x, _) = answer.expect("at least one start");
    (x, total, starts)
}
