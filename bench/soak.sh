#!/usr/bin/env bash
# Soak run: one experiment for a long time with --jobs 2, its resident memory (RSS), open file
# descriptors and threads sampled every INTERVAL seconds; then the same experiment run in pieces
# (its cells in shards, merged by `reglab report`), which must give the same files byte for byte.
#   bench/soak.sh EXPERIMENT.toml OUT [--set KEY=VALUE ...]
#   env: REGLAB (the binary; default target/release/reglab), INTERVAL (default 5), PIECES
#        (shards for the second run; default 3)
# Writes OUT/soak.csv (seconds, rss_kib, fds, threads), OUT/whole/, OUT/shards/, OUT/merged/,
# and prints a summary; plot with bench/soak_plot.py OUT.
set -euo pipefail
exp=$1; out=$2; shift 2
sets=("$@")
bin=${REGLAB:-target/release/reglab}
interval=${INTERVAL:-5}
pieces=${PIECES:-3}
[ -x "$bin" ] || { echo "soak: no binary at $bin" >&2; exit 1; }
[ ! -e "$out" ] || { echo "soak: $out exists" >&2; exit 1; }
mkdir -p "$out"
echo "seconds,rss_kib,fds,threads" > "$out/soak.csv"
start=$(date +%s)
"$bin" run "$exp" "${sets[@]}" --out "$out/whole" --jobs 2 --quiet > "$out/whole.log" 2>&1 &
pid=$!
while kill -0 "$pid" 2>/dev/null; do
  if [ -r "/proc/$pid/status" ]; then
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    thr=$(awk '/^Threads:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    fds=$(ls "/proc/$pid/fd" 2>/dev/null | wc -l)
    [ -n "$rss" ] && echo "$(( $(date +%s) - start )),$rss,$fds,$thr" >> "$out/soak.csv"
  fi
  sleep "$interval"
done
wait "$pid" || { echo "soak: the run failed" >&2; cat "$out/whole.log" >&2; exit 1; }
whole_s=$(( $(date +%s) - start ))
# the same cells in pieces
cells=$("$bin" plan "$exp" "${sets[@]}" --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["cells"]))')
from=()
for p in $(seq 0 $((pieces - 1))); do
  lo=$(( p * cells / pieces )); hi=$(( (p + 1) * cells / pieces ))
  [ "$hi" -gt "$lo" ] || continue
  "$bin" run "$exp" "${sets[@]}" --cells "$lo..$hi" --out "$out/shards/$p" --jobs 2 --quiet > /dev/null
  from+=(--from "$out/shards/$p")
done
"$bin" report "$exp" "${sets[@]}" "${from[@]}" --out "$out/merged" > /dev/null
for f in results.json results.csv report.html; do
  cmp "$out/whole/$f" "$out/merged/$f" || { echo "soak: $f differs between the whole run and the pieces" >&2; exit 1; }
done
python3 - "$out/soak.csv" "$whole_s" "$cells" <<'PY'
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1]))]
t = [int(r["seconds"]) for r in rows]; rss = [int(r["rss_kib"]) / 1024 for r in rows]
fds = [int(r["fds"]) for r in rows]; thr = [int(r["threads"]) for r in rows]
half = len(rows) // 2
def slope(xs, ys):
    n = len(xs); mx = sum(xs) / n; my = sum(ys) / n
    d = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / d if d else 0.0
print(f"soak: {sys.argv[2]} s, {sys.argv[3]} cells, {len(rows)} samples")
print(f"soak: RSS MiB first {rss[0]:.1f}, median {sorted(rss)[len(rss)//2]:.1f}, max {max(rss):.1f}, last {rss[-1]:.1f}; "
      f"second-half slope {slope(t[half:], rss[half:]) * 3600:+.2f} MiB/h")
print(f"soak: file descriptors min {min(fds)} max {max(fds)}; threads min {min(thr)} max {max(thr)}")
print("soak: the whole run and the merged pieces are byte-identical")
PY
