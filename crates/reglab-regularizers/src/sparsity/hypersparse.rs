//! `hypersparse=λ[:sparsity=0.9][:scope=global|layer]`: the HyperSparse gradient of Adaptive
//! Regularized Training (ART), a penalty that pushes the weights below the pruning threshold to
//! zero and leaves the largest ones almost free.
//!
//! ## Formula (as the official code computes it)
//! Let `w ∈ R^n` be every selected weight, concatenated (by default the weights of all linear and
//! conv layers, as the official `is_prunable_module`), `κ` the target sparsity (`sparsity`), and
//! ```text
//! τ = sort_asc(|w|)[⌊κ·n⌋]          (0-based: the smallest of the n − ⌊κn⌋ kept magnitudes)
//! s = 0.6585 / τ                     (0.6585 ≈ atanh(1/√3): sech² has its inflection at |w| = τ)
//! T = Σ_j tanh(s·|w_j|)              (a soft count of the large weights)
//! A = Σ_j |w_j| / T
//! HS(w) = Σ_i |w_i| · T / sg(T) − Σ_i |w_i|      (sg: stop-gradient; s is also held fixed)
//! ∂HS/∂w_i = sign(w_i) · A · s · sech²(s·|w_i|) = sign(w_i) · A · s · (1 − tanh²(s·|w_i|))
//! ```
//! and the training objective adds `λ_t · HS`. The value `HS(w)` is identically 0 (the two terms
//! cancel; the official code returns that 0 up to rounding): only the gradient acts, so `eval`
//! returns `0` and adds `scale · ∂HS/∂w`. The gradient is not that of any scalar function of `w`
//! (it is `A(w)·∇T(w)` with `A` not a function of `T`): it is checked against finite differences
//! of the frozen surrogate `A₀·Σ tanh(s₀|w|)` (τ, s and A held at their current values).
//!
//! Behaviour: for the small weights `s·|w| ≪ 1`, `sech² ≈ 1` and the push is ≈ `A·s ≳ 1`,
//! like ℓ1 (`sign(w)`); above the threshold it decays smoothly to 0 (`4·A·s·e^{−2s|w|}`), so the
//! top `n − ⌊κn⌋` magnitudes are almost free to move ("exploitation" of the large weights, while
//! the small ones can still grow back: "exploration"). The gradient is invariant under `w → αw`
//! (`s → s/α`, `A → αA`), like ℓ1's `sign(w)`. With `scope=layer`, `τ`, `s` and `A` are computed
//! per tensor instead (a variant, not in the paper).
//!
//! Edge case: if more than `⌊κn⌋` entries are exactly 0 then `τ = 0` and the official code
//! divides by zero (NaN gradients). Here the gradient is then 0, the limit `s → ∞` (`s·sech²(s|w|)
//! → 0` for `w ≠ 0`, and `sign(0) = 0`): the target sparsity is already met.
//!
//! ## Global threshold and the per-tensor interface
//! The official loss ranks all layers together. [`Regularizer::eval`] sees one tensor at a time,
//! so this regularizer says [`Regularizer::couples_targets`] and computes `τ`, `s`, `A` (and the
//! `exp(−2s|w|)` values it reuses for the gradient) over all of the term's targets in
//! [`Regularizer::prepare`], which `RegSet::eval` (training, `reglab penalty`) calls first. The
//! next `eval` of each of those targets (matched by name, buffer and length) uses them. An `eval`
//! on a target that was not prepared (a direct call, the per-regularizer bench) uses the
//! statistics of that tensor alone, i.e. `scope=layer`.
//!
//! ## The schedule (ART)
//! ART multiplies λ by `η = 1.05` once per epoch, `λ_e = λ_init · η^e`, from `λ_init = 5e-6`
//! (official defaults, SGD lr 0.1), until the magnitude-pruned network's training accuracy
//! catches up with the dense one; then it prunes to `κ` and fine-tunes. Here: the common options
//! `schedule=exp:factor=1.05:every=STEPS_PER_EPOCH`, then `--prune magnitude:sparsity=κ:at=E`.
//! The accuracy-based stopping rule is not reproduced (the user picks `E`).
//!
//! Symbols and shapes: `w` the selected tensors flattened in any order (the penalty is
//! elementwise given the global statistics, so the storage layout is irrelevant), `n` their
//! total size, `κ ∈ [0, 1)` the target sparsity, `τ`, `s`, `T`, `A` scalars as above,
//! `λ ≥ 0` the strength (outside). Sums in f64; per entry `e = exp(−2s|w|)` in f32, with
//! `tanh = (1 − e)/(1 + e)` and `sech² = 4e/(1 + e)²`.
//!
//! ## Paper
//! Glandorf, Kaiser, Rosenhahn, "HyperSparse Neural Networks: Shifting Exploration to
//! Exploitation through Adaptive Regularization", ICCV 2023 Workshops (arXiv 2308.07163). Official
//! code: github.com/GreenAutoML4FAS/HyperSparse, `loss/HyperSparse.py` (`hyperSparse`,
//! `grad_HS_loss`), `train.py` (`alpha = lambda_init · eta^(epoch − warmup_epochs)`).

use reglab_core::spec::Options;
use reglab_core::{Error, Mode, Regularizer, Result, Spec, Target, TargetGrad};

/// The official constant, `atanh(1/√3) = 0.658478...` rounded: `s·τ` sits at the inflection point
/// of `sech²`.
pub const INFLECTION: f64 = 0.6585;

/// Where the threshold is ranked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Over all the term's targets together (through [`Regularizer::prepare`]).
    Global,
    /// Each tensor on its own.
    Layer,
}

/// Read `scope=global|layer` (default `global`).
pub(crate) fn read_scope(o: &mut Options<'_>) -> Result<Scope> {
    Ok(match o.choice("scope", &["global", "layer"], "global")?.as_str() {
        "layer" => Scope::Layer,
        _ => Scope::Global,
    })
}

/// Shape and gradient-buffer checks shared by the sparsity regularizers with a ranked threshold.
pub(crate) fn check(t: &Target<'_>, grad: Option<&TargetGrad<'_>>) -> Result<()> {
    let w = &t.weight;
    let shape_err = |why: String| Error::Shape { tensor: t.name.to_string(), why };
    if w.shape.iter().product::<usize>() != w.len() {
        return Err(shape_err(format!("shape {:?} does not match {} values", w.shape, w.len())));
    }
    if let Some(g) = grad
        && g.weight.len() != w.len()
    {
        return Err(shape_err(format!("gradient buffer has {} values, the tensor {}", g.weight.len(), w.len())));
    }
    Ok(())
}

/// The `|w|` of rank `idx` (0-based, ascending) over `parts`, by a linear-time selection on a
/// copy in `scratch`. `idx < Σ len`. A NaN sorts above every number.
pub(crate) fn abs_rank(scratch: &mut Vec<f32>, parts: &[&[f32]], idx: usize) -> f32 {
    scratch.clear();
    for p in parts {
        scratch.extend(p.iter().map(|x| x.abs()));
    }
    *scratch.select_nth_unstable_by(idx, f32::total_cmp).1
}

/// Statistics computed over all targets by `prepare`, used by the `eval` of each target.
#[derive(Debug, Clone)]
pub(crate) struct Pass<T> {
    /// Name, buffer address and length of each prepared target not yet evaluated, with its data.
    pending: Vec<(String, usize, usize, T)>,
}

impl<T> Default for Pass<T> {
    fn default() -> Self {
        Self { pending: Vec::new() }
    }
}

impl<T: Copy> Pass<T> {
    pub(crate) fn clear(&mut self) {
        self.pending.clear();
    }

    pub(crate) fn push(&mut self, t: &Target<'_>, data: T) {
        self.pending.push((t.name.to_string(), t.weight.data.as_ptr() as usize, t.weight.len(), data));
    }

    /// The data prepared for `t`, once: an entry is consumed by the `eval` it was made for.
    pub(crate) fn take(&mut self, t: &Target<'_>) -> Option<T> {
        let key = (t.weight.data.as_ptr() as usize, t.weight.len());
        let i = self.pending.iter().position(|(n, p, l, _)| n == t.name && (*p, *l) == key)?;
        Some(self.pending.swap_remove(i).3)
    }
}

/// `τ`, `s`, `A` and the gradient coefficient `c = A·s` of a set of tensors.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    /// The threshold `τ` (the `⌊κn⌋`-th smallest magnitude, 0-based).
    pub tau: f64,
    /// `s = 0.6585/τ` (`+∞` when `τ = 0`).
    pub s: f64,
    /// `A = Σ|w| / Σ tanh(s|w|)` (0 when `τ = 0`).
    pub a: f64,
    /// `A·s`, the gradient is `sign(w)·c·sech²(s|w|)` (0 when `τ = 0`).
    pub c: f64,
}

/// The statistics of `parts` for sparsity `kappa`, appending `e = exp(−2s|w|)` of every entry
/// (in order) to `exp_out`: `tanh(s|w|) = (1 − e)/(1 + e)` and `sech²(s|w|) = 4e/(1 + e)²`
/// (`expf` is several times faster than `tanhf`, and the `sech²` form keeps its relative
/// precision where `1 − tanh²` would cancel).
fn stats(kappa: f64, scratch: &mut Vec<f32>, parts: &[&[f32]], exp_out: &mut Vec<f32>) -> Stats {
    let n: usize = parts.iter().map(|p| p.len()).sum();
    if n == 0 {
        return Stats { tau: 0.0, s: f64::INFINITY, a: 0.0, c: 0.0 };
    }
    let idx = ((kappa * n as f64).floor() as usize).min(n - 1);
    let tau = abs_rank(scratch, parts, idx) as f64;
    if tau == 0.0 {
        // limit s → ∞: no push on any entry; the cached values are not read with c = 0
        exp_out.resize(exp_out.len() + n, 0.0);
        return Stats { tau, s: f64::INFINITY, a: 0.0, c: 0.0 };
    }
    let s = INFLECTION / tau;
    let m2s = (-2.0 * s) as f32;
    let (mut l1, mut t) = (0.0f64, 0.0f64);
    let start = exp_out.len();
    exp_out.resize(start + n, 0.0);
    let mut out = exp_out[start..].iter_mut();
    for p in parts {
        for (&w, o) in p.iter().zip(out.by_ref()) {
            let a = w.abs();
            let e = (m2s * a).exp();
            *o = e;
            l1 += a as f64;
            t += ((1.0 - e) / (1.0 + e)) as f64;
        }
    }
    let a = l1 / t;
    Stats { tau, s, a, c: a * s }
}

/// HyperSparse (ART). See the module documentation.
#[derive(Debug, Clone)]
pub struct HyperSparse {
    /// Target sparsity `κ ∈ [0, 1)`.
    pub sparsity: f64,
    /// Global (official) or per-tensor threshold.
    pub scope: Scope,
    /// Scratch: magnitudes for the selection of `τ`.
    scratch: Vec<f32>,
    /// `exp(−2s|w|)` of the prepared targets, concatenated in `prepare` order.
    exps: Vec<f32>,
    /// `exp(−2s|w|)` of a target evaluated on its own.
    local: Vec<f32>,
    /// Prepared targets: statistics and offset into `exps`.
    pass: Pass<(Stats, usize)>,
}

impl HyperSparse {
    /// Build from a spec (`hypersparse=λ[:sparsity=0.9][:scope=global|layer]`).
    pub fn from_spec(spec: &Spec) -> Result<Self> {
        let mut o = spec.options();
        let sparsity = o.f64("sparsity", 0.9)?;
        o.ensure((0.0..1.0).contains(&sparsity), format!("sparsity must be in [0, 1), got {sparsity}"))?;
        let scope = read_scope(&mut o)?;
        o.finish()?;
        Ok(Self { sparsity, scope, scratch: Vec::new(), exps: Vec::new(), local: Vec::new(), pass: Pass::default() })
    }

    /// The statistics `τ`, `s`, `A` of a set of tensors (all of them ranked together).
    pub fn stats_of(&mut self, parts: &[&[f32]]) -> Stats {
        self.local.clear();
        stats(self.sparsity, &mut self.scratch, parts, &mut self.local)
    }
}

/// `sign(w)` with `sign(0) = 0` (as `torch.sign`; NaN stays NaN).
#[inline]
fn sign0(w: f32) -> f32 {
    if w == 0.0 { 0.0 } else { w.signum() }
}

impl Regularizer for HyperSparse {
    fn name(&self) -> &'static str {
        "hypersparse"
    }

    fn couples_targets(&self) -> bool {
        self.scope == Scope::Global
    }

    fn prepare(&mut self, targets: &[&Target<'_>]) -> Result<()> {
        self.pass.clear();
        self.exps.clear();
        for t in targets {
            check(t, None)?;
        }
        let parts: Vec<&[f32]> = targets.iter().map(|t| t.weight.data).collect();
        let st = stats(self.sparsity, &mut self.scratch, &parts, &mut self.exps);
        let mut offset = 0;
        for t in targets {
            self.pass.push(t, (st, offset));
            offset += t.weight.len();
        }
        Ok(())
    }

    fn eval(&mut self, t: &Target<'_>, grad: Option<&mut TargetGrad<'_>>, scale: f32, _mode: Mode) -> Result<f64> {
        check(t, grad.as_deref())?;
        let prepared = self.pass.take(t);
        let Some(g) = grad else {
            return Ok(0.0);
        };
        let w = t.weight.data;
        let (st, exps) = match prepared {
            Some((st, off)) => (st, &self.exps[off..off + w.len()]),
            None => {
                self.local.clear();
                let st = stats(self.sparsity, &mut self.scratch, &[w], &mut self.local);
                (st, &self.local[..])
            }
        };
        // sign(w)·c·sech²(s|w|) with sech² = 4e/(1 + e)²
        let c4 = (4.0 * st.c * scale as f64) as f32;
        if c4 == 0.0 {
            return Ok(0.0);
        }
        for ((gi, &wi), &e) in g.weight.iter_mut().zip(w).zip(exps) {
            let d = 1.0 + e;
            *gi += sign0(wi) * c4 * e / (d * d);
        }
        Ok(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reglab_core::testing::{Case, random_vec, rel, transpose};
    use reglab_core::{Selection, Term};

    fn reg(opts: &str) -> HyperSparse {
        HyperSparse::from_spec(&Spec::parse(&format!("hypersparse=1{opts}")).unwrap()).unwrap()
    }

    /// Independent f64 reference: (τ, s, A) by a full sort, and the gradient of every entry.
    fn reference(kappa: f64, w: &[f64]) -> (f64, f64, f64, Vec<f64>) {
        let mut a: Vec<f64> = w.iter().map(|x| x.abs()).collect();
        a.sort_by(f64::total_cmp);
        let tau = a[(kappa * w.len() as f64).floor() as usize];
        let s = INFLECTION / tau;
        let l1: f64 = w.iter().map(|x| x.abs()).sum();
        let t: f64 = w.iter().map(|x| (s * x.abs()).tanh()).sum();
        let big_a = l1 / t;
        let g = w.iter().map(|&x| x.signum() * big_a * s / (s * x.abs()).cosh().powi(2)).collect();
        (tau, s, big_a, g)
    }

    /// Weights with distinct magnitudes, at least `gap` apart and away from 0.
    fn spread(n: usize, seed: u64, gap: f32) -> Vec<f32> {
        let r = random_vec(n, 1.0, seed);
        let mut idx: Vec<usize> = (0..n).collect();
        idx.sort_by(|&i, &j| r[i].total_cmp(&r[j]));
        let mut w = vec![0.0; n];
        for (rank, &i) in idx.iter().enumerate() {
            w[i] = (0.05 + gap * rank as f32).copysign(r[(i + 1) % n]);
        }
        w
    }

    // Fixture: official code, GreenAutoML4FAS/HyperSparse @ beff812 (loss/HyperSparse.py), run
    // by hand with torch 2 (CPU, f32) on two bias-free nn.Linear layers with weights A [3, 4] and
    // B [2, 3] (PyTorch [out, in]); both `hyperSparse` (autograd of the loss) and `grad_HS_loss`
    // give these gradients to ≤ 3e-7; the loss value printed was 7.5e-9 (rounding of 0).
    const A: [f32; 12] = [0.31, -0.12, 0.05, -0.47, 0.22, 0.018, -0.36, 0.09, -0.27, 0.41, -0.033, 0.15];
    const B: [f32; 6] = [-0.08, 0.52, -0.19, 0.26, -0.011, 0.38];
    /// Global (A and B ranked together), prune_rate 0.5: A's gradient, then B's.
    const G_GLOBAL_05: [f64; 18] = [
        6.139302254e-01,
        -1.156942844e+00,
        1.283763051e+00,
        -2.803535759e-01,
        8.751332760e-01,
        1.308928728e+00,
        -4.887053668e-01,
        1.221894383e+00,
        -7.259532213e-01,
        3.825682104e-01,
        -1.300007105e+00,
        1.079997778e+00,
        -1.240248442e+00,
        2.140541673e-01,
        -9.653635621e-01,
        7.552182078e-01,
        -1.311310053e+00,
        4.439042509e-01,
    ];
    /// Global, prune_rate 0.9.
    const G_GLOBAL_09: [f64; 18] = [
        8.989409208e-01,
        -1.049507260e+00,
        1.074174047e+00,
        -7.196187377e-01,
        9.830600023e-01,
        1.078767896e+00,
        -8.454895616e-01,
        1.062471151e+00,
        -9.386078119e-01,
        7.891286016e-01,
        -1.077149868e+00,
        1.033147454e+00,
        -1.066005707e+00,
        6.615898013e-01,
        -1.006434083e+00,
        9.479942322e-01,
        -1.079198003e+00,
        8.232132792e-01,
    ];
    /// A alone (a model with the one layer), prune_rate 0.5, then B alone, prune_rate 0.5.
    const G_LAYER_05: [f64; 18] = [
        6.009392738e-01,
        -1.132461667e+00,
        1.256598234e+00,
        -2.744212151e-01,
        8.566152453e-01,
        1.281231403e+00,
        -4.783642292e-01,
        1.196038723e+00,
        -7.105918527e-01,
        3.744729459e-01,
        -1.272498608e+00,
        1.057144761e+00,
        -1.223514080e+00,
        3.185853362e-01,
        -1.019547701e+00,
        8.496021628e-01,
        -1.273445725e+00,
        5.664158463e-01,
    ];

    fn cases() -> (Case, Case) {
        let a = Case { weight: A.to_vec(), ..Case::random("l0.weight", &[3, 4], 0) };
        let b = Case { weight: B.to_vec(), ..Case::random("l1.weight", &[2, 3], 0) };
        (a, b)
    }

    /// Gradients of A and B through a RegSet (prepare, then eval per target), at scale λ = 1.
    fn through_regset(spec: &str, a: &Case, b: &Case) -> (f64, Vec<f32>, Vec<f32>) {
        let spec = Spec::parse(spec).unwrap();
        let term = Term::new(spec.clone(), Box::new(HyperSparse::from_spec(&spec).unwrap())).unwrap();
        let mut set = reglab_core::RegSet::new(vec![term], Selection::LayerWeights);
        let (mut ga, mut gb) = (vec![0.0f32; a.weight.len()], vec![0.0f32; b.weight.len()]);
        let targets = [a.target(), b.target()];
        let ev = {
            let mut grads = [TargetGrad { weight: &mut ga, bias: None }, TargetGrad { weight: &mut gb, bias: None }];
            set.eval(&targets, Some(&mut grads), 0, 1, Mode::Step, false).unwrap()
        };
        (ev.total(), ga, gb)
    }

    fn assert_close(got: &[f32], want: &[f64], tol: f64, what: &str) {
        assert_eq!(got.len(), want.len(), "{what}");
        for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
            assert!((g as f64 - w).abs() <= tol * w.abs().max(1.0), "{what} [{i}]: {g} vs {w}");
        }
    }

    #[test]
    fn matches_the_official_code_globally_and_per_layer() {
        let (a, b) = cases();
        for (spec, want) in [("hypersparse=1:sparsity=0.5", G_GLOBAL_05), ("hypersparse=1:sparsity=0.9", G_GLOBAL_09)] {
            let (v, ga, gb) = through_regset(spec, &a, &b);
            assert_eq!(v, 0.0);
            assert_close(&ga, &want[..12], 2e-6, spec);
            assert_close(&gb, &want[12..], 2e-6, spec);
            // same numbers with burn's Linear storage [in, out] (elementwise: layout-free)
            let (_, ga_t, gb_t) = through_regset(spec, &a.transposed(), &b.transposed());
            let wide = |g: &[f32], r: usize, c: usize| -> Vec<f64> { transpose(g, r, c).iter().map(|&x| x as f64).collect() };
            assert_close(&ga_t, &wide(&ga, 3, 4), 1e-6, "A transposed");
            assert_close(&gb_t, &wide(&gb, 2, 3), 1e-6, "B transposed");
        }
        // per layer: scope=layer through the set, and a direct eval of one unprepared target
        let (_, ga, gb) = through_regset("hypersparse=1:sparsity=0.5:scope=layer", &a, &b);
        assert_close(&ga, &G_LAYER_05[..12], 2e-6, "layer A");
        assert_close(&gb, &G_LAYER_05[12..], 2e-6, "layer B");
        let (v, g, _) = a.value_and_grad(&mut reg(":sparsity=0.5"));
        assert_eq!(v, 0.0);
        assert_close(&g, &G_LAYER_05[..12], 2e-6, "direct A");
        // global and per-layer do differ on this input (the fixtures can tell them apart)
        assert!((G_GLOBAL_05[0] - G_LAYER_05[0]).abs() > 1e-2);
    }

    #[test]
    fn gradient_matches_an_independent_f64_reference() {
        for (shape, kappa, seed) in [(vec![7usize, 5], 0.9, 1u64), (vec![4, 3, 2, 2], 0.5, 2), (vec![1, 9], 0.0, 3), (vec![30], 0.99, 4)] {
            let c = Case::random("x.weight", &shape, seed);
            let w: Vec<f64> = c.weight.iter().map(|&x| x as f64).collect();
            let (tau, s, big_a, want) = reference(kappa, &w);
            let mut r = reg(&format!(":sparsity={kappa}"));
            let st = r.stats_of(&[&c.weight]);
            assert!(rel(st.tau, tau) < 1e-7 && rel(st.s, s) < 1e-7 && rel(st.a, big_a) < 1e-5, "{st:?} vs {tau} {s} {big_a}");
            let (_, g, _) = c.value_and_grad(&mut r);
            assert_close(&g, &want, 1e-5, &format!("{shape:?}"));
        }
    }

    /// Central differences of the frozen surrogate `A₀·Σ tanh(s₀|w|)` (f64), entry by entry.
    fn frozen_fd(w: &[f64], s0: f64, a0: f64, h: f64) -> Vec<f64> {
        let phi = |v: &[f64]| a0 * v.iter().map(|x| (s0 * x.abs()).tanh()).sum::<f64>();
        (0..w.len())
            .map(|i| {
                let (mut p, mut m) = (w.to_vec(), w.to_vec());
                p[i] += h;
                m[i] -= h;
                (phi(&p) - phi(&m)) / (2.0 * h)
            })
            .collect()
    }

    #[test]
    fn gradient_is_the_finite_difference_of_the_frozen_surrogate() {
        // entries away from 0 (the kink of |w|) by more than h; τ, s, A held (the stop-gradients)
        for (case, kappa) in [
            (Case { weight: spread(35, 5, 0.01), ..Case::random("a.weight", &[7, 5], 0) }, 0.9),
            (Case { weight: spread(35, 6, 0.01), ..Case::random("a.weight", &[7, 5], 0) }.transposed(), 0.6),
            (Case { weight: spread(48, 7, 0.02), ..Case::random("conv.weight", &[4, 3, 2, 2], 0) }, 0.75),
        ] {
            let mut r = reg(&format!(":sparsity={kappa}"));
            let st = r.stats_of(&[&case.weight]);
            let w: Vec<f64> = case.weight.iter().map(|&x| x as f64).collect();
            let fd = frozen_fd(&w, st.s, st.a, 1e-5);
            let (_, g, _) = case.value_and_grad(&mut r);
            let err = fd.iter().zip(&g).map(|(a, &b)| (a - b as f64).powi(2)).sum::<f64>().sqrt();
            let norm = fd.iter().map(|a| a * a).sum::<f64>().sqrt();
            assert!(err / norm < 1e-5, "{:?} {:?}: {}", case.shape, case.layout, err / norm);
        }
    }

    #[test]
    fn global_statistics_couple_the_tensors() {
        // a small tensor (|w| in [0.05, 0.24]) and a large one (×100): globally τ is the smallest
        // large magnitude, so every small entry is far below it and gets the same ℓ1-like push;
        // per layer the small tensor's own top half is protected
        let small = Case { weight: spread(20, 8, 0.01), ..Case::random("s.weight", &[4, 5], 0) };
        let mut large = Case { weight: spread(20, 9, 0.01), ..Case::random("l.weight", &[4, 5], 0) };
        large.weight.iter_mut().for_each(|x| *x *= 100.0);
        let spread_of_push = |g: &[f32], w: &[f32]| {
            let p: Vec<f32> = g.iter().zip(w).map(|(g, w)| g * w.signum()).collect();
            let (lo, hi) = p.iter().fold((f32::MAX, 0.0f32), |(lo, hi), &x| (lo.min(x), hi.max(x)));
            lo / hi
        };
        let (_, gs, gl) = through_regset("hypersparse=1:sparsity=0.5", &small, &large);
        assert!(spread_of_push(&gs, &small.weight) > 0.99, "{}", spread_of_push(&gs, &small.weight));
        let (_, ls, _) = through_regset("hypersparse=1:sparsity=0.5:scope=layer", &small, &large);
        assert!(spread_of_push(&ls, &small.weight) < 0.75, "{}", spread_of_push(&ls, &small.weight));
        // the global numbers equal the reference on the concatenation
        let w: Vec<f64> = small.weight.iter().chain(&large.weight).map(|&x| x as f64).collect();
        let (_, _, _, want) = reference(0.5, &w);
        assert_close(&[gs, gl].concat(), &want, 1e-5, "concat");
    }

    #[test]
    fn invariants_scale_sign_and_shape_of_the_push() {
        let c = Case { weight: spread(40, 10, 0.01), ..Case::random("fc.weight", &[8, 5], 0) };
        let (_, g, _) = c.value_and_grad(&mut reg(""));
        // the push opposes the sign (descent shrinks |w|) and is smaller for larger |w|
        let mut pairs: Vec<(f32, f32)> = c.weight.iter().zip(&g).map(|(&w, &gi)| (w.abs(), gi * w.signum())).collect();
        assert!(pairs.iter().all(|&(_, p)| p > 0.0));
        pairs.sort_by(|x, y| x.0.total_cmp(&y.0));
        assert!(pairs.windows(2).all(|p| p[1].1 < p[0].1), "{pairs:?}");
        // c = A·s ≥ 1 (tanh x ≤ x): the smallest weights get at least about the ℓ1 rate; from
        // τ up the push is at most sech²(0.6585) = 2/3 of c
        let st = reg("").stats_of(&[&c.weight]);
        assert!(st.c >= 1.0 && pairs[0].1 as f64 > 0.98 * st.c, "{st:?} {pairs:?}");
        for &(a, p) in &pairs {
            if a as f64 >= st.tau {
                assert!((p as f64) <= st.c * (2.0 / 3.0) * (1.0 + 1e-4), "{a} {p} {st:?}");
            }
        }
        // scale invariance: g(αw) = g(w) (α a power of two: exact in f32 up to tanh rounding)
        for alpha in [0.25f32, 8.0] {
            let s = Case { weight: c.weight.iter().map(|x| alpha * x).collect(), ..c.clone() };
            let (_, gs, _) = s.value_and_grad(&mut reg(""));
            let want: Vec<f64> = g.iter().map(|&x| x as f64).collect();
            assert_close(&gs, &want, 1e-5, "scaled");
        }
        // odd: g(−w) = −g(w)
        let n = Case { weight: c.weight.iter().map(|x| -x).collect(), ..c.clone() };
        let (_, gn, _) = n.value_and_grad(&mut reg(""));
        assert!(gn.iter().zip(&g).all(|(a, b)| *a == -*b));
    }

    #[test]
    fn no_push_once_the_target_sparsity_is_met() {
        // 10 entries, κ = 0.8 → τ = sorted[8]: with 9 zeros (at most one non-zero) τ = 0
        let mut c = Case { weight: vec![0.0; 10], ..Case::random("fc.weight", &[2, 5], 0) };
        c.weight[3] = -0.7;
        let (v, g, _) = c.value_and_grad(&mut reg(":sparsity=0.8"));
        assert_eq!(v, 0.0);
        assert!(g.iter().all(|&x| x == 0.0), "{g:?}");
        // all zeros, and an empty tensor: nothing, no NaN
        let z = Case { weight: vec![0.0; 6], ..Case::random("fc.weight", &[2, 3], 0) };
        assert!(z.value_and_grad(&mut reg("")).1.iter().all(|&x| x == 0.0));
        let e = Case { weight: vec![], ..Case::random("e.weight", &[0, 3], 0) };
        assert_eq!(e.value_and_grad(&mut reg("")).0, 0.0);
        // two non-zeros with κ = 0.8: τ = the smaller one, both pushed, zeros not
        c.weight[7] = 0.2;
        let (_, g, _) = c.value_and_grad(&mut reg(":sparsity=0.8"));
        assert!(g[3] < 0.0 && g[7] > 0.0 && g.iter().enumerate().all(|(i, &x)| i == 3 || i == 7 || x == 0.0));
    }

    #[test]
    fn gradient_is_added_scaled_and_value_only_calls_are_free() {
        let c = Case::random("fc.weight", &[3, 4], 11);
        let (_, g1, _) = c.value_and_grad(&mut reg(""));
        let mut gw = vec![1.0f32; 12];
        let mut tg = TargetGrad { weight: &mut gw, bias: None };
        assert_eq!(reg("").eval(&c.target(), Some(&mut tg), 0.5, Mode::Step).unwrap(), 0.0);
        for (a, b) in gw.iter().zip(&g1) {
            assert!((a - (1.0 + 0.5 * b)).abs() < 1e-6);
        }
        assert_eq!(reg("").eval(&c.target(), None, 1.0, Mode::Exact).unwrap(), 0.0);
    }

    #[test]
    fn a_prepared_entry_serves_one_eval_only() {
        // prepared globally with a second tensor, then evaluated twice: the second eval falls
        // back to the tensor's own statistics (no stale global numbers)
        let (a, b) = cases();
        let mut r = reg(":sparsity=0.5");
        r.prepare(&[&a.target(), &b.target()]).unwrap();
        let (_, g_first, _) = a.value_and_grad(&mut r);
        let (_, g_second, _) = a.value_and_grad(&mut r);
        assert_close(&g_first, &G_GLOBAL_05[..12], 2e-6, "prepared");
        assert_close(&g_second, &G_LAYER_05[..12], 2e-6, "fallback");
        // a copy of A's values in another buffer is not A
        r.prepare(&[&a.target(), &b.target()]).unwrap();
        let copy = a.clone();
        let (_, g_copy, _) = copy.value_and_grad(&mut r);
        assert_close(&g_copy, &G_LAYER_05[..12], 2e-6, "other buffer");
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let mut r = reg("");
        let c = Case::random("fc.weight", &[3, 4], 12);
        let mut gw = vec![0.0; 11];
        let mut g = TargetGrad { weight: &mut gw, bias: None };
        assert!(matches!(r.eval(&c.target(), Some(&mut g), 1.0, Mode::Step), Err(Error::Shape { .. })));
        let bad = Case { weight: vec![0.1; 5], ..c.clone() };
        assert!(matches!(r.eval(&bad.target(), None, 1.0, Mode::Step), Err(Error::Shape { .. })));
        assert!(matches!(r.prepare(&[&c.target(), &bad.target()]), Err(Error::Shape { .. })));
        // NaN weights give NaN gradients (a diverged run shows), no panic
        let mut n = c.clone();
        n.weight[2] = f32::NAN;
        let _ = n.value_and_grad(&mut r);
        for bad in ["sparsity=1", "sparsity=-0.1", "sparsity=x", "scope=row", "k=2"] {
            let e = HyperSparse::from_spec(&Spec::parse(&format!("hypersparse=1:{bad}")).unwrap());
            assert!(matches!(e, Err(Error::Spec { .. })), "{bad}");
        }
        let ok = HyperSparse::from_spec(&Spec::parse("hypersparse=1").unwrap()).unwrap();
        assert_eq!((ok.sparsity, ok.scope), (0.9, Scope::Global));
        assert!(ok.couples_targets() && !reg(":scope=layer").couples_targets());
    }
}
