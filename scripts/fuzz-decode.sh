#!/usr/bin/env bash
# Fuzzes the decode path (probe + FileSource, fuzz/fuzz_targets/decode.rs)
# with cargo-fuzz for a fixed time budget. Not run in CI.
#
#   scripts/fuzz-decode.sh [seconds]    (default 600)
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`) and nightly rustc flags;
# on a stable toolchain RUSTC_BOOTSTRAP=1 enables them. Seeds are the
# committed corpus (__test__/corpus, __test__/formats, the io fixtures);
# the working corpus and any crash artifacts go to $FUZZ_WORK (default
# /tmp/resonode-fuzz). Prints executions, coverage and findings.
set -euo pipefail
budget=${1:-600}
root=$(cd "$(dirname "$0")/.." && pwd)
work=${FUZZ_WORK:-/tmp/resonode-fuzz}
mkdir -p "$work/corpus" "$work/artifacts" "$work/tmp"
for f in "$root"/__test__/corpus/* "$root"/__test__/formats/* "$root"/crates/io/tests/fixtures/*; do
  [ -f "$f" ] || continue
  [ "$(stat -c %s "$f")" -le 131072 ] || continue
  case "$f" in *.json) continue ;; esac
  # The target's first byte picks the extension: 1 = not .mp3.
  { printf '\001'; cat "$f"; } > "$work/corpus/seed-$(basename "$f")"
done
cd "$root/fuzz"
export RUSTC_BOOTSTRAP=1 RESONODE_FUZZ_TMP="$work/tmp"
log="$work/run-$(date +%Y%m%d-%H%M%S).log"
set +e
cargo fuzz run decode "$work/corpus" -- \
  -max_total_time="$budget" -timeout=20 -rss_limit_mb=2048 -max_len=65536 \
  -artifact_prefix="$work/artifacts/" -print_final_stats=1 2>&1 | tee "$log" | grep -E '^#[0-9]+.*(pulse|DONE|NEW)' | tail -3
status=${PIPESTATUS[0]}
set -e
echo "--- $log"
grep -E 'stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb|cov:' "$log" | tail -4
crashes=$(find "$work/artifacts" -type f | wc -l)
echo "findings (crash/timeout/oom artifacts in $work/artifacts): $crashes"
exit "$status"
