//! Per-layer strengths of the spectral regularizer (`spectral`, σ_max pushed toward one), the
//! IFT hypergradient's second family of targets.
//!
//! ```text
//! R(w; θ) = Σ_l λ_l r(W̃_l),    r(W̃) = (σ^k − 1)²,    λ_l = exp(θ_l)
//! σ̂_l = u_lᵀ W̃_l v_l                 (u_l, v_l: the layer's power-iteration vectors, held fixed)
//! ∇_w R      = λ_l c(σ̂_l) g_l,          g_l = ∂σ̂_l/∂w = u_l v_lᵀ on W̃_l's entries, 0 elsewhere
//! ∇²_w R v   = λ_l c'(σ̂_l) ⟨g_l, v⟩ g_l
//! ∂²_{wθ_l} R = λ_l c(σ̂_l) g_l
//! c(s)  = 2k (s^k − 1) s^(k−1),    c'(s) = 2k (k s^(2k−2) + (k − 1)(s^k − 1) s^(k−2))
//! ```
//! - `W̃_l = [W_l | b_l]` `[out, in + 1]` (without a bias `W_l`, `[out, in]`): the layer weight in
//!   PyTorch orientation with its bias as an extra column, as `spectral` joins it in training.
//!   burn stores a `Linear` weight `[in, out]` (entry `(i, j)` at `i·out + j` holds `W[j, i]`), a
//!   convolution kernel `[out, in, kh, kw]` row-major, read as `[out, in·kh·kw]`; both are
//!   handled through [`crate::model::LayerInfo::layout`].
//! - `u_l ∈ ℝ^{out}`, `v_l ∈ ℝ^{in(+1)}` unit vectors: the ones `spectral` holds in training after
//!   its last step, advanced by one more power iteration `v ← W̃ᵀu/‖W̃ᵀu‖, u ← W̃v/‖W̃v‖` on the
//!   current weights (in f64) — the vectors the next training step would use — so
//!   `σ̂ = ‖W̃v‖ ≥ 0`.
//! - `k` the exponent of `spectral` (default 2: `c(s) = 4s(s² − 1)`, `c'(s) = 4(3s² − 1)`).
//!
//! **The approximation.** Training applies `λ c(σ) u vᵀ` with `u`, `v` from one power iteration
//! per step: the gradient of `r` as if the singular vectors did not move. The Hessian here is
//! the one of that same surrogate `r̂(W̃) = ((uᵀW̃v)^k − 1)²`, exact for it, and it leaves out the
//! curvature of σ_max itself, `c(σ) ∇²σ_max`, which involves every other singular pair through
//! `1/(σ₁² − σ_j²)` (and is unbounded when the top two singular values meet, where σ_max is not
//! differentiable). `hypergrad::tests` measures both: against central differences of the
//! validation loss re-solved with the surrogate (exact up to finite differences), and re-solved
//! with the true σ_max (the approximation's error on that problem).
//!
//! Paper of the regularizer: Lewandowski et al., "Learning Continually by Spectral
//! Regularization", ICLR 2025 (`reglab_regularizers::spectral`); of the hypergradient: Lorraine,
//! Vicol & Duvenaud 2020 (the [module documentation](super)).

use super::{LogStrengths, Slot, Strengths, slots};
use crate::error::TrainError;
use crate::model::Net;
use reglab_core::Layout;

/// The exponent `k` of `spectral` whose strengths are learned: the regularizer's default.
pub const DEFAULT_K: f64 = 2.0;

/// One regularized layer: where its entries are in the flat vector and how to read them.
#[derive(Debug, Clone, PartialEq)]
struct Layer {
    weight: Slot,
    bias: Option<Slot>,
    /// `W`'s rows (out) and columns (in, a kernel's in·kh·kw).
    rows: usize,
    cols: usize,
    layout: Layout,
}

impl Layer {
    /// Flat index of `W[j, i]`.
    fn at(&self, j: usize, i: usize) -> usize {
        self.weight.range.start
            + match self.layout {
                Layout::Transposed => i * self.rows + j,
                Layout::RowMajor => j * self.cols + i,
            }
    }

    /// Columns of `W̃` (with the bias).
    fn tilde_cols(&self) -> usize {
        self.cols + usize::from(self.bias.is_some())
    }

    /// `X̃ v` `[out]` for the entries `x` of this layer's `W̃` (the weights, or a direction).
    fn matvec(&self, x: &[f64], v: &[f64]) -> Vec<f64> {
        (0..self.rows)
            .map(|j| {
                (0..self.cols).map(|i| x[self.at(j, i)] * v[i]).sum::<f64>() + self.bias.as_ref().map_or(0.0, |b| x[b.range.start + j] * v[self.cols])
            })
            .collect()
    }

    /// `uᵀ X̃ v` for the entries `x` of this layer's `W̃` (the bilinear form is linear in `x`,
    /// so it gives both `σ̂ = uᵀW̃v` and `⟨g, x⟩`).
    fn bilinear(&self, x: &[f64], u: &[f64], v: &[f64]) -> f64 {
        u.iter().zip(self.matvec(x, v)).map(|(a, b)| a * b).sum()
    }

    /// `out += a · u vᵀ` on this layer's `W̃` entries.
    fn add_outer(&self, a: f64, u: &[f64], v: &[f64], out: &mut [f64]) {
        for (j, &uj) in u.iter().enumerate() {
            for (i, &vi) in v.iter().take(self.cols).enumerate() {
                out[self.at(j, i)] += a * uj * vi;
            }
            if let Some(b) = &self.bias {
                out[b.range.start + j] += a * uj * v[self.cols];
            }
        }
    }

    /// One power iteration `v ← W̃ᵀu/‖W̃ᵀu‖, u ← W̃v/‖W̃v‖` on the weights `w` (a zero mat-vec
    /// keeps the previous vector).
    fn power_step(&self, w: &[f64], u: &mut [f64], v: &mut [f64]) {
        let mut nv = vec![0.0; self.tilde_cols()];
        for (j, &uj) in u.iter().enumerate() {
            for (i, x) in nv.iter_mut().take(self.cols).enumerate() {
                *x += w[self.at(j, i)] * uj;
            }
            if let Some(b) = &self.bias {
                nv[self.cols] += w[b.range.start + j] * uj;
            }
        }
        normalize_into(&nv, v);
        normalize_into(&self.matvec(w, v), u);
    }
}

fn normalize_into(x: &[f64], out: &mut [f64]) {
    let n = super::norm(x);
    if n > 0.0 && n.is_finite() {
        out.iter_mut().zip(x).for_each(|(o, v)| *o = v / n);
    }
}

/// Per-layer strengths of `spectral` and the singular vectors they are taken at (see the
/// module documentation).
#[derive(Debug, Clone, PartialEq)]
pub struct SpectralGroups {
    /// Group names (the layer weights) and `θ_l = ln λ_l`.
    strengths: LogStrengths,
    layers: Vec<Layer>,
    k: f64,
    /// Per layer `u` `[out]`, `v` `[in(+1)]` (PyTorch orientation).
    u: Vec<Vec<f64>>,
    v: Vec<Vec<f64>>,
}

impl SpectralGroups {
    /// One group per layer weight of `net` (bias joined when the layer has one, as in
    /// training), exponent `k ≥ 1`, starting strengths `lambda` (one for all or one per layer,
    /// each finite and > 0). The singular vectors start as `u` = the first basis vector, `v` =
    /// uniform, until [`SpectralGroups::set_vectors`] gives training's.
    pub fn per_layer(net: &Net, lambda: &[f64], k: f64) -> Result<Self, TrainError> {
        if !(k >= 1.0 && k.is_finite()) {
            return Err(TrainError::Config(format!("the exponent k of `spectral` must be finite and ≥ 1, got {k}")));
        }
        let info = net.layers();
        let strengths = LogStrengths::new("spectral", info.iter().map(|l| l.weight_name()).collect(), lambda)?;
        let all = slots(net);
        let mut layers = Vec::new();
        for (l, li) in info.iter().enumerate() {
            let weight =
                all.iter().find(|s| s.layer == l && !s.bias).cloned().ok_or_else(|| TrainError::Other(format!("layer {l} has no weight")))?;
            let bias = all.iter().find(|s| s.layer == l && s.bias).cloned();
            if li.shape.len() < 2 {
                return Err(TrainError::Config(format!("spectral needs matrix weights; `{}` has shape {:?}", li.weight_name(), li.shape)));
            }
            let rows = li.shape[0];
            let cols = li.shape[1..].iter().product();
            layers.push(Layer { weight, bias, rows, cols, layout: li.layout() });
        }
        let u = layers.iter().map(|l| (0..l.rows).map(|j| f64::from(u8::from(j == 0))).collect()).collect();
        let v = layers.iter().map(|l| vec![1.0 / (l.tilde_cols() as f64).sqrt(); l.tilde_cols()]).collect();
        Ok(Self { strengths, layers, k, u, v })
    }

    /// The vectors `u_l` `[out]`, `v_l` `[in(+1)]` of every layer (e.g. those `spectral` holds
    /// in training); with the flat weights `w`, one power iteration on them follows.
    pub fn set_vectors(&mut self, vectors: Vec<(Vec<f64>, Vec<f64>)>, w: Option<&[f64]>) -> Result<(), TrainError> {
        if vectors.len() != self.layers.len() {
            return Err(TrainError::Other(format!("{} vector pairs for {} layers", vectors.len(), self.layers.len())));
        }
        for (l, (u, v)) in vectors.into_iter().enumerate() {
            let ly = &self.layers[l];
            if u.len() != ly.rows || v.len() != ly.tilde_cols() {
                return Err(TrainError::Other(format!(
                    "singular vectors of `{}`: u has {} entries, v {} (expected {} and {})",
                    self.strengths.names()[l],
                    u.len(),
                    v.len(),
                    ly.rows,
                    ly.tilde_cols()
                )));
            }
            if u.iter().chain(&v).any(|x| !x.is_finite()) {
                return Err(TrainError::non_finite(format!("the singular vectors of `{}`", self.strengths.names()[l]), f64::NAN));
            }
            self.u[l] = u;
            self.v[l] = v;
            if let Some(w) = w {
                ly.power_step(w, &mut self.u[l], &mut self.v[l]);
            }
        }
        Ok(())
    }

    /// `(u_l, v_l)` per layer.
    pub fn vectors(&self) -> Vec<(&[f64], &[f64])> {
        self.u.iter().zip(&self.v).map(|(u, v)| (u.as_slice(), v.as_slice())).collect()
    }

    /// `σ̂_l = u_lᵀ W̃_l v_l` on the flat weights `w`.
    pub fn sigma(&self, l: usize, w: &[f64]) -> f64 {
        self.layers[l].bilinear(w, &self.u[l], &self.v[l])
    }

    fn c(&self, s: f64) -> f64 {
        let k = self.k;
        2.0 * k * (s.powf(k) - 1.0) * s.powf(k - 1.0)
    }

    fn c_prime(&self, s: f64) -> f64 {
        let k = self.k;
        let lower = if k == 1.0 { 0.0 } else { (k - 1.0) * (s.powf(k) - 1.0) * s.powf(k - 2.0) };
        2.0 * k * (k * s.powf(2.0 * k - 2.0) + lower)
    }

    /// `R(w) = Σ_l λ_l (σ̂_l^k − 1)²`.
    pub fn penalty(&self, w: &[f64]) -> f64 {
        (0..self.layers.len()).map(|l| self.strengths.theta()[l].exp() * (self.sigma(l, w).max(0.0).powf(self.k) - 1.0).powi(2)).sum()
    }

    /// `out += ∇R(w) = λ_l c(σ̂_l) u_l v_lᵀ` on every layer's `W̃` entries.
    pub fn add_gradient(&self, w: &[f64], out: &mut [f64]) {
        for (l, ly) in self.layers.iter().enumerate() {
            let a = self.strengths.theta()[l].exp() * self.c(self.sigma(l, w).max(0.0));
            ly.add_outer(a, &self.u[l], &self.v[l], out);
        }
    }
}

impl Strengths for SpectralGroups {
    fn strengths(&self) -> &LogStrengths {
        &self.strengths
    }

    fn strengths_mut(&mut self) -> &mut LogStrengths {
        &mut self.strengths
    }

    /// `out += λ_l c'(σ̂_l) ⟨g_l, v⟩ g_l` (the surrogate's exact Hessian; see the module
    /// documentation).
    fn add_hessian_product(&self, w: &[f64], v: &[f64], out: &mut [f64]) {
        for (l, ly) in self.layers.iter().enumerate() {
            let s = self.sigma(l, w).max(0.0);
            let a = self.strengths.theta()[l].exp() * self.c_prime(s) * ly.bilinear(v, &self.u[l], &self.v[l]);
            ly.add_outer(a, &self.u[l], &self.v[l], out);
        }
    }

    /// `λ_l c(σ̂_l) ⟨g_l, p⟩`.
    fn mixed_products(&self, w: &[f64], p: &[f64]) -> Vec<f64> {
        (0..self.layers.len())
            .map(|l| self.strengths.theta()[l].exp() * self.c(self.sigma(l, w).max(0.0)) * self.layers[l].bilinear(p, &self.u[l], &self.v[l]))
            .collect()
    }
}
