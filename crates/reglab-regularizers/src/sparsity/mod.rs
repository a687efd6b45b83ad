//! Sparsity: proximal penalties that give exact zeros.

pub mod l1;
