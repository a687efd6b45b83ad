#!/usr/bin/env python3
"""The best weight decay against model size and epochs (issue 19, #68).

    python3 docs/results/phenomena/wd_scaling_summary.py runs docs/results/phenomena

Reads RUNS/wd-scaling-w{64,256,1024}/results.csv (one row per arm, seed and epoch). Writes
OUT/wd-scaling-rows.csv (width, arm, λ, seed, epoch, test loss and accuracy, train loss and
accuracy), OUT/wd-scaling-summary.csv (per width, epoch budget and λ: mean and sample std over
seeds of the test loss and accuracy, and which λ has the lowest mean test loss) and
OUT/wd-scaling.png (test loss against λ, one panel per width, one line per budget)."""
import csv
import statistics as st
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from summary_common import sd

runs, out = sys.argv[1], sys.argv[2]
WIDTHS, BUDGETS = [64, 256, 1024], [10, 20, 60]
lam = lambda arm: float(arm.split()[1])
allrows, summary = [], []
fig, axes = plt.subplots(1, 3, figsize=(14, 4), sharey=True)
for ax, w in zip(axes, WIDTHS):
    try:
        rows = list(csv.DictReader(open(f"{runs}/wd-scaling-w{w}/results.csv")))
    except FileNotFoundError:
        continue
    for r in rows:
        allrows.append([w, r["arm"], lam(r["arm"]), r["seed"], r["task"], r["test_loss"], r["test_accuracy"], r["train_loss"], r["train_accuracy"]])
    lams = sorted({lam(r["arm"]) for r in rows})
    for e in BUDGETS:
        stats = []
        for l in lams:
            tl = [float(r["test_loss"]) for r in rows if lam(r["arm"]) == l and int(r["task"]) == e]
            ta = [float(r["test_accuracy"]) for r in rows if lam(r["arm"]) == l and int(r["task"]) == e]
            if tl:
                stats.append((l, st.mean(tl), sd(tl), st.mean(ta), sd(ta), len(tl)))
        if not stats:
            continue
        best = min(stats, key=lambda s: s[1])
        for s in stats:
            summary.append([w, e, s[0], s[5], f"{s[1]:.4f}", f"{s[2]:.4f}", f"{s[3]:.4f}", f"{s[4]:.4f}", "best" if s is best else ""])
        edge = " (grid edge)" if best[0] in (lams[0], lams[-1]) else ""
        print(f"width {w}, {e} epochs: best λ = {best[0]:g}{edge}, test loss {best[1]:.4f} ± {best[2]:.4f}, accuracy {best[3]:.4f}")
        xs = [s[0] if s[0] > 0 else 3e-5 for s in stats]
        ax.errorbar(xs, [s[1] for s in stats], yerr=[s[2] for s in stats], label=f"{e} epochs", capsize=2, marker="o", ms=3)
    ax.set_xscale("log")
    ax.set_title(f"{w} hidden units")
    ax.set_xlabel("weight decay λ (leftmost point: 0)")
    ax.axvline(5e-4, color="gray", ls=":", lw=1)
    ax.grid(alpha=0.3)
axes[0].set_ylabel("test loss (mean ± std over 3 seeds)")
axes[0].legend()
fig.tight_layout()
fig.savefig(f"{out}/wd-scaling.png", dpi=110)
with open(f"{out}/wd-scaling-rows.csv", "w", newline="") as f:
    c = csv.writer(f)
    c.writerow(["width", "arm", "lambda", "seed", "epoch", "test_loss", "test_accuracy", "train_loss", "train_accuracy"])
    c.writerows(allrows)
with open(f"{out}/wd-scaling-summary.csv", "w", newline="") as f:
    c = csv.writer(f)
    c.writerow(["width", "epochs", "lambda", "seeds", "test_loss_mean", "test_loss_std", "test_accuracy_mean", "test_accuracy_std", "best_by_test_loss"])
    c.writerows(summary)
