//! Inverse-problem experiments (`kind = "inverse"` in an experiment file, run by `reglab run`):
//! few-view parallel-beam CT of a phantom, reconstructed by filtered back-projection and by
//! variational methods `min_x ½‖Ax − y‖² + λR(x)` of [`reglab_inverse`] — Tikhonov (`‖∇x‖²` or
//! `‖x‖²`, conjugate gradients), TV, weighted TV (catalog #16), space-variant TV (#90) and the
//! graph-Laplacian regularizer graphLa+Ψ (#7), where Ψ is an earlier method's reconstruction —
//! each over a λ grid, λ chosen by the best PSNR against the phantom (an oracle rule: the
//! comparison is between the best each method can do; methods built on an estimate are a
//! two-stage oracle) and, with `[calibration]`, also by the best PSNR on an independent
//! calibration problem (a rule that never sees the test phantom). PSNR and SSIM tables,
//! PSNR-against-λ plots, the images of the best reconstructions.
//!
//! - [`config`]: the experiment file.
//! - [`learned`]: the learned λ rule of `[learned]` (MAID, #14, from random ellipse phantoms).
//! - [`sweep`](mod@sweep): the reconstructions in parallel (results independent of the thread
//!   count) and the run directory (`results.csv|json`, `plots/*.png|svg`, `images/`,
//!   `report.html`).

pub mod config;
pub mod kind;
pub mod learned;
pub mod sweep;

pub use config::InverseExperiment;
pub use kind::run;
pub use sweep::{InverseResults, job_count, sweep};
