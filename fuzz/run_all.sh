#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 300) on its seed corpus; prints executions per
# target. Stable toolchain: RUSTC_BOOTSTRAP lets cargo-fuzz pass its -Z flags.
set -uo pipefail
cd "$(dirname "$0")"
secs=${1:-300}
for t in capture_reader decode dns tls_reassembly quic http; do
  mkdir -p corpus/$t artifacts/$t
  RUSTC_BOOTSTRAP=1 cargo fuzz run -O "$t" "corpus/$t" -- -max_total_time="$secs" -rss_limit_mb=2048 -max_len=65536 \
    -artifact_prefix="artifacts/$t/" > "logs-$t.txt" 2>&1
  echo "$t: exit $? $(grep -E '^Done [0-9]+ runs' "logs-$t.txt" | tail -1)"
done
