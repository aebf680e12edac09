//! Application-layer payloads: DNS (via hickory-proto), TLS handshakes (hand-built), HTTP,
//! NTP, DHCP and mDNS.

use std::net::{IpAddr, Ipv4Addr};

use anyhow::{Context, Result};
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, PTR};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::util::Rng;
use super::wire::Mac;

fn name(s: &str) -> Result<Name> {
    let fqdn = if s.ends_with('.') {
        s.to_string()
    } else {
        format!("{s}.")
    };
    Name::from_ascii(&fqdn).with_context(|| format!("invalid DNS name {s:?}"))
}

/// A DNS query for `qname`/`qtype` with RD set.
pub fn dns_query(id: u16, qname: &str, qtype: RecordType) -> Result<Vec<u8>> {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(name(qname)?, qtype));
    m.to_vec()
        .with_context(|| format!("encoding DNS query for {qname}"))
}

/// What a DNS response says about one question.
pub struct DnsAnswer<'a> {
    pub qname: &'a str,
    pub qtype: RecordType,
    pub rcode: ResponseCode,
    /// CNAME chain followed from `qname`, in order (each entry is the next target).
    pub cnames: &'a [String],
    pub cname_ttl: u32,
    /// Addresses of the last name in the chain; only those matching `qtype` are emitted.
    pub addrs: &'a [IpAddr],
    pub addr_ttl: u32,
}

/// A recursive resolver's response: question echoed, then CNAME records, then A/AAAA.
/// NXDOMAIN responses carry no records at all.
pub fn dns_response(id: u16, a: &DnsAnswer<'_>) -> Result<Vec<u8>> {
    let mut m = Message::new(id, MessageType::Response, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.metadata.recursion_available = true;
    m.metadata.response_code = a.rcode;
    m.add_query(Query::query(name(a.qname)?, a.qtype));
    if a.rcode == ResponseCode::NoError {
        let mut owner = name(a.qname)?;
        for target in a.cnames {
            let t = name(target)?;
            m.add_answer(Record::from_rdata(
                owner,
                a.cname_ttl,
                RData::CNAME(CNAME(t.clone())),
            ));
            owner = t;
        }
        for ip in a.addrs {
            let rdata = match (ip, a.qtype) {
                (IpAddr::V4(v4), RecordType::A) => RData::A(A(*v4)),
                (IpAddr::V6(v6), RecordType::AAAA) => RData::AAAA(AAAA(*v6)),
                _ => continue,
            };
            m.add_answer(Record::from_rdata(owner.clone(), a.addr_ttl, rdata));
        }
    }
    m.to_vec()
        .with_context(|| format!("encoding DNS response for {}", a.qname))
}

/// Unsolicited mDNS announcement (service PTR + host A record), as IoT devices multicast on
/// the LAN. It looks like a DNS answer on purpose: extractors must ignore port 5353.
pub fn mdns_announcement(
    service: &str,
    instance: &str,
    host: &str,
    ip: Ipv4Addr,
) -> Result<Vec<u8>> {
    let mut m = Message::new(0, MessageType::Response, OpCode::Query);
    m.metadata.authoritative = true;
    let inst = name(&format!("{instance}.{service}"))?;
    m.add_answer(Record::from_rdata(
        name(service)?,
        4500,
        RData::PTR(PTR(inst)),
    ));
    m.add_answer(Record::from_rdata(name(host)?, 120, RData::A(A(ip))));
    m.to_vec().context("encoding mDNS announcement")
}

/// 2-byte length prefix of DNS over TCP (RFC 1035 §4.2.2).
pub fn tcp_framed(msg: &[u8]) -> Vec<u8> {
    let len = u16::try_from(msg.len()).expect("synthetic DNS messages are small");
    let mut v = len.to_be_bytes().to_vec();
    v.extend_from_slice(msg);
    v
}

// ---------------------------------------------------------------------------------------------
// TLS

fn u16_len(v: &mut Vec<u8>, body: &[u8]) {
    v.extend_from_slice(&(body.len() as u16).to_be_bytes());
    v.extend_from_slice(body);
}

fn u24_len(v: &mut Vec<u8>, body: &[u8]) {
    v.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    v.extend_from_slice(body);
}

fn extension(v: &mut Vec<u8>, ty: u16, body: &[u8]) {
    v.extend_from_slice(&ty.to_be_bytes());
    u16_len(v, body);
}

/// One TLS record of `content_type` (0x14 CCS, 0x16 handshake, 0x17 application data).
pub fn tls_record(content_type: u8, version: u16, body: &[u8]) -> Vec<u8> {
    let mut r = vec![content_type];
    r.extend_from_slice(&version.to_be_bytes());
    u16_len(&mut r, body);
    r
}

fn handshake(ty: u8, body: &[u8]) -> Vec<u8> {
    let mut h = vec![ty];
    u24_len(&mut h, body);
    h
}

/// X25519MLKEM768 hybrid group (draft-kwiatkowski-tls-ecdhe-mlkem).
pub const GROUP_X25519MLKEM768: u16 = 0x11ec;
const GROUP_X25519: u16 = 0x001d;

/// A ClientHello record carrying SNI and ALPN.
///
/// With `tls13` it offers TLS 1.3 (supported_versions) and sends an X25519MLKEM768 key share
/// (1216 bytes) plus X25519, so the record is ~1.7 KB and needs two TCP segments; otherwise it
/// is a compact TLS 1.2-only hello, as many older IoT stacks send.
pub fn client_hello(rng: &mut Rng, sni: &str, alpn: &[&str], tls13: bool) -> Vec<u8> {
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&rng.bytes(32));
    body.push(32);
    body.extend_from_slice(&rng.bytes(32));
    let suites: &[u16] = if tls13 {
        &[
            0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014,
        ]
    } else {
        &[
            0xc02b, 0xc02f, 0xc02c, 0xc030, 0xc013, 0xc014, 0x009c, 0x002f, 0x00ff,
        ]
    };
    let s: Vec<u8> = suites.iter().flat_map(|c| c.to_be_bytes()).collect();
    u16_len(&mut body, &s);
    body.extend_from_slice(&[1, 0]); // compression: null

    let mut ext = Vec::new();
    let mut sn = vec![0];
    u16_len(&mut sn, sni.as_bytes());
    let mut sn_list = Vec::new();
    u16_len(&mut sn_list, &sn);
    extension(&mut ext, 0x0000, &sn_list);
    extension(&mut ext, 0x0017, &[]); // extended_master_secret
    extension(&mut ext, 0xff01, &[0]); // renegotiation_info
    let groups: &[u16] = if tls13 {
        &[GROUP_X25519MLKEM768, GROUP_X25519, 0x0017, 0x0018]
    } else {
        &[0x001d, 0x0017, 0x0018]
    };
    let g: Vec<u8> = groups.iter().flat_map(|c| c.to_be_bytes()).collect();
    let mut gl = Vec::new();
    u16_len(&mut gl, &g);
    extension(&mut ext, 0x000a, &gl);
    extension(&mut ext, 0x000b, &[1, 0]); // ec_point_formats: uncompressed
    let sigs: Vec<u8> = [
        0x0403u16, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
    ]
    .iter()
    .flat_map(|c| c.to_be_bytes())
    .collect();
    let mut sl = Vec::new();
    u16_len(&mut sl, &sigs);
    extension(&mut ext, 0x000d, &sl);
    if !alpn.is_empty() {
        let mut protos = Vec::new();
        for p in alpn {
            protos.push(p.len() as u8);
            protos.extend_from_slice(p.as_bytes());
        }
        let mut al = Vec::new();
        u16_len(&mut al, &protos);
        extension(&mut ext, 0x0010, &al);
    }
    if tls13 {
        extension(&mut ext, 0x002b, &[4, 0x03, 0x04, 0x03, 0x03]); // supported_versions
        extension(&mut ext, 0x002d, &[1, 1]); // psk_key_exchange_modes: psk_dhe_ke
        let mut shares = Vec::new();
        shares.extend_from_slice(&GROUP_X25519MLKEM768.to_be_bytes());
        u16_len(&mut shares, &rng.bytes(1216));
        shares.extend_from_slice(&GROUP_X25519.to_be_bytes());
        u16_len(&mut shares, &rng.bytes(32));
        let mut ks = Vec::new();
        u16_len(&mut ks, &shares);
        extension(&mut ext, 0x0033, &ks);
    }
    u16_len(&mut body, &ext);
    tls_record(0x16, 0x0301, &handshake(1, &body))
}

/// Session id of a ClientHello built by [`client_hello`] (TLS 1.3 servers echo it).
pub fn hello_session_id(hello: &[u8]) -> &[u8] {
    &hello[44..76]
}

fn der(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    match body.len() {
        n if n < 0x80 => v.push(n as u8),
        n if n < 0x100 => v.extend_from_slice(&[0x81, n as u8]),
        n => v.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]),
    }
    v.extend_from_slice(body);
    v
}

fn der_seq(parts: &[Vec<u8>]) -> Vec<u8> {
    der(0x30, &parts.concat())
}

/// X.501 Name with a single CN.
fn der_name(cn: &str) -> Vec<u8> {
    let atv = der_seq(&[der(0x06, &[0x55, 0x04, 0x03]), der(0x0c, cn.as_bytes())]);
    der_seq(&[der(0x31, &atv)])
}

/// A structurally valid DER X.509 v3 certificate (EC P-256 key, RSA signature) whose key and
/// signature bytes are random: it parses, it does not verify.
fn certificate(rng: &mut Rng, subject: &str, issuer: &str) -> Vec<u8> {
    let sig_alg = der_seq(&[
        der(0x06, &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 1, 1, 0x0b]),
        vec![0x05, 0],
    ]);
    let mut serial = rng.bytes(16);
    serial[0] &= 0x7f;
    let mut key = vec![0, 4];
    key.extend_from_slice(&rng.bytes(64));
    let spki = der_seq(&[
        der_seq(&[
            der(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 2, 1]),
            der(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 3, 1, 7]),
        ]),
        der(0x03, &key),
    ]);
    let tbs = der_seq(&[
        der(0xa0, &der(0x02, &[2])),
        der(0x02, &serial),
        sig_alg.clone(),
        der_name(issuer),
        der_seq(&[der(0x17, b"240901000000Z"), der(0x17, b"251201235959Z")]),
        der_name(subject),
        spki,
    ]);
    let mut sig = vec![0];
    sig.extend_from_slice(&rng.bytes(256));
    der_seq(&[tbs, sig_alg, der(0x03, &sig)])
}

/// Server's first flight. TLS 1.3: ServerHello (echoing the client's session id) + CCS +
/// encrypted handshake (as application data). TLS 1.2: ServerHello, Certificate (leaf for
/// `sni` + intermediate), ServerKeyExchange, ServerHelloDone in clear.
pub fn server_flight(rng: &mut Rng, tls13: bool, client_session_id: &[u8], sni: &str) -> Vec<u8> {
    let mut sh = vec![0x03, 0x03];
    sh.extend_from_slice(&rng.bytes(32));
    sh.push(32);
    if tls13 {
        sh.extend_from_slice(client_session_id);
    } else {
        sh.extend_from_slice(&rng.bytes(32));
    }
    sh.extend_from_slice(&if tls13 { 0x1301u16 } else { 0xc02fu16 }.to_be_bytes());
    sh.push(0);
    let mut ext = Vec::new();
    if tls13 {
        extension(&mut ext, 0x002b, &[0x03, 0x04]);
        // Servers pick the hybrid group about half the time, plain X25519 otherwise.
        let (group, share_len) = if rng.chance(0.5) {
            (GROUP_X25519MLKEM768, 1120)
        } else {
            (GROUP_X25519, 32)
        };
        let mut ks = group.to_be_bytes().to_vec();
        u16_len(&mut ks, &rng.bytes(share_len));
        extension(&mut ext, 0x0033, &ks);
    } else {
        extension(&mut ext, 0xff01, &[0]);
        extension(&mut ext, 0x0017, &[]);
    }
    u16_len(&mut sh, &ext);
    let mut out = tls_record(0x16, 0x0303, &handshake(2, &sh));
    if tls13 {
        out.extend_from_slice(&tls_record(0x14, 0x0303, &[1]));
        let n = rng.range(1800, 3000) as usize;
        out.extend_from_slice(&tls_record(0x17, 0x0303, &rng.bytes(n)));
    } else {
        let mut list = Vec::new();
        let ca = "Synthetic RSA 2048 M02";
        u24_len(&mut list, &certificate(rng, sni, ca));
        u24_len(&mut list, &certificate(rng, ca, "Synthetic Root CA 1"));
        let mut certs = Vec::new();
        u24_len(&mut certs, &list);
        let mut ske = vec![3];
        ske.extend_from_slice(&GROUP_X25519.to_be_bytes());
        ske.push(32);
        ske.extend_from_slice(&rng.bytes(32));
        ske.extend_from_slice(&0x0804u16.to_be_bytes());
        u16_len(&mut ske, &rng.bytes(256));
        let mut hs = handshake(11, &certs);
        hs.extend_from_slice(&handshake(12, &ske));
        hs.extend_from_slice(&handshake(14, &[]));
        out.extend_from_slice(&tls_record(0x16, 0x0303, &hs));
    }
    out
}

/// Client's second flight: TLS 1.3 CCS + Finished; TLS 1.2 ClientKeyExchange + CCS + Finished.
pub fn client_finish(rng: &mut Rng, tls13: bool) -> Vec<u8> {
    let mut out = Vec::new();
    if !tls13 {
        let mut cke = vec![32];
        cke.extend_from_slice(&rng.bytes(32));
        out.extend_from_slice(&tls_record(0x16, 0x0303, &handshake(16, &cke)));
    }
    out.extend_from_slice(&tls_record(0x14, 0x0303, &[1]));
    let fin = if tls13 { rng.bytes(53) } else { rng.bytes(40) };
    out.extend_from_slice(&tls_record(if tls13 { 0x17 } else { 0x16 }, 0x0303, &fin));
    out
}

/// TLS 1.2 server CCS + encrypted Finished.
pub fn server_finish12(rng: &mut Rng) -> Vec<u8> {
    let mut out = tls_record(0x14, 0x0303, &[1]);
    out.extend_from_slice(&tls_record(0x16, 0x0303, &rng.bytes(40)));
    out
}

/// `total` bytes of opaque application data as records of at most 16 KiB of payload.
pub fn app_data(rng: &mut Rng, total: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(total + total / 16_000 * 5 + 5);
    let mut left = total.max(1);
    while left > 0 {
        let n = left.min(16_384);
        out.extend_from_slice(&tls_record(0x17, 0x0303, &rng.bytes(n)));
        left -= n;
    }
    out
}

// ---------------------------------------------------------------------------------------------
// HTTP, NTP, DHCP

pub fn http_get(host: &str, path: &str, user_agent: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {user_agent}\r\nAccept: */*\r\n\
         Connection: close\r\n\r\n"
    )
    .into_bytes()
}

pub fn http_response(status: u16, reason: &str, date: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 {status} {reason}\r\nDate: {date}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

const NTP_EPOCH_OFFSET: u64 = 2_208_988_800;

fn ntp_ts(ts_us: u64) -> [u8; 8] {
    let secs = ts_us / 1_000_000 + NTP_EPOCH_OFFSET;
    let frac = ((ts_us % 1_000_000) << 32) / 1_000_000;
    (((secs & 0xffff_ffff) << 32) | frac).to_be_bytes()
}

/// NTPv4 client request (mode 3) sent at `ts_us`.
pub fn ntp_request(ts_us: u64) -> Vec<u8> {
    let mut p = vec![0x23, 0, 6, 0xec];
    p.resize(40, 0);
    p.extend_from_slice(&ntp_ts(ts_us));
    p
}

/// NTPv4 server reply (mode 4, stratum 2) to `request`, received at `rx_us`, sent at `tx_us`.
pub fn ntp_reply(request: &[u8], rx_us: u64, tx_us: u64, ref_id: Ipv4Addr) -> Vec<u8> {
    let mut p = vec![0x24, 2, 6, 0xe9];
    p.extend_from_slice(&[0, 0, 0x02, 0x1c]); // root delay
    p.extend_from_slice(&[0, 0, 0x03, 0x9a]); // root dispersion
    p.extend_from_slice(&ref_id.octets());
    p.extend_from_slice(&ntp_ts(rx_us.saturating_sub(40_000_000)));
    p.extend_from_slice(&request[40..48]); // origin = client's transmit timestamp
    p.extend_from_slice(&ntp_ts(rx_us));
    p.extend_from_slice(&ntp_ts(tx_us));
    p
}

/// One BOOTP/DHCP message (RFC 2131). `msg_type`: 1 discover, 2 offer, 3 request, 5 ack.
pub fn dhcp(
    msg_type: u8,
    xid: u32,
    mac: Mac,
    yiaddr: Ipv4Addr,
    server: Ipv4Addr,
    hostname: &str,
) -> Vec<u8> {
    let reply = matches!(msg_type, 2 | 5);
    let mut p = vec![if reply { 2 } else { 1 }, 1, 6, 0];
    p.extend_from_slice(&xid.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0x80, 0]); // secs, flags: broadcast
    p.extend_from_slice(&[0; 4]); // ciaddr
    p.extend_from_slice(&if reply { yiaddr.octets() } else { [0; 4] });
    p.extend_from_slice(&if reply { server.octets() } else { [0; 4] }); // siaddr
    p.extend_from_slice(&[0; 4]); // giaddr
    p.extend_from_slice(&mac);
    p.resize(236, 0); // chaddr padding, sname, file
    p.extend_from_slice(&[99, 130, 83, 99]);
    p.extend_from_slice(&[53, 1, msg_type]);
    if reply {
        p.extend_from_slice(&[54, 4]);
        p.extend_from_slice(&server.octets());
        p.extend_from_slice(&[51, 4, 0, 0, 0x54, 0x60, 1, 4, 255, 255, 255, 0, 3, 4]);
        p.extend_from_slice(&server.octets());
        p.extend_from_slice(&[6, 4]);
        p.extend_from_slice(&server.octets());
    } else {
        p.extend_from_slice(&[61, 7, 1]);
        p.extend_from_slice(&mac);
        if msg_type == 3 {
            p.extend_from_slice(&[50, 4]);
            p.extend_from_slice(&yiaddr.octets());
            p.extend_from_slice(&[54, 4]);
            p.extend_from_slice(&server.octets());
        }
        p.extend_from_slice(&[12, hostname.len() as u8]);
        p.extend_from_slice(hostname.as_bytes());
        p.extend_from_slice(&[55, 6, 1, 3, 6, 15, 42, 119]);
    }
    p.push(255);
    p.resize(p.len().max(300), 0);
    p
}
