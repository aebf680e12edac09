//! The lean path for DNS responses: the common message (address, alias and name-server records,
//! SOA in the authority section, one OPT record) is read in place, names decompressed straight
//! into their row text, without building hickory-proto's owned message. It follows
//! hickory-proto's acceptance rules for what it reads (name length, label codes, pointers that
//! point before the name part that holds them, record data read to its exact length, no empty
//! record data outside UPDATE), and gives up (`None`) on anything else — another record type in
//! the answer section, an odd record or an EDNS option hickory-proto interprets, an UPDATE
//! message — which then goes to hickory-proto as before. A property test holds the two paths to
//! identical rows on every message the walker accepts.

use std::cell::RefCell;
use std::sync::Arc;

use super::dns::{Answer, Response, MAX_ANSWERS};
use super::records::{Rcode, RrType};
use super::text::{ipv4_text, ipv6_text, push_escaped};

const TYPE_A: u16 = 1;
const TYPE_NS: u16 = 2;
const TYPE_CNAME: u16 = 5;
const TYPE_SOA: u16 = 6;
const TYPE_PTR: u16 = 12;
const TYPE_AAAA: u16 = 28;
const TYPE_OPT: u16 = 41;
/// Bytes reserved for a name's text: most names are shorter (one grown label by label
/// reallocated two or three times).
const NAME_ROOM: usize = 128;
/// EDNS options hickory-proto decodes (and may refuse): NSID, client subnet, DAU.
const EDNS_INTERPRETED: [u16; 3] = [3, 5, 8];
/// The UPDATE opcode, whose empty records follow other rules.
const OPCODE_UPDATE: u8 = 5;

/// Reads a response in place; `None` when the message is not one the walker covers (or is
/// malformed), for hickory-proto to read. `msg` is a response (QR set) of at least 12 bytes.
pub(super) fn walk(msg: &[u8]) -> Option<Response> {
    NAMES.with(|names| {
        let (text, scratch) = &mut *names.borrow_mut();
        walk_with(msg, text, scratch)
    })
}

thread_local! {
    /// Where names are decompressed: a name's text, and names that are checked but do not
    /// become rows (authority NS, SOA) or become values before they are copied out at their
    /// exact size. Reused from message to message (two allocations per response otherwise).
    static NAMES: RefCell<(String, String)> =
        RefCell::new((String::with_capacity(NAME_ROOM), String::with_capacity(NAME_ROOM)));
}

fn walk_with(msg: &[u8], text: &mut String, scratch: &mut String) -> Option<Response> {
    let header = msg.get(..12)?;
    if (header[2] >> 3) & 0x0f == OPCODE_UPDATE {
        return None;
    }
    let count = |i: usize| usize::from(u16::from_be_bytes([header[i], header[i + 1]]));
    let (qd, an, ns, ar) = (count(4), count(6), count(8), count(10));
    let mut at = 12;
    let (mut query, mut qtype) = (None, None);
    for i in 0..qd {
        text.clear();
        at = read_name(msg, at, text)?;
        let t = msg.get(at..at + 4)?;
        if i == 0 {
            query = Some(Arc::<str>::from(text.as_str()));
            qtype = Some(RrType(u16::from_be_bytes([t[0], t[1]])));
        }
        at += 4;
    }
    let mut answers: Vec<Answer> = Vec::with_capacity(an.min(MAX_ANSWERS));
    let mut edns = false;
    for (section, n) in [("answer", an), ("authority", ns), ("additional", ar)] {
        for _ in 0..n {
            text.clear();
            at = read_name(msg, at, text)?;
            let fixed = msg.get(at..at + 10)?;
            let rr_type = u16::from_be_bytes([fixed[0], fixed[1]]);
            let ttl = u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]);
            let rdlen = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
            let start = at + 10;
            let end = start + rdlen;
            let rdata = msg.get(start..end)?;
            at = end;
            if rr_type == TYPE_OPT {
                // Root owner, additional section only, once.
                if section != "additional" || *text != "." || edns || !edns_options_plain(rdata) {
                    return None;
                }
                edns = true;
                continue;
            }
            if rdlen == 0 {
                return None;
            }
            let value = match rr_type {
                TYPE_A => ipv4_text(<[u8; 4]>::try_from(rdata).ok()?, &mut [0; 15]).to_owned(),
                TYPE_AAAA => ipv6_text(<[u8; 16]>::try_from(rdata).ok()?, &mut [0; 39]).to_owned(),
                TYPE_CNAME | TYPE_PTR | TYPE_NS if section == "answer" => {
                    scratch.clear();
                    (read_name(msg, start, scratch)? == end).then_some(())?;
                    scratch.as_str().to_owned()
                }
                TYPE_CNAME | TYPE_PTR | TYPE_NS => {
                    // Checked, not a row: only addresses are taken as glue.
                    scratch.clear();
                    (read_name(msg, start, scratch)? == end).then_some(())?;
                    continue;
                }
                TYPE_SOA if section == "authority" => {
                    scratch.clear();
                    let after = read_name(msg, start, scratch)?;
                    scratch.clear();
                    (read_name(msg, after, scratch)? + 20 == end).then_some(())?;
                    continue;
                }
                _ => return None,
            };
            if answers.len() < MAX_ANSWERS {
                // Records mostly repeat the owner name of the record before them or the
                // question's: share that text rather than allocate it again.
                let rr_name = match (answers.last(), &query) {
                    (Some(a), _) if *a.rr_name == *text => Arc::clone(&a.rr_name),
                    (_, Some(q)) if **q == *text => Arc::clone(q),
                    _ => Arc::from(text.as_str()),
                };
                answers.push(Answer {
                    section,
                    rr_name,
                    rr_type: RrType(rr_type),
                    ttl,
                    value,
                });
            }
        }
    }
    Some(Response {
        txid: u16::from_be_bytes([header[0], header[1]]),
        query,
        qtype,
        rcode: Rcode(header[3] & 0x0f),
        answers,
    })
}

/// EDNS options laid out whole, none of the kinds hickory-proto interprets.
fn edns_options_plain(mut rdata: &[u8]) -> bool {
    while !rdata.is_empty() {
        let Some(head) = rdata.get(..4) else {
            return false;
        };
        let code = u16::from_be_bytes([head[0], head[1]]);
        let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
        if EDNS_INTERPRETED.contains(&code) || rdata.len() < 4 + len {
            return false;
        }
        rdata = &rdata[4 + len..];
    }
    true
}

/// Reads the name at `at` into `out` (labels lower-cased and escaped, `.`-joined; the root is
/// `.`) and returns the offset after it. Refused as hickory-proto refuses: a label code 01 or
/// 10, a name of 255 bytes or more, a pointer that does not point before the part of the name
/// it is in, or a part that runs into the part that pointed to it. Pointers only go backwards,
/// so chasing them ends.
fn read_name(msg: &[u8], mut at: usize, out: &mut String) -> Option<usize> {
    let mut part_start = at;
    let mut limit = usize::MAX;
    let mut after = None;
    let mut wire_len = 0usize;
    let start_len = out.len();
    loop {
        if at >= limit {
            return None;
        }
        let len = *msg.get(at)?;
        match len & 0xc0 {
            0x00 if len == 0 => {
                if out.len() == start_len {
                    out.push('.');
                }
                return Some(after.unwrap_or(at + 1));
            }
            0x00 => {
                let label = msg.get(at + 1..at + 1 + usize::from(len))?;
                wire_len += 1 + label.len();
                if wire_len >= 255 {
                    return None;
                }
                if out.len() > start_len {
                    out.push('.');
                }
                push_escaped(out, label, true);
                at += 1 + label.len();
            }
            0xc0 => {
                let low = *msg.get(at + 1)?;
                let target = (usize::from(len & 0x3f) << 8) | usize::from(low);
                if target >= part_start {
                    return None;
                }
                after.get_or_insert(at + 2);
                limit = part_start;
                part_start = target;
                at = target;
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::dns::{tests::sample_response, with_hickory};
    use proptest::prelude::*;

    #[test]
    fn walks_the_common_response() {
        let m = sample_response();
        let walked = walk(&m).expect("covered");
        assert_eq!(Some(walked), with_hickory(&m));
    }

    #[test]
    fn names_follow_hickorys_rules() {
        let mut s = String::new();
        // A forward pointer, a pointer to itself, reserved label codes.
        let m = [0u8; 12]
            .iter()
            .copied()
            .chain([0xc0, 14, 0])
            .collect::<Vec<_>>();
        assert_eq!(read_name(&m, 12, &mut s), None);
        let m = [0u8; 12]
            .iter()
            .copied()
            .chain([0xc0, 12])
            .collect::<Vec<_>>();
        assert_eq!(read_name(&m, 12, &mut s), None);
        for code in [0x40u8, 0x80] {
            let m = [0u8; 12]
                .iter()
                .copied()
                .chain([code, 0])
                .collect::<Vec<_>>();
            assert_eq!(read_name(&m, 12, &mut s), None);
        }
        // 254 bytes of labels are a name, 255 are not.
        let name = |total: usize| {
            let mut m = vec![0u8; 12];
            let mut left = total;
            while left > 0 {
                let l = (left - 1).min(63);
                m.push(l as u8);
                m.extend(std::iter::repeat_n(b'a', l));
                left -= l + 1;
            }
            m.push(0);
            m
        };
        for (total, ok) in [(254, true), (255, false)] {
            s.clear();
            assert_eq!(read_name(&name(total), 12, &mut s).is_some(), ok, "{total}");
        }
        s.clear();
        assert_eq!(read_name(&[0], 0, &mut s), Some(1));
        assert_eq!(s, ".");
    }

    #[test]
    fn leaves_to_hickory_what_it_does_not_cover() {
        // A TXT answer.
        let mut m = vec![0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
        m.extend_from_slice(b"\x01a\x00\x00\x10\x00\x01");
        m.extend_from_slice(&[0xc0, 12, 0, 16, 0, 1, 0, 0, 0, 5, 0, 3, 2, b'h', b'i']);
        assert_eq!(walk(&m), None);
        assert!(with_hickory(&m).is_some());
        // An UPDATE message.
        let mut m = sample_response();
        m[2] = 0x80 | (OPCODE_UPDATE << 3);
        assert_eq!(walk(&m), None);
    }

    #[test]
    fn truncation_sweep() {
        let m = sample_response();
        for cut in 12..m.len() {
            if let Some(r) = walk(&m[..cut]) {
                assert_eq!(Some(r), with_hickory(&m[..cut]), "cut {cut}");
            }
        }
    }

    /// Builds a message from generated parts: names (plain, compressed or broken), records
    /// of the covered types and others, with right or wrong lengths.
    fn message() -> impl Strategy<Value = Vec<u8>> {
        let label =
            proptest::collection::vec(prop_oneof![4 => b'a'..=b'z', 1 => any::<u8>()], 0..12);
        let pointer = prop_oneof![3 => Just(None), 1 => any::<u8>().prop_map(Some)];
        let name = (proptest::collection::vec(label, 0..4), pointer);
        let rtype = prop_oneof![
            4 => Just(TYPE_A),
            3 => Just(TYPE_AAAA),
            3 => Just(TYPE_CNAME),
            1 => Just(TYPE_PTR),
            1 => Just(TYPE_NS),
            1 => Just(TYPE_SOA),
            1 => Just(TYPE_OPT),
            1 => Just(16u16),
            1 => Just(65u16),
            1 => any::<u16>(),
        ];
        let shape = prop_oneof![6 => Just(0u8), 1 => 1u8..4];
        let rdata = proptest::collection::vec(any::<u8>(), 0..24);
        let record = (
            name.clone(),
            rtype,
            any::<u32>(),
            rdata,
            name.clone(),
            shape,
        );
        (
            any::<u16>(),
            any::<u8>(),
            any::<u8>(),
            proptest::collection::vec(name, 0..3),
            proptest::collection::vec(record, 0..6),
            (0usize..6, 0usize..6),
        )
            .prop_map(|(id, flags, low, questions, records, (an, ns))| {
                let mut m = id.to_be_bytes().to_vec();
                m.extend_from_slice(&[flags | 0x80, low]);
                let an = an.min(records.len());
                let ns = ns.min(records.len() - an);
                let ar = records.len() - an - ns;
                for c in [questions.len(), an, ns, ar] {
                    m.extend_from_slice(&(c as u16).to_be_bytes());
                }
                let put_name = |m: &mut Vec<u8>, (labels, ptr): &(Vec<Vec<u8>>, Option<u8>)| {
                    for l in labels {
                        m.push(l.len() as u8);
                        m.extend_from_slice(l);
                    }
                    match ptr {
                        // A pointer somewhere into the first 64 bytes after the header.
                        Some(p) => m.extend_from_slice(&[0xc0, 12 + (p % 64)]),
                        None => m.push(0),
                    }
                };
                for q in &questions {
                    put_name(&mut m, q);
                    m.extend_from_slice(&[0, 1, 0, 1]);
                }
                for (owner, t, ttl, data, target, shape) in &records {
                    put_name(&mut m, owner);
                    m.extend_from_slice(&t.to_be_bytes());
                    m.extend_from_slice(&[0, 1]);
                    m.extend_from_slice(&ttl.to_be_bytes());
                    // Data shaped for its type (shape 0), or arbitrary bytes.
                    let mut body = Vec::new();
                    match (*t, shape) {
                        (TYPE_A, 0) => body.extend_from_slice(data.get(..4).unwrap_or(&[1; 4])),
                        (TYPE_AAAA, 0) => body.extend((0..16).map(|i| i as u8)),
                        (TYPE_CNAME | TYPE_PTR | TYPE_NS, 0 | 1) => put_name(&mut body, target),
                        (TYPE_SOA, 0) => {
                            put_name(&mut body, target);
                            body.push(0);
                            body.extend_from_slice(&[7; 20]);
                        }
                        _ => body.extend_from_slice(data),
                    }
                    m.extend_from_slice(&(body.len() as u16).to_be_bytes());
                    m.extend_from_slice(&body);
                }
                m
            })
    }

    /// The generated messages reach the walker's accepting paths (else the property below
    /// would hold vacuously), and on every one it accepts, hickory-proto agrees.
    #[test]
    fn generated_messages_are_walked_and_agree() {
        use proptest::strategy::ValueTree;
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let strategy = message();
        let (mut walked, mut with_answers, total) = (0, 0, 3000);
        for _ in 0..total {
            let m = strategy.new_tree(&mut runner).expect("value").current();
            if let Some(r) = walk(&m) {
                walked += 1;
                with_answers += usize::from(!r.answers.is_empty());
                assert_eq!(Some(r), with_hickory(&m), "{m:02x?}");
            }
        }
        assert!(
            walked * 10 > total && with_answers * 20 > total,
            "{walked} {with_answers}"
        );
    }

    proptest! {
        #[test]
        fn walker_agrees_with_hickory(m in message(), flip in any::<Option<(usize, u8)>>()) {
            let mut m = m;
            if let Some((at, bits)) = flip {
                if !m.is_empty() {
                    let i = at % m.len();
                    m[i] ^= bits;
                }
            }
            if m.len() >= 12 && m[2] & 0x80 != 0 {
                if let Some(r) = walk(&m) {
                    prop_assert_eq!(Some(r), with_hickory(&m));
                }
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 12..400)) {
            let _ = walk(&data);
        }
    }
}
