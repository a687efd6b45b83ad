//! `ewc=λ[:n=N][:probes=P|exact][:normalize=mean|none][:head=PATTERN][:fisher=features|labels]
//! [:consolidate=start|task][:gamma=Γ]`: elastic weight consolidation toward the pretrained (or
//! initial) weights — L2-SP with each entry weighted by its diagonal Fisher information — or,
//! with `consolidate=task`, toward the weights at the end of the last task of a stream.
//!
//! ## Formula
//! `Ω(θ) = λ/2 · Σ_i F̂_i (θ_i − θ⁰_i)²` (Kirkpatrick et al., eq. 3), gradient `λ F̂ ⊙ (θ − θ⁰)`,
//! over the entries `i` of the selected tensors that are not in the head, where
//! - `θ⁰` is the anchor (the pretrained weights: the trainer's initial snapshot, or `--anchor`);
//! - `F_i` is the diagonal Fisher information of the *anchor* network, computed once before the
//!   first step by the trainer (`reglab_train::fisher`) and saved with every checkpoint;
//! - `F̂ = F / mean(F)` with `normalize=mean` (the default; the mean over every entry the penalty
//!   covers), so that a uniform Fisher gives exactly `l2-sp=λ` and λ has the scale of L2-SP's
//!   (the two spend the same total anchor), or `F̂ = F` with `normalize=none`.
//!
//! Which Fisher: a pretrained encoder has no classifier whose likelihood we could use (the head is
//! new), so reglab takes the Fisher of the network's *features* `f_θ(x) ∈ ℝ^d` (the input of the
//! last layer; for BERT the mean-pooled last hidden state) under the Gaussian observation model
//! `z ~ N(f_θ(x), I)`. Its Fisher is exactly the Gauss–Newton matrix
//! `F = (1/N) Σ_x J_xᵀ J_x`, `J_x = ∂f_θ(x)/∂θ` (`d × |θ|`), and its diagonal
//! `F_i = (1/N) Σ_x Σ_k (∂f_k(x)/∂θ_i)²`. It is estimated per example without forming `J`: for
//! `P` Rademacher probes `ε ∈ {±1}^d`, `g = ∂(εᵀ f_θ(x))/∂θ = εᵀ J_x` and `E[g_i²] = Σ_k J_ki²`,
//! so `F_i ≈ (1/(N·P)) Σ_x Σ_p g_i²` (one backward pass with a batch of one per probe);
//! `probes=exact` takes the `d` unit vectors instead (exact, `d` passes per example: tests and
//! small models). The `N` reference examples are the first `n` (default 256) of a seeded shuffle
//! of the training inputs — their labels are never read. The head's Fisher is 0 (the features do
//! not depend on it), so the head is outside the penalty (`head`, default
//! `classifier.*|head.*`, as for `l2-sp`). With this Fisher, EWC is the diagonal quadratic
//! approximation, around `θ⁰`, of feature distillation on the reference set:
//! `(1/N) Σ_x ‖f_θ(x) − f_θ⁰(x)‖² ≈ (θ − θ⁰)ᵀ F (θ − θ⁰)`.
//!
//! `fisher=labels` takes instead the empirical Fisher of the classifier's own likelihood, the
//! cross-entropy `ℓ(x, y)` of the reference examples with their labels:
//! `F_i = (1/N) Σ_(x,y) (∂ℓ(x, y)/∂θ_i)²` (one backward pass per example; the head included) —
//! the Fisher of EWC in continual learning, where the classifier is the model of every task.
//!
//! **Between the tasks of a stream** (`consolidate=task`; the lab's task streams): no penalty
//! during the first task; at the end of each task `t` the trainer computes `F⁽ᵗ⁾` at the current
//! weights on `n` examples of that task's training set, and the term becomes
//! `λ/2 · Σ_i F̂_i (θ_i − θ*_i)²` with `θ* ←` the weights at the end of task `t` and
//! `F ← γ·F + F⁽ᵗ⁾` (`gamma`, default 1): online EWC (Schwarz et al. 2018), with `γ = 1` the
//! sum of the per-task Fishers around the latest anchor. The anchor and the running Fisher are
//! saved with every checkpoint. (With `consolidate=start`, the default, the Fisher is that of
//! the anchor, computed once before the first step.)
//!
//! Symbols: `θ`, `θ⁰`, `θ*`, `F` tensors of one shape (PyTorch layout; any storage layout is
//! matched entry by entry), `λ ≥ 0`, `N ≥ 1`, `P ≥ 1`, `γ ∈ [0, 1]`.
//!
//! ## Paper
//! Kirkpatrick et al., "Overcoming catastrophic forgetting in neural networks", PNAS 2017
//! (arXiv 1612.00796); as a fine-tuning baseline beside L2 to the pretrained weights: Smith et
//! al., "A Closer Look at Rehearsal-Free Continual Learning", CVPR Workshops 2023 (arXiv
//! 2203.17269; catalog #102), `λ Σ F_i (θ_i − θ*_i)²`. Online EWC: Schwarz et al., "Progress &
//! Compress: A scalable framework for continual learning", ICML 2018 (arXiv 1805.06370), the
//! running Fisher `γF + F⁽ᵗ⁾` around the latest anchor.

use super::l2_init::{check_grad_len, checked_init};
use super::l2_sp::DEFAULT_HEAD;
use reglab_core::select::{Role, Selection};
use reglab_core::tensor::index;
use reglab_core::{Error, Mode, NamedTensor, Regularizer, Result, Spec, Target, TargetGrad};
use std::collections::BTreeMap;

/// How the Fisher is estimated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probes {
    /// `P` Rademacher probes per example.
    Random(usize),
    /// The `d` unit vectors (exact).
    Exact,
}

/// Whose likelihood the Fisher is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Likelihood {
    /// The features, Gaussian (no labels read).
    Features,
    /// The classifier's cross-entropy with the true labels (empirical Fisher).
    Labels,
}

/// When the anchor and the Fisher are taken.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Consolidate {
    /// Once, at the anchor, before the first step.
    Start,
    /// At the end of every task of a stream: `θ* ←` the weights, `F ← γ·F + F⁽ᵗ⁾`.
    Task {
        /// Decay of the earlier tasks' Fisher.
        gamma: f64,
    },
}

/// EWC. See the module documentation.
#[derive(Debug, Clone)]
pub struct Ewc {
    /// Reference examples for the Fisher.
    pub n: usize,
    /// Probes per example.
    pub probes: Probes,
    /// Divide the Fisher by its mean over the covered entries.
    pub normalize: bool,
    /// Tensors of the new head (not penalized).
    pub head: Selection,
    /// Whose likelihood.
    pub likelihood: Likelihood,
    /// When to consolidate.
    pub consolidate: Consolidate,
    /// The Fisher per tensor name (PyTorch shape and layout).
    fisher: BTreeMap<String, NamedTensor>,
    /// `1/mean(F)` over the targets of the last [`Regularizer::prepare`], by target name.
    factor: Option<(Vec<String>, f64)>,
}

impl Ewc {
    /// Build from a spec (`ewc=λ[:n=N][:probes=P|exact][:normalize=mean|none][:head=PATTERN]`).
    pub fn from_spec(spec: &Spec) -> Result<Self> {
        let mut o = spec.options();
        let n = o.usize("n", 256)?;
        o.ensure(n >= 1, "option `n` must be ≥ 1")?;
        let probes = match o.string_opt("probes")?.as_deref() {
            None => Probes::Random(1),
            Some("exact") => Probes::Exact,
            Some(s) => match s.parse::<usize>() {
                Ok(p) if p >= 1 => Probes::Random(p),
                _ => return Err(o.ensure(false, format!("option `probes` must be a count ≥ 1 or `exact`, not `{s}`")).expect_err("ensure(false)")),
            },
        };
        let normalize = o.choice("normalize", &["mean", "none"], "mean")? == "mean";
        let likelihood = if o.choice("fisher", &["features", "labels"], "features")? == "labels" { Likelihood::Labels } else { Likelihood::Features };
        let task = o.choice("consolidate", &["start", "task"], "start")? == "task";
        let gamma = o.f64("gamma", 1.0)?;
        o.ensure((0.0..=1.0).contains(&gamma), format!("option `gamma` must be in [0, 1], got {gamma}"))?;
        o.ensure(task || gamma == 1.0, "option `gamma` is for consolidate=task")?;
        let consolidate = if task { Consolidate::Task { gamma } } else { Consolidate::Start };
        let pattern = o.string_opt("head")?.unwrap_or_else(|| DEFAULT_HEAD.to_string());
        let head = match Selection::pattern(&pattern) {
            Ok(h) => h,
            Err(e) => return Err(o.ensure(false, format!("option `head`: {e}")).expect_err("ensure(false)")),
        };
        o.finish()?;
        Ok(Self { n, probes, normalize, head, likelihood, consolidate, fisher: BTreeMap::new(), factor: None })
    }

    /// Whether `name` is a head tensor.
    pub fn is_head(&self, name: &str) -> bool {
        self.head.matches(name, Role::Other)
    }

    /// Set the Fisher (PyTorch names and layout; replaces any earlier one). Entries must be
    /// finite and ≥ 0.
    pub fn set_fisher(&mut self, fisher: Vec<NamedTensor>) -> Result<()> {
        let mut map = BTreeMap::new();
        for t in fisher {
            if let Some(v) = t.data.iter().find(|v| !(v.is_finite() && **v >= 0.0)) {
                return Err(Error::State(format!("Fisher of `{}` has the entry {v} (must be finite and ≥ 0)", t.name)));
            }
            map.insert(t.name.clone(), t);
        }
        self.fisher = map;
        self.factor = None;
        Ok(())
    }

    /// Whether a Fisher is set.
    pub fn has_fisher(&self) -> bool {
        !self.fisher.is_empty()
    }

    fn fisher_of(&self, t: &Target<'_>) -> Result<&[f32]> {
        let f = self.fisher.get(t.name).ok_or_else(|| {
            Error::State(format!("ewc has no Fisher for `{}` (the trainer computes it before the first step; `reglab penalty` cannot)", t.name))
        })?;
        if f.data.len() != t.weight.data.len() {
            return Err(Error::Shape {
                tensor: t.name.to_string(),
                why: format!("its Fisher has {} entries, the tensor {}", f.data.len(), t.weight.data.len()),
            });
        }
        Ok(&f.data)
    }

    /// `1/mean(F)` over `names` (1 without normalisation).
    fn factor_over(&self, names: &[&str]) -> Result<f64> {
        if !self.normalize {
            return Ok(1.0);
        }
        let (mut sum, mut count) = (0.0f64, 0usize);
        for name in names {
            if let Some(f) = self.fisher.get(*name) {
                sum += f.data.iter().map(|&x| x as f64).sum::<f64>();
                count += f.data.len();
            }
        }
        if sum.is_nan() || sum <= 0.0 {
            return Err(Error::State(format!("the Fisher is 0 on every tensor ewc covers ({}): nothing to normalise by", names.join(", "))));
        }
        Ok(count as f64 / sum)
    }
}

/// `½ Σ_i c·ω_i (w_i − w⁰_i)²` on `t` and, with `grad`, `scale · c·ω ⊙ (w − w⁰)` added into it;
/// `ω` in PyTorch layout (row-major of `t`'s shape), `w` and `w⁰` in their storage layouts.
pub fn weighted_anchor(reg: &str, t: &Target<'_>, omega: &[f32], c: f64, grad: Option<&mut TargetGrad<'_>>, scale: f32) -> Result<f64> {
    let init = checked_init(reg, t)?;
    if omega.len() != t.weight.data.len() {
        return Err(Error::Shape {
            tensor: t.name.to_string(),
            why: format!("its weights ω have {} entries, the tensor {}", omega.len(), t.weight.data.len()),
        });
    }
    if let Some(g) = grad.as_deref() {
        check_grad_len(t, g)?;
    }
    let (rows, cols) = if t.weight.shape.len() >= 2 { t.weight.matrix_dims() } else { (1, t.weight.data.len()) };
    let (w, w0) = (t.weight.data, init.data);
    let mut grad = grad;
    let mut acc = 0.0f64;
    for r in 0..rows {
        for col in 0..cols {
            let k = r * cols + col;
            let (iw, i0) =
                if t.weight.shape.len() >= 2 { (index(t.weight.layout, rows, cols, r, col), index(init.layout, rows, cols, r, col)) } else { (k, k) };
            let d = w[iw] as f64 - w0[i0] as f64;
            let om = c * omega[k] as f64;
            if let Some(g) = grad.as_deref_mut() {
                g.weight[iw] += scale * (om * d) as f32;
            }
            acc += om * d * d;
        }
    }
    Ok(0.5 * acc)
}

impl Regularizer for Ewc {
    fn name(&self) -> &'static str {
        "ewc"
    }

    fn needs_init(&self) -> bool {
        true
    }

    fn couples_targets(&self) -> bool {
        self.normalize
    }

    /// The normalisation `1/mean(F)` over the covered (non-head) targets.
    fn prepare(&mut self, targets: &[&Target<'_>]) -> Result<()> {
        let names: Vec<&str> = targets.iter().map(|t| t.name).filter(|n| !self.is_head(n)).collect();
        let c = self.factor_over(&names)?;
        self.factor = Some((names.iter().map(|s| s.to_string()).collect(), c));
        Ok(())
    }

    /// Without a [`Regularizer::prepare`] that listed the target, the mean is the target's own.
    fn eval(&mut self, t: &Target<'_>, grad: Option<&mut TargetGrad<'_>>, scale: f32, _mode: Mode) -> Result<f64> {
        if self.is_head(t.name) {
            return Ok(0.0);
        }
        let f = self.fisher_of(t)?;
        let c = match &self.factor {
            Some((names, c)) if names.iter().any(|n| n == t.name) => *c,
            _ => self.factor_over(&[t.name])?,
        };
        weighted_anchor(self.name(), t, f, c, grad, scale)
    }

    fn state(&self) -> Vec<NamedTensor> {
        self.fisher.values().map(|f| NamedTensor { name: format!("fisher/{}", f.name), ..f.clone() }).collect()
    }

    fn load_state(&mut self, state: &[NamedTensor]) -> Result<()> {
        let fisher: Vec<NamedTensor> = state
            .iter()
            .filter_map(|t| t.name.strip_prefix("fisher/").map(|n| NamedTensor::new(n.to_string(), t.shape.clone(), t.data.clone())))
            .collect();
        if !fisher.is_empty() {
            self.set_fisher(fisher)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reglab_core::testing::{Case, gradient_error, rel};

    fn reg(s: &str) -> Ewc {
        Ewc::from_spec(&Spec::parse(s).unwrap()).unwrap()
    }

    fn with_fisher(s: &str, c: &Case, f: Vec<f32>) -> Ewc {
        let mut r = reg(s);
        r.set_fisher(vec![NamedTensor::new(c.name.clone(), c.shape.clone(), f)]).unwrap();
        r
    }

    #[test]
    fn value_is_the_fisher_weighted_half_squared_distance() {
        let c = Case {
            weight: vec![1.0, -2.0, 3.0, 0.5, 0.0, -1.0],
            init: Some(vec![0.5, -2.0, 1.0, 0.0, 1.0, 1.0]),
            ..Case::random("encoder.layer.0.output.dense.weight", &[2, 3], 0)
        };
        let f = vec![2.0, 7.0, 0.5, 0.0, 1.0, 3.0];
        // independent: ½ Σ F d² with d² = (0.25, 0, 4, 0.25, 1, 4)
        let raw = 0.5 * (2.0 * 0.25 + 0.0 + 0.5 * 4.0 + 0.0 + 1.0 + 3.0 * 4.0);
        let mut none = with_fisher("ewc=1:normalize=none", &c, f.clone());
        assert!(rel(c.value(&mut none), raw) < 1e-12);
        assert!(rel(c.transposed().value(&mut none), raw) < 1e-12);
        // normalised by the tensor's mean Fisher (13.5/6) when evaluated alone
        let mut mean = with_fisher("ewc=1", &c, f);
        assert!(rel(c.value(&mut mean), raw * 6.0 / 13.5) < 1e-12);
    }

    #[test]
    fn gradients_match_finite_differences_in_both_layouts() {
        let c = Case::random("encoder.layer.1.attention.self.query.weight", &[6, 5], 1).with_random_init(2);
        let f: Vec<f32> = (0..30).map(|i| ((i * 7) % 11) as f32 * 0.3).collect();
        for normalize in ["none", "mean"] {
            let mut r = with_fisher(&format!("ewc=1:normalize={normalize}"), &c, f.clone());
            for case in [c.clone(), c.transposed()] {
                assert!(gradient_error(&mut r, &case, 1e-2) < 1e-5, "{normalize}");
            }
        }
        // the gradient itself, without normalisation: F ⊙ (w − w₀), entry by entry in PyTorch order
        let mut r = with_fisher("ewc=1:normalize=none", &c, f.clone());
        let (_, g, _) = c.value_and_grad(&mut r);
        for i in 0..30 {
            let want = f[i] * (c.weight[i] - c.init.as_ref().unwrap()[i]);
            assert!((g[i] - want).abs() < 1e-6, "{i}: {} vs {want}", g[i]);
        }
    }

    #[test]
    fn invariants_uniform_fisher_is_l2_sp_zero_at_the_anchor_and_the_head_is_free() {
        let c = Case { name: "encoder.layer.0.intermediate.dense.weight".into(), ..Case::random("e", &[4, 3], 3).with_random_init(4) };
        // a uniform Fisher (any level) normalised to mean 1 is exactly l2-sp
        let mut e = with_fisher("ewc=1", &c, vec![0.37; 12]);
        let l2sp = c.value(&mut crate::anchor::l2_sp::L2Sp::from_spec(&Spec::parse("l2-sp=1").unwrap()).unwrap());
        assert!(rel(c.value(&mut e), l2sp) < 1e-6);
        // zero at the anchor, ≥ 0 elsewhere
        let at = Case { weight: c.init.clone().unwrap(), ..c.clone() };
        assert_eq!(at.value(&mut e), 0.0);
        // the head takes no penalty and needs no Fisher
        let head = Case { name: "classifier.weight".into(), ..c.clone() };
        assert_eq!(head.value(&mut reg("ewc=1")), 0.0);
        // the normalisation over several targets uses their pooled mean
        let other = Case { name: "encoder.layer.1.output.dense.weight".into(), ..c.clone() };
        let mut r = reg("ewc=1");
        r.set_fisher(vec![
            NamedTensor::new(c.name.clone(), vec![4, 3], vec![1.0; 12]),
            NamedTensor::new(other.name.clone(), vec![4, 3], vec![3.0; 12]),
        ])
        .unwrap();
        r.prepare(&[&c.target(), &other.target(), &head.target()]).unwrap();
        // pooled mean 2: the first tensor's weights are 1/2, the second's 3/2
        assert!(rel(c.value(&mut r), 0.5 * l2sp) < 1e-6);
        assert!(rel(other.value(&mut r), 1.5 * l2sp) < 1e-6);
    }

    #[test]
    fn state_round_trips_and_bad_input_is_an_error() {
        let c = Case::random("encoder.w", &[2, 2], 5).with_random_init(6);
        let r = with_fisher("ewc=1", &c, vec![1.0, 2.0, 3.0, 4.0]);
        let mut back = reg("ewc=1");
        back.load_state(&r.state()).unwrap();
        assert_eq!(c.value(&mut back), c.value(&mut r.clone()));
        // no Fisher, wrong length, negative or NaN entries, all-zero Fisher, bad options
        assert!(reg("ewc=1").eval(&c.target(), None, 1.0, Mode::Exact).unwrap_err().to_string().contains("no Fisher"));
        let mut short = reg("ewc=1");
        short.set_fisher(vec![NamedTensor::new("encoder.w", vec![3], vec![1.0; 3])]).unwrap();
        assert!(short.eval(&c.target(), None, 1.0, Mode::Exact).is_err());
        for bad in [-1.0, f32::NAN] {
            assert!(reg("ewc=1").set_fisher(vec![NamedTensor::new("encoder.w", vec![2, 2], vec![1.0, bad, 1.0, 1.0])]).is_err());
        }
        let mut zero = with_fisher("ewc=1", &c, vec![0.0; 4]);
        assert!(zero.eval(&c.target(), None, 1.0, Mode::Exact).unwrap_err().to_string().contains("is 0"));
        for (s, want) in [
            ("ewc=1:n=0", "`n`"),
            ("ewc=1:probes=0", "probes"),
            ("ewc=1:probes=x", "probes"),
            ("ewc=1:normalize=max", "normalize"),
            ("ewc=1:k=1", "unknown"),
            ("ewc=1:fisher=outputs", "fisher"),
            ("ewc=1:consolidate=epoch", "consolidate"),
            ("ewc=1:consolidate=task:gamma=1.5", "gamma"),
            ("ewc=1:gamma=0.5", "consolidate=task"),
        ] {
            let e = Spec::parse(s).and_then(|sp| Ewc::from_spec(&sp)).unwrap_err().to_string();
            assert!(e.contains(want), "{s}: {e}");
        }
        assert_eq!(reg("ewc=1:probes=exact").probes, Probes::Exact);
        assert_eq!(reg("ewc=1:probes=4:n=10").probes, Probes::Random(4));
        let online = reg("ewc=1:fisher=labels:consolidate=task:gamma=0.9");
        assert_eq!((online.likelihood, online.consolidate), (Likelihood::Labels, Consolidate::Task { gamma: 0.9 }));
        assert_eq!((reg("ewc=1").likelihood, reg("ewc=1").consolidate), (Likelihood::Features, Consolidate::Start));
    }
}
