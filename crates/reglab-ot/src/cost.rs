//! Ground-cost matrices between two point clouds.
//!
//! For points `X = (x_1, …, x_n)` and `Y = (y_1, …, y_m)` in `ℝ^d`, given as matrices with one
//! point per row (`X` is `n × d`, `Y` is `m × d`), the cost matrix `C` is the `n × m` matrix
//!
//! - squared Euclidean: `C_ij = ‖x_i − y_j‖² = Σ_k (x_ik − y_jk)²` (POT's `ot.dist` default,
//!   `metric="sqeuclidean"`), the cost of the 2-Wasserstein distance `W_2²`;
//! - Euclidean: `C_ij = ‖x_i − y_j‖`, the cost of the 1-Wasserstein distance `W_1`.
//!
//! Differences are summed coordinate by coordinate (not through `‖x‖² + ‖y‖² − 2⟨x, y⟩`), so
//! `C_ij ≥ 0` exactly and `C_ii = 0` for identical points.

use crate::error::{Error, Result};
use crate::matrix::Matrix;

/// The ground metric of a cost matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Metric {
    /// `C_ij = ‖x_i − y_j‖²`.
    #[default]
    SqEuclidean,
    /// `C_ij = ‖x_i − y_j‖`.
    Euclidean,
}

impl Metric {
    /// The cost of two points of the real line at distance `|x − y|`.
    pub fn cost_1d(self, x: f64, y: f64) -> f64 {
        let d = (x - y).abs();
        match self {
            Metric::SqEuclidean => d * d,
            Metric::Euclidean => d,
        }
    }
}

/// The `n × m` cost matrix between the rows of `x` (`n × d`) and of `y` (`m × d`).
///
/// Errors: [`Error::Empty`] when a cloud has no points or its points no coordinates,
/// [`Error::DimensionMismatch`] when `x` and `y` have different `d`, [`Error::NonFinite`] at
/// a NaN or infinite coordinate.
pub fn cost_matrix(x: &Matrix, y: &Matrix, metric: Metric) -> Result<Matrix> {
    check_cloud(x, "X")?;
    check_cloud(y, "Y")?;
    if x.cols != y.cols {
        return Err(Error::DimensionMismatch { x: x.cols, y: y.cols });
    }
    let (n, m) = (x.rows, y.rows);
    let mut c = Matrix::zeros(n, m);
    for (i, ci) in c.data.chunks_exact_mut(m).enumerate() {
        let xi = x.row(i);
        for (j, cij) in ci.iter_mut().enumerate() {
            let d2: f64 = xi.iter().zip(y.row(j)).map(|(a, b)| (a - b) * (a - b)).sum();
            *cij = match metric {
                Metric::SqEuclidean => d2,
                Metric::Euclidean => d2.sqrt(),
            };
        }
    }
    Ok(c)
}

/// Squared Euclidean cost `C_ij = ‖x_i − y_j‖²`; see [`cost_matrix`].
pub fn sq_euclidean(x: &Matrix, y: &Matrix) -> Result<Matrix> {
    cost_matrix(x, y, Metric::SqEuclidean)
}

/// Euclidean cost `C_ij = ‖x_i − y_j‖`; see [`cost_matrix`].
pub fn euclidean(x: &Matrix, y: &Matrix) -> Result<Matrix> {
    cost_matrix(x, y, Metric::Euclidean)
}

fn check_cloud(p: &Matrix, what: &'static str) -> Result<()> {
    if p.rows == 0 {
        return Err(Error::Empty { what: if what == "X" { "X (no points)" } else { "Y (no points)" } });
    }
    if p.cols == 0 {
        return Err(Error::Empty { what: if what == "X" { "X (points without coordinates)" } else { "Y (points without coordinates)" } });
    }
    p.check_finite(what)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::Rng;

    #[test]
    fn matches_the_definition_on_small_clouds() {
        let x = Matrix::from_rows(&[[0.0, 0.0], [1.0, 2.0]]).unwrap();
        let y = Matrix::from_rows(&[[3.0, 4.0], [1.0, 0.0], [0.0, 0.0]]).unwrap();
        let c2 = sq_euclidean(&x, &y).unwrap();
        assert_eq!(c2.shape(), (2, 3));
        assert_eq!(c2.data, vec![25.0, 1.0, 0.0, 8.0, 4.0, 5.0]);
        let c1 = euclidean(&x, &y).unwrap();
        for (a, b) in c1.data.iter().zip(&c2.data) {
            assert_eq!(*a, b.sqrt());
        }
    }

    #[test]
    fn swapping_clouds_transposes_and_self_cost_has_zero_diagonal() {
        let mut rng = Rng::new(7);
        let x = rng.cloud(6, 3);
        let y = rng.cloud(4, 3);
        for metric in [Metric::SqEuclidean, Metric::Euclidean] {
            let cxy = cost_matrix(&x, &y, metric).unwrap();
            let cyx = cost_matrix(&y, &x, metric).unwrap();
            assert_eq!(cxy.transpose(), cyx);
            let cxx = cost_matrix(&x, &x, metric).unwrap();
            assert!((0..6).all(|i| cxx.get(i, i) == 0.0));
            assert!(cxx.data.iter().all(|&v| v >= 0.0));
        }
    }

    #[test]
    fn one_dimensional_cost_agrees_with_metric_cost_1d() {
        let x = Matrix::column(&[0.5, -1.0]);
        let y = Matrix::column(&[2.0, 0.25, 3.0]);
        for metric in [Metric::SqEuclidean, Metric::Euclidean] {
            let c = cost_matrix(&x, &y, metric).unwrap();
            for i in 0..2 {
                for j in 0..3 {
                    assert_eq!(c.get(i, j), metric.cost_1d(x.data[i], y.data[j]));
                }
            }
        }
    }

    #[test]
    fn bad_inputs_are_errors() {
        let x = Matrix::from_rows(&[[0.0, 0.0], [1.0, 2.0]]).unwrap();
        let y3 = Matrix::from_rows(&[[0.0, 0.0, 1.0]]).unwrap();
        assert_eq!(sq_euclidean(&x, &y3), Err(Error::DimensionMismatch { x: 2, y: 3 }));
        let empty = Matrix::zeros(0, 2);
        assert!(matches!(sq_euclidean(&empty, &x), Err(Error::Empty { .. })));
        assert!(matches!(sq_euclidean(&x, &empty), Err(Error::Empty { .. })));
        let no_coords = Matrix::zeros(3, 0);
        assert!(matches!(euclidean(&no_coords, &no_coords), Err(Error::Empty { .. })));
        let inf = Matrix::from_rows(&[[0.0, f64::INFINITY]]).unwrap();
        let e = sq_euclidean(&x, &inf).unwrap_err();
        assert!(matches!(e, Error::NonFinite { what: "Y", .. }), "{e}");
    }
}
