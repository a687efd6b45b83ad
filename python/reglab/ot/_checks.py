"""Argument checks and result types shared by the solvers of :mod:`reglab.ot`."""

from __future__ import annotations

from typing import Any, Dict, Tuple, Union

import numpy as np

#: How far from 1 the sum of a histogram may be.
NORMALISATION_TOL = 1e-6

Result = Union[np.ndarray, Tuple[np.ndarray, Dict[str, Any]]]


def real(name: str, x: object, ndim: int) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype == np.bool_ or arr.dtype.kind not in "fiu":
        raise TypeError(f"{name} must be a real (float or integer) array, got dtype {arr.dtype}")
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {arr.shape}")
    return arr


def histogram(name: str, x: object, n: int) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim == 1 and arr.size == 0:
        return np.full(n, 1.0 / n)
    if name == "b" and arr.ndim == 2:
        raise ValueError(f"b has shape {arr.shape}: several target histograms (2-D b) are not supported")
    arr = np.ascontiguousarray(real(name, arr, 1), dtype=np.float64)
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


def problem(a: Any, b: Any, M: Any) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.dtype]:
    """``(a, b, M, dtype)``: the histograms (empty means uniform) and the cost matrix, float64 and
    C-contiguous, and the dtype of the plan to return (M's float dtype, float64 otherwise). NaN
    or Inf in M is left to the native side, which names the entry."""
    m = real("M", M, 2)
    out_dtype = m.dtype if m.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    n_rows, n_cols = m.shape
    if n_rows == 0 or n_cols == 0:
        raise ValueError(f"M is empty (shape {m.shape})")
    a = histogram("a", a, n_rows)
    b = histogram("b", b, n_cols)
    return a, b, np.ascontiguousarray(m, dtype=np.float64), out_dtype


def iterations(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be an integer ≥ 1, got {value!r}")
    return int(value)


def numbers(names: str, *values: object) -> Tuple[float, ...]:
    try:
        return tuple(float(v) for v in values)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise TypeError(f"{names} must be numbers") from None


class OptimizeResult(dict):
    """The optimizer's outcome as scipy's ``OptimizeResult`` presents it (POT's ``log["res"]``):
    a dict whose keys are also attributes, ``x``, ``fun``, ``jac``, ``nit``, ``nfev``, ``njev``,
    ``success``, ``status`` and ``message``. Not scipy's class (reglab does not need scipy)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __delattr__(self, name: str) -> None:
        del self[name]

    def __dir__(self) -> list:
        return list(self.keys())

    def __repr__(self) -> str:
        width = max(map(len, self.keys()), default=0) + 1
        return "\n".join(f"{k.rjust(width)}: {v!r}" for k, v in self.items())

