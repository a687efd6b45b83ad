//! Stochastic model perturbations: randomness inside the forward pass or the training step
//! (dropout), described and parsed here, applied by the trainer.
//!
//! | name | file | what |
//! |---|---|---|
//! | `dropout` | [`dropout`] | zero each hidden unit with probability `p`, scale the rest by `1/(1 − p)` |
//! | `mixout` | [`mixout`] | mix each linear layer's input columns with the anchor's (the initial or a pretrained checkpoint) |
//! | `amp`, `sam`, `grad-norm` | [`sharpness`] | the step's gradient taken at adversarially perturbed weights, or a gradient-norm penalty by finite differences |

pub mod dropout;
pub mod mixout;
pub mod sharpness;

/// A parsed model perturbation, for the trainer.
#[derive(Debug, Clone, PartialEq)]
pub enum Perturbation {
    /// Dropout with drop probability `p`.
    Dropout(dropout::Dropout),
    /// Mixout toward the anchor weights.
    Mixout(mixout::Mixout),
    /// AMP, SAM or the gradient-norm penalty.
    Sharpness(sharpness::Sharpness),
}
