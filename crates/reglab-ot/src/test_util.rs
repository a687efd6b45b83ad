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
    let (k, d) = x
        .iter()
        .zip(y)
        .map(|(a, b)| (a - b).abs())
        .enumerate()
        .fold((0, 0.0), |best, (k, d)| if d > best.1 { (k, d) } else { best });
    assert!(d <= tol * scale, "{what}: entry {k} differs by {d:e} ({} vs {}), tolerance {tol:e}", x[k], y[k]);
}

/// `|x − y| ≤ tol · max(|x|, |y|)`.
pub fn assert_rel(x: f64, y: f64, tol: f64, what: &str) {
    assert!((x - y).abs() <= tol * x.abs().max(y.abs()), "{what}: {x} vs {y} (tolerance {tol:e})");
}
