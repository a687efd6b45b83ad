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
//! and checked by simulation (`collapse::tests`), and agrees with its low-dimensional result as
//! recalled; its ridge and adaptive-λ formulas are not implemented yet.

mod sim;
#[cfg(test)]
mod tests;

pub use sim::{Fit, Setting, Trace, ols_expected_excess, simulate};
