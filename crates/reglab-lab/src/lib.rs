//! reglab-lab: data, models' experiments, probes, results.
//!
//! - [`data`]: loaders that fill [`reglab_core::Dataset`] / [`reglab_core::Split`] from real data —
//!   MNIST and Fashion-MNIST (IDX files, plain or gzip) and the scikit-learn 8×8 digits embedded
//!   in the binary — selected by a [`data::DataSource`] (`digits | mnist[:DIR] | fashion[:DIR]`).
//! - [`penalty`]: regularizers evaluated on the tensors of a safetensors file (`reglab penalty`).
//! - [`train_run`]: one training run written to a run directory (`reglab train`).
//! - [`recovery`]: binary-recovery experiments with the Cauchy–Schwarz regularizer (`reglab run`,
//!   `kind = "cs-recovery"`).
//! - [`synthetic`]: seeded synthetic data — sparse linear regression and a linear-teacher
//!   classification task (`synthetic[:OPTIONS]` as a data source).
//! - [`linear`]: the least-squares linear model with subgradient, ISTA/FISTA and coordinate-descent
//!   solvers for `f + λ r` with a library regularizer.
//! - [`label_noise`]: symmetric and class-flip label noise in a training set, from the seed.
//! - [`lasso_path`]: the ℓ1 path experiment (`reglab run`, `kind = "lasso-path"`).
//! - [`ot`]: optimal transport between two point clouds read from CSV files, with the solvers of
//!   `reglab_ot` (`reglab ot`): inputs, solving, the plan as CSV, a JSON report, a links plot.
//! - [`denoise`]: TV denoising of a grayscale PNG with `reglab_inverse` (`reglab denoise`).
//! - [`ot_sparse`]: the sparsity-constrained OT experiment (`kind = "ot-sparse"`): sparse, quadratic,
//!   entropic and exact OT between two drawn clouds.
//! - [`inverse`]: few-view CT experiments (`kind = "inverse"`): FBP, Tikhonov, TV, weighted and
//!   space-variant TV and graphLa+Ψ reconstructions over λ grids, PSNR/SSIM tables and images.
//! - [`tune`]: learned per-layer weight decay by IFT hypergradients against a λ grid
//!   (`kind = "tune"`): validation and test accuracy, compute per method.
//! - [`text`]: WordPiece tokenization (`tokenizer.json`) and the sentence embeddings of a BERT
//!   encoder folder (`reglab embed`).

pub mod collapse;
pub mod data;
pub mod denoise;
pub mod evidence;
pub mod experiment;
pub mod experiment_file;
pub mod grokking;
pub mod inverse;
pub mod kind;
pub mod kinds;
pub mod label_noise;
pub mod lasso_path;
pub mod linear;
pub mod long_tail;
pub mod ot;
pub mod ot_sparse;
pub mod penalty;
pub mod pixels;
pub mod probes;
pub mod recovery;
pub mod report;
pub mod results;
pub mod rundir;
pub mod starvation;
pub mod stats;
pub mod submit;
pub mod synthetic;
pub mod text;
pub mod train_run;
pub mod tune;

/// Why a run (`reglab train` or `reglab run`) failed: bad input, found before anything is
/// written (exit code 2), or a failure while training (exit code 1).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Bad input: data, configuration, spec, file.
    #[error("{0}")]
    Input(String),
    /// Failure while running.
    #[error("{0}")]
    Failed(String),
}
