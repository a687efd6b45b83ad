//! `reglab.penalty`: the command line's `reglab penalty` on one array.

use crate::{check_finite, compute, value_error};
use numpy::{PyArray1, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;
use reglab_core::{NamedTensor, Selection};

/// The name the array goes by: a layer weight for 2-D and higher arrays (role and default
/// selection as in a checkpoint), `Other` for 1-D.
const NAME: &str = "weight";

/// `Σ λ·r(W)` over `specs` for one C-contiguous `float32` array `w` in PyTorch's orientation
/// (`[out, in]`, conv kernels `[out, in, kh, kw]` read as `[out, in·kh·kw]`), with `w0` as W₀;
/// returns the value and, with `grad`, the gradient (same shape, `float32`). Exactly
/// [`reglab_regularizers::penalty::evaluate`] on one tensor named `weight`, as `reglab penalty`
/// evaluates a file holding only that tensor.
#[pyfunction]
#[pyo3(signature = (specs, w, w0=None, grad=false))]
pub fn penalty<'py>(
    py: Python<'py>,
    specs: Vec<String>,
    w: PyReadonlyArrayDyn<'py, f32>,
    w0: Option<PyReadonlyArrayDyn<'py, f32>>,
    grad: bool,
) -> PyResult<(f64, Option<Bound<'py, PyArrayDyn<f32>>>)> {
    let shape = w.shape().to_vec();
    let data = w.as_slice().map_err(|_| value_error("W must be C-contiguous"))?;
    let init = match &w0 {
        Some(a) => {
            if a.shape() != shape.as_slice() {
                return Err(value_error(format!("W0 has shape {:?}, W has {:?}: they must be the same", a.shape(), shape)));
            }
            Some(a.as_slice().map_err(|_| value_error("W0 must be C-contiguous"))?)
        }
        None => None,
    };
    let (value, g) = compute(py, || {
        if specs.is_empty() {
            return Err(value_error("give at least one regularizer spec, NAME=λ[:key=value,…]"));
        }
        check_finite("W", data)?;
        if let Some(i) = init {
            check_finite("W0", i)?;
        }
        // (a spec that does not build is left to `evaluate`, whose messages say why)
        if init.is_none()
            && let Ok(set) = reglab_regularizers::build_set(&specs, Selection::All)
            && let Some(t) = set.terms().iter().find(|t| t.reg.needs_init())
        {
            return Err(value_error(format!("`{}` needs the initial weights: pass W0 (an array of W's shape)", t.spec.raw())));
        }
        let weights = [NamedTensor::new(NAME, shape.clone(), data.to_vec())];
        let inits = init.map(|i| [NamedTensor::new(NAME, shape.clone(), i.to_vec())]);
        let (report, grads) =
            reglab_regularizers::penalty::evaluate(&weights, inits.as_ref().map(|i| i.as_slice()), &specs, None, grad).map_err(|e| {
                if shape.len() == 1 && e.contains("no tensor is selected") { value_error(format!("{e}: W is 1-D")) } else { value_error(e) }
            })?;
        Ok((report.total, grads.map(|mut g| g.swap_remove(0).data)))
    })?;
    let g = match g {
        Some(v) => Some(PyArray1::from_vec(py, v).reshape(shape.as_slice())?),
        None => None,
    };
    Ok((value, g))
}
