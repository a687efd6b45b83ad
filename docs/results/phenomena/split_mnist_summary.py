#!/usr/bin/env python3
"""Split-MNIST, class-incremental: Hard ASH, online EWC and the baselines (issue 19, #88).

    python3 docs/results/phenomena/split_mnist_summary.py runs docs/results/phenomena

Reads RUNS/{split-mnist, split-mnist-ash, split-mnist-ash-adam}/results.csv and writes, for each
experiment E, OUT/E-rows.csv (the rows' main columns) and OUT/E-summary.csv (per arm and task:
mean and sample std over seeds), and the plots OUT/split-mnist-final.png (test accuracy on all
ten classes after the last task, per arm, each seed a dot) and OUT/split-mnist-ewc-lambda.png
(online EWC's final accuracy against λ in both networks, with Hard ASH beside it)."""
import csv
import statistics as st
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from summary_common import arms_of, read_rows, sd, write_rows

runs, out = sys.argv[1], sys.argv[2]
EXPS = ["split-mnist", "split-mnist-ash", "split-mnist-ash-adam"]
KEYS = ["test_accuracy", "train_accuracy", "test_loss", "dead_fraction", "feature_effective_rank", "distance_to_init"]
data = {}
for e in EXPS:
    rows = read_rows(f"{runs}/{e}/results.csv")
    data[e] = rows
    arms = arms_of(rows)
    write_rows(f"{out}/{e}-rows.csv", rows, KEYS)
    with open(f"{out}/{e}-summary.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["arm", "task", "seeds"] + [f"{k}_{s}" for k in KEYS for s in ("mean", "std")])
        for a in arms:
            for t in sorted({int(r["task"]) for r in rows if r["arm"] == a}):
                rs = [r for r in rows if r["arm"] == a and int(r["task"]) == t]
                cells = []
                for k in KEYS:
                    v = [float(r[k]) for r in rs if r.get(k, "") != ""]
                    cells += [f"{st.mean(v):.4f}", f"{sd(v):.4f}"] if v else ["", ""]
                w.writerow([a, t, len(rs)] + cells)
    print(f"== {e}: test accuracy after task 5 (mean ± std over seeds; train accuracy on task 5)")
    for a in arms:
        rs = [r for r in rows if r["arm"] == a and int(r["task"]) == 5]
        te = [float(r["test_accuracy"]) for r in rs]
        tr = [float(r["train_accuracy"]) for r in rs]
        print(f"  {a:18s} {st.mean(te):.4f} ± {sd(te):.4f}   train {st.mean(tr):.4f} ± {sd(tr):.4f}   seeds {len(rs)}")


def final(e, arm):
    return [float(r["test_accuracy"]) for r in data[e] if r["arm"] == arm and int(r["task"]) == 5]


# final accuracy per arm, each seed a dot
fig, ax = plt.subplots(figsize=(9, 4.2))
labels, x = [], 0
for e, tag in (("split-mnist", "Adam, ReLU net"), ("split-mnist-ash", "Adagrad, ASH net"), ("split-mnist-ash-adam", "Adam, ASH net")):
    for a in arms_of(data[e]):
        v = final(e, a)
        ax.scatter([x] * len(v), v, s=14, color="C0" if "ash" not in a else "C3")
        ax.errorbar([x], [st.mean(v)], yerr=[sd(v)], fmt="_", color="k", markersize=12)
        labels.append(f"{a}\n({tag})")
        x += 1
ax.axhline(0.2, color="gray", lw=0.8, ls="--")
ax.set_xticks(range(len(labels)))
ax.set_xticklabels(labels, rotation=70, fontsize=6)
ax.set_ylabel("test accuracy, all 10 classes, after task 5")
ax.set_title("Split-MNIST, class-incremental (3 seeds; bar: mean ± std; dashed: the last task's share)")
fig.tight_layout()
fig.savefig(f"{out}/split-mnist-final.png", dpi=130)

# EWC against λ in both networks
fig, ax = plt.subplots(figsize=(6, 4))
for e, tag, c in (("split-mnist", "Adam, ReLU net (+bias, [0,1] inputs)", "C0"), ("split-mnist-ash", "Adagrad, ASH net (ReLU)", "C1")):
    arms = [a for a in arms_of(data[e]) if a.startswith("ewc-")]
    lam = [float(a[4:]) for a in arms]
    m = [st.mean(final(e, a)) for a in arms]
    s = [sd(final(e, a)) for a in arms]
    ax.errorbar(lam, m, yerr=s, marker="o", color=c, label=f"online EWC, {tag}", capsize=3)
h = final("split-mnist-ash", "hard-ash")
ax.axhspan(st.mean(h) - sd(h), st.mean(h) + sd(h), color="C3", alpha=0.25, label="Hard ASH, Adagrad, no EWC (mean ± std)")
ax.set_xscale("log")
ax.set_xlabel("λ (Fisher normalised to mean 1)")
ax.set_ylabel("test accuracy after task 5")
ax.legend(fontsize=7)
ax.set_title("λ chosen on these test numbers (no validation split)", fontsize=8)
fig.tight_layout()
fig.savefig(f"{out}/split-mnist-ewc-lambda.png", dpi=130)
