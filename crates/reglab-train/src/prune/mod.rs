//! Pruning masks: a fixed 0/1 mask per layer weight that keeps the pruned entries at exactly 0.
//!
//! | spec | when the mask is made | which entries |
//! |---|---|---|
//! | `magnitude:sparsity=S:at=E` | end of epoch `E` (one-shot), then fine-tuning | smallest `\|w\|` ([`magnitude`]) |
//! | `magnitude:sparsity=S:schedule=gradual:start=E0:end=E1` | end of each epoch `E0 < e ≤ E1` | smallest `\|w\|`, cubic schedule |
//! | `random:sparsity=S[:density=uniform\|er\|erk]` | at initialisation, from the run's seed | uniformly random per layer ([`random`]) |
//!
//! Options: `scope=global|layer` (magnitude; default `global`), `skip_last=true` (leave the last
//! layer, the classifier, dense; default `false`: every layer weight is pruned). Biases are never
//! pruned. `S ∈ [0, 1)`.
//!
//! ## Exact counts
//! Let `n` be the number of entries of the pruned weights. Every mask zeroes exactly
//! `round(S·n)` of them (ties of `round` away from zero). `scope=global` ranks all entries
//! together; `scope=layer` and the random masks first give each layer its share of the zeros
//! (`S·n_l`, or `(1 − d_l)·n_l` for the random densities `d_l`) and round the shares to integers
//! that add up to `round(S·n)` (largest remainder, ties to the earlier layer), so a layer holds
//! `⌊S·n_l⌋` or `⌈S·n_l⌉` zeros. Ties in `|w|` go, in this order, to entries already pruned, then
//! to the earlier layer, then to the earlier entry in PyTorch order (`[out, in]` row-major).
//!
//! ## How masks act in a training step
//! 1. The gradients of the pruned entries (loss and regularizers) are set to 0 before the
//!    optimizer step.
//! 2. After the optimizer step and the proximal steps, the pruned weights are set to exactly 0.
//!
//! With a mask that exists from the start (random masks) the optimizer never sees a non-zero
//! gradient at a pruned entry, so Adam's moments (and SGD's momentum) of those entries stay
//! exactly 0 and the weights never move. A mask made during training (magnitude) finds moments
//! that are not 0: burn keeps the optimizer's state private, so reglab cannot zero them. They
//! decay (β₁ = 0.9 per step for Adam's first moment) and still push the pruned weights a little
//! each step; step 2 puts those weights back to 0 after every step, so they are 0 whenever the
//! model is evaluated, probed or saved, but the optimizer state is not that of a network trained
//! from a mask from the start.
//!
//! Masks go into checkpoints as `prune/<layer>.mask` (f32 0/1, PyTorch layout) beside the
//! regularizers' state, so a resumed run continues bit for bit. Cost per step: one elementwise
//! product over the masked gradients (`g ⊙ M`) and one over the masked weights (`W ⊙ M + 0`, the
//! `+ 0` making `−0` into `+0`), ≈ 0.15–0.25 ms on the 784-400-400-10 MLP against a ≈ 5–6 ms step
//! (`mask_cost_per_step`, an ignored test; `step/prune …` in the `train_step` bench).
//!
//! Pruning cannot be combined with a reparameterization (`--reparam`) yet: the trainer rejects the
//! configuration.

pub mod magnitude;
pub mod random;

use crate::model::{LayerInfo, LayerKind, LayerMut, Net};
use crate::reparam::Shape2;
use burn::module::{Module, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Tensor, TensorData};
use reglab_core::{Layout, NamedTensor};
use std::fmt;
use std::str::FromStr;

/// Rank all pruned layers together or each layer on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// One ranking of `|w|` over every pruned layer.
    Global,
    /// Each layer loses its share `S·n_l` of its own smallest entries.
    Layer,
}

/// When magnitude pruning happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// Once, at the end of epoch `at` (1-based), to the final sparsity.
    OneShot {
        /// Epoch at whose end the mask is made.
        at: usize,
    },
    /// Zhu & Gupta's cubic schedule, at the end of each epoch `start < e ≤ end`.
    Gradual {
        /// `t₀`: the schedule is 0 at the end of this epoch (0: before training).
        start: usize,
        /// `t₁`: the final sparsity is reached at the end of this epoch.
        end: usize,
    },
}

/// How the random masks' density is spread over the layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Density {
    /// The same density `1 − S` in every layer.
    Uniform,
    /// Erdős–Rényi: `d_l ∝ (n_in + n_out)/(n_in·n_out)`.
    Er,
    /// Erdős–Rényi-kernel: `d_l ∝ (c_in + c_out + kh + kw)/(c_in·c_out·kh·kw)`.
    Erk,
}

/// What makes the masks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Keep the largest `|w|`.
    Magnitude {
        /// Global or per-layer ranking.
        scope: Scope,
        /// One-shot or gradual.
        schedule: Schedule,
    },
    /// A fixed random mask at initialisation.
    Random {
        /// Per-layer densities.
        density: Density,
    },
}

/// A pruning spec (see the module documentation), parsed from e.g. `magnitude:sparsity=0.9:at=2`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PruneSpec {
    /// The method.
    pub method: Method,
    /// Final fraction of zeros among the pruned weights' entries, in `[0, 1)`.
    pub sparsity: f64,
    /// Leave the last layer dense.
    pub skip_last: bool,
}

impl FromStr for PruneSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = |why: String| format!("bad pruning spec `{s}`: {why}");
        let mut parts = s.trim().split(':');
        let name = parts.next().unwrap_or("").trim();
        let mut opts: Vec<(String, String)> = Vec::new();
        for p in parts {
            let (k, v) = p.split_once('=').ok_or_else(|| bad(format!("`{p}` is not key=value")))?;
            let k = k.trim().to_string();
            if opts.iter().any(|(o, _)| *o == k) {
                return Err(bad(format!("option `{k}` given twice")));
            }
            opts.push((k, v.trim().to_string()));
        }
        let mut take = |key: &str| opts.iter().position(|(k, _)| k == key).map(|i| opts.remove(i).1);
        let epoch = |key: &str, v: String| -> Result<usize, String> {
            v.parse::<usize>().map_err(|_| bad(format!("`{key}` must be an epoch (a non-negative integer), got `{v}`")))
        };
        let sparsity = match take("sparsity") {
            None => return Err(bad("`sparsity=S` is required, e.g. `magnitude:sparsity=0.9:at=2`".into())),
            Some(v) => v.parse::<f64>().map_err(|_| bad(format!("`sparsity` must be a number, got `{v}`")))?,
        };
        if !(0.0..1.0).contains(&sparsity) {
            return Err(bad(format!("`sparsity` must be in [0, 1), got {sparsity}")));
        }
        let skip_last = match take("skip_last").as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(v) => return Err(bad(format!("`skip_last` is `true` or `false`, got `{v}`"))),
        };
        let method = match name {
            "magnitude" => {
                let scope = match take("scope").as_deref() {
                    None | Some("global") => Scope::Global,
                    Some("layer") => Scope::Layer,
                    Some(v) => return Err(bad(format!("`scope` is `global` or `layer`, got `{v}`"))),
                };
                let (at, start, end) = (take("at"), take("start"), take("end"));
                let schedule = match take("schedule").as_deref() {
                    None | Some("oneshot") => {
                        if let Some(k) = [("start", &start), ("end", &end)].iter().find(|(_, v)| v.is_some()).map(|(k, _)| k) {
                            return Err(bad(format!("`{k}` is for schedule=gradual; one-shot pruning takes `at=E`")));
                        }
                        let at = epoch("at", at.ok_or_else(|| bad("one-shot pruning needs `at=E`, the epoch at whose end it prunes".into()))?)?;
                        if at == 0 {
                            return Err(bad("`at` must be ≥ 1 (epochs count from 1)".into()));
                        }
                        Schedule::OneShot { at }
                    }
                    Some("gradual") => {
                        if at.is_some() {
                            return Err(bad("`at` is for schedule=oneshot; gradual pruning takes `start=E0:end=E1`".into()));
                        }
                        let start = start.map(|v| epoch("start", v)).transpose()?.unwrap_or(0);
                        let end = epoch("end", end.ok_or_else(|| bad("gradual pruning needs `end=E1`, the epoch at whose end it reaches the sparsity".into()))?)?;
                        if end <= start {
                            return Err(bad(format!("`end` ({end}) must be after `start` ({start})")));
                        }
                        Schedule::Gradual { start, end }
                    }
                    Some(v) => return Err(bad(format!("`schedule` is `oneshot` or `gradual`, got `{v}`"))),
                };
                Method::Magnitude { scope, schedule }
            }
            "random" => {
                let density = match take("density").as_deref() {
                    None | Some("uniform") => Density::Uniform,
                    Some("er") => Density::Er,
                    Some("erk") => Density::Erk,
                    Some(v) => return Err(bad(format!("`density` is `uniform`, `er` or `erk`, got `{v}`"))),
                };
                Method::Random { density }
            }
            other => {
                return Err(bad(format!(
                    "unknown pruning method `{other}`; known: magnitude:sparsity=S[:scope=global|layer][:at=E][:schedule=oneshot|gradual][:start=E0:end=E1], random:sparsity=S[:density=uniform|er|erk] (both [:skip_last=true])"
                )));
            }
        };
        if let Some((k, _)) = opts.first() {
            return Err(bad(format!("unknown option `{k}`")));
        }
        Ok(PruneSpec { method, sparsity, skip_last })
    }
}

impl fmt::Display for PruneSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.method {
            Method::Magnitude { scope, schedule } => {
                let scope = if scope == Scope::Global { "global" } else { "layer" };
                write!(f, "magnitude:sparsity={}:scope={scope}", self.sparsity)?;
                match schedule {
                    Schedule::OneShot { at } => write!(f, ":at={at}")?,
                    Schedule::Gradual { start, end } => write!(f, ":schedule=gradual:start={start}:end={end}")?,
                }
            }
            Method::Random { density } => {
                let d = match density {
                    Density::Uniform => "uniform",
                    Density::Er => "er",
                    Density::Erk => "erk",
                };
                write!(f, "random:sparsity={}:density={d}", self.sparsity)?;
            }
        }
        if self.skip_last {
            write!(f, ":skip_last=true")?;
        }
        Ok(())
    }
}

impl TryFrom<String> for PruneSpec {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<PruneSpec> for String {
    fn from(p: PruneSpec) -> String {
        p.to_string()
    }
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

/// Fraction of entries exactly 0 over every layer weight of `net` (biases excluded), and the
/// same per layer (`<layer>.weight`).
pub fn weight_sparsity(net: &Net) -> (f64, Vec<(String, f64)>) {
    let (mut zeros, mut n) = (0usize, 0usize);
    let mut per = Vec::new();
    for (i, l) in net.layers().iter().enumerate() {
        let (w, _) = net.layer_data(i);
        let w: &[f32] = w.as_slice().expect("f32 weights");
        let z = w.iter().filter(|&&x| x == 0.0).count();
        zeros += z;
        n += w.len();
        per.push((l.weight_name(), if w.is_empty() { 0.0 } else { z as f64 / w.len() as f64 }));
    }
    (if n == 0 { 0.0 } else { zeros as f64 / n as f64 }, per)
}

/// Pruning masks bound to a model: per layer weight an optional 0/1 mask in the weight's
/// storage layout (burn's: `[in, out]` for a linear layer, `[out, in, kh, kw]` for a conv).
pub struct Masks {
    spec: PruneSpec,
    layers: Vec<LayerInfo>,
    shapes: Vec<Shape2>,
    /// Which layers the spec prunes.
    on: Vec<bool>,
    /// Per layer, the mask (1 keep, 0 pruned), once made.
    masks: Vec<Option<Vec<f32>>>,
    /// The same masks as f32 tensors on the model's (inner) device, to multiply the gradients
    /// and the weights by.
    fills: Vec<Option<Fill>>,
}

/// A 0/1 mask tensor of a linear (`[in, out]`) or conv (`[out, in, kh, kw]`) weight.
#[derive(Clone)]
enum Fill {
    D2(Tensor<2>),
    D4(Tensor<4>),
}

impl Masks {
    /// Bind `spec` to `net`. A random mask is drawn now from `seed` and applied to the weights;
    /// magnitude masks are made at epoch ends ([`Masks::end_of_epoch`]).
    pub fn new(spec: &PruneSpec, net: &mut Net, seed: u64) -> Result<Self, String> {
        let layers = net.layers();
        let n = layers.len();
        let on: Vec<bool> = (0..n).map(|i| !(spec.skip_last && i + 1 == n)).collect();
        if !on.iter().any(|&b| b) {
            return Err(format!("pruning `{spec}`: skip_last=true leaves no layer to prune (the model has {n} layer)"));
        }
        let shapes = layers.iter().map(Shape2::of).collect();
        let mut m = Masks { spec: spec.clone(), layers, shapes, on, masks: vec![None; n], fills: vec![None; n] };
        if let Method::Random { density } = spec.method {
            let idx = m.selected();
            let shapes: Vec<Vec<usize>> = idx.iter().map(|&i| m.layers[i].shape.clone()).collect();
            let drawn = random::random_masks(&shapes, spec.sparsity, density, seed);
            for (&i, pt) in idx.iter().zip(drawn) {
                m.masks[i] = Some(m.to_storage(i, &pt));
            }
            m.masks_changed(net)?;
        }
        Ok(m)
    }

    /// The spec.
    pub fn spec(&self) -> &PruneSpec {
        &self.spec
    }

    /// Indices of the layers the spec prunes.
    pub fn selected(&self) -> Vec<usize> {
        (0..self.layers.len()).filter(|&i| self.on[i]).collect()
    }

    /// Layer `i`'s mask (storage layout), if it has one.
    pub fn mask(&self, i: usize) -> Option<&[f32]> {
        self.masks.get(i).and_then(|m| m.as_deref())
    }

    /// A PyTorch-layout (`[out, in·kh·kw]` row-major) vector of layer `i` in storage layout.
    fn to_storage(&self, i: usize, pt: &[f32]) -> Vec<f32> {
        let s = self.shapes[i];
        match s.layout {
            Layout::RowMajor => pt.to_vec(),
            Layout::Transposed => reglab_core::linalg::transpose(pt, s.rows, s.cols),
        }
    }

    fn to_pytorch(&self, i: usize, st: &[f32]) -> Vec<f32> {
        let s = self.shapes[i];
        match s.layout {
            Layout::RowMajor => st.to_vec(),
            Layout::Transposed => reglab_core::linalg::transpose(st, s.cols, s.rows),
        }
    }

    /// Rebuild the boolean tensors after the masks changed, and zero the pruned weights.
    fn masks_changed(&mut self, net: &mut Net) -> Result<(), String> {
        let dev = net.devices().into_iter().next().ok_or("the model has no device")?.inner();
        for (i, m) in self.masks.iter().enumerate() {
            self.fills[i] = m.as_ref().map(|m| {
                let s = self.shapes[i];
                match self.layers[i].kind {
                    // burn's linear weight is [in, out]
                    LayerKind::Linear => Fill::D2(Tensor::<2>::from_data(TensorData::new(m.clone(), [s.cols, s.rows]), &dev)),
                    LayerKind::Conv2d => {
                        let d = &self.layers[i].shape;
                        Fill::D4(Tensor::<4>::from_data(TensorData::new(m.clone(), [d[0], d[1], d[2], d[3]]), &dev))
                    }
                }
            });
        }
        self.apply(net)
    }

    /// Set the gradients of the pruned entries to 0 (before the optimizer step): `g ← g ⊙ M`
    /// (exact ±0 for every finite gradient; an elementwise product is ~10× faster in burn's CPU
    /// backend than a `mask_fill`).
    pub fn mask_gradients(&self, net: &Net, grads: &mut GradientsParams) -> Result<(), String> {
        for (i, f) in self.fills.iter().enumerate() {
            let Some(f) = f else { continue };
            let (wid, _) = net.param_ids(i);
            let missing = || format!("no gradient for `{}`", self.layers[i].weight_name());
            match f {
                Fill::D2(m) => {
                    let g = grads.remove::<2>(wid).ok_or_else(missing)?;
                    grads.register::<2>(wid, g.mul(m.clone()));
                }
                Fill::D4(m) => {
                    let g = grads.remove::<4>(wid).ok_or_else(missing)?;
                    grads.register::<4>(wid, g.mul(m.clone()));
                }
            }
        }
        Ok(())
    }

    /// Set the pruned weights to exactly 0 (after the optimizer and proximal steps):
    /// `W ← W ⊙ M + 0` (the `+ 0` turns the `−0` of a pruned negative weight into `+0`; exact
    /// for every finite weight, kept weights unchanged).
    pub fn apply(&self, net: &mut Net) -> Result<(), String> {
        let mut layers = net.layer_muts();
        for (i, f) in self.fills.iter().enumerate() {
            match (f, &mut layers[i]) {
                (None, _) => {}
                (Some(Fill::D2(m)), LayerMut::Linear(l)) => zero_param(&mut l.weight, m),
                (Some(Fill::D4(m)), LayerMut::Conv(c)) => zero_param(&mut c.weight, m),
                _ => return Err(format!("pruning mask of `{}` does not fit the layer", self.layers[i].name)),
            }
        }
        Ok(())
    }

    /// The magnitude schedule at the end of epoch `epoch` (1-based): make the masks when it says
    /// so and zero the pruned weights. Random masks do nothing here.
    pub fn end_of_epoch(&mut self, net: &mut Net, epoch: usize) -> Result<(), String> {
        let Method::Magnitude { scope, schedule } = self.spec.method else {
            return Ok(());
        };
        let target = match schedule {
            Schedule::OneShot { at } if epoch == at => self.spec.sparsity,
            Schedule::Gradual { start, end } if epoch > start && epoch <= end => {
                magnitude::cubic_sparsity(self.spec.sparsity, start, end, epoch)
            }
            _ => return Ok(()),
        };
        let idx = self.selected();
        let data: Vec<TensorData> = idx.iter().map(|&i| net.layer_data(i).0).collect();
        let weights: Vec<Vec<f32>> = idx
            .iter()
            .zip(&data)
            .map(|(&i, d)| d.as_slice::<f32>().map(|w| self.to_pytorch(i, w)).map_err(|e| format!("{e:?}")))
            .collect::<Result<_, _>>()?;
        let prev: Vec<Option<Vec<f32>>> = idx.iter().map(|&i| self.masks[i].as_ref().map(|m| self.to_pytorch(i, m))).collect();
        let new = magnitude::magnitude_masks(
            &weights.iter().map(Vec::as_slice).collect::<Vec<_>>(),
            &prev.iter().map(Option::as_deref).collect::<Vec<_>>(),
            target,
            scope,
        );
        for (&i, pt) in idx.iter().zip(new) {
            self.masks[i] = Some(self.to_storage(i, &pt));
        }
        self.masks_changed(net)
    }

    /// The masks as `prune/<layer>.mask`, f32 0/1 in PyTorch layout (layers without a mask are
    /// absent).
    pub fn state(&self) -> Vec<NamedTensor> {
        self.masks
            .iter()
            .enumerate()
            .filter_map(|(i, m)| {
                m.as_ref().map(|m| NamedTensor::new(format!("prune/{}.mask", self.layers[i].name), self.layers[i].shape.clone(), self.to_pytorch(i, m)))
            })
            .collect()
    }

    /// Load [`Masks::state`] (the `prune/` tensors of a checkpoint) and zero the pruned weights.
    /// A random mask must be there; magnitude masks may be absent (before their epoch).
    pub fn load_state(&mut self, net: &mut Net, tensors: &[NamedTensor]) -> Result<(), String> {
        let mut masks = vec![None; self.layers.len()];
        for t in tensors {
            let i = self
                .layers
                .iter()
                .position(|l| t.name == format!("prune/{}.mask", l.name))
                .ok_or_else(|| format!("checkpoint mask `{}` names no layer of the model", t.name))?;
            if !self.on[i] {
                return Err(format!("checkpoint has `{}`, but `{}` does not prune that layer", t.name, self.spec));
            }
            if t.shape != self.layers[i].shape {
                return Err(format!("`{}` has shape {:?}, the model needs {:?}", t.name, t.shape, self.layers[i].shape));
            }
            if t.data.iter().any(|&x| x != 0.0 && x != 1.0) {
                return Err(format!("`{}` holds values other than 0 and 1", t.name));
            }
            masks[i] = Some(self.to_storage(i, &t.data));
        }
        let missing = match self.spec.method {
            Method::Random { .. } => self.selected().into_iter().find(|&i| masks[i].is_none()),
            Method::Magnitude { .. } => None,
        };
        if let Some(i) = missing {
            return Err(format!("checkpoint has no `prune/{}.mask` (saved without --prune?)", self.layers[i].name));
        }
        self.masks = masks;
        self.masks_changed(net)
    }
}

/// `W ⊙ M + 0` as the new value of a weight parameter (outside the autodiff graph: a fresh
/// leaf with the same id and trainability).
fn zero_param<const D: usize>(p: &mut Param<Tensor<D>>, keep: &Tensor<D>) {
    let old = std::mem::replace(p, Param::from_tensor(Tensor::<D>::empty([0; D], &keep.device())));
    *p = old.map(|t| {
        let grad = t.is_require_grad();
        let nt = Tensor::from_inner(t.inner().mul(keep.clone()).add_scalar(0.0));
        if grad { nt.require_grad() } else { nt }
    });
}

#[cfg(test)]
mod tests;
