//! Helpers for the tests: a seeded generator (SplitMix64) and closeness checks.

use crate::matrix::Matrix;

/// SplitMix64: small, seeded, good enough for random test problems.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform on `[0, 1)`.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// `n` points uniform in the unit cube `[0, 1)^d`, one per row.
    pub fn cloud(&mut self, n: usize, d: usize) -> Matrix {
        Matrix::new(n, d, (0..n * d).map(|_| self.uniform()).collect()).unwrap()
    }

    /// A random histogram of `n` positive weights summing to `total`.
    pub fn histogram(&mut self, n: usize, total: f64) -> Vec<f64> {
        let w: Vec<f64> = (0..n).map(|_| 0.2 + self.uniform()).collect();
        let s: f64 = w.iter().sum();
        w.iter().map(|x| x * total / s).collect()
    }
}

/// `max_k |x_k − y_k| ≤ tol · max(1, max_k |y_k|)`, with a message naming the worst entry.
pub fn assert_close(x: &[f64], y: &[f64], tol: f64, what: &str) {
    assert_eq!(x.len(), y.len(), "{what}: lengths differ");
    let scale = y.iter().fold(1.0f64, |s, v| s.max(v.abs()));
    let (k, d) = x.iter().zip(y).map(|(a, b)| (a - b).abs()).enumerate().fold((0, 0.0), |best, (k, d)| if d > best.1 { (k, d) } else { best });
    assert!(d <= tol * scale, "{what}: entry {k} differs by {d:e} ({} vs {}), tolerance {tol:e}", x[k], y[k]);
}

/// `|x − y| ≤ tol · max(|x|, |y|)`.
pub fn assert_rel(x: f64, y: f64, tol: f64, what: &str) {
    assert!((x - y).abs() <= tol * x.abs().max(y.abs()), "{what}: {x} vs {y} (tolerance {tol:e})");
}

/// Tight options for the smooth and semi-dual solvers in tests.
pub fn tight() -> crate::smooth::SmoothOptions {
    crate::smooth::SmoothOptions { tol: 1e-12, ..Default::default() }
}

/// The POT-fixture problem of `smooth.rs` and `semi_dual.rs`: X (6×2), Y (5×2), uniform weights,
/// squared Euclidean cost.
pub fn pot_fixture() -> (Vec<f64>, Vec<f64>, Matrix) {
    let x = Matrix::from_rows(&[[0.0, 0.0], [0.3, 0.9], [0.8, 0.1], [0.5, 0.5], [1.0, 0.7], [0.2, 0.6]]).unwrap();
    let y = Matrix::from_rows(&[[0.2, 0.4], [0.9, 0.9], [0.6, 0.0], [0.1, 1.0], [0.7, 0.5]]).unwrap();
    (crate::marginals::uniform(6), crate::marginals::uniform(5), crate::cost::sq_euclidean(&x, &y).unwrap())
}

/// One POT run on [`pot_fixture`]: the plan (row-major), `np.sum(G * M)`, and the (semi-)dual
/// value `-log['res'].fun`.
pub struct PotRun {
    pub plan: [f64; 30],
    pub cost: f64,
    pub dual: f64,
}

/// Non-zeros per column of a row-major plan with `m` columns.
pub fn count_col_nnz(plan: &[f64], m: usize) -> Vec<usize> {
    let mut z = vec![0; m];
    for row in plan.chunks(m) {
        z.iter_mut().zip(row).for_each(|(c, &t)| *c += usize::from(t != 0.0));
    }
    z
}
