//! The training loop: seeded shuffling, mini-batches, cross-entropy, the regularized step,
//! evaluation, and a stop with a named epoch and step when the loss stops being finite.

use crate::model::{ModelSpec, Net};
use crate::optim::OptimSpec;
use crate::prune::{Masks, PruneSpec};
use crate::reparam::{Reparam, ReparamSpec};
use crate::step::Regularization;
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use reglab_core::batch::{BatchMut, BatchTerm, LabelMix};
use reglab_regularizers::stochastic::Perturbation;
use reglab_regularizers::stochastic::dropout::Dropout;
use reglab_regularizers::stochastic::mixout::Mixout;
use reglab_regularizers::stochastic::sharpness::Sharpness;
use reglab_core::{Dataset, Mode, NamedTensor, OutputSet, Selection};
use std::collections::BTreeMap;

/// What to train and how.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Architecture.
    pub model: ModelSpec,
    /// Optimizer.
    pub optim: OptimSpec,
    /// Learning rate.
    pub lr: f64,
    /// Mini-batch size.
    pub batch: usize,
    /// Passes over the training set.
    pub epochs: usize,
    /// Seed of the initialisation and the shuffling.
    pub seed: u64,
    /// Regularizer specs, `NAME=λ[:key=value]`.
    #[serde(default)]
    pub regs: Vec<String>,
    /// Reparameterization of the layers' weights (weight-norm, spectral-norm, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reparam: Option<ReparamSpec>,
    /// Pruning masks (`magnitude:…`, `random:…`, `fish:…`; see [`crate::prune`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prune: Option<PruneSpec>,
}

impl TrainConfig {
    /// Check values that a type does not rule out.
    pub fn validate(&self) -> Result<(), TrainError> {
        let bad = |m: String| Err(TrainError::Config(m));
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return bad(format!("learning rate must be finite and > 0, got {}", self.lr));
        }
        if self.batch == 0 {
            return bad("batch size must be ≥ 1".into());
        }
        if self.epochs == 0 {
            return bad("epochs must be ≥ 1".into());
        }
        if let (Some(p), Some(r)) = (&self.prune, &self.reparam) {
            return bad(format!("pruning (`{p}`) cannot be combined with a reparameterization (`{r}`) yet"));
        }
        self.optim.validate().map_err(TrainError::Config)
    }
}

/// Metrics at the end of an epoch (no timings: same seed, same numbers).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpochMetrics {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean cross-entropy over the epoch's mini-batches (without regularization).
    pub train_loss: f64,
    /// Accuracy on the mini-batches as they were seen during the epoch.
    pub train_accuracy: f64,
    /// Cross-entropy on the test set at the end of the epoch.
    pub test_loss: f64,
    /// Accuracy on the test set at the end of the epoch.
    pub test_accuracy: f64,
    /// `λ·r` of each regularizer at the end of the epoch (σ_max to convergence).
    pub reg: BTreeMap<String, f64>,
    /// Fraction of the layer weights' entries that are exactly 0 at the end of the epoch.
    #[serde(default)]
    pub sparsity: f64,
}

/// Why training stopped early or could not start.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A bad configuration (regularizer spec, model, hyper-parameter).
    #[error("{0}")]
    Config(String),
    /// The loss (or a regularizer value) became NaN or infinite.
    #[error("{what} became {value} at epoch {epoch}, step {step}")]
    NonFinite { epoch: usize, step: usize, what: String, value: f64 },
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

/// A trainer's full state (see [`Trainer::checkpoint`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// Model parameters, PyTorch layout and names.
    pub model: Vec<NamedTensor>,
    /// Optimizer state (burn's record format).
    pub optim: Vec<u8>,
    /// Regularizer state (e.g. power-iteration vectors).
    pub reg: Vec<NamedTensor>,
    /// Optimizer steps taken.
    pub step: u64,
}

/// What the loop reports as it goes (for progress bars).
#[derive(Debug, Clone)]
pub enum Progress<'a> {
    /// An epoch starts with this many steps.
    EpochStart { epoch: usize, steps: usize },
    /// A step finished with this mini-batch loss.
    Step { epoch: usize, step: usize, loss: f64 },
    /// An epoch finished.
    EpochEnd(&'a EpochMetrics),
}

/// A model, its optimizer and its regularizers, trained step by step.
pub struct Trainer {
    /// The model (on the autodiff device).
    pub net: Net,
    optim: ModuleOptimizer,
    /// The bound regularizers.
    pub reg: Regularization,
    /// The reparameterization, if any.
    pub reparam: Option<Reparam>,
    /// The pruning masks, if any.
    pub prune: Option<Masks>,
    /// Output-level regularizers (on the logits, through the loss).
    pub output: OutputSet,
    /// Data perturbations of each training batch.
    batch_terms: Vec<BatchTerm>,
    /// Dropout in the training forward pass.
    dropout: Option<Dropout>,
    /// AMP, SAM or the gradient-norm penalty.
    sharpness: Option<Sharpness>,
    /// Mixout and its anchor per layer (linear layers; burn layout).
    mixout: Option<(Mixout, Vec<Option<Vec<f32>>>)>,
    /// Mean `λ_t·r` of each output term over the last epoch's mini-batches.
    output_means: BTreeMap<String, f64>,
    /// Running sums for `output_means` over the current epoch (batch-size weighted).
    output_sums: BTreeMap<String, f64>,
    output_seen: usize,
    device: Device,
    cfg: TrainConfig,
    step: u64,
    total: u64,
    example_shape: Vec<usize>,
    loss_fn: burn::nn::loss::CrossEntropyLoss,
}

impl Trainer {
    /// A fresh model for data of `example_shape` with `classes` classes; `anchor` (PyTorch
    /// layout) replaces the initial weights as W₀ of anchored regularizers; `steps_total` is
    /// the number of optimizer steps planned (for schedules).
    pub fn new(
        cfg: &TrainConfig,
        example_shape: &[usize],
        classes: usize,
        device: &Device,
        anchor: Option<&[NamedTensor]>,
        steps_total: u64,
    ) -> Result<Self, TrainError> {
        cfg.validate()?;
        let (perturb_specs, rest): (Vec<String>, Vec<String>) = cfg.regs.iter().cloned().partition(|s| reglab_regularizers::is_perturbation(s));
        let perturb = reglab_regularizers::build_perturbations(&perturb_specs).map_err(|e| TrainError::Config(e.to_string()))?;
        let dropout = perturb.iter().find_map(|(_, p)| match p {
            Perturbation::Dropout(d) => Some(d.clone()),
            _ => None,
        });
        let sharp: Vec<Sharpness> = perturb
            .iter()
            .filter_map(|(_, p)| match p {
                Perturbation::Sharpness(s) => Some(s.clone()),
                _ => None,
            })
            .collect();
        if sharp.len() > 1 {
            return Err(TrainError::Config("amp, sam and grad-norm each change how the step's gradient is taken: give at most one".into()));
        }
        let sharpness = sharp.into_iter().next();
        let mixout_spec = perturb.iter().find_map(|(_, p)| match p {
            Perturbation::Mixout(m) => Some(m.clone()),
            _ => None,
        });
        if mixout_spec.is_some() && sharpness.is_some() {
            return Err(TrainError::Config("mixout with amp, sam or grad-norm is not supported: give one of them".into()));
        }
        let (batch_specs, rest): (Vec<String>, Vec<String>) = rest.into_iter().partition(|s| reglab_regularizers::is_batch(s));
        let (out_specs, param_specs): (Vec<String>, Vec<String>) = rest.into_iter().partition(|s| reglab_regularizers::is_output(s));
        let batch_terms = reglab_regularizers::build_batch_terms(&batch_specs).map_err(|e| TrainError::Config(e.to_string()))?;
        for t in &batch_terms {
            t.transform.check_shape(example_shape).map_err(|e| TrainError::Config(format!("`{}`: {e}", t.spec.raw())))?;
        }
        let set = reglab_regularizers::build_set(&param_specs, Selection::LayerWeights).map_err(|e| TrainError::Config(e.to_string()))?;
        let output = reglab_regularizers::build_output_set(&out_specs).map_err(|e| TrainError::Config(e.to_string()))?;
        let mut net = Net::new(&cfg.model, example_shape, classes, cfg.seed, device).map_err(TrainError::Config)?;
        let reparam = match &cfg.reparam {
            Some(spec) => Some(Reparam::new(spec, &mut net, &cfg.optim, device).map_err(TrainError::Config)?),
            None => None,
        };
        // (random masks zero their weights now, so the anchor snapshot is the pruned init)
        let prune = cfg.prune.as_ref().map(|p| Masks::new(p, &mut net, cfg.seed)).transpose().map_err(TrainError::Config)?;
        let reg = Regularization::new(set, &net, anchor).map_err(TrainError::Config)?;
        let mixout = match mixout_spec {
            None => None,
            Some(m) => Some((m, mixout_anchors(&net, anchor)?)),
        };
        Ok(Self {
            net,
            optim: cfg.optim.init(),
            reg,
            reparam,
            prune,
            output,
            batch_terms,
            dropout,
            sharpness,
            mixout,
            output_means: BTreeMap::new(),
            output_sums: BTreeMap::new(),
            output_seen: 0,
            device: device.clone(),
            cfg: cfg.clone(),
            step: 0,
            total: steps_total.max(1),
            example_shape: example_shape.to_vec(),
            loss_fn: CrossEntropyLossConfig::new().init(device),
        })
    }

    /// Optimizer steps taken so far.
    pub fn steps_done(&self) -> u64 {
        self.step
    }

    /// Everything needed to continue training bit-identically in another process: the model
    /// (PyTorch layout), the optimizer state (burn's record bytes), the regularizers' state and
    /// the step counter.
    pub fn checkpoint(&self) -> Result<Checkpoint, TrainError> {
        let optim = self.optim.into_bytes().map_err(|e| TrainError::Other(format!("optimizer state: {e:?}")))?;
        let mut reg = self.reg.set().state();
        if let Some(rp) = &self.reparam {
            reg.extend(rp.state().map_err(TrainError::Other)?);
        }
        if let Some(p) = &self.prune {
            reg.extend(p.state());
        }
        reg.extend(self.output.state().into_iter().map(|mut t| {
            t.name = format!("{OUTPUT_PREFIX}{}", t.name);
            t
        }));
        Ok(Checkpoint { model: self.net.to_pytorch(), optim: optim.to_vec(), reg, step: self.step })
    }

    /// Continue from a [`Checkpoint`] of a trainer built with the same configuration.
    pub fn restore(&mut self, c: Checkpoint) -> Result<(), TrainError> {
        self.net.load_pytorch(&c.model).map_err(TrainError::Other)?;
        let optim = std::mem::replace(&mut self.optim, self.cfg.optim.init());
        self.optim = optim
            .from_bytes(burn::tensor::Bytes::from_bytes_vec(c.optim))
            .map_err(|e| TrainError::Other(format!("optimizer state: {e:?}")))?;
        let (out_state, reg): (Vec<NamedTensor>, Vec<NamedTensor>) = c.reg.into_iter().partition(|t| t.name.starts_with(OUTPUT_PREFIX));
        let out_state: Vec<NamedTensor> = out_state
            .into_iter()
            .map(|mut t| {
                t.name = t.name[OUTPUT_PREFIX.len()..].to_string();
                t
            })
            .collect();
        self.output.load_state(&out_state).map_err(|e| TrainError::Other(e.to_string()))?;
        let (prune_state, reg): (Vec<NamedTensor>, Vec<NamedTensor>) = reg.into_iter().partition(|t| t.name.starts_with("prune/"));
        let (rp_state, reg_state): (Vec<NamedTensor>, Vec<NamedTensor>) = reg.into_iter().partition(|t| t.name.starts_with("reparam/"));
        match self.prune.as_mut() {
            Some(p) => p.load_state(&mut self.net, &prune_state).map_err(TrainError::Other)?,
            None if !prune_state.is_empty() => {
                return Err(TrainError::Other(format!("the checkpoint holds pruning masks (`{}`), the run has no pruning", prune_state[0].name)));
            }
            None => {}
        }
        self.reg.set_mut().load_state(&reg_state).map_err(|e| TrainError::Other(e.to_string()))?;
        if let Some(rp) = self.reparam.as_mut() {
            rp.load_state(&mut self.net, &rp_state).map_err(TrainError::Other)?;
        }
        self.step = c.step;
        Ok(())
    }

    /// Steps per epoch on `n` examples.
    pub fn steps_per_epoch(&self, n: usize) -> usize {
        n.div_ceil(self.cfg.batch)
    }

    fn batch(&self, data: &Dataset, idx: &[usize]) -> (Tensor<2>, Tensor<1, Int>, Vec<u8>) {
        self.batch_with(data, idx, |_| Ok(())).expect("no transform")
    }

    /// The mini-batch `idx` of `data` as tensors, with `transform` applied to the inputs first.
    fn batch_with(
        &self,
        data: &Dataset,
        idx: &[usize],
        transform: impl FnOnce(&mut [f32]) -> Result<(), TrainError>,
    ) -> Result<(Tensor<2>, Tensor<1, Int>, Vec<u8>), TrainError> {
        let d = data.example_len();
        let mut x = Vec::with_capacity(idx.len() * d);
        let mut y = Vec::with_capacity(idx.len());
        let mut labels = Vec::with_capacity(idx.len());
        for &i in idx {
            x.extend_from_slice(data.example(i));
            y.push(data.labels[i] as i64);
            labels.push(data.labels[i]);
        }
        transform(&mut x)?;
        let xt = Tensor::<2>::from_data(TensorData::new(x, [idx.len(), d]), &self.device);
        let yt = Tensor::<1, Int>::from_data(TensorData::new(y, [idx.len()]), &self.device);
        Ok((xt, yt, labels))
    }

    /// One epoch over `data` (`epoch` is 1-based and seeds the shuffle). Returns the mean
    /// mini-batch loss and accuracy. Before its first step a `fish` mask with `at=0` is made
    /// from `data` if it does not exist yet; at its end the pruning schedule (if any) runs:
    /// magnitude masks and `fish` masks with `at=E` are made at the end of their epochs (see
    /// [`crate::prune`]).
    pub fn train_epoch(&mut self, data: &Dataset, epoch: usize, progress: &mut dyn FnMut(Progress<'_>)) -> Result<(f64, f64), TrainError> {
        if data.example_shape.iter().product::<usize>() != self.example_shape.iter().product::<usize>() {
            return Err(TrainError::Config(format!(
                "{}: examples of shape {:?}, the model expects {:?}",
                data.name, data.example_shape, self.example_shape
            )));
        }
        let mut order: Vec<usize> = (0..data.len()).collect();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(self.cfg.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ epoch as u64);
        order.shuffle(&mut rng);
        let steps = self.steps_per_epoch(data.len());
        self.output_sums.clear();
        self.output_seen = 0;
        if let Some(p) = self.prune.as_mut() {
            let v = p.version();
            p.start_of_epoch(&mut self.net, data, epoch).map_err(TrainError::Other)?;
            if p.version() != v {
                self.mask_optimizer_state()?;
            }
        }
        if let Some(rp) = self.reparam.as_mut() {
            // the data-dependent initialisation runs once, on the first 500 examples of the
            // first epoch's order (a restored run has done it already)
            let n = order.len().min(500);
            let x = if rp.pending_data_init() {
                let d = data.example_len();
                let x: Vec<f32> = order[..n].iter().flat_map(|&i| data.example(i).iter().copied()).collect();
                Some(Tensor::<2>::from_data(TensorData::new(x, [n, d]), &self.device))
            } else {
                None
            };
            rp.data_init(&mut self.net, x, steps).map_err(TrainError::Other)?;
        }
        progress(Progress::EpochStart { epoch, steps });
        let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
        for (s, chunk) in order.chunks(self.cfg.batch).enumerate() {
            let (lv, pred) = self.train_batch(data, chunk).map_err(|e| match e {
                TrainError::NonFinite { what, value, .. } => TrainError::NonFinite { epoch, step: s + 1, what, value },
                other => other,
            })?;
            let labels: Vec<u8> = chunk.iter().map(|&i| data.labels[i]).collect();
            correct += pred.iter().zip(&labels).filter(|(p, l)| **p == **l as usize).count();
            seen += labels.len();
            loss_sum += lv * labels.len() as f64;
            progress(Progress::Step { epoch, step: s + 1, loss: lv });
        }
        if let Some(p) = self.prune.as_mut() {
            let v = p.version();
            p.end_of_epoch(&mut self.net, epoch, data).map_err(TrainError::Other)?;
            if p.version() != v {
                self.mask_optimizer_state()?;
            }
        }
        let n = self.output_seen.max(1) as f64;
        self.output_means = self.output_sums.iter().map(|(k, v)| (k.clone(), v / n)).collect();
        Ok((loss_sum / seen.max(1) as f64, correct as f64 / seen.max(1) as f64))
    }

    /// One optimizer step on the examples `idx` of `data` (the training set): the batch is
    /// built, perturbed by the data perturbations (Cutout, Mixup, input noise: seeded by
    /// `(seed, step, term)`), and trained on with [`Trainer::step_on`]. Output regularizers
    /// are bound to `data` first if they are not yet.
    pub fn train_batch(&mut self, data: &Dataset, idx: &[usize]) -> Result<(f64, Vec<usize>), TrainError> {
        self.output.prepare(data.len(), data.classes).map_err(|e| TrainError::Config(e.to_string()))?;
        let mut mix = None;
        let (x, y, labels) = {
            let (terms, seed, step, shape) = (&self.batch_terms, self.cfg.seed, self.step, &data.example_shape);
            let lab: Vec<usize> = idx.iter().map(|&i| data.labels[i] as usize).collect();
            self.batch_with(data, idx, |x| {
                if terms.is_empty() {
                    return Ok(());
                }
                let mut b = BatchMut { x, n: lab.len(), example_shape: shape, labels: &lab };
                mix = reglab_core::batch::apply_all(terms, &mut b, seed, step).map_err(|e| TrainError::Other(e.to_string()))?;
                Ok(())
            })?
        };
        let info = BatchInfo { labels: &labels, index: idx, mix: mix.as_ref() };
        self.step_on(x, y, Some(info))
    }

    /// Mixout: set each linear layer's weight to `W̃` for this step's forward pass; returns
    /// `(layer, W, column mask)` for [`Trainer::unmix_weights`].
    #[allow(clippy::type_complexity)]
    fn mix_weights(&mut self) -> Result<Vec<(usize, Vec<f32>, Vec<f32>)>, String> {
        let Some((m, anchors)) = &self.mixout else { return Ok(Vec::new()) };
        let mut saved = Vec::new();
        for (i, u) in anchors.iter().enumerate() {
            let Some(u) = u else { continue };
            let (w, _) = self.net.layer_data(i);
            let shape = w.shape().to_vec(); // burn [in, out]
            let w: Vec<f32> = w.try_into_vec::<f32>().map_err(|e| format!("{e:?}"))?;
            let out = shape[1];
            let mask = m.mask(shape[0], self.cfg.seed, self.step, i);
            let mixed = m.mix(&w, u, &mask, |k| k / out);
            self.net.set_weight(i, TensorData::new(mixed, shape));
            saved.push((i, w, mask));
        }
        Ok(saved)
    }

    /// Undo [`Trainer::mix_weights`]: put `W` back and scale its gradient by the mask
    /// (`M/(1 − p)`, or `M` with `grad=official`), per input row of burn's `[in, out]`.
    fn unmix_weights(&mut self, saved: Vec<(usize, Vec<f32>, Vec<f32>)>, grads: &mut GradientsParams) -> Result<(), String> {
        let Some((m, _)) = &self.mixout else { return Ok(()) };
        for (i, w, mask) in saved {
            let (wid, _) = self.net.param_ids(i);
            let (in_dim, out) = (mask.len(), w.len() / mask.len());
            self.net.set_weight(i, TensorData::new(w, [in_dim, out]));
            let factor = m.grad_factor(&mask);
            let g: Tensor<2> = grads.remove::<2>(wid).ok_or("mixout: no gradient for a mixed weight")?;
            let dev = g.device();
            let mut gv: Vec<f32> = g.into_data().try_into_vec::<f32>().map_err(|e| format!("{e:?}"))?;
            for (k, v) in gv.iter_mut().enumerate() {
                *v *= factor[k / out];
            }
            grads.register::<2>(wid, Tensor::<2>::from_data(TensorData::new(gv, [in_dim, out]), &dev));
        }
        Ok(())
    }

    /// Logits of the training forward pass (with dropout, masks from `(seed, step, layer)`).
    fn forward_train(&self, x: Tensor<2>) -> Tensor<2> {
        match &self.dropout {
            None => self.net.forward(x),
            Some(d) => {
                let (seed, step) = (self.cfg.seed, self.step);
                self.net.forward_with(x, &mut |layer, h| {
                    let [b, w] = h.dims();
                    let m = Tensor::<2>::from_data(TensorData::new(d.mask(b * w, seed, step, layer), [b, w]), &h.device());
                    h * m
                })
            }
        }
    }

    /// The gradient of the cross-entropy (mixup's, with its labels) at the current weights,
    /// flat (see [`crate::sharpness`]): the ascent and finite-difference passes.
    fn ce_grads(&self, x: Tensor<2>, y: Tensor<1, Int>, mix: Option<&LabelMix>) -> Result<Vec<Vec<f32>>, TrainError> {
        let logits = self.forward_train(x);
        let loss = match mix {
            None => self.loss_fn.forward(logits, y),
            Some(m) => {
                let n = m.labels_b.len();
                let yb = Tensor::<1, Int>::from_data(TensorData::new(m.labels_b.iter().map(|&l| l as i64).collect::<Vec<_>>(), [n]), &self.device);
                self.loss_fn.forward(logits.clone(), y).mul_scalar(m.lam) + self.loss_fn.forward(logits, yb).mul_scalar(1.0 - m.lam)
            }
        };
        let grads = GradientsParams::from_grads(loss.backward(), &self.net);
        crate::sharpness::grads(&self.net, &grads).map_err(TrainError::Other)
    }

    /// Zero the optimizer state of the pruned entries (after the masks changed; see
    /// [`crate::prune::optim_state`]).
    fn mask_optimizer_state(&mut self) -> Result<(), TrainError> {
        let Some(p) = &self.prune else { return Ok(()) };
        let optim = std::mem::replace(&mut self.optim, self.cfg.optim.init());
        self.optim = crate::prune::optim_state::mask_optimizer_state(optim, &p.param_masks(&self.net)).map_err(TrainError::Other)?;
        Ok(())
    }

    /// One regularized optimizer step on the mini-batch `(x, y)`: forward, cross-entropy,
    /// backward, analytic regularizer gradients (then the pruned entries' gradients zeroed),
    /// optimizer step, proximal steps, pruned weights zeroed (frozen entries written back, for a
    /// `fish` mask). Returns the
    /// mini-batch loss and the predicted classes. A non-finite loss or regularizer value stops
    /// before the weights change (epoch and step are filled in by the caller).
    pub fn step(&mut self, x: Tensor<2>, y: Tensor<1, Int>) -> Result<(f64, Vec<usize>), TrainError> {
        self.step_on(x, y, None)
    }

    /// [`Trainer::step`] with the batch's labels and the examples' indices in the training set,
    /// which output-level regularizers read (ELR's per-example targets); without them, output
    /// regularizers are an error. Their gradient with respect to the logits, `G`, enters the
    /// backward pass as the extra loss `Σ G ⊙ z` with `G` constant (see
    /// [`reglab_core::output`]).
    pub fn step_on(&mut self, x: Tensor<2>, y: Tensor<1, Int>, batch: Option<BatchInfo<'_>>) -> Result<(f64, Vec<usize>), TrainError> {
        let mix = batch.as_ref().and_then(|b| b.mix);
        // AMP / SAM: move to θ + δ for the main pass (θ is restored after the backward pass)
        let theta = match self.sharpness.clone() {
            Some(Sharpness::Amp { eps, lr, steps }) => {
                let theta = crate::sharpness::params(&self.net).map_err(TrainError::Other)?;
                let mut delta: Vec<Vec<f32>> = theta.iter().map(|(v, _)| vec![0.0; v.len()]).collect();
                for k in 0..steps {
                    if k > 0 {
                        crate::sharpness::set_params(&mut self.net, &theta, Some(&delta));
                    }
                    let g = self.ce_grads(x.clone(), y.clone(), mix)?;
                    reglab_regularizers::stochastic::sharpness::amp_update(&mut delta, &g, eps, lr);
                }
                crate::sharpness::set_params(&mut self.net, &theta, Some(&delta));
                Some(theta)
            }
            Some(Sharpness::Sam { rho }) => {
                let theta = crate::sharpness::params(&self.net).map_err(TrainError::Other)?;
                let g = self.ce_grads(x.clone(), y.clone(), mix)?;
                let delta = reglab_regularizers::stochastic::sharpness::sam_delta(&g, rho);
                crate::sharpness::set_params(&mut self.net, &theta, Some(&delta));
                Some(theta)
            }
            _ => None,
        };
        // Mixout: the forward pass sees W̃ (the kept weights and their masks are restored below)
        let mixed = self.mix_weights().map_err(TrainError::Other)?;
        let logits = self.forward_train(x.clone());
        let loss = self.loss_fn.forward(logits.clone(), y.clone());
        let lv = loss.clone().into_scalar::<f32>() as f64;
        if !lv.is_finite() {
            return Err(TrainError::NonFinite { epoch: 0, step: 0, what: "the training loss".into(), value: lv });
        }
        let z = logits.clone().detach().into_data();
        let pred = argmax_rows(&z);
        let loss = if self.output.is_empty() && mix.is_none() {
            loss
        } else {
            let info = batch.ok_or_else(|| TrainError::Other("output regularizers need the batch's labels and example indices".into()))?;
            let zs: &[f32] = z.as_slice().map_err(|e| TrainError::Other(format!("logits: {e:?}")))?;
            let (n, c) = (info.labels.len(), zs.len() / info.labels.len().max(1));
            let labels: Vec<usize> = info.labels.iter().map(|&l| l as usize).collect();
            let ob = reglab_core::OutputBatch { logits: zs, n, classes: c, labels: &labels, index: info.index };
            let mut g = vec![0.0f64; n * c];
            let mut values = self.output.eval(&ob, &mut g, self.step, self.total).map_err(|e| TrainError::Other(e.to_string()))?;
            let mut names = self.output.labels();
            if let Some(m) = mix {
                values.push(mix_term(&ob, m, &mut g));
                names.push("mixup".into());
            }
            for (label, v) in names.into_iter().zip(&values) {
                if !v.is_finite() {
                    return Err(TrainError::NonFinite { epoch: 0, step: 0, what: format!("regularizer `{label}`"), value: *v });
                }
                *self.output_sums.entry(label).or_insert(0.0) += v * n as f64;
            }
            self.output_seen += n;
            let g: Vec<f32> = g.into_iter().map(|v| v as f32).collect();
            let gt = Tensor::<2>::from_data(TensorData::new(g, [n, c]), &self.device);
            loss + (logits * gt).sum()
        };
        let mut grads = GradientsParams::from_grads(loss.backward(), &self.net);
        self.unmix_weights(mixed, &mut grads).map_err(TrainError::Other)?;
        if let Some(theta) = &theta {
            crate::sharpness::set_params(&mut self.net, theta, None);
        }
        if let Some(Sharpness::GradNorm { lambda, h }) = self.sharpness.clone() {
            // λ‖∇CE‖²: its gradient 2λ‖g₀‖(∇CE(θ + h·ĝ₀) − g₀)/h added to the step's gradient
            let theta = crate::sharpness::params(&self.net).map_err(TrainError::Other)?;
            let g0 = self.ce_grads(x.clone(), y.clone(), mix)?;
            let step = reglab_regularizers::stochastic::sharpness::grad_norm_step(&g0, h);
            crate::sharpness::set_params(&mut self.net, &theta, Some(&step));
            let g1 = self.ce_grads(x, y, mix)?;
            crate::sharpness::set_params(&mut self.net, &theta, None);
            let extra = reglab_regularizers::stochastic::sharpness::grad_norm_gradient(&g0, &g1, lambda, h);
            crate::sharpness::add_grads(&self.net, &mut grads, &extra).map_err(TrainError::Other)?;
            let value = lambda * g0.iter().flatten().map(|&v| (v as f64) * (v as f64)).sum::<f64>();
            let n = batch.as_ref().map(|b| b.labels.len()).unwrap_or(1);
            *self.output_sums.entry("grad-norm".into()).or_insert(0.0) += value * n as f64;
            if self.output.is_empty() && mix.is_none() {
                self.output_seen += n;
            }
        }
        let values = self.reg.add_gradients(&self.net, &mut grads, self.step, self.total).map_err(TrainError::Other)?;
        if let Some((j, v)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(TrainError::NonFinite { epoch: 0, step: 0, what: format!("regularizer `{}`", self.reg.labels()[j]), value: *v });
        }
        let extra_grads = match self.reparam.as_mut() {
            Some(rp) => Some(rp.backward(&mut self.net, &mut grads).map_err(TrainError::Other)?),
            None => None,
        };
        if let Some(p) = &self.prune {
            p.mask_gradients(&self.net, &mut grads).map_err(TrainError::Other)?;
        }
        let net = std::mem::replace(&mut self.net, placeholder());
        self.net = self.optim.step(self.cfg.lr, net, grads);
        if let (Some(rp), Some(g)) = (self.reparam.as_mut(), extra_grads) {
            rp.step_extras(self.cfg.lr, g);
        }
        self.reg.after_step(&mut self.net, self.cfg.lr, self.step, self.total, self.cfg.seed).map_err(TrainError::Other)?;
        if let Some(p) = &self.prune {
            p.apply(&mut self.net).map_err(TrainError::Other)?;
        }
        if let Some(rp) = self.reparam.as_mut() {
            rp.after_step(&mut self.net, self.step).map_err(TrainError::Other)?;
        }
        self.step += 1;
        Ok((lv, pred))
    }

    /// The mini-batch of `data` at `idx` as tensors on the training device.
    pub fn batch_tensors(&self, data: &Dataset, idx: &[usize]) -> (Tensor<2>, Tensor<1, Int>) {
        let (x, y, _) = self.batch(data, idx);
        (x, y)
    }

    /// Mean cross-entropy, accuracy and the predicted class of every example of `data`, in one
    /// pass (no autodiff).
    pub fn evaluate_and_predict(&self, data: &Dataset) -> (f64, f64, Vec<usize>) {
        evaluate(&self.net, data, true)
    }

    /// Mean cross-entropy and accuracy of the current model on `data` (no autodiff).
    pub fn evaluate(&self, data: &Dataset) -> (f64, f64) {
        Self::evaluate_net(&self.net, data)
    }

    /// Mean cross-entropy and accuracy of `net` (an autodiff model, e.g. a modified copy of
    /// [`Trainer::net`]) on `data`, without autodiff.
    pub fn evaluate_net(net: &Net, data: &Dataset) -> (f64, f64) {
        let (loss, acc, _) = evaluate(net, data, false);
        (loss, acc)
    }

    /// Each parameter regularizer's `λ·r` on the current weights (σ_max to convergence), and
    /// each output regularizer's mean `λ_t·r` over the last epoch's mini-batches.
    pub fn reg_values(&mut self) -> Result<BTreeMap<String, f64>, TrainError> {
        let ev = self.reg.evaluate(&self.net, Mode::Exact).map_err(TrainError::Other)?;
        let mut out: BTreeMap<String, f64> = self.reg.labels().into_iter().zip(ev.per_term).collect();
        out.extend(self.output_means.iter().map(|(k, v)| (k.clone(), *v)));
        Ok(out)
    }

    /// Train `epochs` epochs (from the config) on `train`, evaluating on `test` after each;
    /// `on_epoch` runs after each epoch's metrics (e.g. to write a checkpoint).
    pub fn fit(
        &mut self,
        train: &Dataset,
        test: &Dataset,
        progress: &mut dyn FnMut(Progress<'_>),
        on_epoch: &mut dyn FnMut(&Trainer, &EpochMetrics) -> Result<(), TrainError>,
    ) -> Result<Vec<EpochMetrics>, TrainError> {
        let mut out = Vec::new();
        for epoch in 1..=self.cfg.epochs {
            let (train_loss, train_accuracy) = self.train_epoch(train, epoch, progress)?;
            let (test_loss, test_accuracy) = self.evaluate(test);
            let reg = self.reg_values()?;
            let sparsity = crate::prune::weight_sparsity(&self.net).0;
            let m = EpochMetrics { epoch, train_loss, train_accuracy, test_loss, test_accuracy, reg, sparsity };
            progress(Progress::EpochEnd(&m));
            on_epoch(self, &m)?;
            out.push(m);
        }
        Ok(out)
    }
}

/// Mixout's anchors `U`: for each linear layer, its weight in `anchor` (PyTorch names and
/// layout, e.g. a pretrained checkpoint) or else its current (initial) weight; burn layout.
fn mixout_anchors(net: &Net, anchor: Option<&[NamedTensor]>) -> Result<Vec<Option<Vec<f32>>>, TrainError> {
    let mut out = Vec::new();
    for (i, l) in net.layers().iter().enumerate() {
        if l.kind != crate::model::LayerKind::Linear {
            out.push(None);
            continue;
        }
        let u = match anchor.and_then(|a| a.iter().find(|t| t.name == l.weight_name())) {
            Some(t) if t.shape == l.shape => reglab_core::linalg::transpose(&t.data, l.shape[0], l.shape[1]),
            Some(t) => return Err(TrainError::Config(format!("mixout anchor `{}` has shape {:?}, the layer {:?}", t.name, t.shape, l.shape))),
            None => net.layer_data(i).0.try_into_vec::<f32>().map_err(|e| TrainError::Other(format!("{e:?}")))?,
        };
        out.push(Some(u));
    }
    Ok(out)
}

/// What [`Trainer::step_on`] needs to know of a batch beyond its tensors.
#[derive(Debug, Clone, Copy)]
pub struct BatchInfo<'a> {
    /// The training labels.
    pub labels: &'a [u8],
    /// The examples' indices in the training set.
    pub index: &'a [usize],
    /// Mixup's second labels and weight, if the inputs were mixed.
    pub mix: Option<&'a LabelMix>,
}

/// Mixup's label part added to `CE(z, y)`: `(1 − λ)·mean_i[CE(z_i, y_b,i) − CE(z_i, y_i)]`, its
/// value returned and its logit gradient `(1 − λ)/B·(e_{y_i} − e_{y_b,i})` added into `g`.
fn mix_term(b: &reglab_core::OutputBatch<'_>, m: &LabelMix, g: &mut [f64]) -> f64 {
    let (n, c, w) = (b.n as f64, b.classes, 1.0 - m.lam);
    let mut v = 0.0;
    for i in 0..b.n {
        let (ya, yb) = (b.labels[i], m.labels_b[i]);
        let z = b.row(i);
        v += z[ya] as f64 - z[yb] as f64; // CE_b − CE_a = (lse − z_b) − (lse − z_a)
        g[i * c + ya] += w / n;
        g[i * c + yb] -= w / n;
    }
    w * v / n
}

/// Prefix of the output regularizers' state in checkpoints (`output/elr.targets`).
pub const OUTPUT_PREFIX: &str = "output/";

/// An empty stand-in while the model is moved into the optimizer (so its tensors stay
/// uniquely owned and can be updated in place).
fn placeholder() -> Net {
    Net::Mlp(crate::model::Mlp { layers: Vec::new() })
}

/// Mean cross-entropy and accuracy of `net` on `data` (no autodiff), and the predicted classes
/// when `predictions`.
fn evaluate(net: &Net, data: &Dataset, predictions: bool) -> (f64, f64, Vec<usize>) {
    let (mut loss, mut correct) = (0.0f64, 0usize);
    let mut pred = Vec::with_capacity(if predictions { data.len() } else { 0 });
    for_each_logits(net, data, |chunk, l, c| {
        for (r, &i) in chunk.iter().enumerate() {
            let row = &l[r * c..(r + 1) * c];
            let m = row.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) as f64;
            let lse = m + row.iter().map(|&v| (v as f64 - m).exp()).sum::<f64>().ln();
            let y = data.labels[i] as usize;
            loss += lse - row[y] as f64;
            let p = argmax(row);
            if p == y {
                correct += 1;
            }
            if predictions {
                pred.push(p);
            }
        }
    });
    let n = data.len().max(1) as f64;
    (loss / n, correct as f64 / n, pred)
}

/// The logits of `net` (evaluation mode, no autodiff) on every example of `data`, 1,000 at a
/// time: `f(indices, logits row-major, classes)`.
fn for_each_logits<F: FnMut(&[usize], &[f32], usize)>(net: &Net, data: &Dataset, mut f: F) {
    let net = net.valid();
    let dev = net.devices().into_iter().next().unwrap_or_else(Device::flex);
    let d = data.example_len();
    let idx: Vec<usize> = (0..data.len()).collect();
    for chunk in idx.chunks(1000) {
        let x: Vec<f32> = chunk.iter().flat_map(|&i| data.example(i).iter().copied()).collect();
        let logits = net.forward(Tensor::<2>::from_data(TensorData::new(x, [chunk.len(), d]), &dev)).into_data();
        let l: &[f32] = logits.as_slice().expect("f32 logits");
        f(chunk, l, l.len() / chunk.len());
    }
}

fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (j, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = j;
        }
    }
    best
}

fn argmax_rows(d: &TensorData) -> Vec<usize> {
    let shape = d.shape();
    let c = shape[shape.len() - 1];
    d.as_slice::<f32>().expect("f32 logits").chunks(c).map(argmax).collect()
}

#[cfg(test)]
mod tests;
