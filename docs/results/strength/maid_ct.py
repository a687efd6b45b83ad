"""Tables and plot of the learned-λ (MAID) few-view CT run.

    python docs/results/strength/maid_ct.py RUN_DIR OUT_PREFIX [OTHER_DRAW_RUN_DIR ...]
    python docs/results/strength/maid_ct.py --add-draw RUN_DIR OUT_PREFIX

RUN_DIR: the merged run of experiments/ct-few-view-learned.toml (results.json, learned.csv).
Writes OUT_PREFIX.csv (one line per setting), OUT_PREFIX-lambda.png (λ against the operator
pairs MAID applied) and prints the Markdown table. With other draws (runs of the same file with
--set learned.seed=S), also OUT_PREFIX-draws.csv and the spread over draws. --add-draw puts one
more draw's lines into an existing OUT_PREFIX-draws.csv (replacing that seed's, if any) and
prints the spread, without the other draws' run directories.
"""
import csv
import json
import statistics
import sys
import tomllib
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402



def pick(rows, stage, views, noise, best=True):
    """TV's rows of `stage` in setting (views, noise): its best (the chosen λ) or all."""
    return [r for r in rows if r.get("stage", "oracle") == stage and r["views"] == views and r["noise"] == noise and r["method"] == "TV" and (r["best"] or not best)]


def write_csv(path, dicts):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(dicts[0]))
        w.writeheader()
        w.writerows(dicts)


def draw_rows(d):
    """One line per setting of the run (or unmerged shard) `d`: its learned λ and PSNR."""
    if (d / "results.json").exists():
        r = json.loads((d / "results.json").read_text())
    else:  # a shard of `reglab run --cells` not merged yet (some cells may be missing)
        import cbor2

        outs = [cbor2.loads(c.read_bytes())["outcome"] for c in sorted((d / "cells").glob("*.cbor"))]
        r = {"learned": [t for o in outs for t in o["learned_traces"]], "rows": [x for o in outs for x in o["oracle"] + o["learned"]]}
    seed = tomllib.loads((d / "config.toml").read_text())["learned"]["seed"]
    out = []
    for t in r["learned"]:
        row = pick(r["rows"], "learned", t["views"], t["noise"])[0]
        oracle = pick(r["rows"], "oracle", t["views"], t["noise"])[0]
        out.append({"learned_seed": seed, "views": t["views"], "noise": t["noise"], "lambda": t["lambda"], "psnr": row["psnr"], "ssim": row["ssim"], "minus_oracle_db": row["psnr"] - oracle["psnr"], "operator_pairs": t["operator_pairs"]})
    return out


def print_draws(draws, settings):
    print("\n| views | noise | draws | learned λ (each draw) | learned − oracle, dB: mean ± std | worst | MAID pairs: mean |")
    print("|---|---|---|---|---|---|---|")
    for v, n in settings:
        ds = [d for d in draws if int(d["views"]) == v and float(d["noise"]) == n]
        if not ds:
            continue
        diffs = [float(d["minus_oracle_db"]) for d in ds]
        sd = statistics.stdev(diffs) if len(diffs) > 1 else float("nan")
        lams = ", ".join(f"{float(d['lambda']):.3g}" for d in ds)
        pairs = statistics.mean(float(d["operator_pairs"]) for d in ds)
        print(f"| {v} | {100 * n:g} % | {len(ds)} | {lams} | {statistics.mean(diffs):+.2f} ± {sd:.2f} | {min(diffs):+.2f} | {pairs:,.0f} |")


if sys.argv[1] == "--add-draw":
    run, prefix = Path(sys.argv[2]), sys.argv[3]
    new = draw_rows(run)
    with open(f"{prefix}-draws.csv", newline="") as f:
        old = list(csv.DictReader(f))
    seed = new[0]["learned_seed"]
    draws = [d for d in old if int(d["learned_seed"]) != seed] + new
    draws.sort(key=lambda d: (int(d["learned_seed"]), int(d["views"]), float(d["noise"])))
    write_csv(f"{prefix}-draws.csv", draws)
    settings = sorted({(int(d["views"]), float(d["noise"])) for d in draws})
    print_draws(draws, settings)
    sys.exit(0)

run, prefix = Path(sys.argv[1]), sys.argv[2]
res = json.loads((run / "results.json").read_text())
rows = res["rows"]


out = []
for s in res["settings"]:
    v, n = s["views"], s["noise"]
    oracle = pick(rows, "oracle", v, n)[0]
    cal = pick(rows, "calibrated", v, n)[0]
    learned = pick(rows, "learned", v, n)[0]
    trace = next(t for t in res["learned"] if t["views"] == v and t["noise"] == n)
    grid_test = sum(r["iterations"] for r in pick(rows, "oracle", v, n, best=False))
    grid_cal = sum(r["iterations"] for r in pick(rows, "calibration", v, n, best=False))
    out.append(
        {
            "views": v,
            "noise": n,
            "oracle_lambda": oracle["lambda"],
            "oracle_psnr": oracle["psnr"],
            "calibrated_lambda": cal["lambda"],
            "calibrated_psnr": cal["psnr"],
            "learned_lambda": trace["lambda"],
            "learned_psnr": learned["psnr"],
            "learned_ssim": learned["ssim"],
            "learned_minus_oracle_db": learned["psnr"] - oracle["psnr"],
            "maid_iterations": len(trace["trajectory"]) - 1,
            "maid_failed_iterations": trace["failed_iterations"],
            "maid_lower_evaluations": trace["lower_evaluations"],
            "maid_cg_iterations": trace["cg_iterations"],
            "maid_operator_pairs": trace["operator_pairs"],
            "phantoms": trace["phantoms"],
            "grid_test_pairs": grid_test,
            "grid_calibration_pairs": grid_cal,
        }
    )
write_csv(f"{prefix}.csv", out)

print("| views | noise | oracle λ | oracle PSNR | calibrated λ | calibrated PSNR | learned λ | learned PSNR | learned − oracle | MAID pairs (5 phantoms) | per phantom | 8-λ grid, one image |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for o in out:
    print(
        f"| {o['views']} | {100 * o['noise']:g} % | {o['oracle_lambda']:g} | {o['oracle_psnr']:.2f} | {o['calibrated_lambda']:g} | {o['calibrated_psnr']:.2f} "
        f"| {o['learned_lambda']:.3g} | {o['learned_psnr']:.2f} | {o['learned_minus_oracle_db']:+.2f} dB | {o['maid_operator_pairs']:,} "
        f"| {o['maid_operator_pairs'] / o['phantoms']:,.0f} | {o['grid_test_pairs']:,} |"
    )

fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
for ax, noise in zip(axes, sorted({o["noise"] for o in out})):
    for t in res["learned"]:
        if t["noise"] != noise:
            continue
        xs = [p["operator_pairs"] / 1000 for p in t["trajectory"]]
        ys = [p["lambda"] for p in t["trajectory"]]
        (line,) = ax.plot(xs, ys, marker="o", ms=3, label=f"{t['views']} views")
        o = pick(rows, "oracle", t["views"], noise)[0]
        ax.axhline(o["lambda"], color=line.get_color(), ls=":", lw=1)
    ax.set_xlim(left=0)
    ax.set_yscale("log")
    ax.set_xlabel("thousands of operator pairs (A and Aᵀ) applied by MAID")
    ax.set_title(f"{100 * noise:g} % noise")
    ax.legend()
axes[0].set_ylabel("λ (dotted: the oracle grid's best)")
fig.suptitle("TV's λ learned by MAID from 5 random ellipse phantoms, few-view CT 128²")
fig.tight_layout()
fig.savefig(f"{prefix}-lambda.png", dpi=110)

# Other draws of the training phantoms (runs of the same file with --set learned.seed=S): one
# line per draw and setting in OUT_PREFIX-draws.csv, and the spread printed.
extra = [Path(p) for p in sys.argv[3:]]
if extra:
    draws = [row for d in [run] + extra for row in draw_rows(d)]
    write_csv(f"{prefix}-draws.csv", draws)
    print_draws(draws, [(s["views"], s["noise"]) for s in res["settings"]])
