//! `wasserstein-init=λ`: pull the *distribution* of a tensor's entries toward the distribution
//! at initialisation, λ·Σᵢ (sort(W)ᵢ − sort(W₀)ᵢ)².
//!
//! ## Formula
//! `R(W) = λ · Σ_{i=1..n} (sort(w)ᵢ − sort(w₀)ᵢ)²` (`reduction=sum`, the default) or
//! `R(W) = λ/n · Σᵢ (sort(w)ᵢ − sort(w₀)ᵢ)²` (`reduction=mean`), where `w = vec(W)` and
//! `w₀ = vec(W₀)` are the `n` entries of the tensor and of its initial value, each sorted
//! ascending. In one dimension the sorted matching is the optimal coupling, so the sum is
//! `n · W₂²(μ_W, μ_{W₀})` and the mean is `W₂²(μ_W, μ_{W₀})`, the squared 2-Wasserstein distance
//! between the empirical distributions `μ_W = (1/n) Σ_ij δ_{W_ij}` of the entries. The penalty
//! ignores *which* weight holds which value: any permutation of `W₀` has `R = 0`, which is why
//! it restrains the network less than L2-to-init. This module computes the bare `r` (no λ).
//!
//! Gradient (almost everywhere, i.e. where the entries of `w` are distinct): with `π` the
//! argsort of `w` (`w_{π(i)} = sort(w)ᵢ`), `∂r/∂w_{π(i)} = 2 (sort(w)ᵢ − sort(w₀)ᵢ)` (divided by
//! `n` for `mean`). At ties `r` is not differentiable; the stable order of the sort picks one
//! element of the (Clarke) subdifferential.
//!
//! Symbols: `W`, `W₀` tensors of the same shape (any shape; flattened, so the storage layout is
//! irrelevant), `n` the number of entries, `λ ≥ 0` the strength. Options: `reduction=sum|mean`
//! (default `sum`).
//!
//! ## Cost
//! Every step sorts the current entries: an LSD radix sort of `(key, index)` pairs on the f32
//! order-preserving 32-bit keys (three passes of 11 bits, the last of which only computes
//! ranks), O(n), with buffers kept across calls (no allocation per step after the first). The
//! `radsort` crate was measured slower on this job (its LSD sort runs four 8-bit passes) and
//! allocates its scratch buffer on every call. `sort(w₀)` is computed once per tensor name and
//! kept; it is recomputed when the length or a permutation-invariant checksum of `W₀` changes.
//! Measured on a shared 2-vCPU VM: ≈2 ms per call for a 784×400 weight; benches
//! `reg-grad/wasserstein-init/400x784` (`cargo bench -p reglab-train --bench regularizers`) and
//! `wasserstein-init/default/784-400-400-10`, the whole MLP
//! (`cargo bench -p reglab-regularizers --bench variants`).
//!
//! ## Paper
//! Lewandowski, Kumar, Schuurmans, György, Machado, "Learning Continually by Spectral
//! Regularization", arXiv 2406.06811, v1 (2024): the Wasserstein regularizer toward the initial
//! weight distribution (catalog #1; the final ICLR 2025 version leads with the spectral
//! regularizer). The paper's constant (sum vs mean over the entries) is not verified, hence the
//! `reduction` option.

use std::collections::HashMap;

use reglab_core::{Error, Mode, Regularizer, Result, Spec, Target, TargetGrad};

use super::l2_init::{check_grad_len, checked_init};

/// Squared 2-Wasserstein distance to the init distribution. See the module documentation.
#[derive(Debug, Clone, Default)]
pub struct WassersteinInit {
    /// `reduction=mean`: divide by `n`.
    mean: bool,
    /// `sort(w₀)` per tensor name.
    sorted_init: HashMap<String, SortedInit>,
    /// Scratch: `(key << 32) | index` pairs of the radix sort.
    pairs: Vec<u64>,
    /// Scratch: the radix sort's second buffer.
    scratch: Vec<u64>,
}

#[derive(Debug, Clone)]
struct SortedInit {
    checksum: (u64, u32),
    sorted: Vec<f32>,
}

impl WassersteinInit {
    /// Build from a spec (`wasserstein-init=λ[:reduction=sum|mean]`).
    pub fn from_spec(spec: &Spec) -> Result<Self> {
        let mut o = spec.options();
        let reduction = o.choice("reduction", &["sum", "mean"], "sum")?;
        o.finish()?;
        Ok(Self { mean: reduction == "mean", ..Self::default() })
    }
}

/// Order-preserving map of f32 to u32 (the IEEE total order: −NaN < −∞ < … < −0 < +0 < … < +∞ <
/// +NaN), so that sorting keys as integers sorts the values.
#[inline]
fn order_key(x: f32) -> u32 {
    let b = x.to_bits();
    if b >> 31 == 1 { !b } else { b | 0x8000_0000 }
}

/// Inverse of [`order_key`].
#[inline]
fn from_order_key(k: u32) -> f32 {
    f32::from_bits(if k >> 31 == 1 { k & 0x7FFF_FFFF } else { !k })
}

/// A permutation-invariant checksum of a buffer (sum and xor of the bit patterns): it changes
/// when the multiset of values (what `sort(w₀)` depends on) changes, in all realistic cases.
fn checksum(x: &[f32]) -> (u64, u32) {
    let mut sum = [0u64; 8];
    let mut xor = [0u32; 8];
    let mut it = x.chunks_exact(8);
    for ch in &mut it {
        for l in 0..8 {
            let b = ch[l].to_bits();
            sum[l] += b as u64;
            xor[l] ^= b;
        }
    }
    for &v in it.remainder() {
        sum[0] += v.to_bits() as u64;
        xor[0] ^= v.to_bits();
    }
    (sum.iter().fold(0u64, |a, &b| a.wrapping_add(b)), xor.iter().fold(0, |a, &b| a ^ b))
}

/// Visit the entries of `w` by rank: calls `f(lane, i, p)` once for each entry, where
/// `p = (key << 32) | j` packs the entry `w[j]` (as its [`order_key`]) with its index `j`, `i` is
/// its rank (`w[j] = sort(w)ᵢ`; ties are ranked by index, as a stable sort would) and `lane`
/// (0..4) is free for the caller's independent accumulators. Calls do not come in rank order.
///
/// LSD radix sort, three passes of 11 bits on the 32-bit key, whose last pass computes the ranks
/// without writing the sorted array; `pairs` and `tmp` are scratch. `w.len()` must fit in `u32`
/// (checked by the caller).
fn for_each_ranked(w: &[f32], pairs: &mut Vec<u64>, tmp: &mut Vec<u64>, mut f: impl FnMut(usize, usize, u64)) {
    const BITS: u32 = 11;
    const BUCKETS: usize = 1 << BITS;
    const MASK: u32 = (1 << BITS) - 1;
    let n = w.len();
    pairs.resize(n, 0);
    tmp.resize(n, 0);
    let mut hist = [[0u32; BUCKETS]; 3];
    for &x in w {
        let k = order_key(x);
        hist[0][(k & MASK) as usize] += 1;
        hist[1][((k >> BITS) & MASK) as usize] += 1;
        hist[2][(k >> (2 * BITS)) as usize] += 1;
    }
    // A digit where every key falls in one bucket needs no pass.
    let skip: [bool; 3] = std::array::from_fn(|d| hist[d].iter().any(|&c| c as usize == n));
    for h in hist.iter_mut() {
        let mut acc = 0u32;
        for c in h.iter_mut() {
            let k = *c;
            *c = acc;
            acc += k;
        }
    }
    // Pass 1 builds the pairs straight from `w` (in index order if digit 0 is constant).
    if skip[0] {
        for (j, (o, &x)) in pairs.iter_mut().zip(w).enumerate() {
            *o = ((order_key(x) as u64) << 32) | j as u64;
        }
    } else {
        let h = &mut hist[0];
        for (j, &x) in w.iter().enumerate() {
            let k = order_key(x);
            let pos = &mut h[(k & MASK) as usize];
            pairs[*pos as usize] = ((k as u64) << 32) | j as u64;
            *pos += 1;
        }
    }
    // Pass 2.
    if !skip[1] {
        let h = &mut hist[1];
        for &p in pairs.iter() {
            let pos = &mut h[((p >> (32 + BITS)) as u32 & MASK) as usize];
            tmp[*pos as usize] = p;
            *pos += 1;
        }
        std::mem::swap(pairs, tmp);
    }
    // Pass 3 only counts: the slot an entry would be scattered to is its rank.
    let split = n / 4 * 4;
    let (head, tail) = pairs.split_at(split);
    if skip[2] {
        for (c, p4) in head.chunks_exact(4).enumerate() {
            for (l, &p) in p4.iter().enumerate() {
                f(l, 4 * c + l, p);
            }
        }
        for (i, &p) in tail.iter().enumerate() {
            f(0, split + i, p);
        }
    } else {
        let h = &mut hist[2];
        let mut rank = |p: u64| {
            let pos = &mut h[(p >> (32 + 2 * BITS)) as usize];
            let r = *pos as usize;
            *pos += 1;
            r
        };
        for p4 in head.chunks_exact(4) {
            for (l, &p) in p4.iter().enumerate() {
                f(l, rank(p), p);
            }
        }
        for &p in tail {
            f(0, rank(p), p);
        }
    }
}

impl Regularizer for WassersteinInit {
    fn name(&self) -> &'static str {
        "wasserstein-init"
    }

    fn needs_init(&self) -> bool {
        true
    }

    fn eval(&mut self, t: &Target<'_>, grad: Option<&mut TargetGrad<'_>>, scale: f32, _mode: Mode) -> Result<f64> {
        let init = checked_init(self.name(), t)?;
        if let Some(g) = grad.as_deref() {
            check_grad_len(t, g)?;
        }
        let w = t.weight.data;
        let n = w.len();
        if n == 0 {
            return Ok(0.0);
        }
        if n > u32::MAX as usize {
            return Err(Error::Shape { tensor: t.name.to_string(), why: format!("{n} entries: at most 2³² supported") });
        }
        let Self { mean, sorted_init, pairs, scratch } = self;

        // sort(w₀), cached per tensor name.
        let sum = checksum(init.data);
        let fresh = matches!(sorted_init.get(t.name), Some(s) if s.sorted.len() == n && s.checksum == sum);
        if !fresh {
            let mut sorted = init.data.to_vec();
            sorted.sort_unstable_by(f32::total_cmp);
            sorted_init.insert(t.name.to_string(), SortedInit { checksum: sum, sorted });
        }
        let s0 = &sorted_init[t.name].sorted;

        let norm = if *mean { 1.0 / n as f64 } else { 1.0 };
        let c = 2.0 * scale * norm as f32;
        let mut acc = [0.0f64; 4];
        match grad {
            Some(g) => {
                let g = &mut *g.weight;
                for_each_ranked(w, pairs, scratch, |lane, i, p| {
                    let (v, t0) = (from_order_key((p >> 32) as u32), s0[i]);
                    g[p as u32 as usize] += c * (v - t0);
                    let d = v as f64 - t0 as f64;
                    acc[lane] += d * d;
                });
            }
            None => for_each_ranked(w, pairs, scratch, |lane, i, p| {
                let d = from_order_key((p >> 32) as u32) as f64 - s0[i] as f64;
                acc[lane] += d * d;
            }),
        }
        Ok(acc.iter().sum::<f64>() * norm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anchor::l2_init::L2Init;
    use reglab_core::testing::{Case, gradient_error, random_vec, rel, transpose};

    fn reg() -> WassersteinInit {
        WassersteinInit::from_spec(&Spec::parse("wasserstein-init=1").unwrap()).unwrap()
    }

    fn reg_mean() -> WassersteinInit {
        WassersteinInit::from_spec(&Spec::parse("wasserstein-init=1:reduction=mean").unwrap()).unwrap()
    }

    /// Reference with the standard library's comparison sort: value and gradient (scale 1).
    fn naive(w: &[f32], w0: &[f32]) -> (f64, Vec<f32>) {
        let mut s0 = w0.to_vec();
        s0.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let mut perm: Vec<usize> = (0..w.len()).collect();
        perm.sort_by(|&a, &b| w[a].partial_cmp(&w[b]).unwrap());
        let mut g = vec![0.0f32; w.len()];
        let mut v = 0.0f64;
        for (i, &j) in perm.iter().enumerate() {
            g[j] = 2.0 * (w[j] - s0[i]);
            v += (w[j] as f64 - s0[i] as f64).powi(2);
        }
        (v, g)
    }

    /// `rows × cols` weights with pairwise gaps ≥ 0.03 (so a finite-difference step of 1e-3
    /// never reorders them), in a scrambled order, and a random init.
    fn distinct_case(rows: usize, cols: usize, seed: u64) -> Case {
        let n = rows * cols;
        let jitter = random_vec(n, 0.01, seed);
        let step = (1..n).find(|s| gcd(*s, n) == 1 && *s > n / 3).unwrap_or(1);
        let weight = (0..n).map(|i| ((i * step) % n) as f32 * 0.05 - 0.5 + jitter[i]).collect();
        Case { weight, ..Case::random("fc.weight", &[rows, cols], seed).with_random_init(seed + 100) }
    }

    fn gcd(a: usize, b: usize) -> usize {
        if b == 0 { a } else { gcd(b, a % b) }
    }

    #[test]
    fn value_on_a_hand_computed_example() {
        // sort(w) = [-1, 0.25, 0.5, 2], sort(w₀) = [-2, 0, 0.75, 1]
        // differences 1, 0.25, -0.25, 1 → 1 + 1/16 + 1/16 + 1 = 2.125
        let c = Case { weight: vec![0.25, -1.0, 2.0, 0.5], init: Some(vec![1.0, 0.0, -2.0, 0.75]), ..Case::random("fc.weight", &[2, 2], 0) };
        assert_eq!(c.value(&mut reg()), 2.125);
        assert_eq!(c.transposed().value(&mut reg()), 2.125);
        assert_eq!(c.value(&mut reg_mean()), 2.125 / 4.0);
        // gradient 2(sort(w)ᵢ − sort(w₀)ᵢ) at the position of sort(w)ᵢ:
        // w = [0.25 (rank 1), -1 (rank 0), 2 (rank 3), 0.5 (rank 2)]
        let (_, g, _) = c.value_and_grad(&mut reg());
        assert_eq!(g, vec![0.5, 2.0, 2.0, -0.5]);
        let (_, g, _) = c.value_and_grad(&mut reg_mean());
        assert_eq!(g, vec![0.125, 0.5, 0.5, -0.125]);
    }

    #[test]
    fn value_and_gradient_match_a_comparison_sort_reference() {
        for (shape, seed) in [(vec![40usize, 30], 1u64), (vec![7, 3, 3, 3], 2), (vec![1, 1], 3), (vec![5, 1], 4)] {
            let c = Case::random("layer.weight", &shape, seed).with_random_init(seed + 10);
            let (v_ref, g_ref) = naive(&c.weight, c.init.as_ref().unwrap());
            let (v, g, _) = c.value_and_grad(&mut reg());
            assert!(rel(v, v_ref) < 1e-12, "{shape:?}: {v} vs {v_ref}");
            assert_eq!(g, g_ref, "{shape:?}");
            let n = c.weight.len() as f64;
            assert!(rel(c.value(&mut reg_mean()), v_ref / n) < 1e-12);
        }
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let c = distinct_case(5, 4, 5);
        for case in [c.clone(), c.transposed()] {
            let e = gradient_error(&mut reg(), &case, 1e-3);
            assert!(e < 1e-5, "sum: {e}");
            let e = gradient_error(&mut reg_mean(), &case, 1e-3);
            assert!(e < 1e-5, "mean: {e}");
        }
        // and with a scale: eval adds scale·∇r
        let (_, g1, _) = c.value_and_grad(&mut reg());
        let mut g = vec![1.0f32; c.weight.len()];
        reg().eval(&c.target(), Some(&mut TargetGrad { weight: &mut g, bias: None }), 0.5, Mode::Step).unwrap();
        for (a, b) in g.iter().zip(&g1) {
            assert!((a - (1.0 + 0.5 * b)).abs() < 1e-6);
        }
    }

    #[test]
    fn zero_for_any_permutation_of_the_init() {
        let c = Case::random("fc.weight", &[9, 7], 6).with_random_init(7);
        let w0 = c.init.clone().unwrap();
        let n = w0.len();
        // reversed, and a stride permutation: both differ from w₀ entrywise
        let perms: [Vec<f32>; 2] = [w0.iter().rev().copied().collect(), (0..n).map(|i| w0[(i * 10) % n]).collect()];
        for p in perms {
            assert_ne!(p, w0);
            let pc = Case { weight: p, ..c.clone() };
            let (v, g, _) = pc.value_and_grad(&mut reg());
            assert_eq!(v, 0.0);
            assert!(g.iter().all(|&x| x == 0.0));
            // while L2-init sees a large distance
            assert!(pc.value(&mut L2Init) > 0.1);
        }
    }

    #[test]
    fn invariants_non_negative_layout_free_shift_and_below_l2_init() {
        for seed in 0..5 {
            let c = Case::random("fc.weight", &[8, 6], 20 + seed).with_random_init(40 + seed);
            let v = c.value(&mut reg());
            assert!(v > 0.0);
            // layout: same value; the transposed gradient is the transpose of the gradient
            let t = c.transposed();
            let (vt, gt, _) = t.value_and_grad(&mut reg());
            assert!(rel(v, vt) < 1e-12);
            let (_, g, _) = c.value_and_grad(&mut reg());
            assert_eq!(gt, transpose(&g, 8, 6));
            // the sorted matching is the optimal coupling: Σ(sort w − sort w₀)² ≤ Σ(w − w₀)²
            let l2init = c.value(&mut L2Init);
            assert!(v <= 2.0 * l2init * (1.0 + 1e-12), "{v} {l2init}");
        }
        // a constant shift w = w₀ + δ moves every sorted entry by δ: r = n δ²
        let c = Case::random("fc.weight", &[6, 5], 9).with_random_init(10);
        let delta = 0.125f32;
        let shifted = Case { weight: c.init.as_ref().unwrap().iter().map(|x| x + delta).collect(), ..c.clone() };
        assert!(rel(shifted.value(&mut reg()), 30.0 * 0.125 * 0.125) < 1e-5);
        assert!(rel(shifted.value(&mut reg_mean()), 0.125 * 0.125) < 1e-5);
    }

    #[test]
    fn ties_and_special_values() {
        // all weights equal: value 1 + 0 + 1 + 4 for sort(w₀) = [0, 1, 2, 3]; the gradient at
        // a tie is one subgradient, but its sum is the same for every tie-break: 2·Σ(1 − w₀ᵢ)
        let c = Case { weight: vec![1.0; 4], init: Some(vec![3.0, 0.0, 2.0, 1.0]), ..Case::random("b", &[4], 0) };
        let (v, g, _) = c.value_and_grad(&mut reg());
        assert_eq!(v, 6.0);
        assert_eq!(g.iter().sum::<f32>(), -4.0);
        // NaN does not panic; it shows in the value
        let nan = Case { weight: vec![0.0, f32::NAN, 1.0, -1.0], ..c.clone() };
        assert!(nan.value(&mut reg()).is_nan());
        // infinities are sorted, not dropped
        let inf = Case { weight: vec![f32::INFINITY, 0.0, 1.0, 2.0], ..c.clone() };
        assert_eq!(inf.value(&mut reg()), f64::INFINITY);
    }

    #[test]
    fn radix_sort_matches_the_standard_sort() {
        let mut cases: Vec<Vec<f32>> = vec![
            vec![],
            vec![1.0],
            vec![0.0, -0.0, 1e-45, -1e-45, f32::MIN_POSITIVE, -3.5, 3.5, f32::MAX, f32::MIN, f32::INFINITY, f32::NEG_INFINITY],
            vec![2.0; 100],                                                   // every digit constant
            (0..3000).map(|i| 1.0 + (i % 7) as f32 * f32::EPSILON).collect(), // only the low digit varies
            (0..5000).map(|i| ((i * 7919) % 5000) as f32 - 2500.0).collect(),
        ];
        cases.push(random_vec(100_000, 0.05, 11));
        cases.push(random_vec(4097, 1e-30, 12));
        let (mut pairs, mut tmp) = (Vec::new(), Vec::new());
        for w in cases {
            let mut out = vec![u64::MAX; w.len()];
            for_each_ranked(&w, &mut pairs, &mut tmp, |lane, i, p| {
                assert!(lane < 4);
                assert_eq!(out[i], u64::MAX, "rank {i} given twice");
                out[i] = p;
            });
            let mut idx: Vec<usize> = (0..w.len()).collect();
            idx.sort_by(|&a, &b| w[a].total_cmp(&w[b])); // stable, like the radix sort
            let got: Vec<usize> = out.iter().map(|&p| p as u32 as usize).collect();
            assert_eq!(got, idx, "n={}", w.len());
            for (&p, &j) in out.iter().zip(&idx) {
                assert_eq!(from_order_key((p >> 32) as u32).to_bits(), w[j].to_bits());
            }
        }
    }

    #[test]
    fn cache_gives_the_same_results_across_calls_tensors_and_changed_inits() {
        let a = Case::random("layers.0.weight", &[20, 15], 30).with_random_init(31);
        let b = Case::random("layers.1.weight", &[10, 20], 32).with_random_init(33);
        let mut r = reg();
        let (va, ga, _) = a.value_and_grad(&mut r);
        let (vb, gb, _) = b.value_and_grad(&mut r);
        for _ in 0..3 {
            assert_eq!(a.value_and_grad(&mut r).0, va);
            assert_eq!(a.value_and_grad(&mut r).1, ga);
            assert_eq!(b.value_and_grad(&mut r).0, vb);
            assert_eq!(b.value_and_grad(&mut r).1, gb);
        }
        // the values match a fresh regularizer
        assert_eq!(a.value(&mut reg()), va);
        // a new anchor under the same name (same length) is picked up, not served from cache
        let a2 = Case { init: Some(random_vec(300, 0.5, 34)), ..a.clone() };
        assert_eq!(a2.value(&mut r), a2.value(&mut reg()));
        assert_ne!(a2.value(&mut r), va);
        // and another length under the same name
        let a3 = Case::random("layers.0.weight", &[5, 5], 35).with_random_init(36);
        assert_eq!(a3.value(&mut r), a3.value(&mut reg()));
        assert_eq!(a.value(&mut r), va);
    }

    #[test]
    fn errors_and_options() {
        let c = Case::random("fc.weight", &[4, 3], 50);
        assert!(matches!(reg().eval(&c.target(), None, 1.0, Mode::Exact).unwrap_err(), Error::MissingInit { .. }));
        let short = Case { init: Some(vec![0.0; 11]), ..c.clone() };
        assert!(matches!(reg().eval(&short.target(), None, 1.0, Mode::Exact).unwrap_err(), Error::Shape { .. }));
        let ok = c.clone().with_random_init(51);
        let mut g = vec![0.0; 3];
        let e = reg().eval(&ok.target(), Some(&mut TargetGrad { weight: &mut g, bias: None }), 1.0, Mode::Exact);
        assert!(matches!(e.unwrap_err(), Error::Shape { .. }));
        assert!(reg().needs_init());
        assert!(WassersteinInit::from_spec(&Spec::parse("wasserstein-init=1:reduction=max").unwrap()).is_err());
        assert!(WassersteinInit::from_spec(&Spec::parse("wasserstein-init=1:p=1").unwrap()).is_err());
    }
}
