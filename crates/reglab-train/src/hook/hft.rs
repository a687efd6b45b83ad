//! `hft=ρ[:redraw=never|epoch]`: half fine-tuning — in each round a random half (`ρ`, default
//! 0.5) of the parameter matrices of every category in every transformer layer is frozen and the
//! rest trains.
//!
//! ## Rule
//! Per BERT layer `l` (category-level selection, the paper's best): of the attention matrices
//! `{query, key, value, attention.output.dense}` `round(4ρ)` are frozen; of the feed-forward
//! matrices `{intermediate.dense, output.dense}` `round(2ρ)`; of the two LayerNorms
//! `round(2ρ)`. Each matrix freezes with its bias. The embeddings (and their LayerNorm) and the
//! new head always train (the paper's ablation finds that freezing them hurts). For other models
//! (MLP, CNN), every layer but the last is one category of its own kind and `round(ρ·n)` of
//! those `n` layers are frozen. Layers already frozen by `train = head | topK` are left out.
//!
//! Freezing: after the backward pass (and after the penalties' gradients are added) the frozen
//! layers' gradients are removed, so the optimizer leaves those parameters exactly as they are
//! (no update, no decoupled weight decay, no change to their Adam moments); the backward pass
//! itself is not shortened, so this reproduces what HFT trains, not its time saving. Proximal
//! steps and post-step transforms of other terms still act on frozen layers.
//!
//! Rounds: the paper draws a new half for every training stage (SFT, DPO, each task of a
//! continual sequence). One `reglab train` run is one stage: `redraw=never` (default) draws once;
//! `redraw=epoch` draws a new half before every epoch (round = epoch − 1). Draws come from
//! `(seed, round)`, so runs repeat and resume bit for bit.
//!
//! Symbols: `ρ ∈ (0, 1)` the frozen fraction per category.
//!
//! ## Paper
//! Hui, Zhang, Wang, Xu, Chen, "HFT: Half Fine-Tuning for Large Language Models", ACL 2025
//! (arXiv 2404.18466; catalog #85). No official code was found; the rule above follows the
//! paper's description of category-level selection (attention, feed-forward and norm blocks, half
//! of each per layer; embeddings and head trained), checked against secondary sources only.
//! BERT's feed-forward block has two matrices, not LLaMA's three (gate, up, down), so one of the
//! two freezes.

use super::{EpochCx, StepCx, StepHook};
use crate::error::TrainError;
use crate::model::Net;
use burn::optim::GradientsParams;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use reglab_core::Spec;

const SALT: u64 = 0x4af7_f00d;

/// Half fine-tuning bound to a model.
pub struct HalfFineTuning {
    ratio: f64,
    redraw_epoch: bool,
    seed: u64,
    /// Categories: layer indices that compete for freezing.
    groups: Vec<Vec<usize>>,
    /// Per layer: frozen in the current round.
    frozen: Vec<bool>,
}

/// The category of a layer name: `Some(key)` for a BERT encoder matrix or norm, `None` for the
/// embeddings and the head.
fn bert_category(name: &str) -> Option<String> {
    let rest = name.strip_prefix("encoder.layer.")?;
    let (l, part) = rest.split_once('.')?;
    let kind = match part {
        "attention.self.query" | "attention.self.key" | "attention.self.value" | "attention.output.dense" => "attention",
        "intermediate.dense" | "output.dense" => "ffn",
        "attention.output.LayerNorm" | "output.LayerNorm" => "norm",
        _ => return None,
    };
    Some(format!("{l}/{kind}"))
}

/// The categories of layers `names` (trainable flags beside): BERT's per layer and kind, or for
/// other models one category of every layer but the last.
pub fn categories(names: &[String], trainable: &[bool]) -> Vec<Vec<usize>> {
    let bert = names.iter().any(|n| n.starts_with("encoder.layer."));
    if bert {
        let mut keys: Vec<String> = Vec::new();
        let mut groups: Vec<Vec<usize>> = Vec::new();
        for (i, n) in names.iter().enumerate() {
            if !trainable[i] {
                continue;
            }
            if let Some(k) = bert_category(n) {
                match keys.iter().position(|x| *x == k) {
                    Some(j) => groups[j].push(i),
                    None => {
                        keys.push(k);
                        groups.push(vec![i]);
                    }
                }
            }
        }
        groups
    } else {
        let n = names.len().saturating_sub(1);
        let g: Vec<usize> = (0..n).filter(|&i| trainable[i]).collect();
        if g.is_empty() { vec![] } else { vec![g] }
    }
}

impl HalfFineTuning {
    /// From `hft=ρ[:redraw=never|epoch]` on `net`, drawing round 0 from `seed`.
    pub fn new(spec: &Spec, net: &Net, seed: u64) -> Result<Self, TrainError> {
        let err = |e: reglab_core::Error| TrainError::Config(e.to_string());
        let mut o = spec.options();
        let redraw_epoch = o.choice("redraw", &["never", "epoch"], "never").map_err(err)? == "epoch";
        o.finish().map_err(err)?;
        let ratio = spec.strength;
        if !(ratio > 0.0 && ratio < 1.0) {
            return Err(TrainError::Config(format!("`{}`: the frozen fraction must be in (0, 1), not {ratio}", spec.raw())));
        }
        let layers = net.layers();
        let names: Vec<String> = layers.iter().map(|l| l.name.clone()).collect();
        let trainable: Vec<bool> = (0..layers.len()).map(|i| net.layer_trainable(i)).collect();
        let groups = categories(&names, &trainable);
        let mut h = Self { ratio, redraw_epoch, seed, groups, frozen: vec![false; layers.len()] };
        h.draw(0);
        Ok(h)
    }

    /// Freeze `round(ρ·|g|)` layers of every category `g`, drawn from `(seed, round)`.
    pub fn draw(&mut self, round: u64) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(self.seed ^ SALT ^ round.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        self.frozen.iter_mut().for_each(|f| *f = false);
        for g in &self.groups {
            let k = (self.ratio * g.len() as f64).round() as usize;
            let mut order = g.clone();
            order.shuffle(&mut rng);
            for &i in &order[..k.min(order.len())] {
                self.frozen[i] = true;
            }
        }
    }

    /// Per layer: frozen in this round.
    pub fn frozen(&self) -> &[bool] {
        &self.frozen
    }
}

impl StepHook for HalfFineTuning {
    fn start_of_epoch(&mut self, cx: &mut EpochCx<'_>) -> Result<(), TrainError> {
        if self.redraw_epoch {
            self.draw(cx.epoch as u64 - 1);
        }
        Ok(())
    }

    fn after_backward(&mut self, cx: &mut StepCx<'_>, grads: &mut GradientsParams) -> Result<(), TrainError> {
        let layers = cx.net.layers();
        for (i, l) in layers.iter().enumerate() {
            if self.frozen[i] {
                let (w, b) = cx.net.param_ids(i);
                let _ = crate::model::remove_grad(grads, w, l.shape.len());
                if let Some(b) = b {
                    let _ = grads.remove::<1>(b);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::bert::{BertConfig, parameter_names};

    fn bert_layer_names(layers: usize) -> Vec<String> {
        let c: BertConfig = serde_json::from_str(&format!(
            r#"{{"hidden_size": 8, "num_attention_heads": 2, "num_hidden_layers": {layers}, "intermediate_size": 16, "vocab_size": 10, "max_position_embeddings": 8}}"#
        ))
        .unwrap();
        let mut names: Vec<String> =
            parameter_names(&c).into_iter().filter(|(n, _)| n.ends_with(".weight")).map(|(n, _)| n.trim_end_matches(".weight").to_string()).collect();
        names.push("classifier".into());
        names
    }

    #[test]
    fn bert_categories_freeze_half_of_each_block_per_layer_and_never_embeddings_or_head() {
        let names = bert_layer_names(3);
        let groups = categories(&names, &vec![true; names.len()]);
        assert_eq!(groups.len(), 9, "attention, ffn and norm of 3 layers");
        let mut h = HalfFineTuning { ratio: 0.5, redraw_epoch: false, seed: 1, groups, frozen: vec![false; names.len()] };
        let mut seen = Vec::new();
        for round in 0..6 {
            h.draw(round);
            for l in 0..3 {
                let count = |parts: &[&str]| {
                    parts.iter().filter(|p| h.frozen[names.iter().position(|n| *n == format!("encoder.layer.{l}.{p}")).unwrap()]).count()
                };
                assert_eq!(count(&["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"]), 2);
                assert_eq!(count(&["intermediate.dense", "output.dense"]), 1);
                assert_eq!(count(&["attention.output.LayerNorm", "output.LayerNorm"]), 1);
            }
            for (i, n) in names.iter().enumerate() {
                if n.starts_with("embeddings") || n == "classifier" {
                    assert!(!h.frozen[i], "{n}");
                }
            }
            seen.push(h.frozen.clone());
        }
        // rounds draw different halves; the same round the same half
        assert!(seen.windows(2).any(|w| w[0] != w[1]));
        h.draw(2);
        assert_eq!(h.frozen, seen[2]);
        // layers frozen by `train = …` are not candidates
        let mut trainable = vec![true; names.len()];
        for (i, n) in names.iter().enumerate() {
            trainable[i] = !n.starts_with("encoder.layer.0.");
        }
        assert_eq!(categories(&names, &trainable).len(), 6);
    }

    #[test]
    fn other_models_freeze_half_of_the_layers_but_the_last() {
        let names: Vec<String> = (0..5).map(|i| format!("layers.{i}")).collect();
        let groups = categories(&names, &[true; 5]);
        assert_eq!(groups, vec![vec![0, 1, 2, 3]]);
        let mut h = HalfFineTuning { ratio: 0.5, redraw_epoch: false, seed: 3, groups, frozen: vec![false; 5] };
        h.draw(0);
        assert_eq!(h.frozen.iter().filter(|&&f| f).count(), 2);
        assert!(!h.frozen[4]);
    }
}
