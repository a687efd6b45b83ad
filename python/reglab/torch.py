"""reglab's regularizers in a PyTorch training loop.

Two lines in an existing loop (or ``reg.add_grad()`` after ``loss.backward()`` instead of adding
``reg()`` to the loss: the gradient written straight into ``.grad``, no autograd)::

    reg = reglab.torch.Regularizer(model, "spectral=1e-3", "l2-init=1e-2")
    ...
    loss = criterion(model(x), y) + reg()     # the penalty, with reglab's analytic gradient
    loss.backward(); opt.step()
    reg.after_step(lr)                        # proximal steps, post-step transforms, step count

``reg()`` is one ``torch.autograd.Function`` over the whole sum of terms: its forward calls the
Rust implementation (the same code as ``reglab train``) and its backward returns the gradient
reglab computed there, so autograd never traces the penalty. Parameters are passed to Rust without
a copy when they are contiguous ``float32`` CPU tensors; others (``float64``, CUDA, non-contiguous)
are copied to ``float32`` on the CPU and the gradient comes back in their dtype and device.

PyTorch is imported by this module only (``import reglab`` does not need it).
"""

from __future__ import annotations

import math
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from . import _native

__all__ = ["Regularizer"]

Params = Union[torch.nn.Module, Mapping[str, torch.Tensor], Iterable[Tuple[str, torch.Tensor]]]


def _named(params: Params) -> List[Tuple[str, torch.Tensor]]:
    if isinstance(params, torch.nn.Module):
        return list(params.named_parameters())
    if isinstance(params, Mapping):
        items = list(params.items())
    else:
        try:
            items = list(params)
        except TypeError:
            raise TypeError(
                f"Regularizer takes a torch.nn.Module, a dict name → tensor or (name, tensor) pairs, got {type(params).__name__}"
            ) from None
    for item in items:
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str) and isinstance(item[1], torch.Tensor)):
            raise TypeError("Regularizer takes a torch.nn.Module, a dict name → tensor or (name, tensor) pairs")
    return items


def _check_tensor(name: str, t: torch.Tensor) -> None:
    if t.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"parameter `{name}` has dtype {t.dtype}: reglab regularizes float32 and float64 parameters")
    if t.numel() == 0:
        raise ValueError(f"parameter `{name}` is empty (shape {tuple(t.shape)})")


def _is_view(t: torch.Tensor) -> bool:
    """Whether NumPy can see `t`'s memory as a C-contiguous float32 array."""
    return t.device.type == "cpu" and t.dtype == torch.float32 and t.is_contiguous()


def _host_f32(t: torch.Tensor) -> np.ndarray:
    """`t` as a C-contiguous float32 NumPy array: its own memory when `_is_view(t)`, else a copy."""
    t = t.detach()
    if not _is_view(t):
        t = t.to(device="cpu", dtype=torch.float32).contiguous()
    return t.numpy()


def _finite(what: str, a: np.ndarray) -> None:
    if not np.isfinite(a).all():
        i = int(np.flatnonzero(~np.isfinite(a))[0])
        raise ValueError(f"{what} has a non-finite value ({a.reshape(-1)[i]}) at flat index {i}")


class _Penalty(torch.autograd.Function):
    """Σ λ_t r(θ) with reglab's analytic gradient as the backward."""

    @staticmethod
    def forward(ctx: Any, reg: "Regularizer", want_grad: bool, *tensors: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        value, grads = reg._evaluate(tensors, want_grad)
        ctx.grads = grads
        return torch.tensor(value, dtype=tensors[0].dtype, device=tensors[0].device)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, out: torch.Tensor) -> Tuple[Optional[torch.Tensor], ...]:  # type: ignore[override]
        grads = ctx.grads
        if grads is None:
            raise RuntimeError("reglab.torch: the penalty was computed without its gradient (under torch.no_grad())")
        if out.numel() == 1 and float(out) == 1.0:  # loss = … + reg(): the gradient as computed, no copy
            return (None, None, *grads)
        return (None, None, *[out * g for g in grads])


class Regularizer:
    """A sum of reglab regularizers on a module's parameters, for a PyTorch training loop.

    Parameters
    ----------
    module : torch.nn.Module, dict name → tensor, or (name, tensor) pairs
        Whose parameters are regularized, by their names (``fc1.weight``, ``0.bias``, ...).
    *specs : str
        Terms as on the command line, ``NAME=λ[:key=value,...]`` (``reglab list``): every
        parameter-space regularizer. A term's ``select=GLOB[|GLOB...]`` chooses its parameters by
        name; without it a term sees ``select`` below. Tensors in PyTorch's orientation
        (``[out, in]``, conv kernels ``[out, in, kh, kw]`` read as ``[out, in·kh·kw]``); a term
        that joins the bias (``spectral``) reads ``P.bias`` as the extra column of ``P.weight``.
    select : str, optional
        Glob patterns (joined by ``|``) of the parameters the terms without their own ``select``
        see; default: the layer weights (``*.weight`` of rank ≥ 2), as in ``reglab train``.
    prox : bool
        Terms with a proximal step (``l1``, ``elastic-net``, ``group-lasso``) are applied by
        ``after_step`` (default, as in training; ``reg()`` still counts their value but gives
        them no gradient); ``False``: their subgradient goes through ``reg()`` instead.
    exact : bool
        Iterate σ_max (and other iterative quantities) to convergence at every call, as
        ``reglab penalty`` does (for checks such as ``torch.autograd.gradcheck``). Default: one
        refinement per call from the saved state, as in training (the state lives in
        ``state_dict``).
    seed : int
        Seed of the post-step transforms' randomness (shrink-and-perturb's noise).
    total_steps : int, optional
        Number of optimizer steps, for strength schedules that need it (``schedule=cosine``).
    init : dict name → tensor, optional
        The anchor W₀ of the terms that need one (``l2-init``, ``l2-sp``, ``wasserstein-init``,
        ...), e.g. the pretrained ``state_dict()``; it must hold every selected parameter, with its
        shape. Default: the parameters' values when the Regularizer is created.

    Strengths follow their schedules over ``step``, the number of ``after_step`` calls. The
    penalty enters training either through the loss (``loss + reg()``) or, without autograd,
    through ``add_grad()`` after ``loss.backward()``; ``prune_magnitude`` adds pruning masks.
    """

    def __init__(
        self,
        module: Params,
        *specs: str,
        select: Optional[str] = None,
        prox: bool = True,
        exact: bool = False,
        seed: int = 0,
        total_steps: Optional[int] = None,
        init: Optional[Mapping[str, torch.Tensor]] = None,
    ) -> None:
        if not specs:
            raise ValueError("give at least one regularizer spec, e.g. Regularizer(model, 'spectral=1e-3')")
        if not all(isinstance(s, str) for s in specs):
            raise TypeError("regularizer specs are strings such as 'spectral=1e-3'")
        if select is not None and not isinstance(select, str):
            raise TypeError(f"select must be a glob pattern string, got {type(select).__name__}")
        if not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        self._set = _native.RegSet(list(specs), select)
        self.specs: Tuple[str, ...] = tuple(specs)
        self.select = select
        self.prox = bool(prox)
        self.exact = bool(exact)
        self.seed = seed
        if total_steps is not None and (not isinstance(total_steps, int) or total_steps <= 0):
            raise ValueError(f"total_steps must be a positive integer, got {total_steps!r}")
        if total_steps is None and self._set.needs_total():
            raise ValueError("a term's strength schedule (cosine) needs the number of optimizer steps: pass total_steps=")
        self.total_steps = total_steps
        named = _named(module)
        for name, t in named:
            _check_tensor(name, t)
        names = [n for n, _ in named]
        selected = self._set.selected(names, [list(t.shape) for _, t in named])
        if not any(selected):
            raise ValueError(
                f"no parameter is selected by {', '.join(specs)} (matrix regularizers skip 1-D tensors); "
                f"the parameters are: {', '.join(names) or 'none'}"
            )
        # the selected tensors and the biases of selected layer weights (joined by some terms)
        keep = set(n for n, s in zip(names, selected) if s)
        keep |= {n[: -len("weight")] + "bias" for n in keep if n.endswith("weight")}
        self._params: List[Tuple[str, torch.Tensor]] = [(n, t) for n, t in named if n in keep]
        self._selected = {n for n, s in zip(names, selected) if s}
        self._init: Dict[str, torch.Tensor] = {}
        if self._set.needs_init():
            source = dict(self._params) if init is None else init
            if not isinstance(source, Mapping):
                raise TypeError(f"init must be a dict name → tensor (a state_dict), got {type(source).__name__}")
            self._init = self._anchor(source, "init")
        elif init is not None:
            raise ValueError(f"init is given but none of {', '.join(specs)} uses initial weights")
        self.step = 0
        self.last_values: Dict[str, float] = {}
        self._masks: Dict[str, torch.Tensor] = {}
        self._names = [n for n, _ in self._params]
        self._labels = self._set.labels()
        self._set_inits()

    def _set_inits(self) -> None:
        self._inits = [self._init[n].numpy() if n in self._init else None for n in self._names]

    def _anchor(self, source: Mapping[str, Any], what: str) -> Dict[str, torch.Tensor]:
        """W₀ of every selected parameter from `source` (float32 CPU copies), checked."""
        params = dict(self._params)
        out = {}
        for n in sorted(self._selected, key=self.names.index):
            if n not in source:
                raise ValueError(f"{what} has no initial value for the selected parameter `{n}`")
            t = source[n]
            if not isinstance(t, torch.Tensor):
                raise TypeError(f"{what}[{n!r}] must be a tensor, got {type(t).__name__}")
            if tuple(t.shape) != tuple(params[n].shape):
                raise ValueError(f"{what}[{n!r}] has shape {tuple(t.shape)}, the parameter {tuple(params[n].shape)}")
            out[n] = t.detach().to("cpu", torch.float32).clone()
            _finite(f"{what}[{n!r}]", out[n].numpy())
        return out

    @property
    def _total(self) -> int:
        """The step count schedules see as T (0 without ``total_steps``: only ``cosine`` reads it)."""
        return self.total_steps if self.total_steps is not None else 0

    @property
    def names(self) -> List[str]:
        """The parameters the terms act on (with the biases that join their layer's weight)."""
        return [n for n, _ in self._params]

    def __call__(self) -> torch.Tensor:
        """The penalty ``Σ λ_t r(θ)`` at ``step`` as a scalar tensor (the first parameter's dtype
        and device) whose backward is reglab's analytic gradient. Per-term values: ``last_values``."""
        tensors = [t for _, t in self._params]
        want_grad = torch.is_grad_enabled() and any(t.requires_grad for t in tensors)
        return _Penalty.apply(self, want_grad, *tensors)

    def _evaluate(self, tensors: Sequence[torch.Tensor], want_grad: bool) -> Tuple[float, Optional[List[torch.Tensor]]]:
        arrays = [_host_f32(t) for t in tensors]
        # (the native side checks the values for NaN/Inf, with the GIL released)
        value, per_term, grads = self._set.eval(self._names, arrays, self._inits, self.step, self._total, self.exact, self.prox, want_grad)
        self.last_values = dict(zip(self._labels, per_term))
        if grads is None:
            return value, None
        out = [torch.from_numpy(g).to(device=t.device, dtype=t.dtype) for g, t in zip(grads, tensors)]
        return value, out

    def add_grad(self) -> float:
        """The other way to train with it, without autograd: after ``loss.backward()`` (the loss
        without the penalty), add ``∇ Σ λ_t r(θ)`` into each parameter's ``.grad`` (set where it
        is ``None`` and the gradient is not zero) and return the penalty's value. reglab writes into ``.grad``
        in place when it is a contiguous ``float32`` CPU tensor, so nothing is allocated or
        copied: the optax-style path, with the least overhead per call. Same value, gradient and
        state update as ``reg()`` + ``backward()``.

        ::

            loss.backward()
            reg.add_grad()
            opt.step(); reg.after_step(optimizer=opt)
        """
        tensors = [t for _, t in self._params]
        arrays = [_host_f32(t) for t in tensors]
        # `.grad` itself where NumPy can see it, else a zero buffer added in afterwards
        direct = [t.grad is not None and _is_view(t.grad) for t in tensors]
        grads = [_host_f32(t.grad) if d else np.zeros(tuple(t.shape), dtype=np.float32) for t, d in zip(tensors, direct)]
        value, per_term = self._set.eval_into(self._names, arrays, self._inits, grads, self.step, self._total, self.exact, self.prox)
        for t, g, d in zip(tensors, grads, direct):
            if d:
                continue
            if t.grad is not None:
                t.grad.add_(torch.from_numpy(g).to(device=t.grad.device, dtype=t.grad.dtype))
            elif g.any():  # a tensor no term touched keeps .grad = None (optimizers skip it)
                t.grad = torch.from_numpy(g).to(device=t.device, dtype=t.dtype)
        self.last_values = dict(zip(self._labels, per_term))
        return value

    def prune_magnitude(self, sparsity: float, scope: str = "global") -> Dict[str, float]:
        """Magnitude pruning (Han et al., NeurIPS 2015), as ``reglab train --prune magnitude``:
        zero the ``round(sparsity·n)`` entries of smallest ``|w|`` among the ``n`` entries of the
        selected matrices (the terms' layer weights, rank ≥ 2), ranked together
        (``scope="global"``) or each tensor its share (``"layer"``), and keep them zero: every
        ``after_step`` writes the masks again after the optimizer's step. Called again with a
        larger sparsity (e.g. Zhu & Gupta's gradual schedule), the mask only grows: entries
        already pruned go first among equal ``|w|``. The masks are in ``state_dict``. Returns the
        sparsity of each masked tensor."""
        if isinstance(sparsity, bool) or not isinstance(sparsity, (int, float)) or not 0.0 <= sparsity < 1.0:
            raise ValueError(f"sparsity must be a fraction in [0, 1), got {sparsity!r}")
        if scope not in ("global", "layer"):
            raise ValueError(f"scope must be 'global' or 'layer', got {scope!r}")
        targets = [(n, t) for n, t in self._params if n in self._selected and t.dim() >= 2]
        if not targets:
            raise ValueError("no selected matrix to prune (magnitude pruning acts on tensors of rank ≥ 2)")
        arrays = [_host_f32(t) for _, t in targets]
        prev = [self._masks[n].numpy() if n in self._masks else None for n, _ in targets]
        masks = _native.magnitude_masks(arrays, prev, float(sparsity), scope)
        for (n, _), m in zip(targets, masks):
            self._masks[n] = torch.from_numpy(m)
        self._apply_masks()
        return {n: float((m == 0).mean()) for (n, _), m in zip(targets, masks)}

    def _apply_masks(self) -> None:
        with torch.no_grad():
            params = dict(self._params)
            for n, m in self._masks.items():
                t = params[n]
                t.mul_(m.to(device=t.device, dtype=t.dtype))

    def after_step(self, lr: Optional[float] = None, optimizer: Optional[torch.optim.Optimizer] = None) -> None:
        """After ``optimizer.step()``: the proximal steps ``θ ← prox_{lr·λ_t·r}(θ)`` and post-step
        transforms (shrink-and-perturb), in term order and in place, then the pruning masks
        (``prune_magnitude``), then ``step += 1``.

        ``lr`` is the learning rate of the step just taken (or give the ``optimizer``, whose
        parameter groups must share one learning rate); needed only when a term has a proximal
        step or a post-step transform."""
        if self._set.has_after_step():
            if lr is None and optimizer is not None:
                lrs = {float(g["lr"]) for g in optimizer.param_groups}
                if len(lrs) != 1:
                    raise ValueError(f"the optimizer's parameter groups have different learning rates {sorted(lrs)}: pass lr=")
                lr = lrs.pop()
            if lr is None:
                raise ValueError("a term has a proximal step or a post-step transform: pass the learning rate of the step just taken, after_step(lr)")
            if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr < 0:
                raise ValueError(f"lr must be a finite, non-negative number, got {lr!r}")
            with torch.no_grad():
                arrays = [_host_f32(t) for _, t in self._params]
                self._set.after_step(self._names, arrays, float(lr), self.step, self._total, self.seed)
                for (_, t), a in zip(self._params, arrays):
                    if not _is_view(t):
                        t.copy_(torch.from_numpy(a).to(device=t.device, dtype=t.dtype))
        if self._masks:
            self._apply_masks()
        self.step += 1

    def state_dict(self) -> Dict[str, Any]:
        """Everything needed to resume: the specs, the step, W₀ and each term's state (power
        iteration vectors, ...), as tensors."""
        return {
            "specs": list(self.specs),
            "select": self.select,
            "step": self.step,
            "init": {n: t.clone() for n, t in self._init.items()},
            "masks": {n: m.clone() for n, m in self._masks.items()},
            "state": {name: torch.from_numpy(np.asarray(v).reshape(shape).copy()) for name, shape, v in self._set.state()},
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what ``state_dict`` returned (for a Regularizer built with the same specs)."""
        if not isinstance(state, Mapping):
            raise TypeError(f"load_state_dict takes the dict state_dict() returned, got {type(state).__name__}")
        missing = [k for k in ("specs", "select", "step", "init", "state") if k not in state]
        if missing:
            raise ValueError(f"not a reglab.torch.Regularizer state_dict: no {', '.join(missing)}")
        if list(state["specs"]) != list(self.specs) or state["select"] != self.select:
            raise ValueError(
                f"the state_dict is of the regularizers {list(state['specs'])} (select={state['select']!r}), "
                f"this one has {list(self.specs)} (select={self.select!r})"
            )
        step = state["step"]
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise ValueError(f"state_dict step must be a non-negative integer, got {step!r}")
        new_init = self._anchor(dict(state["init"]), "the state_dict's init") if self._init else {}
        tensors = []
        for name, t in dict(state["state"]).items():
            a = np.ascontiguousarray(torch.as_tensor(t).detach().to("cpu", torch.float32).numpy())
            tensors.append((name, list(a.shape), a.reshape(-1)))
        masks = {}
        params = dict(self._params)
        for n, m in dict(state.get("masks", {})).items():
            if n not in params:
                raise ValueError(f"the state_dict has a mask for `{n}`, which this Regularizer does not regularize")
            m = torch.as_tensor(m).detach().to("cpu", torch.float32)
            if tuple(m.shape) != tuple(params[n].shape) or not bool(((m == 0) | (m == 1)).all()):
                raise ValueError(f"the state_dict's mask of `{n}` must be 0/1 values of the parameter's shape {tuple(params[n].shape)}")
            masks[n] = m.clone()
        self._set.load_state(tensors)
        self._masks = masks
        self._init = new_init
        self._set_inits()
        self.step = step
