//! Quadratically regularized and sparsity-constrained OT, solved through the **semi-dual**.
//!
//! Same problems as [`crate::smooth`] (`min ⟨C, T⟩ + (γ/2) ‖T‖²_F` under the marginal
//! constraints, optionally with at most `k` non-zeros per column of `T`), but the column
//! constraints `Tᵀ 1 = b` are kept in the inner problem instead of being dualized (Blondel, Seguy
//! & Rolet, AISTATS 2018, eq. 10; Liu, Puigcerver & Blondel, ICLR 2023, the formulation the paper
//! recommends for the sparsity constraint; POT's `ot.smooth.smooth_ot_semi_dual`).
//!
//! # Semi-dual
//!
//! ```text
//! max_{α ∈ ℝ^n}  S(α) = ⟨α, a⟩ − Σ_j b_j · max_Ω,j(α − C_{:,j}),
//! max_Ω,j(x) = max { ⟨x, τ⟩ − (γ b_j / 2) ‖τ‖²  :  τ ≥ 0, Σ_i τ_i = 1, ‖τ‖₀ ≤ k }
//! ```
//!
//! (POT's `max_Omega(X, b)`: `sup_τ ⟨τ, x⟩ − Ω(b_j τ) / b_j` with `Ω(t) = (γ/2) ‖t‖²`). The
//! maximizer is the Euclidean projection of `x / (γ b_j)` (POT: `X / (b * gamma)`) onto the
//! `k`-sparse simplex, which keeps the `k` largest entries and projects them onto the simplex
//! (Kyrillidis et al., ICML 2013; POT's `projection_sparse_simplex`); for `k ≥ n` it is the plain
//! simplex projection (POT's `SquaredL2.max_Omega`). The plan column is `T_{:,j} = b_j τ*_j`, so
//!
//! - every column sums to `b_j` (up to rounding) and has at most `k` non-zeros **by
//!   construction**, whatever `α` is;
//! - `∇S(α) = a − T 1`: only the row marginals are matched by the optimizer.
//!
//! Writing `t = b_j τ`, the projection is `t_i = [x_i − s_j]_+ / γ` on the kept entries, with the
//! threshold `s_j` such that `Σ_i t_i = b_j`; [`SmoothResult::beta`] holds `β_j = −s_j`, so on the
//! kept entries `T_ij = [α_i + β_j − C_ij]_+ / γ` as in the dual. A column with `b_j = 0` is zero
//! (and `β_j = −max_i x_i`).
//!
//! `max_Ω,j` is convex in `x` (a supremum of affine functions), so `S` is concave. Without the
//! sparsity constraint it is smooth (the projection is 1-Lipschitz) and its maximum gives the
//! unique primal solution. With it, `S` has kinks where the `k`-th and `(k+1)`-th entries of a
//! column tie; when the maximum is a smooth point the plan is feasible (both marginals) and
//! `k`-sparse; when it sits on a kink (e.g. `k = 1` with `n > m`, where no feasible plan exists)
//! the columns are still exact and `k`-sparse but the rows are not, and
//! [`SmoothResult::converged`] is false. For `k = 1`, `τ*` is the vertex at `argmax_i x_i` whatever
//! `γ` is: `S` is the semi-dual of exact OT minus `γ/2 Σ_j b_j`, and a point where the row
//! marginals are met is an optimal transport plan with one non-zero per column.
//!
//! # Algorithm
//!
//! `−S` is minimized from `α = 0` (POT's start) by [L-BFGS](crate::lbfgs) with the stopping rules
//! of [`SmoothOptions`] (the gradient is the row-marginal violation only). One evaluation costs
//! `O(nm)` plus a partial selection and a sort of `k` entries per column.

use crate::error::Result;
use crate::lbfgs::minimize;
use crate::matrix::Matrix;
use crate::smooth::{Regularizer, SmoothOptions, SmoothResult, check_smooth_problem, dot, smooth_result};

/// Solves regularized OT with `regularizer` through its semi-dual by L-BFGS (see the
/// [module docs](self)). [`SmoothResult::dual_objective`] is the semi-dual value `S(α)`,
/// [`SmoothResult::alpha`] the semi-dual potential and [`SmoothResult::beta`] the column
/// thresholds `β_j = −s_j`.
///
/// Errors as [`crate::smooth::smooth_ot_dual`]: invalid marginals, a cost matrix of the wrong
/// shape or with non-finite entries, [`Error::Regularization`](crate::Error::Regularization) for `γ ≤ 0` or non-finite,
/// [`Error::Option`](crate::Error::Option) for `max_nz = 0` or invalid options.
pub fn smooth_ot_semi_dual(a: &[f64], b: &[f64], cost: &Matrix, reg: f64, regularizer: Regularizer, opts: &SmoothOptions) -> Result<SmoothResult> {
    let lbfgs = check_smooth_problem(a, b, cost, reg, regularizer, opts)?;
    let (n, m) = cost.shape();
    let k = regularizer.max_nz().unwrap_or(n).min(n);
    let mut plan = Matrix::zeros(n, m);
    let mut beta = vec![0.0; m];
    let mut scratch = Vec::with_capacity(n);
    // S(α + c·1) = S(α) (columns sum to b_j, Σb = Σa), so −S is flat along 1 and L-BFGS's
    // curvature estimate there is zero: on some problems (those without a feasible k-sparse
    // plan, found by the property tests) its iterates ran off along 1 to |α| ~ 1e15–1e39, where
    // α − C has no digits of C left and the columns stopped summing to b. The term
    // (μ/2)·n·mean(α)², μ = 1/γ (the curvature of −S along its active entries), pins that
    // direction without moving the maximum set otherwise (it is zero at the centred maximizer).
    let pin = 1.0 / reg;
    let neg_semi_dual = |alpha: &[f64]| {
        let conj = fill_semi_plan(alpha, b, cost, reg, k, &mut plan, &mut beta, &mut scratch);
        let mean = alpha.iter().sum::<f64>() / n as f64;
        let mut grad = plan.row_sums();
        grad.iter_mut().zip(a).for_each(|(g, w)| *g += pin * mean - w);
        (conj - dot(alpha, a) + 0.5 * pin * n as f64 * mean * mean, grad)
    };
    let mut r = minimize(neg_semi_dual, &vec![0.0; n], &lbfgs)?;
    let alpha = std::mem::take(&mut r.x);
    let mut plan = Matrix::zeros(n, m);
    let mut beta = vec![0.0; m];
    let conj = fill_semi_plan(&alpha, b, cost, reg, k, &mut plan, &mut beta, &mut Vec::new());
    let dual = dot(&alpha, a) - conj;
    Ok(smooth_result(plan, a, b, cost, reg, regularizer, alpha, beta, dual, &r))
}

/// Quadratically regularized OT through the semi-dual (POT's
/// `ot.smooth.smooth_ot_semi_dual(a, b, M, reg, reg_type='l2')`); see [`smooth_ot_semi_dual`].
pub fn smooth_ot_l2_semi_dual(a: &[f64], b: &[f64], cost: &Matrix, reg: f64, opts: &SmoothOptions) -> Result<SmoothResult> {
    smooth_ot_semi_dual(a, b, cost, reg, Regularizer::SquaredL2, opts)
}

/// Sparsity-constrained OT with at most `max_nz` non-zeros per column through the semi-dual
/// (POT's `ot.smooth.smooth_ot_semi_dual(a, b, M, reg, reg_type='sparsity_constrained',
/// max_nz=max_nz)`; the paper's formulation); see [`smooth_ot_semi_dual`].
pub fn sparse_ot_semi_dual(a: &[f64], b: &[f64], cost: &Matrix, reg: f64, max_nz: usize, opts: &SmoothOptions) -> Result<SmoothResult> {
    smooth_ot_semi_dual(a, b, cost, reg, Regularizer::SparsityConstrained { max_nz }, opts)
}

/// The plan `T_{:,j} = b_j τ*_j(α − C_{:,j})` of a semi-dual potential `α` (POT's
/// `get_plan_from_semi_dual`); panics on lengths that do not match `cost`.
pub fn plan_from_semi_dual(alpha: &[f64], b: &[f64], cost: &Matrix, reg: f64, regularizer: Regularizer) -> Matrix {
    let (n, m) = cost.shape();
    let mut plan = Matrix::zeros(n, m);
    let k = regularizer.max_nz().unwrap_or(n).min(n).max(1);
    fill_semi_plan(alpha, b, cost, reg, k, &mut plan, &mut vec![0.0; m], &mut Vec::new());
    plan
}

/// The semi-dual objective `S(α) = ⟨α, a⟩ − Σ_j b_j max_Ω,j(α − C_{:,j})`; panics on lengths that
/// do not match `cost`.
pub fn semi_dual_objective(a: &[f64], b: &[f64], cost: &Matrix, reg: f64, regularizer: Regularizer, alpha: &[f64]) -> f64 {
    let (n, m) = cost.shape();
    let mut plan = Matrix::zeros(n, m);
    let k = regularizer.max_nz().unwrap_or(n).min(n).max(1);
    dot(alpha, a) - fill_semi_plan(alpha, b, cost, reg, k, &mut plan, &mut vec![0.0; m], &mut Vec::new())
}

/// Writes `T_{:,j} = b_j τ*_j` into `plan` and the thresholds `β_j = −s_j` into `beta`, and
/// returns `Σ_j b_j max_Ω,j(x_j) = Σ_j ⟨x_j, T_{:,j}⟩ − (γ/2) ‖T_{:,j}‖²` with `x_j = α − C_{:,j}`.
#[allow(clippy::too_many_arguments)]
fn fill_semi_plan(
    alpha: &[f64],
    b: &[f64],
    cost: &Matrix,
    reg: f64,
    k: usize,
    plan: &mut Matrix,
    beta: &mut [f64],
    scratch: &mut Vec<(f64, usize)>,
) -> f64 {
    let (n, m) = cost.shape();
    assert!(alpha.len() == n && b.len() == m, "lengths {}, {} for a {n}×{m} cost", alpha.len(), b.len());
    plan.data.iter_mut().for_each(|t| *t = 0.0);
    let inv = 1.0 / reg;
    let mut total = 0.0;
    for j in 0..m {
        scratch.clear();
        scratch.extend((0..n).map(|i| (alpha[i] - cost.data[i * m + j], i)));
        // Descending, ties towards the smaller index.
        let order = |p: &(f64, usize), q: &(f64, usize)| q.0.total_cmp(&p.0).then(p.1.cmp(&q.1));
        if k < n {
            scratch.select_nth_unstable_by(k - 1, order);
            scratch.truncate(k);
        }
        scratch.sort_unstable_by(order);
        if b[j] == 0.0 {
            beta[j] = -scratch[0].0;
            continue;
        }
        // Simplex projection of the kept entries (in x units, mass γ b_j): the largest ρ with
        // u_ρ > (Σ_{r ≤ ρ} u_r − γ b_j) / ρ, threshold s = (Σ_{r ≤ ρ} u_r − γ b_j) / ρ.
        let z = reg * b[j];
        let (mut cum, mut s) = (0.0, scratch[0].0 - z);
        for (r, &(u, _)) in scratch.iter().enumerate() {
            cum += u;
            let sr = (cum - z) / (r + 1) as f64;
            if u > sr {
                s = sr;
            }
        }
        beta[j] = -s;
        for &(u, i) in scratch.iter() {
            let t = (u - s).max(0.0) * inv;
            if t > 0.0 {
                plan.data[i * m + j] = t;
                total += t * u - 0.5 * reg * t * t;
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::sq_euclidean;
    use crate::error::Error;
    use crate::exact::exact_uniform;
    use crate::marginals::uniform;
    use crate::smooth::{smooth_ot_l2, sparse_ot};
    use crate::test_util::{PotRun, Rng, assert_close, assert_rel, count_col_nnz, pot_fixture as fixture, tight};

    fn col_err_inf(plan: &Matrix, b: &[f64]) -> f64 {
        plan.col_sums().iter().zip(b).map(|(s, w)| (s - w).abs()).fold(0.0, f64::max)
    }

    /// POT fixtures on [`fixture`], computed with POT 0.9.7.post1 (numpy 2.4.6, scipy 1.17.1) by
    ///
    /// ```python
    /// # X, Y, M, a, b as in smooth.rs's fixtures
    /// for reg in [0.1, 1.0]:
    ///     G, log = ot.smooth.smooth_ot_semi_dual(a, b, M, reg, reg_type='l2', stopThr=1e-12,
    ///                                            numItermax=10000, log=True)
    ///     for k in [1, 2, 3]:
    ///         G, log = ot.smooth.smooth_ot_semi_dual(a, b, M, reg, reg_type='sparsity_constrained',
    ///                                                max_nz=k, stopThr=1e-12, numItermax=10000,
    ///                                                log=True)
    /// # plan G.ravel(), cost np.sum(G * M), semi-dual -log['res'].fun, printed with repr(float(v))
    /// ```
    ///
    /// Where the semi-dual is smooth at its maximum, POT's L-BFGS-B stops (on `factr`) with row
    /// marginals off by at most `4.6e-8` in ℓ1 (columns are exact by construction); the plan is
    /// a 1-Lipschitz function of `α/γ` per column and ours meets the rows to `1e-12`, so entries
    /// agree to about POT's error: we compare with `1e-7` absolute, the cost with `1e-7`, and the
    /// semi-dual value (flat at the maximum) to `1e-12`, ours never below POT's.
    const PLAN_TOL: f64 = 1e-7;

    fn check_against_pot(r: &SmoothResult, pot: &PotRun, what: &str) {
        assert!(r.converged && r.row_error < 1e-11 && r.col_error < 1e-12, "{what}: {r:?}");
        assert_close(&r.plan.data, &pot.plan, PLAN_TOL, what);
        assert!((r.cost - pot.cost).abs() < 1e-7, "{what}: cost {} vs POT {}", r.cost, pot.cost);
        assert!(
            r.dual_objective >= pot.dual - 1e-14 && r.dual_objective - pot.dual < 1e-12,
            "{what}: semi-dual {} vs POT {}",
            r.dual_objective,
            pot.dual
        );
        for (k, (&t, &p)) in r.plan.data.iter().zip(&pot.plan).enumerate() {
            assert_eq!(t == 0.0, p == 0.0, "{what}: support differs at entry {k}");
        }
    }

    #[test]
    fn l2_semi_dual_matches_pot_and_the_dual_solver() {
        let (a, b, c) = fixture();
        for (reg, pot) in [(0.1, &L2_01), (1.0, &L2_1)] {
            let r = smooth_ot_l2_semi_dual(&a, &b, &c, reg, &tight()).unwrap();
            check_against_pot(&r, pot, &format!("l2 semi-dual, γ = {reg}"));
            // Same strictly convex problem as the dual solver: same plan, and at the optimum
            // S(α*) = D(α*, β*) = the primal objective.
            let d = smooth_ot_l2(&a, &b, &c, reg, &tight()).unwrap();
            assert_close(&r.plan.data, &d.plan.data, 1e-10, "semi-dual vs dual plan");
            assert_rel(r.dual_objective, d.dual_objective, 1e-10, "semi-dual vs dual value");
            assert_rel(r.objective, r.dual_objective, 1e-10, "no duality gap");
        }
    }

    #[test]
    fn sparse_semi_dual_matches_pot_where_smooth() {
        let (a, b, c) = fixture();
        for (reg, k, pot) in [(0.1, 2, &SP2_01), (0.1, 3, &SP3_01), (1.0, 3, &SP3_1)] {
            let r = sparse_ot_semi_dual(&a, &b, &c, reg, k, &tight()).unwrap();
            check_against_pot(&r, pot, &format!("sparse semi-dual, γ = {reg}, k = {k}"));
            assert!(r.nnz_per_col.iter().all(|&z| z <= k));
        }
    }

    #[test]
    fn sparse_semi_dual_on_a_kink_keeps_columns_exact_and_beats_pot() {
        // k = 1 on 6 rows × 5 columns is infeasible (5 non-zeros cannot cover 6 rows); at γ = 1,
        // k = 2 the maximum is also a kink. Columns stay exact and k-sparse; the rows do not
        // close, and where each optimizer stops is path dependent: compare the semi-dual value.
        let (a, b, c) = fixture();
        for (reg, k, pot) in [(0.1, 1, &SP1_01), (1.0, 1, &SP1_1), (1.0, 2, &SP2_1)] {
            let r = sparse_ot_semi_dual(&a, &b, &c, reg, k, &tight()).unwrap();
            assert!(!r.converged && r.row_error > 1e-4, "γ = {reg}, k = {k}: {r:?}");
            assert!(r.col_error < 1e-12 && r.nnz_per_col.iter().all(|&z| z <= k), "γ = {reg}, k = {k}: {r:?}");
            assert!(count_col_nnz(&pot.plan, 5).iter().all(|&z| z <= k));
            assert!(r.dual_objective >= pot.dual - 1e-9, "γ = {reg}, k = {k}: semi-dual {} < POT {}", r.dual_objective, pot.dual);
            let s = semi_dual_objective(&a, &b, &c, reg, Regularizer::SparsityConstrained { max_nz: k }, &r.alpha);
            assert_rel(s, r.dual_objective, 1e-14, "semi_dual_objective()");
        }
    }

    #[test]
    fn columns_are_exact_and_k_sparse_for_any_potential() {
        let mut rng = Rng::new(31);
        let (n, m) = (10, 7);
        let c = sq_euclidean(&rng.cloud(n, 2), &rng.cloud(m, 2)).unwrap();
        let (a, b) = (rng.histogram(n, 1.0), rng.histogram(m, 1.0));
        for reg in [0.001, 0.01, 0.1, 1.0, 10.0] {
            for k in 1..=n {
                let rg = Regularizer::SparsityConstrained { max_nz: k };
                for _ in 0..5 {
                    let alpha: Vec<f64> = (0..n).map(|_| rng.uniform() - 0.5).collect();
                    let p = plan_from_semi_dual(&alpha, &b, &c, reg, rg);
                    assert!(col_err_inf(&p, &b) < 1e-12 && p.data.iter().all(|&t| t >= 0.0));
                    assert!(count_col_nnz(&p.data, m).iter().all(|&z| z <= k));
                }
                let r = sparse_ot_semi_dual(&a, &b, &c, reg, k, &SmoothOptions::default()).unwrap();
                assert!(r.col_error < 1e-12 && col_err_inf(&r.plan, &b) < 1e-12, "γ = {reg}, k = {k}: {r:?}");
                assert_eq!(count_col_nnz(&r.plan.data, m), r.nnz_per_col);
                assert!(r.nnz_per_col.iter().all(|&z| z <= k), "γ = {reg}, k = {k}: {:?}", r.nnz_per_col);
                if r.converged {
                    assert!(r.row_error < 1e-8, "γ = {reg}, k = {k}: {r:?}");
                }
                // β thresholds: T_ij = [α_i + β_j − C_ij]_+ / γ wherever T_ij > 0.
                for i in 0..n {
                    for j in 0..m {
                        let t = r.plan.get(i, j);
                        if t > 0.0 {
                            let v = (r.alpha[i] + r.beta[j] - c.get(i, j)) / reg;
                            assert!((t - v).abs() <= 1e-12 * (1.0 + v.abs()), "({i}, {j}): {t} vs {v}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn one_nonzero_per_column_on_square_uniform_problems_is_the_optimal_assignment() {
        // a = b = 1/n, k = 1: τ*_j is the vertex at argmax_i (α_i − C_ij) whatever γ is, so the
        // semi-dual is exact OT's (minus γ/2 Σ b_j) and a point where rows are met is a
        // permutation that is optimal (complementary slackness).
        let mut rng = Rng::new(32);
        for n in [5, 8, 12] {
            for trial in 0..3 {
                let c = sq_euclidean(&rng.cloud(n, 2), &rng.cloud(n, 2)).unwrap();
                let exact = exact_uniform(&c).unwrap();
                for reg in [1.0, 0.1, 0.01, 0.001] {
                    let r = sparse_ot_semi_dual(&uniform(n), &uniform(n), &c, reg, 1, &tight()).unwrap();
                    let what = format!("n = {n}, trial {trial}, γ = {reg}");
                    assert!(r.converged && r.row_error < 1e-12 && r.col_error < 1e-12, "{what}: {r:?}");
                    assert_close(&r.plan.data, &exact.plan.data, 1e-12, &what);
                    assert_rel(r.cost, exact.cost, 1e-12, &what);
                }
            }
        }
    }

    #[test]
    fn small_gamma_sparse_cost_tends_to_the_exact_cost() {
        // Any k: the permutation plan P_σ/n is feasible (one non-zero per column), so at a
        // converged (feasible, optimal) point 0 ≤ ⟨C, T_γ⟩ − OT ≤ γ/2 ‖P_σ/n‖² = γ/(2n). For
        // γ ≤ 0.1 every k converges here; at γ = 1 the l2 plan needs up to 5 non-zeros in a
        // column and k = 2, 3 end on a kink (rows missed by 0.12 and 0.035; columns exact).
        let mut rng = Rng::new(33);
        let n = 8;
        let c = sq_euclidean(&rng.cloud(n, 2), &rng.cloud(n, 2)).unwrap();
        let exact = exact_uniform(&c).unwrap();
        for k in [1, 2, 3, n] {
            for reg in [1.0, 0.1, 0.01, 0.001] {
                let r = sparse_ot_semi_dual(&uniform(n), &uniform(n), &c, reg, k, &tight()).unwrap();
                let what = format!("k = {k}, γ = {reg}");
                assert!(r.col_error < 1e-12 && r.nnz_per_col.iter().all(|&z| z <= k), "{what}: {r:?}");
                if reg == 1.0 && (k == 2 || k == 3) {
                    assert!(!r.converged && r.row_error > 1e-2, "{what}: {r:?}");
                    continue;
                }
                assert!(r.converged && r.row_error < 1e-12, "{what}: {r:?}");
                let gap = r.cost - exact.cost;
                assert!(gap >= -1e-12 && gap <= reg / (2.0 * n as f64) + 1e-12, "{what}: gap {gap}");
                if reg <= 0.01 {
                    assert_close(&r.plan.data, &exact.plan.data, 1e-12, &what);
                }
            }
        }
    }

    #[test]
    fn k_at_least_n_is_the_l2_semi_dual() {
        let mut rng = Rng::new(34);
        let c = sq_euclidean(&rng.cloud(9, 2), &rng.cloud(6, 2)).unwrap();
        let (a, b) = (rng.histogram(9, 1.0), rng.histogram(6, 1.0));
        let reg = 0.5;
        let l2 = smooth_ot_l2_semi_dual(&a, &b, &c, reg, &tight()).unwrap();
        assert!(l2.converged);
        for k in [9, 20] {
            assert_eq!(sparse_ot_semi_dual(&a, &b, &c, reg, k, &tight()).unwrap(), l2);
        }
        // k = the l2 plan's largest column support: the l2 plan is feasible, hence optimal.
        let s = *l2.nnz_per_col.iter().max().unwrap();
        assert!(s > 1 && s < 9, "{s}");
        let r = sparse_ot_semi_dual(&a, &b, &c, reg, s, &tight()).unwrap();
        assert!(r.converged);
        assert_close(&r.plan.data, &l2.plan.data, 1e-10, "k = max support vs l2");
        // And the dual solver's sparse plan agrees where both converge.
        let d = sparse_ot(&a, &b, &c, reg, s, &tight()).unwrap();
        assert!(d.converged);
        assert_close(&r.plan.data, &d.plan.data, 1e-10, "semi-dual vs dual");
    }

    #[test]
    fn zero_weights_give_zero_rows_and_columns() {
        let mut rng = Rng::new(35);
        let c = sq_euclidean(&rng.cloud(4, 2), &rng.cloud(3, 2)).unwrap();
        let (a, b) = ([0.5, 0.0, 0.25, 0.25], [0.0, 0.6, 0.4]);
        for rg in [Regularizer::SquaredL2, Regularizer::SparsityConstrained { max_nz: 3 }] {
            let r = smooth_ot_semi_dual(&a, &b, &c, 0.1, rg, &tight()).unwrap();
            assert!(r.converged, "{rg:?}: {r:?}");
            assert!(r.plan.row(1).iter().all(|&t| t == 0.0) && (0..4).all(|i| r.plan.get(i, 0) == 0.0));
            assert!(col_err_inf(&r.plan, &b) < 1e-12);
        }
    }

    #[test]
    fn bad_inputs_are_errors() {
        let (a, b, c) = fixture();
        let o = SmoothOptions::default();
        for reg in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(matches!(smooth_ot_l2_semi_dual(&a, &b, &c, reg, &o), Err(Error::Regularization(_))), "{reg}");
            assert!(matches!(sparse_ot_semi_dual(&a, &b, &c, reg, 2, &o), Err(Error::Regularization(_))), "{reg}");
        }
        assert!(matches!(sparse_ot_semi_dual(&a, &b, &c, 0.1, 0, &o), Err(Error::Option { name: "max_nz", .. })));
        assert_eq!(sparse_ot_semi_dual(&a, &b, &c.transpose(), 0.1, 2, &o), Err(Error::CostShape { rows: 5, cols: 6, n: 6, m: 5 }));
        assert!(matches!(smooth_ot_l2_semi_dual(&a, &[0.5, 0.5, 0.5, 0.5, 0.5], &c, 0.1, &o), Err(Error::MassMismatch { .. })));
        let mut bad = c.clone();
        bad.data[3] = f64::NAN;
        assert!(matches!(sparse_ot_semi_dual(&a, &b, &bad, 0.1, 1, &o), Err(Error::NonFinite { .. })));
        for opts in [SmoothOptions { memory: 0, ..o }, SmoothOptions { max_iter: 0, ..o }, SmoothOptions { tol: -1.0, ..o }] {
            assert!(matches!(sparse_ot_semi_dual(&a, &b, &c, 0.1, 2, &opts), Err(Error::Option { .. })), "{opts:?}");
        }
    }

    /// POT semi-dual `l2 reg=0.1` (nit=23, marginal ℓ1 errors 4.566e-08, 8.327e-17).
    const L2_01: PotRun = PotRun {
        plan: [
            0.13333332841605322,
            0.0,
            0.0333333259233072,
            0.0,
            0.0,
            0.0,
            0.03333332483821607,
            0.0,
            0.13333333132823127,
            0.0,
            0.0,
            0.0,
            0.1666666740766928,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.16666666835360947,
            0.0,
            0.16666667516178393,
            0.0,
            0.0,
            0.0,
            0.06666667158394679,
            0.0,
            0.0,
            0.06666666867176865,
            0.03333333164639054,
        ],
        cost: 0.10333332748545891,
        dual: 0.10988888888888892,
    };
    /// POT semi-dual `sparse reg=0.1 k=1` (nit=43, marginal ℓ1 errors 3.333e-01, 8.327e-17).
    const SP1_01: PotRun = PotRun {
        plan: [
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.2000000000000001,
            0.0,
            0.0,
            0.0,
            0.2,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.2,
            0.0,
            0.2,
            0.0,
            0.0,
            0.0,
            0.2,
            0.0,
            0.0,
            0.0,
            0.0,
        ],
        cost: 0.046000000000000034,
        dual: 0.10641315534957632,
    };
    /// POT semi-dual `sparse reg=0.1 k=2` (nit=23, marginal ℓ1 errors 4.566e-08, 2.498e-16).
    const SP2_01: PotRun = PotRun {
        plan: [
            0.1333333284160534,
            0.0,
            0.033333325923307025,
            0.0,
            0.0,
            0.0,
            0.033333324838216785,
            0.0,
            0.13333333132823064,
            0.0,
            0.0,
            0.0,
            0.166666674076693,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.16666666835360966,
            0.0,
            0.16666667516178324,
            0.0,
            0.0,
            0.0,
            0.06666667158394661,
            0.0,
            0.0,
            0.06666666867176944,
            0.03333333164639054,
        ],
        cost: 0.10333332748545923,
        dual: 0.10988888888888894,
    };
    /// POT semi-dual `sparse reg=0.1 k=3` (nit=23, marginal ℓ1 errors 4.566e-08, 2.498e-16).
    const SP3_01: PotRun = PotRun {
        plan: [
            0.1333333284160534,
            0.0,
            0.033333325923307025,
            0.0,
            0.0,
            0.0,
            0.033333324838216785,
            0.0,
            0.13333333132823064,
            0.0,
            0.0,
            0.0,
            0.166666674076693,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.16666666835360966,
            0.0,
            0.16666667516178324,
            0.0,
            0.0,
            0.0,
            0.06666667158394661,
            0.0,
            0.0,
            0.06666666867176944,
            0.03333333164639054,
        ],
        cost: 0.10333332748545923,
        dual: 0.10988888888888894,
    };
    /// POT semi-dual `l2 reg=1.0` (nit=10, marginal ℓ1 errors 6.656e-09, 1.110e-16).
    const L2_1: PotRun = PotRun {
        plan: [
            0.10247619030321081,
            0.0,
            0.06419047669009173,
            0.0,
            0.0,
            0.0,
            0.021523810080714113,
            0.0,
            0.1451428567212842,
            0.0,
            0.0,
            0.0,
            0.13580952330990834,
            0.0,
            0.030857141966710345,
            0.0,
            0.011809525190491233,
            0.0,
            0.0,
            0.1548571432928177,
            0.0,
            0.16666666472879463,
            0.0,
            0.0,
            0.0,
            0.09752380969678918,
            0.0,
            0.0,
            0.054857143278715784,
            0.014285714740471933,
        ],
        cost: 0.10589333404091827,
        dual: 0.1659784126984127,
    };
    /// POT semi-dual `sparse reg=1.0 k=1` (nit=100, marginal ℓ1 errors 6.667e-01, 5.551e-17).
    const SP1_1: PotRun = PotRun {
        plan: [
            0.2,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.19999999999999996,
            0.0,
            0.2,
            0.0,
            0.0,
            0.0,
            0.2,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.2,
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
        ],
        cost: 0.13999999999999999,
        dual: 0.20329627606424389,
    };
    /// POT semi-dual `sparse reg=1.0 k=2` (nit=26, marginal ℓ1 errors 3.378e-03, 1.110e-16).
    const SP2_1: PotRun = PotRun {
        plan: [
            0.09832848702310558,
            0.0,
            0.06832848278525219,
            0.0,
            0.0,
            0.0,
            0.03333353565084423,
            0.0,
            0.1349877292547105,
            0.0,
            0.0,
            0.0,
            0.13167151721474787,
            0.0,
            0.03501227498326949,
            0.0,
            0.0,
            0.0,
            0.0,
            0.16498772501673054,
            0.0,
            0.16666646434915575,
            0.0,
            0.0,
            0.0,
            0.10167151297689443,
            0.0,
            0.0,
            0.06501227074528948,
            0.0,
        ],
        cost: 0.1056008518761466,
        dual: 0.16643333298503107,
    };
    /// POT semi-dual `sparse reg=1.0 k=3` (nit=10, marginal ℓ1 errors 6.656e-09, 1.665e-16).
    const SP3_1: PotRun = PotRun {
        plan: [
            0.10247619030321078,
            0.0,
            0.06419047669009166,
            0.0,
            0.0,
            0.0,
            0.021523810080714113,
            0.0,
            0.1451428567212842,
            0.0,
            0.0,
            0.0,
            0.13580952330990828,
            0.0,
            0.030857141966710345,
            0.0,
            0.011809525190491277,
            0.0,
            0.0,
            0.15485714329281774,
            0.0,
            0.16666666472879466,
            0.0,
            0.0,
            0.0,
            0.0975238096967892,
            0.0,
            0.0,
            0.054857143278715784,
            0.014285714740471979,
        ],
        cost: 0.10589333404091826,
        dual: 0.16597841269841276,
    };
}
