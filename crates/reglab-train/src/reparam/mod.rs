//! Reparameterizations: the layer computes with an effective weight `W = f(P, e)` of a stored
//! parameter `P` (same shape as `W`) and a few extra parameters `e` (gains, multipliers).
//!
//! | spec | `W` | extras | paper |
//! |---|---|---|---|
//! | `weight-norm` | `W_i = g_i · P_i / ‖P_i‖` per row (unit) | `g ∈ R^out` | [`weight_norm`] |
//! | `spectral-norm` | `W = P / σ_max(P)` (persistent power iteration) | – | [`spectral_norm`] |
//! | `multipliers[:scalar]` | `W = s · P` | `s ∈ R` | [`multipliers`] |
//! | `multipliers:rowcol` | `W = diag(r) · P · diag(c)` | `r ∈ R^out`, `c ∈ R^in` | [`multipliers`] |
//! | `centered-norm` | `W_i = (P_i − mean P_i) / ‖P_i − mean P_i‖` per row, hidden layers only | – | [`centered_norm`] |
//! | `lawn:free=E:layers=K` | `W = P`; after `E` epochs the last `K` layers keep their norm | – | [`lawn`] |
//!
//! Rows are units (`[out, in]`, a convolution `[out, in, kh, kw]` read as `[out, in·kh·kw]`).
//!
//! ## How it runs (no extra autodiff ops)
//! Like the regularizers, the reparameterization is computed on plain f32 buffers outside the
//! autodiff graph. Between steps the model's weight parameters hold the **effective** weights
//! `W`, so evaluation, probes, checkpoints (`model.safetensors`, PyTorch names and layout) and
//! `reglab inspect` all see what the layer computes with. A training step:
//! 1. forward and backward with `W` as the weight parameter: autodiff gives `∇_W L`;
//! 2. the regularizers add `λ∇R(W)` (they act on the effective weights);
//! 3. [`Reparam::backward`] maps `∇_W` to `∇_P` and `∇_e` by the chain rule, puts `P` back into
//!    the weight parameter (same parameter id, so the optimizer's moments follow `P`);
//! 4. the optimizer steps `P` (and, with its own instance without weight decay, `e`);
//!    proximal steps act on `P`;
//! 5. [`Reparam::after_step`] reads `P`, applies the reparameterization's own projection
//!    (LAWN), computes the new `W` and stores it in the model.
//!
//! Checkpoints keep `P`, `e` and the persistent state (power-iteration vectors, LAWN norms)
//! under `reparam/…` names beside the regularizers' state, so a resumed run continues bit for
//! bit.

pub mod centered_norm;
pub mod lawn;
pub mod multipliers;
pub mod spectral_norm;
pub mod weight_norm;

use crate::model::{LayerInfo, Net};
use burn::module::{Module, Param, ParamId};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor, TensorData};
use reglab_core::{Layout, NamedTensor};
use reglab_regularizers::registry::CatalogEntry;
use std::fmt;
use std::str::FromStr;

/// The reparameterizations, for the catalog ([`crate::catalog`], `reglab list`): `--reparam
/// NAME[:OPTIONS]` (or `reparam = "…"` in experiment files). They are parsed by
/// [`ReparamSpec`], so the entries carry no builder.
pub const CATALOG: &[CatalogEntry<()>] = &[
    CatalogEntry {
        name: "weight-norm",
        family: "reparameterization",
        formula: "W_i = g_i·v_i/‖v_i‖ per unit; data-dependent init of g and the bias",
        paper: "Salimans & Kingma, Weight Normalization: A Simple Reparameterization to Accelerate Training of Deep Neural Networks, NeurIPS 2016",
        options: "init=data (none: no data-dependent init)",
        build: (),
    },
    CatalogEntry {
        name: "spectral-norm",
        family: "reparameterization",
        formula: "W = P/σ_max(P), one power-iteration step per update (persistent vectors)",
        paper: "Miyato, Kataoka, Koyama, Yoshida, Spectral Normalization for Generative Adversarial Networks, ICLR 2018",
        options: "",
        build: (),
    },
    CatalogEntry {
        name: "multipliers",
        family: "reparameterization",
        formula: "W = s·P (scalar) or diag(r)·P·diag(c) (rowcol); the multipliers train without weight decay",
        paper: "Learnable Multipliers: Freeing the Scale of Language Model Matrix Layers, 2025 (catalog #19)",
        options: "scalar | rowcol (default scalar)",
        build: (),
    },
    CatalogEntry {
        name: "centered-norm",
        family: "reparameterization",
        formula: "W_i = (P_i − mean P_i)/‖P_i − mean P_i‖ per unit of the hidden layers (the output layer is left alone)",
        paper: "Keskinen, Hard ASH: Sparsity and the right optimizer make a continual learner, 2024 (the official code's weight normalisation)",
        options: "",
        build: (),
    },
    CatalogEntry {
        name: "lawn",
        family: "reparameterization",
        formula: "after E epochs the last K layers keep their Frobenius norm (tangent gradient, renormalized)",
        paper: "Gupta, Ramanath, Shi, Ramachandran, Zhou, Zhou, Keerthi, Logit Attenuating Weight Normalization, arXiv 2108.05839, 2021",
        options: "free=E (epochs before the constraint), layers=K",
        build: (),
    },
];

/// A reparameterization, parsed from its spec (see the module documentation).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum ReparamSpec {
    /// Weight normalization with the data-dependent initialisation.
    WeightNorm {
        /// Run the data-dependent initialisation of `g` and the bias (default true).
        data_init: bool,
    },
    /// Spectral normalization.
    SpectralNorm,
    /// Learnable multipliers.
    Multipliers {
        /// Per row and column (`true`) or one scalar per layer.
        rowcol: bool,
    },
    /// Centred unit-norm rows on the hidden layers.
    CenteredNorm,
    /// Logit-attenuating weight normalization.
    Lawn {
        /// Epochs of free training before the norms are frozen.
        free_epochs: usize,
        /// How many of the final layers are constrained.
        layers: usize,
    },
}

impl FromStr for ReparamSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let mut parts = s.trim().split(':');
        let name = parts.next().unwrap_or("").trim();
        let mut opts: Vec<(String, String)> = Vec::new();
        let mut flags: Vec<String> = Vec::new();
        for p in parts {
            match p.split_once('=') {
                Some((k, v)) => opts.push((k.trim().to_string(), v.trim().to_string())),
                None => flags.push(p.trim().to_string()),
            }
        }
        let bad = |why: String| Err(format!("bad reparameterization `{s}`: {why}"));
        let take_usize = |opts: &mut Vec<(String, String)>, key: &str, default: usize| -> Result<usize, String> {
            match opts.iter().position(|(k, _)| k == key) {
                None => Ok(default),
                Some(i) => {
                    let (_, v) = opts.remove(i);
                    v.parse().map_err(|_| format!("bad reparameterization `{s}`: `{key}` must be a non-negative integer, got `{v}`"))
                }
            }
        };
        let spec = match name {
            "weight-norm" => {
                let mut data_init = true;
                if let Some(i) = opts.iter().position(|(k, _)| k == "init") {
                    let (_, v) = opts.remove(i);
                    data_init = match v.as_str() {
                        "data" => true,
                        "none" => false,
                        other => return bad(format!("`init` is `data` or `none`, got `{other}`")),
                    };
                }
                ReparamSpec::WeightNorm { data_init }
            }
            "spectral-norm" => ReparamSpec::SpectralNorm,
            "centered-norm" => ReparamSpec::CenteredNorm,
            "multipliers" => {
                let rowcol = match flags.pop().as_deref() {
                    None | Some("scalar") => false,
                    Some("rowcol") => true,
                    Some(other) => return bad(format!("multipliers are `scalar` or `rowcol`, got `{other}`")),
                };
                ReparamSpec::Multipliers { rowcol }
            }
            "lawn" => {
                let free_epochs = take_usize(&mut opts, "free", 1)?;
                let layers = take_usize(&mut opts, "layers", 1)?;
                if layers == 0 {
                    return bad("`layers` must be ≥ 1".into());
                }
                ReparamSpec::Lawn { free_epochs, layers }
            }
            other => {
                return bad(format!(
                    "unknown reparameterization `{other}`; known: weight-norm[:init=data|none], spectral-norm, centered-norm, multipliers[:scalar|rowcol], lawn[:free=E:layers=K]"
                ));
            }
        };
        if let Some((k, _)) = opts.first() {
            return bad(format!("unknown option `{k}`"));
        }
        if let Some(f) = flags.first() {
            return bad(format!("unexpected `{f}`"));
        }
        Ok(spec)
    }
}

impl fmt::Display for ReparamSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReparamSpec::WeightNorm { data_init: true } => write!(f, "weight-norm"),
            ReparamSpec::WeightNorm { data_init: false } => write!(f, "weight-norm:init=none"),
            ReparamSpec::SpectralNorm => write!(f, "spectral-norm"),
            ReparamSpec::CenteredNorm => write!(f, "centered-norm"),
            ReparamSpec::Multipliers { rowcol: false } => write!(f, "multipliers:scalar"),
            ReparamSpec::Multipliers { rowcol: true } => write!(f, "multipliers:rowcol"),
            ReparamSpec::Lawn { free_epochs, layers } => write!(f, "lawn:free={free_epochs}:layers={layers}"),
        }
    }
}

impl TryFrom<String> for ReparamSpec {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<ReparamSpec> for String {
    fn from(r: ReparamSpec) -> String {
        r.to_string()
    }
}

/// A matrix view of one layer's weight: `rows = out`, `cols = in·kh·kw`, in its storage layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape2 {
    /// Output units.
    pub rows: usize,
    /// Fan-in.
    pub cols: usize,
    /// Storage layout.
    pub layout: Layout,
}

impl Shape2 {
    /// Of a layer.
    pub fn of(l: &LayerInfo) -> Self {
        Shape2 { rows: l.shape[0], cols: l.shape[1..].iter().product(), layout: l.layout() }
    }
    /// Storage index of `(row, col)`.
    #[inline]
    pub fn at(&self, i: usize, j: usize) -> usize {
        match self.layout {
            Layout::RowMajor => i * self.cols + j,
            Layout::Transposed => j * self.rows + i,
        }
    }
    /// Call `f(row, col, storage index)` for every entry, in storage order (contiguous).
    #[inline]
    pub fn each(&self, mut f: impl FnMut(usize, usize, usize)) {
        match self.layout {
            Layout::RowMajor => {
                for i in 0..self.rows {
                    for j in 0..self.cols {
                        f(i, j, i * self.cols + j);
                    }
                }
            }
            Layout::Transposed => {
                for j in 0..self.cols {
                    for i in 0..self.rows {
                        f(i, j, j * self.rows + i);
                    }
                }
            }
        }
    }
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.rows * self.cols
    }
    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Squared norm of each row, in f64.
    pub fn row_sq_norms(&self, p: &[f32]) -> Vec<f64> {
        let mut n = vec![0.0f64; self.rows];
        match self.layout {
            Layout::RowMajor => {
                for (i, r) in p.chunks_exact(self.cols.max(1)).enumerate().take(self.rows) {
                    n[i] = reglab_core::linalg::sum_sq(r);
                }
            }
            Layout::Transposed => {
                for c in p.chunks_exact(self.rows.max(1)) {
                    for (acc, &x) in n.iter_mut().zip(c) {
                        *acc += (x as f64) * (x as f64);
                    }
                }
            }
        }
        n
    }
}

/// One reparameterization's arithmetic on one layer at a time.
pub trait Rule: Send {
    /// Number of extra parameters of a layer (0: none).
    fn extras_len(&self, s: Shape2) -> usize;
    /// Initial extras such that `W = P` at the start.
    fn init_extras(&self, s: Shape2, p: &[f32], e: &mut [f32]);
    /// `W = f(P, e)` for layer `layer`. `advance`: iterative state (power iteration) takes its
    /// step; `false` recomputes `W` from the current state (after loading a checkpoint).
    fn forward(&mut self, layer: usize, s: Shape2, p: &[f32], e: &[f32], w: &mut [f32], advance: bool);
    /// Given `gw = ∇_W`, write `gp = ∇_P` and `ge = ∇_e` (overwriting), using the state of the
    /// last [`Rule::forward`] of this layer.
    #[allow(clippy::too_many_arguments)] // inputs and outputs of the chain rule, all needed
    fn backward(&mut self, layer: usize, s: Shape2, p: &[f32], e: &[f32], gw: &[f32], gp: &mut [f32], ge: &mut [f32]);
    /// After the optimizer step `step` (0-based), before the new `W` is computed: a projection
    /// of `P` (LAWN). Default: none.
    fn after_step(&mut self, layer: usize, s: Shape2, p: &mut [f32], step: u64) {
        let _ = (layer, s, p, step);
    }
    /// Persistent state (e.g. power-iteration vectors), named.
    fn state(&self) -> Vec<NamedTensor> {
        vec![]
    }
    /// Load what [`Rule::state`] gave.
    fn load_state(&mut self, tensors: &[NamedTensor]) -> Result<(), String> {
        let _ = tensors;
        Ok(())
    }
    /// Told the steps per epoch once the data is known.
    fn set_steps_per_epoch(&mut self, n: usize) {
        let _ = n;
    }
}

/// The extra parameters as a burn module (so burn's optimizers update them).
#[derive(Module, Debug)]
pub struct Extras {
    /// One flat vector per layer (empty layers hold a length-1 dummy that never gets a gradient).
    pub e: Vec<Param<Tensor<1>>>,
}

/// A reparameterization bound to a model.
pub struct Reparam {
    spec: ReparamSpec,
    rule: Box<dyn Rule>,
    layers: Vec<LayerInfo>,
    shapes: Vec<Shape2>,
    /// Per layer: does the reparameterization act on it?
    on: Vec<bool>,
    /// `P` per layer (storage layout of the weight), empty for layers it does not act on.
    p: Vec<Vec<f32>>,
    extras: Option<Extras>,
    optim: ModuleOptimizer,
    /// Whether the data-dependent initialisation still has to run.
    pending_data_init: bool,
    device: Device,
}

/// Parameter ids of the extras: after every model parameter (models use small ids from 1).
const EXTRAS_ID_BASE: u64 = 1 << 40;

impl Reparam {
    /// Bind `spec` to `net`: `P` = the current weights, extras such that `W = P`.
    /// `optim` is the training optimizer's spec (the extras get the same, without weight decay).
    pub fn new(spec: &ReparamSpec, net: &mut Net, optim: &crate::optim::OptimSpec, device: &Device) -> Result<Self, String> {
        let layers = net.layers();
        let n = layers.len();
        let (rule, on): (Box<dyn Rule>, Vec<bool>) = match spec {
            ReparamSpec::WeightNorm { .. } => (Box::new(weight_norm::WeightNorm), vec![true; n]),
            ReparamSpec::SpectralNorm => (Box::new(spectral_norm::SpectralNorm::new(&layers)), vec![true; n]),
            ReparamSpec::CenteredNorm => {
                if n < 2 {
                    return Err("centered-norm acts on the hidden layers, and the model has none".into());
                }
                (Box::new(centered_norm::CenteredNorm), (0..n).map(|i| i + 1 < n).collect())
            }
            ReparamSpec::Multipliers { rowcol } => (Box::new(multipliers::Multipliers { rowcol: *rowcol }), vec![true; n]),
            ReparamSpec::Lawn { free_epochs, layers: k } => {
                if *k > n {
                    return Err(format!("lawn: layers={k}, but the model has {n} layers"));
                }
                let on: Vec<bool> = (0..n).map(|i| i >= n - k).collect();
                (Box::new(lawn::Lawn::new(*free_epochs, n)), on)
            }
        };
        let shapes: Vec<Shape2> = layers.iter().map(Shape2::of).collect();
        let mut p = Vec::with_capacity(n);
        let mut params = Vec::with_capacity(n);
        for i in 0..n {
            let (w, _) = net.layer_data(i);
            let w: Vec<f32> = w.as_slice::<f32>().map_err(|e| format!("{e:?}"))?.to_vec();
            let m = if on[i] { rule.extras_len(shapes[i]) } else { 0 };
            let mut e = vec![0.0f32; m.max(1)];
            if on[i] && m > 0 {
                rule.init_extras(shapes[i], &w, &mut e);
            }
            let t = Tensor::<1>::from_data(TensorData::new(e, [m.max(1)]), device);
            let (_, t, _) = Param::from_tensor(t).consume();
            params.push(Param::initialized(ParamId::from(EXTRAS_ID_BASE + i as u64), t.require_grad()));
            p.push(if on[i] { w } else { Vec::new() });
        }
        let optim = match optim {
            crate::optim::OptimSpec::Adamw { .. } => crate::optim::OptimSpec::Adamw { weight_decay: 0.0 }.init(),
            other => other.init(),
        };
        let pending_data_init = matches!(spec, ReparamSpec::WeightNorm { data_init: true });
        let mut r = Self {
            spec: spec.clone(),
            rule,
            layers,
            shapes,
            on,
            p,
            extras: Some(Extras { e: params }),
            optim,
            pending_data_init,
            device: device.clone(),
        };
        // Spectral norm changes W at once (W = P/σ); the others start at W = P.
        r.store_effective(net, true)?;
        Ok(r)
    }

    /// Whether the data-dependent initialisation has yet to run.
    pub fn pending_data_init(&self) -> bool {
        self.pending_data_init
    }

    /// The spec.
    pub fn spec(&self) -> &ReparamSpec {
        &self.spec
    }

    fn extras_data(&self, i: usize) -> Vec<f32> {
        let ex = self.extras.as_ref().expect("extras present between steps");
        ex.e[i].val().inner().into_data().as_slice::<f32>().expect("f32 extras").to_vec()
    }

    /// The data-dependent initialisation (weight norm), on an initialisation batch `x`
    /// `[n, d]` (the first time only; a restored run skips it). For each layer in order, with
    /// `t = x·P_iᵀ/‖P_i‖` the unit's normalized pre-activation (no bias) on the batch — over
    /// the batch and spatial positions for a convolution — `μ_i = mean t`,
    /// `σ_i = √mean (t − μ_i)²`, and `g_i ← 1/σ_i`, `b_i ← −μ_i/σ_i`; the next layer sees the
    /// initialized layer's output. `σ_i` is floored at 1e-8.
    pub fn data_init(&mut self, net: &mut Net, x: Option<Tensor<2>>, steps_per_epoch: usize) -> Result<(), String> {
        self.rule.set_steps_per_epoch(steps_per_epoch);
        let Some(x) = x.filter(|_| self.pending_data_init) else {
            return Ok(());
        };
        self.pending_data_init = false;
        let x = x.inner();
        for i in 0..self.layers.len() {
            if !self.on[i] {
                continue;
            }
            let s = self.shapes[i];
            // g = 1, b = 0 for this layer: W = unit rows
            let norms = s.row_sq_norms(&self.p[i]);
            let mut w = self.p[i].clone();
            for r in 0..s.rows {
                let k = if norms[r] > 0.0 { (1.0 / norms[r].sqrt()) as f32 } else { 0.0 };
                for c in 0..s.cols {
                    w[s.at(r, c)] *= k;
                }
            }
            net.set_weight(i, TensorData::new(w, weight_dims(&self.layers[i])));
            net.set_bias(i, TensorData::new(vec![0.0f32; s.rows], [s.rows]));
            let pre = net.valid().preactivation(x.clone(), i);
            let pre = pre?;
            let dims = pre.shape().to_vec();
            let v: &[f32] = pre.as_slice().map_err(|e| format!("{e:?}"))?;
            // [b, out] or [b, out, h, w]
            let (b, c) = (dims[0], dims[1]);
            let spatial: usize = dims[2..].iter().product();
            let count = (b * spatial) as f64;
            let mut mean = vec![0.0f64; c];
            let mut sq = vec![0.0f64; c];
            for bi in 0..b {
                for ci in 0..c {
                    for k in 0..spatial {
                        let t = v[(bi * c + ci) * spatial + k] as f64;
                        mean[ci] += t;
                        sq[ci] += t * t;
                    }
                }
            }
            let mut g = vec![0.0f32; c];
            let mut bias = vec![0.0f32; c];
            for ci in 0..c {
                let mu = mean[ci] / count;
                let var = (sq[ci] / count - mu * mu).max(0.0);
                let sd = var.sqrt().max(1e-8);
                g[ci] = (1.0 / sd) as f32;
                bias[ci] = (-mu / sd) as f32;
            }
            self.set_extras(i, g)?;
            net.set_bias(i, TensorData::new(bias, [c]));
            self.store_layer(net, i, false);
        }
        Ok(())
    }

    fn set_extras(&mut self, i: usize, e: Vec<f32>) -> Result<(), String> {
        let ex = self.extras.as_mut().expect("extras present");
        let n = e.len();
        let old = std::mem::replace(&mut ex.e[i], Param::from_tensor(Tensor::<1>::zeros([1], &self.device)));
        let dev = self.device.clone();
        ex.e[i] = old.map(move |_| Tensor::<1>::from_data(TensorData::new(e, [n]), &dev).require_grad());
        Ok(())
    }

    /// Compute `W` of layer `i` from `P` and store it in the model.
    fn store_layer(&mut self, net: &mut Net, i: usize, advance: bool) {
        let s = self.shapes[i];
        let e = self.extras_data(i);
        let mut w = vec![0.0f32; s.len()];
        self.rule.forward(i, s, &self.p[i], &e, &mut w, advance);
        net.set_weight(i, TensorData::new(w, weight_dims(&self.layers[i])));
    }

    fn store_effective(&mut self, net: &mut Net, advance: bool) -> Result<(), String> {
        for i in 0..self.layers.len() {
            if self.on[i] {
                self.store_layer(net, i, advance);
            }
        }
        Ok(())
    }

    /// Step 3 of the module documentation: `∇_W → ∇_P, ∇_e`; `P` goes back into the model.
    /// Returns the extras' gradients.
    pub fn backward(&mut self, net: &mut Net, grads: &mut GradientsParams) -> Result<GradientsParams, String> {
        let mut ge_all = GradientsParams::new();
        for i in 0..self.layers.len() {
            if !self.on[i] {
                continue;
            }
            let s = self.shapes[i];
            let (wid, _) = net.param_ids(i);
            let dims = weight_dims(&self.layers[i]);
            let (gw, dev) = match dims.len() {
                2 => take::<2>(grads, wid)?,
                _ => take::<4>(grads, wid)?,
            };
            let gw_s: &[f32] = gw.as_slice().map_err(|e| format!("{e:?}"))?;
            let e = self.extras_data(i);
            let mut gp = vec![0.0f32; s.len()];
            let mut ge = vec![0.0f32; e.len()];
            self.rule.backward(i, s, &self.p[i], &e, gw_s, &mut gp, &mut ge);
            match dims.len() {
                2 => grads.register::<2>(wid, Tensor::<2>::from_data(TensorData::new(gp, [dims[0], dims[1]]), &dev)),
                _ => grads.register::<4>(wid, Tensor::<4>::from_data(TensorData::new(gp, [dims[0], dims[1], dims[2], dims[3]]), &dev)),
            }
            if self.rule.extras_len(s) > 0 {
                let n = ge.len();
                let id = self.extras.as_ref().expect("extras").e[i].id;
                ge_all.register::<1>(id, Tensor::<1>::from_data(TensorData::new(ge, [n]), &dev));
            }
            net.set_weight(i, TensorData::new(self.p[i].clone(), dims));
        }
        Ok(ge_all)
    }

    /// Step 4 for the extras: one optimizer step with learning rate `lr`.
    pub fn step_extras(&mut self, lr: f64, grads: GradientsParams) {
        if grads.is_empty() {
            return;
        }
        let ex = self.extras.take().expect("extras present");
        self.extras = Some(self.optim.step(lr, ex, grads));
    }

    /// Step 5: read `P` from the model after the optimizer step `step`, project, store `W`.
    pub fn after_step(&mut self, net: &mut Net, step: u64) -> Result<(), String> {
        for i in 0..self.layers.len() {
            if !self.on[i] {
                continue;
            }
            let (w, _) = net.layer_data(i);
            let mut p: Vec<f32> = w.as_slice::<f32>().map_err(|e| format!("{e:?}"))?.to_vec();
            self.rule.after_step(i, self.shapes[i], &mut p, step);
            self.p[i] = p;
            self.store_layer(net, i, true);
        }
        Ok(())
    }

    /// `P`, extras, the rule's state and the extras' optimizer state, named `reparam/…`
    /// (PyTorch layout for `P`).
    pub fn state(&self) -> Result<Vec<NamedTensor>, String> {
        let mut out = Vec::new();
        for (i, l) in self.layers.iter().enumerate() {
            if !self.on[i] {
                continue;
            }
            let s = self.shapes[i];
            let data = match s.layout {
                Layout::Transposed => reglab_core::linalg::transpose(&self.p[i], s.cols, s.rows),
                Layout::RowMajor => self.p[i].clone(),
            };
            out.push(NamedTensor::new(format!("reparam/{}.param", l.name), l.shape.clone(), data));
            if self.rule.extras_len(s) > 0 {
                let e = self.extras_data(i);
                out.push(NamedTensor::new(format!("reparam/{}.extras", l.name), vec![e.len()], e));
            }
        }
        for t in self.rule.state() {
            out.push(NamedTensor::new(format!("reparam/rule/{}", t.name), t.shape, t.data));
        }
        let bytes = self.optim.into_bytes().map_err(|e| format!("reparam optimizer state: {e:?}"))?;
        // bytes as f32 bit patterns (4 per value, zero-padded), with the length in front
        let mut words = vec![f32::from_bits(bytes.len() as u32)];
        words.extend(bytes.chunks(4).map(|c| {
            let mut b = [0u8; 4];
            b[..c.len()].copy_from_slice(c);
            f32::from_bits(u32::from_le_bytes(b))
        }));
        out.push(NamedTensor::new("reparam/optim", vec![words.len()], words));
        out.push(NamedTensor::new("reparam/pending_data_init", vec![1], vec![if self.pending_data_init { 1.0 } else { 0.0 }]));
        Ok(out)
    }

    /// Load [`Reparam::state`] (names without checking anything else) and store `W`.
    pub fn load_state(&mut self, net: &mut Net, tensors: &[NamedTensor]) -> Result<(), String> {
        let find = |n: &str| tensors.iter().find(|t| t.name == n).ok_or_else(|| format!("checkpoint has no `{n}` (saved without --reparam?)"));
        for i in 0..self.layers.len() {
            if !self.on[i] {
                continue;
            }
            let l = self.layers[i].clone();
            let s = self.shapes[i];
            let t = find(&format!("reparam/{}.param", l.name))?;
            if t.shape != l.shape {
                return Err(format!("reparam/{}.param has shape {:?}, the model needs {:?}", l.name, t.shape, l.shape));
            }
            self.p[i] = match s.layout {
                Layout::Transposed => reglab_core::linalg::transpose(&t.data, s.rows, s.cols),
                Layout::RowMajor => t.data.clone(),
            };
            if self.rule.extras_len(s) > 0 {
                let e = find(&format!("reparam/{}.extras", l.name))?;
                if e.data.len() != self.rule.extras_len(s) {
                    return Err(format!("reparam/{}.extras has {} values, expected {}", l.name, e.data.len(), self.rule.extras_len(s)));
                }
                self.set_extras(i, e.data.clone())?;
            }
        }
        let rule: Vec<NamedTensor> = tensors
            .iter()
            .filter_map(|t| t.name.strip_prefix("reparam/rule/").map(|n| NamedTensor::new(n, t.shape.clone(), t.data.clone())))
            .collect();
        self.rule.load_state(&rule)?;
        let words = &find("reparam/optim")?.data;
        let n = words.first().map(|w| w.to_bits() as usize).unwrap_or(0);
        let bytes: Vec<u8> = words[1..].iter().flat_map(|w| w.to_bits().to_le_bytes()).take(n).collect();
        if bytes.len() != n {
            return Err("reparam/optim is truncated".into());
        }
        let optim = std::mem::replace(&mut self.optim, crate::optim::OptimSpec::Adam.init());
        self.optim = optim.from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes)).map_err(|e| format!("reparam optimizer state: {e:?}"))?;
        self.pending_data_init = find("reparam/pending_data_init")?.data.first() == Some(&1.0);
        self.store_effective(net, false)
    }
}

/// burn-layout dims of a layer's weight.
fn weight_dims(l: &LayerInfo) -> Vec<usize> {
    l.storage_dims()
}

fn take<const D: usize>(grads: &mut GradientsParams, id: ParamId) -> Result<(TensorData, Device), String> {
    let g: Tensor<D> = grads.remove::<D>(id).ok_or_else(|| "no gradient for a reparameterized weight".to_string())?;
    let dev = g.device();
    Ok((g.into_data(), dev))
}

#[cfg(test)]
mod tests;
