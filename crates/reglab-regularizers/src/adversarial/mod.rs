//! Adversarial robustness: the attacks of adversarial training and robust evaluation, and the
//! regularizers against catastrophic overfitting and for the robustness/accuracy trade-off —
//! their math and spec parsers here, each a hook of `reglab-train`'s training step
//! (`reglab_train::hook::adversarial`), whose registry (`HOOK_ENTRIES`) names them.
//!
//! | name | file | what |
//! |---|---|---|
//! | `fgsm-at`, `fgsm-rs-at`, `pgd-at` | [`attack`] | train on `x + δ`, `δ` by one signed gradient step (from 0 or a random start) or `K` projected steps |
//! | `elle`, `elle-a` | [`elle`] | the loss's local-linearity error on random triplets in the ε-ball, always or when it spikes |
//! | `arow`, `trades` | [`arow`] | KL between clean and KL-adversarial predictions, weighted by `1 − q_y` with label smoothing (ARoW) or not (TRADES) |
//! | `aaer` | [`aaer`] | single-step training that penalises the output variation of the adversarial examples whose loss fell |

pub mod aaer;
pub mod arow;
pub mod attack;
pub mod elle;
