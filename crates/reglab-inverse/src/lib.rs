//! # reglab-inverse
//!
//! Linear inverse problems on images in pure Rust (`f64`, no framework). An image
//! `x ∈ ℝ^{rows×cols}` is a row-major [`Image`]; a forward model is a [`LinearOperator`]
//! `A : ℝⁿ → ℝᵐ` with its exact adjoint `Aᵀ`, and data are `y = A x + noise`. This first slice
//! provides the operators, test phantoms, and the total-variation denoising problem (`A = I`):
//!
//! `min_x ½‖x − y‖² + λ TV(x)`,  `TV(x) = Σ_i ‖(∇x)_i‖₂`  (isotropic TV, `λ > 0`),
//!
//! solved by Chambolle's (2004) dual projection algorithm.
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
//!   matching scikit-image's `denoise_tv_chambolle`;
//! - [`io`]: grayscale PNG reading (8/16-bit; gray+alpha and RGB through BT.601 luma) and
//!   atomic writing ([`read_png`], [`write_png`], [`PngBits`]);
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

pub mod error;
pub mod image;
pub mod io;
pub mod operator;
pub mod phantom;
pub mod regularizer;
pub mod solver;
pub mod tv;

pub use error::{Error, Result};
pub use image::Image;
pub use io::{PngBits, PngError, PngErrorKind, read_png, write_png};
pub use operator::{
    Convolution, Gradient, Identity, LinearOperator, Radon, dot, norm_squared_estimate,
};
pub use phantom::{
    Ellipse, MODIFIED_SHEPP_LOGAN, Rng, add_gaussian_noise, ellipses, piecewise_constant,
    pixel_centre, shepp_logan,
};
pub use regularizer::{
    GradientTikhonov, Regularizer, Tikhonov, TotalVariation, WeightedTv, WeightedTvResult,
    weighted_total_variation, weighted_tv_denoise,
};
pub use solver::{SolverOptions, SolverResult, chambolle_pock, fista};
pub use tv::{TvOptions, TvResult, total_variation, tv_denoise, tv_dual_value, tv_objective};
