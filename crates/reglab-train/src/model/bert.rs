//! A BERT encoder (Devlin et al., "BERT: Pre-training of Deep Bidirectional Transformers for
//! Language Understanding", NAACL 2019) on burn, loaded from a Hugging Face folder
//! (`config.json` + `model.safetensors`), and the sentence embedding of sentence-transformers
//! (Reimers & Gurevych 2019: mean pooling over the non-padding tokens, then L2 normalisation).
//!
//! For token ids `t ∈ ℕ^{B×S}` (batch `B`, sequence `S`, padded with the pad id) and the
//! attention mask `m ∈ {0,1}^{B×S}` (1 = a real token), with hidden size `H`, `A` heads of size
//! `d = H/A`, intermediate size `I` and `L` layers:
//!
//! - embeddings: `x⁰ = LN(E_word[t] + E_pos[0..S] + E_type[0])`, `E_word ∈ ℝ^{V×H}`,
//!   `E_pos ∈ ℝ^{P×H}`, `E_type ∈ ℝ^{T×H}`; every token has type 0 (single sentences);
//! - each layer `l` (post-LayerNorm):
//!   `q, k, v = x W_{q,k,v} + b` (`W ∈ ℝ^{H×H}`), split into `A` heads;
//!   `P = softmax(q kᵀ / √d + (1 − m) · (−∞))` over the keys (padding keys get weight 0);
//!   `a = LN(x + concat_heads(P v) W_o + b_o)`; `x' = LN(a + gelu(a W_i + b_i) W_2 + b_2)`
//!   with `W_i ∈ ℝ^{H×I}`, `W_2 ∈ ℝ^{I×H}` and the exact (erf) GELU;
//! - sentence embedding: `e = u / max(‖u‖₂, 1e−12)`, `u = Σ_s m_s x^L_s / max(Σ_s m_s, 1e−9)`.
//!
//! LayerNorm: `LN(z) = γ ⊙ (z − mean z) / √(var z + ε) + β` over the hidden axis, ε from the
//! config (`layer_norm_eps`). Masked keys get the score `f32::MIN` rather than −∞, which is what
//! the reference implementation adds; the softmax weight is then exactly 0.
//!
//! Weights load by their Hugging Face names (`embeddings.word_embeddings.weight`,
//! `encoder.layer.{l}.attention.self.query.weight`, …; an optional `bert.` prefix; LayerNorm
//! `weight`/`bias` or the older `gamma`/`beta`); `pooler.*` and `embeddings.position_ids` are not
//! used. Linear weights are `[out, in]` in the file and stored `[in, out]` by burn. Parity with
//! the PyTorch reference: `crates/reglab-train/tests/bert_parity.rs`.

use super::{Ids, param};
use burn::module::Module;
use burn::nn::{Embedding, LayerNorm, LayerNormConfig, Linear};
use burn::tensor::activation::{gelu, softmax};
use burn::tensor::{Device, Int, Tensor, TensorData};
use reglab_core::NamedTensor;
use std::collections::HashMap;
use std::path::Path;

/// The fields of a Hugging Face BERT `config.json` that the encoder uses (others are ignored).
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
pub struct BertConfig {
    /// `H`.
    pub hidden_size: usize,
    /// `A`.
    pub num_attention_heads: usize,
    /// `L`.
    pub num_hidden_layers: usize,
    /// `I`.
    pub intermediate_size: usize,
    /// `V`.
    pub vocab_size: usize,
    /// `P`, the longest sequence.
    pub max_position_embeddings: usize,
    /// `T`.
    #[serde(default = "default_type_vocab")]
    pub type_vocab_size: usize,
    /// ε of every LayerNorm.
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    /// Must be `"gelu"` (the exact GELU).
    #[serde(default = "default_act")]
    pub hidden_act: String,
    /// Dropout on the embeddings and after each sub-layer while fine-tuning.
    #[serde(default)]
    pub hidden_dropout_prob: f64,
    /// Dropout on the attention weights while fine-tuning.
    #[serde(default)]
    pub attention_probs_dropout_prob: f64,
    /// The padding token's id.
    #[serde(default)]
    pub pad_token_id: usize,
}

fn default_type_vocab() -> usize {
    2
}
fn default_eps() -> f64 {
    1e-12
}
fn default_act() -> String {
    "gelu".into()
}

impl BertConfig {
    /// Read and check `config.json`; errors name the file and the key.
    pub fn read(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let c: BertConfig = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        c.check().map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(c)
    }

    /// The sizes are positive, the heads divide the hidden size, the activation is GELU.
    pub fn check(&self) -> Result<(), String> {
        for (k, v) in [
            ("hidden_size", self.hidden_size),
            ("num_attention_heads", self.num_attention_heads),
            ("num_hidden_layers", self.num_hidden_layers),
            ("intermediate_size", self.intermediate_size),
            ("vocab_size", self.vocab_size),
            ("max_position_embeddings", self.max_position_embeddings),
            ("type_vocab_size", self.type_vocab_size),
        ] {
            if v == 0 {
                return Err(format!("`{k}` is 0"));
            }
        }
        if !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return Err(format!("`hidden_size` {} is not a multiple of `num_attention_heads` {}", self.hidden_size, self.num_attention_heads));
        }
        if self.hidden_act != "gelu" {
            return Err(format!("`hidden_act` = \"{}\": only \"gelu\" (the exact GELU) is supported", self.hidden_act));
        }
        if !(self.layer_norm_eps > 0.0 && self.layer_norm_eps.is_finite()) {
            return Err(format!("`layer_norm_eps` = {}: expected > 0", self.layer_norm_eps));
        }
        for (k, p) in [("hidden_dropout_prob", self.hidden_dropout_prob), ("attention_probs_dropout_prob", self.attention_probs_dropout_prob)] {
            if !(0.0..1.0).contains(&p) {
                return Err(format!("`{k}` = {p}: expected in [0, 1)"));
            }
        }
        if self.pad_token_id >= self.vocab_size {
            return Err(format!("`pad_token_id` {} is not below `vocab_size` {}", self.pad_token_id, self.vocab_size));
        }
        Ok(())
    }
}

/// The embedding block.
#[derive(Module, Debug)]
pub struct BertEmbeddings {
    /// `E_word`, `[V, H]`.
    pub word: Embedding,
    /// `E_pos`, `[P, H]`.
    pub position: Embedding,
    /// `E_type`, `[T, H]`.
    pub token_type: Embedding,
    /// The LayerNorm after the sum.
    pub norm: LayerNorm,
}

/// One transformer layer (self-attention and feed-forward, each followed by add & LayerNorm).
#[derive(Module, Debug)]
pub struct BertLayer {
    /// `W_q`, `[H, H]` as burn stores it.
    pub query: Linear,
    /// `W_k`.
    pub key: Linear,
    /// `W_v`.
    pub value: Linear,
    /// `W_o`.
    pub attention_output: Linear,
    /// The LayerNorm after attention.
    pub attention_norm: LayerNorm,
    /// `W_i`, `[H, I]`.
    pub intermediate: Linear,
    /// `W_2`, `[I, H]`.
    pub output: Linear,
    /// The LayerNorm after the feed-forward block.
    pub output_norm: LayerNorm,
}

/// The encoder: embeddings and `L` layers.
#[derive(Module, Debug)]
pub struct BertEncoder {
    /// Embeddings.
    pub embeddings: BertEmbeddings,
    /// Layers, bottom first.
    pub layers: Vec<BertLayer>,
    /// `A`.
    pub heads: usize,
}

/// The Hugging Face name of each parameter, in creation order: `(name, shape in the file)`.
pub fn parameter_names(c: &BertConfig) -> Vec<(String, Vec<usize>)> {
    let (h, i) = (c.hidden_size, c.intermediate_size);
    let mut v = vec![
        ("embeddings.word_embeddings.weight".to_string(), vec![c.vocab_size, h]),
        ("embeddings.position_embeddings.weight".to_string(), vec![c.max_position_embeddings, h]),
        ("embeddings.token_type_embeddings.weight".to_string(), vec![c.type_vocab_size, h]),
        ("embeddings.LayerNorm.weight".to_string(), vec![h]),
        ("embeddings.LayerNorm.bias".to_string(), vec![h]),
    ];
    for l in 0..c.num_hidden_layers {
        let p = format!("encoder.layer.{l}");
        for (name, shape) in [
            ("attention.self.query.weight", vec![h, h]),
            ("attention.self.query.bias", vec![h]),
            ("attention.self.key.weight", vec![h, h]),
            ("attention.self.key.bias", vec![h]),
            ("attention.self.value.weight", vec![h, h]),
            ("attention.self.value.bias", vec![h]),
            ("attention.output.dense.weight", vec![h, h]),
            ("attention.output.dense.bias", vec![h]),
            ("attention.output.LayerNorm.weight", vec![h]),
            ("attention.output.LayerNorm.bias", vec![h]),
            ("intermediate.dense.weight", vec![i, h]),
            ("intermediate.dense.bias", vec![i]),
            ("output.dense.weight", vec![h, i]),
            ("output.dense.bias", vec![h]),
            ("output.LayerNorm.weight", vec![h]),
            ("output.LayerNorm.bias", vec![h]),
        ] {
            v.push((format!("{p}.{name}"), shape));
        }
    }
    v
}

/// The float tensors of a safetensors file by name (any float element type, converted to f32;
/// others skipped), with a leading `bert.` dropped and LayerNorm `gamma`/`beta` renamed
/// `weight`/`bias`.
fn read_float_tensors(path: &Path) -> Result<HashMap<String, NamedTensor>, String> {
    let tensors = crate::tensorfile::read_floats(path).map_err(|e| e.to_string())?;
    Ok(tensors
        .into_iter()
        .map(|t| {
            let name = t
                .name
                .strip_prefix("bert.")
                .unwrap_or(&t.name)
                .replace("LayerNorm.gamma", "LayerNorm.weight")
                .replace("LayerNorm.beta", "LayerNorm.bias");
            (name, t)
        })
        .collect())
}

fn layer_norm(gamma: Vec<f32>, beta: Vec<f32>, eps: f64, ids: &mut Ids, device: &Device) -> LayerNorm {
    let n = gamma.len();
    let mut ln = LayerNormConfig::new(n).with_epsilon(eps).init(device);
    ln.gamma = param(ids, gamma, [n], device);
    ln.beta = Some(param(ids, beta, [n], device));
    ln
}

/// A linear layer from a weight stored `[out, in]` (PyTorch) and its bias.
fn linear(w: Vec<f32>, d_out: usize, d_in: usize, b: Vec<f32>, ids: &mut Ids, device: &Device) -> Linear {
    let wt = reglab_core::linalg::transpose(&w, d_out, d_in);
    Linear { weight: param(ids, wt, [d_in, d_out], device), bias: Some(param(ids, b, [d_out], device)) }
}

impl BertEncoder {
    /// Load the encoder of the Hugging Face folder `dir` (`config.json`, `model.safetensors`).
    /// Every tensor the config asks for must be in the file with its shape; errors name the
    /// file and the tensor.
    pub fn load(dir: &Path, device: &Device) -> Result<(Self, BertConfig), String> {
        let config = BertConfig::read(&dir.join("config.json"))?;
        let path = dir.join("model.safetensors");
        let mut tensors = read_float_tensors(&path)?;
        let mut take = |name: &str, shape: &[usize]| -> Result<Vec<f32>, String> {
            let t = tensors.remove(name).ok_or_else(|| {
                format!("{}: no tensor `{name}` of a float type — is it a BERT checkpoint matching its config.json?", path.display())
            })?;
            if t.shape != shape {
                return Err(format!("{}: tensor `{name}` has shape {:?}, config.json implies {shape:?}", path.display(), t.shape));
            }
            Ok(t.data)
        };
        let names = parameter_names(&config);
        let mut values = Vec::with_capacity(names.len());
        for (n, s) in &names {
            values.push(take(n, s)?);
        }
        Ok((Self::from_values(&config, values, device), config))
    }

    /// The encoder of `config` with the parameters `values`, in [`parameter_names`] order (as
    /// in the file: linear weights `[out, in]`).
    pub fn from_values(config: &BertConfig, values: Vec<Vec<f32>>, device: &Device) -> Self {
        let (h, i, eps) = (config.hidden_size, config.intermediate_size, config.layer_norm_eps);
        let ids = &mut Ids::new();
        let mut v = values.into_iter();
        let mut next = move || v.next().expect("one value per parameter name");
        let word = Embedding { weight: param(ids, next(), [config.vocab_size, h], device) };
        let position = Embedding { weight: param(ids, next(), [config.max_position_embeddings, h], device) };
        let token_type = Embedding { weight: param(ids, next(), [config.type_vocab_size, h], device) };
        let norm = layer_norm(next(), next(), eps, ids, device);
        let embeddings = BertEmbeddings { word, position, token_type, norm };
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for _ in 0..config.num_hidden_layers {
            let query = linear(next(), h, h, next(), ids, device);
            let key = linear(next(), h, h, next(), ids, device);
            let value = linear(next(), h, h, next(), ids, device);
            let attention_output = linear(next(), h, h, next(), ids, device);
            let attention_norm = layer_norm(next(), next(), eps, ids, device);
            let intermediate = linear(next(), i, h, next(), ids, device);
            let output = linear(next(), h, i, next(), ids, device);
            let output_norm = layer_norm(next(), next(), eps, ids, device);
            layers.push(BertLayer { query, key, value, attention_output, attention_norm, intermediate, output, output_norm });
        }
        Self { embeddings, layers, heads: config.num_attention_heads }
    }

    /// The last hidden states `[B, S, H]` of token ids `[B, S]` with the attention mask `[B, S]`
    /// (1.0 for a token, 0.0 for padding).
    pub fn forward(&self, ids: Tensor<2, Int>, mask: Tensor<2>) -> Tensor<3> {
        self.encode(self.embeddings_output(ids), mask)
    }

    /// The embedding output `[B, S, H]` (word + position + token type, LayerNorm) of ids `[B, S]`.
    pub fn embeddings_output(&self, ids: Tensor<2, Int>) -> Tensor<3> {
        let [b, s] = ids.dims();
        let device = ids.device();
        let positions = Tensor::<1, Int>::arange(0..s as i64, &device).reshape([1, s]).expand([b, s]);
        let types = Tensor::<2, Int>::zeros([b, s], &device);
        let e = &self.embeddings;
        e.norm.forward(e.word.forward(ids) + e.position.forward(positions) + e.token_type.forward(types))
    }

    /// The layers on an embedding output `x` `[B, S, H]` with the attention mask `[B, S]`.
    pub fn encode(&self, x: Tensor<3>, mask: Tensor<2>) -> Tensor<3> {
        self.encode_with(x, mask, None)
    }

    /// [`Self::encode`] with `drop(site, t)` applied where BERT applies dropout in training
    /// (`t` flattened to `[B, ·]`): the embedding output (site 1) and, in layer `l`, the
    /// attention probabilities (site `2 + 3l`), the attention block's output before its residual
    /// and LayerNorm (`3 + 3l`) and the feed-forward block's (`4 + 3l`).
    pub fn encode_with(&self, x: Tensor<3>, mask: Tensor<2>, mut drop: Option<&mut dyn FnMut(usize, Tensor<2>) -> Tensor<2>>) -> Tensor<3> {
        let [b, s, _] = x.dims();
        // (1 − m) · f32::MIN on the keys, broadcast over heads and queries: [B, 1, 1, S]
        let bias = (mask.neg() + 1.0).mul_scalar(f32::MIN).reshape([b, 1, 1, s]);
        let mut x = match drop.as_deref_mut() {
            Some(d) => apply3(d, 1, x),
            None => x,
        };
        for (l, layer) in self.layers.iter().enumerate() {
            let d: Option<&mut dyn FnMut(usize, Tensor<2>) -> Tensor<2>> = match drop {
                Some(ref mut f) => Some(&mut **f),
                None => None,
            };
            x = layer.forward(x, bias.clone(), self.heads, d, 2 + 3 * l);
        }
        x
    }

    /// The sentence embeddings `[B, H]`: the hidden states mean-pooled over the real tokens, then
    /// L2-normalised.
    pub fn embed(&self, ids: Tensor<2, Int>, mask: Tensor<2>) -> Tensor<2> {
        normalize(mean_pool(self.forward(ids, mask.clone()), mask))
    }
}

/// `drop(site, t)` on a 3-D tensor, through its `[B, ·]` view.
fn apply3(drop: &mut dyn FnMut(usize, Tensor<2>) -> Tensor<2>, site: usize, t: Tensor<3>) -> Tensor<3> {
    let [b, s, h] = t.dims();
    drop(site, t.reshape([b, s * h])).reshape([b, s, h])
}

impl BertLayer {
    /// The layer; with `drop`, dropout at sites `site` (attention probabilities), `site + 1`
    /// (attention output) and `site + 2` (feed-forward output).
    fn forward(
        &self,
        x: Tensor<3>,
        bias: Tensor<4>,
        heads: usize,
        mut drop: Option<&mut dyn FnMut(usize, Tensor<2>) -> Tensor<2>>,
        site: usize,
    ) -> Tensor<3> {
        let [b, s, h] = x.dims();
        let d = h / heads;
        let split = |t: Tensor<3>| t.reshape([b, s, heads, d]).swap_dims(1, 2); // [B, A, S, d]
        let q = split(self.query.forward(x.clone()));
        let k = split(self.key.forward(x.clone()));
        let v = split(self.value.forward(x.clone()));
        let scores = q.matmul(k.swap_dims(2, 3)).div_scalar((d as f64).sqrt()) + bias;
        let mut p = softmax(scores, 3);
        if let Some(dr) = drop.as_deref_mut() {
            p = dr(site, p.reshape([b, heads * s * s])).reshape([b, heads, s, s]);
        }
        let ctx = p.matmul(v).swap_dims(1, 2).reshape([b, s, h]);
        let mut ao = self.attention_output.forward(ctx);
        if let Some(dr) = drop.as_deref_mut() {
            ao = apply3(dr, site + 1, ao);
        }
        let a = self.attention_norm.forward(x + ao);
        let mut f = self.output.forward(gelu(self.intermediate.forward(a.clone())));
        if let Some(dr) = drop {
            f = apply3(dr, site + 2, f);
        }
        self.output_norm.forward(a + f)
    }
}

/// `Σ_s m_s x_s / max(Σ_s m_s, 1e−9)`: `[B, S, H]`, mask `[B, S]` → `[B, H]`.
pub fn mean_pool(x: Tensor<3>, mask: Tensor<2>) -> Tensor<2> {
    let [b, s, h] = x.dims();
    let m = mask.reshape([b, s, 1]);
    let sum = (x * m.clone()).sum_dim(1).reshape([b, h]);
    let count = m.sum_dim(1).reshape([b, 1]).clamp_min(1e-9);
    sum / count
}

/// Rows divided by `max(‖row‖₂, 1e−12)`.
pub fn normalize(x: Tensor<2>) -> Tensor<2> {
    let n = x.clone().powf_scalar(2.0).sum_dim(1).sqrt().clamp_min(1e-12);
    x / n
}

/// The length of a float-coded id row padded on the right with `pad`: up to its last non-pad
/// id (at least 1).
pub fn sequence_len(ids: &[f32], pad: f32) -> usize {
    ids.iter().rposition(|&t| t != pad).map_or(1, |p| p + 1)
}

/// Pad token-id lists to the longest (with `pad`): ids `[B, S]` and mask `[B, S]` as tensors.
pub fn batch_tensors(seqs: &[Vec<u32>], pad: u32, device: &Device) -> (Tensor<2, Int>, Tensor<2>) {
    let s = seqs.iter().map(Vec::len).max().unwrap_or(0).max(1);
    let b = seqs.len();
    let mut ids = Vec::with_capacity(b * s);
    let mut mask = Vec::with_capacity(b * s);
    for q in seqs {
        ids.extend(q.iter().map(|&t| t as i64));
        ids.extend(std::iter::repeat_n(pad as i64, s - q.len()));
        mask.extend(std::iter::repeat_n(1.0f32, q.len()));
        mask.extend(std::iter::repeat_n(0.0f32, s - q.len()));
    }
    (Tensor::<2, Int>::from_data(TensorData::new(ids, [b, s]), device), Tensor::<2>::from_data(TensorData::new(mask, [b, s]), device))
}

/// A sequence classifier: the encoder, mean pooling over the real tokens (not normalised) and a
/// linear head `classifier` (`[classes, H]` in PyTorch layout) on the pooled vector. Inputs are
/// token ids stored as floats, `[B, S_max]`, padded on the right with the pad id; each batch is
/// cut to its longest sequence before the encoder.
#[derive(Module, Debug)]
pub struct BertClassifier {
    /// The (pretrained) encoder.
    pub encoder: BertEncoder,
    /// The head.
    pub classifier: Linear,
    /// The pad id.
    pub pad: usize,
}

impl BertClassifier {
    /// The encoder of folder `dir` with a new head for `classes` classes (PyTorch's default
    /// initialisation, drawn from `rng`); the head's parameter ids follow the encoder's.
    pub fn load(dir: &Path, classes: usize, rng: &mut impl rand::Rng, device: &Device) -> Result<(Self, BertConfig), String> {
        let (encoder, config) = BertEncoder::load(dir, device)?;
        let mut ids = Ids::starting_after(parameter_names(&config).len() as u64);
        let classifier = super::mlp::linear(config.hidden_size, classes, rng, &mut ids, device);
        Ok((Self { encoder, classifier, pad: config.pad_token_id }, config))
    }

    /// The pooled features `[B, H]` of float-coded ids `[B, S_max]`.
    pub fn features(&self, x: Tensor<2>) -> Tensor<2> {
        let (x, mask) = self.cut(x);
        mean_pool(self.encoder.forward(x.int(), mask.clone()), mask)
    }

    /// The batch cut to its longest real sequence (ids are padded on the right) and its mask.
    fn cut(&self, x: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let [b, s] = x.dims();
        let pad = self.pad as f32;
        let host: Vec<f32> = x.clone().into_data().convert::<f32>().try_into_vec::<f32>().unwrap_or_default();
        let len = (0..b).map(|i| sequence_len(&host[i * s..(i + 1) * s], pad)).max().unwrap_or(1);
        let x = x.slice([0..b, 0..len]);
        let mask = x.clone().not_equal_elem(pad).float();
        (x, mask)
    }

    /// The shape `[B, len·H]` of a perturbation of the embedding output of the batch `x`.
    pub fn delta_dims(&self, x: Tensor<2>) -> [usize; 2] {
        let (x, _) = self.cut(x);
        let [b, len] = x.dims();
        let h = self.classifier.weight.val().dims()[0];
        [b, len * h]
    }

    /// Logits with `delta` (`[B, len·H]`, see [`Self::delta_dims`]) added to the embedding
    /// output (after the embeddings' LayerNorm, before the first layer).
    pub fn forward_delta(&self, x: Tensor<2>, delta: Tensor<2>) -> Tensor<2> {
        let (x, mask) = self.cut(x);
        let e = self.encoder.embeddings_output(x.int());
        let [b, len, h] = e.dims();
        let e = e + delta.reshape([b, len, h]);
        self.classifier.forward(mean_pool(self.encoder.encode(e, mask.clone()), mask))
    }

    /// Logits `[B, classes]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.classifier.forward(self.features(x))
    }

    /// Logits with `drop(site, h)` applied wherever BERT fine-tuning applies dropout: inside the
    /// encoder ([`BertEncoder::encode_with`], sites ≥ 1) and on the pooled features before the
    /// head (site 0, called last).
    pub fn forward_with(&self, x: Tensor<2>, drop: &mut dyn FnMut(usize, Tensor<2>) -> Tensor<2>) -> Tensor<2> {
        let (x, mask) = self.cut(x);
        let e = self.encoder.embeddings_output(x.int());
        let pooled = mean_pool(self.encoder.encode_with(e, mask.clone(), Some(&mut *drop)), mask);
        self.classifier.forward(drop(0, pooled))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// A random 2-layer BERT (hidden 8, 2 heads) with a 3-class head.
    fn tiny() -> BertClassifier {
        let c: BertConfig = serde_json::from_str(
            r#"{"hidden_size": 8, "num_attention_heads": 2, "num_hidden_layers": 2, "intermediate_size": 12, "vocab_size": 20, "max_position_embeddings": 16}"#,
        )
        .unwrap();
        let values: Vec<Vec<f32>> = parameter_names(&c)
            .iter()
            .enumerate()
            .map(|(k, (_, shape))| reglab_core::testing::random_vec(shape.iter().product(), 0.3, k as u64))
            .collect();
        let device = Device::flex().autodiff();
        let encoder = BertEncoder::from_values(&c, values, &device);
        let mut ids = Ids::starting_after(parameter_names(&c).len() as u64);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let classifier = super::super::mlp::linear(8, 3, &mut rng, &mut ids, &device);
        BertClassifier { encoder, classifier, pad: 0 }
    }

    #[test]
    fn dropout_sites_are_the_embeddings_attention_probabilities_sublayer_outputs_and_pooled_features() {
        let m = tiny();
        // two sentences of 5 and 3 tokens, padded with 0 to 7
        let x = Tensor::<2>::from_data(
            TensorData::new(vec![3.0f32, 4.0, 5.0, 6.0, 7.0, 0.0, 0.0, 8.0, 9.0, 10.0, 0.0, 0.0, 0.0, 0.0], [2, 7]),
            &Device::flex().autodiff(),
        );
        let mut seen = Vec::new();
        let same = m.forward_with(x.clone(), &mut |site, t| {
            seen.push((site, t.dims()));
            t
        });
        // cut to 5 tokens: hidden [2, 5·8], attention probabilities [2, 2·5·5], pooled [2, 8]
        let (hid, att) = ([2, 40], [2, 50]);
        assert_eq!(seen, vec![(1, hid), (2, att), (3, hid), (4, hid), (5, att), (6, hid), (7, hid), (0, [2, 8])]);
        // the identity at every site is the plain forward pass, bit for bit
        let host = |t: Tensor<2>| t.into_data().convert::<f32>().try_into_vec::<f32>().unwrap();
        assert_eq!(host(same), host(m.forward(x.clone())));
        // zeroing one site changes the logits
        let dropped = m.forward_with(x.clone(), &mut |site, t| if site == 4 { t.mul_scalar(0.0) } else { t });
        assert_ne!(host(dropped), host(m.forward(x)));
    }
}
