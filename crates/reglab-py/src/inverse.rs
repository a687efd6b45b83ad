//! `reglab.inverse.denoise_tv_chambolle`: [`reglab_inverse::tv_denoise_chambolle`].

use crate::{compute, value_error};
use numpy::{PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;
use reglab_inverse::Image;

/// TV denoising of the C-contiguous 2-D `image` as scikit-image's `denoise_tv_chambolle(image,
/// weight, eps, max_num_iter)`; returns the denoised image, the updates of the dual field run and
/// whether the energy rule stopped them.
#[pyfunction]
#[pyo3(signature = (image, weight, eps, max_num_iter))]
pub fn denoise_tv_chambolle<'py>(
    py: Python<'py>,
    image: PyReadonlyArray2<'py, f64>,
    weight: f64,
    eps: f64,
    max_num_iter: usize,
) -> PyResult<(Bound<'py, PyArray2<f64>>, usize, bool)> {
    let (rows, cols) = (image.shape()[0], image.shape()[1]);
    let y = image.as_slice().map_err(|_| value_error("image must be C-contiguous"))?;
    let r = compute(py, || {
        let y = Image::new(rows, cols, y.to_vec()).map_err(value_error)?;
        reglab_inverse::tv_denoise_chambolle(&y, weight, eps, max_num_iter).map_err(value_error)
    })?;
    Ok((PyArray1::from_vec(py, r.image.data).reshape([rows, cols])?, r.iterations, r.converged))
}
