//! Magnitude masks, `--prune magnitude:sparsity=S[:scope=global|layer][:at=E | :schedule=gradual:start=E0:end=E1]`
//! in training (`reglab_train::prune`) and `reglab.torch.Regularizer.prune_magnitude` in Python:
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
//! `round(s_t·n)`, see [`apportion`]) and ranks inside the layer. Ties in `|w|`: entries
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

/// Rank all pruned layers together or each layer on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// One ranking of `|w|` over every pruned layer.
    Global,
    /// Each layer loses its share `S·n_l` of its own smallest entries.
    Layer,
}

/// `round(s·n)`, the number of zeros a mask of sparsity `s` puts among `n` entries.
pub fn zeros_for(sparsity: f64, n: usize) -> usize {
    ((sparsity * n as f64).round() as usize).min(n)
}

/// Integers `k_l ≤ caps[l]` adding up to `total`, as close to the real `quotas` as possible:
/// `⌊q_l⌋` first, then the remaining units one at a time to the largest fractional parts (or,
/// when the floors overshoot, taken from the smallest), ties to the earlier index. Needs
/// `total ≤ Σ caps`.
pub fn apportion(quotas: &[f64], caps: &[usize], total: usize) -> Vec<usize> {
    let mut k: Vec<usize> = quotas.iter().zip(caps).map(|(&q, &c)| (q.max(0.0).floor() as usize).min(c)).collect();
    let frac: Vec<f64> = quotas.iter().zip(&k).map(|(&q, &k)| q - k as f64).collect();
    let mut order: Vec<usize> = (0..k.len()).collect();
    let sum: usize = k.iter().sum();
    if sum < total {
        order.sort_by(|&a, &b| frac[b].total_cmp(&frac[a]).then(a.cmp(&b)));
        let mut need = total - sum;
        while need > 0 {
            let before = need;
            for &l in &order {
                if need > 0 && k[l] < caps[l] {
                    k[l] += 1;
                    need -= 1;
                }
            }
            if need == before {
                break; // total > Σ caps: every layer is full
            }
        }
    } else if sum > total {
        order.sort_by(|&a, &b| frac[a].total_cmp(&frac[b]).then(a.cmp(&b)));
        let mut extra = sum - total;
        while extra > 0 {
            for &l in &order {
                if extra > 0 && k[l] > 0 {
                    k[l] -= 1;
                    extra -= 1;
                }
            }
        }
    }
    k
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use reglab_core::testing::random_vec;

    fn zeros(v: &[f32]) -> usize {
        v.iter().filter(|&&x| x == 0.0).count()
    }

    #[test]
    fn apportion_hits_the_total_within_floor_and_ceil() {
        assert_eq!(apportion(&[1.5, 1.5, 1.0], &[3, 3, 3], 4), vec![2, 1, 1], "ties to the earlier index");
        assert_eq!(apportion(&[0.2, 0.9, 2.4], &[5, 5, 5], 4), vec![0, 1, 3]);
        assert_eq!(apportion(&[2.0, 2.0], &[2, 5], 5), vec![2, 3], "full layers are skipped");
        assert_eq!(apportion(&[1.7, 1.2], &[5, 5], 1), vec![1, 0], "floors that overshoot give back");
        for (n, s) in [(vec![3200usize, 160_000, 4000], 0.9), (vec![7, 11, 13, 1], 0.37), (vec![1, 1, 1], 0.5)] {
            let total: usize = n.iter().sum();
            let q: Vec<f64> = n.iter().map(|&n| s * n as f64).collect();
            let k = apportion(&q, &n, zeros_for(s, total));
            assert_eq!(k.iter().sum::<usize>(), zeros_for(s, total));
            for (k, q) in k.iter().zip(&q) {
                assert!((*k as f64 - q).abs() < 1.0, "{k} vs {q}");
            }
        }
        assert_eq!(zeros_for(0.9, 432), 389);
        assert_eq!(zeros_for(0.5, 3), 2, "round half away from zero");
        assert_eq!(zeros_for(0.99, 10), 10);
    }

    #[test]
    fn magnitude_keeps_the_largest_entries_with_exact_counts() {
        let a = random_vec(128, 1.0, 1);
        let b = random_vec(256, 0.1, 2); // smaller weights: global pruning takes more of them
        let c = random_vec(48, 1.0, 3);
        let w: Vec<&[f32]> = vec![&a, &b, &c];
        let s = 0.75;
        let g = magnitude_masks(&w, &[None, None, None], s, Scope::Global);
        let total: usize = g.iter().map(|m| zeros(m)).sum();
        assert_eq!(total, zeros_for(s, 432));
        // every kept |w| ≥ every pruned |w|, by an independent sort
        let mut all: Vec<f32> = w.iter().flat_map(|w| w.iter().map(|x| x.abs())).collect();
        all.sort_by(f32::total_cmp);
        let cut = all[total - 1];
        for (m, w) in g.iter().zip(&w) {
            for (&k, &x) in m.iter().zip(w.iter()) {
                assert!(if k == 0.0 { x.abs() <= cut } else { x.abs() >= cut }, "{x} {k} {cut}");
            }
        }
        assert!(zeros(&g[1]) as f64 / 256.0 > 0.95, "global pruning takes the small layer: {}", zeros(&g[1]));
        // per layer: the rounded shares, the smallest of each layer
        let l = magnitude_masks(&w, &[None, None, None], s, Scope::Layer);
        let counts: Vec<usize> = l.iter().map(|m| zeros(m)).collect();
        assert_eq!(counts, vec![96, 192, 36]);
        assert_eq!(counts.iter().sum::<usize>(), zeros_for(s, 432));
        for (m, w) in l.iter().zip(&w) {
            let mut v: Vec<f32> = w.iter().map(|x| x.abs()).collect();
            v.sort_by(f32::total_cmp);
            let k = zeros(m);
            for (&keep, &x) in m.iter().zip(w.iter()) {
                assert!(if keep == 0.0 { x.abs() <= v[k - 1] } else { x.abs() >= v[k] });
            }
        }
        // uneven shares: 0.5 of 3 + 3 + 3 → 5 zeros: 2, 2, 1 (largest remainder, earlier layer first)
        let (x, y, z) = (random_vec(3, 1.0, 4), random_vec(3, 1.0, 5), random_vec(3, 1.0, 6));
        let m = magnitude_masks(&[&x, &y, &z], &[None, None, None], 0.5, Scope::Layer);
        assert_eq!(m.iter().map(|m| zeros(m)).collect::<Vec<_>>(), vec![2, 2, 1]);
    }

    #[test]
    fn magnitude_ties_are_deterministic_and_keep_pruned_entries_pruned() {
        // all |w| equal: the first entries (earlier layer, earlier index) go first
        let a = vec![0.5f32, -0.5, 0.5, -0.5];
        let b = vec![-0.5f32; 4];
        let m = magnitude_masks(&[&a, &b], &[None, None], 0.75, Scope::Global);
        assert_eq!(m, vec![vec![0.0; 4], vec![0.0, 0.0, 1.0, 1.0]]);
        // zeros already pruned go before equal zeros that were not
        let a = vec![0.0f32, 0.0, 0.0, 1.0];
        let prev = vec![1.0f32, 1.0, 0.0, 1.0];
        let m = magnitude_masks(&[&a], &[Some(&prev)], 0.25, Scope::Global);
        assert_eq!(m[0], vec![1.0, 1.0, 0.0, 1.0]);
        // a gradual sequence only grows the set of zeros
        let w = random_vec(300, 1.0, 7);
        let mut cur = w.clone();
        let mut prev: Option<Vec<f32>> = None;
        for t in 1..=4 {
            let s = cubic_sparsity(0.9, 0, 4, t);
            let m = magnitude_masks(&[&cur], &[prev.as_deref()], s, Scope::Layer).remove(0);
            assert_eq!(zeros(&m), zeros_for(s, 300), "t={t}");
            if let Some(p) = &prev {
                assert!(p.iter().zip(&m).all(|(&p, &m)| p == 1.0 || m == 0.0), "t={t}: a pruned entry came back");
            }
            // training moves the kept weights; pruned ones are 0
            cur = cur.iter().zip(&m).map(|(&x, &k)| if k == 0.0 { 0.0 } else { x * 0.9 + 0.01 }).collect();
            prev = Some(m);
        }
    }

    #[test]
    fn the_cubic_schedule_is_zhu_and_gupta() {
        assert_eq!(cubic_sparsity(0.9, 2, 6, 2), 0.0);
        assert_eq!(cubic_sparsity(0.9, 2, 6, 6), 0.9);
        assert_eq!(cubic_sparsity(0.9, 2, 6, 9), 0.9);
        assert_eq!(cubic_sparsity(0.9, 2, 6, 1), 0.0);
        // s_t = S(1 − (1 − (t − t0)/(t1 − t0))³): t = 3 of [2, 6] → 0.9(1 − 0.75³)
        assert!((cubic_sparsity(0.9, 2, 6, 3) - 0.9 * (1.0 - 0.421875)).abs() < 1e-15);
        assert!((cubic_sparsity(0.8, 0, 4, 2) - 0.8 * 0.875).abs() < 1e-15);
    }
}
