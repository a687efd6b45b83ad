//! `mhe=λ:s=2`: minimum hyperspherical energy of the rows (filters), a Thomson-problem
//! energy of the normalized filters on the unit sphere.
//!
//! ## Formula
//! ```text
//! ŵ_i  = w_i / √(‖w_i‖² + ε),          ε = 1e-4
//! c_ij = ŵ_iᵀ ŵ_j,   d_ij² = 2 − 2 c_ij,   θ_ij = arccos(c_ij)
//! E(W) = (1 / #pairs) · Σ_{pairs i<j} f(c_ij)
//!
//! s=0 : f = −ln(d²)            s=a0 : f = −ln(θ/π + δ)
//! s=1 : f = (d²)^(−1/2) = 1/d   s=a1 : f = (θ/π + δ)^(−1)       δ = 1e-4
//! s=2 : f = (d²)^(−1)   = 1/d²  s=a2 : f = (θ/π + δ)^(−2)
//! ```
//! and the training objective adds `λ · Σ_layers E`.
//!
//! - full space (`half=false`, default): the points are the `N` rows, `#pairs = N(N−1)/2`.
//! - half space (`half=true`): the points are the `2N` vectors `±w_i` and the average runs over
//!   all `2N(2N−1)/2 = N(2N−1)` pairs, the `N` pairs `(w_i, −w_i)` included. It is computed
//!   without materialising `2N` rows: for `i < j` the four pairs give `f(c) + f(c) + f(−c) +
//!   f(−c)`, and `(w_i, −w_i)` gives `f(−ŵ_iᵀŵ_i)`, with `ŵ_iᵀŵ_i = ‖w_i‖²/(‖w_i‖² + ε)`.
//!
//! Symbols and shapes:
//! - `W ∈ R^{N×d}`: the layer weight in PyTorch layout, rows `w_i` are units or filters; a
//!   convolution kernel `[out, in, kh, kw]` is read as `[out, in·kh·kw]`. Stored either
//!   row-major or transposed (burn's `Linear`, `[in, out]`); the gradient is written in the
//!   storage layout of `W`. The bias is not involved.
//! - `ε = 1e-4` inside the norm and `δ = 1e-4` added to the normalized angle are the official
//!   code's constants. Because of `ε`, `|c_ij| ≤ √(ρ_i ρ_j) < 1` with `ρ_i = ‖w_i‖²/(‖w_i‖²+ε)`,
//!   so `d² > 0` and `arccos` is defined for every pair of distinct rows, even equal ones.
//! - `λ ≥ 0`: the strength (outside `E`).
//!
//! Gradient (analytic): with `G = Ŵ Ŵᵀ` and `S` the symmetric `N×N` matrix of `∂E/∂G_ij`
//! (`S_ij = k f'(c_ij)` for `i ≠ j` in full space, `2k (f'(c) − f'(−c))` in half space,
//! `S_ii = −2k f'(−ρ_i)` in half space and `0` in full space, `k = 1/#pairs`),
//! `∂E/∂Ŵ = S Ŵ`, and back through `ŵ = w/q`, `q = √(‖w‖² + ε)`:
//! `∂E/∂w_i = (u_i − ŵ_i (ŵ_iᵀ u_i)) / q_i` with `u_i = (SŴ)_i` and `ŵ_iᵀu_i = Σ_j S_ij G_ij`.
//! Folded into one matrix: `∂E/∂W = B W` with `B_ij = S_ij/(q_i q_j)` (`i ≠ j`) and
//! `B_ii = (S_ii − Σ_j S_ij G_ij)/q_i²`. The derivatives used (`∂d²/∂c = −2`):
//! `f'₀ = 2/d²`, `f'₁ = (d²)^(−3/2)`, `f'₂ = 2/(d²)²`, and with `a = θ/π + δ`,
//! `∂a/∂c = −1/(π√(1 − c²))`: `f'_a0 = 1/(a π √(1−c²))`, `f'_a1 = 1/(a² π √(1−c²))`,
//! `f'_a2 = 2/(a³ π √(1−c²))`.
//!
//! Computation: f32 GEMMs on strided views, no transposing copy whatever the storage: `W Wᵀ`
//! by block rows of 128, only the blocks on or above the diagonal (about half the work), then
//! `B W`. Row norms and the per-pair terms in f64, only `i < j` evaluated (the lower triangle of
//! `B` is mirrored; in half space one `arccos` serves `c` and `−c`). Cost `O(N²·d)`; the
//! scratch (`N×N` and `128×N`) is kept between calls. [`Mode`] makes no difference.
//!
//! ## Behaviour at the edges, and the official code
//! The official TensorFlow code (`wy1iu/MHE`, `code/architecture.py`, `_add_thomson_constraint`
//! and `_add_thomson_constraint_final`, commit a822ebf) takes filters as the *columns* of the
//! kernel reshaped to `[-1, n_filt]` (TF layout `[kh, kw, in, out]`), i.e. our rows; it builds
//! the whole `N×N` (or `2N×2N`) matrix of `f`, adds `I` to `d²` before `log`/`pow` (so the
//! diagonal `i = j`, where `d² ≈ 0`, stays finite) and removes the lower triangle and the
//! diagonal with `matrix_band_part`; it does not clamp before `acos`, relying on `ε` for
//! `|c| < 1`. Here only `i < j` is evaluated, so the diagonal never arises. Where f32 rounding
//! of the Gram matrix could push `c_ij` past the exact bound `±√(ρ_i ρ_j)` (only for huge,
//! nearly parallel rows), `c` is clamped to it, `d²` is floored at `2(1 − √(ρ_iρ_j))` and `1 − c²`
//! at `1 − ρ_iρ_j` (both computed without cancellation): no-ops in exact arithmetic, they keep
//! every value and gradient finite (the official code would return `inf`/NaN there); the
//! gradient then keeps the repulsive `f'` at the bound. A layer with a single row has no pair:
//! `E = 0` in full space (the official code divides `0/0`); in half space its one pair is
//! `(w, −w)`.
//!
//! The official `s=0` is `−ln(d²) = 2·ln(1/d)`, twice the paper's `ln(1/d)`; reglab follows the
//! code. The code also weights the terms (train.py sums them into the loss): hidden layers
//! `1·E` (`0.1·E` for `a1`, `a2`), in the variant chosen by `--model_name` (`mhe` or
//! `half_mhe`), and the output layer always full-space with `10·E` (`1·E` for `a1`, `a2`).
//! reglab hard-codes no layer roles; reproduce that with two terms and `select=` globs, e.g.
//! for an MLP `layers.0`, `layers.1`, output `layers.2`:
//! `mhe=1:s=0:half=true:select=layers.0.weight|layers.1.weight` and
//! `mhe=10:s=0:select=layers.2.weight` (for `s=a1`: `mhe=0.1:…` and `mhe=1:…`).
//! The official training script's default is `power_s=0`; reglab's default is `s=2`.
//!
//! ## Paper
//! W. Liu, R. Lin, Z. Liu, L. Liu, Z. Yu, B. Dai, L. Song, "Learning towards Minimum
//! Hyperspherical Energy", NeurIPS 2018 (arXiv 1805.09298): `E_s = Σ_{i≠j} f_s(‖ŵ_i − ŵ_j‖)`,
//! `f_s(z) = z^{−s}` (`s > 0`), `log(z^{−1})` (`s = 0`), the angular variants with
//! `arccos(ŵ_iᵀŵ_j)` in place of the distance, and half-space MHE on `{±w_i}`; the official
//! code (github.com/wy1iu/MHE) averages over the pairs `i < j`, as here.

use reglab_core::linalg::{add_sym_times, gemm, sum_sq};
use reglab_core::regularizer::check_matrix;
use reglab_core::{Error, Layout, MatRef, Mode, Regularizer, Result, Spec, Target, TargetGrad};

/// `ε` under the square root of the row norm (official: `tf.sqrt(Σ w² + 1e-4)`).
pub const EPS_NORM: f64 = 1e-4;
/// `δ` added to the normalized angle `θ/π` in the angular variants (official: `acos += 1e-4`).
pub const EPS_ANGLE: f64 = 1e-4;

/// Rows per block of the Gram matrix: above it only the blocks on or above the diagonal are
/// multiplied, about half the work of the full `W Wᵀ`.
const GRAM_BLOCK: usize = 128;

/// The energy `f` of one pair; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Energy {
    /// `s=0`: `−ln(d²)`.
    Log,
    /// `s=1`: `1/d`.
    Inv1,
    /// `s=2`: `1/d²`.
    Inv2,
    /// `s=a0`: `−ln(θ/π + δ)`.
    AngLog,
    /// `s=a1`: `(θ/π + δ)^(−1)`.
    AngInv1,
    /// `s=a2`: `(θ/π + δ)^(−2)`.
    AngInv2,
}

impl Energy {
    /// The option values of `s`, in the order of the variants.
    pub const NAMES: &'static [&'static str] = &["0", "1", "2", "a0", "a1", "a2"];

    fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "0" => Self::Log,
            "1" => Self::Inv1,
            "2" => Self::Inv2,
            "a0" => Self::AngLog,
            "a1" => Self::AngInv1,
            "a2" => Self::AngInv2,
            _ => return None,
        })
    }

    fn is_angular(self) -> bool {
        matches!(self, Self::AngLog | Self::AngInv1 | Self::AngInv2)
    }

    /// Euclidean variants: `(f, ∂f/∂c)` at `d² = 2 − 2c`.
    #[inline]
    fn radial(self, d2: f64) -> (f64, f64) {
        match self {
            Self::Log => (-d2.ln(), 2.0 / d2),
            Self::Inv1 => {
                let r = 1.0 / d2.sqrt();
                (r, r * r * r)
            }
            _ => {
                let r = 1.0 / d2;
                (r, 2.0 * r * r)
            }
        }
    }

    /// Angular variants: `(φ(a), −φ'(a))` at `a = θ/π + δ`, so that `∂f/∂c = −φ'(a)·(−∂a/∂c)`.
    #[inline]
    fn angular(self, a: f64) -> (f64, f64) {
        let ia = 1.0 / a;
        match self {
            Self::AngLog => (-a.ln(), ia),
            Self::AngInv1 => (ia, ia * ia),
            _ => (ia * ia, 2.0 * ia * ia * ia),
        }
    }

    /// `−∂a/∂c = 1/(π √(1 − c²))`, with `1 − c²` floored at `m`.
    #[inline]
    fn dangle(c: f64, m: f64) -> f64 {
        1.0 / (std::f64::consts::PI * (1.0 - c * c).max(m).sqrt())
    }

    /// `(f(c), f'(c))` for `c ∈ [−r, r]`, where `m = 1 − r²` is the exact floor of `1 − c²`
    /// and `d2_min = 2(1 − r)` that of `d² = 2 − 2c`.
    #[inline]
    fn eval(self, c: f64, m: f64, d2_min: f64) -> (f64, f64) {
        if self.is_angular() {
            let (f, g) = self.angular(c.acos() / std::f64::consts::PI + EPS_ANGLE);
            (f, g * Self::dangle(c, m))
        } else {
            self.radial((2.0 - 2.0 * c).max(d2_min))
        }
    }

    /// `(f(c) + f(−c), f'(c) − f'(−c))`, the half-space terms of a pair, sharing one `acos`
    /// (`arccos(−c) = π − arccos(c)`).
    #[inline]
    fn eval_sym(self, c: f64, m: f64, d2_min: f64) -> (f64, f64) {
        if self.is_angular() {
            let t = c.acos() / std::f64::consts::PI;
            let (f1, g1) = self.angular(t + EPS_ANGLE);
            let (f2, g2) = self.angular((1.0 - t) + EPS_ANGLE);
            (f1 + f2, (g1 - g2) * Self::dangle(c, m))
        } else {
            let (f1, p1) = self.radial((2.0 - 2.0 * c).max(d2_min));
            let (f2, p2) = self.radial((2.0 + 2.0 * c).max(d2_min));
            (f1 + f2, p1 - p2)
        }
    }
}

/// Minimum hyperspherical energy of the rows. See the module documentation.
#[derive(Debug, Clone)]
pub struct Mhe {
    energy: Energy,
    half: bool,
    /// Scratch: `W Wᵀ` (upper triangle), then overwritten by `B`, `[N, N]` row-major.
    gram: Vec<f32>,
    /// Scratch for one block row of the Gram matrix, `[GRAM_BLOCK, N]`.
    block: Vec<f32>,
    /// Per row: `‖w_i‖²`, `1/√(‖w_i‖² + ε)`, `√ρ_i`, `Σ_j S_ij G_ij`.
    sq: Vec<f64>,
    inv: Vec<f64>,
    root: Vec<f64>,
    t: Vec<f64>,
}

impl Mhe {
    /// A regularizer with the given energy, full space (`half = false`) or half space.
    pub fn new(energy: Energy, half: bool) -> Self {
        Self { energy, half, gram: Vec::new(), block: Vec::new(), sq: Vec::new(), inv: Vec::new(), root: Vec::new(), t: Vec::new() }
    }

    /// Build from a spec: `mhe=λ[:s=0|1|2|a0|a1|a2][:half=false|true]`, defaults `s=2`,
    /// `half=false`.
    pub fn from_spec(spec: &Spec) -> Result<Self> {
        let mut o = spec.options();
        let s = o.choice("s", Energy::NAMES, "2")?;
        let half = o.choice("half", &["false", "true"], "false")? == "true";
        o.finish()?;
        let energy = Energy::from_name(&s).ok_or_else(|| Error::Spec { spec: spec.raw().to_string(), why: format!("option `s={s}`") })?;
        Ok(Self::new(energy, half))
    }

    /// The energy variant.
    pub fn energy(&self) -> Energy {
        self.energy
    }

    /// Whether this is half-space MHE.
    pub fn half(&self) -> bool {
        self.half
    }
}

impl Regularizer for Mhe {
    fn name(&self) -> &'static str {
        "mhe"
    }

    fn accepts(&self, tensor: &reglab_core::TensorRef<'_>) -> bool {
        tensor.is_matrix()
    }

    fn eval(&mut self, t: &Target<'_>, grad: Option<&mut TargetGrad<'_>>, scale: f32, _mode: Mode) -> Result<f64> {
        check_matrix("mhe", t, grad.as_deref())?;
        let wt = &t.weight;
        let w = wt.matrix();
        let (n, d) = (w.rows, w.cols);
        let pairs = if self.half { n * (2 * n).saturating_sub(1) } else { n * n.saturating_sub(1) / 2 };
        if pairs == 0 {
            return Ok(0.0);
        }
        let k = 1.0 / pairs as f64;

        // Row norms in f64, in the storage order.
        self.sq.clear();
        self.sq.resize(n, 0.0);
        match wt.layout {
            Layout::RowMajor => {
                for (i, s) in self.sq.iter_mut().enumerate() {
                    *s = sum_sq(&wt.data[i * d..(i + 1) * d]);
                }
            }
            Layout::Transposed => {
                for col in wt.data.chunks_exact(n) {
                    for (s, &x) in self.sq.iter_mut().zip(col) {
                        *s += (x as f64) * (x as f64);
                    }
                }
            }
        }
        self.inv.clear();
        self.inv.extend(self.sq.iter().map(|&s| 1.0 / (s + EPS_NORM).sqrt()));
        self.root.clear();
        self.root.extend(self.sq.iter().zip(&self.inv).map(|(&s, &q)| s.sqrt() * q));
        self.t.clear();
        self.t.resize(n, 0.0);

        self.gram.resize(n * n, 0.0);
        let g = &mut self.gram[..n * n];
        if n <= GRAM_BLOCK || d == 0 {
            gemm(1.0, w, w.t(), 0.0, g);
        } else {
            // only the blocks on or above the diagonal: rows i0..i1 against rows i0..n
            self.block.resize(GRAM_BLOCK * n, 0.0);
            for i0 in (0..n).step_by(GRAM_BLOCK) {
                let (bn, cn) = ((n - i0).min(GRAM_BLOCK), n - i0);
                let tail = MatRef { data: &w.data[i0 * w.rs..], rows: n - i0, ..w };
                let head = MatRef { rows: bn, ..tail };
                let out = &mut self.block[..bn * cn];
                gemm(1.0, head, tail.t(), 0.0, out);
                for (r, src) in out.chunks_exact(cn).enumerate() {
                    g[(i0 + r) * n + i0..(i0 + r + 1) * n].copy_from_slice(src);
                }
            }
        }

        let (energy, half) = (self.energy, self.half);
        let (sq, inv, root, tt) = (&self.sq, &self.inv, &self.root, &mut self.t);
        let mut value = 0.0f64;
        for i in 0..n {
            let (si, qi, ri) = (sq[i], inv[i], root[i]);
            let row = &mut g[i * n..(i + 1) * n];
            let mut ti = 0.0f64;
            for j in i + 1..n {
                let qij = qi * inv[j];
                let r = ri * root[j];
                // 1 − ρ_i ρ_j = ε (s_i + s_j + ε) / ((s_i + ε)(s_j + ε)), without cancellation
                let m = EPS_NORM * (si + sq[j] + EPS_NORM) * qij * qij;
                let d2_min = 2.0 * m / (1.0 + r);
                let c = (row[j] as f64 * qij).clamp(-r, r);
                let s = if half {
                    let (f, fp) = energy.eval_sym(c, m, d2_min);
                    value += 2.0 * f;
                    2.0 * fp
                } else {
                    let (f, fp) = energy.eval(c, m, d2_min);
                    value += f;
                    fp
                };
                ti += s * c;
                tt[j] += s * c;
                row[j] = (k * s * qij) as f32;
            }
            tt[i] += ti;
        }
        // the diagonal of B (and, in half space, the pairs (w_i, −w_i))
        for i in 0..n {
            let qi2 = inv[i] * inv[i];
            let mut sii = 0.0;
            if half {
                let rho = sq[i] * qi2;
                let m = EPS_NORM * (2.0 * sq[i] + EPS_NORM) * qi2 * qi2;
                let (f, fp) = energy.eval(-rho, m, 2.0 * m / (1.0 + rho));
                value += f;
                sii = -2.0 * fp;
                tt[i] += sii * rho;
            }
            g[i * n + i] = (k * qi2 * (sii - tt[i])) as f32;
        }
        value *= k;

        if let Some(gr) = grad {
            // mirror the upper triangle of B into the lower, by tiles
            const TILE: usize = 64;
            for ib in (0..n).step_by(TILE) {
                for jb in (ib..n).step_by(TILE) {
                    for i in ib..(ib + TILE).min(n) {
                        for j in (jb.max(i + 1))..(jb + TILE).min(n) {
                            g[j * n + i] = g[i * n + j];
                        }
                    }
                }
            }
            // G += scale · B W in the storage layout (B is symmetric)
            add_sym_times(scale, g, w, wt.layout, gr.weight);
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reglab_core::testing::{Case, dense, gradient_error, matmul, orthogonal, rel, transpose};

    const ALL: [(&str, bool); 12] = [
        ("0", false),
        ("1", false),
        ("2", false),
        ("a0", false),
        ("a1", false),
        ("a2", false),
        ("0", true),
        ("1", true),
        ("2", true),
        ("a0", true),
        ("a1", true),
        ("a2", true),
    ];

    fn reg(s: &str, half: bool) -> Mhe {
        Mhe::from_spec(&Spec::parse(&format!("mhe=1:s={s}:half={half}")).unwrap()).unwrap()
    }

    /// Straight from the definition, in f64: the points (and their negatives in half space),
    /// every pair p < q, `f` from `acos`/`ln`/`powf`, averaged over the pairs.
    fn naive(c: &Case, s: &str, half: bool) -> f64 {
        let (rows, cols, m) = dense(c);
        let mut pts: Vec<Vec<f64>> = (0..rows).map(|i| m[i * cols..(i + 1) * cols].to_vec()).collect();
        if half {
            let neg: Vec<Vec<f64>> = pts.iter().map(|p| p.iter().map(|x| -x).collect()).collect();
            pts.extend(neg);
        }
        let np = pts.len();
        let mut sum = 0.0;
        for p in 0..np {
            for q in p + 1..np {
                let dot: f64 = pts[p].iter().zip(&pts[q]).map(|(a, b)| a * b).sum();
                let n2 = |v: &Vec<f64>| v.iter().map(|a| a * a).sum::<f64>();
                let cpq = dot / ((n2(&pts[p]) + 1e-4).sqrt() * (n2(&pts[q]) + 1e-4).sqrt());
                let d2 = 2.0 - 2.0 * cpq;
                let a = cpq.acos() / std::f64::consts::PI + 1e-4;
                sum += match s {
                    "0" => -d2.ln(),
                    "1" => d2.powf(-0.5),
                    "2" => d2.powf(-1.0),
                    "a0" => -a.ln(),
                    "a1" => a.powf(-1.0),
                    "a2" => a.powf(-2.0),
                    _ => unreachable!(),
                };
            }
        }
        sum / (np * (np - 1) / 2) as f64
    }

    fn with(c: &Case, weight: Vec<f32>) -> Case {
        Case { weight, ..c.clone() }
    }

    #[test]
    fn value_matches_the_definition_for_every_variant() {
        for c in [
            Case::random("a.weight", &[5, 7], 1),
            Case::random("b.weight", &[7, 5], 2),
            Case::random("c.weight", &[2, 9], 3),
            Case::random("d.weight", &[4, 3, 2, 2], 4),
        ] {
            for (s, half) in ALL {
                let want = naive(&c, s, half);
                let got = c.value(&mut reg(s, half));
                assert!(rel(got, want) < 1e-5, "{} s={s} half={half}: {got} vs {want}", c.name);
                if c.shape.len() == 2 {
                    let got = c.transposed().value(&mut reg(s, half));
                    assert!(rel(got, want) < 1e-5, "{} transposed s={s} half={half}: {got} vs {want}", c.name);
                }
            }
        }
    }

    #[test]
    fn blocked_gram_path_matches_the_definition() {
        // N > 128: the Gram matrix is built by block rows
        let c = Case::random("big.weight", &[300, 5], 30);
        for (s, half) in [("2", false), ("a0", true), ("1", true)] {
            let want = naive(&c, s, half);
            assert!(rel(c.value(&mut reg(s, half)), want) < 1e-5, "s={s} half={half}");
            assert!(rel(c.transposed().value(&mut reg(s, half)), want) < 1e-5, "transposed s={s} half={half}");
        }
        // finite differences on entries of rows in different blocks, both layouts
        let c = Case::random("big.weight", &[200, 4], 31);
        for case in [c.clone(), c.transposed()] {
            for (s, half) in [("0", false), ("a2", true)] {
                let mut r = reg(s, half);
                let (_, g, _) = case.value_and_grad(&mut r);
                for (row, col) in [(0usize, 1usize), (127, 3), (128, 0), (199, 2)] {
                    let idx = match case.layout {
                        Layout::RowMajor => row * 4 + col,
                        Layout::Transposed => col * 200 + row,
                    };
                    let h = 1e-3f32;
                    let (mut p, mut m) = (case.clone(), case.clone());
                    p.weight[idx] += h;
                    m.weight[idx] -= h;
                    let fd = (p.value(&mut r) - m.value(&mut r)) / (p.weight[idx] as f64 - m.weight[idx] as f64);
                    assert!((fd - g[idx] as f64).abs() < 1e-3 * fd.abs().max(1e-4), "{:?} s={s} ({row},{col}): {fd} vs {}", case.layout, g[idx]);
                }
            }
        }
    }

    #[test]
    fn gradient_matches_finite_differences_for_every_variant() {
        for (s, half) in ALL {
            for c in [
                Case::random("a.weight", &[4, 6], 5),
                Case::random("b.weight", &[5, 3], 6).transposed(),
                Case::random("c.weight", &[3, 5], 7).transposed(),
                Case::random("conv.weight", &[4, 3, 2, 2], 8),
            ] {
                let e = gradient_error(&mut reg(s, half), &c, 1e-3);
                assert!(e < 1e-3, "{} {:?} s={s} half={half}: {e}", c.name, c.layout);
            }
        }
    }

    #[test]
    fn gradient_is_added_scaled_in_the_storage_layout() {
        for (s, half) in [("2", false), ("a1", true)] {
            let c = Case::random("fc.weight", &[3, 4], 9);
            let (_, g1, _) = c.value_and_grad(&mut reg(s, half));
            for case in [c.clone(), c.transposed()] {
                let mut gw = vec![1.0f32; case.weight.len()];
                let mut g = TargetGrad { weight: &mut gw, bias: None };
                reg(s, half).eval(&case.target(), Some(&mut g), 0.25, Mode::Step).unwrap();
                for i in 0..3 {
                    for k in 0..4 {
                        let idx = match case.layout {
                            Layout::RowMajor => i * 4 + k,
                            Layout::Transposed => k * 3 + i,
                        };
                        let want = 1.0 + 0.25 * g1[i * 4 + k];
                        assert!((gw[idx] - want).abs() < 1e-6, "{:?} ({i},{k}): {} vs {want}", case.layout, gw[idx]);
                    }
                }
            }
        }
    }

    // Fixtures from the official TensorFlow code: wy1iu/MHE, code/architecture.py, commit
    // a822ebfa3cda85f89edd4b4175e841903f7be129, `VGG._add_thomson_constraint(filt, n_filt,
    // model, power)` with model = "mhe" (half = false) or "half_mhe" (half = true), run
    // unchanged under TF 2.21 via `tensorflow.compat.v1` (graph mode, float32), value and
    // `tf.gradients(loss, filt)`, both divided by the code's constant (1; 0.1 for a1, a2).
    // (`_add_thomson_constraint_final`, the output-layer version, gave the same values × 10,
    // × 1 for a1, a2.) Inputs, in our layout:
    //   fc   [out=6, in=4]: w[i] = ((i·37 mod 19) − 9)/10, i = 0..24 row-major; fed to TF as
    //        Wᵀ [in, out] (TF columns = filters), gradient transposed back;
    //   conv [out=3, in=2, kh=2, kw=2]: w[i] = ((i·23 mod 17) − 8)/8; fed to TF as the kernel
    //        [kh, kw, in, out] (numpy transpose(2, 3, 1, 0)), gradient transposed back.
    // Rows 1 and 5 of fc are nearly parallel (c ≈ 0.995): the large values and gradients.
    fn fixture(net: &str) -> Case {
        match net {
            "fc" => Case { weight: (0..24).map(|i| ((i * 37 % 19) as f32 - 9.0) / 10.0).collect(), ..Case::random("fc.weight", &[6, 4], 0) },
            _ => Case { weight: (0..24).map(|i| ((i * 23 % 17) as f32 - 8.0) / 8.0).collect(), ..Case::random("conv.weight", &[3, 2, 2, 2], 0) },
        }
    }

    /// `(s, half, E)` of the official function on the `fc` fixture input.
    const OFFICIAL_FC_VALUES: [(&str, bool, f64); 12] = [
        ("0", false, -0.1572782546),
        ("1", false, 1.702112675),
        ("2", false, 10.1819582),
        ("a0", false, 0.9068374038),
        ("a1", false, 5.077294111),
        ("a2", false, 98.91885757),
        ("0", true, -0.2174846828),
        ("1", true, 1.365719199),
        ("2", true, 5.641578674),
        ("a0", true, 0.8661242723),
        ("a1", true, 4.015502334),
        ("a2", true, 54.37503338),
    ];
    /// `(s, half, E)` of the official function on the `conv` fixture input.
    const OFFICIAL_CONV_VALUES: [(&str, bool, f64); 12] = [
        ("0", false, -0.3715950847),
        ("1", false, 0.9502069354),
        ("2", false, 1.171813369),
        ("a0", false, 0.8295578957),
        ("a1", false, 2.751173079),
        ("a2", false, 10.58602691),
        ("0", true, -0.6057665944),
        ("1", true, 0.814478457),
        ("2", true, 0.8208757043),
        ("a0", true, 0.6491242647),
        ("a1", true, 2.258109748),
        ("a2", true, 7.026603818),
    ];
    /// `(input, s, half, ∂E/∂W in our layout [out, in(, kh, kw)] row-major)` of the official function.
    const OFFICIAL_GRADS: [(&str, &str, bool, [f64; 24]); 7] = [
        (
            "fc",
            "2",
            false,
            [
                0.0651991218,
                0.035766907,
                0.023421241,
                0.0110755768,
                -84.2978516,
                -15.2086792,
                53.7995605,
                122.807861,
                0.181222528,
                0.440934837,
                0.620429277,
                0.799923778,
                -33.6564178,
                -15.5367889,
                2.56311035,
                20.6630249,
                15.2054758,
                6.0860405,
                -3.04399586,
                -12.174036,
                57.4720459,
                14.4133911,
                -28.7054749,
                -71.8243713,
            ],
        ),
        (
            "fc",
            "0",
            true,
            [
                0.0525128841,
                0.00604965724,
                0.020933792,
                0.0358179212,
                -0.48273778,
                -0.0767946243,
                0.305818439,
                0.688431144,
                0.107491992,
                0.0825563297,
                0.189522982,
                0.296489596,
                -0.583370447,
                -0.321354032,
                0.0370733142,
                0.395500839,
                0.0266096108,
                -0.00757892989,
                -0.00677860528,
                -0.00597836915,
                0.119602725,
                0.0387783945,
                -0.0605666488,
                -0.159911931,
            ],
        ),
        (
            "fc",
            "a1",
            false,
            [
                0.116030023,
                0.0759420171,
                0.0405631103,
                0.00518420711,
                -12.6119709,
                -2.20602036,
                8.035326,
                18.2766819,
                0.192044899,
                0.654533505,
                0.844223857,
                1.03391433,
                -8.4405899,
                -3.85446787,
                0.648732185,
                5.15194416,
                3.87976193,
                1.57279181,
                -0.775155962,
                -3.12310481,
                8.66760254,
                2.22435951,
                -4.3345499,
                -10.893445,
            ],
        ),
        (
            "fc",
            "a2",
            true,
            [
                0.737992585,
                0.0860021561,
                0.294070601,
                0.502139091,
                -382.122345,
                -69.0010071,
                243.872986,
                556.746765,
                1.43042767,
                1.33371139,
                2.75786281,
                4.18201447,
                -159.762741,
                -74.6297455,
                12.0461082,
                98.7220001,
                52.0590744,
                20.5642128,
                -10.4477091,
                -41.4596329,
                243.997803,
                61.172924,
                -121.858215,
                -304.889282,
            ],
        ),
        (
            "conv",
            "1",
            true,
            [
                -0.00751764933,
                0.0601753891,
                -0.0196550302,
                -0.0208227187,
                0.046870321,
                -0.032960102,
                -0.0341277868,
                0.0335652456,
                -0.0188179277,
                -0.0638589561,
                -0.0964786708,
                -0.0242545344,
                -0.0692955628,
                -0.101915285,
                -0.029691156,
                -0.0747321844,
                0.102769583,
                0.0505083576,
                0.0557346903,
                0.103640646,
                0.0513794124,
                0.0566057414,
                0.104511693,
                0.0522504672,
            ],
        ),
        (
            "conv",
            "a0",
            false,
            [
                0.00935577601,
                -0.11112795,
                0.0216709115,
                0.031488914,
                -0.0889948159,
                0.0438040532,
                0.0536220595,
                -0.0668616667,
                -0.108341165,
                -0.184776232,
                -0.0734394342,
                -0.0897850394,
                -0.166220099,
                -0.0548832975,
                -0.0712289214,
                -0.147663966,
                0.0834581405,
                0.0249876678,
                0.125389844,
                0.100191832,
                0.0417213589,
                0.142123535,
                0.116925538,
                0.0584550574,
            ],
        ),
        (
            "conv",
            "2",
            true,
            [
                -0.0177387744,
                0.135025933,
                -0.0469134934,
                -0.0480620079,
                0.104702696,
                -0.0772367343,
                -0.0783852488,
                0.074379459,
                -0.0948845744,
                -0.251790941,
                -0.301437318,
                -0.103158981,
                -0.260065317,
                -0.309711695,
                -0.111433357,
                -0.268339694,
                0.328864276,
                0.15664643,
                0.203249186,
                0.336631417,
                0.164413571,
                0.211016297,
                0.344398558,
                0.172180682,
            ],
        ),
    ];

    #[test]
    fn matches_the_official_tensorflow_values_and_gradients() {
        for (net, table) in [("fc", &OFFICIAL_FC_VALUES), ("conv", &OFFICIAL_CONV_VALUES)] {
            let c = fixture(net);
            for &(s, half, want) in table.iter() {
                // both sides compute the Gram in f32; on the nearly parallel pair of `fc`
                // (d² ≈ 0.009) that leaves ~2e-5 relative error in d², hence the tolerance
                let close = |v: f64| (v - want).abs() <= 2e-5 * want.abs().max(1.0);
                let got = c.value(&mut reg(s, half));
                assert!(close(got), "{net} s={s} half={half}: {got} vs {want}");
                if net == "fc" {
                    let got = c.transposed().value(&mut reg(s, half));
                    assert!(close(got), "{net} transposed s={s} half={half}: {got} vs {want}");
                }
                // the official function is the f64 definition up to its float32 rounding
                assert!(rel(naive(&c, s, half), want) < 3e-6, "{net} s={s} half={half}: naive");
            }
        }
        for (net, s, half, want) in OFFICIAL_GRADS {
            let c = fixture(net);
            let cases = if net == "fc" { vec![c.clone(), c.transposed()] } else { vec![c.clone()] };
            for case in cases {
                let (_, g, _) = case.value_and_grad(&mut reg(s, half));
                // back to our row-major [out, ...] order
                let g = if case.layout == Layout::Transposed { transpose(&g, 4, 6) } else { g };
                // f32 on both sides; fc's nearly parallel pair costs ~4e-5 (∂f/∂c ∝ 1/d⁴)
                let tol = if net == "fc" { 1e-4 } else { 1e-5 };
                let diff: f64 = g.iter().zip(&want).map(|(&a, &b)| (a as f64 - b).powi(2)).sum::<f64>().sqrt();
                let norm: f64 = want.iter().map(|b| b * b).sum::<f64>().sqrt();
                assert!(diff / norm < tol, "{net} {:?} s={s} half={half}: {}", case.layout, diff / norm);
                for (a, b) in g.iter().zip(&want) {
                    assert!((*a as f64 - b).abs() < tol * norm, "{net} s={s} half={half}: {a} vs {b}");
                }
            }
        }
    }

    #[test]
    fn invariant_under_row_rescaling_right_orthogonal_maps_and_row_permutations() {
        // rows of norm ~700, so that ε = 1e-4 under the norm hardly matters: it moves c by
        // ε/‖w‖², and the angle of the pairs (w_i, −w_i) by √(2ε)/‖w‖
        let c0 = Case::random("fc.weight", &[5, 6], 10);
        let c = with(&c0, c0.weight.iter().map(|x| x * 1000.0).collect());
        let p = orthogonal(6, 11);
        for (s, half) in ALL {
            let mut r = reg(s, half);
            let base = c.value(&mut r);
            let scaled: Vec<f32> = c.weight.iter().enumerate().map(|(k, &x)| x * (1.0 + (k / 6) as f32 * 0.7)).collect();
            assert!(rel(with(&c, scaled).value(&mut r), base) < 1e-5, "rescale s={s} half={half}");
            let wp = with(&c, matmul(&c.weight, &p, 5, 6, 6));
            assert!(rel(wp.value(&mut r), base) < 1e-5, "W P s={s} half={half}");
            let perm: Vec<f32> = [3usize, 0, 4, 1, 2].iter().flat_map(|&i| c.weight[i * 6..(i + 1) * 6].to_vec()).collect();
            assert!(rel(with(&c, perm).value(&mut r), base) < 1e-6, "permutation s={s} half={half}");
            // flipping the sign of a row: invariant in half space only
            let mut flip = c.weight.clone();
            flip[..6].iter_mut().for_each(|x| *x = -*x);
            let v = with(&c, flip).value(&mut r);
            if half {
                assert!(rel(v, base) < 1e-6, "flip s={s}");
            } else {
                assert!(rel(v, base) > 1e-3, "flip s={s}: {v} vs {base}");
            }
            // while a non-orthogonal map on the right changes it (the checks above can fail)
            let mut a = p.clone();
            a[..6].iter_mut().for_each(|x| *x *= 3.0);
            assert!(rel(with(&c, matmul(&c.weight, &a, 5, 6, 6)).value(&mut r), base) > 1e-3, "A s={s}");
        }
    }

    /// `‖g_i − (g_iᵀw_i) w_i/‖w_i‖²‖` summed over the rows (row-major `[_, cols]`): the part
    /// of the gradient along the sphere.
    fn tangential(w: &[f32], g: &[f32], cols: usize) -> f64 {
        w.chunks(cols)
            .zip(g.chunks(cols))
            .map(|(w, g)| {
                let ww: f64 = w.iter().map(|&x| (x as f64).powi(2)).sum();
                let gw: f64 = w.iter().zip(g).map(|(&x, &y)| x as f64 * y as f64).sum();
                w.iter().zip(g).map(|(&x, &y)| (y as f64 - gw / ww * x as f64).powi(2)).sum::<f64>().sqrt()
            })
            .sum()
    }

    /// Two unit rows in the plane at angle `phi`.
    fn two_rows(phi: f64) -> Case {
        Case { weight: vec![1.0, 0.0, phi.cos() as f32, phi.sin() as f32], ..Case::random("two.weight", &[2, 2], 0) }
    }

    #[test]
    fn two_rows_are_best_antipodal_in_full_and_orthogonal_in_half_space() {
        use std::f64::consts::PI;
        let mut full = reg("2", false);
        let at_pi = two_rows(PI).value(&mut full);
        // ρ = 1/(1 + ε): d² = 2 + 2ρ, E = 1/(2 + 2ρ) ≈ 1/4
        assert!((at_pi - 0.25).abs() < 2e-5, "{at_pi}");
        assert!(rel(at_pi, 1.0 / (2.0 + 2.0 / (1.0 + 1e-4))) < 1e-6);
        for (s, half) in ALL {
            let mut r = reg(s, half);
            let best = if half { PI / 2.0 } else { PI };
            let e_best = two_rows(best).value(&mut r);
            for k in 1..=24 {
                let phi = PI * k as f64 / 24.0;
                if (phi - best).abs() > 1e-9 {
                    assert!(two_rows(phi).value(&mut r) > e_best, "s={s} half={half} phi={phi}");
                }
            }
            // and the best is a stationary point on the sphere: no tangential gradient (the
            // radial part comes from ε alone)
            let (_, g, _) = two_rows(best).value_and_grad(&mut r);
            let off = two_rows(best * 0.8);
            let (_, g_off, _) = off.value_and_grad(&mut r);
            let t = tangential(&two_rows(best).weight, &g, 2);
            let t_off = tangential(&off.weight, &g_off, 2);
            assert!(t < 1e-5 * t_off, "s={s} half={half}: {g:?}");
        }
    }

    #[test]
    fn spread_rows_have_lower_energy_than_random_ones() {
        // the regular simplex of 4 points in R³ (and in half space, ± it: the cube's vertices)
        let simplex = Case { weight: vec![1.0, 1.0, 1.0, 1.0, -1.0, -1.0, -1.0, 1.0, -1.0, -1.0, -1.0, 1.0], ..Case::random("s.weight", &[4, 3], 0) };
        for (s, half) in ALL {
            let mut r = reg(s, half);
            let (e, g, _) = simplex.value_and_grad(&mut r);
            for seed in 0..50 {
                let c = Case::random("s.weight", &[4, 3], 100 + seed);
                assert!(c.value(&mut r) > e, "s={s} half={half} seed={seed}");
            }
            // stationary on the sphere by symmetry
            let t_rand = {
                let c = Case::random("s.weight", &[4, 3], 99);
                tangential(&c.weight, &c.value_and_grad(&mut r).1, 3)
            };
            assert!(tangential(&simplex.weight, &g, 3) < 1e-5 * t_rand, "s={s} half={half}: {g:?}");
            // and a few gradient steps from a random start lower the energy
            let mut c = Case::random("s.weight", &[4, 3], 7);
            let e0 = c.value(&mut r);
            for _ in 0..5 {
                let (_, g, _) = c.value_and_grad(&mut r);
                let gn = g.iter().map(|&x| (x as f64).powi(2)).sum::<f64>().sqrt() as f32;
                c.weight.iter_mut().zip(&g).for_each(|(w, &d)| *w -= 0.02 * d / gn);
            }
            assert!(c.value(&mut r) < e0, "s={s} half={half}");
        }
    }

    #[test]
    fn equal_zero_and_huge_rows_stay_finite() {
        for (s, half) in ALL {
            let mut r = reg(s, half);
            // two equal rows: d² = 2ε/(‖w‖² + ε), finite thanks to ε
            let eq = Case { weight: vec![0.6, 0.8, 0.0, 0.6, 0.8, 0.0, 0.0, 0.0, 1.0], ..Case::random("e.weight", &[3, 3], 0) };
            let (v, g, _) = eq.value_and_grad(&mut r);
            assert!(v.is_finite() && g.iter().all(|x| x.is_finite()), "equal s={s} half={half}");
            assert!(rel(v, naive(&eq, s, half)) < 1e-3, "equal s={s} half={half}: {v} vs {}", naive(&eq, s, half));
            // a zero row: ŵ = 0, c = 0 with every other row
            let z = Case { weight: vec![0.0, 0.0, 0.0, 0.6, 0.8, 0.0, 0.0, 0.3, 1.0], ..eq.clone() };
            let (v, g, _) = z.value_and_grad(&mut r);
            assert!(v.is_finite() && g.iter().all(|x| x.is_finite()));
            assert!(rel(v, naive(&z, s, half)) < 1e-5, "zero s={s} half={half}");
            // huge equal rows: f32 rounding of the Gram could pass |c| = 1; clamped, finite
            let h = with(&eq, eq.weight.iter().map(|x| x * 3e4).collect());
            let (v, g, _) = h.value_and_grad(&mut r);
            assert!(v.is_finite() && g.iter().all(|x| x.is_finite()), "huge s={s} half={half}: {v} {g:?}");
        }
    }

    #[test]
    fn one_row_and_empty_inputs() {
        let one = Case::random("o.weight", &[1, 5], 12);
        for (s, half) in ALL {
            let (v, g, _) = one.value_and_grad(&mut reg(s, half));
            if half {
                // one pair, (w, −w)
                assert!(rel(v, naive(&one, s, true)) < 1e-6, "s={s}");
            } else {
                assert_eq!(v, 0.0);
                assert!(g.iter().all(|&x| x == 0.0));
            }
        }
        let empty = Case { weight: vec![], ..Case::random("z.weight", &[0, 3], 0) };
        assert_eq!(empty.value(&mut reg("2", true)), 0.0);
        // rows of length 0 are zero rows: every c = 0, d² = 2, E = 1/2 for s=2
        let flat = Case { weight: vec![], ..Case::random("z.weight", &[3, 0], 0) };
        assert_eq!(flat.value(&mut reg("2", false)), 0.5);
        assert_eq!(flat.value(&mut reg("2", true)), 0.5);
    }

    #[test]
    fn bad_input_and_options_are_errors_not_panics() {
        let mut r = reg("2", false);
        let v = Case::random("norm.weight", &[5], 13);
        assert!(matches!(r.eval(&v.target(), None, 1.0, Mode::Step), Err(Error::Shape { .. })));
        assert!(!r.accepts(&v.target().weight));
        let c = Case::random("fc.weight", &[3, 4], 14);
        assert!(r.accepts(&c.target().weight));
        let mut gw = vec![0.0; 11];
        let mut g = TargetGrad { weight: &mut gw, bias: None };
        assert!(matches!(r.eval(&c.target(), Some(&mut g), 1.0, Mode::Step), Err(Error::Shape { .. })));
        for bad in ["mhe=1:s=3", "mhe=1:s=a3", "mhe=1:half=yes", "mhe=1:k=2", "mhe=1:power=2"] {
            assert!(Mhe::from_spec(&Spec::parse(bad).unwrap()).is_err(), "{bad}");
        }
        let d = Mhe::from_spec(&Spec::parse("mhe=1").unwrap()).unwrap();
        assert_eq!((d.energy(), d.half()), (Energy::Inv2, false));
        let a = Mhe::from_spec(&Spec::parse("mhe=1:s=a1:half=true:select=layers.0.weight").unwrap()).unwrap();
        assert_eq!((a.energy(), a.half()), (Energy::AngInv1, true));
    }

    #[test]
    fn scratch_is_reused_across_shapes() {
        for half in [false, true] {
            let mut r = reg("a2", half);
            let big = Case::random("a.weight", &[9, 4], 15);
            let small = Case::random("b.weight", &[3, 4], 16);
            let (_, gb, _) = big.value_and_grad(&mut r);
            let (v, g, _) = small.value_and_grad(&mut r);
            let (v2, g2, _) = small.value_and_grad(&mut reg("a2", half));
            assert_eq!((v, g), (v2, g2));
            assert_eq!(big.value_and_grad(&mut r).1, gb);
            // and through the blocked Gram path (N > 128)
            let big = Case::random("c.weight", &[300, 5], 17).transposed();
            let mid = Case::random("d.weight", &[140, 3], 18);
            big.value_and_grad(&mut r);
            assert_eq!(mid.value_and_grad(&mut r), mid.value_and_grad(&mut reg("a2", half)));
        }
    }
}
