//! A dense row-major `f64` matrix: point clouds (one point per row), cost matrices, plans.

use crate::error::{Error, Result};

/// A dense `rows × cols` matrix stored row-major: entry `(i, j)` is `data[i * cols + j]`.
///
/// Point clouds are matrices with one point per row (`n × d`); cost matrices and transport
/// plans are `n × m`.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// The entries, row after row (`rows * cols` values).
    pub data: Vec<f64>,
}

impl Matrix {
    /// Wraps a row-major buffer; errors when `data.len() != rows * cols`.
    pub fn new(rows: usize, cols: usize, data: Vec<f64>) -> Result<Self> {
        if rows.checked_mul(cols) != Some(data.len()) {
            return Err(Error::BufferLength { what: "matrix", len: data.len(), rows, cols });
        }
        Ok(Self { rows, cols, data })
    }

    /// The `rows × cols` matrix of zeros.
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Self { rows, cols, data: vec![0.0; rows * cols] }
    }

    /// Builds a matrix from its rows; errors on rows of different lengths.
    ///
    /// An empty slice gives a `0 × 0` matrix.
    pub fn from_rows<R: AsRef<[f64]>>(rows: &[R]) -> Result<Self> {
        let cols = rows.first().map_or(0, |r| r.as_ref().len());
        let mut data = Vec::with_capacity(rows.len() * cols);
        for (row, r) in rows.iter().enumerate() {
            let r = r.as_ref();
            if r.len() != cols {
                return Err(Error::Ragged { what: "matrix", row, len: r.len(), expected: cols });
            }
            data.extend_from_slice(r);
        }
        Ok(Self { rows: rows.len(), cols, data })
    }

    /// A column vector (`n × 1`): `n` points on the real line.
    pub fn column(values: &[f64]) -> Self {
        Self { rows: values.len(), cols: 1, data: values.to_vec() }
    }

    /// `(rows, cols)`.
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// Entry `(i, j)`; panics when out of range.
    #[inline]
    pub fn get(&self, i: usize, j: usize) -> f64 {
        assert!(i < self.rows && j < self.cols, "({i}, {j}) out of a {}×{} matrix", self.rows, self.cols);
        self.data[i * self.cols + j]
    }

    /// Row `i` as a slice; panics when out of range.
    #[inline]
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// The transpose, as a new matrix.
    pub fn transpose(&self) -> Self {
        let mut data = vec![0.0; self.data.len()];
        for i in 0..self.rows {
            for (j, &x) in self.row(i).iter().enumerate() {
                data[j * self.rows + i] = x;
            }
        }
        Self { rows: self.cols, cols: self.rows, data }
    }

    /// Row sums `T 1` (length `rows`).
    pub fn row_sums(&self) -> Vec<f64> {
        (0..self.rows).map(|i| self.row(i).iter().sum()).collect()
    }

    /// Column sums `Tᵀ 1` (length `cols`), reading the buffer contiguously.
    pub fn col_sums(&self) -> Vec<f64> {
        let mut s = vec![0.0; self.cols];
        for i in 0..self.rows {
            for (sj, &x) in s.iter_mut().zip(self.row(i)) {
                *sj += x;
            }
        }
        s
    }

    /// Frobenius inner product `⟨A, B⟩ = Σ_ij A_ij B_ij`; panics on different shapes.
    pub fn dot(&self, other: &Matrix) -> f64 {
        assert_eq!(self.shape(), other.shape(), "inner product of matrices of different shapes");
        self.data.iter().zip(&other.data).map(|(x, y)| x * y).sum()
    }

    /// Largest entry (−∞ for an empty matrix).
    pub fn max(&self) -> f64 {
        self.data.iter().copied().fold(f64::NEG_INFINITY, f64::max)
    }

    /// Errors with [`Error::Empty`] when the matrix has no entries and [`Error::NonFinite`] at
    /// the first NaN or infinity; `what` names the input in the message.
    pub fn check_finite(&self, what: &'static str) -> Result<()> {
        if self.data.is_empty() {
            return Err(Error::Empty { what });
        }
        match self.data.iter().position(|x| !x.is_finite()) {
            None => Ok(()),
            Some(k) => Err(Error::NonFinite { what, at: format!("row {}, column {}", k / self.cols, k % self.cols), value: self.data[k] }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_rows_and_accessors() {
        let m = Matrix::from_rows(&[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]).unwrap();
        assert_eq!(m.shape(), (2, 3));
        assert_eq!(m.get(1, 2), 6.0);
        assert_eq!(m.row(1), &[4.0, 5.0, 6.0]);
        assert_eq!(m.row_sums(), vec![6.0, 15.0]);
        assert_eq!(m.col_sums(), vec![5.0, 7.0, 9.0]);
        let t = m.transpose();
        assert_eq!(t.shape(), (3, 2));
        assert_eq!(t.data, vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
        assert_eq!(t.transpose(), m);
        assert_eq!(m.dot(&m), 91.0);
        assert_eq!(m.max(), 6.0);
    }

    #[test]
    fn ragged_rows_and_bad_buffers_are_errors() {
        let rows: Vec<Vec<f64>> = vec![vec![1.0, 2.0], vec![3.0]];
        assert_eq!(Matrix::from_rows(&rows), Err(Error::Ragged { what: "matrix", row: 1, len: 1, expected: 2 }));
        assert!(matches!(Matrix::new(2, 2, vec![0.0; 3]), Err(Error::BufferLength { .. })));
    }

    #[test]
    fn check_finite_names_the_entry() {
        let m = Matrix::from_rows(&[[0.0, 1.0], [f64::NAN, 2.0]]).unwrap();
        let e = m.check_finite("X").unwrap_err();
        assert!(matches!(&e, Error::NonFinite { at, .. } if at == "row 1, column 0"), "{e}");
        assert_eq!(Matrix::zeros(0, 3).check_finite("X"), Err(Error::Empty { what: "X" }));
    }
}
