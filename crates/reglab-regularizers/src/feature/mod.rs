//! Terms on the penultimate features `h` (`[B, d]`, the input of the last layer) of a training
//! batch, with its labels. The math lives here; the step hooks that feed them the features and
//! carry `∂R/∂h` into the backward pass (as `Σ G ⊙ h` with `G` constant) are in
//! `reglab_train::hook`.
//!
//! | name | file | `r(h)` |
//! |---|---|---|
//! | `neural-collapse` | [`neural_collapse`] | within-class compactness to learnable class means + their separation |
//! | `ridg` | [`ridg`] | `‖W ⊙ h − R̄_y‖²`, the rationale held near its class's running mean |

pub mod neural_collapse;
pub mod ridg;
