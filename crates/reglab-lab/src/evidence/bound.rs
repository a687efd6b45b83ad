//! The DE-ELBo of Bayesian linear regression for a given Gaussian `q(w) = N(μ, S)`, in closed
//! form, and its gradient.
//!
//! `L_κ(q; τ², σ²) = κ · E_q[log p(y | Φ, w, σ²)] − KL(N(μ, S) ‖ N(0, τ² I_D))` with
//!
//! - `E_q[log p(y|w)] = −(N/2) log(2πσ²) − (‖y − Φμ‖² + tr(ΦᵀΦ S)) / (2σ²)`,
//! - `KL = ½ [(tr S + ‖μ‖²)/τ² − D + D log τ² − log det S]`,
//!
//! `Φ` N × D, `y` N, `μ` D, `S` D × D. κ = D/N is the paper's data emphasis (Harvey, Petrov,
//! Hughes 2025, see [`super`]); κ = 1 is the ELBo, a lower bound on the log evidence with
//! equality at the exact posterior. The bound depends on q only through [`QStats`].
//!
//! Gradients (for the fixed points of [`super::fit`]):
//! - `∂L/∂τ² = ½ [(tr S + ‖μ‖²)/τ⁴ − D/τ²]` — zero at `τ² = (‖μ‖² + tr S)/D`;
//! - `∂L/∂σ² = κ [−N/(2σ²) + (‖y − Φμ‖² + tr(ΦᵀΦ S))/(2σ⁴)]` — zero at `σ² = (‖y−Φμ‖² + tr(ΦᵀΦS))/N`;
//! - `∂L/∂μ = κ Φᵀ(y − Φμ)/σ² − μ/τ²`;
//! - isotropic `S = s² I`: `∂L/∂s² = −κ tr(ΦᵀΦ)/(2σ²) − D/(2τ²) + D/(2s²)`.

use super::problem::Problem;
use nalgebra::{DMatrix, DVector};

/// What the bound needs of `q = N(μ, S)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QStats {
    /// `‖μ‖²`.
    pub mu_sq: f64,
    /// `‖y − Φμ‖²`.
    pub res: f64,
    /// `tr(ΦᵀΦ S)`.
    pub tr_ps: f64,
    /// `tr S`.
    pub tr_s: f64,
    /// `log det S`.
    pub logdet_s: f64,
}

impl QStats {
    /// The statistics of an explicit `μ` (D) and `S` (D × D, symmetric positive definite) on
    /// `p`, computed directly (O(D³); for tests and small problems).
    pub fn direct(p: &Problem, mu: &DVector<f64>, s: &DMatrix<f64>) -> Result<Self, String> {
        let d = p.d();
        if mu.len() != d || s.nrows() != d || s.ncols() != d {
            return Err(format!("μ has {} entries and S is {} × {}, expected D = {d}", mu.len(), s.nrows(), s.ncols()));
        }
        let chol = nalgebra::Cholesky::new(s.clone()).ok_or("S is not positive definite")?;
        let logdet_s = 2.0 * chol.l().diagonal().iter().map(|v| v.ln()).sum::<f64>();
        let ptp = p.phi.transpose() * &p.phi;
        Ok(Self { mu_sq: mu.norm_squared(), res: (&p.y - &p.phi * mu).norm_squared(), tr_ps: (ptp * s).trace(), tr_s: s.trace(), logdet_s })
    }
}

/// The bound of a problem with N examples and D weights at data weight κ.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bound {
    /// N.
    pub n: usize,
    /// D.
    pub d: usize,
    /// κ > 0.
    pub kappa: f64,
}

impl Bound {
    /// `κ E_q[log p(y|w)]`.
    pub fn expected_loglik(&self, q: &QStats, sigma2: f64) -> f64 {
        let n = self.n as f64;
        self.kappa * (-0.5 * n * (2.0 * std::f64::consts::PI * sigma2).ln() - (q.res + q.tr_ps) / (2.0 * sigma2))
    }

    /// `KL(q ‖ N(0, τ² I))`.
    pub fn kl(&self, q: &QStats, tau2: f64) -> f64 {
        let d = self.d as f64;
        0.5 * ((q.tr_s + q.mu_sq) / tau2 - d + d * tau2.ln() - q.logdet_s)
    }

    /// `L_κ(q; τ², σ²)`.
    pub fn value(&self, q: &QStats, tau2: f64, sigma2: f64) -> f64 {
        self.expected_loglik(q, sigma2) - self.kl(q, tau2)
    }

    /// `(∂L/∂τ², ∂L/∂σ²)` at fixed q.
    pub fn grad(&self, q: &QStats, tau2: f64, sigma2: f64) -> (f64, f64) {
        let (n, d) = (self.n as f64, self.d as f64);
        let gt = 0.5 * ((q.tr_s + q.mu_sq) / (tau2 * tau2) - d / tau2);
        let gs = self.kappa * (-0.5 * n / sigma2 + (q.res + q.tr_ps) / (2.0 * sigma2 * sigma2));
        (gt, gs)
    }

    /// `∂L/∂μ = κ Φᵀ(y − Φμ)/σ² − μ/τ²` (D).
    pub fn grad_mu(&self, p: &Problem, mu: &DVector<f64>, tau2: f64, sigma2: f64) -> DVector<f64> {
        p.phi.transpose() * (&p.y - &p.phi * mu) * (self.kappa / sigma2) - mu / tau2
    }

    /// `∂L/∂s²` of the isotropic `S = s² I`, `tr_ptp = tr(ΦᵀΦ)`.
    pub fn grad_iso_s2(&self, tr_ptp: f64, s2: f64, tau2: f64, sigma2: f64) -> f64 {
        let d = self.d as f64;
        -self.kappa * tr_ptp / (2.0 * sigma2) - d / (2.0 * tau2) + d / (2.0 * s2)
    }
}
