//! `--reparam weight-norm`: weight normalization, `W_i = g_i · P_i / ‖P_i‖`.
//!
//! ## Formula
//! ```text
//! W_i = g_i · v_i / ‖v_i‖₂                       (one row per output unit)
//! ∇_{g_i} = ⟨∇_{W_i}, v̂_i⟩,   v̂_i = v_i / ‖v_i‖
//! ∇_{v_i} = (g_i / ‖v_i‖) · (∇_{W_i} − ∇_{g_i} · v̂_i)
//! ```
//! Symbols and shapes: `v = P ∈ R^{out×in}` the stored direction parameter (a convolution
//! `[out, in, kh, kw]` read as `[out, in·kh·kw]`, the norm over the whole fan-in, as the paper's
//! code for conv layers), `g ∈ R^out` the gains (extras, start at `‖v_i‖` so that `W = P`, or set
//! by the data-dependent initialisation), `∇_W` the loss gradient with respect to the effective
//! weight. A row with `‖v_i‖ = 0` gives `W_i = 0` and zero gradients.
//!
//! Data-dependent initialisation (`weight-norm`, on by default; `weight-norm:init=none` skips
//! it): on an initialisation batch, layer by layer, `g_i = 1/σ_i` and `b_i = −μ_i/σ_i` with
//! `μ_i, σ_i` the mean and (population) standard deviation of the unit's pre-activation
//! `x·v̂_i` — see [`super::Reparam::data_init`]. The direction `v` keeps the model's own seeded
//! initialisation (PyTorch default); the paper draws it from N(0, 0.05²), which only changes the
//! scale of `v`, not `W`.
//!
//! ## Paper
//! Salimans & Kingma, "Weight Normalization: A Simple Reparameterization to Accelerate Training
//! of Deep Neural Networks", NeurIPS 2016 (arXiv 1602.07868); gradients eq. (3), initialisation
//! §2.2.

use super::{Rule, Shape2};

/// Weight normalization. See the module documentation.
#[derive(Debug, Clone, Copy, Default)]
pub struct WeightNorm;

impl Rule for WeightNorm {
    fn extras_len(&self, s: Shape2) -> usize {
        s.rows
    }

    fn init_extras(&self, s: Shape2, p: &[f32], e: &mut [f32]) {
        for (g, n) in e.iter_mut().zip(s.row_sq_norms(p)) {
            *g = n.sqrt() as f32;
        }
    }

    fn forward(&mut self, _layer: usize, s: Shape2, p: &[f32], e: &[f32], w: &mut [f32], _advance: bool) {
        let k: Vec<f32> = s.row_sq_norms(p).iter().zip(e).map(|(&n, &g)| if n > 0.0 { (g as f64 / n.sqrt()) as f32 } else { 0.0 }).collect();
        scale_rows(s, p, &k, w);
    }

    fn backward(&mut self, _layer: usize, s: Shape2, p: &[f32], e: &[f32], gw: &[f32], gp: &mut [f32], ge: &mut [f32]) {
        let norms: Vec<f64> = s.row_sq_norms(p).iter().map(|n| n.sqrt()).collect();
        // ∇g_i = Σ_j gw_ij p_ij / ‖p_i‖
        let mut dot = vec![0.0f64; s.rows];
        s.each(|i, _, x| dot[i] += gw[x] as f64 * p[x] as f64);
        for i in 0..s.rows {
            ge[i] = if norms[i] > 0.0 { (dot[i] / norms[i]) as f32 } else { 0.0 };
        }
        // ∇v_ij = (g_i/‖v_i‖)(gw_ij − ∇g_i p_ij/‖v_i‖)
        let a: Vec<f32> = (0..s.rows).map(|i| if norms[i] > 0.0 { (e[i] as f64 / norms[i]) as f32 } else { 0.0 }).collect();
        let c: Vec<f32> = (0..s.rows).map(|i| if norms[i] > 0.0 { (e[i] as f64 * dot[i] / norms[i].powi(3)) as f32 } else { 0.0 }).collect();
        s.each(|i, _, x| gp[x] = a[i] * gw[x] - c[i] * p[x]);
    }
}

/// `w_ij = k_i · p_ij` in the storage layout.
pub(crate) fn scale_rows(s: Shape2, p: &[f32], k: &[f32], w: &mut [f32]) {
    match s.layout {
        reglab_core::Layout::RowMajor => {
            for ((wr, pr), &ki) in w.chunks_exact_mut(s.cols).zip(p.chunks_exact(s.cols)).zip(k) {
                for (a, &b) in wr.iter_mut().zip(pr) {
                    *a = ki * b;
                }
            }
        }
        reglab_core::Layout::Transposed => {
            for (wc, pc) in w.chunks_exact_mut(s.rows).zip(p.chunks_exact(s.rows)) {
                for ((a, &b), &ki) in wc.iter_mut().zip(pc).zip(k) {
                    *a = ki * b;
                }
            }
        }
    }
}
