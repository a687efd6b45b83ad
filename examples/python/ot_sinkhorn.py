#!/usr/bin/env python3
"""POT-style optimal transport with reglab: the same call as POT's `ot.sinkhorn`.

Two point clouds in the plane, squared Euclidean costs, entropic OT at ε = 0.05 (plain and
log-domain Sinkhorn); with POT installed, the plans are compared with POT's on the same input.

    python examples/python/ot_sinkhorn.py
"""

import numpy as np

import reglab.ot

rng = np.random.default_rng(0)
n, m = 200, 150
xs = rng.normal(size=(n, 2))
xt = rng.normal(loc=(4.0, 1.0), scale=(1.0, 0.5), size=(m, 2))
a, b = np.full(n, 1 / n), np.full(m, 1 / m)  # histograms summing to 1
M = ((xs[:, None, :] - xt[None, :, :]) ** 2).sum(-1)
M /= M.max()

plan, log = reglab.ot.sinkhorn(a, b, M, reg=0.05, log=True)  # as ot.sinkhorn(a, b, M, 0.05, log=True)
plan_log = reglab.ot.sinkhorn_log(a, b, M, reg=0.01)  # small ε: log-domain iterations
print(f"ε = 0.05: ⟨M, T⟩ = {(plan * M).sum():.6f}, {log['niter']} iterations, marginal error {log['err'][0]:.1e}")
print(f"ε = 0.01 (log domain): ⟨M, T⟩ = {(plan_log * M).sum():.6f}")
try:
    import ot
except ImportError:
    print("(POT not installed: pip install pot to compare)")
else:
    ref = ot.sinkhorn(a, b, M, 0.05)
    print(f"POT's ot.sinkhorn, same input: max |T_reglab − T_POT| = {np.abs(plan - ref).max():.1e} (entries ~{plan.max():.1e})")
