//! The Gaussian q (the posterior at κ = 1) of the Bayesian linear model for given
//! hyperparameters, its predictive density and the test metrics, computed directly (Cholesky;
//! independent of the eigendecomposition of [`super::spectral`]).
//!
//! Full q at its optimum for (κ, τ², σ²), `a = κ/σ²`:
//! `S = (a ΦᵀΦ + I/τ²)⁻¹` (D × D), `μ = S a Φᵀ y` (D). When `D ≤ N` the D × D precision is
//! factored (*primal*); otherwise the N × N matrix `C = τ² ΦΦᵀ + I/a` (*dual*, Woodbury):
//! `μ = τ² Φᵀ C⁻¹ y`, `φ*ᵀ S φ* = τ² ‖φ*‖² − τ⁴ ‖L⁻¹ Φ φ*‖²` (`C = L Lᵀ`).
//! Isotropic q: the same μ and `S = s² I`, `s² = D / (a tr(ΦᵀΦ) + D/τ²)`.
//!
//! Predictive density of a test point with features `φ*` (D): `N(y* | μᵀφ* + ȳ, σ² + φ*ᵀ S φ*)`,
//! `ȳ` the training mean the targets were centred by. Metrics over the M test points: the mean
//! predictive log-likelihood `(1/M) Σ log N(y*_m | …)` and the RMSE of the predictive mean.

use super::problem::{Problem, check_kappa, check_variance};
use nalgebra::{Cholesky, DMatrix, DVector, Dyn};

/// How `φ*ᵀ S φ*` is computed.
#[derive(Debug, Clone)]
enum Cov {
    /// `S⁻¹ = L Lᵀ` (D × D).
    Primal(Cholesky<f64, Dyn>),
    /// `C = τ² ΦΦᵀ + I/a = L Lᵀ` (N × N) with Φ and τ².
    Dual { chol: Cholesky<f64, Dyn>, phi: DMatrix<f64>, tau2: f64 },
    /// `S = s² I`.
    Iso(f64),
}

/// A Gaussian q over the weights: its mean and a way to its covariance.
#[derive(Debug, Clone)]
pub struct Posterior {
    /// μ (D).
    pub mean: DVector<f64>,
    cov: Cov,
}

/// Mean predictive log-likelihood and RMSE on a test set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metrics {
    /// `(1/M) Σ_m log N(y*_m | μᵀφ*_m + ȳ, σ² + φ*_mᵀ S φ*_m)`.
    pub loglik: f64,
    /// `√((1/M) Σ_m (y*_m − μᵀφ*_m − ȳ)²)`.
    pub rmse: f64,
}

impl Posterior {
    /// The full-covariance q maximising `L_κ` at (τ², σ²): at κ = 1 the exact posterior.
    pub fn gaussian(p: &Problem, kappa: f64, tau2: f64, sigma2: f64) -> Result<Self, String> {
        check_kappa(kappa)?;
        check_variance("τ²", tau2)?;
        check_variance("σ²", sigma2)?;
        let a = kappa / sigma2;
        if p.d() <= p.n() {
            let mut prec = p.phi.transpose() * &p.phi * a;
            for i in 0..p.d() {
                prec[(i, i)] += 1.0 / tau2;
            }
            let chol = Cholesky::new(prec).ok_or("the posterior precision is not positive definite (τ² or σ² out of range)")?;
            let mean = chol.solve(&(p.phi.transpose() * &p.y * a));
            Ok(Self { mean, cov: Cov::Primal(chol) })
        } else {
            let mut c = &p.phi * p.phi.transpose() * tau2;
            for i in 0..p.n() {
                c[(i, i)] += 1.0 / a;
            }
            let chol = Cholesky::new(c).ok_or("τ²ΦΦᵀ + (σ²/κ)I is not positive definite (τ² or σ² out of range)")?;
            let mean = p.phi.transpose() * chol.solve(&p.y) * tau2;
            Ok(Self { mean, cov: Cov::Dual { chol, phi: p.phi.clone(), tau2 } })
        }
    }

    /// The isotropic q maximising `L_κ` at (τ², σ²) among `N(μ, s² I)`.
    pub fn isotropic(p: &Problem, kappa: f64, tau2: f64, sigma2: f64) -> Result<Self, String> {
        let full = Self::gaussian(p, kappa, tau2, sigma2)?;
        let d = p.d() as f64;
        let s2 = d / (kappa / sigma2 * p.phi.norm_squared() + d / tau2);
        Ok(Self { mean: full.mean, cov: Cov::Iso(s2) })
    }

    /// `φ*ᵀ S φ*` for one feature vector `phi_star` (D); ≥ 0.
    pub fn variance_of(&self, phi_star: &DVector<f64>) -> f64 {
        let v = match &self.cov {
            Cov::Primal(chol) => chol.l().solve_lower_triangular(phi_star).map_or(f64::NAN, |w| w.norm_squared()),
            Cov::Dual { chol, phi, tau2 } => {
                let k = phi * phi_star;
                let w = chol.l().solve_lower_triangular(&k).map_or(f64::NAN, |w| w.norm_squared());
                tau2 * phi_star.norm_squared() - tau2 * tau2 * w
            }
            Cov::Iso(s2) => s2 * phi_star.norm_squared(),
        };
        v.max(0.0)
    }

    /// S as a D × D matrix (O(D³); for tests).
    pub fn covariance(&self) -> DMatrix<f64> {
        let d = self.mean.len();
        let mut s = DMatrix::zeros(d, d);
        for j in 0..d {
            let col = match &self.cov {
                Cov::Primal(chol) => chol.solve(&DVector::from_fn(d, |i, _| if i == j { 1.0 } else { 0.0 })),
                Cov::Dual { chol, phi, tau2 } => {
                    let ej = DVector::from_fn(d, |i, _| if i == j { 1.0 } else { 0.0 });
                    ej * *tau2 - phi.transpose() * chol.solve(&(phi * DVector::from_fn(d, |i, _| if i == j { 1.0 } else { 0.0 }))) * (tau2 * tau2)
                }
                Cov::Iso(s2) => DVector::from_fn(d, |i, _| if i == j { *s2 } else { 0.0 }),
            };
            s.set_column(j, &col);
        }
        s
    }

    /// The metrics on test features `phi` (M × D) and targets `y` (M), targets centred by
    /// `offset` in training, noise variance σ².
    pub fn evaluate(&self, phi: &DMatrix<f64>, y: &DVector<f64>, offset: f64, sigma2: f64) -> Result<Metrics, String> {
        check_variance("σ²", sigma2)?;
        if phi.nrows() == 0 || phi.nrows() != y.len() || phi.ncols() != self.mean.len() {
            return Err(format!("test set: Φ* is {} × {}, y* has {} entries, D = {}", phi.nrows(), phi.ncols(), y.len(), self.mean.len()));
        }
        let m = phi.nrows() as f64;
        let pred = phi * &self.mean;
        let (mut ll, mut se) = (0.0, 0.0);
        for i in 0..phi.nrows() {
            let row = phi.row(i).transpose();
            let var = sigma2 + self.variance_of(&row);
            let r = y[i] - pred[i] - offset;
            ll += -0.5 * ((2.0 * std::f64::consts::PI * var).ln() + r * r / var);
            se += r * r;
        }
        Ok(Metrics { loglik: ll / m, rmse: (se / m).sqrt() })
    }
}
