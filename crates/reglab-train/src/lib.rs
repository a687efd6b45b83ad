//! # reglab-train
//!
//! Training on burn with reglab's regularizers: models ([`model`]), the regularized step
//! ([`step`]: gradients from autodiff, analytic penalty gradients added by parameter id,
//! optimizer step, proximal steps), the loop ([`trainer`]), tensor files ([`tensorfile`]) and
//! regularization strengths learned by implicit differentiation ([`hypergrad`]).

pub mod attack;
pub mod catalog;
pub mod checkpoint;
pub mod config;
pub mod device;
pub mod error;
pub mod fisher;
pub mod hook;
pub mod hypergrad;
pub mod model;
pub mod optim;
pub mod prune;
pub mod reparam;
pub mod sharpness;
pub mod step;
pub use reglab_core::tensorfile;
#[cfg(test)]
mod test_data;
pub mod trainer;
