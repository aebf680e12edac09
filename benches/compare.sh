#!/usr/bin/env bash
# Whole-pipeline comparison, in one run on the same files:
#   iotdest extract   vs   the legacy pipeline's three tshark passes per file   vs   cat > /dev/null
# (warm cache: every measurement is preceded by one untimed read of the files).
#
# usage: benches/compare.sh ROOT [--runs N] [--tshark-runs N] [--bin PATH] [--threads "1 2"]
#                                [--limit N]
#   ROOT          a capture tree (<root>/<device>/ctrl2/<files>)
#   --runs        timed runs of iotdest and cat (default 5); the median is reported
#   --tshark-runs timed runs of the tshark passes (default 1: they are slow; 0 skips them)
#   --bin         iotdest binary (default target/release/iotdest, else target/debug/iotdest)
#   --threads     the --threads values to time extract with (default "1 2"); the last is the
#                 one compared with cat and tshark
#   --limit       use only the first N files (sorted by path), for a quick check
# Prints a table of medians, peak resident memory (when /usr/bin/time exists) and ratios.
# It never fails on speed: it only measures.
set -euo pipefail

root=${1:?usage: benches/compare.sh ROOT [--runs N] [--tshark-runs N] [--bin PATH] [--threads "1 2"] [--limit N]}
shift
runs=5; truns=1; bin=""; threads="1 2"; limit=0
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2;;
    --tshark-runs) truns=$2; shift 2;;
    --bin) bin=$2; shift 2;;
    --threads) threads=$2; shift 2;;
    --limit) limit=$2; shift 2;;
    *) echo "unknown option $1" >&2; exit 2;;
  esac
done
here=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "$bin" ]; then
  if [ -x "$here/target/release/iotdest" ]; then bin="$here/target/release/iotdest"; else bin="$here/target/debug/iotdest"; fi
fi
mapfile -t files < <(find "$root" -type f -name '*.pcap*' | sort)
[ ${#files[@]} -gt 0 ] || { echo "no captures under $root" >&2; exit 2; }
if [ "$limit" -gt 0 ] && [ ${#files[@]} -gt "$limit" ]; then files=("${files[@]:0:$limit}"); fi
bytes=$(cat "${files[@]}" | wc -c)
# Scratch dataset under target/ (TMPDIR overrides): on some machines /tmp is much slower to write.
scratch=${TMPDIR:-$here/target}
mkdir -p "$scratch"
out=$(mktemp -d "$scratch/compare.XXXXXX")
trap 'rm -rf "$out"' EXIT

now() { date +%s.%N; }
calc() { awk "BEGIN { print $1 }"; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) {print "nan"} else if (NR%2) {print a[(NR+1)/2]} else {print (a[NR/2]+a[NR/2+1])/2}}'; }

cat "${files[@]}" > /dev/null   # warm the cache

printf '%s\n' "${files[@]}" > "$out/files.txt"
timer=""; [ -x /usr/bin/time ] && timer=/usr/bin/time
# extract RUN_THREADS: one timed run; appends "seconds peak_kb" to $out/iot-RUN_THREADS.
# Every run writes a new dataset folder, removed only at the end: on ext4, creating files where
# many were just deleted is slow (the inode allocator skips recently deleted inodes; ctrl2 went
# from 0.2 to 0.7 s over a few runs that deleted the previous output), which a real first
# extraction never pays.
n_ds=0
extract() {
  n_ds=$((n_ds + 1))
  local ds="$out/ds.$n_ds"
  local s e rss=nan
  s=$(now)
  if [ -n "$timer" ]; then
    $timer -f '%M' -o "$out/rss" "$bin" extract --input-list "$out/files.txt" --out "$ds" \
      --date-from-packets --threads "$1" 2>/dev/null || true
    rss=$(tail -1 "$out/rss")
  else
    "$bin" extract --input-list "$out/files.txt" --out "$ds" --date-from-packets \
      --threads "$1" 2>/dev/null || true
  fi
  e=$(now)
  echo "$(calc "$e - $s") $rss" >> "$out/iot-$1"
}
t_cat=(); t_tsh=()
for _ in $(seq "$runs"); do
  s=$(now); cat "${files[@]}" > /dev/null; e=$(now); t_cat+=("$(calc "$e - $s")")
  for t in $threads; do extract "$t"; done
done
have_tshark=1
command -v tshark >/dev/null 2>&1 || have_tshark=0
[ "$truns" -gt 0 ] || have_tshark=0
if [ $have_tshark = 1 ]; then
  for _ in $(seq "$truns"); do
    s=$(now)
    for f in "${files[@]}"; do
      tshark -r "$f" -Y "dns.flags.response==1 && not mdns" -T fields -e dns.qry.name -e dns.qry.type -e dns.a -e dns.aaaa > /dev/null 2>&1 || true
      tshark -r "$f" -Y "tls.handshake.extensions_server_name" -T fields -e tls.handshake.extensions_server_name -e ip.dst > /dev/null 2>&1 || true
      tshark -r "$f" -Y ip -T fields -e ip.src -e ip.dst > /dev/null 2>&1 || true
    done
    e=$(now); t_tsh+=("$(calc "$e - $s")")
  done
fi

m_cat=$(printf '%s\n' "${t_cat[@]}" | median)
m_tsh=$( [ ${#t_tsh[@]} -gt 0 ] && printf '%s\n' "${t_tsh[@]}" | median || echo nan)
mb=$(calc "$bytes / 1000000")
printf '\nset: %s: %d files, %.1f MB; binary: %s; %s\n' "$root" "${#files[@]}" "$mb" "$bin" "$(nproc) cores"
printf '%-30s %10s %10s %12s %6s\n' "command" "median s" "MB/s" "peak RSS MB" "runs"
printf '%-30s %10.3f %10.1f %12s %6d\n' "cat > /dev/null (warm)" "$m_cat" "$(calc "$mb / $m_cat")" "-" "$runs"
m_iot=nan; first=""
for t in $threads; do
  m=$(awk '{print $1}' "$out/iot-$t" | median)
  r=$(awk '{print $2}' "$out/iot-$t" | median)
  rmb=$( [ "$r" = nan ] && echo - || printf '%.1f' "$(calc "$r / 1024")" )
  printf '%-30s %10.3f %10.1f %12s %6d\n' "iotdest extract --threads $t" "$m" "$(calc "$mb / $m")" "$rmb" "$runs"
  [ -z "$first" ] && first=$m && first_t=$t
  m_iot=$m; last_t=$t
done
if [ "$m_tsh" != nan ]; then
  printf '%-30s %10.3f %10.1f %12s %6d\n' "tshark x3 (legacy)" "$m_tsh" "$(calc "$mb / $m_tsh")" "-" "$truns"
  printf 'ratio tshark/iotdest (--threads %s): %.1fx faster\n' "$last_t" "$(calc "$m_tsh / $m_iot")"
else
  echo "tshark not run (not installed or --tshark-runs 0): legacy comparison skipped"
fi
printf 'ratio iotdest (--threads %s)/cat: %.2fx the time of cat\n' "$last_t" "$(calc "$m_iot / $m_cat")"
if [ "$first_t" != "$last_t" ]; then
  printf 'ratio --threads %s/--threads %s: %.2fx faster\n' "$last_t" "$first_t" "$(calc "$first / $m_iot")"
fi
