//! Learning τ² (and σ², when asked) on the training data: coordinate ascent on the DE-ELBo / ELBo
//! ([`fit_elbo`]) and MacKay's fixed point for type-II maximum likelihood ([`fit_type2_ml`]).
//!
//! **Coordinate ascent** (both q families of [`QFamily`]), one iteration:
//! 1. q-step: the exact maximiser of `L_κ` over q for the current (τ², σ²) — full:
//!    `S = (κΦᵀΦ/σ² + I/τ²)⁻¹`, `μ = SκΦᵀy/σ²`; isotropic: the same μ and
//!    `s² = D / (κ tr(ΦᵀΦ)/σ² + D/τ²)` ([`super::spectral`]);
//! 2. τ²-step: `τ² = (‖μ‖² + tr S) / D`, the zero of `∂L/∂τ²` (the paper's closed form,
//!    official `src/priors.py` line 81);
//! 3. σ²-step (only when learned): `σ² = (‖y − Φμ‖² + tr(ΦᵀΦ S)) / N`, the zero of `∂L/∂σ²`.
//!
//! Every step maximises `L_κ` exactly over its block, so the bound never decreases (tested) and
//! a fixed point is a stationary point of the bound in (q, τ², σ²). With the full q and κ = 1
//! this is the EM algorithm for type-II ML. Stops when τ² and σ² change by less than `tol`
//! relatively (`|log(new/old)|`).
//!
//! **Type-II ML** (MacKay 1992, "Bayesian interpolation"): with `α = 1/τ²`, `β = 1/σ²`, the
//! posterior mean μ and `γ = Σ_i β e_i / (β e_i + α)` (the effective number of parameters,
//! `e_i` the eigenvalues of ΦᵀΦ): `τ² ← ‖μ‖² / γ`, `σ² ← ‖y − Φμ‖² / (N − γ)` (when learned);
//! its fixed points are the stationary points of the log evidence. A different algorithm from
//! the EM above, so their agreement at κ = 1 is a check.
//!
//! **DE-ELBo with learned σ² and full q is unbounded when `ΦΦᵀ` is invertible (D ≥ N):** at its
//! q-optimum the bound is `F_κ(τ², σ²)` of [`super::spectral::Spectrum::profile`], whose
//! `−(N(κ−1)/2) log σ²` term grows without limit as σ² → 0 while the evidence term stays
//! bounded; σ² is therefore floored at [`NOISE_FLOOR_REL`] `· ‖y‖²/N` and [`Fit::noise_at_floor`]
//! says when the floor was hit.

use super::bound::{Bound, QStats};
use super::problem::{check_kappa, check_variance};
use super::spectral::Spectrum;
use serde::{Deserialize, Serialize};

/// Smallest learned σ², relative to `‖y‖²/N`.
pub const NOISE_FLOOR_REL: f64 = 1e-10;
/// Smallest learned τ², relative to `‖y‖² / tr(ΦᵀΦ)` (a prior signal variance `τ² tr(ΦᵀΦ)/N`
/// of 10⁻¹² of the targets' mean square): the evidence can peak at τ² = 0 (no signal the
/// features can explain), a boundary optimum, flagged by [`Fit::tau2_at_floor`].
pub const TAU2_FLOOR_REL: f64 = 1e-12;

/// The variational family of q.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum QFamily {
    /// `N(μ, S)` with any covariance S.
    Full,
    /// `N(μ, s² I)` (the paper's "iso" q).
    Isotropic,
}

/// How to learn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitOptions {
    /// κ > 0 (ignored by type-II ML).
    pub kappa: f64,
    /// q's family (ignored by type-II ML).
    pub q: QFamily,
    /// Learn σ² too (else σ² stays at `sigma2`).
    pub learn_noise: bool,
    /// Initial τ² > 0.
    pub tau2_init: f64,
    /// σ² > 0: the known noise variance, or the initial one.
    pub sigma2: f64,
    /// Most iterations (≥ 1).
    pub max_iter: usize,
    /// Relative change of τ² and σ² below which it stops (≥ 0).
    pub tol: f64,
}

/// One iteration's hyperparameters and objective (the bound, or the log evidence for type-II ML).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// τ² after the iteration.
    pub tau2: f64,
    /// σ² after the iteration.
    pub sigma2: f64,
    /// The objective after the iteration.
    pub objective: f64,
}

/// What a fit learned.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    /// The learned prior variance τ².
    pub tau2: f64,
    /// σ² (learned, or the known one).
    pub sigma2: f64,
    /// The isotropic q's variance s² at the end (isotropic fits only).
    pub s2: Option<f64>,
    /// The objective at the end: the bound at the optimal q for the final (τ², σ²), or the log
    /// evidence.
    pub objective: f64,
    /// Every iteration's values (the first entry is the start).
    pub trajectory: Vec<Step>,
    /// Iterations done.
    pub iterations: usize,
    /// Whether the stopping rule was met within `max_iter`.
    pub converged: bool,
    /// Whether σ² sits at the floor [`NOISE_FLOOR_REL`] (a degenerate optimum).
    pub noise_at_floor: bool,
    /// Whether τ² sits at the floor [`TAU2_FLOOR_REL`] (the optimum is τ² = 0).
    pub tau2_at_floor: bool,
}

fn check(o: &FitOptions) -> Result<(), String> {
    check_kappa(o.kappa)?;
    check_variance("the initial τ²", o.tau2_init)?;
    check_variance("σ²", o.sigma2)?;
    if o.max_iter == 0 {
        return Err("max_iter must be ≥ 1".into());
    }
    if !(o.tol >= 0.0 && o.tol.is_finite()) {
        return Err(format!("tol must be finite and ≥ 0, got {}", o.tol));
    }
    Ok(())
}

/// `τ² = (‖μ‖² + tr S)/D`: the maximiser of `L_κ` over τ² for a fixed q (`D ≥ 1`).
pub fn update_tau2(q: &QStats, d: usize) -> f64 {
    (q.mu_sq + q.tr_s) / d as f64
}

/// `σ² = (‖y − Φμ‖² + tr(ΦᵀΦ S))/N`: the maximiser of `L_κ` over σ² for a fixed q.
pub fn update_sigma2(q: &QStats, n: usize) -> f64 {
    (q.res + q.tr_ps) / n as f64
}

/// The optimal q of `family` for `(τ², σ²)` at κ, as statistics (and `s²` when isotropic).
pub fn q_step(spec: &Spectrum, family: QFamily, kappa: f64, tau2: f64, sigma2: f64) -> (QStats, Option<f64>) {
    let (a, alpha) = (kappa / sigma2, 1.0 / tau2);
    match family {
        QFamily::Full => (spec.full_q(a, alpha), None),
        QFamily::Isotropic => {
            let s2 = spec.iso_s2(a, alpha);
            (spec.iso_q(a, alpha, s2), Some(s2))
        }
    }
}

fn noise_floor(spec: &Spectrum) -> f64 {
    (NOISE_FLOOR_REL * spec.yy / spec.n as f64).max(f64::MIN_POSITIVE)
}

fn tau2_floor(spec: &Spectrum) -> f64 {
    (TAU2_FLOOR_REL * spec.yy / spec.trace().max(f64::MIN_POSITIVE)).max(f64::MIN_POSITIVE)
}

fn finite_positive(tau2: f64, sigma2: f64, it: usize) -> Result<(), String> {
    if !(tau2.is_finite() && tau2 > 0.0) {
        return Err(format!("τ² left (0, ∞) at iteration {it} (τ² = {tau2})"));
    }
    if !(sigma2.is_finite() && sigma2 > 0.0) {
        return Err(format!("σ² left (0, ∞) at iteration {it} (σ² = {sigma2})"));
    }
    Ok(())
}

/// Coordinate ascent on `L_κ` (see the module doc). Errors on bad options or when τ² or σ²
/// leave (0, ∞).
pub fn fit_elbo(spec: &Spectrum, o: &FitOptions) -> Result<Fit, String> {
    check(o)?;
    let bound = Bound { n: spec.n, d: spec.d, kappa: o.kappa };
    let (mut tau2, mut sigma2) = (o.tau2_init, o.sigma2);
    let floor = noise_floor(spec);
    let start = q_step(spec, o.q, o.kappa, tau2, sigma2).0;
    let mut trajectory = vec![Step { tau2, sigma2, objective: bound.value(&start, tau2, sigma2) }];
    let (mut converged, mut iterations) = (false, 0);
    for it in 1..=o.max_iter {
        let (q, _) = q_step(spec, o.q, o.kappa, tau2, sigma2);
        let new_tau2 = update_tau2(&q, spec.d).max(tau2_floor(spec));
        let new_sigma2 = if o.learn_noise { update_sigma2(&q, spec.n).max(floor) } else { sigma2 };
        finite_positive(new_tau2, new_sigma2, it)?;
        trajectory.push(Step { tau2: new_tau2, sigma2: new_sigma2, objective: bound.value(&q, new_tau2, new_sigma2) });
        let change = (new_tau2 / tau2).ln().abs().max((new_sigma2 / sigma2).ln().abs());
        (tau2, sigma2, iterations) = (new_tau2, new_sigma2, it);
        if change <= o.tol {
            converged = true;
            break;
        }
    }
    let (q, s2) = q_step(spec, o.q, o.kappa, tau2, sigma2);
    Ok(Fit {
        tau2,
        sigma2,
        s2,
        objective: bound.value(&q, tau2, sigma2),
        trajectory,
        iterations,
        converged,
        noise_at_floor: o.learn_noise && sigma2 <= floor,
        tau2_at_floor: tau2 <= tau2_floor(spec),
    })
}

/// MacKay's fixed point for the maximum of the log evidence (see the module doc; `kappa` and
/// `q` of the options are not used).
pub fn fit_type2_ml(spec: &Spectrum, o: &FitOptions) -> Result<Fit, String> {
    check(o)?;
    let (mut tau2, mut sigma2) = (o.tau2_init, o.sigma2);
    let floor = noise_floor(spec);
    let mut trajectory = vec![Step { tau2, sigma2, objective: spec.log_evidence(tau2, sigma2) }];
    let (mut converged, mut iterations) = (false, 0);
    for it in 1..=o.max_iter {
        let (beta, alpha) = (1.0 / sigma2, 1.0 / tau2);
        let gamma: f64 = spec.e.iter().take(spec.rank).map(|&e| beta * e / (beta * e + alpha)).sum();
        let q = spec.full_q(beta, alpha);
        let new_tau2 = (q.mu_sq / gamma).max(tau2_floor(spec));
        let new_sigma2 = if o.learn_noise { (q.res / (spec.n as f64 - gamma)).max(floor) } else { sigma2 };
        finite_positive(new_tau2, new_sigma2, it)?;
        trajectory.push(Step { tau2: new_tau2, sigma2: new_sigma2, objective: spec.log_evidence(new_tau2, new_sigma2) });
        let change = (new_tau2 / tau2).ln().abs().max((new_sigma2 / sigma2).ln().abs());
        (tau2, sigma2, iterations) = (new_tau2, new_sigma2, it);
        if change <= o.tol {
            converged = true;
            break;
        }
    }
    Ok(Fit {
        tau2,
        sigma2,
        s2: None,
        objective: spec.log_evidence(tau2, sigma2),
        trajectory,
        iterations,
        converged,
        noise_at_floor: o.learn_noise && sigma2 <= floor,
        tau2_at_floor: tau2 <= tau2_floor(spec),
    })
}
