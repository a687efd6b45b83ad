//! `reglab.ot.sinkhorn` / `sinkhorn_log`: [`reglab_ot::sinkhorn`] and [`reglab_ot::sinkhorn_log`].

use crate::{compute, value_error};
use numpy::{PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::PyFloatingPointError;
use pyo3::prelude::*;
use reglab_ot::{Error, Matrix, SinkhornOptions};

/// What the Python layer turns into POT's return values.
type Solved<'py> = (Bound<'py, PyArray2<f64>>, Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<f64>>, usize, f64, f64, bool, f64);

/// Entropic OT between the histograms `a` (n) and `b` (m) with the C-contiguous cost `m_cost`
/// (n × m) and strength `reg`, by Sinkhorn scaling or (`log_domain`) in the log domain, with
/// POT's defaults and stopping threshold (`‖T1 − a‖₁ < stop_thr`, checked every 10 iterations).
/// Returns `(plan, f, g, iterations, row_error, col_error, converged, cost)` with the potentials
/// `f = ε log u`, `g = ε log v`.
#[pyfunction]
#[pyo3(signature = (a, b, m_cost, reg, num_iter_max, stop_thr, log_domain))]
#[allow(clippy::too_many_arguments)]
pub fn sinkhorn<'py>(
    py: Python<'py>,
    a: PyReadonlyArray1<'py, f64>,
    b: PyReadonlyArray1<'py, f64>,
    m_cost: PyReadonlyArray2<'py, f64>,
    reg: f64,
    num_iter_max: usize,
    stop_thr: f64,
    log_domain: bool,
) -> PyResult<Solved<'py>> {
    let (a, b) = (a.as_slice().map_err(|_| value_error("a must be contiguous"))?, b.as_slice().map_err(|_| value_error("b must be contiguous"))?);
    let (n, m) = (m_cost.shape()[0], m_cost.shape()[1]);
    let c = m_cost.as_slice().map_err(|_| value_error("M must be C-contiguous"))?;
    let r = compute(py, || {
        let cost = Matrix::new(n, m, c.to_vec()).map_err(ot_error)?;
        let opts = SinkhornOptions { max_iter: num_iter_max, tol: stop_thr, ..SinkhornOptions::default() };
        if log_domain { reglab_ot::sinkhorn_log(a, b, &cost, reg, &opts, None) } else { reglab_ot::sinkhorn(a, b, &cost, reg, &opts) }
            .map_err(ot_error)
    })?;
    let plan = PyArray1::from_vec(py, r.plan.data).reshape([n, m])?;
    Ok((plan, PyArray1::from_vec(py, r.f), PyArray1::from_vec(py, r.g), r.iterations, r.row_error, r.col_error, r.converged, r.cost))
}

/// `FloatingPointError` for an under- or overflow of plain Sinkhorn, `ValueError` otherwise.
fn ot_error(e: Error) -> PyErr {
    match e {
        Error::Numerical { .. } => PyFloatingPointError::new_err(e.to_string()),
        e => value_error(e),
    }
}
