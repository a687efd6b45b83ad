//! Models: an MLP and a small CNN on burn, with PyTorch-layout views of their parameters.
//!
//! Parameter names follow PyTorch (what `state_dict()` of the equivalent module gives):
//! - `mlp:H1,H2,...`: `layers.{i}.weight` `[out, in]` and `layers.{i}.bias` `[out]`, i.e. a
//!   module with `self.layers = nn.ModuleList([nn.Linear(...), ...])` and ReLU between layers.
//!   Options after the widths: `act=relu|soft-ash|hard-ash[:z=Z:alpha=A]` (the hidden
//!   activation, [`activation::Act`]) and `bias=false` (no biases: no `layers.{i}.bias`),
//!   e.g. `mlp:1000,act=hard-ash,bias=false`.
//! - `cnn[:C1,C2]` (default 16,32): `convs.{i}.weight` `[out, in, 3, 3]` (padding 1, each followed
//!   by ReLU and 2×2 max-pooling), `convs.{i}.bias`, then `head.weight` `[classes, C·h·w]`,
//!   `head.bias` on the flattened features (PyTorch's `flatten(1)` order, channels first).
//!
//! Weights are initialised from the run's seed by reglab itself (not burn's global generator),
//! with PyTorch's default for `nn.Linear`/`nn.Conv2d`: U(−1/√fan_in, 1/√fan_in) for weights and
//! biases. burn's `Linear` stores `[in, out]`: the views below transpose where PyTorch layout
//! is asked for, and report [`Layout::Transposed`] to regularizers so they work in place.

pub mod activation;
pub mod bert;
mod cnn;
mod mlp;

pub use cnn::Cnn;
pub use mlp::Mlp;

use burn::module::{Module, Param, ParamId};
use burn::nn::{Embedding, LayerNorm, Linear, conv::Conv2d};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use reglab_core::{Layout, NamedTensor};
use std::fmt;
use std::str::FromStr;

/// A model architecture, parsed from `mlp:128,128` or `cnn` / `cnn:16,32`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum ModelSpec {
    /// Fully connected, the given hidden widths.
    Mlp {
        /// Hidden widths.
        hidden: Vec<usize>,
        /// The hidden activation (ReLU by default).
        act: activation::Act,
        /// Whether the layers have biases (default true).
        bias: bool,
    },
    /// Conv(3×3, pad 1)–ReLU–MaxPool(2) blocks with the given channels, then a linear head.
    Cnn { channels: Vec<usize> },
    /// A pretrained BERT encoder (a Hugging Face folder; `None`: `$REGLAB_DATA/minilm`) with a
    /// linear head on the mean-pooled last hidden state ([`bert::BertClassifier`]).
    Bert {
        /// The folder (`None`: `$REGLAB_DATA/minilm`).
        dir: Option<std::path::PathBuf>,
        /// Which parameters train.
        train: BertTrain,
    },
}

/// Which parameters of a BERT classifier train; the others are frozen (no gradient, no
/// optimizer update, no regularizer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BertTrain {
    /// Every parameter (full fine-tuning).
    #[default]
    All,
    /// The head only: a linear probe on the frozen pretrained encoder.
    Head,
    /// The top `k` transformer layers and the head.
    Top(usize),
}

impl fmt::Display for BertTrain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BertTrain::All => write!(f, "all"),
            BertTrain::Head => write!(f, "head"),
            BertTrain::Top(k) => write!(f, "top{k}"),
        }
    }
}

impl FromStr for BertTrain {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "all" => Ok(BertTrain::All),
            "head" => Ok(BertTrain::Head),
            t => match t.strip_prefix("top").map(str::parse::<usize>) {
                Some(Ok(k)) if k >= 1 => Ok(BertTrain::Top(k)),
                _ => Err(format!("train = `{t}`: expected all, head or topK (K ≥ 1 layers and the head)")),
            },
        }
    }
}

impl ModelSpec {
    /// A ReLU MLP with biases and the given hidden widths.
    pub fn mlp(hidden: &[usize]) -> Self {
        ModelSpec::Mlp { hidden: hidden.to_vec(), act: activation::Act::Relu, bias: true }
    }

    /// An MLP with activation `act`, which (unless ReLU) needs at least one hidden layer.
    pub fn mlp_with(hidden: Vec<usize>, act: activation::Act, bias: bool) -> Result<Self, String> {
        if hidden.is_empty() && act != activation::Act::Relu {
            return Err(format!("the activation `{act}` needs at least one hidden layer"));
        }
        Ok(ModelSpec::Mlp { hidden, act, bias })
    }
}

impl FromStr for ModelSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (kind, rest) = s.split_once(':').unwrap_or((s, ""));
        let list = |rest: &str| -> Result<Vec<usize>, String> {
            if rest.trim().is_empty() {
                return Ok(vec![]);
            }
            rest.split(',')
                .map(|x| match x.trim().parse::<usize>() {
                    Ok(0) | Err(_) => Err(format!("bad model `{s}`: `{x}` is not a positive width")),
                    Ok(v) => Ok(v),
                })
                .collect()
        };
        match kind.trim() {
            "mlp" => {
                let (mut act, mut bias) = (activation::Act::Relu, true);
                let mut widths = Vec::new();
                for item in rest.split(',').filter(|x| !x.trim().is_empty()) {
                    match item.split_once('=') {
                        Some(("act", a)) => act = a.parse().map_err(|e| format!("bad model `{s}`: {e}"))?,
                        Some(("bias", "true")) => bias = true,
                        Some(("bias", "false")) => bias = false,
                        Some((k, v)) => {
                            return Err(format!(
                                "bad model `{s}`: `{k}={v}`; the MLP options are act=relu|soft-ash|hard-ash[:z=Z:alpha=A] and bias=true|false"
                            ));
                        }
                        None => widths.push(item),
                    }
                }
                ModelSpec::mlp_with(list(&widths.join(","))?, act, bias).map_err(|e| format!("bad model `{s}`: {e}"))
            }
            "cnn" => {
                let c = list(rest)?;
                Ok(ModelSpec::Cnn { channels: if c.is_empty() { vec![16, 32] } else { c } })
            }
            "bert" => {
                let (mut dir, mut train) = (None, BertTrain::All);
                for kv in rest.split(',').filter(|kv| !kv.trim().is_empty()) {
                    match kv.split_once('=') {
                        Some(("dir", d)) if !d.is_empty() => dir = Some(std::path::PathBuf::from(d)),
                        Some(("train", t)) => train = t.parse().map_err(|e| format!("bad model `{s}`: {e}"))?,
                        _ => return Err(format!("bad model `{s}`: `{kv}`; expected bert[:dir=DIR][,train=all|head|topK]")),
                    }
                }
                Ok(ModelSpec::Bert { dir, train })
            }
            other => {
                Err(format!("unknown model `{other}` in `{s}`; expected mlp:H1,H2,... or cnn[:C1,C2,...] or bert[:dir=DIR][,train=all|head|topK]"))
            }
        }
    }
}

impl TryFrom<String> for ModelSpec {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<ModelSpec> for String {
    fn from(m: ModelSpec) -> String {
        m.to_string()
    }
}

impl fmt::Display for ModelSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |v: &[usize]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(",");
        match self {
            ModelSpec::Mlp { hidden, act, bias } => {
                let mut items = vec![join(hidden)];
                if *act != activation::Act::Relu {
                    items.push(format!("act={act}"));
                }
                if !bias {
                    items.push("bias=false".into());
                }
                items.retain(|i| !i.is_empty());
                if items.is_empty() { write!(f, "mlp") } else { write!(f, "mlp:{}", items.join(",")) }
            }
            ModelSpec::Cnn { channels } => write!(f, "cnn:{}", join(channels)),
            ModelSpec::Bert { dir, train } => {
                let mut opts = Vec::new();
                if let Some(d) = dir {
                    opts.push(format!("dir={}", d.display()));
                }
                if *train != BertTrain::All {
                    opts.push(format!("train={train}"));
                }
                if opts.is_empty() { write!(f, "bert") } else { write!(f, "bert:{}", opts.join(",")) }
            }
        }
    }
}

/// A classifier: an [`Mlp`], a [`Cnn`] or a pretrained BERT ([`bert::BertClassifier`]).
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)] // one per run, moved rarely: boxing would only add indirection
pub enum Net {
    /// Multi-layer perceptron.
    Mlp(Mlp),
    /// Small convolutional network.
    Cnn(Cnn),
    /// BERT encoder and linear head.
    Bert(bert::BertClassifier),
}

/// The kind of a parameterised layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerKind {
    /// `Linear`, weight stored `[in, out]`.
    Linear,
    /// `Conv2d`, weight stored `[out, in, kh, kw]`.
    Conv2d,
    /// `Embedding`, weight `[n, d]` stored as is; no bias.
    Embedding,
    /// `LayerNorm`: weight γ `[d]`, bias β `[d]`.
    Norm,
}

/// A parameterised layer as the rest of reglab sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerInfo {
    /// PyTorch-style prefix, e.g. `layers.0`.
    pub name: String,
    /// Linear or conv.
    pub kind: LayerKind,
    /// Weight shape in PyTorch convention.
    pub shape: Vec<usize>,
    /// Whether the layer has a bias.
    pub has_bias: bool,
}

impl LayerInfo {
    /// Storage layout of the weight relative to its PyTorch shape.
    pub fn layout(&self) -> Layout {
        match self.kind {
            LayerKind::Linear => Layout::Transposed,
            LayerKind::Conv2d | LayerKind::Embedding | LayerKind::Norm => Layout::RowMajor,
        }
    }
    /// The weight's dims as stored (burn layout): `[in, out]` for a linear layer, else its shape.
    pub fn storage_dims(&self) -> Vec<usize> {
        match self.kind {
            LayerKind::Linear => vec![self.shape[1], self.shape[0]],
            _ => self.shape.clone(),
        }
    }
    /// The weight in PyTorch layout from its storage (burn layout) values.
    pub fn weight_to_pytorch(&self, stored: &[f32]) -> Vec<f32> {
        match self.kind {
            LayerKind::Linear => reglab_core::linalg::transpose(stored, self.shape[1], self.shape[0]),
            _ => stored.to_vec(),
        }
    }
    /// The weight's storage (burn layout) values from PyTorch layout.
    pub fn weight_from_pytorch(&self, pytorch: &[f32]) -> Vec<f32> {
        match self.kind {
            LayerKind::Linear => reglab_core::linalg::transpose(pytorch, self.shape[0], self.shape[1]),
            _ => pytorch.to_vec(),
        }
    }
    /// `name.weight`.
    pub fn weight_name(&self) -> String {
        format!("{}.weight", self.name)
    }
    /// `name.bias`.
    pub fn bias_name(&self) -> String {
        format!("{}.bias", self.name)
    }
}

/// Borrowed layer.
pub(crate) enum LayerRef<'a> {
    Linear(&'a Linear),
    Conv(&'a Conv2d),
    Embedding(&'a Embedding),
    Norm(&'a LayerNorm),
}

/// Mutably borrowed layer.
pub(crate) enum LayerMut<'a> {
    Linear(&'a mut Linear),
    Conv(&'a mut Conv2d),
    Embedding(&'a mut Embedding),
    Norm(&'a mut LayerNorm),
}

/// A gradient of rank `rank` (1, 2 or 4) as data and its device, removed from `grads`.
pub(crate) fn remove_grad(grads: &mut GradientsParams, id: ParamId, rank: usize) -> Option<(TensorData, Device)> {
    fn take<const D: usize>(grads: &mut GradientsParams, id: ParamId) -> Option<(TensorData, Device)> {
        grads.remove::<D>(id).map(|t| {
            let dev = t.device();
            (t.into_data(), dev)
        })
    }
    match rank {
        1 => take::<1>(grads, id),
        2 => take::<2>(grads, id),
        4 => take::<4>(grads, id),
        _ => None,
    }
}

/// A gradient of rank `rank` (1, 2 or 4) as data (a copy; `grads` keeps it).
pub(crate) fn get_grad(grads: &GradientsParams, id: ParamId, rank: usize) -> Option<TensorData> {
    match rank {
        1 => grads.get::<1>(id).map(|t| t.into_data()),
        2 => grads.get::<2>(id).map(|t| t.into_data()),
        4 => grads.get::<4>(id).map(|t| t.into_data()),
        _ => None,
    }
}

/// Register `data` (rank 1, 2 or 4) as the gradient of `id`.
pub(crate) fn register_grad(grads: &mut GradientsParams, id: ParamId, data: TensorData, device: &Device) {
    match data.shape().len() {
        1 => grads.register::<1>(id, Tensor::<1>::from_data(data, device)),
        2 => grads.register::<2>(id, Tensor::<2>::from_data(data, device)),
        4 => grads.register::<4>(id, Tensor::<4>::from_data(data, device)),
        r => unreachable!("parameters have rank 1, 2 or 4, not {r}"),
    }
}

/// The BERT folder: `dir`, else `$REGLAB_DATA/minilm`.
fn bert_dir(dir: Option<&std::path::Path>) -> Result<std::path::PathBuf, String> {
    match dir {
        Some(d) => Ok(d.to_path_buf()),
        None => std::env::var_os("REGLAB_DATA")
            .filter(|v| !v.is_empty())
            .map(|r| std::path::PathBuf::from(r).join("minilm"))
            .ok_or_else(|| "model `bert` without a folder needs REGLAB_DATA (it reads $REGLAB_DATA/minilm), or give bert:dir=DIR".to_string()),
    }
}

/// Read a float parameter's values (burn layout).
pub fn param_data<const D: usize>(p: &Param<Tensor<D>>) -> TensorData {
    p.val().inner().into_data()
}

/// Replace the values of a parameter, keeping its id and trainability.
fn set_param<const D: usize>(p: &mut Param<Tensor<D>>, data: TensorData) {
    let old = std::mem::replace(p, Param::from_tensor(Tensor::<D>::zeros([1; D], &p.val().device())));
    *p = old.map(|t| {
        let dev = t.device();
        let mut nt = Tensor::<D>::from_data(data, &dev);
        if t.is_require_grad() {
            nt = nt.require_grad();
        }
        nt
    });
}

impl Net {
    /// Build a model for inputs of `example_shape` (`[c, h, w]` or `[d]`) and `classes` outputs,
    /// with weights drawn from `seed`.
    pub fn new(spec: &ModelSpec, example_shape: &[usize], classes: usize, seed: u64, device: &Device) -> Result<Self, String> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_1417);
        match spec {
            ModelSpec::Mlp { hidden, act, bias } => {
                Ok(Net::Mlp(Mlp::new(example_shape.iter().product(), hidden, classes, *act, *bias, &mut rng, &mut Ids::new(), device)))
            }
            ModelSpec::Cnn { channels } => {
                if example_shape.len() != 3 {
                    return Err(format!("the cnn needs image inputs [c, h, w], the data has examples of shape {example_shape:?}"));
                }
                Cnn::new([example_shape[0], example_shape[1], example_shape[2]], channels, classes, &mut rng, &mut Ids::new(), device).map(Net::Cnn)
            }
            ModelSpec::Bert { dir, train } => {
                let dir = bert_dir(dir.as_deref())?;
                let (mut m, config) = bert::BertClassifier::load(&dir, classes, &mut rng, device)?;
                let layers = m.encoder.layers.len();
                match *train {
                    BertTrain::All => {}
                    BertTrain::Head => m.encoder = m.encoder.no_grad(),
                    BertTrain::Top(k) if k > layers => return Err(format!("bert train = top{k}: the model has {layers} layers")),
                    BertTrain::Top(k) => {
                        m.encoder.embeddings = m.encoder.embeddings.no_grad();
                        let top = m.encoder.layers.split_off(layers - k);
                        let bottom: Vec<bert::BertLayer> = std::mem::take(&mut m.encoder.layers).into_iter().map(|l| l.no_grad()).collect();
                        m.encoder.layers = bottom.into_iter().chain(top).collect();
                    }
                }
                match example_shape {
                    [s] if *s >= 2 && *s <= config.max_position_embeddings => Ok(Net::Bert(m)),
                    _ => Err(format!(
                        "bert needs token-id inputs [max length ≤ {}] (a text data set such as sst2), the data has examples of shape {example_shape:?}",
                        config.max_position_embeddings
                    )),
                }
            }
        }
    }

    /// Logits `[batch, classes]` for flat inputs `[batch, prod(example_shape)]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        match self {
            Net::Mlp(m) => m.forward(x),
            Net::Cnn(c) => c.forward(x),
            Net::Bert(b) => b.forward(x),
        }
    }

    /// The shape `[B, K]` of an input perturbation for the batch `x` (SMART): BERT's embedding
    /// output (`K` = the batch's longest sequence × hidden size), otherwise the input itself.
    pub fn delta_dims(&self, x: Tensor<2>) -> [usize; 2] {
        match self {
            Net::Bert(b) => b.delta_dims(x),
            _ => x.dims(),
        }
    }

    /// Logits with the perturbation `delta` (`[B, K]`, [`Net::delta_dims`]) added to BERT's
    /// embedding output, or to the inputs of the other models.
    pub fn forward_delta(&self, x: Tensor<2>, delta: Tensor<2>) -> Tensor<2> {
        match self {
            Net::Bert(b) => b.forward_delta(x, delta),
            _ => self.forward(x + delta),
        }
    }

    /// Logits with `drop(i, h)` applied to each hidden representation `h` that feeds a later
    /// layer (MLP: after every hidden ReLU; CNN: the flattened conv features before the head).
    pub fn forward_with(&self, x: Tensor<2>, drop: &mut dyn FnMut(usize, Tensor<2>) -> Tensor<2>) -> Tensor<2> {
        match self {
            Net::Mlp(m) => m.forward_with(x, drop),
            Net::Cnn(c) => c.forward_with(x, drop),
            Net::Bert(b) => b.forward_with(x, drop),
        }
    }

    /// The pre-activation of layer `i` (see [`Net::layers`]) on flat inputs, as data
    /// `[batch, out]` (MLP) or `[batch, out, h, w]` (CNN; the head as `[batch, classes, 1, 1]`);
    /// for BERT, the head's only (`[batch, classes]`).
    pub fn preactivation(&self, x: Tensor<2>, i: usize) -> Result<TensorData, String> {
        match self {
            Net::Mlp(m) => Ok(m.preactivation(x, i).into_data()),
            Net::Cnn(c) => Ok(c.preactivation(x, i).into_data()),
            Net::Bert(b) if i + 1 == self.layers().len() => Ok(b.forward(x).into_data()),
            Net::Bert(_) => Err(format!("the pre-activation of BERT layer `{}` is not available (only the head's)", self.layers()[i].name)),
        }
    }

    /// Penultimate features `[batch, d]` (the input of the last layer: the last hidden ReLU
    /// layer of the MLP, the flattened conv output of the CNN), for probes.
    pub fn features(&self, x: Tensor<2>) -> Tensor<2> {
        match self {
            Net::Mlp(m) => m.features(x),
            Net::Cnn(c) => c.features(x),
            Net::Bert(b) => b.features(x),
        }
    }

    pub(crate) fn layer_refs(&self) -> Vec<(String, LayerRef<'_>)> {
        match self {
            Net::Mlp(m) => m.layers.iter().enumerate().map(|(i, l)| (format!("layers.{i}"), LayerRef::Linear(l))).collect(),
            Net::Cnn(c) => {
                let mut v: Vec<(String, LayerRef<'_>)> = c.convs.iter().enumerate().map(|(i, l)| (format!("convs.{i}"), LayerRef::Conv(l))).collect();
                v.push(("head".into(), LayerRef::Linear(&c.head)));
                v
            }
            Net::Bert(b) => {
                let e = &b.encoder.embeddings;
                let mut v: Vec<(String, LayerRef<'_>)> = vec![
                    ("embeddings.word_embeddings".into(), LayerRef::Embedding(&e.word)),
                    ("embeddings.position_embeddings".into(), LayerRef::Embedding(&e.position)),
                    ("embeddings.token_type_embeddings".into(), LayerRef::Embedding(&e.token_type)),
                    ("embeddings.LayerNorm".into(), LayerRef::Norm(&e.norm)),
                ];
                for (l, layer) in b.encoder.layers.iter().enumerate() {
                    let p = format!("encoder.layer.{l}");
                    v.push((format!("{p}.attention.self.query"), LayerRef::Linear(&layer.query)));
                    v.push((format!("{p}.attention.self.key"), LayerRef::Linear(&layer.key)));
                    v.push((format!("{p}.attention.self.value"), LayerRef::Linear(&layer.value)));
                    v.push((format!("{p}.attention.output.dense"), LayerRef::Linear(&layer.attention_output)));
                    v.push((format!("{p}.attention.output.LayerNorm"), LayerRef::Norm(&layer.attention_norm)));
                    v.push((format!("{p}.intermediate.dense"), LayerRef::Linear(&layer.intermediate)));
                    v.push((format!("{p}.output.dense"), LayerRef::Linear(&layer.output)));
                    v.push((format!("{p}.output.LayerNorm"), LayerRef::Norm(&layer.output_norm)));
                }
                v.push(("classifier".into(), LayerRef::Linear(&b.classifier)));
                v
            }
        }
    }

    pub(crate) fn layer_muts(&mut self) -> Vec<LayerMut<'_>> {
        match self {
            Net::Mlp(m) => m.layers.iter_mut().map(LayerMut::Linear).collect(),
            Net::Cnn(c) => {
                let mut v: Vec<LayerMut<'_>> = c.convs.iter_mut().map(LayerMut::Conv).collect();
                v.push(LayerMut::Linear(&mut c.head));
                v
            }
            Net::Bert(b) => {
                let e = &mut b.encoder.embeddings;
                let mut v: Vec<LayerMut<'_>> = vec![
                    LayerMut::Embedding(&mut e.word),
                    LayerMut::Embedding(&mut e.position),
                    LayerMut::Embedding(&mut e.token_type),
                    LayerMut::Norm(&mut e.norm),
                ];
                for layer in b.encoder.layers.iter_mut() {
                    v.push(LayerMut::Linear(&mut layer.query));
                    v.push(LayerMut::Linear(&mut layer.key));
                    v.push(LayerMut::Linear(&mut layer.value));
                    v.push(LayerMut::Linear(&mut layer.attention_output));
                    v.push(LayerMut::Norm(&mut layer.attention_norm));
                    v.push(LayerMut::Linear(&mut layer.intermediate));
                    v.push(LayerMut::Linear(&mut layer.output));
                    v.push(LayerMut::Norm(&mut layer.output_norm));
                }
                v.push(LayerMut::Linear(&mut b.classifier));
                v
            }
        }
    }

    /// The parameterised layers, in forward order.
    pub fn layers(&self) -> Vec<LayerInfo> {
        self.layer_refs()
            .into_iter()
            .map(|(name, l)| match l {
                LayerRef::Linear(l) => {
                    let [i, o] = l.weight.val().dims();
                    LayerInfo { name, kind: LayerKind::Linear, shape: vec![o, i], has_bias: l.bias.is_some() }
                }
                LayerRef::Conv(c) => LayerInfo { name, kind: LayerKind::Conv2d, shape: c.weight.val().dims().to_vec(), has_bias: c.bias.is_some() },
                LayerRef::Embedding(e) => LayerInfo { name, kind: LayerKind::Embedding, shape: e.weight.val().dims().to_vec(), has_bias: false },
                LayerRef::Norm(n) => LayerInfo { name, kind: LayerKind::Norm, shape: n.gamma.val().dims().to_vec(), has_bias: n.beta.is_some() },
            })
            .collect()
    }

    /// Whether layer `i`'s weight trains (a frozen BERT part does not).
    pub fn layer_trainable(&self, i: usize) -> bool {
        match &self.layer_refs()[i].1 {
            LayerRef::Linear(l) => l.weight.val().is_require_grad(),
            LayerRef::Conv(c) => c.weight.val().is_require_grad(),
            LayerRef::Embedding(e) => e.weight.val().is_require_grad(),
            LayerRef::Norm(n) => n.gamma.val().is_require_grad(),
        }
    }

    /// Parameter ids of layer `i`: `(weight, bias)`.
    pub fn param_ids(&self, i: usize) -> (ParamId, Option<ParamId>) {
        match &self.layer_refs()[i].1 {
            LayerRef::Linear(l) => (l.weight.id, l.bias.as_ref().map(|b| b.id)),
            LayerRef::Conv(c) => (c.weight.id, c.bias.as_ref().map(|b| b.id)),
            LayerRef::Embedding(e) => (e.weight.id, None),
            LayerRef::Norm(n) => (n.gamma.id, n.beta.as_ref().map(|b| b.id)),
        }
    }

    /// Values of layer `i` in burn layout: `(weight, bias)`.
    pub fn layer_data(&self, i: usize) -> (TensorData, Option<TensorData>) {
        match &self.layer_refs()[i].1 {
            LayerRef::Linear(l) => (param_data(&l.weight), l.bias.as_ref().map(param_data)),
            LayerRef::Conv(c) => (param_data(&c.weight), c.bias.as_ref().map(param_data)),
            LayerRef::Embedding(e) => (param_data(&e.weight), None),
            LayerRef::Norm(n) => (param_data(&n.gamma), n.beta.as_ref().map(param_data)),
        }
    }

    /// Replace the weight of layer `i` (burn layout data).
    pub fn set_weight(&mut self, i: usize, data: TensorData) {
        match &mut self.layer_muts()[i] {
            LayerMut::Linear(l) => set_param(&mut l.weight, data),
            LayerMut::Conv(c) => set_param(&mut c.weight, data),
            LayerMut::Embedding(e) => set_param(&mut e.weight, data),
            LayerMut::Norm(n) => set_param(&mut n.gamma, data),
        }
    }

    /// Replace the bias of layer `i`.
    pub fn set_bias(&mut self, i: usize, data: TensorData) {
        match &mut self.layer_muts()[i] {
            LayerMut::Linear(l) => {
                if let Some(b) = l.bias.as_mut() {
                    set_param(b, data)
                }
            }
            LayerMut::Conv(c) => {
                if let Some(b) = c.bias.as_mut() {
                    set_param(b, data)
                }
            }
            LayerMut::Norm(n) => {
                if let Some(b) = n.beta.as_mut() {
                    set_param(b, data)
                }
            }
            LayerMut::Embedding(_) => {}
        }
    }

    /// Every parameter in PyTorch layout and names (what `model.safetensors` holds).
    pub fn to_pytorch(&self) -> Vec<NamedTensor> {
        let mut out = Vec::new();
        for (i, info) in self.layers().iter().enumerate() {
            let (w, b) = self.layer_data(i);
            let w: &[f32] = w.as_slice().expect("f32 weights");
            let data = info.weight_to_pytorch(w);
            out.push(NamedTensor::new(info.weight_name(), info.shape.clone(), data));
            if let Some(b) = b {
                let b: &[f32] = b.as_slice().expect("f32 bias");
                out.push(NamedTensor::new(info.bias_name(), vec![b.len()], b.to_vec()));
            }
        }
        out
    }

    /// Load parameters from PyTorch-layout tensors (names and shapes must match this model).
    pub fn load_pytorch(&mut self, tensors: &[NamedTensor]) -> Result<(), String> {
        let find = |name: &str, shape: &[usize]| -> Result<&NamedTensor, String> {
            let t = tensors.iter().find(|t| t.name == name).ok_or_else(|| format!("no tensor `{name}` in the checkpoint"))?;
            if t.shape != shape {
                return Err(format!("tensor `{name}` has shape {:?}, the model needs {shape:?}", t.shape));
            }
            Ok(t)
        };
        for (i, info) in self.layers().iter().enumerate() {
            let w = find(&info.weight_name(), &info.shape)?;
            self.set_weight(i, TensorData::new(info.weight_from_pytorch(&w.data), info.storage_dims()));
            if info.has_bias {
                let b = find(&info.bias_name(), &[info.shape[0]])?;
                self.set_bias(i, TensorData::new(b.data.clone(), [info.shape[0]]));
            }
        }
        Ok(())
    }
}

/// U(−1/√fan_in, 1/√fan_in), PyTorch's default for Linear and Conv weights and biases.
pub(crate) fn uniform_fan_in(n: usize, fan_in: usize, rng: &mut impl Rng) -> Vec<f32> {
    let k = 1.0 / (fan_in as f32).sqrt();
    (0..n).map(|_| (rng.random::<f32>() * 2.0 - 1.0) * k).collect()
}

/// Deterministic parameter ids: the k-th parameter created for a model gets id k+1, so the
/// optimizer's saved state (keyed by id) loads into a model rebuilt in another process.
pub(crate) struct Ids(u64);

impl Ids {
    pub(crate) fn new() -> Self {
        Ids(0)
    }
    /// Ids continuing after `n` parameters.
    pub(crate) fn starting_after(n: u64) -> Self {
        Ids(n)
    }
    fn next(&mut self) -> ParamId {
        self.0 += 1;
        ParamId::from(self.0)
    }
}

/// A trainable parameter from data, with the next deterministic id.
pub(crate) fn param<const D: usize>(ids: &mut Ids, data: Vec<f32>, shape: [usize; D], device: &Device) -> Param<Tensor<D>> {
    let t = Tensor::<D>::from_data(TensorData::new(data, shape), device);
    let p = Param::from_tensor(t);
    let (_, t, _) = p.consume();
    Param::initialized(ids.next(), t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_specs_parse_and_print() {
        assert_eq!("mlp:128,64".parse::<ModelSpec>().unwrap(), ModelSpec::mlp(&[128, 64]));
        assert_eq!("cnn".parse::<ModelSpec>().unwrap().to_string(), "cnn:16,32");
        assert!("mlp:0".parse::<ModelSpec>().is_err());
        assert!("mlp:a".parse::<ModelSpec>().is_err());
        let e = "resnet".parse::<ModelSpec>().unwrap_err();
        assert!(e.contains("unknown model `resnet`"), "{e}");
    }

    #[test]
    fn pytorch_round_trip_and_layout() {
        let dev = Device::flex();
        let spec: ModelSpec = "mlp:5".parse().unwrap();
        let net = Net::new(&spec, &[3], 2, 7, &dev).unwrap();
        let t = net.to_pytorch();
        let names: Vec<_> = t.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"]);
        assert_eq!(t[0].shape, vec![5, 3]);
        // PyTorch semantics: y = W x + b with W [out, in]; check against burn's forward.
        let x = [0.3f32, -1.0, 2.0];
        let w = &t[0].data;
        let b = &t[1].data;
        let h: Vec<f32> = (0..5).map(|o| (0..3).map(|i| w[o * 3 + i] * x[i]).sum::<f32>() + b[o]).collect();
        let Net::Mlp(m) = &net else { unreachable!() };
        let y = m.layers[0].forward(Tensor::<2>::from_data(TensorData::new(x.to_vec(), [1, 3]), &dev)).into_data();
        let y: Vec<f32> = y.as_slice::<f32>().unwrap().to_vec();
        for (a, b) in y.iter().zip(&h) {
            assert!((a - b).abs() < 1e-5, "{y:?} vs {h:?}");
        }
        // load back into a differently seeded net
        let mut other = Net::new(&spec, &[3], 2, 8, &dev).unwrap();
        assert_ne!(other.to_pytorch(), t);
        other.load_pytorch(&t).unwrap();
        assert_eq!(other.to_pytorch(), t);
        let mut bad = t.clone();
        bad[0].shape = vec![3, 5];
        assert!(other.load_pytorch(&bad).unwrap_err().contains("layers.0.weight"));
    }

    #[test]
    fn parameter_ids_are_deterministic_and_trainable() {
        let dev = Device::flex().autodiff();
        let s: ModelSpec = "mlp:4".parse().unwrap();
        let a = Net::new(&s, &[3], 2, 1, &dev).unwrap();
        let b = Net::new(&s, &[3], 2, 9, &dev).unwrap();
        assert_eq!(a.param_ids(0), b.param_ids(0));
        assert_ne!(a.param_ids(0).0, a.param_ids(1).0);
        let Net::Mlp(m) = &a else { unreachable!() };
        assert!(m.layers[0].weight.val().is_require_grad());
    }

    #[test]
    fn cnn_shapes() {
        let dev = Device::flex();
        let net = Net::new(&"cnn:4,8".parse().unwrap(), &[1, 8, 8], 10, 0, &dev).unwrap();
        let l = net.layers();
        assert_eq!(l[0].shape, vec![4, 1, 3, 3]);
        assert_eq!(l[1].shape, vec![8, 4, 3, 3]);
        assert_eq!(l[2].shape, vec![10, 8 * 2 * 2]);
        let y = net.forward(Tensor::<2>::zeros([3, 64], &dev));
        assert_eq!(y.dims(), [3, 10]);
        assert!(Net::new(&"cnn".parse().unwrap(), &[64], 10, 0, &dev).is_err());
    }

    #[test]
    fn same_seed_same_weights() {
        let dev = Device::flex();
        let s: ModelSpec = "mlp:16".parse().unwrap();
        let a = Net::new(&s, &[4], 3, 1, &dev).unwrap().to_pytorch();
        let b = Net::new(&s, &[4], 3, 1, &dev).unwrap().to_pytorch();
        let c = Net::new(&s, &[4], 3, 2, &dev).unwrap().to_pytorch();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
