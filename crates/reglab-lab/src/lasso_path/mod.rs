//! Lasso-path experiments (`kind = "lasso-path"` in an experiment file, run by `reglab run`):
//! one synthetic sparse regression problem ([`crate::synthetic`]), the lasso
//! `min_w ‖Xw − y‖²/(2n) + λ‖w‖₁` solved over a grid of λ by subgradient descent (constant,
//! `1/√t` or Adam steps) and by the proximal methods ISTA and FISTA, all through the library's
//! `l1` regularizer ([`crate::linear`]), against an `f64` coordinate-descent reference. It
//! measures ‖w‖₁ and the number of exact zeros against λ: S. K. Kumar, "GD doesn't make the cut:
//! Three ways that non-differentiability affects neural network training", arXiv 2401.08426
//! (catalog #97), claims that subgradient ("NGDM") solutions have no exact zeros and a ‖w‖₁ that
//! can grow with λ.
//!
//! - [`config`]: the experiment file.
//! - [`sweep`](mod@sweep): the jobs in parallel (results independent of the thread count) and
//!   the run directory (`results.csv|json`, `plots/l1_norm|zeros.png|svg`, `report.html`).

pub mod config;
pub mod kind;
pub mod sweep;

pub use config::LassoPathExperiment;
pub use kind::run;
pub use sweep::{LassoPathResults, job_count, sweep};

#[cfg(test)]
mod tests;
