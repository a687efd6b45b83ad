//! `neural-collapse=λ₁`: induce neural collapse in the penultimate features — each class's
//! features pulled to a learnable class mean, the means pushed apart toward a simplex ETF.
//!
//! ## Formula
//! ```text
//! L₁(h, M) = (1/C) Σ_c clip( Σ_{i: y_i = c} ‖h_i − m_c‖² / (n_c + 10⁻¹⁰), 10⁻¹², 10¹² )
//! u_c = (m_c − m̄)/‖m_c − m̄‖,  m̄ = (1/C) Σ_c m_c,  cos_cc' = u_cᵀ u_c'
//! L₂(M) = −(1/C) Σ_c arccos( clip( max_{c' ≠ c} cos_cc', −0.99999, 0.99999 ) )   (variant=nearest)
//! L₂(M) = ‖K‖_F,  K_cc' = cos_cc' (c ≠ c'),  K_cc = −1/(C − 1)                    (variant=etf)
//! R = λ₁·L₁ + λ₂·L₂
//! ```
//! Symbols and shapes:
//! - `h ∈ R^{B×d}`: the batch's penultimate features (the input of the last layer), not
//!   normalised; `y_i` the labels; `n_c` the number of examples of class `c` in the batch (a
//!   class absent from the batch adds the floor 10⁻¹²).
//! - `M ∈ R^{C×d}`: the class means `m_c`, **learnable parameters** (not batch means), drawn
//!   from N(0, 1) by the run's seed; after each step `M ← M − α·∇_M(L₁ + (λ₂/λ₁)·L₂)` by plain
//!   SGD (`means_lr=α`, default 0.5), i.e. the means follow the gradient of `R/λ₁`. They are
//!   kept at f32 precision (rounded after each step), so checkpoints hold them exactly.
//! - `λ₁` the strength (default in the paper's code: 0.01), `λ₂` option `sep` (default 0.1).
//! - The network receives `λ₁·∂L₁/∂h = (2λ₁/C)·(h_i − m_{y_i})/(n_{y_i} + 10⁻¹⁰)`; `L₂` reaches
//!   the features only through the means.
//!
//! `nearest` (the official default, `NC2Loss` v0) is minus the mean angle of each class mean to
//! its nearest other mean; `etf` (v2) the Frobenius norm of the cosine matrix with its diagonal
//! set to `−1/(C − 1)`, smallest at the simplex equiangular tight frame (all `cos = −1/(C − 1)`).
//! Both are invariant under a common rotation, translation and scaling of the means.
//!
//! ## Paper
//! Liu, Zhang, Hu, Cao, Pan, Yao, "Inducing Neural Collapse in Deep Long-tailed Learning",
//! AISTATS 2023 (arXiv 2302.12453). Checked against the official code (Pepper-lll/NCfeature
//! a11c2c5, `losses.py` `NC1Loss`, `NC2Loss` v0/v2; `engine.py`, `train.py` for the means'
//! optimizer and the defaults λ₁ = 0.01, λ₂ = 0.1, α = 0.5); the paper's method section could
//! not be read here.

use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use reglab_core::{Error, NamedTensor, Result, Spec};

/// Floor and ceiling of a class's compactness term, and the offset of its count (official).
const FLOOR: f64 = 1e-12;
const CEIL: f64 = 1e12;
const COUNT_EPS: f64 = 1e-10;
/// The cosine clip of `nearest`.
const COS_CLIP: f64 = 0.99999;

/// The separation term `L₂`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Separation {
    /// Minus the mean angle to the nearest other class mean (official default, v0).
    Nearest,
    /// `‖K‖_F` with the diagonal at `−1/(C − 1)` (official v2).
    Etf,
}

/// The term and its learnable class means. See the module documentation.
#[derive(Debug, Clone)]
pub struct NeuralCollapse {
    /// `λ₁`.
    pub lambda: f64,
    /// `λ₂`.
    pub sep: f64,
    /// `α`, the means' SGD step.
    pub means_lr: f64,
    /// Which `L₂`.
    pub separation: Separation,
    /// `M`, `[classes, d]` row-major (empty until [`NeuralCollapse::bind`]).
    pub means: Vec<f64>,
    /// `C`.
    pub classes: usize,
    /// `d`.
    pub dim: usize,
}

impl NeuralCollapse {
    /// From `neural-collapse=λ₁[:sep=λ₂][:means_lr=α][:variant=nearest|etf]`.
    pub fn from_spec(spec: &Spec) -> Result<Self> {
        let mut o = spec.options();
        let sep = o.f64("sep", 0.1)?;
        let means_lr = o.f64("means_lr", 0.5)?;
        let separation = if o.choice("variant", &["nearest", "etf"], "nearest")? == "nearest" { Separation::Nearest } else { Separation::Etf };
        o.ensure(sep >= 0.0, format!("option `sep` must be ≥ 0, got {sep}"))?;
        o.ensure(means_lr > 0.0, format!("option `means_lr` must be > 0, got {means_lr}"))?;
        o.finish()?;
        if !(spec.strength > 0.0 && spec.strength.is_finite()) {
            return Err(Error::Spec {
                spec: spec.raw().into(), why: "the strength λ₁ must be > 0 (the means follow the gradient of R/λ₁)".into()
            });
        }
        Ok(Self { lambda: spec.strength, sep, means_lr, separation, means: Vec::new(), classes: 0, dim: 0 })
    }

    /// Draw the means `M ~ N(0, 1)` (`[classes, dim]`) from `seed`, as the official code does.
    pub fn bind(&mut self, classes: usize, dim: usize, seed: u64) -> Result<()> {
        if classes < 2 || dim == 0 {
            return Err(Error::Shape {
                tensor: "features".into(),
                why: format!("neural-collapse needs at least 2 classes and features, got {classes} classes of width {dim}"),
            });
        }
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x004e_436d_6561_6e73);
        self.means = (0..classes * dim).map(|_| StandardNormal.sample(&mut rng)).map(|v: f64| v as f32 as f64).collect();
        self.classes = classes;
        self.dim = dim;
        Ok(())
    }

    /// One training step on the batch: `R = λ₁L₁ + λ₂L₂` at the current means, `λ₁·∂L₁/∂h`
    /// added into `grad_h` (`[n, d]`), then the means' SGD step. Returns `R`.
    pub fn step(&mut self, h: &[f32], labels: &[usize], n: usize, grad_h: &mut [f64]) -> Result<f64> {
        let (c, d) = (self.classes, self.dim);
        if c == 0 {
            return Err(Error::State("neural-collapse: the class means are not bound".into()));
        }
        if h.len() != n * d || labels.len() != n || grad_h.len() != n * d {
            return Err(Error::Shape {
                tensor: "features".into(),
                why: format!("neural-collapse: {} features and {} labels for {n} examples of width {d}", h.len(), labels.len()),
            });
        }
        if let Some(&y) = labels.iter().find(|&&y| y >= c) {
            return Err(Error::Shape { tensor: "labels".into(), why: format!("neural-collapse: label {y} with {c} classes") });
        }
        let mut gm = vec![0.0; c * d];
        let l1 = compactness(h, labels, &self.means, c, d, Some((&mut *grad_h, &mut gm)), self.lambda);
        let (l2, g2) = separation(&self.means, c, d, self.separation);
        // M ← M − α(∇_M L₁ + (λ₂/λ₁)∇_M L₂); gm holds λ₁∇_M L₁
        let ratio = self.sep / self.lambda;
        for ((m, a), b) in self.means.iter_mut().zip(&gm).zip(&g2) {
            // kept at f32 precision, so a checkpoint holds them exactly and a resumed run
            // continues bit for bit
            *m = (*m - self.means_lr * (a / self.lambda + ratio * b)) as f32 as f64;
        }
        Ok(self.lambda * l1 + self.sep * l2)
    }

    /// The means as a checkpoint tensor.
    pub fn state(&self) -> Vec<NamedTensor> {
        if self.means.is_empty() {
            return Vec::new();
        }
        vec![NamedTensor::new("neural-collapse.means", vec![self.classes, self.dim], self.means.iter().map(|&v| v as f32).collect())]
    }

    /// Restore [`NeuralCollapse::state`] (exact: the means are kept at f32 precision).
    pub fn load_state(&mut self, state: &[NamedTensor]) -> Result<()> {
        if let Some(t) = state.iter().find(|t| t.name == "neural-collapse.means") {
            if t.shape != [self.classes, self.dim] {
                return Err(Error::State(format!("neural-collapse.means has shape {:?}, expected [{}, {}]", t.shape, self.classes, self.dim)));
            }
            self.means = t.data.iter().map(|&v| v as f64).collect();
        }
        Ok(())
    }
}

/// `L₁(h, M)`; with `grads = (gh, gm)`, adds `scale·∂L₁/∂h` into `gh` (`[n, d]`) and
/// `scale·∂L₁/∂M` into `gm` (`[C, d]`).
pub fn compactness(h: &[f32], labels: &[usize], means: &[f64], c: usize, d: usize, grads: Option<(&mut [f64], &mut [f64])>, scale: f64) -> f64 {
    let mut count = vec![0usize; c];
    labels.iter().for_each(|&y| count[y] += 1);
    let mut sums = vec![0.0; c];
    for (i, &y) in labels.iter().enumerate() {
        let m = &means[y * d..(y + 1) * d];
        sums[y] += h[i * d..(i + 1) * d].iter().zip(m).map(|(&a, &b)| (a as f64 - b).powi(2)).sum::<f64>();
    }
    let per_class: Vec<f64> = (0..c).map(|k| (sums[k] / (count[k] as f64 + COUNT_EPS)).clamp(FLOOR, CEIL)).collect();
    if let Some((gh, gm)) = grads {
        for (i, &y) in labels.iter().enumerate() {
            let raw = sums[y] / (count[y] as f64 + COUNT_EPS);
            if !(FLOOR..=CEIL).contains(&raw) {
                continue; // clipped: no gradient
            }
            let k = scale * 2.0 / (c as f64 * (count[y] as f64 + COUNT_EPS));
            for j in 0..d {
                let diff = h[i * d + j] as f64 - means[y * d + j];
                gh[i * d + j] += k * diff;
                gm[y * d + j] -= k * diff;
            }
        }
    }
    per_class.iter().sum::<f64>() / c as f64
}

/// `L₂(M)` and `∂L₂/∂M` (`[C, d]`).
pub fn separation(means: &[f64], c: usize, d: usize, variant: Separation) -> (f64, Vec<f64>) {
    // v_c = m_c − m̄, u_c = v_c/‖v_c‖
    let mut mean = vec![0.0; d];
    for k in 0..c {
        for j in 0..d {
            mean[j] += means[k * d + j] / c as f64;
        }
    }
    let v: Vec<f64> = (0..c * d).map(|i| means[i] - mean[i % d]).collect();
    let norms: Vec<f64> = (0..c).map(|k| v[k * d..(k + 1) * d].iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-300)).collect();
    let u: Vec<f64> = (0..c * d).map(|i| v[i] / norms[i / d]).collect();
    let cos = |a: usize, b: usize| (0..d).map(|j| u[a * d + j] * u[b * d + j]).sum::<f64>();
    // ∂L₂/∂cos_ab as a dense matrix (both orders), then ∂L₂/∂u_a = Σ_b G_ab u_b
    let mut gcos = vec![0.0; c * c];
    let value = match variant {
        Separation::Nearest => {
            let mut total = 0.0;
            for a in 0..c {
                let (b, t) =
                    (0..c).filter(|&b| b != a).map(|b| (b, cos(a, b))).fold((usize::MAX, f64::NEG_INFINITY), |m, x| if x.1 > m.1 { x } else { m });
                let tc = t.clamp(-COS_CLIP, COS_CLIP);
                total += tc.acos();
                if tc == t {
                    // d/dt −(1/C)·arccos(t) = (1/C)/√(1 − t²)
                    gcos[a * c + b] += 1.0 / (c as f64 * (1.0 - t * t).sqrt());
                }
            }
            -total / c as f64
        }
        Separation::Etf => {
            let diag = -1.0 / (c as f64 - 1.0);
            let mut sq = c as f64 * diag * diag;
            for a in 0..c {
                for b in 0..c {
                    if a != b {
                        sq += cos(a, b).powi(2);
                    }
                }
            }
            let norm = sq.sqrt();
            for a in 0..c {
                for b in 0..c {
                    if a != b {
                        gcos[a * c + b] += cos(a, b) / norm; // K_ab/‖K‖, K_ba the same: both orders
                    }
                }
            }
            norm
        }
    };
    // ∂/∂u_a: Σ_b (G_ab + G_ba) u_b; ∂/∂v_a = (I − u_a u_aᵀ)/‖v_a‖ ∂/∂u_a; ∂/∂m_k = ∂/∂v_k − mean_a ∂/∂v_a
    let mut gv = vec![0.0; c * d];
    for a in 0..c {
        let mut gu = vec![0.0; d];
        for b in 0..c {
            let w = gcos[a * c + b] + gcos[b * c + a];
            if w != 0.0 {
                (0..d).for_each(|j| gu[j] += w * u[b * d + j]);
            }
        }
        let proj: f64 = (0..d).map(|j| gu[j] * u[a * d + j]).sum();
        (0..d).for_each(|j| gv[a * d + j] = (gu[j] - proj * u[a * d + j]) / norms[a]);
    }
    let mut gmean = vec![0.0; d];
    for a in 0..c {
        (0..d).for_each(|j| gmean[j] += gv[a * d + j] / c as f64);
    }
    let g = (0..c * d).map(|i| gv[i] - gmean[i % d]).collect();
    (value, g)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    fn nc(s: &str) -> NeuralCollapse {
        NeuralCollapse::from_spec(&Spec::parse(s).unwrap()).unwrap()
    }

    #[test]
    fn values_by_hand() {
        // C = 3, d = 2, M = [[1, 0], [0, 1], [−1, −1]]; h = [1, 1] (y 0), [2, 0] (y 0), [0, 3] (y 1):
        // class 0: ‖[0, 1]‖² + ‖[1, 0]‖² = 2 over 2 examples; class 1: ‖[0, 2]‖² = 4 over 1;
        // class 2 absent: the floor 10⁻¹²
        let m = [1.0, 0.0, 0.0, 1.0, -1.0, -1.0];
        let h = [1.0f32, 1.0, 2.0, 0.0, 0.0, 3.0];
        let l1 = compactness(&h, &[0, 0, 1], &m, 3, 2, None, 1.0);
        assert!((l1 - (2.0 / (2.0 + 1e-10) + 4.0 / (1.0 + 1e-10) + 1e-12) / 3.0).abs() < 1e-15, "{l1}");
        // m̄ = 0; cos01 = 0, cos02 = cos12 = −1/√2: nearest angles π/2, π/2, 3π/4
        let (v0, _) = separation(&m, 3, 2, Separation::Nearest);
        assert!((v0 + 7.0 * PI / 12.0).abs() < 1e-12, "{v0}");
        let (v2, _) = separation(&m, 3, 2, Separation::Etf);
        assert!((v2 - 2.75f64.sqrt()).abs() < 1e-12, "{v2}");
        // centring matters: M = [[3, 1], [1, 3], [1, 1]], m̄ = [5/3, 5/3], cos01 = −0.8,
        // cos02 = cos12 = −1/√10
        let m = [3.0, 1.0, 1.0, 3.0, 1.0, 1.0];
        let c02 = -1.0 / 10f64.sqrt();
        let (v0, _) = separation(&m, 3, 2, Separation::Nearest);
        assert!((v0 + (2.0 * c02.acos() + c02.acos()) / 3.0).abs() < 1e-12, "{v0}");
        let (v2, _) = separation(&m, 3, 2, Separation::Etf);
        assert!((v2 - (2.0 * (0.64 + 2.0 * 0.1) + 0.75f64).sqrt()).abs() < 1e-12, "{v2}");
    }

    #[test]
    fn the_simplex_etf_is_the_optimum_of_both_separations() {
        let s3 = 3f64.sqrt() / 2.0;
        let etf = [1.0, 0.0, -0.5, s3, -0.5, -s3];
        let (v0, g0) = separation(&etf, 3, 2, Separation::Nearest);
        assert!((v0 + 2.0 * PI / 3.0).abs() < 1e-12);
        let (v2, g2) = separation(&etf, 3, 2, Separation::Etf);
        assert!((v2 - 1.5).abs() < 1e-12);
        assert!(g2.iter().all(|g| g.abs() < 1e-12), "{g2:?}");
        // nearest: every nearest neighbour ties there, and the max's (sub)gradient picks one, so
        // it is not 0; the value is still the minimum
        assert!(g0.iter().any(|g| g.abs() > 0.1), "{g0:?}");
        // any perturbation raises both
        let mut p = etf;
        p[1] += 0.1;
        assert!(separation(&p, 3, 2, Separation::Nearest).0 > v0);
        assert!(separation(&p, 3, 2, Separation::Etf).0 > v2);
        // and gradient descent on the means reaches it from a random start (4 classes in 5-D)
        for variant in [Separation::Nearest, Separation::Etf] {
            let mut m: Vec<f64> = reglab_core::testing::random_vec(20, 1.0, 3).iter().map(|&v| v as f64).collect();
            for _ in 0..4000 {
                let (_, g) = separation(&m, 4, 5, variant);
                m.iter_mut().zip(&g).for_each(|(a, b)| *a -= 0.05 * b);
            }
            let v: Vec<f64> = {
                let mean: Vec<f64> = (0..5).map(|j| (0..4).map(|k| m[k * 5 + j]).sum::<f64>() / 4.0).collect();
                (0..20).map(|i| m[i] - mean[i % 5]).collect()
            };
            let nrm = |a: usize| v[a * 5..a * 5 + 5].iter().map(|x| x * x).sum::<f64>().sqrt();
            for a in 0..4 {
                for b in 0..a {
                    let cos = (0..5).map(|j| v[a * 5 + j] * v[b * 5 + j]).sum::<f64>() / (nrm(a) * nrm(b));
                    // (nearest is a max: fixed-step descent chatters around the tie, within 1e-2)
                    let tol = if variant == Separation::Etf { 1e-3 } else { 1e-2 };
                    assert!((cos + 1.0 / 3.0).abs() < tol, "{variant:?} cos{a}{b} = {cos}");
                }
            }
        }
    }

    #[test]
    fn gradients_match_finite_differences() {
        let (c, d, n) = (4, 3, 7);
        let m: Vec<f64> = reglab_core::testing::random_vec(c * d, 1.0, 5).iter().map(|&v| v as f64).collect();
        let h = reglab_core::testing::random_vec(n * d, 1.5, 6);
        let labels = [0, 1, 1, 2, 0, 1, 0]; // class 3 absent
        let eps = 1e-6;
        let mut gh = vec![0.0; n * d];
        let mut gm = vec![0.0; c * d];
        compactness(&h, &labels, &m, c, d, Some((&mut gh, &mut gm)), 1.0);
        for k in 0..c * d {
            let (mut p, mut q) = (m.clone(), m.clone());
            p[k] += eps;
            q[k] -= eps;
            let fd = (compactness(&h, &labels, &p, c, d, None, 1.0) - compactness(&h, &labels, &q, c, d, None, 1.0)) / (2.0 * eps);
            assert!((fd - gm[k]).abs() < 1e-6, "∂L₁/∂M[{k}]: {fd} vs {}", gm[k]);
        }
        // h in f32: a step of 1/256 (a quadratic: the central difference is exact up to rounding)
        for k in 0..n * d {
            let (mut p, mut q) = (h.clone(), h.clone());
            let e = 1.0 / 256.0;
            p[k] += e;
            q[k] -= e;
            let dh = (p[k] - q[k]) as f64;
            let fd = (compactness(&p, &labels, &m, c, d, None, 1.0) - compactness(&q, &labels, &m, c, d, None, 1.0)) / dh;
            assert!((fd - gh[k]).abs() < 1e-6, "∂L₁/∂h[{k}]: {fd} vs {}", gh[k]);
        }
        for variant in [Separation::Nearest, Separation::Etf] {
            let (_, g) = separation(&m, c, d, variant);
            for k in 0..c * d {
                let (mut p, mut q) = (m.clone(), m.clone());
                p[k] += eps;
                q[k] -= eps;
                let fd = (separation(&p, c, d, variant).0 - separation(&q, c, d, variant).0) / (2.0 * eps);
                assert!((fd - g[k]).abs() < 1e-6, "{variant:?} ∂L₂/∂M[{k}]: {fd} vs {}", g[k]);
            }
        }
    }

    #[test]
    fn invariants() {
        // L₂ is invariant under a rotation of the means, a common shift and a common scale; L₁ is
        // the floor 10⁻¹² per class when every feature sits on its class mean
        let (c, d) = (4, 2);
        let m: Vec<f64> = reglab_core::testing::random_vec(c * d, 1.0, 9).iter().map(|&v| v as f64).collect();
        let th = 0.7f64;
        let moved: Vec<f64> = (0..c)
            .flat_map(|k| {
                let (x, y) = (m[2 * k], m[2 * k + 1]);
                [3.0 * (x * th.cos() - y * th.sin()) + 5.0, 3.0 * (x * th.sin() + y * th.cos()) - 2.0]
            })
            .collect();
        for variant in [Separation::Nearest, Separation::Etf] {
            let base = separation(&m, c, d, variant).0;
            assert!((separation(&moved, c, d, variant).0 - base).abs() < 1e-12, "{variant:?}");
            // while moving one mean alone changes it (the check above can fail)
            let mut one = m.clone();
            one[0] += 0.5;
            assert!((separation(&one, c, d, variant).0 - base).abs() > 1e-3, "{variant:?}");
        }
        let m32: Vec<f64> = m.iter().map(|&v| v as f32 as f64).collect();
        let h: Vec<f32> = [0usize, 2, 1, 3].iter().flat_map(|&y| m[y * d..(y + 1) * d].iter().map(|&v| v as f32)).collect();
        assert_eq!(compactness(&h, &[0, 2, 1, 3], &m32, c, d, None, 1.0), 1e-12);
    }

    #[test]
    fn a_step_moves_features_and_means_together_and_resumes_from_state() {
        let mut r = nc("neural-collapse=0.01:sep=0.1:means_lr=0.5");
        r.bind(3, 4, 7).unwrap();
        let again = {
            let mut q = nc("neural-collapse=0.01");
            q.bind(3, 4, 7).unwrap();
            q.means
        };
        assert_eq!(r.means, again, "the same seed draws the same means");
        let h = reglab_core::testing::random_vec(6 * 4, 1.0, 8);
        let labels = [0, 1, 2, 0, 1, 2];
        let mut g = vec![0.0; 24];
        let value = r.step(&h, &labels, 6, &mut g).unwrap();
        // the value is λ₁L₁ + λ₂L₂ at the means before the step, and the means took the SGD step
        // M − α(∇_M L₁ + (λ₂/λ₁)∇_M L₂)
        let (l2, g2) = separation(&again, 3, 4, Separation::Nearest);
        let mut gm = vec![0.0; 12];
        let l1 = compactness(&h, &labels, &again, 3, 4, Some((&mut [0.0; 24], &mut gm)), 1.0);
        assert!((value - (0.01 * l1 + 0.1 * l2)).abs() < 1e-15);
        for k in 0..12 {
            let want = again[k] - 0.5 * (gm[k] + 10.0 * g2[k]);
            assert!((r.means[k] - want).abs() < 1e-6 * want.abs().max(1.0), "{k}: {} vs {want}", r.means[k]);
        }
        // without separation, the means' step lowers L₁ at fixed features
        let mut q = nc("neural-collapse=0.01:sep=0:means_lr=0.5");
        q.bind(3, 4, 7).unwrap();
        let before = compactness(&h, &labels, &q.means, 3, 4, None, 1.0);
        q.step(&h, &labels, 6, &mut [0.0; 24]).unwrap();
        assert!(compactness(&h, &labels, &q.means, 3, 4, None, 1.0) < before);
        // the feature gradient is λ₁·∂L₁/∂h at the means before the step
        let mut want = vec![0.0; 24];
        let mut unused = vec![0.0; 12];
        compactness(&h, &labels, &again, 3, 4, Some((&mut want, &mut unused)), 0.01);
        assert_eq!(g, want);
        // state round trip
        let mut s = nc("neural-collapse=0.01");
        s.bind(3, 4, 99).unwrap();
        s.load_state(&r.state()).unwrap();
        assert_eq!(s.means, r.means);
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        for bad in [
            "neural-collapse=0",
            "neural-collapse=-1",
            "neural-collapse=1:sep=-1",
            "neural-collapse=1:means_lr=0",
            "neural-collapse=1:variant=x",
            "neural-collapse=1:k=1",
        ] {
            assert!(Spec::parse(bad).and_then(|s| NeuralCollapse::from_spec(&s)).is_err(), "{bad}");
        }
        let mut r = nc("neural-collapse=1");
        assert!(r.step(&[0.0; 4], &[0, 1], 2, &mut [0.0; 4]).is_err(), "unbound");
        assert!(r.bind(1, 4, 0).is_err());
        r.bind(2, 2, 0).unwrap();
        assert!(r.step(&[0.0; 4], &[0, 2], 2, &mut [0.0; 4]).is_err(), "label out of range");
        assert!(r.step(&[0.0; 3], &[0, 1], 2, &mut [0.0; 4]).is_err(), "short features");
        let bad = NamedTensor::new("neural-collapse.means", vec![3, 2], vec![0.0; 6]);
        assert!(r.load_state(&[bad]).is_err());
    }
}
