//! `--prune fish:keep=K[:samples=N][:at=E][:biases=true|false][:skip_last=true]`: train only the
//! entries with the largest empirical Fisher information; freeze the others at their value.
//!
//! ## Formula
//! ```text
//! F̂_i = (1/N) Σ_{n=1..N} (∂ log p_θ(y_n | x_n) / ∂θ_i)²          (empirical Fisher, true labels)
//! M_i = 1[i is among the round(K·n) largest F̂]                  (one ranking over all masked tensors)
//! every step:  g ← g ⊙ M  (before the optimizer),   θ ← θ ⊙ M + θ_frozen ⊙ (1 − M)  (after it)
//! ```
//! Symbols: `θ` every entry of the masked tensors — the layer weights (PyTorch layout `[out, in]`
//! or `[out, in, kh, kw]`) and, with `biases=true` (the default), the layer biases `[out]`, of all
//! layers (all but the last with `skip_last=true`); `n` their number; `K ∈ (0, 1]` the fraction
//! that trains; `(x_n, y_n)` the first `N` examples of a seeded shuffle of the training set (`N` =
//! `samples`, default 1024, or the whole set if smaller); `log p_θ(y | x)` the log-softmax of the
//! logits at the true label, so `∂ log p / ∂θ` is minus the gradient of the cross-entropy of the
//! single example (a backward pass with a batch of one, as the official code does); `θ_frozen` the
//! values at the moment the mask is made. Ties in `F̂` go to the earlier tensor (PyTorch parameter
//! order: `layers.0.weight`, `layers.0.bias`, `layers.1.weight`, …), then to the earlier entry.
//!
//! The mask is made once: before the first optimizer step (`at=0`, the default: the mask of the
//! initialisation) or at the end of epoch `E` (`at=E`: `E` epochs of dense training, then sparse
//! training of the kept entries, which is the paper's setting of a pre-trained network fine-tuned
//! through a fixed mask).
//!
//! ## Freeze, not zero
//! FISH masks the *update*, not the weights: the entries outside the mask keep the value they had
//! when the mask was made (the official `SparseUpdateTrainer.training_step` multiplies `param.grad`
//! by the mask and nothing else). The mask's gradients are multiplied by `M` like those of the
//! other masks; after the optimizer and proximal steps the frozen entries are written back
//! (`θ ⊙ M + F` with `F = θ_frozen` outside the mask and `−0` inside, so that a kept entry is
//! returned bit for bit, `−0` included). With `at=0` the optimizer never sees a non-zero gradient
//! at a frozen entry, so Adam's moments and SGD's momentum stay 0 and the frozen entries do not
//! move at all; the write-back is still needed for AdamW, whose decoupled weight decay
//! `θ ← θ(1 − η·λ) − η·u` (burn's `AdamW`, like PyTorch's) shrinks every entry whatever its
//! gradient, for the proximal steps of regularizers, and for `at=E`, where the moments of the
//! dense epochs are not 0 (burn keeps them private, so they cannot be reset). The one case not
//! returned bit for bit: a frozen value that is exactly `−0` and was moved to a positive value by
//! the step comes back as `+0`.
//!
//! ## Versus the official code
//! varunnair18/FISH, `calculate_the_importance_label` and `create_mask_gradient`
//! (transformers/examples/text-classification/generate_masks.py) / `FisherMask.calculate_mask`
//! (cifar10-fast/fisher.py), with the scripts' `mask_method = label-square`:
//! - it sums the squared gradients without the `1/N`; the ranking is the same. It accumulates in
//!   f32; reglab accumulates in f64.
//! - it masks every parameter (`model.named_parameters()`), biases included: reglab's default
//!   `biases=true`. With `biases=false` the biases are outside the mask: they all train and `n`
//!   counts the weights only.
//! - it leaves the classifier (parameters named `classifier` / `fc`) fully trainable and keeps
//!   `int(K·n_all) − n_classifier` of the other entries, `n_all` counting the classifier. reglab
//!   ranks the classifier with the rest by default; `skip_last=true` leaves the last layer fully
//!   trainable, and then `K` is the fraction of the *other* layers' entries that train
//!   (`round(K·n)`, `n` without the last layer).
//! - it keeps `int(·)` (floor) entries; reglab `round(K·n)` (half away from zero), like its other
//!   masks.
//! - its samples are the first `N` of the data loader: in dataset order for GLUE (`shuffle=False`),
//!   of an unseeded shuffle for CIFAR-10. reglab takes the first `N` of a shuffle seeded from the
//!   run's seed ([`sample_indices`]) and saves the indices in checkpoints (`prune/fish.samples`).
//!
//! ## Cost
//! One forward and backward pass per sample (batch of one) and a pass over the gradients, once:
//! on the 784-400-400-10 MLP (478 410 parameters) `prune/fisher/128-samples` measured ≈ 0.4 ms
//! per sample (one noisy run, 2 shared cores). Per step, one elementwise product over the
//! masked gradients and a product and a sum over the masked parameters: `prune/mask-gradients/…`
//! and `prune/apply/…` measured 0.05–0.15 ms against the whole step, `step/prune fish:…`
//! (`cargo bench -p reglab-train --bench train_step`).
//! The per-example gradients of a linear layer are outer products, so `Σ_n g_n²` could be one
//! matrix product of squares over a batch; the batch-1 loop is kept because it is the definition,
//! works for every layer kind, and costs about one epoch once.
//!
//! ## Paper
//! Sung, Nair, Raffel, "Training Neural Networks with Fixed Sparse Masks", NeurIPS 2021
//! (Eq. 2 and §3; code github.com/varunnair18/FISH).

use crate::model::{LayerKind, Net};
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::GradientsParams;
use burn::tensor::{Int, Tensor, TensorData};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use reglab_core::Dataset;

/// Salt of the sample shuffle's random stream (apart from the initialisation's, the epochs' and
/// the random masks').
const SALT: u64 = 0x6669_7368_5f73_6d70;

/// `round(keep·n)`, the number of entries a FISH mask keeps trainable among `n`.
pub fn kept_for(keep: f64, n: usize) -> usize {
    ((keep * n as f64).round() as usize).min(n)
}

/// The Fisher samples: the first `min(n, len)` indices of a shuffle of `0..len` seeded from
/// `seed` (ChaCha8, the same shuffle as the training epochs' but its own stream).
pub fn sample_indices(len: usize, n: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ SALT);
    order.shuffle(&mut rng);
    order.truncate(n.min(len));
    order
}

/// `F̂` of one layer: the weight in PyTorch layout, and the bias if it is ranked.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerFisher {
    /// `F̂` of the weight, PyTorch layout (`[out, in]` or `[out, in, kh, kw]` row-major).
    pub weight: Vec<f64>,
    /// `F̂` of the bias `[out]`, when biases are ranked and the layer has one.
    pub bias: Option<Vec<f64>>,
}

fn transpose_f64(a: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    let mut t = vec![0.0; a.len()];
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = a[r * cols + c];
        }
    }
    t
}

fn add_squares(acc: &mut [f64], g: TensorData, what: &str) -> Result<(), String> {
    let g: &[f32] = g.as_slice().map_err(|e| format!("gradient of `{what}`: {e:?}"))?;
    if g.len() != acc.len() {
        return Err(format!("gradient of `{what}` has {} entries, expected {}", g.len(), acc.len()));
    }
    for (a, &g) in acc.iter_mut().zip(g) {
        let g = g as f64;
        *a += g * g;
    }
    Ok(())
}

/// The empirical Fisher `F̂ = (1/N) Σ_n (∂ log p(y_n | x_n)/∂θ)²` of the weights (and, with
/// `biases`, the biases) of the layers `layers` of `net`, over the examples `samples` of `data`:
/// one forward and backward pass of the cross-entropy per example (a batch of one), squares
/// accumulated in f64. `net` is the autodiff model; its parameters are not changed.
pub fn empirical_fisher(net: &Net, data: &Dataset, samples: &[usize], layers: &[usize], biases: bool) -> Result<Vec<LayerFisher>, String> {
    if samples.is_empty() {
        return Err("the Fisher estimate needs at least one example".into());
    }
    let device = net.devices().into_iter().next().ok_or("the model has no device")?;
    let infos = net.layers();
    if let Some(&i) = layers.iter().find(|&&i| i >= infos.len()) {
        return Err(format!("layer {i} does not exist (the model has {})", infos.len()));
    }
    let d = data.example_len();
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    // accumulators in storage layout (burn's linear weight is [in, out])
    let mut acc: Vec<(Vec<f64>, Option<Vec<f64>>)> = layers
        .iter()
        .map(|&i| {
            let n: usize = infos[i].shape.iter().product();
            (vec![0.0; n], (biases && infos[i].has_bias).then(|| vec![0.0; infos[i].shape[0]]))
        })
        .collect();
    for &s in samples {
        if s >= data.len() {
            return Err(format!("sample {s} is outside the {} examples of `{}`", data.len(), data.name));
        }
        let x = Tensor::<2>::from_data(TensorData::new(data.example(s).to_vec(), [1, d]), &device);
        let y = Tensor::<1, Int>::from_data(TensorData::new(vec![data.labels[s] as i64], [1]), &device);
        let loss = loss_fn.forward(net.forward(x), y);
        let mut grads = GradientsParams::from_grads(loss.backward(), net);
        for (a, &i) in acc.iter_mut().zip(layers) {
            let (wid, bid) = net.param_ids(i);
            let wname = infos[i].weight_name();
            let g = crate::model::remove_grad(&mut grads, wid, infos[i].shape.len())
                .map(|(d, _)| d)
                .ok_or_else(|| format!("no gradient for `{wname}`"))?;
            add_squares(&mut a.0, g, &wname)?;
            if let Some(b) = a.1.as_mut() {
                let bname = infos[i].bias_name();
                let g = bid.and_then(|id| grads.remove::<1>(id)).ok_or_else(|| format!("no gradient for `{bname}`"))?;
                add_squares(b, g.into_data(), &bname)?;
            }
        }
    }
    let inv = 1.0 / samples.len() as f64;
    let mut out = Vec::with_capacity(layers.len());
    for ((w, b), &i) in acc.into_iter().zip(layers) {
        let info = &infos[i];
        let mut w = match info.kind {
            LayerKind::Linear => transpose_f64(&w, info.shape[1], info.shape[0]),
            _ => w,
        };
        w.iter_mut().for_each(|x| *x *= inv);
        let b = b.map(|mut b| {
            b.iter_mut().for_each(|x| *x *= inv);
            b
        });
        for (v, name) in [(Some(&w), info.weight_name()), (b.as_ref(), info.bias_name())] {
            if let Some(j) = v.and_then(|v| v.iter().position(|x| !x.is_finite())) {
                return Err(format!("the empirical Fisher of `{name}` is not finite at entry {j} (the loss or its gradient overflowed)"));
            }
        }
        out.push(LayerFisher { weight: w, bias: b });
    }
    Ok(out)
}

/// 0/1 masks keeping the `k` largest values of `scores` (several tensors ranked together; each
/// mask in its tensor's layout). Ties go to the earlier tensor, then to the earlier entry.
/// Scores must not be NaN (the Fisher is checked before).
pub fn top_k_masks(scores: &[&[f64]], k: usize) -> Vec<Vec<f32>> {
    let mut out: Vec<Vec<f32>> = scores.iter().map(|s| vec![0.0f32; s.len()]).collect();
    let mut all: Vec<(f64, u32, u32)> =
        scores.iter().enumerate().flat_map(|(t, s)| s.iter().enumerate().map(move |(j, &v)| (v, t as u32, j as u32))).collect();
    let k = k.min(all.len());
    if k == 0 {
        return out;
    }
    let order = |a: &(f64, u32, u32), b: &(f64, u32, u32)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2));
    if k < all.len() {
        all.select_nth_unstable_by(k - 1, order);
    }
    for &(_, t, j) in &all[..k] {
        out[t as usize][j as usize] = 1.0;
    }
    out
}
