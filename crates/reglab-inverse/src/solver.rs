//! Solvers for `min_x  Φ(x) = ½‖Ax − y‖² + λ R(x)`.
//!
//! - [`fista`] (Beck–Teboulle 2009): proximal gradient with Nesterov momentum, step `1/L`,
//!   `L ≥ ‖A‖²`; by default `L = 1.01 ×` a 200-step power-iteration estimate
//!   ([`norm_squared_estimate`]; the estimate approaches `‖A‖²` from below, hence the margin), or
//!   the value given in [`SolverOptions::lipschitz`]. Any [`Regularizer`]'s prox is used, with
//!   `η = λ/L`. `λ = 0` is plain accelerated least squares.
//! - [`chambolle_pock`] (Chambolle–Pock 2011, `θ = 1`): primal–dual for TV and weighted TV with
//!   `K = [A; ∇]`, `F(Ax, ∇x) = ½‖Ax − y‖² + λ Σ_i w_i ‖(∇x)_i‖₂`, `G = 0`:
//!   `u ← (u + σ(Ax̄ − y))/(1 + σ)`, `z_i ← Π_{λw_i}(z_i + σ_z(∇x̄)_i)`,
//!   `x⁺ ← x − τ(Aᵀu + ∇ᵀz)`, `x̄ ← 2x⁺ − x`. The two blocks are balanced: with
//!   `μ = √(‖A‖²/‖∇‖²)` (200-step power-iteration estimates), `σ = τ = 0.99/√L_K` with
//!   `L_K = 1.05 ×` a 200-step estimate of `‖K_μ‖²`, `K_μ = [A; μ∇]`, and `σ_z = μ²σ`. This is
//!   exactly Chambolle–Pock on `K_μ` with the penalty `(λ/μ)Σ w_i‖(μ∇x)_i‖` (dual variable `z/μ`),
//!   so it converges whenever `στ‖K_μ‖² < 1`; with tomography's `‖A‖² ≫ ‖∇‖² ≤ 8`, the plain
//!   `σ = σ_z` would take a dual step on `z` far too small (measured: on 40-view CT at 128², TV
//!   and weighted TV are much closer to their limit after 500 iterations).
//!
//! **Stopping.** After iteration `k`, stop when `‖x^k − x^{k−1}‖ ≤ tol·‖x^k‖`, or at `max_iter`.
//! [`SolverResult`] reports the iterations, the final objective `Φ(x)`, and the objective
//! history `(k, Φ(x^k))` at `k = 0`, every `history_every` iterations, and the last iteration.

use crate::error::{Error, Result, check_finite};
use crate::image::Image;
use crate::operator::{Gradient, LinearOperator, dot, norm_squared_estimate};
use crate::regularizer::{Regularizer, WeightedTv, weighted_total_variation};
use crate::tv::{relative_change, total_variation};

/// Options of [`fista`] and [`chambolle_pock`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SolverOptions {
    /// Maximum iterations; default 500.
    pub max_iter: usize,
    /// Relative change of `x` at which to stop, `≥ 0`; default `1e-6`.
    pub tol: f64,
    /// Record the objective every this many iterations (`≥ 1`); default 1.
    pub history_every: usize,
    /// FISTA only: the Lipschitz constant `L ≥ ‖A‖²` to use instead of the estimate.
    pub lipschitz: Option<f64>,
}

impl Default for SolverOptions {
    fn default() -> Self {
        Self { max_iter: 500, tol: 1e-6, history_every: 1, lipschitz: None }
    }
}

/// The outcome of a solver.
#[derive(Debug, Clone, PartialEq)]
pub struct SolverResult {
    /// The final iterate.
    pub image: Image,
    /// Iterations run.
    pub iterations: usize,
    /// Whether the relative-change rule fired before `max_iter`.
    pub converged: bool,
    /// The last relative change of `x`.
    pub rel_change: f64,
    /// `Φ(x) = ½‖Ax − y‖² + λR(x)` at the final iterate.
    pub objective: f64,
    /// `(k, Φ(x^k))` at `k = 0`, every `history_every` iterations and at the end.
    pub history: Vec<(usize, f64)>,
}

pub(crate) fn check_common<A: LinearOperator>(a: &A, y: &[f64], lambda: f64, x0: &Image, opts: &SolverOptions) -> Result<()> {
    if y.len() != a.output_len() {
        return Err(Error::Length { what: "y", expected: a.output_len(), len: y.len() });
    }
    if x0.len() != a.input_len() {
        return Err(Error::Length { what: "x0", expected: a.input_len(), len: x0.len() });
    }
    check_finite("y", y)?;
    check_finite("x0", &x0.data)?;
    if !(lambda.is_finite() && lambda >= 0.0) {
        return Err(Error::Option { name: "lambda", why: format!("must be finite and ≥ 0, got {lambda}") });
    }
    if !(opts.tol.is_finite() && opts.tol >= 0.0) {
        return Err(Error::Option { name: "tol", why: format!("must be finite and ≥ 0, got {}", opts.tol) });
    }
    if opts.history_every == 0 {
        return Err(Error::Option { name: "history_every", why: "must be ≥ 1".into() });
    }
    Ok(())
}

/// `½‖Ax − y‖²`.
pub(crate) fn data_term<A: LinearOperator>(a: &A, x: &[f64], y: &[f64], ax: &mut [f64]) -> f64 {
    a.apply(x, ax);
    0.5 * ax.iter().zip(y).map(|(u, v)| (u - v) * (u - v)).sum::<f64>()
}

/// `‖x − x_prev‖ / ‖x‖` (absolute if `x = 0`).
fn change_from(x: &[f64], prev: &[f64]) -> f64 {
    let d2: f64 = x.iter().zip(prev).map(|(a, b)| (a - b) * (a - b)).sum();
    relative_change(d2, dot(x, x))
}

/// The bookkeeping FISTA and Chambolle–Pock share: the iteration count, the stopping rule and
/// the objective history.
pub(crate) struct Run {
    pub(crate) iterations: usize,
    pub(crate) converged: bool,
    pub(crate) rel_change: f64,
    pub(crate) history: Vec<(usize, f64)>,
}

impl Run {
    /// Before the first iteration, with the objective at `x⁰`.
    pub(crate) fn new(first_objective: f64) -> Self {
        Self { iterations: 0, converged: false, rel_change: 0.0, history: vec![(0, first_objective)] }
    }

    /// After an iteration with relative change `rel_change`: count it, test the stopping rule,
    /// record `objective()` every `history_every` iterations and at the end. Returns whether
    /// to stop.
    pub(crate) fn step(&mut self, rel_change: f64, opts: &SolverOptions, objective: impl FnOnce() -> f64) -> bool {
        self.rel_change = rel_change;
        self.iterations += 1;
        self.converged = rel_change <= opts.tol;
        if self.iterations.is_multiple_of(opts.history_every) || self.converged || self.iterations == opts.max_iter {
            self.history.push((self.iterations, objective()));
        }
        self.converged
    }

    pub(crate) fn result(self, image: Image) -> SolverResult {
        let objective = self.history.last().expect("history is never empty").1;
        SolverResult { image, iterations: self.iterations, converged: self.converged, rel_change: self.rel_change, objective, history: self.history }
    }
}

/// FISTA for `½‖Ax − y‖² + λR(x)` from `x0` (whose shape is the image shape); see the
/// [module docs](self).
pub fn fista<A: LinearOperator, R: Regularizer + ?Sized>(
    a: &A,
    y: &[f64],
    reg: &R,
    lambda: f64,
    x0: &Image,
    opts: &SolverOptions,
) -> Result<SolverResult> {
    check_common(a, y, lambda, x0, opts)?;
    let l = match opts.lipschitz {
        Some(l) => l,
        None => 1.01 * norm_squared_estimate(a, 200),
    };
    if !(l.is_finite() && l > 0.0) {
        return Err(Error::Option { name: "lipschitz", why: format!("must be finite and > 0, got {l}") });
    }
    let n = x0.len();
    let mut ax = vec![0.0; a.output_len()];
    let mut grad = vec![0.0; n];
    let objective = |x: &Image, ax: &mut [f64]| data_term(a, &x.data, y, ax) + lambda * reg.value(x);
    let mut x = x0.clone();
    let mut z = x0.clone();
    let mut t = 1.0_f64;
    let mut run = Run::new(objective(&x, &mut ax));
    let mut v = x0.clone();
    while run.iterations < opts.max_iter {
        // v = z − Aᵀ(Az − y)/L; x⁺ = prox_{(λ/L)R}(v).
        a.apply(&z.data, &mut ax);
        for (r, yi) in ax.iter_mut().zip(y) {
            *r -= yi;
        }
        a.adjoint(&ax, &mut grad);
        for ((vk, zk), gk) in v.data.iter_mut().zip(&z.data).zip(&grad) {
            *vk = zk - gk / l;
        }
        let x_new = reg.prox(&v, lambda / l)?;
        let t_new = 0.5 * (1.0 + (1.0 + 4.0 * t * t).sqrt());
        let beta = (t - 1.0) / t_new;
        for k in 0..n {
            z.data[k] = x_new.data[k] + beta * (x_new.data[k] - x.data[k]);
        }
        let rel_change = change_from(&x_new.data, &x.data);
        x = x_new;
        t = t_new;
        if run.step(rel_change, opts, || objective(&x, &mut ax)) {
            break;
        }
    }
    Ok(run.result(x))
}

/// `K_μ = [A; μB]`, for the norm estimate of a balanced Chambolle–Pock.
struct Stacked<'a, A, B> {
    a: &'a A,
    b: &'a B,
    mu: f64,
}

impl<A: LinearOperator, B: LinearOperator> LinearOperator for Stacked<'_, A, B> {
    fn input_len(&self) -> usize {
        self.a.input_len()
    }
    fn output_len(&self) -> usize {
        self.a.output_len() + self.b.output_len()
    }
    fn apply(&self, x: &[f64], out: &mut [f64]) {
        let (o1, o2) = out.split_at_mut(self.a.output_len());
        self.a.apply(x, o1);
        self.b.apply(x, o2);
        o2.iter_mut().for_each(|v| *v *= self.mu);
    }
    fn adjoint(&self, y: &[f64], out: &mut [f64]) {
        let (y1, y2) = y.split_at(self.a.output_len());
        self.a.adjoint(y1, out);
        let mut tmp = vec![0.0; out.len()];
        self.b.adjoint(y2, &mut tmp);
        for (o, t) in out.iter_mut().zip(&tmp) {
            *o += self.mu * t;
        }
    }
}

/// The step sizes of Chambolle–Pock with `K = [A; B]`, balanced between the blocks:
/// `μ = √(‖A‖²/‖B‖²)` (200-step power-iteration estimates; `μ = 1` if either is 0),
/// `σ = τ = 0.99/√(1.05 ×` a 200-step estimate of `‖[A; μB]‖²)`, and `σ_B = μ²σ`, the dual
/// step of the `B` block. Chambolle–Pock with these steps is Chambolle–Pock on `[A; μB]` with
/// the `B` block's dual variable scaled by `μ`, so it converges whenever `στ‖[A; μB]‖² < 1`.
///
/// They depend only on the operators, not on `y`, `λ` or the TV weights, and cost about 400
/// applications of `A` and `Aᵀ` (a 100-iteration solve's set-up is 4× its iterations): compute
/// them once ([`BalancedSteps::tv`], [`BalancedSteps::new`]) and pass them to
/// [`chambolle_pock_with_steps`] or
/// [`graph_laplacian_l1_with_steps`](crate::graph_laplacian_l1_with_steps) for every `λ` of a
/// sweep: the results are those of [`chambolle_pock`] / [`graph_laplacian_l1`](crate::graph_laplacian_l1),
/// bit for bit. Steps made for other operators void the convergence guarantee.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BalancedSteps {
    /// `σ`, the dual step of the data block.
    pub sigma: f64,
    /// `τ`, the primal step.
    pub tau: f64,
    /// `σ_B = μ²σ`, the dual step of the regularization block.
    pub sigma_b: f64,
}

impl BalancedSteps {
    /// The steps for `K = [A; B]`; `Err` if `A` and `B` take inputs of different lengths or a
    /// norm estimate is not finite.
    pub fn new<A: LinearOperator, B: LinearOperator>(a: &A, b: &B) -> Result<Self> {
        if b.input_len() != a.input_len() {
            return Err(Error::Length { what: "regularization operator input", expected: a.input_len(), len: b.input_len() });
        }
        let (na, nb) = (norm_squared_estimate(a, 200), norm_squared_estimate(b, 200));
        if !(na.is_finite() && nb.is_finite()) {
            return Err(Error::Option { name: "operator", why: format!("the norm estimates ‖A‖² = {na}, ‖B‖² = {nb} are not finite") });
        }
        let mu = if na > 0.0 && nb > 0.0 { (na / nb).sqrt() } else { 1.0 };
        let lk = 1.05 * norm_squared_estimate(&Stacked { a, b, mu }, 200);
        let step = 0.99 / lk.sqrt();
        Ok(Self { sigma: step, tau: step, sigma_b: mu * mu * step })
    }

    /// The steps of (weighted) TV on `rows × cols` images: `K = [A; ∇]`.
    pub fn tv<A: LinearOperator>(a: &A, rows: usize, cols: usize) -> Result<Self> {
        Self::new(a, &Gradient::new(rows, cols)?)
    }
}

/// Chambolle–Pock for `½‖Ax − y‖² + λ TV(x)` (`weights = None`) or weighted TV (`Some`), from
/// `x0`; see the [module docs](self). ([`SolverOptions::lipschitz`] is ignored.)
pub fn chambolle_pock<A: LinearOperator>(
    a: &A,
    y: &[f64],
    lambda: f64,
    weights: Option<&WeightedTv>,
    x0: &Image,
    opts: &SolverOptions,
) -> Result<SolverResult> {
    check_common(a, y, lambda, x0, opts)?;
    let steps = BalancedSteps::tv(a, x0.rows, x0.cols)?;
    chambolle_pock_with_steps(a, y, lambda, weights, x0, opts, &steps)
}

/// [`chambolle_pock`] with its step sizes given (from [`BalancedSteps::tv`] for this `A` and
/// image shape), so that a sweep over `λ` or weights estimates them once.
pub fn chambolle_pock_with_steps<A: LinearOperator>(
    a: &A,
    y: &[f64],
    lambda: f64,
    weights: Option<&WeightedTv>,
    x0: &Image,
    opts: &SolverOptions,
    steps: &BalancedSteps,
) -> Result<SolverResult> {
    check_common(a, y, lambda, x0, opts)?;
    let n = x0.len();
    if let Some(w) = weights
        && w.weights().len() != n
    {
        return Err(Error::Length { what: "weights", expected: n, len: w.weights().len() });
    }
    let grad = Gradient::new(x0.rows, x0.cols)?;
    let BalancedSteps { sigma, tau, sigma_b: sigma_z } = *steps;
    let m = a.output_len();
    let mut ax = vec![0.0; m];
    let reg = |x: &Image| match weights {
        Some(w) => weighted_total_variation(x, w.weights()),
        None => total_variation(x),
    };
    let objective = |x: &Image, ax: &mut [f64]| data_term(a, &x.data, y, ax) + lambda * reg(x);
    let mut x = x0.clone();
    let mut xbar = x0.data.clone();
    let mut u = vec![0.0; m];
    let mut z = vec![0.0; 2 * n];
    let mut g = vec![0.0; 2 * n];
    let mut atu = vec![0.0; n];
    let mut gtz = vec![0.0; n];
    let mut run = Run::new(objective(&x, &mut ax));
    while run.iterations < opts.max_iter {
        a.apply(&xbar, &mut ax);
        for k in 0..m {
            u[k] = (u[k] + sigma * (ax[k] - y[k])) / (1.0 + sigma);
        }
        grad.apply(&xbar, &mut g);
        for i in 0..n {
            let r = lambda * weights.map_or(1.0, |w| w.weights()[i]);
            let (p, q) = (z[i] + sigma_z * g[i], z[n + i] + sigma_z * g[n + i]);
            let norm = (p * p + q * q).sqrt(); // (not `hypot`: much slower, and no overflow here)
            let s = if norm > r { r / norm } else { 1.0 };
            z[i] = p * s;
            z[n + i] = q * s;
        }
        a.adjoint(&u, &mut atu);
        grad.adjoint(&z, &mut gtz);
        let (mut d2, mut x2) = (0.0, 0.0);
        for k in 0..n {
            let new = x.data[k] - tau * (atu[k] + gtz[k]);
            xbar[k] = 2.0 * new - x.data[k];
            d2 += (new - x.data[k]) * (new - x.data[k]);
            x2 += new * new;
            x.data[k] = new;
        }
        if run.step(relative_change(d2, x2), opts, || objective(&x, &mut ax)) {
            break;
        }
    }
    Ok(run.result(x))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::{Convolution, Identity, Radon};
    use crate::phantom::{add_gaussian_noise, piecewise_constant};
    use crate::regularizer::{Tikhonov, TotalVariation};
    use crate::tv::{TvOptions, tv_denoise};

    fn gaussian_kernel(size: usize, s: f64) -> Image {
        let c = (size / 2) as f64;
        let k = Image::from_fn(size, size, |i, j| (-((i as f64 - c).powi(2) + (j as f64 - c).powi(2)) / (2.0 * s * s)).exp()).unwrap();
        let sum: f64 = k.data.iter().sum();
        Image::new(size, size, k.data.iter().map(|v| v / sum).collect()).unwrap()
    }

    fn deblur_problem() -> (Convolution, Vec<f64>, Image) {
        let (r, c) = (20, 20);
        let clean = piecewise_constant(r, c).unwrap();
        let a = Convolution::new(r, c, gaussian_kernel(5, 1.0)).unwrap();
        let blurred = Image::new(r, c, a.forward(&clean.data).unwrap()).unwrap();
        let y = add_gaussian_noise(&blurred, 0.02, 3).unwrap();
        (a, y.data, clean)
    }

    #[test]
    fn fista_and_chambolle_pock_agree_on_tv_deblurring() {
        let (a, y, _) = deblur_problem();
        let lambda = 0.02;
        let x0 = Image::zeros(20, 20).unwrap();
        let reg = TotalVariation { opts: TvOptions { tau: 0.125, max_iter: 5000, tol: 1e-8 } };
        let opts = SolverOptions { max_iter: 1000, tol: 1e-7, ..SolverOptions::default() };
        let f = fista(&a, &y, &reg, lambda, &x0, &opts).unwrap();
        let cp_opts = SolverOptions { max_iter: 10_000, tol: 1e-9, history_every: 10, ..SolverOptions::default() };
        let c = chambolle_pock(&a, &y, lambda, None, &x0, &cp_opts).unwrap();
        for r in [&f, &c] {
            let start = r.history[0].1;
            assert!(r.objective < 0.5 * start, "{} vs start {start}", r.objective);
        }
        // Chambolle–Pock's recorded objective decreases "monotonically-ish": late values not
        // above early ones.
        let h = &c.history;
        assert!(h[h.len() - 1].1 <= h[h.len() / 10].1 + 1e-12);
        let rel = (f.objective - c.objective).abs() / c.objective;
        eprintln!("fista {} it {} ; cp {} it {} ; rel {rel}", f.objective, f.iterations, c.objective, c.iterations);
        assert!(rel < 1e-4, "FISTA {} vs CP {}", f.objective, c.objective);
    }

    #[test]
    fn fista_tv_with_identity_is_tv_denoise() {
        let y = add_gaussian_noise(&piecewise_constant(20, 18).unwrap(), 0.2, 4).unwrap();
        let reg = TotalVariation::default();
        let a = Identity { n: y.len() };
        let x0 = Image::zeros(20, 18).unwrap();
        let opts = SolverOptions { lipschitz: Some(1.0), tol: 1e-12, ..SolverOptions::default() };
        let r = fista(&a, &y.data, &reg, 0.15, &x0, &opts).unwrap();
        let want = tv_denoise(&y, 0.15, &reg.opts).unwrap().image;
        let err = r.image.data.iter().zip(&want.data).map(|(u, v)| (u - v).abs()).fold(0.0, f64::max);
        assert!(err < 1e-6, "max diff {err}");
        // The power-iteration step (L = 1.01) converges to the same point.
        let opts = SolverOptions { max_iter: 2000, tol: 1e-10, ..SolverOptions::default() };
        let r = fista(&a, &y.data, &reg, 0.15, &x0, &opts).unwrap();
        let err = r.image.data.iter().zip(&want.data).map(|(u, v)| (u - v).abs()).fold(0.0, f64::max);
        assert!(err < 1e-5, "max diff {err}");
    }

    #[test]
    fn fista_tikhonov_with_identity_is_closed_form() {
        let y = add_gaussian_noise(&piecewise_constant(16, 16).unwrap(), 0.2, 5).unwrap();
        let a = Identity { n: y.len() };
        let x0 = Image::zeros(16, 16).unwrap();
        let lambda = 0.7;
        let opts = SolverOptions { max_iter: 5000, tol: 1e-13, ..SolverOptions::default() };
        let r = fista(&a, &y.data, &Tikhonov, lambda, &x0, &opts).unwrap();
        assert!(r.converged);
        let err = r.image.data.iter().zip(&y.data).map(|(u, v)| (u - v / (1.0 + 2.0 * lambda)).abs()).fold(0.0, f64::max);
        assert!(err < 1e-10, "max diff {err}");
    }

    #[test]
    fn few_view_radon_tv_beats_least_squares() {
        let n = 32;
        let clean = piecewise_constant(n, n).unwrap();
        let a = Radon::new(n, n, Radon::equispaced_angles(12)).unwrap();
        let sino = a.forward(&clean.data).unwrap();
        let y = add_gaussian_noise(&Image::new(12, a.n_det(), sino).unwrap(), 0.05, 6).unwrap().data;
        let x0 = Image::zeros(n, n).unwrap();
        let err = |x: &Image| (x.data.iter().zip(&clean.data).map(|(u, v)| (u - v).powi(2)).sum::<f64>() / dot(&clean.data, &clean.data)).sqrt();
        let opts = SolverOptions { max_iter: 1000, tol: 1e-8, history_every: 50, ..SolverOptions::default() };
        let ls = fista(&a, &y, &Tikhonov, 0.0, &x0, &opts).unwrap();
        let tv = chambolle_pock(&a, &y, 0.5, None, &x0, &opts).unwrap();
        let pre = tv.image.clone();
        let w = WeightedTv::from_estimate(&pre, 0.1).unwrap();
        let wtv = chambolle_pock(&a, &y, 0.5, Some(&w), &x0, &opts).unwrap();
        eprintln!("ls {} tv {} wtv {}", err(&ls.image), err(&tv.image), err(&wtv.image));
        assert!(err(&tv.image) < 0.7 * err(&ls.image));
        assert!(err(&wtv.image) < err(&ls.image));
        assert!(tv.objective < tv.history[0].1);
    }

    #[test]
    fn weighted_tv_fista_and_chambolle_pock_agree() {
        let (a, y, _) = deblur_problem();
        let x0 = Image::zeros(20, 20).unwrap();
        let pre = Image::new(20, 20, y.clone()).unwrap();
        let mut w = WeightedTv::from_estimate(&pre, 0.2).unwrap();
        w.opts = TvOptions { tau: 0.125, max_iter: 5000, tol: 1e-8 };
        let opts = SolverOptions { max_iter: 1000, tol: 1e-7, ..SolverOptions::default() };
        let f = fista(&a, &y, &w, 0.02, &x0, &opts).unwrap();
        let c = chambolle_pock(&a, &y, 0.02, Some(&w), &x0, &SolverOptions { max_iter: 10_000, tol: 1e-9, history_every: 100, ..opts }).unwrap();
        let rel = (f.objective - c.objective).abs() / c.objective;
        eprintln!("weighted: fista {} cp {} rel {rel}", f.objective, c.objective);
        assert!(rel < 1e-4);
    }

    #[test]
    fn history_and_errors() {
        let (a, y, _) = deblur_problem();
        let x0 = Image::zeros(20, 20).unwrap();
        let opts = SolverOptions { max_iter: 25, tol: 0.0, history_every: 10, ..SolverOptions::default() };
        let r = fista(&a, &y, &Tikhonov, 0.1, &x0, &opts).unwrap();
        let ks: Vec<usize> = r.history.iter().map(|h| h.0).collect();
        assert_eq!(ks, vec![0, 10, 20, 25]);
        assert_eq!(r.iterations, 25);
        assert!(!r.converged);
        assert!(matches!(fista(&a, &y[1..], &Tikhonov, 0.1, &x0, &opts), Err(Error::Length { .. })));
        assert!(matches!(chambolle_pock(&a, &y, -1.0, None, &x0, &opts), Err(Error::Option { .. })));
    }

    #[test]
    fn given_steps_give_the_same_iterates_bit_for_bit() {
        let (conv, y, _) = deblur_problem();
        let x0 = Image::zeros(20, 20).unwrap();
        let opts = SolverOptions { max_iter: 40, tol: 0.0, history_every: 7, lipschitz: None };
        let steps = BalancedSteps::tv(&conv, 20, 20).unwrap();
        assert!(matches!(BalancedSteps::tv(&conv, 16, 16), Err(Error::Length { .. })));
        let w = WeightedTv::from_estimate(&add_gaussian_noise(&piecewise_constant(20, 20).unwrap(), 0.05, 3).unwrap(), 0.1).unwrap();
        for weights in [None, Some(&w)] {
            for lambda in [0.01, 0.1] {
                let a = chambolle_pock(&conv, &y, lambda, weights, &x0, &opts).unwrap();
                let b = chambolle_pock_with_steps(&conv, &y, lambda, weights, &x0, &opts, &steps).unwrap();
                assert_eq!(a, b);
            }
        }
    }
}
