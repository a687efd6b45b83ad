//! Isotropic total variation and TV denoising by Chambolle's projection algorithm.
//!
//! For an image `x ∈ ℝ^{rows×cols}` and the forward-difference gradient `∇` with Neumann
//! boundary ([`Gradient`]), `(∇x)_i = ((∇x)¹_i, (∇x)²_i) ∈ ℝ²` at pixel `i`, the **isotropic
//! total variation** is
//!
//! `TV(x) = Σ_i ‖(∇x)_i‖₂ = Σ_i √((∇x)¹_i² + (∇x)²_i²)`.
//!
//! **TV denoising** (the ROF model) of a noisy image `y` with weight `λ > 0`:
//!
//! `x* = argmin_x  P(x) = ½‖x − y‖² + λ TV(x)`.
//!
//! Its dual (Chambolle 2004) over fields `p ∈ ℝ^{2×rows×cols}` with `|p_i| ≤ 1` at every pixel is
//! `max_p D(p) = ½‖y‖² − ½‖y − λ div p‖²`, where `div = −∇ᵀ`; the primal solution is
//! `x* = y − λ div p*`, and `P(x) ≥ D(p)` for every `x` and feasible `p` (the **duality gap**
//! `P(x) − D(p) ≥ 0` bounds `P(x) − P(x*)`).
//!
//! **Chambolle's projection algorithm** (J. Math. Imaging Vis. 20, 2004, eq. (9)): from `p⁰ = 0`,
//!
//! `p^{k+1}_i = (p^k_i + τ (∇(div p^k − y/λ))_i) / (1 + τ |(∇(div p^k − y/λ))_i|)`,
//!
//! `x^{k+1} = y − λ div p^{k+1}`. Each update keeps `|p_i| ≤ 1`. Chambolle proves convergence for
//! `τ ≤ 1/8` (`= 1/‖∇‖²`) and notes that `τ = 1/4` works in practice; [`TvOptions::tau`] accepts
//! `0 < τ ≤ 1/4`, default `1/8`. Since `∇(div p − y/λ) = −∇x/λ` with `x = y − λ div p`, the
//! update is computed as `p ← (p − τ∇x/λ) / (1 + τ|∇x|/λ)`.
//!
//! **Stopping rule.** After iteration `k ≥ 1`, stop when `‖x^k − x^{k−1}‖₂ ≤ tol · ‖x^k‖₂`
//! ([`TvOptions::tol`]; `tol = 0` never stops early unless `x` is exactly stationary), or when
//! `k = max_iter`. [`TvResult`] reports the iterations run (the number of `p` updates), whether
//! the rule fired, the primal objective `P(x)`, the dual value `D(p)` and the gap.
//!
//! **scikit-image.** `skimage.restoration.denoise_tv_chambolle(y, weight=w, eps=e,
//! max_num_iter=N)` (checked against 0.26.0, `_denoise_tv_chambolle_nd`) runs the same iteration
//! with `λ = w`, its `p` equal to our `λ·p` (it updates `p ← (p − τ∇x)/(1 + τ|∇x|/w)` and sets
//! `x = y − div p`), the same forward differences (`np.diff`, last row/column of the gradient 0)
//! and divergence, and `τ = 1/(2·ndim) = 1/4` in 2-D. Its loop computes `x` from the current `p`
//! *before* updating `p` and returns that `x`, so with `eps = 0` (its energy test
//! `|E_{k−1} − E_k| < eps·E_0` never fires) it returns `x` after `N − 1` updates of `p`: that is
//! our result with `λ = w`, `τ = 1/4`, `max_iter = N − 1`, `tol = 0` (tested below to 1e-12).
//! Its default `eps = 2e-4` stops on the change of its energy
//! `E = (‖x − y‖² + w·TV(x)) / size` (note: no ½), which [`tv_denoise_chambolle`] reproduces
//! (the Python binding's `reglab.inverse.denoise_tv_chambolle`).

use crate::error::{Error, Result, check_finite};
use crate::image::Image;
use crate::operator::{Gradient, LinearOperator};

/// Options of [`tv_denoise`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TvOptions {
    /// Step `τ`, `0 < τ ≤ 1/4` (convergence proved for `τ ≤ 1/8`); default `1/8`.
    pub tau: f64,
    /// Maximum number of iterations (updates of `p`); default 500.
    pub max_iter: usize,
    /// Relative change of `x` at which to stop, `≥ 0`; default `1e-6`.
    pub tol: f64,
}

impl TvOptions {
    /// `Err` unless `0 < τ ≤ 1/4` and `tol` is finite and `≥ 0`.
    pub fn validate(&self) -> Result<()> {
        if !(self.tau > 0.0 && self.tau <= 0.25) {
            return Err(Error::Option { name: "tau", why: format!("must be in (0, 1/4], got {}", self.tau) });
        }
        if !(self.tol >= 0.0 && self.tol.is_finite()) {
            return Err(Error::Option { name: "tol", why: format!("must be finite and ≥ 0, got {}", self.tol) });
        }
        Ok(())
    }
}

impl Default for TvOptions {
    fn default() -> Self {
        Self { tau: 0.125, max_iter: 500, tol: 1e-6 }
    }
}

/// The outcome of [`tv_denoise`].
#[derive(Debug, Clone, PartialEq)]
pub struct TvResult {
    /// The denoised image `x = y − λ div p`.
    pub image: Image,
    /// The dual field `p` (`2·rows·cols` values, laid out as [`Gradient`]'s output), `|p_i| ≤ 1`.
    pub dual: Vec<f64>,
    /// Iterations run (updates of `p`).
    pub iterations: usize,
    /// Whether the relative-change rule fired before `max_iter`.
    pub converged: bool,
    /// The last relative change `‖x^k − x^{k−1}‖ / ‖x^k‖` (0 if no iteration ran).
    pub rel_change: f64,
    /// The primal objective `P(x) = ½‖x − y‖² + λ TV(x)`.
    pub objective: f64,
    /// The dual value `D(p) = ½‖y‖² − ½‖y − λ div p‖²`.
    pub dual_value: f64,
    /// The duality gap `P(x) − D(p) ≥ 0`.
    pub gap: f64,
}

/// `Σ_i ‖g_i‖₂` for a field `g` laid out as [`Gradient`]'s output (two halves).
fn sum_of_norms(g: &[f64]) -> f64 {
    let n = g.len() / 2;
    (0..n).map(|i| g[i].hypot(g[n + i])).sum()
}

/// The isotropic total variation `TV(x) = Σ_i ‖(∇x)_i‖₂` of an image.
pub fn total_variation(x: &Image) -> f64 {
    let g = Gradient { rows: x.rows, cols: x.cols };
    let mut d = vec![0.0; 2 * x.len()];
    g.apply(&x.data, &mut d);
    sum_of_norms(&d)
}

/// The ROF objective `P(x) = ½‖x − y‖² + λ TV(x)`; `Err` if the shapes differ.
pub fn tv_objective(x: &Image, y: &Image, lambda: f64) -> Result<f64> {
    if (x.rows, x.cols) != (y.rows, y.cols) {
        return Err(Error::Length { what: "x", expected: y.len(), len: x.len() });
    }
    let fit: f64 = x.data.iter().zip(&y.data).map(|(a, b)| (a - b) * (a - b)).sum();
    Ok(0.5 * fit + lambda * total_variation(x))
}

/// The dual value `D(p) = ½‖y‖² − ½‖y − λ div p‖²` (meaningful for `|p_i| ≤ 1`); `Err` if
/// `p.len() ≠ 2·rows·cols`.
pub fn tv_dual_value(p: &[f64], y: &Image, lambda: f64) -> Result<f64> {
    let g = Gradient { rows: y.rows, cols: y.cols };
    if p.len() != g.output_len() {
        return Err(Error::Length { what: "p", expected: g.output_len(), len: p.len() });
    }
    let mut div = vec![0.0; y.len()];
    g.divergence(p, &mut div);
    let yy: f64 = y.data.iter().map(|v| v * v).sum();
    let r: f64 = y.data.iter().zip(&div).map(|(a, d)| (a - lambda * d).powi(2)).sum();
    Ok(0.5 * yy - 0.5 * r)
}

/// TV denoising `argmin_x ½‖x − y‖² + λ TV(x)` by Chambolle's projection algorithm (see the
/// [module docs](self)); `Err` unless `λ > 0` finite, `0 < τ ≤ 1/4`, `tol ≥ 0`, `y` finite.
pub fn tv_denoise(y: &Image, lambda: f64, opts: &TvOptions) -> Result<TvResult> {
    if !(lambda.is_finite() && lambda > 0.0) {
        return Err(Error::Option { name: "lambda", why: format!("must be finite and > 0, got {lambda}") });
    }
    opts.validate()?;
    check_finite("y", &y.data)?;
    let n = y.len();
    let mut p = vec![0.0; 2 * n];
    let mut x = y.data.clone();
    let (mut iterations, mut converged, mut rel_change) = (0, false, 0.0);
    let s = opts.tau / lambda;
    while iterations < opts.max_iter {
        let (dx2, x2) = chambolle_sweep(&mut x, &y.data, &mut p, y.rows, y.cols, s, lambda);
        iterations += 1;
        rel_change = relative_change(dx2, x2);
        if rel_change <= opts.tol {
            converged = true;
            break;
        }
    }
    let image = Image::new(y.rows, y.cols, x)?;
    let objective = tv_objective(&image, y, lambda)?;
    let dual_value = tv_dual_value(&p, y, lambda)?;
    Ok(TvResult { image, dual: p, iterations, converged, rel_change, objective, dual_value, gap: objective - dual_value })
}

/// scikit-image's `denoise_tv_chambolle(y, weight, eps, max_num_iter)` on a 2-D image: the
/// iteration of [`tv_denoise`] with `λ = weight`, `τ = 1/4`, and scikit-image's stopping rule.
///
/// Its rule (0.26.0, `_denoise_tv_chambolle_nd`): at iterate `xᵏ` (from `pᵏ`, `x⁰ = y`) the
/// energy `Eₖ = (‖xᵏ − y‖² + weight·TV(xᵏ)) / size` (no ½; TV with `√(g₁² + g₂²)` per pixel)
/// is computed, `p` is updated, and the loop returns `xᵏ` at the first `k ≥ 1` with
/// `|Eₖ₋₁ − Eₖ| < eps·E₀`, or `x^{N−1}` after `max_num_iter = N` passes. The result here is
/// that `xᵏ` with its own `pᵏ` (`iterations = k` updates of `p`; `converged` when the energy rule
/// fired). With `eps = 0` the rule never fires and this is [`tv_denoise`] with `max_iter = N − 1`
/// and `tol = 0`, bit for bit. The energy costs one more pass over the image per iteration.
///
/// `Err` unless `weight > 0` finite, `eps ≥ 0` finite, `max_num_iter ≥ 1` and `y` finite.
pub fn tv_denoise_chambolle(y: &Image, weight: f64, eps: f64, max_num_iter: usize) -> Result<TvResult> {
    if !(weight.is_finite() && weight > 0.0) {
        return Err(Error::Option { name: "weight", why: format!("must be finite and > 0, got {weight}") });
    }
    if !(eps.is_finite() && eps >= 0.0) {
        return Err(Error::Option { name: "eps", why: format!("must be finite and ≥ 0, got {eps}") });
    }
    if max_num_iter == 0 {
        return Err(Error::Option { name: "max_num_iter", why: "must be at least 1".into() });
    }
    check_finite("y", &y.data)?;
    let n = y.len();
    let mut p = vec![0.0; 2 * n];
    let mut x = y.data.clone();
    let (mut iterations, mut converged, mut rel_change) = (0, false, 0.0);
    let (mut e_init, mut e_prev) = (0.0, 0.0);
    let s = 0.25 / weight;
    let g = Gradient { rows: y.rows, cols: y.cols };
    let mut grad = vec![0.0; if eps > 0.0 { g.output_len() } else { 0 }];
    for k in 0..max_num_iter {
        if eps > 0.0 {
            let e = skimage_energy(&x, &y.data, &g, &mut grad, weight) / n as f64;
            if k == 0 {
                (e_init, e_prev) = (e, e);
            } else if (e_prev - e).abs() < eps * e_init {
                converged = true;
                break;
            } else {
                e_prev = e;
            }
        }
        if k + 1 == max_num_iter {
            break;
        }
        let (dx2, x2) = chambolle_sweep(&mut x, &y.data, &mut p, y.rows, y.cols, s, weight);
        iterations += 1;
        rel_change = relative_change(dx2, x2);
    }
    let image = Image::new(y.rows, y.cols, x)?;
    let objective = tv_objective(&image, y, weight)?;
    let dual_value = tv_dual_value(&p, y, weight)?;
    Ok(TvResult { image, dual: p, iterations, converged, rel_change, objective, dual_value, gap: objective - dual_value })
}

/// `‖x − y‖² + weight·TV(x)` ([`total_variation`]'s gradient and norms, `grad` a buffer of
/// `2·rows·cols`): scikit-image's energy before its division by the size.
fn skimage_energy(x: &[f64], y: &[f64], g: &Gradient, grad: &mut [f64], weight: f64) -> f64 {
    let fit: f64 = x.iter().zip(y).map(|(a, b)| (a - b) * (a - b)).sum();
    g.apply(x, grad);
    fit + weight * sum_of_norms(grad)
}

/// One iteration of Chambolle's algorithm in a single pass over the image:
///
/// `p ← (p − s∇x) / (1 + s|∇x|)` (`s = τ/λ`, `x` the previous iterate), then
/// `x ← y − λ div p` with the new `p`; returns `(‖x_new − x_old‖², ‖x_new‖²)`.
///
/// Row `i` of `p` needs rows `i` and `i + 1` of the old `x`; row `i` of `div p` needs rows `i`
/// and `i − 1` of the new `p`. So the rows can be processed in order, updating `p` of row `i`,
/// then `x` of row `i`: row `i + 1` of `x` is still the old one when row `i` of `p` reads it, and
/// each row is read from memory once per iteration and reused from cache (instead of four
/// whole-image passes through the gradient, projection, divergence and update arrays). The
/// arithmetic of every entry, and the order of the two sums, is that of those four passes
/// ([`Gradient`]'s forward differences with the Neumann boundary, Chambolle's divergence), so the
/// result is bit for bit the same.
#[allow(clippy::too_many_arguments)]
fn chambolle_sweep(x: &mut [f64], y: &[f64], p: &mut [f64], rows: usize, cols: usize, s: f64, lambda: f64) -> (f64, f64) {
    let n = rows * cols;
    let (p1, p2) = p.split_at_mut(n);
    let project = |p1: &mut f64, p2: &mut f64, g1: f64, g2: f64| {
        // (not `hypot`: its overflow care costs more than the rest of the iteration; the
        // gradients of finite images do not overflow)
        let den = 1.0 + s * (g1 * g1 + g2 * g2).sqrt();
        *p1 = (*p1 - s * g1) / den;
        *p2 = (*p2 - s * g2) / den;
    };
    let (mut dx2, mut x2) = (0.0, 0.0);
    for i in 0..rows {
        let k0 = i * cols;
        // p of row i from the old x.
        {
            let (cur, next) = x[k0..].split_at(cols);
            let (q1, q2) = (&mut p1[k0..k0 + cols], &mut p2[k0..k0 + cols]);
            if i + 1 < rows {
                let next = &next[..cols];
                for j in 0..cols - 1 {
                    project(&mut q1[j], &mut q2[j], next[j] - cur[j], cur[j + 1] - cur[j]);
                }
                let j = cols - 1;
                project(&mut q1[j], &mut q2[j], next[j] - cur[j], 0.0);
            } else {
                for j in 0..cols - 1 {
                    project(&mut q1[j], &mut q2[j], 0.0, cur[j + 1] - cur[j]);
                }
                let j = cols - 1;
                project(&mut q1[j], &mut q2[j], 0.0, 0.0);
            }
        }
        // x of row i from the new p: x = y − λ div p, div p = (p1 − p1↑) + (p2 − p2←) with the
        // zero conventions at the border (the terms added in the order of `Gradient::adjoint`).
        let (has_up, has_down) = (i > 0, i + 1 < rows);
        let up = if has_up { &p1[k0 - cols..k0] } else { &p1[k0..k0 + cols] };
        let (q1, q2) = (&p1[k0..k0 + cols], &p2[k0..k0 + cols]);
        let (xr, yr) = (&mut x[k0..k0 + cols], &y[k0..k0 + cols]);
        let mut update = |j: usize, d: f64| {
            let new = yr[j] - lambda * d;
            dx2 += (new - xr[j]) * (new - xr[j]);
            x2 += new * new;
            xr[j] = new;
        };
        let vertical = |j: usize| {
            let mut d = 0.0;
            if has_down {
                d += q1[j];
            }
            if has_up {
                d -= up[j];
            }
            d
        };
        if cols == 1 {
            update(0, vertical(0));
            continue;
        }
        update(0, vertical(0) + q2[0]);
        for j in 1..cols - 1 {
            let mut d = vertical(j);
            d += q2[j];
            d -= q2[j - 1];
            update(j, d);
        }
        let j = cols - 1;
        let mut d = vertical(j);
        d -= q2[j - 1];
        update(j, d);
    }
    (dx2, x2)
}

/// The stopping quantity of the iterative solvers: `‖xᵏ − xᵏ⁻¹‖₂ / ‖xᵏ‖₂` from `dx2 =
/// ‖xᵏ − xᵏ⁻¹‖²` and `x2 = ‖xᵏ‖²` (the absolute change when `xᵏ = 0`).
pub(crate) fn relative_change(dx2: f64, x2: f64) -> f64 {
    if x2 > 0.0 { (dx2 / x2).sqrt() } else { dx2.sqrt() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phantom::{Rng, add_gaussian_noise, piecewise_constant};

    /// The four whole-image passes the fused sweep replaces: gradient, projection, divergence,
    /// update.
    fn four_pass_iteration(x: &mut [f64], y: &[f64], p: &mut [f64], rows: usize, cols: usize, s: f64, lambda: f64) -> (f64, f64) {
        let n = rows * cols;
        let grad = Gradient { rows, cols };
        let mut g = vec![0.0; 2 * n];
        grad.apply(x, &mut g);
        for i in 0..n {
            let den = 1.0 + s * (g[i] * g[i] + g[n + i] * g[n + i]).sqrt();
            p[i] = (p[i] - s * g[i]) / den;
            p[n + i] = (p[n + i] - s * g[n + i]) / den;
        }
        let mut div = vec![0.0; n];
        grad.divergence(p, &mut div);
        let (mut dx2, mut x2) = (0.0, 0.0);
        for i in 0..n {
            let new = y[i] - lambda * div[i];
            dx2 += (new - x[i]) * (new - x[i]);
            x2 += new * new;
            x[i] = new;
        }
        (dx2, x2)
    }

    #[test]
    fn the_fused_sweep_is_bitwise_the_four_passes() {
        let mut rng = Rng::new(3);
        for (rows, cols) in [(1, 1), (1, 7), (7, 1), (2, 2), (5, 9), (16, 13)] {
            let y: Vec<f64> = (0..rows * cols).map(|_| rng.normal()).collect();
            let (mut xa, mut xb) = (y.clone(), y.clone());
            let (mut pa, mut pb) = (vec![0.0; 2 * rows * cols], vec![0.0; 2 * rows * cols]);
            for it in 0..25 {
                let a = chambolle_sweep(&mut xa, &y, &mut pa, rows, cols, 0.25 / 0.3, 0.3);
                let b = four_pass_iteration(&mut xb, &y, &mut pb, rows, cols, 0.25 / 0.3, 0.3);
                assert_eq!(a.0.to_bits(), b.0.to_bits(), "{rows}×{cols} iteration {it}");
                assert_eq!(a.1.to_bits(), b.1.to_bits());
                assert!(xa.iter().zip(&xb).all(|(u, v)| u.to_bits() == v.to_bits()), "{rows}×{cols} iteration {it}");
                assert!(pa.iter().zip(&pb).all(|(u, v)| u.to_bits() == v.to_bits()));
            }
        }
    }

    /// A 12×10 test image (two overlapping rectangles plus rounded noise), row-major.
    #[rustfmt::skip]
    const FIXTURE_Y: [f64; 120] = [
    0.0, 0.06, -0.05, -0.18, -0.09, -0.2, 0.01, 0.27, -0.1, -0.12,
    0.1, 0.07, 0.02, -0.19, -0.01, 0.14, -0.27, -0.09, -0.38, -0.26,
    -0.37, -0.05, -0.25, 0.05, 0.03, -0.04, -0.5, -0.11, -0.01, 0.02,
    -0.31, -0.1, 0.8, 0.84, 1.21, 0.84, 0.99, 0.18, -0.12, -0.02,
    0.02, 0.01, 0.75, 1.02, 1.27, 0.69, 1.17, 0.02, -0.13, 0.4,
    0.15, -0.24, 1.01, 1.12, 0.96, 1.64, 1.49, 0.63, 0.79, -0.14,
    0.04, -0.09, 1.03, 0.76, 0.88, 1.46, 1.68, 0.73, 0.24, -0.16,
    0.13, -0.4, 0.91, 0.98, 1.25, 1.64, 1.43, 0.43, 0.45, 0.3,
    -0.09, -0.06, 1.07, 0.98, 0.96, 1.28, 1.5, 0.41, 0.73, 0.13,
    -0.0, 0.13, -0.07, 0.21, -0.0, 0.62, 0.24, 0.57, 0.16, -0.41,
    -0.06, -0.18, 0.03, 0.45, -0.17, 0.38, 0.54, 0.6, 0.46, -0.04,
    0.14, 0.1, -0.21, -0.02, 0.01, -0.21, 0.05, -0.17, 0.19, 0.04
    ];

    /// scikit-image 0.26.0: `denoise_tv_chambolle(FIXTURE_Y.reshape(12, 10), weight=0.3,
    /// eps=0.0, max_num_iter=51, channel_axis=None)` (float64).
    #[rustfmt::skip]
    const SKIMAGE_51: [f64; 120] = [
    0.0002892022452922159, 0.0006567002501914332, 0.0008892406113138879, 0.0009468953819907755, 0.0004965913354602475, -0.004958187463172087, -0.012378756782577474, -0.012587347398794857, -0.015100053902125418, -0.01585518289801577,
    0.0003770241021609222, 0.001106458453969228, 0.001484453455654653, 0.002497521213153775, 0.009301708646197145, 0.005230601233639415, -0.01711628010115912, -0.011937790528328704, -0.014080848929079737, -0.014421883367736976,
    -0.0001871189442751997, 0.002069979766926397, 0.0017523312933844237, 0.04598900122131763, 0.04574523747154033, 0.032182185331626596, -0.02658700123294594, -0.0018260001827144906, 0.007858456120729827, 0.011056725337379936,
    -0.0005814650078272976, 0.009520535203228084, 0.6207803198814204, 0.7147520032441743, 0.8165151004666269, 0.7715002049760699, 0.6903081418697934, 0.14676025483461785, 0.05592731247552732, 0.048843973672279564,
    0.05965012479343644, 0.06979801156183067, 0.6906593025116083, 0.8726005546161828, 0.8787227827050266, 0.8784811646473508, 0.8877099428803052, 0.2301352432892169, 0.09764656868585975, 0.1748952748373266,
    0.06719285475041578, 0.0662472038690175, 0.8236840857409462, 0.874835157456739, 0.8807363804437864, 1.1485605306003677, 1.1456410534137604, 0.49305383601308717, 0.40918722133729096, 0.18490589490795084,
    0.07166405187094946, 0.07469241598067536, 0.822908437414038, 0.8736030108453272, 0.921484953872916, 1.1537205113407756, 1.1657582094795615, 0.5256952115576605, 0.3493425803586336, 0.1986589055149864,
    0.07351062559262399, 0.06621890448620865, 0.7906601048445683, 0.8747587579669686, 0.9930449427999299, 1.1488841565174681, 1.1471037706216092, 0.44609605272034913, 0.3761500394980553, 0.21847734498499177,
    0.08001950315310563, 0.084314788950652, 0.7167783176151455, 0.8128217583377619, 0.8964721127755227, 1.13500036627756, 1.1052171319332436, 0.4031384742823826, 0.38760688603919513, 0.2194197954325127,
    0.08799554927832351, 0.10026650381897587, 0.13065593122961652, 0.19082728089963755, 0.22392315320017916, 0.34559118516287063, 0.3424344100086458, 0.35429812166711483, 0.2602209170452423, 0.17725452772389455,
    0.08862192473421432, 0.09164082893581355, 0.10709433262415857, 0.1510081990714049, 0.15627810871721, 0.25991856029693133, 0.3218758105426797, 0.31728657276125494, 0.24064728808526367, 0.1745761533123977,
    0.0902609497912683, 0.0924047472431338, 0.09580184539503292, 0.12158583465173316, 0.12736116144278384, 0.13861689260904633, 0.15857660107294963, 0.164362373981823, 0.17111422721677955, 0.17271445199582208
    ];

    /// The same with `max_num_iter=301`.
    #[rustfmt::skip]
    const SKIMAGE_301: [f64; 120] = [
    0.0029898097297492605, 0.0030400815649155102, 0.003047127052171826, 0.0030356564363878125, 0.003100467569746912, 0.0013161876816510654, -0.001353811244251166, -0.0015143874127148127, -0.0017103409427228766, -0.001716341435127916,
    0.002939282707946883, 0.0030712907179784865, 0.0030683866498504332, 0.0029944529549677246, 0.006163589272947615, 0.004796672548647435, -0.0019655307736107797, -0.0017454397627956059, -0.0016856440062331668, -0.0016810337139887,
    0.002625551140532978, 0.00317002685157787, 0.0031732882964949916, 0.0341366340509482, 0.02821656919682182, 0.014635928561268198, -0.0023491280021566974, -0.0018298391397249675, 0.0032622388931262142, 0.00561022501403112,
    0.00236964865338285, 0.0044309760424983, 0.6225525183986302, 0.7132355862050018, 0.8152970809772268, 0.7714108573199899, 0.6912479318683797, 0.14025458024167176, 0.04364096239650714, 0.03500868764950184,
    0.08190572410326423, 0.08225786073068996, 0.6901745140710585, 0.8753169364184116, 0.8753203222492133, 0.8753144003922163, 0.8874069035339418, 0.227097843029693, 0.0899864589726625, 0.1929368827950741,
    0.08261530593885, 0.08246496673624287, 0.826763054096523, 0.8753231617759549, 0.875326957789586, 1.1484262433273122, 1.1484292985122986, 0.4922107544997616, 0.41199626089897823, 0.19308124042367958,
    0.08336849298806628, 0.08361591638071167, 0.8259379618604898, 0.8753261175671203, 0.9153631436070846, 1.148417334198549, 1.1487187123830853, 0.523299231669493, 0.3481685332486702, 0.1934494471732944,
    0.08398626896559655, 0.08170676687120021, 0.7943085275148986, 0.8761627756625964, 0.9921490364910939, 1.148258361822391, 1.148111227668508, 0.4421997824096223, 0.37329563973397245, 0.1957685697005384,
    0.0868081587154041, 0.08862960896482286, 0.7207108435069753, 0.8150248275630712, 0.8977185207992727, 1.147093637848756, 1.107811954843256, 0.39917007828798345, 0.38306700269800603, 0.19581243302803167,
    0.08981337758638674, 0.09472717279169895, 0.11945340339465721, 0.18542029375825428, 0.21705004227761066, 0.3440201072560936, 0.3413958805832716, 0.34530246967338274, 0.2567937428683357, 0.15753718605079498,
    0.09029090866807524, 0.09030895501536967, 0.09704561618289595, 0.14754598794139434, 0.15098258908702508, 0.2627524862619494, 0.33381560376043484, 0.31687624906552764, 0.23538059347438084, 0.15750656408690336,
    0.09042261726876141, 0.09045856281228498, 0.09033437134118419, 0.13046054078690608, 0.13047643192709876, 0.13071406910275526, 0.15705547405925263, 0.15717346014782577, 0.15735535294082592, 0.1574250851494621
    ];

    #[test]
    fn matches_scikit_image() {
        let y = Image::new(12, 10, FIXTURE_Y.to_vec()).unwrap();
        for (n, want) in [(51, &SKIMAGE_51), (301, &SKIMAGE_301)] {
            // weight = λ, τ = 1/4, N − 1 updates of p, no early stop.
            let opts = TvOptions { tau: 0.25, max_iter: n - 1, tol: 0.0 };
            let r = tv_denoise(&y, 0.3, &opts).unwrap();
            assert_eq!(r.iterations, n - 1);
            let err = r.image.data.iter().zip(want.iter()).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
            assert!(err < 1e-12, "max_num_iter = {n}: max |ours − skimage| = {err}");
        }
    }

    #[test]
    fn chambolle_with_eps_zero_is_tv_denoise_and_the_energy_rule_stops_where_it_should() {
        let y = Image::new(12, 10, FIXTURE_Y.to_vec()).unwrap();
        let r = tv_denoise_chambolle(&y, 0.3, 0.0, 51).unwrap();
        let want = tv_denoise(&y, 0.3, &TvOptions { tau: 0.25, max_iter: 50, tol: 0.0 }).unwrap();
        assert_eq!((r.iterations, r.converged), (50, false));
        assert_eq!(r.image, want.image);
        // The rule by brute force: xᵏ from k updates, E from its definition.
        let energy = |x: &Image| {
            let fit: f64 = x.data.iter().zip(&y.data).map(|(a, b)| (a - b) * (a - b)).sum();
            (fit + 0.3 * total_variation(x)) / y.len() as f64
        };
        let xk = |k: usize| if k == 0 { y.clone() } else { tv_denoise(&y, 0.3, &TvOptions { tau: 0.25, max_iter: k, tol: 0.0 }).unwrap().image };
        for eps in [1e-2, 2e-4, 1e-5] {
            let e0 = energy(&y);
            let stop = (1..200).find(|&k| (energy(&xk(k - 1)) - energy(&xk(k))).abs() < eps * e0).unwrap();
            let r = tv_denoise_chambolle(&y, 0.3, eps, 200).unwrap();
            assert_eq!((r.iterations, r.converged), (stop, true), "eps = {eps}");
            assert_eq!(r.image, xk(stop));
        }
        assert!(tv_denoise_chambolle(&y, 0.0, 0.0, 10).is_err());
        assert!(tv_denoise_chambolle(&y, 0.1, -1.0, 10).is_err());
        assert!(tv_denoise_chambolle(&y, 0.1, 0.0, 0).is_err());
    }

    #[test]
    fn total_variation_values() {
        // A vertical step of height h across c columns: TV = h·c (rows·cols independent otherwise).
        let x = Image::from_fn(6, 5, |i, _| if i < 3 { 0.0 } else { 2.0 }).unwrap();
        assert!((total_variation(&x) - 10.0).abs() < 1e-12);
        // A single bright pixel at (1, 1): gradients (−1, −1)... isotropic: √2 at (1,1), 1 above, 1 left.
        let mut x = Image::zeros(3, 3).unwrap();
        x.set(1, 1, 1.0);
        assert!((total_variation(&x) - (2.0 + 2f64.sqrt())).abs() < 1e-12);
        assert_eq!(total_variation(&Image::from_fn(4, 4, |_, _| 3.0).unwrap()), 0.0);
    }

    fn noisy() -> Image {
        add_gaussian_noise(&piecewise_constant(24, 20).unwrap(), 0.2, 5).unwrap()
    }

    #[test]
    fn optimality_by_perturbation_and_duality_gap() {
        let y = noisy();
        let lambda = 0.15;
        let opts = TvOptions { tau: 0.125, max_iter: 20_000, tol: 1e-8 };
        let r = tv_denoise(&y, lambda, &opts).unwrap();
        assert!(r.converged, "{} iterations, change {}", r.iterations, r.rel_change);
        // |p_i| ≤ 1: the dual point is feasible, so D(p) is a lower bound.
        let n = y.len();
        assert!((0..n).all(|i| r.dual[i].hypot(r.dual[n + i]) <= 1.0 + 1e-12));
        assert!(r.gap >= -1e-9, "gap {}", r.gap);
        assert!(r.gap < 1e-5 * r.objective, "gap {} vs objective {}", r.gap, r.objective);
        assert!((r.objective - tv_objective(&r.image, &y, lambda).unwrap()).abs() < 1e-12);
        // No small random perturbation does better (beyond the gap, which bounds P(x) − P(x*)).
        let mut rng = Rng::new(9);
        for scale in [1e-2, 1e-3, 1e-4] {
            for _ in 0..20 {
                let mut z = r.image.clone();
                z.data.iter_mut().for_each(|v| *v += scale * rng.normal());
                let pz = tv_objective(&z, &y, lambda).unwrap();
                assert!(pz >= r.objective - r.gap.max(0.0) - 1e-12, "scale {scale}: {pz} < {}", r.objective);
            }
        }
        // Denoising helps: closer to the clean phantom than y is.
        let clean = piecewise_constant(24, 20).unwrap();
        let err = |a: &Image| a.data.iter().zip(&clean.data).map(|(u, v)| (u - v).powi(2)).sum::<f64>();
        assert!(err(&r.image) < 0.5 * err(&y));
    }

    #[test]
    fn iterations_stop_and_objective_decreases_with_iterations() {
        let y = noisy();
        let few = tv_denoise(&y, 0.15, &TvOptions { max_iter: 5, tol: 0.0, ..TvOptions::default() }).unwrap();
        assert_eq!((few.iterations, few.converged), (5, false));
        let many = tv_denoise(&y, 0.15, &TvOptions { max_iter: 2000, tol: 0.0, ..TvOptions::default() }).unwrap();
        assert!(many.gap < few.gap);
        assert!(many.objective <= few.objective + 1e-12);
        let zero = tv_denoise(&y, 0.15, &TvOptions { max_iter: 0, ..TvOptions::default() }).unwrap();
        assert_eq!(zero.image, y);
        assert_eq!(zero.iterations, 0);
    }

    #[test]
    fn option_errors() {
        let y = noisy();
        assert!(matches!(tv_denoise(&y, 0.0, &TvOptions::default()), Err(Error::Option { name: "lambda", .. })));
        let bad = TvOptions { tau: 0.3, ..TvOptions::default() };
        assert!(matches!(tv_denoise(&y, 0.1, &bad), Err(Error::Option { name: "tau", .. })));
        let bad = TvOptions { tol: -1.0, ..TvOptions::default() };
        assert!(matches!(tv_denoise(&y, 0.1, &bad), Err(Error::Option { name: "tol", .. })));
        let mut z = y.clone();
        z.data[3] = f64::NAN;
        assert!(matches!(tv_denoise(&z, 0.1, &TvOptions::default()), Err(Error::NonFinite { .. })));
    }
}
