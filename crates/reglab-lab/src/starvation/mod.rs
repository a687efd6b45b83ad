//! Gradient starvation on a two-feature toy (catalog #75; M. Pezeshki, S.-O. Kaba, Y. Bengio,
//! A. Courville, D. Precup, G. Lajoie, "Gradient Starvation: A Learning Proclivity in Neural
//! Networks", NeurIPS 2021; code `github.com/mohammadpz/Gradient_Starvation`, read at `bc5c296`).
//!
//! The claim: trained with cross-entropy, a network learns the feature that reduces the loss
//! first and then stops learning others ("starves" them), even where using both would give a
//! larger margin; spectral decoupling, an L2 penalty on the logits (`spectral-decoupling` in the
//! catalog), lets the starved features be learned.
//!
//! # The toy, as in the official code (`Figure_*/moon_fig_*.py`; read, not copied)
//!
//! - data ([`data::starvation_toy`]): 300 two-moons points with noise 0.1, rearranged so that
//!   `x₁` separates the classes linearly with margin `Δ` (Δ = 0.1: a gap of 0.2; Δ = −0.1: an
//!   overlap) and `x₂` carries the moons' curved structure; labels ±1;
//! - network: `2 → 500 → 1`, ReLU, PyTorch's default initialisation (reglab's MLP);
//! - training: full batch, SGD with momentum 0.9, learning rate 10⁻², the mean logistic loss
//!   `log(1 + e^{−yŷ})`, 10,000 steps (the code's Figures 2–3); spectral decoupling adds
//!   `0.003·mean(ŷ²)`, which is `spectral-decoupling=0.006` (`λ/2·mean ŷ²`);
//! - what is drawn: the logit on a lattice of `[−2, 2]²`, averaged over the seeds, and its zero
//!   level.
//!
//! # What is measured here beyond the figure ([`train::ToyRun`])
//!
//! The training and test accuracy, the test accuracy with each feature permuted across the test
//! points (a network that ignores the moons' feature `x₂` drops to chance when `x₁` is
//! permuted), and the input-space margin: the smallest distance of a training point to the
//! boundary.

pub mod config;
pub mod data;
pub mod kind;
pub mod plot;
pub mod sweep;
pub mod train;

pub use config::StarvationExperiment;

#[cfg(test)]
mod tests;
