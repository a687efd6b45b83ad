"""Class-based OT with the sum-of-norms (group-lasso) regularizer: ``reglab.ot.class_ot``."""

from __future__ import annotations

import warnings
from typing import Any, Dict

import numpy as np

from .. import _native
from ._checks import Result, iterations, numbers, problem

__all__ = ["class_ot"]


def _labels(labels_a: Any, n: int) -> np.ndarray:
    """The classes of the source points as int64 ``0..K−1`` (equal labels, one class)."""
    arr = np.asarray(labels_a)
    if arr.dtype == np.bool_ or arr.dtype.kind not in "fiu":
        raise TypeError(f"labels_a must be an array of integer class labels, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"labels_a must be 1-D (one label per source point), got shape {arr.shape}")
    if arr.shape[0] != n:
        raise ValueError(f"labels_a has {arr.shape[0]} labels but M has {n} rows (one per source point)")
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr) | (arr != np.round(arr))
        if np.any(bad):
            i = int(np.argmax(bad))
            raise ValueError(f"labels_a must hold integers, got {arr[i].item()!r} at index {i}")
    if np.any(arr < 0):
        i = int(np.argmax(arr < 0))
        raise ValueError(
            f"labels_a has a negative label {arr[i].item()!r} at index {i}: class labels must be ≥ 0 "
            "(every source point needs a class; -1 for unlabelled points is not supported)"
        )
    return np.unique(arr, return_inverse=True)[1].reshape(-1).astype(np.int64)


def class_ot(
    a: Any,
    labels_a: Any,
    b: Any,
    M: Any,
    reg: float,
    numItermax: int = 100_000,
    stopThr: float = 1e-9,
    gapThr: float = 1e-7,
    verbose: bool = False,
    log: bool = False,
    warn: bool = True,
) -> Result:
    """Class-based OT: ``argmin_T ⟨M, T⟩ + reg·Σ_j Σ_c ‖T_{I_c, j}‖₂`` with ``T ≥ 0``,
    ``T 1 = a``, ``Tᵀ 1 = b``.

    ``I_c`` are the source points of class ``c`` (``labels_a``) and ``T_{I_c, j}`` the mass that
    target point ``j`` receives from them: the group lasso drives whole (class, target) blocks to
    zero, so each target point is served by few source classes (Rahbar et al., "Recovery Bounds
    on Class-Based Optimal Transport: A Sum-of-Norms Regularization Framework", ICML 2023). Solved
    by ADMM to a certified duality gap (reglab-ot's ``class_ot``): the problem is convex, and
    ``log["dual_bound"]`` is a lower bound on its optimal value, so ``log["gap"]`` bounds how far
    the plan's objective is from the optimum.

    **Not POT's** ``ot.da.sinkhorn_l1l2_gl(a, labels_a, b, M, reg, eta)``, which adds an entropic
    term: it minimizes ``⟨M, T⟩ + reg·Σ T log T + eta·Σ_j Σ_c ‖T_{I_c, j}‖₂`` (the same group
    lasso; its docstring writes the norms squared, its code does not) by generalized conditional
    gradient with Sinkhorn inner steps, and its plans are dense. ``class_ot`` is that problem
    without the entropy: POT's ``eta`` is ``reg`` here, and POT's plans approach this one (on the
    objective) as POT's ``reg → 0``. The arguments follow POT's order. Nor is it
    ``ot.da.sinkhorn_lpl1_mm`` (entropy plus a concave ℓp-ℓ1 penalty, p = 1/2, by
    majorization-minimization).

    Parameters
    ----------
    a : array (n,)
        Source histogram, summing to 1 (empty: uniform).
    labels_a : array (n,) of integers ≥ 0
        The class of each source point (equal labels form a class; float arrays of whole numbers
        are accepted).
    b : array (m,)
        Target histogram, summing to 1 (empty: uniform).
    M : array (n, m)
        Cost matrix.
    reg : float
        The group-lasso strength λ ≥ 0 (POT's ``eta``); 0 gives an exact OT plan.
    numItermax : int
        Most ADMM iterations.
    stopThr : float
        Stop when the relative marginal error ``(‖T 1 − a‖₁ + ‖Tᵀ 1 − b‖₁) / Σa`` is at most
        this **and** the relative duality gap at most ``gapThr``.
    gapThr : float
        Tolerance on the relative duality gap ``(F − D) / (Σa·max|M| + |F|)``.
    verbose : bool
        Print the iterations, marginal error and gap.
    log : bool
        Also return a dict: ``loss`` (``[objective]``, POT's key: one value, the final
        ``⟨M, T⟩ + reg·R(T)``), ``cost`` (``⟨M, T⟩``), ``regularizer`` (``R(T)``, without
        ``reg``), ``dual_bound``, ``gap`` (objective − dual_bound), ``err``
        (``[‖T 1 − a‖₁ + ‖Tᵀ 1 − b‖₁]``), ``niter``, ``converged`` and ``classes_per_column``
        (for each target point, the classes sending it more than 1e-9).
    warn : bool
        Warn (``UserWarning``) when the stopping rule is not met within ``numItermax``.

    Returns
    -------
    The plan ``(n, m)`` in M's float dtype (non-negative, with exact zero blocks), or
    ``(plan, log)`` with ``log=True``.
    """
    a, b, m, out_dtype = problem(a, b, M)
    labels = _labels(labels_a, m.shape[0])
    numItermax = iterations("numItermax", numItermax)
    reg, stopThr, gapThr = numbers("reg, stopThr and gapThr", reg, stopThr, gapThr)
    plan, cost, regularizer, objective, dual_bound, niter, row_err, col_err, converged, per_column = _native.class_ot(
        a, b, m, labels, reg, numItermax, stopThr, gapThr
    )
    if verbose:
        print(f"{'It.':6s}|{'Err':12s}|{'Gap':12s}\n" + "-" * 32 + f"\n{niter:6d}|{row_err + col_err:8e}|{objective - dual_bound:8e}|")
    if warn and not converged:
        warnings.warn(
            f"class_ot did not converge in {niter} iterations (marginal error {row_err + col_err:.2e}, duality gap "
            f"{objective - dual_bound:.2e}). You might want to increase `numItermax` or loosen `stopThr`/`gapThr`.",
            stacklevel=2,
        )
    out = plan.astype(out_dtype, copy=False)
    if not log:
        return out
    record: Dict[str, Any] = {
        "loss": [float(objective)],
        "cost": float(cost),
        "regularizer": float(regularizer),
        "dual_bound": float(dual_bound),
        "gap": float(objective - dual_bound),
        "err": [float(row_err + col_err)],
        "niter": int(niter),
        "converged": bool(converged),
        "classes_per_column": np.asarray(per_column, dtype=np.int64),
    }
    return out, record
