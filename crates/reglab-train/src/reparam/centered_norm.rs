//! `--reparam centered-norm`: every hidden unit's weight row centred and scaled to unit norm,
//! `W_i = (P_i − mean(P_i)) / ‖P_i − mean(P_i)‖`, on the hidden layers (not the output layer).
//!
//! ## Formula
//! ```text
//! c_i = P_i − (1/m)·Σ_j P_ij·1,     W_i = c_i / ‖c_i‖₂            (one row per output unit)
//! ∇_{c_i} = (∇_{W_i} − ⟨∇_{W_i}, W_i⟩·W_i) / ‖c_i‖
//! ∇_{P_i} = ∇_{c_i} − mean(∇_{c_i})·1
//! ```
//! Symbols and shapes: `P ∈ R^{out×m}` the stored parameter (`m` the fan-in; a convolution
//! `[out, in, kh, kw]` read as `[out, in·kh·kw]`), `W` the effective weight, `∇_W` the loss
//! gradient with respect to it. No extra parameters (no gain: every unit's weight has norm 1,
//! so the layer's scale is fixed, which the Hard ASH code relies on together with its
//! per-example threshold). A row with `‖c_i‖ = 0` gives `W_i = 0` and a zero gradient.
//! Weight standardization (Qiao et al. 2019) divides by the row's standard deviation instead,
//! which is this `W` times `√m`.
//!
//! Invariants: each effective row has mean 0 and norm 1; `W` does not change when a constant is
//! added to a row of `P` or a row is scaled by a positive factor.
//!
//! ## Source
//! The weight normalisation of the Hard ASH paper's official code (Keskinen 2024,
//! LesserScholar/hard-ash 7fbb1ed, `weight_norm` in `02_run_experiments.py`, applied to every
//! hidden layer in each forward pass, not to the output layer).

use super::{Rule, Shape2};

/// Centred unit-norm rows. See the module documentation.
#[derive(Debug, Clone, Copy, Default)]
pub struct CenteredNorm;

/// Per row: its mean and the norm of the centred row.
fn row_stats(s: Shape2, p: &[f32]) -> (Vec<f64>, Vec<f64>) {
    let mut mean = vec![0.0f64; s.rows];
    s.each(|i, _, x| mean[i] += p[x] as f64);
    mean.iter_mut().for_each(|m| *m /= s.cols.max(1) as f64);
    let mut sq = vec![0.0f64; s.rows];
    s.each(|i, _, x| {
        let c = p[x] as f64 - mean[i];
        sq[i] += c * c;
    });
    (mean, sq.into_iter().map(f64::sqrt).collect())
}

impl Rule for CenteredNorm {
    fn extras_len(&self, _s: Shape2) -> usize {
        0
    }

    fn init_extras(&self, _s: Shape2, _p: &[f32], _e: &mut [f32]) {}

    fn forward(&mut self, _layer: usize, s: Shape2, p: &[f32], _e: &[f32], w: &mut [f32], _advance: bool) {
        let (mean, norm) = row_stats(s, p);
        s.each(|i, _, x| w[x] = if norm[i] > 0.0 { ((p[x] as f64 - mean[i]) / norm[i]) as f32 } else { 0.0 });
    }

    fn backward(&mut self, _layer: usize, s: Shape2, p: &[f32], _e: &[f32], gw: &[f32], gp: &mut [f32], _ge: &mut [f32]) {
        let (mean, norm) = row_stats(s, p);
        let w = |i: usize, x: usize| if norm[i] > 0.0 { (p[x] as f64 - mean[i]) / norm[i] } else { 0.0 };
        // ⟨∇W_i, W_i⟩
        let mut dot = vec![0.0f64; s.rows];
        s.each(|i, _, x| dot[i] += gw[x] as f64 * w(i, x));
        // ∇c_ij = (gw_ij − dot_i·w_ij)/‖c_i‖, then remove its row mean
        let mut gc = vec![0.0f64; s.len()];
        let mut gc_mean = vec![0.0f64; s.rows];
        s.each(|i, _, x| {
            gc[x] = if norm[i] > 0.0 { (gw[x] as f64 - dot[i] * w(i, x)) / norm[i] } else { 0.0 };
            gc_mean[i] += gc[x];
        });
        gc_mean.iter_mut().for_each(|m| *m /= s.cols.max(1) as f64);
        s.each(|i, _, x| gp[x] = (gc[x] - gc_mean[i]) as f32);
    }
}
