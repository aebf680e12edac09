#!/usr/bin/env bash
# Month-wise analysis at scale, side by side in one run: `analyze`, `run`, `report` and
# `export-legacy` on a synth set (x1) and on the same captures under four device names each (x4,
# symlinked device folders), with wall time and peak RSS (GNU time), medians of --runs.
#
#   bash benches/analysis.sh SYNTH_ROOT [--bin BIN] [--baseline OLD_BIN] [--runs N]
#
# SYNTH_ROOT is `iotdest synth --out SYNTH_ROOT --scale 1000 --seed 7`. With --baseline, the
# same analyze/report/export measurements are taken with another iotdest binary (an older
# commit) on copies of the same datasets. Scratch data goes under target/analysis-bench (or
# $TMPDIR/analysis-bench when TMPDIR is set); it needs about 2x the synth set's size in Parquet.
set -euo pipefail
cd "$(dirname "$0")/.."

root=""
bin="target/release/iotdest"
baseline=""
runs=3
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin="$2"; shift 2 ;;
    --baseline) baseline="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) root="$1"; shift ;;
  esac
done
[ -n "$root" ] && [ -d "$root" ] || { echo "usage: $0 SYNTH_ROOT [--bin BIN] [--baseline OLD_BIN] [--runs N]" >&2; exit 2; }
[ -x "$bin" ] || { echo "$bin not found (cargo build --release)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "needs GNU time (/usr/bin/time)" >&2; exit 2; }
root="$(cd "$root" && pwd)"
work="${TMPDIR:-target}/analysis-bench"
rm -rf "$work"
mkdir -p "$work/x4"
for d in "$root"/*/; do
  n="$(basename "$d")"
  for i in 1 2 3 4; do ln -s "$root/$n" "$work/x4/${n}_$i"; done
done

# measure LABEL CMD... : runs CMD --runs times, prints the median wall time and peak RSS.
measure() {
  local label="$1"; shift
  local times=() rss=()
  for _ in $(seq "$runs"); do
    /usr/bin/time -f "%e %M" -o "$work/time" "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
    read -r t m < "$work/time"
    times+=("$t"); rss+=("$m")
  done
  local mt mr
  mt="$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p")"
  mr="$(printf '%s\n' "${rss[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p")"
  printf '| %-52s | %8.2f s | %7.0f MB |\n' "$label" "$mt" "$((mr / 1024))"
}

echo "| command | median time | median peak RSS |"
echo "|---|---|---|"
for set in x1 x4; do
  src="$root"; [ "$set" = x4 ] && src="$work/x4"
  "$bin" extract --root "$src" --out "$work/$set" >/dev/null 2>&1
  measure "$set: analyze (every month)" "$bin" analyze --dataset "$work/$set" --force
  measure "$set: analyze (nothing changed)" "$bin" analyze --dataset "$work/$set"
  measure "$set: report" "$bin" report --dataset "$work/$set" --out "$work/$set.html"
  measure "$set: export-legacy" "$bin" export-legacy --dataset "$work/$set" --out "$work/$set-legacy"
  if [ -n "$baseline" ]; then
    rm -rf "$work/$set-old"
    "$baseline" extract --root "$src" --out "$work/$set-old" >/dev/null 2>&1
    measure "$set: analyze, baseline" "$baseline" analyze --dataset "$work/$set-old"
    measure "$set: report, baseline" "$baseline" report --dataset "$work/$set-old" --out "$work/$set-old.html"
    measure "$set: export-legacy, baseline" "$baseline" export-legacy --dataset "$work/$set-old" --out "$work/$set-old-legacy"
    rm -rf "$work/$set-old"
  fi
done

# One device-year.
dev="$(ls "$root" | head -1)"
year="$(ls "$root/$dev"/*/ | head -1 | cut -c1-4)"
"$bin" extract --root "$root" --device "$dev" --years "$year" --out "$work/year" >/dev/null 2>&1
measure "one device-year ($dev $year): analyze" "$bin" analyze --dataset "$work/year" --force

# Whole runs on x4: first run, nothing changed, one capture touched.
runs_saved="$runs"; runs=1
rm -rf "$work/run"
measure "x4: run (first)" "$bin" run --root "$work/x4" --all --out "$work/run"
runs="$runs_saved"
measure "x4: run (nothing changed)" "$bin" run --root "$work/x4" --all --out "$work/run"
capture="$(find "$root" -name '*.pcap' | sort | sed -n 5p)"
times=() ; rss=()
for _ in $(seq "$runs"); do
  touch "$capture"
  /usr/bin/time -f "%e %M" -o "$work/time" "$bin" run --root "$work/x4" --all --out "$work/run" >/dev/null 2>"$work/err"
  read -r t m < "$work/time"; times+=("$t"); rss+=("$m")
done
mt="$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p")"
mr="$(printf '%s\n' "${rss[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p")"
printf '| %-52s | %8.2f s | %7.0f MB |\n' "x4: run after touching $(basename "$capture")" "$mt" "$((mr / 1024))"
grep -h "analysis of\|extracted" "$work/err" | sed 's/^/  /' >&2
