//! `--reparam multipliers[:scalar|rowcol]`: learnable multipliers, `W = s·P` or
//! `W = diag(r)·P·diag(c)`.
//!
//! ## Formula
//! ```text
//! scalar:  W = s · P                    ∇_P = s ∇_W        ∇_s = ⟨∇_W, P⟩
//! rowcol:  W_ij = r_i · P_ij · c_j      ∇_P_ij = r_i c_j ∇_W_ij
//!          ∇_r_i = Σ_j ∇_W_ij P_ij c_j  ∇_c_j = Σ_i ∇_W_ij r_i P_ij
//! ```
//! Symbols and shapes: `P ∈ R^{out×in}` the stored matrix (a convolution `[out, in, kh, kw]`
//! read as `[out, in·kh·kw]`, so `c` has one entry per fan-in weight), `s ∈ R`, `r ∈ R^out`,
//! `c ∈ R^in` the multipliers (extras, start at 1 so that `W = P`), `∇_W` the loss gradient with
//! respect to the effective weight.
//!
//! The multipliers are trained by the run's optimizer **without weight decay** (AdamW's
//! decoupled decay is set to 0 for them), while `P` keeps whatever decay the run applies
//! (`l2=λ` acts on the effective weights of the layers; AdamW decays `P`). This is the paper's
//! point: the weight-decay/noise equilibrium fixes `‖P‖`, and the multipliers free the scale of
//! `W` from it. The symmetry `(r·a, c/a)` leaves `W` unchanged.
//!
//! ## Paper
//! "Learnable Multipliers: Freeing the Scale of Language Model Matrix Layers", 2025 (catalog
//! #19): a learnable scalar, then per-row and per-column multipliers, excluded from weight decay.

use super::{Rule, Shape2};

/// Learnable multipliers. See the module documentation.
#[derive(Debug, Clone, Copy)]
pub struct Multipliers {
    /// Row and column vectors (`true`) or one scalar.
    pub rowcol: bool,
}

impl Rule for Multipliers {
    fn extras_len(&self, s: Shape2) -> usize {
        if self.rowcol { s.rows + s.cols } else { 1 }
    }

    fn init_extras(&self, _s: Shape2, _p: &[f32], e: &mut [f32]) {
        e.iter_mut().for_each(|x| *x = 1.0);
    }

    fn forward(&mut self, _layer: usize, s: Shape2, p: &[f32], e: &[f32], w: &mut [f32], _advance: bool) {
        if !self.rowcol {
            for (a, &b) in w.iter_mut().zip(p) {
                *a = e[0] * b;
            }
            return;
        }
        let (r, c) = e.split_at(s.rows);
        s.each(|i, j, x| w[x] = r[i] * p[x] * c[j]);
    }

    fn backward(&mut self, _layer: usize, s: Shape2, p: &[f32], e: &[f32], gw: &[f32], gp: &mut [f32], ge: &mut [f32]) {
        if !self.rowcol {
            let mut d = 0.0f64;
            for ((g, &a), &b) in gp.iter_mut().zip(gw).zip(p) {
                *g = e[0] * a;
                d += a as f64 * b as f64;
            }
            ge[0] = d as f32;
            return;
        }
        let (r, c) = e.split_at(s.rows);
        let mut gr = vec![0.0f64; s.rows];
        let mut gc = vec![0.0f64; s.cols];
        s.each(|i, j, x| {
            let g = gw[x] as f64;
            gp[x] = r[i] * c[j] * gw[x];
            gr[i] += g * p[x] as f64 * c[j] as f64;
            gc[j] += g * r[i] as f64 * p[x] as f64;
        });
        for (o, v) in ge.iter_mut().zip(gr.iter().chain(&gc)) {
            *o = *v as f32;
        }
    }
}
