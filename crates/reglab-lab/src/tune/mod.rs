//! Learning the weight decay instead of grid-searching it (`kind = "tune"` in an experiment
//! file, run by `reglab run`): per-layer weight decay learned by IFT hypergradients (catalog
//! #24; Lorraine, Vicol & Duvenaud 2020, "Optimizing Millions of Hyperparameters by Implicit
//! Differentiation", AISTATS, Algorithm 1) against a grid of uniform weight decays, on the same
//! split, model, optimizer, batch and number of steps.
//!
//! # What is compared
//!
//! - **grid**: one run per `λ` of `grid.lambdas` and seed, minimizing
//!   `CE_T(w) + Σ_l (λ/2)‖W_l‖²` (reglab's `l2=λ`: every layer weight, biases undecayed) for
//!   `train.steps` steps; per seed the point of the highest validation accuracy is chosen
//!   (ties: the lower validation loss). Its compute is that of *every* point.
//! - **tuned**: one run per seed of [`reglab_train::hypergrad::tune`]: `T` training steps on
//!   `CE_T(w) + Σ_l (λ_l/2)‖W_l‖²`, then a hyper-step on `θ_l = ln λ_l` along
//!   `dL_V/dθ_l = −λ_l ⟨(H⁻¹∇_w L_V)_l, W_l⟩` (`L_V` the validation cross-entropy, `H⁻¹` by
//!   `K` Neumann terms), `steps / T` times. The validation set is thus used both to learn `λ`
//!   and (by the grid) to choose `λ`; the test set is only reported.
//!
//! # Compute
//!
//! In gradient evaluations (a training step: 1; a hypergradient: `1 + 2K`) and in examples
//! through a forward and backward pass (a step: its batch; a hypergradient: the validation
//! sample once and the Hessian sample `2K` times). The full-validation evaluations of both
//! methods are forward passes and not counted. Wall time per cell is in the run's
//! `timing.json` and `compute_seconds.csv` (not in `results.json`, which is the same for the
//! same file bit for bit).
//!
//! - [`config`]: the file; [`sweep`](mod@sweep): the cells and the outputs; [`kind`]: the kind.

pub mod config;
pub mod kind;
pub mod sweep;

pub use config::TuneExperiment;

#[cfg(test)]
mod tests;
