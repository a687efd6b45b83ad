//! Model collapse in regression (catalog #18; E. Dohmatob, Y. Feng, J. Kempe, "Model Collapse
//! Demystified: The Case of Regression", NeurIPS 2024, arXiv:2402.07712): linear models trained
//! recursively on labels produced by the previous generation's model.
//!
//! # The process ([`simulate`])
//!
//! ```text
//! w₀ ~ N(0, I_d / d)                                   the true weights (one draw per seed)
//! ŵ^(0) = w₀
//! ŵ^(k) = fit(X_k, X_k ŵ^(k−1) + σ₀ ε_k),  k = 1..n    generator k: T₀ fresh inputs, fresh noise
//! ŵ_n   = fit(X,   X ŵ^(n) + σ ε)                      the downstream model: T fresh inputs
//! E_n   = ‖ŵ_n − w₀‖²                                  its excess risk (isotropic inputs: Σ = I)
//! ```
//! - `X_k` (T₀ × d), `X` (T × d): rows i.i.d. `N(0, I_d)`; `ε_k`, `ε` i.i.d. `N(0, 1)`;
//! - `fit` ([`Fit`]): ordinary least squares `(XᵀX)⁻¹Xᵀy` (needs T ≥ d), or ridge
//!   `argmin_w ‖y − Xw‖²/T + λ‖w‖² = (XᵀX + λT I)⁻¹Xᵀy`, for the generators and the downstream
//!   model separately;
//! - `n = 0` is the clean baseline (the downstream model fitted on labels of `w₀` itself).
//!
//! # The closed form checked here ([`ols_expected_excess`])
//!
//! With OLS everywhere and Gaussian inputs, `E[(XᵀX)⁻¹] = I/(T − d − 1)` (inverse Wishart,
//! T ≥ d + 2), each fit adds independent noise of covariance `σ²(XᵀX)⁻¹`, and the errors of the
//! generations add up:
//!
//! ```text
//! E[E_n] = σ² d / (T − d − 1) + n · σ₀² d / (T₀ − d − 1)
//! ```
//! linear in the number of generations, with slope `σ₀² d/(T₀ − d − 1)` (equal to the intercept
//! when `T₀ = T`, `σ₀ = σ`). The paper's body could not be read here: this formula was derived
//! and checked by simulation (`collapse::tests`); it is the catalog's formula and the paper's
//! abstract's claim (the error grows linearly in the number of generations).
//!
//! # Ridge and the λ adapted per generation ([`Downstream`])
//!
//! With OLS generators the downstream model sees labels of `ŵ^(n) = w₀ + e_n`, `E e_n = 0`,
//! `E‖e_n‖² = τ_n² = n σ₀²d/(T₀ − d − 1)` ([`ols_generator_drift`]). No fit on those labels can
//! remove `e_n`; ridge can shrink it. In the eigenbasis of `XᵀX` (eigenvalues `μ_i`), with
//! `c = λT`, `r² = ‖w₀‖²` and `e_n` isotropic, the downstream ridge's expected error is
//!
//! ```text
//! Σ_i [ (r²/d) c² + (τ_n²/d) μ_i² + σ² μ_i ] / (μ_i + c)²,   minimised at c_i = (τ_n² μ_i + σ² d) / r²
//! ```
//!
//! and with `μ_i ≈ T` (`T ≫ d`) and `E r² = 1` one λ for all directions:
//! **`λ_n = σ²d/T + n σ₀²d/(T₀ − d − 1)`** ([`adaptive_lambda`]): the clean optimum `λ₀ = σ²d/T`
//! ([`clean_lambda`], the Bayes posterior mean under `w₀ ~ N(0, I/d)`) plus the accumulated
//! generator error. Its error tends to `r²τ_n²/(r² + τ_n²) < r²` as `n` grows — bounded by
//! the zero predictor's instead of growing without bound. This rule is derived here for the
//! isotropic case; the paper's adaptive rule (λ as a power of T chosen with the number of
//! generations, for power-law spectra) could not be read and is not implemented.
//! [`Downstream::Best`] picks, per generation, the λ of a grid closest to `w₀`: it uses the true
//! weights, so it bounds what any ridge rule can do and checks that the adapted λ is near it.

pub mod config;
pub mod kind;
mod sim;
pub mod sweep;
#[cfg(test)]
mod tests;

pub use config::CollapseExperiment;
pub use sim::{
    Downstream, Fit, RuleTrace, Setting, Trace, adaptive_lambda, clean_lambda, ols_expected_excess, ols_generator_drift, simulate, simulate_rules,
};
