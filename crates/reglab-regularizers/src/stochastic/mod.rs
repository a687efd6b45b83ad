//! Stochastic model perturbations: randomness inside the forward pass or the training step
//! (dropout), described and parsed here, applied by the trainer.
//!
//! | name | file | what |
//! |---|---|---|
//! | `dropout` | [`dropout`] | zero each hidden unit with probability `p`, scale the rest by `1/(1 − p)` |

pub mod dropout;

/// A parsed model perturbation, for the trainer.
#[derive(Debug, Clone, PartialEq)]
pub enum Perturbation {
    /// Dropout with drop probability `p`.
    Dropout(dropout::Dropout),
}
