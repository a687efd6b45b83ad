//! The data: every pair `(a, b) ∈ Z_p²` labelled `(a + b) mod p`, split once into training and
//! test pairs, with a fraction ξ of the training labels replaced by wrong ones.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Pairs and labels of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct ModularData {
    /// The modulus p.
    pub p: usize,
    /// Training pairs `(a, b)`.
    pub train: Vec<(u32, u32)>,
    /// Training labels as trained on (corrupted where `corrupted[i]`).
    pub train_labels: Vec<u32>,
    /// The true training labels `(a + b) mod p`.
    pub train_true: Vec<u32>,
    /// Which training labels are corrupted (each then differs from the true label).
    pub corrupted: Vec<bool>,
    /// Test pairs (all the others), with their true labels.
    pub test: Vec<(u32, u32)>,
    /// Test labels.
    pub test_labels: Vec<u32>,
}

/// `(a + b) mod p` on a split of the `p²` pairs: a permutation seeded by `split_seed` puts the
/// first `⌊fraction · p²⌋` pairs in training and the rest in test (the same split for every run);
/// `⌊ξ · n_train⌋` training examples, chosen with `corrupt_seed`, get a label drawn uniformly
/// from the `p − 1` wrong ones.
pub fn modular_addition(p: usize, fraction: f64, xi: f64, split_seed: u64, corrupt_seed: u64) -> Result<ModularData, String> {
    if p < 3 {
        return Err(format!("the modulus p must be ≥ 3, got {p}"));
    }
    if !(fraction > 0.0 && fraction < 1.0) {
        return Err(format!("the training fraction must be in (0, 1), got {fraction}"));
    }
    if !(0.0..1.0).contains(&xi) {
        return Err(format!("the corrupted fraction ξ must be in [0, 1), got {xi}"));
    }
    let mut pairs: Vec<(u32, u32)> = (0..p as u32).flat_map(|a| (0..p as u32).map(move |b| (a, b))).collect();
    pairs.shuffle(&mut ChaCha8Rng::seed_from_u64(split_seed));
    let n_train = (fraction * (p * p) as f64).floor() as usize;
    if n_train == 0 || n_train == p * p {
        return Err(format!("a training fraction of {fraction} leaves no training or no test pair of {}", p * p));
    }
    let label = |(a, b): (u32, u32)| (a + b) % p as u32;
    let test = pairs.split_off(n_train);
    let train = pairs;
    let train_true: Vec<u32> = train.iter().map(|&q| label(q)).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(corrupt_seed);
    let mut order: Vec<usize> = (0..n_train).collect();
    order.shuffle(&mut rng);
    let n_bad = (xi * n_train as f64).floor() as usize;
    let mut corrupted = vec![false; n_train];
    let mut train_labels = train_true.clone();
    for &i in &order[..n_bad] {
        corrupted[i] = true;
        // uniform over the p − 1 wrong labels
        let shift = rng.random_range(1..p as u32);
        train_labels[i] = (train_true[i] + shift) % p as u32;
    }
    let test_labels = test.iter().map(|&q| label(q)).collect();
    Ok(ModularData { p, train, train_labels, train_true, corrupted, test, test_labels })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_split_covers_every_pair_once_and_corrupts_exactly_xi_with_wrong_labels() {
        let d = modular_addition(11, 0.5, 0.3, 7, 1).unwrap();
        assert_eq!((d.train.len(), d.test.len()), (60, 61));
        let mut all: Vec<(u32, u32)> = d.train.iter().chain(&d.test).copied().collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 121);
        assert_eq!(d.corrupted.iter().filter(|&&c| c).count(), 18);
        for i in 0..60 {
            let (a, b) = d.train[i];
            assert_eq!(d.train_true[i], (a + b) % 11);
            assert_eq!(d.corrupted[i], d.train_labels[i] != d.train_true[i], "example {i}");
            assert!(d.train_labels[i] < 11);
        }
        for (&(a, b), &y) in d.test.iter().zip(&d.test_labels) {
            assert_eq!(y, (a + b) % 11);
        }
        // the split depends on split_seed only; the corruption on corrupt_seed only
        let e = modular_addition(11, 0.5, 0.3, 7, 2).unwrap();
        assert_eq!((&e.train, &e.test), (&d.train, &d.test));
        assert_ne!(e.corrupted, d.corrupted);
        assert_ne!(modular_addition(11, 0.5, 0.3, 8, 1).unwrap().train, d.train);
        assert_eq!(modular_addition(11, 0.5, 0.3, 7, 1).unwrap(), d);
        assert!(modular_addition(11, 0.5, 0.0, 7, 1).unwrap().corrupted.iter().all(|&c| !c));
    }

    #[test]
    fn the_wrong_labels_are_uniform_over_the_other_classes() {
        let p = 31u32;
        let d = modular_addition(p as usize, 0.9, 0.9, 0, 3).unwrap();
        let mut counts = vec![0usize; p as usize];
        for i in (0..d.train.len()).filter(|&i| d.corrupted[i]) {
            counts[((d.train_labels[i] + p - d.train_true[i]) % p) as usize] += 1;
        }
        assert_eq!(counts[0], 0);
        let n: usize = counts.iter().sum();
        let e = n as f64 / f64::from(p - 1);
        for &c in &counts[1..] {
            assert!((c as f64 - e).abs() < 4.0 * e.sqrt(), "{counts:?}");
        }
    }

    #[test]
    fn bad_arguments_are_errors() {
        assert!(modular_addition(2, 0.5, 0.1, 0, 0).unwrap_err().contains("p must"));
        assert!(modular_addition(11, 1.0, 0.1, 0, 0).unwrap_err().contains("fraction"));
        assert!(modular_addition(11, 0.5, 1.0, 0, 0).unwrap_err().contains("ξ"));
        assert!(modular_addition(11, 0.5, f64::NAN, 0, 0).unwrap_err().contains("ξ"));
        assert!(modular_addition(3, 0.05, 0.1, 0, 0).unwrap_err().contains("no training"));
    }
}
