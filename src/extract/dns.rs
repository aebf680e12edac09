//! DNS responses: the common message is read in place by the walker (`dns_walk`); the rest is
//! parsed by hickory-proto, whose records this file maps to rows.
//!
//! One answer per answer-section record; HTTPS/SVCB records give one answer per address hint
//! (or their target name when they carry none); records of other types keep their presentation
//! form. The response code is read from the header. Queries (QR = 0) are not rows.

use std::borrow::Cow;
use std::sync::Arc;

use hickory_proto::op::Message;
use hickory_proto::rr::rdata::svcb::SvcParamValue;
use hickory_proto::rr::{Name, RData, RecordType};

use super::records::{Rcode, RrType};
use super::text::{escape_text, normalize_labels};

/// Largest DNS message accepted (TCP's 2-byte length prefix allows 65535).
pub const MAX_DNS_MESSAGE: usize = 65_535;
/// Most answer rows taken from one message.
pub(super) const MAX_ANSWERS: usize = 512;

/// One answer of a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// `answer`, `authority` or `additional`.
    pub section: &'static str,
    /// Shared with the question and the other records of the same owner name.
    pub rr_name: Arc<str>,
    pub rr_type: RrType,
    pub ttl: u32,
    pub value: String,
}

/// A parsed response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub txid: u16,
    pub query: Option<Arc<str>>,
    pub qtype: Option<RrType>,
    pub rcode: Rcode,
    pub answers: Vec<Answer>,
}

/// The message could not be parsed. When its header and first question still could, they are
/// kept (as a response without answers) so the query is not lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    pub header: Option<Response>,
}

/// True when the bytes start like a DNS response (header present, QR bit set).
pub fn is_response(msg: &[u8]) -> bool {
    msg.len() >= 12 && msg[2] & 0x80 != 0
}

/// Parses a DNS response; `Ok(None)` for a query.
pub fn parse_response(msg: &[u8]) -> Result<Option<Response>, Malformed> {
    if msg.len() < 12 || msg.len() > MAX_DNS_MESSAGE {
        return Err(Malformed { header: None });
    }
    if !is_response(msg) {
        return Ok(None);
    }
    if let Some(r) = super::dns_walk::walk(msg) {
        return Ok(Some(r));
    }
    with_hickory(msg).map(Some).ok_or_else(|| Malformed {
        header: salvage(msg),
    })
}

/// The response as hickory-proto parses it (`None` when it does not): the walker's oracle, and
/// the path before it (for benchmarks).
pub fn with_hickory(msg: &[u8]) -> Option<Response> {
    Message::from_vec(msg).ok().map(|m| response_of(&m, msg))
}

/// Rows of a parsed message.
fn response_of(m: &Message, msg: &[u8]) -> Response {
    let rcode = Rcode(msg[3] & 0x0f);
    let (query, qtype) = match m.queries.first() {
        Some(q) => (
            Some(Arc::from(name_text(&q.name))),
            Some(RrType(u16::from(q.query_type))),
        ),
        None => (None, None),
    };
    let mut answers = Vec::new();
    // Every answer-section record; from the other sections only addresses (glue), which are
    // what resolvers and tshark's dns.a/dns.aaaa also report.
    let glue = |rr: &&hickory_proto::rr::Record| matches!(rr.data, RData::A(_) | RData::AAAA(_));
    let records = m
        .answers
        .iter()
        .map(|r| ("answer", r))
        .chain(m.authorities.iter().filter(glue).map(|r| ("authority", r)))
        .chain(m.additionals.iter().filter(glue).map(|r| ("additional", r)));
    for (section, rr) in records.take(MAX_ANSWERS) {
        let rr_name: Arc<str> = Arc::from(name_text(&rr.name));
        let rr_type = RrType(u16::from(rr.record_type()));
        let mut push = |value: String| {
            answers.push(Answer {
                section,
                rr_name: rr_name.clone(),
                rr_type,
                ttl: rr.ttl,
                value,
            })
        };
        match &rr.data {
            RData::A(a) => push(a.0.to_string()),
            RData::AAAA(a) => push(a.0.to_string()),
            RData::CNAME(n) => push(name_text(&n.0)),
            RData::PTR(n) => push(name_text(&n.0)),
            RData::NS(n) => push(name_text(&n.0)),
            RData::HTTPS(h) => svcb_answers(&h.0, &rr_name, &mut push),
            RData::SVCB(s) => svcb_answers(s, &rr_name, &mut push),
            other => push(escape_text(other.to_string().as_bytes())),
        }
    }
    Response {
        txid: m.metadata.id,
        query,
        qtype,
        rcode,
        answers,
    }
}

/// Most records looked at when salvaging a malformed message.
const MAX_SALVAGE_RECORDS: usize = 1024;

/// What a message that does not parse as a whole still says: its question and the records
/// before the first one that does not parse (as tshark shows them). The records' extents are
/// walked here (names, fixed fields, RDLENGTH, never past the message); then the longest prefix
/// of whole records that hickory-proto accepts, with the header's counts cut to match, is
/// found by bisection (a record that fails makes every longer prefix fail).
fn salvage(msg: &[u8]) -> Option<Response> {
    let mut header = header_only(msg)?;
    let count = |at: usize| u16::from_be_bytes([msg[at], msg[at + 1]]) as usize;
    let (qd, an, ns, ar) = (count(4), count(6), count(8), count(10));
    let mut at = 12;
    for _ in 0..qd.min(4) {
        let (_, after) = read_name(msg, at)?;
        at = after + 4;
        if at > msg.len() {
            return Some(header);
        }
    }
    if qd > 4 {
        return Some(header);
    }
    let questions_end = at;
    // End offset of each whole record, in order.
    let mut ends = Vec::new();
    for _ in 0..(an + ns + ar).min(MAX_SALVAGE_RECORDS) {
        let Some((_, after)) = read_name(msg, at) else {
            break;
        };
        let Some(rdlen) = msg.get(after + 8..after + 10) else {
            break;
        };
        let end = after + 10 + usize::from(u16::from_be_bytes([rdlen[0], rdlen[1]]));
        if end > msg.len() {
            break;
        }
        ends.push(end);
        at = end;
    }
    let attempt = |k: usize| -> Option<Message> {
        let end = if k == 0 { questions_end } else { ends[k - 1] };
        let mut cut = msg[..end].to_vec();
        let a = an.min(k);
        let n = ns.min(k - a);
        let r = ar.min(k - a - n);
        for (i, v) in [(6, a), (8, n), (10, r)] {
            cut[i..i + 2].copy_from_slice(&(v as u16).to_be_bytes());
        }
        Message::from_vec(&cut).ok()
    };
    // Bisection for the largest k whose prefix parses (k = 0 is the question alone).
    let (mut lo, mut hi) = (0usize, ends.len());
    let mut best = attempt(0);
    if best.is_none() {
        return Some(header);
    }
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        match attempt(mid) {
            Some(m) => {
                best = Some(m);
                lo = mid;
            }
            None => hi = mid - 1,
        }
    }
    if let Some(m) = best {
        if lo > 0 || header.query.is_none() {
            header = response_of(&m, msg);
        }
    }
    Some(header)
}

fn svcb_answers(s: &hickory_proto::rr::rdata::SVCB, owner: &str, push: &mut impl FnMut(String)) {
    let mut any = false;
    for (_, v) in &s.svc_params {
        match v {
            SvcParamValue::Ipv4Hint(h) => {
                for a in &h.0 {
                    push(a.0.to_string());
                    any = true;
                }
            }
            SvcParamValue::Ipv6Hint(h) => {
                for a in &h.0 {
                    push(a.0.to_string());
                    any = true;
                }
            }
            _ => {}
        }
    }
    if !any {
        // "." as target means the owner name itself (RFC 9460 §2.5).
        let target = name_text(&s.target_name);
        push(if target == "." {
            owner.to_string()
        } else {
            target
        });
    }
}

/// Most compression pointers followed in one name.
const MAX_POINTERS: usize = 64;

/// Reads a (possibly compressed) name at `at`; returns its labels' text and the offset after it.
fn read_name(msg: &[u8], mut at: usize) -> Option<(String, usize)> {
    let mut labels: Vec<&[u8]> = Vec::new();
    let mut end = None;
    let mut hops = 0;
    let mut total = 0usize;
    loop {
        let len = *msg.get(at)? as usize;
        match len & 0xc0 {
            0x00 if len == 0 => {
                end.get_or_insert(at + 1);
                break;
            }
            0x00 => {
                let label = msg.get(at + 1..at + 1 + len)?;
                total += len + 1;
                if total > 255 {
                    return None;
                }
                labels.push(label);
                at += 1 + len;
            }
            0xc0 => {
                hops += 1;
                if hops > MAX_POINTERS {
                    return None;
                }
                let ptr = ((len & 0x3f) << 8) | *msg.get(at + 1)? as usize;
                end.get_or_insert(at + 2);
                at = ptr;
            }
            _ => return None,
        }
    }
    Some((normalize_labels(labels.into_iter()), end?))
}

/// Header and first question of a message hickory could not parse.
fn header_only(msg: &[u8]) -> Option<Response> {
    let txid = u16::from_be_bytes([*msg.first()?, *msg.get(1)?]);
    let rcode = Rcode(*msg.get(3)? & 0x0f);
    let qdcount = u16::from_be_bytes([*msg.get(4)?, *msg.get(5)?]);
    let (query, qtype) = if qdcount > 0 {
        let (name, after) = read_name(msg, 12)?;
        let t = u16::from_be_bytes([*msg.get(after)?, *msg.get(after + 1)?]);
        (Some(Arc::from(name)), Some(RrType(t)))
    } else {
        (None, None)
    };
    Some(Response {
        txid,
        query,
        qtype,
        rcode,
        answers: Vec::new(),
    })
}

/// Normalised text of a name.
pub fn name_text(n: &Name) -> String {
    normalize_labels(n.iter())
}

/// Mnemonic of a record type (`TYPE<n>` for types without one).
pub fn type_name(t: RecordType) -> Cow<'static, str> {
    type_name_of(u16::from(t))
}

/// Mnemonic of a record type number.
pub fn type_name_of(code: u16) -> Cow<'static, str> {
    let t = RecordType::from(code);
    Cow::Borrowed(match code {
        1 => "A",
        2 => "NS",
        5 => "CNAME",
        6 => "SOA",
        12 => "PTR",
        15 => "MX",
        16 => "TXT",
        28 => "AAAA",
        33 => "SRV",
        41 => "OPT",
        64 => "SVCB",
        65 => "HTTPS",
        255 => "ANY",
        _ => {
            let s = t.to_string();
            return Cow::Owned(
                if !s.is_empty()
                    && s.bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
                {
                    s
                } else {
                    format!("TYPE{code}")
                },
            );
        }
    })
}

/// Mnemonic of a response code (header RCODE, 4 bits).
pub fn rcode_name(code: u8) -> Cow<'static, str> {
    Cow::Borrowed(match code {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        n => return Cow::Owned(format!("RCODE{n}")),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Hand-built response: `www.Example.com A?` → CNAME cdn.example.net → A 1.2.3.4, AAAA.
    pub(crate) fn sample_response() -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 3, 0, 0, 0, 0];
        m.extend_from_slice(b"\x03www\x07Example\x03com\x00\x00\x01\x00\x01");
        // CNAME, name = pointer to 12.
        m.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 17]);
        m.extend_from_slice(b"\x03cdn\x07example\x03net\x00");
        let cdn = 12 + 21 + 12; // offset of "cdn.example.net"
        m.extend_from_slice(&[0xc0, cdn as u8, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 1, 2, 3, 4]);
        m.extend_from_slice(&[0xc0, cdn as u8, 0, 28, 0, 1, 0, 0, 0, 30, 0, 16]);
        m.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        m
    }

    #[test]
    fn parses_cname_chain() {
        let r = parse_response(&sample_response()).unwrap().unwrap();
        assert_eq!(r.txid, 0x1234);
        assert_eq!(r.query.as_deref(), Some("www.example.com"));
        assert_eq!(r.qtype.map(RrType::name).as_deref(), Some("A"));
        assert_eq!(r.rcode.name(), "NOERROR");
        assert!(r.answers.iter().all(|a| a.section == "answer"));
        let got: Vec<_> = r
            .answers
            .iter()
            .map(|a| {
                (
                    &*a.rr_name,
                    a.rr_type.name().into_owned(),
                    a.ttl,
                    a.value.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "www.example.com",
                    "CNAME".to_string(),
                    60,
                    "cdn.example.net"
                ),
                ("cdn.example.net", "A".to_string(), 30, "1.2.3.4"),
                ("cdn.example.net", "AAAA".to_string(), 30, "2001:db8::1"),
            ]
        );
    }

    #[test]
    fn nxdomain_without_answers_and_queries() {
        let mut m = vec![0, 1, 0x81, 0x83, 0, 1, 0, 0, 0, 0, 0, 0];
        m.extend_from_slice(b"\x04nope\x00\x00\x1c\x00\x01");
        let r = parse_response(&m).unwrap().unwrap();
        assert_eq!(
            (r.rcode.name(), r.answers.len(), r.qtype.map(RrType::name)),
            ("NXDOMAIN".into(), 0, Some("AAAA".into()))
        );
        m[2] = 0x01;
        assert_eq!(parse_response(&m), Ok(None));
    }

    #[test]
    fn compression_loop_is_an_error_not_a_hang() {
        let mut m = vec![0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0];
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
        assert!(parse_response(&m).unwrap_err().header.is_none());
        // Two pointers pointing at each other.
        let mut m = vec![0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0];
        m.extend_from_slice(&[0xc0, 14, 0xc0, 12, 0, 1, 0, 1]);
        assert!(parse_response(&m).unwrap_err().header.is_none());
    }

    #[test]
    fn length_past_buffer_is_an_error() {
        let mut m = sample_response();
        let n = m.len();
        m[n - 17] = 0xff; // rdlength of the AAAA record
                          // The records before the bad one are kept (as tshark shows them).
        let header = parse_response(&m).unwrap_err().header.unwrap();
        assert_eq!(header.query.as_deref(), Some("www.example.com"));
        let got: Vec<_> = header.answers.iter().map(|a| a.value.as_str()).collect();
        assert_eq!(got, ["cdn.example.net", "1.2.3.4"]);
        // A bad first record: the question alone.
        let mut m = sample_response();
        m[12 + 21 + 11] = 0xff; // rdlength of the CNAME
        let header = parse_response(&m).unwrap_err().header.unwrap();
        assert_eq!(header.query.as_deref(), Some("www.example.com"));
        assert!(header.answers.is_empty());
        // Records that are whole but whose data hickory refuses (an A record of 3 bytes) end
        // the salvage there too.
        let mut m = sample_response();
        let a_at = 12 + 21 + 12 + 17;
        m[a_at + 11] = 3;
        m.remove(a_at + 12 + 3);
        let header = parse_response(&m).unwrap_err().header.unwrap();
        let got: Vec<_> = header.answers.iter().map(|a| a.value.as_str()).collect();
        assert_eq!(got, ["cdn.example.net"]);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            let _ = parse_response(&data);
        }
    }

    #[test]
    fn truncation_sweep() {
        let m = sample_response();
        for cut in 0..m.len() {
            let r = parse_response(&m[..cut]);
            assert!(
                r.is_err() || r.unwrap().is_some_and(|r| r.answers.len() < 3),
                "cut {cut}"
            );
        }
    }
}
