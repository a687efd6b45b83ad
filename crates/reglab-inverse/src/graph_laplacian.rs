//! Data-dependent graph-Laplacian regularization, **graphLa+Ψ** (D. Bianchi, D. Evangelista,
//! S. Aleotti, M. Donatelli, E. Loli Piccolomini, W. Li, "A data-dependent regularization method
//! based on the graph Laplacian", arXiv 2312.16936, 2024; catalog #7).
//!
//! **The graph.** Let `x̃ = Ψ(y) ∈ ℝ^{rows×cols}` be a preliminary reconstruction (any method
//! `Ψ`: FBP, TV, a network …). Its `n = rows·cols` pixels are the nodes, numbered row-major,
//! `p = i·cols + j` for pixel `(i, j)` (the crate's [`Image`] layout). Two distinct pixels
//! `p = (i, j)`, `q = (k, l)` are joined when they lie in a Chebyshev neighbourhood of radius
//! `r ≥ 1`, `max(|i − k|, |j − l|) ≤ r` (up to `(2r+1)² − 1` neighbours per pixel), with weight
//!
//! `w_pq = exp(−(x̃_p − x̃_q)² / σ)`,  `σ > 0`,
//!
//! and `w_pq = 0` otherwise (no self loops). The `n × n` weight matrix is then normalized by its
//! Frobenius norm, `W ← W / ‖W‖_F` (`‖W‖_F² = Σ_{p,q} w_pq²`, both orders of every pair counted),
//! the degree matrix is `D = diag(d)`, `d_q = Σ_p W_pq` (column sums; `W` is symmetric, so they
//! are also the row sums), and the graph Laplacian is
//!
//! `L = D − W ∈ ℝ^{n×n}`,
//!
//! symmetric, positive semidefinite (`xᵀLx = ½ Σ_{p,q} W_pq (x_p − x_q)²`) with `L·1 = 0`. It is
//! stored in CSR form ([`GraphLaplacian`]) and is a [`LinearOperator`] `ℝⁿ → ℝⁿ` with
//! `apply = L x` and `adjoint = Lᵀ y = L y`.
//!
//! **The models.** For a forward operator `A : ℝⁿ → ℝᵐ` and data `y ∈ ℝᵐ`, `λ ≥ 0`:
//!
//! - [`graph_laplacian_l1`]: `x* = argmin_x ½‖Ax − y‖² + λ‖Lx‖₁` (the paper's main convex case),
//!   by Chambolle–Pock with `K = [A; L]` (the `L` block's dual step rescaled, see there);
//! - [`graph_laplacian_l2`]: `x* = argmin_x ½‖Ax − y‖² + λ‖Lx‖₂²`, by conjugate gradients on the
//!   normal equations `(AᵀA + 2λ LᵀL) x = Aᵀy`.
//!
//! **Conventions of the official code** (github `devangelista2/GraphLaNet`, `operators.py`,
//! `GraphLaplacian` / `utils_for_L`), followed here:
//!
//! - `σ` divides the squared difference directly — it is **not** squared (the official default
//!   is `sigmaInt = 1e-3` for images in `[0, 1]`);
//! - the official neighbourhood parameter `R` means the radius `r = R − 1` here (official
//!   default `R = 3`, i.e. `radius = 2`, a 5×5 window);
//! - `W` is divided by its Frobenius norm, and `D` holds the column sums.
//!
//! Deviations: the official code numbers node `(x1, y1)` as `x1·nr + y1`, which is the row-major
//! index only for square images; we use `p = i·cols + j`, correct for any `rows × cols` (the two
//! agree when `rows = cols`). The official solver minimizes the non-convex `‖Lx‖_q^q`, `q < 1`,
//! by majorization–minimization; here the convex `ℓ1` and `ℓ2²` versions are implemented.

use crate::error::{Error, Result, check_finite};
use crate::image::Image;
use crate::operator::LinearOperator;
use crate::regularizer::{Regularizer, check_eta, prox_squared_norm};
use crate::solver::{BalancedSteps, Run, SolverOptions, SolverResult, check_common, data_term};
use crate::tikhonov::tikhonov_cg;
use crate::tv::relative_change;

/// The graph Laplacian `L = D − W` of a preliminary estimate (see the [module docs](self)),
/// an `n × n` sparse symmetric matrix (`n = rows·cols`) in CSR form.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphLaplacian {
    rows: usize,
    cols: usize,
    sigma: f64,
    radius: usize,
    /// Row `p` occupies `col_idx[row_ptr[p]..row_ptr[p+1]]` / `values[..]`, columns ascending.
    row_ptr: Vec<usize>,
    col_idx: Vec<usize>,
    values: Vec<f64>,
    frobenius_raw: f64,
}

impl GraphLaplacian {
    /// The Laplacian of the graph on `estimate`'s pixels with weights
    /// `w_pq = exp(−(x̃_p − x̃_q)²/σ)` on the Chebyshev neighbourhood of radius `radius`
    /// (official `R = radius + 1`), `W` normalized by `‖W‖_F`.
    ///
    /// `Err` if `σ` is not finite and `> 0`, `radius = 0`, `estimate` has a non-finite value, or
    /// every weight is zero (a single-pixel image, or all neighbour differences so large that
    /// `exp(−d²/σ)` underflows).
    pub fn from_estimate(estimate: &Image, sigma: f64, radius: usize) -> Result<Self> {
        if !(sigma.is_finite() && sigma > 0.0) {
            return Err(Error::Option { name: "sigma", why: format!("must be finite and > 0, got {sigma}") });
        }
        if radius == 0 {
            return Err(Error::Option { name: "radius", why: "must be ≥ 1".into() });
        }
        check_finite("estimate", &estimate.data)?;
        let (rows, cols) = (estimate.rows, estimate.cols);
        let n = rows * cols;
        let x = &estimate.data;
        let side = 2 * radius + 1;
        let mut row_ptr = Vec::with_capacity(n + 1);
        let mut col_idx = Vec::with_capacity(n * side.min(rows) * side.min(cols));
        let mut values = Vec::with_capacity(col_idx.capacity());
        // Pass 1: raw weights (the diagonal slot holds 0 for now) and ‖W‖_F².
        let mut sum_sq = 0.0;
        let mut diag_pos = Vec::with_capacity(n);
        row_ptr.push(0);
        for i in 0..rows {
            let (i0, i1) = (i.saturating_sub(radius), (i + radius).min(rows - 1));
            for j in 0..cols {
                let (j0, j1) = (j.saturating_sub(radius), (j + radius).min(cols - 1));
                let p = i * cols + j;
                let xp = x[p];
                // Neighbours in (row, column) lexicographic order = ascending column index.
                for k in i0..=i1 {
                    for l in j0..=j1 {
                        let q = k * cols + l;
                        col_idx.push(q);
                        if q == p {
                            diag_pos.push(values.len());
                            values.push(0.0);
                        } else {
                            let d = xp - x[q];
                            let w = (-(d * d) / sigma).exp();
                            sum_sq += w * w;
                            values.push(w);
                        }
                    }
                }
                row_ptr.push(col_idx.len());
            }
        }
        let frobenius_raw = sum_sq.sqrt();
        if frobenius_raw == 0.0 {
            return Err(Error::Option {
                name: "sigma",
                why: format!(
                    "every graph weight is zero (σ = {sigma}, radius {radius}, {rows}×{cols} \
                     image): nothing to regularize"
                ),
            });
        }
        // Pass 2: normalize, negate the off-diagonal, put the degree on the diagonal. `w_pq` and
        // `w_qp` are computed from `(x_p − x_q)²` and `(x_q − x_p)²`, bitwise equal, so `W` is
        // exactly symmetric and the row sums are the column sums.
        let inv = 1.0 / frobenius_raw;
        for p in 0..n {
            let mut degree = 0.0;
            for (k, v) in values[row_ptr[p]..row_ptr[p + 1]].iter_mut().enumerate() {
                if row_ptr[p] + k != diag_pos[p] {
                    let w = *v * inv;
                    degree += w;
                    *v = -w;
                }
            }
            values[diag_pos[p]] = degree;
        }
        Ok(Self { rows, cols, sigma, radius, row_ptr, col_idx, values, frobenius_raw })
    }

    /// Image rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Image columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// `σ` of the weights.
    pub fn sigma(&self) -> f64 {
        self.sigma
    }

    /// The neighbourhood radius `r` (official `R = r + 1`).
    pub fn radius(&self) -> usize {
        self.radius
    }

    /// Stored entries of `L` (the diagonal and every neighbour pair in both orders, including
    /// weights that underflowed to 0).
    pub fn nnz(&self) -> usize {
        self.values.len()
    }

    /// `‖W‖_F` of the raw weights, before the normalization.
    pub fn weights_frobenius_raw(&self) -> f64 {
        self.frobenius_raw
    }

    /// Row `p` of `L` as `(column indices ascending, values)`.
    pub fn row(&self, p: usize) -> (&[usize], &[f64]) {
        let r = self.row_ptr[p]..self.row_ptr[p + 1];
        (&self.col_idx[r.clone()], &self.values[r])
    }

    /// The normalized degrees `d_p = L_pp = Σ_q W_pq / ‖W‖_F`.
    pub fn degrees(&self) -> Vec<f64> {
        (0..self.input_len())
            .map(|p| {
                let (c, v) = self.row(p);
                c.iter().zip(v).find(|(q, _)| **q == p).map_or(0.0, |(_, v)| *v)
            })
            .collect()
    }

    /// `L` as a dense row-major `n × n` matrix (for small graphs and tests).
    pub fn to_dense(&self) -> Vec<f64> {
        let n = self.input_len();
        let mut m = vec![0.0; n * n];
        for p in 0..n {
            let (c, v) = self.row(p);
            for (q, w) in c.iter().zip(v) {
                m[p * n + q] = *w;
            }
        }
        m
    }
}

impl LinearOperator for GraphLaplacian {
    fn input_len(&self) -> usize {
        self.rows * self.cols
    }
    fn output_len(&self) -> usize {
        self.rows * self.cols
    }
    fn apply(&self, x: &[f64], out: &mut [f64]) {
        assert_eq!(x.len(), self.input_len(), "input buffer length");
        assert_eq!(out.len(), self.output_len(), "output buffer length");
        for (p, o) in out.iter_mut().enumerate() {
            let r = self.row_ptr[p]..self.row_ptr[p + 1];
            *o = self.col_idx[r.clone()].iter().zip(&self.values[r]).map(|(&q, &w)| w * x[q]).sum();
        }
    }
    /// `Lᵀ y = L y`: the stored matrix is exactly symmetric (see
    /// [`from_estimate`](GraphLaplacian::from_estimate)).
    fn adjoint(&self, y: &[f64], out: &mut [f64]) {
        self.apply(y, out);
    }
}

/// The checks every solver of this module runs: lengths, shapes, finiteness and options.
fn check_inputs<A: LinearOperator>(a: &A, y: &[f64], lambda: f64, lap: &GraphLaplacian, x0: &Image, opts: &SolverOptions) -> Result<()> {
    check_common(a, y, lambda, x0, opts)?;
    if (lap.rows, lap.cols) != (x0.rows, x0.cols) {
        return Err(Error::Option { name: "lap", why: format!("graph of a {}×{} image, x0 is {}×{}", lap.rows, lap.cols, x0.rows, x0.cols) });
    }
    Ok(())
}

/// graphLa+Ψ with the `ℓ1` penalty: `min_x ½‖Ax − y‖² + λ‖Lx‖₁`, from `x0` (whose shape must be
/// the graph's image shape), by Chambolle–Pock (2011, `θ = 1`) with `K = [A; L]`,
/// `F(Ax, Lx) = ½‖Ax − y‖² + λ‖Lx‖₁`, `G = 0`:
///
/// `u ← (u + σ(Ax̄ − y))/(1 + σ)`, `z ← clip(z + σ_z L x̄, −λ, λ)`,
/// `x⁺ ← x − τ(Aᵀu + Lᵀz)`, `x̄ ← 2x⁺ − x`,
///
/// with `u ∈ ℝᵐ`, `z ∈ ℝⁿ` starting at 0.
///
/// **Steps.** Because `L` is normalized by `‖W‖_F`, `‖L‖` is tiny next to a typical `‖A‖`
/// (e.g. `‖L‖² ≈ 10⁻³`, `‖A‖² ≈ 10³` for 32×32 few-view CT). With one step `σ` for both dual
/// blocks, `z` then moves by `σ·Lx̄ ≈ 0` per iteration, never reaches the clip `±λ` within
/// thousands of iterations, and the result does not depend on `λ` (measured). So the `L` block is
/// balanced: with `μ = √(‖A‖²/‖L‖²)` (200-step power-iteration estimates of each),
/// `σ = τ = 0.99/√(1.05 ×` a 200-step estimate of `‖K_μ‖²)`, `K_μ = [A; μL]` — the
/// [`chambolle_pock`](crate::chambolle_pock) rule applied to `K_μ` — and `σ_z = μ²σ`. This is
/// exactly Chambolle–Pock on the equivalent problem with `K_μ` and penalty `(λ/μ)‖μLx‖₁` (dual
/// `z/μ`), so it converges whenever `στ‖K_μ‖² < 1`; `z` is reported in the original scaling.
///
/// Stops when `‖x^k − x^{k−1}‖ ≤ tol·‖x^k‖` or at `max_iter`; the history records
/// `Φ(x) = ½‖Ax − y‖² + λ‖Lx‖₁` like the other solvers. ([`SolverOptions::lipschitz`] is
/// ignored.) As `L`'s entries are small (`‖L‖ ≤ 2 max_p d_p`), useful `λ` are much larger than
/// for TV (30 in the few-view CT test, where TV's best is 0.03). `Err` for bad lengths, shapes,
/// non-finite data, `λ < 0` or bad options.
pub fn graph_laplacian_l1<A: LinearOperator>(
    a: &A,
    y: &[f64],
    lambda: f64,
    lap: &GraphLaplacian,
    x0: &Image,
    opts: &SolverOptions,
) -> Result<SolverResult> {
    check_inputs(a, y, lambda, lap, x0, opts)?;
    let steps = BalancedSteps::new(a, lap)?;
    Ok(l1_primal_dual(a, y, lambda, lap, x0, opts, &steps)?.0)
}

/// [`graph_laplacian_l1`] with its step sizes given (from [`BalancedSteps::new`]`(a, lap)`), so
/// that a sweep over `λ` estimates them once.
pub fn graph_laplacian_l1_with_steps<A: LinearOperator>(
    a: &A,
    y: &[f64],
    lambda: f64,
    lap: &GraphLaplacian,
    x0: &Image,
    opts: &SolverOptions,
    steps: &BalancedSteps,
) -> Result<SolverResult> {
    Ok(l1_primal_dual(a, y, lambda, lap, x0, opts, steps)?.0)
}

/// [`graph_laplacian_l1`] returning also the final dual variables `(u, z)`.
fn l1_primal_dual<A: LinearOperator>(
    a: &A,
    y: &[f64],
    lambda: f64,
    lap: &GraphLaplacian,
    x0: &Image,
    opts: &SolverOptions,
    steps: &BalancedSteps,
) -> Result<(SolverResult, Vec<f64>, Vec<f64>)> {
    check_inputs(a, y, lambda, lap, x0, opts)?;
    let BalancedSteps { sigma, tau, sigma_b: sigma_z } = *steps;
    let (n, m) = (x0.len(), a.output_len());
    let mut ax = vec![0.0; m];
    let mut lx = vec![0.0; n];
    let objective = |x: &[f64], ax: &mut [f64], lx: &mut [f64]| {
        lap.apply(x, lx);
        data_term(a, x, y, ax) + lambda * lx.iter().map(|v| v.abs()).sum::<f64>()
    };
    let mut x = x0.clone();
    let mut xbar = x0.data.clone();
    let mut u = vec![0.0; m];
    let mut z = vec![0.0; n];
    let mut atu = vec![0.0; n];
    let mut ltz = vec![0.0; n];
    let mut run = Run::new(objective(&x.data, &mut ax, &mut lx));
    while run.iterations < opts.max_iter {
        a.apply(&xbar, &mut ax);
        for k in 0..m {
            u[k] = (u[k] + sigma * (ax[k] - y[k])) / (1.0 + sigma);
        }
        lap.apply(&xbar, &mut lx);
        for (zi, li) in z.iter_mut().zip(&lx) {
            *zi = (*zi + sigma_z * li).clamp(-lambda, lambda);
        }
        a.adjoint(&u, &mut atu);
        lap.adjoint(&z, &mut ltz);
        let (mut d2, mut x2) = (0.0, 0.0);
        for k in 0..n {
            let new = x.data[k] - tau * (atu[k] + ltz[k]);
            xbar[k] = 2.0 * new - x.data[k];
            d2 += (new - x.data[k]) * (new - x.data[k]);
            x2 += new * new;
            x.data[k] = new;
        }
        if run.step(relative_change(d2, x2), opts, || objective(&x.data, &mut ax, &mut lx)) {
            break;
        }
    }
    Ok((run.result(x), u, z))
}

/// graphLa+Ψ with the quadratic penalty: `min_x ½‖Ax − y‖² + λ‖Lx‖₂²`, i.e. the normal
/// equations `(AᵀA + 2λ LᵀL) x = Aᵀy`, solved by conjugate gradients from `x0` (the matrix is
/// symmetric positive semidefinite; CG converges whenever the system is consistent, e.g. always
/// for `λ > 0` and `ker A ∩ ker L = {0}`, since `ker L` = the constants on a connected graph).
///
/// **Stopping.** With the residual `r_k = Aᵀy − (AᵀA + 2λLᵀL) x_k`, stop after iteration `k`
/// when `‖r_k‖ ≤ tol·‖Aᵀy‖` (`≤ tol` if `Aᵀy = 0`), or at `max_iter`; `x0` already satisfying the
/// rule returns after 0 iterations. In the returned [`SolverResult`], `rel_change` holds this
/// final **relative residual** (not a change of `x`), `converged` says whether the rule fired,
/// and `objective`/`history` are `Φ(x) = ½‖Ax − y‖² + λ‖Lx‖²` as for the other solvers.
/// This is [`tikhonov_cg`] with `B = L`, after checking that the graph has `x0`'s shape.
/// ([`SolverOptions::lipschitz`] is ignored.)
pub fn graph_laplacian_l2<A: LinearOperator>(
    a: &A,
    y: &[f64],
    lambda: f64,
    lap: &GraphLaplacian,
    x0: &Image,
    opts: &SolverOptions,
) -> Result<SolverResult> {
    check_inputs(a, y, lambda, lap, x0, opts)?;
    tikhonov_cg(a, y, lambda, lap, x0, opts)
}

/// The graphLa penalty as a [`Regularizer`] (value and prox), for [`fista`](crate::fista) or any
/// proximal method: `R(x) = ‖Lx‖₁` ([`LaplacianNorm::L1`]) or `‖Lx‖₂²` ([`LaplacianNorm::L2`])
/// with the graph Laplacian `L` of a preliminary reconstruction.
///
/// **Prox of `‖Lx‖₂²`**: `(I + 2ηLᵀL) z = v` by conjugate gradients (to `‖r‖ ≤ tol·‖v‖`).
///
/// **Prox of `‖Lx‖₁`**: `‖Lz‖₁ = max_{|q_i| ≤ 1} ⟨q, Lz⟩`, so `z* = v − ηLᵀq*` with `q*` solving the
/// dual `min_{|q_i| ≤ 1} ½‖v − ηLᵀq‖²`, by projected gradient with step `1/(η²‖L‖²)` (`‖L‖²` by
/// 200 power iterations, times 1.05): `q ← clip(q + L z/(η‖L‖²), −1, 1)`, `z = v − ηLᵀq`,
/// until the relative change of `z` is below `tol` or `max_iter` iterations. Every iterate is
/// dual feasible, and at the solution `(v − z*)/η = Lᵀq*` with `⟨q*, Lz*⟩ = ‖Lz*‖₁`: the
/// certificate of `(v − z*)/η ∈ ∂R(z*)`.
#[derive(Debug, Clone)]
pub struct GraphLaplacianPenalty {
    lap: GraphLaplacian,
    norm: LaplacianNorm,
    /// `‖L‖²` (an estimate from above).
    lap_norm_sq: f64,
    /// Most iterations of the inner prox solver; default 20,000.
    pub max_iter: usize,
    /// Relative tolerance of the inner prox solver; default `1e-10`.
    pub tol: f64,
}

/// Which norm of `Lx` a [`GraphLaplacianPenalty`] takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaplacianNorm {
    /// `‖Lx‖₁`.
    L1,
    /// `‖Lx‖₂²`.
    L2,
}

impl GraphLaplacianPenalty {
    /// The penalty `‖Lx‖₁` or `‖Lx‖₂²` of the graph `lap`.
    pub fn new(lap: GraphLaplacian, norm: LaplacianNorm) -> Self {
        let lap_norm_sq = 1.05 * crate::operator::norm_squared_estimate(&lap, 200);
        Self { lap, norm, lap_norm_sq, max_iter: 20_000, tol: 1e-10 }
    }

    /// The graph.
    pub fn laplacian(&self) -> &GraphLaplacian {
        &self.lap
    }

    /// The prox of `‖Lx‖₁` with its dual `q` (see the type's docs).
    pub fn prox_l1_with_dual(&self, v: &Image, eta: f64) -> Result<(Image, Vec<f64>)> {
        self.check(v, eta)?;
        let n = v.len();
        let mut q = vec![0.0; n];
        let mut z = v.data.clone();
        if eta == 0.0 {
            return Ok((v.clone(), q));
        }
        let mut lz = vec![0.0; n];
        let mut ltq = vec![0.0; n];
        let step = 1.0 / (eta * self.lap_norm_sq);
        for _ in 0..self.max_iter {
            self.lap.apply(&z, &mut lz);
            for (qi, li) in q.iter_mut().zip(&lz) {
                *qi = (*qi + step * li).clamp(-1.0, 1.0);
            }
            self.lap.adjoint(&q, &mut ltq);
            let (mut d2, mut z2) = (0.0, 0.0);
            for k in 0..n {
                let new = v.data[k] - eta * ltq[k];
                d2 += (new - z[k]) * (new - z[k]);
                z2 += new * new;
                z[k] = new;
            }
            if relative_change(d2, z2) <= self.tol {
                break;
            }
        }
        Ok((Image::new(v.rows, v.cols, z)?, q))
    }

    fn check(&self, v: &Image, eta: f64) -> Result<()> {
        if (v.rows, v.cols) != (self.lap.rows, self.lap.cols) {
            return Err(Error::Option {
                name: "v",
                why: format!("a {}×{} image for the graph of a {}×{} image", v.rows, v.cols, self.lap.rows, self.lap.cols),
            });
        }
        check_finite("v", &v.data)?;
        check_eta(eta)
    }
}

impl Regularizer for GraphLaplacianPenalty {
    fn value(&self, x: &Image) -> f64 {
        let lx = self.lap.forward(&x.data).expect("the graph's shape");
        match self.norm {
            LaplacianNorm::L1 => lx.iter().map(|v| v.abs()).sum(),
            LaplacianNorm::L2 => lx.iter().map(|v| v * v).sum(),
        }
    }

    fn prox(&self, v: &Image, eta: f64) -> Result<Image> {
        match self.norm {
            LaplacianNorm::L1 => Ok(self.prox_l1_with_dual(v, eta)?.0),
            LaplacianNorm::L2 => {
                self.check(v, eta)?;
                prox_squared_norm(&self.lap, v, eta, self.tol, self.max_iter)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::dot;
    use crate::operator::{Convolution, Identity, Radon};
    use crate::phantom::{Rng, add_gaussian_noise, piecewise_constant, shepp_logan};
    use crate::regularizer::Tikhonov;
    use crate::solver::{chambolle_pock, fista};

    fn random(rng: &mut Rng, n: usize) -> Vec<f64> {
        (0..n).map(|_| rng.normal()).collect()
    }

    fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
        a.iter().zip(b).map(|(u, v)| (u - v).abs()).fold(0.0, f64::max)
    }

    fn norm(v: &[f64]) -> f64 {
        dot(v, v).sqrt()
    }

    /// Reference values from an independent dense numpy construction (numpy 2, float64, run
    /// once by hand with /work/venv-torch/bin/python): for every ordered pair of distinct pixels
    /// `(i1, j1), (i2, j2)` with `max(|i1−i2|, |j1−j2|) ≤ r`,
    /// `W[i1*cols+j1, i2*cols+j2] = np.exp(-(img[i1,j1]-img[i2,j2])**2/sigma)`;
    /// `fro = np.linalg.norm(W, 'fro')`; `Wn = W/fro`; `L = np.diag(Wn.sum(axis=0)) - Wn`;
    /// printed with `repr(float(v))`.
    #[test]
    fn graph_laplacian_weights_match_numpy_reference() {
        // 3×3, σ = 0.05, radius 1.
        let img = Image::new(3, 3, vec![0.0, 0.1, 0.2, 0.05, 0.3, 0.02, 0.15, 0.0, 0.25]).unwrap();
        let lap = GraphLaplacian::from_estimate(&img, 0.05, 1).unwrap();
        #[rustfmt::skip]
        let want: [f64; 81] = [
            0.4386922697263901, -0.18559316357681008, 0.0, -0.21562849265980952, -0.03747061348977047, 0.0, 0.0, 0.0, 0.0,
            -0.18559316357681008, 0.8881191926234135, -0.18559316357681008, -0.21562849265980952, -0.10185568775045543, -0.19944868505952848, 0.0, 0.0, 0.0,
            0.0, -0.18559316357681008, 0.4897626686871458, 0.0, -0.1855931635768101, -0.11857634153352559, 0.0, 0.0, 0.0,
            -0.21562849265980952, -0.21562849265980952, 0.0, 0.897424695468726, -0.06494605391248738, 0.0, -0.1855931635768101, -0.21562849265980952, 0.0,
            -0.03747061348977047, -0.10185568775045543, -0.1855931635768101, -0.06494605391248738, 0.834759655928673, -0.04725492992325049, -0.14454010112631904, -0.03747061348977047, -0.21562849265980952,
            0.0, -0.19944868505952848, -0.11857634153352559, 0.0, -0.04725492992325049, 0.6688509396915434, 0.0, -0.22487776445626484, -0.07869321871897389,
            0.0, 0.0, 0.0, -0.1855931635768101, -0.14454010112631904, 0.0, 0.4746733658294482, -0.14454010112631904, 0.0,
            0.0, 0.0, 0.0, -0.21562849265980952, -0.03747061348977047, -0.22487776445626484, -0.14454010112631904, 0.6874630256446513, -0.06494605391248738,
            0.0, 0.0, 0.0, 0.0, -0.21562849265980952, -0.07869321871897389, 0.0, -0.06494605391248738, 0.35926776529127075,
        ];
        assert!((lap.weights_frobenius_raw() - 4.411427324687742).abs() < 1e-14);
        let got = lap.to_dense();
        let err = max_abs_diff(&got, &want);
        assert!(err < 1e-14, "3×3 max diff {err}");
        // 3×3 with radius 1: 4 corners × 3 + 4 edges × 5 + 1 × 8 neighbours, plus 9 diagonals.
        assert_eq!(lap.nnz(), 4 * 3 + 4 * 5 + 8 + 9);

        // 2×3 (non-square: checks the row-major node numbering p = i·cols + j), σ = 0.1.
        let img = Image::new(2, 3, vec![0.0, 0.4, 0.1, 0.2, 0.05, 0.3]).unwrap();
        let lap = GraphLaplacian::from_estimate(&img, 0.1, 1).unwrap();
        #[rustfmt::skip]
        let want: [f64; 36] = [
            0.568232267431334, -0.062096060702381856, 0.0, -0.20616618197325393, -0.2999700247556983, 0.0,
            -0.062096060702381856, 0.7619528248027985, -0.12504611036267252, -0.20616618197325393, -0.09034923520357628, -0.2782952365609138,
            0.0, -0.12504611036267252, 0.6311823170916248, 0.0, -0.2999700247556983, -0.20616618197325395,
            -0.20616618197325393, -0.20616618197325393, 0.0, 0.6579270482155615, -0.24559468426905368, 0.0,
            -0.2999700247556983, -0.09034923520357628, -0.2999700247556983, -0.24559468426905368, 1.100511009049367, -0.1646270400653404,
            0.0, -0.2782952365609138, -0.20616618197325395, 0.0, -0.1646270400653404, 0.6490884585995083,
        ];
        assert!((lap.weights_frobenius_raw() - 3.2513579075864163).abs() < 1e-14);
        let err = max_abs_diff(&lap.to_dense(), &want);
        assert!(err < 1e-14, "2×3 max diff {err}");
    }

    #[test]
    fn graph_laplacian_is_symmetric_psd_with_constant_kernel() {
        let mut rng = Rng::new(11);
        let (rows, cols) = (9, 7);
        let est = Image::new(rows, cols, (0..rows * cols).map(|_| rng.uniform()).collect()).unwrap();
        for radius in [1, 2, 4] {
            let lap = GraphLaplacian::from_estimate(&est, 0.1, radius).unwrap();
            let n = rows * cols;
            // Exactly symmetric storage.
            let dense = lap.to_dense();
            for p in 0..n {
                for q in 0..n {
                    assert_eq!(dense[p * n + q], dense[q * n + p], "({p}, {q})");
                }
            }
            // L·1 = 0 to rounding (degrees are O(1/√n)).
            let l1 = lap.forward(&vec![1.0; n]).unwrap();
            assert!(l1.iter().all(|v| v.abs() < 1e-15), "{l1:?}");
            // Degrees are the diagonal and equal Σ_q W_pq.
            let d = lap.degrees();
            for p in 0..n {
                let off: f64 = (0..n).filter(|&q| q != p).map(|q| -dense[p * n + q]).sum();
                assert!((d[p] - off).abs() < 1e-15);
            }
            for _ in 0..5 {
                let x = random(&mut rng, n);
                let y = random(&mut rng, n);
                let lx = lap.forward(&x).unwrap();
                // xᵀLx = ½ Σ_{p,q} W_pq (x_p − x_q)² ≥ 0.
                let quad = dot(&x, &lx);
                let pairs: f64 = (0..n)
                    .flat_map(|p| (0..n).map(move |q| (p, q)))
                    .filter(|&(p, q)| p != q)
                    .map(|(p, q)| -dense[p * n + q] * (x[p] - x[q]).powi(2))
                    .sum::<f64>()
                    * 0.5;
                assert!(quad >= 0.0, "xᵀLx = {quad}");
                assert!((quad - pairs).abs() <= 1e-12 * pairs, "{quad} vs {pairs}");
                // ⟨Lx, y⟩ = ⟨x, Lᵀy⟩.
                let lty = lap.transpose(&y).unwrap();
                let (l, r) = (dot(&lx, &y), dot(&x, &lty));
                assert!((l - r).abs() <= 1e-12 * norm(&lx) * norm(&y), "{l} vs {r}");
            }
        }
    }

    #[test]
    fn graph_laplacian_of_constant_estimate_is_normalized_grid_graph() {
        let (rows, cols) = (4, 5);
        let est = Image::new(rows, cols, vec![0.37; rows * cols]).unwrap();
        let lap = GraphLaplacian::from_estimate(&est, 1e-3, 1).unwrap();
        // King's-move grid graph: every weight is 1, so ‖W‖_F = √(#ordered neighbour pairs).
        let deg = |i: usize, j: usize| {
            let a = if i == 0 || i == rows - 1 { 2 } else { 3 };
            let b = if j == 0 || j == cols - 1 { 2 } else { 3 };
            a * b - 1
        };
        let pairs: usize = (0..rows).flat_map(|i| (0..cols).map(move |j| deg(i, j))).sum();
        assert_eq!(pairs, 4 * 3 + 2 * (3 + 2) * 5 + 6 * 8);
        let fro = (pairs as f64).sqrt();
        assert!((lap.weights_frobenius_raw() - fro).abs() < 1e-12);
        assert_eq!(lap.nnz(), pairs + rows * cols);
        let n = rows * cols;
        let dense = lap.to_dense();
        for p in 0..n {
            for q in 0..n {
                let (ip, jp, iq, jq) = (p / cols, p % cols, q / cols, q % cols);
                let want = if p == q {
                    deg(ip, jp) as f64 / fro
                } else if ip.abs_diff(iq) <= 1 && jp.abs_diff(jq) <= 1 {
                    -1.0 / fro
                } else {
                    0.0
                };
                assert!((dense[p * n + q] - want).abs() < 1e-15, "({p}, {q})");
            }
        }
    }

    #[test]
    fn graph_laplacian_errors() {
        let est = Image::new(2, 2, vec![0.0, 1.0, 0.5, 0.2]).unwrap();
        for s in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(matches!(GraphLaplacian::from_estimate(&est, s, 1), Err(Error::Option { name: "sigma", .. })));
        }
        assert!(matches!(GraphLaplacian::from_estimate(&est, 0.1, 0), Err(Error::Option { name: "radius", .. })));
        let bad = Image::new(2, 2, vec![0.0, f64::NAN, 0.5, 0.2]).unwrap();
        assert!(matches!(GraphLaplacian::from_estimate(&bad, 0.1, 1), Err(Error::NonFinite { .. })));
        // A single pixel has no edges; huge jumps with tiny σ underflow every weight.
        let one = Image::new(1, 1, vec![3.0]).unwrap();
        assert!(GraphLaplacian::from_estimate(&one, 0.1, 1).is_err());
        let jumps = Image::new(1, 2, vec![0.0, 1.0]).unwrap();
        assert!(GraphLaplacian::from_estimate(&jumps, 1e-4, 1).is_err());
        assert!(GraphLaplacian::from_estimate(&jumps, 1e-2, 1).is_ok());

        // Solver input checks.
        let lap = GraphLaplacian::from_estimate(&est, 0.1, 1).unwrap();
        let a = Identity { n: 4 };
        let x0 = Image::zeros(2, 2).unwrap();
        let y = vec![1.0, 0.0, 0.0, 1.0];
        let o = SolverOptions::default();
        for f in [graph_laplacian_l1::<Identity>, graph_laplacian_l2::<Identity>] {
            assert!(matches!(f(&a, &y[1..], 0.1, &lap, &x0, &o), Err(Error::Length { what: "y", .. })));
            assert!(matches!(f(&a, &y, -0.1, &lap, &x0, &o), Err(Error::Option { name: "lambda", .. })));
            assert!(matches!(f(&a, &[1.0, f64::NAN, 0.0, 0.0], 0.1, &lap, &x0, &o), Err(Error::NonFinite { .. })));
            let x14 = Image::zeros(1, 4).unwrap();
            assert!(matches!(f(&a, &y, 0.1, &lap, &x14, &o), Err(Error::Option { name: "lap", .. })));
            let bad_opts = SolverOptions { history_every: 0, ..o };
            assert!(f(&a, &y, 0.1, &lap, &x0, &bad_opts).is_err());
        }
    }

    fn blur_problem(n: usize, noise: f64) -> (Convolution, Vec<f64>, Image) {
        let clean = piecewise_constant(n, n).unwrap();
        let k = Image::new(3, 3, vec![1.0, 2.0, 1.0, 2.0, 4.0, 2.0, 1.0, 2.0, 1.0]).unwrap();
        let k = Image::new(3, 3, k.data.iter().map(|v| v / 16.0).collect()).unwrap();
        let a = Convolution::new(n, n, k).unwrap();
        let b = Image::new(n, n, a.forward(&clean.data).unwrap()).unwrap();
        let y = add_gaussian_noise(&b, noise, 21).unwrap().data;
        (a, y, clean)
    }

    #[test]
    fn graph_laplacian_l1_satisfies_optimality_conditions() {
        let n = 12;
        let (a, y, clean) = blur_problem(n, 0.05);
        // Ψ: a noisy version of the truth, so that Lx is not trivially 0.
        let est = add_gaussian_noise(&clean, 0.05, 5).unwrap();
        let lap = GraphLaplacian::from_estimate(&est, 0.01, 1).unwrap();
        let lambda = 0.05;
        let x0 = Image::zeros(n, n).unwrap();
        let opts = SolverOptions { max_iter: 200_000, tol: 1e-13, history_every: 1000, ..SolverOptions::default() };
        let (r, _u, z) = l1_primal_dual(&a, &y, lambda, &lap, &x0, &opts, &BalancedSteps::new(&a, &lap).unwrap()).unwrap();
        let x = &r.image.data;
        // Stationarity: Aᵀ(Ax − y) + Lᵀz = 0.
        let mut res = a.forward(x).unwrap();
        for (ri, yi) in res.iter_mut().zip(&y) {
            *ri -= yi;
        }
        let mut g = a.transpose(&res).unwrap();
        let ltz = lap.transpose(&z).unwrap();
        for (gi, li) in g.iter_mut().zip(&ltz) {
            *gi += li;
        }
        let aty = a.transpose(&y).unwrap();
        let stat = norm(&g) / norm(&aty);
        // Dual feasibility and z ∈ λ ∂‖·‖₁(Lx).
        let lx = lap.forward(x).unwrap();
        let lx_max = lx.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
        let mut sign_err = 0.0_f64;
        let mut active = 0;
        for (zi, li) in z.iter().zip(&lx) {
            assert!(zi.abs() <= lambda, "|z| = {} > λ", zi.abs());
            if li.abs() > 1e-6 * lx_max {
                active += 1;
                sign_err = sign_err.max((zi - lambda * li.signum()).abs() / lambda);
            }
        }
        eprintln!(
            "l1 optimality: iterations {} converged {} stationarity {stat:.3e} sign err \
             {sign_err:.3e} active {active}/{} objective {}",
            r.iterations,
            r.converged,
            n * n,
            r.objective
        );
        assert!(stat < 1e-8, "stationarity {stat}");
        assert!(sign_err < 1e-6, "sign error {sign_err}");
        assert!(active > 0 && active < n * n);
        assert!(r.objective < r.history[0].1);
    }

    /// Dense Gaussian elimination with partial pivoting for the `n × n` system `m x = b`.
    fn dense_solve(mut m: Vec<f64>, mut b: Vec<f64>) -> Vec<f64> {
        let n = b.len();
        for c in 0..n {
            let piv = (c..n).max_by(|&i, &j| m[i * n + c].abs().total_cmp(&m[j * n + c].abs())).unwrap();
            for k in 0..n {
                m.swap(c * n + k, piv * n + k);
            }
            b.swap(c, piv);
            for i in c + 1..n {
                let f = m[i * n + c] / m[c * n + c];
                for k in c..n {
                    m[i * n + k] -= f * m[c * n + k];
                }
                b[i] -= f * b[c];
            }
        }
        let mut x = vec![0.0; n];
        for i in (0..n).rev() {
            let s: f64 = (i + 1..n).map(|k| m[i * n + k] * x[k]).sum();
            x[i] = (b[i] - s) / m[i * n + i];
        }
        x
    }

    #[test]
    fn graph_laplacian_l2_solves_normal_equations() {
        // A = I on 6×6: (I + 2λ L²) x = y, against a dense solve.
        let n = 6;
        let clean = piecewise_constant(n, n).unwrap();
        let y = add_gaussian_noise(&clean, 0.1, 8).unwrap().data;
        let lap = GraphLaplacian::from_estimate(&clean, 0.05, 2).unwrap();
        let lambda = 3.0;
        let a = Identity { n: n * n };
        let x0 = Image::zeros(n, n).unwrap();
        let opts = SolverOptions { max_iter: 500, tol: 1e-13, ..SolverOptions::default() };
        let r = graph_laplacian_l2(&a, &y, lambda, &lap, &x0, &opts).unwrap();
        assert!(r.converged && r.rel_change <= 1e-13);
        let l = lap.to_dense();
        let nn = n * n;
        let mut m = vec![0.0; nn * nn];
        for i in 0..nn {
            for j in 0..nn {
                let l2: f64 = (0..nn).map(|k| l[i * nn + k] * l[k * nn + j]).sum();
                m[i * nn + j] = f64::from(u8::from(i == j)) + 2.0 * lambda * l2;
            }
        }
        let want = dense_solve(m, y.clone());
        let err = max_abs_diff(&r.image.data, &want);
        eprintln!("l2 identity: iterations {} max diff {err:.3e}", r.iterations);
        assert!(err < 1e-10, "max diff {err}");
        let obj = 0.5 * r.image.data.iter().zip(&y).map(|(u, v)| (u - v).powi(2)).sum::<f64>()
            + lambda * lap.forward(&r.image.data).unwrap().iter().map(|v| v * v).sum::<f64>();
        assert!((obj - r.objective).abs() <= 1e-12 * obj);

        // A = blur: the normal-equation residual is small.
        let m = 16;
        let (a, y, clean) = blur_problem(m, 0.02);
        let lap = GraphLaplacian::from_estimate(&clean, 1e-3, 2).unwrap();
        let x0 = Image::zeros(m, m).unwrap();
        let opts = SolverOptions { max_iter: 2000, tol: 1e-10, history_every: 10, ..SolverOptions::default() };
        let lambda = 5.0;
        let r = graph_laplacian_l2(&a, &y, lambda, &lap, &x0, &opts).unwrap();
        let x = &r.image.data;
        let ata = a.transpose(&a.forward(x).unwrap()).unwrap();
        let ltl = lap.transpose(&lap.forward(x).unwrap()).unwrap();
        let aty = a.transpose(&y).unwrap();
        let res: Vec<f64> = (0..m * m).map(|k| aty[k] - ata[k] - 2.0 * lambda * ltl[k]).collect();
        let rel = norm(&res) / norm(&aty);
        eprintln!("l2 blur: iterations {} reported {:.3e} true residual {rel:.3e}", r.iterations, r.rel_change);
        assert!(r.converged);
        assert!(rel < 1e-8, "relative residual {rel}");
        // The objective history is non-increasing (CG on a convex quadratic from x0).
        assert!(r.history.windows(2).all(|w| w[1].1 <= w[0].1 + 1e-12));
    }

    /// Few-view CT sanity check (32×32 Shepp–Logan, 12 angles, noise σ = 0.1 on a sinogram of
    /// max ≈ 8.3). graphLa+Ψ uses the official defaults `sigmaInt = 1e-3`, `R = 3` (radius 2).
    #[test]
    fn graph_laplacian_few_view_ct() {
        let n = 32;
        let clean = shepp_logan(n, n).unwrap();
        let a = Radon::new(n, n, Radon::equispaced_angles(12)).unwrap();
        let sino = Image::new(12, a.n_det(), a.forward(&clean.data).unwrap()).unwrap();
        let y = add_gaussian_noise(&sino, 0.1, 6).unwrap().data;
        let x0 = Image::zeros(n, n).unwrap();
        let err = |x: &Image| {
            let d2: f64 = x.data.iter().zip(&clean.data).map(|(u, v)| (u - v).powi(2)).sum();
            (d2 / dot(&clean.data, &clean.data)).sqrt()
        };
        let opts = SolverOptions { max_iter: 1000, tol: 1e-7, history_every: 100, ..SolverOptions::default() };
        let ls = err(&fista(&a, &y, &Tikhonov, 0.0, &x0, &opts).unwrap().image);
        // TV with the best λ of a small grid (an oracle choice, in TV's favour).
        let (tv_err, tv_lambda, tv_image) = [0.01, 0.03, 0.1, 0.3]
            .into_iter()
            .map(|l| {
                let im = chambolle_pock(&a, &y, l, None, &x0, &opts).unwrap().image;
                (err(&im), l, im)
            })
            .min_by(|p, q| p.0.total_cmp(&q.0))
            .unwrap();
        let lambda = 30.0;
        let run = |est: &Image| {
            let lap = GraphLaplacian::from_estimate(est, 1e-3, 2).unwrap();
            let r1 = graph_laplacian_l1(&a, &y, lambda, &lap, &x0, &opts).unwrap();
            assert!(r1.objective < r1.history[0].1);
            let r2 = graph_laplacian_l2(&a, &y, lambda, &lap, &x0, &opts).unwrap();
            (err(&r1.image), err(&r2.image))
        };
        let (truth_l1, truth_l2) = run(&clean);
        let (tv_l1, tv_l2) = run(&tv_image);
        eprintln!(
            "few-view CT: LS {ls:.4}; TV(λ={tv_lambda}) {tv_err:.4}; graphLa λ={lambda} \
             Ψ=truth l1 {truth_l1:.4} l2 {truth_l2:.4}; Ψ=TV l1 {tv_l1:.4} l2 {tv_l2:.4}"
        );
        assert!(truth_l1 < 0.1 * ls && truth_l1 < 0.2 * tv_err);
        assert!(truth_l2 < 0.25 * ls);
        assert!(tv_l1 <= tv_err + 0.02, "graphLa+TV {tv_l1} vs TV {tv_err}");
    }

    #[test]
    fn graph_penalty_proxes_satisfy_their_optimality_conditions() {
        use crate::regularizer::tests::check_perturbations;
        let clean = piecewise_constant(12, 10).unwrap();
        let v = add_gaussian_noise(&clean, 0.1, 8).unwrap();
        let lap = GraphLaplacian::from_estimate(&clean, 0.05, 1).unwrap();
        let eta = 0.3;
        // ℓ1: the dual certificate v − p = ηLᵀq, |q_i| ≤ 1, ⟨q, Lp⟩ = ‖Lp‖₁.
        let l1 = GraphLaplacianPenalty::new(lap.clone(), LaplacianNorm::L1);
        let (p, q) = l1.prox_l1_with_dual(&v, eta).unwrap();
        let ltq = lap.transpose(&q).unwrap();
        let res = (0..v.len()).map(|k| (v.data[k] - p.data[k] - eta * ltq[k]).abs()).fold(0.0, f64::max);
        assert!(res < 1e-12, "v − p − ηLᵀq = {res}");
        assert!(q.iter().all(|&x| x.abs() <= 1.0));
        let lp = lap.forward(&p.data).unwrap();
        let (pairing, value) = (dot(&q, &lp), l1.value(&p));
        assert!((value - pairing).abs() <= 1e-3 * value, "⟨q, Lp⟩ = {pairing}, ‖Lp‖₁ = {value}");
        assert!(value < l1.value(&v), "the prox lowers the penalty");
        check_perturbations(&l1, &v, &p, eta);
        assert_eq!(l1.prox(&v, 0.0).unwrap(), v);
        // ℓ2²: p − v + 2ηLᵀLp = 0.
        let l2 = GraphLaplacianPenalty::new(lap.clone(), LaplacianNorm::L2);
        let p = l2.prox(&v, eta).unwrap();
        let ltlp = lap.transpose(&lap.forward(&p.data).unwrap()).unwrap();
        let res = (0..v.len()).map(|k| (p.data[k] - v.data[k] + 2.0 * eta * ltlp[k]).abs()).fold(0.0, f64::max);
        assert!(res < 1e-8, "normal equation residual {res}");
        check_perturbations(&l2, &v, &p, eta);
        // Bad input.
        assert!(matches!(l1.prox(&v, -1.0), Err(Error::Option { .. })));
        assert!(matches!(l2.prox(&Image::zeros(3, 3).unwrap(), 0.1), Err(Error::Option { .. })));
    }

    #[test]
    fn fista_with_the_graph_penalty_matches_chambolle_pock() {
        let n = 12;
        let (a, y, clean) = blur_problem(n, 0.05);
        let lap = GraphLaplacian::from_estimate(&clean, 0.05, 1).unwrap();
        let lambda = 0.05;
        let x0 = Image::zeros(n, n).unwrap();
        let tight = SolverOptions { max_iter: 20_000, tol: 1e-10, history_every: 1000, lipschitz: None };
        let cp = graph_laplacian_l1(&a, &y, lambda, &lap, &x0, &tight).unwrap();
        let mut reg = GraphLaplacianPenalty::new(lap, LaplacianNorm::L1);
        reg.tol = 1e-12;
        let fi = fista(&a, &y, &reg, lambda, &x0, &SolverOptions { max_iter: 3000, ..tight }).unwrap();
        let rel = (fi.objective - cp.objective).abs() / cp.objective;
        assert!(rel < 1e-6, "objectives {} (FISTA) and {} (Chambolle–Pock)", fi.objective, cp.objective);
    }

    #[test]
    fn given_steps_give_the_same_graph_solve_bit_for_bit() {
        let (a, y, clean) = blur_problem(10, 0.05);
        let lap = GraphLaplacian::from_estimate(&clean, 0.05, 1).unwrap();
        let x0 = Image::zeros(10, 10).unwrap();
        let opts = SolverOptions { max_iter: 50, tol: 0.0, history_every: 9, lipschitz: None };
        let steps = BalancedSteps::new(&a, &lap).unwrap();
        for lambda in [0.01, 0.3] {
            let plain = graph_laplacian_l1(&a, &y, lambda, &lap, &x0, &opts).unwrap();
            let given = graph_laplacian_l1_with_steps(&a, &y, lambda, &lap, &x0, &opts, &steps).unwrap();
            assert_eq!(plain, given);
        }
    }
}
