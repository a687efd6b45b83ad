//! Health probes of features (the lab's per-task metrics), and the weight probes of
//! [`reglab_core::probe`] re-exported (`reglab inspect`).
//!
//! **Feature probes**, on a feature matrix `F [n, d]` (rows are examples): the effective rank of
//! `F` (the same Roy–Vetterli formula on the singular values of `F`), and the fraction of dead
//! units (columns that are exactly 0 for every example: ReLU units that never fire on the
//! batch). [`net_features`] computes the penultimate features of a [`Net`] on a batch.

use burn::module::Module;
use burn::tensor::{Tensor, TensorData};
use reglab_core::{Dataset, MatRef};
use reglab_train::model::Net;
use serde::Serialize;

pub use reglab_core::probe::{
    Spectrum, TOP_K, WeightProbe, distance, effective_rank, probe_weight, probe_weights, row_cosines, singular_values, sparsity, spectrum,
};

/// The probes of a feature matrix.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureProbe {
    /// Rows (examples).
    pub examples: usize,
    /// Columns (units).
    pub units: usize,
    /// Roy–Vetterli effective rank of `F`.
    pub effective_rank: f64,
    /// Columns exactly 0 on every example.
    pub dead_units: usize,
    /// `dead_units / units` (0 without units).
    pub dead_fraction: f64,
}

/// A feature matrix `[rows, cols]`, row-major (rows are examples).
#[derive(Debug, Clone, PartialEq)]
pub struct Features {
    /// Examples.
    pub rows: usize,
    /// Units.
    pub cols: usize,
    /// Values, `rows · cols`.
    pub data: Vec<f32>,
}

impl Features {
    /// The matrix view.
    pub fn view(&self) -> MatRef<'_> {
        MatRef::from_layout(&self.data, self.rows, self.cols, reglab_core::Layout::RowMajor)
    }
}

/// Number of columns of `f` that are exactly 0 in every row.
pub fn dead_units(f: MatRef<'_>) -> usize {
    let mut alive = vec![false; f.cols];
    for r in 0..f.rows {
        for (c, a) in alive.iter_mut().enumerate() {
            if !*a && f.at(r, c) != 0.0 {
                *a = true;
            }
        }
    }
    alive.iter().filter(|a| !**a).count()
}

/// Effective rank and dead units of a feature matrix `[n, d]` (entries must be finite).
pub fn probe_features(f: MatRef<'_>) -> FeatureProbe {
    let dead = dead_units(f);
    FeatureProbe {
        examples: f.rows,
        units: f.cols,
        effective_rank: effective_rank(&singular_values(f)),
        dead_units: dead,
        dead_fraction: if f.cols == 0 { 0.0 } else { dead as f64 / f.cols as f64 },
    }
}

/// The penultimate features of `net` ([`Net::features`]: the last hidden ReLU layer of an MLP,
/// the flattened conv output of a CNN) on `n` examples given row-major in `x`
/// (`n · example_len` values), computed without autodiff in chunks of 1,000 examples.
pub fn net_features(net: &Net, x: &[f32], n: usize) -> Result<Features, String> {
    if n == 0 || x.is_empty() || !x.len().is_multiple_of(n) {
        return Err(format!("{} values do not make {n} examples", x.len()));
    }
    let d = x.len() / n;
    let net = net.valid();
    let dev = net.devices().into_iter().next().ok_or("the network has no parameters")?;
    let (mut data, mut cols) = (Vec::new(), 0);
    for chunk in x.chunks(1000 * d) {
        let b = chunk.len() / d;
        let f = net.features(Tensor::<2>::from_data(TensorData::new(chunk.to_vec(), [b, d]), &dev));
        cols = f.dims()[1];
        let f = f.into_data().convert::<f32>();
        data.extend_from_slice(f.as_slice::<f32>().map_err(|e| format!("features: {e:?}"))?);
    }
    Ok(Features { rows: n, cols, data })
}

/// [`probe_features`] of the penultimate features of `net` on the first `max_examples` examples
/// of `data`.
pub fn probe_net(net: &Net, data: &Dataset, max_examples: usize) -> Result<FeatureProbe, String> {
    let n = max_examples.min(data.len());
    let x = &data.features[..n * data.example_len()];
    let f = net_features(net, x, n)?;
    if f.data.iter().any(|v| !v.is_finite()) {
        return Err("the features hold NaN or infinite values".into());
    }
    Ok(probe_features(f.view()))
}

/// Spearman's rank correlation of `a` and `b` (same length ≥ 2): Pearson's correlation of
/// their ranks, ties given their average rank. NaN when either is constant.
pub fn spearman(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "spearman: lengths differ");
    fn ranks(v: &[f64]) -> Vec<f64> {
        let mut idx: Vec<usize> = (0..v.len()).collect();
        idx.sort_by(|&i, &j| v[i].total_cmp(&v[j]));
        let mut r = vec![0.0; v.len()];
        let mut k = 0;
        while k < idx.len() {
            let mut e = k;
            while e + 1 < idx.len() && v[idx[e + 1]] == v[idx[k]] {
                e += 1;
            }
            let avg = (k + e) as f64 / 2.0 + 1.0;
            for &i in &idx[k..=e] {
                r[i] = avg;
            }
            k = e + 1;
        }
        r
    }
    let (ra, rb) = (ranks(a), ranks(b));
    let n = a.len() as f64;
    let (ma, mb) = (ra.iter().sum::<f64>() / n, rb.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in ra.iter().zip(&rb) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    sab / (saa * sbb).sqrt()
}

/// How far a network's features moved from a reference network's (e.g. the pretrained one) on
/// the same examples: `mean_cosine` = mean over examples of cos(f(x), f₀(x)) (1: no drift), and
/// `similarity_spearman` = Spearman's correlation, over every pair of examples, between the
/// pairwise cosine similarities under f and under f₀ (1: the similarity structure is kept).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FeatureDrift {
    /// Mean cosine between the two networks' features of each example.
    pub mean_cosine: f64,
    /// Spearman correlation of the pairwise cosine similarities.
    pub similarity_spearman: f64,
}

/// [`FeatureDrift`] of `net` against `reference` (same architecture) on the first `max_examples`
/// examples of `data` (at least 3).
pub fn feature_drift(net: &Net, reference: &Net, data: &Dataset, max_examples: usize) -> Result<FeatureDrift, String> {
    let n = max_examples.min(data.len());
    if n < 3 {
        return Err(format!("feature drift needs at least 3 examples, has {n}"));
    }
    let x = &data.features[..n * data.example_len()];
    let (f, f0) = (net_features(net, x, n)?, net_features(reference, x, n)?);
    if f.cols != f0.cols {
        return Err(format!("features of width {} against {}", f.cols, f0.cols));
    }
    let d = f.cols;
    let row = |g: &Features, i: usize| -> Vec<f64> { g.data[i * d..(i + 1) * d].iter().map(|&v| v as f64).collect() };
    let unit = |v: Vec<f64>| -> Vec<f64> {
        let n = v.iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-300);
        v.into_iter().map(|x| x / n).collect()
    };
    let u: Vec<Vec<f64>> = (0..n).map(|i| unit(row(&f, i))).collect();
    let u0: Vec<Vec<f64>> = (0..n).map(|i| unit(row(&f0, i))).collect();
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let mean_cosine = (0..n).map(|i| dot(&u[i], &u0[i])).sum::<f64>() / n as f64;
    let (mut s, mut s0) = (Vec::new(), Vec::new());
    for i in 0..n {
        for j in i + 1..n {
            s.push(dot(&u[i], &u[j]));
            s0.push(dot(&u0[i], &u0[j]));
        }
    }
    Ok(FeatureDrift { mean_cosine, similarity_spearman: spearman(&s, &s0) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::DMatrix;
    use reglab_core::testing::random_vec;
    use reglab_core::{NamedTensor, TensorRef};

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1.0)
    }

    fn mat(data: &[f32], rows: usize, cols: usize) -> MatRef<'_> {
        MatRef::from_layout(data, rows, cols, reglab_core::Layout::RowMajor)
    }

    #[test]
    fn spearman_of_hand_cases() {
        // monotone: 1; reversed: −1; ties get their average rank
        assert!((spearman(&[1.0, 2.0, 3.0, 4.0], &[10.0, 20.0, 25.0, 100.0]) - 1.0).abs() < 1e-12);
        assert!((spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]) + 1.0).abs() < 1e-12);
        // ranks a = (1, 2.5, 2.5, 4), b = (1, 2, 3, 4): Pearson of the ranks = 0.9486832980505138
        let r = spearman(&[1.0, 2.0, 2.0, 3.0], &[1.0, 2.0, 3.0, 4.0]);
        assert!((r - 0.9486832980505138).abs() < 1e-12, "{r}");
        assert!(spearman(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]).is_nan());
    }

    #[test]
    fn feature_drift_is_none_for_the_same_network_and_some_for_another() {
        let dev = burn::tensor::Device::flex().autodiff();
        let spec: reglab_train::model::ModelSpec = "mlp:16".parse().unwrap();
        let a = Net::new(&spec, &[8], 3, 1, &dev).unwrap();
        let b = Net::new(&spec, &[8], 3, 2, &dev).unwrap();
        let data = Dataset { name: "x".into(), example_shape: vec![8], features: random_vec(40 * 8, 1.0, 3), labels: vec![0; 40], classes: 3 };
        let same = feature_drift(&a, &a, &data, 30).unwrap();
        assert!((same.mean_cosine - 1.0).abs() < 1e-9 && (same.similarity_spearman - 1.0).abs() < 1e-9, "{same:?}");
        let other = feature_drift(&a, &b, &data, 30).unwrap();
        assert!(other.mean_cosine < 0.99 && other.similarity_spearman < 0.99, "{other:?}");
        // scaling the features changes neither (cosines)
        assert!(feature_drift(&a, &a, &data, 2).is_err());
    }

    #[test]
    fn dead_units_and_feature_effective_rank() {
        // 5 examples × 4 units; units 1 and 3 never fire (one holds −0.0)
        let mut f = vec![0.0f32; 20];
        for r in 0..5 {
            f[r * 4] = r as f32 + 1.0;
            f[r * 4 + 2] = if r == 2 { 0.0 } else { 2.0 };
        }
        f[4 + 3] = -0.0;
        let p = probe_features(mat(&f, 5, 4));
        assert_eq!((p.examples, p.units, p.dead_units, p.dead_fraction), (5, 4, 2, 0.5));
        let m = DMatrix::<f64>::from_fn(5, 4, |i, j| f[i * 4 + j] as f64);
        let sv = m.svd(false, false).singular_values.as_slice().to_vec();
        assert!(close(p.effective_rank, effective_rank(&sv), 1e-10));
        assert!(p.effective_rank > 1.0 && p.effective_rank < 2.0);
        // identical rows: rank-1 features
        let rows: Vec<f32> = (0..10).flat_map(|_| [1.0f32, 2.0, 0.0]).collect();
        let p = probe_features(mat(&rows, 10, 3));
        assert!(close(p.effective_rank, 1.0, 1e-9));
        assert_eq!(p.dead_units, 1);
    }

    #[test]
    fn penultimate_features_of_an_mlp_and_a_cnn() {
        let dev = burn::tensor::Device::flex();
        let net = Net::new(&"mlp:16,8".parse().unwrap(), &[6], 3, 0, &dev).unwrap();
        let x = random_vec(5 * 6, 1.0, 4);
        let f = net_features(&net, &x, 5).unwrap();
        assert_eq!((f.rows, f.cols), (5, 8));
        // by hand from the PyTorch-layout weights: relu(W1 relu(W0 x + b0) + b1)
        let t = net.to_pytorch();
        let lin = |w: &NamedTensor, b: &NamedTensor, x: &[f32]| -> Vec<f32> {
            let (o, i) = (w.shape[0], w.shape[1]);
            (0..o).map(|r| ((0..i).map(|c| w.data[r * i + c] * x[c]).sum::<f32>() + b.data[r]).max(0.0)).collect()
        };
        for e in 0..5 {
            let h = lin(&t[0], &t[1], &x[e * 6..e * 6 + 6]);
            let h = lin(&t[2], &t[3], &h);
            for (a, b) in h.iter().zip(&f.data[e * 8..e * 8 + 8]) {
                assert!((a - b).abs() < 1e-5);
            }
        }
        assert!(f.data.iter().all(|&v| v >= 0.0));
        // on an autodiff device too, and through a Dataset
        let ad = Net::new(&"cnn:2,3".parse().unwrap(), &[1, 8, 8], 4, 0, &dev.clone().autodiff()).unwrap();
        let data = Dataset {
            name: "t".into(),
            example_shape: vec![1, 8, 8],
            features: random_vec(7 * 64, 1.0, 5).iter().map(|v| v.abs()).collect(),
            labels: vec![0; 7],
            classes: 4,
        };
        let f = net_features(&ad, &data.features, 7).unwrap();
        assert_eq!((f.rows, f.cols), (7, 3 * 2 * 2));
        let p = probe_net(&ad, &data, 100).unwrap();
        assert_eq!((p.examples, p.units), (7, 12));
        assert!(p.effective_rank >= 0.0 && p.effective_rank <= 7.0);
        assert!(net_features(&net, &x, 4).is_err());
    }

    #[test]
    fn a_400_by_784_weight_takes_well_under_a_second() {
        let w = random_vec(400 * 784, 0.05, 11);
        let t = std::time::Instant::now();
        let p = probe_weight("big", TensorRef::new(&[400, 784], &w), None);
        let dt = t.elapsed();
        eprintln!("400×784 probe: {dt:?}");
        assert!(p.effective_rank.unwrap() > 100.0);
        // generous bound: debug builds and busy CI machines
        assert!(dt.as_secs_f64() < if cfg!(debug_assertions) { 10.0 } else { 1.0 }, "{dt:?}");
    }
}

/// How a network treats the training examples whose label noise changed (see
/// [`noise_fit`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NoiseFit {
    /// Examples whose noisy label differs from the true one.
    pub noisy: usize,
    /// Among them, the fraction predicted as their noisy label: the noise the network has
    /// memorized.
    pub memorized: f64,
    /// Among them, the fraction predicted as their true label.
    pub true_predicted: f64,
    /// Accuracy against the true labels over the whole training set.
    pub clean_accuracy: f64,
}

/// The tail of a loss distribution: `train_loss_max`, `train_loss_q90`, `train_loss_q99` (the
/// nearest-rank quantiles: the ⌈q·n⌉-th smallest), `train_loss_cvar10` (the mean of the
/// ⌈n/10⌉ largest) and `train_loss_above_0.511` (the fraction above ln(1/0.6)). Empty input:
/// NaN.
pub fn loss_tail(losses: &[f64]) -> Vec<(String, f64)> {
    let n = losses.len();
    let mut v = losses.to_vec();
    v.sort_by(f64::total_cmp);
    let q = |p: f64| if n == 0 { f64::NAN } else { v[((p * n as f64).ceil() as usize).clamp(1, n) - 1] };
    let k = n.div_ceil(10);
    let cvar = if n == 0 { f64::NAN } else { v[n - k..].iter().sum::<f64>() / k as f64 };
    let eps = (1.0f64 / 0.6).ln();
    let above = if n == 0 { f64::NAN } else { v.iter().filter(|&&l| l > eps).count() as f64 / n as f64 };
    vec![
        ("train_loss_max".into(), if n == 0 { f64::NAN } else { v[n - 1] }),
        ("train_loss_q90".into(), q(0.9)),
        ("train_loss_q99".into(), q(0.99)),
        ("train_loss_cvar10".into(), cvar),
        ("train_loss_above_0.511".into(), above),
    ]
}

/// The fit of the noisy labels: `pred` the predicted classes, `noisy` the training labels the
/// network was given, `clean` the true ones (all of one length). With no changed label,
/// `memorized` and `true_predicted` are NaN.
pub fn noise_fit(pred: &[usize], noisy: &[u8], clean: &[u8]) -> NoiseFit {
    let (mut n, mut mem, mut tru, mut correct) = (0usize, 0usize, 0usize, 0usize);
    for ((&p, &y), &c) in pred.iter().zip(noisy).zip(clean) {
        correct += (p == c as usize) as usize;
        if y != c {
            n += 1;
            mem += (p == y as usize) as usize;
            tru += (p == c as usize) as usize;
        }
    }
    let frac = |k: usize| if n == 0 { f64::NAN } else { k as f64 / n as f64 };
    NoiseFit { noisy: n, memorized: frac(mem), true_predicted: frac(tru), clean_accuracy: correct as f64 / pred.len().max(1) as f64 }
}

#[cfg(test)]
mod noise_fit_tests {
    use super::*;

    #[test]
    fn counts_only_the_changed_labels() {
        // 6 examples, 3 changed (1, 3, 4): predicted noisy at 1, true at 3, neither at 4
        let clean = [0u8, 1, 2, 0, 1, 2];
        let noisy = [0u8, 2, 2, 1, 0, 2];
        let pred = [0usize, 2, 1, 0, 2, 2];
        let f = noise_fit(&pred, &noisy, &clean);
        assert_eq!(f.noisy, 3);
        assert!((f.memorized - 1.0 / 3.0).abs() < 1e-15 && (f.true_predicted - 1.0 / 3.0).abs() < 1e-15);
        assert!((f.clean_accuracy - 3.0 / 6.0).abs() < 1e-15);
        assert!(noise_fit(&pred, &clean, &clean).memorized.is_nan());
    }
}

/// Accuracy of the trainer's model on the first `r.examples` examples of `data` clean, under
/// FGSM (α = ε, from 0) and under PGD (`r.steps` steps, `r.restarts` restarts; an example counts
/// as robust only if every restart fails), ℓ∞ ball of radius `r.eps`, inputs clipped to [0, 1];
/// in chunks of 500 examples, the attacks seeded by the restart alone.
pub fn robust_accuracy(
    trainer: &reglab_train::trainer::Trainer,
    data: &Dataset,
    r: &crate::experiment::config::RobustProbe,
) -> Result<(f64, f64, f64), String> {
    use reglab_regularizers::adversarial::attack::Attack;
    let n = r.examples.min(data.len());
    if n == 0 {
        return Err(format!("{}: no examples to attack", data.name));
    }
    let (mut clean, mut fgsm, mut pgd) = (0usize, 0usize, 0usize);
    let idx: Vec<usize> = (0..n).collect();
    for chunk in idx.chunks(500) {
        let (x, y) = trainer.batch_tensors(data, chunk);
        let y = reglab_train::attack::labels_of(&y).map_err(|e| e.to_string())?;
        let (c, f) = reglab_train::attack::robust_correct(&trainer.net, &x, &y, &Attack::fgsm(r.eps), 0).map_err(|e| e.to_string())?;
        let (_, p) = reglab_train::attack::robust_correct(&trainer.net, &x, &y, &r.pgd(), 0).map_err(|e| e.to_string())?;
        clean += c.iter().filter(|v| **v).count();
        fgsm += f.iter().filter(|v| **v).count();
        pgd += p.iter().filter(|v| **v).count();
    }
    let n = n as f64;
    Ok((clean as f64 / n, fgsm as f64 / n, pgd as f64 / n))
}

#[cfg(test)]
mod loss_tail_tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn quantiles_cvar_and_the_fraction_above_by_hand() {
        // 20 losses 0.1, 0.2, …, 2.0 (shuffled): q90 = the 18th smallest = 1.8, q99 = the 20th =
        // 2.0, CVaR₁₀ = mean of the 2 largest = 1.95, above ln(1/0.6) ≈ 0.511: 0.6 … 2.0 = 15 of 20
        let mut l: Vec<f64> = (1..=20).map(|i| i as f64 / 10.0).collect();
        l.swap(0, 19);
        l.swap(3, 11);
        let t: BTreeMap<String, f64> = loss_tail(&l).into_iter().collect();
        assert_eq!(t["train_loss_max"], 2.0);
        assert_eq!(t["train_loss_q90"], 1.8);
        assert_eq!(t["train_loss_q99"], 2.0);
        assert!((t["train_loss_cvar10"] - 1.95).abs() < 1e-15);
        assert_eq!(t["train_loss_above_0.511"], 0.75);
        assert!(loss_tail(&[]).iter().all(|(_, v)| v.is_nan()));
    }
}
