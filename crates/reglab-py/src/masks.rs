//! `reglab._native.magnitude_masks`: the magnitude masks of `reglab train --prune magnitude`
//! ([`reglab_regularizers::sparsity::magnitude_mask`]), behind
//! `reglab.torch.Regularizer.prune_magnitude`.

use crate::{check_finite, compute, value_error};
use numpy::{PyArray1, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;
use reglab_regularizers::sparsity::magnitude_mask::{Scope, magnitude_masks as masks};

/// Masks (1 keep, 0 pruned) of the C-contiguous `float32` tensors `weights` with
/// `round(sparsity·n)` zeros in all (`scope="global"`: one ranking of `|w|`; `"layer"`: each
/// tensor its share); `prev[i]`, the current mask of tensor i if any, puts its zeros first among
/// equal `|w|` so that a mask only grows.
#[pyfunction]
#[pyo3(signature = (weights, prev, sparsity, scope))]
pub fn magnitude_masks<'py>(
    py: Python<'py>,
    weights: Vec<PyReadonlyArrayDyn<'py, f32>>,
    prev: Vec<Option<PyReadonlyArrayDyn<'py, f32>>>,
    sparsity: f64,
    scope: &str,
) -> PyResult<Vec<Bound<'py, PyArrayDyn<f32>>>> {
    if !(0.0..1.0).contains(&sparsity) {
        return Err(value_error(format!("sparsity = {sparsity}: expected a fraction in [0, 1)")));
    }
    let scope = match scope {
        "global" => Scope::Global,
        "layer" => Scope::Layer,
        s => return Err(value_error(format!("scope = {s:?}: expected \"global\" or \"layer\""))),
    };
    if prev.len() != weights.len() {
        return Err(value_error(format!("{} weights and {} previous masks: give one (or None) per tensor", weights.len(), prev.len())));
    }
    let shapes: Vec<Vec<usize>> = weights.iter().map(|w| w.shape().to_vec()).collect();
    let w: Vec<&[f32]> = weights.iter().map(|w| w.as_slice().map_err(|_| value_error("weights must be C-contiguous"))).collect::<PyResult<_>>()?;
    let mut p: Vec<Option<&[f32]>> = Vec::with_capacity(prev.len());
    for (i, m) in prev.iter().enumerate() {
        p.push(match m {
            Some(m) if m.shape() != shapes[i].as_slice() => {
                return Err(value_error(format!("previous mask {i} has shape {:?}, its tensor {:?}", m.shape(), shapes[i])));
            }
            Some(m) => Some(m.as_slice().map_err(|_| value_error("masks must be C-contiguous"))?),
            None => None,
        });
    }
    let out = compute(py, || {
        for (i, x) in w.iter().enumerate() {
            check_finite(&format!("tensor {i}"), x)?;
        }
        Ok(masks(&w, &p, sparsity, scope))
    })?;
    out.into_iter().zip(&shapes).map(|(m, s)| PyArray1::from_vec(py, m).reshape(s.as_slice())).collect()
}
