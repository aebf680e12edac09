//! QUIC client Initial packets (RFC 9000/9001; v2, RFC 9369; drafts 23–32): derive the Initial
//! keys from the destination connection ID, remove header protection, decrypt (RustCrypto's
//! AES-128-GCM — no hand-written cryptography), walk the frames and return the CRYPTO data.
//! The caller gathers CRYPTO data across packets (out of order, capped) and parses the TLS
//! ClientHello it carries. Coalesced packets in one datagram are all looked at; Retry and
//! server packets simply fail authentication or are skipped.
//!
//! Also: Google's QUIC versions with Initial protection, each with its own salt — Q050, T050
//! and T051 (transport version 50: Google frame types, CRYPTO frames of type 0x08; Q050's
//! crypto stream carries a QUIC-crypto CHLO, T050/T051's a TLS ClientHello) —
//! Facebook mvfst's versions (0xfaceb001 on the draft-22 salt, 0xfaceb003 on v1's, the others
//! on draft-23's, as mvfst derives them), and, through `gquic.rs`, the plaintext CHLO packets
//! of gQUIC up to Q046.

use aes::cipher::{BlockEncrypt, KeyInit};
use aes::Aes128;
use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes128Gcm, Nonce, Tag};
use hkdf::Hkdf;
use sha2::Sha256;

use super::gquic::{gquic_number, plaintext_chlo_packet};

/// Most CRYPTO bytes gathered per connection.
pub const MAX_CRYPTO: usize = 64 * 1024;
/// Longest connection ID (RFC 9000 §17.2).
const MAX_CID: usize = 20;

/// A QUIC version this module can decrypt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version {
    pub wire: u32,
    salt: [u8; 20],
    v2: bool,
    /// Q050, T050 and T051 (transport version 50): Google frame types, CRYPTO is 0x08.
    google_frames: bool,
    /// Q050: the crypto stream carries a QUIC-crypto CHLO instead of a TLS ClientHello.
    google_crypto: bool,
}

const SALT_V1: [u8; 20] = hex20("38762cf7f55934b34d179ae6a4c80cadccbb7f0a");
const SALT_V2: [u8; 20] = hex20("0dede3def700a6db819381be6e269dcbf9bd2ed9");
const SALT_D29: [u8; 20] = hex20("afbfec289993d24c9e9786f19c6111e04390a899");
const SALT_D23: [u8; 20] = hex20("c3eef712c72ebb5a11a7d2432bb46365bef9f502");
const SALT_D22: [u8; 20] = hex20("7fbcdb0e7c66bbe9193a96cd21519ebd7a02644a");
const SALT_Q050: [u8; 20] = hex20("504574efd066fe2f9d945cfcdbd3a7f0d3b56b45");
const SALT_T050: [u8; 20] = hex20("7ff579e5acd072915580304c43a2367c60488310");
const SALT_T051: [u8; 20] = hex20("7a4edef4e7ccee5fa4506c19124fc8ccda6e033d");

const fn hex20(s: &str) -> [u8; 20] {
    let b = s.as_bytes();
    let mut out = [0u8; 20];
    let mut i = 0;
    while i < 20 {
        let hi = (b[2 * i] as char).to_digit(16);
        let lo = (b[2 * i + 1] as char).to_digit(16);
        out[i] = match (hi, lo) {
            (Some(h), Some(l)) => (h * 16 + l) as u8,
            _ => 0,
        };
        i += 1;
    }
    out
}

/// The version with this wire number, if known.
pub fn version(wire: u32) -> Option<Version> {
    let (salt, v2) = match wire {
        0x0000_0001 | 0xface_b003 => (SALT_V1, false),
        0x6b33_43cf => (SALT_V2, true),
        0xff00_001d..=0xff00_0020 => (SALT_D29, false),
        0xff00_0017..=0xff00_001c => (SALT_D23, false),
        0xff00_0016 | 0xface_b001 => (SALT_D22, false),
        0xface_b002 | 0xface_b00e | 0xface_b010 | 0xface_b011 | 0xface_b013 => (SALT_D23, false),
        GQUIC_Q050 => (SALT_Q050, false),
        GQUIC_T050 => (SALT_T050, false),
        GQUIC_T051 => (SALT_T051, false),
        _ => return None,
    };
    Some(Version {
        wire,
        salt,
        v2,
        google_frames: matches!(wire, GQUIC_Q050 | GQUIC_T050 | GQUIC_T051),
        google_crypto: wire == GQUIC_Q050,
    })
}

const GQUIC_Q050: u32 = u32::from_be_bytes(*b"Q050");
const GQUIC_T050: u32 = u32::from_be_bytes(*b"T050");
const GQUIC_T051: u32 = u32::from_be_bytes(*b"T051");

/// Text of a version (`v1`, `v2`, `draft-29`, `Q050`, `mvfst-faceb002`).
pub fn version_name(wire: u32) -> String {
    let b = wire.to_be_bytes();
    match wire {
        1 => "v1".into(),
        0x6b33_43cf => "v2".into(),
        w if w >> 8 == 0xff_0000 => format!("draft-{}", w & 0xff),
        w if w >> 12 == 0xfaceb => format!("mvfst-{w:08x}"),
        _ if (b[0] == b'Q' || b[0] == b'T') && b[1..].iter().all(u8::is_ascii_digit) => {
            String::from_utf8_lossy(&b).into_owned()
        }
        w => format!("0x{w:08x}"),
    }
}

/// Reads a QUIC variable-length integer.
pub fn varint(b: &[u8], at: &mut usize) -> Option<u64> {
    let first = *b.get(*at)?;
    let len = 1usize << (first >> 6);
    let bytes = b.get(*at..*at + len)?;
    let mut v = u64::from(first & 0x3f);
    for &x in &bytes[1..] {
        v = (v << 8) | u64::from(x);
    }
    *at += len;
    Some(v)
}

fn expand_label(secret: &[u8], label: &str, len: usize) -> Option<Vec<u8>> {
    let hk = Hkdf::<Sha256>::from_prk(secret).ok()?;
    let full = format!("tls13 {label}");
    let mut info = Vec::with_capacity(4 + full.len());
    info.extend_from_slice(&(len as u16).to_be_bytes());
    info.push(full.len() as u8);
    info.extend_from_slice(full.as_bytes());
    info.push(0);
    let mut out = vec![0u8; len];
    hk.expand(&info, &mut out).ok()?;
    Some(out)
}

/// Client Initial key material for a destination connection ID.
struct Keys {
    aead: Aes128Gcm,
    iv: [u8; 12],
    hp: Aes128,
}

fn client_keys(v: Version, dcid: &[u8]) -> Option<Keys> {
    let (initial, _) = Hkdf::<Sha256>::extract(Some(&v.salt), dcid);
    let client = expand_label(&initial, "client in", 32)?;
    let (k, iv, hp) = if v.v2 {
        ("quicv2 key", "quicv2 iv", "quicv2 hp")
    } else {
        ("quic key", "quic iv", "quic hp")
    };
    let key = expand_label(&client, k, 16)?;
    let iv = expand_label(&client, iv, 12)?;
    let hp = expand_label(&client, hp, 16)?;
    Some(Keys {
        aead: Aes128Gcm::new_from_slice(&key).ok()?,
        iv: iv.try_into().ok()?,
        hp: Aes128::new_from_slice(&hp).ok()?,
    })
}

/// One decrypted client Initial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Initial {
    pub version: u32,
    /// The crypto stream carries a gQUIC CHLO (Q050 and plaintext gQUIC), not TLS.
    pub chlo: bool,
    pub dcid: Vec<u8>,
    /// CRYPTO frames: (offset, data).
    pub crypto: Vec<(u64, Vec<u8>)>,
}

/// True when the datagram starts like a long-header packet of a version we know, or like a
/// gQUIC client packet carrying its version.
pub fn looks_like_long_header(d: &[u8]) -> bool {
    if d.len() < 7 {
        return false;
    }
    if d[0] & 0xc0 == 0xc0 && version(u32::from_be_bytes([d[1], d[2], d[3], d[4]])).is_some() {
        return true;
    }
    let gq = |at: usize| {
        d.get(at..at + 4)
            .and_then(|v| gquic_number(v.try_into().ok()?))
            .is_some()
    };
    (d[0] & 0x80 != 0 && gq(1)) || (d[0] & 0x89 == 0x09 && gq(9))
}

/// Decrypts every client Initial packet in a datagram (or takes the plaintext one of gQUIC).
pub fn client_initials(datagram: &[u8]) -> Vec<Initial> {
    if let Some((dcid, crypto)) = plaintext_chlo_packet(datagram) {
        let version = datagram
            .get(1..5)
            .filter(|_| datagram[0] & 0x80 != 0)
            .or_else(|| datagram.get(9..13))
            .map_or(0, |v| u32::from_be_bytes([v[0], v[1], v[2], v[3]]));
        return vec![Initial {
            version,
            chlo: true,
            dcid,
            crypto,
        }];
    }
    let mut out = Vec::new();
    let mut rest = datagram;
    // Coalesced packets: each long-header packet says its length.
    for _ in 0..8 {
        if rest.len() < 7 || rest[0] & 0x80 == 0 {
            break;
        }
        match one_packet(rest) {
            Some((initial, used)) => {
                if let Some(i) = initial {
                    out.push(i);
                }
                if used == 0 || used > rest.len() {
                    break;
                }
                rest = &rest[used..];
            }
            None => break,
        }
    }
    out
}

/// Parses one long-header packet; returns the Initial (if it is a client Initial that
/// decrypts) and the bytes the packet takes.
fn one_packet(p: &[u8]) -> Option<(Option<Initial>, usize)> {
    let wire = u32::from_be_bytes([*p.get(1)?, *p.get(2)?, *p.get(3)?, *p.get(4)?]);
    let v = version(wire)?;
    let ptype = (p[0] >> 4) & 3;
    let initial_type = if v.v2 { 1 } else { 0 };
    let retry_type = if v.v2 { 0 } else { 3 };
    let mut at = 5;
    let dcid_len = *p.get(at)? as usize;
    if dcid_len > MAX_CID {
        return None;
    }
    let dcid = p.get(at + 1..at + 1 + dcid_len)?.to_vec();
    at += 1 + dcid_len;
    let scid_len = *p.get(at)? as usize;
    if scid_len > MAX_CID {
        return None;
    }
    at += 1 + scid_len;
    if ptype == retry_type {
        // A Retry runs to the end of the datagram and carries no CRYPTO data.
        return Some((None, p.len()));
    }
    if ptype == initial_type {
        let token_len = varint(p, &mut at)? as usize;
        at = at.checked_add(token_len)?;
    }
    let length = varint(p, &mut at)? as usize;
    let pn_offset = at;
    let end = pn_offset.checked_add(length)?;
    if end > p.len() {
        return None;
    }
    if ptype != initial_type {
        return Some((None, end));
    }
    Some((decrypt(v, wire, dcid, &p[..end], pn_offset), end))
}

fn decrypt(
    v: Version,
    wire: u32,
    dcid: Vec<u8>,
    packet: &[u8],
    pn_offset: usize,
) -> Option<Initial> {
    let keys = client_keys(v, &dcid)?;
    let sample = packet.get(pn_offset + 4..pn_offset + 20)?;
    let mut mask = aes::Block::clone_from_slice(sample);
    keys.hp.encrypt_block(&mut mask);
    let first = packet[0] ^ (mask[0] & 0x0f);
    let pn_len = usize::from(first & 3) + 1;
    let mut header = packet.get(..pn_offset + pn_len)?.to_vec();
    header[0] = first;
    let mut pn: u64 = 0;
    for i in 0..pn_len {
        header[pn_offset + i] ^= mask[1 + i];
        pn = (pn << 8) | u64::from(header[pn_offset + i]);
    }
    let body = packet.get(pn_offset + pn_len..)?;
    if body.len() < 16 {
        return None;
    }
    let (ct, tag) = body.split_at(body.len() - 16);
    let mut nonce = keys.iv;
    for (i, b) in pn.to_be_bytes().iter().enumerate() {
        nonce[4 + i] ^= b;
    }
    let mut plain = ct.to_vec();
    keys.aead
        .decrypt_in_place_detached(
            Nonce::from_slice(&nonce),
            &header,
            &mut plain,
            Tag::from_slice(tag),
        )
        .ok()?;
    Some(Initial {
        version: wire,
        chlo: v.google_crypto,
        dcid,
        crypto: crypto_frames(&plain, v.google_frames)?,
    })
}

/// CRYPTO frames of a decrypted Initial payload (other allowed frames are skipped). With
/// Google framing (Q050, T050, T051), CRYPTO is type 0x08 and the walk stops at other frame
/// types.
fn crypto_frames(b: &[u8], google: bool) -> Option<Vec<(u64, Vec<u8>)>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < b.len() {
        let t = varint(b, &mut at)?;
        if google {
            match t {
                0x00 => continue,
                0x08 => {
                    let offset = varint(b, &mut at)?;
                    let len = varint(b, &mut at)? as usize;
                    let data = b.get(at..at.checked_add(len)?)?;
                    out.push((offset, data.to_vec()));
                    at += len;
                    continue;
                }
                _ => break,
            }
        }
        match t {
            0x00 | 0x01 => {}
            0x02 | 0x03 => {
                varint(b, &mut at)?;
                varint(b, &mut at)?;
                let ranges = varint(b, &mut at)?;
                varint(b, &mut at)?;
                for _ in 0..ranges.min(1024) {
                    varint(b, &mut at)?;
                    varint(b, &mut at)?;
                }
                if t == 0x03 {
                    for _ in 0..3 {
                        varint(b, &mut at)?;
                    }
                }
            }
            0x06 => {
                let offset = varint(b, &mut at)?;
                let len = varint(b, &mut at)? as usize;
                let data = b.get(at..at.checked_add(len)?)?;
                out.push((offset, data.to_vec()));
                at += len;
            }
            0x1c | 0x1d => {
                varint(b, &mut at)?;
                if t == 0x1c {
                    varint(b, &mut at)?;
                }
                let len = varint(b, &mut at)? as usize;
                at = at.checked_add(len)?;
            }
            _ => break,
        }
    }
    Some(out)
}

/// Writes a QUIC variable-length integer (the shortest form).
fn put_varint(out: &mut Vec<u8>, v: u64) {
    match v {
        0..=0x3f => out.push(v as u8),
        0x40..=0x3fff => out.extend_from_slice(&(0x4000 | v as u16).to_be_bytes()),
        0x4000..=0x3fff_ffff => out.extend_from_slice(&(0x8000_0000 | v as u32).to_be_bytes()),
        _ => out.extend_from_slice(&(0xc000_0000_0000_0000 | v).to_be_bytes()),
    }
}

/// A client Initial packet of `wire` carrying `data` in one CRYPTO frame at `offset` (type 0x08
/// for Q050/T050/T051), padded to 1200 bytes, protected as a client would. For tests and the differential
/// test's captures; None for a version this module does not know.
pub fn seal_client_initial(wire: u32, dcid: &[u8], offset: u64, data: &[u8]) -> Option<Vec<u8>> {
    let v = version(wire)?;
    let keys = client_keys(v, dcid)?;
    let mut frames = Vec::new();
    put_varint(&mut frames, if v.google_frames { 0x08 } else { 0x06 });
    put_varint(&mut frames, offset);
    put_varint(&mut frames, data.len() as u64);
    frames.extend_from_slice(data);
    let ptype: u8 = if v.v2 { 1 } else { 0 };
    let mut header = vec![0xc0 | (ptype << 4) | 0x03];
    header.extend_from_slice(&wire.to_be_bytes());
    header.push(dcid.len() as u8);
    header.extend_from_slice(dcid);
    header.push(8);
    header.extend_from_slice(&[0x5c; 8]);
    header.push(0); // token length
    let fixed = header.len() + 2 + 4 + 16;
    if fixed + frames.len() < 1200 {
        frames.resize(1200 - fixed, 0);
    }
    let length = 4 + frames.len() + 16;
    if length > 0x3fff {
        return None;
    }
    header.extend_from_slice(&(0x4000 | length as u16).to_be_bytes());
    let pn_offset = header.len();
    let pn: u32 = 2;
    header.extend_from_slice(&pn.to_be_bytes());
    let mut nonce = keys.iv;
    for (i, b) in u64::from(pn).to_be_bytes().iter().enumerate() {
        nonce[4 + i] ^= b;
    }
    let mut body = frames;
    let tag = keys
        .aead
        .encrypt_in_place_detached(Nonce::from_slice(&nonce), &header, &mut body)
        .ok()?;
    let mut packet = header;
    packet.extend_from_slice(&body);
    packet.extend_from_slice(&tag);
    let mut mask = aes::Block::clone_from_slice(packet.get(pn_offset + 4..pn_offset + 20)?);
    keys.hp.encrypt_block(&mut mask);
    packet[0] ^= mask[0] & 0x0f;
    for i in 0..4 {
        packet[pn_offset + i] ^= mask[1 + i];
    }
    Some(packet)
}

/// CRYPTO data of one connection, gathered in any order, capped.
#[derive(Debug, Default)]
pub struct CryptoStream {
    pub dcid: Vec<u8>,
    /// The stream carries a gQUIC CHLO rather than a TLS ClientHello.
    pub chlo: bool,
    pieces: Vec<(u64, Vec<u8>)>,
    bytes: usize,
    pub overflowed: bool,
}

impl CryptoStream {
    /// Adds an Initial's frames; a new destination connection ID (e.g. after a Retry) restarts.
    pub fn add(&mut self, initial: Initial) {
        if initial.dcid != self.dcid {
            *self = CryptoStream {
                dcid: initial.dcid.clone(),
                chlo: initial.chlo,
                ..Default::default()
            };
        }
        self.chlo = initial.chlo;
        for (off, data) in initial.crypto {
            if off as usize > MAX_CRYPTO || self.bytes + data.len() > MAX_CRYPTO {
                self.overflowed = true;
                continue;
            }
            self.bytes += data.len();
            self.pieces.push((off, data));
        }
    }

    /// The contiguous bytes from offset 0.
    pub fn contiguous(&self) -> Vec<u8> {
        let mut pieces: Vec<&(u64, Vec<u8>)> = self.pieces.iter().collect();
        pieces.sort_by_key(|(o, _)| *o);
        let mut out: Vec<u8> = Vec::new();
        for (off, data) in pieces {
            let off = *off as usize;
            if off > out.len() {
                break;
            }
            let skip = out.len() - off;
            if skip < data.len() {
                out.extend_from_slice(&data[skip..]);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
        (0..s.len() / 2)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn rfc9001_appendix_a_keys() {
        // RFC 9001 A.1: DCID 0x8394c8f03e515708.
        let dcid = unhex("8394c8f03e515708");
        let (initial, _) = Hkdf::<Sha256>::extract(Some(&SALT_V1), &dcid);
        let client = expand_label(&initial, "client in", 32).unwrap();
        assert_eq!(
            client,
            unhex("c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea")
        );
        assert_eq!(
            expand_label(&client, "quic key", 16).unwrap(),
            unhex("1f369613dd76d5467730efcbe3b1a22d")
        );
        assert_eq!(
            expand_label(&client, "quic iv", 12).unwrap(),
            unhex("fa044b2f42a3fd3b46fb255c")
        );
        assert_eq!(
            expand_label(&client, "quic hp", 16).unwrap(),
            unhex("9f50449e04a0e810283a1e9933adedd2")
        );
    }

    #[test]
    fn salts_are_the_published_ones() {
        // Chromium's quic_crypto/quic_versions (Q050, T050, T051) and the QUIC drafts.
        assert_eq!(
            SALT_Q050,
            [
                0x50, 0x45, 0x74, 0xef, 0xd0, 0x66, 0xfe, 0x2f, 0x9d, 0x94, 0x5c, 0xfc, 0xdb, 0xd3,
                0xa7, 0xf0, 0xd3, 0xb5, 0x6b, 0x45
            ]
        );
        assert_eq!(
            SALT_T050,
            [
                0x7f, 0xf5, 0x79, 0xe5, 0xac, 0xd0, 0x72, 0x91, 0x55, 0x80, 0x30, 0x4c, 0x43, 0xa2,
                0x36, 0x7c, 0x60, 0x48, 0x83, 0x10
            ]
        );
        assert_eq!(
            SALT_T051,
            [
                0x7a, 0x4e, 0xde, 0xf4, 0xe7, 0xcc, 0xee, 0x5f, 0xa4, 0x50, 0x6c, 0x19, 0x12, 0x4f,
                0xc8, 0xcc, 0xda, 0x6e, 0x03, 0x3d
            ]
        );
        assert_eq!(
            SALT_D22,
            [
                0x7f, 0xbc, 0xdb, 0x0e, 0x7c, 0x66, 0xbb, 0xe9, 0x19, 0x3a, 0x96, 0xcd, 0x21, 0x51,
                0x9e, 0xbd, 0x7a, 0x02, 0x64, 0x4a
            ]
        );
        assert_eq!(version_name(u32::from_be_bytes(*b"T051")), "T051");
        assert_eq!(version_name(0xfaceb002), "mvfst-faceb002");
    }

    #[test]
    fn sealed_initials_of_every_version_open() {
        let dcid = [0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08];
        for wire in [
            1u32,
            0x6b33_43cf,
            0xff00_001d,
            0xff00_0017,
            0xff00_0016,
            0xface_b001,
            0xface_b002,
            0xface_b003,
            0xface_b00e,
            0xface_b010,
            0xface_b011,
            0xface_b013,
            GQUIC_Q050,
            GQUIC_T050,
            GQUIC_T051,
        ] {
            let p = seal_client_initial(wire, &dcid, 5, b"hello").unwrap();
            assert!(looks_like_long_header(&p), "{wire:x}");
            let got = client_initials(&p);
            assert_eq!(got.len(), 1, "{wire:x}");
            assert_eq!(got[0].version, wire);
            assert_eq!(got[0].chlo, wire == GQUIC_Q050);
            assert_eq!(got[0].crypto, vec![(5, b"hello".to_vec())], "{wire:x}");
        }
    }

    #[test]
    fn plaintext_gquic_is_a_chlo_initial() {
        let chlo = super::super::gquic::build_chlo(&[(*b"SNI\0", &b"a.example"[..])]);
        for v in [*b"Q043", *b"Q046"] {
            let p = super::super::gquic::build_plaintext_packet(v, [1; 8], &chlo);
            assert!(looks_like_long_header(&p));
            let got = client_initials(&p);
            assert_eq!(got.len(), 1);
            assert!(got[0].chlo);
            assert_eq!(got[0].version, u32::from_be_bytes(v));
        }
    }

    #[test]
    fn varints() {
        for (bytes, v) in [
            (&[0x25][..], 37u64),
            (&[0x7b, 0xbd], 15293),
            (&[0x9d, 0x7f, 0x3e, 0x7d], 494_878_333),
            (
                &[0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c],
                151_288_809_941_952_652,
            ),
        ] {
            let mut at = 0;
            assert_eq!(varint(bytes, &mut at), Some(v));
            assert_eq!(at, bytes.len());
        }
        let mut at = 0;
        assert_eq!(varint(&[0x9d, 0x7f], &mut at), None);
    }

    #[test]
    fn garbage_and_truncation_never_panic() {
        let mut p = vec![0xc0, 0, 0, 0, 1, 8];
        p.extend_from_slice(&[1; 8]);
        p.extend_from_slice(&[0, 0, 0x44, 0xd0]);
        p.extend(std::iter::repeat_n(0x55u8, 1300));
        for cut in 0..p.len() {
            assert!(client_initials(&p[..cut]).is_empty());
        }
    }

    #[test]
    fn crypto_stream_reorders_and_restarts() {
        let mut s = CryptoStream::default();
        s.add(Initial {
            version: 1,
            chlo: false,
            dcid: vec![1],
            crypto: vec![(3, b"def".to_vec())],
        });
        s.add(Initial {
            version: 1,
            chlo: false,
            dcid: vec![1],
            crypto: vec![(0, b"abc".to_vec()), (2, b"cd".to_vec())],
        });
        assert_eq!(s.contiguous(), b"abcdef");
        s.add(Initial {
            version: 1,
            chlo: false,
            dcid: vec![2],
            crypto: vec![(0, b"x".to_vec())],
        });
        assert_eq!(s.contiguous(), b"x");
    }
}
