//! # reglab-inverse
//!
//! Linear inverse problems on images in pure Rust (`f64`, no framework). An image
//! `x ∈ ℝ^{rows×cols}` is a row-major [`Image`]; a forward model is a [`LinearOperator`]
//! `A : ℝⁿ → ℝᵐ` with its exact adjoint `Aᵀ`, and data are `y = A x + noise`. The variational
//! reconstructions solve
//!
//! `min_x ½‖Ax − y‖² + λ R(x)`  (`λ ≥ 0`)
//!
//! for Tikhonov, total variation (TV), weighted and space-variant TV and the graph-Laplacian
//! regularizer; filtered back-projection is the classical baseline for tomography, and
//! TV denoising (`A = I`) has its own solver (Chambolle's projection algorithm).
//!
//! Modules, one concept each:
//!
//! - [`image`]: the row-major [`Image`];
//! - [`operator`]: the [`LinearOperator`] trait and [`Identity`], [`Convolution`] (zero
//!   boundary), [`Gradient`] (forward differences, Neumann boundary, adjoint `−div`) and the
//!   parallel-beam [`Radon`] transform (pixel-driven, exact back-projection adjoint), with
//!   [`dot`] and a power-iteration [`norm_squared_estimate`];
//! - [`phantom`]: the modified Shepp–Logan phantom ([`shepp_logan`]), a piecewise-constant
//!   phantom ([`piecewise_constant`]) and seeded Gaussian noise ([`add_gaussian_noise`], [`Rng`]);
//! - [`tv`]: [`total_variation`], the ROF objective and dual ([`tv_objective`],
//!   [`tv_dual_value`]) and TV denoising ([`tv_denoise`], [`TvOptions`], [`TvResult`]),
//!   matching scikit-image's `denoise_tv_chambolle`, whose stopping rule [`tv_denoise_chambolle`] has;
//! - [`fbp`]: filtered back-projection ([`fbp()`](fn@fbp)) with the Ram–Lak, Shepp–Logan and Hann
//!   filters ([`Filter`]), matching scikit-image's `iradon`;
//! - [`regularizer`]: the [`Regularizer`] trait (value and prox) and [`Tikhonov`],
//!   [`GradientTikhonov`], [`TotalVariation`], [`WeightedTv`] (weighted TV, #16, and
//!   space-variant TV, #90);
//! - [`solver`]: [`fista`] and [`chambolle_pock`] for `½‖Ax − y‖² + λR(x)`;
//! - [`tikhonov`]: [`tikhonov_cg`], `½‖Ax − y‖² + λ‖Bx‖²` by conjugate gradients;
//! - [`graph_laplacian`]: graphLa+Ψ (#7): the [`GraphLaplacian`] of a preliminary reconstruction
//!   and [`graph_laplacian_l1`] / [`graph_laplacian_l2`], or the penalty with its prox
//!   ([`GraphLaplacianPenalty`]) for FISTA;
//! - [`metrics`]: [`psnr`] and [`ssim`] (as scikit-image's `structural_similarity`);
//! - [`io`]: grayscale PNG reading (8/16-bit; gray+alpha and RGB through BT.601 luma) and
//!   atomic writing ([`read_png`], [`write_png`], [`PngBits`]);
//! - [`smooth_tv`]: the smoothed TV `TV_ν` with its gradient and Hessian-vector product ([`SmoothTv`]);
//! - [`bilevel`]: learning the TV strength λ from training images by MAID (#14): [`TvBilevel`],
//!   its inexact hypergradient, and [`maid`];
//! - [`error`]: the crate's [`Error`](enum@Error).
//!
//! ```
//! use reglab_inverse::{TvOptions, add_gaussian_noise, shepp_logan, tv_denoise};
//!
//! let clean = shepp_logan(32, 32)?;
//! let y = add_gaussian_noise(&clean, 0.1, 7)?;
//! let r = tv_denoise(&y, 0.1, &TvOptions::default())?;
//! assert!(r.gap >= -1e-12 && r.objective.is_finite());
//! # Ok::<(), reglab_inverse::Error>(())
//! ```

#![warn(missing_docs)]

pub mod bilevel;
pub(crate) mod cg;
pub mod error;
pub mod fbp;
pub mod graph_laplacian;
pub mod image;
pub mod io;
pub(crate) mod lbfgs;
pub mod metrics;
pub mod operator;
pub mod phantom;
pub mod regularizer;
pub mod smooth_tv;
pub mod solver;
pub mod tikhonov;
pub mod tv;

pub use bilevel::{Hypergradient, LowerSolutions, MaidOptions, MaidResult, MaidStep, TrainingPair, TvBilevel, maid};
pub use error::{Error, Result};
pub use fbp::{Filter, fbp, filter_sinogram};
pub use graph_laplacian::{
    GraphLaplacian, GraphLaplacianPenalty, LaplacianNorm, graph_laplacian_l1, graph_laplacian_l1_with_steps, graph_laplacian_l2,
};
pub use image::Image;
pub use io::{PngBits, PngError, PngErrorKind, read_png, write_png};
pub use metrics::{psnr, ssim, ssim_map};
pub use operator::{Convolution, Gradient, Identity, LinearOperator, Radon, dot, norm_squared_estimate};
pub use phantom::{
    Ellipse, MODIFIED_SHEPP_LOGAN, Rng, add_gaussian_noise, ellipses, piecewise_constant, pixel_centre, random_ellipse_phantom, shepp_logan,
};
pub use regularizer::{
    GradientTikhonov, Regularizer, Tikhonov, TotalVariation, WeightedTv, WeightedTvResult, weighted_total_variation, weighted_tv_denoise,
};
pub use smooth_tv::{SmoothTv, SmoothTvAt};
pub use solver::{BalancedSteps, SolverOptions, SolverResult, chambolle_pock, chambolle_pock_with_steps, fista};
pub use tikhonov::tikhonov_cg;
pub use tv::{TvOptions, TvResult, total_variation, tv_denoise, tv_denoise_chambolle, tv_dual_value, tv_objective};
