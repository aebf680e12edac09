//! Google QUIC (gQUIC) client hellos: the plaintext CHLO of versions up to Q046, and the CHLO
//! message format itself (also carried, encrypted, by Q050; see `quic.rs`).
//!
//! Q043 and earlier: public header (flags, 8-byte connection ID, version `Q0xx`, packet number
//! of 1/2/4/6 bytes), a 12-byte message hash (Q033 and earlier also a private-flags byte), then
//! frames. Q044–Q046: a long header (first byte with the form bit, version, one byte of 4-bit
//! connection-ID lengths, a 4-byte packet number), the hash, then the same frames. The
//! handshake runs on stream 1 in STREAM frames (`1fdooosss`: FIN, data-length present, offset
//! length, stream-ID length; integers little-endian before Q039). The CHLO message is a tag
//! map: `CHLO`, entry count (u16 LE), 2 bytes padding, then (tag, end offset u32 LE) pairs and
//! the values; `SNI\0` is the server name, `UAID` the user agent.

use super::text::{escape_text, normalize_name};

/// Largest CHLO message accepted.
pub const MAX_CHLO: usize = 16 * 1024;
/// Most tag entries looked at in one CHLO.
const MAX_TAGS: usize = 256;

/// A gQUIC version number (`Q043` → 43), when the 4 bytes are one.
pub fn gquic_number(v: [u8; 4]) -> Option<u32> {
    if v[0] != b'Q' || !v[1..].iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(v[1..].iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
}

/// Plaintext client packet of gQUIC up to Q046: the connection ID and the crypto stream's
/// (offset, data) pieces, or None when the datagram is not one.
pub fn plaintext_chlo_packet(p: &[u8]) -> Option<(Vec<u8>, Vec<(u64, Vec<u8>)>)> {
    let first = *p.first()?;
    let (cid, number, mut at) = if first & 0x80 != 0 {
        // Q044–Q046 long header; an Initial (type bits 0x30 clear) with a 4-byte number.
        let number = gquic_number(p.get(1..5)?.try_into().ok()?)?;
        if !(44..=46).contains(&number) || first & 0x30 != 0 {
            return None;
        }
        let lens = *p.get(5)?;
        let (dcil, scil) = (cid_len(lens >> 4), cid_len(lens & 0x0f));
        let cid = p.get(6..6 + dcil)?.to_vec();
        let pn_len = usize::from(first & 0x03) + 1;
        (cid, number, 6 + dcil + scil + pn_len)
    } else {
        // Public header with the version flag (0x01) and no reserved bits (0x80, 0x40 unused).
        if first & 0x01 == 0 || first & 0x80 != 0 {
            return None;
        }
        let mut at = 1;
        let cid = if first & 0x08 != 0 {
            at += 8;
            p.get(1..9)?.to_vec()
        } else {
            Vec::new()
        };
        let number = gquic_number(p.get(at..at + 4)?.try_into().ok()?)?;
        if !(24..=43).contains(&number) {
            return None;
        }
        at += 4;
        if first & 0x04 != 0 {
            at += 32; // diversification nonce (servers send it; kept for completeness)
        }
        at += match (first >> 4) & 0x03 {
            0 => 1,
            1 => 2,
            2 => 4,
            _ => 6,
        };
        (cid, number, at)
    };
    at += 12; // message authentication hash
    if number <= 33 {
        at += 1; // private flags
    }
    let frames = p.get(at..)?;
    let pieces = stream_frames(frames, number)?;
    (!pieces.is_empty()).then_some((cid, pieces))
}

fn cid_len(nibble: u8) -> usize {
    if nibble == 0 {
        0
    } else {
        usize::from(nibble) + 3
    }
}

fn uint(b: &[u8], big_endian: bool) -> u64 {
    let mut v = 0u64;
    if big_endian {
        for &x in b {
            v = (v << 8) | u64::from(x);
        }
    } else {
        for &x in b.iter().rev() {
            v = (v << 8) | u64::from(x);
        }
    }
    v
}

/// Crypto-stream data in the frames of a plaintext packet: STREAM frames of stream 1, after
/// padding, PING or STOP_WAITING frames; anything else ends the walk.
fn stream_frames(b: &[u8], number: u32) -> Option<Vec<(u64, Vec<u8>)>> {
    let be = number >= 39;
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(&t) = b.get(at) {
        at += 1;
        if t & 0x80 != 0 {
            let has_len = t & 0x20 != 0;
            let off_len = match (t >> 2) & 0x07 {
                0 => 0,
                n => usize::from(n) + 1,
            };
            let sid_len = usize::from(t & 0x03) + 1;
            let sid = uint(b.get(at..at + sid_len)?, be);
            at += sid_len;
            let offset = uint(b.get(at..at + off_len)?, be);
            at += off_len;
            let len = if has_len {
                let l = uint(b.get(at..at + 2)?, be) as usize;
                at += 2;
                l
            } else {
                b.len() - at
            };
            let data = b.get(at..at.checked_add(len)?)?;
            at += len;
            if sid == 1 {
                out.push((offset, data.to_vec()));
            }
        } else {
            match t {
                0x00 => break, // padding runs to the end
                0x07 => {}     // PING
                _ => break,
            }
        }
    }
    Some(out)
}

/// What a CHLO says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Chlo {
    pub sni: Option<String>,
    pub user_agent: Option<String>,
    /// The `VER` tag (the version the client speaks), e.g. `Q043`.
    pub version: Option<String>,
}

/// Progress on the start of a crypto stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChloProgress {
    NeedMore,
    NotChlo,
    Malformed,
    Chlo(Chlo),
}

/// Parses a CHLO message from the start of the crypto stream.
pub fn parse_chlo(b: &[u8]) -> ChloProgress {
    let tag = b"CHLO";
    if !tag.starts_with(&b[..b.len().min(4)]) {
        return ChloProgress::NotChlo;
    }
    if b.len() < 8 {
        return ChloProgress::NeedMore;
    }
    let n = usize::from(u16::from_le_bytes([b[4], b[5]]));
    if n > MAX_TAGS {
        return ChloProgress::Malformed;
    }
    let values_at = 8 + 8 * n;
    if b.len() < values_at {
        return if values_at > MAX_CHLO {
            ChloProgress::Malformed
        } else {
            ChloProgress::NeedMore
        };
    }
    let entry = |i: usize| {
        let e = &b[8 + 8 * i..16 + 8 * i];
        let end = u32::from_le_bytes([e[4], e[5], e[6], e[7]]) as usize;
        ([e[0], e[1], e[2], e[3]], end)
    };
    let total = if n == 0 { 0 } else { entry(n - 1).1 };
    if total > MAX_CHLO {
        return ChloProgress::Malformed;
    }
    if b.len() < values_at + total {
        return ChloProgress::NeedMore;
    }
    let mut out = Chlo::default();
    let mut prev = 0usize;
    for i in 0..n {
        let (tag, end) = entry(i);
        if end < prev || end > total {
            return ChloProgress::Malformed;
        }
        let value = &b[values_at + prev..values_at + end];
        prev = end;
        match &tag {
            b"SNI\0" if !value.is_empty() => out.sni = Some(normalize_name(value)),
            b"UAID" if !value.is_empty() => out.user_agent = Some(escape_text(value)),
            b"VER\0" if value.len() == 4 => out.version = Some(escape_text(value)),
            _ => {}
        }
    }
    ChloProgress::Chlo(out)
}

/// Builds a CHLO message from tags (sorted by tag value as clients send them). For tests and
/// the differential test's captures.
pub fn build_chlo(tags: &[([u8; 4], &[u8])]) -> Vec<u8> {
    let mut tags = tags.to_vec();
    tags.sort_by_key(|(t, _)| u32::from_le_bytes(*t));
    let mut out = b"CHLO".to_vec();
    out.extend_from_slice(&(tags.len() as u16).to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    let mut end = 0u32;
    for (t, v) in &tags {
        end += v.len() as u32;
        out.extend_from_slice(t);
        out.extend_from_slice(&end.to_le_bytes());
    }
    for (_, v) in &tags {
        out.extend_from_slice(v);
    }
    out
}

/// Builds a plaintext gQUIC client packet carrying `chlo` on stream 1 (Q043-style public header
/// for versions up to 43, the Q046 long header for 44–46), padded to 1350 bytes. For tests.
pub fn build_plaintext_packet(version: [u8; 4], cid: [u8; 8], chlo: &[u8]) -> Vec<u8> {
    let number = gquic_number(version).unwrap_or(43);
    let be = number >= 39;
    let mut p = Vec::new();
    if number >= 44 {
        p.push(0xc3);
        p.extend_from_slice(&version);
        p.push(0x50);
        p.extend_from_slice(&cid);
        p.extend_from_slice(&1u32.to_be_bytes());
    } else {
        p.push(0x09);
        p.extend_from_slice(&cid);
        p.extend_from_slice(&version);
        p.push(1);
    }
    p.extend_from_slice(&[0u8; 12]);
    if number <= 33 {
        p.push(0);
    }
    // STREAM frame: data length present, 2-byte offset (0), 1-byte stream ID.
    p.push(0xa4);
    p.push(1);
    p.extend_from_slice(&[0, 0]);
    let len = chlo.len() as u16;
    p.extend_from_slice(&if be {
        len.to_be_bytes()
    } else {
        len.to_le_bytes()
    });
    p.extend_from_slice(chlo);
    while p.len() < 1350 {
        p.push(0);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chlo() -> Vec<u8> {
        build_chlo(&[
            (*b"PAD\0", &[0x2d; 20][..]),
            (*b"SNI\0", b"WWW.Google.com"),
            (*b"VER\0", b"Q043"),
            (*b"UAID", b"Chrome/65.0.3325.181 Android 8.1.0; Pixel"),
        ])
    }

    #[test]
    fn chlo_tags() {
        let got = parse_chlo(&chlo());
        assert_eq!(
            got,
            ChloProgress::Chlo(Chlo {
                sni: Some("www.google.com".into()),
                user_agent: Some("Chrome/65.0.3325.181 Android 8.1.0; Pixel".into()),
                version: Some("Q043".into()),
            })
        );
        assert_eq!(parse_chlo(b"SHLO"), ChloProgress::NotChlo);
        assert_eq!(parse_chlo(b"CH"), ChloProgress::NeedMore);
    }

    #[test]
    fn plaintext_versions() {
        for v in [*b"Q035", *b"Q039", *b"Q043", *b"Q046"] {
            let p = build_plaintext_packet(v, [7; 8], &chlo());
            let (cid, pieces) = plaintext_chlo_packet(&p).unwrap_or_else(|| panic!("{v:?}"));
            assert_eq!(cid, [7; 8]);
            assert_eq!(pieces, vec![(0, chlo())], "{v:?}");
        }
        // Not gQUIC: IETF QUIC v1 long header, a DNS message, a version without digits.
        let mut v1 = build_plaintext_packet(*b"Q046", [7; 8], &chlo());
        v1[1..5].copy_from_slice(&[0, 0, 0, 1]);
        assert!(plaintext_chlo_packet(&v1).is_none());
        assert!(plaintext_chlo_packet(&[0x12, 0x34, 0x81, 0x80, 0, 1]).is_none());
        let mut bad = build_plaintext_packet(*b"Q043", [7; 8], &chlo());
        bad[9..13].copy_from_slice(b"QABC");
        assert!(plaintext_chlo_packet(&bad).is_none());
    }

    #[test]
    fn truncation_sweep() {
        let c = chlo();
        for cut in 0..c.len() {
            assert!(
                matches!(parse_chlo(&c[..cut]), ChloProgress::NeedMore),
                "cut {cut}"
            );
        }
        let p = build_plaintext_packet(*b"Q043", [7; 8], &c);
        for cut in 0..p.len() {
            if let Some((_, pieces)) = plaintext_chlo_packet(&p[..cut]) {
                assert_eq!(pieces, vec![(0, c.clone())]);
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let _ = plaintext_chlo_packet(&data);
            let _ = parse_chlo(&data);
            let mut c = b"CHLO".to_vec();
            c.extend_from_slice(&data);
            let _ = parse_chlo(&c);
        }
    }
}
