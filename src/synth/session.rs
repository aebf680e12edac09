//! Capture timeline and conversations: a [`Capture`] owns the clock and the writer; the
//! session functions emit whole exchanges (DNS lookup, TLS connection, …) into it.

use std::net::{IpAddr, Ipv4Addr};

use anyhow::Result;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use super::apps::{self, DnsAnswer};
use super::pcap::PcapWriter;
use super::profiles::{Dest, Device, Service, ROUTER_IP, ROUTER_MAC};
use super::util::{http_date, Rng};
use super::wire::{self, Mac, TcpSeg, ACK, FIN, PSH, SYN};

/// Linux's default ephemeral port range.
const EPHEMERAL: (u64, u64) = (32_768, 60_999);

/// One side of a conversation as seen on the LAN segment.
#[derive(Clone, Copy, Debug)]
pub struct Ep {
    /// Station MAC; for hosts beyond the router, the router's MAC.
    pub mac: Mac,
    pub ip: IpAddr,
    pub port: u16,
    /// IP TTL / hop limit of packets sent by this side, as observed.
    pub ttl: u8,
}

/// The clock and sink of one capture file.
pub struct Capture {
    pub writer: PcapWriter,
    /// Current time, µs since the Unix epoch. Every packet advances it by at least 1 µs.
    pub now: u64,
    pub rng: Rng,
    ip_id: u16,
    /// Last ephemeral port handed out (allocated sequentially, so 5-tuples do not repeat
    /// until the range wraps, hours of traffic later).
    port: u16,
}

impl Capture {
    pub fn new(writer: PcapWriter, start_us: u64, rng: Rng) -> Self {
        let mut rng = rng;
        let ip_id = rng.next_u64() as u16;
        let port = rng.range(EPHEMERAL.0, EPHEMERAL.1) as u16;
        // `now` is one tick before the start so that the first packet lands exactly on it.
        Capture {
            writer,
            now: start_us - 1,
            rng,
            ip_id,
            port,
        }
    }

    /// Advances the clock by a random delay in `lo..=hi` µs.
    pub fn wait(&mut self, lo: u64, hi: u64) {
        self.now += self.rng.range(lo, hi);
    }

    fn emit(&mut self, frame: &[u8]) -> Result<()> {
        self.now += 1;
        self.writer.write_packet(self.now, frame)
    }

    fn ip_frame(&mut self, from: &Ep, to: &Ep, proto: u8, l4: &[u8]) -> Result<()> {
        self.ip_id = self.ip_id.wrapping_add(1);
        let ip = wire::ip_packet(from.ip, to.ip, proto, from.ttl, self.ip_id, l4);
        let ethertype = if from.ip.is_ipv4() {
            wire::ETHERTYPE_IPV4
        } else {
            wire::ETHERTYPE_IPV6
        };
        self.emit(&wire::ethernet(to.mac, from.mac, ethertype, &ip))
    }

    pub fn udp(&mut self, from: &Ep, to: &Ep, payload: &[u8]) -> Result<()> {
        let l4 = wire::udp(from.ip, to.ip, from.port, to.port, payload);
        self.ip_frame(from, to, wire::PROTO_UDP, &l4)
    }

    fn tcp(&mut self, from: &Ep, to: &Ep, seg: &TcpSeg<'_>) -> Result<()> {
        let l4 = wire::tcp(from.ip, to.ip, seg);
        self.ip_frame(from, to, wire::PROTO_TCP, &l4)
    }

    fn ephemeral_port(&mut self) -> u16 {
        let next = u64::from(self.port) + self.rng.range(1, 7);
        let span = EPHEMERAL.1 - EPHEMERAL.0 + 1;
        self.port = (EPHEMERAL.0 + (next - EPHEMERAL.0) % span) as u16;
        self.port
    }
}

/// A TCP connection with consistent sequence numbers in both directions.
pub struct TcpConn {
    c: Ep,
    s: Ep,
    /// Next sequence number each side will send.
    c_seq: u32,
    s_seq: u32,
    mss: usize,
    rtt: u64,
}

impl TcpConn {
    /// Three-way handshake. MSS 1460 on IPv4 and 1440 on IPv6 (1500-byte IP packets).
    pub fn open(cap: &mut Capture, c: Ep, s: Ep, rtt: u64) -> Result<Self> {
        let mss: u16 = if c.ip.is_ipv4() { 1460 } else { 1440 };
        let c_isn = cap.rng.next_u64() as u32;
        let s_isn = cap.rng.next_u64() as u32;
        let opts = wire::syn_options(mss);
        cap.tcp(&c, &s, &seg(&c, &s, c_isn, 0, SYN, 64_240, &opts, &[]))?;
        cap.wait(rtt, rtt + rtt / 8);
        cap.tcp(
            &s,
            &c,
            &seg(
                &s,
                &c,
                s_isn,
                c_isn.wrapping_add(1),
                SYN | ACK,
                65_160,
                &opts,
                &[],
            ),
        )?;
        cap.wait(50, 400);
        cap.tcp(
            &c,
            &s,
            &seg(
                &c,
                &s,
                c_isn.wrapping_add(1),
                s_isn.wrapping_add(1),
                ACK,
                502,
                &[],
                &[],
            ),
        )?;
        Ok(TcpConn {
            c,
            s,
            c_seq: c_isn.wrapping_add(1),
            s_seq: s_isn.wrapping_add(1),
            mss: usize::from(mss),
            rtt,
        })
    }

    /// Sends `data` split at the MSS; the receiver acknowledges every second segment.
    pub fn send(&mut self, cap: &mut Capture, from_client: bool, data: &[u8]) -> Result<()> {
        let segs: Vec<&[u8]> = data.chunks(self.mss).collect();
        self.send_segments(cap, from_client, &segs, (40, 400))
    }

    /// Sends exactly the given segments (caller controls the split), `gap` µs apart.
    pub fn send_segments(
        &mut self,
        cap: &mut Capture,
        from_client: bool,
        segs: &[&[u8]],
        gap: (u64, u64),
    ) -> Result<()> {
        let (src, dst) = if from_client {
            (self.c, self.s)
        } else {
            (self.s, self.c)
        };
        let win = if from_client { 502 } else { 1040 };
        for (i, payload) in segs.iter().enumerate() {
            let last = i + 1 == segs.len();
            let (seq, ack) = self.seqs(from_client);
            let flags = if last { ACK | PSH } else { ACK };
            cap.tcp(
                &src,
                &dst,
                &seg(&src, &dst, seq, ack, flags, win, &[], payload),
            )?;
            self.advance(from_client, payload.len() as u32);
            if i % 2 == 1 || last {
                cap.wait(30, 300);
                let (rseq, rack) = self.seqs(!from_client);
                cap.tcp(
                    &dst,
                    &src,
                    &seg(&dst, &src, rseq, rack, ACK, 1040, &[], &[]),
                )?;
            }
            if !last {
                cap.wait(gap.0, gap.1);
            }
        }
        Ok(())
    }

    /// Waits about one round trip (a request/response turn).
    pub fn turn(&self, cap: &mut Capture) {
        cap.wait(self.rtt, self.rtt * 3 / 2);
    }

    /// Client-initiated FIN exchange.
    pub fn close(mut self, cap: &mut Capture) -> Result<()> {
        let (c, s) = (self.c, self.s);
        let (seq, ack) = self.seqs(true);
        cap.tcp(&c, &s, &seg(&c, &s, seq, ack, FIN | ACK, 502, &[], &[]))?;
        self.advance(true, 1);
        cap.wait(self.rtt, self.rtt + 2_000);
        let (seq, ack) = self.seqs(false);
        cap.tcp(&s, &c, &seg(&s, &c, seq, ack, FIN | ACK, 1040, &[], &[]))?;
        self.advance(false, 1);
        cap.wait(50, 400);
        let (seq, ack) = self.seqs(true);
        cap.tcp(&c, &s, &seg(&c, &s, seq, ack, ACK, 502, &[], &[]))
    }

    fn seqs(&self, from_client: bool) -> (u32, u32) {
        if from_client {
            (self.c_seq, self.s_seq)
        } else {
            (self.s_seq, self.c_seq)
        }
    }

    fn advance(&mut self, from_client: bool, n: u32) {
        let s = if from_client {
            &mut self.c_seq
        } else {
            &mut self.s_seq
        };
        *s = s.wrapping_add(n);
    }
}

#[allow(clippy::too_many_arguments)]
fn seg<'a>(
    from: &Ep,
    to: &Ep,
    seq: u32,
    ack: u32,
    flags: u8,
    window: u16,
    options: &'a [u8],
    payload: &'a [u8],
) -> TcpSeg<'a> {
    TcpSeg {
        sport: from.port,
        dport: to.port,
        seq,
        ack,
        flags,
        window,
        options,
        payload,
    }
}

// ---------------------------------------------------------------------------------------------
// Sessions

fn device_ep(dev: &Device, port: u16) -> Ep {
    Ep {
        mac: dev.mac,
        ip: IpAddr::V4(dev.ip),
        port,
        ttl: 64,
    }
}

fn router_ep(port: u16) -> Ep {
    Ep {
        mac: ROUTER_MAC,
        ip: IpAddr::V4(ROUTER_IP),
        port,
        ttl: 64,
    }
}

/// Random letter case, as resolvers using "0x20" encoding send.
fn mix_case(rng: &mut Rng, name: &str) -> String {
    name.chars()
        .map(|c| {
            if rng.chance(0.5) {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect()
}

/// Resolves `dest` (A, plus AAAA on IPv6-capable devices) over UDP, or over TCP when
/// `via_tcp`; returns the address to connect to (sometimes an IPv6 one).
pub fn resolve(cap: &mut Capture, dev: &Device, dest: &Dest, via_tcp: bool) -> Result<IpAddr> {
    let qname = if dev.dns_0x20 {
        mix_case(&mut cap.rng, dest.name)
    } else {
        dest.name.to_string()
    };
    let cnames: Vec<String> = dest.cnames.iter().map(|s| s.to_string()).collect();
    let a4 = dest.addrs4();
    let a6 = dest.addrs6();
    let cname_ttl = dest.ttl.max(300) + cap.rng.range(0, 60) as u32;
    let addr_ttl = dest
        .ttl
        .saturating_sub(cap.rng.range(0, u64::from(dest.ttl / 2)) as u32)
        .max(1);
    let answer = |qtype, addrs| DnsAnswer {
        qname: &qname,
        qtype,
        rcode: ResponseCode::NoError,
        cnames: &cnames,
        cname_ttl,
        addrs,
        addr_ttl,
    };
    let mut questions = vec![answer(RecordType::A, &a4[..])];
    if dev.ip6.is_some() || via_tcp {
        questions.push(answer(RecordType::AAAA, &a6[..]));
    }
    if via_tcp {
        dns_tcp(cap, dev, &questions)?;
    } else {
        for q in &questions {
            dns_udp(cap, dev, q)?;
        }
    }
    if let (Some(_), false) = (dev.ip6, a6.is_empty()) {
        if cap.rng.chance(0.35) {
            return Ok(*cap.rng.pick(&a6));
        }
    }
    Ok(*cap.rng.pick(&a4))
}

/// One UDP query/response pair with the router's resolver.
pub fn dns_udp(cap: &mut Capture, dev: &Device, a: &DnsAnswer<'_>) -> Result<()> {
    let id = cap.rng.next_u64() as u16;
    let (c, s) = (device_ep(dev, cap.ephemeral_port()), router_ep(53));
    cap.udp(&c, &s, &apps::dns_query(id, a.qname, a.qtype)?)?;
    // Cache hit at the router (sub-ms) or a recursive lookup upstream (tens of ms).
    if cap.rng.chance(0.4) {
        cap.wait(300, 900)
    } else {
        cap.wait(8_000, 60_000)
    }
    cap.udp(&s, &c, &apps::dns_response(id, a)?)?;
    cap.wait(200, 2_000);
    Ok(())
}

/// DNS over TCP: all queries pipelined in one segment (several messages per segment); the
/// first response is split across two segments, the others follow one per segment.
pub fn dns_tcp(cap: &mut Capture, dev: &Device, questions: &[DnsAnswer<'_>]) -> Result<()> {
    let (c, s) = (device_ep(dev, cap.ephemeral_port()), router_ep(53));
    let mut conn = TcpConn::open(cap, c, s, 600)?;
    let ids: Vec<u16> = questions
        .iter()
        .map(|_| cap.rng.next_u64() as u16)
        .collect();
    let mut queries = Vec::new();
    for (q, id) in questions.iter().zip(&ids) {
        queries.extend_from_slice(&apps::tcp_framed(&apps::dns_query(*id, q.qname, q.qtype)?));
    }
    conn.send(cap, true, &queries)?;
    cap.wait(5_000, 40_000);
    for (i, (q, id)) in questions.iter().zip(&ids).enumerate() {
        let framed = apps::tcp_framed(&apps::dns_response(*id, q)?);
        if i == 0 {
            let cut = framed.len() / 2;
            conn.send_segments(cap, false, &[&framed[..cut], &framed[cut..]], (100, 2_000))?;
        } else {
            conn.send(cap, false, &framed)?;
        }
        cap.wait(100, 1_000);
    }
    conn.close(cap)
}

/// A lookup that fails with NXDOMAIN (no answer records).
pub fn nxdomain(cap: &mut Capture, dev: &Device) -> Result<()> {
    let qname = *cap.rng.pick(dev.nxdomain);
    let a = DnsAnswer {
        qname,
        qtype: RecordType::A,
        rcode: ResponseCode::NXDomain,
        cnames: &[],
        cname_ttl: 0,
        addrs: &[],
        addr_ttl: 0,
    };
    dns_udp(cap, dev, &a)
}

fn remote_ep(dev: &Device, dest: &Dest, ip: IpAddr, port: u16) -> (Ep, Ep) {
    let local_ip = match ip {
        IpAddr::V4(_) => IpAddr::V4(dev.ip),
        IpAddr::V6(_) => IpAddr::V6(
            dev.ip6
                .expect("IPv6 targets are only chosen for IPv6 devices"),
        ),
    };
    let c = Ep {
        mac: dev.mac,
        ip: local_ip,
        port: 0,
        ttl: 64,
    };
    (
        c,
        Ep {
            mac: ROUTER_MAC,
            ip,
            port,
            ttl: dest.remote_ttl(),
        },
    )
}

/// Resolve `dest` and run its service once.
pub fn session(cap: &mut Capture, dev: &Device, dest: &Dest, dns_via_tcp: bool) -> Result<()> {
    let ip = resolve(cap, dev, dest, dns_via_tcp)?;
    let rtt = dest.rtt_us();
    let (mut c, s) = match dest.service {
        Service::Tls { port, .. } => remote_ep(dev, dest, ip, port),
        Service::Upload { .. } => remote_ep(dev, dest, ip, 443),
        Service::Http { .. } => remote_ep(dev, dest, ip, 80),
        Service::Ntp => remote_ep(dev, dest, ip, 123),
    };
    c.port = if matches!(dest.service, Service::Ntp) && cap.rng.chance(0.5) {
        123
    } else {
        cap.ephemeral_port()
    };
    match dest.service {
        Service::Tls {
            alpn,
            tls13,
            up,
            down,
            ..
        } => {
            let mut conn = tls_handshake(cap, c, s, rtt, dest.name, alpn, tls13)?;
            let rounds = cap.rng.range(1, 2) as u32;
            for _ in 0..rounds {
                let n_up = jitter(&mut cap.rng, up / rounds);
                let req = apps::app_data(&mut cap.rng, n_up);
                conn.send(cap, true, &req)?;
                conn.turn(cap);
                let n_down = jitter(&mut cap.rng, down / rounds);
                let resp = apps::app_data(&mut cap.rng, n_down);
                conn.send(cap, false, &resp)?;
                cap.wait(1_000, 30_000);
            }
            conn.close(cap)
        }
        Service::Upload { segments } => {
            let mut conn = tls_handshake(cap, c, s, rtt, dest.name, &["http/1.1"], true)?;
            // One large TLS stream cut at the MSS: every data segment is a 1500-byte packet.
            let video = apps::app_data(&mut cap.rng, segments as usize * 1460);
            let segs: Vec<&[u8]> = video.chunks(1460).collect();
            conn.send_segments(cap, true, &segs, (800, 3_000))?;
            conn.turn(cap);
            let ok = apps::app_data(&mut cap.rng, 320);
            conn.send(cap, false, &ok)?;
            conn.close(cap)
        }
        Service::Http {
            path,
            status,
            reason,
            body,
        } => {
            let mut conn = TcpConn::open(cap, c, s, rtt)?;
            conn.send(cap, true, &apps::http_get(dest.name, path, dev.user_agent))?;
            conn.turn(cap);
            let body: Vec<u8> = (0..body)
                .map(|i| b"{\"fw\":\"1.5.7\",\"url\":\"\"}"[i as usize % 23])
                .collect();
            conn.send(
                cap,
                false,
                &apps::http_response(status, reason, &http_date(cap.now), &body),
            )?;
            conn.close(cap)
        }
        Service::Ntp => {
            let req = apps::ntp_request(cap.now + 1);
            cap.udp(&c, &s, &req)?;
            cap.wait(rtt, rtt + rtt / 4);
            let ref_id = Ipv4Addr::new(17, 253, 4, 125);
            let reply = apps::ntp_reply(&req, cap.now - rtt / 2, cap.now - rtt / 2 + 30, ref_id);
            cap.udp(&s, &c, &reply)
        }
    }
}

fn jitter(rng: &mut Rng, n: u32) -> usize {
    let n = u64::from(n.max(40));
    rng.range(n * 3 / 4, n * 5 / 4) as usize
}

/// TCP handshake, ClientHello (split across segments when larger than the MSS), server
/// flight and the client's finishing flight.
#[allow(clippy::too_many_arguments)]
fn tls_handshake(
    cap: &mut Capture,
    c: Ep,
    s: Ep,
    rtt: u64,
    sni: &str,
    alpn: &[&str],
    tls13: bool,
) -> Result<TcpConn> {
    let mut conn = TcpConn::open(cap, c, s, rtt)?;
    cap.wait(100, 2_000);
    let hello = apps::client_hello(&mut cap.rng, sni, alpn, tls13);
    conn.send(cap, true, &hello)?;
    conn.turn(cap);
    let flight = apps::server_flight(&mut cap.rng, tls13, apps::hello_session_id(&hello), sni);
    conn.send(cap, false, &flight)?;
    cap.wait(500, 5_000);
    let fin = apps::client_finish(&mut cap.rng, tls13);
    conn.send(cap, true, &fin)?;
    if !tls13 {
        conn.turn(cap);
        let sfin = apps::server_finish12(&mut cap.rng);
        conn.send(cap, false, &sfin)?;
    }
    cap.wait(200, 3_000);
    Ok(conn)
}

// ---------------------------------------------------------------------------------------------
// LAN noise

/// DHCP DISCOVER/OFFER/REQUEST/ACK, then the device ARPs for the gateway.
pub fn dhcp_exchange(cap: &mut Capture, dev: &Device) -> Result<()> {
    let xid = cap.rng.next_u64() as u32;
    let unspec = Ep {
        mac: dev.mac,
        ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        port: 68,
        ttl: 64,
    };
    let bcast = Ep {
        mac: [0xff; 6],
        ip: IpAddr::V4(Ipv4Addr::BROADCAST),
        port: 67,
        ttl: 64,
    };
    let server = router_ep(67);
    let to_bcast = Ep {
        mac: [0xff; 6],
        ip: IpAddr::V4(Ipv4Addr::BROADCAST),
        port: 68,
        ttl: 64,
    };
    for (ty, from, to) in [
        (1u8, &unspec, &bcast),
        (2, &server, &to_bcast),
        (3, &unspec, &bcast),
        (5, &server, &to_bcast),
    ] {
        cap.udp(
            from,
            to,
            &apps::dhcp(ty, xid, dev.mac, dev.ip, ROUTER_IP, dev.hostname),
        )?;
        cap.wait(1_000, 40_000);
    }
    arp_gateway(cap, dev)
}

/// ARP who-has for the gateway and the router's reply.
pub fn arp_gateway(cap: &mut Capture, dev: &Device) -> Result<()> {
    let req = wire::arp(1, dev.mac, dev.ip, [0; 6], ROUTER_IP);
    cap.emit(&wire::ethernet(
        [0xff; 6],
        dev.mac,
        wire::ETHERTYPE_ARP,
        &req,
    ))?;
    cap.wait(200, 3_000);
    let rep = wire::arp(2, ROUTER_MAC, ROUTER_IP, dev.mac, dev.ip);
    cap.emit(&wire::ethernet(
        dev.mac,
        ROUTER_MAC,
        wire::ETHERTYPE_ARP,
        &rep,
    ))?;
    cap.wait(1_000, 50_000);
    Ok(())
}

/// mDNS announcement to 224.0.0.251:5353 (must not be taken for DNS by the extractor).
pub fn mdns(cap: &mut Capture, dev: &Device) -> Result<()> {
    let host = format!("{}.local", dev.hostname);
    let msg = apps::mdns_announcement(dev.mdns_service, dev.hostname, &host, dev.ip)?;
    let from = Ep {
        mac: dev.mac,
        ip: IpAddr::V4(dev.ip),
        port: 5353,
        ttl: 255,
    };
    let to = Ep {
        mac: [0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb],
        ip: IpAddr::V4(Ipv4Addr::new(224, 0, 0, 251)),
        port: 5353,
        ttl: 255,
    };
    cap.udp(&from, &to, &msg)?;
    cap.wait(1_000, 20_000);
    Ok(())
}
