//! # reglab-regularizers
//!
//! The catalog: one file per regularizer, grouped by family, each with its formula, symbols,
//! shapes and paper in its documentation, and its tests beside it. Find a regularizer by its
//! command-line name in [`registry::ENTRIES`] (or `reglab list`, which joins these registries
//! with the reparameterizations and pruning methods of `reglab-train`); add one by copying a file
//! (e.g. `weight/l2.rs`), its tests, and one line in the registry. The table below is checked
//! against the registries by a test (`reglab_train::catalog`).
//!
//! | family | module | names |
//! |---|---|---|
//! | weight size | [`weight`] | `l2` |
//! | sparsity | [`sparsity`] | `l1`, `elastic-net`, `group-lasso`, `hypersparse`, `selective-decay` |
//! | anchor to init | [`anchor`] | `l2-init`, `l2-sp`, `wasserstein-init` |
//! | spectral | [`spectral`] | `spectral` |
//! | orthogonality | [`orthogonality`] | `soft-orth`, `lambda-orth`, `mhe`, `ortho-offdiag`, `group-orth`, `conv-orth` |
//! | perturbation | [`perturbation`] | `shrink-perturb` |
//! | cauchy-schwarz | [`cauchy_schwarz`] | `cs-binary`, `cs-binary-pos`, `cs-ternary`, `cs-orth`, `cs-eig` |
//! | output (on the logits) | [`output`] | `label-smoothing`, `confidence-penalty`, `spectral-decoupling`, `elr`, `feasible` |
//! | data (on each training batch) | [`data`] | `cutout`, `mixup`, `input-noise` |
//! | stochastic (in the forward pass or the step) | [`stochastic`] | `dropout`, `mixout`, `amp`, `sam`, `grad-norm`, `smart` |
//! | adversarial (attacks and the terms of adversarial training; step hooks of `reglab_train::hook`) | [`adversarial`] | `fgsm-at`, `fgsm-rs-at`, `pgd-at`, `elle`, `elle-a`, `arow`, `trades`, `aaer` |
//! | on the features (a step hook of `reglab_train::hook::distill`, no module here) | — | `feature-distill` |
//! | on the features, with the labels (the math here; the step hooks in `reglab_train::hook::neural_collapse`, `reglab_train::hook::ridg`) | [`feature`] | `neural-collapse`, `ridg` |
//! | freezing half the matrices per round (a step hook of `reglab_train::hook::hft`, no module here) | — | `hft` |
//! | activations replacing the hidden ReLU (the math here; the burn version in `reglab_train::model`, `--model mlp:H,act=NAME`) | [`activation`] | `soft-ash`, `hard-ash` |
//! | Fisher-weighted anchor (the math here; the Fisher and the hook in `reglab_train::fisher`, `reglab_train::hook::ewc`) | [`anchor::ewc`] | `ewc` |

pub mod activation;
pub mod adversarial;
pub mod anchor;
pub mod cauchy_schwarz;
pub mod data;
pub mod feature;
pub mod orthogonality;
pub mod output;
pub mod penalty;
pub mod perturbation;
pub mod registry;
pub mod sparsity;
pub mod spectral;
pub mod stochastic;
pub mod weight;

pub use registry::{
    BATCH_ENTRIES, BatchEntry, ENTRIES, Entry, OUTPUT_ENTRIES, OutputEntry, build, build_batch_terms, build_output_set, build_set, check, is_batch,
    is_output,
};
