//! The generated regression data sets, with known noise, drawn from a seed (ChaCha8).
//!
//! - `friedman1`: J. H. Friedman, "Multivariate adaptive regression splines", Ann. Statist.
//!   1991: `x ~ U[0, 1]^10`, `y = 10 sin(π x₁ x₂) + 20 (x₃ − ½)² + 10 x₄ + 5 x₅ + σ ε`
//!   (x₆…x₁₀ irrelevant), σ = 1 by default.
//! - `sine`: the 1-D toy of the paper's RFF notebooks (official `notebooks/closed-form_ELBo.ipynb`
//!   cell 2): `x ~ N(0, 1)`, `y = sin(3x) + σ ε`, σ = 0.1.
//!
//! `ε ~ N(0, 1)`; the training and test sets are independent draws.

use nalgebra::{DMatrix, DVector};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

/// A generated data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dataset {
    /// Friedman #1, 10 inputs.
    Friedman1,
    /// `sin(3x)`, 1 input.
    Sine,
}

impl Dataset {
    /// Its name in experiment files.
    pub fn name(self) -> &'static str {
        match self {
            Dataset::Friedman1 => "friedman1",
            Dataset::Sine => "sine",
        }
    }

    /// Input dimension.
    pub fn inputs(self) -> usize {
        match self {
            Dataset::Friedman1 => 10,
            Dataset::Sine => 1,
        }
    }

    /// The default noise standard deviation σ.
    pub fn default_noise_std(self) -> f64 {
        match self {
            Dataset::Friedman1 => 1.0,
            Dataset::Sine => 0.1,
        }
    }

    fn draw(self, n: usize, noise_std: f64, rng: &mut ChaCha8Rng) -> (DMatrix<f64>, DVector<f64>) {
        let d = self.inputs();
        let mut x = DMatrix::zeros(n, d);
        let mut y = DVector::zeros(n);
        for i in 0..n {
            for j in 0..d {
                x[(i, j)] = match self {
                    Dataset::Friedman1 => rng.random::<f64>(),
                    Dataset::Sine => StandardNormal.sample(rng),
                };
            }
            let f = match self {
                Dataset::Friedman1 => {
                    let r = |j: usize| x[(i, j)];
                    10.0 * (std::f64::consts::PI * r(0) * r(1)).sin() + 20.0 * (r(2) - 0.5).powi(2) + 10.0 * r(3) + 5.0 * r(4)
                }
                Dataset::Sine => (3.0 * x[(i, 0)]).sin(),
            };
            let eps: f64 = StandardNormal.sample(rng);
            y[i] = f + noise_std * eps;
        }
        (x, y)
    }
}

/// Training and test inputs (rows) and targets.
#[derive(Debug, Clone, PartialEq)]
pub struct Data {
    /// N × inputs.
    pub x_train: DMatrix<f64>,
    /// N.
    pub y_train: DVector<f64>,
    /// M × inputs.
    pub x_test: DMatrix<f64>,
    /// M.
    pub y_test: DVector<f64>,
}

/// Draw `n_train` training and `n_test` test examples of `ds` with noise σ = `noise_std` from `seed`.
pub fn generate(ds: Dataset, n_train: usize, n_test: usize, noise_std: f64, seed: u64) -> Result<Data, String> {
    if n_train < 2 || n_test < 1 {
        return Err(format!("need ≥ 2 training and ≥ 1 test examples, got {n_train} and {n_test}"));
    }
    if !(noise_std.is_finite() && noise_std > 0.0) {
        return Err(format!("the noise standard deviation must be finite and > 0, got {noise_std}"));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (x_train, y_train) = ds.draw(n_train, noise_std, &mut rng);
    let (x_test, y_test) = ds.draw(n_test, noise_std, &mut rng);
    Ok(Data { x_train, y_train, x_test, y_test })
}
