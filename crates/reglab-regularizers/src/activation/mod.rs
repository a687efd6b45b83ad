//! Activation functions that regularize: they replace the hidden layers' ReLU of an MLP
//! (`--model mlp:H,act=NAME`). The math (forward and vector–Jacobian product on plain rows)
//! lives here with its tests; `reglab_train::model` computes the same function with burn tensor
//! ops inside the autodiff graph and is tested against this file.
//!
//! | name | file | `y = f(x)` per example, over the hidden units |
//! |---|---|---|
//! | `soft-ash` | [`ash`] | `x·sigmoid(α(x − θ))`, `θ = μ(x) + z·σ(x)` |
//! | `hard-ash` | [`ash`] | `clip(x, 0, 2)·hard_sigmoid(α(x − θ))` |

pub mod ash;

use crate::registry::CatalogEntry;

/// The activations, for the catalog (`reglab list`); given as `--model mlp:H,act=NAME[,z=…,alpha=…]`
/// and parsed by `reglab_train::model::ModelSpec`, so the entries carry no builder.
pub const CATALOG: &[CatalogEntry<()>] = &[
    CatalogEntry {
        name: "soft-ash",
        family: "continual learning (activation shaping)",
        formula: "y = x·sigmoid(α(x − θ)), θ = μ + z·σ over the example's hidden units (population σ); replaces ReLU",
        paper: "Lee, Yang, Lee, Hwang, Stochastic Adaptive Activation Function (ASH), NeurIPS 2022; in continual learning: Keskinen, Hard ASH, 2024",
        options: "z=2.3, alpha=3",
        build: (),
    },
    CatalogEntry {
        name: "hard-ash",
        family: "continual learning (activation shaping)",
        formula: "y = clip(x, 0, 2)·hard_sigmoid(α(x − θ)), hard_sigmoid(u) = relu6(u + 3)/6, θ = μ + z·σ; replaces ReLU",
        paper: "Keskinen, Hard ASH: Sparsity and the right optimizer make a continual learner, 2024 (code: LesserScholar/hard-ash)",
        options: "z=2.3, alpha=3",
        build: (),
    },
];
