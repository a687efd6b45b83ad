#!/usr/bin/env python3
"""Summary table and figures of docs/results/adversarial.md from a catastrophic-overfitting run.

    python3 docs/results/adversarial/summarize.py EXPERIMENT.toml RUN_DIR --timing SHARD/timing.json ... \
        --out docs/results/adversarial/mnist [--eps-label "ε"]

RUN_DIR holds the run's results.csv (a whole `reglab run`, or `reglab report --from` the shards).
Each arm of EXPERIMENT.toml with `group` and `x` is one (method, ε) point; arms without a group
(the unregularized reference) are listed with ε = their `robust_eps`. --timing gives the shards'
or the run's timing.json files: the training time of an arm is the mean over the seeds that have
`train_seconds` (training only, without the probes). Writes OUT-summary.csv and three figures,
OUT-pgd-vs-eps.png, OUT-pgd-vs-epoch.png and OUT-pgd-vs-time.png (matplotlib), and
OUT-train-seconds.csv (each method's training time: median and range over its timed cells). Spreads are population standard deviations over
seeds, as in reglab's reports.

"Collapsed" counts the seeds whose PGD robust accuracy after the last epoch is below 0.05 while
their FGSM robust accuracy is above 0.3: the signature of catastrophic overfitting (the model
resists the attack it was trained on and nothing stronger).
"""
import argparse
import csv
import json
import math
import statistics
import tomllib
from collections import defaultdict

COLLAPSE_PGD, COLLAPSE_FGSM = 0.05, 0.3


def mean_std(v):
    v = [x for x in v if x is not None and not math.isnan(x)]
    if not v:
        return (float("nan"), float("nan"), 0)
    return (statistics.fmean(v), statistics.pstdev(v), len(v))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("experiment")
    ap.add_argument("run")
    ap.add_argument("--timing", nargs="*", default=[])
    ap.add_argument("--out", required=True)
    ap.add_argument("--eps-label", default="ε (ℓ∞)")
    ap.add_argument("--within", help="a run with rows within epochs (probe.per_epoch > 1): its PGD and FGSM accuracies against the epoch")
    a = ap.parse_args()

    with open(a.experiment, "rb") as f:
        exp = tomllib.load(f)
    arms, swept_groups = {}, set()
    for arm in exp["arm"]:
        group = arm.get("group", arm["name"])
        x = arm.get("x", arm.get("robust_eps", exp["probe"]["robust"]["eps"]))
        arms[arm["name"]] = (group, x)
        if "group" in arm:
            swept_groups.add(group)

    rows = defaultdict(list)  # arm -> rows sorted by epoch
    with open(f"{a.run}/results.csv") as f:
        for r in csv.DictReader(f):
            rows[r["arm"]].append(r)
    num = lambda r, k: float(r[k]) if r.get(k) not in (None, "") else float("nan")

    train_s = defaultdict(list)
    for path in a.timing:
        with open(path) as f:
            t = json.load(f)
        for c in t.get("cell_seconds", []):
            if "train_seconds" in c:
                arm = c["label"].rsplit(" s", 1)[0]
                train_s[arm].append(c["train_seconds"])
        for j in t.get("job_seconds", []):
            if "train_seconds" in j:
                train_s[j["arm"]].append(j["train_seconds"])

    out_rows = []
    for name, (group, x) in arms.items():
        rs = rows.get(name, [])
        if not rs:
            continue
        by_seed = defaultdict(list)
        for r in rs:
            by_seed[r["seed"]].append(r)
        last = [sorted(v, key=lambda r: int(r["task"]))[-1] for v in by_seed.values()]
        epochs = sorted({int(r["task"]) for r in rs})
        pgd_by_epoch = [mean_std([num(r, "robust/pgd_accuracy") for r in rs if int(r["task"]) == e])[0] for e in epochs]
        best = [max(num(r, "robust/pgd_accuracy") for r in v) for v in by_seed.values()]
        collapsed = sum(1 for r in last if num(r, "robust/pgd_accuracy") < COLLAPSE_PGD and num(r, "robust/fgsm_accuracy") > COLLAPSE_FGSM)
        row = {"method": group, "eps": x, "arm": name, "seeds": len(last)}
        for key, col in (("test_accuracy", "test_acc"), ("robust/clean_accuracy", "clean_acc"), ("robust/fgsm_accuracy", "fgsm_acc"), ("robust/pgd_accuracy", "pgd_acc")):
            m, s, _ = mean_std([num(r, key) for r in last])
            row[f"{col}_mean"], row[f"{col}_std"] = m, s
        for key in sorted({k for r in last for k in r if k.startswith("reg/") and r[k] != ""}):
            row[f"{key}_mean"] = mean_std([num(r, key) for r in last])[0]
        row["pgd_best_epoch_mean"] = statistics.fmean(best)
        for e, v in zip(epochs, pgd_by_epoch):
            row[f"pgd_acc_epoch{e}_mean"] = v
        row["collapsed_seeds"] = collapsed
        m, s, n = mean_std(train_s.get(name, []))
        row["train_seconds_mean"], row["train_seconds_std"], row["train_seconds_n"] = m, s, n
        out_rows.append(row)

    cols = []
    for r in out_rows:
        for k in r:
            if k not in cols:
                cols.append(k)
    with open(f"{a.out}-summary.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        for r in out_rows:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    groups = []
    for r in out_rows:
        if r["method"] not in groups:
            groups.append(r["method"])
    swept = [g for g in groups if g in swept_groups]
    eps_values = sorted({r["eps"] for r in out_rows if r["method"] in swept})

    # PGD robust accuracy against ε, mean ± std over seeds
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for g in swept:
        pts = sorted((r["eps"], r["pgd_acc_mean"], r["pgd_acc_std"]) for r in out_rows if r["method"] == g)
        ax.errorbar([p[0] for p in pts], [p[1] for p in pts], yerr=[p[2] for p in pts], marker="o", capsize=3, label=g)
    ax.set_xlabel(a.eps_label)
    ax.set_ylabel("PGD-50 robust accuracy after the last epoch")
    ax.set_ylim(-0.02, 1.0)
    ax.set_xticks(eps_values)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("Robust accuracy at the training ε (mean ± std over seeds)")
    fig.tight_layout()
    fig.savefig(f"{a.out}-pgd-vs-eps.png", dpi=120)

    # PGD robust accuracy against the epoch, one panel per ε
    n = len(eps_values)
    fig, axes = plt.subplots(1, n, figsize=(3.4 * n, 3.6), sharey=True)
    for ax, e in zip(axes if n > 1 else [axes], eps_values):
        for g in swept:
            r = next((r for r in out_rows if r["method"] == g and r["eps"] == e), None)
            if r is None:
                continue
            ks = sorted(int(k[len("pgd_acc_epoch"):-len("_mean")]) for k in r if k.startswith("pgd_acc_epoch"))
            ax.plot(ks, [r[f"pgd_acc_epoch{k}_mean"] for k in ks], marker="o", label=g)
        ax.set_title(f"{a.eps_label} = {e:g}")
        ax.set_xlabel("epoch")
        ax.set_xticks(ks)
        ax.grid(alpha=0.3)
    (axes[0] if n > 1 else axes).set_ylabel("PGD-50 robust accuracy (mean)")
    (axes[-1] if n > 1 else axes).legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(f"{a.out}-pgd-vs-epoch.png", dpi=120)

    # PGD robust accuracy against training time, one panel per ε. A method's cost per step does
    # not depend on ε, so its time is the median over all its timed cells (every ε and seed):
    # one cell's time depends on what else ran on the machine meanwhile.
    pooled = {}
    for g in swept:
        ts = [t for r in out_rows if r["method"] == g for t in train_s.get(r["arm"], [])]
        if ts:
            pooled[g] = (statistics.median(ts), min(ts), max(ts))
    with open(f"{a.out}-train-seconds.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["method", "cells", "train_seconds_median", "min", "max"])
        for g, (m, lo, hi) in pooled.items():
            w.writerow([g, sum(len(train_s.get(r["arm"], [])) for r in out_rows if r["method"] == g), f"{m:.2f}", f"{lo:.2f}", f"{hi:.2f}"])
    fig, axes = plt.subplots(1, n, figsize=(3.4 * n, 3.6), sharey=True)
    for ax, e in zip(axes if n > 1 else [axes], eps_values):
        for g in swept:
            r = next((r for r in out_rows if r["method"] == g and r["eps"] == e), None)
            if r is None or g not in pooled:
                continue
            m, lo, hi = pooled[g]
            ax.errorbar([m], [r["pgd_acc_mean"]], yerr=[r["pgd_acc_std"]], xerr=[[m - lo], [hi - m]], marker="o", capsize=3, label=g)
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xticks([20, 50, 100, 200])
        ax.set_title(f"{a.eps_label} = {e:g}")
        ax.set_xlabel("training seconds (median, range)")
        ax.grid(alpha=0.3)
    (axes[0] if n > 1 else axes).set_ylabel("PGD-50 robust accuracy after the last epoch")
    (axes[-1] if n > 1 else axes).legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(f"{a.out}-pgd-vs-time.png", dpi=120)
    if a.within:
        within = defaultdict(lambda: defaultdict(list))  # arm -> epoch -> rows over seeds
        with open(f"{a.within}/results.csv") as f:
            for r in csv.DictReader(f):
                within[r["arm"]][float(r["epoch"])].append(r)
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
        for ax, (key, title) in zip(axes, (("robust/pgd_accuracy", "PGD-50"), ("robust/fgsm_accuracy", "FGSM"))):
            for arm, by_epoch in within.items():
                es = sorted(by_epoch)
                for seed in sorted({r["seed"] for v in by_epoch.values() for r in v}):
                    ys = [next(num(r, key) for r in by_epoch[e] if r["seed"] == seed) for e in es]
                    ax.plot(es, ys, color="C0" if arms[arm][0] == "FGSM-AT" else "C6", alpha=0.8, marker=".",
                            label=f"{arms[arm][0]}, ε = {arms[arm][1]:g}" if seed == "0" else None)
            ax.set_title(f"{title} robust accuracy, every quarter epoch (one line per seed)", fontsize=9)
            ax.set_xlabel("epoch")
            ax.grid(alpha=0.3)
        axes[0].set_ylabel("robust accuracy (500 test images)")
        axes[0].legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(f"{a.out}-quarter-epochs.png", dpi=120)
    print(f"{a.out}-summary.csv: {len(out_rows)} arms")


if __name__ == "__main__":
    main()
