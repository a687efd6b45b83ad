//! Feature maps `φ`: inputs (rows of X, `d_in` columns) to features (D columns). Both first
//! standardise every input column by the training mean and standard deviation.
//!
//! - `linear`: `φ(x) = (x̃, 1)`, D = `d_in + 1` (x̃ the standardised input, 1 the intercept).
//! - `rff` (random Fourier features, A. Rahimi, B. Recht, "Random features for large-scale kernel
//!   machines", NeurIPS 2007): `φ(x) = √(2/D) cos(W x̃ + b)`, `W` (D × d_in) with entries
//!   `N(0, ℓ⁻²)`, `b ~ U[0, 2π)^D`, drawn from a seed (ChaCha8); `E[φ(x)ᵀφ(x')]` is the RBF
//!   kernel `exp(−‖x̃ − x̃'‖² / (2ℓ²))`. The official code's layer is the same map
//!   (`src/layers.py` line 34, with an output scale, fixed to 1 here since τ² plays its part).

use nalgebra::{DMatrix, DVector};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

/// Which map, with its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum MapSpec {
    /// Standardised inputs and an intercept.
    Linear,
    /// `dim` random Fourier features of length-scale `lengthscale`.
    Rff {
        /// D.
        dim: usize,
        /// ℓ > 0.
        lengthscale: f64,
    },
}

/// A fitted feature map.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureMap {
    mean: Vec<f64>,
    std: Vec<f64>,
    rff: Option<(DMatrix<f64>, DVector<f64>)>,
}

impl FeatureMap {
    /// Fit the standardisation on `x_train` (N × d_in) and draw the RFF of `spec` from `seed`.
    pub fn fit(x_train: &DMatrix<f64>, spec: MapSpec, seed: u64) -> Result<Self, String> {
        let (n, d_in) = x_train.shape();
        if n == 0 || d_in == 0 {
            return Err(format!("the training inputs are {n} × {d_in}"));
        }
        if let Some(i) = x_train.iter().position(|v| !v.is_finite()) {
            return Err(format!("training input [{}, {}] is not finite", i % n, i / n));
        }
        let mut mean = vec![0.0; d_in];
        let mut std = vec![1.0; d_in];
        for j in 0..d_in {
            let c = x_train.column(j);
            mean[j] = c.mean();
            let var = c.iter().map(|v| (v - mean[j]).powi(2)).sum::<f64>() / n as f64;
            if var > 0.0 {
                std[j] = var.sqrt();
            }
        }
        let rff = match spec {
            MapSpec::Linear => None,
            MapSpec::Rff { dim, lengthscale } => {
                if dim == 0 {
                    return Err("the RFF dimension must be ≥ 1".into());
                }
                if !(lengthscale.is_finite() && lengthscale > 0.0) {
                    return Err(format!("the RFF length-scale must be finite and > 0, got {lengthscale}"));
                }
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                let w = DMatrix::from_fn(dim, d_in, |_, _| {
                    let g: f64 = StandardNormal.sample(&mut rng);
                    g / lengthscale
                });
                let b = DVector::from_fn(dim, |_, _| rng.random::<f64>() * 2.0 * std::f64::consts::PI);
                Some((w, b))
            }
        };
        Ok(Self { mean, std, rff })
    }

    /// D.
    pub fn dim(&self) -> usize {
        self.rff.as_ref().map_or(self.mean.len() + 1, |(w, _)| w.nrows())
    }

    /// The features of `x` (M × d_in): M × D.
    pub fn apply(&self, x: &DMatrix<f64>) -> Result<DMatrix<f64>, String> {
        let d_in = self.mean.len();
        if x.ncols() != d_in {
            return Err(format!("inputs have {} columns, the map was fitted on {d_in}", x.ncols()));
        }
        let xs = DMatrix::from_fn(x.nrows(), d_in, |i, j| (x[(i, j)] - self.mean[j]) / self.std[j]);
        Ok(match &self.rff {
            None => DMatrix::from_fn(x.nrows(), d_in + 1, |i, j| if j < d_in { xs[(i, j)] } else { 1.0 }),
            Some((w, b)) => {
                let scale = (2.0 / w.nrows() as f64).sqrt();
                let mut z = xs * w.transpose();
                for mut row in z.row_iter_mut() {
                    for (v, bj) in row.iter_mut().zip(b.iter()) {
                        *v = scale * (*v + bj).cos();
                    }
                }
                z
            }
        })
    }
}
