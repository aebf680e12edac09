//! Name normalisation shared by every extractor: lower-case ASCII, no trailing dot, bytes that
//! are not printable ASCII escaped as `\xNN`, so every name is valid UTF-8 and deterministic.

/// Longest name kept (DNS names are at most 255 bytes on the wire; escaping can quadruple).
pub const MAX_NAME: usize = 1024;

/// Appends one label's bytes, escaped, to `out`.
pub fn push_escaped(out: &mut String, bytes: &[u8], escape_dot: bool) {
    // Fast path: a label of plain printable ASCII (nearly all of them) is copied lower-cased in
    // one pass; the first other byte sends the whole label to the byte-by-byte form.
    let plain = |b: u8| matches!(b, 0x21..=0x7e) && b != b'\\' && !(escape_dot && b == b'.');
    if out.len() + bytes.len() <= MAX_NAME {
        let start = out.len();
        out.reserve(bytes.len());
        for &b in bytes {
            if !plain(b) {
                out.truncate(start);
                push_escaped_each(out, bytes, escape_dot);
                return;
            }
            out.push(char::from(b.to_ascii_lowercase()));
        }
        return;
    }
    push_escaped_each(out, bytes, escape_dot);
}

/// Byte-by-byte form of [`push_escaped`] (also its reference in tests).
fn push_escaped_each(out: &mut String, bytes: &[u8], escape_dot: bool) {
    for &b in bytes {
        if out.len() >= MAX_NAME {
            return;
        }
        match b {
            b'.' if escape_dot => out.push_str("\\x2e"),
            b'\\' => out.push_str("\\x5c"),
            0x21..=0x7e => out.push(b.to_ascii_lowercase() as char),
            _ => {
                use std::fmt::Write;
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
}

/// Normalises a dotted name given as raw bytes (SNI, Host header).
pub fn normalize_name(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    let trimmed = bytes.strip_suffix(b".").unwrap_or(bytes);
    push_escaped(&mut out, trimmed, false);
    out
}

/// Normalises a DNS name given as its labels; the root is `.`.
pub fn normalize_labels<'a>(labels: impl Iterator<Item = &'a [u8]>) -> String {
    let mut out = String::new();
    for (i, label) in labels.enumerate() {
        if i > 0 {
            out.push('.');
        }
        push_escaped(&mut out, label, true);
    }
    if out.is_empty() {
        out.push('.');
    }
    out
}

/// The dotted-quad text of an IPv4 address, as `Display` writes it, into `buf` without the
/// formatting machinery (every A record and every IPv4 address column goes through here).
pub fn ipv4_text(octets: [u8; 4], buf: &mut [u8; 15]) -> &str {
    let mut n = 0;
    for (i, o) in octets.into_iter().enumerate() {
        if i > 0 {
            buf[n] = b'.';
            n += 1;
        }
        if o >= 100 {
            buf[n] = b'0' + o / 100;
            n += 1;
        }
        if o >= 10 {
            buf[n] = b'0' + (o / 10) % 10;
            n += 1;
        }
        buf[n] = b'0' + o % 10;
        n += 1;
    }
    // Digits and dots only: always UTF-8.
    std::str::from_utf8(&buf[..n]).unwrap_or_default()
}

/// The text of an IPv6 address, as `Display` writes it (RFC 5952: lower-case hex without
/// leading zeros, the first longest run of two or more zero groups as `::`, an IPv4-mapped
/// address as `::ffff:a.b.c.d`), into `buf` without the formatting machinery (every AAAA
/// record and IPv6 address column goes through here; `Display` was ~4 % of extracting a
/// DNS-dense capture).
pub fn ipv6_text(octets: [u8; 16], buf: &mut [u8; 39]) -> &str {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut groups = [0u16; 8];
    for (g, pair) in groups.iter_mut().zip(octets.chunks_exact(2)) {
        *g = u16::from(pair[0]) << 8 | u16::from(pair[1]);
    }
    let mut n = 0;
    if groups[..5] == [0; 5] && groups[5] == 0xffff {
        buf[..7].copy_from_slice(b"::ffff:");
        let mut quad = [0; 15];
        let v4 = ipv4_text([octets[12], octets[13], octets[14], octets[15]], &mut quad);
        buf[7..7 + v4.len()].copy_from_slice(v4.as_bytes());
        n = 7 + v4.len();
    } else {
        // The first longest run of zero groups (a later run must be longer to win).
        let (mut best, mut best_len, mut run) = (0, 0, 0);
        for (i, &g) in groups.iter().enumerate() {
            run = if g == 0 { run + 1 } else { 0 };
            if run > best_len {
                best_len = run;
                best = i + 1 - run;
            }
        }
        let mut i = 0;
        while i < 8 {
            if best_len > 1 && i == best {
                buf[n..n + 2].copy_from_slice(b"::");
                n += 2;
                i += best_len;
                continue;
            }
            if i > 0 && !(best_len > 1 && i == best + best_len) {
                buf[n] = b':';
                n += 1;
            }
            let g = groups[i];
            let digits = (16 - g.leading_zeros() as usize).div_ceil(4).max(1);
            for d in (0..digits).rev() {
                buf[n] = HEX[usize::from(g >> (4 * d) & 0xf)];
                n += 1;
            }
            i += 1;
        }
    }
    // Hex digits, colons and dots only: always UTF-8.
    std::str::from_utf8(&buf[..n]).unwrap_or_default()
}

/// Escapes free text (e.g. an unknown record's presentation form), without lower-casing.
pub fn escape_text(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if out.len() >= MAX_NAME {
            break;
        }
        match b {
            b'\\' => out.push_str("\\x5c"),
            0x20..=0x7e => out.push(b as char),
            _ => {
                use std::fmt::Write;
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn fast_path_matches_bytewise(
            prefix in proptest::collection::vec(any::<u8>(), 0..1100),
            label in proptest::collection::vec(prop_oneof![any::<u8>(), 0x21u8..0x7f], 0..80),
            dot in any::<bool>(),
        ) {
            let mut start = String::new();
            push_escaped_each(&mut start, &prefix, false);
            let (mut a, mut b) = (start.clone(), start);
            push_escaped(&mut a, &label, dot);
            push_escaped_each(&mut b, &label, dot);
            prop_assert_eq!(a, b);
        }

        #[test]
        fn ipv6_text_is_display(
            // Groups that are often zero (runs to compress), sometimes 0xffff (mapped
            // addresses), else anything.
            groups in proptest::array::uniform8(prop_oneof![
                3 => Just(0u16), 1 => Just(0xffff_u16), 1 => 0u16..0x10, 3 => any::<u16>(),
            ]),
            octets in any::<[u8; 16]>(),
        ) {
            let mut buf = [0; 39];
            let ip = std::net::Ipv6Addr::from(groups);
            prop_assert_eq!(ipv6_text(ip.octets(), &mut buf), ip.to_string());
            let ip = std::net::Ipv6Addr::from(octets);
            prop_assert_eq!(ipv6_text(octets, &mut buf), ip.to_string());
        }

        #[test]
        fn ipv4_text_is_display(octets in any::<[u8; 4]>()) {
            let ip = std::net::Ipv4Addr::from(octets);
            let mut buf = [0; 15];
            prop_assert_eq!(ipv4_text(octets, &mut buf), ip.to_string());
        }
    }

    use super::*;

    #[test]
    fn normalises() {
        assert_eq!(normalize_name(b"WWW.Example.COM."), "www.example.com");
        assert_eq!(normalize_name(b"a\x00b\xffc"), "a\\x00b\\xffc");
        assert_eq!(
            normalize_labels([&b"A.b"[..], b"C"].into_iter()),
            "a\\x2eb.c"
        );
        assert_eq!(normalize_labels(std::iter::empty()), ".");
        assert_eq!(escape_text(b"Hi\\\n"), "Hi\\x5c\\x0a");
        assert!(normalize_name(&[0u8; 5000]).len() <= MAX_NAME + 4);
    }
}
