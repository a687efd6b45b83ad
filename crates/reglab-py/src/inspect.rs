//! `reglab.inspect`: the weight health probes of `reglab inspect` ([`reglab_core::probe`]), and
//! the safetensors reader it uses for a path.

use crate::{FlatTensor, compute, value_error};
use numpy::{PyArray1, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;
use reglab_core::NamedTensor;

/// One tensor as Python passes it: a name and a C-contiguous `float32` array.
type Tensor<'py> = (String, PyReadonlyArrayDyn<'py, f32>);

/// Copies of the tensors, checked contiguous.
fn owned(tensors: &[Tensor<'_>]) -> PyResult<Vec<NamedTensor>> {
    tensors
        .iter()
        .map(|(name, a)| {
            let data = a.as_slice().map_err(|_| value_error(format!("`{name}` must be C-contiguous")))?;
            Ok(NamedTensor::new(name.clone(), a.shape().to_vec(), data.to_vec()))
        })
        .collect()
}

/// The probes of every tensor, in the order given, as the JSON array of `reglab inspect --json`
/// (the Python layer parses it into dicts); `init` matched by name as there.
#[pyfunction]
#[pyo3(signature = (tensors, init=None))]
pub fn inspect(py: Python<'_>, tensors: Vec<Tensor<'_>>, init: Option<Vec<Tensor<'_>>>) -> PyResult<String> {
    let weights = owned(&tensors)?;
    let init = init.map(|i| owned(&i)).transpose()?;
    compute(py, || {
        let rows = reglab_core::probe::probe_weights(&weights, init.as_deref()).map_err(value_error)?;
        serde_json::to_string(&rows).map_err(value_error)
    })
}

/// The float tensors of a safetensors file (F32, F64, F16, BF16 as `float32`; tensors of other
/// element types are left out), sorted by name: `(name, shape, values)`.
#[pyfunction]
pub fn read_safetensors<'py>(py: Python<'py>, path: std::path::PathBuf) -> PyResult<Vec<FlatTensor<'py>>> {
    let tensors = compute(py, || reglab_core::tensorfile::read_floats(&path).map_err(value_error))?;
    Ok(tensors.into_iter().map(|t| (t.name, t.shape, PyArray1::from_vec(py, t.data))).collect())
}
