//! Learning per-layer regularization strengths during training: the paper's Algorithm 1
//! (Lorraine, Vicol & Duvenaud 2020).
//!
//! ```text
//! repeat H times:
//!     T steps of the run's optimizer on w, minimizing CE_T(w) + Σ_l λ_l r_l(w)
//!         r_l = ½‖w_l − a_l‖² (a = 0: per-layer weight decay; a = w₀, the initial weights:
//!         per-layer L2-init), or r_l = (σ_max(W̃_l)² − 1)² (per-layer `spectral`)
//!     g = dL_V/dθ at the current w       (IFT, K Neumann terms: super::hypergradient)
//!     θ ← θ − η · Adam(g)  (or SGD)      λ = exp(θ)
//! ```
//! The Hessian is taken on a seeded random sample of the training set (`hessian_batch`
//! examples, redrawn each hyper-step), `L_V` on the whole validation set or a seeded sample.
//! Compute is counted in gradient evaluations (one per training step, `1 + 2K` per
//! hypergradient) and in examples through a forward and backward pass, so a run compares with
//! a grid of `P` points × `S` steps (`P·S` evaluations, `P·S·B` examples). The full-validation
//! evaluations recorded per hyper-step are forward passes only and not counted (a grid needs
//! them as well, to pick its best point).
//!
//! Choosing `α` and `K`: the series converges for `α < 2/μ_max(H)` (the paper takes the
//! training learning rate of SGD) and reaches a direction of curvature `μ` only after
//! `K ≈ 1/(αμ)` terms; directions of curvature ~λ (weight decay is the only curvature along
//! a ReLU network's layer-rescaling directions) need `K ≈ 1/(αλ)`. With a small `K` the
//! hypergradient is the paper's biased, cheaper approximation (in `hypergrad::tests` a ReLU
//! MLP's error is 1.5e-2 at K = 400 and 7.2e-3 at K = 2000, with αλ = 0.005–0.015).
//! The hypergradient's `L_T` is the plain cross-entropy plus the learned penalty, so the run may
//! have no other regularizer, dropout, reparameterization or pruning ([`tune`] refuses them).
//!
//! Same seed, same options → the same records, bit for bit.

use super::Strengths;
use super::decay::{DecayGroups, LearnedDecay};
use super::hvp::Batch;
use super::hypergradient::{Hypergradient, IftOptions, hypergradient};
use super::spectral::{DEFAULT_K, SpectralGroups};
use crate::config::TrainConfig;
use crate::error::TrainError;
use crate::hook::penalties::Penalties;
use crate::trainer::Trainer;
use burn::tensor::Device;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use reglab_core::Dataset;

/// The optimizer of the hyper-step on `θ = ln λ`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HyperOptim {
    /// Plain gradient descent `θ ← θ − η g`.
    Sgd,
    /// Adam, β = (0.9, 0.999), ε = 1e-8 (the paper's hyper-optimizer): each group's `θ` moves by
    /// about `η` per hyper-step whatever the scale of its hypergradient.
    Adam,
}

/// The penalty whose per-layer strengths are learned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TunedPenalty {
    /// Weight decay `(λ_l/2)‖w_l − a_l‖²` on each layer weight ([`DecayGroups`]; `a = 0`, or the
    /// initial weights with [`TuneOptions::anchor_init`]).
    #[default]
    L2,
    /// `spectral` (`λ_l (σ_max(W̃_l)² − 1)²`, k = 2, bias joined) on each layer
    /// ([`super::SpectralGroups`]), applied in training by the run's own `spectral` terms, one
    /// per layer.
    Spectral,
}

impl TunedPenalty {
    /// The `reglab list` name of the penalty.
    pub fn reg_name(self) -> &'static str {
        match self {
            Self::L2 => "l2",
            Self::Spectral => "spectral",
        }
    }
}

/// Options of [`tune`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TuneOptions {
    /// Starting `λ_l` of the per-layer weight decay (one for all layers, or one per layer).
    pub lambda0: Vec<f64>,
    /// Pull toward the initial weights (L2-init, `l2-init`) instead of 0 (weight decay, `l2`).
    #[serde(default)]
    pub anchor_init: bool,
    /// The penalty learned (default weight decay).
    #[serde(default)]
    pub penalty: TunedPenalty,
    /// `T`: training steps between hyper-steps (≥ 1).
    pub steps_per_hyper: usize,
    /// Hyper-steps (≥ 1).
    pub hyper_steps: usize,
    /// Hyper learning rate `η` on `θ`.
    pub hyper_lr: f64,
    /// Hyper-optimizer.
    pub hyper_optim: HyperOptim,
    /// Neumann and finite-difference settings.
    pub ift: IftOptions,
    /// Training examples the Hessian is taken on per hyper-step (`None`: the run's batch size).
    pub hessian_batch: Option<usize>,
    /// Validation examples of the hypergradient per hyper-step (`None`: all).
    pub val_batch: Option<usize>,
}

impl TuneOptions {
    /// Check the values a type does not rule out.
    pub fn validate(&self) -> Result<(), TrainError> {
        let bad = |m: String| Err(TrainError::Config(m));
        if self.steps_per_hyper == 0 {
            return bad("steps per hyper-step T must be ≥ 1".into());
        }
        if self.hyper_steps == 0 {
            return bad("hyper-steps must be ≥ 1".into());
        }
        if !(self.hyper_lr > 0.0 && self.hyper_lr.is_finite()) {
            return bad(format!("the hyper learning rate must be finite and > 0, got {}", self.hyper_lr));
        }
        if self.hessian_batch == Some(0) || self.val_batch == Some(0) {
            return bad("hessian_batch and val_batch must be ≥ 1 when given".into());
        }
        if let Some(l) = self.lambda0.iter().find(|l| !(**l > 0.0 && l.is_finite())) {
            return bad(format!("the starting strength λ must be finite and > 0 (it is learned as exp(θ)), got {l}"));
        }
        if self.anchor_init && self.penalty != TunedPenalty::L2 {
            return bad("anchor_init (L2-init) applies to the weight decay only, not to `spectral`".into());
        }
        self.ift.validate()
    }
}

/// One hyper-step.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TuneRecord {
    /// 1-based hyper-step.
    pub hyper_step: usize,
    /// Training steps taken so far.
    pub train_steps: u64,
    /// `λ_l` during this hyper-step's `T` training steps.
    pub lambda: Vec<f64>,
    /// Cross-entropy on the whole validation set after those steps.
    pub val_loss: f64,
    /// Accuracy on the whole validation set after those steps.
    pub val_accuracy: f64,
    /// `dL_V/dθ_l`.
    pub hypergrad: Vec<f64>,
    /// `λ_l` after the hyper-step.
    pub lambda_next: Vec<f64>,
    /// Gradient evaluations so far (training steps + hypergradients).
    pub grad_evals: u64,
    /// Examples through a forward and backward pass so far.
    pub examples: u64,
}

/// What [`tune`] returns besides the trained model.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TuneResult {
    /// Group names (the layer weights).
    pub groups: Vec<String>,
    /// One row per hyper-step.
    pub records: Vec<TuneRecord>,
}

/// Train a model of `cfg` on `train` while learning its per-layer weight decay on `val`
/// (Algorithm 1; see the module documentation). `device` must be an autodiff device. Returns
/// the trainer (model and optimizer at the end) and the records. `cfg.regs`, `cfg.reparam` and
/// `cfg.prune` must be empty: the Hessian of the hypergradient is that of the cross-entropy and
/// the learned decay only.
pub fn tune(cfg: &TrainConfig, train: &Dataset, val: &Dataset, o: &TuneOptions, device: &Device) -> Result<(Trainer, TuneResult), TrainError> {
    o.validate()?;
    if !cfg.regs.is_empty() || cfg.reparam.is_some() || cfg.prune.is_some() {
        return Err(TrainError::Config(
            "learning the weight decay needs a run without other regularizers, reparameterization or pruning (the hypergradient's Hessian would miss them)"
                .into(),
        ));
    }
    if train.is_empty() || val.is_empty() {
        return Err(TrainError::Config("learning the weight decay needs non-empty training and validation sets".into()));
    }
    if val.example_len() != train.example_len() || val.classes != train.classes {
        return Err(TrainError::Config(format!(
            "the validation set ({} classes, examples of {}) does not match the training set ({} classes, examples of {})",
            val.classes,
            val.example_len(),
            train.classes,
            train.example_len()
        )));
    }
    let total = (o.hyper_steps * o.steps_per_hyper) as u64;
    // the learned penalty: weight decay as its own hook, `spectral` as the run's own terms (one
    // per layer, so that each has its strength and its power-iteration vectors)
    let mut learned = match o.penalty {
        TunedPenalty::L2 => {
            let mut t = Trainer::new(cfg, &train.example_shape, train.classes, device, None, total)?;
            let mut groups = DecayGroups::per_layer(&t.net, &o.lambda0)?;
            if o.anchor_init {
                let w0 = crate::sharpness::params(&t.net)?.into_iter().map(|(v, _)| v).collect::<Vec<_>>();
                groups = groups.with_anchor(super::flatten(&w0))?;
            }
            t.chain_mut().insert_after::<crate::hook::penalties::Penalties>(Box::new(LearnedDecay { groups }))?;
            Learned::Decay(t)
        }
        TunedPenalty::Spectral => {
            let probe = crate::model::Net::new(&cfg.model, &train.example_shape, train.classes, cfg.seed, device).map_err(TrainError::Config)?;
            let groups = SpectralGroups::per_layer(&probe, &o.lambda0, DEFAULT_K)?;
            let mut with_terms = cfg.clone();
            with_terms.regs = groups
                .names()
                .iter()
                .zip(groups.lambdas())
                .map(|(n, l)| {
                    reglab_core::Spec::parse(&format!("spectral={l:e}:k={DEFAULT_K}:select={n}")).map_err(|e| TrainError::Config(e.to_string()))
                })
                .collect::<Result<_, _>>()?;
            let t = Trainer::new(&with_terms, &train.example_shape, train.classes, device, None, total)?;
            Learned::Spectral(t, groups)
        }
    };
    let names = learned.names()?;
    let per_epoch = learned.trainer().steps_per_epoch(train.len());
    let (mut epoch, mut in_epoch) = (1usize, 0usize);
    let (mut evals, mut examples) = (0u64, 0u64);
    let mut adam = Adam::new(names.len());
    let mut records = Vec::with_capacity(o.hyper_steps);
    let hb = o.hessian_batch.unwrap_or(cfg.batch).min(train.len());
    for h in 1..=o.hyper_steps {
        let lambda = learned.lambdas()?;
        let t = learned.trainer_mut();
        // T training steps, across epoch boundaries
        let mut left = o.steps_per_hyper;
        while left > 0 {
            let end = (in_epoch + left).min(per_epoch);
            t.train_steps(train, epoch, in_epoch..end, &mut |_| {})?;
            for s in in_epoch..end {
                examples += (train.len() - s * cfg.batch).min(cfg.batch) as u64;
            }
            evals += (end - in_epoch) as u64;
            left -= end - in_epoch;
            in_epoch = end;
            if in_epoch == per_epoch {
                (epoch, in_epoch) = (epoch + 1, 0);
            }
        }
        let (val_loss, val_accuracy) = t.evaluate(val);
        // the samples of this hyper-step, seeded by (seed, h)
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x1f7_u64.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(h as u64));
        let tb = Batch::new(train, Some(&sample(train.len(), hb, &mut rng)), device)?;
        let vb = match o.val_batch {
            None => Batch::new(val, None, device)?,
            Some(n) => Batch::new(val, Some(&sample(val.len(), n.min(val.len()), &mut rng)), device)?,
        };
        let (hg, theta) = learned.hypergradient(&tb, &vb, &o.ift)?;
        evals += hg.grad_evals as u64;
        examples += hg.examples as u64;
        let step = match o.hyper_optim {
            HyperOptim::Sgd => hg.grad.clone(),
            HyperOptim::Adam => adam.direction(&hg.grad),
        };
        let theta: Vec<f64> = theta.iter().zip(&step).map(|(th, s)| th - o.hyper_lr * s).collect();
        learned.set_theta(&theta)?;
        let lambda_next = learned.lambdas()?;
        records.push(TuneRecord {
            hyper_step: h,
            train_steps: learned.trainer().steps_done(),
            lambda,
            val_loss,
            val_accuracy,
            hypergrad: hg.grad,
            lambda_next,
            grad_evals: evals,
            examples,
        });
    }
    Ok((learned.into_trainer(), TuneResult { groups: names, records }))
}

/// The trainer with its learned penalty.
enum Learned {
    /// Weight decay (or L2-init) as the [`LearnedDecay`] hook.
    Decay(Trainer),
    /// `spectral`, one term per layer in the run's penalties (term `l` ↔ group `l`), and the
    /// groups that hold the strengths and the hypergradient's vectors.
    Spectral(Trainer, SpectralGroups),
}

impl Learned {
    fn trainer(&self) -> &Trainer {
        match self {
            Self::Decay(t) | Self::Spectral(t, _) => t,
        }
    }

    fn trainer_mut(&mut self) -> &mut Trainer {
        match self {
            Self::Decay(t) | Self::Spectral(t, _) => t,
        }
    }

    fn into_trainer(self) -> Trainer {
        match self {
            Self::Decay(t) | Self::Spectral(t, _) => t,
        }
    }

    fn names(&self) -> Result<Vec<String>, TrainError> {
        match self {
            Self::Decay(t) => Ok(decay(t)?.names().to_vec()),
            Self::Spectral(_, g) => Ok(g.names().to_vec()),
        }
    }

    fn lambdas(&self) -> Result<Vec<f64>, TrainError> {
        match self {
            Self::Decay(t) => Ok(decay(t)?.lambdas()),
            Self::Spectral(_, g) => Ok(g.lambdas()),
        }
    }

    /// The hypergradient at the current weights and the `θ` it was taken at.
    fn hypergradient(&mut self, tb: &Batch, vb: &Batch, o: &IftOptions) -> Result<(Hypergradient, Vec<f64>), TrainError> {
        match self {
            Self::Decay(t) => {
                let groups = decay(t)?.clone();
                Ok((hypergradient(&mut t.net, &groups, tb, vb, o)?, groups.theta().to_vec()))
            }
            Self::Spectral(t, groups) => {
                // the vectors each term holds after the last step, one power iteration further
                let w = super::flatten(&crate::sharpness::params(&t.net)?.into_iter().map(|(v, _)| v).collect::<Vec<_>>());
                let pen = t.chain().find::<Penalties>().ok_or_else(|| TrainError::Other("the penalties left the chain".into()))?;
                let terms = pen.reg.set().terms();
                let vectors = groups
                    .names()
                    .iter()
                    .enumerate()
                    .map(|(l, n)| {
                        // term l's own state: `<tensor>/u`, `<tensor>/v`
                        let state = terms.get(l).map(|t| t.reg.state()).unwrap_or_default();
                        let get =
                            |which: &str| {
                                let key = format!("{n}/{which}");
                                state.iter().find(|s| s.name == key).map(|s| s.data.iter().map(|&x| f64::from(x)).collect::<Vec<f64>>()).ok_or_else(
                                    || TrainError::Other(format!("no power-iteration state `{key}` in term {l} (has the run taken a step?)")),
                                )
                            };
                        Ok((get("u")?, get("v")?))
                    })
                    .collect::<Result<Vec<_>, TrainError>>()?;
                groups.set_vectors(vectors, Some(&w))?;
                Ok((hypergradient(&mut t.net, &*groups, tb, vb, o)?, groups.theta().to_vec()))
            }
        }
    }

    fn set_theta(&mut self, theta: &[f64]) -> Result<(), TrainError> {
        match self {
            Self::Decay(t) => {
                let d = t.chain_mut().find_mut::<LearnedDecay>().ok_or_else(|| TrainError::Other("the learned decay left the chain".into()))?;
                d.groups.set_theta(theta)
            }
            Self::Spectral(t, groups) => {
                groups.set_theta(theta)?;
                let pen = t.chain_mut().find_mut::<Penalties>().ok_or_else(|| TrainError::Other("the penalties left the chain".into()))?;
                for (l, lam) in groups.lambdas().into_iter().enumerate() {
                    pen.reg.set_mut().set_strength(l, lam).map_err(|e| TrainError::Other(e.to_string()))?;
                }
                Ok(())
            }
        }
    }
}

fn decay(t: &Trainer) -> Result<&DecayGroups, TrainError> {
    t.chain().find::<LearnedDecay>().map(|d| &d.groups).ok_or_else(|| TrainError::Other("the learned decay left the chain".into()))
}

/// `k` distinct indices of `0..n`, seeded, sorted.
fn sample(n: usize, k: usize, rng: &mut rand_chacha::ChaCha8Rng) -> Vec<usize> {
    let mut all: Vec<usize> = (0..n).collect();
    let (chosen, _) = all.partial_shuffle(rng, k);
    let mut out = chosen.to_vec();
    out.sort_unstable();
    out
}

/// Adam's direction `m̂ / (√v̂ + ε)` on the hypergradient (β₁ = 0.9, β₂ = 0.999, ε = 1e-8).
struct Adam {
    m: Vec<f64>,
    v: Vec<f64>,
    t: i32,
}

impl Adam {
    fn new(n: usize) -> Self {
        Self { m: vec![0.0; n], v: vec![0.0; n], t: 0 }
    }

    fn direction(&mut self, g: &[f64]) -> Vec<f64> {
        let (b1, b2) = (0.9f64, 0.999f64);
        self.t += 1;
        let (c1, c2) = (1.0 - b1.powi(self.t), 1.0 - b2.powi(self.t));
        self.m
            .iter_mut()
            .zip(self.v.iter_mut())
            .zip(g)
            .map(|((m, v), &gi)| {
                *m = b1 * *m + (1.0 - b1) * gi;
                *v = b2 * *v + (1.0 - b2) * gi * gi;
                (*m / c1) / ((*v / c2).sqrt() + 1e-8)
            })
            .collect()
    }
}
