//! Small dense linear algebra on strided views: what the regularizers need, no more.

use crate::tensor::{Layout, MatRef};
use rand::{Rng, SeedableRng};

/// `y = A x` with f32 accumulation (fast path for training).
pub fn matvec(a: MatRef<'_>, x: &[f32], y: &mut [f32]) {
    assert_eq!(x.len(), a.cols);
    assert_eq!(y.len(), a.rows);
    if a.cs == 1 {
        for (r, yr) in y.iter_mut().enumerate() {
            let row = &a.data[r * a.rs..r * a.rs + a.cols];
            *yr = dot(row, x);
        }
    } else if a.rs == 1 {
        y.fill(0.0);
        for (c, &xc) in x.iter().enumerate() {
            let col = &a.data[c * a.cs..c * a.cs + a.rows];
            axpy(xc, col, y);
        }
    } else {
        for (r, yr) in y.iter_mut().enumerate() {
            *yr = (0..a.cols).map(|c| a.at(r, c) * x[c]).sum();
        }
    }
}

/// `y = A x` with f64 vectors and accumulation (exact evaluations).
pub fn matvec_f64(a: MatRef<'_>, x: &[f64], y: &mut [f64]) {
    assert_eq!(x.len(), a.cols);
    assert_eq!(y.len(), a.rows);
    if a.rs == 1 && a.cs != 1 {
        y.fill(0.0);
        for (c, &xc) in x.iter().enumerate() {
            let col = &a.data[c * a.cs..c * a.cs + a.rows];
            for (yi, &ai) in y.iter_mut().zip(col) {
                *yi += ai as f64 * xc;
            }
        }
    } else {
        for (r, yr) in y.iter_mut().enumerate() {
            *yr = (0..a.cols).map(|c| a.at(r, c) as f64 * x[c]).sum();
        }
    }
}

/// `Σ a_i b_i` in f32 with sixteen independent accumulators over exact chunks (vectorises;
/// measured 2.6× faster than an indexed loop on a 784-long row).
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; 16];
    let ca = a.chunks_exact(16);
    let cb = b.chunks_exact(16);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..16 {
            acc[l] += x[l] * y[l];
        }
    }
    let mut s: f32 = acc.iter().sum();
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

/// `y += α x`.
#[inline]
pub fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi += alpha * xi;
    }
}

/// `Σ f(x_i)` in f64 over eight independent lanes (vectorises; a single running f64 sum costs
/// ~1 ns per element, this about a quarter of that).
#[inline]
fn sum_f64_by(x: &[f32], f: impl Fn(f32) -> f64) -> f64 {
    let mut acc = [0.0f64; 8];
    let c = x.chunks_exact(8);
    let tail: f64 = c.remainder().iter().map(|&v| f(v)).sum();
    for ch in c {
        for l in 0..8 {
            acc[l] += f(ch[l]);
        }
    }
    acc.iter().sum::<f64>() + tail
}

/// `Σ x_i²` in f64.
pub fn sum_sq(x: &[f32]) -> f64 {
    sum_f64_by(x, |v| (v as f64) * (v as f64))
}

/// `Σ |x_i|` in f64.
pub fn sum_abs(x: &[f32]) -> f64 {
    sum_f64_by(x, |v| (v as f64).abs())
}

/// `Σ (a_i − b_i)²` in f64.
pub fn sum_sq_diff(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f64; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f64 = ca.remainder().iter().zip(cb.remainder()).map(|(&x, &y)| (x as f64 - y as f64).powi(2)).sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            let d = x[l] as f64 - y[l] as f64;
            acc[l] += d * d;
        }
    }
    acc.iter().sum::<f64>() + tail
}

/// Euclidean norm in f64.
pub fn norm(x: &[f32]) -> f64 {
    sum_sq(x).sqrt()
}

/// Transpose a row-major `[rows, cols]` buffer into a row-major `[cols, rows]` one (e.g.
/// between PyTorch's `[out, in]` and burn's `Linear` storage `[in, out]`).
pub fn transpose(a: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    assert_eq!(a.len(), rows * cols, "transpose: buffer length");
    let mut t = vec![0.0; a.len()];
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = a[r * cols + c];
        }
    }
    t
}

/// `C = α A B + β C` for strided views, `C` row-major `[a.rows, b.cols]` (matrixmultiply's sgemm).
pub fn gemm(alpha: f32, a: MatRef<'_>, b: MatRef<'_>, beta: f32, c: &mut [f32]) {
    assert_eq!(a.cols, b.rows, "gemm: inner dimensions");
    assert_eq!(c.len(), a.rows * b.cols, "gemm: output size");
    // SAFETY: the views are in bounds by construction (MatRef::from_layout checks the buffer
    // length) and `c` is a distinct, correctly sized row-major buffer.
    unsafe {
        matrixmultiply::sgemm(
            a.rows,
            a.cols,
            b.cols,
            alpha,
            a.data.as_ptr(),
            a.rs as isize,
            a.cs as isize,
            b.data.as_ptr(),
            b.rs as isize,
            b.cs as isize,
            beta,
            c.as_mut_ptr(),
            b.cols as isize,
            1,
        );
    }
}

/// `G += α D W` for a symmetric `n×n` matrix `D` (row-major) and the matrix view `w` (`[n, in]`)
/// of a weight stored in `layout`, with `G` in that storage layout: row-major `[n, in]`, or
/// `[in, n]` (burn's `Linear`) as `Gᵀ += α Wᵀ D`. One GEMM on strided views, no transposing copy.
pub fn add_sym_times(alpha: f32, d: &[f32], w: MatRef<'_>, layout: Layout, g: &mut [f32]) {
    let dm = MatRef::from_layout(d, w.rows, w.rows, Layout::RowMajor);
    match layout {
        Layout::RowMajor => gemm(alpha, dm, w, 1.0, g),
        Layout::Transposed => gemm(alpha, w.t(), dm, 1.0, g),
    }
}

/// A unit vector of length `n` drawn from a generator seeded by `key` (FNV-1a of the string):
/// the same key always gives the same start vector, so power iterations are reproducible.
pub fn seeded_unit_vector(n: usize, key: &str) -> Vec<f32> {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in key.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(h);
    let mut v: Vec<f32> = (0..n).map(|_| rng.random::<f32>() * 2.0 - 1.0).collect();
    let nv = norm(&v) as f32;
    if nv > 0.0 {
        v.iter_mut().for_each(|x| *x /= nv);
    } else if n > 0 {
        v[0] = 1.0;
    }
    v
}

/// Largest singular value of `a` and its singular vectors by power iteration in f64, run until
/// the relative change of σ is below `tol` (or `max_iter`), starting from `v0` (length
/// `a.cols`). Returns `(σ, u, v)` with `A v = σ u`.
pub fn top_singular(a: MatRef<'_>, v0: &[f32], tol: f64, max_iter: usize) -> (f64, Vec<f64>, Vec<f64>) {
    let mut v: Vec<f64> = v0.iter().map(|&x| x as f64).collect();
    let mut u = vec![0.0f64; a.rows];
    let mut sigma = 0.0f64;
    let nv = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    if nv == 0.0 {
        return (0.0, u, v);
    }
    v.iter_mut().for_each(|x| *x /= nv);
    let at = a.t();
    for _ in 0..max_iter {
        matvec_f64(a, &v, &mut u);
        let nu = u.iter().map(|x| x * x).sum::<f64>().sqrt();
        if nu == 0.0 {
            return (0.0, u, v);
        }
        u.iter_mut().for_each(|x| *x /= nu);
        matvec_f64(at, &u, &mut v);
        let s = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        if s == 0.0 {
            return (0.0, u, v);
        }
        v.iter_mut().for_each(|x| *x /= s);
        let done = (s - sigma).abs() <= tol * s;
        sigma = s;
        if done {
            break;
        }
    }
    (sigma, u, v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::Layout;

    fn naive(a: &[f32], rows: usize, cols: usize, x: &[f32]) -> Vec<f32> {
        (0..rows).map(|r| (0..cols).map(|c| a[r * cols + c] * x[c]).sum()).collect()
    }

    #[test]
    fn matvec_in_both_layouts() {
        let (rows, cols) = (5, 3);
        let a: Vec<f32> = (0..15).map(|i| i as f32 * 0.5 - 3.0).collect();
        let x = [1.0, -2.0, 0.5];
        let want = naive(&a, rows, cols, &x);
        let mut y = vec![0.0; rows];
        matvec(MatRef::from_layout(&a, rows, cols, Layout::RowMajor), &x, &mut y);
        assert_eq!(y, want);
        // the same matrix stored transposed
        let at: Vec<f32> = (0..cols).flat_map(|c| (0..rows).map(move |r| (r, c))).map(|(r, c)| a[r * cols + c]).collect();
        matvec(MatRef::from_layout(&at, rows, cols, Layout::Transposed), &x, &mut y);
        assert_eq!(y, want);
        let mut y64 = vec![0.0; rows];
        matvec_f64(MatRef::from_layout(&at, rows, cols, Layout::Transposed), &[1.0, -2.0, 0.5], &mut y64);
        assert!(y64.iter().zip(&want).all(|(a, b)| (*a as f32 - b).abs() < 1e-6));
    }

    #[test]
    fn dot_matches_a_plain_sum_for_every_length() {
        for n in [0usize, 1, 15, 16, 17, 33, 784] {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
            let want: f64 = a.iter().zip(&b).map(|(x, y)| *x as f64 * *y as f64).sum();
            assert!((dot(&a, &b) as f64 - want).abs() < 1e-4, "n={n}");
        }
    }

    #[test]
    fn sums_match_plain_loops() {
        for n in [0usize, 3, 8, 13, 1000] {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.7).sin()).collect();
            let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.3).cos()).collect();
            let sq: f64 = a.iter().map(|&x| x as f64 * x as f64).sum();
            let ab: f64 = a.iter().map(|&x| (x as f64).abs()).sum();
            let d: f64 = a.iter().zip(&b).map(|(&x, &y)| (x as f64 - y as f64).powi(2)).sum();
            assert!((sum_sq(&a) - sq).abs() <= 1e-12 * sq.max(1.0));
            assert!((sum_abs(&a) - ab).abs() <= 1e-12 * ab.max(1.0));
            assert!((sum_sq_diff(&a, &b) - d).abs() <= 1e-12 * d.max(1.0));
        }
    }

    #[test]
    fn gemm_matches_naive() {
        let a: Vec<f32> = (0..6).map(|i| i as f32).collect(); // 2x3
        let b: Vec<f32> = (0..12).map(|i| (i as f32) - 4.0).collect(); // 3x4
        let mut c = vec![0.0; 8];
        gemm(1.0, MatRef::from_layout(&a, 2, 3, Layout::RowMajor), MatRef::from_layout(&b, 3, 4, Layout::RowMajor), 0.0, &mut c);
        for i in 0..2 {
            for j in 0..4 {
                let want: f32 = (0..3).map(|k| a[i * 3 + k] * b[k * 4 + j]).sum();
                assert_eq!(c[i * 4 + j], want);
            }
        }
    }

    #[test]
    fn power_iteration_finds_sigma_max_of_a_diagonal() {
        // diag(3, 2, 1) padded to 3x4
        let mut a = vec![0.0f32; 12];
        a[0] = 3.0;
        a[5] = -2.0;
        a[10] = 1.0;
        let v0 = seeded_unit_vector(4, "t");
        let (s, u, v) = top_singular(MatRef::from_layout(&a, 3, 4, Layout::RowMajor), &v0, 1e-12, 10_000);
        assert!((s - 3.0).abs() < 1e-9, "{s}");
        assert!((u[0].abs() - 1.0).abs() < 1e-6 && (v[0].abs() - 1.0).abs() < 1e-6);
    }

    #[test]
    fn seeded_vectors_are_unit_and_reproducible() {
        let a = seeded_unit_vector(100, "layers.0.weight");
        assert_eq!(a, seeded_unit_vector(100, "layers.0.weight"));
        assert_ne!(a, seeded_unit_vector(100, "layers.1.weight"));
        assert!((norm(&a) - 1.0).abs() < 1e-6);
    }
}
