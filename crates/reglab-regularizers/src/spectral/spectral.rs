//! `spectral=λ[:k=2]`: keeps each layer's largest singular value near one, `(σ_max(W̃)^k − 1)²`.
//!
//! ## Formula
//! For one layer,
//!
//! ```text
//! r(W, b) = (σ_max(W̃)^k − 1)²,        W̃ = [W | b]  (with a bias),   W̃ = W  (without)
//! ∇_W̃ r  = 2k (σ^k − 1) σ^(k−1) · u vᵀ
//! ```
//!
//! and the training objective adds `λ · Σ_layers r`. `∇_W` is the first `in` columns of
//! `∇_W̃`, and the bias gradient is its last column, `2k (σ^k − 1) σ^(k−1) · u · v_last`.
//!
//! Symbols and shapes:
//! - `W ∈ R^{out×in}`: the layer weight in PyTorch layout; a convolution kernel
//!   `[out, in, kh, kw]` is read as `[out, in·kh·kw]`. Stored either row-major or transposed
//!   (burn's `Linear`, `[in, out]`); gradients are written in the storage layout of `W`.
//! - `b ∈ R^{out}`: the layer bias, joined as an extra column ([`Regularizer::joins_bias`]);
//!   when the target has no bias, `W̃ = W`.
//! - `W̃ ∈ R^{out×(in+1)}` (or `R^{out×in}`), `σ = σ_max(W̃)` its largest singular value, and
//!   `u ∈ R^{out}`, `v ∈ R^{in(+1)}` the unit singular vectors with `W̃ v = σ u`.
//! - `k ≥ 1` (option `k`, default 2): the exponent; `λ ≥ 0`: the strength (outside `r`).
//!
//! `r = 0` exactly when `σ_max(W̃) = 1`; only the top singular value is pushed, the rest of the
//! spectrum is free. At `σ = 0` the formula gives `∇ = −2·u vᵀ` for `k = 1` (a subgradient of
//! the non-smooth `|σ|`) and `0` for `k > 1`.
//!
//! ## σ_max by power iteration
//! Unit vectors `u`, `v` are kept per tensor name across calls, started from
//! [`seeded_unit_vector`]`(n, name)`. One iteration is
//!
//! ```text
//! v ← W̃ᵀu / ‖W̃ᵀu‖,   u ← W̃v / ‖W̃v‖,   σ = ‖W̃v‖ (= uᵀ W̃ v with the new u)
//! ```
//!
//! so the estimate `σ` is both the norm of the last mat-vec and the bilinear form `uᵀW̃v` (as in
//! PyTorch's `spectral_norm`); it never overestimates `σ_max`.
//! - [`Mode::Step`] (training): one iteration per call, in f32, on the stored vectors, which it
//!   updates; then value and gradient from that `σ, u, v` (the gradient is `u vᵀ` times the
//!   factor above, the usual one-step approximation of `∂σ/∂W̃`). Cost: two mat-vecs and a
//!   rank-one update, no allocation after a tensor's first call. `W̃` is never formed: the bias
//!   term is added beside the mat-vec on `W`. Every call advances the iteration, with or without
//!   a gradient buffer.
//! - [`Mode::Exact`] (reports, `reglab penalty`, tests): the same iteration in f64 until the
//!   relative change of `σ` is below `1e-12` and, when a gradient is asked for, the change of
//!   `v` below `1e-12` (at most 100 000 iterations; the vectors converge as `(σ₂/σ₁)²` per
//!   iteration, σ twice as fast, so values alone are cheap), started from the
//!   stored `u` when there is one, else from the seeded vector. It does not change the stored
//!   vectors, so evaluating a report in the middle of training leaves training untouched.
//!
//! Degenerate cases: when a mat-vec is zero the previous unit vector is kept (and `σ = 0`);
//! when it is not finite (NaN or ∞ in `W̃`), the stored vectors are left as they were, the
//! non-finite value is returned and no gradient is added.
//!
//! ## Saved state
//! [`Regularizer::state`] returns, per tensor, `<tensor>/u` (`[out]`) and `<tensor>/v`
//! (`[in]`, or `[in+1]` with a bias); [`Regularizer::load_state`] replaces the stored vectors
//! with them, so a resumed run continues bit-identically.
//!
//! ## Paper
//! Lewandowski, Bortkiewicz, Kumar, György, Schuurmans, Ostaszewski, Machado, "Learning
//! Continually by Spectral Regularization", ICLR 2025 (arXiv 2406.06811). No official code was
//! found: the bias-as-extra-column, the default `k = 2` and the one power-iteration step per
//! update follow the paper's text and published summaries; the exact constants are
//! reconstructed, not checked against a reference implementation.

use reglab_core::linalg::{axpy, dot, matvec, matvec_f64, norm, seeded_unit_vector};
use reglab_core::{Error, MatRef, Mode, NamedTensor, Regularizer, Result, Spec, Target, TargetGrad, TensorRef};
use std::collections::HashMap;

/// Stop Exact mode when the relative change of σ is below this...
const EXACT_TOL: f64 = 1e-12;
/// ...and, when a gradient is asked for, the change of the unit vector `v` is below this (a
/// value needs σ only, which converges twice as fast). The vectors converge more slowly
/// than σ (by the factor `(σ₂/σ₁)²` per iteration), and the gradient `u vᵀ` needs them: a
/// criterion on σ alone left gradients accurate to only ~5e-5 when σ₂/σ₁ ≈ 0.98 (found by
/// `bench/compare/check_penalty.py` against PyTorch's SVD).
const EXACT_VEC_TOL: f64 = 1e-12;
/// At most this many iterations in Exact mode.
const EXACT_MAX_ITER: usize = 100_000;

/// Spectral regularization `(σ_max([W | b])^k − 1)²`. See the module documentation.
#[derive(Debug, Clone)]
pub struct Spectral {
    k: f64,
    states: HashMap<String, Power>,
}

/// Persistent power-iteration vectors of one tensor, with scratch of the same sizes.
#[derive(Debug, Clone)]
struct Power {
    /// Left singular vector estimate, `[out]`.
    u: Vec<f32>,
    /// Right singular vector estimate, `[in]` or `[in+1]`.
    v: Vec<f32>,
    /// Scratch for the next `u`.
    tu: Vec<f32>,
    /// Scratch for the next `v`.
    tv: Vec<f32>,
}

impl Power {
    fn new(u: Vec<f32>, v: Vec<f32>) -> Self {
        let (tu, tv) = (vec![0.0; u.len()], vec![0.0; v.len()]);
        Self { u, v, tu, tv }
    }
}

/// `W̃ = [W | b]` without copying: the bias is handled beside the mat-vecs on `W`.
#[derive(Clone, Copy)]
struct Augmented<'a> {
    w: MatRef<'a>,
    b: Option<&'a [f32]>,
}

impl Augmented<'_> {
    fn rows(&self) -> usize {
        self.w.rows
    }

    fn cols(&self) -> usize {
        self.w.cols + usize::from(self.b.is_some())
    }

    /// `y = W̃ x`.
    fn apply(&self, x: &[f32], y: &mut [f32]) {
        let n = self.w.cols;
        matvec(self.w, &x[..n], y);
        if let Some(b) = self.b {
            axpy(x[n], b, y);
        }
    }

    /// `x = W̃ᵀ y`.
    fn apply_t(&self, y: &[f32], x: &mut [f32]) {
        let n = self.w.cols;
        matvec(self.w.t(), y, &mut x[..n]);
        if let Some(b) = self.b {
            x[n] = dot(b, y);
        }
    }

    /// `y = W̃ x` in f64.
    fn apply_f64(&self, x: &[f64], y: &mut [f64]) {
        let n = self.w.cols;
        matvec_f64(self.w, &x[..n], y);
        if let Some(b) = self.b {
            for (yi, &bi) in y.iter_mut().zip(b) {
                *yi += bi as f64 * x[n];
            }
        }
    }

    /// `x = W̃ᵀ y` in f64.
    fn apply_t_f64(&self, y: &[f64], x: &mut [f64]) {
        let n = self.w.cols;
        matvec_f64(self.w.t(), y, &mut x[..n]);
        if let Some(b) = self.b {
            x[n] = b.iter().zip(y).map(|(&bi, &yi)| bi as f64 * yi).sum();
        }
    }
}

/// One power iteration in f32 on `st` (see the module documentation); returns σ.
fn step(a: &Augmented<'_>, st: &mut Power) -> f64 {
    let Power { u, v, tu, tv } = st;
    a.apply_t(u, tv);
    let nv = norm(tv);
    if nv > 0.0 && nv.is_finite() {
        let inv = (1.0 / nv) as f32;
        tv.iter_mut().for_each(|x| *x *= inv);
        std::mem::swap(v, tv);
    } else if !nv.is_finite() {
        return nv;
    }
    a.apply(v, tu);
    let s = norm(tu);
    if s > 0.0 && s.is_finite() {
        let inv = (1.0 / s) as f32;
        tu.iter_mut().for_each(|x| *x *= inv);
        std::mem::swap(u, tu);
    }
    s
}

/// Power iteration in f64 to convergence from `u0`; returns `(σ, u, v)`.
fn converge(a: &Augmented<'_>, u0: &[f32], v0: &[f32], vectors: bool) -> (f64, Vec<f64>, Vec<f64>) {
    let mut u: Vec<f64> = u0.iter().map(|&x| x as f64).collect();
    let mut v: Vec<f64> = v0.iter().map(|&x| x as f64).collect();
    let (mut tu, mut tv) = (vec![0.0f64; u.len()], vec![0.0f64; v.len()]);
    let norm64 = |x: &[f64]| x.iter().map(|a| a * a).sum::<f64>().sqrt();
    let mut sigma = 0.0f64;
    for _ in 0..EXACT_MAX_ITER {
        a.apply_t_f64(&u, &mut tv);
        let nv = norm64(&tv);
        if !nv.is_finite() {
            return (nv, u, v);
        }
        let mut dv = 0.0f64;
        if nv > 0.0 {
            tv.iter_mut().for_each(|x| *x /= nv);
            dv = tv.iter().zip(&v).map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt();
            std::mem::swap(&mut v, &mut tv);
        }
        a.apply_f64(&v, &mut tu);
        let s = norm64(&tu);
        if !s.is_finite() {
            return (s, u, v);
        }
        if s == 0.0 {
            return (0.0, u, v);
        }
        tu.iter_mut().for_each(|x| *x /= s);
        std::mem::swap(&mut u, &mut tu);
        let done = (s - sigma).abs() <= EXACT_TOL * s && (!vectors || dv <= EXACT_VEC_TOL);
        sigma = s;
        if done {
            break;
        }
    }
    (sigma, u, v)
}

/// `g += α u vᵀ` restricted to the first `w.cols` entries of `v`, in the storage of `w`.
fn add_rank_one(g: &mut [f32], w: &MatRef<'_>, alpha: f32, u: &[f32], v: &[f32]) {
    let (rows, cols) = (w.rows, w.cols);
    if w.cs == 1 {
        for (r, &ur) in u.iter().enumerate() {
            let o = r * w.rs;
            axpy(alpha * ur, &v[..cols], &mut g[o..o + cols]);
        }
    } else if w.rs == 1 {
        for (c, &vc) in v[..cols].iter().enumerate() {
            let o = c * w.cs;
            axpy(alpha * vc, u, &mut g[o..o + rows]);
        }
    } else {
        for (r, &ur) in u.iter().enumerate() {
            for (c, &vc) in v[..cols].iter().enumerate() {
                g[r * w.rs + c * w.cs] += alpha * ur * vc;
            }
        }
    }
}

/// `∇_W += α u v[..in]ᵀ` and, with a bias and a buffer for it, `∇_b += α v_last u`.
fn add_grad(g: &mut TargetGrad<'_>, a: &Augmented<'_>, alpha: f32, u: &[f32], v: &[f32]) {
    add_rank_one(g.weight, &a.w, alpha, u, v);
    if let (Some(gb), Some(_)) = (g.bias.as_deref_mut(), a.b) {
        axpy(alpha * v[a.w.cols], u, gb);
    }
}

/// `(r, ∂r/∂σ) = ((σ^k − 1)², 2k (σ^k − 1) σ^(k−1))`.
fn value_and_slope(k: f64, sigma: f64) -> (f64, f64) {
    let d = sigma.powf(k) - 1.0;
    (d * d, 2.0 * k * d * sigma.powf(k - 1.0))
}

/// Check that `t` is a usable matrix (and bias); returns the `[W | b]` view.
fn augmented<'a>(t: &Target<'a>) -> Result<Augmented<'a>> {
    let shape_err = |why: String| Error::Shape { tensor: t.name.to_string(), why };
    let wt = &t.weight;
    if !wt.is_matrix() {
        return Err(shape_err(format!("spectral needs a matrix, got shape {:?}", wt.shape)));
    }
    if wt.shape.iter().product::<usize>() != wt.len() {
        return Err(shape_err(format!("shape {:?} does not match {} values", wt.shape, wt.len())));
    }
    let w = wt.matrix();
    if w.rows == 0 || w.cols == 0 {
        return Err(shape_err(format!("spectral needs a non-empty matrix, got shape {:?}", wt.shape)));
    }
    let b = match &t.bias {
        None => None,
        Some(TensorRef { data, .. }) if data.len() == w.rows => Some(*data),
        Some(b) => {
            return Err(shape_err(format!("bias has {} values, the matrix has {} rows", b.len(), w.rows)));
        }
    };
    Ok(Augmented { w, b })
}

impl Spectral {
    /// Build from a spec: `spectral=λ[:k=2]`, `k` real, `k ≥ 1`.
    pub fn from_spec(spec: &Spec) -> Result<Self> {
        let mut o = spec.options();
        let k = o.f64("k", 2.0)?;
        o.ensure(k >= 1.0, format!("option `k` must be at least 1, got {k}"))?;
        o.finish()?;
        Ok(Self::new(k))
    }

    /// With exponent `k ≥ 1` (not checked here; [`Spectral::from_spec`] checks it).
    pub fn new(k: f64) -> Self {
        Self { k, states: HashMap::new() }
    }

    /// The stored vectors of `name`, after checking they fit `a`.
    fn stored(&self, name: &str, a: &Augmented<'_>) -> Result<Option<&Power>> {
        match self.states.get(name) {
            None => Ok(None),
            Some(p) if p.u.len() == a.rows() && p.v.len() == a.cols() => Ok(Some(p)),
            Some(p) => Err(Error::State(format!(
                "spectral: stored vectors of `{name}` have lengths u={}, v={}, but [W | b] is {}×{}",
                p.u.len(),
                p.v.len(),
                a.rows(),
                a.cols()
            ))),
        }
    }
}

impl Regularizer for Spectral {
    fn name(&self) -> &'static str {
        "spectral"
    }

    fn accepts(&self, tensor: &TensorRef<'_>) -> bool {
        tensor.is_matrix()
    }

    fn joins_bias(&self) -> bool {
        true
    }

    fn eval(&mut self, t: &Target<'_>, grad: Option<&mut TargetGrad<'_>>, scale: f32, mode: Mode) -> Result<f64> {
        let a = augmented(t)?;
        if let Some(g) = grad.as_deref() {
            if g.weight.len() != t.weight.len() {
                return Err(Error::Shape {
                    tensor: t.name.to_string(),
                    why: format!("gradient buffer has {} values, the weight {}", g.weight.len(), t.weight.len()),
                });
            }
            if let (Some(gb), Some(b)) = (g.bias.as_deref(), a.b)
                && gb.len() != b.len()
            {
                return Err(Error::Shape {
                    tensor: t.name.to_string(),
                    why: format!("bias gradient buffer has {} values, the bias {}", gb.len(), b.len()),
                });
            }
        }
        match mode {
            Mode::Step => {
                if self.stored(t.name, &a)?.is_none() {
                    let p = Power::new(seeded_unit_vector(a.rows(), t.name), seeded_unit_vector(a.cols(), t.name));
                    self.states.insert(t.name.to_string(), p);
                }
                let k = self.k;
                let Some(st) = self.states.get_mut(t.name) else {
                    return Err(Error::State(format!("spectral: no vectors for `{}`", t.name)));
                };
                let (r, slope) = value_and_slope(k, step(&a, st));
                if let Some(g) = grad
                    && slope.is_finite()
                {
                    add_grad(g, &a, (scale as f64 * slope) as f32, &st.u, &st.v);
                }
                Ok(r)
            }
            Mode::Exact => {
                let (u0, v0) = match self.stored(t.name, &a)? {
                    Some(p) => (p.u.clone(), p.v.clone()),
                    None => (seeded_unit_vector(a.rows(), t.name), seeded_unit_vector(a.cols(), t.name)),
                };
                let (sigma, u, v) = converge(&a, &u0, &v0, grad.is_some());
                let (r, slope) = value_and_slope(self.k, sigma);
                if let Some(g) = grad
                    && slope.is_finite()
                {
                    let u: Vec<f32> = u.iter().map(|&x| x as f32).collect();
                    let v: Vec<f32> = v.iter().map(|&x| x as f32).collect();
                    add_grad(g, &a, (scale as f64 * slope) as f32, &u, &v);
                }
                Ok(r)
            }
        }
    }

    fn state(&self) -> Vec<NamedTensor> {
        let mut names: Vec<&String> = self.states.keys().collect();
        names.sort();
        let mut out = Vec::with_capacity(2 * names.len());
        for n in names {
            let p = &self.states[n];
            out.push(NamedTensor::new(format!("{n}/u"), vec![p.u.len()], p.u.clone()));
            out.push(NamedTensor::new(format!("{n}/v"), vec![p.v.len()], p.v.clone()));
        }
        out
    }

    fn load_state(&mut self, state: &[NamedTensor]) -> Result<()> {
        type Halves = (Option<Vec<f32>>, Option<Vec<f32>>);
        let mut parts: HashMap<String, Halves> = HashMap::new();
        for s in state {
            let bad = |why: &str| Error::State(format!("spectral: `{}`: {why}", s.name));
            let (tensor, which) = s.name.rsplit_once('/').ok_or_else(|| bad("expected `<tensor>/u` or `<tensor>/v`"))?;
            if s.data.is_empty() || s.shape.iter().product::<usize>() != s.data.len() {
                return Err(bad("empty, or shape and data disagree"));
            }
            let e = parts.entry(tensor.to_string()).or_default();
            let slot = match which {
                "u" => &mut e.0,
                "v" => &mut e.1,
                _ => return Err(bad("expected `<tensor>/u` or `<tensor>/v`")),
            };
            if slot.replace(s.data.clone()).is_some() {
                return Err(bad("given twice"));
            }
        }
        let mut states = HashMap::with_capacity(parts.len());
        for (name, p) in parts {
            match p {
                (Some(u), Some(v)) => {
                    states.insert(name, Power::new(u, v));
                }
                _ => return Err(Error::State(format!("spectral: `{name}` needs both `{name}/u` and `{name}/v`"))),
            }
        }
        self.states = states;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reglab_core::Layout;
    use reglab_core::testing::{Case, gradient_error, rel};

    fn reg(k: f64) -> Spectral {
        Spectral::from_spec(&Spec::parse(&format!("spectral=1:k={k}")).unwrap()).unwrap()
    }

    /// `[W | b]` as a dense row-major f64 matrix, from the case's own storage.
    fn dense(c: &Case) -> (usize, usize, Vec<f64>) {
        let rows = c.shape[0];
        let cols = c.weight.len() / rows;
        let aug = cols + usize::from(c.bias.is_some());
        let mut m = vec![0.0; rows * aug];
        for r in 0..rows {
            for j in 0..cols {
                let i = match c.layout {
                    Layout::RowMajor => r * cols + j,
                    Layout::Transposed => j * rows + r,
                };
                m[r * aug + j] = c.weight[i] as f64;
            }
            if let Some(b) = &c.bias {
                m[r * aug + cols] = b[r] as f64;
            }
        }
        (rows, aug, m)
    }

    /// Eigenvalues of a symmetric matrix by cyclic Jacobi rotations.
    fn jacobi_eigenvalues(mut a: Vec<f64>, n: usize) -> Vec<f64> {
        for _sweep in 0..100 {
            let off: f64 = (0..n).flat_map(|i| (0..n).map(move |j| (i, j))).filter(|(i, j)| i != j).map(|(i, j)| a[i * n + j].powi(2)).sum();
            if off < 1e-30 {
                break;
            }
            for p in 0..n {
                for q in p + 1..n {
                    let apq = a[p * n + q];
                    if apq.abs() < 1e-300 {
                        continue;
                    }
                    let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                    let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                    let t = if theta == 0.0 { 1.0 } else { t };
                    let c = 1.0 / (t * t + 1.0).sqrt();
                    let s = t * c;
                    for k in 0..n {
                        let (akp, akq) = (a[k * n + p], a[k * n + q]);
                        a[k * n + p] = c * akp - s * akq;
                        a[k * n + q] = s * akp + c * akq;
                    }
                    for k in 0..n {
                        let (apk, aqk) = (a[p * n + k], a[q * n + k]);
                        a[p * n + k] = c * apk - s * aqk;
                        a[q * n + k] = s * apk + c * aqk;
                    }
                }
            }
        }
        (0..n).map(|i| a[i * n + i]).collect()
    }

    /// σ_max of `[W | b]` from the eigenvalues of the smaller Gram matrix.
    fn sigma_max_by_gram(c: &Case) -> f64 {
        let (rows, cols, m) = dense(c);
        let (n, gram): (usize, Vec<f64>) = if rows <= cols {
            (rows, (0..rows * rows).map(|ij| (0..cols).map(|k| m[(ij / rows) * cols + k] * m[(ij % rows) * cols + k]).sum()).collect())
        } else {
            (cols, (0..cols * cols).map(|ij| (0..rows).map(|k| m[k * cols + ij / cols] * m[k * cols + ij % cols]).sum()).collect())
        };
        jacobi_eigenvalues(gram, n).into_iter().fold(0.0, f64::max).sqrt()
    }

    fn case(weight: Vec<f32>, shape: &[usize], bias: Option<Vec<f32>>) -> Case {
        Case { weight, bias, ..Case::random("fc.weight", shape, 0) }
    }

    #[test]
    fn value_of_a_2x2_and_a_2x3_in_closed_form() {
        // W = [[3, 1], [0, 2]]: σ² = (tr ± √(tr² − 4 det²))/2 with tr = ‖W‖²_F = 14, det = 6.
        let c = case(vec![3.0, 1.0, 0.0, 2.0], &[2, 2], None);
        let s2 = (14.0 + (14.0f64 * 14.0 - 4.0 * 36.0).sqrt()) / 2.0;
        assert!(rel(c.value(&mut reg(2.0)), (s2 - 1.0).powi(2)) < 1e-10);
        assert!(rel(c.value(&mut reg(3.0)), (s2.powf(1.5) - 1.0).powi(2)) < 1e-10);
        // With the bias b = [1, −1]: W̃ = [[3, 1, 1], [0, 2, −1]], W̃W̃ᵀ = [[11, 1], [1, 5]].
        let c = case(vec![3.0, 1.0, 0.0, 2.0], &[2, 2], Some(vec![1.0, -1.0]));
        let s2 = (16.0 + (16.0f64 * 16.0 - 4.0 * (55.0 - 1.0)).sqrt()) / 2.0;
        assert!(rel(c.value(&mut reg(2.0)), (s2 - 1.0).powi(2)) < 1e-10);
        // and the transposed storage of the same W
        assert!(rel(c.transposed().value(&mut reg(2.0)), (s2 - 1.0).powi(2)) < 1e-10);
    }

    #[test]
    fn value_of_a_diagonal_is_set_by_its_largest_entry() {
        // diag(0.5, −2, 1) padded to 3×4: σ_max = 2.
        let mut w = vec![0.0; 12];
        w[0] = 0.5;
        w[5] = -2.0;
        w[10] = 1.0;
        let c = case(w, &[3, 4], None);
        assert!(rel(c.value(&mut reg(2.0)), 9.0) < 1e-10);
        assert!(rel(c.value(&mut reg(1.0)), 1.0) < 1e-10);
    }

    #[test]
    fn value_of_random_matrices_matches_the_gram_eigenvalues() {
        let cases = [
            Case::random("a.weight", &[7, 5], 1).with_random_bias(2),
            Case::random("b.weight", &[4, 9], 3).with_random_bias(4),
            Case::random("c.weight", &[6, 6], 5),
            Case::random("d.weight", &[4, 3, 2, 2], 6).with_random_bias(7),
        ];
        for c in &cases {
            let s = sigma_max_by_gram(c);
            let want = (s * s - 1.0).powi(2);
            assert!(rel(c.value(&mut reg(2.0)), want) < 1e-6, "{}: {} vs {want}", c.name, c.value(&mut reg(2.0)));
            if c.shape.len() == 2 {
                assert!(rel(c.transposed().value(&mut reg(2.0)), want) < 1e-6, "{} transposed", c.name);
            }
        }
    }

    #[test]
    fn the_bias_column_changes_the_value() {
        let c = Case::random("fc.weight", &[5, 4], 8);
        let with = c.clone().with_random_bias(9);
        assert!(rel(c.value(&mut reg(2.0)), with.value(&mut reg(2.0))) > 1e-3);
    }

    #[test]
    fn gradient_matches_finite_differences_for_weight_and_bias() {
        let base = Case::random("fc.weight", &[6, 4], 10).with_random_bias(11);
        for k in [1.0, 1.5, 2.0, 3.0] {
            for c in [base.clone(), base.transposed(), Case { bias: None, ..base.clone() }] {
                let e = gradient_error(&mut reg(k), &c, 1e-2);
                assert!(e < 1e-3, "k={k} layout={:?} bias={}: {e}", c.layout, c.bias.is_some());
            }
        }
        let conv = Case::random("conv.weight", &[4, 3, 2, 2], 12).with_random_bias(13);
        let e = gradient_error(&mut reg(2.0), &conv, 1e-2);
        assert!(e < 1e-3, "conv: {e}");
        // the bias gradient is really there (not only zeros that trivially agree)
        let (_, _, gb) = base.value_and_grad(&mut reg(2.0));
        assert!(gb.unwrap().iter().any(|&x| x.abs() > 1e-3));
    }

    #[test]
    fn zero_with_zero_gradient_when_sigma_max_is_one() {
        // Householder reflection H = I − 2hhᵀ/‖h‖² (orthogonal) times diag(1, 0.7, 0.4, 0.2):
        // σ_max = 1.
        let h = [0.3f64, -1.0, 0.5, 0.2];
        let hh: f64 = h.iter().map(|x| x * x).sum();
        let d = [1.0, 0.7, 0.4, 0.2];
        let w: Vec<f32> = (0..16)
            .map(|ij| {
                let (i, j) = (ij / 4, ij % 4);
                ((if i == j { 1.0 } else { 0.0 }) - 2.0 * h[i] * h[j] / hh) * d[j]
            })
            .map(|x| x as f32)
            .collect();
        let c = case(w, &[4, 4], None);
        for k in [1.0, 2.0, 3.0] {
            let (v, g, _) = c.value_and_grad(&mut reg(k));
            assert!(v < 1e-12, "k={k}: {v}");
            assert!(g.iter().all(|x| x.abs() < 1e-5), "k={k}: {g:?}");
        }
        // With a bias: W̃ = [[0.6, 0, 0.8], [0, 0.6, 0]] has orthogonal rows of norms 1 and 0.6.
        let c = case(vec![0.6, 0.0, 0.0, 0.6], &[2, 2], Some(vec![0.8, 0.0]));
        assert!(c.value(&mut reg(2.0)) < 1e-12);
        assert!(c.transposed().value(&mut reg(2.0)) < 1e-12);
        // ... and scaling it moves σ away from one
        let c2 = case(vec![1.2, 0.0, 0.0, 1.2], &[2, 2], Some(vec![1.6, 0.0]));
        assert!(rel(c2.value(&mut reg(2.0)), 9.0) < 1e-6);
    }

    #[test]
    fn one_step_is_one_power_iteration_from_the_seeded_vector() {
        let c = Case::random("l.weight", &[3, 2], 14).with_random_bias(15).transposed();
        let (rows, cols, m) = dense(&c);
        // independent: v = W̃ᵀu/‖·‖, σ = ‖W̃v‖, u' = W̃v/σ, from the seeded u
        let u0: Vec<f64> = seeded_unit_vector(rows, "l.weight").iter().map(|&x| x as f64).collect();
        let mut v: Vec<f64> = (0..cols).map(|j| (0..rows).map(|r| m[r * cols + j] * u0[r]).sum()).collect();
        let nv = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        v.iter_mut().for_each(|x| *x /= nv);
        let mut u: Vec<f64> = (0..rows).map(|r| (0..cols).map(|j| m[r * cols + j] * v[j]).sum()).collect();
        let s = u.iter().map(|x| x * x).sum::<f64>().sqrt();
        u.iter_mut().for_each(|x| *x /= s);
        let mut r = reg(2.0);
        let mut gw = vec![1.0f32; c.weight.len()];
        let mut gb = vec![1.0f32; rows];
        let mut g = TargetGrad { weight: &mut gw, bias: Some(&mut gb) };
        let val = r.eval(&c.target(), Some(&mut g), 0.5, Mode::Step).unwrap();
        assert!(rel(val, (s * s - 1.0).powi(2)) < 1e-5, "{val}");
        // gradient: added (on top of the ones), scaled by 0.5, in the transposed storage
        let coef = 0.5 * 4.0 * (s * s - 1.0) * s;
        for i in 0..rows {
            for j in 0..cols - 1 {
                let want = 1.0 + coef * u[i] * v[j];
                let got = gw[j * rows + i] as f64;
                assert!((got - want).abs() < 1e-4 * want.abs().max(1.0), "({i},{j}): {got} vs {want}");
            }
            let want = 1.0 + coef * u[i] * v[cols - 1];
            assert!((gb[i] as f64 - want).abs() < 1e-4 * want.abs().max(1.0));
        }
    }

    #[test]
    fn step_mode_converges_to_the_exact_value_and_gradient() {
        for c in [
            Case::random("fc.weight", &[20, 15], 16).with_random_bias(17).transposed(),
            Case::random("conv.weight", &[4, 3, 2, 2], 18).with_random_bias(19),
        ] {
            let (exact, ge, gbe) = c.value_and_grad(&mut reg(2.0));
            let mut r = reg(2.0);
            let first = r.eval(&c.target(), None, 1.0, Mode::Step).unwrap();
            assert!(rel(first, exact) > 1e-6, "one step from a random start should not be converged yet");
            let mut gw = vec![0.0f32; c.weight.len()];
            let mut gb = vec![0.0f32; c.shape[0]];
            let mut last = 0.0;
            for _ in 0..300 {
                gw.fill(0.0);
                gb.fill(0.0);
                let mut g = TargetGrad { weight: &mut gw, bias: Some(&mut gb) };
                last = r.eval(&c.target(), Some(&mut g), 1.0, Mode::Step).unwrap();
            }
            assert!(rel(last, exact) < 1e-5, "{}: {last} vs {exact}", c.name);
            let err = |a: &[f32], b: &[f32]| {
                let d: f64 = a.iter().zip(b).map(|(x, y)| ((x - y) as f64).powi(2)).sum::<f64>().sqrt();
                d / reglab_core::linalg::norm(b)
            };
            assert!(err(&gw, &ge) < 1e-3, "{}: weight gradient {}", c.name, err(&gw, &ge));
            assert!(err(&gb, gbe.as_ref().unwrap()) < 1e-3);
        }
    }

    #[test]
    fn exact_mode_does_not_change_the_stored_vectors() {
        let c = Case::random("fc.weight", &[6, 5], 20).with_random_bias(21);
        let mut a = reg(2.0);
        let mut b = reg(2.0);
        for _ in 0..3 {
            a.eval(&c.target(), None, 1.0, Mode::Step).unwrap();
            b.eval(&c.target(), None, 1.0, Mode::Step).unwrap();
        }
        a.eval(&c.target(), None, 1.0, Mode::Exact).unwrap();
        assert_eq!(a.state(), b.state());
        assert_eq!(a.eval(&c.target(), None, 1.0, Mode::Step).unwrap(), b.eval(&c.target(), None, 1.0, Mode::Step).unwrap());
    }

    #[test]
    fn state_round_trip_resumes_bit_identically() {
        let c1 = Case::random("layers.0.weight", &[8, 6], 22).with_random_bias(23).transposed();
        let c2 = Case::random("layers.1.weight", &[3, 8], 24);
        let run = |r: &mut Spectral, n: usize| -> Vec<(f64, Vec<f32>)> {
            let mut out = Vec::new();
            for _ in 0..n {
                for c in [&c1, &c2] {
                    let mut gw = vec![0.0f32; c.weight.len()];
                    let mut gb = c.bias.as_ref().map(|b| vec![0.0f32; b.len()]);
                    let mut g = TargetGrad { weight: &mut gw, bias: gb.as_deref_mut() };
                    let v = r.eval(&c.target(), Some(&mut g), 1.0, Mode::Step).unwrap();
                    out.push((v, gw));
                }
            }
            out
        };
        let mut a = reg(2.0);
        run(&mut a, 4);
        let saved = a.state();
        let names: Vec<&str> = saved.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["layers.0.weight/u", "layers.0.weight/v", "layers.1.weight/u", "layers.1.weight/v"]);
        assert_eq!(saved[1].shape, vec![7]); // in + 1 with the bias
        let mut b = reg(2.0);
        b.load_state(&saved).unwrap();
        let (ra, rb) = (run(&mut a, 3), run(&mut b, 3));
        assert_eq!(ra, rb);
        // and without the state the continuation differs (the check above can fail)
        let rc = run(&mut reg(2.0), 3);
        assert_ne!(ra, rc);
        // loading replaces: vectors of other tensors are dropped
        b.load_state(&saved[..2]).unwrap();
        assert_eq!(b.state().len(), 2);
    }

    #[test]
    fn bad_state_is_an_error() {
        let mut r = reg(2.0);
        let u = NamedTensor::new("fc.weight/u", vec![3], vec![1.0, 0.0, 0.0]);
        let v = NamedTensor::new("fc.weight/v", vec![2], vec![1.0, 0.0]);
        let w = NamedTensor::new("fc.weight/w", vec![2], vec![1.0, 0.0]);
        assert!(matches!(r.load_state(std::slice::from_ref(&u)), Err(Error::State(_))));
        assert!(matches!(r.load_state(&[u.clone(), v.clone(), w]), Err(Error::State(_))));
        assert!(matches!(r.load_state(&[u.clone(), v.clone(), v.clone()]), Err(Error::State(_))));
        // vectors that do not fit the tensor: an error at eval, not a panic
        r.load_state(&[u, v]).unwrap();
        let c = Case::random("fc.weight", &[4, 2], 25);
        assert!(matches!(r.eval(&c.target(), None, 1.0, Mode::Step), Err(Error::State(_))));
    }

    #[test]
    fn bad_shapes_are_errors_not_panics() {
        let mut r = reg(2.0);
        let c = Case { bias: Some(vec![0.0; 3]), ..Case::random("fc.weight", &[4, 2], 26) };
        for mode in [Mode::Step, Mode::Exact] {
            assert!(matches!(r.eval(&c.target(), None, 1.0, mode), Err(Error::Shape { .. })));
        }
        let c = Case::random("fc.weight", &[4, 2], 27);
        let mut gw = vec![0.0; 7];
        let mut g = TargetGrad { weight: &mut gw, bias: None };
        assert!(matches!(r.eval(&c.target(), Some(&mut g), 1.0, Mode::Step), Err(Error::Shape { .. })));
        let v = Case::random("norm.weight", &[5], 28);
        assert!(matches!(r.eval(&v.target(), None, 1.0, Mode::Step), Err(Error::Shape { .. })));
        // a bias without a gradient buffer for it is fine
        let c = Case::random("fc.weight", &[4, 2], 29).with_random_bias(30);
        let mut gw = vec![0.0; 8];
        let mut g = TargetGrad { weight: &mut gw, bias: None };
        r.eval(&c.target(), Some(&mut g), 1.0, Mode::Step).unwrap();
        assert!(gw.iter().any(|&x| x != 0.0));
    }

    #[test]
    fn zero_and_non_finite_matrices_do_not_poison_the_state() {
        let mut r = reg(1.0);
        let z = case(vec![0.0; 6], &[2, 3], None);
        let mut gw = vec![0.0f32; 6];
        let mut g = TargetGrad { weight: &mut gw, bias: None };
        // σ = 0: r = 1, and for k = 1 the subgradient −2 u vᵀ with unit u, v
        assert_eq!(r.eval(&z.target(), Some(&mut g), 1.0, Mode::Step).unwrap(), 1.0);
        assert!((reglab_core::linalg::norm(&gw) - 2.0).abs() < 1e-5, "{gw:?}");
        let bad = case(vec![f32::NAN, 0.0, 1.0, 0.0, 0.0, 0.0], &[2, 3], None);
        assert!(r.eval(&bad.target(), None, 1.0, Mode::Step).unwrap().is_nan());
        assert!(r.state().iter().all(|s| s.data.iter().all(|x| x.is_finite())));
        let good = case(vec![2.0, 0.0, 0.0, 0.0, 1.0, 0.0], &[2, 3], None);
        let mut last = 0.0;
        for _ in 0..50 {
            last = r.eval(&good.target(), None, 1.0, Mode::Step).unwrap();
        }
        assert!(rel(last, 1.0) < 1e-6, "{last}");
    }

    #[test]
    fn accepts_matrices_only_and_checks_options() {
        let r = reg(2.0);
        assert!(!r.accepts(&TensorRef::new(&[3], &[0.0; 3])));
        assert!(r.accepts(&TensorRef::new(&[3, 1], &[0.0; 3])));
        assert!(r.accepts(&TensorRef::new(&[1, 1, 3, 1], &[0.0; 3])));
        assert!(r.joins_bias());
        assert!(Spectral::from_spec(&Spec::parse("spectral=1:k=0.5").unwrap()).is_err());
        assert!(Spectral::from_spec(&Spec::parse("spectral=1:kk=2").unwrap()).is_err());
        assert_eq!(Spectral::from_spec(&Spec::parse("spectral=1").unwrap()).unwrap().k, 2.0);
        assert_eq!(Spectral::from_spec(&Spec::parse("spectral=1:k=1.5").unwrap()).unwrap().k, 1.5);
    }
}
