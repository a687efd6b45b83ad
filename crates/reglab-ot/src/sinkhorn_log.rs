//! Log-domain (stabilized) Sinkhorn for entropic OT, with optional ε-scaling.
//!
//! # Problem
//!
//! The same as [`mod@crate::sinkhorn`]: for histograms `a ∈ ℝ^n_+`, `b ∈ ℝ^m_+` of equal mass, a
//! cost `C ∈ ℝ^{n×m}` and `ε > 0`,
//!
//! ```text
//! min_T  ⟨C, T⟩ − ε H(T)   s.t.  T 1_m = a,  Tᵀ 1_n = b,    H(T) = −Σ_ij T_ij (log T_ij − 1).
//! ```
//!
//! # Convention and updates
//!
//! The iterates are the dual potentials `f ∈ ℝ^n`, `g ∈ ℝ^m` with
//!
//! ```text
//! T_ij = exp((f_i + g_j − C_ij) / ε),
//! ```
//!
//! i.e. `f = ε log u`, `g = ε log v` for the scalings `u, v` of plain Sinkhorn (the weights
//! `a, b` are inside the potentials, not factored out of the plan). Writing
//! `LSE_k(z_k) = log Σ_k exp(z_k)`, computed as `max + log Σ exp(z − max)`, the plain updates
//! `u ← a ⊘ (K v)`, `v ← b ⊘ (Kᵀ u)` become
//!
//! ```text
//! f_i ← ε log a_i − ε LSE_j((g_j − C_ij) / ε),
//! g_j ← ε log b_j − ε LSE_i((f_i − C_ij) / ε).
//! ```
//!
//! Starting from `f = g = 0` (`u = v = 1`) with the same stopping rule
//! (`‖T 1 − a‖₁ < tol`, checked every `check_every` iterations, evaluated from the `LSE` of the
//! next `f` update), the iterates equal those of [`sinkhorn`](crate::sinkhorn::sinkhorn) up to
//! rounding, but no `exp(−C/ε)` is ever formed, so small `ε` neither underflows nor overflows.
//! Each iteration costs `2nm` exponentials (versus `2nm` multiply-adds), reading `C` row by row.
//!
//! # ε-scaling
//!
//! For small `ε` Sinkhorn converges slowly (the contraction rate degrades like
//! `1 − exp(−‖C‖∞/ε)`). With [`EpsScaling`], the solver runs stages at
//! `ε_k = start · factor^k` while `ε_k > ε`, each to the looser tolerance
//! [`stage_tol`](EpsScaling::stage_tol) (at most [`stage_max_iter`](EpsScaling::stage_max_iter)
//! iterations), warm-starting `f, g` from the previous stage, then a final stage at the target
//! `ε` with the given [`SinkhornOptions`].

use crate::error::{Error, Result};
use crate::matrix::Matrix;
use crate::sinkhorn::{SinkhornOptions, SinkhornResult, check_problem, finish};

/// A decreasing schedule of regularization strengths for the log-domain solver.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpsScaling {
    /// The first `ε` (a scale of the costs, e.g. `max C`, so the first stage converges fast).
    pub start: f64,
    /// Ratio of consecutive strengths, in `(0, 1)`; default `0.5`.
    pub factor: f64,
    /// Stopping threshold of the intermediate stages on `‖T 1 − a‖₁`; default `1e-4`.
    pub stage_tol: f64,
    /// Most iterations of one intermediate stage; default 1000.
    pub stage_max_iter: usize,
}

impl EpsScaling {
    /// Scaling from `start`, halving `ε` at each stage (defaults for the other fields).
    pub fn new(start: f64) -> Self {
        Self { start, factor: 0.5, stage_tol: 1e-4, stage_max_iter: 1000 }
    }

    /// Scaling starting at the largest cost `max_ij C_ij` (or 1 when it is not positive).
    pub fn from_cost(cost: &Matrix) -> Self {
        let m = cost.max();
        Self::new(if m > 0.0 && m.is_finite() { m } else { 1.0 })
    }

    /// Errors with [`Error::Option`] unless `start > 0`, `0 < factor < 1`, `stage_tol ≥ 0`
    /// (all finite) and `stage_max_iter ≥ 1`.
    pub fn validate(&self) -> Result<()> {
        if !(self.start.is_finite() && self.start > 0.0) {
            return Err(Error::Option { name: "start", why: format!("must be finite and > 0, got {}", self.start) });
        }
        if !(self.factor > 0.0 && self.factor < 1.0) {
            return Err(Error::Option { name: "factor", why: format!("must be in (0, 1), got {}", self.factor) });
        }
        if !(self.stage_tol.is_finite() && self.stage_tol >= 0.0) {
            return Err(Error::Option { name: "stage_tol", why: format!("must be finite and ≥ 0, got {}", self.stage_tol) });
        }
        if self.stage_max_iter == 0 {
            return Err(Error::Option { name: "stage_max_iter", why: "must be at least 1".into() });
        }
        Ok(())
    }

    /// The strengths of the intermediate stages, `start · factor^k` for those `> target`
    /// (empty when `start ≤ target`); the final stage at `target` is not included.
    pub fn stages(&self, target: f64) -> Vec<f64> {
        let mut out = Vec::new();
        let mut eps = self.start;
        while eps > target {
            out.push(eps);
            eps *= self.factor;
        }
        out
    }
}

/// Solves entropic OT with log-domain Sinkhorn iterations (see the [module docs](self)),
/// optionally with ε-scaling.
///
/// Arguments and errors as [`sinkhorn`](crate::sinkhorn::sinkhorn) (there is no numerical
/// failure here), plus [`Error::Option`] for an invalid `scaling`. With ε-scaling,
/// [`SinkhornResult::iterations`] counts all stages and
/// [`converged`](SinkhornResult::converged) refers to the final one.
pub fn sinkhorn_log(a: &[f64], b: &[f64], cost: &Matrix, reg: f64, opts: &SinkhornOptions, scaling: Option<&EpsScaling>) -> Result<SinkhornResult> {
    check_problem(a, b, cost, reg, opts)?;
    let mut state = LogState::new(a, b, cost);
    let mut iterations = 0;
    if let Some(s) = scaling {
        s.validate()?;
        for eps in s.stages(reg) {
            let stage = SinkhornOptions { max_iter: s.stage_max_iter, tol: s.stage_tol, check_every: opts.check_every };
            iterations += state.iterate(eps, &stage).0;
        }
    }
    let (it, stopped) = state.iterate(reg, opts);
    iterations += it;
    let (n, m) = cost.shape();
    let inv = 1.0 / reg;
    let mut plan = Matrix::zeros(n, m);
    for (i, ti) in plan.data.chunks_exact_mut(m).enumerate() {
        let fi = state.f[i];
        for ((t, &cij), &gj) in ti.iter_mut().zip(cost.row(i)).zip(&state.g) {
            *t = ((fi + gj - cij) * inv).exp();
        }
    }
    let LogState { f, g, .. } = state;
    Ok(finish(plan, a, b, cost, reg, f, g, iterations, stopped, opts.tol))
}

/// Potentials and work buffers of the log-domain iterations (allocated once).
struct LogState<'p> {
    a: &'p [f64],
    cost: &'p Matrix,
    log_a: Vec<f64>,
    log_b: Vec<f64>,
    f: Vec<f64>,
    g: Vec<f64>,
    /// `LSE_j((g_j − C_ij)/ε)` per row.
    row_lse: Vec<f64>,
    /// `max_i (f_i − C_ij)` per column.
    col_max: Vec<f64>,
    /// `Σ_i exp((f_i − C_ij − col_max_j)/ε)` per column.
    col_sum: Vec<f64>,
}

impl<'p> LogState<'p> {
    fn new(a: &'p [f64], b: &'p [f64], cost: &'p Matrix) -> Self {
        let (n, m) = cost.shape();
        Self {
            a,
            cost,
            log_a: a.iter().map(|x| x.ln()).collect(),
            log_b: b.iter().map(|x| x.ln()).collect(),
            f: vec![0.0; n],
            g: vec![0.0; m],
            row_lse: vec![0.0; n],
            col_max: vec![0.0; m],
            col_sum: vec![0.0; m],
        }
    }

    /// Runs iterations at strength `eps` from the current potentials; returns the number run
    /// and whether the stopping rule was met.
    fn iterate(&mut self, eps: f64, opts: &SinkhornOptions) -> (usize, bool) {
        let inv = 1.0 / eps;
        let m = self.cost.cols;
        for it in 0..opts.max_iter {
            // row_lse_i = LSE_j((g_j − C_ij)/ε), one contiguous row of C at a time.
            for (lse, ci) in self.row_lse.iter_mut().zip(self.cost.data.chunks_exact(m)) {
                let mx = ci.iter().zip(&self.g).map(|(c, g)| g - c).fold(f64::NEG_INFINITY, f64::max);
                let s: f64 = ci.iter().zip(&self.g).map(|(c, g)| ((g - c - mx) * inv).exp()).sum();
                *lse = mx * inv + s.ln();
            }
            if it > 0 && it % opts.check_every == 0 {
                // Row sums of the current plan: Σ_j T_ij = exp(f_i/ε + row_lse_i).
                let err: f64 = self.f.iter().zip(&self.row_lse).zip(self.a).map(|((f, l), a)| ((f * inv + l).exp() - a).abs()).sum();
                if err < opts.tol {
                    return (it, true);
                }
            }
            for ((f, la), l) in self.f.iter_mut().zip(&self.log_a).zip(&self.row_lse) {
                *f = eps * (la - l);
            }
            // g_j = ε log b_j − ε LSE_i((f_i − C_ij)/ε): column maxima, then column sums, both
            // accumulated row by row so C is read contiguously.
            self.col_max.fill(f64::NEG_INFINITY);
            for (&fi, ci) in self.f.iter().zip(self.cost.data.chunks_exact(m)) {
                if fi > f64::NEG_INFINITY {
                    for (mx, c) in self.col_max.iter_mut().zip(ci) {
                        *mx = mx.max(fi - c);
                    }
                }
            }
            self.col_sum.fill(0.0);
            for (&fi, ci) in self.f.iter().zip(self.cost.data.chunks_exact(m)) {
                if fi > f64::NEG_INFINITY {
                    for ((s, c), mx) in self.col_sum.iter_mut().zip(ci).zip(&self.col_max) {
                        *s += ((fi - c - mx) * inv).exp();
                    }
                }
            }
            for (((g, lb), mx), s) in self.g.iter_mut().zip(&self.log_b).zip(&self.col_max).zip(&self.col_sum) {
                *g = eps * lb - mx - eps * s.ln();
            }
        }
        (opts.max_iter, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::{Metric, cost_matrix, sq_euclidean};
    use crate::exact::{emd_1d, exact_uniform};
    use crate::marginals::uniform;
    use crate::sinkhorn::sinkhorn;
    use crate::test_util::{Rng, assert_close, assert_rel};

    #[test]
    fn agrees_with_plain_sinkhorn() {
        let mut rng = Rng::new(11);
        for (n, m, eps) in [(10, 10, 0.5), (15, 8, 0.1), (6, 20, 0.05)] {
            let c = sq_euclidean(&rng.cloud(n, 2), &rng.cloud(m, 2)).unwrap();
            let (a, b) = (rng.histogram(n, 1.0), rng.histogram(m, 1.0));
            let opts = SinkhornOptions { max_iter: 10_000, tol: 1e-11, check_every: 10 };
            let p = sinkhorn(&a, &b, &c, eps, &opts).unwrap();
            let l = sinkhorn_log(&a, &b, &c, eps, &opts, None).unwrap();
            assert!(p.converged && l.converged);
            assert_close(&l.plan.data, &p.plan.data, 1e-8, "plan");
            assert_rel(l.cost, p.cost, 1e-8, "cost");
            assert_rel(l.entropic_cost, p.entropic_cost, 1e-8, "entropic cost");
            assert_close(&l.f, &p.f, 1e-8, "f");
            assert_close(&l.g, &p.g, 1e-8, "g");
        }
    }

    #[test]
    fn same_iterations_as_plain_sinkhorn() {
        // Same start, same updates, same checks: the iterates coincide, so with a loose
        // threshold far from any rounding effect both stop at the same check.
        let mut rng = Rng::new(12);
        let c = sq_euclidean(&rng.cloud(9, 2), &rng.cloud(7, 2)).unwrap();
        let opts = SinkhornOptions { max_iter: 5000, tol: 1e-6, check_every: 1 };
        let p = sinkhorn(&uniform(9), &uniform(7), &c, 0.05, &opts).unwrap();
        let l = sinkhorn_log(&uniform(9), &uniform(7), &c, 0.05, &opts, None).unwrap();
        assert_eq!(p.iterations, l.iterations);
    }

    #[test]
    fn small_eps_where_plain_sinkhorn_underflows() {
        let mut rng = Rng::new(13);
        // Costs up to ~ 2·10² ⇒ C/ε up to 2·10⁵: exp(−C/ε) underflows.
        let scale = |p: Matrix| Matrix::new(p.rows, p.cols, p.data.iter().map(|v| 10.0 * v).collect()).unwrap();
        let c = sq_euclidean(&scale(rng.cloud(12, 2)), &scale(rng.cloud(12, 2))).unwrap();
        let (a, b) = (uniform(12), uniform(12));
        assert!(matches!(sinkhorn(&a, &b, &c, 1e-3, &SinkhornOptions::default()), Err(Error::Numerical { .. })));
        let opts = SinkhornOptions { max_iter: 100_000, tol: 1e-9, ..Default::default() };
        let r = sinkhorn_log(&a, &b, &c, 1e-3, &opts, Some(&EpsScaling::from_cost(&c))).unwrap();
        assert!(r.converged && r.plan.data.iter().all(|t| t.is_finite()));
        assert!(r.row_error < 1e-9 && r.col_error < 1e-9);
    }

    #[test]
    fn eps_scaling_reaches_the_same_solution() {
        let mut rng = Rng::new(14);
        let c = sq_euclidean(&rng.cloud(15, 2), &rng.cloud(12, 2)).unwrap();
        let (a, b) = (rng.histogram(15, 1.0), rng.histogram(12, 1.0));
        let opts = SinkhornOptions { max_iter: 100_000, tol: 1e-11, check_every: 10 };
        let direct = sinkhorn_log(&a, &b, &c, 0.01, &opts, None).unwrap();
        let scaled = sinkhorn_log(&a, &b, &c, 0.01, &opts, Some(&EpsScaling::from_cost(&c))).unwrap();
        assert!(direct.converged && scaled.converged);
        assert_close(&scaled.plan.data, &direct.plan.data, 1e-7, "plan");
        assert_rel(scaled.cost, direct.cost, 1e-8, "cost");
    }

    #[test]
    fn stages_decrease_to_the_target() {
        let s = EpsScaling::new(1.0);
        assert_eq!(s.stages(0.1), vec![1.0, 0.5, 0.25, 0.125]);
        assert!(s.stages(2.0).is_empty());
        assert!(EpsScaling { factor: 1.0, ..s }.validate().is_err());
        assert!(EpsScaling { start: 0.0, ..s }.validate().is_err());
        assert!(EpsScaling { stage_max_iter: 0, ..s }.validate().is_err());
        let c = Matrix::zeros(2, 2);
        let e = sinkhorn_log(&uniform(2), &uniform(2), &c, 0.1, &Default::default(), Some(&EpsScaling { factor: 2.0, ..s }));
        assert!(matches!(e, Err(Error::Option { name: "factor", .. })));
    }

    /// Feasible plans cost at least the OT cost, and the entropic optimum costs at most
    /// `OT + ε (H(T_ε) − H(T*))`, with `H(T*) = log n + 1` for a permutation plan and
    /// `H(T_ε) ≤ log n² + 1`: so `0 ≤ ⟨C, T_ε⟩ − OT ≤ ε log n`. The iterate is the entropic
    /// optimum for its own marginals `(T 1, Tᵀ 1)`, which moves either bound by at most
    /// `2 max C (‖T 1 − a‖₁ + ‖Tᵀ 1 − b‖₁)`. At `ε = 10⁻³` Sinkhorn converges slowly (near-ties
    /// between assignments mix at a rate `~ exp(−Δ/ε)`), hence the `10⁻⁶` threshold.
    #[test]
    fn small_eps_cost_tends_to_the_exact_assignment_cost() {
        let mut rng = Rng::new(15);
        let eps = 1e-3;
        let opts = SinkhornOptions { max_iter: 100_000, tol: 1e-6, check_every: 10 };
        for n in [5usize, 12, 20, 30] {
            for metric in [Metric::SqEuclidean, Metric::Euclidean] {
                let c = cost_matrix(&rng.cloud(n, 2), &rng.cloud(n, 2), metric).unwrap();
                let exact = exact_uniform(&c).unwrap().cost;
                let u = uniform(n);
                let r = sinkhorn_log(&u, &u, &c, eps, &opts, Some(&EpsScaling::from_cost(&c))).unwrap();
                assert!(r.converged, "n = {n}, {metric:?}: {} iterations", r.iterations);
                let slack = 2.0 * c.max() * (r.row_error + r.col_error);
                let gap = r.cost - exact;
                assert!(
                    gap >= -slack && gap <= eps * (n as f64).ln() + slack,
                    "n = {n}, {metric:?}: entropic {} vs exact {exact} (gap {gap:e})",
                    r.cost
                );
            }
        }
    }

    #[test]
    fn small_eps_cost_tends_to_the_sorted_matching_cost_in_1d() {
        let mut rng = Rng::new(16);
        let eps = 1e-3;
        let opts = SinkhornOptions { max_iter: 100_000, tol: 1e-6, check_every: 10 };
        for (n, m) in [(25, 25), (20, 13)] {
            let x: Vec<f64> = (0..n).map(|_| rng.uniform()).collect();
            let y: Vec<f64> = (0..m).map(|_| rng.uniform()).collect();
            let (a, b) = (rng.histogram(n, 1.0), rng.histogram(m, 1.0));
            for metric in [Metric::SqEuclidean, Metric::Euclidean] {
                let c = cost_matrix(&Matrix::column(&x), &Matrix::column(&y), metric).unwrap();
                let exact = emd_1d(&x, &a, &y, &b, metric).unwrap().cost;
                let r = sinkhorn_log(&a, &b, &c, eps, &opts, Some(&EpsScaling::from_cost(&c))).unwrap();
                assert!(r.converged);
                // With unit mass, H(T) − 1 = −Σ T log T ∈ [0, log(nm)], so the gap is at most
                // ε (H(T_ε) − H(T*)) ≤ ε log(nm).
                let slack = 2.0 * c.max() * (r.row_error + r.col_error);
                let gap = r.cost - exact;
                assert!(
                    gap >= -slack && gap <= eps * ((n * m) as f64).ln() + slack,
                    "{n}×{m}, {metric:?}: entropic {} vs sorted {exact} (gap {gap:e})",
                    r.cost
                );
            }
        }
    }

    #[test]
    fn swapping_the_problems_transposes_the_plan() {
        let mut rng = Rng::new(17);
        let (x, y) = (rng.cloud(9, 2), rng.cloud(5, 2));
        let (a, b) = (rng.histogram(9, 3.0), rng.histogram(5, 3.0));
        let opts = SinkhornOptions { max_iter: 100_000, tol: 1e-11, check_every: 10 };
        let r = sinkhorn_log(&a, &b, &sq_euclidean(&x, &y).unwrap(), 0.02, &opts, None).unwrap();
        let s = sinkhorn_log(&b, &a, &sq_euclidean(&y, &x).unwrap(), 0.02, &opts, None).unwrap();
        assert_close(&s.plan.data, &r.plan.transpose().data, 1e-9, "swapped plan");
        assert_rel(s.cost, r.cost, 1e-9, "swapped cost");
    }

    #[test]
    fn zero_weights_are_handled() {
        let mut rng = Rng::new(18);
        let c = sq_euclidean(&rng.cloud(4, 2), &rng.cloud(3, 2)).unwrap();
        let a = [0.5, 0.0, 0.25, 0.25];
        let b = [0.0, 0.6, 0.4];
        let opts = SinkhornOptions { tol: 1e-12, max_iter: 10_000, ..Default::default() };
        let l = sinkhorn_log(&a, &b, &c, 0.1, &opts, None).unwrap();
        let p = sinkhorn(&a, &b, &c, 0.1, &opts).unwrap();
        assert!(l.converged);
        assert!(l.plan.row(1).iter().all(|&t| t == 0.0));
        assert_close(&l.plan.data, &p.plan.data, 1e-9, "plan");
    }

    #[test]
    fn bad_inputs_are_errors() {
        let c = Matrix::zeros(2, 3);
        let opts = SinkhornOptions::default();
        assert!(matches!(sinkhorn_log(&uniform(2), &uniform(3), &c, 0.0, &opts, None), Err(Error::Regularization(_))));
        assert!(matches!(sinkhorn_log(&uniform(3), &uniform(3), &c, 0.1, &opts, None), Err(Error::CostShape { .. })));
        assert!(matches!(sinkhorn_log(&uniform(2), &[0.5, 0.5, 0.5], &c, 0.1, &opts, None), Err(Error::MassMismatch { .. })));
    }
}
