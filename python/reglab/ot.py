"""Entropic optimal transport with POT's signatures and return conventions.

``reglab.ot.sinkhorn(a, b, M, reg)`` can replace ``ot.sinkhorn(a, b, M, reg)`` (POT): the same
argument names, defaults and results (the plan, or ``(plan, log)`` with ``log=True``), computed by
reglab's Rust solvers (``reglab-ot``, float64, GIL released). Differences from POT:

- ``a`` and ``b`` must be histograms summing to 1 (within 1e-6, and to the same mass within
  1e-9 relative); otherwise ``ValueError`` (POT does not check). Empty ``a``/``b`` mean uniform,
  as in POT. Several target histograms (2-D ``b``) are not supported.
- The stopping rule is the row-marginal violation ``‖T 1 − a‖₁ < stopThr``, checked every 10
  iterations (POT: ``‖Tᵀ 1 − b‖₂`` of its last update); at POT's default ``stopThr=1e-9`` both
  give the same plan to about 1e-9.
- ``log["err"]`` holds one value, the final ``‖T 1 − a‖₁`` (POT: the history every 10
  iterations); ``log["niter"]`` is the number of iterations run; ``log["converged"]`` is added.
  The scalings ``u``, ``v`` (and ``log_u``, ``log_v``) give the same plan ``diag(u) K diag(v)`` as
  POT's but may differ from them by a constant factor ``(c·u, v/c)``.
- When plain Sinkhorn under- or overflows (``reg`` too small for ``exp(−M/reg)``) it raises
  ``FloatingPointError`` (POT warns and returns the last finite iterate); use ``sinkhorn_log``.
"""

from __future__ import annotations

import warnings
from typing import Any, Dict, Tuple, Union

import numpy as np

from . import _native

__all__ = ["sinkhorn", "sinkhorn_log"]

#: How far from 1 the sum of a histogram may be.
NORMALISATION_TOL = 1e-6

Result = Union[np.ndarray, Tuple[np.ndarray, Dict[str, Any]]]


def _real(name: str, x: object, ndim: int) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype == np.bool_ or arr.dtype.kind not in "fiu":
        raise TypeError(f"{name} must be a real (float or integer) array, got dtype {arr.dtype}")
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {arr.shape}")
    return arr


def _histogram(name: str, x: object, n: int) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim == 1 and arr.size == 0:
        return np.full(n, 1.0 / n)
    if name == "b" and arr.ndim == 2:
        raise ValueError(f"b has shape {arr.shape}: several target histograms (2-D b) are not supported")
    arr = np.ascontiguousarray(_real(name, arr, 1), dtype=np.float64)
    if arr.shape[0] != n:
        side = "rows" if name == "a" else "columns"
        raise ValueError(f"{name} has {arr.shape[0]} weights but M has {n} {side}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} has a non-finite weight at index {int(np.argmin(np.isfinite(arr)))}")
    if np.any(arr < 0):
        raise ValueError(f"{name} has a negative weight at index {int(np.argmax(arr < 0))}")
    total = float(arr.sum())
    if abs(total - 1.0) > NORMALISATION_TOL:
        raise ValueError(f"{name} sums to {total!r}: the marginals must be histograms summing to 1")
    return arr


def _solve(a, b, M, reg, numItermax, stopThr, verbose, log, warn, log_domain: bool) -> Result:
    m = _real("M", M, 2)
    out_dtype = m.dtype if m.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    n_rows, n_cols = m.shape
    if n_rows == 0 or n_cols == 0:
        raise ValueError(f"M is empty (shape {m.shape})")
    a = _histogram("a", a, n_rows)
    b = _histogram("b", b, n_cols)
    m = np.ascontiguousarray(m, dtype=np.float64)
    if isinstance(numItermax, bool) or not isinstance(numItermax, (int, np.integer)) or numItermax < 1:
        raise ValueError(f"numItermax must be an integer ≥ 1, got {numItermax!r}")
    try:
        reg = float(reg)
        stopThr = float(stopThr)
    except (TypeError, ValueError):
        raise TypeError("reg and stopThr must be numbers") from None
    plan, f, g, niter, row_err, _col_err, converged, _cost = _native.sinkhorn(a, b, m, reg, int(numItermax), stopThr, log_domain)
    if verbose:
        print(f"{'It.':5s}|{'Err':12s}\n" + "-" * 19 + f"\n{niter:5d}|{row_err:8e}|")
    if warn and not converged:
        warnings.warn(
            "Sinkhorn did not converge. You might want to increase the number of iterations `numItermax` or the regularization parameter `reg`.",
            stacklevel=3,
        )
    plan = plan.astype(out_dtype, copy=False)
    if not log:
        return plan
    with np.errstate(under="ignore"):
        log_u, log_v = f / reg, g / reg
        record: Dict[str, Any] = {"err": [row_err], "niter": int(niter)}
        if log_domain:
            record["log_u"], record["log_v"] = log_u, log_v
        record["u"], record["v"] = np.exp(log_u), np.exp(log_v)
    record["converged"] = bool(converged)
    return plan, record


def sinkhorn(
    a: Any,
    b: Any,
    M: Any,
    reg: float,
    method: str = "sinkhorn",
    numItermax: int = 1000,
    stopThr: float = 1e-9,
    verbose: bool = False,
    log: bool = False,
    warn: bool = True,
) -> Result:
    """Entropic OT plan ``argmin_T ⟨M, T⟩ + reg·Σ T (log T − 1)`` with ``T 1 = a``, ``Tᵀ 1 = b``.

    As POT's ``ot.sinkhorn`` (see the module docstring for the differences). ``method`` is
    ``"sinkhorn"`` (Sinkhorn–Knopp scaling) or ``"sinkhorn_log"`` (log domain). Returns the plan
    ``(len(a), len(b))`` in M's float dtype, or ``(plan, log)`` with ``log=True``: ``err``,
    ``niter``, ``u``, ``v`` (and ``log_u``, ``log_v`` for ``"sinkhorn_log"``), ``converged``.
    """
    if not isinstance(method, str) or method.lower() not in ("sinkhorn", "sinkhorn_log"):
        raise ValueError(f"Unknown method '{method}': reglab.ot.sinkhorn has 'sinkhorn' and 'sinkhorn_log'")
    return _solve(a, b, M, reg, numItermax, stopThr, verbose, log, warn, method.lower() == "sinkhorn_log")


def sinkhorn_log(
    a: Any,
    b: Any,
    M: Any,
    reg: float,
    numItermax: int = 1000,
    stopThr: float = 1e-9,
    verbose: bool = False,
    log: bool = False,
    warn: bool = True,
) -> Result:
    """Entropic OT in the log domain, as POT's ``ot.bregman.sinkhorn_log``: no under- or
    overflow for small ``reg``. Returns the plan, or ``(plan, log)`` with ``log=True``: ``err``,
    ``niter``, ``log_u``, ``log_v``, ``u``, ``v``, ``converged``.
    """
    return _solve(a, b, M, reg, numItermax, stopThr, verbose, log, warn, True)

