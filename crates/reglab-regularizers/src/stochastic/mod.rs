//! Stochastic model perturbations: randomness inside the forward pass or the training step,
//! their math and their spec parsers here; each is a hook of `reglab-train`'s training step
//! (`reglab_train::hook`), whose registry (`HOOK_ENTRIES`) names them.
//!
//! | name | file | what |
//! |---|---|---|
//! | `dropout` | [`dropout`] | zero each hidden unit with probability `p`, scale the rest by `1/(1 − p)` |
//! | `mixout` | [`mixout`] | mix each linear layer's input columns with the anchor's (the initial or a pretrained checkpoint) |
//! | `amp`, `sam`, `grad-norm` | [`sharpness`] | the step's gradient taken at adversarially perturbed weights, or a gradient-norm penalty by finite differences |
//! | `smart` | [`smart`] | symmetric-KL smoothness under an adversarial perturbation of the embeddings, plus a Bregman proximal term to a momentum teacher |

pub mod dropout;
pub mod mixout;
pub mod sharpness;
pub mod smart;
