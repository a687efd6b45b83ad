#!/usr/bin/env python3
"""Cross-check `reglab penalty` against an independent PyTorch (float64, autograd) implementation.

For a seeded random model (float32 safetensors: linear layers of several shapes, a conv kernel
with and without bias, 1-D biases) and an init file W0, it runs

    reglab penalty --weights W --init W0 --reg X --json --grad-out G

for each of the six regularizers separately and for the sum of all six, and compares
- every (reg, tensor) value and the total: |a - b| / |b|
- every gradient tensor: ||ga - gb|| / ||gb||  (tensors with a zero reference gradient must be 0)

against the reference. Passes when every relative error is below --tol (default 1e-5); prints a
table and exits 1 otherwise. Run by hand, not in CI (see README.md).
"""

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from safetensors.numpy import load_file, save_file

torch.set_default_dtype(torch.float64)

LAM = {
    "l2": 0.3,
    "l1": 0.07,
    "l2-init": 1.7,
    "wasserstein-init": 0.9,
    "spectral": 0.05,
    "soft-orth": 0.02,
}
ORDER = ["l2", "l1", "l2-init", "wasserstein-init", "spectral", "soft-orth"]

# name -> shape; PyTorch layout.
LAYOUT = [
    ("fc1.weight", (30, 50)),
    ("fc1.bias", (30,)),
    ("fc2.weight", (50, 30)),
    ("fc2.bias", (50,)),
    ("sq.weight", (7, 7)),  # no bias
    ("conv1.weight", (8, 3, 3, 3)),
    ("conv1.bias", (8,)),
    ("conv2.weight", (8, 3, 3, 3)),  # no bias
    ("head.weight", (5, 50)),
    ("head.bias", (5,)),
    ("norm.weight", (50,)),  # a lone 1-D tensor (no matching P.weight matrix)
]


def make_files(seed, d, spike=False):
    rng = np.random.default_rng(seed)
    w, w0 = {}, {}
    for name, shape in LAYOUT:
        while True:
            a = rng.uniform(-0.5, 0.5, size=shape)
            if spike and len(shape) >= 2:
                # add a rank-one component so that σ₁ is well separated from σ₂ (power iteration
                # then converges in a few steps and u, v are accurate to ~1e-12)
                x, y = rng.standard_normal(shape[0]), rng.standard_normal(int(np.prod(shape[1:])))
                a = a + (3.0 * np.outer(x / np.linalg.norm(x), y / np.linalg.norm(y)) * math.sqrt(a.size) / 4).reshape(shape)
            a = a.astype(np.float32)
            # l1: no exact zeros (sign); wasserstein: distinct values (else the sort permutation,
            # and so the gradient, is ambiguous). float32 collisions happen by chance: redraw.
            if np.all(a != 0) and len(np.unique(a)) == a.size:
                break
        w[name] = a
        # the init is a perturbation of the weights plus an independent draw, so W - W0 is not tiny
        w0[name] = (0.5 * w[name] + rng.uniform(-0.3, 0.3, size=shape)).astype(np.float32)
    pw, pi = os.path.join(d, "w.safetensors"), os.path.join(d, "w0.safetensors")
    save_file(w, pw)
    save_file(w0, pi)
    return pw, pi, w, w0


# ---------------------------------------------------------------- reference (float64 autograd)


def as_matrix(t):
    return t.reshape(t.shape[0], -1)


def bias_of(name, w):
    """`P.bias` of `P.weight` when the file holds it with shape [out]."""
    if not name.endswith("weight"):
        return None
    b = name[: -len("weight")] + "bias"
    if b in w and tuple(w[b].shape) == (w[name].shape[0],):
        return b
    return None


def reference(reg, lam, w, w0):
    """Per-tensor terms {tensor: value} and gradients {tensor: ndarray} of lam * r."""
    params = {n: torch.tensor(a, dtype=torch.float64, requires_grad=True) for n, a in w.items()}
    inits = {n: torch.tensor(a, dtype=torch.float64) for n, a in w0.items()}
    terms = {}
    for name, _ in LAYOUT:
        p = params[name]
        if reg == "l2":
            v = lam / 2 * (p * p).sum()
        elif reg == "l1":
            v = lam * p.abs().sum()
        elif reg == "l2-init":
            v = lam / 2 * ((p - inits[name]) ** 2).sum()
        elif reg == "wasserstein-init":
            a = torch.sort(p.reshape(-1)).values
            b = torch.sort(inits[name].reshape(-1)).values
            v = lam * ((a - b) ** 2).sum()
        elif reg == "spectral":
            if p.dim() < 2:
                continue
            m = as_matrix(p)
            b = bias_of(name, w)
            if b is not None:
                m = torch.cat([m, params[b].reshape(-1, 1)], dim=1)
            s = torch.linalg.matrix_norm(m, ord=2)
            v = lam * (s * s - 1) ** 2
        elif reg == "soft-orth":
            if p.dim() < 2:
                continue
            m = as_matrix(p)
            e = m @ m.T - torch.eye(m.shape[0])
            v = lam * (e * e).sum()
        else:
            raise ValueError(reg)
        terms[name] = v
    total = sum(terms.values())
    total.backward()
    grads = {n: (p.grad.numpy() if p.grad is not None else np.zeros(p.shape)) for n, p in params.items()}
    return {n: float(v.detach()) for n, v in terms.items()}, grads


def spectral_diagnostics(w):
    """reglab computes σ, u, v by power iteration stopped when σ changes by < 1e-12 relative.

    σ is then accurate to ~1e-12, but u, v (and the gradient ∝ u vᵀ) only to about
    θ ≈ sqrt(2·1e-12 / ((1 − r⁴)(1 − r²))), r = σ₂/σ₁: for a small spectral gap this exceeds
    1e-5. Prints r and that estimate per matrix, next to the gradient error of a float64 power
    iteration with the same stopping rule (random start), so a spectral gradient mismatch can be
    told apart from a wrong formula.
    """
    print("spectral: gap and expected gradient accuracy of a power iteration stopped at |Δσ|/σ ≤ 1e-12")
    print("| tensor | W̃ shape | σ₁ | σ₂ | r = σ₂/σ₁ | est. u vᵀ rel err | sim. power-iteration rel err (iters) |")
    print("|---|---|---:|---:|---:|---:|---:|")
    rng = np.random.default_rng(12345)
    for name, _ in LAYOUT:
        if w[name].ndim < 2:
            continue
        m = w[name].reshape(w[name].shape[0], -1).astype(np.float64)
        b = bias_of(name, w)
        if b is not None:
            m = np.concatenate([m, w[b].reshape(-1, 1).astype(np.float64)], axis=1)
        uu, s, vt = np.linalg.svd(m)
        r = s[1] / s[0]
        est = math.sqrt(2e-12 / ((1 - r**4) * (1 - r**2)))
        u = rng.standard_normal(m.shape[0])
        u /= np.linalg.norm(u)
        sigma = 0.0
        for it in range(1, 10001):
            v = m.T @ u
            v /= np.linalg.norm(v)
            t = m @ v
            sn = np.linalg.norm(t)
            u = t / sn
            done = abs(sn - sigma) <= 1e-12 * sn
            sigma = sn
            if done:
                break
        g, ge = np.outer(u, v), np.outer(uu[:, 0], vt[0])
        ge *= np.sign(np.sum(g * ge))
        err = np.linalg.norm(g - ge) / np.linalg.norm(ge)
        print(f"| {name} | {list(m.shape)} | {s[0]:.4f} | {s[1]:.4f} | {r:.4f} | {est:.1e} | {err:.1e} ({it}) |")


# ---------------------------------------------------------------- reglab


def run_reglab(exe, pw, pi, regs, d):
    g = os.path.join(d, "g.safetensors")
    if os.path.exists(g):
        os.remove(g)
    cmd = [exe, "penalty", "--weights", pw, "--init", pi, "--json", "--grad-out", g]
    for r in regs:
        cmd += ["--reg", f"{r}={LAM[r]!r}"]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stderr}")
    return json.loads(out.stdout), load_file(g)


def rel(a, b):
    if b == 0:
        return abs(a)
    return abs(a - b) / abs(b)


def compare(label, regs, exe, pw, pi, w, w0, d):
    """Returns rows (kind, reg, tensor, reglab, reference, relerr) for one invocation."""
    rep, grads = run_reglab(exe, pw, pi, regs, d)
    rows = []
    ref_total = 0.0
    ref_grad = {n: np.zeros(a.shape) for n, a in w.items()}
    seen = set()
    for r in regs:
        terms, g = reference(r, LAM[r], w, w0)
        for n in g:
            ref_grad[n] += g[n]
        got = {t["tensor"]: t["value"] for t in rep["terms"] if t["reg"] == r}
        for n in sorted(set(terms) | set(got)):
            seen.add((r, n))
            if n not in got or n not in terms:
                rows.append(("value", label, f"{r}:{n}", got.get(n, math.nan), terms.get(n, math.nan), math.inf))
                continue
            rows.append(("value", label, f"{r}:{n}", got[n], terms[n], rel(got[n], terms[n])))
        ref_total += sum(terms.values())
    for t in rep["terms"]:  # rows reglab printed that the reference has no notion of
        if (t["reg"], t["tensor"]) not in seen:
            rows.append(("value", label, f"{t['reg']}:{t['tensor']}", t["value"], math.nan, math.inf))
    rows.append(("total", label, "total", rep["total"], ref_total, rel(rep["total"], ref_total)))
    for n in sorted(w):
        if n not in grads:
            rows.append(("grad", label, n, math.nan, float(np.linalg.norm(ref_grad[n])), math.inf))
            continue
        ga = grads[n].astype(np.float64)
        if ga.shape != ref_grad[n].shape:
            rows.append(("grad", label, n, math.nan, math.nan, math.inf))
            continue
        nb = float(np.linalg.norm(ref_grad[n]))
        err = float(np.linalg.norm(ga - ref_grad[n]))
        rows.append(("grad", label, n, float(np.linalg.norm(ga)), nb, err / nb if nb > 0 else err))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reglab", default="target/release/reglab")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tol", type=float, default=1e-5)
    ap.add_argument(
        "--spectral-grad-tol",
        type=float,
        default=None,
        help="tolerance for gradients of runs that include spectral (default: --tol); see README.md",
    )
    ap.add_argument(
        "--spike",
        action="store_true",
        help="add a rank-one spike to every matrix so σ₁/σ₂ is large (isolates the spectral formula from power-iteration convergence)",
    )
    ap.add_argument("--verbose", "-v", action="store_true", help="print every compared row")
    args = ap.parse_args()
    exe = os.path.abspath(args.reglab)
    if not os.path.exists(exe):
        sys.exit(f"no reglab binary at {exe} (cargo build --release -p reglab, or pass --reglab)")

    with tempfile.TemporaryDirectory() as d:
        pw, pi, w, w0 = make_files(args.seed, d, args.spike)
        runs = [(r, [r]) for r in ORDER] + [("all six", ORDER)]
        all_rows = []
        summary = []
        for label, regs in runs:
            rows = compare(label, regs, exe, pw, pi, w, w0, d)
            all_rows += rows
            worst = {k: max([r for r in rows if r[0] == k], key=lambda r: r[5]) for k in ("value", "total", "grad")}
            summary.append((label, worst))

    spectral_gtol = args.spectral_grad_tol if args.spectral_grad_tol is not None else args.tol
    print(f"reglab penalty vs PyTorch {torch.__version__} float64 autograd, seed {args.seed}{' (spiked matrices)' if args.spike else ''}, tol {args.tol:g}, spectral grad tol {spectral_gtol:g}")
    print(f"tensors: " + ", ".join(f"{n}{list(s)}" for n, s in LAYOUT))
    print(f"lambdas: " + ", ".join(f"{r}={LAM[r]}" for r in ORDER))
    print()
    if args.verbose:
        print("| run | kind | term | reglab | reference | rel err |")
        print("|---|---|---|---:|---:|---:|")
        for k, label, t, a, b, e in all_rows:
            print(f"| {label} | {k} | {t} | {a:.10g} | {b:.10g} | {e:.2e} |")
        print()
    print("| --reg | max rel err value (term) | total rel err | max rel err grad (tensor) | ok |")
    print("|---|---|---:|---|---|")
    fail = False
    for label, worst in summary:
        v, t, g = worst["value"], worst["total"], worst["grad"]
        gtol = spectral_gtol if "spectral" in dict(runs)[label] else args.tol
        ok = max(v[5], t[5]) < args.tol and g[5] < gtol
        fail |= not ok
        print(f"| {label} | {v[5]:.2e} ({v[2]}) | {t[5]:.2e} | {g[5]:.2e} ({g[2]}) | {'PASS' if ok else 'FAIL'} |")
    bad = [
        r
        for r in all_rows
        if not r[5] < (spectral_gtol if r[0] == "grad" and "spectral" in dict(runs)[r[1]] else args.tol)
    ]
    if bad:
        print()
        print("failures:")
        print("| run | kind | term | reglab | reference | rel err |")
        print("|---|---|---|---:|---:|---:|")
        for k, label, t, a, b, e in bad:
            print(f"| {label} | {k} | {t} | {a:.10g} | {b:.10g} | {e:.2e} |")
    print()
    spectral_diagnostics(w)
    print()
    print("FAIL" if fail else "PASS")
    sys.exit(1 if fail else 0)


if __name__ == "__main__":
    main()
