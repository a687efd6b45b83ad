//! `--reparam spectral-norm`: spectral normalization, `W = P / σ_max(P)`.
//!
//! ## Formula
//! ```text
//! u ← P v / ‖P v‖,   v ← Pᵀ u / ‖Pᵀ u‖       (one power-iteration step per training step,
//!                                          15 on a layer's first use)
//! σ = uᵀ P v,        W = P / σ
//! ∇_P = (∇_W − ⟨∇_W, W⟩ · u vᵀ) / σ           (u, v held constant, as in the paper)
//! ```
//! Symbols and shapes: `P ∈ R^{out×in}` the stored matrix (a convolution `[out, in, kh, kw]` read
//! as `[out, in·kh·kw]`), `u ∈ R^out`, `v ∈ R^in` the persistent singular-vector estimates
//! (start from a unit vector seeded by the layer name; saved with checkpoints), `σ` the estimate
//! of the largest singular value of `P`, `∇_W` the loss gradient with respect to `W`. No extra
//! trainable parameters. Evaluation uses the `σ` of the last training step (the stored `W`).
//!
//! ## Paper
//! Miyato, Kataoka, Koyama, Yoshida, "Spectral Normalization for Generative Adversarial
//! Networks", ICLR 2018 (arXiv 1802.05957): Algorithm 1 (one power iteration per update, `u`
//! reused) and the gradient of eq. (12).

use super::{Rule, Shape2};
use crate::model::LayerInfo;
use reglab_core::NamedTensor;

/// Spectral normalization. See the module documentation.
#[derive(Debug, Clone)]
pub struct SpectralNorm {
    names: Vec<String>,
    u: Vec<Vec<f32>>,
    v: Vec<Vec<f32>>,
    sigma: Vec<f32>,
    /// Whether the layer's vectors have had their initial iterations.
    warm: Vec<bool>,
}

/// Power iterations on the first use of a layer (PyTorch's `spectral_norm` does 15 at
/// construction too), before the one-per-update regime.
pub const WARM_START_ITERATIONS: usize = 15;

impl SpectralNorm {
    /// Vectors for each layer, seeded by its name.
    pub fn new(layers: &[LayerInfo]) -> Self {
        let mut s = Self { names: vec![], u: vec![], v: vec![], sigma: vec![], warm: vec![] };
        for l in layers {
            let sh = Shape2::of(l);
            s.names.push(l.name.clone());
            s.u.push(reglab_core::linalg::seeded_unit_vector(sh.rows, &format!("{}/u", l.name)));
            s.v.push(reglab_core::linalg::seeded_unit_vector(sh.cols, &format!("{}/v", l.name)));
            s.sigma.push(1.0);
            s.warm.push(false);
        }
        s
    }
}

/// Scale `x` to unit norm (a zero vector stays zero); returns the norm it had.
fn normalize(x: &mut [f64]) -> f64 {
    let n = x.iter().map(|a| a * a).sum::<f64>().sqrt();
    if n > 0.0 {
        x.iter_mut().for_each(|a| *a /= n);
    }
    n
}

impl Rule for SpectralNorm {
    fn extras_len(&self, _s: Shape2) -> usize {
        0
    }

    fn init_extras(&self, _s: Shape2, _p: &[f32], _e: &mut [f32]) {}

    fn forward(&mut self, layer: usize, s: Shape2, p: &[f32], _e: &[f32], w: &mut [f32], advance: bool) {
        if !advance {
            let k = 1.0 / self.sigma[layer];
            for (a, &b) in w.iter_mut().zip(p) {
                *a = b * k;
            }
            return;
        }
        // u = P v, then v = Pᵀ u, in f64 over the f32 matrix
        let mut v: Vec<f64> = self.v[layer].iter().map(|&x| x as f64).collect();
        let mut u = vec![0.0f64; s.rows];
        let iterations = if self.warm[layer] { 1 } else { WARM_START_ITERATIONS };
        self.warm[layer] = true;
        // σ = uᵀ P v with v = Pᵀu/‖Pᵀu‖ is ‖Pᵀu‖ itself: no extra pass over P
        let mut sigma = 0.0f64;
        for _ in 0..iterations {
            u.iter_mut().for_each(|x| *x = 0.0);
            s.each(|i, j, x| u[i] += p[x] as f64 * v[j]);
            normalize(&mut u);
            v.iter_mut().for_each(|x| *x = 0.0);
            s.each(|i, j, x| v[j] += p[x] as f64 * u[i]);
            sigma = normalize(&mut v);
        }
        let sigma = if sigma > 0.0 { sigma } else { 1.0 };
        self.u[layer] = u.iter().map(|&x| x as f32).collect();
        self.v[layer] = v.iter().map(|&x| x as f32).collect();
        // σ kept in f32 and W = P·(1/σ) from it, so that a run restored from a checkpoint
        // recomputes the same W bit for bit
        self.sigma[layer] = sigma as f32;
        let k = 1.0 / self.sigma[layer];
        for (a, &b) in w.iter_mut().zip(p) {
            *a = b * k;
        }
    }

    fn backward(&mut self, layer: usize, s: Shape2, p: &[f32], _e: &[f32], gw: &[f32], gp: &mut [f32], _ge: &mut [f32]) {
        let sigma = self.sigma[layer] as f64;
        // ⟨∇W, W⟩ = ⟨∇W, P⟩/σ
        let gdotw = gw.iter().zip(p).map(|(&a, &b)| a as f64 * b as f64).sum::<f64>() / sigma;
        let (u, v) = (&self.u[layer], &self.v[layer]);
        let inv = (1.0 / sigma) as f32;
        let c = (gdotw / sigma) as f32;
        s.each(|i, j, x| gp[x] = inv * gw[x] - c * u[i] * v[j]);
    }

    fn state(&self) -> Vec<NamedTensor> {
        let mut out = Vec::new();
        for (k, n) in self.names.iter().enumerate() {
            out.push(NamedTensor::new(format!("{n}/u"), vec![self.u[k].len()], self.u[k].clone()));
            out.push(NamedTensor::new(format!("{n}/v"), vec![self.v[k].len()], self.v[k].clone()));
            out.push(NamedTensor::new(format!("{n}/sigma"), vec![1], vec![self.sigma[k]]));
        }
        out
    }

    fn load_state(&mut self, tensors: &[NamedTensor]) -> Result<(), String> {
        for k in 0..self.names.len() {
            for (what, dst) in [("u", &mut self.u[k]), ("v", &mut self.v[k])] {
                let name = format!("{}/{what}", self.names[k]);
                let t = tensors.iter().find(|t| t.name == name).ok_or_else(|| format!("no reparam state `{name}`"))?;
                if t.data.len() != dst.len() {
                    return Err(format!("reparam state `{name}` has {} values, expected {}", t.data.len(), dst.len()));
                }
                dst.copy_from_slice(&t.data);
            }
            let name = format!("{}/sigma", self.names[k]);
            let t = tensors.iter().find(|t| t.name == name).ok_or_else(|| format!("no reparam state `{name}`"))?;
            self.sigma[k] = t.data.first().copied().ok_or_else(|| format!("empty `{name}`"))?;
            self.warm[k] = true;
        }
        Ok(())
    }
}
