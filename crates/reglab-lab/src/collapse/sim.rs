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

/// The clean-data optimum of the downstream ridge, `λ₀ = σ²d / (T‖w₀‖²)` with `E‖w₀‖² = 1`:
/// the Bayes posterior mean under the prior `w₀ ~ N(0, I/d)` (see [`super`]).
pub fn clean_lambda(s: &Setting) -> f64 {
    s.sigma * s.sigma * s.d as f64 / s.t as f64
}

/// The variance accumulated by `n` OLS generators, `τ_n² = n σ₀²d/(T₀ − d − 1)` (`None` unless
/// `T₀ ≥ d + 2`).
pub fn ols_generator_drift(s: &Setting, n: usize) -> Option<f64> {
    (s.t0 >= s.d + 2).then(|| n as f64 * s.sigma0 * s.sigma0 * s.d as f64 / (s.t0 as f64 - s.d as f64 - 1.0))
}

/// The downstream ridge strength adapted to generation `n` of OLS generators,
/// `λ_n = λ₀ + τ_n²/‖w₀‖² = σ²d/T + n σ₀²d/(T₀ − d − 1)` (derived in [`super`]).
pub fn adaptive_lambda(s: &Setting, n: usize) -> Option<f64> {
    ols_generator_drift(s, n).map(|tau2| clean_lambda(s) + tau2)
}

/// How the downstream model of generation `n` is fitted.
#[derive(Debug, Clone, PartialEq)]
pub enum Downstream {
    /// The same fit in every generation.
    Fixed(Fit),
    /// Ridge with [`adaptive_lambda`] (needs OLS generators with `T₀ ≥ d + 2`).
    Adaptive,
    /// Ridge with the λ of `grid` whose fit is closest to `w₀` — chosen with the true weights,
    /// so a lower bound for any ridge rule, not a method.
    Best {
        /// The candidate λ, increasing.
        grid: Vec<f64>,
    },
}

/// One downstream rule's trace: `E_n` and the λ used (`0` for OLS), `n = 0..=G`, and for
/// [`Downstream::Best`] whether the chosen λ was an end of its grid.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleTrace {
    /// `E_n`.
    pub excess: Vec<f64>,
    /// The λ of the downstream fit.
    pub lambda: Vec<f64>,
    /// [`Downstream::Best`]: the chosen λ was the first or last of the grid.
    pub on_grid_edge: Vec<bool>,
}

/// A seeded stream of standard normals for one role of one generation of one replicate, so that
/// each draw depends on `(seed, replicate, generation, role)` only.
fn stream(seed: u64, replicate: u32, generation: usize, role: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(((replicate as u64) << 40) | ((generation as u64) << 8) | role);
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
    let t = simulate_rules(s, &[Downstream::Fixed(s.downstream)], seed, 0)?;
    Ok(Trace { excess: t.into_iter().next().map(|t| t.excess).unwrap_or_default() })
}

/// Ridge fits of `y ≈ Xw` for many λ from one eigendecomposition of `XᵀX`: `ŵ(λ) = V (M + λT)⁻¹ Vᵀ Xᵀy`.
struct RidgePath {
    vectors: DMatrix<f64>,
    values: DVector<f64>,
    projected: DVector<f64>,
    samples: f64,
}

impl RidgePath {
    fn new(x: &DMatrix<f64>, y: &DVector<f64>) -> Self {
        let eig = (x.transpose() * x).symmetric_eigen();
        let projected = eig.eigenvectors.transpose() * (x.transpose() * y);
        Self { vectors: eig.eigenvectors, values: eig.eigenvalues, projected, samples: x.nrows() as f64 }
    }

    fn fit(&self, lambda: f64) -> DVector<f64> {
        let shift = lambda * self.samples;
        let c = DVector::from_iterator(self.values.len(), self.values.iter().zip(self.projected.iter()).map(|(m, p)| p / (m.max(0.0) + shift)));
        &self.vectors * c
    }
}

/// Run the process of `s` once — the same generators, and the same downstream inputs and noise
/// in every generation — for each downstream rule (`s.downstream` is not used): common random
/// numbers, so the rules' differences are not sampling noise. `replicate` picks independent
/// draws within a seed (`replicate = 0` is [`simulate`]'s).
pub fn simulate_rules(s: &Setting, rules: &[Downstream], seed: u64, replicate: u32) -> Result<Vec<RuleTrace>, String> {
    s.validate()?;
    for r in rules {
        match r {
            Downstream::Adaptive if s.generator != Fit::Ols || s.t0 < s.d + 2 => {
                return Err(format!("the adaptive λ is for OLS generators with T₀ ≥ d + 2 (here {:?}, T₀ = {}, d = {})", s.generator, s.t0, s.d));
            }
            Downstream::Best { grid } if grid.is_empty() || grid.iter().any(|l| !(*l >= 0.0 && l.is_finite())) => {
                return Err("the best-λ grid must be non-empty, finite and ≥ 0".into());
            }
            _ => {}
        }
    }
    let d = s.d;
    let w0 = DVector::from_vec(normals(&mut stream(seed, replicate, 0, 0), d)) / (d as f64).sqrt();
    let mut teacher = w0.clone();
    let mut out: Vec<RuleTrace> = rules.iter().map(|_| RuleTrace { excess: Vec::new(), lambda: Vec::new(), on_grid_edge: Vec::new() }).collect();
    for n in 0..=s.generations {
        if n > 0 {
            let (x, y) = sample(&mut stream(seed, replicate, n, 1), s.t0, &teacher, s.sigma0);
            teacher = solve(&x, &y, s.generator)?;
        }
        let (x, y) = sample(&mut stream(seed, replicate, n, 2), s.t, &teacher, s.sigma);
        let mut path: Option<RidgePath> = None;
        for (rule, trace) in rules.iter().zip(out.iter_mut()) {
            let (w, lambda, edge) = match rule {
                Downstream::Fixed(f) => (solve(&x, &y, *f)?, if let Fit::Ridge { lambda } = f { *lambda } else { 0.0 }, false),
                Downstream::Adaptive => {
                    let lambda = adaptive_lambda(s, n).unwrap_or(f64::NAN);
                    (solve(&x, &y, Fit::Ridge { lambda })?, lambda, false)
                }
                Downstream::Best { grid } => {
                    let p = path.get_or_insert_with(|| RidgePath::new(&x, &y));
                    let mut best = (f64::INFINITY, 0usize, DVector::zeros(d));
                    for (i, &l) in grid.iter().enumerate() {
                        let w = p.fit(l);
                        let e = (&w - &w0).norm_squared();
                        if e < best.0 {
                            best = (e, i, w);
                        }
                    }
                    (best.2, grid[best.1], best.1 == 0 || best.1 + 1 == grid.len())
                }
            };
            trace.excess.push((w - &w0).norm_squared());
            trace.lambda.push(lambda);
            trace.on_grid_edge.push(edge);
        }
    }
    Ok(out)
}
