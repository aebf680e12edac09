//! Whole files: capture reader (pcap/pcapng/gzip framing) feeding the full extractor.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut packets = Vec::new();
    let _ = iotdest::ingest::reader::read_capture_bytes(data, |p| {
        if packets.len() < 4096 {
            packets.push((p.ts_us, p.link_type, p.data.to_vec(), p.orig_len));
        }
    });
    let raw = packets.iter().map(|(ts, lt, d, ol)| iotdest::ingest::reader::RawPacket { ts_us: *ts, link_type: *lt, data: d, orig_len: *ol });
    let _ = iotdest::extract::extract_packets(None, raw);
});
