#!/usr/bin/env bash
# Whole-pipeline comparison, in one run on the same files:
#   iotdest extract   vs   the legacy pipeline's three tshark passes per file   vs   cat > /dev/null
# (warm cache: every measurement is preceded by one untimed read of the files).
#
# usage: benches/compare.sh ROOT [--runs N] [--tshark-runs N] [--bin PATH] [--threads N]
#   ROOT        a capture tree (<root>/<device>/ctrl2/<files>)
#   --runs      timed runs of iotdest and cat (default 5); the median is reported
#   --tshark-runs timed runs of the tshark passes (default 1: they are slow)
#   --bin       iotdest binary (default target/release/iotdest, else target/debug/iotdest)
# Prints a table of medians and ratios. It never fails on speed: it only measures.
set -euo pipefail

root=${1:?usage: benches/compare.sh ROOT [--runs N] [--tshark-runs N] [--bin PATH] [--threads N]}
shift
runs=5; truns=1; bin=""; threads=""
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2;;
    --tshark-runs) truns=$2; shift 2;;
    --bin) bin=$2; shift 2;;
    --threads) threads="--threads $2"; shift 2;;
    *) echo "unknown option $1" >&2; exit 2;;
  esac
done
here=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "$bin" ]; then
  if [ -x "$here/target/release/iotdest" ]; then bin="$here/target/release/iotdest"; else bin="$here/target/debug/iotdest"; fi
fi
mapfile -t files < <(find "$root" -type f -name '*.pcap*' | sort)
[ ${#files[@]} -gt 0 ] || { echo "no captures under $root" >&2; exit 2; }
bytes=$(cat "${files[@]}" | wc -c)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

now() { date +%s.%N; }
calc() { awk "BEGIN { print $1 }"; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) {print "nan"} else if (NR%2) {print a[(NR+1)/2]} else {print (a[NR/2]+a[NR/2+1])/2}}'; }

cat "${files[@]}" > /dev/null   # warm the cache

t_cat=(); t_iot=(); t_tsh=()
for _ in $(seq "$runs"); do
  s=$(now); cat "${files[@]}" > /dev/null; e=$(now); t_cat+=("$(calc "$e - $s")")
  rm -rf "$out/ds"
  s=$(now); "$bin" extract --root "$root" --out "$out/ds" $threads 2>/dev/null || true; e=$(now)
  t_iot+=("$(calc "$e - $s")")
done
have_tshark=1
command -v tshark >/dev/null 2>&1 || have_tshark=0
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
m_iot=$(printf '%s\n' "${t_iot[@]}" | median)
m_tsh=$( [ ${#t_tsh[@]} -gt 0 ] && printf '%s\n' "${t_tsh[@]}" | median || echo nan)
mb=$(calc "$bytes / 1000000")
printf '\nset: %s — %d files, %.1f MB; binary: %s\n' "$root" "${#files[@]}" "$mb" "$bin"
printf '%-28s %10s %12s %8s\n' "command" "median s" "MB/s" "runs"
printf '%-28s %10.3f %12.1f %8d\n' "cat > /dev/null (warm)" "$m_cat" "$(calc "$mb / $m_cat")" "$runs"
printf '%-28s %10.3f %12.1f %8d\n' "iotdest extract" "$m_iot" "$(calc "$mb / $m_iot")" "$runs"
if [ "$m_tsh" != nan ]; then
  printf '%-28s %10.3f %12.1f %8d\n' "tshark x3 (legacy)" "$m_tsh" "$(calc "$mb / $m_tsh")" "$truns"
  printf 'ratio tshark/iotdest: %.1fx faster\n' "$(calc "$m_tsh / $m_iot")"
else
  echo "tshark not installed: legacy comparison skipped"
fi
printf 'ratio iotdest/cat: %.2fx the time of cat\n' "$(calc "$m_iot / $m_cat")"
