//! Tunnels: from an outer IP packet's payload to the packet it carries. No allocation.
//!
//! Handled: IPv4/IPv6 in IPv4/IPv6 (IP protocols 4 and 41, which includes 6in4), GRE (RFC 2784/
//! 2890 with checksum, key and sequence fields; PPTP's enhanced GRE, version 1) carrying IPv4,
//! IPv6, PPP, transparent Ethernet bridging (0x6558) or ERSPAN types I, II and III; and, over
//! UDP, VXLAN (port 4789), VXLAN-GPE (4790), Geneve (6081), GTP-U (2152, with its optional
//! fields and extension headers) and Teredo (3544, with origin-indication and authentication
//! headers). Ethernet inside a tunnel goes through the link decoder (VLAN tags and all).
//!
//! The caller decides how deep to follow (see [`MAX_DEPTH`]); every step here is one layer.

use super::link::ip_payload;
use crate::drops::DropReason;

/// Most tunnel layers followed inside one frame; deeper packets are dropped (`tunnel_depth`).
pub const MAX_DEPTH: usize = 4;

const LINKTYPE_ETHERNET: u32 = 1;

pub const PORT_VXLAN: u16 = 4789;
pub const PORT_VXLAN_GPE: u16 = 4790;
pub const PORT_GENEVE: u16 = 6081;
pub const PORT_GTP_U: u16 = 2152;
pub const PORT_TEREDO: u16 = 3544;

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// The inner IP packet of an IP-protocol tunnel (4, 41 or 47), `Ok(None)` when `proto` is not
/// a tunnel, or why the inner packet cannot be had.
pub fn inner_of_ip(proto: u8, payload: &[u8]) -> Result<Option<&[u8]>, DropReason> {
    match proto {
        4 | 41 => match payload.first().map(|b| b >> 4) {
            Some(4) if proto == 4 => Ok(Some(payload)),
            Some(6) if proto == 41 => Ok(Some(payload)),
            _ => Err(DropReason::TunnelMalformed),
        },
        47 => gre(payload).map(Some),
        _ => Ok(None),
    }
}

/// The inner IP packet of a UDP tunnel, `None` when the ports are not a tunnel's or the payload
/// does not look like one (then the datagram is treated as plain UDP).
pub fn inner_of_udp(src_port: u16, dst_port: u16, payload: &[u8]) -> Option<&[u8]> {
    let either = |p: u16| src_port == p || dst_port == p;
    if dst_port == PORT_VXLAN {
        vxlan(payload)
    } else if dst_port == PORT_VXLAN_GPE {
        vxlan_gpe(payload)
    } else if dst_port == PORT_GENEVE {
        geneve(payload)
    } else if either(PORT_GTP_U) {
        gtp_u(payload)
    } else if either(PORT_TEREDO) {
        teredo(payload)
    } else {
        None
    }
}

fn ethernet(frame: &[u8]) -> Option<&[u8]> {
    ip_payload(LINKTYPE_ETHERNET, frame).ok()
}

fn by_ethertype(t: u16, body: &[u8]) -> Option<&[u8]> {
    match t {
        0x0800 if body.first()? >> 4 == 4 => Some(body),
        0x86dd if body.first()? >> 4 == 6 => Some(body),
        0x6558 => ethernet(body),
        _ => None,
    }
}

/// VXLAN (RFC 7348): 8-byte header with the I flag, then an Ethernet frame.
fn vxlan(p: &[u8]) -> Option<&[u8]> {
    if p.len() < 8 || p[0] & 0x08 == 0 {
        return None;
    }
    ethernet(&p[8..])
}

/// VXLAN-GPE: the next-protocol byte says what follows (1 IPv4, 2 IPv6, 3 Ethernet).
fn vxlan_gpe(p: &[u8]) -> Option<&[u8]> {
    if p.len() < 8 {
        return None;
    }
    let body = &p[8..];
    match p[3] {
        1 | 2 => (body.first()? >> 4 == if p[3] == 1 { 4 } else { 6 }).then_some(body),
        3 => ethernet(body),
        _ => None,
    }
}

/// Geneve (RFC 8926): version 0, options of `4 × opt_len` bytes, then the protocol type.
fn geneve(p: &[u8]) -> Option<&[u8]> {
    let first = *p.first()?;
    if first >> 6 != 0 {
        return None;
    }
    let opts = usize::from(first & 0x3f) * 4;
    let body = p.get(8 + opts..)?;
    by_ethertype(be16(p, 2)?, body)
}

/// GTP-U (3GPP TS 29.281): version 1, G-PDU (type 255); optional sequence/N-PDU/next-extension
/// fields and a chain of extension headers (each `4 × length` bytes, last byte the next type).
fn gtp_u(p: &[u8]) -> Option<&[u8]> {
    let flags = *p.first()?;
    if flags >> 5 != 1 || flags & 0x10 == 0 || *p.get(1)? != 0xff {
        return None;
    }
    let mut at = 8;
    if flags & 0x07 != 0 {
        let mut next = *p.get(11)?;
        at = 12;
        let mut hops = 0;
        while next != 0 {
            hops += 1;
            if hops > 16 {
                return None;
            }
            let len = usize::from(*p.get(at)?) * 4;
            if len == 0 {
                return None;
            }
            next = *p.get(at + len - 1)?;
            at += len;
        }
    }
    let body = p.get(at..)?;
    match body.first()? >> 4 {
        4 | 6 => Some(body),
        _ => None,
    }
}

/// Teredo (RFC 4380): optional authentication (`00 01`) and origin-indication (`00 00`)
/// headers, then an IPv6 packet.
fn teredo(p: &[u8]) -> Option<&[u8]> {
    let mut at = 0;
    if be16(p, 0)? == 0x0001 {
        // Authentication: id length, auth length, then id, auth, 8-byte nonce, 1-byte confirmation.
        let id_len = usize::from(*p.get(2)?);
        let au_len = usize::from(*p.get(3)?);
        at = 4 + id_len + au_len + 9;
    }
    if be16(p, at)? == 0x0000 {
        at += 8;
    }
    let body = p.get(at..)?;
    // An IPv6 header whose payload length fits what is there (bubbles carry no payload).
    if body.len() < 40 || body[0] >> 4 != 6 {
        return None;
    }
    let pl = usize::from(be16(body, 4)?);
    (40 + pl <= body.len()).then_some(body)
}

/// GRE (RFC 2784, 2890; version 1 for PPTP).
fn gre(p: &[u8]) -> Result<&[u8], DropReason> {
    let bad = DropReason::TunnelMalformed;
    let flags = be16(p, 0).ok_or(bad)?;
    let proto = be16(p, 2).ok_or(bad)?;
    let version = flags & 0x0007;
    let mut at = 4;
    if version == 0 {
        if flags & 0x8000 != 0 || flags & 0x4000 != 0 {
            at += 4; // checksum (+ reserved), or the routing offset's word
        }
        if flags & 0x2000 != 0 {
            at += 4; // key
        }
        if flags & 0x1000 != 0 {
            at += 4; // sequence number
        }
        if flags & 0x4000 != 0 {
            return Err(bad); // source routing (RFC 1701): not followed
        }
    } else if version == 1 {
        // Enhanced GRE: key (payload length + call id) always, then sequence and ack.
        at += 4;
        if flags & 0x1000 != 0 {
            at += 4;
        }
        if flags & 0x0080 != 0 {
            at += 4;
        }
    } else {
        return Err(bad);
    }
    let body = p.get(at..).ok_or(bad)?;
    match proto {
        0x0800 | 0x86dd | 0x6558 => by_ethertype(proto, body).ok_or(bad),
        // PPP (PPTP): optional address/control bytes, then the PPP protocol.
        0x880b => {
            let b = if body.starts_with(&[0xff, 0x03]) {
                &body[2..]
            } else {
                body
            };
            let (pp, rest) = match b.first() {
                // Protocol-field compression: one odd byte.
                Some(x) if x & 1 == 1 => (u16::from(*x), &b[1..]),
                _ => (be16(b, 0).ok_or(bad)?, b.get(2..).ok_or(bad)?),
            };
            match pp {
                0x0021 | 0x0057 => by_ethertype(if pp == 0x21 { 0x0800 } else { 0x86dd }, rest)
                    .ok_or(DropReason::NonIp),
                _ => Err(DropReason::NonIp),
            }
        }
        // ERSPAN type II (sequenced) has an 8-byte header; type I (no sequence) has none.
        0x88be => {
            let skip = if flags & 0x1000 != 0 { 8 } else { 0 };
            ethernet(body.get(skip..).ok_or(bad)?).ok_or(DropReason::NonIp)
        }
        // ERSPAN type III: 12 bytes, plus an 8-byte platform subheader when the O flag is set.
        0x22eb => {
            let o = body.get(11).ok_or(bad)? & 0x01 != 0;
            let skip = if o { 20 } else { 12 };
            ethernet(body.get(skip..).ok_or(bad)?).ok_or(DropReason::NonIp)
        }
        _ => Err(DropReason::UnsupportedTransport),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn eth_ipv4(ip: &[u8]) -> Vec<u8> {
        let mut f = vec![2u8; 12];
        f.extend_from_slice(&[0x08, 0x00]);
        f.extend_from_slice(ip);
        f
    }

    const IP4: [u8; 20] = [
        0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ];

    fn ip6() -> Vec<u8> {
        let mut v = vec![0x60, 0, 0, 0, 0, 0, 17, 64];
        v.extend_from_slice(&[0u8; 32]);
        v
    }

    #[test]
    fn udp_tunnels() {
        let mut vx = vec![0x08, 0, 0, 0, 0, 0, 1, 0];
        vx.extend_from_slice(&eth_ipv4(&IP4));
        assert_eq!(inner_of_udp(5000, PORT_VXLAN, &vx), Some(&IP4[..]));
        // Without the I flag it is not VXLAN.
        vx[0] = 0;
        assert_eq!(inner_of_udp(5000, PORT_VXLAN, &vx), None);

        let mut gn = vec![0x01, 0, 0x65, 0x58, 0, 0, 1, 0, 1, 2, 3, 4];
        gn.extend_from_slice(&eth_ipv4(&IP4));
        assert_eq!(inner_of_udp(5000, PORT_GENEVE, &gn), Some(&IP4[..]));
        let mut gn4 = vec![0, 0, 0x08, 0x00, 0, 0, 1, 0];
        gn4.extend_from_slice(&IP4);
        assert_eq!(inner_of_udp(5000, PORT_GENEVE, &gn4), Some(&IP4[..]));

        let mut gtp = vec![0x30, 0xff, 0, 20, 0, 0, 0, 1];
        gtp.extend_from_slice(&IP4);
        assert_eq!(inner_of_udp(PORT_GTP_U, PORT_GTP_U, &gtp), Some(&IP4[..]));
        // With sequence number and one PDU-session extension header (length 1 = 4 bytes).
        let mut gtpx = vec![
            0x36, 0xff, 0, 28, 0, 0, 0, 1, 0, 7, 0, 0x85, 1, 0x10, 0x09, 0,
        ];
        gtpx.extend_from_slice(&IP4);
        assert_eq!(inner_of_udp(PORT_GTP_U, 40000, &gtpx), Some(&IP4[..]));

        let v6 = ip6();
        let mut ter = vec![0, 0, 0xff, 0xff, 1, 2, 3, 4];
        ter.extend_from_slice(&v6);
        assert_eq!(inner_of_udp(PORT_TEREDO, 1000, &ter), Some(&v6[..]));
        assert_eq!(inner_of_udp(1000, PORT_TEREDO, &v6), Some(&v6[..]));
        assert_eq!(inner_of_udp(1000, PORT_TEREDO, &IP4), None);
        assert_eq!(inner_of_udp(1000, 53, &vx), None);
    }

    #[test]
    fn ip_tunnels_and_gre() {
        assert_eq!(inner_of_ip(4, &IP4), Ok(Some(&IP4[..])));
        let v6 = ip6();
        assert_eq!(inner_of_ip(41, &v6), Ok(Some(&v6[..])));
        assert_eq!(inner_of_ip(41, &IP4), Err(DropReason::TunnelMalformed));
        assert_eq!(inner_of_ip(17, &IP4), Ok(None));

        let mut g = vec![0, 0, 0x08, 0x00];
        g.extend_from_slice(&IP4);
        assert_eq!(inner_of_ip(47, &g), Ok(Some(&IP4[..])));
        // Checksum, key and sequence present.
        let mut g = vec![0xb0, 0, 0x86, 0xdd, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 1];
        g.extend_from_slice(&v6);
        assert_eq!(inner_of_ip(47, &g), Ok(Some(&v6[..])));
        // Transparent Ethernet bridging.
        let mut g = vec![0x20, 0, 0x65, 0x58, 0, 0, 0, 5];
        g.extend_from_slice(&eth_ipv4(&IP4));
        assert_eq!(inner_of_ip(47, &g), Ok(Some(&IP4[..])));
        // ERSPAN II (sequenced) and I (not).
        let mut g = vec![0x10, 0, 0x88, 0xbe, 0, 0, 0, 1, 0x10, 0, 0, 1, 0, 0, 0, 0];
        g.extend_from_slice(&eth_ipv4(&IP4));
        assert_eq!(inner_of_ip(47, &g), Ok(Some(&IP4[..])));
        let mut g = vec![0, 0, 0x88, 0xbe];
        g.extend_from_slice(&eth_ipv4(&IP4));
        assert_eq!(inner_of_ip(47, &g), Ok(Some(&IP4[..])));
        // ERSPAN III with the platform subheader.
        let mut g = vec![0x10, 0, 0x22, 0xeb, 0, 0, 0, 1];
        g.extend_from_slice(&[0x20, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]);
        g.extend_from_slice(&[0u8; 8]);
        g.extend_from_slice(&eth_ipv4(&IP4));
        assert_eq!(inner_of_ip(47, &g), Ok(Some(&IP4[..])));
        // PPTP enhanced GRE carrying PPP/IPv4.
        let mut g = vec![0x30, 0x01, 0x88, 0x0b, 0, 24, 0, 7, 0, 0, 0, 3];
        g.extend_from_slice(&[0xff, 0x03, 0x00, 0x21]);
        g.extend_from_slice(&IP4);
        assert_eq!(inner_of_ip(47, &g), Ok(Some(&IP4[..])));
    }

    #[test]
    fn truncation_sweep() {
        let mut gtpx = vec![
            0x36, 0xff, 0, 28, 0, 0, 0, 1, 0, 7, 0, 0x85, 1, 0x10, 0x09, 0,
        ];
        gtpx.extend_from_slice(&IP4);
        let mut g = vec![0x10, 0, 0x22, 0xeb, 0, 0, 0, 1];
        g.extend_from_slice(&[0x20, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]);
        g.extend_from_slice(&[0u8; 8]);
        g.extend_from_slice(&eth_ipv4(&IP4));
        // Cut inside the headers: an error; cut inside the inner packet: the decoder's problem.
        for cut in 0..g.len() {
            let r = inner_of_ip(47, &g[..cut]);
            if cut <= 8 + 20 + 14 {
                assert!(r.is_err(), "cut {cut}");
            }
        }
        for cut in 0..gtpx.len() {
            let r = inner_of_udp(PORT_GTP_U, 1, &gtpx[..cut]);
            if cut <= 16 {
                assert_eq!(r, None, "cut {cut}");
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200), proto in proptest::prelude::any::<u8>(), port in proptest::prelude::any::<u16>()) {
            let _ = inner_of_ip(proto, &data);
            for p in [PORT_VXLAN, PORT_VXLAN_GPE, PORT_GENEVE, PORT_GTP_U, PORT_TEREDO, port] {
                let _ = inner_of_udp(1, p, &data);
            }
        }
    }
}
