"""reglab for Python: reglab's regularizers, optimal transport and inverse-problem solvers.

A thin typed layer over the native module ``reglab._native`` (Rust, PyO3). Arrays are NumPy
arrays; the Rust computation runs with the GIL released.

- :func:`penalty`: any parameter-space regularizer of reglab's catalog (``reglab list``) on one
  weight array in PyTorch's orientation, value and gradient, as ``reglab penalty`` computes them;
- :func:`prox`: the proximal step of the regularizers that have one (``l1``, ``elastic-net``,
  ``group-lasso``), as training applies it after each optimizer step;
- :func:`inspect`: the weight health probes of ``reglab inspect`` on a state_dict or a
  safetensors file;
- :mod:`reglab.ot`: ``sinkhorn``, ``sinkhorn_log`` and ``smooth.smooth_ot_dual`` /
  ``smooth.smooth_ot_semi_dual`` with POT's signatures, ``sparse`` (sparsity-constrained OT) and
  ``class_ot`` (class-based OT with a group lasso);
- :mod:`reglab.inverse`: ``denoise_tv_chambolle`` (alias ``denoise_tv``), ``radon`` and ``iradon``
  with scikit-image's signatures, weighted TV denoising (``denoise_tv_weighted``), the adjoint
  ``radon_adjoint`` and TV-regularised few-view CT (``reconstruct_tv``);
- :mod:`reglab.torch`: ``Regularizer``, the same terms in a PyTorch training loop (imported on
  first use of ``reglab.torch``; PyTorch is needed for that module only).

Bad input raises ``TypeError`` (wrong type or dtype) or ``ValueError`` (wrong shape or rank,
NaN/Inf, unknown regularizer, negative strength, ...), never a crash.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Iterable, List, Literal, Mapping, Optional, Tuple, Union, overload

import numpy as np

from . import _native, inverse, ot

__all__ = ["penalty", "prox", "inspect", "inverse", "ot", "torch", "__version__"]
__version__: str = _native.__version__

Spec = Union[str, Iterable[str]]


def __getattr__(name: str) -> object:
    # `reglab.torch` on first use, so that `import reglab` does not import PyTorch
    if name == "torch":
        import importlib

        return importlib.import_module(".torch", __name__)
    raise AttributeError(f"module 'reglab' has no attribute {name!r}")


def _specs(spec: Spec) -> list:
    if isinstance(spec, str):
        return [spec]
    try:
        specs = list(spec)
    except TypeError:
        raise TypeError(f"spec must be a string such as 'spectral=1e-3' or a list of them, got {type(spec).__name__}") from None
    if not all(isinstance(s, str) for s in specs):
        raise TypeError("spec must be a string such as 'spectral=1e-3' or a list of them")
    return specs


def _weights(name: str, x: object) -> np.ndarray:
    """A float32/float64 array of rank 1 to 4 with at least one value, as given (no copy)."""
    arr = np.asarray(x)
    if arr.dtype not in (np.float32, np.float64):
        raise TypeError(f"{name} must be a float32 or float64 array, got dtype {arr.dtype}")
    if not 1 <= arr.ndim <= 4:
        raise ValueError(
            f"{name} must have 1 to 4 dimensions (a bias [out], a matrix [out, in], a conv kernel [out, in, k] or [out, in, kh, kw]), "
            f"got shape {arr.shape}"
        )
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    return arr


def _as_f32(arr: np.ndarray) -> np.ndarray:
    # float64 values beyond float32's range become inf, which the native side reports
    with np.errstate(over="ignore"):
        return np.ascontiguousarray(arr, dtype=np.float32)


@overload
def penalty(spec: Spec, W: np.ndarray, W0: Optional[np.ndarray] = ..., grad: Literal[False] = ...) -> float: ...
@overload
def penalty(spec: Spec, W: np.ndarray, W0: Optional[np.ndarray], grad: Literal[True]) -> Tuple[float, np.ndarray]: ...
@overload
def penalty(spec: Spec, W: np.ndarray, W0: Optional[np.ndarray] = ..., *, grad: Literal[True]) -> Tuple[float, np.ndarray]: ...


def penalty(spec: Spec, W: np.ndarray, W0: Optional[np.ndarray] = None, grad: bool = False) -> Union[float, Tuple[float, np.ndarray]]:
    """The penalty ``Σ λ·r(W)`` of one or more regularizers on one weight array.

    Parameters
    ----------
    spec : str or list of str
        As on the command line, ``NAME=λ[:key=value,...]``: ``"spectral=1e-3"``,
        ``"l2-init=1e-2"``, ``"soft-orth=1e-4"``; a list sums the terms. Every parameter-space
        regularizer of ``reglab list``; ``l2 = λ/2·‖W‖²`` and ``l2-init = λ/2·‖W − W0‖²``, the
        others their paper's form times λ.
    W : ndarray, float32 or float64, 1-D to 4-D, any memory order
        In PyTorch's orientation: ``[out, in]`` for a linear layer, ``[out, in, kh, kw]`` for a
        convolution (read as the matrix ``[out, in·kh·kw]``); matrix regularizers refuse 1-D
        arrays. Computed in float32 (float64 input is rounded to float32 first), values
        accumulated in float64, as in training.
    W0 : ndarray, optional
        The anchor (initial weights) for ``l2-init``, ``wasserstein-init``, ...; W's shape.
    grad : bool
        Also return the gradient ``∂/∂W`` (W's shape and dtype).

    Returns
    -------
    float, or (float, ndarray) with ``grad=True``; the same numbers as ``reglab penalty`` on a
    file holding W alone (σ_max and other iterative quantities run to convergence).
    """
    specs = _specs(spec)
    w = _weights("W", W)
    w0 = None
    if W0 is not None:
        w0 = _weights("W0", W0)
        if w0.shape != w.shape:
            raise ValueError(f"W0 has shape {w0.shape}, W has {w.shape}: they must be the same")
    value, g = _native.penalty(specs, _as_f32(w), None if w0 is None else _as_f32(w0), bool(grad))
    if not grad:
        return value
    return value, g.astype(w.dtype, copy=False)


def prox(spec: Spec, W: np.ndarray, step: float) -> np.ndarray:
    """The proximal step ``prox_{step·λ·r}(W) = argmin_X ½‖X − W‖² + step·λ·r(X)``.

    Parameters
    ----------
    spec : str or list of str
        Regularizers with a proximal step, as on the command line: ``"l1=1e-3"`` (soft
        threshold), ``"elastic-net=1e-3:alpha=0.5"``, ``"group-lasso=1e-2"`` (rows of
        ``[out, in]``); a list applies them in order, as training does.
    W : ndarray, float32 or float64, 1-D to 4-D, PyTorch's orientation
    step : float
        The learning rate η of the step just taken (the prox is that of ``η·λ·r``), ≥ 0.

    Returns
    -------
    ndarray: a new array of W's shape and dtype (W is not modified), computed in float32 as in
    training. ``ValueError`` for a regularizer without a proximal step.
    """
    specs = _specs(spec)
    w = _weights("W", W)
    if isinstance(step, bool) or not isinstance(step, (int, float, np.floating, np.integer)):
        raise TypeError(f"step must be a number, got {type(step).__name__}")
    step = float(step)
    if not (np.isfinite(step) and step >= 0):
        raise ValueError(f"step must be finite and non-negative, got {step}")
    terms = _native.RegSet(specs, "*")
    has = terms.prox_terms()
    if not all(has):
        names = [s for s, p in zip(specs, has) if not p]
        raise ValueError(f"{', '.join(f'`{n}`' for n in names)} has no proximal step (those with one: l1, elastic-net, group-lasso)")
    if not terms.selected(["weight"], [list(w.shape)])[0]:
        raise ValueError(f"{', '.join(specs)} does not act on an array of shape {w.shape} (group-lasso needs a matrix)")
    out = _as_f32(w).copy()
    terms.after_step(["weight"], [out], step, 0, 1, 0)
    return out.astype(w.dtype, copy=False)


StateDict = Union[str, "os.PathLike[str]", Mapping[str, Any], Any]


def _tensors(source: StateDict, what: str) -> List[Tuple[str, np.ndarray]]:
    """(name, C-contiguous float32 array) for every floating-point entry of a state_dict, a
    module (its ``state_dict()``) or a safetensors file; other entries (integer buffers such as
    BatchNorm's ``num_batches_tracked``) are left out."""
    if isinstance(source, (str, os.PathLike)):
        if not os.path.isfile(source):
            raise ValueError(f"{what}: {os.fspath(source)} is not a file")
        return [(name, values.reshape(shape)) for name, shape, values in _native.read_safetensors(os.fspath(source))]
    if hasattr(source, "state_dict") and callable(source.state_dict):
        source = source.state_dict()
    if not isinstance(source, Mapping):
        raise TypeError(f"{what} must be a path to a safetensors file, a state_dict (dict name → tensor) or a module, got {type(source).__name__}")
    out = []
    for name, t in source.items():
        if not isinstance(name, str):
            raise TypeError(f"{what}: keys must be tensor names (str), got {type(name).__name__}")
        if hasattr(t, "detach"):  # a torch tensor, without importing torch
            t = t.detach().cpu()
            if not t.is_floating_point():
                continue
            t = t.float().numpy()
        arr = np.asarray(t)
        if arr.dtype.kind != "f":
            if arr.dtype.kind in "iub":
                continue
            raise TypeError(f"{what}[{name!r}] has dtype {arr.dtype}: expected a floating-point array")
        with np.errstate(over="ignore"):
            out.append((name, np.ascontiguousarray(arr, dtype=np.float32).reshape(arr.shape)))
    return out


def inspect(state_dict_or_path: StateDict, init: Optional[StateDict] = None) -> List[Dict[str, Any]]:
    """Weight health of every tensor: what ``reglab inspect --json`` prints, one dict per tensor.

    Parameters
    ----------
    state_dict_or_path : str or path, dict name → tensor/array, or torch.nn.Module
        A safetensors file (F32, F64, F16, BF16; tensors sorted by name, as the command line
        reads them) or a state_dict (its order). Tensors in PyTorch's orientation; integer and
        boolean entries are left out.
    init : same kinds, optional
        The initial weights W₀, matched by name, for ``distance_to_init``.

    Returns
    -------
    list of dict, one per tensor, with the keys ``name``, ``shape``, ``matrix`` ([rows, cols] of
    the matrix view ``[out, in·kh·kw]``), ``sigma_max``, ``top_singular_values`` (five largest),
    ``effective_rank`` (Roy & Vetterli), ``orthogonality_gap`` (``‖W Wᵀ − I‖_F / √out``),
    ``sparsity`` (fraction of entries exactly 0), ``frobenius_norm``, ``distance_to_init``
    (``‖W − W₀‖_F``) and ``non_finite`` (NaN/Inf entries); ``None`` where a key does not apply
    (matrix quantities of 1-D tensors, the distance without ``init``, spectral quantities of a
    tensor with NaN/Inf). ``pandas.DataFrame(reglab.inspect(...))`` makes it a table.
    """
    tensors = _tensors(state_dict_or_path, "state_dict_or_path")
    if not tensors:
        raise ValueError("state_dict_or_path holds no floating-point tensor")
    init_tensors = None if init is None else _tensors(init, "init")
    return json.loads(_native.inspect(tensors, init_tensors))
