//! Pruning masks: a fixed 0/1 mask per layer weight that keeps the pruned entries at exactly 0,
//! and FISH's mask that freezes the entries outside it at their value.
//!
//! | spec | when the mask is made | which entries |
//! |---|---|---|
//! | `magnitude:sparsity=S:at=E` | end of epoch `E` (one-shot), then fine-tuning | smallest `\|w\|` ([`magnitude`]) |
//! | `magnitude:sparsity=S:schedule=gradual:start=E0:end=E1` | end of each epoch `E0 < e ≤ E1` | smallest `\|w\|`, cubic schedule |
//! | `random:sparsity=S[:density=uniform\|er\|erk]` | at initialisation, from the run's seed | uniformly random per layer ([`random`]) |
//! | `fish:keep=K[:samples=N][:at=E][:biases=true\|false][:zero=true]` | before the first step (`at=0`, default) or end of epoch `E` | *trained*: the `round(K·n)` largest empirical Fisher values ([`fish`]); the rest are frozen, not zeroed — or, with `zero=true` (weights only), zeroed like the other masks |
//!
//! Options: `scope=global|layer` (magnitude; default `global`), `skip_last=true` (leave the last
//! layer, the classifier, dense; default `false`: every layer weight is pruned). Biases are never
//! pruned by `magnitude` and `random`; `fish` masks them with the weights unless `biases=false`.
//! `S ∈ [0, 1)`, `K ∈ (0, 1]`.
//!
//! ## Two kinds of mask
//! `magnitude` and `random` **zero** what they prune (steps 1 and 2 below). `fish` **freezes**:
//! its mask multiplies the gradients (step 1) and, after the step, the entries outside it are
//! written back to the values they had when the mask was made (`θ ⊙ M + θ_frozen ⊙ (1 − M)`, see
//! [`fish`]), so that an optimizer that moves entries without a gradient (AdamW's decoupled weight
//! decay, momentum left from dense epochs) or a proximal step cannot change them.
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
//! exactly 0 and the weights never move. A mask made during training (magnitude, `fish` with
//! `at=E`) finds that state non-zero: when the masks change, the trainer multiplies the
//! optimizer's per-entry state of the masked parameters by the masks
//! ([`optim_state::mask_optimizer_state`]), so the pruned entries' moments are exactly 0 from
//! then on, as if the network had been sparse from the start. (Adam is elementwise, so this
//! changes no kept weight; it makes the saved optimizer state that of the sparse network.)
//!
//! Masks go into checkpoints as `prune/<layer>.mask` (f32 0/1, PyTorch layout) beside the
//! regularizers' state, so a resumed run continues bit for bit. Cost per step: one elementwise
//! product over the masked gradients (`g ⊙ M`) and one over the masked weights (`W ⊙ M + 0`, the
//! `+ 0` making `−0` into `+0`), ≈ 0.15–0.25 ms on the 784-400-400-10 MLP against a ≈ 5–6 ms step
//! (`prune/mask-gradients/…`, `prune/apply/…` and `step/prune …` in the `train_step` bench).
//!
//! Pruning cannot be combined with a reparameterization (`--reparam`) yet: the trainer rejects the
//! configuration.

pub mod fish;
/// Magnitude masks (the burn-free code is in `reglab-regularizers`, so the Python binding shares it).
pub use reglab_regularizers::sparsity::magnitude_mask as magnitude;
pub use reglab_regularizers::sparsity::magnitude_mask::{Scope, apportion, zeros_for};
pub mod optim_state;
pub mod random;

use crate::model::{LayerInfo, LayerKind, LayerMut, Net};
use crate::reparam::Shape2;
use burn::module::{Module, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Tensor, TensorData};
use reglab_core::{Dataset, Layout, NamedTensor};
use reglab_regularizers::registry::CatalogEntry;
use std::fmt;
use std::str::FromStr;

/// The pruning methods, for the catalog ([`crate::catalog`], `reglab list`): `--prune SPEC` (or
/// `prune = "…"` per arm in experiment files), parsed by [`PruneSpec`], so the entries carry no
/// builder. `er` and `erk` are the `density=` options of `random`.
pub const CATALOG: &[CatalogEntry<()>] = &[
    CatalogEntry {
        name: "magnitude",
        family: "pruning",
        formula: "zero the round(S·n) smallest |w| at the end of epoch E (one-shot) or on Zhu & Gupta's cubic schedule S·(1 − (1 − (e − E0)/(E1 − E0))³), then fine-tune",
        paper: "Han, Pool, Tran, Dally, Learning both Weights and Connections for Efficient Neural Networks, NeurIPS 2015; Zhu & Gupta, To prune, or not to prune, arXiv 1710.01878, 2017",
        options: "magnitude:sparsity=S:at=E | magnitude:sparsity=S:schedule=gradual:start=E0:end=E1; scope=global|layer, skip_last=false",
        build: (),
    },
    CatalogEntry {
        name: "random",
        family: "pruning",
        formula: "a fixed mask drawn at initialisation from the seed: round(S·n) zeros, each layer its share S·n_l (density=uniform)",
        paper: "Gadhikar, Mukherjee, Burkholz, Why Random Pruning Is All We Need to Start Sparse, ICML 2023 (catalog #112); Liu et al., The Unreasonable Effectiveness of Random Pruning, ICLR 2022",
        options: "random:sparsity=S[:density=uniform|er|erk], skip_last=false",
        build: (),
    },
    CatalogEntry {
        name: "er",
        family: "pruning",
        formula: "random mask with Erdős–Rényi layer densities d_l ∝ (n_in + n_out)/(n_in·n_out), scaled to the total sparsity S (random:…:density=er)",
        paper: "Mocanu, Mocanu, Stone, Nguyen, Gibescu, Liotta, Scalable training of artificial neural networks with adaptive sparse connectivity inspired by network science, Nature Communications 2018",
        options: "random:sparsity=S:density=er",
        build: (),
    },
    CatalogEntry {
        name: "erk",
        family: "pruning",
        formula: "random mask with Erdős–Rényi-Kernel densities d_l ∝ (n_in + n_out + k_h + k_w)/(n_in·n_out·k_h·k_w), scaled to S (random:…:density=erk)",
        paper: "Evci, Gale, Menick, Castro, Elsen, Rigging the Lottery: Making All Tickets Winners, ICML 2020",
        options: "random:sparsity=S:density=erk",
        build: (),
    },
    CatalogEntry {
        name: "fish",
        family: "pruning",
        formula: "keep the round(K·n) entries of largest empirical Fisher F̂_i = mean_n (∂ log p(y_n|x_n)/∂θ_i)² over N samples; freeze the others at their value (or zero them)",
        paper: "Sung, Nair, Raffel, Training Neural Networks with Fixed Sparse Masks, NeurIPS 2021",
        options: "fish:keep=K[:samples=N][:at=E][:biases=true|false][:zero=true]",
        build: (),
    },
];

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
#[derive(Debug, Clone, Copy, PartialEq)]
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
    /// FISH: train the entries with the largest empirical Fisher, freeze the others.
    Fish {
        /// `K ∈ (0, 1]`, the fraction of the masked entries that train.
        keep: f64,
        /// `N`, the number of training examples of the Fisher estimate.
        samples: usize,
        /// 0: the mask is made before the first step; `E ≥ 1`: at the end of epoch `E`.
        at: usize,
        /// Mask (and rank) the biases with the weights.
        biases: bool,
        /// Zero the entries outside the mask instead of freezing them (sparse training from a
        /// Fisher mask; `sparsity` is then the fraction zeroed).
        zero: bool,
    },
}

/// A pruning spec (see the module documentation), parsed from e.g. `magnitude:sparsity=0.9:at=2`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PruneSpec {
    /// The method.
    pub method: Method,
    /// Final fraction of zeros among the pruned weights' entries, in `[0, 1)` (`fish`: `1 − K`,
    /// the fraction frozen; nothing is zeroed and the counts follow `K`).
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
        let flag = |key: &str, v: Option<String>, default: bool| -> Result<bool, String> {
            match v.as_deref() {
                None => Ok(default),
                Some("true") => Ok(true),
                Some("false") => Ok(false),
                Some(v) => Err(bad(format!("`{key}` is `true` or `false`, got `{v}`"))),
            }
        };
        if name == "fish" {
            if take("sparsity").is_some() {
                return Err(bad("fish takes `keep=K`, the fraction of entries that train, not `sparsity`".into()));
            }
            let keep = match take("keep") {
                None => return Err(bad("`keep=K` is required, e.g. `fish:keep=0.005:samples=1024`".into())),
                Some(v) => v.parse::<f64>().map_err(|_| bad(format!("`keep` must be a number, got `{v}`")))?,
            };
            if !(keep > 0.0 && keep <= 1.0) {
                return Err(bad(format!("`keep` must be in (0, 1], got {keep}")));
            }
            let samples = match take("samples") {
                None => 1024,
                Some(v) => v.parse::<usize>().ok().filter(|&n| n >= 1).ok_or_else(|| bad(format!("`samples` must be an integer ≥ 1, got `{v}`")))?,
            };
            let at = take("at").map(|v| epoch("at", v)).transpose()?.unwrap_or(0);
            let zero = flag("zero", take("zero"), false)?;
            let biases = flag("biases", take("biases"), !zero)?;
            let skip_last = flag("skip_last", take("skip_last"), false)?;
            if let Some((k, _)) = opts.first() {
                return Err(bad(format!("unknown option `{k}`")));
            }
            if zero && biases {
                return Err(bad("`zero=true` prunes weights only: leave out `biases` (or set it to false)".into()));
            }
            return Ok(PruneSpec { method: Method::Fish { keep, samples, at, biases, zero }, sparsity: 1.0 - keep, skip_last });
        }
        let sparsity = match take("sparsity") {
            None => return Err(bad("`sparsity=S` is required, e.g. `magnitude:sparsity=0.9:at=2`".into())),
            Some(v) => v.parse::<f64>().map_err(|_| bad(format!("`sparsity` must be a number, got `{v}`")))?,
        };
        if !(0.0..1.0).contains(&sparsity) {
            return Err(bad(format!("`sparsity` must be in [0, 1), got {sparsity}")));
        }
        let skip_last = flag("skip_last", take("skip_last"), false)?;
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
                        let end = epoch(
                            "end",
                            end.ok_or_else(|| bad("gradual pruning needs `end=E1`, the epoch at whose end it reaches the sparsity".into()))?,
                        )?;
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
                    "unknown pruning method `{other}`; known: magnitude:sparsity=S[:scope=global|layer][:at=E][:schedule=oneshot|gradual][:start=E0:end=E1], random:sparsity=S[:density=uniform|er|erk], fish:keep=K[:samples=N][:at=E][:biases=true|false] (all [:skip_last=true])"
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
            Method::Fish { keep, samples, at, zero: true, .. } => write!(f, "fish:keep={keep}:samples={samples}:at={at}:zero=true")?,
            Method::Fish { keep, samples, at, biases, zero: false } => write!(f, "fish:keep={keep}:samples={samples}:at={at}:biases={biases}")?,
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
/// storage layout (burn's: `[in, out]` for a linear layer, `[out, in, kh, kw]` for a conv), and
/// for `fish` per layer bias an optional mask too.
pub struct Masks {
    spec: PruneSpec,
    layers: Vec<LayerInfo>,
    shapes: Vec<Shape2>,
    /// Which layers the spec prunes.
    on: Vec<bool>,
    /// Per layer, the mask (1 keep, 0 pruned), once made.
    masks: Vec<Option<Vec<f32>>>,
    /// Per layer, the bias mask (`fish` with `biases=true` only).
    bias_masks: Vec<Option<Vec<f32>>>,
    /// The same masks as f32 tensors on the model's (inner) device, to multiply the gradients
    /// and the weights by.
    fills: Vec<Option<Fill>>,
    bias_fills: Vec<Option<Tensor<1>>>,
    /// `fish`: the frozen values `F` (the value at mask time outside the mask, `−0` inside) that
    /// [`Masks::apply`] adds back, per layer weight and bias.
    frozen: Vec<Option<Fill>>,
    bias_frozen: Vec<Option<Tensor<1>>>,
    /// The run's seed (the `fish` sample shuffle).
    seed: u64,
    /// `fish`: the indices of the training examples of the Fisher estimate, once made.
    fish_samples: Option<Vec<usize>>,
    /// How many times the masks were made or changed (the trainer masks the optimizer state
    /// when this moves; see [`optim_state`]).
    version: u64,
}

/// A 0/1 mask tensor of a linear (`[in, out]`) or conv (`[out, in, kh, kw]`) weight.
#[derive(Clone)]
enum Fill {
    D1(Tensor<1>),
    D2(Tensor<2>),
    D4(Tensor<4>),
}

/// The name of the `fish` sample indices in checkpoints.
pub const FISH_SAMPLES: &str = "prune/fish.samples";

impl Masks {
    /// Bind `spec` to `net`. A random mask is drawn now from `seed` and applied to the weights;
    /// magnitude masks are made at epoch ends ([`Masks::end_of_epoch`]); a `fish` mask before the
    /// first step ([`Masks::start_of_epoch`]) or at the end of its epoch, from the training data.
    pub fn new(spec: &PruneSpec, net: &mut Net, seed: u64) -> Result<Self, String> {
        let layers = net.layers();
        let n = layers.len();
        let on: Vec<bool> = (0..n).map(|i| !(spec.skip_last && i + 1 == n)).collect();
        if !on.iter().any(|&b| b) {
            return Err(format!("pruning `{spec}`: skip_last=true leaves no layer to prune (the model has {n} layer)"));
        }
        let shapes = layers.iter().map(Shape2::of).collect();
        let mut m = Masks {
            spec: spec.clone(),
            layers,
            shapes,
            on,
            masks: vec![None; n],
            bias_masks: vec![None; n],
            fills: vec![None; n],
            bias_fills: vec![None; n],
            frozen: vec![None; n],
            bias_frozen: vec![None; n],
            seed,
            fish_samples: None,
            version: 0,
        };
        match spec.method {
            Method::Random { density } => {
                let idx = m.selected();
                let shapes: Vec<Vec<usize>> = idx.iter().map(|&i| m.layers[i].shape.clone()).collect();
                let drawn = random::random_masks(&shapes, spec.sparsity, density, seed);
                for (&i, pt) in idx.iter().zip(drawn) {
                    m.masks[i] = Some(m.to_storage(i, &pt));
                }
                m.masks_changed(net)?;
            }
            Method::Fish { keep, .. } => {
                let n = m.fish_entries();
                if fish::kept_for(keep, n) == 0 {
                    return Err(format!("pruning `{spec}`: round({keep}·{n}) = 0, the mask would train no entry of the {n} masked"));
                }
            }
            Method::Magnitude { .. } => {}
        }
        Ok(m)
    }

    /// A number that changes whenever the masks are made or changed.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The weight and bias masks with their parameters' ids, in burn's layout, for
    /// [`optim_state::mask_optimizer_state`].
    pub fn param_masks<'a>(&'a self, net: &Net) -> Vec<optim_state::ParamMask<'a>> {
        let mut out = Vec::new();
        for i in 0..self.layers.len() {
            let (wid, bid) = net.param_ids(i);
            if let Some(m) = &self.masks[i] {
                out.push(optim_state::ParamMask { id: wid.val(), mask: m });
            }
            if let (Some(m), Some(bid)) = (&self.bias_masks[i], bid) {
                out.push(optim_state::ParamMask { id: bid.val(), mask: m });
            }
        }
        out
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

    /// Layer `i`'s bias mask (`fish` with `biases=true`), if it has one.
    pub fn bias_mask(&self, i: usize) -> Option<&[f32]> {
        self.bias_masks.get(i).and_then(|m| m.as_deref())
    }

    /// `fish`: the indices of the training examples the Fisher was estimated on, once the mask
    /// is made.
    pub fn fish_samples(&self) -> Option<&[usize]> {
        self.fish_samples.as_deref()
    }

    /// Whether the mask freezes (`fish`) rather than zeroes what it leaves out.
    pub fn freezes(&self) -> bool {
        matches!(self.spec.method, Method::Fish { zero: false, .. })
    }

    /// Whether layer `i`'s bias is masked (`fish` with `biases=true`, a selected layer with a bias).
    fn masks_bias(&self, i: usize) -> bool {
        matches!(self.spec.method, Method::Fish { biases: true, .. }) && self.on[i] && self.layers[i].has_bias
    }

    /// `n` of a `fish` mask: the entries of the selected weights and masked biases.
    fn fish_entries(&self) -> usize {
        self.selected()
            .into_iter()
            .map(|i| self.layers[i].shape.iter().product::<usize>() + if self.masks_bias(i) { self.layers[i].shape[0] } else { 0 })
            .sum()
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

    /// A storage-layout vector of layer `i`'s weight as a tensor of the weight's shape.
    fn weight_tensor(&self, i: usize, v: Vec<f32>, dev: &burn::tensor::Device) -> Fill {
        let s = self.shapes[i];
        match self.layers[i].kind {
            // burn's linear weight is [in, out]
            LayerKind::Linear => Fill::D2(Tensor::<2>::from_data(TensorData::new(v, [s.cols, s.rows]), dev)),
            LayerKind::Conv2d => {
                let d = &self.layers[i].shape;
                Fill::D4(Tensor::<4>::from_data(TensorData::new(v, [d[0], d[1], d[2], d[3]]), dev))
            }
            LayerKind::Embedding => {
                let d = &self.layers[i].shape;
                Fill::D2(Tensor::<2>::from_data(TensorData::new(v, [d[0], d[1]]), dev))
            }
            LayerKind::Norm => Fill::D1(Tensor::<1>::from_data(TensorData::new(v, [self.layers[i].shape[0]]), dev)),
        }
    }

    /// Rebuild the mask tensors after the masks changed (and, when freezing, the frozen values
    /// from the current parameters), then apply them.
    fn masks_changed(&mut self, net: &mut Net) -> Result<(), String> {
        self.version += 1;
        let dev = net.devices().into_iter().next().ok_or("the model has no device")?.inner();
        let freeze = self.freezes();
        for i in 0..self.layers.len() {
            self.fills[i] = self.masks[i].as_ref().map(|m| self.weight_tensor(i, m.clone(), &dev));
            self.bias_fills[i] = self.bias_masks[i].as_ref().map(|m| Tensor::<1>::from_data(TensorData::new(m.clone(), [m.len()]), &dev));
            self.frozen[i] = None;
            self.bias_frozen[i] = None;
            if !freeze {
                continue;
            }
            let (w, b) = net.layer_data(i);
            if let Some(m) = &self.masks[i] {
                let w: &[f32] = w.as_slice().map_err(|e| format!("{e:?}"))?;
                self.frozen[i] = Some(self.weight_tensor(i, frozen_values(w, m), &dev));
            }
            if let (Some(m), Some(b)) = (&self.bias_masks[i], b) {
                let b: &[f32] = b.as_slice().map_err(|e| format!("{e:?}"))?;
                self.bias_frozen[i] = Some(Tensor::<1>::from_data(TensorData::new(frozen_values(b, m), [m.len()]), &dev));
            }
        }
        self.apply(net)
    }

    /// Set the gradients of the pruned (or frozen) entries to 0 (before the optimizer step):
    /// `g ← g ⊙ M` (exact ±0 for every finite gradient; an elementwise product is ~10× faster in
    /// burn's CPU backend than a `mask_fill`).
    pub fn mask_gradients(&self, net: &Net, grads: &mut GradientsParams) -> Result<(), String> {
        for i in 0..self.layers.len() {
            let (wid, bid) = net.param_ids(i);
            if let Some(f) = &self.fills[i] {
                let missing = || format!("no gradient for `{}`", self.layers[i].weight_name());
                match f {
                    Fill::D1(m) => {
                        let g = grads.remove::<1>(wid).ok_or_else(missing)?;
                        grads.register::<1>(wid, g.mul(m.clone()));
                    }
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
            if let Some(m) = &self.bias_fills[i] {
                let missing = || format!("no gradient for `{}`", self.layers[i].bias_name());
                let bid = bid.ok_or_else(missing)?;
                let g = grads.remove::<1>(bid).ok_or_else(missing)?;
                grads.register::<1>(bid, g.mul(m.clone()));
            }
        }
        Ok(())
    }

    /// After the optimizer and proximal steps. Zeroing masks set the pruned weights to exactly
    /// 0: `W ← W ⊙ M + 0` (the `+ 0` turns the `−0` of a pruned negative weight into `+0`; exact
    /// for every finite weight, kept weights unchanged). Freezing masks (`fish`) write the
    /// frozen entries back: `θ ← θ ⊙ M + F` (see [`fish`]).
    pub fn apply(&self, net: &mut Net) -> Result<(), String> {
        for (i, layer) in net.layer_muts().iter_mut().enumerate() {
            let bad = || format!("pruning mask of `{}` does not fit the layer", self.layers[i].name);
            match (&self.fills[i], &self.frozen[i], &mut *layer) {
                (None, _, _) => {}
                (Some(Fill::D2(m)), None, LayerMut::Linear(l)) => zero_param(&mut l.weight, m),
                (Some(Fill::D4(m)), None, LayerMut::Conv(c)) => zero_param(&mut c.weight, m),
                (Some(Fill::D2(m)), Some(Fill::D2(f)), LayerMut::Linear(l)) => freeze_param(&mut l.weight, m, f),
                (Some(Fill::D4(m)), Some(Fill::D4(f)), LayerMut::Conv(c)) => freeze_param(&mut c.weight, m, f),
                (Some(Fill::D2(m)), None, LayerMut::Embedding(e)) => zero_param(&mut e.weight, m),
                (Some(Fill::D2(m)), Some(Fill::D2(f)), LayerMut::Embedding(e)) => freeze_param(&mut e.weight, m, f),
                (Some(Fill::D1(m)), None, LayerMut::Norm(n)) => zero_param(&mut n.gamma, m),
                (Some(Fill::D1(m)), Some(Fill::D1(f)), LayerMut::Norm(n)) => freeze_param(&mut n.gamma, m, f),
                _ => return Err(bad()),
            }
            if let (Some(m), Some(f)) = (&self.bias_fills[i], &self.bias_frozen[i]) {
                let b = match layer {
                    LayerMut::Linear(l) => l.bias.as_mut(),
                    LayerMut::Conv(c) => c.bias.as_mut(),
                    LayerMut::Norm(n) => n.beta.as_mut(),
                    LayerMut::Embedding(_) => None,
                };
                freeze_param(b.ok_or_else(bad)?, m, f);
            }
        }
        Ok(())
    }

    /// Before epoch `epoch`'s first step: a `fish` mask with `at=0` that is not made yet is made
    /// now, on `data` (the training set). Other masks do nothing here.
    pub fn start_of_epoch(&mut self, net: &mut Net, data: &Dataset, _epoch: usize) -> Result<(), String> {
        match self.spec.method {
            Method::Fish { at: 0, .. } if !self.made() => self.make_fish(net, data),
            _ => Ok(()),
        }
    }

    /// Whether the masks exist (a random mask from the start, the others once made).
    pub fn made(&self) -> bool {
        self.masks.iter().any(Option::is_some)
    }

    /// The schedule at the end of epoch `epoch` (1-based): magnitude masks are made when it says
    /// so and the pruned weights zeroed; a `fish` mask with `at=epoch` is made from `data` (the
    /// training set). Random masks do nothing here.
    pub fn end_of_epoch(&mut self, net: &mut Net, epoch: usize, data: &Dataset) -> Result<(), String> {
        let (scope, schedule) = match self.spec.method {
            Method::Magnitude { scope, schedule } => (scope, schedule),
            Method::Fish { at, .. } if at == epoch && !self.made() => return self.make_fish(net, data),
            _ => return Ok(()),
        };
        let target = match schedule {
            Schedule::OneShot { at } if epoch == at => self.spec.sparsity,
            Schedule::Gradual { start, end } if epoch > start && epoch <= end => magnitude::cubic_sparsity(self.spec.sparsity, start, end, epoch),
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

    /// Make the `fish` mask now from the current parameters of `net` and the training set
    /// `data`: `F̂` on the first `N` examples of the seeded shuffle, the `round(K·n)` largest kept
    /// trainable, the rest frozen at their current values (see [`fish`]).
    pub fn make_fish(&mut self, net: &mut Net, data: &Dataset) -> Result<(), String> {
        let Method::Fish { keep, samples, biases, .. } = self.spec.method else {
            return Err(format!("`{}` is not a fish mask", self.spec));
        };
        if data.is_empty() {
            return Err(format!("fish: `{}` has no example to estimate the Fisher on", data.name));
        }
        if data.len() > 1 << 24 {
            return Err(format!("fish: `{}` has {} examples; the sample indices are saved as f32, exact up to 2^24", data.name, data.len()));
        }
        let idx = self.selected();
        let order = fish::sample_indices(data.len(), samples, self.seed);
        let fisher = fish::empirical_fisher(net, data, &order, &idx, biases)?;
        let mut scores: Vec<&[f64]> = Vec::new();
        for (f, &i) in fisher.iter().zip(&idx) {
            scores.push(&f.weight);
            if self.masks_bias(i) {
                scores.push(f.bias.as_deref().ok_or_else(|| format!("no Fisher for `{}`", self.layers[i].bias_name()))?);
            }
        }
        let k = fish::kept_for(keep, scores.iter().map(|s| s.len()).sum());
        let mut made = fish::top_k_masks(&scores, k).into_iter();
        for &i in &idx {
            let w = made.next().ok_or("fish: fewer masks than tensors")?;
            self.masks[i] = Some(self.to_storage(i, &w));
            if self.masks_bias(i) {
                self.bias_masks[i] = made.next();
            }
        }
        self.fish_samples = Some(order);
        self.masks_changed(net)
    }

    /// The masks as `prune/<layer>.mask` (weights) and `prune/<layer>.bias.mask` (biases), f32
    /// 0/1 in PyTorch layout (layers without a mask are absent), and for `fish` the sample
    /// indices as `prune/fish.samples` (f32 integers).
    pub fn state(&self) -> Vec<NamedTensor> {
        let mut out = Vec::new();
        for (i, l) in self.layers.iter().enumerate() {
            if let Some(m) = &self.masks[i] {
                out.push(NamedTensor::new(format!("prune/{}.mask", l.name), l.shape.clone(), self.to_pytorch(i, m)));
            }
            if let Some(m) = &self.bias_masks[i] {
                out.push(NamedTensor::new(format!("prune/{}.bias.mask", l.name), vec![m.len()], m.clone()));
            }
        }
        if let Some(s) = &self.fish_samples {
            out.push(NamedTensor::new(FISH_SAMPLES, vec![s.len()], s.iter().map(|&i| i as f32).collect()));
        }
        out
    }

    /// Load [`Masks::state`] (the `prune/` tensors of a checkpoint; the model's parameters must
    /// be loaded first: a `fish` mask freezes the values they hold) and apply the masks. A random
    /// mask must be there; magnitude and fish masks may be absent (before their epoch), but a
    /// fish mask is all there or not at all.
    pub fn load_state(&mut self, net: &mut Net, tensors: &[NamedTensor]) -> Result<(), String> {
        let n = self.layers.len();
        let mut masks = vec![None; n];
        let mut bias_masks = vec![None; n];
        let mut samples = None;
        let zero_one = |t: &NamedTensor| -> Result<(), String> {
            if t.data.iter().any(|&x| x != 0.0 && x != 1.0) {
                return Err(format!("`{}` holds values other than 0 and 1", t.name));
            }
            Ok(())
        };
        for t in tensors {
            if t.name == FISH_SAMPLES {
                if !matches!(self.spec.method, Method::Fish { .. }) {
                    return Err(format!("checkpoint has `{}`, but `{}` is not a fish mask", t.name, self.spec));
                }
                if t.shape.len() != 1 || t.data.iter().any(|&x| !(x >= 0.0 && x.fract() == 0.0 && x < (1u32 << 24) as f32)) {
                    return Err(format!("`{}` must be a vector of example indices", t.name));
                }
                samples = Some(t.data.iter().map(|&x| x as usize).collect::<Vec<_>>());
                continue;
            }
            if let Some(layer) = t.name.strip_prefix("prune/").and_then(|r| r.strip_suffix(".bias.mask")) {
                let i = self
                    .layers
                    .iter()
                    .position(|l| l.name == layer)
                    .ok_or_else(|| format!("checkpoint mask `{}` names no layer of the model", t.name))?;
                if !self.masks_bias(i) {
                    return Err(format!("checkpoint has `{}`, but `{}` does not mask that bias", t.name, self.spec));
                }
                if t.shape != [self.layers[i].shape[0]] {
                    return Err(format!("`{}` has shape {:?}, the model needs [{}]", t.name, t.shape, self.layers[i].shape[0]));
                }
                zero_one(t)?;
                bias_masks[i] = Some(t.data.clone());
                continue;
            }
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
            zero_one(t)?;
            masks[i] = Some(self.to_storage(i, &t.data));
        }
        let any = masks.iter().chain(&bias_masks).any(Option::is_some);
        let need = match self.spec.method {
            Method::Random { .. } => true,
            Method::Magnitude { .. } => false,
            Method::Fish { .. } => any,
        };
        if need {
            let missing = self.selected().into_iter().find_map(|i| {
                if masks[i].is_none() {
                    Some(format!("prune/{}.mask", self.layers[i].name))
                } else if self.masks_bias(i) && bias_masks[i].is_none() {
                    Some(format!("prune/{}.bias.mask", self.layers[i].name))
                } else {
                    None
                }
            });
            if let Some(name) = missing {
                return Err(format!("checkpoint has no `{name}` (saved without --prune, or with another spec?)"));
            }
        }
        self.masks = masks;
        self.bias_masks = bias_masks;
        self.fish_samples = if any { samples } else { None };
        self.masks_changed(net)
    }
}

/// `F` of a freezing mask: the value outside the mask, `−0` inside (so that `θ·1 + F = θ` bit
/// for bit, `−0` included).
fn frozen_values(values: &[f32], mask: &[f32]) -> Vec<f32> {
    values.iter().zip(mask).map(|(&v, &m)| if m == 1.0 { -0.0 } else { v }).collect()
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

/// `θ ⊙ M + F` as the new value of a parameter (a freezing mask; outside the autodiff graph like
/// [`zero_param`]).
fn freeze_param<const D: usize>(p: &mut Param<Tensor<D>>, keep: &Tensor<D>, frozen: &Tensor<D>) {
    let old = std::mem::replace(p, Param::from_tensor(Tensor::<D>::empty([0; D], &keep.device())));
    *p = old.map(|t| {
        let grad = t.is_require_grad();
        let nt = Tensor::from_inner(t.inner().mul(keep.clone()).add(frozen.clone()));
        if grad { nt.require_grad() } else { nt }
    });
}

#[cfg(test)]
mod tests;
