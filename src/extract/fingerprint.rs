//! TLS client fingerprints of a ClientHello: JA4 (the TLS-client method of FoxIO's JA4+, BSD
//! 3-Clause; the other JA4+ methods are under a non-commercial licence and are not here) and
//! JA3 (Salesforce, BSD 3-Clause), implemented from their specifications.
//!
//! JA4 = `a_b_c`. a: `t` (TCP) or `q` (QUIC); the version (highest non-GREASE value of
//! supported_versions, else the hello's version: `13`, `12`, `11`, `10`, `s3`, `s2`, `d1`–`d3`,
//! else `00`); `d` when an SNI extension is present, else `i`; cipher and extension counts (2
//! digits, GREASE not counted, at most 99); the first and last characters of the first ALPN
//! value (`00` without one; the first and last hex digits of the value when either end byte is
//! not ASCII alphanumeric). b: the ciphers as 4-digit hex, sorted, comma-joined, SHA-256, first
//! 12 hex digits (`000000000000` without ciphers). c: the extensions the same way but without
//! SNI and ALPN, then `_` and the signature algorithms in wire order (no `_` part without them;
//! `000000000000` when no extension is left). `ja4_r` is the same before hashing.
//!
//! JA3 = MD5 of `version,ciphers,extensions,curves,point_formats` in decimal, values joined by
//! `-`, wire order, GREASE removed from ciphers, extensions and curves (`ja3_full` is the
//! string).

use md5::{Digest as _, Md5};
use sha2::Sha256;
use std::sync::Arc;

/// Most values of one list kept (a ClientHello is at most 64 KiB; this only bounds work).
const MAX_VALUES: usize = 4096;

/// The parts of a ClientHello the fingerprints are made of (GREASE still in).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct HelloFields {
    /// The ClientHello's (legacy) version.
    pub version: u16,
    pub ciphers: Vec<u16>,
    /// Extension types in wire order.
    pub extensions: Vec<u16>,
    /// supported_versions (0x002b) values.
    pub supported_versions: Vec<u16>,
    /// signature_algorithms (0x000d) values, wire order.
    pub signature_algorithms: Vec<u16>,
    /// supported_groups (0x000a) values.
    pub groups: Vec<u16>,
    /// ec_point_formats (0x000b) values.
    pub point_formats: Vec<u8>,
    /// First ALPN protocol, raw.
    pub first_alpn: Option<Vec<u8>>,
}

/// The fingerprints of one hello on one transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprints {
    pub ja4: String,
    pub ja4_r: String,
    pub ja3: String,
    pub ja3_full: String,
}

/// GREASE values (RFC 8701): 0x?a?a with both bytes equal.
pub fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && v >> 8 == v & 0xff
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// A list of u16 behind a length prefix of `prefix` bytes (what is there of it when cut).
fn u16_list(b: &[u8], prefix: usize) -> impl Iterator<Item = u16> + '_ {
    let len = match prefix {
        1 => b.first().map(|&l| usize::from(l)),
        _ => be16(b, 0).map(usize::from),
    };
    let body = match len {
        None => &[][..],
        Some(len) => b
            .get(prefix..prefix + len)
            .unwrap_or(&b[b.len().min(prefix)..]),
    };
    body.chunks_exact(2)
        .take(MAX_VALUES)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
}

/// The fields of a ClientHello packed into one vector of u16: what [`FingerprintCache`] is
/// keyed by. Building [`HelloFields`] for every hello (seven vectors) and hashing them cost ~3 %
/// of extraction on TLS-dense traffic, for fingerprints computed once per client stack; the
/// packed key is one allocation and one contiguous hash. Layout: version, then counted lists
/// (a count, then the values) of ciphers, extension types, supported_versions,
/// signature_algorithms, groups and point formats (bytes widened), then 0 without an ALPN
/// extension or 1 and the counted bytes of its first protocol.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HelloKey(Vec<u16>);

impl HelloKey {
    /// From a ClientHello's version, cipher suites and raw extensions block (the bytes after
    /// the extensions length). A cut or malformed extension ends the walk: what came before
    /// it is kept. Of an extension that appears twice, the last one counts.
    pub fn new(
        version: u16,
        ciphers: impl IntoIterator<Item = u16>,
        extensions: Option<&[u8]>,
    ) -> HelloKey {
        let ext = extensions.unwrap_or(&[]);
        let mut k = Vec::with_capacity(24 + ext.len() / 2);
        k.push(version);
        counted(&mut k, ciphers.into_iter().take(MAX_VALUES));
        let types_at = k.len();
        k.push(0);
        let (mut groups, mut formats, mut algorithms, mut versions) = (None, None, None, None);
        let mut alpn: Option<&[u8]> = None;
        let (mut at, mut types) = (0, 0u16);
        while usize::from(types) < MAX_VALUES {
            let (Some(t), Some(len)) = (be16(ext, at), be16(ext, at + 2)) else {
                break;
            };
            let Some(data) = ext.get(at + 4..at + 4 + usize::from(len)) else {
                break;
            };
            at += 4 + usize::from(len);
            k.push(t);
            types += 1;
            match t {
                0x000a => groups = Some(data),
                0x000b => formats = Some(data),
                0x000d => algorithms = Some(data),
                0x002b => versions = Some(data),
                0x0010 => alpn = Some(data),
                _ => {}
            }
        }
        k[types_at] = types;
        counted(&mut k, u16_list(versions.unwrap_or(&[]), 1));
        counted(&mut k, u16_list(algorithms.unwrap_or(&[]), 2));
        counted(&mut k, u16_list(groups.unwrap_or(&[]), 2));
        let formats = formats.unwrap_or(&[]);
        let n = formats.first().map_or(0, |&n| usize::from(n));
        let formats = formats.get(1..1 + n).unwrap_or(&[]);
        counted(&mut k, formats.iter().map(|&b| u16::from(b)));
        // protocol_name_list: u16 length, then u8-length-prefixed names.
        let first = alpn.and_then(|d| {
            let n = d.get(2).map_or(0, |&n| usize::from(n));
            d.get(3..3 + n)
        });
        match first {
            None => k.push(0),
            Some(p) => {
                k.push(1);
                counted(&mut k, p.iter().map(|&b| u16::from(b)));
            }
        }
        HelloKey(k)
    }

    /// The fields again.
    pub fn fields(&self) -> HelloFields {
        let mut r = Unpack(&self.0);
        let version = r.take(1).first().copied().unwrap_or(0);
        let ciphers = r.list().to_vec();
        let extensions = r.list().to_vec();
        let supported_versions = r.list().to_vec();
        let signature_algorithms = r.list().to_vec();
        let groups = r.list().to_vec();
        let bytes = |l: &[u16]| l.iter().map(|&b| b as u8).collect::<Vec<u8>>();
        let point_formats = bytes(r.list());
        let first_alpn = match r.take(1) {
            [1] => Some(bytes(r.list())),
            _ => None,
        };
        HelloFields {
            version,
            ciphers,
            extensions,
            supported_versions,
            signature_algorithms,
            groups,
            point_formats,
            first_alpn,
        }
    }
}

/// Reads a [`HelloKey`] back.
struct Unpack<'a>(&'a [u16]);

impl<'a> Unpack<'a> {
    fn take(&mut self, n: usize) -> &'a [u16] {
        let (a, b) = self.0.split_at(n.min(self.0.len()));
        self.0 = b;
        a
    }

    fn list(&mut self) -> &'a [u16] {
        let n = self.take(1).first().map_or(0, |&n| usize::from(n));
        self.take(n)
    }
}

/// Appends a count (at most [`MAX_VALUES`], so it fits) and then the values.
fn counted(k: &mut Vec<u16>, values: impl Iterator<Item = u16>) {
    let at = k.len();
    k.push(0);
    k.extend(values.take(MAX_VALUES));
    k[at] = (k.len() - at - 1) as u16;
}

impl HelloFields {
    /// From a ClientHello's version, cipher suites and raw extensions block, as
    /// [`HelloKey::new`] reads them.
    pub fn new(version: u16, ciphers: &[u16], extensions: Option<&[u8]>) -> HelloFields {
        HelloKey::new(version, ciphers.iter().copied(), extensions).fields()
    }

    /// The fingerprints on TCP (`quic` false) or QUIC.
    pub fn fingerprints(&self, quic: bool) -> Fingerprints {
        let (ja4, ja4_r) = self.ja4(quic);
        let ja3_full = self.ja3_full();
        let ja3 = hex(&Md5::digest(ja3_full.as_bytes()));
        Fingerprints {
            ja4,
            ja4_r,
            ja3,
            ja3_full,
        }
    }

    fn ja4(&self, quic: bool) -> (String, String) {
        let version = self
            .supported_versions
            .iter()
            .copied()
            .filter(|v| !is_grease(*v))
            .max()
            .unwrap_or(self.version);
        let version = match version {
            0x0304 => "13",
            0x0303 => "12",
            0x0302 => "11",
            0x0301 => "10",
            0x0300 => "s3",
            0x0002 => "s2",
            0xfeff => "d1",
            0xfefd => "d2",
            0xfefc => "d3",
            _ => "00",
        };
        let mut ciphers: Vec<u16> = self
            .ciphers
            .iter()
            .copied()
            .filter(|c| !is_grease(*c))
            .collect();
        let exts: Vec<u16> = self
            .extensions
            .iter()
            .copied()
            .filter(|e| !is_grease(*e))
            .collect();
        let sni = if exts.contains(&0x0000) { 'd' } else { 'i' };
        let mut a = String::with_capacity(10);
        a.push(if quic { 'q' } else { 't' });
        a.push_str(version);
        a.push(sni);
        push_two_digits(&mut a, ciphers.len().min(99));
        push_two_digits(&mut a, exts.len().min(99));
        match self.first_alpn.as_deref() {
            Some(v) if !v.is_empty() => {
                let (first, last) = (&v[0], &v[v.len() - 1]);
                if first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric() {
                    a.push(char::from(*first));
                    a.push(char::from(*last));
                } else {
                    // The first character of the first byte's hex, the last of the last's.
                    a.push(char::from(HEX[usize::from(first >> 4)]));
                    a.push(char::from(HEX[usize::from(last & 0x0f)]));
                }
            }
            _ => a.push_str("00"),
        }
        ciphers.sort_unstable();
        let mut b_raw = String::with_capacity(ciphers.len() * 5);
        push_hex_list(&mut b_raw, &ciphers);
        let mut sorted_exts: Vec<u16> = exts
            .into_iter()
            .filter(|e| *e != 0x0000 && *e != 0x0010)
            .collect();
        sorted_exts.sort_unstable();
        let sigs: Vec<u16> = self
            .signature_algorithms
            .iter()
            .copied()
            .filter(|s| !is_grease(*s))
            .collect();
        let mut c_raw = String::with_capacity((sorted_exts.len() + sigs.len() + 1) * 5);
        push_hex_list(&mut c_raw, &sorted_exts);
        if !sigs.is_empty() {
            c_raw.push('_');
            push_hex_list(&mut c_raw, &sigs);
        }
        let b_hash = if ciphers.is_empty() {
            "000000000000".to_string()
        } else {
            sha12(&b_raw)
        };
        let c_hash = if sorted_exts.is_empty() {
            "000000000000".to_string()
        } else {
            sha12(&c_raw)
        };
        let ja4 = [a.as_str(), &b_hash, &c_hash].join("_");
        let ja4_r = [a.as_str(), &b_raw, &c_raw].join("_");
        (ja4, ja4_r)
    }

    fn ja3_full(&self) -> String {
        let mut s = String::with_capacity(
            8 + 6 * (self.ciphers.len() + self.extensions.len() + self.groups.len())
                + 4 * self.point_formats.len(),
        );
        push_dec(&mut s, self.version);
        s.push(',');
        push_dec_list(
            &mut s,
            self.ciphers.iter().copied().filter(|c| !is_grease(*c)),
        );
        s.push(',');
        push_dec_list(
            &mut s,
            self.extensions.iter().copied().filter(|c| !is_grease(*c)),
        );
        s.push(',');
        push_dec_list(
            &mut s,
            self.groups.iter().copied().filter(|c| !is_grease(*c)),
        );
        s.push(',');
        push_dec_list(&mut s, self.point_formats.iter().map(|&p| u16::from(p)));
        s
    }
}

/// Most client stacks remembered per capture by [`FingerprintCache`].
const MAX_CACHED: usize = 256;

/// Fingerprints of the client hellos a capture has already seen: a device sends the same
/// hello fields (its TLS stack) again and again, so the hashes and strings are computed once
/// per stack and shared by every row. Bounded: forgotten wholesale when full.
#[derive(Default)]
pub struct FingerprintCache {
    seen: foldhash::HashMap<(bool, HelloKey), Arc<Fingerprints>>,
}

impl FingerprintCache {
    pub fn get(&mut self, hello: HelloKey, quic: bool) -> Arc<Fingerprints> {
        let key = (quic, hello);
        if let Some(f) = self.seen.get(&key) {
            return Arc::clone(f);
        }
        let f = Arc::new(key.1.fields().fingerprints(quic));
        if self.seen.len() >= MAX_CACHED {
            self.seen.clear();
        }
        self.seen.insert(key, Arc::clone(&f));
        f
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn push_two_digits(s: &mut String, n: usize) {
    s.push(char::from(b'0' + (n / 10 % 10) as u8));
    s.push(char::from(b'0' + (n % 10) as u8));
}

/// `v` as four lower-case hex digits each, comma-separated.
fn push_hex_list(s: &mut String, v: &[u16]) {
    for (i, x) in v.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        for shift in [12u16, 8, 4, 0] {
            s.push(char::from(HEX[usize::from((x >> shift) & 0x0f)]));
        }
    }
}

fn push_dec(s: &mut String, v: u16) {
    let mut digits = [0u8; 5];
    let mut n = v;
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[i..] {
        s.push(char::from(d));
    }
}

/// `v` in decimal, dash-separated.
fn push_dec_list(s: &mut String, v: impl Iterator<Item = u16>) {
    for (i, x) in v.enumerate() {
        if i > 0 {
            s.push('-');
        }
        push_dec(s, x);
    }
}

fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        s.push(char::from(HEX[usize::from(x >> 4)]));
        s.push(char::from(HEX[usize::from(x & 0x0f)]));
    }
    s
}

fn sha12(s: &str) -> String {
    let digest = Sha256::digest(s.as_bytes());
    let mut h = hex(&digest[..6]);
    h.truncate(12);
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hexes(s: &str) -> Vec<u16> {
        s.split(',')
            .filter(|x| !x.is_empty())
            .map(|x| u16::from_str_radix(x, 16).unwrap())
            .collect()
    }

    fn ext(t: u16, data: &[u8]) -> Vec<u8> {
        let mut v = t.to_be_bytes().to_vec();
        v.extend_from_slice(&(data.len() as u16).to_be_bytes());
        v.extend_from_slice(data);
        v
    }

    fn list16(prefix: usize, vals: &[u16]) -> Vec<u8> {
        let body: Vec<u8> = vals.iter().flat_map(|v| v.to_be_bytes()).collect();
        let mut out = if prefix == 1 {
            vec![body.len() as u8]
        } else {
            (body.len() as u16).to_be_bytes().to_vec()
        };
        out.extend_from_slice(&body);
        out
    }

    /// A Chrome ClientHello as published with its JA4 (the JA4 README's example client, seen
    /// by a fingerprinting service): ciphers and extensions in wire order from its `ja4_ro`,
    /// curves and point formats from its JA3 string; GREASE added where Chrome puts it.
    fn chrome() -> HelloFields {
        chrome_key().fields()
    }

    fn chrome_key() -> HelloKey {
        let ciphers = hexes(
            "2a2a,1301,1302,1303,c02b,c02f,c02c,c030,cca9,cca8,c013,c014,009c,009d,002f,0035",
        );
        let order = hexes(
            "1a1a,002d,0033,0010,fe0d,0017,44cd,0000,000b,000a,002b,ff01,0023,0012,0005,000d,001b,3a3a",
        );
        let mut raw = Vec::new();
        for t in order {
            let data = match t {
                0x0010 => {
                    let mut d = vec![0, 12, 2];
                    d.extend_from_slice(b"h2");
                    d.push(8);
                    d.extend_from_slice(b"http/1.1");
                    d
                }
                0x000a => list16(2, &[0x4a4a, 4588, 29, 23, 24]),
                0x000b => vec![1, 0],
                0x000d => list16(2, &hexes("0403,0804,0401,0503,0805,0501,0806,0601")),
                0x002b => list16(1, &[0x6a6a, 0x0304, 0x0303]),
                0x0000 => {
                    let name = b"tls.browserleaks.com";
                    let mut d = ((name.len() + 3) as u16).to_be_bytes().to_vec();
                    d.push(0);
                    d.extend_from_slice(&(name.len() as u16).to_be_bytes());
                    d.extend_from_slice(name);
                    d
                }
                _ => vec![],
            };
            raw.extend(ext(t, &data));
        }
        HelloKey::new(0x0303, ciphers, Some(&raw))
    }

    /// The worked example of the JA4 specification (technical_details/JA4.md): its cipher and
    /// extension lists (plus SNI and ALPN, which it counts) in a shuffled wire order with
    /// GREASE, and its signature algorithms.
    #[test]
    fn ja4_of_the_specification_worked_example() {
        let ciphers = hexes(
            "0a0a,1301,1302,1303,c02b,c02f,c02c,c030,cca9,cca8,c013,c014,009c,009d,002f,0035",
        );
        let order = hexes(
            "2a2a,0000,0017,ff01,000a,000b,0023,0010,0005,000d,0012,0033,002d,002b,001b,4469,0015,fafa",
        );
        let mut raw = Vec::new();
        for t in order {
            let data = match t {
                0x0010 => {
                    let mut d = vec![0, 3, 2];
                    d.extend_from_slice(b"h2");
                    d
                }
                0x000d => list16(2, &hexes("0403,0804,0401,0503,0805,0501,0806,0601")),
                0x002b => list16(1, &[0x7a7a, 0x0304, 0x0303]),
                0x0000 => {
                    let name = b"example.org";
                    let mut d = ((name.len() + 3) as u16).to_be_bytes().to_vec();
                    d.push(0);
                    d.extend_from_slice(&(name.len() as u16).to_be_bytes());
                    d.extend_from_slice(name);
                    d
                }
                _ => vec![],
            };
            raw.extend(ext(t, &data));
        }
        let f = HelloFields::new(0x0303, &ciphers, Some(&raw)).fingerprints(false);
        assert_eq!(f.ja4, "t13d1516h2_8daaf6152771_e5627efa2ab1");
        assert_eq!(
            f.ja4_r,
            "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_0403,0804,0401,0503,0805,0501,0806,0601"
        );
    }

    #[test]
    fn ja4_and_ja3_of_the_published_example() {
        let f = chrome().fingerprints(false);
        assert_eq!(
            f.ja4_r,
            "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_0005,000a,000b,000d,0012,0017,001b,0023,002b,002d,0033,44cd,fe0d,ff01_0403,0804,0401,0503,0805,0501,0806,0601"
        );
        assert_eq!(f.ja4, "t13d1516h2_8daaf6152771_d8a2da3f94cd");
        assert_eq!(
            f.ja3_full,
            "771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,45-51-16-65037-23-17613-0-11-10-43-65281-35-18-5-13-27,4588-29-23-24,0"
        );
        assert_eq!(f.ja3, "98487aa16281980e7d1120d399efb6a4");
        let q = chrome().fingerprints(true);
        assert!(q.ja4.starts_with("q13d1516h2_8daaf6152771_"));
    }

    #[test]
    fn ja4_spec_rules() {
        // The spec's first section: a raw string and its hash (ciphers part).
        let mut f = chrome();
        // No ALPN, no SNI, no signature algorithms, TLS 1.2 only.
        f.first_alpn = None;
        f.extensions
            .retain(|e| ![0x0000, 0x0010, 0x000d, 0x002b].contains(e));
        f.signature_algorithms.clear();
        f.supported_versions.clear();
        let p = f.fingerprints(false);
        assert!(p.ja4.starts_with("t12i151200_8daaf6152771_"), "{}", p.ja4);
        assert!(!p.ja4_r.ends_with('_'));
        assert_eq!(p.ja4_r.matches('_').count(), 2, "no signature part");
        // Non-alphanumeric ALPN ends: hex digits of the value.
        f.first_alpn = Some(vec![0xab, b'x', 0xcd]);
        assert!(f.fingerprints(false).ja4.starts_with("t12i1512ad_"));
        f.first_alpn = Some(b"h".to_vec());
        assert!(f.fingerprints(false).ja4.starts_with("t12i1512hh_"));
        // Nothing at all: zero hashes.
        let empty = HelloFields::new(0x0301, &[], None);
        let e = empty.fingerprints(false);
        assert_eq!(e.ja4, "t10i000000_000000000000_000000000000");
        assert_eq!(e.ja3_full, "769,,,,");
        // Counts cap at 99.
        let many: Vec<u16> = (1..=150).collect();
        assert!(HelloFields::new(0x0303, &many, None)
            .fingerprints(false)
            .ja4
            .starts_with("t12i9900"));
    }

    #[test]
    fn grease_values() {
        for g in [0x0a0a, 0x1a1a, 0xfafa] {
            assert!(is_grease(g));
        }
        for v in [0x0a1a, 0x0303, 0x1301, 0xaaaa] {
            assert_eq!(is_grease(v), v == 0xaaaa, "{v:x}");
        }
    }

    #[test]
    fn the_cache_shares_one_stack_and_stays_bounded() {
        let mut cache = FingerprintCache::default();
        let a = cache.get(chrome_key(), false);
        let b = cache.get(chrome_key(), false);
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(*a, chrome().fingerprints(false));
        // The same fields over QUIC are another stack.
        let q = cache.get(chrome_key(), true);
        assert!(q.ja4.starts_with('q') && a.ja4.starts_with('t'));
        for v in 0..(MAX_CACHED as u16 * 2) {
            let k = HelloKey::new(v, [], None);
            let got = cache.get(k.clone(), false);
            assert_eq!(*got, k.fields().fingerprints(false));
            assert!(cache.seen.len() <= MAX_CACHED);
        }
    }

    #[test]
    fn decimal_and_hex_writers() {
        for v in [0u16, 7, 10, 99, 771, 4865, 65535] {
            let mut s = String::new();
            push_dec(&mut s, v);
            assert_eq!(s, v.to_string());
        }
        let mut s = String::new();
        push_hex_list(&mut s, &[0x0001, 0xc02b, 0xffff]);
        assert_eq!(s, "0001,c02b,ffff");
        assert_eq!(hex(&[0x00, 0x9f, 0xa0]), "009fa0");
        // A non-alphanumeric ALPN: the outer hex digits of the value.
        let f = HelloFields {
            version: 0x0303,
            first_alpn: Some(vec![0xab, 0x01]),
            ..Default::default()
        };
        assert!(f.fingerprints(false).ja4.starts_with("t12i0000a1_"));
        let one = HelloFields {
            first_alpn: Some(vec![b'x']),
            ..f
        };
        assert!(one.fingerprints(false).ja4.starts_with("t12i0000xx_"));
    }

    #[test]
    fn truncated_extension_blocks_keep_what_came_before() {
        let mut raw = ext(0x0000, &[0, 3, 0, 0, 0]);
        raw.extend(ext(0x000b, &[1, 0]));
        let whole = HelloFields::new(0x0303, &[0x1301], Some(&raw));
        assert_eq!(whole.extensions, vec![0x0000, 0x000b]);
        for cut in 0..raw.len() {
            let f = HelloFields::new(0x0303, &[0x1301], Some(&raw[..cut]));
            assert!(f.extensions.len() <= 2);
            let _ = f.fingerprints(cut % 2 == 0);
        }
    }

    /// The fields read straight into their vectors, as before the packed key: the oracle of
    /// `HelloKey::new` + `fields`.
    fn fields_directly(version: u16, ciphers: &[u16], ext: &[u8]) -> HelloFields {
        let list = |b: &[u8], prefix: usize| u16_list(b, prefix).collect::<Vec<u16>>();
        let mut f = HelloFields {
            version,
            ciphers: ciphers.iter().copied().take(MAX_VALUES).collect(),
            ..Default::default()
        };
        let mut at = 0;
        while f.extensions.len() < MAX_VALUES {
            let (Some(t), Some(len)) = (be16(ext, at), be16(ext, at + 2)) else {
                break;
            };
            let Some(data) = ext.get(at + 4..at + 4 + usize::from(len)) else {
                break;
            };
            at += 4 + usize::from(len);
            f.extensions.push(t);
            match t {
                0x000a => f.groups = list(data, 2),
                0x000b => {
                    let n = data.first().map_or(0, |&n| usize::from(n));
                    f.point_formats = data.get(1..1 + n).unwrap_or(&[]).to_vec();
                }
                0x000d => f.signature_algorithms = list(data, 2),
                0x002b => f.supported_versions = list(data, 1),
                0x0010 => {
                    let n = data.get(2).map_or(0, |&n| usize::from(n));
                    f.first_alpn = data.get(3..3 + n).map(<[u8]>::to_vec);
                }
                _ => {}
            }
        }
        f
    }

    fn extension_block() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        let one = (
            prop_oneof![
                Just(0x000au16),
                Just(0x000b),
                Just(0x000d),
                Just(0x002b),
                Just(0x0010),
                Just(0x0a0a),
                any::<u16>()
            ],
            proptest::collection::vec(any::<u8>(), 0..16),
            any::<bool>(),
        )
            .prop_map(|(t, data, well_formed)| {
                // Mostly list lengths that fit the data, sometimes whatever the bytes say.
                let mut body = data.clone();
                if well_formed {
                    body = match t {
                        0x002b | 0x000b => [&[data.len() as u8][..], &data].concat(),
                        0x0010 => {
                            let inner = [&[data.len() as u8][..], &data].concat();
                            [&(inner.len() as u16).to_be_bytes()[..], &inner].concat()
                        }
                        _ => [&(data.len() as u16).to_be_bytes()[..], &data].concat(),
                    };
                }
                [
                    &t.to_be_bytes()[..],
                    &(body.len() as u16).to_be_bytes(),
                    &body,
                ]
                .concat()
            });
        (proptest::collection::vec(one, 0..10), 0usize..4).prop_map(|(exts, cut)| {
            let mut b = exts.concat();
            b.truncate(b.len().saturating_sub(cut));
            b
        })
    }

    proptest::proptest! {
        #[test]
        fn packed_key_gives_the_fields_read_directly(
            ext in extension_block(),
            ciphers in proptest::collection::vec(proptest::prelude::any::<u16>(), 0..8),
        ) {
            let direct = fields_directly(0x0303, &ciphers, &ext);
            proptest::prop_assert_eq!(HelloFields::new(0x0303, &ciphers, Some(&ext)), direct);
        }

        #[test]
        fn arbitrary_extension_bytes_never_panic(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let f = HelloFields::new(0x0303, &[0x1301, 0x0a0a], Some(&data));
            let _ = f.fingerprints(false);
        }
    }
}
