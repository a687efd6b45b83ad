"""Smooth and sparse optimal transport, as POT's ``ot.smooth``: ``smooth_ot_dual`` and
``smooth_ot_semi_dual`` with POT's signatures, defaults and return values.

Both solve ``min_T ⟨M, T⟩ + (reg/2)·‖T‖²_F`` over the plans ``T ≥ 0`` with ``T 1 = a``,
``Tᵀ 1 = b`` (``reg_type='l2'``, Blondel, Seguy & Rolet, AISTATS 2018: the plan has exact zeros),
optionally with at most ``max_nz`` non-zeros in each column of ``T``
(``reg_type='sparsity_constrained'``, Liu, Puigcerver & Blondel, ICLR 2023), by L-BFGS on the
dual (both marginals dualized) or the semi-dual (the columns ``Tᵀ 1 = b`` kept exact, at most
``max_nz`` non-zeros per column by construction). The solvers are reglab's (``reglab-ot``,
float64, GIL released). Differences from POT:

- ``reg_type='kl'`` (entropic) is not supported (``ValueError``): it is the problem of
  ``reglab.ot.sinkhorn(a, b, M, reg)``. An unknown ``reg_type`` or a ``method`` other than
  ``'L-BFGS-B'`` raises ``ValueError`` (POT: ``NotImplementedError``, and it ignores ``method``).
- The optimizer is reglab's L-BFGS, not scipy's L-BFGS-B; ``stopThr`` is the largest marginal
  violation ``max(‖T 1 − a‖_∞, ‖Tᵀ 1 − b‖_∞)`` (the dual gradient's ∞-norm; semi-dual: rows
  only). POT passes ``stopThr`` to scipy, which mostly stops on the relative decrease of the dual
  first, with marginals off by 1e-6 to 1e-3 in ℓ1 (its default ``stopThr=1e-9``, 10 to 40
  points); reglab's plans meet them to ``stopThr``, so the two agree to POT's accuracy (each
  entry within POT's marginal error), not bit for bit. The (semi-)dual values agree to 1e-10.
- ``log["res"]`` is a dict with scipy's ``OptimizeResult`` keys as attributes (``x``, ``fun`` =
  minus the (semi-)dual value, ``jac``, ``nit``, ``nfev``, ``njev``, ``success``, ``status``,
  ``message``), not scipy's class. ``log`` adds ``cost`` (``⟨M, T⟩``), ``objective``
  (``⟨M, T⟩ + (reg/2)‖T‖²_F``) and ``converged``; the semi-dual's log adds ``beta``, the column
  thresholds (``T_ij = [α_i + β_j − M_ij]_+ / reg`` on the kept entries, as in the dual).
- ``a``, ``b`` must be histograms summing to 1 (as ``reglab.ot.sinkhorn``); empty means uniform.
- When the sparsity-constrained optimum sits on a kink of the dual (e.g. ``max_nz=1`` with more
  rows than columns, where no plan with one non-zero per column meets the row marginals), the
  plan keeps at most ``max_nz`` non-zeros per column but misses the marginals, and where the
  optimizer stops depends on its path: plans may differ from POT's there (``log["converged"]``
  is then ``False``; the (semi-)dual value is at least POT's).
"""

from __future__ import annotations

from typing import Any, Dict, Optional

import numpy as np

from .. import _native
from ._checks import OptimizeResult, Result, iterations, numbers, problem

__all__ = ["smooth_ot_dual", "smooth_ot_semi_dual"]

_L2 = ("l2", "squaredl2")
_SPARSE = ("sparsity_constrained", "sparsity-constrained")
_ENTROPIC = ("kl", "entropic", "negentropy")

_MESSAGES = {
    "gradient": "CONVERGENCE: the largest marginal violation is at most stopThr",
    "decrease": "CONVERGENCE: the relative decrease of the objective fell below the tolerance",
    "max_iter": "STOP: numItermax iterations ran",
    "step": "STOP: the step fell below the smallest step (a kink of the dual?)",
    "line_search": "STOP: the line search found no acceptable step (a kink of the dual?)",
}


def _max_nz(reg_type: object, max_nz: object) -> Optional[int]:
    """The most non-zeros per column for ``reg_type``, ``None`` for ``'l2'``."""
    if not isinstance(reg_type, str):
        raise TypeError(f"reg_type must be a string ('l2' or 'sparsity_constrained'), got {type(reg_type).__name__}")
    kind = reg_type.lower()
    if kind in _L2:
        return None
    if kind in _SPARSE:
        if max_nz is None:
            raise ValueError("reg_type='sparsity_constrained' needs max_nz, the most non-zeros per column of the plan (an integer ≥ 1)")
        if isinstance(max_nz, bool) or not isinstance(max_nz, (int, np.integer)):
            raise ValueError(f"max_nz {max_nz!r} must be an integer")
        if max_nz < 1:
            raise ValueError(f"max_nz must be at least 1, got {max_nz}")
        return int(max_nz)
    if kind in _ENTROPIC:
        raise ValueError(
            f"reg_type='{reg_type}' (entropic) is not supported by reglab.ot.smooth; "
            "reglab.ot.sinkhorn(a, b, M, reg) solves the same problem (use sinkhorn_log for small reg)"
        )
    raise ValueError(f"Unknown reg_type '{reg_type}': reglab.ot.smooth has 'l2' and 'sparsity_constrained'")


def _method(method: object) -> None:
    if not isinstance(method, str) or method.upper() != "L-BFGS-B":
        raise ValueError(f"Unknown method {method!r}: reglab.ot.smooth has 'L-BFGS-B' (reglab's L-BFGS) only")


def _solve(a, b, M, reg, max_nz: Optional[int], semi_dual: bool, stopThr, numItermax, verbose, log) -> Result:
    """The plan (or ``(plan, log)``) of the smooth OT problem; ``max_nz`` already checked."""
    a, b, m, out_dtype = problem(a, b, M)
    numItermax = iterations("numItermax", numItermax)
    reg, stopThr = numbers("reg and stopThr", reg, stopThr)
    plan, alpha, beta, nit, nfev, dual, objective, cost, converged, termination = _native.smooth_ot(
        a, b, m, reg, max_nz, semi_dual, numItermax, stopThr
    )
    if verbose:
        err = max(np.abs(plan.sum(axis=1) - a).max(), np.abs(plan.sum(axis=0) - b).max())
        print(f"{'It.':5s}|{'Err':12s}|{'Dual':12s}\n" + "-" * 32 + f"\n{nit:5d}|{err:8e}|{dual:8e}|\n{_MESSAGES[termination]}")
    out = plan.astype(out_dtype, copy=False)
    if not log:
        return out
    # The gradient of the minimized function −D: the marginal violations (semi-dual: rows only).
    jac = plan.sum(axis=1) - a
    if not semi_dual:
        jac = np.concatenate([jac, plan.sum(axis=0) - b])
    res = OptimizeResult(
        x=alpha.copy() if semi_dual else np.concatenate([alpha, beta]),
        fun=-dual,
        jac=jac,
        nit=int(nit),
        nfev=int(nfev),
        njev=int(nfev),
        success=bool(converged),
        status=0 if converged else 1 if termination == "max_iter" else 2,
        message=_MESSAGES[termination],
    )
    record: Dict[str, Any] = {"alpha": alpha, "beta": beta, "res": res}
    record.update(cost=float(cost), objective=float(objective), converged=bool(converged))
    return out, record


def smooth_ot_dual(
    a: Any,
    b: Any,
    M: Any,
    reg: float,
    reg_type: str = "l2",
    method: str = "L-BFGS-B",
    stopThr: float = 1e-9,
    numItermax: int = 500,
    verbose: bool = False,
    log: bool = False,
    max_nz: Optional[int] = None,
) -> Result:
    """Smooth OT through the dual, as POT's ``ot.smooth.smooth_ot_dual``.

    Maximizes ``⟨α, a⟩ + ⟨β, b⟩ − Σ_j δ*(α + β_j − M_{:,j})`` over the potentials ``α``, ``β`` by
    L-BFGS from zero, ``δ*`` the conjugate of the regularizer (Blondel et al. 2018, eq. 7), and
    returns the plan ``T_{:,j} = ∇δ*(α + β_j − M_{:,j})``: for ``reg_type='l2'``
    ``T = [α 1ᵀ + 1 βᵀ − M]_+ / reg``, the minimizer of ``⟨M, T⟩ + (reg/2)‖T‖²_F`` under the
    marginals; for ``'sparsity_constrained'`` the same keeping the ``max_nz`` largest entries of
    each column. See the module docstring for the differences from POT.

    Parameters
    ----------
    a, b : array (n,), (m,)
        Source and target histograms, summing to 1 (empty: uniform).
    M : array (n, m)
        Cost matrix.
    reg : float
        The strength γ > 0.
    reg_type : 'l2' or 'sparsity_constrained'
    method : 'L-BFGS-B'
    stopThr : float
        Stop when the largest marginal violation is at most this.
    numItermax : int
        Most L-BFGS iterations.
    verbose, log : bool
    max_nz : int
        Most non-zeros per column of the plan (``reg_type='sparsity_constrained'`` only).

    Returns
    -------
    The plan ``(n, m)`` in M's float dtype, or ``(plan, log)`` with ``log=True``: ``alpha``,
    ``beta`` (float64), ``res`` (the optimizer's outcome), ``cost``, ``objective``,
    ``converged``.
    """
    k = _max_nz(reg_type, max_nz)
    _method(method)
    return _solve(a, b, M, reg, k, False, stopThr, numItermax, verbose, log)


def smooth_ot_semi_dual(
    a: Any,
    b: Any,
    M: Any,
    reg: float,
    reg_type: str = "l2",
    max_nz: Optional[int] = None,
    method: str = "L-BFGS-B",
    stopThr: float = 1e-9,
    numItermax: int = 500,
    verbose: bool = False,
    log: bool = False,
) -> Result:
    """Smooth OT through the semi-dual, as POT's ``ot.smooth.smooth_ot_semi_dual`` (note POT's
    argument order: ``max_nz`` comes after ``reg_type`` here).

    Maximizes ``⟨α, a⟩ − Σ_j b_j max_Ω(α − M_{:,j})`` over ``α`` by L-BFGS from zero
    (Blondel et al. 2018, eq. 10): each column ``T_{:,j}`` is ``b_j`` times the projection of
    ``(α − M_{:,j}) / (reg b_j)`` onto the simplex (``'sparsity_constrained'``: onto its
    ``max_nz``-sparse part), so the columns meet ``b`` and have at most ``max_nz`` non-zeros
    whatever ``α`` is, and the optimizer matches the rows to ``a``. Same problems as
    :func:`smooth_ot_dual`; the semi-dual is the formulation Liu et al. (2023) recommend for the
    sparsity constraint.

    Parameters and returns as :func:`smooth_ot_dual`; ``log`` has ``alpha``, ``res`` (POT's keys),
    ``beta`` (the column thresholds), ``cost``, ``objective``, ``converged``.
    """
    k = _max_nz(reg_type, max_nz)
    _method(method)
    return _solve(a, b, M, reg, k, True, stopThr, numItermax, verbose, log)
