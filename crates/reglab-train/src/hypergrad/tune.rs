//! Learning per-layer weight decay during training: the paper's Algorithm 1 (Lorraine, Vicol &
//! Duvenaud 2020).
//!
//! ```text
//! repeat H times:
//!     T steps of the run's optimizer on w, minimizing CE_T(w) + Σ_l (λ_l/2)‖w_l − a_l‖²
//!         (a = 0: per-layer weight decay; a = w₀, the initial weights: per-layer L2-init)
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
//! The hypergradient's `L_T` is the plain cross-entropy plus the learned decay, so the run may
//! have no other regularizer, dropout, reparameterization or pruning ([`tune`] refuses them).
//!
//! Same seed, same options → the same records, bit for bit.

use super::decay::{DecayGroups, LearnedDecay};
use super::hvp::Batch;
use super::hypergradient::{IftOptions, hypergradient};
use crate::config::TrainConfig;
use crate::error::TrainError;
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

/// Options of [`tune`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TuneOptions {
    /// Starting `λ_l` of the per-layer weight decay (one for all layers, or one per layer).
    pub lambda0: Vec<f64>,
    /// Pull toward the initial weights (L2-init, `l2-init`) instead of 0 (weight decay, `l2`).
    #[serde(default)]
    pub anchor_init: bool,
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
            return bad(format!("the starting weight decay λ must be finite and > 0 (it is learned as exp(θ)), got {l}"));
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
    let mut t = Trainer::new(cfg, &train.example_shape, train.classes, device, None, total)?;
    let mut groups = DecayGroups::per_layer(&t.net, &o.lambda0)?;
    if o.anchor_init {
        let w0 = crate::sharpness::params(&t.net)?.into_iter().map(|(v, _)| v).collect::<Vec<_>>();
        groups = groups.with_anchor(super::flatten(&w0))?;
    }
    let names = groups.names().to_vec();
    t.chain_mut().insert_after::<crate::hook::penalties::Penalties>(Box::new(LearnedDecay { groups }))?;
    let per_epoch = t.steps_per_epoch(train.len());
    let (mut epoch, mut in_epoch) = (1usize, 0usize);
    let (mut evals, mut examples) = (0u64, 0u64);
    let mut adam = Adam::new(names.len());
    let mut records = Vec::with_capacity(o.hyper_steps);
    let hb = o.hessian_batch.unwrap_or(cfg.batch).min(train.len());
    for h in 1..=o.hyper_steps {
        let lambda = decay(&t)?.lambdas();
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
        let groups = decay(&t)?.clone();
        let hg = hypergradient(&mut t.net, &groups, &tb, &vb, &o.ift)?;
        evals += hg.grad_evals as u64;
        examples += hg.examples as u64;
        let step = match o.hyper_optim {
            HyperOptim::Sgd => hg.grad.clone(),
            HyperOptim::Adam => adam.direction(&hg.grad),
        };
        let theta: Vec<f64> = groups.theta().iter().zip(&step).map(|(th, s)| th - o.hyper_lr * s).collect();
        let d = t.chain_mut().find_mut::<LearnedDecay>().ok_or_else(|| TrainError::Other("the learned decay left the chain".into()))?;
        d.groups.set_theta(&theta)?;
        let lambda_next = d.groups.lambdas();
        records.push(TuneRecord {
            hyper_step: h,
            train_steps: t.steps_done(),
            lambda,
            val_loss,
            val_accuracy,
            hypergrad: hg.grad,
            lambda_next,
            grad_evals: evals,
            examples,
        });
    }
    Ok((t, TuneResult { groups: names, records }))
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
