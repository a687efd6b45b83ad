//! Cauchy–Schwarz (CS) regularizers: penalties that are the gap in a Cauchy–Schwarz
//! inequality `⟨a, b⟩² ≤ ‖a‖²‖b‖²`, so they are non-negative, vanish exactly when `a ∥ b`, and
//! (being homogeneous) vanish on a whole set at *every* scale α: they push a vector towards a
//! shape (binary, ternary, an eigenvector, orthogonal columns) without fixing its size.
//!
//! | name | file | `ℓ(x)` for `x ∈ R^N` | zero exactly on |
//! |---|---|---|---|
//! | `cs-binary` | [`binary`] | `N‖x‖₄⁴ − ‖x‖₂⁴` | `{−α, +α}^N` |
//! | `cs-binary-pos` | [`binary_pos`] | `‖x‖₂²‖x‖₄⁴ − (Σᵢ xᵢ³)²` | `{0, α}^N` (α of either sign) |
//! | `cs-ternary` | [`ternary`] | `‖x‖₂²‖x‖₆⁶ − ‖x‖₄⁸` | `{−α, 0, +α}^N` |
//! | `cs-eig` | [`eig`] | `‖x‖₂²‖Cx‖₂² − (xᵀCx)²` | eigenvectors of a symmetric `C` (and 0) |
//! | `cs-orth` | [`orth`] | `K‖XᵀX‖²_F − ‖X‖⁴_F`, `X ∈ R^{N×K}` | `XᵀX = α I_K` |
//!
//! ## On a vector (recovery experiments, the paper's Section 4)
//! Each file exposes plain f64 functions on one vector (one `X` for `cs-orth`), which return
//! `ℓ` and, when a buffer is given, **write** (not add) the gradient `∇ℓ` into it:
//! - [`binary::value_grad`]`(x, grad)`, [`binary_pos::value_grad`]`(x, grad)`,
//!   [`ternary::value_grad`]`(x, grad)`: `x: &[f64]` of length `N`;
//! - [`eig::value_grad`]`(c, x, grad)`: `c` the `N×N` matrix row-major, `x` of length `N`;
//! - [`orth::value_grad`]`(x, n, k, grad)`: `X ∈ R^{N×K}` row-major (`x.len() = n·k`), the
//!   `K` columns are the vectors made orthogonal.
//!
//! These take no normalization and no strength: minimise `f(x) + λ ℓ(x)` with them directly.
//! They panic on mismatched lengths (a programming error, like `linalg::gemm`); the
//! regularizers below never panic on bad tensors.
//!
//! ## On network weights
//! As the official `quantized_nns` code does for binary and ternary weights, each regularizer
//! applies `ℓ` to every row of the weight's matrix view `W ∈ R^{out×in}` (a unit's or a filter's
//! incoming weights; a conv kernel `[out, in, kh, kw]` is read as `[out, in·kh·kw]`), sums over
//! the rows and divides by the layer's number of entries (`norm=numel`, the default; the official
//! `normalization_type='elenum'`), or not (`norm=none`):
//! ```text
//! r(W) = (1/ν) Σ_{r=1}^{out} ℓ(W_r),   ν = out·in (norm=numel) or 1 (norm=none)
//! ```
//! and the training objective adds `λ · Σ_layers r`. `cs-orth` is the exception: it treats the
//! whole layer as one `X` (see [`orth`]). The gradient is written in the storage layout of `W`
//! (row-major `[out, in]`, or burn's `Linear` `[in, out]`, [`Layout::Transposed`]); per-row sums
//! are accumulated in f64 from the f32 weights.
//!
//! Scale: every `ℓ` here is homogeneous (degree 4; `cs-binary-pos` 6, `cs-ternary` 8), so `r`
//! is smallest at `W = 0` too; it does not fix the scale, the task loss does (the paper's point:
//! the quantization levels ±α adapt to the weights).
//!
//! ## Paper and official code
//! Taner & Studer, "Cauchy–Schwarz Regularizers", ICLR 2025 (arXiv 2503.01639); code
//! IIP-Group/CS_regularizers (MATLAB `solution_recovery/*.m` for the vector forms, PyTorch
//! `quantized_nns/tools/regularization_modules.py` for binary and ternary weights). That module
//! has two groupings for conv kernels, per `kh·kw` kernel slice (`binary`, `ternary`) and per
//! output filter (`binary_input_ch`, `ternary_input_ch`, the one its ResNet-20 config uses);
//! reglab implements the per-filter one. Its `fc_regu='ternary'` branch reads the previous conv
//! layer's tensor instead of the linear weight (a bug in the official code); reglab applies the
//! ternary penalty to each layer's own rows.

/// The type, `from_spec` and [`Regularizer`](reglab_core::Regularizer) impl of a per-row
/// [`PowerSums`] regularizer: `power_regularizer!(/// doc, Type, Sums, "name")`. Its spec is
/// `name=λ[:norm=numel|none]`, and `eval` is [`power_eval`].
macro_rules! power_regularizer {
    ($(#[$doc:meta])* $ty:ident, $sums:ty, $name:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default)]
        pub struct $ty {
            /// Normalization of a layer's sum.
            pub norm: $crate::cauchy_schwarz::Norm,
            scratch: $crate::cauchy_schwarz::SumScratch,
        }

        impl $ty {
            #[doc = concat!("Build from a spec (`", $name, "=λ[:norm=numel|none]`).")]
            pub fn from_spec(spec: &reglab_core::Spec) -> reglab_core::Result<Self> {
                Ok(Self { norm: $crate::cauchy_schwarz::Norm::from_spec(spec)?, ..Self::default() })
            }
        }

        impl reglab_core::Regularizer for $ty {
            fn name(&self) -> &'static str {
                $name
            }

            fn accepts(&self, tensor: &reglab_core::TensorRef<'_>) -> bool {
                tensor.is_matrix()
            }

            fn eval(
                &mut self,
                t: &reglab_core::Target<'_>,
                grad: Option<&mut reglab_core::TargetGrad<'_>>,
                scale: f32,
                _mode: reglab_core::Mode,
            ) -> reglab_core::Result<f64> {
                $crate::cauchy_schwarz::power_eval::<$sums>($name, self.norm, &mut self.scratch, t, grad, scale)
            }
        }
    };
}

pub mod binary;
pub mod binary_pos;
pub mod eig;
pub mod orth;
pub mod ternary;

use reglab_core::regularizer::check_matrix;
use reglab_core::spec::Options;
use reglab_core::{Layout, Result, Spec, Target, TargetGrad};

/// How a layer's sum over rows is normalized: the `norm=` option of every CS regularizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Norm {
    /// Divide by the layer's number of entries `out·in` (official `elenum`, the default).
    #[default]
    Numel,
    /// No division.
    None,
}

impl Norm {
    /// Read `norm=numel|none` (default `numel`).
    pub fn from_options(o: &mut Options<'_>) -> Result<Self> {
        Ok(match o.choice("norm", &["numel", "none"], "numel")?.as_str() {
            "none" => Norm::None,
            _ => Norm::Numel,
        })
    }

    /// Read a spec whose only option is `norm=` (`NAME=λ[:norm=numel|none]`).
    pub fn from_spec(spec: &Spec) -> Result<Self> {
        let mut o = spec.options();
        let norm = Self::from_options(&mut o)?;
        o.finish()?;
        Ok(norm)
    }

    /// The divisor `ν` for a layer of `numel` entries.
    pub fn divisor(self, numel: usize) -> f64 {
        match self {
            Norm::Numel => numel.max(1) as f64,
            Norm::None => 1.0,
        }
    }
}

/// A CS regularizer whose value on `x ∈ R^N` is a function of three power sums
/// `S = [Σᵢ t₀(xᵢ), Σᵢ t₁(xᵢ), Σᵢ t₂(xᵢ)]` and whose gradient entry `∂ℓ/∂xᵢ` depends only on
/// `xᵢ`, `S` and `N` (binary, one-sided binary, ternary).
pub(crate) trait PowerSums {
    /// How many of the three sums are used (2: `t₂ ≡ 0`, its sum is skipped).
    const SUMS: usize;
    /// The per-entry terms `[t₀(x), t₁(x), t₂(x)]` (unused slots 0).
    fn terms(x: f64) -> [f64; 3];
    /// `ℓ` from the sums and the length `n`.
    fn value(s: &[f64; 3], n: f64) -> f64;
    /// `∂ℓ/∂xᵢ` from `xᵢ`, the sums and `n`.
    fn grad(x: f64, s: &[f64; 3], n: f64) -> f64;
}

/// `ℓ(x)` in f64, writing `∇ℓ(x)` into `grad` when given (same length as `x`).
pub(crate) fn power_value_grad<P: PowerSums>(x: &[f64], grad: Option<&mut [f64]>) -> f64 {
    let mut s = [0.0f64; 3];
    for &v in x {
        let t = P::terms(v);
        s[0] += t[0];
        s[1] += t[1];
        s[2] += t[2];
    }
    let n = x.len() as f64;
    if let Some(g) = grad {
        assert_eq!(g.len(), x.len(), "gradient buffer length");
        for (gi, &v) in g.iter_mut().zip(x) {
            *gi = P::grad(v, &s, n);
        }
    }
    P::value(&s, n)
}

/// The power sums of one contiguous f32 row, in f64 over four independent lanes.
#[inline(always)]
fn row_sums<P: PowerSums>(row: &[f32]) -> [f64; 3] {
    let mut acc = [[0.0f64; 3]; 4];
    let chunks = row.chunks_exact(4);
    let tail = chunks.remainder();
    for ch in chunks {
        for l in 0..4 {
            let t = P::terms(ch[l] as f64);
            acc[l][0] += t[0];
            acc[l][1] += t[1];
            acc[l][2] += t[2];
        }
    }
    let mut s = [0.0f64; 3];
    for a in &acc {
        s[0] += a[0];
        s[1] += a[1];
        s[2] += a[2];
    }
    for &v in tail {
        let t = P::terms(v as f64);
        s[0] += t[0];
        s[1] += t[1];
        s[2] += t[2];
    }
    s
}

/// Scratch for [`power_eval`] on transposed storage: the per-row sums, kept between calls.
#[derive(Debug, Clone, Default)]
pub(crate) struct SumScratch {
    s: [Vec<f64>; 3],
}

/// `r(W) = (1/ν) Σ_rows ℓ(W_r)` for a [`PowerSums`] regularizer, adding `scale·∇r` into `grad`
/// in the storage layout.
pub(crate) fn power_eval<P: PowerSums>(
    reg: &str,
    norm: Norm,
    scratch: &mut SumScratch,
    t: &Target<'_>,
    grad: Option<&mut TargetGrad<'_>>,
    scale: f32,
) -> Result<f64> {
    let (rows, cols) = check_matrix(reg, t, grad.as_deref())?;
    let data = t.weight.data;
    if data.is_empty() {
        return Ok(0.0);
    }
    let nu = norm.divisor(data.len());
    let k = Rows { data, rows, cols, layout: t.weight.layout, gscale: scale as f64 / nu };
    let grad = grad.map(|g| &mut *g.weight);
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above), all the target feature requires.
        return Ok(unsafe { power_rows_avx2::<P>(&k, scratch, grad) } / nu);
    }
    Ok(power_rows::<P>(&k, scratch, grad) / nu)
}

/// The matrix a [`power_rows`] call works on, and the gradient's factor `scale/ν`.
struct Rows<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    layout: Layout,
    gscale: f64,
}

/// [`power_rows`] compiled for AVX2 (four f64 lanes instead of two). Rust never fuses a multiply
/// and an add, so the roundings, and the results, are those of the baseline build.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn power_rows_avx2<P: PowerSums>(k: &Rows<'_>, scratch: &mut SumScratch, grad: Option<&mut [f32]>) -> f64 {
    power_rows::<P>(k, scratch, grad)
}

/// `Σ_rows ℓ(W_r)` (not yet over `ν`), adding `gscale·∇ℓ` into `grad` in the storage layout.
#[inline(always)]
fn power_rows<P: PowerSums>(k: &Rows<'_>, scratch: &mut SumScratch, grad: Option<&mut [f32]>) -> f64 {
    let &Rows { data, rows, cols, layout, gscale } = k;
    let n = cols as f64;
    let mut value = 0.0f64;
    match layout {
        Layout::RowMajor => {
            let mut g = grad;
            for (r, row) in data.chunks_exact(cols).enumerate() {
                let s = row_sums::<P>(row);
                value += P::value(&s, n);
                if let Some(g) = g.as_deref_mut() {
                    for (gi, &x) in g[r * cols..(r + 1) * cols].iter_mut().zip(row) {
                        *gi += (gscale * P::grad(x as f64, &s, n)) as f32;
                    }
                }
            }
        }
        Layout::Transposed => {
            // storage [in, out]: row r of W is column r of the buffer; accumulate the sums of
            // all rows at once, one contiguous storage row (one input) at a time
            let [s0, s1, s2] = &mut scratch.s;
            for s in [&mut *s0, &mut *s1, &mut *s2] {
                s.clear();
                s.resize(rows, 0.0);
            }
            let (s0, s1, s2) = (&mut s0[..], &mut s1[..], &mut s2[..]);
            for srow in data.chunks_exact(rows) {
                for (((a, b), c), &x) in s0.iter_mut().zip(s1.iter_mut()).zip(s2.iter_mut()).zip(srow) {
                    let t = P::terms(x as f64);
                    *a += t[0];
                    *b += t[1];
                    if P::SUMS == 3 {
                        *c += t[2];
                    }
                }
            }
            for ((&a, &b), &c) in s0.iter().zip(s1.iter()).zip(s2.iter()) {
                value += P::value(&[a, b, c], n);
            }
            if let Some(g) = grad {
                for (srow, grow) in data.chunks_exact(rows).zip(g.chunks_exact_mut(rows)) {
                    for ((((gi, &x), &a), &b), &c) in grow.iter_mut().zip(srow).zip(s0.iter()).zip(s1.iter()).zip(s2.iter()) {
                        *gi += (gscale * P::grad(x as f64, &[a, b, c], n)) as f32;
                    }
                }
            }
        }
    }
    value
}

/// Per-row dot products `out[r] = Σ_k A_rk B_rk` in f64 of two `[rows, cols]` matrices stored
/// in the same `layout` (`out` is resized to `rows`).
pub(crate) fn row_dots(a: &[f32], b: &[f32], rows: usize, cols: usize, layout: Layout, out: &mut Vec<f64>) {
    out.clear();
    out.resize(rows, 0.0);
    if rows == 0 || cols == 0 {
        return;
    }
    match layout {
        Layout::RowMajor => {
            for ((o, ra), rb) in out.iter_mut().zip(a.chunks_exact(cols)).zip(b.chunks_exact(cols)) {
                let mut acc = [0.0f64; 4];
                let (ca, cb) = (ra.chunks_exact(4), rb.chunks_exact(4));
                let tail: f64 = ca.remainder().iter().zip(cb.remainder()).map(|(&x, &y)| x as f64 * y as f64).sum();
                for (x, y) in ca.zip(cb) {
                    for l in 0..4 {
                        acc[l] += x[l] as f64 * y[l] as f64;
                    }
                }
                *o = acc.iter().sum::<f64>() + tail;
            }
        }
        Layout::Transposed => {
            for (sa, sb) in a.chunks_exact(rows).zip(b.chunks_exact(rows)) {
                for ((o, &x), &y) in out.iter_mut().zip(sa).zip(sb) {
                    *o += x as f64 * y as f64;
                }
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod test_util;
