//! `reglab._native.RegSet`: a sum of regularizers that lives across training steps, behind
//! `reglab.torch.Regularizer`. The same [`reglab_core::RegSet`] as `reglab train` holds: its
//! strengths follow their schedules over the step counter the caller passes, its iterative terms
//! refine their state once per call (`exact=False`, as in training) and that state (power-iteration
//! vectors, …) is saved and restored by name, as in a job checkpoint.

use crate::{FlatTensor, check_finite, compute, value_error};
use numpy::{PyArray1, PyArrayDyn, PyArrayMethods, PyReadonlyArray1, PyReadonlyArrayDyn, PyReadwriteArrayDyn, PyUntypedArrayMethods};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use reglab_core::{Mode, NamedTensor, Schedule, Selection};
use reglab_regularizers::penalty::{Named, after_step_named, eval_named_into, refuse_non_parameter};
use std::sync::{Mutex, MutexGuard};

/// A set of parameter-space regularizers with its persistent state.
#[pyclass(module = "reglab._native", name = "RegSet")]
pub struct RegSet {
    /// The terms (a mutex makes the class shareable between Python threads; the GIL is released
    /// while it computes).
    set: Mutex<reglab_core::RegSet>,
}

/// `(step, total, exact, prox_aware)` of one evaluation (see `RegSet.eval`).
type When = (u64, u64, bool, bool);

impl RegSet {
    /// `eval` and `eval_into`: with the GIL released, the tensors checked for NaN/Inf, then
    /// [`eval_named_into`] on the locked set, adding the gradient into `grads` when given.
    #[allow(clippy::too_many_arguments)]
    fn evaluate(
        &self,
        py: Python<'_>,
        names: &[String],
        shapes: &[Vec<usize>],
        data: &[&[f32]],
        init: &[Option<&[f32]>],
        (step, total, exact, prox_aware): When,
        grads: Option<&mut [&mut [f32]]>,
    ) -> PyResult<reglab_core::Evaluation> {
        let mut guard = self.lock()?;
        let set = &mut *guard;
        compute(py, || {
            check_all_finite(names, data)?;
            let views: Vec<Named<'_>> = names.iter().zip(shapes).zip(data).map(|((name, shape), data)| Named { name, shape, data }).collect();
            let mode = if exact { Mode::Exact } else { Mode::Step };
            eval_named_into(set, &views, init, step, total, mode, prox_aware, grads).map_err(value_error)
        })
    }

    /// The set, locked; a `RuntimeError` if an earlier call panicked while holding it.
    fn lock(&self) -> PyResult<MutexGuard<'_, reglab_core::RegSet>> {
        self.set.lock().map_err(|_| PyRuntimeError::new_err("this RegSet is unusable after an internal error in an earlier call"))
    }
}

/// `(total, per-term values, one gradient per tensor when asked)`.
type Evaluated<'py> = (f64, Vec<f64>, Option<Vec<Bound<'py, PyArrayDyn<f32>>>>);

/// The contiguous values of `a` (named `name` in errors).
fn slice<'a>(name: &str, a: &'a PyReadonlyArrayDyn<'_, f32>) -> PyResult<&'a [f32]> {
    a.as_slice().map_err(|_| value_error(format!("`{name}` must be C-contiguous")))
}

/// A `ValueError` at the first NaN or infinite value of a parameter.
fn check_all_finite(names: &[String], data: &[impl AsRef<[f32]>]) -> PyResult<()> {
    for (name, d) in names.iter().zip(data) {
        check_finite(&format!("parameter `{name}`"), d.as_ref())?;
    }
    Ok(())
}

/// The shapes, values and W₀ values of the tensors, checked (C-contiguous, W₀ of the tensor's shape).
#[allow(clippy::type_complexity)]
fn inputs<'a>(
    names: &[String],
    weights: &'a [PyReadonlyArrayDyn<'_, f32>],
    inits: &'a [Option<PyReadonlyArrayDyn<'_, f32>>],
) -> PyResult<(Vec<Vec<usize>>, Vec<&'a [f32]>, Vec<Option<&'a [f32]>>)> {
    let shapes: Vec<Vec<usize>> = weights.iter().map(|w| w.shape().to_vec()).collect();
    let mut data = Vec::with_capacity(weights.len());
    let mut init = Vec::with_capacity(weights.len());
    for ((n, w), i) in names.iter().zip(weights).zip(inits) {
        data.push(slice(n, w)?);
        init.push(match i {
            Some(i) if i.shape() != w.shape() => {
                return Err(value_error(format!("the initial value of `{n}` has shape {:?}, the tensor {:?}", i.shape(), w.shape())));
            }
            Some(i) => Some(slice(n, i)?),
            None => None,
        });
    }
    Ok((shapes, data, init))
}

#[pymethods]
impl RegSet {
    /// Build the terms of `specs` (`NAME=λ[:key=value,…]`, as on the command line); terms
    /// without their own `select=` see the tensors that `select` matches (glob patterns joined by
    /// `|`), or layer weights (`*.weight` of rank ≥ 2) when it is `None`, as in training.
    #[new]
    #[pyo3(signature = (specs, select=None))]
    fn new(specs: Vec<String>, select: Option<&str>) -> PyResult<Self> {
        if specs.is_empty() {
            return Err(value_error("give at least one regularizer spec, NAME=λ[:key=value,…]"));
        }
        refuse_non_parameter(&specs).map_err(value_error)?;
        let selection = match select {
            Some(p) => Selection::pattern(p).map_err(value_error)?,
            None => Selection::LayerWeights,
        };
        let set = reglab_regularizers::build_set(&specs, selection).map_err(value_error)?;
        Ok(Self { set: Mutex::new(set) })
    }

    /// The terms' labels (their names, made unique by the spec when repeated).
    fn labels(&self) -> PyResult<Vec<String>> {
        Ok(self.lock()?.labels())
    }

    /// Whether any term needs the initial weights W₀.
    fn needs_init(&self) -> PyResult<bool> {
        Ok(self.lock()?.needs_init())
    }

    /// Whether any term's strength schedule needs the total number of steps (`cosine`).
    fn needs_total(&self) -> PyResult<bool> {
        Ok(self.lock()?.terms().iter().any(|t| matches!(t.schedule, Schedule::Cosine { .. })))
    }

    /// Per term: whether it is applied by a proximal step (in `after_step`, not by its gradient).
    fn prox_terms(&self) -> PyResult<Vec<bool>> {
        Ok(self.lock()?.terms().iter().map(|t| t.reg.has_prox()).collect())
    }

    /// Whether `after_step` changes anything (a proximal step or a post-step transform).
    fn has_after_step(&self) -> PyResult<bool> {
        Ok(self.lock()?.has_after_step())
    }

    /// For each tensor (name and shape), whether some term acts on it.
    fn selected(&self, names: Vec<String>, shapes: Vec<Vec<usize>>) -> PyResult<Vec<bool>> {
        if names.len() != shapes.len() {
            return Err(value_error("one shape per name"));
        }
        let set = self.lock()?;
        Ok(names
            .iter()
            .zip(&shapes)
            .map(|(n, s)| {
                // `accepts` reads the shape only; an empty data slice stands in for the values
                let t = reglab_core::Target {
                    name: n,
                    role: reglab_core::select::role_from_name(n, s.len()),
                    weight: reglab_core::TensorRef { shape: s, layout: reglab_core::Layout::RowMajor, data: &[] },
                    bias: None,
                    init: None,
                };
                (0..set.terms().len()).any(|j| set.applies(j, &t))
            })
            .collect())
    }

    /// Evaluate at step `step` of `total`: `(Σ λ_t r, [per term], [∇ per tensor] | None)`; a
    /// `ValueError` at the first NaN or infinite value of a tensor (W₀ is checked by the caller).
    /// `weights[i]` is the tensor `names[i]` (C-contiguous `float32`, PyTorch's orientation),
    /// `inits[i]` its W₀ or `None`. `exact`: iterate to convergence (σ_max, …) instead of one
    /// refinement from the saved state; `prox_aware`: terms with a proximal step add no gradient.
    #[pyo3(signature = (names, weights, inits, step, total, exact, prox_aware, grad))]
    #[allow(clippy::too_many_arguments)]
    fn eval<'py>(
        &self,
        py: Python<'py>,
        names: Vec<String>,
        weights: Vec<PyReadonlyArrayDyn<'py, f32>>,
        inits: Vec<Option<PyReadonlyArrayDyn<'py, f32>>>,
        step: u64,
        total: u64,
        exact: bool,
        prox_aware: bool,
        grad: bool,
    ) -> PyResult<Evaluated<'py>> {
        if names.len() != weights.len() || inits.len() != weights.len() {
            return Err(value_error(format!(
                "{} names, {} weights and {} inits: give one of each per tensor",
                names.len(),
                weights.len(),
                inits.len()
            )));
        }
        let (shapes, data, init) = inputs(&names, &weights, &inits)?;
        if !grad {
            let ev = self.evaluate(py, &names, &shapes, &data, &init, (step, total, exact, prox_aware), None)?;
            return Ok((ev.total(), ev.per_term, None));
        }
        let mut buffers: Vec<Vec<f32>> = data.iter().map(|d| vec![0.0; d.len()]).collect();
        let ev = {
            let mut out: Vec<&mut [f32]> = buffers.iter_mut().map(Vec::as_mut_slice).collect();
            self.evaluate(py, &names, &shapes, &data, &init, (step, total, exact, prox_aware), Some(&mut out))?
        };
        let grads = buffers.into_iter().zip(&shapes).map(|(g, s)| PyArray1::from_vec(py, g).reshape(s.as_slice())).collect::<PyResult<Vec<_>>>()?;
        Ok((ev.total(), ev.per_term, Some(grads)))
    }

    /// As `eval`, adding `Σ λ_t ∇r` into `grads[i]` (C-contiguous `float32`, `weights[i]`'s
    /// shape; e.g. a `.grad` seen through NumPy, updated in place): `(Σ λ_t r, [per term])`.
    #[pyo3(signature = (names, weights, inits, grads, step, total, exact, prox_aware))]
    #[allow(clippy::too_many_arguments)]
    fn eval_into<'py>(
        &self,
        py: Python<'py>,
        names: Vec<String>,
        weights: Vec<PyReadonlyArrayDyn<'py, f32>>,
        inits: Vec<Option<PyReadonlyArrayDyn<'py, f32>>>,
        mut grads: Vec<PyReadwriteArrayDyn<'py, f32>>,
        step: u64,
        total: u64,
        exact: bool,
        prox_aware: bool,
    ) -> PyResult<(f64, Vec<f64>)> {
        if names.len() != weights.len() || inits.len() != weights.len() || grads.len() != weights.len() {
            return Err(value_error(format!(
                "{} names, {} weights, {} inits and {} grads: give one of each per tensor",
                names.len(),
                weights.len(),
                inits.len(),
                grads.len()
            )));
        }
        let (shapes, data, init) = inputs(&names, &weights, &inits)?;
        let mut out: Vec<&mut [f32]> = Vec::with_capacity(grads.len());
        for ((n, g), s) in names.iter().zip(grads.iter_mut()).zip(&shapes) {
            if g.shape() != s.as_slice() {
                return Err(value_error(format!("the gradient buffer of `{n}` has shape {:?}, the tensor {s:?}", g.shape())));
            }
            out.push(g.as_slice_mut().map_err(|_| value_error(format!("the gradient buffer of `{n}` must be C-contiguous")))?);
        }
        let ev = self.evaluate(py, &names, &shapes, &data, &init, (step, total, exact, prox_aware), Some(&mut out))?;
        Ok((ev.total(), ev.per_term))
    }

    /// After an optimizer step with learning rate `lr` (step `step` of `total`, the run's
    /// `seed`): the proximal steps and post-step transforms, in place on `weights`.
    #[pyo3(signature = (names, weights, lr, step, total, seed))]
    #[allow(clippy::too_many_arguments)]
    fn after_step<'py>(
        &self,
        py: Python<'py>,
        names: Vec<String>,
        mut weights: Vec<PyReadwriteArrayDyn<'py, f32>>,
        lr: f64,
        step: u64,
        total: u64,
        seed: u64,
    ) -> PyResult<()> {
        if names.len() != weights.len() {
            return Err(value_error(format!("{} names and {} weights: give one name per tensor", names.len(), weights.len())));
        }
        if !(lr.is_finite() && lr >= 0.0) {
            return Err(value_error(format!("lr = {lr}: expected a finite, non-negative learning rate")));
        }
        let shapes: Vec<Vec<usize>> = weights.iter().map(|w| w.shape().to_vec()).collect();
        let mut data: Vec<&mut [f32]> = Vec::with_capacity(weights.len());
        for (n, w) in names.iter().zip(weights.iter_mut()) {
            data.push(w.as_slice_mut().map_err(|_| value_error(format!("`{n}` must be C-contiguous")))?);
        }
        let mut guard = self.lock()?;
        let set = &mut *guard;
        compute(py, || {
            check_all_finite(&names, &data)?;
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let shapes: Vec<&[usize]> = shapes.iter().map(Vec::as_slice).collect();
            after_step_named(set, &names, &shapes, &mut data, lr, step, total, seed).map_err(value_error)
        })
    }

    /// The persistent state: `(name, shape, values)` per tensor, named `reg.<j>.<term>/…`.
    fn state<'py>(&self, py: Python<'py>) -> PyResult<Vec<FlatTensor<'py>>> {
        Ok(self.lock()?.state().into_iter().map(|t| (t.name, t.shape, PyArray1::from_vec(py, t.data))).collect())
    }

    /// Restore what `state` returned.
    fn load_state(&self, state: Vec<(String, Vec<usize>, PyReadonlyArray1<'_, f32>)>) -> PyResult<()> {
        let mut tensors = Vec::with_capacity(state.len());
        for (name, shape, values) in &state {
            let v = values.as_slice().map_err(|_| value_error(format!("state `{name}` must be contiguous")))?;
            if shape.iter().product::<usize>() != v.len() {
                return Err(value_error(format!("state `{name}`: shape {shape:?} does not match its {} values", v.len())));
            }
            tensors.push(NamedTensor::new(name.clone(), shape.clone(), v.to_vec()));
        }
        self.lock()?.load_state(&tensors).map_err(value_error)
    }
}
