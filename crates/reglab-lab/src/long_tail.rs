//! `data.long_tail = ρ`: a long-tailed training set, as CIFAR-10-LT is made from CIFAR-10.
//!
//! Class `c` (labels `0 … C − 1`, in that order) keeps its first `max(1, ⌊n_c·ρ^{−c/(C−1)}⌋)`
//! training examples, `n_c` its count in the (subset) training set: the most frequent class
//! keeps all of its examples and the last `1/ρ` of them, an exponential profile with imbalance
//! ratio `ρ ≥ 1` (Cao, Wei, Gaidon, Arechiga, Ma, "Learning Imbalanced Datasets with
//! Label-Distribution-Aware Margin Loss", NeurIPS 2019). The examples keep their order; the test
//! set is left balanced. No randomness: the same data and ρ give the same set.

use reglab_core::Dataset;

/// The long-tailed subset of `data` with imbalance ratio `rho` (≥ 1; checked by the caller).
pub fn long_tail(data: &Dataset, rho: f64) -> Dataset {
    let classes = data.classes.max(1);
    let mut count = vec![0usize; classes];
    data.labels.iter().for_each(|&y| count[y as usize] += 1);
    let keep: Vec<usize> = (0..classes)
        .map(|c| {
            let f = if classes > 1 { rho.powf(-(c as f64) / (classes - 1) as f64) } else { 1.0 };
            ((count[c] as f64 * f).floor() as usize).max(1).min(count[c])
        })
        .collect();
    let mut taken = vec![0usize; classes];
    let idx: Vec<usize> = (0..data.len())
        .filter(|&i| {
            let c = data.labels[i] as usize;
            taken[c] += 1;
            taken[c] <= keep[c]
        })
        .collect();
    data.subset(&idx, format!("{}[long tail ρ = {rho}]", data.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_profile_is_exponential_and_keeps_the_first_examples() {
        // 3 classes of 100 examples, interleaved; ρ = 100: keeps 100, 10, 1
        let labels: Vec<u8> = (0..300).map(|i| (i % 3) as u8).collect();
        let features: Vec<f32> = (0..300).map(|i| i as f32).collect();
        let d = Dataset { name: "t".into(), example_shape: vec![1], features, labels, classes: 3 };
        let lt = long_tail(&d, 100.0);
        let per: Vec<usize> = (0..3).map(|c| lt.labels.iter().filter(|&&y| y as usize == c).count()).collect();
        assert_eq!(per, vec![100, 10, 1]);
        // the first examples of each class, in order: class 2's first is example 2
        let of2: Vec<f32> = (0..lt.len()).filter(|&i| lt.labels[i] == 2).map(|i| lt.features[i]).collect();
        assert_eq!(of2, vec![2.0]);
        assert!(lt.features.windows(2).all(|w| w[0] < w[1]), "order kept");
        // ρ = 1 keeps everything
        assert_eq!(long_tail(&d, 1.0).len(), 300);
    }
}
