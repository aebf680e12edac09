//! TLS ClientHello recognition and parsing (tls-parser), over the reassembled client stream.
//!
//! A stream is TLS when it starts with a handshake record (`16 03 0x`) whose first handshake
//! message is a ClientHello (type 1). The handshake message may span several records and several
//! TCP segments; the caller feeds the contiguous stream bytes and gets `NeedMore` until the whole
//! message is there (bounded by [`MAX_CLIENT_HELLO`]).

use tls_parser::{
    parse_tls_client_hello_extension, parse_tls_message_handshake, parse_tls_raw_record,
    TlsExtension, TlsMessage, TlsMessageHandshake,
};

use super::fingerprint::{is_grease, HelloKey};
use super::text::{escape_text, normalize_name};

/// Largest ClientHello accepted (post-quantum key shares make them ~2 KB; 64 KiB is generous).
pub const MAX_CLIENT_HELLO: usize = 65_536;
/// Most bytes of stream (records plus headers) looked at for one ClientHello.
pub const MAX_TLS_STREAM: usize = MAX_CLIENT_HELLO + 4096;

/// What a ClientHello says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientHello {
    pub sni: Option<String>,
    pub alpn: Option<String>,
    pub version: Option<String>,
    /// What the JA4/JA3 fingerprints are made of.
    pub fingerprint: Option<HelloKey>,
}

/// Progress on a stream prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// The prefix is consistent with a ClientHello; more bytes are needed.
    NeedMore,
    /// This stream does not start with a TLS ClientHello.
    NotTls,
    /// It looked like a ClientHello but does not parse.
    Malformed,
    Hello(ClientHello),
}

/// True when `b` could be the beginning of a TLS ClientHello record (checks what is there).
pub fn looks_like_client_hello(b: &[u8]) -> bool {
    let pattern: [fn(u8) -> bool; 6] = [
        |x| x == 0x16,
        |x| x == 0x03,
        |x| x <= 0x04,
        |_| true,
        |_| true,
        |x| x == 0x01,
    ];
    !b.is_empty() && b.iter().zip(pattern.iter()).all(|(x, f)| f(*x))
}

/// Tries to parse a ClientHello from the start of a client stream.
pub fn parse_client_hello(stream: &[u8]) -> Progress {
    if !looks_like_client_hello(stream) {
        return Progress::NotTls;
    }
    let mut rest = stream;
    let mut hs: Vec<u8> = Vec::new();
    loop {
        if rest.len() < 5 {
            return Progress::NeedMore;
        }
        if rest[0] != 0x16 {
            return Progress::Malformed;
        }
        let rec_len = usize::from(u16::from_be_bytes([rest[3], rest[4]]));
        if rest.len() < 5 + rec_len {
            return if 5 + rec_len > MAX_TLS_STREAM {
                Progress::Malformed
            } else {
                Progress::NeedMore
            };
        }
        let (after, rec) = match parse_tls_raw_record(rest) {
            Ok(v) => v,
            Err(_) => return Progress::Malformed,
        };
        rest = after;
        // The common case, the whole message in its first record, is parsed in place.
        let data: &[u8] = if hs.is_empty() {
            rec.data
        } else {
            hs.extend_from_slice(rec.data);
            &hs
        };
        match whole_message(data) {
            Whole::Message(m) => return parse_handshake(m),
            Whole::TooLong => return Progress::Malformed,
            Whole::NeedMore => {}
        }
        if hs.is_empty() {
            hs.extend_from_slice(rec.data);
        }
        if stream.len() - rest.len() > MAX_TLS_STREAM {
            return Progress::Malformed;
        }
    }
}

/// Parses a ClientHello handshake message given without the TLS record layer (as QUIC CRYPTO
/// frames carry it): `NeedMore` until the whole message is there.
pub fn parse_client_hello_message(hs: &[u8]) -> Progress {
    if hs.is_empty() {
        return Progress::NeedMore;
    }
    if hs[0] != 1 {
        return Progress::NotTls;
    }
    match whole_message(hs) {
        Whole::Message(m) => parse_handshake(m),
        Whole::TooLong => Progress::Malformed,
        Whole::NeedMore => Progress::NeedMore,
    }
}

/// The handshake message at the start of some bytes, by its 3-byte length.
enum Whole<'a> {
    Message(&'a [u8]),
    NeedMore,
    /// Declared longer than [`MAX_CLIENT_HELLO`].
    TooLong,
}

fn whole_message(hs: &[u8]) -> Whole<'_> {
    let [_, a, b, c, ..] = *hs else {
        return Whole::NeedMore;
    };
    let need = 4 + ((usize::from(a) << 16) | (usize::from(b) << 8) | usize::from(c));
    if need > MAX_CLIENT_HELLO {
        return Whole::TooLong;
    }
    hs.get(..need).map_or(Whole::NeedMore, Whole::Message)
}

fn parse_handshake(hs: &[u8]) -> Progress {
    let Ok((_, TlsMessage::Handshake(TlsMessageHandshake::ClientHello(ch)))) =
        parse_tls_message_handshake(hs)
    else {
        return Progress::Malformed;
    };
    let ciphers = ch.ciphers.iter().map(|c| c.0);
    let mut out = ClientHello {
        fingerprint: Some(HelloKey::new(ch.version.0, ciphers, ch.ext)),
        ..Default::default()
    };
    // Named once, at the end: supported_versions usually overrides the legacy field.
    let mut version = ch.version.0;
    let Some(ext) = ch.ext else {
        out.version = Some(version_name(version));
        return Progress::Hello(out);
    };
    // Only the three extensions read here go through tls-parser, one at a time: parsing the
    // whole block built every extension's lists (key shares, groups, signature algorithms) on
    // the heap, ~4 % of extraction on TLS-dense traffic, to throw them away. tls-parser stops
    // at the first extension it cannot parse; so does this walk for the three it reads, while
    // one it does not read (its framing aside) no longer hides a server name after it.
    let mut rest = ext;
    while let [a, b, c, d, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*c, *d]));
        if tail.len() < len {
            break;
        }
        let (this, next) = rest.split_at(4 + len);
        rest = next;
        if !matches!(u16::from_be_bytes([*a, *b]), 0 | 16 | 43) {
            continue;
        }
        let Ok((_, e)) = parse_tls_client_hello_extension(this) else {
            break;
        };
        match e {
            TlsExtension::SNI(list) => {
                if out.sni.is_none() {
                    out.sni = list
                        .iter()
                        .find(|(t, _)| t.0 == 0)
                        .map(|(_, n)| normalize_name(n));
                }
            }
            TlsExtension::ALPN(list) => {
                // Comma-separated; a comma inside a protocol name is escaped.
                let mut alpn = String::new();
                for (i, p) in list.iter().enumerate() {
                    if i > 0 {
                        alpn.push(',');
                    }
                    let text = escape_text(p);
                    if text.contains(',') {
                        alpn.push_str(&text.replace(',', "\\x2c"));
                    } else {
                        alpn.push_str(&text);
                    }
                }
                out.alpn = Some(alpn);
            }
            TlsExtension::SupportedVersions(vs) => {
                version = best_version(&vs).unwrap_or(version);
            }
            _ => {}
        }
    }
    out.version = Some(version_name(version));
    Progress::Hello(out)
}

/// The highest supported_versions value, GREASE aside.
fn best_version(vs: &[tls_parser::TlsVersion]) -> Option<u16> {
    vs.iter()
        .map(|v| v.0)
        .filter(|v| !is_grease(*v))
        .max_by_key(|v| version_rank(*v))
}

/// Orders versions: drafts of TLS 1.3 (0x7fXX) rank just below TLS 1.3 itself.
fn version_rank(v: u16) -> u32 {
    if v >> 8 == 0x7f {
        0x0303_ff00 + u32::from(v & 0xff)
    } else {
        u32::from(v) << 16
    }
}

/// Text of a protocol version.
pub fn version_name(v: u16) -> String {
    match v {
        0x0002 => "SSL 2.0".into(),
        0x0300 => "SSL 3.0".into(),
        0x0301 => "TLS 1.0".into(),
        0x0302 => "TLS 1.1".into(),
        0x0303 => "TLS 1.2".into(),
        0x0304 => "TLS 1.3".into(),
        v if v >> 8 == 0x7f => format!("TLS 1.3 draft-{}", v & 0xff),
        v => format!("0x{v:04x}"),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A ClientHello with SNI, ALPN, supported_versions (GREASE + 1.3 + 1.2) and a padding
    /// extension of `pad` bytes, wrapped in records of at most `record_max` bytes.
    pub(crate) fn client_hello(sni: &str, pad: usize, record_max: usize) -> Vec<u8> {
        let mut ext = Vec::new();
        let name = sni.as_bytes();
        let mut sni_ext = Vec::new();
        sni_ext.extend_from_slice(&((name.len() + 3) as u16).to_be_bytes());
        sni_ext.push(0);
        sni_ext.extend_from_slice(&(name.len() as u16).to_be_bytes());
        sni_ext.extend_from_slice(name);
        ext.extend_from_slice(&[0, 0]);
        ext.extend_from_slice(&(sni_ext.len() as u16).to_be_bytes());
        ext.extend_from_slice(&sni_ext);
        let alpn = b"\x02h2\x08http/1.1";
        ext.extend_from_slice(&[0, 16]);
        ext.extend_from_slice(&((alpn.len() + 2) as u16).to_be_bytes());
        ext.extend_from_slice(&(alpn.len() as u16).to_be_bytes());
        ext.extend_from_slice(alpn);
        ext.extend_from_slice(&[0, 43, 0, 7, 6, 0x3a, 0x3a, 3, 4, 3, 3]);
        ext.extend_from_slice(&[0, 21]);
        ext.extend_from_slice(&(pad as u16).to_be_bytes());
        ext.extend(std::iter::repeat_n(0u8, pad));
        let mut body = vec![3, 3];
        body.extend_from_slice(&[7u8; 32]);
        body.push(0);
        body.extend_from_slice(&[0, 2, 0x13, 0x01, 1, 0]);
        body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        body.extend_from_slice(&ext);
        let mut hs = vec![1];
        hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        hs.extend_from_slice(&body);
        let mut out = Vec::new();
        for chunk in hs.chunks(record_max) {
            out.extend_from_slice(&[0x16, 3, 1]);
            out.extend_from_slice(&(chunk.len() as u16).to_be_bytes());
            out.extend_from_slice(chunk);
        }
        out
    }

    #[test]
    fn parses_sni_alpn_version() {
        let ch = client_hello("Example.COM", 10, 16384);
        let Progress::Hello(h) = parse_client_hello(&ch) else {
            panic!()
        };
        assert_eq!(h.sni.as_deref(), Some("example.com"));
        assert_eq!(h.alpn.as_deref(), Some("h2,http/1.1"));
        assert_eq!(h.version.as_deref(), Some("TLS 1.3"));
    }

    #[test]
    fn spans_records_and_needs_more_on_every_prefix() {
        let ch = client_hello("big.example", 3000, 1000);
        assert!(matches!(parse_client_hello(&ch), Progress::Hello(_)));
        for cut in 1..ch.len() {
            assert_eq!(
                parse_client_hello(&ch[..cut]),
                Progress::NeedMore,
                "cut {cut}"
            );
        }
        assert_eq!(parse_client_hello(b"GET / HTTP/1.1"), Progress::NotTls);
        assert_eq!(parse_client_hello(&[]), Progress::NotTls);
    }

    #[test]
    fn corrupt_hello_is_malformed() {
        let mut ch = client_hello("x.example", 0, 16384);
        ch[9 + 2 + 32 + 1 + 1] = 0xff; // cipher-suite length
        assert_eq!(parse_client_hello(&ch), Progress::Malformed);
    }

    /// A ClientHello handshake message (no record layer) with these raw extensions.
    fn hello_with(exts: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut ext = Vec::new();
        for (t, data) in exts {
            ext.extend_from_slice(&t.to_be_bytes());
            ext.extend_from_slice(&(data.len() as u16).to_be_bytes());
            ext.extend_from_slice(data);
        }
        let mut body = vec![3, 3];
        body.extend_from_slice(&[7u8; 32]);
        body.extend_from_slice(&[0, 0, 2, 0x13, 0x01, 1, 0]);
        body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        body.extend_from_slice(&ext);
        let mut hs = vec![1];
        hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        hs.extend_from_slice(&body);
        hs
    }

    /// What the three extensions say when tls-parser reads the whole block, as `parse_handshake`
    /// once did: the oracle for the walk that parses only those three.
    fn whole_block(hs: &[u8]) -> Option<(Option<String>, Option<String>, Option<String>)> {
        let Ok((_, TlsMessage::Handshake(TlsMessageHandshake::ClientHello(ch)))) =
            parse_tls_message_handshake(hs)
        else {
            return None;
        };
        let (rest, exts) = tls_parser::parse_tls_client_hello_extensions(ch.ext?).ok()?;
        // Only blocks tls-parser reads to the end: at a malformed extension it stops, where the
        // walk goes on past the ones it does not read.
        if !rest.is_empty() {
            return None;
        }
        let (mut sni, mut alpn, mut version) = (None, None, ch.version.0);
        for e in exts {
            match e {
                TlsExtension::SNI(list) if sni.is_none() => {
                    sni = list
                        .iter()
                        .find(|(t, _)| t.0 == 0)
                        .map(|(_, n)| normalize_name(n));
                }
                TlsExtension::ALPN(list) => {
                    let names: Vec<String> = list
                        .iter()
                        .map(|p| escape_text(p).replace(',', "\\x2c"))
                        .collect();
                    alpn = Some(names.join(","));
                }
                TlsExtension::SupportedVersions(vs) => {
                    version = best_version(&vs).unwrap_or(version);
                }
                _ => {}
            }
        }
        Some((sni, alpn, Some(version_name(version))))
    }

    #[test]
    fn an_extension_not_read_does_not_hide_the_server_name() {
        // supported_groups whose list length overruns it: tls-parser's whole-block parse
        // stopped there and lost the SNI after it.
        let sni = [&[0, 12, 0, 0, 9][..], b"a.example"].concat();
        let hs = hello_with(&[(10, vec![0, 40, 0, 29]), (0, sni)]);
        assert_eq!(whole_block(&hs), None);
        let Progress::Hello(h) = parse_client_hello_message(&hs) else {
            panic!()
        };
        assert_eq!(h.sni.as_deref(), Some("a.example"));
        // A malformed SNI itself still ends the walk.
        let hs = hello_with(&[(0, vec![0, 40, 0]), (16, vec![0, 3, 2, b'h', b'2'])]);
        let Progress::Hello(h) = parse_client_hello_message(&hs) else {
            panic!()
        };
        assert_eq!((h.sni, h.alpn), (None, None));
    }

    fn extension() -> impl proptest::strategy::Strategy<Value = (u16, Vec<u8>)> {
        use proptest::prelude::*;
        let name = proptest::collection::vec(any::<u8>(), 0..20);
        prop_oneof![
            name.clone().prop_map(|n| {
                let mut d = ((n.len() + 3) as u16).to_be_bytes().to_vec();
                d.push(0);
                d.extend_from_slice(&(n.len() as u16).to_be_bytes());
                d.extend_from_slice(&n);
                (0, d)
            }),
            proptest::collection::vec(name, 0..4).prop_map(|ps| {
                let mut l = Vec::new();
                for p in ps {
                    l.push(p.len() as u8);
                    l.extend_from_slice(&p);
                }
                let mut d = (l.len() as u16).to_be_bytes().to_vec();
                d.extend_from_slice(&l);
                (16, d)
            }),
            proptest::collection::vec(any::<u16>(), 0..6).prop_map(|vs| {
                let mut d = vec![(vs.len() * 2) as u8];
                vs.iter()
                    .for_each(|v| d.extend_from_slice(&v.to_be_bytes()));
                (43, d)
            }),
            (
                prop_oneof![
                    Just(0u16),
                    Just(10),
                    Just(13),
                    Just(16),
                    Just(43),
                    Just(51),
                    any::<u16>()
                ],
                proptest::collection::vec(any::<u8>(), 0..24)
            ),
        ]
    }

    proptest::proptest! {
        /// For every hello whose extensions tls-parser reads whole, the walk gives what the
        /// whole-block parse gave.
        #[test]
        fn walk_agrees_with_whole_block(exts in proptest::collection::vec(extension(), 0..8)) {
            let hs = hello_with(&exts);
            if let Some(expected) = whole_block(&hs) {
                let Progress::Hello(h) = parse_client_hello_message(&hs) else {
                    panic!("not a hello")
                };
                proptest::prop_assert_eq!((h.sni, h.alpn, h.version), expected);
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_streams_never_panic(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..3000)) {
            let mut d = data;
            if d.len() > 6 {
                let head = [0x16, 3, 1, d[3], d[4], 1];
                d[..6].copy_from_slice(&head);
            }
            let _ = parse_client_hello(&d);
        }
    }

    #[test]
    fn grease_and_drafts() {
        assert!(is_grease(0x3a3a));
        assert!(!is_grease(0x0303));
        assert_eq!(version_name(0x7f1c), "TLS 1.3 draft-28");
        assert!(version_rank(0x0304) > version_rank(0x7f1c));
        assert!(version_rank(0x7f1c) > version_rank(0x0303));
    }
}
