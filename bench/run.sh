#!/usr/bin/env bash
# Run reglab's criterion benches at one thread and print a markdown table of medians.
#
#   bench/run.sh                 # both benches; the table on stdout, cargo's output on stderr
#   bench/run.sh > table.md      # keep the table
#   bench/run.sh step/l1         # extra arguments go to criterion (here: a name filter)
#
# Benches (crates/reglab-train/benches/):
#   regularizers.rs  reg-grad/<name>/<shape>: Regularizer::eval (value + gradient, Mode::Step)
#                    reg-prox/<name>/<shape>: Regularizer::prox, for regularizers that have one
#                    reg-rows/<name>/<out>x784: mhe and soft-orth at 400 and 4,000 rows
#   train_step.rs    step/<none|name>: Trainer::step of the MLP 784-400-400-10, batch 128, Adam
#                    batch/<none|name>: Trainer::train_batch (batch built, perturbed, stepped) for
#                    the output terms, data perturbations, dropout, mixout, amp, sam, grad-norm
#   adversarial.rs   adv/<none|method>: Trainer::train_batch of the small CNN, batch 100, ε = 0.3,
#                    for each adversarial-training method, with its cost over adv/none and as a
#                    fraction of adv/pgd-at
#
# Old results of these groups are removed first, so the table (and the overhead of each
# regularizer over step/none) comes from this run only.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
target="${CARGO_TARGET_DIR:-$root/target}"
crit="$target/criterion"
export RAYON_NUM_THREADS=1

rm -rf "$crit/reg-grad" "$crit/reg-prox" "$crit/reg-rows" "$crit/step" "$crit/batch" "$crit/adv"
for b in regularizers train_step adversarial; do
    echo "== cargo bench --bench $b (RAYON_NUM_THREADS=$RAYON_NUM_THREADS)" >&2
    cargo bench -p reglab-train --bench "$b" -- --noplot "$@" 1>&2
done

python3 - "$crit" <<'PY'
import json, os, platform, subprocess, sys

crit = sys.argv[1]
res = {}  # (group, function, value) -> (median, lo, hi) in ns
order = {}  # (group, function) -> when it was measured (criterion runs them in registry order)
for group in ("reg-grad", "reg-prox", "reg-rows", "step", "batch", "adv"):
    gdir = os.path.join(crit, group)
    for dirpath, _, files in os.walk(gdir):
        if os.path.basename(dirpath) != "new" or "benchmark.json" not in files:
            continue
        with open(os.path.join(dirpath, "benchmark.json")) as f:
            meta = json.load(f)
        with open(os.path.join(dirpath, "estimates.json")) as f:
            med = json.load(f)["median"]
        ci = med["confidence_interval"]
        key = (meta["group_id"], meta["function_id"], meta.get("value_str"))
        res[key] = (med["point_estimate"], ci["lower_bound"], ci["upper_bound"])
        t = os.path.getmtime(os.path.join(dirpath, "estimates.json"))
        order[key[:2]] = min(order.get(key[:2], t), t)

def fmt(ns):
    """Three significant figures (trailing zeros kept) in s, ms, µs or ns."""
    for unit, d in (("s", 1e9), ("ms", 1e6), ("µs", 1e3), ("ns", 1.0)):
        if ns >= d or unit == "ns":
            v = ns / d
            return f"{v:.{2 if v < 10 else 1 if v < 100 else 0}f} {unit}"

def cpu():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()

rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
print(f"Machine: {cpu()}, {os.cpu_count()} logical CPUs; {rustc}; RAYON_NUM_THREADS=1; criterion medians.")
print()

# Regularizers: one row per (regularizer, operation), one column per weight shape.
shapes = sorted({v for (g, _, v) in res if g in ("reg-grad", "reg-prox")}, key=lambda s: [int(x) for x in s.split("x")])
names = []
for (g, n) in sorted(order, key=order.get):
    if g in ("reg-grad", "reg-prox") and n not in names:
        names.append(n)
if shapes:
    print("### Regularizers on one layer (weight stored transposed as burn's `Linear`, with bias and init)")
    print()
    print("`grad`: `eval` with a gradient buffer (value + gradient, `Mode::Step`, steady state); "
          "`prox`: the proximal step (η·λ = 1e-6) on a fresh copy of the weights.")
    print()
    print("| regularizer | operation | " + " | ".join(f"[{s.replace('x', ', ')}]" for s in shapes) + " |")
    print("|---|---|" + "---:|" * len(shapes))
    for n in names:
        for g, op in (("reg-grad", "grad"), ("reg-prox", "prox")):
            cells = [res.get((g, n, s)) for s in shapes]
            if any(cells):
                print(f"| {n} | {op} | " + " | ".join(fmt(c[0]) if c else "–" for c in cells) + " |")
    print()

# Pairwise regularizers against the number of rows.
rows = sorted({v for (g, _, v) in res if g == "reg-rows"}, key=lambda s: [int(x) for x in s.split("x")])
if rows:
    print("### Pairwise cost: value + gradient against the number of rows (784 columns, transposed)")
    print()
    print("| regularizer | " + " | ".join(f"[{s.replace('x', ', ')}]" for s in rows) + " | ratio |")
    print("|---|" + "---:|" * (len(rows) + 1))
    for n in sorted({n for (g, n, _) in res if g == "reg-rows"}):
        cells = [res.get(("reg-rows", n, s)) for s in rows]
        ratio = f"{cells[-1][0] / cells[0][0]:.0f}×" if all(cells) and len(cells) > 1 else "–"
        print(f"| {n} | " + " | ".join(fmt(c[0]) if c else "–" for c in cells) + f" | {ratio} |")
    print()

# Training step: overhead of each term over the group's `none` from this same run.
for group, title in (
    ("step", "Training step: MLP 784-400-400-10, batch 128, Adam lr 1e-3, regularizer λ = 1e-4"),
    ("batch", "Training step with the batch built from the data (`Trainer::train_batch`): terms on the logits, the inputs and the forward pass"),
):
    steps = [(n, r) for (g, n, _), r in res.items() if g == group]
    if not steps:
        continue
    base = dict(steps).get("none")
    steps.sort(key=lambda s: (s[0] != "none", order[(group, s[0])]))
    print(f"### {title}")
    print()
    print(f"| bench | median | 95% CI of the median | overhead vs `{group}/none` |")
    print("|---|---:|---:|---:|")
    for n, (m, lo, hi) in steps:
        if n == "none":
            over = "–"
        elif base:
            d = m - base[0]
            over = f"{'+' if d >= 0 else '−'}{fmt(abs(d))} ({100 * d / base[0]:+.1f}%)"
        else:
            over = f"(no {group}/none in this run)"
        print(f"| {group}/{n} | {fmt(m)} | {fmt(lo)} – {fmt(hi)} | {over} |")
    print()

# Adversarial training: each method's step against the plain step and against PGD-10-AT.
adv = {n: r for (g, n, _), r in res.items() if g == "adv"}
if adv:
    base, pgd = adv.get("none"), adv.get("pgd-at")
    print("### Adversarial training step: small CNN (conv 16, conv 32), batch 100, ε = 0.3, Adam")
    print()
    print("| bench | median | 95% CI of the median | × `adv/none` | fraction of `adv/pgd-at` |")
    print("|---|---:|---:|---:|---:|")
    for n in sorted(adv, key=lambda n: order[("adv", n)]):
        m, lo, hi = adv[n]
        x_none = f"{m / base[0]:.2f}×" if base else "–"
        x_pgd = f"{m / pgd[0]:.2f}" if pgd else "–"
        print(f"| adv/{n} | {fmt(m)} | {fmt(lo)} – {fmt(hi)} | {x_none} | {x_pgd} |")
    print()
PY
