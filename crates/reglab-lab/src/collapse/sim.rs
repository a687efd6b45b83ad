//! The recursive regression of [`super`]: settings, fits and one seeded simulation.

use nalgebra::{DMatrix, DVector};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// A linear fit of `y` on `X`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fit {
    /// Ordinary least squares `(XᵀX)⁻¹Xᵀy` (needs at least `d` samples).
    Ols,
    /// Ridge `(XᵀX + λT I)⁻¹Xᵀy`: `‖y − Xw‖²/T + λ‖w‖²` minimised, `λ ≥ 0` finite.
    Ridge {
        /// λ.
        lambda: f64,
    },
}

/// One setting of the process.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    /// Dimension `d ≥ 1`.
    pub d: usize,
    /// Samples of the downstream fit `T`.
    pub t: usize,
    /// Samples of each generator's fit `T₀`.
    pub t0: usize,
    /// Label noise of the downstream fit `σ ≥ 0`.
    pub sigma: f64,
    /// Label noise of the generators' data `σ₀ ≥ 0`.
    pub sigma0: f64,
    /// The last generation `G` (the trace has `G + 1` entries, `n = 0..=G`).
    pub generations: usize,
    /// How the generators fit.
    pub generator: Fit,
    /// How the downstream model fits.
    pub downstream: Fit,
}

/// The excess risk `E_n = ‖ŵ_n − w₀‖²` for `n = 0..=G`, one seed.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// `E_n`.
    pub excess: Vec<f64>,
}

impl Setting {
    /// Check the values: a one-line error naming the first bad one.
    pub fn validate(&self) -> Result<(), String> {
        if self.d == 0 {
            return Err("the dimension d must be ≥ 1".into());
        }
        for (what, s) in [("σ", self.sigma), ("σ₀", self.sigma0)] {
            if !(s >= 0.0 && s.is_finite()) {
                return Err(format!("the noise {what} must be finite and ≥ 0, got {s}"));
            }
        }
        for (what, f, n) in [("generator", self.generator, self.t0), ("downstream", self.downstream, self.t)] {
            if n == 0 {
                return Err(format!("the {what} fit needs at least one sample"));
            }
            match f {
                Fit::Ols if n < self.d => {
                    return Err(format!("the {what} fit is OLS on {n} samples in d = {}: it needs at least d samples (use ridge)", self.d));
                }
                Fit::Ridge { lambda } if !(lambda >= 0.0 && lambda.is_finite()) => {
                    return Err(format!("the {what} ridge λ must be finite and ≥ 0, got {lambda}"));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// `E[E_n]` of OLS everywhere (see [`super`]): `σ²d/(T − d − 1) + n σ₀²d/(T₀ − d − 1)`; `None`
/// unless `T, T₀ ≥ d + 2` (where the mean is finite).
pub fn ols_expected_excess(s: &Setting, n: usize) -> Option<f64> {
    let d = s.d as f64;
    if s.t < s.d + 2 || s.t0 < s.d + 2 {
        return None;
    }
    Some(s.sigma * s.sigma * d / (s.t as f64 - d - 1.0) + n as f64 * s.sigma0 * s.sigma0 * d / (s.t0 as f64 - d - 1.0))
}

/// A seeded stream of standard normals for one role of one generation, so that each draw
/// depends on `(seed, generation, role)` only.
fn stream(seed: u64, generation: usize, role: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(((generation as u64) << 8) | role);
    rng
}

fn normals(rng: &mut ChaCha8Rng, n: usize) -> Vec<f64> {
    (0..n).map(|_| StandardNormal.sample(rng)).collect()
}

/// Fit `y ≈ X w` by `fit` (`X` n × d): the normal equations by Cholesky.
fn solve(x: &DMatrix<f64>, y: &DVector<f64>, fit: Fit) -> Result<DVector<f64>, String> {
    let mut g = x.transpose() * x;
    if let Fit::Ridge { lambda } = fit {
        let shift = lambda * x.nrows() as f64;
        for i in 0..g.nrows() {
            g[(i, i)] += shift;
        }
    }
    let rhs = x.transpose() * y;
    let chol = g.cholesky().ok_or_else(|| format!("{fit:?}: XᵀX is not positive definite ({} samples in d = {})", x.nrows(), x.ncols()))?;
    Ok(chol.solve(&rhs))
}

/// One draw of `(X, y = X w + σ ε)` with `n` samples, from `rng`.
fn sample(rng: &mut ChaCha8Rng, n: usize, w: &DVector<f64>, sigma: f64) -> (DMatrix<f64>, DVector<f64>) {
    let d = w.len();
    let x = DMatrix::from_row_slice(n, d, &normals(rng, n * d));
    let noise = DVector::from_vec(normals(rng, n));
    let y = &x * w + noise * sigma;
    (x, y)
}

/// Run the process of `s` with seed `seed` (see [`super`]): the same seed gives the same trace
/// bit for bit; generation `n`'s data are the same whatever `G`.
pub fn simulate(s: &Setting, seed: u64) -> Result<Trace, String> {
    s.validate()?;
    let d = s.d;
    let w0 = DVector::from_vec(normals(&mut stream(seed, 0, 0), d)) / (d as f64).sqrt();
    let mut teacher = w0.clone();
    let mut excess = Vec::with_capacity(s.generations + 1);
    for n in 0..=s.generations {
        if n > 0 {
            let (x, y) = sample(&mut stream(seed, n, 1), s.t0, &teacher, s.sigma0);
            teacher = solve(&x, &y, s.generator)?;
        }
        let (x, y) = sample(&mut stream(seed, n, 2), s.t, &teacher, s.sigma);
        let w = solve(&x, &y, s.downstream)?;
        excess.push((w - &w0).norm_squared());
    }
    Ok(Trace { excess })
}
