"""Inverse problems on images with scikit-image's signatures.

``reglab.inverse.denoise_tv_chambolle(image, weight)`` can replace
``skimage.restoration.denoise_tv_chambolle(image, weight)`` for 2-D grayscale float images (and
2-D images with a channel axis): the same arguments, defaults, iteration, stopping rule and
result, computed by reglab's Rust solver (``reglab-inverse``, float64, GIL released).
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from . import _native

__all__ = ["denoise_tv_chambolle"]


def _channel(image: np.ndarray, weight: float, eps: float, max_num_iter: int) -> np.ndarray:
    out, _iterations, _converged = _native.denoise_tv_chambolle(np.ascontiguousarray(image, dtype=np.float64), weight, eps, max_num_iter)
    return out


def denoise_tv_chambolle(
    image: Any,
    weight: float = 0.1,
    eps: float = 2.0e-4,
    max_num_iter: int = 200,
    *,
    channel_axis: Optional[int] = None,
) -> np.ndarray:
    """Total-variation denoising by Chambolle's projection algorithm, as scikit-image's.

    Minimises ``½‖x − image‖² + weight·TV(x)`` (isotropic TV, forward differences) with
    Chambolle's iteration at step 1/4, stopping when the energy
    ``(‖x − image‖² + weight·TV(x)) / size`` changes by less than ``eps`` times its first value,
    or after ``max_num_iter`` passes: scikit-image's rule, so the result is scikit-image's.

    Parameters
    ----------
    image : ndarray, 2-D float (or 3-D with ``channel_axis``)
        float16 and float32 images are returned as float32 (computed in float64), float64 as
        float64; integer images raise ``TypeError`` (convert with ``skimage.img_as_float``).
    weight : float > 0
        Denoising weight λ; larger is smoother.
    eps : float ≥ 0
        Relative tolerance of the stopping rule (0: run ``max_num_iter`` passes).
    max_num_iter : int ≥ 1
    channel_axis : int, optional
        Axis of a 3-D image holding channels, each denoised on its own.
    """
    arr = np.asarray(image)
    if arr.dtype.kind != "f":
        raise TypeError(f"image must be a float array, got dtype {arr.dtype} (convert integer images with skimage.img_as_float)")
    out_dtype = np.dtype(np.float32) if arr.dtype.itemsize <= 4 else np.dtype(np.float64)
    if isinstance(max_num_iter, bool) or not isinstance(max_num_iter, (int, np.integer)) or max_num_iter < 1:
        raise ValueError(f"max_num_iter must be an integer ≥ 1, got {max_num_iter!r}")
    try:
        weight, eps = float(weight), float(eps)
    except (TypeError, ValueError):
        raise TypeError("weight and eps must be numbers") from None
    if channel_axis is None:
        if arr.ndim != 2:
            raise ValueError(f"image must be 2-D (grayscale), got shape {arr.shape}; give channel_axis for a 3-D image with channels")
        if arr.size == 0:
            raise ValueError(f"image is empty (shape {arr.shape})")
        return _channel(arr, weight, eps, int(max_num_iter)).astype(out_dtype, copy=False)
    if arr.ndim != 3:
        raise ValueError(f"with channel_axis, image must be 3-D (2-D channels), got shape {arr.shape}")
    axis = channel_axis % arr.ndim
    moved = np.moveaxis(arr, axis, 0)
    if moved[0].size == 0 or moved.shape[0] == 0:
        raise ValueError(f"image is empty (shape {arr.shape})")
    out = np.stack([_channel(c, weight, eps, int(max_num_iter)) for c in moved])
    return np.moveaxis(out, 0, axis).astype(out_dtype, copy=False)
