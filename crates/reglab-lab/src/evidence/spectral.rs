//! The eigendecomposition of the Gram matrix `K = ΦΦᵀ` (N × N) and, from it, every quantity of
//! the Bayesian linear model in O(N) per hyperparameter value.
//!
//! With `K = U diag(e) Uᵀ` (`e_i ≥ 0`, `U` orthogonal) and `z = Uᵀ y`, the thin SVD of Φ is
//! `Φ = U diag(√e) Vᵀ` on the `r` non-zero eigenvalues, and `ΦᵀΦ` has the eigenvalues `e_i`
//! (eigenvectors `v_i = Φᵀ u_i / √e_i`) and `D − r` zeros. For a Gaussian
//! `q = N(μ, S)` with `S⁻¹ = a ΦᵀΦ + α I` (`a = κ/σ²` the weighted data precision, `α = 1/τ²`
//! the prior precision; `d_i = a e_i + α`):
//!
//! - `μ = S a Φᵀ y = Φᵀ U diag(a / d_i) z`, `‖μ‖² = Σ a² e_i z_i² / d_i²`,
//! - `tr S = Σ 1/d_i + (D − r)/α`, `log det S = −Σ log d_i + (D − r) log τ²`,
//! - `tr(ΦᵀΦ S) = Σ e_i / d_i`, `‖y − Φμ‖² = ‖y‖² − Σ z_i² + Σ z_i² (α / d_i)²`,
//!
//! sums over the `r = min(N, D)` largest eigenvalues. The log evidence, over all N eigenvalues:
//! `log N(y | 0, σ² I + τ² K) = −½ Σ_i [log(2π(σ² + τ² e_i)) + z_i² / (σ² + τ² e_i)]`.

use super::bound::QStats;
use super::problem::Problem;
use nalgebra::{DMatrix, DVector};

/// The eigendecomposition of `ΦΦᵀ` of one problem.
#[derive(Debug, Clone)]
pub struct Spectrum {
    /// N.
    pub n: usize,
    /// D.
    pub d: usize,
    /// Eigenvalues `e_i` of `ΦΦᵀ` (N, decreasing; those past `rank` exactly 0).
    pub e: Vec<f64>,
    /// `z = Uᵀ y` (N).
    pub z: Vec<f64>,
    /// `U` (N × N), eigenvectors in the columns.
    pub u: DMatrix<f64>,
    /// `‖y‖²`.
    pub yy: f64,
    /// `r = min(N, D)`: the eigenvalues of `ΦᵀΦ` on its row space are `e_0…e_{r−1}` (an
    /// eigenvalue 0 there is harmless: its terms equal those of a free direction).
    pub rank: usize,
}

impl Spectrum {
    /// Decompose `ΦΦᵀ` of `p`; the eigenpairs in decreasing order of eigenvalue.
    pub fn new(p: &Problem) -> Result<Self, String> {
        let (n, d) = (p.n(), p.d());
        let k = &p.phi * p.phi.transpose();
        let eig = nalgebra::SymmetricEigen::try_new(k, f64::EPSILON, 10_000).ok_or("the eigendecomposition of ΦΦᵀ did not converge")?;
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&i, &j| eig.eigenvalues[j].total_cmp(&eig.eigenvalues[i]));
        let rank = n.min(d);
        // The top min(N, D) are the eigenvalues of ΦᵀΦ's range (rounding below 0 clamped);
        // the others are exact zeros of ΦΦᵀ when D < N.
        let e: Vec<f64> = order.iter().enumerate().map(|(k, &i)| if k < rank { eig.eigenvalues[i].max(0.0) } else { 0.0 }).collect();
        let u = DMatrix::from_fn(n, n, |r, c| eig.eigenvectors[(r, order[c])]);
        let z: Vec<f64> = (u.transpose() * &p.y).iter().copied().collect();
        Ok(Self { n, d, e, z, u, yy: p.y.norm_squared(), rank })
    }

    /// `tr(ΦᵀΦ) = Σ e_i`.
    pub fn trace(&self) -> f64 {
        self.e.iter().sum()
    }

    /// The summary statistics of the full-covariance `q` with `S⁻¹ = a ΦᵀΦ + α I` and its
    /// optimal mean (see the module doc).
    pub fn full_q(&self, a: f64, alpha: f64) -> QStats {
        let mut s = QStats { mu_sq: 0.0, res: self.yy, tr_ps: 0.0, tr_s: 0.0, logdet_s: 0.0 };
        for (&e, &z) in self.e.iter().zip(&self.z).take(self.rank) {
            let di = a * e + alpha;
            s.mu_sq += a * a * e * z * z / (di * di);
            s.res += z * z * ((alpha / di) * (alpha / di) - 1.0);
            s.tr_ps += e / di;
            s.tr_s += 1.0 / di;
            s.logdet_s -= di.ln();
        }
        let free = (self.d - self.rank) as f64;
        s.tr_s += free / alpha;
        s.logdet_s -= free * alpha.ln();
        s.res = s.res.max(0.0);
        s
    }

    /// The statistics of the isotropic `q = N(μ, s² I)` with the optimal μ (the full q's) and
    /// `s²` given: `tr S = D s²`, `log det S = D log s²`, `tr(ΦᵀΦ S) = s² tr(ΦᵀΦ)`.
    pub fn iso_q(&self, a: f64, alpha: f64, s2: f64) -> QStats {
        let full = self.full_q(a, alpha);
        let d = self.d as f64;
        QStats { mu_sq: full.mu_sq, res: full.res, tr_ps: s2 * self.trace(), tr_s: d * s2, logdet_s: d * s2.ln() }
    }

    /// The optimal isotropic variance `s² = D / (a tr(ΦᵀΦ) + D α)` (zero of `∂L/∂s²`).
    pub fn iso_s2(&self, a: f64, alpha: f64) -> f64 {
        let d = self.d as f64;
        d / (a * self.trace() + d * alpha)
    }

    /// The mean `μ = Φᵀ U diag(a / d_i) z` (D) of `q` (both families).
    pub fn mean(&self, phi: &DMatrix<f64>, a: f64, alpha: f64) -> DVector<f64> {
        let c = DVector::from_iterator(
            self.n,
            self.e.iter().zip(&self.z).enumerate().map(|(i, (&e, &z))| if i < self.rank { a * z / (a * e + alpha) } else { 0.0 }),
        );
        phi.transpose() * (&self.u * c)
    }

    /// `log N(y | 0, σ² I + τ² ΦΦᵀ)`.
    pub fn log_evidence(&self, tau2: f64, sigma2: f64) -> f64 {
        let two_pi = 2.0 * std::f64::consts::PI;
        -0.5 * self.e.iter().zip(&self.z).map(|(&e, &z)| (two_pi * (sigma2 + tau2 * e)).ln() + z * z / (sigma2 + tau2 * e)).sum::<f64>()
    }

    /// `(∂/∂τ², ∂/∂σ²)` of [`Spectrum::log_evidence`].
    pub fn log_evidence_grad(&self, tau2: f64, sigma2: f64) -> (f64, f64) {
        let (mut gt, mut gs) = (0.0, 0.0);
        for (&e, &z) in self.e.iter().zip(&self.z) {
            let c = sigma2 + tau2 * e;
            let g = -0.5 * (1.0 / c - z * z / (c * c));
            gt += g * e;
            gs += g;
        }
        (gt, gs)
    }

    /// The DE-ELBo maximised over every Gaussian q (its optimum is the full q):
    /// `F_κ(τ², σ²) = −(Nκ/2) log(2πσ²) + (N/2) log(2πσ²/κ) + log N(y | 0, (σ²/κ) I + τ² ΦΦᵀ)`
    /// (`p(y|w)^κ` is a Gaussian in y with variance σ²/κ times a constant). κ = 1: the log
    /// evidence.
    pub fn profile(&self, kappa: f64, tau2: f64, sigma2: f64) -> f64 {
        let n = self.n as f64;
        let two_pi = 2.0 * std::f64::consts::PI;
        -0.5 * n * kappa * (two_pi * sigma2).ln() + 0.5 * n * (two_pi * sigma2 / kappa).ln() + self.log_evidence(tau2, sigma2 / kappa)
    }
}
