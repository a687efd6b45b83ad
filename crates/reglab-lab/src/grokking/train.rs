//! The network and its full-batch training: a one-hidden-layer MLP with a quadratic activation
//! and no biases on one-hot pairs, AdamW on the mean squared error to one-hot targets, probed
//! every few steps (the recipe of Doshi et al.'s code, see [`super`]).

use super::data::ModularData;
use super::ipr::neuron_iprs;
use burn::module::{Module, Param, ParamId};
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use reglab_regularizers::stochastic::dropout::Dropout;
use serde::{Deserialize, Serialize};

/// `x = [onehot(a), onehot(b)] ∈ R^{2p}`, `h = W₁ᵀx` (`N` units), `f = W₂ᵀ (d ⊙ h)²` with a
/// dropout mask `d` in training (none in evaluation): burn layout, `w1` `[2p, N]`, `w2` `[N, p]`.
#[derive(Module, Debug)]
pub struct QuadraticMlp {
    /// Input weights `[2p, N]`: rows `0..p` read `a`, rows `p..2p` read `b`.
    pub w1: Param<Tensor<2>>,
    /// Output weights `[N, p]`.
    pub w2: Param<Tensor<2>>,
}

impl QuadraticMlp {
    /// Weights i.i.d. `N(0, std²)` from `seed` (`w1` first, row-major), on `device`.
    pub fn new(p: usize, width: usize, std: f64, seed: u64, device: &Device) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let normal = Normal::new(0.0, std).expect("a finite std");
        let mut draw = |n: usize| -> Vec<f32> { (0..n).map(|_| normal.sample(&mut rng) as f32).collect() };
        let w1 = Tensor::<2>::from_data(TensorData::new(draw(2 * p * width), [2 * p, width]), device);
        let w2 = Tensor::<2>::from_data(TensorData::new(draw(width * p), [width, p]), device);
        Self { w1: Param::initialized(ParamId::from(1), w1.require_grad()), w2: Param::initialized(ParamId::from(2), w2.require_grad()) }
    }

    /// The outputs `[n, p]` for the pairs whose `a` and `p + b` indices are `ia`, `ib`; `mask`
    /// (`[n, N]`) multiplies the hidden units before the square.
    pub fn forward(&self, ia: Tensor<1, Int>, ib: Tensor<1, Int>, mask: Option<Tensor<2>>) -> Tensor<2> {
        let w1 = self.w1.val();
        let h = w1.clone().select(0, ia) + w1.select(0, ib);
        let h = match mask {
            Some(m) => h * m,
            None => h,
        };
        (h.clone() * h).matmul(self.w2.val())
    }
}

/// How one run trains.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    /// Hidden units N.
    pub width: usize,
    /// Standard deviation of the initial weights.
    pub init_std: f64,
    /// Full-batch steps.
    pub steps: usize,
    /// Learning rate.
    pub lr: f64,
    /// AdamW's β₁, β₂.
    pub betas: (f64, f64),
    /// AdamW's decoupled weight decay (each step multiplies the weights by `1 − lr·wd`).
    pub weight_decay: f64,
    /// Dropout probability on the hidden units (0: none).
    pub dropout: f64,
    /// Probe every this many steps (and at step 0 and the last step).
    pub log_every: usize,
}

/// The probes at one step (evaluation mode: no dropout).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    /// Steps taken.
    pub step: usize,
    /// Training loss (mean squared error to the labels trained on, corrupted ones included).
    pub train_loss: f64,
    /// Accuracy on the uncorrupted training examples.
    pub train_acc_clean: f64,
    /// Share of the corrupted training examples predicted as their corrupted label (memorised);
    /// `None` without corrupted examples.
    pub train_acc_corrupted: Option<f64>,
    /// Share of the corrupted training examples predicted as their true label.
    pub corrupted_true_acc: Option<f64>,
    /// Accuracy on all training labels as trained on.
    pub train_acc: f64,
    /// Test accuracy.
    pub test_acc: f64,
    /// Mean over the hidden neurons of their Fourier IPR (see [`super::ipr`]).
    pub ipr_mean: f64,
    /// Share of hidden neurons with IPR ≥ 0.5 (most weight on one frequency).
    pub ipr_high: f64,
    /// `‖W₁‖² + ‖W₂‖²`.
    pub weight_norm2: f64,
}

/// A finished run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// The probes, in step order.
    pub probes: Vec<Probe>,
    /// Every hidden neuron's IPR at the end.
    pub final_ipr: Vec<f64>,
}

fn int_tensor(v: impl Iterator<Item = u32>, device: &Device) -> Tensor<1, Int> {
    let v: Vec<i64> = v.map(i64::from).collect();
    let n = v.len();
    Tensor::<1, Int>::from_data(TensorData::new(v, [n]), device)
}

fn host(t: Tensor<2>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_into_vec::<f32>().unwrap_or_default()
}

fn argmax_rows(v: &[f32], c: usize) -> Vec<u32> {
    v.chunks(c).map(|r| r.iter().enumerate().fold((0usize, f32::NEG_INFINITY), |b, (i, &x)| if x > b.1 { (i, x) } else { b }).0 as u32).collect()
}

/// Train one network on `data` from `seed` (initial weights and dropout masks) on `device` (an
/// autodiff device), calling `tick` after every step. The same seed gives the same probes bit
/// for bit on the same machine.
pub fn train(data: &ModularData, cfg: &TrainConfig, seed: u64, device: &Device, tick: &dyn Fn()) -> Result<RunResult, String> {
    let (p, n, width) = (data.p, data.train.len(), cfg.width);
    let mut model = QuadraticMlp::new(p, width, cfg.init_std, seed, device);
    let mut optim = AdamWConfig::new()
        .with_beta_1(cfg.betas.0 as f32)
        .with_beta_2(cfg.betas.1 as f32)
        .with_epsilon(1e-8)
        .with_weight_decay(cfg.weight_decay as f32)
        .init();
    let ia = int_tensor(data.train.iter().map(|q| q.0), device);
    let ib = int_tensor(data.train.iter().map(|q| p as u32 + q.1), device);
    let mut onehot = vec![0.0f32; n * p];
    for (i, &y) in data.train_labels.iter().enumerate() {
        onehot[i * p + y as usize] = 1.0;
    }
    let targets = Tensor::<2>::from_data(TensorData::new(onehot, [n, p]), device);
    let dropout = (cfg.dropout > 0.0).then_some(Dropout { p: cfg.dropout });
    let mut probes = Vec::new();
    // every neuron's IPR at the last probe, which is taken on the final weights
    let mut final_ipr = Vec::new();
    for step in 0..=cfg.steps {
        if step % cfg.log_every == 0 || step == cfg.steps {
            let (pr, iprs) = probe(&model.valid(), data, step);
            probes.push(pr);
            final_ipr = iprs;
        }
        if step == cfg.steps {
            break;
        }
        let mask = dropout.as_ref().map(|d| Tensor::<2>::from_data(TensorData::new(d.mask(n * width, seed, step as u64, 0), [n, width]), device));
        let diff = model.forward(ia.clone(), ib.clone(), mask) - targets.clone();
        let loss = (diff.clone() * diff).mean();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(cfg.lr, model, grads);
        tick();
    }
    let last = probes.last().ok_or("no probe")?;
    if !last.train_loss.is_finite() {
        return Err(format!("the training loss is {} at step {}: diverged (lower the learning rate)", last.train_loss, last.step));
    }
    Ok(RunResult { probes, final_ipr })
}

/// The probes of `model` (evaluation mode).
/// The probes at `step`, and every hidden neuron's IPR (of which the probe keeps the mean and
/// the high share).
fn probe(model: &QuadraticMlp, data: &ModularData, step: usize) -> (Probe, Vec<f64>) {
    let p = data.p;
    let device = model.w1.val().device();
    let outputs = |pairs: &[(u32, u32)]| -> Vec<f32> {
        let ia = int_tensor(pairs.iter().map(|q| q.0), &device);
        let ib = int_tensor(pairs.iter().map(|q| p as u32 + q.1), &device);
        host(model.forward(ia, ib, None))
    };
    let train_out = outputs(&data.train);
    let pred = argmax_rows(&train_out, p);
    let test_pred = argmax_rows(&outputs(&data.test), p);
    let mut loss = 0.0;
    for (i, row) in train_out.chunks(p).enumerate() {
        for (k, &v) in row.iter().enumerate() {
            let t = if k == data.train_labels[i] as usize { 1.0 } else { 0.0 };
            loss += (f64::from(v) - t).powi(2);
        }
    }
    let share = |hits: usize, of: usize| (of > 0).then(|| hits as f64 / of as f64);
    let (mut clean, mut clean_n, mut memo, mut bad_n, mut fixed, mut all) = (0, 0, 0, 0, 0, 0);
    for (i, &y) in pred.iter().enumerate() {
        all += usize::from(y == data.train_labels[i]);
        if data.corrupted[i] {
            bad_n += 1;
            memo += usize::from(y == data.train_labels[i]);
            fixed += usize::from(y == data.train_true[i]);
        } else {
            clean_n += 1;
            clean += usize::from(y == data.train_labels[i]);
        }
    }
    let test_hits = test_pred.iter().zip(&data.test_labels).filter(|(a, b)| a == b).count();
    let (w1, w2) = (host(model.w1.val()), host(model.w2.val()));
    let iprs = neuron_iprs(&w1, &w2, p, w2.len() / p);
    let norm2 = w1.iter().chain(&w2).map(|&v| f64::from(v) * f64::from(v)).sum();
    let pr = Probe {
        step,
        train_loss: loss / (data.train.len() * p) as f64,
        train_acc_clean: share(clean, clean_n).unwrap_or(f64::NAN),
        train_acc_corrupted: share(memo, bad_n),
        corrupted_true_acc: share(fixed, bad_n),
        train_acc: all as f64 / data.train.len() as f64,
        test_acc: test_hits as f64 / data.test.len() as f64,
        ipr_mean: iprs.iter().sum::<f64>() / iprs.len() as f64,
        ipr_high: iprs.iter().filter(|&&v| v >= 0.5).count() as f64 / iprs.len() as f64,
        weight_norm2: norm2,
    };
    (pr, iprs)
}
