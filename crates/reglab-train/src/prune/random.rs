//! `--prune random:sparsity=S[:density=uniform|er|erk]`: a fixed random mask drawn at
//! initialisation from the run's seed.
//!
//! ## Formula
//! Layer `l` (PyTorch shape `[out, in]` or `[out, in, kh, kw]`, `n_l` entries) keeps a density
//! `d_l`, the same target overall:
//! ```text
//! uniform: d_l = 1 − S
//! er:      d_l = min(1, ε·(n_in + n_out)/(n_in·n_out))                  (a conv: c_in, c_out)
//! erk:     d_l = min(1, ε·(c_in + c_out + kh + kw)/(c_in·c_out·kh·kw))  (a linear layer: as er)
//! ```
//! `ε` solves `Σ_{l not dense} ε·p_l·n_l = Σ_{l not dense} (n_l − ⌊S·n_l⌋) − Σ_{l dense} ⌊S·n_l⌋`
//! (`p_l` the raw ratio above). This is Evci et al.'s RigL procedure (`get_sparsities_erdos_renyi`,
//! power scale 1): start with no dense layer; while `ε·max p_l > 1`, make every layer whose
//! `p_l` equals the maximum dense (`d_l = 1`) and solve again. The keep counts `k_l ≈ d_l·n_l`
//! are then rounded so that exactly `n − round(S·n)` entries are kept in total
//! ([`super::apportion`]; RigL instead zeroes `⌊(1 − d_l)·n_l⌋` per layer, which can be off the
//! total by up to one per layer). Each layer keeps `k_l` entries chosen uniformly at random
//! (a partial Fisher–Yates shuffle of its PyTorch-order indices with ChaCha8 seeded from the run's
//! seed, layers in order), so the same seed draws the same mask.
//!
//! ## Papers
//! Mocanu, Mocanu, Stone, Nguyen, Gibescu, Liotta, "Scalable training of artificial neural
//! networks with adaptive sparse connectivity inspired by network science", Nature
//! Communications 2018 (Erdős–Rényi). Evci, Gale, Menick, Castro, Elsen, "Rigging the Lottery:
//! Making All Tickets Winners", ICML 2020 (ERK). Liu, Chen, Chen, Atashgahi, Yin, Kou, Shen,
//! Pechenizkiy, Wang, Mocanu, "The Unreasonable Effectiveness of Random Pruning: Return of the
//! Most Naive Baseline for Sparse Training", ICLR 2022. The catalog's paper (#112): Gadhikar,
//! Mukherjee, Burkholz, "Why Random Pruning Is All We Need to Start Sparse", ICML 2023 (random
//! masks with ER/ERK layer densities as the starting point of sparse training).

use super::{Density, apportion, zeros_for};
use rand::{Rng, SeedableRng};

/// Salt of the masks' random stream (apart from the initialisation's and the shuffle's).
const SALT: u64 = 0x7072_756e_655f_6d6b;

/// The raw Erdős–Rényi ratio `p_l` of a PyTorch-layout weight shape.
fn raw_ratio(shape: &[usize], density: Density) -> f64 {
    match density {
        Density::Uniform => 1.0,
        Density::Er => {
            let (out, inp) = (shape[0] as f64, shape.get(1).copied().unwrap_or(1) as f64);
            (inp + out) / (inp * out)
        }
        Density::Erk => shape.iter().sum::<usize>() as f64 / shape.iter().product::<usize>() as f64,
    }
}

/// The density `d_l` of each layer (see the module documentation), RigL's procedure.
pub fn layer_densities(shapes: &[Vec<usize>], sparsity: f64, density: Density) -> Vec<f64> {
    if density == Density::Uniform {
        return vec![1.0 - sparsity; shapes.len()];
    }
    let n: Vec<usize> = shapes.iter().map(|s| s.iter().product()).collect();
    let p: Vec<f64> = shapes.iter().map(|s| raw_ratio(s, density)).collect();
    let floor_zeros = |l: usize| (sparsity * n[l] as f64).floor();
    let mut dense = vec![false; shapes.len()];
    loop {
        let (mut rhs, mut divisor) = (0.0f64, 0.0f64);
        for l in 0..shapes.len() {
            if dense[l] {
                rhs -= floor_zeros(l);
            } else {
                rhs += n[l] as f64 - floor_zeros(l);
                divisor += p[l] * n[l] as f64;
            }
        }
        if divisor == 0.0 {
            return vec![1.0; shapes.len()];
        }
        let eps = rhs / divisor;
        let max_p = (0..shapes.len()).filter(|&l| !dense[l]).map(|l| p[l]).fold(f64::NEG_INFINITY, f64::max);
        if max_p * eps > 1.0 {
            for l in 0..shapes.len() {
                if !dense[l] && p[l] == max_p {
                    dense[l] = true;
                }
            }
        } else {
            return (0..shapes.len()).map(|l| if dense[l] { 1.0 } else { eps * p[l] }).collect();
        }
    }
}

/// Entries kept per layer: `≈ d_l·n_l`, exactly `n − round(S·n)` in total.
pub fn kept_counts(shapes: &[Vec<usize>], sparsity: f64, density: Density) -> Vec<usize> {
    let n: Vec<usize> = shapes.iter().map(|s| s.iter().product()).collect();
    let total: usize = n.iter().sum();
    let d = layer_densities(shapes, sparsity, density);
    let quotas: Vec<f64> = d.iter().zip(&n).map(|(&d, &n)| d * n as f64).collect();
    apportion(&quotas, &n, total - zeros_for(sparsity, total))
}

/// Random masks (1 keep, 0 pruned), PyTorch layout, for layers of PyTorch `shapes`.
pub fn random_masks(shapes: &[Vec<usize>], sparsity: f64, density: Density, seed: u64) -> Vec<Vec<f32>> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ SALT);
    shapes
        .iter()
        .zip(kept_counts(shapes, sparsity, density))
        .map(|(s, k)| {
            let n: usize = s.iter().product();
            let mut idx: Vec<usize> = (0..n).collect();
            for i in 0..k.min(n.saturating_sub(1)) {
                let j = rng.random_range(i..n);
                idx.swap(i, j);
            }
            let mut m = vec![0.0f32; n];
            for &i in &idx[..k] {
                m[i] = 1.0;
            }
            m
        })
        .collect()
}
