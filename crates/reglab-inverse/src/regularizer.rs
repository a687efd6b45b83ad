//! Regularizers `R` for `min_x ½‖Ax − y‖² + λ R(x)`, each with its value and its proximal
//! operator `prox_{ηR}(v) = argmin_z ½‖z − v‖² + η R(z)` (`η ≥ 0`; `η = 0` returns `v`).
//!
//! - [`Tikhonov`]: `R(x) = ‖x‖²`, `prox_{ηR}(v) = v / (1 + 2η)` (closed form).
//! - [`GradientTikhonov`]: `R(x) = ‖∇x‖²`, `prox_{ηR}(v) = (I + 2η∇ᵀ∇)⁻¹ v`, solved by conjugate
//!   gradients (the matrix is symmetric positive definite) to a relative residual
//!   `‖r‖ ≤ cg_tol·‖v‖`.
//! - [`TotalVariation`]: isotropic `R(x) = TV(x) = Σ_i ‖(∇x)_i‖₂`; the prox is TV denoising with
//!   weight `η`, [`tv_denoise`] (Chambolle's projection algorithm).
//! - [`WeightedTv`] (catalog #16): `R_w(x) = Σ_i w_i ‖(∇x)_i‖₂` with weights
//!   `w_i = η_w / √(η_w² + ‖(∇x̃)_i‖²) ∈ (0, 1]` from a preliminary estimate `x̃`
//!   ([`WeightedTv::from_estimate`]): small where `x̃` has edges, so edges are penalized less.
//!   Its prox is [`weighted_tv_denoise`].
//! - **Space-variant TV** (catalog #90; E. Morotti, D. Evangelista, A. Sebastiani,
//!   E. Loli Piccolomini, "Space-Variant Total Variation boosted by learning techniques in
//!   few-view tomographic imaging", 2024): the same `R_w` with the TpV-reweighting weights
//!   `w_i = (η_w / √(η_w² + g̃_i²))^{1−p}`, `p ∈ [0, 1]`, where `g̃_i ≥ 0` estimates the gradient
//!   magnitude `‖(∇x)_i‖₂` of the unknown image: `‖(∇x̃)_i‖₂` of a preliminary reconstruction
//!   ([`WeightedTv::space_variant`]) or a separate estimate of the gradient magnitude, which the
//!   paper predicts with a network trained on image and gradient
//!   ([`WeightedTv::from_gradient_magnitude`]). It is the reweighting that approximates the TpV
//!   quasi-norm `Σ_i ‖(∇x)_i‖^p` by a weighted TV: at `x = x̃`, `w_i ‖(∇x̃)_i‖ → η_w^{1−p}
//!   ‖(∇x̃)_i‖^p` where the gradient is large against `η_w`, while flat regions (`g̃ ≪ η_w`) keep
//!   weight ≈ 1; the weights are frozen once, so the problem stays convex. `p = 0` gives the
//!   weights of [`WeightedTv::from_estimate`] (#16) and `p = 1` plain TV. The exponent form
//!   `(√(η² + ‖∇x‖²)/η)^{p−1}` is the one of the authors' TpV code (github
//!   devangelista2/TpV-squared, `variational/solvers.py`), which recomputes it at every
//!   iteration; here, as in #16 and #90, the weights are computed once from the estimate.
//!
//! **Weighted TV prox.** With `q ∈ ℝ^{2×rows×cols}`, `R_w(x) = max_{|q_i| ≤ w_i} ⟨q, ∇x⟩`, and the
//! prox `x* = argmin ½‖x − v‖² + η R_w(x)` is `x* = v − η∇ᵀq* = v + η div q*` where `q*` solves the
//! dual `min_{|q_i| ≤ w_i} D(q) = ½‖v − η∇ᵀq‖²`. We solve the dual by **projected gradient**:
//! `∇D(q) = −η∇x` with `x = v − η∇ᵀq`, Lipschitz constant `η²‖∇‖² ≤ 8η²`, so with step
//! `τ/η²` the iteration is
//!
//! `q_i ← Π_{w_i}(q_i + (τ/η)(∇x)_i)`,  `Π_r(u) = u · min(1, r/|u|)` (projection on the ball of
//! radius `r`),
//!
//! which converges for `0 < τ < 2/8 = 1/4` (step below `2/L`); default `τ = 1/8` (step `1/L`),
//! [`TvOptions::tau`] accepts `(0, 1/4]` (`‖∇‖² < 8` strictly on a finite grid). Every iterate
//! is feasible, `|q_i| ≤ w_i`, and at the solution `(v − x*)/η = ∇ᵀq*` with
//! `⟨q*, ∇x*⟩ = R_w(x*)`: the dual certificate of `(v − x*)/η ∈ ∂R_w(x*)`. Stopping: the relative
//! change of `x` below `tol`, or `max_iter` (as [`tv_denoise`]). Note the sign convention: our
//! `q` points along `∇x`; Chambolle's `p` in [`tv_denoise`] is `−q`.

use crate::cg::Cg;
use crate::error::{Error, Result, check_finite};
use crate::image::Image;
use crate::operator::{Gradient, LinearOperator, dot};
use crate::tv::{TvOptions, relative_change, total_variation, tv_denoise};

/// A convex regularizer with its value and proximal operator.
pub trait Regularizer {
    /// `R(x)`.
    fn value(&self, x: &Image) -> f64;
    /// `prox_{ηR}(v) = argmin_z ½‖z − v‖² + η R(z)`, `η ≥ 0` (`η = 0`: `v`).
    fn prox(&self, v: &Image, eta: f64) -> Result<Image>;
}

pub(crate) fn check_eta(eta: f64) -> Result<()> {
    if eta.is_finite() && eta >= 0.0 { Ok(()) } else { Err(Error::Option { name: "eta", why: format!("must be finite and ≥ 0, got {eta}") }) }
}

fn check_eta_w(eta_w: f64) -> Result<()> {
    if eta_w.is_finite() && eta_w > 0.0 { Ok(()) } else { Err(Error::Option { name: "eta_w", why: format!("must be finite and > 0, got {eta_w}") }) }
}

fn grad_of(x: &Image) -> Gradient {
    Gradient { rows: x.rows, cols: x.cols }
}

/// `R(x) = ‖x‖²`; `prox_{ηR}(v) = v / (1 + 2η)`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tikhonov;

impl Regularizer for Tikhonov {
    fn value(&self, x: &Image) -> f64 {
        dot(&x.data, &x.data)
    }
    fn prox(&self, v: &Image, eta: f64) -> Result<Image> {
        check_eta(eta)?;
        let s = 1.0 / (1.0 + 2.0 * eta);
        Image::new(v.rows, v.cols, v.data.iter().map(|a| a * s).collect())
    }
}

/// `R(x) = ‖∇x‖²`; the prox solves `(I + 2η∇ᵀ∇) z = v` by conjugate gradients.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GradientTikhonov {
    /// CG stops when `‖v − (I + 2η∇ᵀ∇)z‖ ≤ cg_tol·‖v‖`; default `1e-12`.
    pub cg_tol: f64,
    /// Maximum CG iterations; default 2000.
    pub cg_max_iter: usize,
}

impl Default for GradientTikhonov {
    fn default() -> Self {
        Self { cg_tol: 1e-12, cg_max_iter: 2000 }
    }
}

impl Regularizer for GradientTikhonov {
    fn value(&self, x: &Image) -> f64 {
        let g = grad_of(x).forward(&x.data).expect("gradient length");
        dot(&g, &g)
    }
    fn prox(&self, v: &Image, eta: f64) -> Result<Image> {
        check_eta(eta)?;
        check_finite("v", &v.data)?;
        prox_squared_norm(&grad_of(v), v, eta, self.cg_tol, self.cg_max_iter)
    }
}

/// The prox of `η‖Bz‖²`: `(I + 2ηBᵀB) z = v` by conjugate gradients from `z = v`, until
/// `‖v − (I + 2ηBᵀB)z‖ ≤ tol·‖v‖` or `max_iter` iterations (`B` takes images of `v`'s size).
pub(crate) fn prox_squared_norm<B: LinearOperator>(b: &B, v: &Image, eta: f64, tol: f64, max_iter: usize) -> Result<Image> {
    let mut bz = vec![0.0; b.output_len()];
    let mut apply_m = |z: &[f64], out: &mut [f64]| {
        b.apply(z, &mut bz);
        b.adjoint(&bz, out);
        for (o, zi) in out.iter_mut().zip(z) {
            *o = zi + 2.0 * eta * *o;
        }
    };
    let mut mz = vec![0.0; v.len()];
    apply_m(&v.data, &mut mz);
    let mut cg = Cg::new(&v.data, v.data.clone(), &mz);
    let target = tol * dot(&v.data, &v.data).sqrt();
    for _ in 0..max_iter {
        if cg.rr.sqrt() <= target || !cg.step(&mut apply_m) {
            break;
        }
    }
    Image::new(v.rows, v.cols, cg.x)
}

/// Isotropic TV, `R(x) = Σ_i ‖(∇x)_i‖₂`; the prox is [`tv_denoise`] with weight `η`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TotalVariation {
    /// Options of the inner [`tv_denoise`]; default `τ = 1/8`, `max_iter = 5000`, `tol = 1e-9`.
    pub opts: TvOptions,
}

impl Default for TotalVariation {
    fn default() -> Self {
        Self { opts: TvOptions { tau: 0.125, max_iter: 5000, tol: 1e-9 } }
    }
}

impl Regularizer for TotalVariation {
    fn value(&self, x: &Image) -> f64 {
        total_variation(x)
    }
    fn prox(&self, v: &Image, eta: f64) -> Result<Image> {
        check_eta(eta)?;
        if eta == 0.0 {
            return Ok(v.clone());
        }
        Ok(tv_denoise(v, eta, &self.opts)?.image)
    }
}

/// Weighted TV `R_w(x) = Σ_i w_i ‖(∇x)_i‖₂` (see the [module docs](self)).
#[derive(Debug, Clone, PartialEq)]
pub struct WeightedTv {
    rows: usize,
    cols: usize,
    weights: Vec<f64>,
    /// Options of the inner [`weighted_tv_denoise`]; default `τ = 1/8`, `max_iter = 5000`,
    /// `tol = 1e-9`.
    pub opts: TvOptions,
}

impl WeightedTv {
    /// Weighted TV on `rows × cols` images with per-pixel weights `w_i ≥ 0` (row-major, one per
    /// pixel); `Err` if the length is wrong or a weight is negative or not finite.
    pub fn new(rows: usize, cols: usize, weights: Vec<f64>) -> Result<Self> {
        if rows == 0 || cols == 0 {
            return Err(Error::Empty { what: "image" });
        }
        if weights.len() != rows * cols {
            return Err(Error::Length { what: "weights", expected: rows * cols, len: weights.len() });
        }
        check_finite("weights", &weights)?;
        if weights.iter().any(|&w| w < 0.0) {
            return Err(Error::Option { name: "weights", why: "must be ≥ 0".into() });
        }
        Ok(Self { rows, cols, weights, opts: TotalVariation::default().opts })
    }

    /// Weights `w_i = η_w / √(η_w² + ‖(∇x̃)_i‖²)` from a preliminary estimate `x̃`; `Err` unless
    /// `η_w > 0` finite and `x̃` finite.
    pub fn from_estimate(estimate: &Image, eta_w: f64) -> Result<Self> {
        check_eta_w(eta_w)?;
        check_finite("estimate", &estimate.data)?;
        let n = estimate.len();
        let g = grad_of(estimate).forward(&estimate.data)?;
        let weights = (0..n).map(|i| eta_w / (eta_w * eta_w + g[i] * g[i] + g[n + i] * g[n + i]).sqrt()).collect();
        Self::new(estimate.rows, estimate.cols, weights)
    }

    /// Space-variant TV (#90): weights `w_i = (η_w / √(η_w² + ‖(∇x̃)_i‖²))^{1−p}` from a
    /// preliminary estimate `x̃`; `Err` unless `η_w > 0` finite, `p ∈ [0, 1]` and `x̃` finite.
    pub fn space_variant(estimate: &Image, eta_w: f64, p: f64) -> Result<Self> {
        check_finite("estimate", &estimate.data)?;
        let n = estimate.len();
        let g = grad_of(estimate).forward(&estimate.data)?;
        let magnitude: Vec<f64> = (0..n).map(|i| (g[i] * g[i] + g[n + i] * g[n + i]).sqrt()).collect();
        Self::from_gradient_magnitude(estimate.rows, estimate.cols, &magnitude, eta_w, p)
    }

    /// Space-variant TV (#90) from an estimate `g̃_i ≥ 0` of the gradient magnitude
    /// `‖(∇x)_i‖₂` (row-major, one per pixel): `w_i = (η_w / √(η_w² + g̃_i²))^{1−p}`; `Err`
    /// unless `η_w > 0` finite, `p ∈ [0, 1]`, and every `g̃_i` finite and `≥ 0`.
    pub fn from_gradient_magnitude(rows: usize, cols: usize, magnitude: &[f64], eta_w: f64, p: f64) -> Result<Self> {
        check_eta_w(eta_w)?;
        if !(0.0..=1.0).contains(&p) {
            return Err(Error::Option { name: "p", why: format!("must be in [0, 1], got {p}") });
        }
        check_finite("gradient magnitude", magnitude)?;
        if magnitude.iter().any(|&g| g < 0.0) {
            return Err(Error::Option { name: "gradient magnitude", why: "must be ≥ 0".into() });
        }
        let weights = magnitude.iter().map(|&g| (eta_w / (eta_w * eta_w + g * g).sqrt()).powf(1.0 - p)).collect();
        Self::new(rows, cols, weights)
    }

    /// The weights `w_i`, row-major.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }
}

/// `Σ_i w_i ‖(∇x)_i‖₂`; panics if `weights.len() ≠ x.len()`.
pub fn weighted_total_variation(x: &Image, weights: &[f64]) -> f64 {
    assert_eq!(weights.len(), x.len(), "weights length");
    let n = x.len();
    let g = grad_of(x).forward(&x.data).expect("gradient length");
    (0..n).map(|i| weights[i] * g[i].hypot(g[n + i])).sum()
}

impl Regularizer for WeightedTv {
    fn value(&self, x: &Image) -> f64 {
        weighted_total_variation(x, &self.weights)
    }
    fn prox(&self, v: &Image, eta: f64) -> Result<Image> {
        if (v.rows, v.cols) != (self.rows, self.cols) {
            return Err(Error::Length { what: "v", expected: self.rows * self.cols, len: v.len() });
        }
        Ok(weighted_tv_denoise(v, &self.weights, eta, &self.opts)?.image)
    }
}

/// The outcome of [`weighted_tv_denoise`].
#[derive(Debug, Clone, PartialEq)]
pub struct WeightedTvResult {
    /// `x = v − η∇ᵀq`.
    pub image: Image,
    /// The dual field `q` (laid out as [`Gradient`]'s output), `|q_i| ≤ w_i`, pointing along `∇x`.
    pub dual: Vec<f64>,
    /// Iterations run.
    pub iterations: usize,
    /// Whether the relative-change rule fired.
    pub converged: bool,
}

/// `argmin_x ½‖x − v‖² + η Σ_i w_i ‖(∇x)_i‖₂` by projected gradient on the dual (see the
/// [module docs](self)); `η = 0` returns `v`. `Err` unless `η ≥ 0`, `0 < τ ≤ 1/4`, `tol ≥ 0`,
/// `v` finite, `weights.len() = v.len()`.
pub fn weighted_tv_denoise(v: &Image, weights: &[f64], eta: f64, opts: &TvOptions) -> Result<WeightedTvResult> {
    check_eta(eta)?;
    opts.validate()?;
    if weights.len() != v.len() {
        return Err(Error::Length { what: "weights", expected: v.len(), len: weights.len() });
    }
    check_finite("v", &v.data)?;
    let n = v.len();
    let mut q = vec![0.0; 2 * n];
    if eta == 0.0 {
        return Ok(WeightedTvResult { image: v.clone(), dual: q, iterations: 0, converged: true });
    }
    let grad = grad_of(v);
    let mut g = vec![0.0; 2 * n];
    let mut atq = vec![0.0; n];
    let mut x = v.data.clone();
    let s = opts.tau / eta;
    let (mut iterations, mut converged) = (0, false);
    while iterations < opts.max_iter {
        grad.apply(&x, &mut g);
        for i in 0..n {
            let (a, b) = (q[i] + s * g[i], q[n + i] + s * g[n + i]);
            let norm = (a * a + b * b).sqrt(); // (not `hypot`: much slower, and no overflow here)
            let scale = if norm > weights[i] { weights[i] / norm } else { 1.0 };
            q[i] = a * scale;
            q[n + i] = b * scale;
        }
        grad.adjoint(&q, &mut atq);
        let (mut dx2, mut x2) = (0.0, 0.0);
        for i in 0..n {
            let new = v.data[i] - eta * atq[i];
            dx2 += (new - x[i]) * (new - x[i]);
            x2 += new * new;
            x[i] = new;
        }
        iterations += 1;
        let rel = relative_change(dx2, x2);
        if rel <= opts.tol {
            converged = true;
            break;
        }
    }
    Ok(WeightedTvResult { image: Image::new(v.rows, v.cols, x)?, dual: q, iterations, converged })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::phantom::{Rng, add_gaussian_noise, piecewise_constant};

    fn noisy() -> Image {
        add_gaussian_noise(&piecewise_constant(20, 18).unwrap(), 0.2, 11).unwrap()
    }

    fn tight() -> TvOptions {
        TvOptions { tau: 0.125, max_iter: 20_000, tol: 1e-9 }
    }

    /// `F(z) = ½‖z − v‖² + ηR(z)` is not beaten by random perturbations of `p`.
    pub(crate) fn check_perturbations(reg: &dyn Regularizer, v: &Image, p: &Image, eta: f64) {
        let f = |z: &Image| 0.5 * z.data.iter().zip(&v.data).map(|(a, b)| (a - b).powi(2)).sum::<f64>() + eta * reg.value(z);
        let fp = f(p);
        let mut rng = Rng::new(21);
        for scale in [1e-2, 1e-3, 1e-4] {
            for _ in 0..20 {
                let mut z = p.clone();
                z.data.iter_mut().for_each(|a| *a += scale * rng.normal());
                assert!(f(&z) >= fp - 1e-9 * fp.abs(), "scale {scale}: {} < {fp}", f(&z));
            }
        }
    }

    #[test]
    fn tikhonov_prox_gradient_equation() {
        let v = noisy();
        for eta in [0.0, 0.3, 2.0] {
            let p = Tikhonov.prox(&v, eta).unwrap();
            // p − v + 2η p = 0.
            let res = p.data.iter().zip(&v.data).map(|(a, b)| (a - b + 2.0 * eta * a).abs());
            assert!(res.fold(0.0, f64::max) < 1e-8);
            check_perturbations(&Tikhonov, &v, &p, eta);
        }
    }

    #[test]
    fn gradient_tikhonov_prox_gradient_equation() {
        let v = noisy();
        let reg = GradientTikhonov::default();
        let g = grad_of(&v);
        for eta in [0.0, 0.3, 5.0] {
            let p = reg.prox(&v, eta).unwrap();
            // p − v + 2η∇ᵀ∇p = 0.
            let gp = g.forward(&p.data).unwrap();
            let gtgp = g.transpose(&gp).unwrap();
            let res = (0..v.len()).map(|k| (p.data[k] - v.data[k] + 2.0 * eta * gtgp[k]).abs()).fold(0.0, f64::max);
            assert!(res < 1e-8, "η = {eta}: residual {res}");
            check_perturbations(&reg, &v, &p, eta);
        }
        // Mean preserved (∇ᵀ∇ annihilates constants and is symmetric).
        let p = reg.prox(&v, 1.0).unwrap();
        let (sp, sv): (f64, f64) = (p.data.iter().sum(), v.data.iter().sum());
        assert!((sp - sv).abs() < 1e-8);
    }

    /// Dual certificate: `v − p = η∇ᵀq`, `|q_i| ≤ w_i`, `⟨q, ∇p⟩ = R_w(p)` (relative `rtol`).
    fn check_certificate(v: &Image, p: &Image, q: &[f64], w: &[f64], eta: f64, rtol: f64) {
        let g = grad_of(v);
        let n = v.len();
        let gtq = g.transpose(q).unwrap();
        let res = (0..n).map(|k| (v.data[k] - p.data[k] - eta * gtq[k]).abs()).fold(0.0, f64::max);
        assert!(res < 1e-10, "v − p − η∇ᵀq = {res}");
        assert!((0..n).all(|i| q[i].hypot(q[n + i]) <= w[i] * (1.0 + 1e-12)));
        let gp = g.forward(&p.data).unwrap();
        let pairing = dot(q, &gp);
        let r = weighted_total_variation(p, w);
        assert!(pairing <= r * (1.0 + 1e-12));
        assert!((r - pairing).abs() <= rtol * r, "⟨q, ∇p⟩ = {pairing}, R_w(p) = {r}");
    }

    #[test]
    fn tv_prox_certificate_and_perturbations() {
        let v = noisy();
        let eta = 0.15;
        let reg = TotalVariation { opts: tight() };
        let r = tv_denoise(&v, eta, &reg.opts).unwrap();
        let q: Vec<f64> = r.dual.iter().map(|a| -a).collect();
        check_certificate(&v, &r.image, &q, &vec![1.0; v.len()], eta, 1e-3);
        let p = reg.prox(&v, eta).unwrap();
        assert_eq!(p, r.image);
        check_perturbations(&reg, &v, &p, eta);
    }

    #[test]
    fn weighted_tv_prox_certificate_and_perturbations() {
        let v = noisy();
        let pre = tv_denoise(&v, 0.1, &TvOptions::default()).unwrap().image;
        let mut reg = WeightedTv::from_estimate(&pre, 0.1).unwrap();
        reg.opts = tight();
        let w = reg.weights().to_vec();
        assert!(w.iter().all(|&a| a > 0.0 && a <= 1.0));
        assert!(w.iter().any(|&a| a < 0.5), "edges get small weights");
        let eta = 0.15;
        let r = weighted_tv_denoise(&v, &w, eta, &reg.opts).unwrap();
        check_certificate(&v, &r.image, &r.dual, &w, eta, 1e-3);
        let p = reg.prox(&v, eta).unwrap();
        assert_eq!(p, r.image);
        check_perturbations(&reg, &v, &p, eta);
    }

    #[test]
    fn weighted_tv_with_unit_weights_is_tv_denoising() {
        let v = noisy();
        let a = weighted_tv_denoise(&v, &vec![1.0; v.len()], 0.2, &tight()).unwrap();
        let b = tv_denoise(&v, 0.2, &tight()).unwrap();
        let err = a.image.data.iter().zip(&b.image.data).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
        assert!(err < 1e-3, "max diff {err}");
    }

    #[test]
    fn space_variant_weights_interpolate_between_weighted_tv_and_tv() {
        let pre = tv_denoise(&noisy(), 0.1, &TvOptions::default()).unwrap().image;
        let eta = 0.1;
        let w16 = WeightedTv::from_estimate(&pre, eta).unwrap();
        let p0 = WeightedTv::space_variant(&pre, eta, 0.0).unwrap();
        let p1 = WeightedTv::space_variant(&pre, eta, 1.0).unwrap();
        let half = WeightedTv::space_variant(&pre, eta, 0.5).unwrap();
        // p = 0 is #16 (to rounding: sqrt of the sum of squares instead of the sum itself).
        for (a, b) in p0.weights().iter().zip(w16.weights()) {
            assert!((a - b).abs() <= 1e-15, "{a} vs {b}");
        }
        assert!(p1.weights().iter().all(|&w| w == 1.0), "p = 1 is TV");
        // w^{1/2} is the geometric mean of w and 1: between them, and the square gives #16.
        for (&h, &w) in half.weights().iter().zip(w16.weights()) {
            assert!(h >= w && h <= 1.0);
            assert!((h * h - w).abs() <= 1e-15);
        }
        // From a gradient magnitude directly, by hand: η / √(η² + g²) with g = 3η is 1/√10.
        let g = [0.0, 3.0 * eta, 1e9];
        let w = WeightedTv::from_gradient_magnitude(1, 3, &g, eta, 0.0).unwrap();
        assert_eq!(w.weights()[0], 1.0);
        assert!((w.weights()[1] - 10f64.sqrt().recip()).abs() < 1e-15);
        assert!(w.weights()[2] < 1e-9);
        let w = WeightedTv::from_gradient_magnitude(1, 3, &g, eta, 0.5).unwrap();
        assert!((w.weights()[1] - 10f64.powf(-0.25)).abs() < 1e-15);
    }

    #[test]
    fn space_variant_weighted_term_approximates_tpv_on_edges() {
        // w(s)·s → η^{1−p} s^p for s ≫ η (the TpV quasi-norm, up to the constant η^{1−p}),
        // and w(s) → 1 for s ≪ η.
        let eta = 0.05;
        for p in [0.0, 0.3, 0.5, 0.8] {
            let g = [1e4 * eta, 1e-4 * eta];
            let w = WeightedTv::from_gradient_magnitude(1, 2, &g, eta, p).unwrap();
            let (edge, flat) = (w.weights()[0] * g[0], w.weights()[1]);
            let tpv = eta.powf(1.0 - p) * g[0].powf(p);
            assert!((edge / tpv - 1.0).abs() < 1e-7, "p = {p}: {edge} vs {tpv}");
            assert!((flat - 1.0).abs() < 1e-7, "p = {p}: {flat}");
        }
    }

    #[test]
    fn space_variant_prox_certificate() {
        let v = noisy();
        let pre = tv_denoise(&v, 0.1, &TvOptions::default()).unwrap().image;
        let mut reg = WeightedTv::space_variant(&pre, 0.1, 0.3).unwrap();
        reg.opts = tight();
        let w = reg.weights().to_vec();
        let r = weighted_tv_denoise(&v, &w, 0.15, &reg.opts).unwrap();
        check_certificate(&v, &r.image, &r.dual, &w, 0.15, 1e-3);
        check_perturbations(&reg, &v, &reg.prox(&v, 0.15).unwrap(), 0.15);
    }

    #[test]
    fn errors() {
        let v = noisy();
        for (eta, p) in [(0.0, 0.5), (f64::NAN, 0.5), (0.1, -0.1), (0.1, 1.5), (0.1, f64::NAN)] {
            assert!(matches!(WeightedTv::space_variant(&v, eta, p), Err(Error::Option { .. })), "{eta} {p}");
        }
        assert!(matches!(WeightedTv::from_gradient_magnitude(1, 2, &[1.0, -1.0], 0.1, 0.0), Err(Error::Option { .. })));
        assert!(matches!(WeightedTv::from_gradient_magnitude(1, 3, &[1.0, 1.0], 0.1, 0.0), Err(Error::Length { .. })));
        assert!(matches!(Tikhonov.prox(&v, -1.0), Err(Error::Option { .. })));
        assert!(matches!(WeightedTv::from_estimate(&v, 0.0), Err(Error::Option { .. })));
        assert!(matches!(WeightedTv::new(2, 2, vec![1.0; 3]), Err(Error::Length { .. })));
        let w = WeightedTv::new(2, 2, vec![1.0; 4]).unwrap();
        assert!(matches!(w.prox(&v, 0.1), Err(Error::Length { .. })));
    }
}
