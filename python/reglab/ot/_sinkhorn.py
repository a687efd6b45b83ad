"""Entropic OT: ``sinkhorn`` and ``sinkhorn_log`` with POT's signatures (see :mod:`reglab.ot`)."""

from __future__ import annotations

import warnings
from typing import Any, Dict

import numpy as np

from .. import _native
from ._checks import Result, iterations, numbers, problem

__all__ = ["sinkhorn", "sinkhorn_log"]


def _solve(a, b, M, reg, numItermax, stopThr, verbose, log, warn, log_domain: bool) -> Result:
    a, b, m, out_dtype = problem(a, b, M)
    numItermax = iterations("numItermax", numItermax)
    reg, stopThr = numbers("reg and stopThr", reg, stopThr)
    plan, f, g, niter, row_err, _col_err, converged, _cost = _native.sinkhorn(a, b, m, reg, numItermax, stopThr, log_domain)
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

