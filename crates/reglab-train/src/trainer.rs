//! The training loop: seeded shuffling, mini-batches, cross-entropy, the regularized step,
//! evaluation, and a stop with a named epoch and step when the loss stops being finite.

pub use crate::checkpoint::Checkpoint;
pub use crate::config::TrainConfig;
pub use crate::error::TrainError;
pub use crate::hook::output::OUTPUT_PREFIX;
use crate::hook::{Chain, EpochCx, FeatureCx, LossCx, Pass, StepCx};
use crate::model::Net;
use crate::prune::Masks;
use crate::reparam::Reparam;
use crate::step::Regularization;
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use reglab_core::batch::{BatchMut, LabelMix};
use reglab_core::{Dataset, NamedTensor};
use std::collections::BTreeMap;

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
    /// `λ_t·r(θ_t)` of each regularizer at the end of the epoch, `t` the steps taken (see
    /// [`Trainer::reg_values`]; σ_max to convergence).
    pub reg: BTreeMap<String, f64>,
    /// Fraction of the layer weights' entries that are exactly 0 at the end of the epoch.
    #[serde(default)]
    pub sparsity: f64,
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

/// A model, its optimizer and the hooks of its training step ([`crate::hook`]), trained step by
/// step.
pub struct Trainer {
    /// The model (on the autodiff device).
    pub net: Net,
    optim: ModuleOptimizer,
    /// The training step's hooks, in order.
    chain: Chain,
    /// Mean `λ_t·r` of each term the hooks report per batch (output terms, mixup, grad-norm)
    /// over the last epoch's mini-batches.
    value_means: BTreeMap<String, f64>,
    /// Running sums for `value_means` over the current epoch (batch-size weighted).
    value_sums: BTreeMap<String, f64>,
    value_seen: usize,
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
    /// the number of optimizer steps planned (for schedules). Every spec is parsed and checked
    /// here, once, into the chain of hooks ([`crate::hook::registry::build_chain`]).
    pub fn new(
        cfg: &TrainConfig,
        example_shape: &[usize],
        classes: usize,
        device: &Device,
        anchor: Option<&[NamedTensor]>,
        steps_total: u64,
    ) -> Result<Self, TrainError> {
        cfg.validate()?;
        let mut net = Net::new(&cfg.model, example_shape, classes, cfg.seed, device).map_err(TrainError::Config)?;
        let chain = crate::hook::registry::build_chain(cfg, example_shape, &mut net, device, anchor)?;
        Ok(Self {
            net,
            optim: cfg.optim.init(),
            chain,
            value_means: BTreeMap::new(),
            value_sums: BTreeMap::new(),
            value_seen: 0,
            device: device.clone(),
            cfg: cfg.clone(),
            step: 0,
            total: steps_total.max(1),
            example_shape: example_shape.to_vec(),
            loss_fn: CrossEntropyLossConfig::new().init(device),
        })
    }

    /// The hooks of the training step.
    pub fn chain(&self) -> &Chain {
        &self.chain
    }

    /// The hooks of the training step, mutably.
    pub fn chain_mut(&mut self) -> &mut Chain {
        &mut self.chain
    }

    /// The first hook of type `T` and the model, both mutably (e.g. to make a mask now).
    pub fn hook_and_net_mut<T: 'static>(&mut self) -> Option<(&mut T, &mut Net)> {
        self.chain.find_mut::<T>().map(|h| (h, &mut self.net))
    }

    /// The gradient of the training cross-entropy (mixup's, with its labels) at the current
    /// weights on `(x, y)`, flat (see [`crate::sharpness`]), with this step's dropout masks.
    pub fn ce_grads(&self, x: Tensor<2>, y: Tensor<1, Int>, mix: Option<&LabelMix>) -> Result<Vec<Vec<f32>>, TrainError> {
        let pass = Pass { masks: self.chain.masks(), loss: &self.loss_fn, seed: self.cfg.seed, step: self.step, device: &self.device };
        pass.ce_grads(&self.net, x, y, mix)
    }

    /// The parameter penalties (always in the chain; they hold the initial-weight snapshot).
    pub fn reg(&self) -> &Regularization {
        &self.chain.find::<crate::hook::penalties::Penalties>().expect("the penalties hook is always in the chain").reg
    }

    /// The pruning masks, if any.
    pub fn prune(&self) -> Option<&Masks> {
        self.chain.find::<crate::hook::prune::PruneHook>().map(|h| &h.masks)
    }

    /// The pruning masks, mutably.
    pub fn prune_mut(&mut self) -> Option<&mut Masks> {
        self.chain.find_mut::<crate::hook::prune::PruneHook>().map(|h| &mut h.masks)
    }

    /// The reparameterization, if any.
    pub fn reparam(&self) -> Option<&Reparam> {
        self.chain.find::<crate::hook::reparam::ReparamHook>().map(|h| &h.reparam)
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
        Ok(Checkpoint { model: self.net.to_pytorch(), optim: optim.to_vec(), reg: self.chain.state()?, step: self.step })
    }

    /// Continue from a [`Checkpoint`] of a trainer built with the same configuration.
    pub fn restore(&mut self, c: Checkpoint) -> Result<(), TrainError> {
        self.net.load_pytorch(&c.model).map_err(TrainError::Other)?;
        let optim = std::mem::replace(&mut self.optim, self.cfg.optim.init());
        self.optim =
            optim.from_bytes(burn::tensor::Bytes::from_bytes_vec(c.optim)).map_err(|e| TrainError::Other(format!("optimizer state: {e:?}")))?;
        self.chain.load_state(&mut self.net, c.reg)?;
        self.step = c.step;
        Ok(())
    }

    /// Steps per epoch on `n` examples.
    pub fn steps_per_epoch(&self, n: usize) -> usize {
        n.div_ceil(self.cfg.batch)
    }

    fn batch(&self, data: &Dataset, idx: &[usize]) -> (Tensor<2>, Tensor<1, Int>, Vec<u8>) {
        make_batch(data, idx, &self.device, |_| Ok(())).expect("no transform")
    }

    /// One epoch over `data` (`epoch` is 1-based and seeds the shuffle). Returns the mean
    /// mini-batch loss and accuracy. Before its first step and after its last the hooks' epoch
    /// phases run (a `fish` mask with `at=0` made from `data`, the data-dependent
    /// initialisation of weight norm; magnitude and `fish` masks with `at=E` at the end of
    /// their epochs; see [`crate::prune`]).
    pub fn train_epoch(&mut self, data: &Dataset, epoch: usize, progress: &mut dyn FnMut(Progress<'_>)) -> Result<(f64, f64), TrainError> {
        let steps = self.steps_per_epoch(data.len());
        self.train_steps(data, epoch, 0..steps, progress)
    }

    /// The steps `range` (0-based, of [`Trainer::steps_per_epoch`]) of epoch `epoch`, in the
    /// epoch's order: part of an epoch, for rows within it. The epoch's start phase runs when
    /// the range starts at 0, its end phase when it reaches the last step; the hooks' reported
    /// values ([`Trainer::reg_values`]) are the means over the range. Parts that cover an epoch
    /// train exactly as [`Trainer::train_epoch`] does.
    pub fn train_steps(
        &mut self,
        data: &Dataset,
        epoch: usize,
        range: std::ops::Range<usize>,
        progress: &mut dyn FnMut(Progress<'_>),
    ) -> Result<(f64, f64), TrainError> {
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
        if range.start >= range.end || range.end > steps {
            return Err(TrainError::Other(format!("steps {range:?} of an epoch of {steps}")));
        }
        self.value_sums.clear();
        self.value_seen = 0;
        if range.start == 0 {
            self.epoch_phase(data, epoch, &order, steps, true)?;
            progress(Progress::EpochStart { epoch, steps });
        }
        let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
        for (s, chunk) in order.chunks(self.cfg.batch).enumerate().skip(range.start).take(range.end - range.start) {
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
        if range.end == steps {
            self.epoch_phase(data, epoch, &order, steps, false)?;
        }
        let n = self.value_seen.max(1) as f64;
        self.value_means = self.value_sums.iter().map(|(k, v)| (k.clone(), v / n)).collect();
        Ok((loss_sum / seen.max(1) as f64, correct as f64 / seen.max(1) as f64))
    }

    /// The end of a task of a continual stream whose training set was `data`: every hook's
    /// [`crate::hook::StepHook::end_of_task`] (EWC's consolidation). The caller checkpoints
    /// after it, so a resumed run continues from the consolidated state.
    pub fn end_task(&mut self, data: &Dataset) -> Result<(), TrainError> {
        // not an epoch: no epoch number, order or steps
        let mut cx = EpochCx {
            net: &mut self.net,
            data,
            epoch: 0,
            order: &[],
            steps: 0,
            device: &self.device,
            optim: &mut self.optim,
            optim_spec: &self.cfg.optim,
        };
        for h in self.chain.hooks_mut() {
            h.end_of_task(&mut cx)?;
        }
        Ok(())
    }

    /// Every hook's [`crate::hook::StepHook::start_of_epoch`] (`start`) or `end_of_epoch`.
    fn epoch_phase(&mut self, data: &Dataset, epoch: usize, order: &[usize], steps: usize, start: bool) -> Result<(), TrainError> {
        let mut cx =
            EpochCx { net: &mut self.net, data, epoch, order, steps, device: &self.device, optim: &mut self.optim, optim_spec: &self.cfg.optim };
        for h in self.chain.hooks_mut() {
            if start { h.start_of_epoch(&mut cx)? } else { h.end_of_epoch(&mut cx)? }
        }
        Ok(())
    }

    /// One optimizer step on the examples `idx` of `data` (the training set): the batch is
    /// built, perturbed by the hooks' data perturbations (Cutout, Mixup, input noise: seeded by
    /// `(seed, step, term)`), and trained on with [`Trainer::step_on`]. Output regularizers
    /// are bound to `data` first if they are not yet.
    pub fn train_batch(&mut self, data: &Dataset, idx: &[usize]) -> Result<(f64, Vec<usize>), TrainError> {
        if let Some(o) = self.chain.find_mut::<crate::hook::output::OutputTerms>() {
            o.prepare(data.len(), data.classes)?;
        }
        let mut mix = None;
        let (chain, seed, step, shape) = (&mut self.chain, self.cfg.seed, self.step, &data.example_shape);
        let lab: Vec<usize> = idx.iter().map(|&i| data.labels[i] as usize).collect();
        let (x, y, labels) = make_batch(data, idx, &self.device, |x| {
            for h in chain.hooks_mut() {
                let mut b = BatchMut { x, n: lab.len(), example_shape: shape, labels: &lab };
                if let Some(m) = h.perturb_batch(&mut b, seed, step)? {
                    mix = Some(m);
                }
            }
            Ok(())
        })?;
        let info = BatchInfo { labels: &labels, index: idx, mix: mix.as_ref() };
        self.step_on(x, y, Some(info))
    }

    /// One regularized optimizer step on the mini-batch `(x, y)`: the hooks' phases around
    /// forward, cross-entropy, backward and the optimizer step (see [`crate::hook`]). Returns the
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
        let n = y.dims()[0];
        // output terms and mixup need the labels and indices, and a loss term on the logits
        let needs_terms = mix.is_some() || self.chain.needs_batch_info();
        let needs_features = self.chain.needs_features();
        let needs_graph = self.chain.needs_graph_terms();
        let replaces_loss = self.chain.replaces_loss();
        let (chain, masks) = self.chain.split();
        let pass = Pass { masks, loss: &self.loss_fn, seed: self.cfg.seed, step: self.step, device: &self.device };
        let mut values: Vec<(String, f64)> = Vec::new();
        let mut cx = StepCx {
            net: &mut self.net,
            x: &x,
            y: &y,
            mix,
            step: self.step,
            total: self.total,
            seed: self.cfg.seed,
            lr: self.cfg.lr,
            pass: &pass,
            values: &mut values,
        };
        // weight perturbations (SAM, AMP, mixout) before the forward pass
        for h in chain.iter_mut() {
            h.before_forward(&mut cx)?;
        }
        // the inputs the step trains on (adversarial training: x + δ)
        let mut x_train: Option<Tensor<2>> = None;
        for h in chain.iter_mut() {
            if let Some(xa) = h.train_inputs(&mut cx)?
                && x_train.replace(xa).is_some()
            {
                return Err(TrainError::Config("two hooks replace the training inputs (adversarial training): give at most one".into()));
            }
        }
        let x_main = x_train.unwrap_or_else(|| x.clone());
        let (features, logits) = if needs_features {
            let (f, z) = pass.forward_features(cx.net, x_main.clone())?;
            (Some(f), z)
        } else {
            (None, pass.forward(cx.net, x_main.clone()))
        };
        let loss = self.loss_fn.forward(logits.clone(), y.clone());
        let lv = loss.clone().into_scalar::<f32>() as f64;
        if !lv.is_finite() {
            return Err(TrainError::non_finite(format!("the training loss ({})", loss_culprit(cx.net, &x_main)), lv));
        }
        // a term that replaces the cross-entropy (feasible learning): the step minimizes the
        // terms alone; the cross-entropy is still reported
        let loss = if replaces_loss { loss * 0.0 } else { loss };
        let z = logits.clone().detach().into_data();
        let pred = argmax_rows(&z);
        // terms with forward passes of their own, in the autodiff graph (ELLE, ARoW, AAER)
        let loss = if !needs_graph {
            loss
        } else {
            let zs: &[f32] = z.as_slice().map_err(|e| TrainError::Other(format!("logits: {e:?}")))?;
            let labels = crate::attack::labels_of(&y)?;
            let classes = zs.len() / labels.len().max(1);
            let gcx =
                crate::hook::GraphCx { net: cx.net, x: &x, logits: &logits, z: zs, labels: &labels, classes, seed: self.cfg.seed, step: self.step };
            let mut loss = loss;
            let mut terms = Vec::new();
            for h in chain.iter_mut() {
                if let Some(t) = h.graph_terms(&gcx, &mut terms)? {
                    loss = loss + t;
                }
            }
            if let Some((label, v)) = terms.iter().find(|(_, v)| !v.is_finite()) {
                return Err(TrainError::non_finite(format!("regularizer `{label}`"), *v));
            }
            cx.values.extend(terms);
            loss
        };
        // loss terms on the logits (output regularizers, mixup's labels)
        let loss = if !needs_terms {
            loss
        } else {
            let info = batch.ok_or_else(|| TrainError::Other("output regularizers need the batch's labels and example indices".into()))?;
            let zs: &[f32] = z.as_slice().map_err(|e| TrainError::Other(format!("logits: {e:?}")))?;
            let (bn, c) = (info.labels.len(), zs.len() / info.labels.len().max(1));
            let labels: Vec<usize> = info.labels.iter().map(|&l| l as usize).collect();
            let ob = reglab_core::OutputBatch { logits: zs, n: bn, classes: c, labels: &labels, index: info.index };
            let lcx = LossCx { batch: &ob, mix, step: self.step, total: self.total };
            let gt =
                surrogate_gradient([bn, c], cx.values, &self.device, |g, terms| chain.iter_mut().try_for_each(|h| h.loss_terms(&lcx, g, terms)))?;
            loss + (logits * gt).sum()
        };
        // terms on the features (distillation), their gradient G entering as Σ G ⊙ f, G constant
        let loss = match features {
            None => loss,
            Some(f) => {
                let [fn_, fd] = f.dims();
                let fdata = f.clone().detach().into_data();
                let fs: &[f32] = fdata.as_slice().map_err(|e| TrainError::Other(format!("features: {e:?}")))?;
                let labels = crate::attack::labels_of(&y)?;
                let fcx = FeatureCx { x: &x_main, features: fs, labels: &labels, n: fn_, d: fd, step: self.step, total: self.total };
                let gt = surrogate_gradient([fn_, fd], cx.values, &self.device, |g, terms| {
                    chain.iter_mut().try_for_each(|h| h.feature_terms(&fcx, g, terms))
                })?;
                loss + (f * gt).sum()
            }
        };
        let mut grads = GradientsParams::from_grads(loss.backward(), cx.net);
        // weights put back, gradients transformed (penalties, reparameterization, masks)
        for h in chain.iter_mut() {
            h.after_backward(&mut cx, &mut grads)?;
        }
        let net = std::mem::replace(cx.net, placeholder());
        *cx.net = self.optim.step(self.cfg.lr, net, grads);
        // proximal steps, reparameterization, masks on the new weights
        for h in chain.iter_mut() {
            h.after_optimizer(&mut cx)?;
        }
        if !values.is_empty() {
            for (label, v) in &values {
                *self.value_sums.entry(label.clone()).or_insert(0.0) += v * n as f64;
            }
            self.value_seen += n;
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

    /// The cross-entropy of every example of `data` under the current model, in order (no
    /// autodiff): the loss distribution whose tail feasible learning targets.
    pub fn example_losses(&self, data: &Dataset) -> Vec<f64> {
        let mut out = vec![0.0; data.len()];
        for_each_logits(&self.net, data, |chunk, l, c| {
            for (r, &i) in chunk.iter().enumerate() {
                out[i] = row_cross_entropy(&l[r * c..(r + 1) * c], data.labels[i] as usize);
            }
        });
        out
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

    /// Each parameter regularizer's `λ_t·r(θ_t)` on the current weights θ_t (σ_max to
    /// convergence), `t` = the optimizer steps taken so far: the strength the term has at the
    /// step where the row is measured (its schedule's factor there; 0 from `until` on). And each
    /// output regularizer's mean `λ_t·r` over the last epoch's mini-batches.
    pub fn reg_values(&mut self) -> Result<BTreeMap<String, f64>, TrainError> {
        let (step, total) = (self.step, self.total);
        let p = self.chain.find_mut::<crate::hook::penalties::Penalties>().expect("the penalties hook is always in the chain");
        let mut out: BTreeMap<String, f64> = p.values(&self.net, step, total)?.into_iter().collect();
        out.extend(self.value_means.iter().map(|(k, v)| (k.clone(), *v)));
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

/// The mini-batch `idx` of `data` as tensors on `device`, with `transform` applied to the
/// inputs first; also the labels.
fn make_batch(
    data: &Dataset,
    idx: &[usize],
    device: &Device,
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
    let xt = Tensor::<2>::from_data(TensorData::new(x, [idx.len(), d]), device);
    let yt = Tensor::<1, Int>::from_data(TensorData::new(y, [idx.len()]), device);
    Ok((xt, yt, labels))
}

/// An empty stand-in while the model is moved into the optimizer (so its tensors stay
/// uniquely owned and can be updated in place).
fn placeholder() -> Net {
    Net::Mlp(crate::model::Mlp { layers: Vec::new(), act: Default::default() })
}

/// The cross-entropy of one row of logits against label `y` (max-shifted log-sum-exp, f64).
fn row_cross_entropy(row: &[f32], y: usize) -> f64 {
    let m = row.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) as f64;
    let lse = m + row.iter().map(|&v| (v as f64 - m).exp()).sum::<f64>().ln();
    lse - row[y] as f64
}

/// Mean cross-entropy and accuracy of `net` on `data` (no autodiff), and the predicted classes
/// when `predictions`.
fn evaluate(net: &Net, data: &Dataset, predictions: bool) -> (f64, f64, Vec<usize>) {
    let (mut loss, mut correct) = (0.0f64, 0usize);
    let mut pred = Vec::with_capacity(if predictions { data.len() } else { 0 });
    for_each_logits(net, data, |chunk, l, c| {
        for (r, &i) in chunk.iter().enumerate() {
            let row = &l[r * c..(r + 1) * c];
            let y = data.labels[i] as usize;
            loss += row_cross_entropy(row, y);
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
    if let Net::Bert(b) = &net {
        // Sentences in chunks of similar length (each chunk is cut to its longest sentence),
        // the logits put back in index order: far less padding than chunks in index order.
        let pad = b.pad as f32;
        let len = |i: usize| crate::model::bert::sequence_len(data.example(i), pad);
        let mut order = idx.clone();
        order.sort_by_key(|&i| (len(i), i));
        let mut all: Vec<f32> = Vec::new();
        let mut c = 0;
        for chunk in order.chunks(64) {
            let x: Vec<f32> = chunk.iter().flat_map(|&i| data.example(i).iter().copied()).collect();
            let logits = net.forward(Tensor::<2>::from_data(TensorData::new(x, [chunk.len(), d]), &dev)).into_data();
            let l: &[f32] = logits.as_slice().expect("f32 logits");
            c = l.len() / chunk.len();
            all.resize(data.len() * c, 0.0);
            for (r, &i) in chunk.iter().enumerate() {
                all[i * c..(i + 1) * c].copy_from_slice(&l[r * c..(r + 1) * c]);
            }
        }
        for chunk in idx.chunks(1000) {
            f(chunk, &all[chunk[0] * c..(chunk[chunk.len() - 1] + 1) * c], c);
        }
        return;
    }
    for chunk in idx.chunks(1000) {
        let x: Vec<f32> = chunk.iter().flat_map(|&i| data.example(i).iter().copied()).collect();
        let logits = net.forward(Tensor::<2>::from_data(TensorData::new(x, [chunk.len(), d]), &dev)).into_data();
        let l: &[f32] = logits.as_slice().expect("f32 logits");
        f(chunk, l, l.len() / chunk.len());
    }
}

/// The constant gradient `G` (`shape`) that a phase's terms put on a tensor of the forward pass
/// (`add` fills it and pushes each term's `(label, λ_t·r)`), the values checked finite and kept
/// in `values`. It enters the backward pass as the extra loss `Σ G ⊙ t`.
fn surrogate_gradient(
    shape: [usize; 2],
    values: &mut Vec<(String, f64)>,
    device: &Device,
    add: impl FnOnce(&mut [f64], &mut Vec<(String, f64)>) -> Result<(), TrainError>,
) -> Result<Tensor<2>, TrainError> {
    let mut g = vec![0.0f64; shape[0] * shape[1]];
    let mut terms = Vec::new();
    add(&mut g, &mut terms)?;
    if let Some((label, v)) = terms.iter().find(|(_, v)| !v.is_finite()) {
        return Err(TrainError::non_finite(format!("regularizer `{label}`"), *v));
    }
    values.extend(terms);
    let g: Vec<f32> = g.into_iter().map(|v| v as f32).collect();
    Ok(Tensor::<2>::from_data(TensorData::new(g, shape), device))
}

pub(crate) fn argmax(row: &[f32]) -> usize {
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

/// Why the loss is not finite, as far as can be told: a non-finite input in the batch (its row
/// and column), a non-finite weight (its layer and entry), or else the forward pass overflowed.
fn loss_culprit(net: &Net, x: &Tensor<2>) -> String {
    let [_, d] = x.dims();
    if let Ok(v) = x.clone().into_data().convert::<f32>().try_into_vec::<f32>()
        && let Some(k) = v.iter().position(|v| !v.is_finite())
    {
        return format!("the batch holds the input {} at row {}, column {}", v[k], k / d.max(1), k % d.max(1));
    }
    for (i, l) in net.layers().iter().enumerate() {
        let (w, b) = net.layer_data(i);
        for (name, data) in [(l.weight_name(), Some(w)), (l.bias_name(), b)] {
            if let Some(k) = data.and_then(|d| d.try_into_vec::<f32>().ok()).and_then(|v| v.iter().position(|v| !v.is_finite()).map(|k| (k, v[k]))) {
                return format!("`{name}` holds {} at entry {} (storage order)", k.1, k.0);
            }
        }
    }
    "inputs and weights are finite: the forward pass overflowed".into()
}
