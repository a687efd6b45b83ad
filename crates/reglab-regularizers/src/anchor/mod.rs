//! Anchors to initialisation (or a given checkpoint).

pub mod l2_init;
pub mod wasserstein_init;
