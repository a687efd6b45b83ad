//! The diagonal Fisher information of a network's features, from per-example gradients: the
//! importance weights of `ewc` ([`reglab_regularizers::anchor::ewc`], where the choice of
//! likelihood is explained). [`label_fisher`]: the empirical Fisher of the classifier's
//! cross-entropy with the true labels, `F_i = (1/N) Σ_(x,y) (∂ℓ(x, y)/∂θ_i)²` (`fisher=labels`).
//!
//! ```text
//! F_i = (1/N) Σ_x Σ_k (∂f_k(x)/∂θ_i)²                    (exact: d backward passes per example)
//!     ≈ (1/(N·P)) Σ_x Σ_p (∂(ε_pᵀ f(x))/∂θ_i)²,  ε_p ∈ {±1}^d Rademacher   (P passes)
//! ```
//! `f(x) ∈ ℝ^d` the features the last layer reads ([`Net::features`]), each example alone (a
//! batch of one: the square of a batch's summed gradient is not the sum of the squares).
//! Entries of frozen layers (no gradient) are 0.

use crate::error::TrainError;
use crate::model::Net;
use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Tensor, TensorData};
use rand::{Rng, SeedableRng};
use reglab_core::{Dataset, NamedTensor};
use reglab_regularizers::anchor::ewc::Probes;

/// The diagonal Fisher of `net`'s features on the examples `idx` of `data` (inputs only),
/// PyTorch names and layout, one tensor per layer weight and bias. `seed` draws the probes.
pub fn feature_fisher(net: &Net, data: &Dataset, idx: &[usize], probes: Probes, seed: u64) -> Result<Vec<NamedTensor>, TrainError> {
    if idx.is_empty() {
        return Err(TrainError::Config("the Fisher needs at least one reference example".into()));
    }
    let device = net.devices().into_iter().next().ok_or_else(|| TrainError::Other("the model has no device".into()))?;
    let len = data.example_len();
    let mut acc: Vec<Vec<f64>> = crate::sharpness::shapes(net).iter().map(|s| vec![0.0; s.iter().product()]).collect();
    let mut add = |loss: Tensor<1>, net: &Net| -> Result<(), TrainError> {
        let grads = GradientsParams::from_grads(loss.backward(), net);
        let g = crate::sharpness::grads(net, &grads).map_err(TrainError::Other)?;
        for (a, gk) in acc.iter_mut().zip(&g) {
            for (ai, &gi) in a.iter_mut().zip(gk) {
                *ai += (gi as f64) * (gi as f64);
            }
        }
        Ok(())
    };
    for (e, &i) in idx.iter().enumerate() {
        if i >= data.len() {
            return Err(TrainError::Config(format!("reference example {i} is outside {} ({} examples)", data.name, data.len())));
        }
        let x = || Tensor::<2>::from_data(TensorData::new(data.example(i).to_vec(), [1, len]), &device);
        let d = net.features(x()).dims()[1];
        match probes {
            Probes::Exact => {
                for k in 0..d {
                    add(net.features(x()).slice([0..1, k..k + 1]).sum(), net)?;
                }
            }
            Probes::Random(p) => {
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x0f15_4e12_u64.wrapping_mul(e as u64 + 1));
                for _ in 0..p {
                    let eps: Vec<f32> = (0..d).map(|_| if rng.random::<bool>() { 1.0 } else { -1.0 }).collect();
                    let eps = Tensor::<2>::from_data(TensorData::new(eps, [1, d]), &device);
                    add((net.features(x()) * eps).sum(), net)?;
                }
            }
        }
    }
    // exact: the sum over k is the sum of the passes of one example, so divide by N; random: by N·P
    let denom = match probes {
        Probes::Exact => idx.len() as f64,
        Probes::Random(p) => (idx.len() * p) as f64,
    };
    let flat: Vec<Vec<f32>> = acc.iter().map(|a| a.iter().map(|&v| (v / denom) as f32).collect()).collect();
    Ok(crate::sharpness::to_pytorch(net, &flat))
}

/// The empirical Fisher of `net`'s cross-entropy on the examples `idx` of `data` with their
/// labels, `F_i = (1/N) Σ (∂ℓ(x, y)/∂θ_i)²`, one backward pass per example
/// ([`crate::prune::fish::empirical_fisher`], which FISH masks rank by); PyTorch names and
/// layout, one tensor per layer weight and bias, 0 for frozen layers.
pub fn label_fisher(net: &Net, data: &Dataset, idx: &[usize]) -> Result<Vec<NamedTensor>, TrainError> {
    let infos = net.layers();
    let trainable: Vec<usize> = (0..infos.len()).filter(|&i| net.layer_trainable(i)).collect();
    let fisher = crate::prune::fish::empirical_fisher(net, data, idx, &trainable, true).map_err(TrainError::Config)?;
    let mut by_layer: Vec<Option<crate::prune::fish::LayerFisher>> = vec![None; infos.len()];
    for (f, &i) in fisher.into_iter().zip(&trainable) {
        by_layer[i] = Some(f);
    }
    let f32s = |v: Vec<f64>| v.into_iter().map(|x| x as f32).collect::<Vec<f32>>();
    let mut out = Vec::new();
    for (l, f) in infos.iter().zip(by_layer) {
        let n: usize = l.shape.iter().product();
        let (w, b) = match f {
            Some(f) => (f32s(f.weight), f.bias.map(f32s)),
            None => (vec![0.0; n], None),
        };
        out.push(NamedTensor::new(l.weight_name(), l.shape.clone(), w));
        if l.has_bias {
            out.push(NamedTensor::new(l.bias_name(), vec![l.shape[0]], b.unwrap_or_else(|| vec![0.0; l.shape[0]])));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ModelSpec;
    use burn::tensor::Device;

    /// A tiny MLP (4 → 5 → 3 → 2) and 3 examples.
    fn tiny() -> (Net, Dataset) {
        let device = Device::flex().autodiff();
        let spec: ModelSpec = "mlp:5,3".parse().unwrap();
        let net = Net::new(&spec, &[4], 2, 7, &device).unwrap();
        let features: Vec<f32> = (0..12).map(|i| ((i * 5 % 7) as f32 - 3.0) * 0.4).collect();
        let data = Dataset { name: "tiny".into(), example_shape: vec![4], features, labels: vec![0, 1, 0], classes: 2 };
        (net, data)
    }

    /// `f(x)` (features) of `net` on example `i`, as f64.
    fn feats(net: &Net, data: &Dataset, i: usize) -> Vec<f64> {
        let x = Tensor::<2>::from_data(TensorData::new(data.example(i).to_vec(), [1, 4]), &Device::flex().autodiff());
        net.features(x).into_data().convert::<f32>().try_into_vec::<f32>().unwrap().into_iter().map(|v| v as f64).collect()
    }

    /// Brute force: the Jacobian of `f(net, example)` by central differences in each parameter
    /// entry, then (1/N) Σ_x Σ_k J_ki², PyTorch layout.
    fn brute_force(net: &Net, data: &Dataset, f: impl Fn(&Net, usize) -> Vec<f64>) -> Vec<NamedTensor> {
        let base = crate::sharpness::params(net).unwrap();
        let mut out: Vec<Vec<f64>> = base.iter().map(|(v, _)| vec![0.0; v.len()]).collect();
        let h = 1e-3f32;
        for (k, out_k) in out.iter_mut().enumerate() {
            for (j, out_kj) in out_k.iter_mut().enumerate() {
                let mut moved = net.clone();
                let delta = |s: f32| -> Vec<Vec<f32>> {
                    base.iter().enumerate().map(|(kk, (vv, _))| (0..vv.len()).map(|jj| if kk == k && jj == j { s } else { 0.0 }).collect()).collect()
                };
                for i in 0..data.len() {
                    crate::sharpness::set_params(&mut moved, &base, Some(&delta(h)));
                    let p = f(&moved, i);
                    crate::sharpness::set_params(&mut moved, &base, Some(&delta(-h)));
                    let m = f(&moved, i);
                    *out_kj += p.iter().zip(&m).map(|(a, b)| ((a - b) / (2.0 * h as f64)).powi(2)).sum::<f64>() / data.len() as f64;
                }
            }
        }
        let flat: Vec<Vec<f32>> = out.iter().map(|o| o.iter().map(|&x| x as f32).collect()).collect();
        crate::sharpness::to_pytorch(net, &flat)
    }

    /// `got` equals `want` entry by entry (central differences, h = 1e-3, of a piecewise-smooth
    /// map: exact away from ReLU kinks, up to f32 rounding), and is not mostly 0.
    fn assert_matches(got: &[NamedTensor], want: &[NamedTensor]) {
        assert_eq!(got.len(), want.len());
        let mut nonzero = 0;
        for (g, w) in got.iter().zip(want) {
            assert_eq!((&g.name, &g.shape), (&w.name, &w.shape));
            for (a, b) in g.data.iter().zip(&w.data) {
                assert!((a - b).abs() <= 5e-3 * (1.0 + b.abs()), "{}: {a} vs {b}", g.name);
                nonzero += (*b > 1e-6) as usize;
            }
        }
        assert!(nonzero > 10, "a Fisher that is mostly 0 tests nothing");
    }

    /// The label Fisher against central differences of each example's cross-entropy.
    #[test]
    fn label_fisher_equals_brute_force_squared_loss_gradients() {
        let (net, data) = tiny();
        let got = label_fisher(&net, &data, &[0, 1, 2]).unwrap();
        let ce = |net: &Net, i: usize| -> Vec<f64> {
            let x = Tensor::<2>::from_data(TensorData::new(data.example(i).to_vec(), [1, 4]), &Device::flex().autodiff());
            let z: Vec<f64> = net.forward(x).into_data().convert::<f32>().try_into_vec::<f32>().unwrap().into_iter().map(|v| v as f64).collect();
            let m = z.iter().cloned().fold(f64::MIN, f64::max);
            let lse = m + z.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
            vec![lse - z[data.labels[i] as usize]]
        };
        assert_matches(&got, &brute_force(&net, &data, ce));
        // unlike the features' Fisher, the head's is not 0
        assert!(got.iter().filter(|t| t.name.starts_with("layers.2")).any(|t| t.data.iter().any(|&v| v > 0.0)));
        assert!(label_fisher(&net, &data, &[]).is_err());
        assert!(label_fisher(&net, &data, &[5]).is_err());
    }

    #[test]
    fn exact_fisher_equals_a_brute_force_jacobian() {
        let (net, data) = tiny();
        let got = feature_fisher(&net, &data, &[0, 1, 2], Probes::Exact, 0).unwrap();
        assert_matches(&got, &brute_force(&net, &data, |n, i| feats(n, &data, i)));
        // the last layer (the head) does not move the features: its Fisher is 0
        assert!(got.iter().filter(|t| t.name.starts_with("layers.2")).all(|t| t.data.iter().all(|&v| v == 0.0)));
    }

    #[test]
    fn random_probes_are_unbiased_for_the_exact_fisher_and_seeded() {
        let (net, data) = tiny();
        let exact = feature_fisher(&net, &data, &[0, 1, 2], Probes::Exact, 0).unwrap();
        let mc = feature_fisher(&net, &data, &[0, 1, 2], Probes::Random(3000), 1).unwrap();
        let (mut num, mut den) = (0.0f64, 0.0f64);
        for (a, b) in mc.iter().zip(&exact) {
            for (x, y) in a.data.iter().zip(&b.data) {
                num += (*x as f64 - *y as f64).abs();
                den += *y as f64;
            }
        }
        // Rademacher probes: Var(g_i²) ≤ 2(Σ_k J_ki²)², so 3000 probes put the mean within a few
        // per cent; a wrong estimator (e.g. a missing square or a factor d) is off by far more
        assert!(num / den < 0.05, "relative L1 error {}", num / den);
        assert_eq!(
            feature_fisher(&net, &data, &[2, 0], Probes::Random(2), 5).unwrap(),
            feature_fisher(&net, &data, &[2, 0], Probes::Random(2), 5).unwrap()
        );
        assert!(feature_fisher(&net, &data, &[], Probes::Exact, 0).is_err());
        assert!(feature_fisher(&net, &data, &[3], Probes::Exact, 0).is_err());
    }
}
