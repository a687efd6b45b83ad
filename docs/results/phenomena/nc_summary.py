#!/usr/bin/env python3
"""Neural-collapse penalties on long-tailed Fashion-MNIST (issue 19, #96).

    python3 docs/results/phenomena/nc_summary.py runs/neural-collapse-long-tail docs/results/phenomena

Reads RUN/results.csv, writes OUT/nc-long-tail-rows.csv (the rows' main columns) and
OUT/nc-long-tail-summary.csv (per arm, after the last epoch and at the epoch of the best mean test
accuracy: mean and sample std over seeds)."""
import csv
import statistics as st
import sys

from summary_common import arms_of, read_rows, sd, write_rows

run, out = sys.argv[1], sys.argv[2]
rows = read_rows(f"{run}/results.csv")
keys = ["test_accuracy", "test_loss", "train_accuracy", "train_loss", "feature_effective_rank", "reg/neural-collapse"]
arms = arms_of(rows)
write_rows(f"{out}/nc-long-tail-rows.csv", rows, keys, step="epoch")
with open(f"{out}/nc-long-tail-summary.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["arm", "at", "epoch", "seeds"] + [f"{k}_{s}" for k in keys for s in ("mean", "std")])
    for a in arms:
        epochs = sorted({int(r["task"]) for r in rows if r["arm"] == a})
        mean_acc = {e: st.mean(float(r["test_accuracy"]) for r in rows if r["arm"] == a and int(r["task"]) == e) for e in epochs}
        for label, e in (("last", epochs[-1]), ("best mean test accuracy", max(epochs, key=lambda e: mean_acc[e]))):
            rs = [r for r in rows if r["arm"] == a and int(r["task"]) == e]
            vals = {k: [float(r[k]) for r in rs if r.get(k, "") != ""] for k in keys}
            cells = []
            for k in keys:
                cells += [f"{st.mean(vals[k]):.4f}", f"{sd(vals[k]):.4f}"] if vals[k] else ["", ""]
            w.writerow([a, label, e, len(rs)] + cells)
            print(a, label, e, {k: (round(st.mean(vals[k]), 4), round(sd(vals[k]), 4)) for k in keys if vals[k]})
