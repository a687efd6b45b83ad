#!/usr/bin/env python3
"""Summarise a fine-tuning experiment's results.csv (one row per arm, seed and epoch) into the
table of docs/results/finetuning.md: per arm, over seeds, the dev accuracy at the last row
(mean ± sample standard deviation, and each seed's value), the feature-drift cosine and the
retained-similarity Spearman ρ at the last row, the distance to the pretrained weights, and the
number of degenerate runs (last dev accuracy < 0.6; the majority class of the dev set is 0.509).
Then the paired differences to the first arm (plain): the seeds share the data order and the
head's initialisation across arms (the shuffle is seeded by (seed, epoch), the head by the
seed), so for each seed the arm's last dev accuracy minus plain's, their mean ± sample standard
deviation, and on how many seeds the arm is above plain.

usage: summarize.py RESULTS.csv SUMMARY.csv   (prints the markdown tables)"""
import csv
import statistics
import sys

src, dst = sys.argv[1], sys.argv[2]
rows = list(csv.DictReader(open(src)))
arms = list(dict.fromkeys(r["arm"] for r in rows))
last = {}
for r in rows:
    key = (r["arm"], int(r["seed"]))
    if key not in last or int(r["task"]) > int(last[key]["task"]):
        last[key] = r


def stats(arm, metric):
    v = [float(last[k][metric]) for k in sorted(last) if k[0] == arm and last[k].get(metric, "") not in ("", "nan")]
    if not v:
        return None
    sd = statistics.stdev(v) if len(v) > 1 else float("nan")
    return statistics.mean(v), sd, v


cols = ["test_accuracy", "feature_drift_cosine", "feature_similarity_spearman", "distance_to_init"]
out = csv.writer(open(dst, "w", newline=""))
out.writerow(
    ["arm", "seeds", "degenerate"]
    + [f"{c}_{s}" for c in cols for s in ("mean", "sd")]
    + ["test_accuracy_per_seed", "paired_diff_to_first_mean", "paired_diff_to_first_sd", "seeds_above_first"]
)
base = arms[0]


def paired(arm):
    """Per seed, the arm's last dev accuracy minus the first arm's (seeds both have)."""
    return [float(last[(arm, sd)]["test_accuracy"]) - float(last[(base, sd)]["test_accuracy"]) for (a, sd) in sorted(last) if a == arm and (base, sd) in last]


pairs = {}
print("| arm | seeds | dev accuracy (last epoch) | per seed | feature cosine to pretrained | similarity Spearman ρ | ‖θ − θ₀‖ | degenerate |")
print("|---|---|---|---|---|---|---|---|")
for arm in arms:
    s = {c: stats(arm, c) for c in cols}
    if s["test_accuracy"] is None:
        print(f"| {arm} | 0 | not run | | | | | |")
        continue
    n = len(s["test_accuracy"][2])
    deg = sum(1 for v in s["test_accuracy"][2] if v < 0.6)
    d = paired(arm) if arm != base else []
    pairs[arm] = d
    dm = statistics.mean(d) if d else float("nan")
    dsd = statistics.stdev(d) if len(d) > 1 else float("nan")
    out.writerow(
        [arm, n, deg]
        + [f"{x:.6g}" for c in cols for x in (s[c][:2] if s[c] else (float("nan"), float("nan")))]
        + [" ".join(f"{v:.4f}" for v in s["test_accuracy"][2]), f"{dm:.6g}", f"{dsd:.6g}", sum(1 for v in d if v > 0) if d else ""]
    )
    f = lambda c, d=3: "—" if s[c] is None else f"{s[c][0]:.{d}f} ± {s[c][1]:.{d}f}"
    per = ", ".join(f"{v:.3f}" for v in s["test_accuracy"][2])
    print(f"| {arm} | {n} | {f('test_accuracy', 4)} | {per} | {f('feature_drift_cosine')} | {f('feature_similarity_spearman')} | {f('distance_to_init', 2)} | {deg} |")

print()
print(f"| arm | last dev accuracy − {base}'s, per seed (paired) | mean ± sd | seeds above {base} |")
print("|---|---|---|---|")
for arm, d in pairs.items():
    if arm == base or not d:
        continue
    sd = statistics.stdev(d) if len(d) > 1 else float("nan")
    print(f"| {arm} | {', '.join(f'{v:+.3f}' for v in d)} | {statistics.mean(d):+.4f} ± {sd:.4f} | {sum(1 for v in d if v > 0)} of {len(d)} |")
