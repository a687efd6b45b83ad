//! Experiment files: one TOML file describes data, model, optimizer, task stream, seeds and the
//! arms (named regularizer sets) trained under identical conditions. Every key is documented in
//! `docs/experiments.md`; unknown keys are errors.

use crate::data::DataSource;
use reglab_train::model::ModelSpec;
use reglab_train::optim::OptimSpec;
use reglab_train::reparam::ReparamSpec;
use reglab_train::trainer::TrainConfig;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// A whole experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// `"train"` (the default when absent); every other kind has its own parser (see
    /// [`crate::kinds::KINDS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Name, used in the report.
    pub name: String,
    /// The question the experiment answers (a paragraph for the report).
    #[serde(default)]
    pub question: String,
    /// Label of the `x` axis of the by-curve plots (arms with `group` and `x`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x_label: Option<String>,
    /// Seeds: every arm runs once per seed.
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
    /// Data.
    pub data: DataConfig,
    /// Model.
    pub model: ModelConfig,
    /// Optimizer.
    pub optim: OptimConfig,
    /// Task stream.
    pub stream: StreamConfig,
    /// Probes.
    #[serde(default)]
    pub probe: ProbeConfig,
    /// Arms.
    #[serde(rename = "arm", default)]
    pub arms: Vec<Arm>,
}

fn default_seeds() -> Vec<u64> {
    vec![0]
}

/// `[data]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// `digits`, `mnist` or `fashion`.
    pub source: String,
    /// Directory of the IDX files (default: `$REGLAB_DATA/mnist` or `$REGLAB_DATA/fashion-mnist`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// Use only the first N training examples.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subset: Option<usize>,
    /// Use only the first N test examples.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_subset: Option<usize>,
    /// Label noise rate `η ∈ [0, 1]` in the training set, drawn from each job's seed (the test
    /// set keeps its true labels); see [`crate::label_noise`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_noise: Option<f64>,
    /// `symmetric` (default), `asymmetric` (MNIST flips 2>7,3>8,5>6,6>5,7>1) or
    /// `asymmetric:A>B,…`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_noise_kind: Option<String>,
    /// `shuffled` (one permutation of the pixel positions for every image) or `random` (one
    /// per image), drawn from `pixel_seed`; see [`crate::pixels`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pixels: Option<String>,
    /// Seed of the pixel permutations (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pixel_seed: Option<u64>,
    /// Imbalance ratio ρ ≥ 1 of a long-tailed training set (after `subset`): class `c` keeps
    /// `n_c·ρ^{−c/(C−1)}` of its examples; see [`crate::long_tail`]. The test set stays balanced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub long_tail: Option<f64>,
    /// `[mean, std]`: every input value, train and test, becomes `(x − mean)/std` (e.g.
    /// `[0.1307, 0.3081]`, MNIST's pixel statistics, as much published code does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standardize: Option<Vec<f64>>,
}

/// `[model]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// `mlp`, `cnn` or `bert`.
    pub kind: String,
    /// The pretrained BERT folder (kind `bert`; default `$REGLAB_DATA/minilm`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<std::path::PathBuf>,
    /// Which BERT parameters train: `all` (default), `head` (linear probe), `topK`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train: Option<String>,
    /// Hidden widths of the MLP.
    #[serde(default)]
    pub hidden: Vec<usize>,
    /// Channels of the CNN (default 16, 32).
    #[serde(default)]
    pub channels: Vec<usize>,
    /// The MLP's hidden activation: `relu` (default), `soft-ash`, `hard-ash[:z=Z:alpha=A]`; an
    /// arm's `activation` overrides it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activation: Option<String>,
    /// Whether the MLP's layers have biases (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bias: Option<bool>,
    /// Reparameterization of every arm's layers (`weight-norm`, `spectral-norm`,
    /// `multipliers[:scalar|rowcol]`, `lawn:free=E:layers=K`); an arm's `reparam` overrides it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reparam: Option<ReparamSpec>,
}

/// `[optim]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimConfig {
    /// `sgd`, `adam`, `adamw` or `adagrad`.
    pub kind: String,
    /// Learning rate.
    pub lr: f64,
    /// Mini-batch size.
    pub batch: usize,
    /// SGD momentum (default 0.9).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub momentum: Option<f64>,
    /// AdamW decoupled weight decay (default 0.01).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_decay: Option<f64>,
    /// Adagrad's ε (default 1e-10, PyTorch's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eps: Option<f64>,
}

/// `[stream]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamConfig {
    /// `random-label`, `permuted` or `single`.
    pub kind: String,
    /// Number of tasks.
    pub tasks: usize,
    /// Epochs on each task.
    pub epochs_per_task: usize,
}

/// `[probe]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeConfig {
    /// Examples of the task's training set on which feature probes are computed.
    #[serde(default = "default_probe_examples")]
    pub examples: usize,
    /// Also report the spectrum of each layer weight: effective rank and orthogonality gap
    /// (`eff_rank/<layer>`, `orth_gap/<layer>`; full SVD, slower).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub spectrum: bool,
    /// Also evaluate the network with each layer weight binarized to `α·sign(W)`, `α` the
    /// layer's mean `|W|` (`test_accuracy_binarized`, `train_accuracy_binarized`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub binarize: bool,
    /// Also report how far the features moved from the initial (for a pretrained model: the
    /// pretrained) network's on the first `examples` *test* examples: `feature_drift_cosine`
    /// (mean cos(f(x), f₀(x))) and `feature_similarity_spearman` (Spearman correlation of the
    /// pairwise cosine similarities under f and f₀) — forgetting, measured on held-out data.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub drift: bool,
    /// Also report the tail of the per-example training loss (cross-entropy over the whole
    /// training set): `train_loss_max`, the quantiles `train_loss_q90` and `train_loss_q99`
    /// (nearest rank), `train_loss_cvar10` (the mean of the worst 10 %) and
    /// `train_loss_above_0.511` (the fraction above ln(1/0.6), feasible learning's default ε).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tail: bool,
    /// `task` (default): one row per task; `epoch`: one row per epoch, with `task` = the epoch
    /// (single-task streams only), checkpointed after each epoch.
    #[serde(default, skip_serializing_if = "ProbeEvery::is_task")]
    pub every: ProbeEvery,
    /// With `every = "epoch"`: rows at this many equal parts of each epoch (catastrophic
    /// overfitting happens within an epoch); `task` is then the part's index and the metric
    /// `epoch` the fraction of epochs trained.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub per_epoch: usize,
    /// Robust accuracy on the first `examples` test examples (`[probe.robust]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub robust: Option<RobustProbe>,
}

fn one() -> usize {
    1
}

fn is_one(v: &usize) -> bool {
    *v == 1
}

/// `[probe.robust]`: accuracy under attack, on the first `examples` test examples, in every row:
/// `robust/clean_accuracy`, `robust/fgsm_accuracy` (FGSM, α = ε) and `robust/pgd_accuracy`
/// (PGD-`steps` with step `step·ε` from `restarts` uniform starts, an example robust only if
/// every restart fails; ℓ∞, inputs clipped to [0, 1]). The attacks are seeded by the restart
/// alone, the same in every row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RobustProbe {
    /// The radius ε (data units).
    pub eps: f64,
    /// Test examples attacked.
    #[serde(default = "default_robust_examples")]
    pub examples: usize,
    /// PGD steps.
    #[serde(default = "default_pgd_steps")]
    pub steps: usize,
    /// PGD restarts.
    #[serde(default = "default_pgd_restarts")]
    pub restarts: usize,
    /// PGD step α in units of ε.
    #[serde(default = "default_pgd_step")]
    pub step: f64,
}

fn default_robust_examples() -> usize {
    1000
}
fn default_pgd_steps() -> usize {
    50
}
fn default_pgd_restarts() -> usize {
    10
}
fn default_pgd_step() -> f64 {
    0.25
}

impl RobustProbe {
    /// Check the values.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.eps > 0.0 && self.eps.is_finite()) {
            return Err(format!("`probe.robust.eps` must be > 0, got {}", self.eps));
        }
        if self.examples == 0 || self.steps == 0 || self.restarts == 0 {
            return Err("`probe.robust.examples`, `steps` and `restarts` must be ≥ 1".into());
        }
        if !(self.step > 0.0 && self.step.is_finite()) {
            return Err(format!("`probe.robust.step` (α in units of ε) must be > 0, got {}", self.step));
        }
        Ok(())
    }

    /// The PGD attack.
    pub fn pgd(&self) -> reglab_regularizers::adversarial::attack::Attack {
        reglab_regularizers::adversarial::attack::Attack::pgd(self.eps, self.steps, self.step * self.eps, self.restarts)
    }
}

/// When the probes run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProbeEvery {
    /// At the end of each task.
    #[default]
    Task,
    /// At the end of each epoch (single-task streams).
    Epoch,
}

impl ProbeEvery {
    fn is_task(&self) -> bool {
        *self == ProbeEvery::Task
    }
}

fn default_probe_examples() -> usize {
    500
}

impl Default for ProbeConfig {
    fn default() -> Self {
        Self {
            examples: default_probe_examples(),
            spectrum: false,
            binarize: false,
            drift: false,
            tail: false,
            every: ProbeEvery::Task,
            per_epoch: 1,
            robust: None,
        }
    }
}

/// `[[arm]]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Arm {
    /// Name (unique).
    pub name: String,
    /// Regularizer specs (empty: none).
    #[serde(default)]
    pub reg: Vec<String>,
    /// The MLP's hidden activation for this arm (overrides `[model] activation`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activation: Option<String>,
    /// Reparameterization for this arm (overrides `[model] reparam`; `"none"` for none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reparam: Option<String>,
    /// Which parameters of a `bert` model train for this arm (overrides `[model] train`:
    /// `all`, `head` — a linear probe —, `topK`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train: Option<String>,
    /// Learning rate for this arm (overrides `[optim] lr`): e.g. a linear probe, whose head
    /// trains from zero and needs a larger step than a fine-tuned encoder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lr: Option<f64>,
    /// Pruning masks for this arm (`magnitude:sparsity=S:at=E`, `random:sparsity=S`, …; see
    /// `reglab_train::prune`). Epochs count over the whole stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prune: Option<String>,
    /// Curve this arm belongs to in the report's by-curve plots (with `x`): e.g. a method
    /// swept over sparsities or strengths.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// This arm's abscissa on its `group`'s curve (e.g. the target sparsity, or λ).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<f64>,
    /// The ε of `[probe.robust]` for this arm (e.g. its adversarial-training ε in an ε sweep),
    /// instead of `probe.robust.eps`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub robust_eps: Option<f64>,
}

/// The kinds of task stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    /// Fixed subset, labels re-drawn uniformly for each task.
    RandomLabel,
    /// A fixed random pixel permutation per task, the test set permuted alike.
    Permuted,
    /// One task (the plain data set).
    Single,
    /// Class-incremental: the classes split into `tasks` groups, one task each, tested on all.
    Split {
        /// The number of tasks.
        tasks: usize,
    },
}

impl Experiment {
    /// Parse TOML text, apply `key=value` overrides (dotted keys, values in TOML syntax or bare
    /// strings), deserialize and check every value. Errors name the key.
    pub fn parse(text: &str, overrides: &[String]) -> Result<Self, String> {
        let exp: Experiment = crate::experiment_file::deserialize(text, overrides)?;
        exp.validate()?;
        Ok(exp)
    }

    /// The label noise of `[data]`, if any (rate checked; the flip map is checked against the
    /// data's classes when it is loaded).
    pub fn label_noise(&self) -> Result<Option<crate::label_noise::LabelNoise>, String> {
        let kind = match &self.data.label_noise_kind {
            Some(k) => k.parse().map_err(|e| format!("`data.label_noise_kind`: {e}"))?,
            None => crate::label_noise::NoiseKind::Symmetric,
        };
        match self.data.label_noise {
            None if self.data.label_noise_kind.is_some() => Err("`data.label_noise_kind` is set without `data.label_noise`".into()),
            None => Ok(None),
            Some(rate) if !(0.0..=1.0).contains(&rate) => Err(format!("`data.label_noise` = {rate}: expected a rate in [0, 1]")),
            Some(rate) => Ok(Some(crate::label_noise::LabelNoise { rate, kind })),
        }
    }

    /// The pixel reordering of `[data]`, if any.
    pub fn pixel_order(&self) -> Result<Option<crate::pixels::PixelOrder>, String> {
        match (&self.data.pixels, self.data.pixel_seed) {
            (None, Some(_)) => Err("`data.pixel_seed` is set without `data.pixels`".into()),
            (None, None) => Ok(None),
            (Some(p), _) => p.parse().map(Some).map_err(|e| format!("`data.pixels` = {e}")),
        }
    }

    /// Check values that types do not rule out, naming the key.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(k) = self.kind.as_deref().filter(|k| *k != "train") {
            return Err(format!("`kind` = \"{k}\": expected \"train\" here (`reglab run` gives each kind its own parser)"));
        }
        if self.seeds.is_empty() {
            return Err("`seeds` is empty: give at least one seed".into());
        }
        let mut s = self.seeds.clone();
        s.sort();
        s.dedup();
        if s.len() != self.seeds.len() {
            return Err("`seeds` has a repeated seed".into());
        }
        self.data_source()?;
        if self.data.subset == Some(0) {
            return Err("`data.subset` must be ≥ 1".into());
        }
        if self.data.test_subset == Some(0) {
            return Err("`data.test_subset` must be ≥ 1".into());
        }
        self.model_spec()?;
        self.optim_spec()?;
        self.stream_kind()?;
        if self.stream.tasks == 0 {
            return Err("`stream.tasks` must be ≥ 1".into());
        }
        if self.stream.epochs_per_task == 0 {
            return Err("`stream.epochs_per_task` must be ≥ 1".into());
        }
        if self.probe.examples == 0 {
            return Err("`probe.examples` must be ≥ 1".into());
        }
        if self.probe.every == ProbeEvery::Epoch && self.stream.tasks != 1 {
            return Err(format!("`probe.every` = \"epoch\" needs a single-task stream; this one has {} tasks", self.stream.tasks));
        }
        if self.probe.per_epoch == 0 {
            return Err("`probe.per_epoch` must be ≥ 1".into());
        }
        if self.probe.per_epoch > 1 && self.probe.every != ProbeEvery::Epoch {
            return Err("`probe.per_epoch` needs `probe.every` = \"epoch\"".into());
        }
        if let Some(r) = &self.probe.robust {
            r.validate()?;
        }
        self.label_noise()?;
        self.pixel_order()?;
        if let Some(rho) = self.data.long_tail
            && !(rho >= 1.0 && rho.is_finite())
        {
            return Err(format!("`data.long_tail` = {rho}: expected an imbalance ratio ≥ 1"));
        }
        if let Some(st) = &self.data.standardize {
            match st[..] {
                [m, sd] if m.is_finite() && sd.is_finite() && sd > 0.0 => {}
                _ => return Err(format!("`data.standardize` = {st:?}: expected [mean, std], finite, std > 0")),
            }
            let in_pixel_space = |r: &String| {
                reglab_core::Spec::parse(r).is_ok_and(|s| {
                    s.name == "cutout" || reglab_train::catalog::find(&s.name).is_some_and(|t| t.kind == reglab_train::catalog::Kind::Adversarial)
                })
            };
            if self.probe.robust.is_some() || self.arms.iter().flat_map(|a| &a.reg).any(in_pixel_space) {
                return Err("`data.standardize` with attacks or cutout: those work in [0, 1] pixel space; leave the inputs as they are".into());
            }
        }
        if self.arms.is_empty() {
            return Err("no `[[arm]]`: give at least one arm (an arm with no `reg` trains without regularizer)".into());
        }
        for (i, a) in self.arms.iter().enumerate() {
            if a.name.trim().is_empty() {
                return Err(format!("`arm[{i}].name` is empty"));
            }
            if self.arms[..i].iter().any(|b| b.name == a.name) {
                return Err(format!("`arm[{i}].name`: two arms are named `{}`", a.name));
            }
            for r in &a.reg {
                let spec = reglab_core::Spec::parse(r).map_err(|e| format!("`arm[{i}].reg` (arm `{}`): {e}", a.name))?;
                reglab_train::hook::registry::check(&spec).map_err(|e| format!("`arm[{i}].reg` (arm `{}`): {e}", a.name))?;
            }
            if a.group.is_some() != a.x.is_some() {
                return Err(format!("`arm[{i}]` (arm `{}`): `group` and `x` go together", a.name));
            }
            if let Some(e) = a.robust_eps {
                if self.probe.robust.is_none() {
                    return Err(format!("`arm[{i}].robust_eps` (arm `{}`) needs `[probe.robust]`", a.name));
                }
                if !(e.is_finite() && e > 0.0) {
                    return Err(format!("`arm[{i}].robust_eps` (arm `{}`) = {e}: expected ε > 0", a.name));
                }
            }
            if let Some(lr) = a.lr.filter(|lr| !(lr.is_finite() && *lr > 0.0)) {
                return Err(format!("`arm[{i}].lr` (arm `{}`) = {lr}: expected a positive finite learning rate", a.name));
            }
            if a.x.is_some_and(|x| !x.is_finite()) {
                return Err(format!("`arm[{i}].x` (arm `{}`) must be finite", a.name));
            }
            if let Some(r) = a.reparam.as_deref().filter(|r| *r != "none") {
                r.parse::<ReparamSpec>().map_err(|e| format!("`arm[{i}].reparam` (arm `{}`): {e}", a.name))?;
            }
            if let Some(p) = &a.prune {
                let p = p.parse::<reglab_train::prune::PruneSpec>().map_err(|e| format!("`arm[{i}].prune` (arm `{}`): {e}", a.name))?;
                let reparam = match a.reparam.as_deref() {
                    None => self.model.reparam.as_ref().map(|r| r.to_string()),
                    Some("none") => None,
                    Some(r) => Some(r.to_string()),
                };
                if let Some(r) = reparam {
                    return Err(format!(
                        "`arm[{i}].prune` (arm `{}`): pruning (`{p}`) cannot be combined with the reparameterization `{r}` yet",
                        a.name
                    ));
                }
            }
        }
        Ok(())
    }

    /// The data source.
    pub fn data_source(&self) -> Result<DataSource, String> {
        let spec = match (&self.data.source[..], &self.data.path) {
            (s @ ("mnist" | "fashion"), Some(p)) => format!("{s}:{}", p.display()),
            (s, None) => s.to_string(),
            (s, Some(_)) => return Err(format!("`data.path` is only for mnist and fashion, not `{s}`")),
        };
        spec.parse::<DataSource>().map_err(|e| format!("`data.source`: {e}"))
    }

    /// The model.
    pub fn model_spec(&self) -> Result<ModelSpec, String> {
        match self.model.kind.as_str() {
            _ if (self.model.dir.is_some() || self.model.train.is_some()) && self.model.kind != "bert" => {
                Err("`model.dir` and `model.train` are for kind = \"bert\"".into())
            }
            _ if (self.model.activation.is_some() || self.model.bias.is_some()) && self.model.kind != "mlp" => {
                Err("`model.activation` and `model.bias` are for kind = \"mlp\"".into())
            }
            "mlp" => {
                if !self.model.channels.is_empty() {
                    return Err("`model.channels` is for kind = \"cnn\"".into());
                }
                if self.model.hidden.contains(&0) {
                    return Err("`model.hidden`: widths must be ≥ 1".into());
                }
                let act = match &self.model.activation {
                    None => reglab_train::model::activation::Act::Relu,
                    Some(a) => a.parse().map_err(|e| format!("`model.activation`: {e}"))?,
                };
                ModelSpec::mlp_with(self.model.hidden.clone(), act, self.model.bias.unwrap_or(true)).map_err(|e| format!("`model.activation`: {e}"))
            }
            "cnn" => {
                if !self.model.hidden.is_empty() {
                    return Err("`model.hidden` is for kind = \"mlp\"".into());
                }
                let channels = if self.model.channels.is_empty() { vec![16, 32] } else { self.model.channels.clone() };
                if channels.contains(&0) {
                    return Err("`model.channels`: channels must be ≥ 1".into());
                }
                Ok(ModelSpec::Cnn { channels })
            }
            "bert" => {
                if !self.model.hidden.is_empty() || !self.model.channels.is_empty() {
                    return Err("`model.hidden` and `model.channels` are not for kind = \"bert\" (its size is the pretrained folder's)".into());
                }
                let train = match &self.model.train {
                    None => reglab_train::model::BertTrain::All,
                    Some(t) => t.parse().map_err(|e| format!("`model.train`: {e}"))?,
                };
                Ok(ModelSpec::Bert { dir: self.model.dir.clone(), train })
            }
            k => Err(format!("`model.kind` = \"{k}\": expected \"mlp\", \"cnn\" or \"bert\"")),
        }
    }

    /// The optimizer.
    pub fn optim_spec(&self) -> Result<OptimSpec, String> {
        let o = &self.optim;
        if !(o.lr > 0.0 && o.lr.is_finite()) {
            return Err(format!("`optim.lr` must be finite and > 0, got {}", o.lr));
        }
        if o.batch == 0 {
            return Err("`optim.batch` must be ≥ 1".into());
        }
        if o.eps.is_some() && o.kind != "adagrad" {
            return Err("`optim.eps` is for kind = \"adagrad\"".into());
        }
        let spec = match o.kind.as_str() {
            "adagrad" if o.momentum.is_some() || o.weight_decay.is_some() => {
                return Err("`optim.momentum` and `optim.weight_decay` are not for kind = \"adagrad\"".into());
            }
            "adagrad" => OptimSpec::Adagrad { eps: o.eps.unwrap_or(1e-10) },
            "sgd" => {
                if o.weight_decay.is_some() {
                    return Err("`optim.weight_decay` is for kind = \"adamw\" (use an l2 regularizer with sgd)".into());
                }
                OptimSpec::Sgd { momentum: o.momentum.unwrap_or(0.9) }
            }
            "adam" | "adamw" if o.momentum.is_some() => return Err("`optim.momentum` is for kind = \"sgd\"".into()),
            "adam" if o.weight_decay.is_some() => {
                return Err("`optim.weight_decay` is for kind = \"adamw\" (use an l2 regularizer with adam)".into());
            }
            "adam" => OptimSpec::Adam,
            "adamw" => OptimSpec::Adamw { weight_decay: o.weight_decay.unwrap_or(0.01) },
            k => return Err(format!("`optim.kind` = \"{k}\": expected \"sgd\", \"adam\", \"adamw\" or \"adagrad\"")),
        };
        spec.validate().map_err(|e| format!("`optim`: {e}"))?;
        Ok(spec)
    }

    /// The stream kind.
    pub fn stream_kind(&self) -> Result<StreamKind, String> {
        match self.stream.kind.as_str() {
            "random-label" => Ok(StreamKind::RandomLabel),
            "permuted" => Ok(StreamKind::Permuted),
            "single" => Ok(StreamKind::Single),
            "split" => Ok(StreamKind::Split { tasks: self.stream.tasks }),
            k => Err(format!("`stream.kind` = \"{k}\": expected \"random-label\", \"permuted\", \"single\" or \"split\"")),
        }
    }

    /// The training configuration of one arm and seed.
    pub fn train_config(&self, arm: &Arm, seed: u64) -> Result<TrainConfig, String> {
        let model = match (self.model_spec()?, arm.train.as_deref()) {
            (m, None) => m,
            (reglab_train::model::ModelSpec::Bert { dir, .. }, Some(t)) => {
                reglab_train::model::ModelSpec::Bert { dir, train: t.parse().map_err(|e| format!("arm `{}`: `train`: {e}", arm.name))? }
            }
            (_, Some(_)) => return Err(format!("arm `{}`: `train` is for [model] kind = \"bert\"", arm.name)),
        };
        let model = match (model, arm.activation.as_deref()) {
            (m, None) => m,
            (reglab_train::model::ModelSpec::Mlp { hidden, bias, .. }, Some(a)) => {
                // an arm's activation replaces a hidden one: a linear model has none to replace
                if hidden.is_empty() {
                    return Err(format!("arm `{}`: `activation` needs an MLP with hidden layers", arm.name));
                }
                let act = a.parse().map_err(|e| format!("arm `{}`: `activation`: {e}", arm.name))?;
                reglab_train::model::ModelSpec::mlp_with(hidden, act, bias).map_err(|e| format!("arm `{}`: `activation`: {e}", arm.name))?
            }
            (_, Some(_)) => return Err(format!("arm `{}`: `activation` is for [model] kind = \"mlp\"", arm.name)),
        };
        Ok(TrainConfig {
            model,
            optim: self.optim_spec()?,
            lr: arm.lr.unwrap_or(self.optim.lr),
            batch: self.optim.batch,
            epochs: self.stream.epochs_per_task,
            seed,
            regs: arm.reg.iter().map(|r| reglab_core::Spec::parse(r).map_err(|e| format!("arm `{}`: {e}", arm.name))).collect::<Result<_, _>>()?,
            reparam: match arm.reparam.as_deref() {
                None => self.model.reparam.clone(),
                Some("none") => None,
                Some(r) => Some(r.parse().map_err(|e| format!("arm `{}`: {e}", arm.name))?),
            },
            prune: arm.prune.as_deref().map(str::parse).transpose().map_err(|e| format!("arm `{}`: {e}", arm.name))?,
        })
    }

    /// The resolved configuration as TOML (what `config.toml` holds).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("an experiment serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small valid experiment; tests edit it by text replacement.
    const BASE: &str = r#"
name = "t"
seeds = [0, 1]

[data]
source = "digits"
subset = 200

[model]
kind = "mlp"
hidden = [32]

[optim]
kind = "adam"
lr = 1e-3
batch = 32

[stream]
kind = "permuted"
tasks = 3
epochs_per_task = 2

[[arm]]
name = "none"

[[arm]]
name = "spectral"
reg = ["spectral=1e-2"]
"#;

    fn edited(from: &str, to: &str) -> String {
        assert!(BASE.contains(from), "`{from}` not in BASE");
        BASE.replacen(from, to, 1)
    }

    /// Parsing fails, and the message contains every one of `want`.
    fn err(text: &str, overrides: &[&str], want: &[&str]) -> String {
        let sets: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
        let e = Experiment::parse(text, &sets).expect_err("should fail");
        for w in want {
            assert!(e.contains(w), "expected `{w}` in: {e}");
        }
        assert!(!e.contains('\n'), "one line: {e}");
        e
    }

    fn ok(text: &str, overrides: &[&str]) -> Experiment {
        let sets: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
        Experiment::parse(text, &sets).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn pixel_orders_parse_and_bad_values_are_named() {
        assert_eq!(ok(BASE, &[]).pixel_order().unwrap(), None);
        let e = ok(&edited("subset = 200", "subset = 200\npixels = \"shuffled\"\npixel_seed = 4"), &[]);
        assert_eq!(e.pixel_order().unwrap(), Some(crate::pixels::PixelOrder::Shuffled));
        assert_eq!(ok(BASE, &["data.pixels=random"]).pixel_order().unwrap(), Some(crate::pixels::PixelOrder::Random));
        err(BASE, &["data.pixels=columns"], &["`data.pixels`", "columns"]);
        err(BASE, &["data.pixel_seed=3"], &["`data.pixel_seed`", "without"]);
        err(BASE, &["data.long_tail=0.5"], &["`data.long_tail`", "≥ 1"]);
        err(BASE, &["data.standardize=[0.1, 0]"], &["`data.standardize`", "std > 0"]);
        err(BASE, &["data.standardize=[0.1]"], &["`data.standardize`", "[mean, std]"]);
        let st = crate::experiment::runner::load_split(&ok(BASE, &["data.standardize=[0.5, 0.25]"])).unwrap();
        let raw = crate::experiment::runner::load_split(&ok(BASE, &[])).unwrap();
        for (a, b) in st.train.features.iter().zip(&raw.train.features).chain(st.test.features.iter().zip(&raw.test.features)) {
            assert_eq!(*a, (*b - 0.5) / 0.25);
        }
        let lt = crate::experiment::runner::load_split(&ok(BASE, &["data.long_tail=10"])).unwrap();
        assert!(lt.train.len() < crate::experiment::runner::load_split(&ok(BASE, &[])).unwrap().train.len());
        // the loaded images are permuted, the labels kept
        let plain = crate::experiment::runner::load_split(&ok(BASE, &[])).unwrap();
        let shuffled = crate::experiment::runner::load_split(&e).unwrap();
        assert_eq!(plain.train.labels, shuffled.train.labels);
        assert_ne!(plain.train.features, shuffled.train.features);
        let (mut a, mut b) = (plain.train.example(3).to_vec(), shuffled.train.example(3).to_vec());
        a.sort_by(f32::total_cmp);
        b.sort_by(f32::total_cmp);
        assert_eq!(a, b);
    }

    #[test]
    fn robust_probes_and_rows_within_epochs_parse_and_bad_values_are_named() {
        let single = edited("kind = \"permuted\"\ntasks = 3", "kind = \"single\"\ntasks = 1");
        let with = |probe: &str| format!("{single}\n[probe]\n{probe}\n");
        let e = ok(&with("every = \"epoch\"\nper_epoch = 4\nrobust = { eps = 0.3 }"), &[]);
        assert_eq!(e.probe.per_epoch, 4);
        let r = e.probe.robust.clone().unwrap();
        assert_eq!((r.eps, r.examples, r.steps, r.restarts, r.step), (0.3, 1000, 50, 10, 0.25));
        let pgd = r.pgd();
        assert_eq!((pgd.steps, pgd.restarts), (50, 10));
        assert!((pgd.alpha - 0.075).abs() < 1e-12);
        assert_eq!(ok(&e.to_toml(), &[]), e, "config.toml reads back");
        // per_epoch = 1 and no robust probe leave config.toml as before
        assert!(!ok(&single, &[]).to_toml().contains("per_epoch"));
        err(&with("per_epoch = 2"), &[], &["per_epoch", "every"]);
        err(&with("every = \"epoch\"\nper_epoch = 0"), &[], &["per_epoch"]);
        err(&with("robust = { eps = 0 }"), &[], &["probe.robust.eps"]);
        err(&with("robust = { eps = 0.1, restarts = 0 }"), &[], &["restarts"]);
        err(&with("robust = { eps = 0.1, step = -1.0 }"), &[], &["probe.robust.step"]);
        err(&with("robust = { eps = 0.1, bogus = 1 }"), &[], &["bogus"]);
        // an arm's own ε for the robust probe
        let arm_eps = |eps: &str| single.replacen("[[arm]]\n", &format!("[[arm]]\nrobust_eps = {eps}\n"), 1);
        let e = ok(&format!("{}\n[probe]\nrobust = {{ eps = 0.3 }}\n", arm_eps("0.2")), &[]);
        assert_eq!((e.arms[0].robust_eps, e.arms[1].robust_eps), (Some(0.2), None));
        assert_eq!(ok(&e.to_toml(), &[]), e, "config.toml reads back");
        err(&arm_eps("0.2"), &[], &["arm[0].robust_eps", "[probe.robust]"]);
        err(&format!("{}\n[probe]\nrobust = {{ eps = 0.3 }}\n", arm_eps("-0.1")), &[], &["arm[0].robust_eps", "-0.1"]);
    }

    #[test]
    fn a_valid_file_parses_with_defaults() {
        let e = ok(BASE, &[]);
        assert_eq!(e.name, "t");
        assert_eq!(e.question, "");
        assert_eq!(e.seeds, vec![0, 1]);
        assert_eq!(e.data.subset, Some(200));
        assert_eq!(e.model_spec().unwrap(), ModelSpec::mlp(&[32]));
        assert_eq!(e.optim_spec().unwrap(), OptimSpec::Adam);
        assert_eq!(e.stream_kind().unwrap(), StreamKind::Permuted);
        assert_eq!((e.stream.tasks, e.stream.epochs_per_task), (3, 2));
        assert_eq!(e.probe.examples, 500);
        assert_eq!(e.arms.len(), 2);
        assert!(e.arms[0].reg.is_empty());
        assert_eq!(e.arms[1].reg, vec!["spectral=1e-2".to_string()]);
        // the resolved form (config.toml) reads back to the same experiment
        assert_eq!(ok(&e.to_toml(), &[]), e);
        // defaults: seeds [0], cnn channels [16, 32], sgd momentum 0.9, adamw decay 0.01
        let d = ok(&edited("seeds = [0, 1]\n", ""), &[]);
        assert_eq!(d.seeds, vec![0]);
        let c = ok(&edited("kind = \"mlp\"\nhidden = [32]", "kind = \"cnn\""), &[]);
        assert_eq!(c.model_spec().unwrap(), ModelSpec::Cnn { channels: vec![16, 32] });
        let s = ok(&edited("kind = \"adam\"", "kind = \"sgd\""), &[]);
        assert_eq!(s.optim_spec().unwrap(), OptimSpec::Sgd { momentum: 0.9 });
        let w = ok(&edited("kind = \"adam\"", "kind = \"adamw\""), &[]);
        assert_eq!(w.optim_spec().unwrap(), OptimSpec::Adamw { weight_decay: 0.01 });
    }

    #[test]
    fn the_quickstart_parses() {
        let e = ok(include_str!("../../../../experiments/quickstart.toml"), &[]);
        assert_eq!(e.name, "quickstart");
        assert_eq!(e.arms.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(), ["none", "l2-init", "spectral"]);
        assert_eq!(e.stream_kind().unwrap(), StreamKind::RandomLabel);
    }

    #[test]
    fn unknown_keys_are_named() {
        err(&format!("colour = 1\n{BASE}"), &[], &["unknown field", "`colour`"]);
        err(&edited("batch = 32", "batch = 32\nlrr = 1"), &[], &["unknown field", "`lrr`", "optim"]);
        err(&edited("subset = 200", "subset = 200\nshuffle = true"), &[], &["`shuffle`", "data"]);
        err(&edited("name = \"none\"", "name = \"none\"\nregs = []"), &[], &["`regs`"]);
    }

    #[test]
    fn wrong_types_are_named() {
        err(&edited("lr = 1e-3", "lr = \"x\""), &[], &["invalid type", "optim.lr"]);
        err(&edited("tasks = 3", "tasks = -1"), &[], &["stream.tasks"]);
        err(&edited("tasks = 3", "tasks = 1.5"), &[], &["stream.tasks"]);
        err(&edited("hidden = [32]", "hidden = 32"), &[], &["model.hidden"]);
        err(&edited("seeds = [0, 1]", "seeds = 0"), &[], &["seeds"]);
        err(&edited("batch = 32\n", ""), &[], &["missing field", "`batch`", "optim"]);
        err("name = \"t\"\n[data\n", &[], &["TOML parse error at line 2"]);
    }

    #[test]
    fn bad_arms_are_named() {
        err(&edited("spectral=1e-2", "nope=1"), &[], &["arm[1].reg", "spectral", "nope"]);
        err(&edited("spectral=1e-2", "spectral=-1"), &[], &["arm[1].reg", "spectral"]);
        err(&edited("spectral=1e-2", "spectral=nan"), &[], &["arm[1].reg"]);
        let no_arms = &BASE[..BASE.find("[[arm]]").unwrap()];
        err(no_arms, &[], &["[[arm]]"]);
        err(&edited("name = \"spectral\"", "name = \"none\""), &[], &["arm[1].name", "two arms", "`none`"]);
        err(&edited("name = \"spectral\"", "name = \" \""), &[], &["arm[1].name", "empty"]);
    }

    #[test]
    fn reparameterizations_come_from_the_model_or_the_arm() {
        let e = ok(&edited("hidden = [32]", "hidden = [32]\nreparam = \"weight-norm\""), &[]);
        let e2 = ok(&edited("name = \"spectral\"", "name = \"spectral\"\nreparam = \"none\""), &[]);
        assert_eq!(e2.train_config(&e2.arms[1], 0).unwrap().reparam, None);
        assert_eq!(e.train_config(&e.arms[0], 0).unwrap().reparam, Some(ReparamSpec::WeightNorm { data_init: true }));
        let mut arm = e.arms[1].clone();
        arm.reparam = Some("spectral-norm".into());
        assert_eq!(e.train_config(&arm, 0).unwrap().reparam, Some(ReparamSpec::SpectralNorm));
        arm.reparam = Some("none".into());
        assert_eq!(e.train_config(&arm, 0).unwrap().reparam, None);
        // the resolved file keeps the key
        assert!(e.to_toml().contains("reparam = \"weight-norm\""));
        err(&edited("hidden = [32]", "hidden = [32]\nreparam = \"batch-norm\""), &[], &["reparam", "batch-norm"]);
        err(&edited("name = \"spectral\"", "name = \"spectral\"\nreparam = \"lawn:layers=0\""), &[], &["arm[1].reparam", "layers"]);
    }

    #[test]
    fn arms_prune_with_a_spec_and_name_the_key_when_it_is_bad() {
        let e = ok(&edited("name = \"spectral\"", "name = \"spectral\"\nprune = \"magnitude:sparsity=0.9:at=2\""), &[]);
        assert_eq!(e.train_config(&e.arms[0], 0).unwrap().prune, None);
        let p = e.train_config(&e.arms[1], 0).unwrap().prune.unwrap();
        assert_eq!(p.to_string(), "magnitude:sparsity=0.9:scope=global:at=2");
        // the resolved file keeps the arm's string as written
        assert!(e.to_toml().contains("prune = \"magnitude:sparsity=0.9:at=2\""), "{}", e.to_toml());
        err(&edited("name = \"spectral\"", "name = \"spectral\"\nprune = \"magnitude:sparsity=2:at=1\""), &[], &["arm[1].prune", "[0, 1)"]);
        err(&edited("name = \"spectral\"", "name = \"spectral\"\nprune = \"lottery:sparsity=0.5\""), &[], &["arm[1].prune", "lottery"]);
        err(&edited("name = \"spectral\"", "name = \"spectral\"\nprune = 0.9"), &[], &["invalid type", "prune"]);
        // with a reparameterization (the model's or the arm's): an error for now
        let both = edited("name = \"spectral\"", "name = \"spectral\"\nprune = \"random:sparsity=0.5\"\nreparam = \"weight-norm\"");
        err(&both, &[], &["arm[1].prune", "cannot be combined", "weight-norm"]);
        let model = edited("hidden = [32]", "hidden = [32]\nreparam = \"spectral-norm\"");
        err(
            &model.replacen("name = \"spectral\"", "name = \"spectral\"\nprune = \"random:sparsity=0.5\"", 1),
            &[],
            &["arm[1].prune", "spectral-norm"],
        );
        let off = ok(&model.replacen("name = \"spectral\"", "name = \"spectral\"\nprune = \"random:sparsity=0.5\"\nreparam = \"none\"", 1), &[]);
        let c = off.train_config(&off.arms[1], 0).unwrap();
        assert!(c.prune.is_some() && c.reparam.is_none());
    }

    #[test]
    fn an_arm_may_set_its_own_learning_rate() {
        let e = ok(&edited("name = \"spectral\"", "name = \"spectral\"\nlr = 0.05"), &[]);
        assert_eq!(e.train_config(&e.arms[0], 0).unwrap().lr, 1e-3);
        assert_eq!(e.train_config(&e.arms[1], 0).unwrap().lr, 0.05);
        // an arm without `lr` resolves to the same TOML as before the key existed
        assert!(e.arms[0].lr.is_none() && !toml::to_string(&e.arms[0]).unwrap().contains("lr"));
        for bad in ["0.0", "-1e-3", "nan", "inf"] {
            err(&edited("name = \"spectral\"", &format!("name = \"spectral\"\nlr = {bad}")), &[], &["arm[1].lr", "spectral", "positive"]);
        }
    }

    #[test]
    fn bad_values_are_named() {
        err(&edited("tasks = 3", "tasks = 0"), &[], &["stream.tasks"]);
        err(&edited("epochs_per_task = 2", "epochs_per_task = 0"), &[], &["stream.epochs_per_task"]);
        err(&edited("kind = \"permuted\"", "kind = \"shuffled\""), &[], &["stream.kind", "shuffled"]);
        err(&edited("kind = \"mlp\"", "kind = \"cnn\""), &[], &["model.hidden", "mlp"]);
        err(&edited("hidden = [32]", "hidden = [32]\nchannels = [8]"), &[], &["model.channels", "cnn"]);
        err(&edited("kind = \"mlp\"", "kind = \"rnn\""), &[], &["model.kind", "rnn"]);
        err(&edited("hidden = [32]", "hidden = [32, 0]"), &[], &["model.hidden"]);
        err(&edited("kind = \"adam\"", "kind = \"lbfgs\""), &[], &["optim.kind", "lbfgs"]);
        err(&edited("lr = 1e-3", "lr = 0.0"), &[], &["optim.lr"]);
        err(&edited("lr = 1e-3", "lr = -1.0"), &[], &["optim.lr"]);
        err(&edited("batch = 32", "batch = 0"), &[], &["optim.batch"]);
        err(&edited("batch = 32", "batch = 32\nmomentum = 0.5"), &[], &["optim.momentum", "sgd"]);
        err(&edited("batch = 32", "batch = 32\nweight_decay = 0.1"), &[], &["optim.weight_decay", "adamw"]);
        err(&edited("source = \"digits\"", "source = \"cifar\""), &[], &["data.source"]);
        err(&edited("subset = 200", "subset = 200\npath = \"/x\""), &[], &["data.path"]);
        err(&edited("subset = 200", "subset = 0"), &[], &["data.subset"]);
        err(&edited("subset = 200", "test_subset = 0"), &[], &["data.test_subset"]);
        err(&edited("seeds = [0, 1]", "seeds = []"), &[], &["seeds", "empty"]);
        err(&edited("seeds = [0, 1]", "seeds = [1, 1]"), &[], &["seeds", "repeated"]);
        err(&edited("[[arm]]", "[probe]\nexamples = 0\n\n[[arm]]"), &[], &["probe.examples"]);
    }

    #[test]
    fn overrides_apply_before_checking() {
        let e = ok(BASE, &["stream.tasks=3", "arm.1.reg=[\"l2=1e-4\"]", "optim.lr=0.01"]);
        assert_eq!(e.stream.tasks, 3);
        assert_eq!(e.arms[1].reg, vec!["l2=1e-4".to_string()]);
        assert_eq!(e.arms[1].name, "spectral");
        assert_eq!(e.optim.lr, 0.01);
        let e = ok(BASE, &["stream.tasks=7", "stream.kind=random-label", "arm.0.name=base", "seeds=[4]", "probe.examples=10"]);
        assert_eq!(e.stream.tasks, 7);
        assert_eq!(e.stream_kind().unwrap(), StreamKind::RandomLabel, "a bare word is a string");
        assert_eq!(e.arms[0].name, "base");
        assert_eq!(e.seeds, vec![4]);
        assert_eq!(e.probe.examples, 10, "a missing table is created");
        // later overrides win
        assert_eq!(ok(BASE, &["optim.lr=0.1", "optim.lr=0.2"]).optim.lr, 0.2);
        // the resolved file holds the overrides
        assert!(ok(BASE, &["optim.lr=0.01"]).to_toml().contains("lr = 0.01"));
    }

    #[test]
    fn bad_overrides_are_errors() {
        // a new key is caught by deserialization, like in the file
        err(BASE, &["optim.foo=1"], &["unknown field", "`foo`", "optim"]);
        err(BASE, &["colour=1"], &["unknown field", "`colour`"]);
        // values are checked after overriding
        err(BASE, &["stream.tasks=0"], &["stream.tasks"]);
        err(BASE, &["optim.lr=x"], &["optim.lr"]);
        err(BASE, &["arm.1.reg=[\"nope=1\"]"], &["arm[1].reg"]);
        // arm indices
        err(BASE, &["arm.2.reg=[]"], &["arm.2.reg", "out of range", "length 2"]);
        err(BASE, &["arm.x.reg=[]"], &["`x`", "index"]);
        // malformed
        err(BASE, &["stream.tasks"], &["KEY=VALUE"]);
        err(BASE, &["stream..tasks=1"], &["bad key"]);
        err(BASE, &["name.x=1"], &["`name` is not a table"]);
    }
}
