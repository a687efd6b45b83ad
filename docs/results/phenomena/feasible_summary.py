#!/usr/bin/env python3
"""Feasible learning against ERM (issue 19, #23): the tail of the training loss.

    python3 docs/results/phenomena/feasible_summary.py runs/feasible-learning docs/results/phenomena

Reads RUN/results.csv (one row per arm, seed and epoch), writes OUT/feasible-summary.csv (per arm:
mean and sample standard deviation over seeds, after the last epoch, of the mean, max, q99, q90
and CVaR-10 % training loss, the fraction of examples above ε = ln(1/0.6), and the train and
test accuracy), OUT/feasible-rows.csv (the rows) and OUT/feasible-tail.png (the loss tail per
epoch, matplotlib)."""
import csv
import statistics as st
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from summary_common import arms_of, read_rows, sd, write_rows

run, out = sys.argv[1], sys.argv[2]
rows = read_rows(f"{run}/results.csv")
keys = ["train_loss", "train_loss_max", "train_loss_q99", "train_loss_q90", "train_loss_cvar10", "train_loss_above_0.511", "train_accuracy", "test_accuracy", "test_loss"]
arms = arms_of(rows)
write_rows(f"{out}/feasible-rows.csv", rows, keys, step="epoch")
with open(f"{out}/feasible-summary.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["arm", "seeds"] + [f"{k}_{s}" for k in keys for s in ("mean", "std")])
    for a in arms:
        last = {}
        for r in rows:
            if r["arm"] == a and int(r["task"]) >= int(last.get(r["seed"], {"task": -1})["task"]):
                last[r["seed"]] = r
        vals = {k: [float(r[k]) for r in last.values()] for k in keys}
        w.writerow([a, len(last)] + [f"{v:.4f}" for k in keys for v in (st.mean(vals[k]), sd(vals[k]))])
        print(a, {k: f"{st.mean(vals[k]):.4f} ± {sd(vals[k]):.4f}" for k in keys})
fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
for ax, (k, title) in zip(axes, [("train_loss", "mean training loss"), ("train_loss_q99", "99th percentile"), ("train_loss_max", "max")]):
    for a in arms:
        epochs = sorted({int(r["task"]) for r in rows if r["arm"] == a})
        m, s = [], []
        for e in epochs:
            v = [float(r[k]) for r in rows if r["arm"] == a and int(r["task"]) == e]
            m.append(st.mean(v))
            s.append(sd(v))
        ax.errorbar(epochs, m, yerr=s, label=a, capsize=2)
    ax.set_title(title)
    ax.set_xlabel("epoch")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
axes[0].set_ylabel("training cross-entropy (mean ± std over seeds)")
axes[0].legend()
fig.tight_layout()
fig.savefig(f"{out}/feasible-tail.png", dpi=110)
