//! Sparsity: proximal penalties that give exact zeros.
