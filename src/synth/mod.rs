//! Synthetic IoT packet captures (`iotdest synth`): a deterministic test-data generator.
//!
//! Real testbed captures cannot be committed (size, privacy), yet every stage of the pipeline
//! needs realistic input. This module writes a small, byte-reproducible testbed that exercises
//! everything the extractor must handle (DESIGN.md §2–§3). It imports no other module of the
//! crate: it sits at the top of the data flow.
//!
//! # Layout
//! `<out>/<device>/ctrl2/YYYY-MM-DD_HH.MM.SS_<deviceIP>.pcap`, where the name's time is the
//! first packet's timestamp (UTC). Files are written under a hidden temporary name and renamed
//! when complete. Existing files in `<out>` are never removed.
//!
//! # Devices and destinations (see [`profiles`])
//! * `sonos_speaker` (192.168.1.21, IPv6 too): `api.sonos.com` → CNAME CloudFront,
//!   `msmetrics.ws.sonos.com` → ELB, AWS IoT `a1b2c3d4e5f6g7-ats.iot.us-east-1.amazonaws.com`
//!   (MQTT over TLS, 8883), `update.sonos.com` → two-step Akamai CNAME chain.
//! * `tplink_plug` (192.168.1.32): `*.tplinkcloud.com`, `use1-api.tplinkra.com` (TLS 1.2-only
//!   hellos, one without ALPN), a firmware check over plain HTTP, NTP to `pool.ntp.org`.
//! * `tuya_bulb` (192.168.1.45): `a1.tuyaus.com`, `m1.tuyaus.com` on 8883 (ALPN `mqtt`), NTP;
//!   its DNS query names use random letter case (0x20 encoding).
//! * `echo_dot` (192.168.1.57, IPv6 too): `avs-alexa-na.amazon.com`,
//!   `device-metrics-us.amazon.com`, `api.amazon.com`, `s3.amazonaws.com`, Amazon NTP.
//! * `ring_doorbell` (192.168.1.68): `fw.ring.com`, `es.ring.com`, and video uploads to
//!   `rss-upload.ring.com`: 24 full-size (1500-byte IP) segments client→server, ACKed back.
//!
//! Third parties: `app-measurement.com`, `www.google-analytics.com`, `pubads.g.doubleclick.net`;
//! connectivity check `connectivitycheck.gstatic.com/generate_204` over HTTP.
//! Addresses are derived from a stable hash of the canonical name, so a DNS answer and the
//! flows that follow it agree, across files and runs.
//!
//! # What a capture contains
//! Ethernet II (frames under 60 bytes zero-padded), IPv4 with correct header checksums, IPv6
//! for AAAA-answered destinations of the two IPv6 devices (unique-local source addresses),
//! UDP and TCP checksums computed. Every file starts with a DHCP exchange or an ARP for the
//! gateway and has an mDNS announcement to 224.0.0.251:5353 (with an A record: the extractor
//! must ignore it). Then sessions spread over a 1–4 h capture, each a DNS lookup followed by
//! the destination's service:
//! * DNS over UDP to the router 192.168.1.1: CNAME chains, 1–4 A answers, AAAA answers (or
//!   NOERROR/no data) on IPv6 devices, TTLs from 5 s to 6 h, about one NXDOMAIN per file.
//! * DNS over TCP (every other file of `sonos_speaker` and `echo_dot`, ~30 % of lookups): A and
//!   AAAA queries in a single segment, the first response split across two segments.
//! * TLS: handshake, ClientHello with SNI/ALPN; TLS 1.3 hellos carry supported_versions and a
//!   1216-byte X25519MLKEM768 key share (~1.7 KB, two segments at MSS 1460), TLS 1.2 hellos are
//!   compact. Then the server flight, application-data records both ways, FIN.
//! * HTTP GET with `Host:` on port 80; NTPv4 48-byte request/reply on UDP 123.
//!
//! TCP sequence and acknowledgement numbers are consistent; timestamps strictly increase.
//!
//! # Calendar and scale
//! Three months across two years (2024-11, 2024-12, 2025-01), 2–3 captures per device per
//! month, i.e. 30–45 files depending on the seed, plus one rotation part (below). With seed 1
//! (the CLI default) and `scale = 1.0`: 39 files, ~7,400 packets, ~2.4 MB. `scale` multiplies
//! the sessions per file while the file count stays fixed, so `scale = 1000` gives a few GB
//! (~2.4 GB) in the same files.
//!
//! # Reader-coverage variants (one file each, at every scale)
//! * `echo_dot`, first capture of 2024-12: pcapng (SHB + IDB without options, i.e. µs
//!   timestamps, + EPBs), extension `.pcapng`.
//! * `tplink_plug`, first capture of 2025-01: gzip-compressed classic pcap, `.pcap.gz`.
//! * `tuya_bulb`, first capture of 2024-11: classic pcap with the nanosecond magic 0xa1b23c4d
//!   (sub-µs digits are synthetic; truncating gives back the µs timestamp).
//! * `sonos_speaker`, last capture of 2024-12: rotated as tcpdump `-C` does, `<name>.pcap` then
//!   `<name>.pcap1`; the second part's name keeps the first part's time (its own first packet
//!   is later), like tcpdump.
//!
//! All other files are little-endian classic pcap with microsecond timestamps.
//!
//! # Determinism
//! Same seed and scale ⇒ byte-identical output: a splitmix64 PRNG seeded per file, no wall
//! clock, no hash-map iteration, fixed gzip header. Files are generated one after another, each
//! from its own seed (the pipeline module is the only one that runs threads).

mod apps;
mod pcap;
pub mod profiles;
mod session;
mod util;
mod wire;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use pcap::{Format, PcapWriter};
use profiles::{Device, DEVICES};
use session::Capture;
use util::{days_from_civil, days_in_month, file_stamp, Rng};

/// Options of [`generate`].
#[derive(Clone, Debug)]
pub struct SynthOptions {
    /// Root directory; device folders are created under it.
    pub out: PathBuf,
    pub seed: u64,
    /// Size multiplier; 1.0 ≈ 2–3 MB in total.
    pub scale: f64,
}

/// What [`generate`] wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SynthSummary {
    pub files: usize,
    pub packets: u64,
    /// Total size on disk of the files written (after compression).
    pub bytes: u64,
}

/// Months covered: (year, month).
const MONTHS: [(i64, u32); 3] = [(2024, 11), (2024, 12), (2025, 1)];
/// Experiment folder (DESIGN.md §2).
const EXPERIMENT: &str = "ctrl2";

/// One capture file to produce.
#[derive(Clone, Debug)]
struct FilePlan {
    device: &'static Device,
    /// First packet time, µs since the epoch (UTC).
    start_us: u64,
    duration_us: u64,
    sessions: u64,
    format: Format,
    /// Split into `.pcap` + `.pcap1` halfway through.
    rotate: bool,
    dns_tcp: bool,
    seed: u64,
}

/// Writes the synthetic testbed under `opts.out`.
pub fn generate(opts: &SynthOptions) -> Result<SynthSummary> {
    anyhow::ensure!(
        opts.scale.is_finite() && opts.scale > 0.0,
        "scale must be a positive number, got {}",
        opts.scale
    );
    let plans = plan(opts.seed, opts.scale);
    for dev in &DEVICES {
        let dir = device_dir(&opts.out, dev);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let results: Vec<Result<SynthSummary>> = plans
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let r = write_capture(&opts.out, i, p);
            if r.is_err() {
                // Best effort: do not leave half-written temporary files behind.
                for part in 0..2 {
                    let _ = std::fs::remove_file(temp_path(&opts.out, p.device, i, part));
                }
            }
            r
        })
        .collect();
    let mut total = SynthSummary::default();
    for r in results {
        let s = r?;
        total.files += s.files;
        total.packets += s.packets;
        total.bytes += s.bytes;
    }
    Ok(total)
}

fn device_dir(out: &Path, dev: &Device) -> PathBuf {
    out.join(dev.name).join(EXPERIMENT)
}

/// The calendar of captures: 2–3 per device per month, in disjoint windows of the month.
fn plan(seed: u64, scale: f64) -> Vec<FilePlan> {
    let mut rng = Rng::derive(seed, 0x5eed);
    let mut plans = Vec::new();
    for dev in &DEVICES {
        for (mi, &(y, m)) in MONTHS.iter().enumerate() {
            let k = rng.range(2, 3) as u32;
            let window = days_in_month(y, m) / k;
            for j in 0..k {
                let day = 1 + j * window + rng.range(0, u64::from(window) - 2) as u32;
                let secs = days_from_civil(y, m, day) * 86_400 + rng.range(0, 86_399) as i64;
                let start_us = secs as u64 * 1_000_000 + rng.range(0, 999_999);
                let format = match (dev.name, mi, j) {
                    ("echo_dot", 1, 0) => Format::Ng,
                    ("tplink_plug", 2, 0) => Format::Gzip,
                    ("tuya_bulb", 0, 0) => Format::Nano,
                    _ => Format::Micro,
                };
                let sessions = (f64::from(dev.sessions) * scale).round().max(1.0) as u64;
                plans.push(FilePlan {
                    device: dev,
                    start_us,
                    duration_us: rng.range(3_600, 4 * 3_600) * 1_000_000,
                    sessions,
                    format,
                    rotate: dev.name == "sonos_speaker" && mi == 1 && j == k - 1,
                    dns_tcp: dev.dns_tcp && plans.len() % 2 == 1,
                    seed: rng.next_u64(),
                });
            }
        }
    }
    plans
}

/// Hidden name a capture part is written under before its final rename.
fn temp_path(out: &Path, dev: &Device, index: usize, part: u32) -> PathBuf {
    device_dir(out, dev).join(format!(".synth-{index}-{part}.partial"))
}

/// Final file name: `YYYY-MM-DD_HH.MM.SS_<ip>.<ext>` from the first packet's time.
fn file_name(first_ts_us: u64, dev: &Device, format: Format) -> String {
    format!(
        "{}_{}.{}",
        file_stamp(first_ts_us),
        dev.ip,
        format.extension()
    )
}

/// Generates one capture (two files when rotated).
fn write_capture(out: &Path, index: usize, p: &FilePlan) -> Result<SynthSummary> {
    let dev = p.device;
    let dir = device_dir(out, dev);
    let tmp = |part: u32| temp_path(out, dev, index, part);
    let mut summary = SynthSummary::default();
    let mut cap = Capture::new(
        PcapWriter::create(&tmp(0), p.format)?,
        p.start_us,
        Rng::new(p.seed),
    );

    if cap.rng.chance(0.5) {
        session::dhcp_exchange(&mut cap, dev)?;
    } else {
        session::arp_gateway(&mut cap, dev)?;
    }
    session::mdns(&mut cap, dev)?;

    // Every destination once (coverage), the rest weighted; then shuffled.
    let mut order: Vec<usize> = (0..dev.dests.len()).collect();
    let weights: Vec<u32> = dev.dests.iter().map(|d| d.weight).collect();
    while (order.len() as u64) < p.sessions {
        order.push(cap.rng.weighted(&weights));
    }
    order.truncate(p.sessions as usize);
    for i in (1..order.len()).rev() {
        order.swap(i, cap.rng.range(0, i as u64) as usize);
    }
    let nx_at = cap.rng.range(0, p.sessions - 1);
    let mean_gap = p.duration_us / p.sessions;
    let mut first_name: Option<String> = None;

    for (i, &d) in order.iter().enumerate() {
        cap.wait(mean_gap / 2, mean_gap * 3 / 2);
        if p.rotate && i == order.len() / 2 && first_name.is_none() {
            let next = PcapWriter::create(&tmp(1), p.format)?;
            let done = std::mem::replace(&mut cap.writer, next);
            let name = file_name(
                done.first_ts.expect("the preamble wrote packets"),
                dev,
                p.format,
            );
            summary.packets += done.packets;
            summary.bytes += done.finish(&dir.join(&name))?;
            summary.files += 1;
            first_name = Some(name);
        }
        if i as u64 == nx_at || cap.rng.chance(0.03) {
            session::nxdomain(&mut cap, dev)?;
        }
        let via_tcp = p.dns_tcp && cap.rng.chance(0.3);
        session::session(&mut cap, dev, &dev.dests[d], via_tcp)?;
        if cap.rng.chance(0.08) {
            session::arp_gateway(&mut cap, dev)?;
        }
        if cap.rng.chance(0.05) {
            session::mdns(&mut cap, dev)?;
        }
    }

    let writer = cap.writer;
    let name = match first_name {
        Some(first) => format!("{first}1"),
        None => file_name(
            writer.first_ts.expect("the preamble wrote packets"),
            dev,
            p.format,
        ),
    };
    summary.packets += writer.packets;
    summary.bytes += writer.finish(&dir.join(name))?;
    summary.files += 1;
    Ok(summary)
}

#[cfg(test)]
mod tests;
