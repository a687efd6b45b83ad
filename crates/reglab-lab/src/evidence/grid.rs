//! The validation grid, the baseline the learned strengths are compared with: the *training*
//! set split at random into a fitting part and a validation part (the test set is never seen),
//! for each λ of a log-spaced grid the exact posterior (κ = 1) with `τ² = σ²/λ` fitted on the
//! fitting part and scored by its mean predictive log-likelihood on the validation part; the
//! best λ (largest validation log-likelihood) is refitted on the whole training set.
//!
//! When the noise is not known, each fit takes the σ² that maximises the evidence along the
//! ray `τ² = σ²/λ` ([`profile_sigma2`]): `σ̂²(λ) = yᵀ (I + ΦΦᵀ/λ)⁻¹ y / N` (the evidence's
//! covariance is `σ² (I + ΦΦᵀ/λ)`, whose scale has this maximiser) — a 1-D grid over λ with the
//! scale profiled out, so the grid needs no second axis.

use super::posterior::{Metrics, Posterior};
use super::problem::Problem;
use nalgebra::{DMatrix, DVector};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// `points` values log-spaced from `min` to `max` (both included).
pub fn log_grid(min: f64, max: f64, points: usize) -> Result<Vec<f64>, String> {
    if !(min.is_finite() && max.is_finite() && min > 0.0 && max > min) || points < 2 {
        return Err(format!("a log grid needs 0 < min < max and ≥ 2 points, got min {min}, max {max}, {points} points"));
    }
    let (a, b) = (min.ln(), max.ln());
    Ok((0..points).map(|i| (a + (b - a) * i as f64 / (points - 1) as f64).exp()).collect())
}

/// Indices `(fit, validation)` of `n` examples, `round(fraction · n)` (at least 1, at most
/// `n − 2`) for validation, drawn from `seed`.
pub fn split(n: usize, fraction: f64, seed: u64) -> Result<(Vec<usize>, Vec<usize>), String> {
    if !(fraction > 0.0 && fraction < 1.0) {
        return Err(format!("the validation fraction must be in (0, 1), got {fraction}"));
    }
    if n < 3 {
        return Err(format!("a validation split needs ≥ 3 training examples, got {n}"));
    }
    let n_val = ((fraction * n as f64).round() as usize).clamp(1, n - 2);
    let mut idx: Vec<usize> = (0..n).collect();
    idx.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let val = idx[..n_val].to_vec();
    let fit = idx[n_val..].to_vec();
    Ok((fit, val))
}

/// The rows `idx` of `phi` and `y`.
pub fn rows(phi: &DMatrix<f64>, y: &DVector<f64>, idx: &[usize]) -> (DMatrix<f64>, DVector<f64>) {
    (DMatrix::from_fn(idx.len(), phi.ncols(), |i, j| phi[(idx[i], j)]), DVector::from_fn(idx.len(), |i, _| y[idx[i]]))
}

/// `σ̂²(λ) = yᵀ (I + ΦΦᵀ/λ)⁻¹ y / N`: the maximiser over σ² of `log N(y | 0, σ²(I + ΦΦᵀ/λ))`.
pub fn profile_sigma2(p: &Problem, lambda: f64) -> Result<f64, String> {
    let mut c = &p.phi * p.phi.transpose() / lambda;
    for i in 0..p.n() {
        c[(i, i)] += 1.0;
    }
    let chol = nalgebra::Cholesky::new(c).ok_or("I + ΦΦᵀ/λ is not positive definite")?;
    let s = p.y.dot(&chol.solve(&p.y)) / p.n() as f64;
    if s.is_finite() && s > 0.0 { Ok(s) } else { Err(format!("the profiled σ² at λ = {lambda} is {s} (targets without variation?)")) }
}

/// Fit the exact posterior with `τ² = σ²/λ` on `(phi, y)` (targets centred by their mean) and
/// score it on `(phi_eval, y_eval)`; `sigma2` the known noise, or `None` for [`profile_sigma2`].
/// Returns the metrics and the σ² used.
pub fn fit_and_score(
    phi: &DMatrix<f64>,
    y: &DVector<f64>,
    phi_eval: &DMatrix<f64>,
    y_eval: &DVector<f64>,
    lambda: f64,
    sigma2: Option<f64>,
) -> Result<(Metrics, f64), String> {
    if !(lambda.is_finite() && lambda > 0.0) {
        return Err(format!("λ must be finite and > 0, got {lambda}"));
    }
    let offset = if y.is_empty() { 0.0 } else { y.mean() };
    let p = Problem::new(phi.clone(), y.add_scalar(-offset))?;
    let sigma2 = match sigma2 {
        Some(s) => s,
        None => profile_sigma2(&p, lambda)?,
    };
    Ok((Posterior::gaussian(&p, 1.0, sigma2 / lambda, sigma2)?.evaluate(phi_eval, y_eval, offset, sigma2)?, sigma2))
}
