//! Grokking with corrupted labels (catalog #81; D. Doshi, A. Das, T. He, A. Gromov, "To Grok or
//! Not to Grok: Disentangling Generalization and Memorization on Corrupted Algorithmic Datasets",
//! ICLR 2024, arXiv:2310.13061; code `github.com/d-doshi/Grokking`, read at `0b4335f`).
//!
//! A network learns `(a + b) mod p` from half of the `p²` pairs while a fraction ξ of its
//! training labels are wrong. The paper's claims: without regularization the network can
//! memorise the wrong labels *and* generalise to the test pairs; weight decay and dropout make
//! it generalise and *unlearn* the wrong labels, so that the training accuracy settles at
//! `100(1 − ξ)` %; generalising neurons are periodic in the residues (high IPR of their Fourier
//! spectrum, [`ipr`]), memorising ones are not.
//!
//! # The recipe, as in the official code
//!
//! (`utils/datasets.py`, `utils/models.py`, `Training_scripts/phase_diagrams_*.py`,
//! `Notebooks/Grokking_with_label_corruption.ipynb`; read, not copied.)
//! - data ([`data`]): p = 97, inputs the concatenated one-hots of `a` and `b` (2p), half the
//!   pairs for training; ξ of the training labels replaced. The code draws the replacement
//!   uniformly over all p labels (1 in p is then right by chance); here it is drawn over the
//!   p − 1 wrong ones, so that "corrupted" means wrong and full unlearning is exactly `1 − ξ`.
//! - model ([`train::QuadraticMlp`]): `f(x) = W₂ᵀ (W₁ᵀx)²` with N = 500 hidden units, no biases,
//!   weights `N(0, σ²)` with `σ = 0.5 / (2N)^{1/3}` (0.05 at N = 500); dropout on the hidden
//!   units *before* the square.
//! - training: full batch, AdamW (lr 10⁻², β = (0.9, 0.98), ε = 10⁻⁸, decoupled weight decay),
//!   the mean squared error to one-hot targets, averaged over examples and classes; the code's
//!   phase diagrams use weight decay ∈ {0, 5, 15, 20}, dropout ∈ {0.3, 0.6, 0.9}, 2000 steps.
//! - probes (in evaluation mode): accuracy on the clean and on the corrupted training examples
//!   (against the corrupted labels: memorisation), test accuracy, and each hidden neuron's IPR,
//!   the mean of those of `W₁`'s rows for `a`, for `b` and `W₂`'s column, r = 2 ([`ipr`]).
//!
//! Seeds: the split of the pairs is fixed (`split_seed`); a run's seed draws which labels are
//! corrupted and to what, the initial weights and the dropout masks.

pub mod config;
pub mod data;
pub mod ipr;
pub mod kind;
pub mod sweep;
pub mod train;

pub use config::GrokkingExperiment;

#[cfg(test)]
mod tests;
