"""POT beside reglab on the problem of one `reglab run experiments/sparse-ot.toml` run.

    /work/venv-torch/bin/python bench/compare/sparse_ot_pot.py DIR [--max-iter 10000]

What it compares
----------------
It reads the problem the run solved, `DIR/clouds.csv` (`side,index,x,y,weight`, the exact f64
bits reglab drew), and `DIR/results.json` (γ, ε, ks, `cost_scale` and reglab's rows), rebuilds
the cost `C = ‖x_i − y_j‖² / cost_scale` (and checks that its largest entry reproduces reglab's
`cost_scale` to 1e-12, relative), then solves it with POT (tested with 0.9.7):

- `exact`: `ot.emd(a, b, C)` (network simplex), against reglab's Hungarian assignment on
  lcm(n, m) replicated points. Both are exact; costs should agree to rounding, plans may differ
  when the LP has several optima.
- `quadratic`: `ot.smooth.smooth_ot_dual(a, b, C, γ, reg_type='l2')`, L-BFGS-B (scipy) on the
  dual, against reglab's `smooth_ot_l2` (L-BFGS on the dual).
- `sparse k=K`: `ot.smooth.smooth_ot_semi_dual(a, b, C, γ, reg_type='sparsity_constrained',
  max_nz=K)`, L-BFGS-B on the semi-dual, against reglab's `sparse_ot_semi_dual` (L-BFGS on the
  semi-dual); and, as an extra row `sparse k=K (POT dual)`, `ot.smooth.smooth_ot_dual(...,
  reg_type='sparsity_constrained', max_nz=K)`, the dual formulation, against the same reglab row.
- `entropic`: `ot.sinkhorn(a, b, C, ε, method='sinkhorn_log', stopThr=1e-9)` against reglab's
  `sinkhorn_log` (with ε-scaling).

For each it prints POT's ⟨C, T⟩, non-zeros per column (max and mean; entries exactly ≠ 0, the
entropic plan's counted above 1e-12 of the mass as reglab does), the marginal errors
‖T1 − a‖₁ and ‖Tᵀ1 − b‖₁, the primal objective (⟨C,T⟩ + (γ/2)‖T‖²_F for the quadratic and
sparse rows) and POT's own convergence flag, beside reglab's numbers from results.json and the
differences (POT − reglab).

POT conventions, checked against its source (ot/smooth.py, ot/utils.py, ot/bregman)
------------------------------------------------------------------------------------
- Regularizer: `SquaredL2.Omega(T) = 0.5 * gamma * sum(T**2)`, i.e. (γ/2)‖T‖²_F, the same as
  reglab's; `SparsityConstrained` uses the same Ω with ‖T_{:,j}‖₀ ≤ max_nz per **column**
  (target point), as reglab and the paper. So γ is passed unchanged; no conversion.
- Sparse semi-dual: each column of the plan is `b_j · projection_sparse_simplex((α − C_{:,j}) /
  (γ b_j), max_nz)` (top-max_nz entries projected onto the simplex), the same map as reglab's;
  columns meet b exactly and are k-sparse by construction.
- Sparse dual: column j is `[α + β_j − C_{:,j}]_+ / γ` restricted to its max_nz largest entries
  (`delta_Omega`), reglab's `sparse_ot` (not the experiment's solver): neither marginal exact.
- Stopping: POT hands `stopThr` (default 1e-9) to `scipy.optimize.minimize(method='L-BFGS-B',
  tol=...)`, a relative-decrease / projected-gradient test, and `numItermax` (default 500) as
  `maxiter`; reglab's L-BFGS stops when the largest marginal violation is ≤ tol (1e-9) or after
  max_iter (10000). This script passes stopThr=--stop-thr (1e-9) and numItermax=--max-iter
  (10000, reglab's budget); "converged" is scipy's `success` for POT. At 1e-9 scipy's relative
  decrease test stops POT's solves with marginal errors near 1e-3 on a cost of order 0.15 (the
  objective no longer moves by 1e-9 relative); `--stop-thr 1e-15` asks for a tighter solve.
- Both start from zero potentials.
- Entropic: POT minimises ⟨C,T⟩ + ε Σ T log T; reglab ⟨C,T⟩ − εH(T) with H = −Σ T(log T − 1).
  The two differ by the constant ε·Σ T (= ε), so the plans are the same. POT's sinkhorn_log runs
  at ε directly (no ε-scaling) and stops when ‖Tᵀ1 − b‖₂ < stopThr (checked every 10
  iterations; rows exact after the last update); reglab stops on ‖T1 − a‖₁ ≤ 1e-9 at the final
  ε stage (columns exact).
"""

import argparse
import contextlib
import csv
import io
import json
import sys
import warnings

import numpy as np
import ot
import ot.smooth

ZERO_RTOL = 1e-12


def read_clouds(path):
    src, tgt = [], []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            rec = (int(row["index"]), float(row["x"]), float(row["y"]), float(row["weight"]))
            {"source": src, "target": tgt}[row["side"]].append(rec)
    for side in (src, tgt):
        assert [r[0] for r in side] == list(range(len(side))), "indices out of order"
    xs = np.array([[r[1], r[2]] for r in src])
    ys = np.array([[r[1], r[2]] for r in tgt])
    a = np.array([r[3] for r in src])
    b = np.array([r[3] for r in tgt])
    return xs, ys, a, b


def stats(T, a, b, C, gamma=None, entropic=False):
    thr = ZERO_RTOL * a.sum() if entropic else 0.0
    per_col = (T > thr).sum(axis=0)
    out = {
        "cost": float(np.sum(C * T)),
        "max_nz": int(per_col.max()),
        "mean_nz": float(per_col.mean()),
        "row_err": float(np.abs(T.sum(axis=1) - a).sum()),
        "col_err": float(np.abs(T.sum(axis=0) - b).sum()),
        "objective": None,
    }
    if gamma is not None:
        out["objective"] = out["cost"] + 0.5 * gamma * float(np.sum(T * T))
    return out


def fmt(v, digits=6):
    if v is None:
        return ""
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, (int, np.integer)):
        return str(v)
    if v == 0:
        return "0"
    if abs(v) >= 1e-3:
        return f"{v:.{digits}f}".rstrip("0").rstrip(".") if digits else f"{v}"
    return f"{v:.1e}"


def fdiff(v):
    if v == 0:
        return "0"
    return f"{v:+.1e}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir", help="a run directory of `reglab run experiments/sparse-ot.toml`")
    ap.add_argument("--max-iter", type=int, default=10000, help="numItermax of POT's L-BFGS-B solves (reglab's max_iter)")
    ap.add_argument("--stop-thr", type=float, default=1e-9,
                    help="stopThr of POT's L-BFGS-B solves (scipy's ftol and gtol; POT's default 1e-9)")
    ap.add_argument("--sinkhorn-max-iter", type=int, default=100000)
    args = ap.parse_args()

    res = json.load(open(f"{args.dir}/results.json"))
    xs, ys, a, b = read_clouds(f"{args.dir}/clouds.csv")
    assert (len(a), len(b)) == (res["n"], res["m"]), "clouds.csv does not match results.json"
    D = ((xs[:, None, :] - ys[None, :, :]) ** 2).sum(axis=2)
    scale = float(D.max())
    rel = abs(scale - res["cost_scale"]) / res["cost_scale"]
    assert rel <= 1e-12, f"cost scale {scale!r} != reglab's {res['cost_scale']!r} (rel {rel:.1e})"
    C = D / scale
    gamma, eps, ks = res["gamma"], res["epsilon"], res["ks"]
    ours = {r["method"]: r for r in res["rows"]}
    print(f"# POT {ot.__version__} beside reglab on {args.dir}: n = {len(a)}, m = {len(b)}, seed {res['seed']}, "
          f"gamma = {gamma}, epsilon = {eps}, L-BFGS-B stopThr {args.stop_thr}, numItermax {args.max_iter}; cost scale {scale!r} (reglab {res['cost_scale']!r}, rel diff {rel:.1e})")

    rows = []  # (label, our method, pot stats, pot converged, pot iterations)
    # POT 0.9.7's projection_sparse_simplex prints an array shape on every call: swallow stdout
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        for k in ks:
            T, log = ot.smooth.smooth_ot_semi_dual(a, b, C, gamma, reg_type="sparsity_constrained", max_nz=int(k),
                                                   stopThr=args.stop_thr, numItermax=args.max_iter, log=True)
            rows.append((f"sparse k={k} (POT semi-dual)", f"sparse k={k}", stats(T, a, b, C, gamma), log["res"].success, log["res"].nit))
        for k in ks:
            T, log = ot.smooth.smooth_ot_dual(a, b, C, gamma, reg_type="sparsity_constrained", max_nz=int(k),
                                              stopThr=args.stop_thr, numItermax=args.max_iter, log=True)
            rows.append((f"sparse k={k} (POT dual)", f"sparse k={k}", stats(T, a, b, C, gamma), log["res"].success, log["res"].nit))
        T, log = ot.smooth.smooth_ot_dual(a, b, C, gamma, reg_type="l2", stopThr=args.stop_thr, numItermax=args.max_iter, log=True)
        rows.append(("quadratic (POT dual)", "quadratic", stats(T, a, b, C, gamma), log["res"].success, log["res"].nit))
        T, log = ot.sinkhorn(a, b, C, eps, method="sinkhorn_log", stopThr=1e-9, numItermax=args.sinkhorn_max_iter, log=True)
        conv = bool(log["err"][-1] < 1e-9) if log.get("err") else None
        rows.append(("entropic (POT sinkhorn_log)", "entropic", stats(T, a, b, C, entropic=True), conv, log.get("niter")))
        T, log = ot.emd(a, b, C, log=True)
        rows.append(("exact (POT emd)", "exact", stats(T, a, b, C), log["warning"] is None, None))

    head = ["method", "POT ⟨C,T⟩", "ours", "POT − ours", "POT objective", "POT − ours",
            "max nz/col POT / ours", "mean nz/col POT / ours", "‖T1−a‖₁ POT / ours", "‖Tᵀ1−b‖₁ POT / ours", "converged POT / ours (POT it.)"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for label, m, s, conv, nit in rows:
        o = ours[m]
        obj_pot, obj_ours = s["objective"], o.get("objective")
        obj_diff = fdiff(obj_pot - obj_ours) if obj_pot is not None and obj_ours is not None and m != "entropic" else ""
        cells = [
            label,
            fmt(s["cost"]), fmt(o["cost"]), fdiff(s["cost"] - o["cost"]),
            fmt(obj_pot), obj_diff,
            f"{s['max_nz']} / {o['max_nonzeros_per_column']}",
            f"{s['mean_nz']:.2f} / {o['mean_nonzeros_per_column']:.2f}",
            f"{fmt(s['row_err'], 4)} / {fmt(o['row_error'], 4)}",
            f"{fmt(s['col_err'], 4)} / {fmt(o['col_error'], 4)}",
            f"{fmt(conv)} / {fmt(o['converged'])}" + (f" ({nit})" if nit is not None else ""),
        ]
        print("| " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
