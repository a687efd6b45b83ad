//! Penalties on the size of the weights.

pub mod l2;
