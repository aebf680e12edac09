//! Unit tests of the generator: determinism, naming, checksums, TCP consistency, DNS and TLS.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;

use super::*;

/// All files under `root`, sorted by relative path.
fn files(root: &Path) -> Vec<PathBuf> {
    fn walk(d: &Path, acc: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(d).expect("readable test dir") {
            let p = e.expect("dir entry").path();
            if p.is_dir() {
                walk(&p, acc)
            } else {
                acc.push(p)
            }
        }
    }
    let mut v = Vec::new();
    walk(root, &mut v);
    v.sort();
    v
}

/// Reads any of the formats written (gzip, classic µs/ns, pcapng) into (ts µs, frame).
fn read_capture(path: &Path) -> Vec<(u64, Vec<u8>)> {
    let mut raw = std::fs::read(path).expect("capture readable");
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut d = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut d)
            .expect("valid gzip");
        raw = d;
    }
    let u32le = |b: &[u8], o: usize| u32::from_le_bytes(b[o..o + 4].try_into().expect("4 bytes"));
    let mut out = Vec::new();
    match u32le(&raw, 0) {
        m @ (0xa1b2_c3d4 | 0xa1b2_3c4d) => {
            assert_eq!(u32le(&raw, 20), 1, "linktype ethernet");
            let mut o = 24;
            while o < raw.len() {
                let frac = u64::from(u32le(&raw, o + 4));
                let us = if m == 0xa1b2_3c4d { frac / 1000 } else { frac };
                let ts = u64::from(u32le(&raw, o)) * 1_000_000 + us;
                let len = u32le(&raw, o + 8) as usize;
                out.push((ts, raw[o + 16..o + 16 + len].to_vec()));
                o += 16 + len;
            }
        }
        0x0A0D_0D0A => {
            let mut o = 0;
            while o < raw.len() {
                let (ty, len) = (u32le(&raw, o), u32le(&raw, o + 4) as usize);
                assert_eq!(
                    u32le(&raw, o + len - 4) as usize,
                    len,
                    "trailing block length"
                );
                if ty == 6 {
                    let ts =
                        (u64::from(u32le(&raw, o + 12)) << 32) | u64::from(u32le(&raw, o + 16));
                    let cap = u32le(&raw, o + 20) as usize;
                    out.push((ts, raw[o + 28..o + 28 + cap].to_vec()));
                }
                o += len;
            }
        }
        m => panic!("unknown magic {m:#x} in {}", path.display()),
    }
    out
}

/// Minimal decoded view of a frame.
#[derive(Debug)]
struct Pkt {
    src: Vec<u8>,
    dst: Vec<u8>,
    proto: u8,
    sport: u16,
    dport: u16,
    seq: u32,
    flags: u8,
    payload: Vec<u8>,
    /// IPv4 header, for checksum checks.
    v4_header: Option<Vec<u8>>,
}

fn parse(frame: &[u8]) -> Option<Pkt> {
    let et = u16::from_be_bytes([frame[12], frame[13]]);
    let ip = &frame[14..];
    let (src, dst, proto, l4, v4_header) = match et {
        0x0800 => {
            let ihl = usize::from(ip[0] & 15) * 4;
            let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
            (
                ip[12..16].to_vec(),
                ip[16..20].to_vec(),
                ip[9],
                &ip[ihl..total],
                Some(ip[..ihl].to_vec()),
            )
        }
        0x86dd => {
            let plen = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
            (
                ip[8..24].to_vec(),
                ip[24..40].to_vec(),
                ip[6],
                &ip[40..40 + plen],
                None,
            )
        }
        _ => return None,
    };
    let port = |o: usize| u16::from_be_bytes([l4[o], l4[o + 1]]);
    let (seq, flags, payload) = match proto {
        6 => {
            let off = usize::from(l4[12] >> 4) * 4;
            (
                u32::from_be_bytes(l4[4..8].try_into().ok()?),
                l4[13],
                l4[off..].to_vec(),
            )
        }
        17 => (0, 0, l4[8..].to_vec()),
        _ => return None,
    };
    Some(Pkt {
        src,
        dst,
        proto,
        sport: port(0),
        dport: port(2),
        seq,
        flags,
        payload,
        v4_header,
    })
}

/// (source IP, source port, destination IP, destination port).
type FlowDir = (Vec<u8>, u16, Vec<u8>, u16);

fn gen(scale: f64) -> (tempfile::TempDir, SynthSummary) {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = generate(&SynthOptions {
        out: dir.path().to_path_buf(),
        seed: 7,
        scale,
    })
    .expect("generate");
    (dir, s)
}

#[test]
fn same_seed_same_bytes_and_size_budget() {
    let (a, sa) = gen(1.0);
    let (b, sb) = gen(1.0);
    assert_eq!(sa, sb);
    let (fa, fb) = (files(a.path()), files(b.path()));
    assert_eq!(fa.len(), sa.files);
    assert_eq!(fa.len(), fb.len());
    for (x, y) in fa.iter().zip(&fb) {
        assert_eq!(x.strip_prefix(a.path()).ok(), y.strip_prefix(b.path()).ok());
        assert!(
            std::fs::read(x).ok() == std::fs::read(y).ok(),
            "{} differs",
            x.display()
        );
    }
    let on_disk: u64 = fa
        .iter()
        .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
        .sum();
    assert_eq!(on_disk, sa.bytes);
    assert!(
        (1_000_000..=3_000_000).contains(&sa.bytes),
        "scale 1 size {}",
        sa.bytes
    );
    assert!((30..=50).contains(&sa.files));
    let other = tempfile::tempdir().expect("tempdir");
    let so = generate(&SynthOptions {
        out: other.path().to_path_buf(),
        seed: 8,
        scale: 1.0,
    })
    .expect("generate");
    assert_ne!(so.packets, sa.packets, "another seed gives other data");
}

#[test]
fn scale_grows_packets_not_files() {
    let (_a, small) = gen(0.2);
    let (_b, big) = gen(3.0);
    assert_eq!(small.files, big.files);
    assert!(
        big.packets > small.packets * 5,
        "{} vs {}",
        big.packets,
        small.packets
    );
}

#[test]
fn names_match_first_packet_and_layout() {
    let (dir, _) = gen(0.5);
    let all = files(dir.path());
    let mut exts = BTreeMap::new();
    for f in &all {
        let rel = f.strip_prefix(dir.path()).expect("under root");
        let parts: Vec<_> = rel
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        assert_eq!(parts.len(), 3, "{}", rel.display());
        assert_eq!(parts[1], "ctrl2");
        let dev = DEVICES
            .iter()
            .find(|d| d.name == parts[0])
            .expect("known device");
        let name = &parts[2];
        let (_, ext) = name
            .split_once(&format!("_{}.", dev.ip)[..])
            .expect("ip in name");
        let ext = ext.to_string();
        *exts.entry(ext.clone()).or_insert(0) += 1;
        let pkts = read_capture(f);
        assert!(
            pkts.windows(2).all(|w| w[0].0 < w[1].0),
            "timestamps increase in {name}"
        );
        if ext == "pcap1" {
            let first = f.with_extension("pcap");
            let prev = read_capture(&first);
            assert!(
                prev.last().expect("packets").0 < pkts[0].0,
                "rotation continues in time"
            );
            continue;
        }
        assert_eq!(&name[..19], file_stamp(pkts[0].0), "{name}");
    }
    for ext in ["pcap", "pcap1", "pcap.gz", "pcapng"] {
        assert!(exts.contains_key(ext), "a .{ext} file: {exts:?}");
    }
    let nano = all.iter().filter(|f| {
        std::fs::read(f)
            .map(|b| b.starts_with(&[0x4d, 0x3c, 0xb2, 0xa1]))
            .unwrap_or(false)
    });
    assert_eq!(nano.count(), 1);
    let months: std::collections::BTreeSet<_> = all
        .iter()
        .map(|f| f.file_name().map(|n| n.to_string_lossy()[..7].to_string()))
        .collect();
    assert_eq!(months.len(), 3, "{months:?}");
}

#[test]
fn ipv4_checksum() {
    // Classic example header (checksum 0xb861).
    let h = wire::ipv4(
        [192, 168, 0, 1].into(),
        [192, 168, 0, 199].into(),
        17,
        64,
        0,
        &[0u8; 95],
    );
    assert_eq!(
        &h[..12],
        &[0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61]
    );
    assert_eq!(wire::checksum(&h[..20]), 0);
    let (dir, _) = gen(0.3);
    let mut n = 0;
    for f in files(dir.path()) {
        for (_, fr) in read_capture(&f) {
            if let Some(hdr) = parse(&fr).and_then(|p| p.v4_header) {
                assert_eq!(wire::checksum(&hdr), 0);
                n += 1;
            }
        }
    }
    assert!(n > 1000);
}

#[test]
fn tcp_sequence_numbers_are_consistent_and_client_hello_spans_segments() {
    let (dir, _) = gen(1.0);
    let mut split_hellos = 0;
    let mut max_ip_len = 0;
    for f in files(dir.path()) {
        // Next expected sequence number per direction (src, sport, dst, dport).
        let mut next: BTreeMap<FlowDir, u32> = BTreeMap::new();
        let mut pending_hello: Option<(FlowDir, usize)> = None;
        for (_, fr) in read_capture(&f) {
            let Some(p) = parse(&fr) else { continue };
            if p.proto != 6 {
                continue;
            }
            max_ip_len = max_ip_len.max(fr.len() - 14);
            let key = (p.src.clone(), p.sport, p.dst.clone(), p.dport);
            if p.flags & wire::SYN != 0 {
                next.insert(key.clone(), p.seq.wrapping_add(1));
                continue;
            }
            let exp = next
                .get(&key)
                .copied()
                .expect("segment of a known connection");
            assert_eq!(p.seq, exp, "seq continuity in {}", f.display());
            let adv = p.payload.len() as u32 + u32::from(p.flags & wire::FIN != 0);
            next.insert(key.clone(), exp.wrapping_add(adv));
            if let Some((k, missing)) = pending_hello.take() {
                if k == key && !p.payload.is_empty() {
                    assert!(
                        p.payload.len() >= missing,
                        "hello continues in the next segment"
                    );
                    split_hellos += 1;
                } else {
                    pending_hello = Some((k, missing));
                }
            }
            if p.payload.len() > 9 && p.payload[..3] == [0x16, 0x03, 0x01] && p.payload[5] == 1 {
                let rec = 5 + usize::from(u16::from_be_bytes([p.payload[3], p.payload[4]]));
                if rec > p.payload.len() {
                    pending_hello = Some((key, rec - p.payload.len()));
                }
            }
        }
    }
    assert!(split_hellos > 20, "split ClientHellos: {split_hellos}");
    assert_eq!(max_ip_len, 1500, "full-size segments");
}

#[test]
fn dns_messages_decode_with_variety() {
    let (dir, _) = gen(1.0);
    let (mut cname, mut aaaa, mut nx, mut tcp_multi, mut tcp_split, mut mdns) = (0, 0, 0, 0, 0, 0);
    for f in files(dir.path()) {
        for (_, fr) in read_capture(&f) {
            let Some(p) = parse(&fr) else { continue };
            if p.proto == 17 && (p.sport == 5353 || p.dport == 5353) {
                mdns += 1;
            }
            if p.proto == 17 && (p.sport == 53 || p.dport == 53) {
                let m = Message::from_vec(&p.payload).expect("valid DNS");
                if m.metadata.response_code == ResponseCode::NXDomain {
                    assert!(m.answers.is_empty());
                    nx += 1;
                }
                cname += m
                    .answers
                    .iter()
                    .filter(|r| r.record_type() == RecordType::CNAME)
                    .count();
                aaaa += m
                    .answers
                    .iter()
                    .filter(|r| r.record_type() == RecordType::AAAA)
                    .count();
            }
            if p.proto == 6 && (p.sport == 53 || p.dport == 53) && p.payload.len() >= 2 {
                let first = 2 + usize::from(u16::from_be_bytes([p.payload[0], p.payload[1]]));
                if first < p.payload.len() {
                    tcp_multi += 1;
                } else if first > p.payload.len() {
                    tcp_split += 1;
                }
            }
        }
    }
    assert!(
        cname > 50 && aaaa > 10 && nx >= 10 && mdns >= 37,
        "{cname} {aaaa} {nx} {mdns}"
    );
    assert!(tcp_multi >= 1 && tcp_split >= 1, "{tcp_multi} {tcp_split}");
}

#[test]
fn client_hello_layout() {
    let mut rng = Rng::new(1);
    let h = apps::client_hello(&mut rng, "api.sonos.com", &["h2", "http/1.1"], true);
    assert_eq!(&h[..3], &[0x16, 0x03, 0x01]);
    assert_eq!(usize::from(u16::from_be_bytes([h[3], h[4]])) + 5, h.len());
    assert_eq!(h[5], 1);
    assert!(h.len() > 1460, "PQ hello needs two segments: {}", h.len());
    assert!(h.windows(13).any(|w| w == b"api.sonos.com"));
    let small = apps::client_hello(&mut rng, "m1.tuyaus.com", &["mqtt"], false);
    assert!(small.len() < 400);
}

#[test]
fn calendar_helpers() {
    for d in [-1000, 0, 19_999, 20_000, 20_123] {
        let (y, m, day) = util::civil_from_days(d);
        assert_eq!(days_from_civil(y, m, day), d);
    }
    assert_eq!(days_in_month(2024, 2), 29);
    assert_eq!(file_stamp(1_730_628_000_000_000), "2024-11-03_10.00.00");
    assert_eq!(
        util::http_date(1_730_628_000_000_000),
        "Sun, 03 Nov 2024 10:00:00 GMT"
    );
}
