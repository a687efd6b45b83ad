#!/usr/bin/env bash
# `reglab submit slurm` against a real Slurm: a single-host cluster (slurmctld, slurmd and
# munged on this machine, .ci/slurm-cluster.sh) runs an experiment's cells as a job array and
# merges them in a dependent job; the merged results must be byte-identical to a local
# `reglab run`. Then one array task is cancelled mid-run (scancel of its index), resubmitted
# alone, and must resume from its shard's checkpoints to the same bytes.
#   bash .ci/slurm-test.sh [REGLAB_BINARY]      (default: target/release/reglab)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bin=$(realpath "${1:-${CARGO_TARGET_DIR:-target}/release/reglab}")
[ -x "$bin" ] || { echo "slurm-test: no reglab binary at $bin (cargo build --release first)" >&2; exit 1; }
work=$(mktemp -d /tmp/reglab-slurm-test.XXXXXX)
cleanup() { bash "$root/.ci/slurm-cluster.sh" stop >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
SECONDS=0
bash .ci/slurm-cluster.sh
echo "slurm-test: cluster up in ${SECONDS} s"

# wait (bounded) until job $1 has left the queue
wait_gone() {
  local id=$1 limit=$2 t=0
  while squeue -h -j "$id" 2>/dev/null | grep -q .; do
    sleep 2; t=$((t + 2))
    if [ "$t" -ge "$limit" ]; then echo "slurm-test: job $id still queued after ${limit} s" >&2; squeue >&2; return 1; fi
  done
}

same() {  # same bytes in the merged run and a local run
  local a=$1 b=$2
  for f in results.json results.csv report.html; do
    cmp "$a/$f" "$b/$f" || { echo "slurm-test: $f differs between $a and $b" >&2; return 1; }
  done
}

# 1. The quickstart experiment: 6 cells as 6 array tasks, then the merge.
exp=experiments/quickstart.toml
"$bin" run "$exp" --out "$work/local" --quiet >/dev/null
"$bin" submit slurm "$exp" --out "$work/sub" --time 00:10:00 --submit | tee "$work/submit.txt"
array=$(sed -n 's/^array job \([0-9]*\).*/\1/p' "$work/submit.txt")
merge=$(sed -n 's/.*merge job \([0-9]*\).*/\1/p' "$work/submit.txt")
[ -n "$array" ] && [ -n "$merge" ] || { echo "slurm-test: no job ids in the submission's output" >&2; exit 1; }
wait_gone "$array" 300
wait_gone "$merge" 300
[ -f "$work/sub/run/results.json" ] || { echo "slurm-test: the merge wrote no results" >&2; cat "$work"/sub/logs/*.out >&2 || true; exit 1; }
same "$work/sub/run" "$work/local"
echo "slurm-test: 6 array tasks + merge = local run, byte for byte (${SECONDS} s)"

# 2. Preemption: longer cells (120 tasks each, ~10 s), 3 cells per array task; cancel task 1
#    once it has finished a cell and is inside the next (a checkpoint in its shard), resubmit
#    that index alone, merge.
sets=(--set stream.tasks=120)
"$bin" run "$exp" "${sets[@]}" --out "$work/local2" --jobs 2 --quiet >/dev/null
"$bin" submit slurm "$exp" "${sets[@]}" --out "$work/sub2" --chunk 3 --time 00:20:00 --submit | tee "$work/submit2.txt"
array=$(sed -n 's/^array job \([0-9]*\).*/\1/p' "$work/submit2.txt")
merge=$(sed -n 's/.*merge job \([0-9]*\).*/\1/p' "$work/submit2.txt")
shard="$work/sub2/shards/1"
t=0
until [ "$(find "$shard/cells" -name '*.cbor' 2>/dev/null | wc -l)" -ge 1 ]; do
  sleep 1; t=$((t + 1))
  [ "$t" -lt 240 ] || { echo "slurm-test: task 1 finished no cell in 240 s" >&2; squeue >&2; exit 1; }
done
sleep 4
done_before=$(find "$shard/cells" -name '*.cbor' | wc -l)
[ "$done_before" -lt 3 ] || { echo "slurm-test: task 1 finished before it could be cancelled" >&2; exit 1; }
[ -n "$(find "$shard/checkpoints" -name '*.safetensors' 2>/dev/null | head -1)" ] || { echo "slurm-test: no checkpoint of the running cell in $shard" >&2; exit 1; }
scancel "${array}_1"
wait_gone "${array}_1" 60
echo "slurm-test: cancelled task 1 with $done_before of its 3 cells done and the next one's checkpoint in its shard"
wait_gone "$array" 600
# the merge can never start now (afterok failed): cancel it, resubmit index 1, then merge
scancel "$merge" 2>/dev/null || true
again=$(sbatch --parsable --array=1 "$work/sub2/cells.sbatch"); again=${again%%;*}
wait_gone "$again" 600
# the resubmitted task kept the cells its first run had finished
grep -q "already there" "$work/sub2/logs/cells-1.out" || { echo "slurm-test: the resubmitted task redid its finished cells" >&2; cat "$work/sub2/logs/cells-1.out" >&2; exit 1; }
merge2=$(sbatch --parsable "$work/sub2/merge.sbatch"); merge2=${merge2%%;*}
wait_gone "$merge2" 300
[ -f "$work/sub2/run/results.json" ] || { echo "slurm-test: the second merge wrote no results" >&2; cat "$work"/sub2/logs/*.out >&2 || true; exit 1; }
same "$work/sub2/run" "$work/local2"
echo "slurm-test: cancelled and resubmitted task resumed; merge = local run, byte for byte (${SECONDS} s)"
echo "slurm-test: 2 passed, 0 failed"
