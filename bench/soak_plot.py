#!/usr/bin/env python3
"""Plot a soak run's samples: python3 bench/soak_plot.py OUT  (reads OUT/soak.csv, writes OUT/soak.png).

Panels: resident memory over the run; open descriptors and threads over the run; and, where the
CSV has a `rows` column (finished job-tasks), resident memory against rows with its least-squares
line over the second half, whose slope is the growth per finished task."""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

out = sys.argv[1]
rows = list(csv.DictReader(open(f"{out}/soak.csv")))
t = [int(r["seconds"]) / 60 for r in rows]
rss = [int(r["rss_kib"]) / 1024 for r in rows]
has_rows = "rows" in rows[0]
fig, axes = plt.subplots(3 if has_rows else 2, 1, figsize=(7, 8 if has_rows else 5))
a, b = axes[0], axes[1]
a.plot(t, rss)
a.set_ylabel("RSS (MiB)")
a.set_xlabel("minutes")
a.set_ylim(bottom=0)
b.plot(t, [int(r["fds"]) for r in rows], label="open file descriptors")
b.plot(t, [int(r["threads"]) for r in rows], label="threads")
b.set_xlabel("minutes")
b.set_ylim(bottom=0)
b.legend()
a.set_title("reglab run --jobs 2: resident memory, descriptors and threads")
if has_rows:
    c = axes[2]
    done = [int(r["rows"]) for r in rows]
    c.plot(done, rss, ".", markersize=2)
    h = len(rows) // 2
    xs, ys = done[h:], rss[h:]
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    d = sum((x - mx) ** 2 for x in xs)
    k = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / d if d else 0.0
    c.plot([xs[0], xs[-1]], [my + k * (xs[0] - mx), my + k * (xs[-1] - mx)], "r-",
           label=f"second half: {k * 1024 * 1024:+.0f} bytes per task")
    c.set_xlabel("finished job-tasks (rows)")
    c.set_ylabel("RSS (MiB)")
    c.set_ylim(bottom=0)
    c.legend()
fig.tight_layout()
fig.savefig(f"{out}/soak.png", dpi=120)
