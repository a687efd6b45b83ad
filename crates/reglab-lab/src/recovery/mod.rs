//! Recovery experiments (`kind = "cs-recovery"` in an experiment file, run by `reglab run`):
//! recover a binary `x ∈ {±1}^N` from `b = A x`, A Gaussian `M × N`, over a grid of M/N, with
//! the binary Cauchy–Schwarz regularizer against convex relaxations (Taner & Studer,
//! "Cauchy–Schwarz Regularizers", ICLR 2025, Fig. 1; official script
//! `IIP-Group/CS_regularizers/solution_recovery/binary_recovery.m`).
//!
//! - [`problem`]: the trial (`A` with N(0, 1) entries, fair signs, `b = A x`), the projection onto
//!   `{A v = b}`, ℓ_bin, and the seeding (each trial from `(seed, ratio index, trial index)`).
//! - [`solve`]: the methods `cs` (penalized `‖Ax − b‖² + λ ℓ_bin`), `cs-affine` (the official
//!   `min ℓ_bin s.t. Ax = b`), `box` and `linf`, with FASTA-style accelerated (projected)
//!   gradient descent and Douglas–Rachford.
//! - [`config`]: the experiment file.
//! - [`sweep`](mod@sweep): the trials in parallel (results independent of the thread count), success rates,
//!   50 % crossings, and the run directory (`results.csv|json`, plots, `report.html`).

pub mod config;
pub mod kind;
pub mod plot;
pub mod problem;
pub mod solve;
pub mod sweep;

pub use config::RecoveryExperiment;
pub use kind::run;
pub use sweep::{Crossing, RecoveryResults, sweep};

#[cfg(test)]
mod tests;
