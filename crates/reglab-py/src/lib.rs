//! # reglab-py
//!
//! The native module `reglab._native` behind the Python package `reglab` (`python/reglab/`).
//! It is private: the typed Python layer checks and converts the arguments (dtypes, memory
//! orders, POT's and scikit-image's conventions) and calls these functions with contiguous
//! `float32` / `float64` arrays. Every function here
//!
//! - calls the same library path as the command line (`reglab penalty` →
//!   [`reglab_regularizers::penalty::evaluate`], `reglab inspect` → [`reglab_core::probe`], `reglab ot` → [`reglab_ot`]'s solvers,
//!   `reglab denoise` → [`reglab_inverse`]);
//! - releases the GIL for the Rust computation ([`Python::detach`]);
//! - turns every error into a Python exception (`ValueError` for bad input, `FloatingPointError`
//!   for a numerical failure of plain Sinkhorn) and catches panics as a last resort
//!   (`RuntimeError`, never a `PanicException` or a crashed interpreter).

use pyo3::exceptions::{PyRuntimeError, PyValueError};

// As the command line: mimalloc keeps freed buffers (gradients, plans) for the next call instead
// of returning them to the OS and page-faulting them in again.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use pyo3::prelude::*;

mod inspect;
mod inverse;
mod masks;
mod ot;
mod penalty;
mod regset;

/// Run `f` (the Rust computation, no Python objects) with the GIL released; a panic becomes a
/// `RuntimeError` naming it.
pub(crate) fn compute<T: Send>(py: Python<'_>, f: impl FnOnce() -> PyResult<T> + Send) -> PyResult<T> {
    py.detach(|| match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(PyRuntimeError::new_err(format!("internal error in reglab (please report it): {what}")))
        }
    })
}

/// A tensor handed to Python: `(name, shape, values)`, the values flat.
pub(crate) type FlatTensor<'py> = (String, Vec<usize>, Bound<'py, numpy::PyArray1<f32>>);

/// A `ValueError` at the first NaN or infinite value of `x`.
pub(crate) fn check_finite(what: &str, x: &[f32]) -> PyResult<()> {
    // fast path without an early exit, which the compiler vectorizes; the position only on failure
    if x.chunks(1024).all(|c| c.iter().fold(true, |ok, v| ok & v.is_finite())) {
        return Ok(());
    }
    match x.iter().position(|v| !v.is_finite()) {
        Some(i) => {
            Err(value_error(format!("{what} has a non-finite value ({}) at flat index {i} (float64 values beyond float32's range become inf)", x[i])))
        }
        None => Ok(()),
    }
}

/// A `ValueError` with `msg`.
pub(crate) fn value_error(msg: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(msg.to_string())
}

/// The module: `penalty`, `RegSet`, `magnitude_masks`, `inspect`, `read_safetensors`, `sinkhorn`, `smooth_ot`, `class_ot`, `denoise_tv_chambolle`,
/// `denoise_tv_weighted`, `radon`, `radon_adjoint`, `fbp`, `reconstruct_tv` (see `python/reglab/` for the public signatures).
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(penalty::penalty, m)?)?;
    m.add_class::<regset::RegSet>()?;
    m.add_function(wrap_pyfunction!(masks::magnitude_masks, m)?)?;
    m.add_function(wrap_pyfunction!(inspect::inspect, m)?)?;
    m.add_function(wrap_pyfunction!(inspect::read_safetensors, m)?)?;
    m.add_function(wrap_pyfunction!(ot::sinkhorn, m)?)?;
    m.add_function(wrap_pyfunction!(ot::smooth_ot, m)?)?;
    m.add_function(wrap_pyfunction!(ot::class_ot, m)?)?;
    m.add_function(wrap_pyfunction!(inverse::denoise_tv_chambolle, m)?)?;
    m.add_function(wrap_pyfunction!(inverse::denoise_tv_weighted, m)?)?;
    m.add_function(wrap_pyfunction!(inverse::radon, m)?)?;
    m.add_function(wrap_pyfunction!(inverse::radon_adjoint, m)?)?;
    m.add_function(wrap_pyfunction!(inverse::fbp, m)?)?;
    m.add_function(wrap_pyfunction!(inverse::reconstruct_tv, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
