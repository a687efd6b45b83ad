//! Anchors to initialisation, to the pretrained weights (or a given checkpoint).

pub mod ewc;
pub mod l2_init;
pub mod l2_sp;
pub mod wasserstein_init;
