#!/usr/bin/env python3
"""PyTorch (CPU, 1 thread, float32 autograd) timings of the six reglab penalties, for comparison
with reglab's criterion benches (crates/reglab-train/benches/{regularizers,train_step}.rs).

1. Penalty alone: value + gradient (torch.autograd.grad) of each penalty on one layer, weights of
   PyTorch shape [400, 400] and [400, 784] (U(-1/√in, 1/√in), PyTorch's default init scale), with
   a bias [400] (spectral joins it as the extra column of [W | b]) and an init tensor W0 (l2-init,
   wasserstein-init). Strength 1 (it does not change the cost).
2. One training step of an MLP 784-400-400-10 (nn.Linear, ReLU), batch 128 (a fixed batch of
   inputs in [0, 1], random labels), Adam lr 1e-3, cross-entropy; without a penalty and with
   each penalty (strength 1e-4) added to the loss. As in reglab's training defaults, the
   penalties act on the three layer weights (spectral joins each layer's bias); W0 is the
   model's initial weights. l1 is a plain autograd penalty here (reglab trains it with a
   proximal step instead).

Algorithms, chosen to match what reglab does in training:
- spectral: ONE power-iteration step per call with persistent u, v (no grad through them):
  v ← normalize(W̃ᵀu), u ← normalize(W̃v), σ = ‖W̃v‖ (with grad), r = (σ² − 1)². W̃ is never
  formed: W̃v = W v[:in] + b·v[in].
- wasserstein-init: torch.sort of the flattened weight against the sorted init (sorted once,
  cached): Σ (sort(w) − sort(w0))².
- soft-orth: ‖W Wᵀ − I‖²_F; l2: ½‖W‖²; l2-init: ½‖W − W0‖²; l1: Σ|w|.

With --reglab (the Python package installed: `pip install .`), the same calls through
reglab.torch.Regularizer in the same run: its forward computes the value and reglab's analytic
gradient in Rust (one power-iteration step per call for spectral, as here), its backward hands
that gradient to autograd; in the training step l1 is reglab's proximal step (after_step), as in
`reglab train`. Tables then show both and the ratio PyTorch / reglab.torch.

Timing: time.perf_counter, warm-up, then the median over many samples (each sample runs the
call enough times to last about --sample-ms, and is divided by that count). Prints markdown
tables of medians in µs. Run by hand, not in CI (see README.md).
"""

import argparse
import os
import platform
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

ORDER = ["l2", "l1", "l2-init", "wasserstein-init", "spectral", "soft-orth"]


# ---------------------------------------------------------------- penalties


class Penalty:
    """λ·r over a list of (weight, bias or None, init or None). Holds per-layer state (power
    iteration vectors, sorted inits)."""

    def __init__(self, name, layers, lam):
        self.name, self.layers, self.lam = name, layers, lam
        self.sorted_init = [None] * len(layers)
        self.uv = [None] * len(layers)
        g = torch.Generator().manual_seed(0)
        for i, (w, b, w0) in enumerate(layers):
            if name == "wasserstein-init":
                self.sorted_init[i] = torch.sort(w0.detach().reshape(-1)).values
            if name == "spectral":
                out = w.shape[0]
                cols = w[0].numel() + (1 if b is not None else 0)
                u = torch.rand(out, generator=g) * 2 - 1
                v = torch.rand(cols, generator=g) * 2 - 1
                self.uv[i] = (u / u.norm(), v / v.norm())

    def __call__(self):
        total = 0.0
        for i, (w, b, w0) in enumerate(self.layers):
            total = total + self.one(i, w, b, w0)
        return self.lam * total

    def one(self, i, w, b, w0):
        n = self.name
        if n == "l2":
            return 0.5 * (w * w).sum()
        if n == "l1":
            return w.abs().sum()
        if n == "l2-init":
            d = w - w0
            return 0.5 * (d * d).sum()
        if n == "wasserstein-init":
            d = torch.sort(w.reshape(-1)).values - self.sorted_init[i]
            return (d * d).sum()
        if n == "soft-orth":
            m = w.reshape(w.shape[0], -1)
            e = m @ m.T - torch.eye(m.shape[0], dtype=m.dtype)
            return (e * e).sum()
        if n == "spectral":
            m = w.reshape(w.shape[0], -1)
            cols = m.shape[1]
            u, v = self.uv[i]
            with torch.no_grad():
                v = m.T @ u
                if b is not None:
                    v = torch.cat([v, (b @ u).reshape(1)])
                v = v / v.norm()
                wv = m @ v[:cols]
                if b is not None:
                    wv = wv + b * v[cols]
                u = wv / wv.norm()
                self.uv[i] = (u, v)
            wv = m @ v[:cols]  # with grad: σ = ‖W̃v‖, ∂σ/∂W̃ = u vᵀ
            if b is not None:
                wv = wv + b * v[cols]
            s2 = (wv * wv).sum()
            return (s2 - 1) ** 2
        raise ValueError(n)


# ---------------------------------------------------------------- timing


def measure(fn, sample_ms, samples, warmup_s):
    """Median seconds per call of fn()."""
    t0 = time.perf_counter()
    n = 0
    while time.perf_counter() - t0 < warmup_s or n < 3:
        fn()
        n += 1
    per = (time.perf_counter() - t0) / n
    inner = max(1, int(sample_ms * 1e-3 / per))
    ts = []
    for _ in range(samples):
        t = time.perf_counter()
        for _ in range(inner):
            fn()
        ts.append((time.perf_counter() - t) / inner)
    return statistics.median(ts), inner


def reglab_penalty_call(name, w, b, w0, lam):
    """The same penalty through reglab.torch: value + gradient of [w, b] (b joined by spectral)."""
    import reglab.torch as rt

    joined = name == "spectral"
    params = {"layer.weight": w, "layer.bias": b}
    init = {"layer.weight": w0} if name in ("l2-init", "wasserstein-init") else None
    reg = rt.Regularizer(params, f"{name}={lam}", prox=False, init=init)
    wrt = [w, b] if joined else [w]

    def call():
        v = reg()
        return v.detach(), torch.autograd.grad(v, wrt)

    # the same through add_grad: written into .grad, no autograd (grads accumulate across calls,
    # which does not change the cost)
    reg2 = rt.Regularizer({"layer.weight": w.detach().clone(), "layer.bias": b.detach().clone()}, f"{name}={lam}", prox=False, init=init)
    for _, t in reg2._params:
        t.grad = torch.zeros_like(t)

    return call, reg2.add_grad


def bench_penalties(args):
    rows = []
    for s, (out, inp) in enumerate([(400, 400), (400, 784)]):
        g = torch.Generator().manual_seed(100 * s)
        k = 1 / inp**0.5
        w = ((torch.rand(out, inp, generator=g) * 2 - 1) * k).requires_grad_()
        b = ((torch.rand(out, generator=g) * 2 - 1) * k).requires_grad_()
        w0 = (torch.rand(out, inp, generator=g) * 2 - 1) * k
        for name in ORDER:
            joined = name == "spectral"
            pen = Penalty(name, [(w, b if joined else None, w0)], 1.0)
            wrt = [w, b] if joined else [w]

            def call():
                v = pen()
                return v.detach(), torch.autograd.grad(v, wrt)

            v, grads = call()
            assert torch.isfinite(v), (name, v)
            med, inner = measure(call, args.sample_ms, args.samples, args.warmup)
            rg = ra = None
            if args.reglab:
                rcall, radd = reglab_penalty_call(name, w, b, w0, 1.0)
                rv, rgrads = rcall()
                if name != "spectral":  # (spectral: both start their power iteration from different vectors)
                    assert torch.allclose(rv, v, rtol=1e-4), (name, rv, v)
                    for x, y in zip(rgrads, grads):
                        if name == "wasserstein-init":
                            # tied entries (torch.rand repeats float32 values) may take their
                            # sorted targets in either order: compare the gradients as multisets
                            x, y = torch.sort(x.reshape(-1)).values, torch.sort(y.reshape(-1)).values
                        assert torch.allclose(x, y, rtol=1e-3, atol=1e-6 * float(y.abs().max())), name
                rg, _ = measure(rcall, args.sample_ms, args.samples, args.warmup)
                ra, _ = measure(radd, args.sample_ms, args.samples, args.warmup)
            rows.append((name, f"{out}x{inp}", med, inner, (rg, ra)))
            extra = "" if rg is None else f"   reglab.torch {rg * 1e6:9.1f} µs ({med / rg:.2f}×), add_grad {ra * 1e6:9.1f} µs ({med / ra:.2f}×)"
            print(f"  penalty {name:17s} {out}x{inp}: {med * 1e6:9.1f} µs  ({inner} calls/sample){extra}", flush=True)
    return rows


def make_mlp(seed):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(784, 400), nn.ReLU(), nn.Linear(400, 400), nn.ReLU(), nn.Linear(400, 10))


def bench_steps(args):
    g = torch.Generator().manual_seed(11)
    x = torch.rand(128, 784, generator=g)
    y = torch.randint(0, 10, (128,), generator=g)
    rows = []
    for name in [None] + ORDER:
        for via in ["torch", "reglab", "add_grad"] if args.reglab and name is not None else ["torch"]:
            model = make_mlp(0)
            linears = [m for m in model if isinstance(m, nn.Linear)]
            inits = [l.weight.detach().clone() for l in linears]
            opt = torch.optim.Adam(model.parameters(), lr=1e-3)
            pen = reg = None
            if name is not None and via == "torch":
                layers = [(l.weight, l.bias if name == "spectral" else None, w0) for l, w0 in zip(linears, inits)]
                pen = Penalty(name, layers, 1e-4)
            if name is not None and via in ("reglab", "add_grad"):
                import reglab.torch as rt

                reg = rt.Regularizer(model, f"{name}=1e-4")

            def step():
                opt.zero_grad(set_to_none=True)
                loss = F.cross_entropy(model(x), y)
                if pen is not None:
                    loss = loss + pen()
                if reg is not None and via == "reglab":
                    loss = loss + reg()
                loss.backward()
                if reg is not None and via == "add_grad":
                    reg.add_grad()
                opt.step()
                if reg is not None:
                    reg.after_step(1e-3)
                return loss.detach()

            step()
            med, inner = measure(step, args.sample_ms, args.step_samples, args.warmup)
            rows.append((name or "none", via, med, inner))
            print(f"  step {name or 'none':17s} {via:8s}: {med * 1e6:9.1f} µs  ({inner} calls/sample)", flush=True)
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--samples", type=int, default=60, help="samples per penalty (median taken)")
    ap.add_argument("--step-samples", type=int, default=60, help="samples per training step (median taken)")
    ap.add_argument("--sample-ms", type=float, default=5.0, help="target duration of one sample")
    ap.add_argument("--warmup", type=float, default=0.5, help="warm-up seconds per measurement")
    ap.add_argument("--reglab", action="store_true", help="also time reglab.torch.Regularizer (pip install . first)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(args.threads)
    except RuntimeError:
        pass
    torch.set_grad_enabled(True)

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()} (interop {torch.get_num_interop_threads()}), "
          f"float32, CPU: {cpu}, {os.cpu_count()} logical CPUs, python {platform.python_version()}")
    print(f"timing: perf_counter, {args.warmup}s warm-up, median of {args.samples} (penalties) / "
          f"{args.step_samples} (steps) samples of ~{args.sample_ms} ms")
    print()
    prow = bench_penalties(args)
    srow = bench_steps(args)

    print()
    print("### Penalty value + gradient (one layer; spectral with bias; median µs)")
    print()
    by = {(n, sz): (m, r) for n, sz, m, _, r in prow}
    if args.reglab:
        print("| penalty | shape | PyTorch autograd | reglab.torch `reg()` | ratio | reglab.torch `add_grad()` | ratio |")
        print("|---|---|---:|---:|---:|---:|---:|")
        for n in ORDER:
            for sz in ("400x400", "400x784"):
                m, (r, a) = by[(n, sz)]
                print(f"| {n} | {sz} | {m * 1e6:.1f} | {r * 1e6:.1f} | {m / r:.2f}× | {a * 1e6:.1f} | {m / a:.2f}× |")
    else:
        print("| penalty | 400x400 | 400x784 |")
        print("|---|---:|---:|")
        for n in ORDER:
            print(f"| {n} | {by[(n, '400x400')][0] * 1e6:.1f} | {by[(n, '400x784')][0] * 1e6:.1f} |")
    print()
    print("### Training step, MLP 784-400-400-10, batch 128, Adam (median µs)")
    print()
    base = srow[0][2]
    steps = {(n, via): m for n, via, m, _ in srow}
    if args.reglab:
        print("| penalty (λ=1e-4) | PyTorch step µs | overhead vs none | reglab.torch `reg()` | overhead | reglab.torch `add_grad()` | overhead |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        print(f"| none | {base * 1e6:.1f} | — | — | — | — | — |")
        for n in ORDER:
            t, r, a = steps[(n, "torch")], steps[(n, "reglab")], steps[(n, "add_grad")]
            print(f"| {n} | {t * 1e6:.1f} | {(t / base - 1) * 100:+.1f} % | {r * 1e6:.1f} | {(r / base - 1) * 100:+.1f} % | {a * 1e6:.1f} | {(a / base - 1) * 100:+.1f} % |")
    else:
        print("| penalty (λ=1e-4) | step µs | overhead vs none |")
        print("|---|---:|---:|")
        for n, via, m, _ in srow:
            ov = "—" if n == "none" else f"{(m / base - 1) * 100:+.1f} %"
            print(f"| {n} | {m * 1e6:.1f} | {ov} |")


if __name__ == "__main__":
    main()
