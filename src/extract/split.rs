//! One capture on several workers: the pieces of a flow-sharded extraction (as Suricata's and
//! Zeek's workers share a link). The caller (the pipeline, which owns the threads) runs them:
//!
//! 1. the [`Dispatcher`] reads the capture in order: it decodes each packet, reassembles IP
//!    fragments, and gives each whole packet or datagram to the worker of its flow (a hash of
//!    the two endpoints that is the same in both directions, so a connection's two sides, and
//!    a DNS query and its response, meet), copying what the worker needs into that worker's
//!    [`Batch`];
//! 2. every [`Worker`] runs its batches in order, with its own flow table, TCP and QUIC state:
//!    the [`Extractor`] of a serial run, on a subset of flows;
//! 3. [`finish`] merges the workers' rows in the serial order (time, then packet number, then
//!    the order one packet produced them) and flows by first packet and key.
//!
//! The rows are those of [`super::extract_capture`] whatever the number of workers, except
//! when a flow table overflows (each worker holds `max_flows / workers` live flows; an overflow
//! flushes one worker's flows, not all).

use std::net::IpAddr;

use super::capture::{datagram_packet, output, read_outcome, ExtractLimits, Extractor, Rows};
use super::records::{CaptureOutput, DnsRow, NameRow};
use crate::decode::defrag::{Added, Datagram, Defrag};
use crate::decode::Fragment;
use crate::decode::{decode_any, Decoded, Decoded2, TcpFlags, Transport};
use crate::drops::{DropCounts, DropReason};
use crate::flow::{sort_flows, Flow};
use crate::ingest::discover::CaptureFile;
use crate::ingest::reader::{
    FramePos, RangeRead, RawPacket, ReadError, ReadSummary, WholeCapture, MAX_CAPLEN,
};

/// Packets per batch.
const BATCH_PACKETS: usize = 8192;
/// Payload bytes per batch (a batch may pass it by one packet).
const BATCH_BYTES: usize = 2 << 20;

/// A transport header without its payload.
#[derive(Clone, Copy)]
enum L4 {
    Tcp {
        src_port: u16,
        dst_port: u16,
        seq: u32,
        flags: TcpFlags,
    },
    Udp {
        src_port: u16,
        dst_port: u16,
    },
    Icmp {
        icmp_type: u8,
        code: u8,
    },
}

/// What a packet is in a batch.
enum Body {
    /// A whole packet; its payload is `bytes[start..start + len]` of the batch.
    Packet {
        ip_version: u8,
        proto: u8,
        src: IpAddr,
        dst: IpAddr,
        ip_len: u32,
        l4: L4,
        start: usize,
        len: usize,
    },
    /// A reassembled datagram, completed by this packet.
    Datagram(Box<Datagram>),
}

struct Item {
    /// Number of the packet in the capture.
    seq: u64,
    ts_us: i64,
    body: Body,
}

/// One worker's packets, in capture order, with copies of their payloads.
pub struct Batch {
    items: Vec<Item>,
    bytes: Vec<u8>,
    limit: usize,
}

impl Default for Batch {
    fn default() -> Self {
        Batch::with_limit(BATCH_PACKETS)
    }
}

impl Batch {
    fn with_limit(limit: usize) -> Batch {
        Batch {
            items: Vec::with_capacity(limit.min(BATCH_PACKETS)),
            bytes: Vec::with_capacity(BATCH_BYTES + MAX_CAPLEN),
            limit,
        }
    }

    pub fn is_full(&self) -> bool {
        self.items.len() >= self.limit || self.bytes.len() >= BATCH_BYTES
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Empties the batch, keeping its buffers.
    pub fn clear(&mut self) {
        self.items.clear();
        self.bytes.clear();
    }

    fn push(&mut self, seq: u64, ts_us: i64, d: &Decoded<'_>) {
        let (l4, payload) = match d.transport {
            Transport::Tcp {
                src_port,
                dst_port,
                seq,
                flags,
                payload,
            } => (
                L4::Tcp {
                    src_port,
                    dst_port,
                    seq,
                    flags,
                },
                payload,
            ),
            Transport::Udp {
                src_port,
                dst_port,
                payload,
            } => (L4::Udp { src_port, dst_port }, payload),
            Transport::Icmp { icmp_type, code } => (L4::Icmp { icmp_type, code }, &[][..]),
        };
        let start = self.bytes.len();
        self.bytes.extend_from_slice(payload);
        self.items.push(Item {
            seq,
            ts_us,
            body: Body::Packet {
                ip_version: d.ip_version,
                proto: d.proto,
                src: d.src,
                dst: d.dst,
                ip_len: d.ip_len,
                l4,
                start,
                len: payload.len(),
            },
        });
    }
}

/// The worker of a packet's flow: the same for both directions.
///
/// The two endpoints are folded to 64 bits each and added (addition is symmetric), then
/// mixed once: one finaliser per packet instead of one per endpoint and one for the sum (the
/// finalisers' multiplies are a dependency chain that every packet of a split capture waits
/// on before its record can be stored). Which worker a flow goes to changes no row.
fn worker_of(d: &Decoded<'_>, workers: usize) -> usize {
    fn mix(mut x: u64) -> u64 {
        // SplitMix64's finaliser.
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        x ^ (x >> 31)
    }
    fn end(ip: IpAddr, port: u16) -> u64 {
        let bits = match ip {
            IpAddr::V4(a) => u64::from(u32::from(a)),
            IpAddr::V6(a) => {
                let v = u128::from(a);
                (v as u64) ^ ((v >> 64) as u64).rotate_left(17)
            }
        };
        bits ^ (u64::from(port) << 40)
    }
    let (sp, dp) = d.transport.ports();
    let h = end(d.src, sp).wrapping_add(end(d.dst, dp)) ^ (u64::from(d.proto) << 56);
    // The hash scaled to 0..workers (a multiply, not a division).
    ((u128::from(mix(h)) * workers.max(1) as u128) >> 64) as usize
}

/// Drops and packet times counted outside the workers (reading, decoding, reassembly).
#[derive(Debug, Default)]
pub struct Tally {
    drops: DropCounts,
    first_ts: Option<i64>,
    last_ts: Option<i64>,
}

impl Tally {
    fn seen(&mut self, ts_us: i64) {
        self.first_ts = Some(self.first_ts.map_or(ts_us, |t| t.min(ts_us)));
        self.last_ts = Some(self.last_ts.map_or(ts_us, |t| t.max(ts_us)));
    }

    /// Decodes a packet, counting its time, or why it is dropped (no time, not decodable).
    fn decode<'a>(&mut self, p: &RawPacket<'a>) -> Option<Decoded2<'a>> {
        if p.ts_us == 0 {
            self.drops.add(DropReason::NoTimestamp);
            return None;
        }
        self.seen(p.ts_us);
        decode_any(p.link_type, p.data, p.orig_len)
            .map_err(|r| self.drops.add(r))
            .ok()
    }

    fn drop_n(&mut self, r: DropReason, n: usize) {
        for _ in 0..n {
            self.drops.add(r);
        }
    }

    pub fn merge(&mut self, other: &Tally) {
        self.drops.merge(&other.drops);
        for ts in [other.first_ts, other.last_ts].into_iter().flatten() {
            self.seen(ts);
        }
    }
}

/// Reassembles fragments in capture order and names the worker of each datagram completed.
#[derive(Default)]
struct Reassembler {
    defrag: Defrag,
}

impl Reassembler {
    /// `None` while the datagram is incomplete or when it was given up (counted in `tally`).
    fn add(
        &mut self,
        ts_us: i64,
        f: &Fragment<'_>,
        workers: usize,
        tally: &mut Tally,
    ) -> Option<(usize, Datagram)> {
        match self.defrag.add(ts_us, f) {
            Added::Pending => None,
            Added::Dropped(n) => {
                tally.drop_n(DropReason::IpFragment, n);
                None
            }
            Added::Complete(datagram) => match datagram_packet(&datagram, ts_us) {
                Ok((_, d, _)) => Some((worker_of(&d, workers), datagram)),
                Err(r) => {
                    tally.drop_n(r, datagram.pieces.len());
                    None
                }
            },
        }
    }

    /// Datagrams never completed, counted at the end of the capture.
    fn leftover(self, tally: &mut Tally) {
        tally.drop_n(DropReason::IpFragment, self.defrag.leftover());
    }
}

/// Reads a capture's packets in order for the workers: decoding, reassembly, times and the
/// drops of both.
pub struct Dispatcher {
    workers: usize,
    seq: u64,
    reassembler: Reassembler,
    tally: Tally,
}

impl Dispatcher {
    pub fn new(workers: usize) -> Dispatcher {
        Dispatcher {
            workers: workers.max(1),
            seq: 0,
            reassembler: Reassembler::default(),
            tally: Tally::default(),
        }
    }

    /// Gives a packet to its worker's batch (`batches` has one per worker); returns that
    /// worker when its batch is full.
    pub fn packet(&mut self, p: &RawPacket<'_>, batches: &mut [Batch]) -> Option<usize> {
        let seq = self.seq;
        self.seq += 1;
        let w = match self.tally.decode(p)? {
            Decoded2::Whole(d) => {
                let w = worker_of(&d, self.workers);
                batches[w].push(seq, p.ts_us, &d);
                w
            }
            Decoded2::Fragment(f) => {
                let (w, datagram) =
                    self.reassembler
                        .add(p.ts_us, &f, self.workers, &mut self.tally)?;
                batches[w].items.push(Item {
                    seq,
                    ts_us: p.ts_us,
                    body: Body::Datagram(Box::new(datagram)),
                });
                w
            }
        };
        batches[w].is_full().then_some(w)
    }

    /// What the workers did not count.
    pub fn into_tally(self) -> Tally {
        let mut tally = self.tally;
        self.reassembler.leftover(&mut tally);
        tally
    }
}

/// A packet of a [`Chunk`], decoded in place (borrowing the capture's bytes).
pub struct Sorted<'m> {
    seq: u64,
    ts_us: i64,
    d: Decoded<'m>,
}

/// A byte range of a capture framed and decoded: its packets sorted to their workers, its
/// fragments kept for reassembly in capture order ([`Reassembly`]), what it counted.
/// Packet numbers are (chunk index, number in the chunk), which sort as the capture's.
pub struct Chunk<'m> {
    /// Where framing started (`None`: no record boundary was found in the range).
    pub start: Option<FramePos>,
    /// What framing gave (`None` with no start).
    pub read: Option<RangeRead>,
    /// One list per worker, in capture order.
    packets: Vec<Vec<Sorted<'m>>>,
    fragments: Vec<(u64, i64, Fragment<'m>)>,
    pub tally: Tally,
}

impl<'m> Chunk<'m> {
    /// Frames `start..until` of `cap` (chunk number `index`) and sorts its packets to
    /// `workers` workers, into empty lists taken from `spare` when it has them (lists given
    /// back by [`Chunk::take_packets`]' callers, so their memory is reused).
    pub fn read(
        cap: &'m WholeCapture,
        index: usize,
        start: Option<FramePos>,
        until: usize,
        workers: usize,
        spare: &mut Vec<Vec<Sorted<'m>>>,
    ) -> Chunk<'m> {
        let workers = workers.max(1);
        let mut chunk = Chunk {
            start: None,
            read: None,
            packets: (0..workers)
                .map(|_| {
                    let mut v = spare.pop().unwrap_or_default();
                    v.clear();
                    v
                })
                .collect(),
            fragments: Vec::new(),
            tally: Tally::default(),
        };
        let Some(start) = start else {
            return chunk;
        };
        let base = (index as u64) << 32;
        let mut n = 0u64;
        let (packets, fragments, tally) =
            (&mut chunk.packets, &mut chunk.fragments, &mut chunk.tally);
        let read = cap.read_range(&start, until, |p| {
            let seq = base | n;
            n += 1;
            match tally.decode(p) {
                Some(Decoded2::Whole(d)) => packets[worker_of(&d, workers)].push(Sorted {
                    seq,
                    ts_us: p.ts_us,
                    d,
                }),
                Some(Decoded2::Fragment(f)) => fragments.push((seq, p.ts_us, f)),
                None => {}
            }
        });
        chunk.start = Some(start);
        chunk.read = Some(read);
        chunk
    }

    /// Takes worker `w`'s packets.
    pub fn take_packets(&mut self, w: usize) -> Vec<Sorted<'m>> {
        self.packets
            .get_mut(w)
            .map(std::mem::take)
            .unwrap_or_default()
    }
}

/// Reassembly over a capture's chunks, taken in capture order: the datagrams each chunk's
/// fragments complete, per worker.
#[derive(Default)]
pub struct Reassembly {
    reassembler: Reassembler,
    tally: Tally,
}

/// A reassembled datagram: the packet number and time of the fragment that completed it.
pub type Completed = (u64, i64, Datagram);

impl Reassembly {
    /// Runs `chunk`'s fragments (call for each chunk in capture order, before its packets are
    /// run); returns one list per worker.
    pub fn chunk(&mut self, chunk: &mut Chunk<'_>, workers: usize) -> Vec<Vec<Completed>> {
        let workers = workers.max(1);
        let mut out: Vec<Vec<Completed>> = (0..workers).map(|_| Vec::new()).collect();
        for (seq, ts_us, f) in std::mem::take(&mut chunk.fragments) {
            if let Some((w, datagram)) = self.reassembler.add(ts_us, &f, workers, &mut self.tally) {
                out[w].push((seq, ts_us, datagram));
            }
        }
        out
    }

    /// What reassembly counted, with the datagrams never completed.
    pub fn into_tally(self) -> Tally {
        let mut tally = self.tally;
        self.reassembler.leftover(&mut tally);
        tally
    }
}

/// What a worker produced, once closed: its flows, drops, and rows with the packet number of
/// each.
pub struct Closed {
    flows: Vec<Flow>,
    drops: DropCounts,
    dns: (Vec<DnsRow>, Vec<u64>),
    names: (Vec<NameRow>, Vec<u64>),
}

/// One worker: a serial extractor over the flows that hash to it, and the packet number of
/// each row it produced (to merge rows in the serial order).
pub struct Worker {
    ex: Extractor,
    dns_seq: Vec<u64>,
    names_seq: Vec<u64>,
}

impl Worker {
    pub fn new(workers: usize, device_ip: Option<IpAddr>, limits: ExtractLimits) -> Worker {
        let limits = ExtractLimits {
            max_flows: (limits.max_flows / workers.max(1)).max(1),
            ..limits
        };
        Worker {
            ex: Extractor::new(device_ip, limits),
            dns_seq: Vec::new(),
            names_seq: Vec::new(),
        }
    }

    /// Ends this worker's part (on its own thread, so that the workers finish and drop their
    /// flow tables side by side): its flows finished, its rows as they are.
    pub fn close(self) -> Closed {
        Closed {
            flows: self.ex.flows.finish(),
            drops: self.ex.out.drops,
            dns: (self.ex.out.dns, self.dns_seq),
            names: (self.ex.out.names, self.names_seq),
        }
    }

    /// Runs one chunk's packets of this worker and the datagrams completed in that chunk for
    /// it, merged in capture order.
    pub fn run_chunk(&mut self, packets: &[Sorted<'_>], datagrams: &[Completed]) {
        let mut datagrams = datagrams.iter().peekable();
        for p in packets {
            while let Some((seq, ts_us, dg)) = datagrams.next_if(|(seq, ..)| *seq < p.seq) {
                self.datagram(*seq, *ts_us, dg);
            }
            self.ex.decoded(p.ts_us, &p.d, &[]);
            self.numbered(p.seq);
        }
        for (seq, ts_us, dg) in datagrams {
            self.datagram(*seq, *ts_us, dg);
        }
    }

    fn datagram(&mut self, seq: u64, ts_us: i64, dg: &Datagram) {
        if let Ok((ts, d, earlier)) = datagram_packet(dg, ts_us) {
            self.ex.decoded(ts, &d, earlier);
        }
        self.numbered(seq);
    }

    /// Gives the rows the last packet produced its number.
    fn numbered(&mut self, seq: u64) {
        self.dns_seq.resize(self.ex.out.dns.len(), seq);
        self.names_seq.resize(self.ex.out.names.len(), seq);
    }

    /// Runs a batch, in order.
    pub fn run(&mut self, batch: &Batch) {
        for item in &batch.items {
            match &item.body {
                &Body::Packet {
                    ip_version,
                    proto,
                    src,
                    dst,
                    ip_len,
                    l4,
                    start,
                    len,
                } => {
                    let payload = batch.bytes.get(start..start + len).unwrap_or(&[]);
                    let transport = match l4 {
                        L4::Tcp {
                            src_port,
                            dst_port,
                            seq,
                            flags,
                        } => Transport::Tcp {
                            src_port,
                            dst_port,
                            seq,
                            flags,
                            payload,
                        },
                        L4::Udp { src_port, dst_port } => Transport::Udp {
                            src_port,
                            dst_port,
                            payload,
                        },
                        L4::Icmp { icmp_type, code } => Transport::Icmp { icmp_type, code },
                    };
                    let d = Decoded {
                        ip_version,
                        proto,
                        src,
                        dst,
                        ip_len,
                        transport,
                    };
                    self.ex.decoded(item.ts_us, &d, &[]);
                }
                Body::Datagram(dg) => {
                    if let Ok((ts, d, earlier)) = datagram_packet(dg, item.ts_us) {
                        self.ex.decoded(ts, &d, earlier);
                    }
                }
            }
            self.numbered(item.seq);
        }
    }
}

/// The capture's output from its dispatcher and workers, rows in the serial order.
pub fn finish(
    file: &CaptureFile,
    meta: Option<std::fs::Metadata>,
    read: Result<ReadSummary, (ReadSummary, ReadError)>,
    tally: Tally,
    workers: Vec<Closed>,
) -> CaptureOutput {
    let mut drops = tally.drops;
    let (mut dns, mut names, mut flows) = (Vec::new(), Vec::new(), Vec::new());
    for w in workers {
        drops.merge(&w.drops);
        flows.extend(w.flows);
        dns.push(w.dns);
        names.push(w.names);
    }
    let dns = merge_rows(dns, |r| r.ts_us);
    let names = merge_rows(names, |r| r.ts_us);
    sort_flows(&mut flows);
    let outcome = read_outcome(file, meta.is_some(), Some(read));
    output(
        file,
        meta,
        outcome,
        Rows {
            dns,
            names,
            flows,
            drops,
            first_ts: tally.first_ts,
            last_ts: tally.last_ts,
        },
    )
}

/// The workers' rows in the serial order: by time, then packet number, then the order one
/// packet produced them (`lists` holds each worker's rows with the packet number of each).
/// Keys are unique: one packet's rows are all in one worker, in push order. Each worker's rows
/// are in capture order, so when the capture's times never go back every list is already in
/// key order and a k-way merge moves each row once; otherwise all rows are sorted.
fn merge_rows<R>(lists: Vec<(Vec<R>, Vec<u64>)>, ts: impl Fn(&R) -> i64) -> Vec<R> {
    let total = lists.iter().map(|(rows, _)| rows.len()).sum();
    let in_order = lists.iter().all(|(rows, seqs)| {
        rows.len() == seqs.len() && rows.iter().zip(seqs).map(|(r, &q)| (ts(r), q)).is_sorted()
    });
    let mut out = Vec::with_capacity(total);
    if !in_order {
        let mut keyed = Vec::with_capacity(total);
        for (rows, seqs) in lists {
            keyed.extend(
                rows.into_iter()
                    .zip(seqs.into_iter().chain(std::iter::repeat(u64::MAX)))
                    .enumerate()
                    .map(|(i, (r, q))| ((ts(&r), q, i), r)),
            );
        }
        keyed.sort_unstable_by_key(|(k, _)| *k);
        out.extend(keyed.into_iter().map(|(_, r)| r));
        return out;
    }
    let mut heads: Vec<_> = lists
        .into_iter()
        .map(|(rows, seqs)| rows.into_iter().zip(seqs).peekable())
        .collect();
    // A heap of (time, packet number, list) over the lists' next rows; ties cannot happen
    // between lists (packet numbers are unique), and inside a list order is kept.
    let mut heap = std::collections::BinaryHeap::with_capacity(heads.len());
    for (i, h) in heads.iter_mut().enumerate() {
        if let Some((r, q)) = h.peek() {
            heap.push(std::cmp::Reverse((ts(r), *q, i)));
        }
    }
    while let Some(std::cmp::Reverse((_, _, i))) = heap.pop() {
        let Some(h) = heads.get_mut(i) else { break };
        if let Some((r, _)) = h.next() {
            out.push(r);
        }
        if let Some((r, q)) = h.peek() {
            heap.push(std::cmp::Reverse((ts(r), *q, i)));
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::extract::capture::extract_capture;
    use crate::ingest::discover::{discover_root, DiscoverOptions};
    use crate::ingest::reader::read_capture;
    use etherparse::{IpNumber, Ipv4Header, PacketBuilder};

    /// The split pieces run on one thread: batches of `batch` packets, each run as soon as it
    /// is full.
    fn split(file: &CaptureFile, workers: usize, batch: usize) -> CaptureOutput {
        let mut d = Dispatcher::new(workers);
        let mut team: Vec<Worker> = (0..workers)
            .map(|_| Worker::new(workers, file.device_ip, ExtractLimits::default()))
            .collect();
        let mut batches: Vec<Batch> = (0..workers).map(|_| Batch::with_limit(batch)).collect();
        let read = read_capture(&file.path, |p| {
            if let Some(w) = d.packet(p, &mut batches) {
                team[w].run(&batches[w]);
                batches[w].clear();
            }
        });
        for (w, b) in team.iter_mut().zip(&batches) {
            w.run(b);
        }
        finish(
            file,
            std::fs::metadata(&file.path).ok(),
            read,
            d.into_tally(),
            team.into_iter().map(Worker::close).collect(),
        )
    }

    pub(crate) fn same(a: &CaptureOutput, b: &CaptureOutput, what: &str) {
        assert_eq!(a.capture, b.capture, "{what}");
        assert_eq!(a.dns, b.dns, "{what}");
        assert_eq!(a.names, b.names, "{what}");
        assert_eq!(a.flows, b.flows, "{what}");
    }

    #[test]
    fn a_flow_has_one_worker_in_both_directions_and_flows_spread() {
        let mut used = [0usize; 3];
        for i in 0..300u32 {
            let (a, b): (IpAddr, IpAddr) = if i % 2 == 0 {
                (
                    std::net::Ipv4Addr::from(0xc0a8_0105 + i % 7).into(),
                    std::net::Ipv4Addr::from(0x3401_0101 + i * 977).into(),
                )
            } else {
                (
                    std::net::Ipv6Addr::from(0xfd00_u128 << 112 | u128::from(i)).into(),
                    std::net::Ipv6Addr::from(0x2a00_u128 << 112 | u128::from(i) * 31).into(),
                )
            };
            let (pa, pb) = (40000 + i as u16, 443);
            let d = |src, dst, sp, dp| Decoded {
                ip_version: 4,
                proto: 6,
                src,
                dst,
                ip_len: 40,
                transport: crate::decode::Transport::Udp {
                    src_port: sp,
                    dst_port: dp,
                    payload: &[],
                },
            };
            let w = worker_of(&d(a, b, pa, pb), 3);
            assert_eq!(w, worker_of(&d(b, a, pb, pa), 3));
            used[w] += 1;
        }
        assert!(used.iter().all(|&n| n > 60), "{used:?}");
    }

    /// Synthetic captures (`synth` at `seed` and `scale`) in a temporary folder.
    pub(crate) fn synth_captures(seed: u64, scale: f64) -> (tempfile::TempDir, Vec<CaptureFile>) {
        let dir = tempfile::tempdir().unwrap();
        crate::synth::generate(&crate::synth::SynthOptions {
            out: dir.path().to_path_buf(),
            seed,
            scale,
        })
        .unwrap();
        let opts = DiscoverOptions {
            experiment: "ctrl2".into(),
            ..Default::default()
        };
        let found = discover_root(dir.path(), &opts).unwrap();
        (dir, found.captures)
    }

    #[test]
    fn split_rows_equal_serial_rows_on_synthetic_captures() {
        let (_dir, captures) = synth_captures(3, 0.3);
        assert!(captures.len() > 5);
        let mut names = 0;
        for file in &captures {
            let serial = extract_capture(file, ExtractLimits::default());
            names += serial.names.len();
            for (workers, round) in [(1, 100_000), (2, 1), (2, 37), (3, 1000)] {
                let what = format!("{} workers {workers} round {round}", file.path.display());
                same(&split(file, workers, round), &serial, &what);
            }
        }
        assert!(names > 0);
    }

    /// Ethernet frames of a UDP datagram cut into IPv4 fragments of `piece` bytes.
    fn fragments(
        src: [u8; 4],
        dst: [u8; 4],
        sport: u16,
        dport: u16,
        payload: &[u8],
        piece: usize,
    ) -> Vec<Vec<u8>> {
        let mut whole = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4(src, dst, 64)
            .udp(sport, dport)
            .write(&mut whole, payload)
            .unwrap();
        let ip_payload = &whole[14 + 20..];
        ip_payload
            .chunks(piece)
            .enumerate()
            .map(|(i, chunk)| {
                let mut h =
                    Ipv4Header::new(chunk.len() as u16, 64, IpNumber::UDP, src, dst).unwrap();
                h.identification = 77;
                h.more_fragments = (i + 1) * piece < ip_payload.len();
                h.fragment_offset =
                    etherparse::IpFragOffset::try_new((i * piece / 8) as u16).unwrap();
                h.header_checksum = h.calc_header_checksum();
                let mut f = whole[..14].to_vec();
                f.extend_from_slice(&h.to_bytes());
                f.extend_from_slice(chunk);
                f
            })
            .collect()
    }

    fn udp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
        let mut f = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4(src, dst, 64)
            .udp(sport, dport)
            .write(&mut f, payload)
            .unwrap();
        f
    }

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
        let mut f = Vec::new();
        b.write(&mut f, payload).unwrap();
        f
    }

    fn pcap(frames: &[(i64, Vec<u8>)]) -> Vec<u8> {
        let mut out = Vec::new();
        for v in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, 1] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for (ts, f) in frames {
            for v in [
                (ts / 1_000_000) as u32,
                (ts % 1_000_000) as u32,
                f.len() as u32,
                f.len() as u32,
            ] {
                out.extend_from_slice(&v.to_le_bytes());
            }
            out.extend_from_slice(f);
        }
        out
    }

    /// A capture of fragments, TLS segments out of order, DNS in and out of fragments, a
    /// packet without a time and one that is not IP, in `dir`.
    pub(crate) fn tricky_capture(dir: &std::path::Path) -> CaptureFile {
        let (dev, dns_server, web) = ([192, 168, 1, 5], [192, 168, 1, 1], [52, 1, 1, 1]);
        let resp = crate::extract::dns::tests::sample_response();
        let ch = crate::extract::tls::tests::client_hello("iot.example.com", 2500, 16384);
        let (a, rest) = ch.split_at(900);
        let (b, c) = rest.split_at(900);
        let frags = fragments(dns_server, dev, 53, 5353, &resp, 16);
        assert!(frags.len() > 2);
        let mut frames = vec![
            udp(dev, dns_server, 5353, 53, b"query"),
            tcp(dev, 40000, web, 443, 99, true, &[]),
            frags[1].clone(),
            tcp(dev, 40000, web, 443, 100, false, a),
            udp(dev, dns_server, 5354, 53, b"query"),
            udp(dns_server, dev, 53, 5354, &resp),
        ];
        frames.extend(frags.iter().skip(2).cloned());
        frames.push(tcp(dev, 40000, web, 443, 1900, false, c));
        frames.push(frags[0].clone());
        frames.push(tcp(dev, 40000, web, 443, 1000, false, b));
        frames.push(tcp(web, 443, dev, 40000, 5000, false, b"server"));
        // A packet without a time, and one that is not IP.
        frames.push(udp(dev, dns_server, 5355, 53, b"q"));
        frames.push(vec![0u8; 20]);
        let n = frames.len();
        let timed: Vec<(i64, Vec<u8>)> = frames
            .into_iter()
            .enumerate()
            .map(|(i, f)| {
                (
                    if i == n - 2 {
                        0
                    } else {
                        1_700_000_000_000_000 + (i as i64 % 4) * 10
                    },
                    f,
                )
            })
            .collect();
        let path = dir.join("2023-11-14_22.13.20_192.168.1.5.pcap");
        std::fs::write(&path, pcap(&timed)).unwrap();
        CaptureFile {
            path,
            device: "d".into(),
            name_ts: None,
            device_ip: Some(std::net::Ipv4Addr::from(dev).into()),
            year: 2023,
            month: 11,
            rotation: 0,
            capture: "c".into(),
            undated: None,
        }
    }

    #[test]
    fn fragments_tls_and_dns_across_rounds_and_workers() {
        let dir = tempfile::tempdir().unwrap();
        let file = tricky_capture(dir.path());
        let n = read_capture(&file.path, |_| {}).unwrap().packets as usize;
        let serial = extract_capture(&file, ExtractLimits::default());
        assert_eq!(serial.names.len(), 1);
        let rows_of = |port: u16| {
            serial
                .dns
                .iter()
                .filter(|r| r.ends.client_port == port)
                .count()
        };
        // The fragmented response gives the rows of the whole one.
        assert!(rows_of(5354) > 0);
        assert_eq!(rows_of(5353), rows_of(5354));
        assert!(serial.capture.drops.total() >= 2);
        for workers in 1..=4 {
            for round in 1..=n + 1 {
                same(
                    &split(&file, workers, round),
                    &serial,
                    &format!("{workers} workers, round {round}"),
                );
            }
        }
    }
}
