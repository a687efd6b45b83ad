//! Exact (unregularized) optimal transport in two special cases: small references for tests.
//!
//! The Kantorovich problem is
//!
//! ```text
//! OT(a, b; C) = min_T ⟨C, T⟩   s.t.  T 1_m = a,  Tᵀ 1_n = b,  T ≥ 0.
//! ```
//!
//! - **Uniform weights, `n = m`** ([`exact_uniform`]): `a = b = 1/n`. The feasible set is
//!   `1/n` times the Birkhoff polytope, whose vertices are permutation matrices, so an optimal
//!   plan is `T = P_σ / n` for a permutation `σ` minimizing `Σ_i C_{i σ(i)}`: the linear
//!   assignment problem, solved by the Hungarian algorithm ([`hungarian`], `O(n² m)`).
//! - **The real line** ([`emd_1d`]): for points `x_i, y_j ∈ ℝ` and a cost `c(x − y)` with `c`
//!   convex (`|·|²`, `|·|`), the monotone (sorted) coupling is optimal: sort both supports and
//!   fill the plan by the north-west corner rule, i.e. match the quantile functions
//!   (`OT = ∫₀¹ c(F⁻¹(t) − G⁻¹(t)) dt` for unit mass).
//!
//! These are for checking the entropic solvers, not a general network-simplex solver.

use crate::cost::Metric;
use crate::error::{Error, Result};
use crate::marginals::check_marginals;
use crate::matrix::Matrix;

/// A solution of the linear assignment problem `min_σ Σ_i C_{i σ(i)}` over injective `σ`.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    /// `cols[i] = σ(i)`, the column assigned to row `i` (all distinct).
    pub cols: Vec<usize>,
    /// The total cost `Σ_i C_{i σ(i)}`.
    pub cost: f64,
}

/// An exact transport plan and its cost.
#[derive(Debug, Clone, PartialEq)]
pub struct ExactOt {
    /// An optimal plan `T` (`n × m`).
    pub plan: Matrix,
    /// The optimal cost `⟨C, T⟩`.
    pub cost: f64,
}

/// Solves the linear assignment problem for an `n × m` cost with `n ≤ m` (every row gets a
/// distinct column) by the Hungarian algorithm with dual potentials, in `O(n² m)`.
///
/// Errors: [`Error::Empty`], [`Error::NonFinite`], and [`Error::Unsupported`] when `n > m`
/// (transpose the cost).
pub fn hungarian(cost: &Matrix) -> Result<Assignment> {
    cost.check_finite("cost matrix")?;
    let (n, m) = cost.shape();
    if n > m {
        return Err(Error::Unsupported(format!("assignment needs rows ≤ columns, got {n}×{m}")));
    }
    // Shortest augmenting paths with potentials u (rows) and v (columns), 1-based with a
    // sentinel column 0; reduced costs C_ij − u_i − v_j stay ≥ 0 and are 0 on matched pairs.
    let mut u = vec![0.0; n + 1];
    let mut v = vec![0.0; m + 1];
    let mut row_of = vec![0usize; m + 1]; // row_of[j] = row matched to column j (0 = none)
    let mut way = vec![0usize; m + 1];
    let mut minv = vec![0.0; m + 1];
    let mut used = vec![false; m + 1];
    for i in 1..=n {
        row_of[0] = i;
        let mut j0 = 0;
        minv.fill(f64::INFINITY);
        used.fill(false);
        loop {
            used[j0] = true;
            let i0 = row_of[j0];
            let mut delta = f64::INFINITY;
            let mut j1 = 0;
            for j in 1..=m {
                if !used[j] {
                    let cur = cost.get(i0 - 1, j - 1) - u[i0] - v[j];
                    if cur < minv[j] {
                        minv[j] = cur;
                        way[j] = j0;
                    }
                    if minv[j] < delta {
                        delta = minv[j];
                        j1 = j;
                    }
                }
            }
            for j in 0..=m {
                if used[j] {
                    u[row_of[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
            if row_of[j0] == 0 {
                break;
            }
        }
        // Flip the augmenting path back to the sentinel.
        while j0 != 0 {
            let j1 = way[j0];
            row_of[j0] = row_of[j1];
            j0 = j1;
        }
    }
    let mut cols = vec![0; n];
    for j in 1..=m {
        if row_of[j] != 0 {
            cols[row_of[j] - 1] = j - 1;
        }
    }
    let total = cols.iter().enumerate().map(|(i, &j)| cost.get(i, j)).sum();
    Ok(Assignment { cols, cost: total })
}

/// Exact OT between uniform histograms `a = b = 1/n` for a square `n × n` cost: the optimal
/// permutation plan `T = P_σ / n` and its cost `Σ_i C_{i σ(i)} / n`.
///
/// Errors as [`hungarian`], and [`Error::Unsupported`] for a non-square cost.
pub fn exact_uniform(cost: &Matrix) -> Result<ExactOt> {
    let (n, m) = cost.shape();
    if n != m {
        return Err(Error::Unsupported(format!("uniform exact OT needs a square cost, got {n}×{m}")));
    }
    let assignment = hungarian(cost)?;
    let w = 1.0 / n as f64;
    let mut plan = Matrix::zeros(n, n);
    for (i, &j) in assignment.cols.iter().enumerate() {
        plan.data[i * n + j] = w;
    }
    Ok(ExactOt { plan, cost: assignment.cost * w })
}

/// Exact OT on the real line between `Σ_i a_i δ_{x_i}` and `Σ_j b_j δ_{y_j}` with cost
/// `metric.cost_1d(x, y)`: the monotone coupling (north-west corner rule on the sorted
/// supports). The plan is indexed like the inputs (`n × m`).
///
/// Errors: [`Error::LengthMismatch`] when `x` and `a` (or `y` and `b`) differ in length,
/// [`Error::NonFinite`] at a non-finite point, and the marginal errors of
/// [`check_marginals`].
pub fn emd_1d(x: &[f64], a: &[f64], y: &[f64], b: &[f64], metric: Metric) -> Result<ExactOt> {
    if x.len() != a.len() {
        return Err(Error::LengthMismatch { what: "x/a", points: x.len(), weights: a.len() });
    }
    if y.len() != b.len() {
        return Err(Error::LengthMismatch { what: "y/b", points: y.len(), weights: b.len() });
    }
    check_marginals(a, b)?;
    for (what, p) in [("x", x), ("y", y)] {
        if let Some(k) = p.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFinite { what, at: format!("index {k}"), value: p[k] });
        }
    }
    let order = |p: &[f64]| {
        let mut idx: Vec<usize> = (0..p.len()).collect();
        idx.sort_by(|&i, &j| p[i].total_cmp(&p[j]));
        idx
    };
    let (ix, iy) = (order(x), order(y));
    let (n, m) = (x.len(), y.len());
    let mut plan = Matrix::zeros(n, m);
    let mut total = 0.0;
    let (mut p, mut q) = (0, 0);
    let (mut ra, mut rb) = (a[ix[0]], b[iy[0]]);
    while p < n && q < m {
        let (i, j) = (ix[p], iy[q]);
        let mass = ra.min(rb);
        plan.data[i * m + j] += mass;
        total += mass * metric.cost_1d(x[i], y[j]);
        ra -= mass;
        rb -= mass;
        if ra <= 0.0 {
            p += 1;
            if p < n {
                ra = a[ix[p]];
            }
        } else {
            q += 1;
            if q < m {
                rb = b[iy[q]];
            }
        }
    }
    Ok(ExactOt { plan, cost: total })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::{cost_matrix, sq_euclidean};
    use crate::test_util::{Rng, assert_close, assert_rel};

    /// Minimum of `Σ_i C_{i σ(i)}` over all injective `σ`, by enumeration.
    fn brute_force(c: &Matrix) -> f64 {
        fn go(c: &Matrix, i: usize, used: &mut Vec<bool>) -> f64 {
            if i == c.rows {
                return 0.0;
            }
            let mut best = f64::INFINITY;
            for j in 0..c.cols {
                if !used[j] {
                    used[j] = true;
                    best = best.min(c.get(i, j) + go(c, i + 1, used));
                    used[j] = false;
                }
            }
            best
        }
        go(c, 0, &mut vec![false; c.cols])
    }

    #[test]
    fn hungarian_matches_enumeration() {
        let mut rng = Rng::new(21);
        for (n, m) in [(1, 1), (2, 2), (4, 4), (6, 6), (7, 7), (3, 5), (5, 7)] {
            for _ in 0..5 {
                let c = Matrix::new(n, m, (0..n * m).map(|_| rng.uniform() * 10.0 - 3.0).collect()).unwrap();
                let r = hungarian(&c).unwrap();
                let mut seen = r.cols.clone();
                seen.sort_unstable();
                seen.dedup();
                assert_eq!(seen.len(), n, "distinct columns");
                assert_rel(r.cost, brute_force(&c), 1e-12, "assignment cost");
            }
        }
    }

    #[test]
    fn hungarian_handles_ties_and_integer_costs() {
        let c = Matrix::from_rows(&[[4.0, 1.0, 3.0], [2.0, 0.0, 5.0], [3.0, 2.0, 2.0]]).unwrap();
        assert_eq!(hungarian(&c).unwrap(), Assignment { cols: vec![1, 0, 2], cost: 5.0 });
        let zeros = Matrix::zeros(4, 4);
        assert_eq!(hungarian(&zeros).unwrap().cost, 0.0);
    }

    #[test]
    fn exact_uniform_plan_is_a_scaled_permutation() {
        let mut rng = Rng::new(22);
        let c = sq_euclidean(&rng.cloud(9, 2), &rng.cloud(9, 2)).unwrap();
        let r = exact_uniform(&c).unwrap();
        assert_close(&r.plan.row_sums(), &[1.0 / 9.0; 9], 1e-15, "rows");
        assert_close(&r.plan.col_sums(), &[1.0 / 9.0; 9], 1e-15, "columns");
        assert_rel(c.dot(&r.plan), r.cost, 1e-14, "cost");
    }

    #[test]
    fn sorted_matching_agrees_with_hungarian_in_1d() {
        let mut rng = Rng::new(23);
        for metric in [Metric::SqEuclidean, Metric::Euclidean] {
            let x: Vec<f64> = (0..15).map(|_| rng.uniform()).collect();
            let y: Vec<f64> = (0..15).map(|_| rng.uniform() + 0.3).collect();
            let c = cost_matrix(&Matrix::column(&x), &Matrix::column(&y), metric).unwrap();
            let w = vec![1.0 / 15.0; 15];
            let sorted = emd_1d(&x, &w, &y, &w, metric).unwrap();
            assert_rel(sorted.cost, exact_uniform(&c).unwrap().cost, 1e-12, "1-D cost");
            assert_rel(c.dot(&sorted.plan), sorted.cost, 1e-12, "plan cost");
        }
    }

    /// Weights `k_i / N` with integer `k_i`: splitting each atom into `k_i` atoms of mass
    /// `1/N` gives a uniform `N × N` problem with the same OT cost.
    #[test]
    fn weighted_1d_equals_assignment_of_split_atoms() {
        let mut rng = Rng::new(24);
        let (ka, kb) = ([3usize, 1, 4, 2], [2usize, 5, 1, 1, 1]);
        let total: usize = ka.iter().sum();
        assert_eq!(total, kb.iter().sum::<usize>());
        let x: Vec<f64> = (0..ka.len()).map(|_| rng.uniform()).collect();
        let y: Vec<f64> = (0..kb.len()).map(|_| rng.uniform()).collect();
        let a: Vec<f64> = ka.iter().map(|&k| k as f64 / total as f64).collect();
        let b: Vec<f64> = kb.iter().map(|&k| k as f64 / total as f64).collect();
        let split = |p: &[f64], k: &[usize]| -> Vec<f64> { p.iter().zip(k).flat_map(|(&v, &r)| std::iter::repeat_n(v, r)).collect() };
        for metric in [Metric::SqEuclidean, Metric::Euclidean] {
            let r = emd_1d(&x, &a, &y, &b, metric).unwrap();
            assert_close(&r.plan.row_sums(), &a, 1e-15, "rows");
            assert_close(&r.plan.col_sums(), &b, 1e-15, "columns");
            let big = cost_matrix(&Matrix::column(&split(&x, &ka)), &Matrix::column(&split(&y, &kb)), metric).unwrap();
            assert_rel(r.cost, exact_uniform(&big).unwrap().cost, 1e-12, "split-atom cost");
        }
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert!(matches!(hungarian(&Matrix::zeros(3, 2)), Err(Error::Unsupported(_))));
        assert!(matches!(exact_uniform(&Matrix::zeros(2, 3)), Err(Error::Unsupported(_))));
        assert!(matches!(hungarian(&Matrix::zeros(0, 0)), Err(Error::Empty { .. })));
        let m = Metric::SqEuclidean;
        assert!(matches!(emd_1d(&[0.0], &[0.5, 0.5], &[1.0], &[1.0], m), Err(Error::LengthMismatch { .. })));
        assert!(matches!(emd_1d(&[0.0], &[1.0], &[1.0], &[2.0], m), Err(Error::MassMismatch { .. })));
        assert!(matches!(emd_1d(&[f64::NAN], &[1.0], &[1.0], &[1.0], m), Err(Error::NonFinite { .. })));
    }
}
