//! One recovery problem: a Gaussian system `b = A x` with a binary `x`, its affine projector, the
//! binary Cauchy–Schwarz regularizer, and the seeding of trials.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// A trial: `A ∈ R^{M×N}` with i.i.d. N(0, 1) entries (as `randn(M, N)` in the official script),
/// `x ∈ {±1}^N` with independent fair signs, and `b = A x ∈ R^M`.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// Rows M.
    pub m: usize,
    /// Unknowns N.
    pub n: usize,
    /// `A`, row-major `[M, N]`.
    pub a: Vec<f64>,
    /// The binary vector to recover, `[N]`, entries ±1.
    pub x: Vec<f64>,
    /// `b = A x`, `[M]`.
    pub b: Vec<f64>,
}

impl Problem {
    /// Draw `A` (row by row), then the signs of `x` (`sign(randn)`, in the official script's
    /// order), from `rng`. `m ≥ 1`, `n ≥ 1`.
    pub fn generate(n: usize, m: usize, rng: &mut ChaCha8Rng) -> Problem {
        let a: Vec<f64> = (0..m * n).map(|_| StandardNormal.sample(rng)).collect();
        let x: Vec<f64> = (0..n)
            .map(|_| {
                let v: f64 = StandardNormal.sample(rng);
                if v < 0.0 { -1.0 } else { 1.0 }
            })
            .collect();
        let mut b = vec![0.0; m];
        let p = Problem { m, n, a, x, b: Vec::new() };
        p.apply(&p.x, &mut b);
        Problem { b, ..p }
    }

    /// `out = A v` (`v` of length N, `out` of length M).
    pub fn apply(&self, v: &[f64], out: &mut [f64]) {
        for (row, o) in self.a.chunks_exact(self.n).zip(out.iter_mut()) {
            *o = dot(row, v);
        }
    }

    /// `out = Aᵀ r` (`r` of length M, `out` of length N).
    pub fn apply_t(&self, r: &[f64], out: &mut [f64]) {
        out.fill(0.0);
        for (row, &ri) in self.a.chunks_exact(self.n).zip(r) {
            for (o, &aij) in out.iter_mut().zip(row) {
                *o += ri * aij;
            }
        }
    }

    /// `‖A v − b‖₂²`, and `A v − b` into `r` (length M).
    pub fn residual(&self, v: &[f64], r: &mut [f64]) -> f64 {
        self.apply(v, r);
        let mut s = 0.0;
        for (ri, bi) in r.iter_mut().zip(&self.b) {
            *ri -= bi;
            s += *ri * *ri;
        }
        s
    }
}

/// `Σ aᵢ bᵢ`.
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// `‖v‖₂`.
pub(crate) fn norm(v: &[f64]) -> f64 {
    dot(v, v).sqrt()
}

/// The binary Cauchy–Schwarz regularizer of Taner & Studer (ICLR 2025), for `x ∈ R^N`:
///
/// ℓ_bin(x) = N ‖x‖₄⁴ − ‖x‖₂⁴ ≥ 0, zero iff x ∈ {−α, +α}^N for some α ≥ 0,
/// ∇ℓ_bin(x) = 4N x³ − 4 ‖x‖₂² x (powers elementwise),
///
/// the formula of the official `binary_recovery.m` (`Lbin`, `gradLbin`), computed by the
/// library's [`reglab_regularizers::cauchy_schwarz::binary::value_grad`] (the vector form of the
/// `cs-binary` regularizer). Returns the value and, when `grad` is given (length N), writes the
/// gradient into it.
pub fn lbin_value_grad(x: &[f64], grad: Option<&mut [f64]>) -> f64 {
    reglab_regularizers::cauchy_schwarz::binary::value_grad(x, grad)
}

/// `ℓ_bin(x) / ‖x‖₂⁴ = N ‖x‖₄⁴ / ‖x‖₂⁴ − 1`, the regularizer made scale-free (0 iff all |xᵢ| are
/// equal; the squared coefficient of variation of the xᵢ²). 0 for x = 0.
pub fn lbin_normalized(x: &[f64]) -> f64 {
    let s2: f64 = x.iter().map(|v| v * v).sum();
    if s2 == 0.0 {
        return 0.0;
    }
    (lbin_value_grad(x, None) / (s2 * s2)).max(0.0)
}

/// The orthogonal projection onto the affine set `{v : A v = b}`:
/// `P(z) = z − Q Qᵀ z + x_ln`, with `Q` `[N, M]` an orthonormal basis of the row space of `A`
/// (from a Householder QR of `Aᵀ`) and `x_ln = Aᵀ (A Aᵀ)⁻¹ b` the least-norm solution — the same
/// map as the official script's `z − Aᵀ ((A Aᵀ) \ (A z − b))`. For M ≥ N (full column rank) the
/// set is the single point `x_ln = A⁺ b`.
#[derive(Debug, Clone)]
pub struct Projector {
    n: usize,
    /// Columns of `Q` (0 when the set is a point).
    k: usize,
    /// `Q`, row-major `[N, k]`.
    q: Vec<f64>,
    /// The least-norm (or only) solution.
    x_ln: Vec<f64>,
}

impl Projector {
    /// Build the projector of `p`; an error if `A` is rank-deficient (probability 0 for a
    /// Gaussian `A`).
    pub fn new(p: &Problem) -> Result<Projector, String> {
        let (m, n) = (p.m, p.n);
        let rank_error = || format!("A ({m}×{n}) is numerically rank-deficient");
        if m < n {
            // Aᵀ = Q R, Q [N, M], R [M, M] upper triangular; x_ln = Q R⁻ᵀ b.
            let at = nalgebra::DMatrix::from_fn(n, m, |i, j| p.a[j * n + i]);
            let qr = at.qr();
            let (q, r) = (qr.q(), qr.r());
            check_diag(&r, m).ok_or_else(rank_error)?;
            // Rᵀ y = b: forward substitution.
            let mut y = vec![0.0; m];
            for i in 0..m {
                let mut s = p.b[i];
                for (j, yj) in y.iter().enumerate().take(i) {
                    s -= r[(j, i)] * yj;
                }
                y[i] = s / r[(i, i)];
            }
            let mut qv = vec![0.0; n * m];
            let mut x_ln = vec![0.0; n];
            for i in 0..n {
                for j in 0..m {
                    qv[i * m + j] = q[(i, j)];
                    x_ln[i] += q[(i, j)] * y[j];
                }
            }
            Ok(Projector { n, k: m, q: qv, x_ln })
        } else {
            // A = Q R, Q [M, N], R [N, N]; the only solution is R⁻¹ Qᵀ b.
            let a = nalgebra::DMatrix::from_row_slice(m, n, &p.a);
            let qr = a.qr();
            let (q, r) = (qr.q(), qr.r());
            check_diag(&r, n).ok_or_else(rank_error)?;
            let qtb: Vec<f64> = (0..n).map(|j| (0..m).map(|i| q[(i, j)] * p.b[i]).sum()).collect();
            let mut x = vec![0.0; n];
            for i in (0..n).rev() {
                let mut s = qtb[i];
                for j in i + 1..n {
                    s -= r[(i, j)] * x[j];
                }
                x[i] = s / r[(i, i)];
            }
            Ok(Projector { n, k: 0, q: Vec::new(), x_ln: x })
        }
    }

    /// The least-norm solution `A⁺ b` (the projection of 0).
    pub fn least_norm(&self) -> &[f64] {
        &self.x_ln
    }

    /// `z ← P(z)`.
    pub fn project(&self, z: &mut [f64]) {
        if self.k == 0 {
            z.copy_from_slice(&self.x_ln);
            return;
        }
        let k = self.k;
        let mut t = vec![0.0; k];
        for (row, &zi) in self.q.chunks_exact(k).zip(z.iter()) {
            for (tj, &qij) in t.iter_mut().zip(row) {
                *tj += qij * zi;
            }
        }
        for ((zi, row), &x0) in z.iter_mut().zip(self.q.chunks_exact(k)).zip(&self.x_ln) {
            *zi += x0 - dot(row, &t);
        }
        debug_assert_eq!(z.len(), self.n);
    }
}

/// `Some(())` if the `k` diagonal entries of `r` are all well away from 0.
fn check_diag(r: &nalgebra::DMatrix<f64>, k: usize) -> Option<()> {
    let max = (0..k).map(|i| r[(i, i)].abs()).fold(0.0, f64::max);
    ((0..k).all(|i| r[(i, i)].abs() > 1e-12 * max) && max > 0.0).then_some(())
}

/// The random stream of one trial: ChaCha8 keyed by `(seed, ratio index, trial index, stream)`
/// through SplitMix64, so that every trial (and every method within it) draws the same numbers
/// whatever the order or the thread that runs it. Stream 0 draws the problem; a method draws
/// from the stream [`method_stream`] of its label.
pub fn trial_rng(seed: u64, ratio_index: usize, trial: usize, stream: u64) -> ChaCha8Rng {
    let mut s = splitmix(seed ^ 0x5EED_0000_0000_0000);
    s = splitmix(s ^ ratio_index as u64);
    s = splitmix(s ^ trial as u64);
    s = splitmix(s ^ stream);
    let mut key = [0u8; 32];
    for (i, chunk) in key.chunks_exact_mut(8).enumerate() {
        s = splitmix(s.wrapping_add(i as u64));
        chunk.copy_from_slice(&s.to_le_bytes());
    }
    ChaCha8Rng::from_seed(key)
}

/// The stream of a method: FNV-1a of its label, with the low bit set (never 0, the problem's).
pub fn method_stream(label: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in label.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h | 1
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
