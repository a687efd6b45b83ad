"""Optimal transport with POT's signatures and return conventions.

Functions computed by reglab's Rust solvers (``reglab-ot``, float64, GIL released) that can
replace POT's: the same argument names, defaults and results (the plan, or ``(plan, log)`` with
``log=True``):

- ``reglab.ot.sinkhorn``, ``reglab.ot.sinkhorn_log``: entropic OT, as ``ot.sinkhorn`` and
  ``ot.bregman.sinkhorn_log``;
- ``reglab.ot.smooth.smooth_ot_dual``, ``reglab.ot.smooth.smooth_ot_semi_dual``: quadratically
  regularized (``reg_type='l2'``) and sparsity-constrained OT, as ``ot.smooth``'s (differences in
  :mod:`reglab.ot.smooth`'s docstring);

and two of reglab's own, with POT's conventions:

- ``reglab.ot.sparse(a, b, M, reg, max_nz)``: sparsity-constrained OT, at most ``max_nz``
  non-zeros per column of the plan (``smooth_ot_semi_dual(..., reg_type='sparsity_constrained')``
  with reglab's defaults, the method ``reglab ot --method sparse`` runs);
- ``reglab.ot.class_ot(a, labels_a, b, M, reg)``: class-based OT with a group lasso over the
  source classes, without entropy (POT's ``ot.da.sinkhorn_l1l2_gl`` adds an entropic term; see
  its docstring).

Common to all: ``a`` and ``b`` must be histograms summing to 1 (within 1e-6, and to the same
mass within 1e-9 relative); otherwise ``ValueError`` (POT does not check). Empty ``a``/``b`` mean
uniform, as in POT. Several target histograms (2-D ``b``) are not supported. The plan comes back
in M's float dtype (float64 for integer M).

Differences from POT's ``sinkhorn``:

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

from typing import Any

from . import smooth
from ._checks import NORMALISATION_TOL, Result
from ._class_ot import class_ot
from ._sinkhorn import sinkhorn, sinkhorn_log

__all__ = ["sinkhorn", "sinkhorn_log", "smooth", "sparse", "class_ot", "NORMALISATION_TOL"]


def sparse(
    a: Any,
    b: Any,
    M: Any,
    reg: float,
    max_nz: int,
    numItermax: int = 10_000,
    stopThr: float = 1e-9,
    verbose: bool = False,
    log: bool = False,
    semi_dual: bool = True,
) -> Result:
    """Sparsity-constrained OT: ``argmin_T ⟨M, T⟩ + (reg/2)·‖T‖²_F`` with ``T ≥ 0``, ``T 1 = a``,
    ``Tᵀ 1 = b`` and at most ``max_nz`` non-zeros in each column of ``T`` (Liu, Puigcerver &
    Blondel, "Sparsity-Constrained Optimal Transport", ICLR 2023).

    reglab's name for ``smooth.smooth_ot_semi_dual(a, b, M, reg,
    reg_type='sparsity_constrained', max_nz=max_nz)`` (with ``semi_dual=False``:
    ``smooth.smooth_ot_dual``), with the command line's defaults (``reglab ot --method sparse``
    gives the same plan): the semi-dual is the paper's formulation, whose columns meet ``b`` and
    have at most ``max_nz`` non-zeros whatever the optimizer reaches; the rows are matched by
    L-BFGS to ``stopThr`` (largest violation). The problem is not convex: where no plan with
    ``max_nz`` non-zeros per column meets the row marginals (e.g. ``max_nz=1`` with more rows than
    columns), the rows are missed and ``log["converged"]`` is ``False``.

    Returns the plan ``(n, m)`` in M's float dtype, or ``(plan, log)`` with ``log=True`` (keys as
    :func:`reglab.ot.smooth.smooth_ot_semi_dual`).
    """
    return smooth._solve(a, b, M, reg, smooth._max_nz("sparsity_constrained", max_nz), bool(semi_dual), stopThr, numItermax, verbose, log)
