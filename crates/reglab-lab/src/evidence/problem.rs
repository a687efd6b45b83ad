//! A checked regression problem: features `Φ` (N × D, one row per example) and targets `y` (N),
//! and the checked hyperparameters of the Bayesian linear model of [`super`].

use nalgebra::{DMatrix, DVector};

/// Features and targets with `N ≥ 1`, `D ≥ 1`, matching lengths and finite entries.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// Φ, N × D.
    pub phi: DMatrix<f64>,
    /// y, N.
    pub y: DVector<f64>,
}

impl Problem {
    /// Check and wrap `phi` (N × D) and `y` (N). Errors name what is wrong.
    pub fn new(phi: DMatrix<f64>, y: DVector<f64>) -> Result<Self, String> {
        if phi.nrows() == 0 {
            return Err("no training examples (Φ has 0 rows)".into());
        }
        if phi.ncols() == 0 {
            return Err("no features (Φ has 0 columns)".into());
        }
        if y.len() != phi.nrows() {
            return Err(format!("y has {} entries but Φ has {} rows", y.len(), phi.nrows()));
        }
        if let Some(i) = phi.iter().position(|v| !v.is_finite()) {
            return Err(format!("Φ[{}, {}] is not finite ({})", i % phi.nrows(), i / phi.nrows(), phi[i]));
        }
        if let Some(i) = y.iter().position(|v| !v.is_finite()) {
            return Err(format!("y[{i}] is not finite ({})", y[i]));
        }
        Ok(Self { phi, y })
    }

    /// N, the number of examples.
    pub fn n(&self) -> usize {
        self.phi.nrows()
    }

    /// D, the number of features (weights).
    pub fn d(&self) -> usize {
        self.phi.ncols()
    }
}

/// Check a variance (τ², σ²): finite and > 0. `what` names it in the error.
pub fn check_variance(what: &str, v: f64) -> Result<(), String> {
    if v.is_finite() && v > 0.0 { Ok(()) } else { Err(format!("{what} must be finite and > 0, got {v}")) }
}

/// Check the data weight κ: finite and > 0.
pub fn check_kappa(kappa: f64) -> Result<(), String> {
    if kappa.is_finite() && kappa > 0.0 { Ok(()) } else { Err(format!("κ must be finite and > 0, got {kappa}")) }
}
