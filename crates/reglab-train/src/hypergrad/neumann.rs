//! The inverse-Hessian-vector product by a truncated Neumann series (Lorraine, Vicol &
//! Duvenaud 2020, "Optimizing Millions of Hyperparameters by Implicit Differentiation",
//! AISTATS, Algorithm 3 and eq. 9).
//!
//! ```text
//! H⁻¹ v  ≈  p_K = α Σ_{j=0..K} (I − αH)^j v
//! ```
//! `H` (`n × n`, symmetric positive definite, known only through products `v ↦ Hv`), `v ∈ ℝⁿ`,
//! `α > 0` the step, `K ≥ 0` the number of Hessian-vector products (the `j = 0` term is `v`
//! itself; `K = 0` gives `α v`, the "identity" approximation the paper also compares). It is
//! `K + 1` steps of gradient descent with step `α` on `½ pᵀHp − vᵀp` started from `p = 0`
//! (Richardson iteration), so the remainder is exact:
//! ```text
//! H⁻¹ v − p_K = (I − αH)^{K+1} H⁻¹ v,     ‖H⁻¹ v − p_K‖ ≤ ρ^{K+1} ‖H⁻¹ v‖,   ρ = max_i |1 − α μ_i|
//! ```
//! with `μ_i` the eigenvalues of `H`: the series converges iff `0 < α < 2/μ_max`, at the rate
//! `ρ = 1 − α μ_min` when `α ≤ 1/μ_max`. Directions of tiny curvature (`μ ≈ 0`) are
//! effectively truncated: their component grows as `α (K+1) v_i` instead of `v_i / μ_i`,
//! which is the implicit regularisation of the truncated series the paper discusses.
//!
//! The authors' code (`neumann_hyperstep_preconditioner`) computes the same sum
//! (`counter ← counter − α H counter`, `p ← p + counter`, K times, then `α p`).

use crate::error::TrainError;

/// `α Σ_{j=0..K} (I − αH)^j v` (see the module documentation), with `hvp(u) = H u`. Costs
/// `K` calls of `hvp`. Errors: `α` not finite and > 0, an empty or non-finite `v`, a product
/// of the wrong length, or a non-finite iterate (the series diverged: `α ≥ 2/μ_max`, or `H`
/// is not positive definite).
pub fn inverse_hvp(mut hvp: impl FnMut(&[f64]) -> Result<Vec<f64>, TrainError>, v: &[f64], alpha: f64, k: usize) -> Result<Vec<f64>, TrainError> {
    if !(alpha > 0.0 && alpha.is_finite()) {
        return Err(TrainError::Config(format!("the Neumann step α must be finite and > 0, got {alpha}")));
    }
    if v.is_empty() {
        return Err(TrainError::Config("the Neumann series needs a non-empty vector".into()));
    }
    if let Some(i) = v.iter().position(|x| !x.is_finite()) {
        return Err(TrainError::non_finite(format!("entry {i} of the vector the inverse Hessian multiplies"), v[i]));
    }
    let mut term = v.to_vec();
    let mut sum = v.to_vec();
    for j in 1..=k {
        let h = hvp(&term)?;
        if h.len() != term.len() {
            return Err(TrainError::Other(format!("the Hessian-vector product has {} entries, the vector {}", h.len(), term.len())));
        }
        for ((t, s), hi) in term.iter_mut().zip(sum.iter_mut()).zip(&h) {
            *t -= alpha * hi;
            *s += *t;
        }
        let norm = sum.iter().map(|x| x * x).sum::<f64>();
        if !norm.is_finite() {
            return Err(TrainError::non_finite(
                format!("the Neumann series (term {j} of {k}; α = {alpha} is too large for the Hessian, or it is not positive definite)"),
                norm,
            ));
        }
    }
    Ok(sum.into_iter().map(|s| alpha * s).collect())
}

/// The largest eigenvalue of a symmetric positive semi-definite `H` by power iteration:
/// `iters` products from a seeded random start of length `n`, returning the last Rayleigh
/// quotient `uᵀHu / uᵀu` (a lower bound that converges to `μ_max`). Used to choose the Neumann
/// step: `α ≤ 1/μ_max` guarantees `ρ = 1 − α μ_min < 1`.
pub fn largest_eigenvalue(mut hvp: impl FnMut(&[f64]) -> Result<Vec<f64>, TrainError>, n: usize, iters: usize, seed: u64) -> Result<f64, TrainError> {
    if n == 0 || iters == 0 {
        return Err(TrainError::Config(format!("power iteration needs a dimension and iterations ≥ 1, got n = {n}, iters = {iters}")));
    }
    let mut u: Vec<f64> = reglab_core::testing::random_vec(n, 1.0, seed).into_iter().map(f64::from).collect();
    let mut mu = 0.0;
    for _ in 0..iters {
        let norm = u.iter().map(|x| x * x).sum::<f64>().sqrt();
        if !(norm > 0.0 && norm.is_finite()) {
            return Err(TrainError::non_finite("the power iteration's vector norm", norm));
        }
        u.iter_mut().for_each(|x| *x /= norm);
        let h = hvp(&u)?;
        if h.len() != n {
            return Err(TrainError::Other(format!("the Hessian-vector product has {} entries, expected {n}", h.len())));
        }
        mu = u.iter().zip(&h).map(|(a, b)| a * b).sum();
        u = h;
    }
    Ok(mu)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An SPD matrix `Q diag(μ) Qᵀ` with a seeded orthogonal `Q` (Gram–Schmidt), row-major.
    fn spd(mu: &[f64], seed: u64) -> Vec<f64> {
        let n = mu.len();
        let r: Vec<f64> = reglab_core::testing::random_vec(n * n, 1.0, seed).into_iter().map(f64::from).collect();
        let mut q: Vec<Vec<f64>> = Vec::new();
        for i in 0..n {
            let mut c: Vec<f64> = r[i * n..(i + 1) * n].to_vec();
            for p in &q {
                let d: f64 = c.iter().zip(p).map(|(a, b)| a * b).sum();
                c.iter_mut().zip(p).for_each(|(a, b)| *a -= d * b);
            }
            let norm = c.iter().map(|x| x * x).sum::<f64>().sqrt();
            q.push(c.into_iter().map(|x| x / norm).collect());
        }
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                a[i * n + j] = (0..n).map(|k| q[k][i] * mu[k] * q[k][j]).sum();
            }
        }
        a
    }

    fn matvec(a: &[f64], v: &[f64]) -> Vec<f64> {
        let n = v.len();
        (0..n).map(|i| (0..n).map(|j| a[i * n + j] * v[j]).sum()).collect()
    }

    fn dist(a: &[f64], b: &[f64]) -> f64 {
        a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f64>().sqrt()
    }

    #[test]
    fn error_against_a_direct_solve_decays_as_the_theory_says() {
        // eigenvalues in [0.2, 2]; α = 0.5 ⇒ 1 − αμ ∈ [0, 0.9], ρ = 0.9
        let mu: Vec<f64> = (0..12).map(|i| 0.2 + 1.8 * i as f64 / 11.0).collect();
        let a = spd(&mu, 3);
        let v: Vec<f64> = reglab_core::testing::random_vec(12, 1.0, 4).into_iter().map(f64::from).collect();
        let exact = crate::hypergrad::tests::solve(&a, &v);
        let (alpha, rho) = (0.5, 0.9f64);
        let xnorm = exact.iter().map(|x| x * x).sum::<f64>().sqrt();
        let mut prev = f64::INFINITY;
        let mut calls = 0;
        for k in [0usize, 1, 5, 20, 50, 100, 200] {
            let p = inverse_hvp(
                |u| {
                    calls += 1;
                    Ok(matvec(&a, u))
                },
                &v,
                alpha,
                k,
            )
            .unwrap();
            let err = dist(&p, &exact);
            // the remainder (I − αH)^{K+1} H⁻¹v exactly, and its bound ρ^{K+1}‖H⁻¹v‖
            let mut rem = exact.clone();
            for _ in 0..=k {
                let h = matvec(&a, &rem);
                rem.iter_mut().zip(&h).for_each(|(r, hi)| *r -= alpha * hi);
            }
            let rem_norm = rem.iter().map(|x| x * x).sum::<f64>().sqrt();
            assert!((err - rem_norm).abs() <= 1e-10 * (1.0 + rem_norm), "K = {k}: error {err} vs remainder {rem_norm}");
            assert!(err <= rho.powi(k as i32 + 1) * xnorm * (1.0 + 1e-9), "K = {k}: error {err} above the bound");
            assert!(err < prev, "K = {k}: the error did not decrease");
            prev = err;
        }
        // at K = 200 the slowest mode decays as 0.9^201 ≈ 6e-10
        assert!(prev < 1e-8 * xnorm, "{prev}");
        assert_eq!(calls, 1 + 5 + 20 + 50 + 100 + 200, "K products per call");
    }

    #[test]
    fn bad_inputs_are_named_errors_and_divergence_is_caught() {
        let id = |u: &[f64]| Ok(u.to_vec());
        for (alpha, what) in [(0.0, "α"), (-1.0, "α"), (f64::NAN, "α")] {
            let e = inverse_hvp(id, &[1.0], alpha, 3).unwrap_err().to_string();
            assert!(e.contains(what), "{e}");
        }
        assert!(inverse_hvp(id, &[], 1.0, 3).unwrap_err().to_string().contains("non-empty"));
        assert!(inverse_hvp(id, &[f64::NAN], 1.0, 3).is_err());
        assert!(inverse_hvp(|_| Ok(vec![0.0; 2]), &[1.0], 1.0, 1).unwrap_err().to_string().contains("entries"));
        // α = 3 on H = I: 1 − α = −2, the series diverges and says so
        let e = inverse_hvp(id, &[1.0], 3.0, 2000).unwrap_err().to_string();
        assert!(e.contains("too large"), "{e}");
        // K = 0 is α v
        assert_eq!(inverse_hvp(id, &[2.0, -1.0], 0.25, 0).unwrap(), vec![0.5, -0.25]);
    }

    #[test]
    fn power_iteration_finds_the_largest_eigenvalue() {
        let mu = [0.1, 0.5, 1.0, 3.0];
        let a = spd(&mu, 9);
        let m = largest_eigenvalue(|u| Ok(matvec(&a, u)), 4, 100, 1).unwrap();
        assert!((m - 3.0).abs() < 1e-9, "{m}");
        assert!(largest_eigenvalue(|u| Ok(u.to_vec()), 0, 10, 1).is_err());
    }
}
