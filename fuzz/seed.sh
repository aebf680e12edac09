#!/usr/bin/env bash
# Builds the fuzz seed corpora from the real captures in ../../shared/corpus (never committed):
# whole files for capture_reader, frames for decode, DNS/TLS/QUIC/HTTP payloads for the rest.
# Needs python3 and tshark.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
shared=${1:-$here/../../shared/corpus}
c=$here/corpus
mkdir -p "$c"/{capture_reader,decode,dns,tls_reassembly,quic,http}
mapfile -t files < <(find "$shared/edge" -type f -name '*.pcap*' -size -200k | sort; find "$shared/ctrl2" -type f -name '*.pcap' -size -20k | sort | head -40)
i=0
for f in "${files[@]}"; do
  i=$((i+1))
  cp "$f" "$c/capture_reader/file$i"
  python3 - "$f" "$c/decode" "$i" <<'PY'
import struct, sys
path, out, n = sys.argv[1], sys.argv[2], sys.argv[3]
links = [0, 1, 9, 10, 12, 101, 108, 113, 228, 229, 276]
data = open(path, 'rb').read()
if len(data) < 24 or data[:4] not in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1'):
    sys.exit(0)
link = struct.unpack('<I', data[20:24])[0]
if link not in links:
    sys.exit(0)
pos, k = 24, 0
while pos + 16 <= len(data) and k < 50:
    caplen = struct.unpack('<I', data[pos+8:pos+12])[0]
    frame = data[pos+16:pos+16+caplen]
    open(f"{out}/f{n}_{k}", 'wb').write(bytes([links.index(link)]) + frame)
    pos += 16 + caplen
    k += 1
PY
  dump() { tshark -r "$f" -Y "$1" -T fields -e "$2" 2>/dev/null | head -50 || true; }
  j=0; while read -r hex; do [ -n "$hex" ] && { j=$((j+1)); echo "$hex" | xxd -r -p > "$c/dns/d${i}_$j"; }; done < <(dump "dns && udp" udp.payload)
  j=0; while read -r hex; do [ -n "$hex" ] && { j=$((j+1)); (printf '\x40'; echo "$hex" | xxd -r -p) > "$c/tls_reassembly/t${i}_$j"; }; done < <(dump "tls.handshake.type==1 && tcp" tcp.payload)
  j=0; while read -r hex; do [ -n "$hex" ] && { j=$((j+1)); echo "$hex" | xxd -r -p > "$c/quic/q${i}_$j"; }; done < <(dump "quic" udp.payload)
  j=0; while read -r hex; do [ -n "$hex" ] && { j=$((j+1)); echo "$hex" | xxd -r -p > "$c/http/h${i}_$j"; }; done < <(dump "http.request && tcp" tcp.payload)
done
for t in "$c"/*; do echo "$(basename "$t"): $(ls "$t" | wc -l) seeds"; done
