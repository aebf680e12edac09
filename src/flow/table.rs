//! The flow table: one entry per 5-tuple per capture, oriented from the device's point of view.
//!
//! "Local" is the device: the address from the file name when a packet carries it; otherwise
//! the private / link-local / ULA / loopback side; otherwise the side that sent the first packet
//! seen. Counts are per direction (out = sent by the local side).

use foldhash::{HashMap, HashMapExt};
use std::hash::{Hash, Hasher};
use std::net::IpAddr;

use crate::decode::TcpFlags;

/// A flow's identity, local side first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct FlowKey {
    pub proto: u8,
    pub local_ip: IpAddr,
    pub local_port: u16,
    pub remote_ip: IpAddr,
    pub remote_port: u16,
}

/// The key packed into machine words: one 128-bit word for an IPv4 flow (both addresses, the
/// protocol and both ports), where the derived hash fed the hasher nine fields one by one (enum
/// tags, length prefixes, bytes). Every packet hashes its key at least once. Equal keys give
/// equal words, as `Hash` must; a v4 and a v6 key may share words, which `Eq` tells apart.
impl Hash for FlowKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let rest = u128::from(self.proto) << 32
            | u128::from(self.local_port) << 16
            | u128::from(self.remote_port);
        match (self.local_ip, self.remote_ip) {
            (IpAddr::V4(l), IpAddr::V4(r)) => state
                .write_u128(u128::from(u32::from(l)) << 96 | u128::from(u32::from(r)) << 64 | rest),
            (l, r) => {
                let bits = |ip: IpAddr| match ip {
                    IpAddr::V4(a) => u128::from(u32::from(a)),
                    IpAddr::V6(a) => u128::from(a),
                };
                state.write_u128(bits(l));
                state.write_u128(bits(r));
                state.write_u128(rest);
            }
        }
    }
}

/// Which way a packet went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Sent by the local side.
    Out,
    /// Received by the local side.
    In,
}

/// Who opened the flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Initiator {
    Local,
    Remote,
    Unknown,
}

impl Initiator {
    pub fn name(self) -> &'static str {
        match self {
            Initiator::Local => "local",
            Initiator::Remote => "remote",
            Initiator::Unknown => "unknown",
        }
    }
}

/// Counters of one flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowStats {
    pub ip_version: u8,
    pub first_ts: i64,
    pub last_ts: i64,
    pub packets_out: u64,
    pub bytes_out: u64,
    pub packets_in: u64,
    pub bytes_in: u64,
    pub initiator: Initiator,
}

/// A finished flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    pub key: FlowKey,
    pub stats: FlowStats,
}

/// One packet as the flow table sees it.
#[derive(Debug, Clone, Copy)]
pub struct PacketMeta {
    pub ts_us: i64,
    pub ip_version: u8,
    pub proto: u8,
    pub src: IpAddr,
    pub src_port: u16,
    pub dst: IpAddr,
    pub dst_port: u16,
    pub ip_len: u32,
    /// TCP flags (None for UDP/ICMP).
    pub tcp: Option<TcpFlags>,
}

/// True for addresses that belong to the local network side.
pub fn is_local_address(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_private() || v4.is_link_local() || v4.is_loopback() || {
                // 100.64.0.0/10 carrier-grade NAT.
                let o = v4.octets();
                o[0] == 100 && (o[1] & 0xc0) == 64
            }
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            v6.is_loopback() || (s[0] & 0xfe00) == 0xfc00 || (s[0] & 0xffc0) == 0xfe80
        }
    }
}

/// A live flow: its counters and what the caller keeps per flow (`X`, see
/// [`FlowTable::record_with`]).
struct Live<X> {
    stats: FlowStats,
    state: X,
}

/// The last packet's addresses and ports, and where it went: most packets belong to the flow of
/// the packet before them (66-84 % in the corpus captures sampled, 89 % in the synthetic set:
/// TCP segments and their acknowledgements come in runs), and need neither orienting nor a
/// hash lookup then.
#[derive(Clone, Copy)]
struct Last {
    proto: u8,
    src: IpAddr,
    src_port: u16,
    dst: IpAddr,
    dst_port: u16,
    key: FlowKey,
    dir: Direction,
    /// Oriented by the device address or the local-address rule, which do not depend on the
    /// table: the reverse packet then has the same key, the other way. (Orientation by which
    /// side was seen first looks at the table; only an identical packet reuses it.)
    by_rule: bool,
    slot: usize,
}

impl Last {
    /// The key, direction and slot of `m` if it is this packet's flow.
    fn matches(&self, m: &PacketMeta) -> Option<(FlowKey, Direction, usize)> {
        if m.proto != self.proto {
            return None;
        }
        if m.src_port == self.src_port
            && m.dst_port == self.dst_port
            && m.src == self.src
            && m.dst == self.dst
        {
            return Some((self.key, self.dir, self.slot));
        }
        let reverse = self.by_rule
            && m.src_port == self.dst_port
            && m.dst_port == self.src_port
            && m.src == self.dst
            && m.dst == self.src;
        reverse.then(|| {
            let dir = match self.dir {
                Direction::Out => Direction::In,
                Direction::In => Direction::Out,
            };
            (self.key, dir, self.slot)
        })
    }
}

/// Flow table of one capture. `X` is state the caller keeps per flow (extraction keeps its TCP
/// reassembly there), found by the same lookup that counts the packet and dropped with the
/// flow when the table is flushed.
///
/// Live flows sit in `slots`, in order of arrival, and `map` gives a key's slot; flows are only
/// ever removed all at once (a flush), so slots stay put and the last packet's slot can be
/// kept.
pub struct FlowTable<X = ()> {
    device_ip: Option<IpAddr>,
    map: HashMap<FlowKey, usize>,
    slots: Vec<(FlowKey, Live<X>)>,
    last: Option<Last>,
    /// Whether `last` is used (always, but in the test that holds it to the full path).
    remember_last: bool,
    cap: usize,
    /// Flows pushed out early because the table was full.
    evicted: Vec<Flow>,
    /// Times the table was full.
    pub overflows: u64,
}

impl FlowTable {
    /// `cap` bounds the number of live flows; when it is reached every live flow is flushed
    /// (so a long flow can then give more than one row) and `overflows` counts it.
    pub fn new(device_ip: Option<IpAddr>, cap: usize) -> Self {
        FlowTable::with_state(device_ip, cap)
    }

    /// Records a packet; returns its flow key and direction.
    pub fn record(&mut self, m: &PacketMeta) -> (FlowKey, Direction) {
        let (key, dir, ()) = self.record_with(m);
        (key, dir)
    }
}

impl<X: Default> FlowTable<X> {
    /// A table that keeps an `X` (from `X::default()`) beside each live flow.
    pub fn with_state(device_ip: Option<IpAddr>, cap: usize) -> Self {
        FlowTable {
            device_ip,
            map: HashMap::new(),
            slots: Vec::new(),
            last: None,
            remember_last: true,
            cap: cap.max(1),
            evicted: Vec::new(),
            overflows: 0,
        }
    }

    /// Orients a packet without recording it.
    pub fn orient(&self, m: &PacketMeta) -> (FlowKey, Direction) {
        let (key, dir, _) = self.orient_rule(m);
        (key, dir)
    }

    /// [`FlowTable::orient`], and whether a rule that does not look at the table decided.
    fn orient_rule(&self, m: &PacketMeta) -> (FlowKey, Direction, bool) {
        let out = FlowKey {
            proto: m.proto,
            local_ip: m.src,
            local_port: m.src_port,
            remote_ip: m.dst,
            remote_port: m.dst_port,
        };
        let inb = FlowKey {
            proto: m.proto,
            local_ip: m.dst,
            local_port: m.dst_port,
            remote_ip: m.src,
            remote_port: m.src_port,
        };
        if let Some(dev) = self.device_ip {
            if m.src == dev && m.dst != dev {
                return (out, Direction::Out, true);
            }
            if m.dst == dev && m.src != dev {
                return (inb, Direction::In, true);
            }
        }
        match (is_local_address(&m.src), is_local_address(&m.dst)) {
            (true, false) => return (out, Direction::Out, true),
            (false, true) => return (inb, Direction::In, true),
            _ => {}
        }
        if self.map.contains_key(&inb) && !self.map.contains_key(&out) {
            (inb, Direction::In, false)
        } else {
            (out, Direction::Out, false)
        }
    }

    /// Records a packet; returns its flow key, its direction and the flow's state.
    pub fn record_with(&mut self, m: &PacketMeta) -> (FlowKey, Direction, &mut X) {
        let hit = self
            .last
            .as_ref()
            .filter(|_| self.remember_last)
            .and_then(|l| l.matches(m));
        let (key, dir, slot) = match hit {
            Some(hit) => hit,
            None => self.find(m),
        };
        let (_, live) = &mut self.slots[slot];
        let stats = &mut live.stats;
        stats.first_ts = stats.first_ts.min(m.ts_us);
        stats.last_ts = stats.last_ts.max(m.ts_us);
        match dir {
            Direction::Out => {
                stats.packets_out += 1;
                stats.bytes_out += u64::from(m.ip_len);
            }
            Direction::In => {
                stats.packets_in += 1;
                stats.bytes_in += u64::from(m.ip_len);
            }
        }
        if let Some(f) = m.tcp {
            if f.syn && stats.initiator == Initiator::Unknown {
                // SYN: the sender opens; SYN+ACK: the receiver opened.
                let sender_local = dir == Direction::Out;
                let opener_local = if f.ack { !sender_local } else { sender_local };
                stats.initiator = if opener_local {
                    Initiator::Local
                } else {
                    Initiator::Remote
                };
            }
        }
        (key, dir, &mut live.state)
    }

    /// Orients `m` and finds (or makes) its flow's slot, flushing a full table first; keeps it
    /// as the last packet's.
    fn find(&mut self, m: &PacketMeta) -> (FlowKey, Direction, usize) {
        let (key, dir, by_rule) = self.orient_rule(m);
        if self.map.len() >= self.cap && !self.map.contains_key(&key) {
            self.overflows += 1;
            self.map.clear();
            self.evicted
                .extend(self.slots.drain(..).map(|(key, live)| Flow {
                    key,
                    stats: live.stats,
                }));
        }
        let next = self.slots.len();
        let slot = *self.map.entry(key).or_insert(next);
        if slot == next {
            self.slots.push((
                key,
                Live {
                    state: X::default(),
                    stats: FlowStats {
                        ip_version: m.ip_version,
                        first_ts: m.ts_us,
                        last_ts: m.ts_us,
                        packets_out: 0,
                        bytes_out: 0,
                        packets_in: 0,
                        bytes_in: 0,
                        initiator: match m.tcp {
                            // TCP: only a handshake tells who opened the connection.
                            Some(_) => Initiator::Unknown,
                            None => match dir {
                                Direction::Out => Initiator::Local,
                                Direction::In => Initiator::Remote,
                            },
                        },
                    },
                },
            ));
        }
        self.last = Some(Last {
            proto: m.proto,
            src: m.src,
            src_port: m.src_port,
            dst: m.dst,
            dst_port: m.dst_port,
            key,
            dir,
            by_rule,
            slot,
        });
        (key, dir, slot)
    }

    /// All flows, sorted by first packet then key (deterministic).
    pub fn finish(mut self) -> Vec<Flow> {
        let mut flows = std::mem::take(&mut self.evicted);
        flows.extend(self.slots.into_iter().map(|(key, live)| Flow {
            key,
            stats: live.stats,
        }));
        sort_flows(&mut flows);
        flows
    }
}

/// The order of a capture's flows: by first packet, then key.
pub fn sort_flows(flows: &mut [Flow]) {
    flows.sort_by(|a, b| (a.stats.first_ts, a.key).cmp(&(b.stats.first_ts, b.key)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sharing_hash_words_stay_apart() {
        let key = |l: &str, lp: u16, r: &str, rp: u16| FlowKey {
            proto: 17,
            local_ip: l.parse().unwrap(),
            local_port: lp,
            remote_ip: r.parse().unwrap(),
            remote_port: rp,
        };
        // v4 and v6 keys whose words are equal, and keys differing in one field each.
        let keys = [
            key("0.0.0.1", 1, "0.0.0.2", 2),
            key("::1", 1, "::2", 2),
            key("::1", 1, "0.0.0.2", 2),
            key("0.0.0.1", 2, "0.0.0.2", 1),
            key("0.0.0.2", 1, "0.0.0.1", 2),
            key("10.0.0.1", 1, "0.0.0.2", 2),
        ];
        let mut m = HashMap::new();
        for (i, k) in keys.iter().enumerate() {
            m.insert(*k, i);
        }
        assert_eq!(m.len(), keys.len());
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(m.get(k), Some(&i));
            let copy = *k;
            assert_eq!(m.get(&copy), Some(&i));
        }
    }

    fn meta(src: &str, sp: u16, dst: &str, dp: u16, ts: i64, tcp: Option<TcpFlags>) -> PacketMeta {
        PacketMeta {
            ts_us: ts,
            ip_version: 4,
            proto: if tcp.is_some() { 6 } else { 17 },
            src: src.parse().unwrap(),
            src_port: sp,
            dst: dst.parse().unwrap(),
            dst_port: dp,
            ip_len: 100,
            tcp,
        }
    }

    #[test]
    fn device_point_of_view_and_initiator() {
        let mut t = FlowTable::new(Some("192.168.1.5".parse().unwrap()), 100);
        let syn = TcpFlags {
            syn: true,
            ..Default::default()
        };
        let synack = TcpFlags {
            syn: true,
            ack: true,
            ..Default::default()
        };
        t.record(&meta("192.168.1.5", 40000, "52.1.1.1", 443, 10, Some(syn)));
        t.record(&meta(
            "52.1.1.1",
            443,
            "192.168.1.5",
            40000,
            20,
            Some(synack),
        ));
        // A flow where we only see the SYN+ACK from the device: the remote opened it.
        t.record(&meta("192.168.1.5", 80, "52.1.1.2", 5000, 30, Some(synack)));
        let flows = t.finish();
        assert_eq!(flows.len(), 2);
        let f = &flows[0];
        assert_eq!(f.key.local_port, 40000);
        assert_eq!(
            (f.stats.packets_out, f.stats.packets_in, f.stats.bytes_in),
            (1, 1, 100)
        );
        assert_eq!(f.stats.initiator, Initiator::Local);
        assert_eq!((f.stats.first_ts, f.stats.last_ts), (10, 20));
        assert_eq!(flows[1].stats.initiator, Initiator::Remote);
    }

    #[test]
    fn fallback_orientation_without_device_ip() {
        let mut t = FlowTable::new(None, 100);
        t.record(&meta("8.8.8.8", 53, "10.0.0.9", 3333, 1, None));
        t.record(&meta("fe80::1", 5, "fe80::2", 6, 2, None));
        t.record(&meta("fe80::2", 6, "fe80::1", 5, 3, None));
        let flows = t.finish();
        assert_eq!(flows[0].key.local_ip, "10.0.0.9".parse::<IpAddr>().unwrap());
        assert_eq!(flows[0].stats.initiator, Initiator::Remote);
        assert_eq!(flows[1].key.local_ip, "fe80::1".parse::<IpAddr>().unwrap());
        assert_eq!(
            (flows[1].stats.packets_out, flows[1].stats.packets_in),
            (1, 1)
        );
    }

    proptest::proptest! {
        /// The last-packet shortcut gives the keys, directions and flows of the full path,
        /// whoever the device is, with flushes, and with packets between two local or two
        /// public hosts (oriented by who was seen first, which the shortcut must not reverse).
        #[test]
        fn last_packet_shortcut_changes_nothing(
            device in proptest::option::of(0usize..3),
            cap in 1usize..8,
            packets in proptest::collection::vec(
                (0usize..6, 0usize..6, 0usize..3, 0usize..3, proptest::bool::ANY,
                 proptest::bool::ANY, proptest::bool::ANY, 1i64..50, 0u8..3),
                0..200,
            ),
        ) {
            let hosts = ["192.168.1.5", "192.168.1.9", "8.8.8.8", "1.1.1.1", "fe80::1", "2001:db8::1"];
            let ports = [53u16, 443, 40000];
            let device = device.map(|d| hosts[d].parse().unwrap());
            let mut fast = FlowTable::new(device, cap);
            let mut full = FlowTable::new(device, cap);
            full.remember_last = false;
            let mut ts = 0;
            let mut prev = None;
            for (s, d, sp, dp, tcp, syn, ack, dt, again) in packets {
                ts += dt;
                // Runs of one flow, both ways, as captures have them.
                let (s, d, sp, dp, tcp) = match (again, prev) {
                    (1, Some(p)) => p,
                    (2, Some((s, d, sp, dp, tcp))) => (d, s, dp, sp, tcp),
                    _ => (s, d, sp, dp, tcp),
                };
                prev = Some((s, d, sp, dp, tcp));
                let flags = TcpFlags { syn, ack, ..Default::default() };
                let m = meta(hosts[s], ports[sp], hosts[d], ports[dp], ts, tcp.then_some(flags));
                proptest::prop_assert_eq!(fast.record(&m), full.record(&m));
            }
            proptest::prop_assert_eq!(fast.overflows, full.overflows);
            proptest::prop_assert_eq!(fast.finish(), full.finish());
        }
    }

    #[test]
    fn full_table_flushes_instead_of_growing() {
        let mut t = FlowTable::new(None, 2);
        for p in 0..5u16 {
            t.record(&meta("10.0.0.1", p, "1.1.1.1", 53, i64::from(p), None));
        }
        assert_eq!(t.overflows, 2);
        assert_eq!(t.finish().len(), 5);
    }
}
