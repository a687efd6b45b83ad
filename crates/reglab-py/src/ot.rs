//! `reglab.ot`: `sinkhorn` / `sinkhorn_log` ([`reglab_ot::sinkhorn`], [`reglab_ot::sinkhorn_log`]),
//! `smooth.smooth_ot_dual` / `smooth_ot_semi_dual` and `sparse` ([`reglab_ot::smooth_ot_dual`],
//! [`reglab_ot::smooth_ot_semi_dual`]), `class_ot` ([`reglab_ot::class_ot`]).

use crate::{compute, value_error};
use numpy::{PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::PyFloatingPointError;
use pyo3::prelude::*;
use reglab_ot::{ClassOtOptions, Error, Matrix, Regularizer, SinkhornOptions, SmoothOptions, Termination};

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

/// What the Python layer turns into POT's `ot.smooth` return values.
type Smoothed<'py> =
    (Bound<'py, PyArray2<f64>>, Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<f64>>, usize, usize, f64, f64, f64, bool, &'static str);

/// Quadratically regularized OT (`max_nz = None`) or sparsity-constrained OT with at most
/// `max_nz` non-zeros per column, between the histograms `a` (n) and `b` (m) with the
/// C-contiguous cost `m_cost` (n × m) and strength `reg` (γ), through the smooth dual or
/// (`semi_dual`) the semi-dual, by L-BFGS from zero potentials: at most `num_iter_max`
/// iterations, stopping when the largest marginal violation (the gradient's ∞-norm) is at most
/// `stop_thr`. Returns `(plan, alpha, beta, iterations, evaluations, dual_objective, objective,
/// cost, converged, termination)` with `termination` one of `gradient`, `decrease`, `max_iter`,
/// `step`, `line_search` (see [`Termination`]); for the semi-dual `dual_objective` is the semi-dual value and
/// `beta` the column thresholds.
#[pyfunction]
#[pyo3(signature = (a, b, m_cost, reg, max_nz, semi_dual, num_iter_max, stop_thr))]
#[allow(clippy::too_many_arguments)]
pub fn smooth_ot<'py>(
    py: Python<'py>,
    a: PyReadonlyArray1<'py, f64>,
    b: PyReadonlyArray1<'py, f64>,
    m_cost: PyReadonlyArray2<'py, f64>,
    reg: f64,
    max_nz: Option<usize>,
    semi_dual: bool,
    num_iter_max: usize,
    stop_thr: f64,
) -> PyResult<Smoothed<'py>> {
    let (a, b) = (a.as_slice().map_err(|_| value_error("a must be contiguous"))?, b.as_slice().map_err(|_| value_error("b must be contiguous"))?);
    let (n, m) = (m_cost.shape()[0], m_cost.shape()[1]);
    let c = m_cost.as_slice().map_err(|_| value_error("M must be C-contiguous"))?;
    let r = compute(py, || {
        let cost = Matrix::new(n, m, c.to_vec()).map_err(value_error)?;
        let regularizer = max_nz.map_or(Regularizer::SquaredL2, |max_nz| Regularizer::SparsityConstrained { max_nz });
        let opts = SmoothOptions { max_iter: num_iter_max, tol: stop_thr, ..SmoothOptions::default() };
        if semi_dual {
            reglab_ot::smooth_ot_semi_dual(a, b, &cost, reg, regularizer, &opts)
        } else {
            reglab_ot::smooth_ot_dual(a, b, &cost, reg, regularizer, &opts)
        }
        .map_err(smooth_error)
    })?;
    let termination = match r.termination {
        Termination::Gradient => "gradient",
        Termination::Decrease => "decrease",
        Termination::MaxIter => "max_iter",
        Termination::Step => "step",
        Termination::LineSearch => "line_search",
    };
    let plan = PyArray1::from_vec(py, r.plan.data).reshape([n, m])?;
    let (alpha, beta) = (PyArray1::from_vec(py, r.alpha), PyArray1::from_vec(py, r.beta));
    Ok((plan, alpha, beta, r.iterations, r.evaluations, r.dual_objective, r.objective, r.cost, r.converged, termination))
}

/// `ValueError`, naming the Python arguments: `reg` for a bad strength γ (the crate's message
/// says ε), `stopThr` and `numItermax` for the optimizer's options.
fn smooth_error(e: Error) -> PyErr {
    match e {
        Error::Regularization(reg) => value_error(format!("regularization γ (reg) must be finite and > 0, got {reg}")),
        Error::Option { name: "gtol", why } => value_error(format!("stopThr {why}")),
        Error::Option { name: "max_iter", why } => value_error(format!("numItermax {why}")),
        e => value_error(e),
    }
}

/// What the Python layer turns into `reglab.ot.class_ot`'s return values.
type ClassSolved<'py> = (Bound<'py, PyArray2<f64>>, f64, f64, f64, f64, usize, f64, f64, bool, Vec<usize>);

/// Class-based OT `min ⟨C, T⟩ + reg Σ_j Σ_c ‖T_{I_c, j}‖₂` between the histograms `a` (n) and
/// `b` (m) with the C-contiguous cost `m_cost` (n × m) and the source classes `labels` (n
/// non-negative integers), by ADMM: at most `num_iter_max` iterations, stopping when the relative
/// marginal error is at most `stop_thr` and the relative duality gap at most `gap_thr`. Returns
/// `(plan, cost, regularizer, objective, dual_bound, iterations, row_error, col_error, converged,
/// classes_per_column)`.
#[pyfunction]
#[pyo3(signature = (a, b, m_cost, labels, reg, num_iter_max, stop_thr, gap_thr))]
#[allow(clippy::too_many_arguments)]
pub fn class_ot<'py>(
    py: Python<'py>,
    a: PyReadonlyArray1<'py, f64>,
    b: PyReadonlyArray1<'py, f64>,
    m_cost: PyReadonlyArray2<'py, f64>,
    labels: PyReadonlyArray1<'py, i64>,
    reg: f64,
    num_iter_max: usize,
    stop_thr: f64,
    gap_thr: f64,
) -> PyResult<ClassSolved<'py>> {
    let (a, b) = (a.as_slice().map_err(|_| value_error("a must be contiguous"))?, b.as_slice().map_err(|_| value_error("b must be contiguous"))?);
    let (n, m) = (m_cost.shape()[0], m_cost.shape()[1]);
    let c = m_cost.as_slice().map_err(|_| value_error("M must be C-contiguous"))?;
    let labels = labels.as_slice().map_err(|_| value_error("labels_a must be contiguous"))?;
    let labels = labels
        .iter()
        .enumerate()
        .map(|(i, &l)| usize::try_from(l).map_err(|_| value_error(format!("labels_a has a negative label {l} at index {i}"))))
        .collect::<PyResult<Vec<usize>>>()?;
    let r = compute(py, || {
        let cost = Matrix::new(n, m, c.to_vec()).map_err(value_error)?;
        let opts = ClassOtOptions { max_iter: num_iter_max, tol: stop_thr, gap_tol: gap_thr, ..ClassOtOptions::default() };
        reglab_ot::class_ot(a, b, &cost, &labels, reg, &opts).map_err(|e| match e {
            Error::Option { name: "lambda", .. } => value_error(format!("reg must be finite and ≥ 0, got {reg}")),
            Error::Option { name: "max_iter", why } => value_error(format!("numItermax {why}")),
            Error::Option { name: "tol", why } => value_error(format!("stopThr {why}")),
            Error::Option { name: "gap_tol", why } => value_error(format!("gapThr {why}")),
            e => value_error(e),
        })
    })?;
    let plan = PyArray1::from_vec(py, r.plan.data).reshape([n, m])?;
    Ok((plan, r.cost, r.regularizer, r.objective, r.dual_bound, r.iterations, r.row_error, r.col_error, r.converged, r.classes_per_column))
}

/// `FloatingPointError` for an under- or overflow of plain Sinkhorn, `ValueError` otherwise.
fn ot_error(e: Error) -> PyErr {
    match e {
        Error::Numerical { .. } => PyFloatingPointError::new_err(e.to_string()),
        e => value_error(e),
    }
}
