//! Smoothed isotropic total variation: value, gradient and Hessian-vector product.
//!
//! For an image `x ∈ ℝⁿ`, `n = rows·cols`, the forward-difference gradient `∇` of
//! [`Gradient`] (Neumann boundary) gives at pixel `i` the pair `gᵢ = ((∇x)¹ᵢ, (∇x)²ᵢ) ∈ ℝ²`.
//! With a smoothing `ν > 0`,
//!
//! `TV_ν(x) = Σᵢ (φᵢ − ν)`,  `φᵢ = √(‖gᵢ‖² + ν²)`,
//!
//! which is `C^∞`, convex, `0 ≤ TV(x) − TV_ν(x) ≤ n·ν` (so `TV_ν → TV` as `ν → 0`; the `− ν`
//! makes `TV_ν` of a constant image 0), and
//!
//! - gradient: `∇TV_ν(x) = ∇ᵀ(gᵢ/φᵢ)ᵢ`;
//! - Hessian-vector product with `v ∈ ℝⁿ`, `dᵢ = (∇v)ᵢ`:
//!   `∇²TV_ν(x) v = ∇ᵀ( dᵢ/φᵢ − gᵢ ⟨gᵢ, dᵢ⟩/φᵢ³ )ᵢ`;
//! - the gradient is Lipschitz with constant `‖∇‖²/ν ≤ 8/ν` (each `gᵢ ↦ gᵢ/φᵢ` is `1/ν`-Lipschitz).
//!
//! The bilevel learning of [`crate::bilevel`] needs a twice-differentiable lower level; this is
//! the isotropic form of the smoothed TV used by the MAID paper's TV-denoising example (its code
//! smooths each difference separately, `Σ √((∇x)ᵏᵢ² + ν²)`, the anisotropic form).

use crate::error::{Error, Result};
use crate::operator::{Gradient, LinearOperator};

/// The smoothed total variation `TV_ν` of `rows × cols` images (see the [module docs](self)).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SmoothTv {
    grad: Gradient,
    nu: f64,
}

impl SmoothTv {
    /// `TV_ν` on `rows × cols` images; `Err` if empty or unless `ν` is finite and `> 0`.
    pub fn new(rows: usize, cols: usize, nu: f64) -> Result<Self> {
        if !(nu > 0.0 && nu.is_finite()) {
            return Err(Error::Option { name: "nu", why: format!("the TV smoothing must be finite and > 0, got {nu}") });
        }
        Ok(Self { grad: Gradient::new(rows, cols)?, nu })
    }

    /// The smoothing `ν`.
    pub fn nu(&self) -> f64 {
        self.nu
    }

    /// `n = rows·cols`.
    pub fn len(&self) -> usize {
        self.grad.input_len()
    }

    /// Always false (the image is never empty).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// A Lipschitz constant of `∇TV_ν`: `8/ν` (`‖∇‖² ≤ 8`).
    pub fn gradient_lipschitz(&self) -> f64 {
        8.0 / self.nu
    }

    /// The state at `x` that the value, gradient and Hessian products share: `∇x` and `φ`.
    pub fn at(&self, x: &[f64]) -> SmoothTvAt {
        let n = self.len();
        let mut g = vec![0.0; 2 * n];
        self.grad.apply(x, &mut g);
        let phi = (0..n).map(|i| (g[i] * g[i] + g[n + i] * g[n + i] + self.nu * self.nu).sqrt()).collect();
        SmoothTvAt { tv: *self, g, phi }
    }
}

/// [`SmoothTv`] at one image `x`: `gᵢ = (∇x)ᵢ` and `φᵢ`.
#[derive(Debug, Clone)]
pub struct SmoothTvAt {
    tv: SmoothTv,
    g: Vec<f64>,
    phi: Vec<f64>,
}

impl SmoothTvAt {
    /// `n = rows·cols`, the length of `x`.
    pub fn len(&self) -> usize {
        self.phi.len()
    }

    /// Always false (the image is never empty).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// `TV_ν(x)`.
    pub fn value(&self) -> f64 {
        self.phi.iter().map(|p| p - self.tv.nu).sum()
    }

    /// `out ← ∇TV_ν(x)`.
    pub fn gradient(&self, out: &mut [f64]) {
        let n = self.phi.len();
        let mut w = vec![0.0; 2 * n];
        for i in 0..n {
            w[i] = self.g[i] / self.phi[i];
            w[n + i] = self.g[n + i] / self.phi[i];
        }
        self.tv.grad.adjoint(&w, out);
    }

    /// `out ← ∇²TV_ν(x) v`.
    pub fn hessian_times(&self, v: &[f64], out: &mut [f64]) {
        let n = self.phi.len();
        let mut d = vec![0.0; 2 * n];
        self.tv.grad.apply(v, &mut d);
        for i in 0..n {
            let (g1, g2, p) = (self.g[i], self.g[n + i], self.phi[i]);
            let gd = (g1 * d[i] + g2 * d[n + i]) / (p * p * p);
            d[i] = d[i] / p - g1 * gd;
            d[n + i] = d[n + i] / p - g2 * gd;
        }
        self.tv.grad.adjoint(&d, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phantom::{Rng, shepp_logan};
    use crate::tv::total_variation;

    fn random(n: usize, seed: u64) -> Vec<f64> {
        let mut r = Rng::new(seed);
        (0..n).map(|_| r.normal()).collect()
    }

    /// The value by its definition, pixel by pixel with explicit neighbours (independent of
    /// [`Gradient`]).
    fn direct(x: &[f64], rows: usize, cols: usize, nu: f64) -> f64 {
        let mut s = 0.0;
        for i in 0..rows {
            for j in 0..cols {
                let k = i * cols + j;
                let a = if i + 1 < rows { x[k + cols] - x[k] } else { 0.0 };
                let b = if j + 1 < cols { x[k + 1] - x[k] } else { 0.0 };
                s += (a * a + b * b + nu * nu).sqrt() - nu;
            }
        }
        s
    }

    #[test]
    fn value_matches_the_definition_and_tends_to_tv() {
        let (r, c) = (7, 9);
        let x = random(r * c, 1);
        for nu in [1.0, 0.1, 1e-3] {
            let tv = SmoothTv::new(r, c, nu).unwrap();
            let v = tv.at(&x).value();
            assert!((v - direct(&x, r, c, nu)).abs() < 1e-12 * v.abs().max(1.0));
            let exact = total_variation(&crate::Image::new(r, c, x.clone()).unwrap());
            // 0 ≤ TV − TV_ν ≤ n·ν
            assert!(exact - v >= -1e-12 && exact - v <= (r * c) as f64 * nu + 1e-12, "nu {nu}: {exact} vs {v}");
        }
        // A constant image has TV_ν = 0 and gradient 0.
        let tv = SmoothTv::new(r, c, 0.1).unwrap();
        let at = tv.at(&vec![0.7; r * c]);
        assert!(at.value().abs() < 1e-15);
        let mut g = vec![1.0; r * c];
        at.gradient(&mut g);
        assert!(g.iter().all(|v| v.abs() < 1e-15));
    }

    #[test]
    fn gradient_and_hessian_match_central_differences() {
        let (r, c) = (6, 5);
        let x = random(r * c, 2);
        let v = random(r * c, 3);
        let tv = SmoothTv::new(r, c, 0.3).unwrap();
        let at = tv.at(&x);
        let mut grad = vec![0.0; r * c];
        at.gradient(&mut grad);
        let h = 1e-5;
        let shifted = |t: f64| -> Vec<f64> { x.iter().zip(&v).map(|(a, b)| a + t * b).collect() };
        // directional derivative ⟨∇TV_ν, v⟩
        let fd = (tv.at(&shifted(h)).value() - tv.at(&shifted(-h)).value()) / (2.0 * h);
        let an: f64 = grad.iter().zip(&v).map(|(a, b)| a * b).sum();
        assert!((fd - an).abs() < 1e-7 * an.abs().max(1.0), "{fd} vs {an}");
        // Hessian-vector product against differences of gradients
        let mut hv = vec![0.0; r * c];
        at.hessian_times(&v, &mut hv);
        let (mut gp, mut gm) = (vec![0.0; r * c], vec![0.0; r * c]);
        tv.at(&shifted(h)).gradient(&mut gp);
        tv.at(&shifted(-h)).gradient(&mut gm);
        let err = hv.iter().zip(gp.iter().zip(&gm)).map(|(a, (p, m))| (a - (p - m) / (2.0 * h)).abs()).fold(0.0, f64::max);
        let scale = hv.iter().map(|a| a.abs()).fold(0.0, f64::max);
        assert!(err < 1e-7 * scale, "HVP error {err} (scale {scale})");
    }

    #[test]
    fn hessian_is_symmetric_and_positive_semidefinite() {
        let img = shepp_logan(16, 16).unwrap();
        let tv = SmoothTv::new(16, 16, 0.01).unwrap();
        let at = tv.at(&img.data);
        let (u, w) = (random(256, 4), random(256, 5));
        let (mut hu, mut hw) = (vec![0.0; 256], vec![0.0; 256]);
        at.hessian_times(&u, &mut hu);
        at.hessian_times(&w, &mut hw);
        let uhw: f64 = u.iter().zip(&hw).map(|(a, b)| a * b).sum();
        let whu: f64 = w.iter().zip(&hu).map(|(a, b)| a * b).sum();
        assert!((uhw - whu).abs() < 1e-10 * uhw.abs().max(1.0));
        let uhu: f64 = u.iter().zip(&hu).map(|(a, b)| a * b).sum();
        assert!(uhu >= 0.0);
        // Constants are in the null space.
        let mut hc = vec![1.0; 256];
        at.hessian_times(&[2.0; 256], &mut hc);
        assert!(hc.iter().all(|v| v.abs() < 1e-12));
    }

    #[test]
    fn bad_smoothing_is_an_error() {
        for nu in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(SmoothTv::new(4, 4, nu).unwrap_err().to_string().contains("nu"));
        }
        assert!(SmoothTv::new(0, 4, 0.1).is_err());
    }
}
