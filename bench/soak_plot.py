#!/usr/bin/env python3
"""Plot a soak run's samples: python3 bench/soak_plot.py OUT  (reads OUT/soak.csv, writes OUT/soak.png)."""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

out = sys.argv[1]
rows = list(csv.DictReader(open(f"{out}/soak.csv")))
t = [int(r["seconds"]) / 60 for r in rows]
fig, (a, b) = plt.subplots(2, 1, figsize=(7, 5), sharex=True)
a.plot(t, [int(r["rss_kib"]) / 1024 for r in rows])
a.set_ylabel("RSS (MiB)")
a.set_ylim(bottom=0)
b.plot(t, [int(r["fds"]) for r in rows], label="open file descriptors")
b.plot(t, [int(r["threads"]) for r in rows], label="threads")
b.set_xlabel("minutes")
b.set_ylim(bottom=0)
b.legend()
a.set_title("reglab run --jobs 2: resident memory, descriptors and threads over the run")
fig.tight_layout()
fig.savefig(f"{out}/soak.png", dpi=120)
