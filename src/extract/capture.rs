//! One capture file → rows: reads packets, decodes them, keeps the flow table, follows TCP
//! streams that carry DNS or a TLS ClientHello, and parses DNS over UDP.

use foldhash::{HashMap, HashMapExt};
use std::net::IpAddr;
use std::time::UNIX_EPOCH;

use super::dns::{is_response, parse_response, MAX_DNS_MESSAGE};
use super::fingerprint::FingerprintCache;
use super::gquic::{parse_chlo, ChloProgress};
use super::http::{self, looks_like_request, parse_request, MAX_HEAD};
use super::quic::{client_initials, looks_like_long_header, CryptoStream};
use super::records::{CaptureOutput, CaptureRow, DnsRow, Endpoints, NameRow, Status, L4};
use super::tls::{
    looks_like_client_hello, parse_client_hello, parse_client_hello_message, Progress,
    MAX_TLS_STREAM,
};
use crate::decode::defrag::{Added, Datagram, Defrag};
use crate::decode::{decode_any, transport, Decoded, Decoded2, Transport};
use crate::drops::{DropCounts, DropReason};
use crate::flow::{Direction, FlowKey, FlowTable, PacketMeta, Pushed, Stream};
use crate::ingest::discover::CaptureFile;
use crate::ingest::reader::{read_capture, RawPacket, ReadError, ReadSummary};

/// Limits of one capture's extraction.
#[derive(Debug, Clone, Copy)]
pub struct ExtractLimits {
    /// Live flows kept before the table is flushed.
    pub max_flows: usize,
    /// Bytes buffered per DNS-over-TCP stream direction.
    pub max_dns_stream: usize,
}

impl Default for ExtractLimits {
    fn default() -> Self {
        ExtractLimits {
            max_flows: 500_000,
            max_dns_stream: 2 * (MAX_DNS_MESSAGE + 2),
        }
    }
}

const DNS_PORT: u16 = 53;

/// What one direction of a TCP connection is being followed for.
enum Follow {
    /// No payload seen yet.
    Undecided,
    Tls {
        stream: Stream,
        first_ts: i64,
    },
    Dns {
        stream: Stream,
    },
    Http {
        stream: Stream,
        first_ts: i64,
    },
    /// The client sent an HTTP CONNECT: the tunnelled stream (often TLS) starts with its next
    /// payload.
    Tunnel,
    /// Nothing (more) to extract.
    Done,
}

pub(super) struct TcpDir {
    isn: Option<u32>,
    follow: Follow,
}

impl TcpDir {
    fn new() -> Self {
        TcpDir {
            isn: None,
            follow: Follow::Undecided,
        }
    }
}

/// QUIC state of one UDP flow.
struct QuicFlow {
    crypto: CryptoStream,
    first_ts: i64,
    /// Datagrams looked at without a complete ClientHello.
    tries: u32,
    done: bool,
}

/// Datagrams of one flow tried before giving up on its ClientHello.
const MAX_QUIC_TRIES: u32 = 32;

/// Per-capture extraction state.
pub(super) struct Extractor {
    limits: ExtractLimits,
    /// Flows, each with its TCP state (found by the lookup that counts the packet).
    pub(super) flows: FlowTable<TcpState>,
    /// Per UDP flow carrying QUIC Initials: the client's CRYPTO data.
    quic: HashMap<FlowKey, QuicFlow>,
    defrag: Defrag,
    pub(super) out: Out,
    first_ts: Option<i64>,
    last_ts: Option<i64>,
}

/// TCP state of a flow: [out, in] directions, from its first SYN or payload (`None` before).
pub(super) type TcpState = Option<Box<[TcpDir; 2]>>;

/// What extraction produces, apart from flows.
pub(super) struct Out {
    pub(super) drops: DropCounts,
    pub(super) dns: Vec<DnsRow>,
    pub(super) names: Vec<NameRow>,
    /// Fingerprints of the client stacks seen so far.
    stacks: FingerprintCache,
}

impl Extractor {
    pub(super) fn new(device_ip: Option<IpAddr>, limits: ExtractLimits) -> Self {
        Extractor {
            limits,
            flows: FlowTable::with_state(device_ip, limits.max_flows),
            quic: HashMap::new(),
            defrag: Defrag::default(),
            out: Out {
                drops: DropCounts::default(),
                dns: Vec::new(),
                names: Vec::new(),
                stacks: FingerprintCache::default(),
            },
            first_ts: None,
            last_ts: None,
        }
    }

    fn packet(&mut self, p: &RawPacket<'_>) {
        if p.ts_us == 0 {
            self.out.drops.add(DropReason::NoTimestamp);
            return;
        }
        self.first_ts = Some(self.first_ts.map_or(p.ts_us, |t| t.min(p.ts_us)));
        self.last_ts = Some(self.last_ts.map_or(p.ts_us, |t| t.max(p.ts_us)));
        match decode_any(p.link_type, p.data, p.orig_len) {
            Ok(Decoded2::Whole(d)) => self.decoded(p.ts_us, &d, &[]),
            Ok(Decoded2::Fragment(f)) => match self.defrag.add(p.ts_us, &f) {
                Added::Pending => {}
                Added::Dropped(n) => {
                    for _ in 0..n {
                        self.out.drops.add(DropReason::IpFragment);
                    }
                }
                Added::Complete(dg) => match datagram_packet(&dg, p.ts_us) {
                    Ok((ts, d, earlier)) => self.decoded(ts, &d, earlier),
                    Err(r) => {
                        for _ in &dg.pieces {
                            self.out.drops.add(r);
                        }
                    }
                },
            },
            Err(r) => self.out.drops.add(r),
        }
    }

    /// One decoded IP packet (or reassembled datagram, whose `earlier` fragments — time and IP
    /// length — are counted in its flow before it).
    pub(super) fn decoded(&mut self, ts_us: i64, d: &Decoded<'_>, earlier: &[(i64, u32)]) {
        let (src_port, dst_port) = d.transport.ports();
        let tcp_flags = match d.transport {
            Transport::Tcp { flags, .. } => Some(flags),
            _ => None,
        };
        let meta = PacketMeta {
            ts_us,
            ip_version: d.ip_version,
            proto: d.proto,
            src: d.src,
            src_port,
            dst: d.dst,
            dst_port,
            ip_len: d.ip_len,
            tcp: tcp_flags,
        };
        let overflows = self.flows.overflows;
        for &(ts, ip_len) in earlier {
            self.flows.record_with(&PacketMeta {
                ts_us: ts,
                ip_len,
                ..meta
            });
        }
        let (key, dir, tcp) = self.flows.record_with(&meta);
        match d.transport {
            Transport::Udp { payload, .. } => {
                if src_port == DNS_PORT || dst_port == DNS_PORT {
                    if is_response(payload) {
                        let ends = server_side(&meta, L4::Udp);
                        self.out.dns_message(ts_us, ends, payload);
                    }
                } else if looks_like_long_header(payload) {
                    self.quic_datagram(&meta, key, payload);
                }
            }
            Transport::Tcp {
                seq,
                flags,
                payload,
                ..
            } => self
                .out
                .tcp_segment(&self.limits, tcp, &meta, dir, seq, flags.syn, payload),
            Transport::Icmp { .. } => {}
        }
        if self.flows.overflows != overflows {
            self.out.drops.add(DropReason::FlowTableFull);
        }
    }

    fn quic_datagram(&mut self, m: &PacketMeta, key: FlowKey, payload: &[u8]) {
        if self.quic.get(&key).is_some_and(|q| q.done) {
            return;
        }
        let initials = client_initials(payload);
        if initials.is_empty() {
            if let Some(q) = self.quic.get_mut(&key) {
                q.tries += 1;
                q.done = q.tries > MAX_QUIC_TRIES;
            }
            return;
        }
        if self.quic.len() >= self.limits.max_flows && !self.quic.contains_key(&key) {
            self.quic.clear();
        }
        let q = self.quic.entry(key).or_insert_with(|| QuicFlow {
            crypto: CryptoStream::default(),
            first_ts: m.ts_us,
            tries: 0,
            done: false,
        });
        for i in initials {
            q.crypto.add(i);
        }
        q.tries += 1;
        let data = q.crypto.contiguous();
        let progress = if q.crypto.chlo {
            match parse_chlo(&data) {
                ChloProgress::NeedMore => Progress::NeedMore,
                ChloProgress::NotChlo => Progress::NotTls,
                ChloProgress::Malformed => Progress::Malformed,
                ChloProgress::Chlo(c) => {
                    q.done = true;
                    let ends = from_client(m, L4::Udp);
                    self.out.names.push(NameRow {
                        ts_us: q.first_ts,
                        ends,
                        protocol: "quic",
                        name: c.sni,
                        alpn: None,
                        tls_version: c.version.map(|v| format!("gQUIC {v}")),
                        user_agent: c.user_agent,
                        fingerprint: None,
                    });
                    return;
                }
            }
        } else {
            parse_client_hello_message(&data)
        };
        match progress {
            Progress::NeedMore if !q.crypto.overflowed && q.tries <= MAX_QUIC_TRIES => {}
            Progress::NeedMore => {
                q.done = true;
                self.out.drops.add(DropReason::ReassemblyCap);
            }
            Progress::NotTls | Progress::Malformed => {
                q.done = true;
                self.out.drops.add(DropReason::TlsMalformed);
            }
            Progress::Hello(h) => {
                q.done = true;
                let ends = from_client(m, L4::Udp);
                let ts = q.first_ts;
                self.out.names.push(NameRow {
                    ts_us: ts,
                    ends,
                    protocol: "quic",
                    name: h.sni,
                    alpn: h.alpn,
                    tls_version: h.version,
                    user_agent: None,
                    fingerprint: h.fingerprint.map(|f| self.out.stacks.get(f, true)),
                });
            }
        }
    }
}

impl Out {
    fn dns_message(&mut self, ts_us: i64, ends: Endpoints, msg: &[u8]) {
        let parsed = match parse_response(msg) {
            Ok(r) => r,
            Err(e) => {
                // Keep the question of a message whose records do not parse.
                self.drops.add(DropReason::DnsMalformed);
                e.header
            }
        };
        match parsed {
            Some(r) => {
                let base = DnsRow {
                    ts_us,
                    ends,
                    txid: r.txid,
                    query: r.query,
                    qtype: r.qtype,
                    rcode: r.rcode,
                    section: None,
                    rr_name: None,
                    rr_type: None,
                    rr_ttl: None,
                    answer: None,
                };
                if !r.answers.iter().any(|a| a.section == "answer") {
                    self.dns.push(base.clone());
                }
                {
                    for a in r.answers {
                        self.dns.push(DnsRow {
                            section: Some(a.section),
                            rr_name: Some(a.rr_name),
                            rr_type: Some(a.rr_type),
                            rr_ttl: Some(a.ttl),
                            answer: Some(a.value),
                            ..base.clone()
                        });
                    }
                }
            }
            None => {}
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn tcp_segment(
        &mut self,
        limits: &ExtractLimits,
        state: &mut TcpState,
        m: &PacketMeta,
        dir: Direction,
        seq: u32,
        syn: bool,
        payload: &[u8],
    ) {
        if !syn && payload.is_empty() && state.is_none() {
            return;
        }
        // Bounded with the flow table: a flushed flow forgets its stream state.
        let idx = usize::from(dir == Direction::In);
        let dirs = state.get_or_insert_with(|| Box::new([TcpDir::new(), TcpDir::new()]));
        let d = &mut dirs[idx];
        if syn {
            d.isn.get_or_insert(seq);
        }
        if payload.is_empty() {
            return;
        }
        if matches!(d.follow, Follow::Tunnel) && looks_like_client_hello(payload) {
            d.follow = Follow::Undecided;
            d.isn = Some(seq.wrapping_sub(1));
        }
        if matches!(d.follow, Follow::Undecided) {
            let new_stream = |cap: usize, isn: Option<u32>| {
                let mut s = Stream::new(cap);
                if let Some(isn) = isn {
                    s.syn(isn);
                }
                s
            };
            d.follow = if m.src_port == DNS_PORT || m.dst_port == DNS_PORT {
                Follow::Dns {
                    stream: new_stream(limits.max_dns_stream, d.isn),
                }
            } else if looks_like_client_hello(payload) {
                Follow::Tls {
                    stream: new_stream(MAX_TLS_STREAM, d.isn),
                    first_ts: m.ts_us,
                }
            } else if looks_like_request(payload) {
                Follow::Http {
                    stream: new_stream(MAX_HEAD, d.isn),
                    first_ts: m.ts_us,
                }
            } else {
                Follow::Done
            };
        }
        match &mut d.follow {
            Follow::Tls { stream, first_ts } => {
                let pushed = stream.push(seq, payload);
                if pushed == Pushed::Overflow {
                    self.drops.add(DropReason::ReassemblyCap);
                    d.follow = Follow::Done;
                    return;
                }
                let ts = *first_ts;
                match parse_client_hello(stream.data()) {
                    Progress::NeedMore => {}
                    Progress::NotTls => d.follow = Follow::Done,
                    Progress::Malformed => {
                        self.drops.add(DropReason::TlsMalformed);
                        d.follow = Follow::Done;
                    }
                    Progress::Hello(h) => {
                        d.follow = Follow::Done;
                        let ends = from_client(m, L4::Tcp);
                        self.names.push(NameRow {
                            ts_us: ts,
                            ends,
                            protocol: "tls",
                            name: h.sni,
                            alpn: h.alpn,
                            tls_version: h.version,
                            user_agent: None,
                            fingerprint: h.fingerprint.map(|f| self.stacks.get(f, false)),
                        });
                    }
                }
            }
            Follow::Dns { stream } => {
                if stream.push(seq, payload) == Pushed::Overflow {
                    self.drops.add(DropReason::ReassemblyCap);
                    d.follow = Follow::Done;
                    return;
                }
                let mut messages = Vec::new();
                loop {
                    let data = stream.data();
                    if data.len() < 2 {
                        break;
                    }
                    let len = usize::from(u16::from_be_bytes([data[0], data[1]]));
                    if data.len() < 2 + len {
                        break;
                    }
                    messages.push(data[2..2 + len].to_vec());
                    stream.consume(2 + len);
                }
                let ends = server_side(m, L4::Tcp);
                for msg in messages {
                    if is_response(&msg) {
                        self.dns_message(m.ts_us, ends, &msg);
                    }
                }
            }
            Follow::Http { stream, first_ts } => {
                let overflow = stream.push(seq, payload) == Pushed::Overflow;
                let ts = *first_ts;
                match parse_request(stream.data()) {
                    http::Progress::NeedMore if !overflow => {}
                    http::Progress::NeedMore | http::Progress::NotHttp => d.follow = Follow::Done,
                    http::Progress::Request { host, connect } => {
                        d.follow = if connect {
                            Follow::Tunnel
                        } else {
                            Follow::Done
                        };
                        if let Some(name) = host {
                            let ends = from_client(m, L4::Tcp);
                            self.names.push(NameRow {
                                ts_us: ts,
                                ends,
                                protocol: "http",
                                name: Some(name),
                                alpn: None,
                                tls_version: None,
                                user_agent: None,
                                fingerprint: None,
                            });
                        }
                    }
                }
            }
            Follow::Undecided | Follow::Tunnel | Follow::Done => {}
        }
    }
}

/// A reassembled datagram as one packet: the time it completed (its last fragment's, or `now`
/// if later), the packet, and the (time, IP length) of its earlier fragments.
pub(super) fn datagram_packet(
    dg: &Datagram,
    now: i64,
) -> Result<(i64, Decoded<'_>, &[(i64, u32)]), DropReason> {
    let t = transport(dg.proto, &dg.payload)?;
    let (&(last_ts, last_len), earlier) = dg.pieces.split_last().unwrap_or((&(now, 0), &[]));
    let d = Decoded {
        ip_version: dg.ip_version,
        proto: dg.proto,
        src: dg.src,
        dst: dg.dst,
        ip_len: last_len,
        transport: t,
    };
    Ok((last_ts.max(now), d, earlier))
}

/// Endpoints of a packet sent by the client.
fn from_client(m: &PacketMeta, transport: L4) -> Endpoints {
    Endpoints {
        client_ip: m.src,
        client_port: m.src_port,
        server_ip: m.dst,
        server_port: m.dst_port,
        transport,
    }
}

/// Endpoints of a DNS exchange: the side on port 53 is the server.
fn server_side(m: &PacketMeta, transport: L4) -> Endpoints {
    if m.src_port == DNS_PORT {
        Endpoints {
            client_ip: m.dst,
            client_port: m.dst_port,
            server_ip: m.src,
            server_port: m.src_port,
            transport,
        }
    } else {
        from_client(m, transport)
    }
}

fn is_header_error(e: &ReadError) -> bool {
    matches!(
        e,
        ReadError::Io(_) | ReadError::NotACapture(_) | ReadError::BadHeader
    )
}

/// How reading a capture ended: what was read, the status, the error.
pub(super) type ReadOutcome = (ReadSummary, Status, Option<String>);

/// The outcome of a read (`None` when the file was not read: undated).
pub(super) fn read_outcome(
    file: &CaptureFile,
    exists: bool,
    read: Option<Result<ReadSummary, (ReadSummary, ReadError)>>,
) -> ReadOutcome {
    match (read, &file.undated) {
        (Some(Ok(s)), _) => (s, Status::Ok, None),
        (Some(Err((s, e))), _) => {
            let status = if is_header_error(&e) {
                Status::Failed
            } else {
                Status::Partial
            };
            (s, status, Some(e.to_string()))
        }
        // Not read: there is no month to put its rows in.
        (None, why) => (
            ReadSummary::default(),
            if exists {
                Status::Undated
            } else {
                Status::Failed
            },
            Some(why.clone().unwrap_or_default()),
        ),
    }
}

/// Extracts every row of one capture. Never fails: problems are in the capture row.
pub fn extract_capture(file: &CaptureFile, limits: ExtractLimits) -> CaptureOutput {
    let meta = std::fs::metadata(&file.path).ok();
    let mut ex = Extractor::new(file.device_ip, limits);
    let read = match &file.undated {
        Some(_) => None,
        None => Some(read_capture(&file.path, |p| ex.packet(p))),
    };
    let outcome = read_outcome(file, meta.is_some(), read);
    for _ in 0..ex.defrag.leftover() {
        ex.out.drops.add(DropReason::IpFragment);
    }
    let Extractor {
        flows,
        out:
            Out {
                drops,
                mut dns,
                mut names,
                ..
            },
        first_ts,
        last_ts,
        ..
    } = ex;
    let flows = flows.finish();
    dns.sort_by_key(|r| r.ts_us);
    names.sort_by_key(|r| r.ts_us);
    output(
        file,
        meta,
        outcome,
        Rows {
            dns,
            names,
            flows,
            drops,
            first_ts,
            last_ts,
        },
    )
}

/// A capture's rows, in their final order, and its counts.
pub(super) struct Rows {
    pub dns: Vec<DnsRow>,
    pub names: Vec<NameRow>,
    pub flows: Vec<crate::flow::Flow>,
    pub drops: DropCounts,
    pub first_ts: Option<i64>,
    pub last_ts: Option<i64>,
}

/// The capture's manifest row around its rows.
pub(super) fn output(
    file: &CaptureFile,
    meta: Option<std::fs::Metadata>,
    (summary, status, error): ReadOutcome,
    rows: Rows,
) -> CaptureOutput {
    let Rows {
        dns,
        names,
        flows,
        drops,
        first_ts,
        last_ts,
    } = rows;
    let format = summary.format.map(|f| {
        if summary.gzip {
            format!("{}+gzip", f.name())
        } else {
            f.name().to_string()
        }
    });
    let capture = CaptureRow {
        path: file.path.to_string_lossy().into_owned(),
        file_name: file
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        capture: file.capture.clone(),
        device_ip: file.device_ip,
        name_ts_us: file.name_ts,
        size_bytes: meta.as_ref().map_or(0, |m| m.len()),
        mtime_us: meta
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_micros() as i64),
        format,
        link_type: summary.link_type,
        packets: summary.packets,
        bytes: summary.bytes,
        first_ts_us: first_ts,
        last_ts_us: last_ts,
        dns_rows: dns.len() as u64,
        name_rows: names.len() as u64,
        flow_rows: flows.len() as u64,
        drops,
        status,
        error,
    };
    CaptureOutput {
        capture,
        dns,
        names,
        flows,
    }
}

/// Extracts from raw packets already in memory (for tests and fuzzing): no file involved.
pub fn extract_packets<'a>(
    device_ip: Option<IpAddr>,
    packets: impl IntoIterator<Item = RawPacket<'a>>,
) -> (
    Vec<DnsRow>,
    Vec<NameRow>,
    Vec<crate::flow::Flow>,
    DropCounts,
) {
    let mut ex = Extractor::new(device_ip, ExtractLimits::default());
    for p in packets {
        ex.packet(&p);
    }
    (ex.out.dns, ex.out.names, ex.flows.finish(), ex.out.drops)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::tls::tests::client_hello;
    use etherparse::PacketBuilder;
    use proptest::prelude::*;

    fn tcp(
        src: [u8; 4],
        sp: u16,
        dst: [u8; 4],
        dp: u16,
        seq: u32,
        syn: bool,
        payload: &[u8],
    ) -> Vec<u8> {
        let b = PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4(src, dst, 64)
            .tcp(sp, dp, seq, 1000);
        let b = if syn { b.syn() } else { b.ack(1) };
        let mut out = Vec::new();
        b.write(&mut out, payload).unwrap();
        out
    }

    fn pkt(ts: i64, data: &[u8]) -> RawPacket<'_> {
        RawPacket {
            ts_us: ts,
            link_type: 1,
            data,
            orig_len: data.len() as u32,
        }
    }

    #[test]
    fn client_hello_over_three_segments_out_of_order() {
        let dev = [192, 168, 1, 5];
        let srv = [52, 1, 1, 1];
        let ch = client_hello("iot.example.com", 2500, 16384);
        let (a, rest) = ch.split_at(1000);
        let (b, c) = rest.split_at(1000);
        let frames = [
            tcp(dev, 40000, srv, 443, 99, true, &[]),
            tcp(dev, 40000, srv, 443, 100, false, a),
            tcp(dev, 40000, srv, 443, 2100, false, c),
            tcp(dev, 40000, srv, 443, 1100, false, b),
            tcp(dev, 40000, srv, 443, 1100, false, b),
        ];
        let (_, names, flows, drops) = extract_packets(
            Some("192.168.1.5".parse().unwrap()),
            frames
                .iter()
                .enumerate()
                .map(|(i, f)| pkt(10 + i as i64, f)),
        );
        assert_eq!(names.len(), 1);
        assert_eq!(names[0].name.as_deref(), Some("iot.example.com"));
        assert_eq!(names[0].ts_us, 11);
        assert_eq!(names[0].ends.server_port, 443);
        assert_eq!(flows.len(), 1);
        assert_eq!(flows[0].stats.packets_out, 5);
        assert_eq!(drops.total(), 0);
    }

    #[test]
    fn dns_over_tcp_two_messages_in_one_segment_and_one_split() {
        let resp = crate::extract::dns::tests::sample_response();
        let mut stream = Vec::new();
        for _ in 0..3 {
            stream.extend_from_slice(&(resp.len() as u16).to_be_bytes());
            stream.extend_from_slice(&resp);
        }
        // Segment 1: message 1 and half of message 2; segment 2: the rest.
        let cut = 2 + resp.len() + 10;
        let srv = [10, 0, 0, 1];
        let cli = [10, 0, 0, 2];
        let frames = [
            tcp(srv, 53, cli, 5000, 0, false, &stream[..cut]),
            tcp(srv, 53, cli, 5000, cut as u32, false, &stream[cut..]),
        ];
        let (dns, _, _, drops) = extract_packets(None, frames.iter().map(|f| pkt(5, f)));
        assert_eq!(dns.len(), 9, "3 messages × 3 records");
        assert!(dns
            .iter()
            .all(|r| r.ends.transport == L4::Tcp && r.ends.server_port == 53));
        assert_eq!(drops.total(), 0);
    }

    #[test]
    fn mdns_and_llmnr_are_not_dns() {
        let resp = crate::extract::dns::tests::sample_response();
        let mk = |sp: u16, dp: u16| {
            let b = PacketBuilder::ethernet2([1; 6], [2; 6])
                .ipv4([10, 0, 0, 1], [224, 0, 0, 251], 1)
                .udp(sp, dp);
            let mut out = Vec::new();
            b.write(&mut out, &resp).unwrap();
            out
        };
        let frames = [mk(5353, 5353), mk(5355, 5000), mk(53, 5000)];
        let (dns, _, _, _) = extract_packets(None, frames.iter().map(|f| pkt(1, f)));
        assert_eq!(dns.len(), 3, "only the port-53 response");
    }

    proptest! {
        #[test]
        fn arbitrary_frames_never_panic(frames in proptest::collection::vec(
            (prop_oneof![Just(0u32), Just(1), Just(9), Just(101), Just(113), Just(276), any::<u32>()],
             proptest::collection::vec(any::<u8>(), 0..400)), 0..20)) {
            let _ = extract_packets(None, frames.iter().map(|(lt, d)| RawPacket { ts_us: 1, link_type: *lt, data: d, orig_len: d.len() as u32 }));
        }

        #[test]
        fn mutated_valid_packets_never_panic(flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..12)) {
            let ch = client_hello("m.example", 300, 200);
            let dns = crate::extract::dns::tests::sample_response();
            let mut frames = vec![
                tcp([10, 0, 0, 2], 4000, [1, 1, 1, 1], 443, 0, false, &ch),
                tcp([1, 1, 1, 1], 53, [10, 0, 0, 2], 4001, 0, false, &[&[0u8, dns.len() as u8][..], &dns].concat()),
                {
                    let b = PacketBuilder::ethernet2([1; 6], [2; 6]).ipv6([1; 16], [2; 16], 5).udp(53, 999);
                    let mut out = Vec::new();
                    b.write(&mut out, &dns).unwrap();
                    out
                },
            ];
            for (i, (at, v)) in flips.iter().enumerate() {
                let f = &mut frames[i % 3];
                let at = at.index(f.len());
                f[at] = *v;
            }
            let _ = extract_packets(None, frames.iter().map(|f| pkt(3, f)));
        }
    }
}
