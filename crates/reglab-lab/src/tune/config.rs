//! Experiment files of `kind = "tune"`: the data split, the training run shared by every cell,
//! the λ grid and the learned (IFT) per-layer weight decay. Unknown keys are errors and every
//! error is one line naming its key.

use crate::data::DataSource;
use crate::experiment_file::{self, check_kind_and_name};
use reglab_train::hypergrad::HyperOptim;
use reglab_train::hypergrad::hvp::DEFAULT_EPS_REL;
use reglab_train::hypergrad::tune::TunedPenalty;
use reglab_train::model::ModelSpec;
use reglab_train::optim::OptimSpec;
use serde::{Deserialize, Serialize};

/// The value of `kind` that selects this experiment type.
pub const KIND: &str = "tune";

/// A whole experiment: grid and learned weight decay on the same split, model, optimizer,
/// batch and number of steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TuneExperiment {
    /// Always `"tune"`.
    pub kind: String,
    /// Name: report title, default run directory.
    pub name: String,
    /// The question (a paragraph for the report).
    #[serde(default)]
    pub question: String,
    /// The data source (`digits`, `mnist[:DIR]`, `fashion[:DIR]`, …; see [`DataSource`]).
    pub data: String,
    /// Training examples, the first `n_train` of a seeded permutation of the source's
    /// training set (≥ 1).
    pub n_train: usize,
    /// Validation examples, the next `n_val` of that permutation (≥ 1); the test set is the
    /// source's own and is never used to choose anything.
    pub n_val: usize,
    /// Seed of the permutation (the same split for every seed of the runs).
    #[serde(default = "default_split_seed")]
    pub split_seed: u64,
    /// Seeds of the runs (initialisation, shuffling, Hessian and validation samples).
    pub seeds: Vec<u64>,
    /// The penalty of the grid and of the learned strengths: `l2` (weight decay, the default)
    /// or `spectral` (`(σ_max(W̃)² − 1)²` per layer, bias joined).
    #[serde(default, skip_serializing_if = "is_l2")]
    pub penalty: TunedPenalty,
    /// The training run every cell shares.
    pub train: TrainSection,
    /// The λ grid.
    pub grid: GridSection,
    /// The learned per-layer decay.
    pub tuned: TunedSection,
}

/// `[train]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainSection {
    /// Architecture, e.g. `mlp:256,256`.
    pub model: String,
    /// Optimizer, e.g. `{ kind = "sgd", momentum = 0.9 }`.
    pub optim: OptimSpec,
    /// Learning rate (constant).
    pub lr: f64,
    /// Mini-batch size (≥ 1).
    pub batch: usize,
    /// Optimizer steps of every run, grid point or tuned (≥ 1).
    pub steps: usize,
}

/// `[grid]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GridSection {
    /// The uniform strengths `λ` of the penalty on every layer weight (reglab's `l2=λ`:
    /// `(λ/2)‖W_l‖²`, biases undecayed; or `spectral=λ`), increasing, ≥ 0, at least 8.
    pub lambdas: Vec<f64>,
}

/// `[tuned]`: Algorithm 1 of Lorraine, Vicol & Duvenaud (2020) with per-layer `λ_l = exp(θ_l)`
/// of the experiment's `penalty`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TunedSection {
    /// Starting `λ_l`: one for every layer or one per layer (each > 0).
    pub lambda0: Vec<f64>,
    /// `T`: training steps between hyper-steps (≥ 1, dividing `train.steps`).
    pub steps_per_hyper: usize,
    /// Hyper learning rate `η` on `θ = ln λ`.
    pub hyper_lr: f64,
    /// `adam` (the paper's) or `sgd`.
    #[serde(default = "default_hyper_optim")]
    pub hyper_optim: HyperOptim,
    /// `K`: Neumann terms of `H⁻¹ ∇L_V` (each a Hessian-vector product, 2 gradients).
    pub neumann_terms: usize,
    /// Neumann step `α` (default: `train.lr`, the paper's choice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpha: Option<f64>,
    /// Relative finite-difference step of the Hessian-vector products.
    #[serde(default = "default_eps_rel")]
    pub eps_rel: f64,
    /// Training examples of the Hessian per hyper-step (default: `train.batch`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hessian_batch: Option<usize>,
    /// Validation examples of the hypergradient per hyper-step (default: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val_batch: Option<usize>,
}

fn is_l2(p: &TunedPenalty) -> bool {
    *p == TunedPenalty::L2
}

fn default_split_seed() -> u64 {
    18
}
fn default_hyper_optim() -> HyperOptim {
    HyperOptim::Adam
}
fn default_eps_rel() -> f64 {
    DEFAULT_EPS_REL
}

fn positive_finite(v: f64) -> bool {
    v > 0.0 && v.is_finite()
}

impl TuneExperiment {
    /// Parse TOML text, apply `key=value` overrides (as `reglab run --set`), deserialize and
    /// check every value. Errors are one line and name the key.
    pub fn parse(text: &str, overrides: &[String]) -> Result<Self, String> {
        let exp: TuneExperiment = experiment_file::deserialize(text, overrides)?;
        exp.validate()?;
        Ok(exp)
    }

    /// Check values that types do not rule out, naming the key.
    pub fn validate(&self) -> Result<(), String> {
        check_kind_and_name(&self.kind, &self.name, KIND)?;
        self.data.parse::<DataSource>().map_err(|e| format!("`data` = {:?}: {e}", self.data))?;
        if self.n_train == 0 {
            return Err("`n_train` must be ≥ 1".into());
        }
        if self.n_val == 0 {
            return Err("`n_val` must be ≥ 1".into());
        }
        if self.seeds.is_empty() {
            return Err("`seeds` is empty: give at least one seed".into());
        }
        let mut s = self.seeds.clone();
        s.sort_unstable();
        s.dedup();
        if s.len() != self.seeds.len() {
            return Err("`seeds` repeats a seed".into());
        }
        let t = &self.train;
        t.model.parse::<ModelSpec>().map_err(|e| format!("`train.model` = {:?}: {e}", t.model))?;
        if !positive_finite(t.lr) {
            return Err(format!("`train.lr` must be finite and > 0, got {}", t.lr));
        }
        if t.batch == 0 {
            return Err("`train.batch` must be ≥ 1".into());
        }
        if t.steps == 0 {
            return Err("`train.steps` must be ≥ 1".into());
        }
        let g = &self.grid.lambdas;
        if g.len() < 8 {
            return Err(format!("`grid.lambdas` has {} values: give at least 8", g.len()));
        }
        if let Some(l) = g.iter().find(|l| !(**l >= 0.0 && l.is_finite())) {
            return Err(format!("`grid.lambdas`: {l} is not a finite λ ≥ 0"));
        }
        if g.windows(2).any(|w| w[1] <= w[0]) {
            return Err("`grid.lambdas` must be strictly increasing".into());
        }
        let u = &self.tuned;
        if u.lambda0.is_empty() {
            return Err("`tuned.lambda0` is empty: give one λ for all layers or one per layer".into());
        }
        if let Some(l) = u.lambda0.iter().find(|l| !positive_finite(**l)) {
            return Err(format!("`tuned.lambda0`: {l} is not finite and > 0 (λ is learned as exp(θ))"));
        }
        if u.steps_per_hyper == 0 || !t.steps.is_multiple_of(u.steps_per_hyper) {
            return Err(format!("`tuned.steps_per_hyper` = {} must be ≥ 1 and divide `train.steps` = {}", u.steps_per_hyper, t.steps));
        }
        if !positive_finite(u.hyper_lr) {
            return Err(format!("`tuned.hyper_lr` must be finite and > 0, got {}", u.hyper_lr));
        }
        if let Some(a) = u.alpha.filter(|a| !positive_finite(*a)) {
            return Err(format!("`tuned.alpha` must be finite and > 0, got {a}"));
        }
        if !positive_finite(u.eps_rel) {
            return Err(format!("`tuned.eps_rel` must be finite and > 0, got {}", u.eps_rel));
        }
        if u.hessian_batch == Some(0) {
            return Err("`tuned.hessian_batch` must be ≥ 1".into());
        }
        if u.val_batch == Some(0) {
            return Err("`tuned.val_batch` must be ≥ 1".into());
        }
        Ok(())
    }

    /// Hyper-steps `H = steps / T`.
    pub fn hyper_steps(&self) -> usize {
        self.train.steps / self.tuned.steps_per_hyper
    }

    /// The resolved file.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("an experiment serializes")
    }
}
