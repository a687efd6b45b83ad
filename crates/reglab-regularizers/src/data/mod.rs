//! Data perturbations: transforms of each training mini-batch (see [`reglab_core::batch`]).
//!
//! | name | file | what |
//! |---|---|---|
//! | `cutout` | [`cutout`] | zero an `L×L` square at a uniform centre of each image (may cross the border) |
//! | `mixup` | [`mixup`] | `x ← λx + (1 − λ)x_π`, loss `λ·CE(y) + (1 − λ)·CE(y_π)`, `λ ~ Beta(α, α)` |
//! | `input-noise` | [`input_noise`] | `x ← x + σ·ε`, `ε ~ N(0, I)` |

pub mod cutout;
pub mod input_noise;
pub mod mixup;
