//! QUIC client Initial packets (RFC 9000/9001; v2, RFC 9369; drafts 23–32): derive the Initial
//! keys from the destination connection ID, remove header protection, decrypt (RustCrypto's
//! AES-128-GCM — no hand-written cryptography), walk the frames and return the CRYPTO data.
//! The caller gathers CRYPTO data across packets (out of order, capped) and parses the TLS
//! ClientHello it carries. Coalesced packets in one datagram are all looked at; Retry and
//! server packets simply fail authentication or are skipped.

use aes::cipher::{BlockEncrypt, KeyInit};
use aes::Aes128;
use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes128Gcm, Nonce, Tag};
use hkdf::Hkdf;
use sha2::Sha256;

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
}

const SALT_V1: [u8; 20] = hex20("38762cf7f55934b34d179ae6a4c80cadccbb7f0a");
const SALT_V2: [u8; 20] = hex20("0dede3def700a6db819381be6e269dcbf9bd2ed9");
const SALT_D29: [u8; 20] = hex20("afbfec289993d24c9e9786f19c6111e04390a899");
const SALT_D23: [u8; 20] = hex20("c3eef712c72ebb5a11a7d2432bb46365bef9f502");

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
        0x0000_0001 => (SALT_V1, false),
        0x6b33_43cf => (SALT_V2, true),
        0xff00_001d..=0xff00_0020 => (SALT_D29, false),
        0xff00_0017..=0xff00_001c => (SALT_D23, false),
        _ => return None,
    };
    Some(Version { wire, salt, v2 })
}

/// Text of a version (`v1`, `v2`, `draft-29`).
pub fn version_name(wire: u32) -> String {
    match wire {
        1 => "v1".into(),
        0x6b33_43cf => "v2".into(),
        w if w >> 8 == 0xff_0000 => format!("draft-{}", w & 0xff),
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
    pub dcid: Vec<u8>,
    /// CRYPTO frames: (offset, data).
    pub crypto: Vec<(u64, Vec<u8>)>,
}

/// True when the datagram starts like a long-header packet of a version we know.
pub fn looks_like_long_header(d: &[u8]) -> bool {
    d.len() >= 7
        && d[0] & 0xc0 == 0xc0
        && version(u32::from_be_bytes([d[1], d[2], d[3], d[4]])).is_some()
}

/// Decrypts every client Initial packet in a datagram.
pub fn client_initials(datagram: &[u8]) -> Vec<Initial> {
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
        dcid,
        crypto: crypto_frames(&plain)?,
    })
}

/// CRYPTO frames of a decrypted Initial payload (other allowed frames are skipped).
fn crypto_frames(b: &[u8]) -> Option<Vec<(u64, Vec<u8>)>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < b.len() {
        let t = varint(b, &mut at)?;
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

/// CRYPTO data of one connection, gathered in any order, capped.
#[derive(Debug, Default)]
pub struct CryptoStream {
    pub dcid: Vec<u8>,
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
                ..Default::default()
            };
        }
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
            dcid: vec![1],
            crypto: vec![(3, b"def".to_vec())],
        });
        s.add(Initial {
            version: 1,
            dcid: vec![1],
            crypto: vec![(0, b"abc".to_vec()), (2, b"cd".to_vec())],
        });
        assert_eq!(s.contiguous(), b"abcdef");
        s.add(Initial {
            version: 1,
            dcid: vec![2],
            crypto: vec![(0, b"x".to_vec())],
        });
        assert_eq!(s.contiguous(), b"x");
    }
}
