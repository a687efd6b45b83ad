//! `cs-eig=λ:c=PATH[:tol=1e-6,norm=numel]`: the eigenvector Cauchy–Schwarz regularizer on each
//! row, for a given symmetric matrix `C`.
//!
//! ## Formula
//! For a vector `x ∈ R^N` (here: one row of the weight, `N = in·kh·kw`) and a symmetric
//! `C ∈ R^{N×N}`:
//! ```text
//! ℓ_eig(x) = ‖x‖₂² ‖Cx‖₂² − (xᵀCx)²
//! ∇ℓ_eig   = 2‖x‖₂² CᵀCx + 2‖Cx‖₂² x − 4(xᵀCx) Cx
//! ```
//! It is the Cauchy–Schwarz gap between `x` and `Cx`, `½ Σᵢⱼ (xᵢ(Cx)ⱼ − xⱼ(Cx)ᵢ)² ≥ 0`, so
//! `ℓ_eig(x) = 0` exactly when `Cx ∥ x`: `x` is an eigenvector of `C` (of any eigenvalue, any
//! scale) or `0`. It is 4-homogeneous in `x`.
//!
//! On a layer: `r(W) = (1/ν) Σ_r ℓ_eig(W_r)` over the rows `W_r` of the matrix view
//! `W ∈ R^{out×in}` (conv `[out, in, kh, kw]` → `[out, in·kh·kw]`), so `C` is `[in, in]`
//! (`[in·kh·kw, in·kh·kw]`); `ν = out·in` (`norm=numel`) or `1` (`norm=none`); training adds
//! `λ·Σ_layers r`. A tensor whose row length is not `N` is an [`Error::Shape`] at evaluation:
//! restrict the term to matching layers with `select=`. See the [family documentation](super).
//!
//! Options:
//! - `c=PATH` (required): the matrix `C`, either a text file of numbers (one matrix row per
//!   line, separated by commas and/or whitespace; empty lines and lines starting with `#` are
//!   skipped) or a `.safetensors` file holding exactly one 2-D tensor (f32 or f64). It must be
//!   square and symmetric: `max |C_ij − C_ji| ≤ tol·max |C_ij|`. reglab then uses `(C + Cᵀ)/2`.
//!   The path cannot contain `:` or `,` (the spec's separators).
//! - `tol=1e-6`: the symmetry tolerance, relative.
//! - `norm=numel|none`: the layer normalization `ν`.
//!
//! Computation: `Y = W C` (row `r` is `(C W_r)ᵀ`) and, for the gradient, `Z = Y C` are f32 GEMMs
//! on strided views, computed directly in the storage layout of `W` (`C Wᵀ` for burn's
//! `[in, out]`, no transposing copy); the per-row `‖x‖²`, `‖Cx‖²`, `xᵀCx` are summed in f64.
//! Cost `2·out·N²` multiply-adds per call. [`Mode`] makes no difference.
//!
//! ## Paper
//! Taner & Studer, "Cauchy–Schwarz Regularizers", ICLR 2025 (arXiv 2503.01639), the regularizer
//! for eigenvectors; official code IIP-Group/CS_regularizers
//! (`solution_recovery/eigvec_recovery.m`, `f_Cx` and `gradf_Cx`).

use super::{Norm, row_dots};
use reglab_core::linalg::gemm;
use reglab_core::regularizer::check_matrix;
use reglab_core::{Error, Layout, MatRef, Mode, Regularizer, Result, Spec, Target, TargetGrad, TensorRef};
use std::path::Path;

/// `ℓ_eig(x) = ‖x‖²‖Cx‖² − (xᵀCx)²` in f64, with `C` the `N×N` matrix row-major in `c` and `x`
/// of length `N`. When `grad` is given (length `N`), **writes** the exact gradient
/// `2‖x‖² CᵀCx + 2‖Cx‖² x − 2(xᵀCx)(C + Cᵀ)x` into it, which is the paper's
/// `… − 4(xᵀCx) Cx` for a symmetric `C`. Cost `O(N²)`. Panics on mismatched lengths.
pub fn value_grad(c: &[f64], x: &[f64], grad: Option<&mut [f64]>) -> f64 {
    let n = x.len();
    assert_eq!(c.len(), n * n, "cs-eig: C must be N×N for x of length N");
    let y: Vec<f64> = (0..n).map(|i| (0..n).map(|j| c[i * n + j] * x[j]).sum()).collect();
    let a: f64 = x.iter().map(|v| v * v).sum();
    let b: f64 = y.iter().map(|v| v * v).sum();
    let q: f64 = x.iter().zip(&y).map(|(u, v)| u * v).sum();
    if let Some(g) = grad {
        assert_eq!(g.len(), n, "cs-eig: gradient buffer length");
        for (i, gi) in g.iter_mut().enumerate() {
            // (Cᵀy)ᵢ and (Cᵀx)ᵢ
            let cty: f64 = (0..n).map(|j| c[j * n + i] * y[j]).sum();
            let ctx: f64 = (0..n).map(|j| c[j * n + i] * x[j]).sum();
            *gi = 2.0 * a * cty + 2.0 * b * x[i] - 2.0 * q * (y[i] + ctx);
        }
    }
    a * b - q * q
}

/// Read a square matrix from `path`: a `.safetensors` file with exactly one 2-D tensor (f32 or
/// f64), or a text file of numbers (rows per line, separated by commas and/or whitespace; empty
/// lines and `#` lines skipped). Returns `(n, C row-major)`, or why not.
pub fn read_matrix(path: &Path) -> std::result::Result<(usize, Vec<f64>), String> {
    let shown = path.display();
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read C from `{shown}`: {e}"))?;
    let (rows, cols, data) = if path.extension().is_some_and(|e| e == "safetensors") {
        let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| format!("`{shown}` is not a safetensors file: {e}"))?;
        let tensors = st.tensors();
        if tensors.len() != 1 {
            return Err(format!("`{shown}` holds {} tensors; C must be the only one", tensors.len()));
        }
        let (name, view) = &tensors[0];
        let shape = view.shape();
        if shape.len() != 2 {
            return Err(format!("tensor `{name}` in `{shown}` has shape {shape:?}; C must be 2-D"));
        }
        let raw = view.data();
        let data: Vec<f64> = match view.dtype() {
            safetensors::Dtype::F32 => raw.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64).collect(),
            safetensors::Dtype::F64 => raw.chunks_exact(8).map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])).collect(),
            d => return Err(format!("tensor `{name}` in `{shown}` has dtype {d:?}; C must be F32 or F64")),
        };
        (shape[0], shape[1], data)
    } else {
        let text = String::from_utf8(bytes).map_err(|_| format!("`{shown}` is neither UTF-8 text nor a .safetensors file"))?;
        let mut data = Vec::new();
        let (mut rows, mut cols) = (0usize, 0usize);
        for (ln, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut k = 0;
            for tok in line.split(|ch: char| ch == ',' || ch.is_whitespace()).filter(|t| !t.is_empty()) {
                let v: f64 = tok.parse().map_err(|_| format!("`{shown}` line {}: `{tok}` is not a number", ln + 1))?;
                data.push(v);
                k += 1;
            }
            if rows == 0 {
                cols = k;
            } else if k != cols {
                return Err(format!("`{shown}` line {}: {k} numbers, earlier rows have {cols}", ln + 1));
            }
            rows += 1;
        }
        (rows, cols, data)
    };
    if rows == 0 || cols == 0 {
        return Err(format!("C in `{shown}` is empty"));
    }
    if rows != cols {
        return Err(format!("C in `{shown}` is {rows}×{cols}; it must be square"));
    }
    if data.len() != rows * cols {
        return Err(format!("C in `{shown}`: {} values for a {rows}×{cols} matrix", data.len()));
    }
    Ok((rows, data))
}

/// The eigenvector CS regularizer on the rows. See the module documentation.
#[derive(Debug, Clone)]
pub struct CsEig {
    /// Normalization of a layer's sum.
    pub norm: Norm,
    /// The size `N` of `C`.
    n: usize,
    /// `(C + Cᵀ)/2`, `[N, N]` row-major, f32 for the GEMMs.
    c: Vec<f32>,
    /// Scratch: `Y = W C` and `Z = Y C` in the storage layout of `W`.
    y: Vec<f32>,
    z: Vec<f32>,
    /// Scratch: per-row `‖x‖²`, `‖Cx‖²`, `xᵀCx`.
    a: Vec<f64>,
    b: Vec<f64>,
    q: Vec<f64>,
}

impl CsEig {
    /// Build from a spec (`cs-eig=λ:c=PATH[:tol=1e-6,norm=numel|none]`); `c` is required.
    pub fn from_spec(spec: &Spec) -> Result<Self> {
        let err = |why: String| Error::Spec { spec: spec.raw().to_string(), why };
        // `c` is a path, not one of the typed options: take it out before reading the rest
        let mut rest = spec.clone();
        let path = rest.options.remove("c");
        let mut o = rest.options();
        let norm = Norm::from_options(&mut o)?;
        let tol = o.f64("tol", 1e-6)?;
        o.ensure(tol >= 0.0, format!("option `tol={tol}` must be non-negative"))?;
        o.finish()?;
        let path =
            path.ok_or_else(|| err("cs-eig needs the matrix C: add `c=PATH` (a CSV of numbers, or a .safetensors file with one 2-D tensor)".into()))?;
        let (n, c) = read_matrix(Path::new(&path)).map_err(err)?;
        Self::from_matrix(&c, n, tol, norm).map_err(err)
    }

    /// Build from `C` (`n×n`, row-major): an error unless it is finite and symmetric within
    /// `tol·max|C_ij|`; keeps `(C + Cᵀ)/2`.
    pub fn from_matrix(c: &[f64], n: usize, tol: f64, norm: Norm) -> std::result::Result<Self, String> {
        if n == 0 || c.len() != n * n {
            return Err(format!("C must be a non-empty n×n matrix, got {} values for n = {n}", c.len()));
        }
        if let Some(i) = c.iter().position(|v| !v.is_finite()) {
            return Err(format!("C[{}, {}] = {} is not finite", i / n, i % n, c[i]));
        }
        let max = c.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let mut worst = (0.0f64, 0, 0);
        for i in 0..n {
            for j in i + 1..n {
                let d = (c[i * n + j] - c[j * n + i]).abs();
                if d > worst.0 {
                    worst = (d, i, j);
                }
            }
        }
        if worst.0 > tol * max {
            let (d, i, j) = worst;
            return Err(format!("C is not symmetric: |C[{i},{j}] − C[{j},{i}]| = {d:e} > tol·max|C| = {:e} (tol={tol})", tol * max));
        }
        let sym: Vec<f32> = (0..n * n).map(|ij| (0.5 * (c[ij] + c[(ij % n) * n + ij / n])) as f32).collect();
        Ok(Self { norm, n, c: sym, y: Vec::new(), z: Vec::new(), a: Vec::new(), b: Vec::new(), q: Vec::new() })
    }

    /// The size `N` of `C`.
    pub fn size(&self) -> usize {
        self.n
    }
}

impl Regularizer for CsEig {
    fn name(&self) -> &'static str {
        "cs-eig"
    }

    fn accepts(&self, tensor: &TensorRef<'_>) -> bool {
        tensor.is_matrix()
    }

    fn eval(&mut self, t: &Target<'_>, grad: Option<&mut TargetGrad<'_>>, scale: f32, _mode: Mode) -> Result<f64> {
        let (rows, cols) = check_matrix("cs-eig", t, grad.as_deref())?;
        let n = self.n;
        if cols != n {
            return Err(Error::Shape {
                tensor: t.name.to_string(),
                why: format!("cs-eig: rows have length {cols} but C is {n}×{n} (restrict the term with select=)"),
            });
        }
        let wt = &t.weight;
        if wt.is_empty() {
            return Ok(0.0);
        }
        let len = wt.len();
        let w = wt.matrix();
        let cm = MatRef::from_layout(&self.c, n, n, Layout::RowMajor);
        self.y.resize(len, 0.0);
        match wt.layout {
            // Y = W C, [out, in] row-major
            Layout::RowMajor => gemm(1.0, w, cm, 0.0, &mut self.y),
            // Yᵀ = C Wᵀ, [in, out] row-major: the storage layout
            Layout::Transposed => gemm(1.0, cm, w.t(), 0.0, &mut self.y),
        }
        row_dots(wt.data, wt.data, rows, cols, wt.layout, &mut self.a);
        row_dots(&self.y, &self.y, rows, cols, wt.layout, &mut self.b);
        row_dots(wt.data, &self.y, rows, cols, wt.layout, &mut self.q);
        let nu = self.norm.divisor(len);
        let value: f64 = (0..rows).map(|r| self.a[r] * self.b[r] - self.q[r] * self.q[r]).sum::<f64>() / nu;
        if let Some(g) = grad {
            self.z.resize(len, 0.0);
            let ym = MatRef::from_layout(&self.y, rows, cols, wt.layout);
            match wt.layout {
                // Z = Y C (= rows (CᵀC x)ᵀ, C symmetric)
                Layout::RowMajor => gemm(1.0, ym, cm, 0.0, &mut self.z),
                Layout::Transposed => gemm(1.0, cm, ym.t(), 0.0, &mut self.z),
            }
            let s = scale as f64 / nu;
            let (a, b, q) = (&self.a, &self.b, &self.q);
            let term =
                |r: usize, x: f32, y: f32, z: f32| -> f32 { (s * (2.0 * a[r] * z as f64 + 2.0 * b[r] * x as f64 - 4.0 * q[r] * y as f64)) as f32 };
            match wt.layout {
                Layout::RowMajor => {
                    for (i, gi) in g.weight.iter_mut().enumerate() {
                        *gi += term(i / cols, wt.data[i], self.y[i], self.z[i]);
                    }
                }
                Layout::Transposed => {
                    for (i, gi) in g.weight.iter_mut().enumerate() {
                        *gi += term(i % rows, wt.data[i], self.y[i], self.z[i]);
                    }
                }
            }
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{check_fixture, check_homogeneous, check_vector_fn, rows_grad, rows_naive};
    use super::*;
    use reglab_core::testing::{self as t, Case, random_vec, rel};

    /// A symmetric `n×n` test matrix: `(R + Rᵀ)/2 + n·I`-ish from seeded random values.
    fn sym(n: usize, seed: u64) -> Vec<f64> {
        let r = random_vec(n * n, 1.0, seed);
        (0..n * n).map(|ij| 0.5 * (r[ij] + r[(ij % n) * n + ij / n]) as f64 + if ij / n == ij % n { 0.5 } else { 0.0 }).collect()
    }

    fn reg_for(c: &[f64], n: usize) -> CsEig {
        CsEig::from_matrix(c, n, 1e-6, Norm::Numel).unwrap()
    }

    /// The fixture matrix: `C_ij = (((i+1)(j+1)) mod 7 − 3)/4`.
    fn cmat(n: usize) -> Vec<f64> {
        (0..n * n).map(|ij| ((((ij / n + 1) * (ij % n + 1)) % 7) as f64 - 3.0) / 4.0).collect()
    }

    /// Independent: the Lagrange identity `½ Σᵢⱼ (xᵢ yⱼ − xⱼ yᵢ)²`, `y = Cx`, on one vector.
    fn lagrange(c: &[f64], x: &[f64]) -> f64 {
        let n = x.len();
        let y: Vec<f64> = (0..n).map(|i| (0..n).map(|j| c[i * n + j] * x[j]).sum()).collect();
        let mut s = 0.0;
        for i in 0..n {
            for j in 0..n {
                s += 0.5 * (x[i] * y[j] - x[j] * y[i]).powi(2);
            }
        }
        s
    }

    /// Rows of length `cols(c)` of a case.
    fn cols(c: &Case) -> usize {
        c.weight.len() / c.shape[0]
    }

    /// A unique temporary path.
    fn tmp(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("reglab-cs-eig-{}-{name}", std::process::id()))
    }

    fn write_csv(path: &Path, c: &[f64], n: usize) {
        let text: String = c.chunks(n).map(|r| r.iter().map(|v| format!("{v:e}")).collect::<Vec<_>>().join(",") + "\n").collect();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn value_matches_the_lagrange_identity() {
        for norm in [Norm::Numel, Norm::None] {
            let cm = |i: usize, c: &Case| sym(cols(c), 31 + i as u64);
            t::check_value(
                1e-5,
                |i, c| CsEig::from_matrix(&cm(i, c), cols(c), 1e-6, norm).unwrap(),
                |i, c| rows_naive(c, norm == Norm::Numel, |x| lagrange(&cm(i, c), x)),
            );
        }
    }

    #[test]
    fn per_row_sum_over_numel_by_hand() {
        // C = diag(1, 2); row 0 = (1, 0) an eigenvector: 0; row 1 = (1, 1): 2·5 − 3² = 1; ν = 4
        let cm = [1.0, 0.0, 0.0, 2.0];
        let c = Case::from_weights("fc.weight", &[2, 2], vec![1.0, 0.0, 1.0, 1.0]);
        assert_eq!(c.value(&mut reg_for(&cm, 2)), 0.25);
        assert_eq!(c.transposed().value(&mut reg_for(&cm, 2)), 0.25);
        let mut none = CsEig::from_matrix(&cm, 2, 0.0, Norm::None).unwrap();
        assert_eq!(c.value(&mut none), 1.0);
        // row 1: 2·2·C²x + 2·5·x − 4·3·Cx = (4 + 10 − 12, 16 + 10 − 24) = (2, 2)
        let (_, g, _) = c.value_and_grad(&mut none);
        assert_eq!(g, vec![0.0, 0.0, 2.0, 2.0]);
    }

    #[test]
    fn gradient_matches_finite_differences() {
        t::check_gradient(1e-2, 1e-3, |i, c| reg_for(&sym(cols(c), 41 + i as u64), cols(c)));
    }

    #[test]
    fn gradient_is_added_scaled_in_the_storage_layout() {
        let cm = sym(4, 46);
        t::check_added_scaled(
            1e-6,
            || reg_for(&cm, 4),
            |rows, cols, m| {
                rows_grad(rows, cols, m, |x| {
                    let mut g = vec![0.0; cols];
                    value_grad(&cm, x, Some(&mut g));
                    g
                })
            },
        );
    }

    #[test]
    fn vector_function_value_and_gradient_also_for_a_non_symmetric_c() {
        let x: Vec<f64> = random_vec(6, 1.0, 50).iter().map(|&v| v as f64).collect();
        let symm = sym(6, 51);
        let nonsym: Vec<f64> = random_vec(36, 1.0, 52).iter().map(|&v| v as f64).collect();
        for c in [symm, nonsym] {
            check_vector_fn(&x, 1e-12, |x, g| value_grad(&c, x, g), |x| lagrange(&c, x));
        }
    }

    /// `C = Q diag(λ) Qᵀ` for an orthogonal `Q` (two Householder reflections); returns `(C, Q)`.
    fn spectral_matrix(lams: &[f64], seed: u64) -> (Vec<f64>, Vec<f64>) {
        let n = lams.len();
        let q = t::orthogonal_f64(n, seed);
        let c = (0..n * n).map(|ij| (0..n).map(|k| q[(ij / n) * n + k] * lams[k] * q[(ij % n) * n + k]).sum()).collect();
        (c, q)
    }

    #[test]
    fn zero_on_eigenvectors_and_positive_off_them() {
        let lams = [1.0, 3.0, -2.0, 0.5, 3.0];
        let (cm, q) = spectral_matrix(&lams, 60);
        let col = |k: usize| -> Vec<f64> { (0..5).map(|i| q[i * 5 + k]).collect() };
        // vector form: each eigenvector at several scales, and a vector in the λ = 3 eigenspace
        for k in 0..5 {
            for alpha in [1.0, -1.0, 1e3, 1e-3, -0.2] {
                let x: Vec<f64> = col(k).iter().map(|v| v * alpha).collect();
                let mut g = vec![0.0; 5];
                let v = value_grad(&cm, &x, Some(&mut g));
                let sc = 9.0 * alpha.powi(4); // ≥ ‖x‖²‖Cx‖²
                assert!(v.abs() <= 1e-12 * sc, "k={k} α={alpha}: {v}");
                assert!(g.iter().all(|gi| gi.abs() <= 1e-10 * 9.0 * alpha.abs().powi(3)), "{g:?}");
            }
        }
        let mix: Vec<f64> = col(1).iter().zip(col(4)).map(|(a, b)| 0.6 * a - 0.8 * b).collect();
        assert!(value_grad(&cm, &mix, None).abs() < 1e-12);
        // off: q₀ + q₁ (λ = 1, 3): ‖x‖² = 2, ‖Cx‖² = 10, xᵀCx = 4 → 20 − 16 = 4
        let off: Vec<f64> = col(0).iter().zip(col(1)).map(|(a, b)| a + b).collect();
        assert!(rel(value_grad(&cm, &off, None), 4.0) < 1e-12);
        // on a layer: rows are different eigenvectors at different scales (either sign): r ≈ 0
        let scales = [0.3, -1.7, 4e-2, 2.0];
        let w: Vec<f32> = (0..20).map(|i| (scales[i / 5] * q[(i % 5) * 5 + i / 5]) as f32).collect();
        let c = Case::from_weights("fc.weight", &[4, 5], w);
        let a = reg_for(&cm, 5);
        for cc in [c.clone(), c.transposed()] {
            let (v, g, _) = cc.value_and_grad(&mut a.clone());
            let sc = 9.0 * 2.0f64.powi(4); // ≥ Σ ‖x‖²‖Cx‖² / ν up to a constant
            assert!(v.abs() <= 1e-6 * sc, "{:?}: {v}", cc.layout);
            assert!(g.iter().all(|x| x.abs() <= 1e-5), "{g:?}");
        }
        // and a random layer is not
        assert!(Case::random("r.weight", &[4, 5], 61).value(&mut a.clone()) > 1e-4);
        // any vector is an eigenvector of β·I
        let beta: Vec<f64> = (0..25).map(|ij| if ij / 5 == ij % 5 { -2.0 } else { 0.0 }).collect();
        assert!(Case::random("r.weight", &[4, 5], 62).value(&mut reg_for(&beta, 5)).abs() < 1e-12);
    }

    #[test]
    fn homogeneous_of_degree_four() {
        check_homogeneous(&mut reg_for(&sym(6, 63), 6), 4, 1e-5);
    }

    // Fixtures: the official code has no PyTorch form of ℓ_eig. These numbers are the MATLAB
    // handles f_Cx/gradf_Cx of IIP-Group/CS_regularizers solution_recovery/eigvec_recovery.m
    // (commit ef70f7e6), transcribed op-for-op into numpy (float64), applied to each row of the f32
    // inputs of `fixture_weights` (entry i = ((i·37 mod 19) − 9)/10) with C = `cmat(n)`, divided by
    // numel: a conv weight [4, 3, 3, 3] (rows of 27, C 27×27) and a linear weight [5, 7] (C 7×7).
    // gradf_Cx agrees with torch autograd of f_Cx to 1e-15.
    const CONV_VALUE: f64 = 9.400596003196702;
    const CONV_GRAD: [f64; 108] = [
        3.083773676371e-01,
        2.067499962661e+00,
        1.282306749545e+00,
        8.885300960230e-01,
        1.033368829071e-01,
        8.120278022063e-01,
        2.348403839491e+00,
        9.718079014078e-01,
        1.680498828945e+00,
        8.953055952338e-01,
        5.015289540694e-01,
        -2.836642796420e-01,
        4.250266520145e-01,
        1.961402681061e+00,
        5.848067429778e-01,
        1.293497678753e+00,
        5.083044326847e-01,
        1.145278121159e-01,
        -6.706654339529e-01,
        3.802551829925e-02,
        2.624833214832e+00,
        1.248237293225e+00,
        1.956928212524e+00,
        1.171734999408e+00,
        7.779583458867e-01,
        -7.234883705637e-03,
        7.014560520700e-01,
        -1.581435153829e-01,
        1.887754438678e-01,
        -3.704166565592e-01,
        -4.551643757171e-01,
        -1.014356476144e+00,
        -6.674375192470e-01,
        8.023981608882e-01,
        -3.792592588885e-01,
        -3.234030669821e-02,
        -5.915323953579e-01,
        -6.762801215762e-01,
        -1.235472210236e+00,
        -2.883819643310e-01,
        1.181453725218e+00,
        -2.037039725457e-04,
        3.467152670456e-01,
        -2.124768404419e-01,
        -2.972245572463e-01,
        -8.564166553199e-01,
        -5.094976984227e-01,
        9.603379793590e-01,
        -2.213194427712e-01,
        1.255995164795e-01,
        -4.335925839475e-01,
        -5.183403054589e-01,
        -1.077532403532e+00,
        -7.306134419283e-01,
        -2.176203714955e+00,
        -3.128703607103e+00,
        -9.431484454649e-02,
        -1.659833224706e+00,
        3.335073957338e+00,
        2.382574065190e+00,
        7.222962565742e-01,
        -9.379814905389e-01,
        -1.890481444189e+00,
        1.143907349118e+00,
        -4.216110617927e-01,
        2.612777716139e+00,
        1.660277785553e+00,
        0.000000000000e+00,
        -1.660277785553e+00,
        -2.612777716139e+00,
        4.216110617927e-01,
        -1.143907349118e+00,
        1.890481444189e+00,
        9.379814905389e-01,
        -7.222962565742e-01,
        -2.382574065190e+00,
        -3.335073957338e+00,
        1.659833224706e+00,
        9.431484454649e-02,
        3.128703607103e+00,
        2.176203714955e+00,
        7.306134419283e-01,
        1.077532403532e+00,
        5.183403054589e-01,
        4.335925839475e-01,
        -1.255995164795e-01,
        2.213194427712e-01,
        -9.603379793590e-01,
        5.094976984227e-01,
        8.564166553199e-01,
        2.972245572463e-01,
        2.124768404419e-01,
        -3.467152670456e-01,
        2.037039725457e-04,
        -1.181453725218e+00,
        2.883819643310e-01,
        1.235472210236e+00,
        6.762801215762e-01,
        5.915323953579e-01,
        3.234030669821e-02,
        3.792592588885e-01,
        -8.023981608882e-01,
        6.674375192470e-01,
        1.014356476144e+00,
        4.551643757171e-01,
        3.704166565592e-01,
        -1.887754438678e-01,
        1.581435153829e-01,
    ];
    const LIN_VALUE: f64 = 1.3230066106430047;
    const LIN_GRAD: [f64; 35] = [
        -1.779785566568e-01,
        8.363356968743e-01,
        8.086000036861e-01,
        5.030642821201e-01,
        4.753285889319e-01,
        7.096928472672e-01,
        5.285713357798e-02,
        2.362500250340e-02,
        2.240000187308e-02,
        1.312500107847e-02,
        7.350000753254e-03,
        -1.925000041351e-03,
        -3.150000319630e-03,
        -3.307500340641e-02,
        4.496142454277e-01,
        8.388928229298e-02,
        -2.169857671448e-01,
        -1.417606906708e-01,
        -4.426357401086e-01,
        -8.083606801093e-01,
        -2.143607666807e-01,
        6.746250221655e-01,
        6.060250077888e-01,
        5.040000278652e-01,
        4.772250095561e-01,
        3.752000164896e-01,
        3.066000152558e-01,
        2.110500110440e-01,
        -8.925001438335e-03,
        1.434999992996e-02,
        7.874999707565e-03,
        -1.890000217855e-02,
        -2.537500322238e-02,
        -2.100001032651e-03,
        1.575001323968e-03,
    ];

    #[test]
    fn matches_the_official_matlab_formula() {
        check_fixture(&mut reg_for(&cmat(27), 27), &[4, 3, 3, 3], CONV_VALUE, &CONV_GRAD);
        // the linear one through a CSV file and the spec, as the command line builds it
        let path = tmp("fixture.csv");
        write_csv(&path, &cmat(7), 7);
        let mut r = CsEig::from_spec(&Spec::parse(&format!("cs-eig=1:c={}", path.display())).unwrap()).unwrap();
        std::fs::remove_file(&path).unwrap();
        check_fixture(&mut r, &[5, 7], LIN_VALUE, &LIN_GRAD);
    }

    #[test]
    fn c_is_read_from_csv_or_safetensors() {
        let cm = sym(4, 70);
        let want = CsEig::from_matrix(&cm, 4, 1e-6, Norm::Numel).unwrap();
        let c = Case::random("fc.weight", &[3, 4], 71);
        let v = c.value(&mut want.clone());
        // CSV with comments, blank lines, spaces and commas
        let path = tmp("c.csv");
        let mut text = String::from("# a 4×4 matrix\n\n");
        for row in cm.chunks(4) {
            text += &format!("{:e}, {:e} {:e},{:e}\n", row[0], row[1], row[2], row[3]);
        }
        std::fs::write(&path, text).unwrap();
        let mut r = CsEig::from_spec(&Spec::parse(&format!("cs-eig=1:c={}", path.display())).unwrap()).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(r.size(), 4);
        assert_eq!(c.value(&mut r), v);
        // safetensors, f64 and f32
        let bytes64: Vec<u8> = cm.iter().flat_map(|x| x.to_le_bytes()).collect();
        let f32s: Vec<f32> = cm.iter().map(|&x| x as f32).collect();
        let bytes32: Vec<u8> = f32s.iter().flat_map(|x| x.to_le_bytes()).collect();
        for (dtype, bytes) in [(safetensors::Dtype::F64, &bytes64), (safetensors::Dtype::F32, &bytes32)] {
            let view = safetensors::tensor::TensorView::new(dtype, vec![4, 4], bytes).unwrap();
            let path = tmp(&format!("c-{dtype:?}.safetensors"));
            std::fs::write(&path, safetensors::serialize([("C", view)], None).unwrap()).unwrap();
            let mut r = CsEig::from_spec(&Spec::parse(&format!("cs-eig=1:c={}", path.display())).unwrap()).unwrap();
            std::fs::remove_file(&path).unwrap();
            assert!(rel(c.value(&mut r), v) < 1e-6, "{dtype:?}");
        }
    }

    #[test]
    fn bad_c_is_a_spec_error_not_a_panic() {
        let spec_err = |s: String| match CsEig::from_spec(&Spec::parse(&s).unwrap()) {
            Err(Error::Spec { why, .. }) => why,
            Err(e) => panic!("{s}: not a spec error: {e}"),
            Ok(_) => panic!("{s}: built"),
        };
        assert!(spec_err("cs-eig=1".into()).contains("c=PATH"));
        assert!(spec_err(format!("cs-eig=1:c={}", tmp("missing.csv").display())).contains("cannot read"));
        let cases: [(&str, &str, &str); 6] = [
            ("ragged.csv", "1,2\n3\n", "earlier rows"),
            ("wide.csv", "1,2,3\n4,5,6\n", "square"),
            ("nan.csv", "1,x\n2,1\n", "not a number"),
            ("empty.csv", "# nothing\n\n", "empty"),
            ("asym.csv", "1,2\n2.1,1\n", "not symmetric"),
            ("inf.csv", "1,inf\ninf,1\n", "not finite"),
        ];
        for (name, text, why) in cases {
            let p = tmp(name);
            std::fs::write(&p, text).unwrap();
            let e = spec_err(format!("cs-eig=1:c={}", p.display()));
            std::fs::remove_file(&p).unwrap();
            assert!(e.contains(why), "{name}: {e}");
        }
        // symmetric within tol is accepted (and symmetrized); tol is an option
        let p = tmp("near.csv");
        std::fs::write(&p, "1,2\n2.0000001,1\n").unwrap();
        assert!(CsEig::from_spec(&Spec::parse(&format!("cs-eig=1:c={}", p.display())).unwrap()).is_ok());
        let e = spec_err(format!("cs-eig=1:c={}:tol=1e-9", p.display()));
        assert!(e.contains("not symmetric"), "{e}");
        assert!(spec_err(format!("cs-eig=1:c={}:tol=-1", p.display())).contains("non-negative"));
        assert!(spec_err(format!("cs-eig=1:c={}:k=2", p.display())).contains("unknown option"));
        assert!(spec_err(format!("cs-eig=1:c={}:norm=rows", p.display())).contains("norm"));
        std::fs::remove_file(&p).unwrap();
        // safetensors: two tensors, a 1-D tensor, an integer tensor, garbage
        let one = [0u8; 16];
        let v2 = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![2, 2], &one).unwrap();
        let v1 = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![4], &one).unwrap();
        let vi = safetensors::tensor::TensorView::new(safetensors::Dtype::I32, vec![2, 2], &one).unwrap();
        for (name, bytes, why) in [
            ("two.safetensors", safetensors::serialize([("a", v2.clone()), ("b", v2.clone())], None).unwrap(), "2 tensors"),
            ("flat.safetensors", safetensors::serialize([("a", v1)], None).unwrap(), "2-D"),
            ("int.safetensors", safetensors::serialize([("a", vi)], None).unwrap(), "dtype"),
            ("junk.safetensors", vec![1, 2, 3], "not a safetensors"),
        ] {
            let p = tmp(name);
            std::fs::write(&p, bytes).unwrap();
            let e = spec_err(format!("cs-eig=1:c={}", p.display()));
            std::fs::remove_file(&p).unwrap();
            assert!(e.contains(why), "{name}: {e}");
        }
    }

    #[test]
    fn bad_tensors_are_shape_errors_not_panics() {
        let mut r = reg_for(&sym(4, 80), 4);
        t::check_bad_matrix_input(&mut r);
        // rows of length 5 for a 4×4 C
        let c = Case::random("fc.weight", &[3, 5], 18);
        assert!(r.accepts(&c.target().weight));
        match r.eval(&c.target(), None, 1.0, Mode::Step) {
            Err(Error::Shape { why, .. }) => assert!(why.contains("4×4"), "{why}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(r.eval(&c.transposed().target(), None, 1.0, Mode::Step), Err(Error::Shape { .. })));
        assert!(CsEig::from_matrix(&[1.0, 2.0, 3.0], 2, 1e-6, Norm::Numel).is_err());
        assert!(CsEig::from_matrix(&[], 0, 1e-6, Norm::Numel).is_err());
    }

    #[test]
    fn scratch_is_reused_across_shapes() {
        t::check_scratch_reuse(|| reg_for(&sym(4, 81), 4));
    }
}
