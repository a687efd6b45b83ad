//! Weight health probes (`reglab inspect`, `reglab.inspect`, the lab's per-task metrics).
//!
//! **Weight probes**, on one tensor in PyTorch layout: a 2-D tensor is the matrix `W [out, in]`,
//! a conv kernel `[out, in, kh, kw]` (any tensor of rank ≥ 2) is read as `[out, in·kh·kw]`
//! (rows are units or filters). For a matrix ([`WeightProbe`]):
//!
//! - the singular values σ₁ ≥ σ₂ ≥ … ≥ σ_k, `k = min(out, in)`: the square roots of the
//!   eigenvalues of the smaller Gram matrix (`W Wᵀ` when `out ≤ in`, else `WᵀW`), formed and
//!   decomposed in f64 (nalgebra's `SymmetricEigen`). The Gram route squares the condition
//!   number: eigenvalues below `k·ε·λ_max` are rounding noise and are reported as σ = 0, so
//!   singular values under about `√(k·ε)·σ_max` (≈ 3·10⁻⁷·σ_max for k = 400) read as 0.
//!   σ_max = σ₁ and the top five are reported;
//! - the effective rank (Roy & Vetterli, "The effective rank: a measure of effective
//!   dimensionality", EUSIPCO 2007): `exp(H(p))` with `p_i = σ_i / Σ_j σ_j` and the Shannon
//!   entropy `H(p) = −Σ p_i ln p_i` (`0 ln 0 = 0`). It lies in `[1, k]`: 1 for a rank-1 matrix,
//!   `k` when all singular values are equal. A zero matrix has effective rank 0 by convention;
//! - the orthogonality gap `‖W Wᵀ − I_out‖_F / √out`. The normalisation divides by
//!   `‖I_out‖_F = √out`, so the gap is scale-free across widths: 0 for orthonormal rows, 1 for
//!   `W = 0`, and for `W = c·Q` (`Q` with orthonormal rows) it is `|c² − 1|`. A tall matrix
//!   (`out > in`) cannot have orthonormal rows; its gap is at least `√((out − in)/out)`.
//!   (The `soft-orth` regularizer is `λ·‖W Wᵀ − I‖²_F`, i.e. `λ·out·gap²`.)
//!
//! For every tensor, 1-D included: the sparsity (fraction of entries exactly 0, as the `l1`
//! proximal step leaves them), the Frobenius norm, and the distance to init `‖W − W₀‖_F` when an

use crate::{MatRef, NamedTensor, TensorRef};
use nalgebra::{DMatrix, SymmetricEigen};
use serde::Serialize;

/// How many of the largest singular values a [`WeightProbe`] keeps.
pub const TOP_K: usize = 5;

/// The probes of one tensor. Serialized (`reglab inspect --json`) with exactly these keys;
/// fields that do not apply are `null` (matrix quantities on 1-D tensors, the distance without
/// an init, spectral quantities of a tensor with a NaN or infinite entry).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeightProbe {
    /// Tensor name.
    pub name: String,
    /// Shape as stored (PyTorch convention).
    pub shape: Vec<usize>,
    /// `[rows, cols]` of the matrix view (`[out, in·kh·kw]`); `null` for 1-D tensors.
    pub matrix: Option<[usize; 2]>,
    /// Largest singular value.
    pub sigma_max: Option<f64>,
    /// The largest `min(TOP_K, k)` singular values, descending.
    pub top_singular_values: Option<Vec<f64>>,
    /// Roy–Vetterli effective rank of the matrix.
    pub effective_rank: Option<f64>,
    /// `‖W Wᵀ − I‖_F / √out`.
    pub orthogonality_gap: Option<f64>,
    /// Fraction of entries exactly 0.
    pub sparsity: f64,
    /// `‖W‖_F`.
    pub frobenius_norm: f64,
    /// `‖W − W₀‖_F` when an init tensor was given.
    pub distance_to_init: Option<f64>,
    /// Number of NaN or infinite entries (the spectral fields are `null` when > 0).
    pub non_finite: usize,
}

/// The spectrum-derived quantities of one matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct Spectrum {
    /// All `min(rows, cols)` singular values, descending.
    pub singular_values: Vec<f64>,
    /// `‖W Wᵀ − I_rows‖_F / √rows`.
    pub orthogonality_gap: f64,
}

/// The singular values of `m` (descending, `min(rows, cols)` of them) and its orthogonality gap,
/// from the eigenvalues of the smaller Gram matrix in f64. Entries must be finite.
pub fn spectrum(m: MatRef<'_>) -> Spectrum {
    let (rows, cols) = (m.rows, m.cols);
    if rows == 0 || cols == 0 {
        return Spectrum { singular_values: vec![], orthogonality_gap: if rows == 0 { 0.0 } else { 1.0 } };
    }
    // `a` is the matrix with the short side as its columns: W [rows, cols] itself when
    // rows > cols, else Wᵀ; then G = aᵀa is the smaller Gram matrix.
    let wide = rows <= cols;
    let (long, short) = if wide { (cols, rows) } else { (rows, cols) };
    let a = DMatrix::<f64>::from_fn(long, short, |i, j| if wide { m.at(j, i) as f64 } else { m.at(i, j) as f64 });
    let g = a.transpose() * &a;
    let gap_sq = if wide {
        // G = W Wᵀ itself.
        let mut s = 0.0;
        for j in 0..short {
            for i in 0..short {
                let d = g[(i, j)] - if i == j { 1.0 } else { 0.0 };
                s += d * d;
            }
        }
        s
    } else {
        // G = WᵀW: ‖WWᵀ − I‖² = ‖WWᵀ‖² − 2 tr(WWᵀ) + out = ‖G‖² − 2 tr(G) + out.
        let fro: f64 = g.iter().map(|x| x * x).sum();
        (fro - 2.0 * g.trace() + rows as f64).max(0.0)
    };
    let eig = SymmetricEigen::try_new(g, f64::EPSILON, 10_000).map(|e| e.eigenvalues.as_slice().to_vec()).unwrap_or_else(|| vec![f64::NAN; short]);
    let mut lambda = eig;
    lambda.sort_by(|x, y| y.total_cmp(x));
    let noise = short as f64 * f64::EPSILON * lambda.first().copied().unwrap_or(0.0).max(0.0);
    let singular_values = lambda.iter().map(|&l| if l > noise { l.sqrt() } else { 0.0 }).collect();
    Spectrum { singular_values, orthogonality_gap: (gap_sq / rows as f64).sqrt() }
}

/// Angles between the rows (units, filters) of `m`: the mean and the largest `|cos θ_ij|` over
/// the pairs `i < j` of non-zero rows, `cos θ_ij = w_iᵀw_j / (‖w_i‖‖w_j‖)`, in f64. 0 for an
/// orthogonal set of rows, whatever their norms (what `ortho-offdiag` asks for), and what
/// `mhe` lowers by spreading the directions. `(0, 0)` with fewer than two non-zero rows.
pub fn row_cosines(m: MatRef<'_>) -> (f64, f64) {
    let rows: Vec<Vec<f64>> = (0..m.rows)
        .map(|i| (0..m.cols).map(|j| m.at(i, j) as f64).collect::<Vec<f64>>())
        .filter(|r| r.iter().any(|&x| x != 0.0))
        .map(|r| {
            let n = r.iter().map(|x| x * x).sum::<f64>().sqrt();
            r.into_iter().map(|x| x / n).collect()
        })
        .collect();
    let n = rows.len();
    if n < 2 {
        return (0.0, 0.0);
    }
    let a = DMatrix::<f64>::from_fn(n, m.cols, |i, j| rows[i][j]);
    let g = &a * a.transpose();
    let (mut sum, mut max) = (0.0f64, 0.0f64);
    for i in 0..n {
        for j in i + 1..n {
            let c = g[(i, j)].abs();
            sum += c;
            max = max.max(c);
        }
    }
    (sum / (n * (n - 1) / 2) as f64, max)
}

/// All singular values of `m`, descending (see [`spectrum`]).
pub fn singular_values(m: MatRef<'_>) -> Vec<f64> {
    spectrum(m).singular_values
}

/// Roy & Vetterli's effective rank `exp(−Σ p_i ln p_i)`, `p_i = σ_i / Σ_j σ_j`, of a list of
/// singular values (0 when they are all 0).
pub fn effective_rank(singular_values: &[f64]) -> f64 {
    let total: f64 = singular_values.iter().map(|s| s.abs()).sum();
    if total <= 0.0 || !total.is_finite() {
        return if total.is_finite() { 0.0 } else { f64::NAN };
    }
    let h: f64 = singular_values.iter().map(|s| s.abs() / total).filter(|&p| p > 0.0).map(|p| -p * p.ln()).sum();
    h.exp()
}

/// Fraction of entries exactly 0 (0 for an empty tensor).
pub fn sparsity(x: &[f32]) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    x.iter().filter(|&&v| v == 0.0).count() as f64 / x.len() as f64
}

/// `‖w − w₀‖_F` in f64 (the slices must have the same length).
pub fn distance(w: &[f32], w0: &[f32]) -> f64 {
    assert_eq!(w.len(), w0.len(), "distance: lengths differ");
    w.iter().zip(w0).map(|(&a, &b)| (a as f64 - b as f64).powi(2)).sum::<f64>().sqrt()
}

/// The probes of one tensor (`init`: W₀ with the same number of entries).
pub fn probe_weight(name: &str, w: TensorRef<'_>, init: Option<&[f32]>) -> WeightProbe {
    let non_finite = w.data.iter().filter(|v| !v.is_finite()).count();
    let matrix = w.is_matrix().then(|| {
        let (r, c) = w.matrix_dims();
        [r, c]
    });
    let spec = match matrix {
        Some(_) if non_finite == 0 => Some(spectrum(w.matrix())),
        _ => None,
    };
    let sv = spec.as_ref().map(|s| &s.singular_values);
    WeightProbe {
        name: name.to_string(),
        shape: w.shape.to_vec(),
        matrix,
        sigma_max: sv.map(|s| s.first().copied().unwrap_or(0.0)),
        top_singular_values: sv.map(|s| s.iter().take(TOP_K).copied().collect()),
        effective_rank: sv.map(|s| effective_rank(s)),
        orthogonality_gap: spec.as_ref().map(|s| s.orthogonality_gap),
        sparsity: sparsity(w.data),
        frobenius_norm: crate::linalg::norm(w.data),
        distance_to_init: init.map(|i| distance(w.data, i)),
        non_finite,
    }
}

/// The probes of every tensor of a checkpoint, in its order. With `init`, each tensor is
/// matched by name (a tensor absent from `init` gets no distance); a matched tensor of another
/// shape, or an init sharing no name with `weights`, is an error.
pub fn probe_weights(weights: &[NamedTensor], init: Option<&[NamedTensor]>) -> Result<Vec<WeightProbe>, String> {
    let inits = crate::tensor::match_init(weights, init, "the checkpoint")?;
    Ok(weights.iter().zip(inits).map(|(w, i)| probe_weight(&w.name, w.view(), i.map(|i| i.data.as_slice()))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_cosines_of_orthogonal_parallel_and_hand_rows() {
        // orthogonal rows of any norms: 0; a zero row is ignored
        let w = [3.0f32, 0.0, 0.0, 0.0, -0.5, 0.0, 0.0, 0.0, 0.0];
        assert_eq!(row_cosines(MatRef::from_layout(&w, 3, 3, crate::Layout::RowMajor)), (0.0, 0.0));
        // (1, 0), (1, 1), (−1, 0): |cos| = 1/√2, 1, 1/√2 → mean (1 + √2)/3, max 1
        let w = [1.0f32, 0.0, 1.0, 1.0, -1.0, 0.0];
        let (mean, max) = row_cosines(MatRef::from_layout(&w, 3, 2, crate::Layout::RowMajor));
        assert!((mean - (1.0 + 2f64.sqrt()) / 3.0).abs() < 1e-12 && (max - 1.0).abs() < 1e-12, "{mean} {max}");
        // the same matrix stored transposed
        let wt = crate::linalg::transpose(&w, 3, 2);
        assert_eq!(row_cosines(MatRef::from_layout(&wt, 3, 2, crate::Layout::Transposed)), (mean, max));
        assert_eq!(row_cosines(MatRef::from_layout(&w[..2], 1, 2, crate::Layout::RowMajor)), (0.0, 0.0));
    }

    use crate::Layout;
    use crate::testing::random_vec;

    fn mat(data: &[f32], rows: usize, cols: usize) -> MatRef<'_> {
        MatRef::from_layout(data, rows, cols, Layout::RowMajor)
    }

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1.0)
    }

    /// A random orthogonal n×n matrix: Q of the QR decomposition of a random matrix.
    fn orthogonal(n: usize, seed: u64) -> Vec<f32> {
        let r = random_vec(n * n, 1.0, seed);
        let a = DMatrix::<f64>::from_fn(n, n, |i, j| r[i * n + j] as f64);
        let q = a.qr().q();
        (0..n).flat_map(|i| (0..n).map(move |j| (i, j))).map(|(i, j)| q[(i, j)] as f32).collect()
    }

    #[test]
    fn diagonal_matrix_singular_values_wide_and_tall() {
        // diag(3, −2, 0.5) padded to 3×5 and to 5×3.
        let mut wide = vec![0.0f32; 15];
        wide[0] = 3.0;
        wide[6] = -2.0;
        wide[12] = 0.5;
        let tall = crate::testing::transpose(&wide, 3, 5);
        for (d, r, c) in [(&wide, 3, 5), (&tall, 5, 3)] {
            let s = spectrum(mat(d, r, c));
            assert_eq!(s.singular_values.len(), 3);
            for (got, want) in s.singular_values.iter().zip([3.0, 2.0, 0.5]) {
                assert!(close(*got, want, 1e-12), "{:?}", s.singular_values);
            }
            // ‖WWᵀ − I_r‖² = (9−1)² + (4−1)² + (0.25−1)² + (r − 3)·1
            let want = ((64.0 + 9.0 + 0.5625 + (r - 3) as f64) / r as f64).sqrt();
            assert!(close(s.orthogonality_gap, want, 1e-12), "{} vs {want}", s.orthogonality_gap);
        }
        let p = probe_weight("d", TensorRef::new(&[3, 5], &wide), None);
        assert_eq!(p.sigma_max, Some(3.0));
        assert_eq!(p.top_singular_values.as_ref().unwrap().len(), 3);
        let er = effective_rank(&[3.0, 2.0, 0.5]);
        let p3 = [3.0 / 5.5, 2.0 / 5.5, 0.5 / 5.5];
        let want = (-p3.iter().map(|p: &f64| p * p.ln()).sum::<f64>()).exp();
        assert!(close(er, want, 1e-14));
        assert!(close(p.effective_rank.unwrap(), want, 1e-12));
        assert_eq!(p.sparsity, 12.0 / 15.0);
        assert!(close(p.frobenius_norm, (9.0f64 + 4.0 + 0.25).sqrt(), 1e-12));
    }

    #[test]
    fn orthogonal_matrix_has_no_gap_and_full_effective_rank() {
        let n = 32;
        let q = orthogonal(n, 3);
        let p = probe_weight("q", TensorRef::new(&[n, n], &q), None);
        assert!(p.orthogonality_gap.unwrap() < 1e-6, "{:?}", p.orthogonality_gap);
        assert!(close(p.effective_rank.unwrap(), n as f64, 1e-6), "{:?}", p.effective_rank);
        for s in p.top_singular_values.unwrap() {
            assert!(close(s, 1.0, 1e-6));
        }
        // orthonormal rows of a wide matrix: the first 8 rows of Q
        let p = probe_weight("q8", TensorRef::new(&[8, n], &q[..8 * n]), None);
        assert!(p.orthogonality_gap.unwrap() < 1e-6);
        assert!(close(p.effective_rank.unwrap(), 8.0, 1e-6));
        // its transpose (tall): the gap is the floor √((out − in)/out)
        let t = crate::testing::transpose(&q[..8 * n], 8, n);
        let p = probe_weight("qt", TensorRef::new(&[n, 8], &t), None);
        assert!(close(p.orthogonality_gap.unwrap(), ((n - 8) as f64 / n as f64).sqrt(), 1e-6));
    }

    #[test]
    fn scaled_identity() {
        let (n, c) = (6, 1.5f32);
        let mut w = vec![0.0f32; n * n];
        (0..n).for_each(|i| w[i * n + i] = c);
        let p = probe_weight("i", TensorRef::new(&[n, n], &w), None);
        assert_eq!(p.top_singular_values.unwrap(), vec![1.5; 5]);
        assert!(close(p.effective_rank.unwrap(), n as f64, 1e-12));
        assert!(close(p.orthogonality_gap.unwrap(), (c * c - 1.0) as f64, 1e-12));
        assert!(close(p.frobenius_norm, c as f64 * (n as f64).sqrt(), 1e-12));
        assert!(close(p.sparsity, 1.0 - 1.0 / n as f64, 1e-15));
        // W = 0: gap 1, σ = 0, effective rank 0 by convention
        let z = vec![0.0f32; 12];
        let p = probe_weight("z", TensorRef::new(&[3, 4], &z), None);
        assert_eq!((p.sigma_max, p.effective_rank, p.orthogonality_gap, p.sparsity), (Some(0.0), Some(0.0), Some(1.0), 1.0));
    }

    #[test]
    fn rank_one_matrix_has_effective_rank_one() {
        let u = random_vec(40, 1.0, 1);
        let v = random_vec(70, 1.0, 2);
        let w: Vec<f32> = u.iter().flat_map(|&a| v.iter().map(move |&b| a * b)).collect();
        for (d, r, c) in [(w.clone(), 40, 70), (crate::testing::transpose(&w, 40, 70), 70, 40)] {
            let p = probe_weight("r1", TensorRef::new(&[r, c], &d), None);
            assert!(close(p.effective_rank.unwrap(), 1.0, 1e-9), "{:?}", p.effective_rank);
            let want = crate::linalg::norm(&u) * crate::linalg::norm(&v);
            assert!(close(p.sigma_max.unwrap(), want, 1e-6));
        }
    }

    #[test]
    fn random_matrix_matches_nalgebras_svd_of_w() {
        for (r, c, seed) in [(30usize, 50usize, 1u64), (64, 20, 2), (17, 17, 3)] {
            let w = random_vec(r * c, 0.3, seed);
            let p = probe_weight("w", TensorRef::new(&[r, c], &w), None);
            // independent route: one-sided SVD of W itself, no Gram matrix
            let m = DMatrix::<f64>::from_fn(r, c, |i, j| w[i * c + j] as f64);
            let mut sv: Vec<f64> = m.clone().svd(false, false).singular_values.as_slice().to_vec();
            sv.sort_by(|a, b| b.total_cmp(a));
            let top = p.top_singular_values.unwrap();
            assert_eq!(top.len(), TOP_K);
            for (a, b) in top.iter().zip(&sv) {
                assert!(close(*a, *b, 1e-10), "{top:?} vs {sv:?}");
            }
            assert!(close(p.effective_rank.unwrap(), effective_rank(&sv), 1e-9));
            // gap: ‖WWᵀ − I‖_F / √r straight from the definition
            let g = &m * m.transpose() - DMatrix::<f64>::identity(r, r);
            assert!(close(p.orthogonality_gap.unwrap(), g.norm() / (r as f64).sqrt(), 1e-10));
            assert!(close(p.frobenius_norm, m.norm(), 1e-12));
        }
    }

    #[test]
    fn sparsity_counts_exact_zeros_only() {
        let w = [0.0f32, -0.0, 1e-30, 2.0, 0.0, -3.0, 0.0, 1.0];
        assert_eq!(sparsity(&w), 4.0 / 8.0);
        assert_eq!(sparsity(&[]), 0.0);
        let p = probe_weight("b", TensorRef::new(&[8], &w), None);
        assert_eq!(p.sparsity, 0.5);
    }

    #[test]
    fn distance_to_init_and_one_dimensional_tensors() {
        let w = [1.0f32, 2.0, 3.0, 4.0];
        let w0 = [1.0f32, 0.0, 3.0, 1.0];
        let p = probe_weight("bias", TensorRef::new(&[4], &w), Some(&w0));
        assert!(close(p.distance_to_init.unwrap(), 13f64.sqrt(), 1e-15));
        assert_eq!((p.matrix, p.sigma_max, p.effective_rank, p.orthogonality_gap), (None, None, None, None));
        assert!(p.top_singular_values.is_none());
        assert!(close(p.frobenius_norm, 30f64.sqrt(), 1e-15));
        let p = probe_weight("w", TensorRef::new(&[2, 2], &w), Some(&w));
        assert_eq!(p.distance_to_init, Some(0.0));
        assert_eq!(probe_weight("w", TensorRef::new(&[2, 2], &w), None).distance_to_init, None);
    }

    #[test]
    fn probe_weights_matches_init_by_name_and_checks_shapes() {
        let a = NamedTensor::new("a.weight", vec![2, 3], random_vec(6, 1.0, 1));
        let b = NamedTensor::new("a.bias", vec![2], vec![1.0, 1.0]);
        let a0 = NamedTensor::new("a.weight", vec![2, 3], vec![0.0; 6]);
        let p = probe_weights(&[a.clone(), b.clone()], Some(&[a0])).unwrap();
        assert!(close(p[0].distance_to_init.unwrap(), crate::linalg::norm(&a.data), 1e-12));
        assert_eq!(p[1].distance_to_init, None);
        let bad = NamedTensor::new("a.weight", vec![3, 2], vec![0.0; 6]);
        assert!(probe_weights(std::slice::from_ref(&a), Some(&[bad])).unwrap_err().contains("shape"));
        let other = NamedTensor::new("x", vec![1], vec![0.0]);
        assert!(probe_weights(&[a], Some(&[other])).unwrap_err().contains("shares no tensor name"));
    }

    #[test]
    fn conv_kernels_are_read_as_out_by_in_kh_kw() {
        let shape = [4usize, 3, 3, 3];
        let w = random_vec(4 * 27, 0.5, 9);
        let p = probe_weight("convs.0.weight", TensorRef::new(&shape, &w), None);
        assert_eq!(p.matrix, Some([4, 27]));
        let flat = probe_weight("flat", TensorRef::new(&[4, 27], &w), None);
        assert_eq!(p.top_singular_values, flat.top_singular_values);
        assert_eq!(p.top_singular_values.as_ref().unwrap().len(), 4);
        assert_eq!(p.orthogonality_gap, flat.orthogonality_gap);
    }

    #[test]
    fn non_finite_entries_are_counted_and_skip_the_spectrum() {
        let w = [1.0f32, f32::NAN, 0.0, f32::INFINITY];
        let p = probe_weight("w", TensorRef::new(&[2, 2], &w), None);
        assert_eq!(p.non_finite, 2);
        assert_eq!(p.sigma_max, None);
        assert_eq!(p.sparsity, 0.25);
    }
}
