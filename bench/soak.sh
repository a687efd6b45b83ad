#!/usr/bin/env bash
# Soak run: one experiment for a long time with --jobs 2, its resident memory (RSS), open file
# descriptors, threads and the rows (finished job-tasks) so far sampled every INTERVAL seconds;
# the same experiment run in pieces (its cells in shards, merged by `reglab report`) must give
# the same files byte for byte.
#   bench/soak.sh EXPERIMENT.toml OUT [--set KEY=VALUE ...]
#   env: REGLAB (the binary; default target/release/reglab), INTERVAL (default 5), PIECES
#        (shards for the second run; default 3), BESIDE=1 (run the pieces at the same time as
#        the whole run instead of after it: half the wall time on a busy machine, and two
#        processes writing beside each other)
# Writes OUT/soak.csv (seconds, rss_kib, fds, threads, rows), OUT/whole/, OUT/shards/,
# OUT/merged/, and prints a summary: RSS against rows gives the growth per finished task.
# Plot with bench/soak_plot.py OUT.
set -euo pipefail
exp=$1; out=$2; shift 2
sets=("$@")
bin=${REGLAB:-target/release/reglab}
interval=${INTERVAL:-5}
pieces=${PIECES:-3}
[ -x "$bin" ] || { echo "soak: no binary at $bin" >&2; exit 1; }
[ ! -e "$out" ] || { echo "soak: $out exists" >&2; exit 1; }
mkdir -p "$out"
echo "seconds,rss_kib,fds,threads,rows" > "$out/soak.csv"

run_pieces() {
  local cells lo hi
  cells=$("$bin" plan "$exp" "${sets[@]}" --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["cells"]))')
  for p in $(seq 0 $((pieces - 1))); do
    lo=$(( p * cells / pieces )); hi=$(( (p + 1) * cells / pieces ))
    [ "$hi" -gt "$lo" ] || continue
    "$bin" run "$exp" "${sets[@]}" --cells "$lo..$hi" --out "$out/shards/$p" --jobs 2 --quiet > /dev/null
  done
  echo "$cells" > "$out/cells"
}

start=$(date +%s)
"$bin" run "$exp" "${sets[@]}" --out "$out/whole" --jobs 2 --quiet > "$out/whole.log" 2>&1 &
pid=$!
if [ "${BESIDE:-0}" = 1 ]; then
  run_pieces > "$out/pieces.log" 2>&1 &
  pieces_pid=$!
fi
while kill -0 "$pid" 2>/dev/null; do
  if [ -r "/proc/$pid/status" ]; then
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    thr=$(awk '/^Threads:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    fds=$(ls "/proc/$pid/fd" 2>/dev/null | wc -l)
    rows=$( { cat "$out"/whole/checkpoints/*/*.rows.jsonl 2>/dev/null || true; } | wc -l)
    [ -n "$rss" ] && echo "$(( $(date +%s) - start )),$rss,$fds,$thr,$rows" >> "$out/soak.csv"
  fi
  sleep "$interval"
done
wait "$pid" || { echo "soak: the run failed" >&2; cat "$out/whole.log" >&2; exit 1; }
whole_s=$(( $(date +%s) - start ))
if [ "${BESIDE:-0}" = 1 ]; then
  wait "$pieces_pid" || { echo "soak: the pieces failed" >&2; cat "$out/pieces.log" >&2; exit 1; }
else
  run_pieces
fi
from=()
for d in "$out"/shards/*; do from+=(--from "$d"); done
"$bin" report "$exp" "${sets[@]}" "${from[@]}" --out "$out/merged" > /dev/null
for f in results.json results.csv report.html; do
  cmp "$out/whole/$f" "$out/merged/$f" || { echo "soak: $f differs between the whole run and the pieces" >&2; exit 1; }
done
python3 - "$out/soak.csv" "$whole_s" "$(cat "$out/cells")" <<'PY'
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1]))]
t = [int(r["seconds"]) for r in rows]; rss = [int(r["rss_kib"]) / 1024 for r in rows]
fds = [int(r["fds"]) for r in rows]; thr = [int(r["threads"]) for r in rows]
done = [int(r["rows"]) for r in rows]
half = len(rows) // 2
def slope(xs, ys):
    n = len(xs); mx = sum(xs) / n; my = sum(ys) / n
    d = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / d if d else 0.0
print(f"soak: {sys.argv[2]} s, {sys.argv[3]} cells, {len(rows)} samples, {done[-1]} rows (job-tasks) at the last sample")
print(f"soak: RSS MiB first {rss[0]:.1f}, median {sorted(rss)[len(rss)//2]:.1f}, max {max(rss):.1f}, last {rss[-1]:.1f}")
print(f"soak: second half: RSS slope {slope(t[half:], rss[half:]) * 3600:+.2f} MiB/h, "
      f"{slope(done[half:], rss[half:]) * 1024 * 1024:+.0f} bytes per finished job-task")
print(f"soak: file descriptors min {min(fds)} max {max(fds)}; threads min {min(thr)} max {max(thr)}")
print("soak: the whole run and the merged pieces are byte-identical")
PY
