//! `--prune magnitude:sparsity=S[:scope=global|layer][:at=E | :schedule=gradual:start=E0:end=E1]`:
//! keep the largest `|w|`.
//!
//! ## Formula
//! ```text
//! one-shot, end of epoch E:        M = 1[w ∉ the round(S·n) smallest |w|]
//! gradual, end of epoch E0 < t ≤ E1: s_t = S·(1 − (1 − (t − E0)/(E1 − E0))³),
//!                                   M_t = 1[w ∉ the round(s_t·n) smallest |w|]
//! ```
//! Symbols: `w` every entry of the pruned layer weights (all layers, or all but the last with
//! `skip_last=true`; a convolution `[out, in, kh, kw]` is just its entries), `n` their number,
//! `S` the final sparsity, `t` the 1-based epoch. `scope=global` ranks all `n` entries together;
//! `scope=layer` gives layer `l` its share `s_t·n_l` of the zeros (rounded so that the total is
//! `round(s_t·n)`, see [`super::apportion`]) and ranks inside the layer. Ties in `|w|`: entries
//! already pruned first (they are 0, so a gradual mask only grows), then the earlier layer, then the
//! earlier entry in PyTorch order. After pruning, training continues with the mask (fine-tuning).
//!
//! The cubic schedule is Zhu & Gupta's with initial sparsity 0, one pruning step per epoch
//! (`Δt` = 1 epoch, `n·Δt = E1 − E0`): 0 at the end of epoch `E0`, `S` at the end of `E1`,
//! pruning fast early and slowly near the end.
//!
//! ## Papers
//! Han, Pool, Tran, Dally, "Learning both Weights and Connections for Efficient Neural Networks",
//! NeurIPS 2015 (magnitude pruning, then retraining). Zhu, Gupta, "To prune, or not to prune:
//! exploring the efficacy of pruning for model compression", arXiv 1710.01878, 2017 (the cubic
//! schedule, their Eq. 1).

use super::{Scope, apportion, zeros_for};

/// Zhu & Gupta's sparsity at the end of epoch `t`: `S·(1 − (1 − (t − E0)/(E1 − E0))³)`, clamped
/// to `[0, S]` outside `[E0, E1]`.
pub fn cubic_sparsity(final_sparsity: f64, start: usize, end: usize, t: usize) -> f64 {
    if end <= start {
        return final_sparsity;
    }
    let x = ((t as f64 - start as f64) / (end - start) as f64).clamp(0.0, 1.0);
    final_sparsity * (1.0 - (1.0 - x).powi(3))
}

/// The ranking key of one entry: `|w|` (its f32 bits: monotone for non-negative floats, NaN
/// last), then 0 for an entry already pruned, then the layer, then the entry's index.
#[inline]
fn key(w: f32, pruned_before: bool, layer: usize, index: usize) -> u128 {
    ((w.abs().to_bits() as u128) << 96) | ((!pruned_before as u128) << 95) | ((layer as u128) << 48) | index as u128
}

/// Masks (1 keep, 0 pruned) of the layer weights `weights` (any layout, as long as `prev` and
/// the result share it; ties follow the index order) with `round(sparsity·n)` zeros in total.
/// `prev` are the current masks, if any (their zeros go first among equal `|w|`).
pub fn magnitude_masks(weights: &[&[f32]], prev: &[Option<&[f32]>], sparsity: f64, scope: Scope) -> Vec<Vec<f32>> {
    let n: usize = weights.iter().map(|w| w.len()).sum();
    let total = zeros_for(sparsity, n);
    let keys = |l: usize| -> Vec<u128> {
        let p = prev.get(l).copied().flatten();
        weights[l].iter().enumerate().map(|(j, &w)| key(w, p.is_some_and(|p| p[j] == 0.0), l, j)).collect()
    };
    let mut out: Vec<Vec<f32>> = weights.iter().map(|w| vec![1.0f32; w.len()]).collect();
    // zero the `k` smallest keys of `v` (keys are unique, so the set is well defined)
    let prune = |v: &mut Vec<u128>, k: usize, out: &mut Vec<Vec<f32>>| {
        if k == 0 {
            return;
        }
        if k < v.len() {
            v.select_nth_unstable(k - 1);
        }
        for &x in &v[..k.min(v.len())] {
            let (l, j) = (((x >> 48) & 0x7fff_ffff_ffff) as usize, (x & 0xffff_ffff_ffff) as usize);
            out[l][j] = 0.0;
        }
    };
    match scope {
        Scope::Global => {
            let mut all: Vec<u128> = (0..weights.len()).flat_map(keys).collect();
            prune(&mut all, total, &mut out);
        }
        Scope::Layer => {
            let caps: Vec<usize> = weights.iter().map(|w| w.len()).collect();
            let quotas: Vec<f64> = caps.iter().map(|&c| sparsity * c as f64).collect();
            for (l, k) in apportion(&quotas, &caps, total).into_iter().enumerate() {
                let mut v = keys(l);
                prune(&mut v, k, &mut out);
            }
        }
    }
    out
}
