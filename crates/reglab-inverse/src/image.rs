//! A dense row-major `f64` image: pixel `(i, j)` (row `i`, column `j`) is `data[i * cols + j]`.

use crate::error::{Error, Result};

/// A `rows × cols` image, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    /// Number of rows (height).
    pub rows: usize,
    /// Number of columns (width).
    pub cols: usize,
    /// The `rows · cols` pixel values, row after row.
    pub data: Vec<f64>,
}

impl Image {
    /// An image from its row-major buffer; `Err` if the buffer does not fill `rows × cols`
    /// or the image is empty.
    pub fn new(rows: usize, cols: usize, data: Vec<f64>) -> Result<Self> {
        if rows == 0 || cols == 0 {
            return Err(Error::Empty { what: "image" });
        }
        if data.len() != rows * cols {
            return Err(Error::BufferLength { what: "image", len: data.len(), rows, cols });
        }
        Ok(Self { rows, cols, data })
    }

    /// The all-zero image; `Err` if empty.
    pub fn zeros(rows: usize, cols: usize) -> Result<Self> {
        Self::new(rows, cols, vec![0.0; rows * cols])
    }

    /// The image with pixel `(i, j)` equal to `f(i, j)`; `Err` if empty.
    pub fn from_fn(rows: usize, cols: usize, mut f: impl FnMut(usize, usize) -> f64) -> Result<Self> {
        let mut data = Vec::with_capacity(rows * cols);
        for i in 0..rows {
            for j in 0..cols {
                data.push(f(i, j));
            }
        }
        Self::new(rows, cols, data)
    }

    /// Number of pixels.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether the image has no pixels (never true for a constructed image).
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Pixel `(i, j)`; panics out of range.
    pub fn get(&self, i: usize, j: usize) -> f64 {
        assert!(i < self.rows && j < self.cols, "pixel ({i}, {j}) outside {}×{}", self.rows, self.cols);
        self.data[i * self.cols + j]
    }

    /// Sets pixel `(i, j)`; panics out of range.
    pub fn set(&mut self, i: usize, j: usize, v: f64) {
        assert!(i < self.rows && j < self.cols, "pixel ({i}, {j}) outside {}×{}", self.rows, self.cols);
        self.data[i * self.cols + j] = v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_and_errors() {
        let im = Image::from_fn(2, 3, |i, j| (10 * i + j) as f64).unwrap();
        assert_eq!(im.data, vec![0.0, 1.0, 2.0, 10.0, 11.0, 12.0]);
        assert_eq!(im.get(1, 2), 12.0);
        assert!(matches!(Image::new(2, 2, vec![0.0; 3]), Err(Error::BufferLength { .. })));
        assert!(matches!(Image::zeros(0, 2), Err(Error::Empty { .. })));
    }
}
