//! `soft-ash`, `hard-ash`: Adaptive SwisH and its hard variant, activations that keep only the
//! units well above the example's own mean activation.
//!
//! ## Formula
//! For one example, `x ∈ R^n` the pre-activations of a hidden layer's `n` units:
//! ```text
//! μ = (1/n)·Σ_j x_j,   σ = √((1/n)·Σ_j (x_j − μ)²)   (population standard deviation)
//! θ = μ + z·σ,         u_j = α·(x_j − θ)
//! soft ASH:  y_j = x_j · sigmoid(u_j)
//! hard ASH:  y_j = clip(x_j, 0, 2) · hard_sigmoid(u_j),   hard_sigmoid(u) = relu6(u + 3)/6
//! ```
//! Symbols and shapes: `x`, `y` `[n]` per example (a batch `[B, n]` is `B` independent rows);
//! `z` the threshold in standard deviations (default 2.3: about the top 1 % of a Gaussian
//! row), `α` the steepness (default 3). `θ` depends on the whole row, so the gradient flows
//! through `μ` and `σ` too (no straight-through), as in the official code where JAX
//! differentiates `jnp.mean` and `jnp.std`:
//! ```text
//! c_j = g_j · a(x_j) · m'(u_j)              (a(x) = x or clip(x, 0, 2); m = sigmoid or hard_sigmoid)
//! ∂L/∂x_k = g_k · a'(x_k) · m(u_k) + α·c_k − α·(Σ_j c_j)·(1/n + z·(x_k − μ)/(n·σ))
//! ```
//! with `g = ∂L/∂y`. Where `σ² < 10⁻¹²` (a constant row) `σ` is held at `10⁻⁶` with zero
//! gradient (JAX's `std` would give NaN there). `clip` and `relu6` have derivative 1 inside
//! their range and 0 outside (JAX's convention at the kinks too).
//!
//! Invariants: the output is permutation-equivariant over the units; hard ASH lies in `[0, 2]`
//! and is exactly 0 where `x_j ≤ θ − 3/α` or `x_j ≤ 0`, so few units fire (the sparsity the
//! paper credits for the retention).
//!
//! ## Papers
//! - Lee, Yang, Lee, Hwang, "Stochastic Adaptive Activation Function", NeurIPS 2022 (ASH).
//! - Keskinen, "Hard ASH: Sparsity and the right optimizer make a continual learner", 2024:
//!   hard ASH, and ASH/Hard ASH with Adagrad on class-incremental Split-MNIST. Checked against
//!   the official code (LesserScholar/hard-ash, commit 7fbb1ed, `02_run_experiments.py`:
//!   `ash`, `hard_ash`, with `ash_z_k = 2.3`, `ash_alpha = 3`); numbers on fixed inputs are
//!   matched in the tests below (`bench/compare/ash_reference.py` computes them with JAX).

/// Soft or hard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `x·sigmoid(α(x − θ))`.
    Soft,
    /// `clip(x, 0, 2)·hard_sigmoid(α(x − θ))`.
    Hard,
}

/// ASH with its threshold `z` and steepness `alpha`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ash {
    /// Soft or hard.
    pub shape: Shape,
    /// Threshold in standard deviations above the mean.
    pub z: f64,
    /// Steepness.
    pub alpha: f64,
}

/// Where the variance counts as zero (see the module documentation).
pub const VAR_FLOOR: f64 = 1e-12;

/// The default threshold (the official code's `ash_z_k`).
pub const DEFAULT_Z: f64 = 2.3;
/// The default steepness (the official code's `ash_alpha`).
pub const DEFAULT_ALPHA: f64 = 3.0;

fn sigmoid(u: f64) -> f64 {
    1.0 / (1.0 + (-u).exp())
}

impl Ash {
    /// With the defaults `z = 2.3`, `α = 3`.
    pub fn new(shape: Shape) -> Self {
        Self { shape, z: DEFAULT_Z, alpha: DEFAULT_ALPHA }
    }

    /// Check `z` (finite) and `α` (finite, > 0).
    pub fn validate(&self) -> Result<(), String> {
        if !self.z.is_finite() {
            return Err(format!("ASH: z must be finite, got {}", self.z));
        }
        if !(self.alpha > 0.0 && self.alpha.is_finite()) {
            return Err(format!("ASH: alpha must be finite and > 0, got {}", self.alpha));
        }
        Ok(())
    }

    /// `(μ, σ, σ held at the floor?)` of one row.
    fn stats(x: &[f64]) -> (f64, f64, bool) {
        let n = x.len() as f64;
        let mu = x.iter().sum::<f64>() / n;
        let var = x.iter().map(|v| (v - mu) * (v - mu)).sum::<f64>() / n;
        if var < VAR_FLOOR { (mu, VAR_FLOOR.sqrt(), true) } else { (mu, var.sqrt(), false) }
    }

    /// `(a(x), a'(x))`.
    fn amp(&self, x: f64) -> (f64, f64) {
        match self.shape {
            Shape::Soft => (x, 1.0),
            Shape::Hard if x > 0.0 && x < 2.0 => (x, 1.0),
            Shape::Hard => (x.clamp(0.0, 2.0), 0.0),
        }
    }

    /// `(m(u), m'(u))`.
    fn gate(&self, u: f64) -> (f64, f64) {
        match self.shape {
            Shape::Soft => {
                let s = sigmoid(u);
                (s, s * (1.0 - s))
            }
            Shape::Hard if u > -3.0 && u < 3.0 => ((u + 3.0) / 6.0, 1.0 / 6.0),
            Shape::Hard => (((u + 3.0) / 6.0).clamp(0.0, 1.0), 0.0),
        }
    }

    /// `y = f(x)` for one row.
    pub fn forward_row(&self, x: &[f64], y: &mut [f64]) {
        let (mu, sigma, _) = Self::stats(x);
        let theta = mu + self.z * sigma;
        for (yj, &xj) in y.iter_mut().zip(x) {
            *yj = self.amp(xj).0 * self.gate(self.alpha * (xj - theta)).0;
        }
    }

    /// `∂L/∂x` of one row given `g = ∂L/∂y` (the vector–Jacobian product), into `dx`.
    pub fn backward_row(&self, x: &[f64], g: &[f64], dx: &mut [f64]) {
        let n = x.len() as f64;
        let (mu, sigma, floored) = Self::stats(x);
        let theta = mu + self.z * sigma;
        let mut sum_c = 0.0;
        for (k, &xk) in x.iter().enumerate() {
            let (a, da) = self.amp(xk);
            let (m, dm) = self.gate(self.alpha * (xk - theta));
            let c = g[k] * a * dm;
            sum_c += c;
            dx[k] = g[k] * da * m + self.alpha * c;
        }
        for (k, &xk) in x.iter().enumerate() {
            let dtheta = 1.0 / n + if floored { 0.0 } else { self.z * (xk - mu) / (n * sigma) };
            dx[k] -= self.alpha * sum_c * dtheta;
        }
    }

    /// `y = f(x)` for a row-major batch `[B, n]`.
    pub fn forward(&self, x: &[f64], n: usize, y: &mut [f64]) {
        for (xr, yr) in x.chunks_exact(n).zip(y.chunks_exact_mut(n)) {
            self.forward_row(xr, yr);
        }
    }

    /// `∂L/∂x` for a row-major batch `[B, n]`.
    pub fn backward(&self, x: &[f64], g: &[f64], n: usize, dx: &mut [f64]) {
        for ((xr, gr), dr) in x.chunks_exact(n).zip(g.chunks_exact(n)).zip(dx.chunks_exact_mut(n)) {
            self.backward_row(xr, gr, dr);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(n: usize, seed: u64) -> Vec<f64> {
        reglab_core::testing::random_vec(n, 2.0, seed).iter().map(|&v| v as f64).collect()
    }

    /// The official code's numbers (JAX, float64) on fixed inputs; `bench/compare/ash_reference.py`
    /// prints them. x = [−1.5, −0.5, 0, 0.25, 0.5, 1, 1.75, 2.5, 4], z = 2.3, α = 3, and
    /// z = 1, α = 4; the gradient is that of Σ_j w_j·y_j with w_j = j + 1.
    #[test]
    fn matches_the_official_code_on_fixed_inputs() {
        let x = [-1.5, -0.5, 0.0, 0.25, 0.5, 1.0, 1.75, 2.5, 4.0];
        let w: Vec<f64> = (1..=9).map(|j| j as f64).collect();
        for (shape, z, alpha, y_ref, g_ref) in REFERENCE {
            let a = Ash { shape, z, alpha };
            let (mut y, mut g) = ([0.0; 9], [0.0; 9]);
            a.forward_row(&x, &mut y);
            a.backward_row(&x, &w, &mut g);
            for j in 0..9 {
                assert!((y[j] - y_ref[j]).abs() < 1e-12, "{shape:?} z={z} α={alpha}: y[{j}] {} vs {}", y[j], y_ref[j]);
                assert!((g[j] - g_ref[j]).abs() < 1e-10, "{shape:?} z={z} α={alpha}: ∂[{j}] {} vs {}", g[j], g_ref[j]);
            }
        }
    }

    /// One reference case: shape, z, α, y, ∂(Σ w·y)/∂x.
    type Case = (Shape, f64, f64, [f64; 9], [f64; 9]);

    include!("ash_reference.rs");

    #[test]
    fn gradient_matches_finite_differences() {
        let n = 12;
        let g = row(n, 7);
        for (shape, seed) in [(Shape::Soft, 1), (Shape::Hard, 2), (Shape::Soft, 3), (Shape::Hard, 4)] {
            // z small enough that several units sit on the gate's slope
            let a = Ash { shape, z: 0.5, alpha: 2.0 };
            let x = row(n, seed);
            let f = |x: &[f64]| {
                let mut y = vec![0.0; n];
                a.forward_row(x, &mut y);
                y.iter().zip(&g).map(|(y, g)| y * g).sum::<f64>()
            };
            let mut dx = vec![0.0; n];
            a.backward_row(&x, &g, &mut dx);
            let e = 1e-6;
            for k in 0..n {
                let (mut p, mut q) = (x.clone(), x.clone());
                p[k] += e;
                q[k] -= e;
                let fd = (f(&p) - f(&q)) / (2.0 * e);
                assert!((fd - dx[k]).abs() < 1e-6, "{shape:?} ∂/∂x[{k}]: fd {fd} vs {}", dx[k]);
            }
        }
    }

    #[test]
    fn invariants() {
        let n = 50;
        let x = row(n, 11);
        let a = Ash::new(Shape::Hard);
        let mut y = vec![0.0; n];
        a.forward_row(&x, &mut y);
        // bounded, zero at or below 0 and far below the threshold
        let (mu, sigma, _) = Ash::stats(&x);
        let theta = mu + a.z * sigma;
        for (&xj, &yj) in x.iter().zip(&y) {
            assert!((0.0..=2.0).contains(&yj));
            if xj <= 0.0 || xj <= theta - 3.0 / a.alpha {
                assert_eq!(yj, 0.0);
            }
        }
        // sparse: with z = 2.3 only a few units of a uniform row pass
        assert!(y.iter().filter(|&&v| v > 0.0).count() < n / 4);
        // permutation-equivariant, soft and hard
        for a in [Ash::new(Shape::Soft), Ash::new(Shape::Hard)] {
            let perm: Vec<usize> = (0..n).map(|i| (i * 7 + 3) % n).collect();
            let xp: Vec<f64> = perm.iter().map(|&i| x[i]).collect();
            let (mut y, mut yp) = (vec![0.0; n], vec![0.0; n]);
            a.forward_row(&x, &mut y);
            a.forward_row(&xp, &mut yp);
            for (j, &i) in perm.iter().enumerate() {
                // equal up to the order of the sums in μ and σ
                assert!((yp[j] - y[i]).abs() < 1e-14, "{} vs {}", yp[j], y[i]);
            }
        }
        // a batch is independent rows
        let x2 = [x.clone(), row(n, 12)].concat();
        let mut yb = vec![0.0; 2 * n];
        a.forward(&x2, n, &mut yb);
        let mut y1 = vec![0.0; n];
        a.forward_row(&x2[n..], &mut y1);
        assert_eq!(&yb[n..], &y1[..]);
        // a constant row: finite output and gradient (JAX's std would give NaN)
        let c = vec![0.7; 5];
        let (mut yc, mut dc) = (vec![0.0; 5], vec![0.0; 5]);
        Ash::new(Shape::Soft).forward_row(&c, &mut yc);
        Ash::new(Shape::Soft).backward_row(&c, &[1.0; 5], &mut dc);
        assert!(yc.iter().chain(&dc).all(|v| v.is_finite()));
    }

    #[test]
    fn validate_rejects_bad_options() {
        assert!(Ash { shape: Shape::Soft, z: f64::NAN, alpha: 3.0 }.validate().is_err());
        assert!(Ash { shape: Shape::Hard, z: 2.3, alpha: 0.0 }.validate().unwrap_err().contains("alpha"));
        assert!(Ash { shape: Shape::Hard, z: -1.0, alpha: 3.0 }.validate().is_ok());
    }
}
