#!/usr/bin/env bash
# Before/after in one run: `cat` of the captures, then each iotdest binary given with
# `extract --threads 1` and `--threads 2`, alternated run by run (the machine is noisy: only
# numbers from one run compare); prints medians and the highest peak RSS (GNU time).
#
# usage: benches/side_by_side.sh ROOT RUNS BIN...
#   e.g. benches/side_by_side.sh /tmp/big 5 /tmp/iotdest-before target/release/iotdest
# It never fails on speed: it only measures.
set -euo pipefail
root=${1:?usage: benches/side_by_side.sh ROOT RUNS BIN...}
runs=${2:?usage: benches/side_by_side.sh ROOT RUNS BIN...}
shift 2
[ $# -gt 0 ] || { echo "usage: benches/side_by_side.sh ROOT RUNS BIN..." >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "needs GNU time (/usr/bin/time)" >&2; exit 2; }
here=$(cd "$(dirname "$0")/.." && pwd)
mapfile -t files < <(find "$root" -type f -name '*.pcap*' | sort)
[ ${#files[@]} -gt 0 ] || { echo "no captures under $root" >&2; exit 2; }
scratch=${TMPDIR:-$here/target}
mkdir -p "$scratch"
work=$(mktemp -d "$scratch/side.XXXXXX")
trap 'rm -rf "$work"' EXIT
cat "${files[@]}" > /dev/null   # warm the cache
declare -A T R
# Each run writes a new output folder, all removed at the end (see compare.sh: ext4 is slow to
# create files where many were just deleted).
n=0
for _ in $(seq "$runs"); do
  s=$(date +%s.%N); cat "${files[@]}" > /dev/null; e=$(date +%s.%N)
  T[cat]+="$(awk "BEGIN { print $e - $s }") "
  for b in "$@"; do
    for t in 1 2; do
      n=$((n + 1))
      /usr/bin/time -o "$work/time" -f "%e %M" "$b" extract --root "$root" --out "$work/out.$n" \
        --threads "$t" > /dev/null 2>&1 || true
      x=$(tail -1 "$work/time")
      k="$b --threads $t"
      T[$k]+="${x% *} "
      R[$k]+="${x#* } "
    done
  done
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "set $root: ${#files[@]} files, $(cat "${files[@]}" | wc -c) bytes; $runs runs; medians"
echo "cat > /dev/null: $(echo "${T[cat]}" | median) s"
for b in "$@"; do
  for t in 1 2; do
    k="$b --threads $t"
    rss=$(echo "${R[$k]}" | tr ' ' '\n' | grep . | sort -g | tail -1)
    echo "$k: $(echo "${T[$k]}" | median) s, peak RSS $((rss / 1024)) MB (runs: ${T[$k]})"
  done
done
