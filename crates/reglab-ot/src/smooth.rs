//! Quadratically regularized and sparsity-constrained OT, solved through the smooth dual.
//!
//! # Problems
//!
//! Given histograms `a ∈ ℝ^n_+`, `b ∈ ℝ^m_+` of equal mass (see [`crate::marginals`]), a cost
//! matrix `C ∈ ℝ^{n×m}` and a regularization strength `γ > 0`, solve
//!
//! ```text
//! min_T  ⟨C, T⟩ + Σ_j Ω(T_{:,j})   s.t.  T 1_m = a,  Tᵀ 1_n = b,  T ≥ 0
//! ```
//!
//! where `T_{:,j} ∈ ℝ^n` is column `j` of the plan and `⟨C, T⟩ = Σ_ij C_ij T_ij`. Two
//! regularizers `Ω` (a function of one column `t ∈ ℝ^n_+`) are provided ([`Regularizer`]):
//!
//! - **squared ℓ2** (Blondel, Seguy & Rolet, "Smooth and Sparse Optimal Transport", AISTATS 2018;
//!   POT's `reg_type='l2'`, class `SquaredL2`): `Ω(t) = (γ/2) ‖t‖²`, so the objective is
//!   `⟨C, T⟩ + (γ/2) ‖T‖²_F` (POT's `Omega(T) = 0.5 * gamma * sum(T**2)`: `γ` multiplies the
//!   half squared Frobenius norm). The problem is strictly convex; unlike entropic OT its
//!   solution has exact zeros.
//! - **sparsity-constrained** (Liu, Puigcerver & Blondel, "Sparsity-Constrained Optimal
//!   Transport", ICLR 2023, arXiv 2209.15466; POT's `reg_type='sparsity_constrained'`,
//!   `max_nz=k`): `Ω(t) = (γ/2) ‖t‖²` plus the constraint `‖t‖₀ ≤ k`, i.e. every **column** of
//!   `T` has at most `k` non-zeros (as in POT and the paper: column `j` is the mass sent to target
//!   point `j`). This problem is not convex.
//!
//! # Dual
//!
//! With the conjugate `δ*(x) = sup_{t ≥ 0, t ∈ dom Ω} ⟨x, t⟩ − Ω(t)` of `Ω` (plus the
//! non-negativity constraint), the dual problem is (Blondel et al., eq. 7)
//!
//! ```text
//! max_{α ∈ ℝ^n, β ∈ ℝ^m}  D(α, β) = ⟨α, a⟩ + ⟨β, b⟩ − Σ_j δ*(α + β_j 1_n − C_{:,j}),
//! ```
//!
//! and the plan is recovered column by column as `T_{:,j} = ∇δ*(α + β_j 1_n − C_{:,j})` (POT's
//! `get_plan_from_dual`). The gradient of `D` is `(a − T 1_m, b − Tᵀ 1_n)`: the marginal errors
//! of the recovered plan. Writing `x = α + β_j 1 − C_{:,j}` and `[s]_+ = max(s, 0)`:
//!
//! - squared ℓ2: the supremum separates over `i`, `sup_{t_i ≥ 0} x_i t_i − γ t_i²/2` is attained
//!   at `t_i = [x_i]_+ / γ`, so `δ*(x) = Σ_i [x_i]_+² / (2γ)` and `∇δ*(x) = [x]_+ / γ` (the
//!   projection of `x / γ` onto the non-negative orthant). `δ*` is `C¹` with a `1/γ`-Lipschitz
//!   gradient, the dual is smooth and concave, and at its maximum the plan satisfies the
//!   marginals and is the unique primal solution (strong duality).
//! - sparsity-constrained: for a fixed support `S` (`|S| ≤ k`) the supremum is
//!   `Σ_{i∈S} [x_i]_+² / (2γ)`, largest when `S` holds the `k` largest entries of `x`, so
//!   `δ*(x) = Σ_{i ∈ top_k(x)} [x_i]_+² / (2γ)` and `∇δ*(x)_i = [x_i]_+ / γ` for `i ∈ top_k(x)`,
//!   `0` otherwise (ties broken towards the smaller index). `δ*` is still convex (a supremum of
//!   affine functions) but only piecewise smooth: it has kinks where the `k`-th and `(k+1)`-th
//!   positive entries tie. The dual is the dual of the convexified problem; when its maximum lies
//!   where `δ*` is differentiable the recovered plan satisfies the marginals, has at most `k`
//!   non-zeros per column and solves the non-convex primal. When the maximum sits on a kink (for
//!   example `k = 1` with `n > m`, where no plan with one non-zero per column can have `n`
//!   non-empty rows) the plan obeys the sparsity constraint but not the marginals exactly:
//!   [`SmoothResult::converged`] is then false and the marginal errors say by how much. For
//!   `k ≥ n` the constraint is void and the problem is the squared-ℓ2 one.
//!
//! Because the sparsity constraint is on columns, the problem is not symmetric: swapping `a` and
//! `b` (and transposing `C`) constrains the rows of the original plan instead. The squared-ℓ2
//! problem is symmetric (its plan transposes).
//!
//! # Algorithm
//!
//! `−D` is minimized from `α = 0, β = 0` (POT's start) by [L-BFGS](crate::lbfgs) (POT uses
//! scipy's L-BFGS-B), stopping when the largest marginal violation `‖∇D‖_∞` is at most
//! [`tol`](SmoothOptions::tol), on a relative decrease of at most [`ftol`](SmoothOptions::ftol)
//! (disabled by default), when no line-search step is acceptable, or after
//! [`max_iter`](SmoothOptions::max_iter) iterations. One evaluation of `D` costs `O(nm)` (plus a
//! partial selection per column for the sparse case).

use crate::error::{Error, Result};
use crate::lbfgs::{LbfgsOptions, LbfgsResult, Termination, minimize};
use crate::matrix::Matrix;
use crate::sinkhorn::check_ot_problem;

/// The regularizer `Ω` of [`smooth_ot_dual`] (see the [module docs](self)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Regularizer {
    /// `Ω(T) = (γ/2) ‖T‖²_F` (POT's `'l2'`).
    #[default]
    SquaredL2,
    /// `Ω(T) = (γ/2) ‖T‖²_F` with at most `max_nz` non-zeros per column of `T` (POT's
    /// `'sparsity_constrained'` with `max_nz`).
    SparsityConstrained {
        /// The most non-zeros per column, `k ≥ 1`.
        max_nz: usize,
    },
}

impl Regularizer {
    /// `Ω(T) = (γ/2) ‖T‖²_F` (the sparsity constraint holds by construction of the plans here).
    pub fn omega(&self, plan: &Matrix, reg: f64) -> f64 {
        0.5 * reg * plan.data.iter().map(|t| t * t).sum::<f64>()
    }

    pub(crate) fn max_nz(&self) -> Option<usize> {
        match *self {
            Regularizer::SquaredL2 => None,
            Regularizer::SparsityConstrained { max_nz } => Some(max_nz),
        }
    }
}

/// Stopping rule of [`smooth_ot_dual`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SmoothOptions {
    /// Most L-BFGS iterations; default 10 000.
    pub max_iter: usize,
    /// Stop when the largest marginal violation `max(‖T 1 − a‖_∞, ‖Tᵀ 1 − b‖_∞)` (the dual
    /// gradient's `∞`-norm) is at most `tol` (absolute); default `1e-9`.
    pub tol: f64,
    /// Stop when one iteration decreases `−D` by at most `ftol · max(|D|, 1)` (scipy's rule;
    /// 0 disables); default 0.
    pub ftol: f64,
    /// L-BFGS memory (stored pairs); default 10.
    pub memory: usize,
}

impl Default for SmoothOptions {
    fn default() -> Self {
        Self { max_iter: 10_000, tol: 1e-9, ftol: 0.0, memory: 10 }
    }
}

impl SmoothOptions {
    pub(crate) fn lbfgs(&self) -> LbfgsOptions {
        LbfgsOptions { memory: self.memory, max_iter: self.max_iter, gtol: self.tol, ftol: self.ftol, ..Default::default() }
    }
}

/// The solution of a smooth OT problem, as returned by [`smooth_ot_dual`].
#[derive(Debug, Clone, PartialEq)]
pub struct SmoothResult {
    /// The plan `T` (`n × m`), `T_{:,j} = ∇δ*(α + β_j 1 − C_{:,j})`.
    pub plan: Matrix,
    /// The transport cost `⟨C, T⟩`.
    pub cost: f64,
    /// The regularized (primal) objective `⟨C, T⟩ + (γ/2) ‖T‖²_F`.
    pub objective: f64,
    /// The dual objective `D(α, β)` (equal to `objective` at the optimum of a smooth dual).
    pub dual_objective: f64,
    /// Row potential `α` (length `n`).
    pub alpha: Vec<f64>,
    /// Column potential `β` (length `m`).
    pub beta: Vec<f64>,
    /// L-BFGS iterations.
    pub iterations: usize,
    /// Evaluations of the dual.
    pub evaluations: usize,
    /// Final row-marginal error `‖T 1 − a‖₁`.
    pub row_error: f64,
    /// Final column-marginal error `‖Tᵀ 1 − b‖₁`.
    pub col_error: f64,
    /// Whether the optimizer met its stopping rule (`‖∇D‖_∞ ≤ tol`, or the `ftol` rule).
    pub converged: bool,
    /// Why the optimizer stopped.
    pub termination: Termination,
    /// Number of non-zeros of each column of the plan (length `m`).
    pub nnz_per_col: Vec<usize>,
}

/// Solves regularized OT with `regularizer` through its smooth dual by L-BFGS (see the
/// [module docs](self)).
///
/// `a` (length `n`) and `b` (length `m`) are the marginals, `cost` the `n × m` cost matrix, `reg`
/// the strength `γ`. Not converging is not an error: check [`SmoothResult::converged`].
///
/// Errors: invalid marginals (see [`check_marginals`](crate::marginals::check_marginals)), a cost matrix of the wrong shape or with
/// non-finite entries, [`Error::Regularization`] for `γ ≤ 0` or non-finite, [`Error::Option`] for
/// `max_nz = 0` or invalid options.
pub fn smooth_ot_dual(a: &[f64], b: &[f64], cost: &Matrix, reg: f64, regularizer: Regularizer, opts: &SmoothOptions) -> Result<SmoothResult> {
    let lbfgs = check_smooth_problem(a, b, cost, reg, regularizer, opts)?;
    let (n, m) = cost.shape();
    let mut plan = Matrix::zeros(n, m);
    let mut scratch = Vec::with_capacity(n);
    let neg_dual = |z: &[f64]| {
        let (alpha, beta) = z.split_at(n);
        let half_sq = fill_plan(alpha, beta, cost, reg, regularizer, &mut plan, &mut scratch);
        let value = half_sq * reg - dot(alpha, a) - dot(beta, b);
        let mut grad = plan.row_sums();
        grad.extend(plan.col_sums());
        grad.iter_mut().zip(a.iter().chain(b)).for_each(|(g, w)| *g -= w);
        (value, grad)
    };
    let r = minimize(neg_dual, &vec![0.0; n + m], &lbfgs)?;
    let (alpha, beta) = (r.x[..n].to_vec(), r.x[n..].to_vec());
    let plan = plan_from_dual(&alpha, &beta, cost, reg, regularizer);
    Ok(smooth_result(plan, a, b, cost, reg, regularizer, alpha, beta, -r.value, &r))
}

/// Validates a smooth OT problem ([`check_ot_problem`], `max_nz ≥ 1`, the options) and returns
/// the L-BFGS options.
pub(crate) fn check_smooth_problem(
    a: &[f64],
    b: &[f64],
    cost: &Matrix,
    reg: f64,
    regularizer: Regularizer,
    opts: &SmoothOptions,
) -> Result<LbfgsOptions> {
    check_ot_problem(a, b, cost, reg)?;
    if regularizer.max_nz() == Some(0) {
        return Err(Error::Option { name: "max_nz", why: "must be at least 1".into() });
    }
    let lbfgs = opts.lbfgs();
    lbfgs.validate()?;
    Ok(lbfgs)
}

/// A [`SmoothResult`] for `plan` and the potentials the optimizer `r` found: marginal errors,
/// transport cost, regularized objective, non-zeros per column.
#[allow(clippy::too_many_arguments)]
pub(crate) fn smooth_result(
    plan: Matrix,
    a: &[f64],
    b: &[f64],
    cost: &Matrix,
    reg: f64,
    regularizer: Regularizer,
    alpha: Vec<f64>,
    beta: Vec<f64>,
    dual_objective: f64,
    r: &LbfgsResult,
) -> SmoothResult {
    let l1 = |x: Vec<f64>, y: &[f64]| x.iter().zip(y).map(|(p, q)| (p - q).abs()).sum::<f64>();
    let (row_error, col_error) = (l1(plan.row_sums(), a), l1(plan.col_sums(), b));
    let transport = cost.dot(&plan);
    let mut nnz_per_col = vec![0; plan.cols];
    for i in 0..plan.rows {
        nnz_per_col.iter_mut().zip(plan.row(i)).for_each(|(c, &t)| *c += usize::from(t > 0.0));
    }
    SmoothResult {
        cost: transport,
        objective: transport + regularizer.omega(&plan, reg),
        dual_objective,
        plan,
        alpha,
        beta,
        iterations: r.iterations,
        evaluations: r.evaluations,
        row_error,
        col_error,
        converged: r.converged,
        termination: r.termination,
        nnz_per_col,
    }
}

/// Quadratically regularized OT, `min ⟨C, T⟩ + (γ/2) ‖T‖²_F` (POT's
/// `ot.smooth.smooth_ot_dual(a, b, M, reg, reg_type='l2')`); see [`smooth_ot_dual`].
pub fn smooth_ot_l2(a: &[f64], b: &[f64], cost: &Matrix, reg: f64, opts: &SmoothOptions) -> Result<SmoothResult> {
    smooth_ot_dual(a, b, cost, reg, Regularizer::SquaredL2, opts)
}

/// Sparsity-constrained OT with at most `max_nz` non-zeros per column (POT's
/// `ot.smooth.smooth_ot_dual(a, b, M, reg, reg_type='sparsity_constrained', max_nz=max_nz)`); see
/// [`smooth_ot_dual`].
pub fn sparse_ot(a: &[f64], b: &[f64], cost: &Matrix, reg: f64, max_nz: usize, opts: &SmoothOptions) -> Result<SmoothResult> {
    smooth_ot_dual(a, b, cost, reg, Regularizer::SparsityConstrained { max_nz }, opts)
}

/// The plan `T_{:,j} = ∇δ*(α + β_j 1 − C_{:,j})` of dual potentials `α` (length `n`), `β`
/// (length `m`) (POT's `get_plan_from_dual`); panics on lengths that do not match `cost`.
pub fn plan_from_dual(alpha: &[f64], beta: &[f64], cost: &Matrix, reg: f64, regularizer: Regularizer) -> Matrix {
    let mut plan = Matrix::zeros(cost.rows, cost.cols);
    fill_plan(alpha, beta, cost, reg, regularizer, &mut plan, &mut Vec::new());
    plan
}

/// The dual objective `D(α, β) = ⟨α, a⟩ + ⟨β, b⟩ − Σ_j δ*(α + β_j 1 − C_{:,j})`; panics on lengths
/// that do not match `cost`.
pub fn dual_objective(a: &[f64], b: &[f64], cost: &Matrix, reg: f64, regularizer: Regularizer, alpha: &[f64], beta: &[f64]) -> f64 {
    let mut plan = Matrix::zeros(cost.rows, cost.cols);
    let half_sq = fill_plan(alpha, beta, cost, reg, regularizer, &mut plan, &mut Vec::new());
    dot(alpha, a) + dot(beta, b) - reg * half_sq
}

/// Writes `T = ∇δ*` column by column into `plan` and returns `½ ‖T‖²_F`, so that
/// `Σ_j δ*(x_j) = γ · ½ ‖T‖²_F` (as `[x]_+² / (2γ) = (γ/2) ([x]_+ / γ)²`).
fn fill_plan(
    alpha: &[f64],
    beta: &[f64],
    cost: &Matrix,
    reg: f64,
    regularizer: Regularizer,
    plan: &mut Matrix,
    scratch: &mut Vec<(f64, usize)>,
) -> f64 {
    let (n, m) = cost.shape();
    assert!(alpha.len() == n && beta.len() == m, "potentials of lengths {}, {} for a {n}×{m} cost", alpha.len(), beta.len());
    let inv = 1.0 / reg;
    for (i, ti) in plan.data.chunks_exact_mut(m).enumerate() {
        for ((t, &cij), &bj) in ti.iter_mut().zip(cost.row(i)).zip(beta) {
            *t = (alpha[i] + bj - cij).max(0.0) * inv;
        }
    }
    if let Some(k) = regularizer.max_nz().filter(|&k| k < n) {
        for j in 0..m {
            scratch.clear();
            scratch.extend((0..n).map(|i| (plan.data[i * m + j], i)).filter(|&(t, _)| t > 0.0));
            if scratch.len() > k {
                // Keep the k largest (ties: smaller index first); zero the rest.
                scratch.select_nth_unstable_by(k - 1, |p, q| q.0.total_cmp(&p.0).then(p.1.cmp(&q.1)));
                for &(_, i) in &scratch[k..] {
                    plan.data[i * m + j] = 0.0;
                }
            }
        }
    }
    0.5 * plan.data.iter().map(|t| t * t).sum::<f64>()
}

#[inline]
pub(crate) fn dot(x: &[f64], y: &[f64]) -> f64 {
    x.iter().zip(y).map(|(p, q)| p * q).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::sq_euclidean;
    use crate::exact::exact_uniform;
    use crate::marginals::uniform;
    use crate::sinkhorn::{SinkhornOptions, sinkhorn};
    use crate::test_util::{PotRun, Rng, assert_close, assert_rel, count_col_nnz, pot_fixture as fixture, tight};

    /// POT fixtures: the problem of [`fixture`], computed with POT 0.9.7.post1 (numpy 2.4.6,
    /// scipy 1.17.1) by
    ///
    /// ```python
    /// import numpy as np, ot
    /// X = np.array([[0.0, 0.0], [0.3, 0.9], [0.8, 0.1], [0.5, 0.5], [1.0, 0.7], [0.2, 0.6]])
    /// Y = np.array([[0.2, 0.4], [0.9, 0.9], [0.6, 0.0], [0.1, 1.0], [0.7, 0.5]])
    /// M = ot.dist(X, Y)  # squared Euclidean
    /// a, b = ot.unif(6), ot.unif(5)
    /// for reg in [0.1, 1.0]:
    ///     G, log = ot.smooth.smooth_ot_dual(a, b, M, reg, reg_type='l2', stopThr=1e-12,
    ///                                       numItermax=10000, log=True)
    ///     for k in [1, 2, 3]:
    ///         G, log = ot.smooth.smooth_ot_dual(a, b, M, reg, reg_type='sparsity_constrained',
    ///                                           max_nz=k, stopThr=1e-12, numItermax=10000, log=True)
    /// # plan G.ravel(), cost np.sum(G * M), dual -log['res'].fun, printed with repr(float(v))
    /// ```
    ///
    /// POT's scipy L-BFGS-B stops on `factr` (relative decrease of the dual ≤ 1e-12 · eps),
    /// long before the gradient is small: its plans miss the marginals by up to `6.7e-6` in ℓ1
    /// (noted per run below). Ours are certified to `1e-12` (marginals plus the KKT form
    /// `T = [α + β − C]_+ / γ`, which make the plan the unique optimum), so the plans can only
    /// agree to POT's own accuracy: we compare entries with `5e-6` absolute and the cost with
    /// `1e-6`. The dual value is flat at the optimum (its error is quadratic in the plan's), so
    /// POT's is within `1e-12` of ours, and never above it (we maximize the same concave `D`).
    const PLAN_TOL: f64 = 5e-6;

    fn check_against_pot(r: &SmoothResult, pot: &PotRun, what: &str) {
        assert!(r.converged && r.row_error < 1e-11 && r.col_error < 1e-11, "{what}: {r:?}");
        assert_close(&r.plan.data, &pot.plan, PLAN_TOL, what);
        assert!((r.cost - pot.cost).abs() < 1e-6, "{what}: cost {} vs POT {}", r.cost, pot.cost);
        assert!(r.dual_objective >= pot.dual - 1e-14 && r.dual_objective - pot.dual < 1e-12, "{what}: dual");
        // Exact zeros where POT has them, and nowhere else.
        for (k, (&t, &p)) in r.plan.data.iter().zip(&pot.plan).enumerate() {
            assert_eq!(t == 0.0, p == 0.0, "{what}: support differs at entry {k}");
        }
    }

    #[test]
    fn l2_matches_pot_fixture() {
        let (a, b, c) = fixture();
        for (reg, pot) in [(0.1, &L2_01), (1.0, &L2_1)] {
            let r = smooth_ot_l2(&a, &b, &c, reg, &tight()).unwrap();
            check_against_pot(&r, pot, &format!("l2, γ = {reg}"));
        }
    }

    #[test]
    fn sparse_matches_pot_fixture_where_the_dual_is_smooth() {
        // Here the sparse optimum is the l2 one (whose columns have ≤ k non-zeros) or lies where
        // δ* is differentiable: plans are unique and the marginals are met.
        let (a, b, c) = fixture();
        for (reg, k, pot) in [(0.1, 2, &SP2_01), (0.1, 3, &SP3_01), (1.0, 3, &SP3_1)] {
            let r = sparse_ot(&a, &b, &c, reg, k, &tight()).unwrap();
            check_against_pot(&r, pot, &format!("sparse, γ = {reg}, k = {k}"));
            assert!(r.nnz_per_col.iter().all(|&z| z <= k));
        }
    }

    #[test]
    fn sparse_on_a_kink_keeps_k_nonzeros_and_beats_pot_dual() {
        // k = 1 with 6 rows and 5 columns: no plan with one non-zero per column covers all rows,
        // and for γ = 1, k = 2 the l2 plan needs 3 in two columns. The dual maximum sits on a kink
        // of δ*, the recovered plan (ours and POT's) misses the marginals, and where each
        // optimizer stops is path dependent: compare the (unique) dual value, not the plans.
        let (a, b, c) = fixture();
        for (reg, k, pot) in [(0.1, 1, &SP1_01), (1.0, 1, &SP1_1), (1.0, 2, &SP2_1)] {
            let r = sparse_ot(&a, &b, &c, reg, k, &tight()).unwrap();
            assert!(!r.converged && r.row_error + r.col_error > 1e-3, "γ = {reg}, k = {k}: {r:?}");
            assert!(r.nnz_per_col.iter().all(|&z| z == k), "γ = {reg}, k = {k}: {:?}", r.nnz_per_col);
            assert!(count_col_nnz(&pot.plan, 5).iter().all(|&z| z <= k));
            assert!(r.dual_objective >= pot.dual, "γ = {reg}, k = {k}: dual {} < POT {}", r.dual_objective, pot.dual);
            let d = dual_objective(&a, &b, &c, reg, Regularizer::SparsityConstrained { max_nz: k }, &r.alpha, &r.beta);
            assert_rel(d, r.dual_objective, 1e-14, "dual_objective()");
        }
    }

    #[test]
    fn l2_plan_meets_the_marginals_and_the_kkt_conditions() {
        let mut rng = Rng::new(21);
        let (x, y) = (rng.cloud(12, 2), rng.cloud(9, 2));
        let c = sq_euclidean(&x, &y).unwrap();
        let (a, b) = (rng.histogram(12, 2.0), rng.histogram(9, 2.0));
        let reg = 0.05;
        let r = smooth_ot_l2(&a, &b, &c, reg, &SmoothOptions::default()).unwrap();
        assert!(r.converged && r.termination == Termination::Gradient, "{r:?}");
        assert_close(&r.plan.row_sums(), &a, 1e-9, "row sums");
        assert_close(&r.plan.col_sums(), &b, 1e-9, "column sums");
        assert!(r.row_error < 1e-8 && r.col_error < 1e-8);
        for i in 0..12 {
            for j in 0..9 {
                let t = (r.alpha[i] + r.beta[j] - c.get(i, j)).max(0.0) * (1.0 / reg);
                assert_eq!(r.plan.get(i, j), t, "T_ij = [α_i + β_j − C_ij]_+ / γ");
            }
        }
        assert_eq!(r.plan, plan_from_dual(&r.alpha, &r.beta, &c, reg, Regularizer::SquaredL2));
        assert_rel(r.cost, c.dot(&r.plan), 1e-14, "cost = ⟨C, T⟩");
        assert_rel(r.objective, r.cost + 0.5 * reg * r.plan.dot(&r.plan), 1e-14, "objective");
        // Duality gap: primal − D = ⟨α, T 1 − a⟩ + ⟨β, Tᵀ 1 − b⟩ (as δ*(x_j) = ⟨x_j, T_j⟩ − Ω(T_j)),
        // so it vanishes with the marginal errors.
        let res = |w: Vec<f64>, v: &[f64], p: &[f64]| w.iter().zip(v).zip(p).map(|((s, v), p)| p * (s - v)).sum::<f64>();
        let gap = res(r.plan.row_sums(), &a, &r.alpha) + res(r.plan.col_sums(), &b, &r.beta);
        assert!((r.objective - r.dual_objective - gap).abs() < 1e-14, "gap identity");
        assert!(gap.abs() < 1e-8, "gap {gap}");
        assert!(r.plan.data.contains(&0.0) && r.plan.data.iter().all(|&t| t >= 0.0));
    }

    #[test]
    fn sparse_plans_have_at_most_k_nonzeros_per_column() {
        let mut rng = Rng::new(22);
        let (x, y) = (rng.cloud(10, 2), rng.cloud(7, 2));
        let c = sq_euclidean(&x, &y).unwrap();
        let (a, b) = (rng.histogram(10, 1.0), rng.histogram(7, 1.0));
        for reg in [0.01, 0.1, 1.0] {
            for k in 1..=4 {
                let r = sparse_ot(&a, &b, &c, reg, k, &SmoothOptions::default()).unwrap();
                let counts = count_col_nnz(&r.plan.data, 7);
                assert_eq!(counts, r.nnz_per_col);
                assert!(counts.iter().all(|&z| z <= k), "γ = {reg}, k = {k}: {counts:?}");
                assert!(r.plan.data.iter().all(|&t| t >= 0.0));
                if r.converged {
                    assert!(r.row_error < 1e-8 && r.col_error < 1e-8, "γ = {reg}, k = {k}: {r:?}");
                }
            }
        }
    }

    #[test]
    fn one_nonzero_per_column_on_square_uniform_problems_is_the_optimal_assignment() {
        // a = b = 1/n and k = 1: the feasible plans are permutations / n, so the cost is ≥ the
        // exact OT cost; when the optimal assignment is unique the dual optimum is a smooth point
        // (strictly complementary LP potentials exist) and the plan is that assignment.
        let mut rng = Rng::new(23);
        for n in [5, 8] {
            let c = sq_euclidean(&rng.cloud(n, 2), &rng.cloud(n, 2)).unwrap();
            let exact = exact_uniform(&c).unwrap();
            for reg in [0.01, 0.1, 1.0] {
                let r = sparse_ot(&uniform(n), &uniform(n), &c, reg, 1, &tight()).unwrap();
                assert!(r.cost >= exact.cost - 1e-12, "n = {n}, γ = {reg}: {} < {}", r.cost, exact.cost);
                assert!(r.converged, "n = {n}, γ = {reg}: {r:?}");
                assert_close(&r.plan.data, &exact.plan.data, 1e-10, "k = 1 plan vs Hungarian");
                assert_rel(r.cost, exact.cost, 1e-9, "k = 1 cost vs exact");
            }
        }
    }

    #[test]
    fn large_k_gives_the_l2_plan() {
        let mut rng = Rng::new(24);
        let c = sq_euclidean(&rng.cloud(9, 2), &rng.cloud(6, 2)).unwrap();
        let (a, b) = (rng.histogram(9, 1.0), rng.histogram(6, 1.0));
        let reg = 0.5;
        let l2 = smooth_ot_l2(&a, &b, &c, reg, &tight()).unwrap();
        // k ≥ n: the constraint is void, the very same computation.
        for k in [9, 20] {
            assert_eq!(sparse_ot(&a, &b, &c, reg, k, &tight()).unwrap().plan, l2.plan);
        }
        // k = the largest column support of the l2 plan: the l2 plan is feasible, hence optimal.
        let s = *l2.nnz_per_col.iter().max().unwrap();
        assert!(s > 1 && s < 9, "{s}");
        let r = sparse_ot(&a, &b, &c, reg, s, &tight()).unwrap();
        assert!(r.converged);
        assert_close(&r.plan.data, &l2.plan.data, 1e-10, "sparse plan with k = max support vs l2");
        // One fewer non-zero allowed: a strictly larger regularized objective.
        let r = sparse_ot(&a, &b, &c, reg, s - 1, &tight()).unwrap();
        assert!(r.nnz_per_col.iter().all(|&z| z < s));
        if r.converged {
            assert!(r.objective > l2.objective + 1e-12);
        }
    }

    #[test]
    fn small_gamma_cost_tends_to_the_exact_cost() {
        // With T* = P_σ / n optimal for exact OT, optimality of T_γ gives
        // ⟨C, T_γ⟩ + γ/2 ‖T_γ‖² ≤ ⟨C, T*⟩ + γ/2 ‖T*‖², so 0 ≤ ⟨C, T_γ⟩ − OT ≤ γ/2 ‖T*‖² = γ / (2n).
        let mut rng = Rng::new(25);
        let n = 8;
        let c = sq_euclidean(&rng.cloud(n, 2), &rng.cloud(n, 2)).unwrap();
        let exact = exact_uniform(&c).unwrap();
        let mut last = f64::INFINITY;
        for reg in [1.0, 0.1, 0.01, 0.001] {
            let r = smooth_ot_l2(&uniform(n), &uniform(n), &c, reg, &tight()).unwrap();
            assert!(r.converged, "γ = {reg}: {r:?}");
            let gap = r.cost - exact.cost;
            assert!(gap >= -1e-12 && gap <= reg / (2.0 * n as f64) + 1e-12, "γ = {reg}: gap {gap}");
            assert!(gap <= last + 1e-12, "γ = {reg}: gap {gap} after {last}");
            last = gap;
        }
        assert!(last < 1e-9, "{last}");
    }

    #[test]
    fn l2_plan_has_exact_zeros_where_the_entropic_plan_is_dense() {
        let (a, b, c) = fixture();
        let l2 = smooth_ot_l2(&a, &b, &c, 0.1, &tight()).unwrap();
        let zeros = l2.plan.data.iter().filter(|&&t| t == 0.0).count();
        assert!(zeros >= 15, "{zeros} zeros of 30");
        let ent = sinkhorn(&a, &b, &c, 0.1, &SinkhornOptions::default()).unwrap();
        assert!(ent.plan.data.iter().all(|&t| t > 0.0));
    }

    #[test]
    fn swapping_the_problems_transposes_the_l2_plan() {
        let mut rng = Rng::new(26);
        let (x, y) = (rng.cloud(8, 3), rng.cloud(6, 3));
        let (a, b) = (rng.histogram(8, 1.0), rng.histogram(6, 1.0));
        let (cxy, cyx) = (sq_euclidean(&x, &y).unwrap(), sq_euclidean(&y, &x).unwrap());
        let r = smooth_ot_l2(&a, &b, &cxy, 0.2, &tight()).unwrap();
        let s = smooth_ot_l2(&b, &a, &cyx, 0.2, &tight()).unwrap();
        assert_close(&s.plan.data, &r.plan.transpose().data, 1e-10, "swapped l2 plan");
        assert_rel(s.cost, r.cost, 1e-10, "swapped cost");
        // The sparsity constraint is on columns: after the swap it bounds the rows of the
        // original plan instead, a different problem (no transpose symmetry).
        let k = 1;
        let sp = sparse_ot(&b, &a, &cyx, 0.2, k, &tight()).unwrap().plan.transpose();
        assert!((0..8).all(|i| sp.row(i).iter().filter(|&&t| t > 0.0).count() <= k));
        let orig = sparse_ot(&a, &b, &cxy, 0.2, k, &tight()).unwrap().plan;
        assert!(count_col_nnz(&orig.data, 6).iter().all(|&z| z <= k));
        assert_ne!(count_col_nnz(&sp.data, 6), count_col_nnz(&orig.data, 6));
    }

    #[test]
    fn zero_weights_give_zero_rows() {
        let mut rng = Rng::new(27);
        let c = sq_euclidean(&rng.cloud(4, 2), &rng.cloud(3, 2)).unwrap();
        let (a, b) = ([0.5, 0.0, 0.25, 0.25], [0.0, 0.6, 0.4]);
        for rg in [Regularizer::SquaredL2, Regularizer::SparsityConstrained { max_nz: 3 }] {
            let r = smooth_ot_dual(&a, &b, &c, 0.1, rg, &tight()).unwrap();
            assert!(r.converged, "{rg:?}: {r:?}");
            assert!(r.plan.row(1).iter().all(|&t| t == 0.0) && (0..4).all(|i| r.plan.get(i, 0) == 0.0));
            assert_close(&r.plan.col_sums(), &b, 1e-10, "column sums");
        }
    }

    #[test]
    fn bad_inputs_are_errors() {
        let (a, b, c) = fixture();
        let o = SmoothOptions::default();
        for reg in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(matches!(smooth_ot_l2(&a, &b, &c, reg, &o), Err(Error::Regularization(_))), "{reg}");
            assert!(matches!(sparse_ot(&a, &b, &c, reg, 2, &o), Err(Error::Regularization(_))), "{reg}");
        }
        assert!(matches!(sparse_ot(&a, &b, &c, 0.1, 0, &o), Err(Error::Option { name: "max_nz", .. })));
        assert_eq!(smooth_ot_l2(&a, &b, &c.transpose(), 0.1, &o), Err(Error::CostShape { rows: 5, cols: 6, n: 6, m: 5 }));
        assert!(matches!(smooth_ot_l2(&uniform(6), &uniform(4), &c, 0.1, &o), Err(Error::CostShape { .. })));
        assert!(matches!(smooth_ot_l2(&a, &[0.5, 0.5, 0.5, 0.5, 0.5], &c, 0.1, &o), Err(Error::MassMismatch { .. })));
        let mut bad = c.clone();
        bad.data[3] = f64::NAN;
        assert!(matches!(smooth_ot_l2(&a, &b, &bad, 0.1, &o), Err(Error::NonFinite { .. })));
        for opts in [SmoothOptions { memory: 0, ..o }, SmoothOptions { max_iter: 0, ..o }, SmoothOptions { tol: -1.0, ..o }] {
            assert!(matches!(smooth_ot_l2(&a, &b, &c, 0.1, &opts), Err(Error::Option { .. })), "{opts:?}");
        }
    }

    /// POT `l2 reg=0.1` (nit=43, marginal ℓ1 errors 1.854e-06, 4.119e-06).
    const L2_01: PotRun = PotRun {
        plan: [
            0.13333230014502373,
            0.0,
            0.03333431825976674,
            0.0,
            0.0,
            0.0,
            0.03333410255453362,
            0.0,
            0.13333189755289174,
            0.0,
            0.0,
            0.0,
            0.1666664579255435,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.16666653716499522,
            0.0,
            0.1666662537658989,
            0.0,
            0.0,
            0.0,
            0.0666670572921399,
            0.0,
            0.0,
            0.06666734714997818,
            0.03333187393661119,
        ],
        cost: 0.10333340200167021,
        dual: 0.10988888888850555,
    };
    /// POT `sparse reg=0.1 k=1` (nit=85, marginal ℓ1 errors 6.838e-01, 2.434e-02).
    const SP1_01: PotRun = PotRun {
        plan: [
            0.1972647145463377,
            0.0,
            0.2017008311560642,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.2092965573803071,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.20973837868836837,
            0.0,
            0.19912739053646544,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
        ],
        cost: 0.140875974668824,
        dual: 0.11326922855357843,
    };
    /// POT `sparse reg=0.1 k=2` (nit=48, marginal ℓ1 errors 3.475e-06, 1.538e-06).
    const SP2_01: PotRun = PotRun {
        plan: [
            0.1333337986655006,
            0.0,
            0.03333357460090225,
            0.0,
            0.0,
            0.0,
            0.033334460445743064,
            0.0,
            0.13333289797077624,
            0.0,
            0.0,
            0.0,
            0.16666626808158155,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.16666602893237584,
            0.0,
            0.16666573101194376,
            0.0,
            0.0,
            0.0,
            0.06666625237822202,
            0.0,
            0.0,
            0.06666615145461324,
            0.033334158530032854,
        ],
        cost: 0.10333391542062426,
        dual: 0.10988888888867425,
    };
    /// POT `sparse reg=0.1 k=3` (nit=46, marginal ℓ1 errors 5.990e-06, 6.731e-06).
    const SP3_01: PotRun = PotRun {
        plan: [
            0.13333464954435575,
            0.0,
            0.03333402780110961,
            0.0,
            0.0,
            0.0,
            0.033333081312014734,
            0.0,
            0.1333320169982473,
            0.0,
            0.0,
            0.0,
            0.16666677496943172,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.16666570646579115,
            0.0,
            0.1666662214711001,
            0.0,
            0.0,
            0.0,
            0.06666793419870407,
            0.0,
            0.0,
            0.06666649183178053,
            0.033333137540630386,
        ],
        cost: 0.10333360486008131,
        dual: 0.10988888888854803,
    };
    /// POT `l2 reg=1.0` (nit=18, marginal ℓ1 errors 6.969e-07, 4.480e-07).
    const L2_1: PotRun = PotRun {
        plan: [
            0.10247618729285232,
            0.0,
            0.06419039985032987,
            0.0,
            0.0,
            0.0,
            0.02152371498510014,
            0.0,
            0.14514276316924962,
            0.0,
            0.0,
            0.0,
            0.13580958287165487,
            0.0,
            0.030857024507761566,
            0.0,
            0.011809696354465715,
            0.0,
            0.0,
            0.15485718383110056,
            0.0,
            0.16666665251837176,
            0.0,
            0.0,
            0.0,
            0.0975239798258365,
            0.0,
            0.0,
            0.0548571947269354,
            0.014285634019420623,
        ],
        cost: 0.10589330022194346,
        dual: 0.1659784126983573,
    };
    /// POT `sparse reg=1.0 k=1` (nit=26, marginal ℓ1 errors 6.125e-01, 1.230e-01).
    const SP1_1: PotRun = PotRun {
        plan: [
            0.16740869468022043,
            0.0,
            0.22011809247757164,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.17175248778641447,
            0.0,
            0.17226325499722214,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.2142903421094281,
            0.0,
        ],
        cost: 0.1646368726478904,
        dual: 0.1944129875195829,
    };
    /// POT `sparse reg=1.0 k=2` (nit=23, marginal ℓ1 errors 5.724e-03, 4.638e-03).
    const SP2_1: PotRun = PotRun {
        plan: [
            0.09910764165591832,
            0.0,
            0.06780965770683417,
            0.0,
            0.0,
            0.0,
            0.03413297313460456,
            0.0,
            0.13482128053870696,
            0.0,
            0.0,
            0.0,
            0.1303123307302609,
            0.0,
            0.035267852572869685,
            0.0,
            0.0,
            0.0,
            0.0,
            0.1656357799814715,
            0.0,
            0.16627968602186355,
            0.0,
            0.0,
            0.0,
            0.10157114285163332,
            0.0,
            0.0,
            0.06441418130112542,
            0.0,
        ],
        cost: 0.10572576297054656,
        dual: 0.16643115463164188,
    };
    /// POT `sparse reg=1.0 k=3` (nit=20, marginal ℓ1 errors 2.259e-06, 2.637e-06).
    const SP3_1: PotRun = PotRun {
        plan: [
            0.10247610022184186,
            0.0,
            0.06419026817922846,
            0.0,
            0.0,
            0.0,
            0.021523825797985896,
            0.0,
            0.14514314060301203,
            0.0,
            0.0,
            0.0,
            0.1358093395944681,
            0.0,
            0.030856541901510076,
            0.0,
            0.011809325521242975,
            0.0,
            0.0,
            0.1548567605032621,
            0.0,
            0.1666664213230753,
            0.0,
            0.0,
            0.0,
            0.09752399892242752,
            0.0,
            0.0,
            0.05485724900986308,
            0.014285369186855967,
        ],
        cost: 0.10589299393953468,
        dual: 0.16597841269794322,
    };
}
