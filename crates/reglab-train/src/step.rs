//! The regularized step: the bridge between burn's gradients and reglab's regularizers.
//!
//! After `loss.backward()`, [`Regularization::add_gradients`] reads each regularized layer's
//! weights (plain f32, outside the autodiff graph), asks the [`RegSet`] for `λ_t ∇R`, and adds
//! it to the gradients by parameter id, as an optax-style gradient transformation. After the
//! optimizer step, [`Regularization::after_step`] runs the proximal steps (ℓ1 soft-threshold
//! and friends) in place. Nothing here enters the autodiff graph, which costs ≈0.1 ms per op.

use crate::error::TrainError;
use crate::model::{LayerInfo, Net};
use burn::module::ParamId;
use burn::optim::GradientsParams;
use burn::tensor::{Device, TensorData};
use reglab_core::{Evaluation, Layout, Mode, NamedTensor, RegSet, Role, Target, TargetGrad, TargetMut, TensorRef};

/// Regularizers bound to a model: initial-weight snapshots and which layers they touch.
pub struct Regularization {
    set: RegSet,
    b: Binding,
}

/// One layer's weight and optional bias, burn layout.
type LayerSnapshot = (Vec<f32>, Option<Vec<f32>>);

/// What the regularizers need to know of the model, apart from the regularizers themselves.
struct Binding {
    layers: Vec<LayerInfo>,
    names: Vec<(String, String)>,
    bias_shapes: Vec<[usize; 1]>,
    /// Snapshot (burn layout) per layer: weight, bias.
    init: Vec<LayerSnapshot>,
    /// Per layer: does any term act on the weight / the bias target?
    active: Vec<(bool, bool)>,
    prox_active: Vec<(bool, bool)>,
}

fn slice(d: &TensorData) -> &[f32] {
    d.as_slice::<f32>().expect("f32 parameters")
}

fn slice_mut(d: &mut TensorData) -> &mut [f32] {
    d.as_mut_slice::<f32>().expect("f32 parameters")
}

impl Regularization {
    /// Bind `set` to `net`. The anchor (W₀ of `l2-init`, `wasserstein-init`) is `net`'s current
    /// weights, or `anchor` (PyTorch-layout tensors named like the model's) when given.
    pub fn new(set: RegSet, net: &Net, anchor: Option<&[NamedTensor]>) -> Result<Self, String> {
        let layers = net.layers();
        let names: Vec<(String, String)> = layers.iter().map(|l| (l.weight_name(), l.bias_name())).collect();
        let bias_shapes: Vec<[usize; 1]> = layers.iter().map(|l| [l.shape[0]]).collect();
        let init = snapshot(net, anchor)?;
        let mut b = Binding { layers, names, bias_shapes, init, active: vec![], prox_active: vec![] };
        // Decide once which layers any term acts on (by name, role and shape only).
        let mut active = Vec::new();
        let mut prox_active = Vec::new();
        for i in 0..b.layers.len() {
            let zeros_w = vec![0.0f32; b.init[i].0.len()];
            let zeros_b = vec![0.0f32; b.layers[i].shape[0]];
            let (tw, tb) = b.targets_of(i, &zeros_w, Some(&zeros_b));
            let any = |t: &Target<'_>, prox: bool| {
                (0..set.terms().len()).any(|j| {
                    let r = &set.terms()[j].reg;
                    set.applies(j, t) && (!prox || r.has_prox() || r.has_post_step())
                })
            };
            let has_b = b.layers[i].has_bias;
            // frozen layers (a BERT encoder's, `train = head`) take no term: they never change
            let trains = net.layer_trainable(i);
            active.push((trains && any(&tw, false), trains && has_b && any(&tb, false)));
            prox_active.push((trains && any(&tw, true), trains && has_b && any(&tb, true)));
        }
        b.active = active;
        b.prox_active = prox_active;
        Ok(Self { set, b })
    }

    /// The regularizers.
    pub fn set(&self) -> &RegSet {
        &self.set
    }

    /// Mutable access (state loading).
    pub fn set_mut(&mut self) -> &mut RegSet {
        &mut self.set
    }

    /// Labels of the terms (for metrics).
    pub fn labels(&self) -> Vec<String> {
        self.set.labels()
    }

    /// Move the anchor to `net`'s current weights, or to `anchor` (PyTorch layout) when given
    /// (a continual stream's consolidation, or its restore from a checkpoint).
    pub fn set_anchor(&mut self, net: &Net, anchor: Option<&[NamedTensor]>) -> Result<(), String> {
        self.b.init = snapshot(net, anchor)?;
        Ok(())
    }

    /// The initial-weight snapshot in PyTorch layout (what `init.safetensors` holds).
    pub fn anchor_pytorch(&self) -> Vec<NamedTensor> {
        let mut out = Vec::new();
        for (i, l) in self.b.layers.iter().enumerate() {
            let (w, b) = &self.b.init[i];
            out.push(NamedTensor::new(l.weight_name(), l.shape.clone(), l.weight_to_pytorch(w)));
            if let Some(b) = b {
                out.push(NamedTensor::new(l.bias_name(), vec![b.len()], b.clone()));
            }
        }
        out
    }

    /// Add `λ_t ∇R` to `grads` (proximal terms excepted) and return `λ_t r_j` per term, at
    /// optimizer step `step` of `total`. The gradients of the layers concerned are checked on
    /// the host, where they are anyway, before and after the terms are added: a non-finite entry
    /// is an error naming the layer, the entry and whether it came from the loss or the terms.
    pub fn add_gradients(&mut self, net: &Net, grads: &mut GradientsParams, step: u64, total: u64) -> Result<Vec<f64>, TrainError> {
        if self.set.is_empty() {
            return Ok(vec![]);
        }
        let b = &self.b;
        let idx: Vec<usize> = (0..b.layers.len()).filter(|&i| b.active[i].0 || b.active[i].1).collect();
        // Values and gradients of the layers concerned, burn layout (the gradients are moved
        // out of `grads`, not copied).
        let data: Vec<(TensorData, Option<TensorData>)> = idx.iter().map(|&i| net.layer_data(i)).collect();
        let mut gw = Vec::with_capacity(idx.len());
        let mut gb = Vec::with_capacity(idx.len());
        for &i in &idx {
            let (wid, bid) = net.param_ids(i);
            gw.push(take(grads, wid, b.layers[i].shape.len(), &b.layers[i]).map_err(TrainError::Other)?);
            gb.push(match bid {
                Some(bid) => Some(take(grads, bid, 1, &b.layers[i]).map_err(TrainError::Other)?),
                None => None,
            });
        }
        // the first non-finite entry: (layer position in idx, bias?, entry, value); names are made
        // only then, so the check costs one pass over the buffers and nothing else
        let find = |gw: &[(TensorData, Device)], gb: &[Option<(TensorData, Device)>], scratch: Option<&[Vec<f32>]>| {
            for k in 0..idx.len() {
                let w = slice(&gw[k].0);
                if !all_finite(w) {
                    let j = w.iter().position(|x| !x.is_finite()).unwrap_or(0);
                    return Some((k, false, j, w[j]));
                }
                if let Some((g, _)) = &gb[k] {
                    let extra = scratch.map(|s| s[k].as_slice()).unwrap_or(&[]);
                    let v = slice(g);
                    let sum = |j: usize| v[j] + extra.get(j).copied().unwrap_or(0.0);
                    if let Some(j) = (0..v.len()).find(|&j| !sum(j).is_finite()) {
                        return Some((k, true, j, sum(j)));
                    }
                }
            }
            None
        };
        let error = |(k, bias, j, x): (usize, bool, usize, f32), from: String| {
            let l = &b.layers[idx[k]];
            let name = if bias { l.bias_name() } else { l.weight_name() };
            TrainError::non_finite(format!("the gradient of `{name}` (entry {j}, storage order; {from})"), x as f64)
        };
        if let Some(bad) = find(&gw, &gb, None) {
            return Err(error(bad, "from the loss, before the regularizers".into()));
        }
        // Bias targets get their own buffers, added below, to keep borrows disjoint.
        let mut bias_scratch: Vec<Vec<f32>> = idx.iter().map(|&i| vec![0.0f32; if b.active[i].1 { b.layers[i].shape[0] } else { 0 }]).collect();
        let ev = {
            let mut targets = Vec::with_capacity(2 * idx.len());
            let mut tgrads = Vec::with_capacity(2 * idx.len());
            for (k, &i) in idx.iter().enumerate() {
                let (w, bias) = &data[k];
                let (tw, tb) = b.targets_of(i, slice(w), bias.as_ref().map(slice));
                targets.push(tw);
                if b.active[i].1 {
                    targets.push(tb);
                }
            }
            let mut scratch = bias_scratch.iter_mut();
            for ((&i, g), gbias) in idx.iter().zip(gw.iter_mut()).zip(gb.iter_mut()) {
                tgrads.push(TargetGrad { weight: slice_mut(&mut g.0), bias: gbias.as_mut().map(|g| slice_mut(&mut g.0)) });
                let s = scratch.next().expect("one scratch per layer");
                if b.active[i].1 {
                    tgrads.push(TargetGrad { weight: s.as_mut_slice(), bias: None });
                }
            }
            self.set.eval(&targets, Some(&mut tgrads), step, total, Mode::Step, true).map_err(|e| TrainError::Other(e.to_string()))?
        };
        if let Some(bad) = find(&gw, &gb, Some(&bias_scratch)) {
            return Err(error(
                bad,
                format!("after the regularizers {}", self.set.labels().iter().map(|l| format!("`{l}`")).collect::<Vec<_>>().join(", ")),
            ));
        }
        for (k, &i) in idx.iter().enumerate() {
            let (wid, bid) = net.param_ids(i);
            let (g, dev) = gw[k].clone();
            crate::model::register_grad(grads, wid, g, &dev);
            if let (Some(bid), Some((mut g, dev))) = (bid, gb[k].take()) {
                for (x, s) in slice_mut(&mut g).iter_mut().zip(&bias_scratch[k]) {
                    *x += s;
                }
                crate::model::register_grad(grads, bid, g, &dev);
            }
        }
        Ok(ev.per_term)
    }

    /// Run the proximal steps and post-step transforms in place on the weights, after the
    /// optimizer step with learning rate `lr`; `seed` seeds post-step randomness.
    pub fn after_step(&mut self, net: &mut Net, lr: f64, step: u64, total: u64, seed: u64) -> Result<(), String> {
        if !self.set.has_after_step() {
            return Ok(());
        }
        let idx: Vec<usize> = (0..self.b.layers.len()).filter(|&i| self.b.prox_active[i].0 || self.b.prox_active[i].1).collect();
        let mut data: Vec<(TensorData, Option<TensorData>)> = idx.iter().map(|&i| net.layer_data(i)).collect();
        {
            let mut targets = Vec::new();
            for (&i, (w, b)) in idx.iter().zip(data.iter_mut()) {
                let l = &self.b.layers[i];
                let (wn, bn) = &self.b.names[i];
                if self.b.prox_active[i].0 {
                    targets.push(TargetMut { name: wn, role: Role::LayerWeight, shape: &l.shape, layout: l.layout(), weight: slice_mut(w) });
                }
                if let (true, Some(b)) = (self.b.prox_active[i].1, b.as_mut()) {
                    targets.push(TargetMut {
                        name: bn,
                        role: Role::Bias,
                        shape: &self.b.bias_shapes[i],
                        layout: Layout::RowMajor,
                        weight: slice_mut(b),
                    });
                }
            }
            self.set.after_step(&mut targets, lr, step, total, seed).map_err(|e| e.to_string())?;
        }
        for (&i, (w, b)) in idx.iter().zip(data) {
            if self.b.prox_active[i].0 {
                net.set_weight(i, w);
            }
            if let (true, Some(b)) = (self.b.prox_active[i].1, b) {
                net.set_bias(i, b);
            }
        }
        Ok(())
    }

    /// Evaluate every term on the current weights without gradients (`mode`: exact for reports),
    /// each at its strength `λ_t` of optimizer step `step` of `total` (schedules and `until`
    /// included), so a term reports `λ_t·r(θ)` as it acts at that step.
    pub fn evaluate(&mut self, net: &Net, mode: Mode, step: u64, total: u64) -> Result<Evaluation, String> {
        let data: Vec<(TensorData, Option<TensorData>)> = (0..self.b.layers.len()).map(|i| net.layer_data(i)).collect();
        let mut targets = Vec::new();
        for (i, (w, b)) in data.iter().enumerate() {
            let (tw, tb) = self.b.targets_of(i, slice(w), b.as_ref().map(slice));
            targets.push(tw);
            if self.b.layers[i].has_bias {
                targets.push(tb);
            }
        }
        self.set.eval(&targets, None, step, total, mode, false).map_err(|e| e.to_string())
    }
}

impl Binding {
    /// The weight target and the bias target of layer `i` on the given data (burn layout).
    fn targets_of<'a>(&'a self, i: usize, w: &'a [f32], b: Option<&'a [f32]>) -> (Target<'a>, Target<'a>) {
        let l = &self.layers[i];
        let (wn, bn) = &self.names[i];
        let (iw, ib) = &self.init[i];
        let bshape: &[usize] = &self.bias_shapes[i];
        let tw = Target {
            name: wn,
            role: Role::LayerWeight,
            weight: TensorRef { shape: &l.shape, layout: l.layout(), data: w },
            bias: b.map(|b| TensorRef { shape: bshape, layout: Layout::RowMajor, data: b }),
            init: Some(TensorRef { shape: &l.shape, layout: l.layout(), data: iw }),
        };
        let tb = Target {
            name: bn,
            role: Role::Bias,
            weight: TensorRef { shape: bshape, layout: Layout::RowMajor, data: b.unwrap_or(&[]) },
            bias: None,
            init: ib.as_deref().map(|ib| TensorRef { shape: bshape, layout: Layout::RowMajor, data: ib }),
        };
        (tw, tb)
    }
}

/// Every layer's weight and bias (burn layout) of `net`, or of `anchor` (PyTorch-layout tensors
/// named like the model's) when given: loaded into a copy of the model, so shapes are checked
/// and the layout conversion is the model's own.
fn snapshot(net: &Net, anchor: Option<&[NamedTensor]>) -> Result<Vec<LayerSnapshot>, String> {
    let copy;
    let src = match anchor {
        None => net,
        Some(tensors) => {
            let mut c = net.clone();
            c.load_pytorch(tensors).map_err(|e| format!("anchor checkpoint: {e}"))?;
            copy = c;
            &copy
        }
    };
    Ok((0..src.layers().len())
        .map(|i| {
            let (w, b) = src.layer_data(i);
            (slice(&w).to_vec(), b.as_ref().map(|b| slice(b).to_vec()))
        })
        .collect())
}

/// Whether every entry is finite: the largest exponent field is below all-ones (an integer max
/// the compiler vectorizes; no early exit, no float compare).
fn all_finite(v: &[f32]) -> bool {
    const EXP: u32 = 0x7f80_0000;
    v.iter().map(|x| x.to_bits() & EXP).max().unwrap_or(0) != EXP
}

fn take(grads: &mut GradientsParams, id: ParamId, rank: usize, l: &LayerInfo) -> Result<(TensorData, Device), String> {
    crate::model::remove_grad(grads, id, rank).ok_or_else(|| format!("no gradient for `{}`", l.name))
}
