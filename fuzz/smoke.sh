#!/usr/bin/env bash
# Run every fuzz target for N seconds (default 30) from its committed seeds, with the limits of
# docs/RELIABILITY.md; exit non-zero if any target finds a crash, panic, timeout or OOM.
#
#   fuzz/smoke.sh [SECONDS]          (needs `cargo +nightly` and `cargo install cargo-fuzz`)
#
# New corpus entries go to a temporary folder (the committed corpus is left as it is); findings
# are written to fuzz/artifacts/TARGET/. CARGO_TARGET_DIR is honoured as usual.
set -euo pipefail
secs="${1:-30}"
cd "$(dirname "$0")"
cargo +nightly fuzz build
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
failed=()
for target in $(cargo +nightly fuzz list); do
    mkdir -p "$tmp/$target" "artifacts/$target"
    echo "== $target (${secs}s)"
    if ! cargo +nightly fuzz run "$target" "$tmp/$target" "corpus/$target" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -timeout=1 -max_len=65536 \
        -artifact_prefix="artifacts/$target/" -print_final_stats=1 </dev/null; then
        failed+=("$target")
    fi
done
if ((${#failed[@]})); then
    echo "fuzz smoke: findings in ${failed[*]} (inputs under fuzz/artifacts/)" >&2
    exit 1
fi
echo "fuzz smoke: no findings"
