//! # reglab-ot
//!
//! Regularized optimal transport in pure Rust (`f64`, no framework). Given histograms
//! `a ∈ ℝ^n_+` and `b ∈ ℝ^m_+` of equal mass and a cost matrix `C ∈ ℝ^{n×m}`, the problems are
//!
//! - **exact OT** (Kantorovich): `min_T ⟨C, T⟩  s.t.  T 1_m = a, Tᵀ 1_n = b, T ≥ 0`;
//! - **entropic OT**: `min_T ⟨C, T⟩ − ε H(T)` under the same constraints, with
//!   `H(T) = −Σ_ij T_ij (log T_ij − 1)` (POT's convention) and `ε > 0`;
//! - **quadratically regularized OT**: `min_T ⟨C, T⟩ + (γ/2) ‖T‖²_F` under the same constraints
//!   (POT's `ot.smooth` with `reg_type='l2'`), `γ > 0`; its plan has exact zeros;
//! - **sparsity-constrained OT** (Liu, Puigcerver & Blondel, ICLR 2023): the same, with at most
//!   `k` non-zeros in each column of `T` (POT's `reg_type='sparsity_constrained'`, `max_nz=k`);
//! - **class-based OT** (Rahbar et al., ICML 2023): `min_T ⟨C, T⟩ + λ Σ_j Σ_c ‖T_{I_c, j}‖₂` under
//!   the same constraints, with the source points partitioned into classes `I_c` by labels and
//!   `λ ≥ 0`; the sum of norms drives whole (class, target) blocks to zero.
//!
//! Modules, one concept each:
//!
//! - [`matrix`]: a dense row-major [`Matrix`] (point clouds, costs, plans);
//! - [`cost`]: squared Euclidean and Euclidean [`cost_matrix`] between point clouds;
//! - [`marginals`]: histogram checks ([`check_marginals`]), [`uniform`] weights and the rounding of
//!   an approximate plan onto the marginals ([`round_to_marginals`]);
//! - [`mod@sinkhorn`]: entropic OT by Sinkhorn–Knopp scaling ([`sinkhorn()`]), its
//!   [`SinkhornOptions`] and [`SinkhornResult`];
//! - [`mod@sinkhorn_log`]: the log-domain stabilized solver ([`sinkhorn_log()`]) with optional
//!   [`EpsScaling`];
//! - [`mod@smooth`]: quadratically regularized and sparsity-constrained OT through the smooth
//!   dual ([`smooth_ot_dual`], [`smooth_ot_l2`], [`sparse_ot`]), its [`SmoothOptions`],
//!   [`SmoothResult`] and [`Regularizer`];
//! - [`semi_dual`]: the same problems through the semi-dual ([`smooth_ot_semi_dual`],
//!   [`smooth_ot_l2_semi_dual`], [`sparse_ot_semi_dual`]): columns exact and `k`-sparse by
//!   construction, the paper's formulation for the sparsity constraint;
//! - [`class_ot`](mod@class_ot): class-based OT with the sum-of-norms regularizer by ADMM
//!   ([`class_ot()`]), its [`ClassOtOptions`], [`ClassOtResult`] and [`class_regularizer`];
//! - [`lbfgs`]: the L-BFGS minimizer with a Wolfe line search behind it ([`minimize`]);
//! - [`exact`]: small exact references for tests: the Hungarian algorithm for uniform
//!   `n × n` problems ([`exact_uniform`]) and sorted matching on the real line ([`emd_1d`]);
//! - [`error`]: the crate's [`Error`](enum@Error).
//!
//! ```
//! use reglab_ot::{Matrix, SinkhornOptions, sinkhorn, sq_euclidean, uniform};
//!
//! let x = Matrix::from_rows(&[[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])?;
//! let y = Matrix::from_rows(&[[0.1, 0.1], [0.9, 0.2]])?;
//! let c = sq_euclidean(&x, &y)?;
//! let r = sinkhorn(&uniform(3), &uniform(2), &c, 0.1, &SinkhornOptions::default())?;
//! assert!(r.converged && r.row_error < 1e-9);
//! # Ok::<(), reglab_ot::Error>(())
//! ```

#![warn(missing_docs)]

pub mod class_ot;
pub mod cost;
pub mod error;
pub mod exact;
pub mod lbfgs;
pub mod marginals;
pub mod matrix;
pub mod semi_dual;
pub mod sinkhorn;
pub mod sinkhorn_log;
pub mod smooth;
#[cfg(test)]
mod test_util;

pub use class_ot::{ClassOtOptions, ClassOtResult, class_ot, class_regularizer};
pub use cost::{Metric, cost_matrix, euclidean, sq_euclidean};
pub use error::{Error, Result};
pub use exact::{Assignment, ExactOt, emd_1d, exact_uniform, hungarian};
pub use lbfgs::{LbfgsOptions, LbfgsResult, Termination, minimize};
pub use marginals::{MASS_RTOL, check_histogram, check_marginals, round_to_marginals, uniform};
pub use matrix::Matrix;
pub use semi_dual::{plan_from_semi_dual, semi_dual_objective, smooth_ot_l2_semi_dual, smooth_ot_semi_dual, sparse_ot_semi_dual};
pub use sinkhorn::{SinkhornOptions, SinkhornResult, entropy, sinkhorn};
pub use sinkhorn_log::{EpsScaling, sinkhorn_log};
pub use smooth::{Regularizer, SmoothOptions, SmoothResult, dual_objective, plan_from_dual, smooth_ot_dual, smooth_ot_l2, sparse_ot};
