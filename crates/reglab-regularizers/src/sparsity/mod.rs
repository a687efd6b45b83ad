//! Sparsity: proximal penalties that give exact zeros.

pub mod elastic_net;
pub mod group_lasso;
pub mod l1;
