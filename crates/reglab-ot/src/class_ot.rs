//! Class-based OT with a sum-of-norms (group-lasso) regularizer, solved by ADMM.
//!
//! # Problem
//!
//! Given histograms `a ∈ ℝ^n_+`, `b ∈ ℝ^m_+` of equal mass (see [`crate::marginals`]), a cost
//! matrix `C ∈ ℝ^{n×m}`, a class label `ℓ_i` for every source point `i` (the classes
//! `I_c = {i : ℓ_i = c}` partition the rows) and a strength `λ ≥ 0`, solve
//!
//! ```text
//! min_{T ∈ U(a,b)}  F(T) = ⟨C, T⟩ + λ R(T),    R(T) = Σ_j Σ_c ‖T_{I_c, j}‖₂,
//! U(a,b) = { T ∈ ℝ^{n×m} : T ≥ 0, T 1_m = a, Tᵀ 1_n = b },
//! ```
//!
//! where `T_{I_c, j} ∈ ℝ^{|I_c|}` is the block of column `j` (target point `j`) holding the rows of
//! class `c` and `‖·‖₂` the Euclidean norm (Rahbar, Panahi, Haghir Chehreghani, Dubhashi & Krim,
//! "Recovery Bounds on Class-Based Optimal Transport: A Sum-of-Norms Regularization Framework",
//! ICML 2023, arXiv 1903.03850). `R` is a group lasso: it drives whole blocks to zero, so each
//! target point tends to receive mass from few source classes ([`ClassOtResult::classes_per_column`]).
//! The problem is convex, not strictly; `λ = 0` is exact OT. With singleton classes `R(T) = Σ T_ij`
//! is the constant mass, so the plan is an exact OT plan. The regularizer groups source points,
//! so the problem is not symmetric in `(a, b)`.
//!
//! # Dual and certificate
//!
//! With multipliers `α ∈ ℝ^n`, `β ∈ ℝ^m` for the marginal constraints, minimizing the Lagrangian
//! over each block `t = T_{I_c, j} ≥ 0` gives `min_{t ≥ 0} ⟨C_{I_c,j} − α_{I_c} − β_j 1, t⟩ + λ‖t‖₂`,
//! which is `0` when `‖[α_{I_c} + β_j 1 − C_{I_c, j}]_+‖₂ ≤ λ` and `−∞` otherwise
//! (`[s]_+ = max(s, 0)`; rows with `a_i = 0` are left out, their `α_i` may be `−∞`). Hence the dual
//!
//! ```text
//! max_{α, β}  ⟨α, a⟩ + ⟨β, b⟩   s.t.  ‖[α_{I_c} + β_j 1 − C_{I_c, j}]_+‖₂ ≤ λ   for all c, j,
//! ```
//!
//! and any feasible `(α, β)` gives a lower bound on the optimal value (weak duality:
//! `⟨C − α1ᵀ − 1βᵀ, T⟩ + λR(T) ≥ Σ_{c,j} (λ‖t‖ − ‖[·]_+‖ ‖t‖) ≥ 0` for `T ∈ U(a,b)`). For a
//! given `α` the best `β_j` is the largest value meeting every constraint of column `j` (a
//! "λ-c-transform"; for `λ = 0` it is the usual `min_i C_ij − α_i`): per class, `‖[β − d]_+‖₂ = λ`
//! with `d_i = C_ij − α_i` is solved exactly by sorting `d`. [`ClassOtResult::dual_bound`] is this
//! certified lower bound, and `objective − dual_bound` the duality gap.
//!
//! # Algorithm
//!
//! ADMM (Boyd et al., "Distributed Optimization and Statistical Learning via ADMM", 2011,
//! §3) on the splitting `min f(X) + g(Z)  s.t.  X = Z` with
//!
//! - `f(X) = ⟨C, X⟩ + λ R(X) + ι_{X ≥ 0}`: its prox is exact and separable over blocks. For
//!   `v ∈ ℝ^k` and `κ ≥ 0`, `argmin_{x ≥ 0} ½‖x − v‖² + κ‖x‖₂ = (1 − κ/‖[v]_+‖)_+ [v]_+`
//!   (the group soft threshold of the projection onto the orthant: entries with `v_i ≤ 0` are `0`
//!   at the optimum because `‖·‖₂` is monotone in `|x_i|`, and on the others the problem is the
//!   unconstrained group-lasso prox, whose solution is non-negative);
//! - `g(Z) = ι_{Z 1 = a, Zᵀ 1 = b}`: the indicator of an *affine* set, whose projection is the
//!   closed form `P(V) = V + r 1ᵀ/m + 1 sᵀ/n − (Σ r) 1 1ᵀ/(nm)` with `r = a − V1`, `s = b − Vᵀ1`
//!   (the correction lies in the span of `{u 1ᵀ + 1 vᵀ}`, orthogonal to the affine set's
//!   directions, and it restores both marginals when `Σ a = Σ b`).
//!
//! Non-negativity lives in `f` and the marginals in `g`, so both steps are exact proximal maps
//! and no inner projection onto the polytope `U(a,b)` is needed (composing the group-norm prox
//! with a projection onto `U(a,b)` would not be the prox of their sum). With scaled dual `U`:
//!
//! ```text
//! X ← prox_{f/ρ}(Z − U),   Z ← P(X + U),   U ← U + X − Z.
//! ```
//!
//! `f` and `g` are closed, proper and convex and the problem has a solution (`U(a,b)` is a
//! non-empty compact set), so for any fixed `ρ > 0` the iterates satisfy `X − Z → 0`,
//! `F(X) → min F`, and `ρU → −(α1ᵀ + 1βᵀ)` for an optimal dual pair (Boyd et al., §3.2; the
//! Eckstein–Bertsekas theorem gives convergence of `X`, `Z` themselves). `ρ` starts at
//! [`rho`](ClassOtOptions::rho) and is adapted by residual balancing (Boyd et al., §3.4.1:
//! doubled when the primal residual `‖X − Z‖_F` exceeds ten times the dual residual
//! `ρ‖Z − Z_prev‖_F`, halved in the opposite case, with `U` rescaled) at most
//! [`max_rho_updates`](ClassOtOptions::max_rho_updates) times, after which it is fixed and the
//! theorem applies.
//!
//! Internally the plan is scaled to have mean entry 1 (`T · nm / Σa`) and the cost to
//! `max |C_ij| = 1` (`λ` scaled alike); `b` is rescaled to the mass of `a` (they agree to
//! [`MASS_RTOL`](crate::marginals::MASS_RTOL)). One iteration costs `O(nm)`.
//!
//! The returned plan is `X`: non-negative and with exact zero blocks, meeting the marginals up
//! to the reported errors (`Z` meets them exactly but may have negative entries).
//!
//! # Stopping rule
//!
//! Every [`check_every`](ClassOtOptions::check_every) iterations: the solver stops when the
//! marginal error of `X`, `(‖X1 − a‖₁ + ‖Xᵀ1 − b‖₁) / Σa`, is at most [`tol`](ClassOtOptions::tol)
//! **and** the duality gap `F(X) − D` (with `D` the certified bound built from `α` = row means of
//! `−ρU`) is at most [`gap_tol`](ClassOtOptions::gap_tol)` · (Σa · max|C| + |F(X)|)`; otherwise
//! after [`max_iter`](ClassOtOptions::max_iter) iterations. The gap is a stronger test than a
//! small relative change of the objective, which can stall far from the optimum.

use crate::error::{Error, Result};
use crate::marginals::check_marginals;
use crate::matrix::Matrix;

/// Stopping rule and penalty of [`class_ot`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClassOtOptions {
    /// Most ADMM iterations; default 100 000.
    pub max_iter: usize,
    /// Tolerance on the relative marginal error `(‖X1 − a‖₁ + ‖Xᵀ1 − b‖₁) / Σa`; default `1e-9`.
    pub tol: f64,
    /// Tolerance on the relative duality gap `(F − D) / (Σa · max|C| + |F|)`; default `1e-7`.
    pub gap_tol: f64,
    /// Initial ADMM penalty `ρ > 0` on the normalized problem (plan entries of mean 1, costs at
    /// most 1); default 1.
    pub rho: f64,
    /// Most residual-balancing changes of `ρ` (0 keeps it fixed); default 60.
    pub max_rho_updates: usize,
    /// Evaluate the stopping rule (and adapt `ρ`) every this many iterations; default 10.
    pub check_every: usize,
}

impl Default for ClassOtOptions {
    fn default() -> Self {
        Self { max_iter: 100_000, tol: 1e-9, gap_tol: 1e-7, rho: 1.0, max_rho_updates: 60, check_every: 10 }
    }
}

impl ClassOtOptions {
    /// Errors with [`Error::Option`] for `max_iter = 0`, `check_every = 0`, negative or
    /// non-finite tolerances, or `ρ` not finite and `> 0`.
    pub fn validate(&self) -> Result<()> {
        if self.max_iter == 0 {
            return Err(Error::Option { name: "max_iter", why: "must be at least 1".into() });
        }
        if self.check_every == 0 {
            return Err(Error::Option { name: "check_every", why: "must be at least 1".into() });
        }
        for (name, v) in [("tol", self.tol), ("gap_tol", self.gap_tol)] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::Option { name, why: format!("must be finite and ≥ 0, got {v}") });
            }
        }
        if !(self.rho.is_finite() && self.rho > 0.0) {
            return Err(Error::Option { name: "rho", why: format!("must be finite and > 0, got {}", self.rho) });
        }
        Ok(())
    }
}

/// The solution of a class-based OT problem, as returned by [`class_ot`].
#[derive(Debug, Clone, PartialEq)]
pub struct ClassOtResult {
    /// The plan `T` (`n × m`, non-negative, with exact zero blocks).
    pub plan: Matrix,
    /// The transport cost `⟨C, T⟩`.
    pub cost: f64,
    /// The regularizer `R(T) = Σ_j Σ_c ‖T_{I_c, j}‖₂` (without the factor `λ`).
    pub regularizer: f64,
    /// The objective `F(T) = ⟨C, T⟩ + λ R(T)`.
    pub objective: f64,
    /// A certified lower bound on `min_{U(a,b)} F` (the dual objective of a feasible dual pair,
    /// see the [module docs](self)); `objective − dual_bound` is the duality gap.
    pub dual_bound: f64,
    /// ADMM iterations run.
    pub iterations: usize,
    /// Final row-marginal error `‖T 1 − a‖₁`.
    pub row_error: f64,
    /// Final column-marginal error `‖Tᵀ 1 − b‖₁`.
    pub col_error: f64,
    /// Whether the stopping rule (marginal error and duality gap) was met.
    pub converged: bool,
    /// For each target column `j`, the number of classes `c` with
    /// `‖T_{I_c, j}‖₂ > 1e-9 · Σa` (length `m`).
    pub classes_per_column: Vec<usize>,
    /// The final ADMM penalty `ρ` (normalized problem).
    pub rho: f64,
}

/// Classes of the source points: `class[i] ∈ 0..count`, numbered by first appearance.
struct Classes {
    class: Vec<usize>,
    count: usize,
}

impl Classes {
    fn new(labels: &[usize]) -> Self {
        let mut ids = std::collections::HashMap::new();
        let class = labels
            .iter()
            .map(|l| {
                let next = ids.len();
                *ids.entry(*l).or_insert(next)
            })
            .collect();
        Self { class, count: ids.len() }
    }

    /// `‖T_{I_c, j}‖₂²` into `sq[c * m + j]`.
    fn block_sq(&self, plan: &Matrix, sq: &mut [f64]) {
        let m = plan.cols;
        sq.iter_mut().for_each(|s| *s = 0.0);
        for (i, &c) in self.class.iter().enumerate() {
            for (s, &t) in sq[c * m..(c + 1) * m].iter_mut().zip(plan.row(i)) {
                *s += t * t;
            }
        }
    }
}

/// The sum-of-norms regularizer `R(T) = Σ_j Σ_c ‖T_{I_c, j}‖₂` of a plan whose rows carry
/// `labels` (any `usize` values; equal labels form a class).
///
/// Errors with [`Error::LengthMismatch`] when `labels` does not have one entry per row.
pub fn class_regularizer(plan: &Matrix, labels: &[usize]) -> Result<f64> {
    if labels.len() != plan.rows {
        return Err(Error::LengthMismatch { what: "labels/plan rows", points: labels.len(), weights: plan.rows });
    }
    let classes = Classes::new(labels);
    let mut sq = vec![0.0; classes.count * plan.cols];
    classes.block_sq(plan, &mut sq);
    Ok(sq.iter().map(|s| s.sqrt()).sum())
}

/// Solves class-based OT with the sum-of-norms regularizer by ADMM (see the
/// [module docs](self)).
///
/// `a` (length `n`) and `b` (length `m`) are the marginals, `cost` the `n × m` cost matrix,
/// `labels` the class of each source point (length `n`, any `usize` values), `lambda` the
/// strength `λ ≥ 0`. Not converging is not an error: check [`ClassOtResult::converged`] and the
/// gap `objective − dual_bound`.
///
/// Errors: invalid marginals (see [`check_marginals`]), a cost matrix of the wrong shape
/// ([`Error::CostShape`]) or with non-finite entries, [`Error::LengthMismatch`] when `labels` does
/// not have `n` entries, [`Error::Option`] for `λ` negative or non-finite (named `lambda`) and for
/// invalid options.
pub fn class_ot(a: &[f64], b: &[f64], cost: &Matrix, labels: &[usize], lambda: f64, opts: &ClassOtOptions) -> Result<ClassOtResult> {
    let mass = check_marginals(a, b)?;
    if cost.shape() != (a.len(), b.len()) {
        return Err(Error::CostShape { rows: cost.rows, cols: cost.cols, n: a.len(), m: b.len() });
    }
    cost.check_finite("cost matrix")?;
    if labels.len() != a.len() {
        return Err(Error::LengthMismatch { what: "labels/a", points: labels.len(), weights: a.len() });
    }
    if !(lambda.is_finite() && lambda >= 0.0) {
        return Err(Error::Option { name: "lambda", why: format!("must be finite and ≥ 0, got {lambda}") });
    }
    opts.validate()?;
    let (n, m) = cost.shape();
    let classes = Classes::new(labels);
    let k = classes.count;

    // Normalized problem: plan entries of mean 1, costs in [−1, 1].
    let nm = (n * m) as f64;
    let plan_scale = nm / mass; // normalized plan = T · plan_scale
    let cmax = cost.data.iter().fold(0.0f64, |s, c| s.max(c.abs()));
    let cost_scale = if cmax > 0.0 { cmax } else { 1.0 };
    let c_hat: Vec<f64> = cost.data.iter().map(|c| c / cost_scale).collect();
    let lam = lambda / cost_scale;
    let sb: f64 = b.iter().sum();
    let a_hat: Vec<f64> = a.iter().map(|w| w * plan_scale).collect();
    let b_hat: Vec<f64> = b.iter().map(|w| w * (mass / sb) * plan_scale).collect();
    let value_scale = cost_scale / plan_scale; // true objective = value_scale · normalized one

    // Start from the (feasible) independent coupling a bᵀ / mass.
    let z_data = a_hat.iter().flat_map(|&ai| b_hat.iter().map(move |&bj| ai * bj / nm)).collect();
    let mut z = Matrix { rows: n, cols: m, data: z_data };
    let mut x = z.clone();
    let mut u = Matrix::zeros(n, m);
    let mut z_prev = z.clone();
    let mut sq = vec![0.0; k * m];
    let mut rho = opts.rho;
    let mut rho_updates = 0;
    let mut iterations = 0;
    let mut converged = false;
    let mut dual_hat = f64::NEG_INFINITY;
    let dual = DualBound::new(&classes, &a_hat, n);
    while iterations < opts.max_iter {
        iterations += 1;
        // X ← prox_{f/ρ}(Z − U): orthant projection, then group soft threshold.
        let inv = 1.0 / rho;
        for (((xv, &zv), &uv), &cv) in x.data.iter_mut().zip(&z.data).zip(&u.data).zip(&c_hat) {
            *xv = (zv - uv - cv * inv).max(0.0);
        }
        if lam > 0.0 {
            classes.block_sq(&x, &mut sq);
            let kappa = lam * inv;
            sq.iter_mut().for_each(|s| {
                let norm = s.sqrt();
                *s = if norm > kappa { 1.0 - kappa / norm } else { 0.0 };
            });
            for (i, &c) in classes.class.iter().enumerate() {
                for (xv, &f) in x.data[i * m..(i + 1) * m].iter_mut().zip(&sq[c * m..(c + 1) * m]) {
                    *xv *= f;
                }
            }
        }
        // Z ← P(X + U), U ← X + U − Z.
        std::mem::swap(&mut z, &mut z_prev);
        for ((zv, &xv), &uv) in z.data.iter_mut().zip(&x.data).zip(&u.data) {
            *zv = xv + uv;
        }
        project_affine(&mut z, &a_hat, &b_hat);
        for ((uv, &xv), &zv) in u.data.iter_mut().zip(&x.data).zip(&z.data) {
            *uv += xv - zv;
        }
        if iterations % opts.check_every != 0 && iterations < opts.max_iter {
            continue;
        }
        let marg = (l1_diff(&x.row_sums(), &a_hat) + l1_diff(&x.col_sums(), &b_hat)) / nm;
        if marg <= opts.tol {
            let f_hat = objective_hat(&x, &c_hat, lam, &classes, &mut sq);
            dual_hat = dual.value(&u, rho, &c_hat, lam, &a_hat, &b_hat);
            if f_hat - dual_hat <= opts.gap_tol * (nm + f_hat.abs()) {
                converged = true;
                break;
            }
        }
        if rho_updates < opts.max_rho_updates {
            let r = dist(&x.data, &z.data);
            let s = rho * dist(&z.data, &z_prev.data);
            let factor = if r > 10.0 * s {
                2.0
            } else if s > 10.0 * r {
                0.5
            } else {
                1.0
            };
            if factor != 1.0 {
                rho *= factor;
                u.data.iter_mut().for_each(|v| *v /= factor);
                rho_updates += 1;
            }
        }
    }
    if !converged {
        dual_hat = dual.value(&u, rho, &c_hat, lam, &a_hat, &b_hat);
    }

    let inv_scale = 1.0 / plan_scale;
    let plan = Matrix { rows: n, cols: m, data: x.data.iter().map(|t| t * inv_scale).collect() };
    classes.block_sq(&plan, &mut sq);
    let regularizer: f64 = sq.iter().map(|s| s.sqrt()).sum();
    let threshold = 1e-9 * mass;
    let mut classes_per_column = vec![0; m];
    for c in 0..k {
        for (count, s) in classes_per_column.iter_mut().zip(&sq[c * m..(c + 1) * m]) {
            *count += usize::from(s.sqrt() > threshold);
        }
    }
    let transport = cost.dot(&plan);
    Ok(ClassOtResult {
        cost: transport,
        regularizer,
        objective: transport + lambda * regularizer,
        dual_bound: dual_hat * value_scale,
        iterations,
        row_error: l1_diff(&plan.row_sums(), a),
        col_error: l1_diff(&plan.col_sums(), b),
        converged,
        classes_per_column,
        rho,
        plan,
    })
}

/// Orthogonal projection of `v` onto `{Z : Z1 = a, Zᵀ1 = b}` (`Σa = Σb`), in place.
fn project_affine(v: &mut Matrix, a: &[f64], b: &[f64]) {
    let (n, m) = v.shape();
    let r: Vec<f64> = v.row_sums().iter().zip(a).map(|(s, w)| (w - s) / m as f64).collect();
    let s: Vec<f64> = v.col_sums().iter().zip(b).map(|(s, w)| (w - s) / n as f64).collect();
    let mean_r = r.iter().sum::<f64>() / n as f64; // Σr_i / (nm) with r_i already divided by m
    for (i, ri) in r.iter().enumerate() {
        let shift = ri - mean_r;
        for (zv, sj) in v.data[i * m..(i + 1) * m].iter_mut().zip(&s) {
            *zv += shift + sj;
        }
    }
}

/// `⟨Ĉ, X⟩ + λ̂ R(X)` on the normalized problem.
fn objective_hat(x: &Matrix, c_hat: &[f64], lam: f64, classes: &Classes, sq: &mut [f64]) -> f64 {
    let transport: f64 = x.data.iter().zip(c_hat).map(|(t, c)| t * c).sum();
    if lam == 0.0 {
        return transport;
    }
    classes.block_sq(x, sq);
    transport + lam * sq.iter().map(|s| s.sqrt()).sum::<f64>()
}

/// The certified dual lower bound of the module docs.
struct DualBound {
    /// For each class, its rows of positive weight.
    rows: Vec<Vec<usize>>,
    n: usize,
}

impl DualBound {
    fn new(classes: &Classes, a: &[f64], n: usize) -> Self {
        let mut rows = vec![Vec::new(); classes.count];
        for (i, &c) in classes.class.iter().enumerate() {
            if a[i] > 0.0 {
                rows[c].push(i);
            }
        }
        Self { rows, n }
    }

    /// `⟨α, a⟩ + ⟨β(α), b⟩` with `α_i` the row means of `−ρU` and `β(α)` the λ-c-transform.
    fn value(&self, u: &Matrix, rho: f64, c_hat: &[f64], lam: f64, a: &[f64], b: &[f64]) -> f64 {
        let m = u.cols;
        let alpha: Vec<f64> = (0..self.n).map(|i| -rho * u.row(i).iter().sum::<f64>() / m as f64).collect();
        lambda_transform_value(&self.rows, &alpha, c_hat, m, lam, a, b)
    }
}

/// `⟨α, a⟩ + Σ_j b_j β_j` with `β_j = min_c β_{c j}` and `β_{cj}` the root of
/// `‖[β − d]_+‖₂ = λ`, `d_i = C_ij − α_i` over the rows of class `c` (positive weights only).
fn lambda_transform_value(rows: &[Vec<usize>], alpha: &[f64], c: &[f64], m: usize, lam: f64, a: &[f64], b: &[f64]) -> f64 {
    let mut value: f64 = rows.iter().flatten().map(|&i| alpha[i] * a[i]).sum();
    let mut d = Vec::new();
    for (j, &bj) in b.iter().enumerate() {
        if bj <= 0.0 {
            continue;
        }
        let mut beta = f64::INFINITY;
        for class_rows in rows.iter().filter(|r| !r.is_empty()) {
            d.clear();
            d.extend(class_rows.iter().map(|&i| c[i * m + j] - alpha[i]));
            d.sort_by(f64::total_cmp);
            beta = beta.min(group_root(&d, lam));
        }
        value += bj * beta;
    }
    value
}

/// The root `β` of `Σ_i [β − d_i]_+² = λ²` for `d` sorted ascending (non-empty).
fn group_root(d: &[f64], lam: f64) -> f64 {
    let lam2 = lam * lam;
    // Welford mean and centred sum of squares of the p smallest entries.
    let (mut mean, mut var) = (0.0, 0.0);
    for (p, &dp) in d.iter().enumerate() {
        let cnt = (p + 1) as f64;
        let delta = dp - mean;
        mean += delta / cnt;
        var += delta * (dp - mean);
        // h(d_{p+1}) = var + cnt (d_{p+1} − mean)² is the value at the next breakpoint.
        match d.get(p + 1) {
            Some(&next) if var + cnt * (next - mean).powi(2) <= lam2 => continue,
            _ => return mean + ((lam2 - var).max(0.0) / cnt).sqrt(),
        }
    }
    unreachable!("d is non-empty")
}

fn l1_diff(x: &[f64], y: &[f64]) -> f64 {
    x.iter().zip(y).map(|(p, q)| (p - q).abs()).sum()
}

fn dist(x: &[f64], y: &[f64]) -> f64 {
    x.iter().zip(y).map(|(p, q)| (p - q) * (p - q)).sum::<f64>().sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::{Metric, sq_euclidean};
    use crate::exact::{emd_1d, exact_uniform};
    use crate::marginals::uniform;
    use crate::test_util::{Rng, assert_close, assert_rel};

    fn opts() -> ClassOtOptions {
        ClassOtOptions::default()
    }

    /// `F(T) = ⟨C, T⟩ + λ R(T)` of any plan.
    fn objective_of(plan: &Matrix, cost: &Matrix, labels: &[usize], lambda: f64) -> f64 {
        cost.dot(plan) + lambda * class_regularizer(plan, labels).unwrap()
    }

    /// A random problem: `n` sources in `k` classes (class `i % k`), `m` targets, random weights.
    fn random_problem(rng: &mut Rng, n: usize, m: usize, k: usize) -> (Vec<f64>, Vec<f64>, Matrix, Vec<usize>) {
        let x = rng.cloud(n, 2);
        let y = rng.cloud(m, 2);
        let a = rng.histogram(n, 1.0);
        let b = rng.histogram(m, 1.0);
        (a, b, sq_euclidean(&x, &y).unwrap(), (0..n).map(|i| i % k).collect())
    }

    /// Checks a converged result: marginals, consistency of the reported values, and that the
    /// feasible rounding of the plan and the dual bound sandwich the optimum within `gap`.
    fn check_solution(r: &ClassOtResult, a: &[f64], b: &[f64], c: &Matrix, labels: &[usize], lambda: f64, gap: f64) {
        assert!(r.converged, "not converged after {} iterations", r.iterations);
        assert!(r.row_error <= 1e-8 && r.col_error <= 1e-8, "marginal errors {} {}", r.row_error, r.col_error);
        assert!(r.plan.data.iter().all(|&t| t >= 0.0));
        assert_rel(r.cost, c.dot(&r.plan), 1e-12, "cost");
        assert_rel(r.regularizer + 1e-300, class_regularizer(&r.plan, labels).unwrap() + 1e-300, 1e-12, "R");
        assert!((r.objective - (r.cost + lambda * r.regularizer)).abs() <= 1e-12 * r.objective.abs().max(1.0));
        let feasible = crate::marginals::round_to_marginals(&r.plan, a, b);
        assert_close(&feasible.row_sums(), a, 1e-12, "rounded rows");
        assert_close(&feasible.col_sums(), b, 1e-12, "rounded cols");
        let upper = objective_of(&feasible, c, labels, lambda);
        // dual_bound ≤ min F ≤ upper: the gap certifies both.
        assert!(r.dual_bound <= upper + 1e-12, "bound {} above a feasible value {upper}", r.dual_bound);
        assert!(upper - r.dual_bound <= gap, "certified gap {} (F = {}, D = {})", upper - r.dual_bound, upper, r.dual_bound);
        assert!((r.objective - upper).abs() <= gap, "rounding moved F by {}", (r.objective - upper).abs());
    }

    #[test]
    fn plans_meet_the_marginals_and_the_duality_gap_closes() {
        let mut rng = Rng::new(7);
        for (n, m, k) in [(12, 9, 3), (7, 11, 2), (10, 10, 10), (9, 6, 1)] {
            let (a, b, c, labels) = random_problem(&mut rng, n, m, k);
            for lambda in [0.0, 0.01, 0.1, 1.0] {
                let r = class_ot(&a, &b, &c, &labels, lambda, &opts()).unwrap();
                check_solution(&r, &a, &b, &c, &labels, lambda, 1e-6);
            }
        }
    }

    #[test]
    fn lambda_zero_is_exact_ot() {
        let mut rng = Rng::new(11);
        for n in [3, 6, 9] {
            let (x, y) = (rng.cloud(n, 2), rng.cloud(n, 2));
            let c = sq_euclidean(&x, &y).unwrap();
            let labels: Vec<usize> = (0..n).map(|i| i % 2).collect();
            let r = class_ot(&uniform(n), &uniform(n), &c, &labels, 0.0, &opts()).unwrap();
            let exact = exact_uniform(&c).unwrap();
            assert!(r.converged);
            assert_rel(r.objective, exact.cost, 1e-6, "λ = 0 vs Hungarian");
            assert!(r.dual_bound <= exact.cost + 1e-12);
        }
        // 1-D, non-uniform weights: sorted matching.
        let (x, y) = ([0.3, -1.0, 2.0, 0.9, 1.4], [0.0, 1.1, -0.4, 2.5]);
        let (a, b) = (rng.histogram(5, 2.0), rng.histogram(4, 2.0));
        for metric in [Metric::SqEuclidean, Metric::Euclidean] {
            let c = Matrix::new(5, 4, x.iter().flat_map(|&p| y.iter().map(move |&q| metric.cost_1d(p, q))).collect()).unwrap();
            let r = class_ot(&a, &b, &c, &[0, 1, 0, 1, 2], 0.0, &opts()).unwrap();
            let exact = emd_1d(&x, &a, &y, &b, metric).unwrap();
            assert_rel(r.objective, exact.cost, 1e-6, "λ = 0 vs sorted matching");
        }
    }

    #[test]
    fn regularized_plan_beats_the_exact_plan_on_the_regularized_objective() {
        let mut rng = Rng::new(3);
        for lambda in [0.05, 0.3, 2.0] {
            let n = 8;
            let (x, y) = (rng.cloud(n, 2), rng.cloud(n, 2));
            let c = sq_euclidean(&x, &y).unwrap();
            let labels = [0, 0, 1, 1, 2, 2, 0, 1];
            let exact = exact_uniform(&c).unwrap();
            let r = class_ot(&uniform(n), &uniform(n), &c, &labels, lambda, &opts()).unwrap();
            let feasible = crate::marginals::round_to_marginals(&r.plan, &uniform(n), &uniform(n));
            let f_exact = objective_of(&exact.plan, &c, &labels, lambda);
            assert!(objective_of(&feasible, &c, &labels, lambda) <= f_exact + 1e-9, "λ = {lambda}");
            // … and pays for it in transport cost.
            assert!(r.cost >= exact.cost - 1e-9);
        }
    }

    /// `min F` over a 3×2 problem (labels `[0, 0, 1]`) by nested ternary search on the two free
    /// entries `T_11, T_21`: `U(a, b)` is a polygon in them and `F` is convex, so the inner
    /// minimum is a convex function of `T_11`.
    fn brute_force_3x2(a: &[f64; 3], b: &[f64; 2], c: &Matrix, lambda: f64) -> f64 {
        let f = |t1: f64, t2: f64| {
            let t3 = b[0] - t1 - t2;
            let plan = Matrix::from_rows(&[[t1, a[0] - t1], [t2, a[1] - t2], [t3, a[2] - t3]]).unwrap();
            objective_of(&plan, c, &[0, 0, 1], lambda)
        };
        fn ternary(lo: f64, hi: f64, g: impl Fn(f64) -> f64) -> f64 {
            let (mut lo, mut hi) = (lo, hi);
            for _ in 0..200 {
                let (p, q) = (lo + (hi - lo) / 3.0, hi - (hi - lo) / 3.0);
                if g(p) <= g(q) { hi = q } else { lo = p }
            }
            g(0.5 * (lo + hi))
        }
        let inner = |t1: f64| ternary((b[0] - t1 - a[2]).max(0.0), a[1].min(b[0] - t1), |t2| f(t1, t2));
        ternary((b[0] - a[1] - a[2]).max(0.0), a[0].min(b[0]), inner)
    }

    #[test]
    fn matches_brute_force_on_three_by_two_problems() {
        let mut rng = Rng::new(5);
        for _ in 0..4 {
            let a: [f64; 3] = rng.histogram(3, 1.0).try_into().unwrap();
            let b: [f64; 2] = rng.histogram(2, 1.0).try_into().unwrap();
            let c = Matrix::new(3, 2, (0..6).map(|_| rng.uniform()).collect()).unwrap();
            for lambda in [0.0, 0.1, 0.5, 3.0] {
                let r = class_ot(&a, &b, &c, &[0, 0, 1], lambda, &opts()).unwrap();
                let best = brute_force_3x2(&a, &b, &c, lambda);
                assert!(r.converged);
                assert!((r.objective - best).abs() <= 1e-6, "λ = {lambda}: ADMM {} vs brute force {best}", r.objective);
                assert!(r.dual_bound <= best + 1e-9);
            }
        }
    }

    /// Two interleaved classes on the line (class 0 at 0, 2, 4, 6; class 1 at 1, 3, 5, 7) and
    /// targets between consecutive pairs: exact OT serves each target from both classes; the
    /// class averages (3 and 4) make the lower targets class 0's and the upper ones class 1's.
    #[test]
    fn larger_lambda_serves_each_target_from_fewer_classes() {
        let x: Vec<f64> = (0..8).map(|i| i as f64).collect();
        let y = [0.5, 2.5, 4.5, 6.5];
        let c = Matrix::new(8, 4, x.iter().flat_map(|&p| y.iter().map(move |&q| (p - q) * (p - q))).collect()).unwrap();
        let labels: Vec<usize> = (0..8).map(|i| i % 2).collect();
        let (a, b) = (uniform(8), uniform(4));
        let mut last = usize::MAX;
        let mut totals = Vec::new();
        for lambda in [0.0, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0] {
            let r = class_ot(&a, &b, &c, &labels, lambda, &opts()).unwrap();
            check_solution(&r, &a, &b, &c, &labels, lambda, 1e-6 * (1.0 + lambda));
            let total: usize = r.classes_per_column.iter().sum();
            assert!(total <= last, "λ = {lambda}: {:?}", r.classes_per_column);
            last = total;
            totals.push((lambda, r.classes_per_column.clone()));
        }
        assert_eq!(totals[0].1, vec![2; 4], "exact OT mixes the classes");
        assert_eq!(totals.last().unwrap().1, vec![1; 4], "{totals:?}");
        let r = class_ot(&a, &b, &c, &labels, 100.0, &opts()).unwrap();
        for (j, i) in [(0, 1), (1, 3), (2, 0), (3, 2)] {
            assert_eq!(r.plan.get(i, j), 0.0, "target {j} takes no mass from class {}", i % 2);
        }
    }

    #[test]
    fn regularizer_by_hand() {
        let t = Matrix::from_rows(&[[3.0, 0.0], [4.0, 1.0], [0.0, 2.0], [1.0, 0.0]]).unwrap();
        // Classes {0, 1} (label 7) and {2, 3} (label 2): ‖(3,4)‖ + ‖(0,1)‖ + ‖(0,1)‖ + ‖(2,0)‖.
        assert_eq!(class_regularizer(&t, &[7, 7, 2, 2]).unwrap(), 5.0 + 1.0 + 1.0 + 2.0);
        // Singletons: the ℓ1 norm; one class: the sum of the column norms.
        assert_eq!(class_regularizer(&t, &[0, 1, 2, 3]).unwrap(), 11.0);
        assert_rel(class_regularizer(&t, &[0; 4]).unwrap(), 26f64.sqrt() + 5f64.sqrt(), 1e-15, "one class");
        assert!(matches!(class_regularizer(&t, &[0; 3]), Err(Error::LengthMismatch { .. })));
    }

    #[test]
    fn group_root_solves_its_equation() {
        for (d, lam) in [(vec![0.0], 1.0), (vec![-1.0, 0.5, 0.5, 3.0], 0.7), (vec![1.0, 2.0, 3.0], 10.0), (vec![2.0, 5.0], 0.0)] {
            let beta = group_root(&d, lam);
            let h: f64 = d.iter().map(|&di| (beta - di).max(0.0).powi(2)).sum::<f64>().sqrt();
            assert!((h - lam).abs() <= 1e-12 * (1.0 + lam), "{d:?}, λ = {lam}: β = {beta}, h = {h}");
            assert!(beta >= d[0]);
        }
    }

    #[test]
    fn singleton_classes_give_exact_ot_plus_lambda_times_mass() {
        let mut rng = Rng::new(19);
        let n = 7;
        let c = sq_euclidean(&rng.cloud(n, 2), &rng.cloud(n, 2)).unwrap();
        let labels: Vec<usize> = (0..n).collect();
        let exact = exact_uniform(&c).unwrap();
        let r = class_ot(&uniform(n), &uniform(n), &c, &labels, 0.4, &opts()).unwrap();
        assert!(r.converged);
        assert_rel(r.cost, exact.cost, 1e-6, "cost");
        assert_rel(r.regularizer, 1.0, 1e-8, "R = mass");
    }

    #[test]
    fn relabelling_permuting_and_scaling_inputs_act_as_expected() {
        let mut rng = Rng::new(23);
        let (a, b, c, labels) = random_problem(&mut rng, 9, 6, 3);
        let lambda = 0.2;
        let r = class_ot(&a, &b, &c, &labels, lambda, &opts()).unwrap();
        // Other label values, same partition: same problem.
        let renamed: Vec<usize> = labels.iter().map(|l| 100 - 7 * l).collect();
        let r2 = class_ot(&a, &b, &c, &renamed, lambda, &opts()).unwrap();
        assert_rel(r2.objective, r.objective, 1e-7, "relabelled");
        assert_eq!(r2.classes_per_column, r.classes_per_column);
        // Reversing the source points (rows, weights and labels) reverses the plan's rows.
        let rev: Vec<usize> = (0..9).rev().collect();
        let c_rev = Matrix::new(9, 6, rev.iter().flat_map(|&i| c.row(i).to_vec()).collect()).unwrap();
        let a_rev: Vec<f64> = rev.iter().map(|&i| a[i]).collect();
        let l_rev: Vec<usize> = rev.iter().map(|&i| labels[i]).collect();
        let r3 = class_ot(&a_rev, &b, &c_rev, &l_rev, lambda, &opts()).unwrap();
        assert_rel(r3.objective, r.objective, 1e-7, "permuted");
        let back: Vec<f64> = rev.iter().flat_map(|&i| r3.plan.row(i).to_vec()).collect();
        assert_close(&back, &r.plan.data, 1e-4, "permuted plan");
        // Scaling the mass by s scales T, ⟨C, T⟩ and R by s; scaling C and λ by s scales F.
        let s = 3.5;
        let scale = |w: &[f64]| w.iter().map(|v| v * s).collect::<Vec<f64>>();
        let r4 = class_ot(&scale(&a), &scale(&b), &c, &labels, lambda, &opts()).unwrap();
        assert_rel(r4.objective, s * r.objective, 1e-7, "mass scaling");
        let cs = Matrix::new(9, 6, scale(&c.data)).unwrap();
        let r5 = class_ot(&a, &b, &cs, &labels, s * lambda, &opts()).unwrap();
        assert_rel(r5.objective, s * r.objective, 1e-7, "cost scaling");
        // Swapping the roles of a and b is a different problem (the classes group sources), but
        // with one class per point both are exact OT plus λ · mass and agree.
        let single: Vec<usize> = (0..9).collect();
        let fwd = class_ot(&a, &b, &c, &single, lambda, &opts()).unwrap();
        let bwd = class_ot(&b, &a, &c.transpose(), &(0..6).collect::<Vec<_>>(), lambda, &opts()).unwrap();
        assert_rel(fwd.objective, bwd.objective, 1e-7, "swapped singletons");
    }

    #[test]
    fn zero_weights_give_zero_rows_and_columns() {
        let mut rng = Rng::new(29);
        let (mut a, mut b, c, labels) = random_problem(&mut rng, 6, 5, 2);
        a[2] = 0.0;
        b[4] = 0.0;
        let (sa, sb) = (a.iter().sum::<f64>(), b.iter().sum::<f64>());
        b.iter_mut().for_each(|w| *w *= sa / sb);
        let r = class_ot(&a, &b, &c, &labels, 0.3, &opts()).unwrap();
        check_solution(&r, &a, &b, &c, &labels, 0.3, 1e-6);
        assert!(r.plan.row(2).iter().all(|&t| t < 1e-9));
        assert!((0..6).all(|i| r.plan.get(i, 4) < 1e-9));
        assert_eq!(r.classes_per_column[4], 0);
    }

    #[test]
    fn bad_inputs_are_errors() {
        let mut rng = Rng::new(31);
        let (a, b, c, labels) = random_problem(&mut rng, 4, 3, 2);
        let o = opts();
        for lambda in [-0.1, f64::NAN, f64::INFINITY] {
            assert!(matches!(class_ot(&a, &b, &c, &labels, lambda, &o), Err(Error::Option { name: "lambda", .. })), "{lambda}");
        }
        assert_eq!(class_ot(&a, &b, &c, &labels[..3], 0.1, &o), Err(Error::LengthMismatch { what: "labels/a", points: 3, weights: 4 }));
        assert_eq!(class_ot(&a, &b, &c.transpose(), &labels, 0.1, &o), Err(Error::CostShape { rows: 3, cols: 4, n: 4, m: 3 }));
        assert!(matches!(class_ot(&a, &[0.5, 0.5, 0.5], &c, &labels, 0.1, &o), Err(Error::MassMismatch { .. })));
        assert!(matches!(class_ot(&[0.5, -0.5, 0.5, 0.5], &b, &c, &labels, 0.1, &o), Err(Error::NegativeWeight { .. })));
        let mut bad = c.clone();
        bad.data[2] = f64::INFINITY;
        assert!(matches!(class_ot(&a, &b, &bad, &labels, 0.1, &o), Err(Error::NonFinite { .. })));
        for opts in [
            ClassOtOptions { max_iter: 0, ..o },
            ClassOtOptions { check_every: 0, ..o },
            ClassOtOptions { tol: -1.0, ..o },
            ClassOtOptions { gap_tol: f64::NAN, ..o },
            ClassOtOptions { rho: 0.0, ..o },
        ] {
            assert!(matches!(class_ot(&a, &b, &c, &labels, 0.1, &opts), Err(Error::Option { .. })), "{opts:?}");
        }
    }
}
