//! Link, network and transport layer builders (Ethernet, IPv4, IPv6, UDP, TCP, ARP).
//!
//! Every builder returns an owned byte vector and computes the lengths and checksums the
//! header needs, so a frame is `ethernet(.., ip_packet(.., tcp(..)))`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_ARP: u16 = 0x0806;
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;

/// TCP flag bits.
pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const PSH: u8 = 0x08;
pub const ACK: u8 = 0x10;

/// Shortest Ethernet frame on the wire (without FCS); shorter frames are zero-padded, as a
/// NIC does, so readers must trust the IP total length rather than the frame length.
const ETH_MIN_FRAME: usize = 60;

pub type Mac = [u8; 6];

/// Ethernet II frame, zero-padded to the 60-byte minimum.
pub fn ethernet(dst: Mac, src: Mac, ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity((14 + payload.len()).max(ETH_MIN_FRAME));
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    if f.len() < ETH_MIN_FRAME {
        f.resize(ETH_MIN_FRAME, 0);
    }
    f
}

/// RFC 1071 one's-complement sum of `data` added to `acc` (not yet folded or inverted).
fn sum16(mut acc: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        acc += u32::from(*last) << 8;
    }
    acc
}

fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// Internet checksum of `data` (the value to store in a header whose checksum field is zero).
pub fn checksum(data: &[u8]) -> u16 {
    fold(sum16(0, data))
}

/// IPv4 packet with a correct header checksum; DF set, no options.
pub fn ipv4(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, ttl: u8, id: u16, payload: &[u8]) -> Vec<u8> {
    let total = 20 + payload.len();
    let total16 = u16::try_from(total).expect("synthetic packets are always below 64 KiB");
    let mut p = Vec::with_capacity(total);
    p.extend_from_slice(&[0x45, 0x00]);
    p.extend_from_slice(&total16.to_be_bytes());
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&[0x40, 0x00, ttl, proto, 0, 0]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    let c = checksum(&p[..20]);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// IPv6 packet (no extension headers).
pub fn ipv6(src: Ipv6Addr, dst: Ipv6Addr, next: u8, hop_limit: u8, payload: &[u8]) -> Vec<u8> {
    let len16 = u16::try_from(payload.len()).expect("synthetic packets are always below 64 KiB");
    let mut p = Vec::with_capacity(40 + payload.len());
    p.extend_from_slice(&[0x60, 0, 0, 0]);
    p.extend_from_slice(&len16.to_be_bytes());
    p.extend_from_slice(&[next, hop_limit]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(payload);
    p
}

/// IP packet of the matching version. Both addresses must be the same family.
pub fn ip_packet(src: IpAddr, dst: IpAddr, proto: u8, ttl: u8, id: u16, payload: &[u8]) -> Vec<u8> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => ipv4(s, d, proto, ttl, id, payload),
        (IpAddr::V6(s), IpAddr::V6(d)) => ipv6(s, d, proto, ttl, payload),
        _ => unreachable!("synth never mixes address families within one packet"),
    }
}

/// Sum of the TCP/UDP pseudo-header (RFC 793 / RFC 8200 §8.1).
fn pseudo_sum(src: IpAddr, dst: IpAddr, proto: u8, len: usize) -> u32 {
    let mut acc = 0;
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            acc = sum16(acc, &s.octets());
            acc = sum16(acc, &d.octets());
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            acc = sum16(acc, &s.octets());
            acc = sum16(acc, &d.octets());
        }
        _ => unreachable!("synth never mixes address families within one packet"),
    }
    acc + u32::from(proto) + len as u32
}

/// UDP datagram with a correct checksum (mandatory for IPv6, computed for IPv4 too).
pub fn udp(src: IpAddr, dst: IpAddr, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let len = 8 + payload.len();
    let len16 = u16::try_from(len).expect("synthetic datagrams are always below 64 KiB");
    let mut s = Vec::with_capacity(len);
    s.extend_from_slice(&sport.to_be_bytes());
    s.extend_from_slice(&dport.to_be_bytes());
    s.extend_from_slice(&len16.to_be_bytes());
    s.extend_from_slice(&[0, 0]);
    s.extend_from_slice(payload);
    let mut c = fold(sum16(pseudo_sum(src, dst, PROTO_UDP, len), &s));
    if c == 0 {
        c = 0xffff;
    }
    s[6..8].copy_from_slice(&c.to_be_bytes());
    s
}

/// Fields of one TCP segment.
pub struct TcpSeg<'a> {
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub window: u16,
    /// Raw options, already padded to a multiple of 4 bytes.
    pub options: &'a [u8],
    pub payload: &'a [u8],
}

/// TCP segment with a correct checksum.
pub fn tcp(src: IpAddr, dst: IpAddr, seg: &TcpSeg<'_>) -> Vec<u8> {
    debug_assert_eq!(seg.options.len() % 4, 0);
    let hlen = 20 + seg.options.len();
    let len = hlen + seg.payload.len();
    let mut s = Vec::with_capacity(len);
    s.extend_from_slice(&seg.sport.to_be_bytes());
    s.extend_from_slice(&seg.dport.to_be_bytes());
    s.extend_from_slice(&seg.seq.to_be_bytes());
    s.extend_from_slice(&seg.ack.to_be_bytes());
    s.push(((hlen / 4) as u8) << 4);
    s.push(seg.flags);
    s.extend_from_slice(&seg.window.to_be_bytes());
    s.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
    s.extend_from_slice(seg.options);
    s.extend_from_slice(seg.payload);
    let c = fold(sum16(pseudo_sum(src, dst, PROTO_TCP, len), &s));
    s[16..18].copy_from_slice(&c.to_be_bytes());
    s
}

/// SYN options: MSS, SACK permitted, window scale 7 (padded to 12 bytes).
pub fn syn_options(mss: u16) -> Vec<u8> {
    let m = mss.to_be_bytes();
    vec![2, 4, m[0], m[1], 4, 2, 1, 1, 1, 3, 3, 7]
}

/// ARP request (`op` 1) or reply (`op` 2) payload for Ethernet/IPv4.
pub fn arp(op: u16, sha: Mac, spa: Ipv4Addr, tha: Mac, tpa: Ipv4Addr) -> Vec<u8> {
    let mut a = Vec::with_capacity(28);
    a.extend_from_slice(&[0, 1, 0x08, 0x00, 6, 4]);
    a.extend_from_slice(&op.to_be_bytes());
    a.extend_from_slice(&sha);
    a.extend_from_slice(&spa.octets());
    a.extend_from_slice(&tha);
    a.extend_from_slice(&tpa.octets());
    a
}
