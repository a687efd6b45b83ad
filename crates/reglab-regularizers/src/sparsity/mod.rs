//! Sparsity: proximal penalties that give exact zeros, and penalties that push the weights
//! outside a ranked top fraction toward zero before magnitude pruning (`hypersparse`,
//! `selective-decay`).

pub mod elastic_net;
pub mod group_lasso;
pub mod hypersparse;
pub mod l1;
pub mod magnitude_mask;
pub mod selective_decay;
