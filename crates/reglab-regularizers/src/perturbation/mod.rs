//! Perturbations of the weights after the optimizer step.

pub mod shrink_perturb;
