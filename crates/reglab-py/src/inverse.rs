//! `reglab.inverse`: TV denoising ([`reglab_inverse::tv_denoise_chambolle`], weighted:
//! [`reglab_inverse::weighted_tv_denoise`]), the Radon transform and its adjoint
//! ([`reglab_inverse::Radon`]), filtered back-projection ([`reglab_inverse::filter_sinogram`] and
//! the adjoint: [`reglab_inverse::fbp`]'s steps) and TV-regularized tomography
//! ([`reglab_inverse::chambolle_pock`]).
//!
//! Sinograms are `angles × n_det`, row-major (reglab's layout; the Python layer transposes to
//! scikit-image's `n_det × angles`), angles in radians; the Radon transform's rotation axis and
//! detector centre are given (`centre = (row, col, bin)`), so that the Python layer can place them
//! where scikit-image does.

use crate::{compute, value_error};
use numpy::{PyArray1, PyArray2, PyArray3, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;
use reglab_inverse::{Filter, Image, LinearOperator, Radon, SolverOptions, TvOptions, WeightedTv};

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

/// What [`denoise_tv_weighted`] returns: the image, the dual field, the iterations and whether
/// the stopping rule fired.
type WeightedDenoised<'py> = (Bound<'py, PyArray2<f64>>, Bound<'py, PyArray3<f64>>, usize, bool);

/// `argmin_x ½‖x − image‖² + Σ_i w_i ‖(∇x)_i‖₂` for the C-contiguous 2-D `image` and per-pixel
/// weights `w` (its shape, `≥ 0`), by projected gradient on the dual at step `τ = 1/4`, until
/// `‖xᵏ − xᵏ⁻¹‖ ≤ eps·‖xᵏ‖` or `max_num_iter` iterations. Returns the image, the dual field `q`
/// (`2 × rows × cols`, `|q_i| ≤ w_i`, `image − x = ∇ᵀq`), the iterations run and whether the rule
/// fired.
#[pyfunction]
#[pyo3(signature = (image, weights, eps, max_num_iter))]
pub fn denoise_tv_weighted<'py>(
    py: Python<'py>,
    image: PyReadonlyArray2<'py, f64>,
    weights: PyReadonlyArray2<'py, f64>,
    eps: f64,
    max_num_iter: usize,
) -> PyResult<WeightedDenoised<'py>> {
    let (rows, cols) = (image.shape()[0], image.shape()[1]);
    if weights.shape() != image.shape() {
        return Err(value_error(format!("weight has shape {:?}, image has {:?}: they must be the same", weights.shape(), image.shape())));
    }
    if max_num_iter == 0 {
        return Err(value_error("max_num_iter must be at least 1"));
    }
    let y = image.as_slice().map_err(|_| value_error("image must be C-contiguous"))?;
    let w = weights.as_slice().map_err(|_| value_error("weight must be C-contiguous"))?;
    let r = compute(py, || {
        check_finite_py("image", y)?;
        let y = Image::new(rows, cols, y.to_vec()).map_err(value_error)?;
        // Checks the weights (finite, ≥ 0) once, with the crate's messages.
        let w = WeightedTv::new(rows, cols, w.to_vec()).map_err(value_error)?;
        let opts = TvOptions { tau: 0.25, max_iter: max_num_iter, tol: eps };
        reglab_inverse::weighted_tv_denoise(&y, w.weights(), 1.0, &opts).map_err(value_error)
    })?;
    let image = PyArray1::from_vec(py, r.image.data).reshape([rows, cols])?;
    let dual = PyArray1::from_vec(py, r.dual).reshape([2, rows, cols])?;
    Ok((image, dual, r.iterations, r.converged))
}

/// `Err` unless `copies` buffers of `count` `f64` values fit in the machine's physical memory:
/// images and sinograms whose size comes from a number (`output_size`, `shape`) and not from an
/// array in memory are refused with a `ValueError` instead of exhausting memory or aborting the
/// interpreter. (Asking an allocator is not a test: mimalloc, the module's allocator, reserves
/// address space without committing it, and measured in this module even the system allocator
/// granted 16 TB; the first writes then run the machine out of memory.)
fn check_room(count: usize, copies: usize, what: impl FnOnce() -> String) -> PyResult<()> {
    let bytes = count.checked_mul(copies).and_then(|n| n.checked_mul(std::mem::size_of::<f64>()));
    match (bytes, physical_memory()) {
        (Some(b), Some(mem)) if b <= mem => Ok(()),
        (Some(b), None) if Vec::<u8>::new().try_reserve_exact(b).is_ok() => Ok(()),
        _ => Err(value_error(format!("{} is too large to allocate", what()))),
    }
}

/// The machine's physical memory in bytes, where the platform says.
#[cfg(unix)]
fn physical_memory() -> Option<usize> {
    // SAFETY: sysconf reads system configuration values and has no preconditions.
    let (pages, size) = unsafe { (libc::sysconf(libc::_SC_PHYS_PAGES), libc::sysconf(libc::_SC_PAGESIZE)) };
    (pages > 0 && size > 0).then(|| (pages as usize).saturating_mul(size as usize))
}

#[cfg(not(unix))]
fn physical_memory() -> Option<usize> {
    None
}

/// The Radon transform of `rows × cols` images at `angles` (radians) onto `n_det` unit bins,
/// with the rotation axis at pixel position `(centre.0, centre.1)` and `t = 0` at bin `centre.2`;
/// `copies` image buffers must fit.
fn radon_op(rows: usize, cols: usize, angles: &[f64], n_det: usize, centre: (f64, f64, f64), copies: usize) -> PyResult<Radon> {
    check_room(rows.saturating_mul(cols), copies, || format!("a {rows}×{cols} image"))?;
    check_room(angles.len().saturating_mul(n_det), 2, || format!("a sinogram of {} angles × {n_det} bins", angles.len()))?;
    check_finite_py("theta", angles)?;
    Radon::with_detector(rows, cols, angles.to_vec(), n_det, 1.0).and_then(|r| r.with_centres(centre.0, centre.1, centre.2)).map_err(value_error)
}

fn contiguous<'a>(a: &'a PyReadonlyArray1<'_, f64>, what: &str) -> PyResult<&'a [f64]> {
    a.as_slice().map_err(|_| value_error(format!("{what} must be contiguous")))
}

/// The sinogram's `(angles, n_det)` and values; `Err` unless it has one row per angle.
fn sinogram_of<'a>(sinogram: &'a PyReadonlyArray2<'_, f64>, n_angles: usize) -> PyResult<(usize, &'a [f64])> {
    let (k, n_det) = (sinogram.shape()[0], sinogram.shape()[1]);
    if k != n_angles {
        return Err(value_error(format!("the sinogram has {k} projections and theta {n_angles} angles: they must be the same")));
    }
    Ok((n_det, sinogram.as_slice().map_err(|_| value_error("the sinogram must be C-contiguous"))?))
}

/// `R x`: the Radon transform of the C-contiguous `image` at `angles` (radians) onto `n_det` unit
/// bins, `angles × n_det`.
#[pyfunction]
#[pyo3(signature = (image, angles, n_det, centre))]
pub fn radon<'py>(
    py: Python<'py>,
    image: PyReadonlyArray2<'py, f64>,
    angles: PyReadonlyArray1<'py, f64>,
    n_det: usize,
    centre: (f64, f64, f64),
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let (rows, cols) = (image.shape()[0], image.shape()[1]);
    let x = image.as_slice().map_err(|_| value_error("image must be C-contiguous"))?;
    let angles = contiguous(&angles, "theta")?;
    let k = angles.len();
    let out = compute(py, || {
        let op = radon_op(rows, cols, angles, n_det, centre, 2)?;
        check_finite_py("image", x)?;
        op.forward(x).map_err(value_error)
    })?;
    PyArray1::from_vec(py, out).reshape([k, n_det])
}

fn check_finite_py(what: &str, x: &[f64]) -> PyResult<()> {
    match x.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(value_error(format!("{what}: non-finite value {} at flat index {i}", x[i]))),
        None => Ok(()),
    }
}

/// `Rᵀ y`: the (unfiltered) back-projection of the C-contiguous `angles × n_det` sinogram onto a
/// `rows × cols` image, the exact adjoint of [`radon`].
#[pyfunction]
#[pyo3(signature = (sinogram, angles, rows, cols, centre))]
pub fn radon_adjoint<'py>(
    py: Python<'py>,
    sinogram: PyReadonlyArray2<'py, f64>,
    angles: PyReadonlyArray1<'py, f64>,
    rows: usize,
    cols: usize,
    centre: (f64, f64, f64),
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let angles = contiguous(&angles, "theta")?;
    let (n_det, y) = sinogram_of(&sinogram, angles.len())?;
    let out = compute(py, || {
        let op = radon_op(rows, cols, angles, n_det, centre, 2)?;
        check_finite_py("the sinogram", y)?;
        op.transpose(y).map_err(value_error)
    })?;
    PyArray1::from_vec(py, out).reshape([rows, cols])
}

/// Filtered back-projection `x = (π/K)·Rᵀ(H ⊛ y)` of the C-contiguous `angles × n_det` sinogram
/// onto `rows × cols` with reglab's `filter` (`"ram-lak"`, `"shepp-logan"`, `"hann"`): the steps
/// of [`reglab_inverse::fbp`] (which fixes the default centres) with the given centres.
#[pyfunction]
#[pyo3(signature = (sinogram, angles, rows, cols, filter, centre))]
pub fn fbp<'py>(
    py: Python<'py>,
    sinogram: PyReadonlyArray2<'py, f64>,
    angles: PyReadonlyArray1<'py, f64>,
    rows: usize,
    cols: usize,
    filter: &str,
    centre: (f64, f64, f64),
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let filter = Filter::parse(filter).map_err(value_error)?;
    let angles = contiguous(&angles, "theta")?;
    let (n_det, y) = sinogram_of(&sinogram, angles.len())?;
    let out = compute(py, || {
        let op = radon_op(rows, cols, angles, n_det, centre, 2)?;
        let q = reglab_inverse::filter_sinogram(&op, y, filter).map_err(value_error)?;
        let scale = std::f64::consts::PI / angles.len() as f64;
        let x = op.transpose(&q).map_err(value_error)?;
        Ok(x.into_iter().map(|v| v * scale).collect::<Vec<f64>>())
    })?;
    PyArray1::from_vec(py, out).reshape([rows, cols])
}

/// `argmin_x ½‖Rx − y‖² + λ Σ_i w_i ‖(∇x)_i‖₂` (`w = 1` without `weights`) for the C-contiguous
/// `angles × n_det` sinogram `y` and `rows × cols` images, by Chambolle–Pock from `x = 0` until
/// `‖xᵏ − xᵏ⁻¹‖ ≤ tol·‖xᵏ‖` or `max_iter` iterations. Returns the image, the iterations, whether
/// the rule fired and the objective at the result.
#[pyfunction]
#[pyo3(signature = (sinogram, angles, rows, cols, centre, lambda_, weights, max_iter, tol))]
#[allow(clippy::too_many_arguments)]
pub fn reconstruct_tv<'py>(
    py: Python<'py>,
    sinogram: PyReadonlyArray2<'py, f64>,
    angles: PyReadonlyArray1<'py, f64>,
    rows: usize,
    cols: usize,
    centre: (f64, f64, f64),
    lambda_: f64,
    weights: Option<PyReadonlyArray2<'py, f64>>,
    max_iter: usize,
    tol: f64,
) -> PyResult<(Bound<'py, PyArray2<f64>>, usize, bool, f64)> {
    let angles = contiguous(&angles, "theta")?;
    let (n_det, y) = sinogram_of(&sinogram, angles.len())?;
    if max_iter == 0 {
        return Err(value_error("max_num_iter must be at least 1"));
    }
    let w = match &weights {
        Some(w) if w.shape() != [rows, cols] => {
            return Err(value_error(format!("the weight map has shape {:?}, the image is {rows}×{cols}: they must be the same", w.shape())));
        }
        Some(w) => Some(w.as_slice().map_err(|_| value_error("the weight map must be C-contiguous"))?),
        None => None,
    };
    let r = compute(py, || {
        // x, x̄, ∇ᵀz, Aᵀu, the weights and the 2-D fields z and ∇x̄ (and the power iterations' ones).
        let op = radon_op(rows, cols, angles, n_det, centre, 12)?;
        check_finite_py("the sinogram", y)?;
        let w = w.map(|w| WeightedTv::new(rows, cols, w.to_vec())).transpose().map_err(value_error)?;
        let x0 = Image::zeros(rows, cols).map_err(value_error)?;
        let opts = SolverOptions { max_iter, tol, history_every: usize::MAX, lipschitz: None };
        reglab_inverse::chambolle_pock(&op, y, lambda_, w.as_ref(), &x0, &opts).map_err(value_error)
    })?;
    Ok((PyArray1::from_vec(py, r.image.data).reshape([rows, cols])?, r.iterations, r.converged, r.objective))
}
