//! Attacks on a reglab model: the perturbation `δ` of a batch by projected gradient ascent on a
//! per-example loss, with the gradient with respect to the input (or, for BERT, the embedding
//! output) from burn's autodiff. The attacks' math, specs and papers are in
//! [`reglab_regularizers::adversarial::attack`]; this file runs them on a [`Net`].
//!
//! The weights are held constant during an attack (a copy without parameter gradients, so the
//! backward passes compute only `∂ℓ/∂δ`), the forward passes are the evaluation ones (no
//! dropout), and on models whose input is the data (MLP, CNN) `x + δ` is clipped to the data
//! range `[0, 1]` ([`reglab_core::Dataset`]'s contract); on BERT `δ` is added to the embedding
//! output, unclipped.

use crate::error::TrainError;
use crate::model::Net;
use burn::module::Module;
use burn::tensor::{Int, Tensor, TensorData};
use reglab_regularizers::adversarial::arow::kl_to_clean;
use reglab_regularizers::adversarial::attack::{Attack, clip_to_range, cross_entropy_rows};

/// The data range of models whose input is the data.
pub const DATA_RANGE: (f32, f32) = (0.0, 1.0);

/// What an attack maximises per example.
#[derive(Debug, Clone, Copy)]
pub enum Objective<'a> {
    /// The cross-entropy of the labels.
    CrossEntropy,
    /// `KL(softmax(z)‖softmax(f(x + δ)))` to the given clean logits `z` (`[n, c]`; TRADES, ARoW).
    KlToClean(&'a [f32]),
}

/// An attack's result.
#[derive(Debug, Clone)]
pub struct Perturbed {
    /// `δ`, `[n, k]` row-major.
    pub delta: Vec<f32>,
    /// `[n, k]`.
    pub dims: [usize; 2],
    /// Logits at the first restart's start `x + δ⁰` (`[n, c]`).
    pub start_logits: Vec<f32>,
    /// The objective per example there.
    pub start_losses: Vec<f64>,
    /// Forward and backward passes spent.
    pub passes: usize,
}

/// A tensor's values on the host, row-major.
pub(crate) fn host(t: Tensor<2>) -> Result<Vec<f32>, TrainError> {
    t.into_data().convert::<f32>().try_into_vec::<f32>().map_err(|e| TrainError::Other(format!("{e:?}")))
}

/// The labels of a batch on the host.
pub fn labels_of(y: &Tensor<1, Int>) -> Result<Vec<usize>, TrainError> {
    let d = y.clone().into_data().convert::<i64>();
    Ok(d.try_into_vec::<i64>().map_err(|e| TrainError::Other(format!("{e:?}")))?.into_iter().map(|v| v as usize).collect())
}

/// Whether `δ` lives in the data space of `net` (and is clipped to [`DATA_RANGE`]).
pub fn on_inputs(net: &Net) -> bool {
    !matches!(net, Net::Bert(_))
}

fn objective(obj: Objective<'_>, z: &[f32], y: &[usize], c: usize) -> (Vec<f64>, Vec<f64>) {
    match obj {
        Objective::CrossEntropy => cross_entropy_rows(z, y, c),
        Objective::KlToClean(z0) => kl_to_clean(z0, z, c),
    }
}

/// `attack` on the batch `x` (`[n, d]`) with labels `y` against `net` at its current weights,
/// from `(seed, step)`. With several restarts each example keeps the `δ` of largest final loss.
pub fn perturb(net: &Net, x: &Tensor<2>, y: &[usize], attack: &Attack, obj: Objective<'_>, seed: u64, step: u64) -> Result<Perturbed, TrainError> {
    let frozen = net.clone().no_grad();
    let device = x.device();
    let [n, k] = net.delta_dims(x.clone());
    let clip = on_inputs(net);
    let xh = if clip { host(x.clone())? } else { Vec::new() };
    let mut best: Option<(Vec<f32>, Vec<f64>)> = None;
    let (mut start_logits, mut start_losses, mut passes) = (Vec::new(), Vec::new(), 0usize);
    for r in 0..attack.restarts {
        let mut delta = attack.start(n, k, seed, step, r);
        if clip {
            clip_to_range(&mut delta, &xh, DATA_RANGE.0, DATA_RANGE.1);
        }
        for t in 0..attack.steps {
            let d = Tensor::<2>::from_data(TensorData::new(delta.clone(), [n, k]), &device).require_grad();
            let z = frozen.forward_delta(x.clone(), d.clone());
            let zh = host(z.clone().detach())?;
            let c = zh.len() / n.max(1);
            let (losses, g) = objective(obj, &zh, y, c);
            if r == 0 && t == 0 {
                start_logits = zh;
                start_losses = losses;
            }
            let gt = Tensor::<2>::from_data(TensorData::new(g.iter().map(|&v| v as f32).collect::<Vec<_>>(), [n, c]), &device);
            let grads = (z * gt).sum().backward();
            let gd = d.grad(&grads).ok_or_else(|| TrainError::Other("attack: no gradient with respect to the perturbation".into()))?;
            attack.ascend(&mut delta, &host(gd)?, n);
            if clip {
                clip_to_range(&mut delta, &xh, DATA_RANGE.0, DATA_RANGE.1);
            }
            passes += 1;
        }
        if attack.restarts == 1 {
            best = Some((delta, Vec::new()));
            break;
        }
        // keep, per example, the δ of largest final loss
        let z = frozen.forward_delta(x.clone(), Tensor::<2>::from_data(TensorData::new(delta.clone(), [n, k]), &device));
        let zh = host(z)?;
        let (losses, _) = objective(obj, &zh, y, zh.len() / n.max(1));
        passes += 1;
        best = Some(match best {
            None => (delta, losses),
            Some((mut bd, mut bl)) => {
                for i in 0..n {
                    if losses[i] > bl[i] {
                        bl[i] = losses[i];
                        bd[i * k..(i + 1) * k].copy_from_slice(&delta[i * k..(i + 1) * k]);
                    }
                }
                (bd, bl)
            }
        });
    }
    let (delta, _) = best.expect("restarts ≥ 1");
    Ok(Perturbed { delta, dims: [n, k], start_logits, start_losses, passes })
}

/// `x + δ` as a tensor (models whose `δ` lives on the inputs).
pub fn apply(x: &Tensor<2>, p: &Perturbed) -> Tensor<2> {
    x.clone() + Tensor::<2>::from_data(TensorData::new(p.delta.clone(), p.dims), &x.device())
}

/// Accuracy of `net` on `x` (`[n, d]`, labels `y`) clean and under `attack`, counting an example
/// as robust only if every restart fails on it (restarts after the first attack only the
/// examples still classified correctly): `(clean correct, robust correct)` per example.
pub fn robust_correct(net: &Net, x: &Tensor<2>, y: &[usize], attack: &Attack, seed: u64) -> Result<(Vec<bool>, Vec<bool>), TrainError> {
    let n = y.len();
    let argmax = |z: &[f32], c: usize| -> Vec<usize> { z.chunks(c).map(crate::trainer::argmax).collect() };
    let frozen = net.clone().no_grad();
    let z = host(frozen.forward(x.clone()))?;
    let c = z.len() / n.max(1);
    let clean: Vec<bool> = argmax(&z, c).iter().zip(y).map(|(p, t)| p == t).collect();
    let mut robust = clean.clone();
    let single = Attack { restarts: 1, ..attack.clone() };
    for r in 0..attack.restarts {
        let idx: Vec<usize> = (0..n).filter(|&i| robust[i]).collect();
        if idx.is_empty() {
            break;
        }
        let xs = x
            .clone()
            .select(0, Tensor::<1, Int>::from_data(TensorData::new(idx.iter().map(|&i| i as i64).collect::<Vec<_>>(), [idx.len()]), &x.device()));
        let ys: Vec<usize> = idx.iter().map(|&i| y[i]).collect();
        let p = perturb(net, &xs, &ys, &single, Objective::CrossEntropy, seed, r as u64)?;
        let za = host(frozen.forward_delta(xs.clone(), Tensor::<2>::from_data(TensorData::new(p.delta, p.dims), &x.device())))?;
        for ((&i, pred), &t) in idx.iter().zip(argmax(&za, c)).zip(&ys) {
            if pred != t {
                robust[i] = false;
            }
        }
    }
    Ok((clean, robust))
}
