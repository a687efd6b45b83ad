//! Sparsity-constrained OT experiments (`kind = "ot-sparse"` in an experiment file, run by
//! `reglab run`): two 2-D point clouds drawn from a seed (a mixture of Gaussian blobs and a
//! noisy ring), uniform weights, the squared Euclidean cost divided by its largest entry, and
//! the plans of sparsity-constrained OT (at most k non-zeros per column, [`reglab_ot::sparse_ot_semi_dual`])
//! for several k, quadratically regularized OT ([`reglab_ot::smooth_ot_l2`]) with the same γ,
//! entropic OT ([`reglab_ot::sinkhorn_log`] with ε-scaling) and exact OT (an assignment
//! problem on replicated points, [`sweep::exact_uniform_rect`]). T. Liu, J. Puigcerver,
//! M. Blondel, "Sparsity-Constrained Optimal Transport", ICLR 2023 (catalog #89): the cost
//! moves between exact OT (small k) and quadratic OT (large k), while entropic plans are dense.
//!
//! - [`config`]: the experiment file.
//! - [`sweep`](mod@sweep): the solves in parallel (results independent of the thread count)
//!   and the run directory (`results.csv|json`, `plots/*.png|svg`, `report.html`).

pub mod config;
pub mod kind;
pub mod sweep;

pub use config::OtSparseExperiment;
pub use kind::run;
pub use sweep::{OtSparseResults, job_count, sweep};

#[cfg(test)]
mod tests;
