//! IP and transport decode on top of the link layer, using etherparse's lax slices (which accept
//! packets cut by the snap length and report IPv6 extension-header problems without failing).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use etherparse::{IpNumber, LaxIpSlice, TcpSlice, UdpSlice};

use super::link::ip_payload;
use super::tunnel::{inner_of_ip, inner_of_udp, MAX_DEPTH};
use crate::drops::DropReason;

/// TCP flags the flow table and reassembly need.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpFlags {
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
}

/// Transport header and payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport<'a> {
    Tcp {
        src_port: u16,
        dst_port: u16,
        seq: u32,
        flags: TcpFlags,
        payload: &'a [u8],
    },
    Udp {
        src_port: u16,
        dst_port: u16,
        payload: &'a [u8],
    },
    /// ICMP (v4) or ICMPv6 (the protocol number tells which).
    Icmp { icmp_type: u8, code: u8 },
}

impl Transport<'_> {
    pub fn ports(&self) -> (u16, u16) {
        match *self {
            Transport::Tcp {
                src_port, dst_port, ..
            }
            | Transport::Udp {
                src_port, dst_port, ..
            } => (src_port, dst_port),
            Transport::Icmp { .. } => (0, 0),
        }
    }
}

/// A decoded IP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoded<'a> {
    pub ip_version: u8,
    /// IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6).
    pub proto: u8,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// Bytes of the IP packet on the wire (header + payload), from the IP length field.
    pub ip_len: u32,
    pub transport: Transport<'a>,
}

/// One fragment of an IP datagram (what reassembly needs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fragment<'a> {
    pub ip_version: u8,
    pub proto: u8,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub id: u32,
    /// Offset in 8-byte units.
    pub offset: u16,
    pub more: bool,
    pub payload: &'a [u8],
    pub ip_len: u32,
}

/// A frame decoded as far as it goes: a whole IP packet, or one fragment of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded2<'a> {
    Whole(Decoded<'a>),
    Fragment(Fragment<'a>),
}

/// Decodes a frame down to its transport payload.
pub fn decode(link_type: u32, frame: &[u8], wire_len: u32) -> Result<Decoded<'_>, DropReason> {
    match decode_any(link_type, frame, wire_len)? {
        Decoded2::Whole(d) => Ok(d),
        Decoded2::Fragment(_) => Err(DropReason::IpFragment),
    }
}

/// Decodes a frame; IP fragments come back as [`Fragment`]s for reassembly. Tunnels (see
/// [`super::tunnel`]) are followed up to [`MAX_DEPTH`] layers: what comes back is the innermost
/// packet, with its own addresses and IP length.
pub fn decode_any(link_type: u32, frame: &[u8], wire_len: u32) -> Result<Decoded2<'_>, DropReason> {
    let mut ip = ip_payload(link_type, frame)?;
    let mut wire = wire_len.saturating_sub((frame.len() - ip.len()) as u32);
    for _ in 0..=MAX_DEPTH {
        match decode_ip(ip, wire)? {
            Step::Packet(d) => return Ok(d),
            Step::Inner { outer_len, inner } => {
                // The inner packet's length on the wire, should its header not say.
                let offset = (inner.as_ptr() as usize).saturating_sub(ip.as_ptr() as usize);
                wire = outer_len.saturating_sub(offset as u32);
                ip = inner;
            }
        }
    }
    Err(DropReason::TunnelDepth)
}

/// One IP layer: a packet to use, or the packet a tunnel in it carries.
enum Step<'a> {
    Packet(Decoded2<'a>),
    Inner { outer_len: u32, inner: &'a [u8] },
}

/// The fields of one IP header a whole (unfragmented) packet needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct IpHeader<'a> {
    ip_version: u8,
    /// The header's length field as bytes of the whole packet (0: the header does not say).
    header_len_field: u32,
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    data: &'a [u8],
}

/// An IP header as etherparse reads it: a whole packet's fields, or a fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Parsed<'a> {
    Whole(IpHeader<'a>),
    Fragment(Fragment<'a>),
}

fn decode_ip(ip: &[u8], wire_ip_len: u32) -> Result<Step<'_>, DropReason> {
    let h = match ip_header_fast(ip) {
        Some(h) => h,
        None => match ip_header_lax(ip, wire_ip_len)? {
            Parsed::Whole(h) => h,
            Parsed::Fragment(f) => return Ok(Step::Packet(Decoded2::Fragment(f))),
        },
    };
    // Offloaded captures carry 0 in the length field; fall back to the wire length.
    let ip_len = if h.header_len_field > 0 {
        h.header_len_field
    } else {
        wire_ip_len
    };
    if let Some(inner) = inner_of_ip(h.proto, h.data)? {
        return Ok(Step::Inner {
            outer_len: ip_len,
            inner,
        });
    }
    let transport = transport(h.proto, h.data)?;
    if let Transport::Udp {
        src_port,
        dst_port,
        payload,
    } = transport
    {
        if let Some(inner) = inner_of_udp(src_port, dst_port, payload) {
            return Ok(Step::Inner {
                outer_len: ip_len,
                inner,
            });
        }
    }
    Ok(Step::Packet(Decoded2::Whole(Decoded {
        ip_version: h.ip_version,
        proto: h.proto,
        src: h.src,
        dst: h.dst,
        ip_len,
        transport,
    })))
}

/// The common header read in place, without etherparse: IPv4 that is not a fragment, whose
/// length field covers its header, or IPv6 with a payload length and no extension header;
/// carrying TCP, UDP, ICMP, ICMPv6 or a tunnel's protocol (IPv4 AH is an extension to
/// etherparse). It gives what [`ip_header_lax`]
/// gives for such a header (a property test holds it to that); `None` sends anything else
/// there. (Copying etherparse's slice types out of the call was a third of decode's time.)
fn ip_header_fast(ip: &[u8]) -> Option<IpHeader<'_>> {
    match ip.first()? >> 4 {
        4 => {
            let ihl = usize::from(ip[0] & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes([*ip.get(2)?, *ip.get(3)?]));
            let flags_offset = u16::from_be_bytes([*ip.get(6)?, *ip.get(7)?]);
            if ihl < 20
                || total < ihl
                || ip.len() < ihl
                || flags_offset & 0x3fff != 0
                || !matches!(ip[9], 1 | 4 | 6 | 17 | 41 | 47 | 58)
            {
                return None;
            }
            let (src, dst) = addresses(ip, 4)?;
            Some(IpHeader {
                ip_version: 4,
                header_len_field: total as u32,
                src,
                dst,
                proto: ip[9],
                data: &ip[ihl..total.min(ip.len())],
            })
        }
        6 => {
            let payload_len = usize::from(u16::from_be_bytes([*ip.get(4)?, *ip.get(5)?]));
            let next = *ip.get(6)?;
            if payload_len == 0 || !matches!(next, 1 | 4 | 6 | 17 | 41 | 47 | 58) {
                return None;
            }
            let (src, dst) = addresses(ip, 6)?;
            Some(IpHeader {
                ip_version: 6,
                header_len_field: payload_len as u32 + 40,
                src,
                dst,
                proto: next,
                data: ip.get(40..(40 + payload_len).min(ip.len()))?,
            })
        }
        _ => None,
    }
}

/// Any IP header, through etherparse's lax slices (cut packets, extension headers, fragments).
fn ip_header_lax(ip: &[u8], wire_ip_len: u32) -> Result<Parsed<'_>, DropReason> {
    let (slice, ext_err) = LaxIpSlice::from_slice(ip).map_err(|_| DropReason::IpMalformed)?;
    let (ip_version, header_len_field) = match &slice {
        LaxIpSlice::Ipv4(v4) => (4u8, u32::from(v4.header().total_len())),
        LaxIpSlice::Ipv6(v6) => {
            let pl = u32::from(v6.header().payload_length());
            (6u8, if pl == 0 { 0 } else { pl + 40 })
        }
    };
    let payload = slice.payload();
    if ext_err.is_some() {
        return Err(DropReason::IpMalformed);
    }
    let (src, dst) = addresses(ip, ip_version)
        .unwrap_or_else(|| (slice.source_addr(), slice.destination_addr()));
    let proto = payload.ip_number;
    let data = payload.payload;
    if payload.fragmented {
        let ip_len = if header_len_field > 0 {
            header_len_field
        } else {
            wire_ip_len
        };
        let (id, offset, more) = match &slice {
            LaxIpSlice::Ipv4(v4) => {
                let h = v4.header();
                (
                    u32::from(h.identification()),
                    h.fragments_offset().value(),
                    h.more_fragments(),
                )
            }
            LaxIpSlice::Ipv6(v6) => {
                let frag = v6.extensions().clone().into_iter().find_map(|e| match e {
                    etherparse::Ipv6ExtensionSlice::Fragment(f) => Some(f),
                    _ => None,
                });
                let Some(f) = frag else {
                    return Err(DropReason::IpMalformed);
                };
                (
                    f.identification(),
                    f.fragment_offset().value(),
                    f.more_fragments(),
                )
            }
        };
        return Ok(Parsed::Fragment(Fragment {
            ip_version,
            proto: proto.0,
            src,
            dst,
            id,
            offset,
            more,
            payload: data,
            ip_len,
        }));
    }
    Ok(Parsed::Whole(IpHeader {
        ip_version,
        header_len_field,
        src,
        dst,
        proto: proto.0,
        data,
    }))
}

/// The source and destination of an IP header etherparse has accepted, read as whole words
/// (etherparse's accessors build them byte by byte, and copying such a value stalls the
/// next loads: a tenth of the decode time).
fn addresses(ip: &[u8], version: u8) -> Option<(IpAddr, IpAddr)> {
    if version == 4 {
        let a = u32::from_be_bytes(ip.get(12..16)?.try_into().ok()?);
        let b = u32::from_be_bytes(ip.get(16..20)?.try_into().ok()?);
        Some((Ipv4Addr::from(a).into(), Ipv4Addr::from(b).into()))
    } else {
        let a = u128::from_be_bytes(ip.get(8..24)?.try_into().ok()?);
        let b = u128::from_be_bytes(ip.get(24..40)?.try_into().ok()?);
        Some((Ipv6Addr::from(a).into(), Ipv6Addr::from(b).into()))
    }
}

/// Decodes a transport header and payload (also used on reassembled datagrams).
pub fn transport(proto: u8, data: &[u8]) -> Result<Transport<'_>, DropReason> {
    let proto = IpNumber(proto);
    let transport = match proto {
        IpNumber::TCP => {
            let tcp = TcpSlice::from_slice(data).map_err(|_| DropReason::TransportMalformed)?;
            Transport::Tcp {
                src_port: tcp.source_port(),
                dst_port: tcp.destination_port(),
                seq: tcp.sequence_number(),
                flags: TcpFlags {
                    syn: tcp.syn(),
                    ack: tcp.ack(),
                    fin: tcp.fin(),
                    rst: tcp.rst(),
                },
                payload: tcp.payload(),
            }
        }
        IpNumber::UDP => {
            let udp = UdpSlice::from_slice_lax(data).map_err(|_| DropReason::TransportMalformed)?;
            Transport::Udp {
                src_port: udp.source_port(),
                dst_port: udp.destination_port(),
                payload: udp.payload(),
            }
        }
        IpNumber::ICMP | IpNumber::IPV6_ICMP => {
            if data.len() < 2 {
                return Err(DropReason::TransportMalformed);
            }
            Transport::Icmp {
                icmp_type: data[0],
                code: data[1],
            }
        }
        _ => return Err(DropReason::UnsupportedTransport),
    };
    Ok(transport)
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    fn udp_frame() -> Vec<u8> {
        let b = PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([10, 0, 0, 2], [8, 8, 8, 8], 64)
            .udp(5555, 53);
        let payload = [9u8; 30];
        let mut out = Vec::new();
        b.write(&mut out, &payload).unwrap();
        out
    }

    #[test]
    fn decodes_udp_over_ethernet() {
        let f = udp_frame();
        let d = decode(1, &f, f.len() as u32).unwrap();
        assert_eq!(d.ip_version, 4);
        assert_eq!(d.ip_len, 20 + 8 + 30);
        assert_eq!(d.src, "10.0.0.2".parse::<IpAddr>().unwrap());
        assert_eq!(
            d.transport,
            Transport::Udp {
                src_port: 5555,
                dst_port: 53,
                payload: &[9u8; 30]
            }
        );
    }

    #[test]
    fn decodes_tcp_v6() {
        let b = PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv6([0xfd; 16], [0x20; 16], 64)
            .tcp(40000, 443, 1000, 65535)
            .syn();
        let mut f = Vec::new();
        b.write(&mut f, &[]).unwrap();
        let d = decode(1, &f, f.len() as u32).unwrap();
        assert_eq!(d.proto, 6);
        match d.transport {
            Transport::Tcp { seq, flags, .. } => {
                assert_eq!(seq, 1000);
                assert!(flags.syn && !flags.ack);
            }
            other => panic!("{other:?}"),
        }
    }

    /// An IPv4 header (no options) around `payload` with protocol `proto`.
    fn ipv4(proto: u8, src: [u8; 4], dst: [u8; 4], payload: &[u8]) -> Vec<u8> {
        let h = etherparse::Ipv4Header::new(
            payload.len() as u16,
            64,
            etherparse::IpNumber(proto),
            src,
            dst,
        )
        .unwrap();
        let mut out = h.to_bytes().to_vec();
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn tunnels_give_the_inner_packet() {
        // Inner: UDP DNS 10.1.1.2 -> 10.1.1.1:53 in Ethernet, in VXLAN, in UDP/IPv4.
        let inner = udp_frame();
        let mut vx = vec![0x08, 0, 0, 0, 0, 0, 7, 0];
        vx.extend_from_slice(&inner);
        let b = PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64)
            .udp(40000, 4789);
        let mut f = Vec::new();
        b.write(&mut f, &vx).unwrap();
        let d = decode(1, &f, f.len() as u32).unwrap();
        assert_eq!(d.src, "10.0.0.2".parse::<IpAddr>().unwrap());
        assert_eq!(d.ip_len, 20 + 8 + 30);
        assert!(matches!(d.transport, Transport::Udp { dst_port: 53, .. }));

        // IP-in-IP nested: within the cap it decodes, past it it is a drop.
        let plain = &inner[14..];
        let mut p = plain.to_vec();
        for _ in 0..super::super::tunnel::MAX_DEPTH {
            p = ipv4(4, [192, 0, 2, 1], [192, 0, 2, 2], &p);
        }
        let d = decode(101, &p, p.len() as u32).unwrap();
        assert_eq!(d.dst, "8.8.8.8".parse::<IpAddr>().unwrap());
        let deeper = ipv4(4, [192, 0, 2, 1], [192, 0, 2, 2], &p);
        assert_eq!(
            decode(101, &deeper, deeper.len() as u32),
            Err(DropReason::TunnelDepth)
        );
        // GRE with a cut header.
        let gre = ipv4(47, [192, 0, 2, 1], [192, 0, 2, 2], &[0xb0, 0, 8, 0, 0]);
        assert_eq!(
            decode(101, &gre, gre.len() as u32),
            Err(DropReason::TunnelMalformed)
        );
    }

    #[test]
    fn truncation_sweep_never_panics() {
        let f = udp_frame();
        for cut in 0..f.len() {
            let r = decode(1, &f[..cut], f.len() as u32);
            if cut < 14 + 20 + 8 {
                assert!(r.is_err(), "cut {cut}");
            }
        }
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn decode_never_panics(lt in any::<u32>(), data in proptest::collection::vec(any::<u8>(), 0..300), wire in any::<u32>()) {
            let _ = decode(lt % 300, &data, wire);
        }

        /// The header read in place gives what etherparse's lax slices give, on real headers
        /// (built by etherparse) cut, padded and altered at random.
        #[test]
        fn ip_header_read_in_place_agrees_with_etherparse(
            v6 in any::<bool>(), proto in 0usize..5, a in any::<u128>(), b in any::<u128>(),
            payload in proptest::collection::vec(any::<u8>(), 0..60),
            cut in any::<usize>(), pad in 0usize..8,
            flips in proptest::collection::vec((0usize..48, any::<u8>()), 0..3),
        ) {
            let b0 = etherparse::PacketBuilder::ip(if v6 {
                etherparse::IpHeaders::Ipv6(
                    etherparse::Ipv6Header { source: a.to_be_bytes(), destination: b.to_be_bytes(), hop_limit: 64, ..Default::default() },
                    Default::default(),
                )
            } else {
                etherparse::IpHeaders::Ipv4(
                    etherparse::Ipv4Header::new(0, 64, etherparse::IpNumber::UDP, (a as u32).to_be_bytes(), (b as u32).to_be_bytes()).unwrap(),
                    Default::default(),
                )
            });
            let mut ip = Vec::new();
            let _ = match proto {
                0 => b0.tcp(1, 2, 7, 100).write(&mut ip, &payload),
                1 => b0.udp(1, 2).write(&mut ip, &payload),
                2 => b0.icmpv4_echo_request(1, 2).write(&mut ip, &payload),
                3 => b0.icmpv6_echo_request(1, 2).write(&mut ip, &payload),
                _ => b0.udp(1, 4789).write(&mut ip, &payload),
            };
            for (at, x) in flips {
                if let Some(byte) = ip.get_mut(at) {
                    *byte ^= x;
                }
            }
            ip.extend(std::iter::repeat_n(0u8, pad));
            ip.truncate(cut % (ip.len() + 1));
            if let Some(fast) = ip_header_fast(&ip) {
                prop_assert_eq!(ip_header_lax(&ip, 0), Ok(Parsed::Whole(fast)));
            }
        }
    }
}
