#!/bin/bash
# One BERT fine-tuning step (all-MiniLM-L6-v2 + linear head, batch 32 × 64 tokens, forward +
# backward + AdamW) in PyTorch and in reglab, back to back on this machine, one thread each
# (pinned to CPU 0), and the throughput ratio reglab / PyTorch.
# Needs .venv (see README.md) and REGLAB_DATA (holding minilm/ and sst2/).
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${REGLAB_DATA:?set REGLAB_DATA to the folder holding minilm/ and sst2/}"
export RAYON_NUM_THREADS=1 OMP_NUM_THREADS=1
out=$(mktemp -d)
taskset -c 0 .venv/bin/python bench/compare/bert_step_torch.py --model "$REGLAB_DATA/minilm" --batch 32 --seq 64 --threads 1 --json > "$out/torch.json"
taskset -c 0 cargo bench -p reglab-train --bench bert_step 2>&1 | tee "$out/reglab.txt" | grep -E "time:|thrpt:"
python3 - "$out/torch.json" target/criterion/bert_step/minilm-l6_b32-s64_adamw/new/estimates.json <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
r = json.load(open(sys.argv[2]))
rs = r["median"]["point_estimate"] / 1e9
tokens = t["batch"] * t["seq"]
print(f"pytorch {t['torch']}: {t['median_s']:.3f} s/step, {t['tokens_per_s']:.0f} tokens/s, peak RSS {t['peak_rss_kib']/1024:.0f} MiB")
print(f"reglab: {rs:.3f} s/step, {tokens/rs:.0f} tokens/s")
print(f"reglab / pytorch throughput: {t['median_s']/rs:.2f}")
PY
