//! Link layer: from a captured frame and its DLT to the IP packet inside it. No allocation.
//!
//! Handled: Ethernet (DLT 1) with any stack of 802.1Q/802.1ad/QinQ tags, Cisco VN-Tag and PPPoE
//! sessions; Linux cooked v1 (113) and v2 (276); raw IP (12, 14, 101, 228, 229); BSD null (0)
//! and OpenBSD loopback (108); PPP (9, 50); FDDI (10) with LLC/SNAP.

use crate::drops::DropReason;

/// Maximum number of stacked VLAN/VN-Tag/PPPoE headers followed before giving up.
const MAX_TAGS: usize = 8;

const ETH_IPV4: u16 = 0x0800;
const ETH_IPV6: u16 = 0x86dd;

/// Returns the IP packet carried by `frame`, or why there is none.
pub fn ip_payload(link_type: u32, frame: &[u8]) -> Result<&[u8], DropReason> {
    match link_type {
        1 => ethernet(frame),
        113 => {
            // Linux cooked v1: 16-byte header, protocol at 14.
            let proto = be16(frame, 14).ok_or(DropReason::LinkMalformed)?;
            ethertype(proto, frame.get(16..).ok_or(DropReason::LinkMalformed)?)
        }
        276 => {
            // Linux cooked v2: 20-byte header, protocol at 0.
            let proto = be16(frame, 0).ok_or(DropReason::LinkMalformed)?;
            ethertype(proto, frame.get(20..).ok_or(DropReason::LinkMalformed)?)
        }
        12 | 14 | 101 | 228 | 229 => raw_ip(frame),
        0 | 108 => {
            // 4-byte address family, host order for DLT_NULL, network order for DLT_LOOP.
            let fam = frame.get(0..4).ok_or(DropReason::LinkMalformed)?;
            let le = u32::from_le_bytes([fam[0], fam[1], fam[2], fam[3]]);
            let be = u32::from_be_bytes([fam[0], fam[1], fam[2], fam[3]]);
            let body = &frame[4..];
            let is = |v: u32, set: &[u32]| set.contains(&v);
            if is(le, &[2]) || is(be, &[2]) {
                Ok(body)
            } else if is(le, &[24, 28, 30]) || is(be, &[24, 28, 30]) {
                Ok(body)
            } else {
                Err(DropReason::NonIp)
            }
        }
        9 | 50 => {
            // PPP, optionally with HDLC address/control bytes.
            let body = if frame.starts_with(&[0xff, 0x03]) {
                &frame[2..]
            } else {
                frame
            };
            let proto = be16(body, 0).ok_or(DropReason::LinkMalformed)?;
            ppp(proto, &body[2..])
        }
        10 => {
            // FDDI: frame control + two 6-byte addresses, then 802.2 LLC/SNAP.
            let llc = frame.get(13..).ok_or(DropReason::LinkMalformed)?;
            snap(llc)
        }
        _ => Err(DropReason::UnsupportedLink),
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn raw_ip(frame: &[u8]) -> Result<&[u8], DropReason> {
    match frame.first().map(|b| b >> 4) {
        Some(4) | Some(6) => Ok(frame),
        Some(_) => Err(DropReason::NonIp),
        None => Err(DropReason::LinkMalformed),
    }
}

fn ethernet(frame: &[u8]) -> Result<&[u8], DropReason> {
    let proto = be16(frame, 12).ok_or(DropReason::LinkMalformed)?;
    if proto <= 1500 {
        // 802.3 length field: LLC follows; only SNAP can carry IP.
        return snap(&frame[14..]);
    }
    ethertype(proto, &frame[14..])
}

fn snap(llc: &[u8]) -> Result<&[u8], DropReason> {
    if llc.len() >= 8 && llc[0] == 0xaa && llc[1] == 0xaa && llc[2] == 0x03 {
        let proto = be16(llc, 6).ok_or(DropReason::LinkMalformed)?;
        ethertype(proto, &llc[8..])
    } else if llc.len() < 3 {
        Err(DropReason::LinkMalformed)
    } else {
        Err(DropReason::NonIp)
    }
}

fn ppp(proto: u16, body: &[u8]) -> Result<&[u8], DropReason> {
    match proto {
        0x0021 | 0x0057 => raw_ip(body),
        _ => Err(DropReason::NonIp),
    }
}

/// Follows VLAN tags, VN-Tags and PPPoE sessions to IP.
fn ethertype(mut proto: u16, mut body: &[u8]) -> Result<&[u8], DropReason> {
    for _ in 0..=MAX_TAGS {
        match proto {
            ETH_IPV4 | ETH_IPV6 => return raw_ip(body),
            // 802.1Q, 802.1ad, and the pre-standard QinQ ethertypes: 2 bytes TCI, 2 bytes type.
            0x8100 | 0x88a8 | 0x9100 | 0x9200 | 0x9300 => {
                proto = be16(body, 2).ok_or(DropReason::LinkMalformed)?;
                body = &body[4..];
            }
            // Cisco VN-Tag: 4 bytes, then the type.
            0x8926 => {
                proto = be16(body, 4).ok_or(DropReason::LinkMalformed)?;
                body = &body[6..];
            }
            // PPPoE session: 6-byte header, then a 2-byte PPP protocol.
            0x8864 => {
                let p = be16(body, 6).ok_or(DropReason::LinkMalformed)?;
                return ppp(p, &body[8..]);
            }
            _ => return Err(DropReason::NonIp),
        }
    }
    Err(DropReason::LinkMalformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eth(types: &[u16], payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        for (i, t) in types.iter().enumerate() {
            f.extend_from_slice(&t.to_be_bytes());
            if i + 1 < types.len() {
                f.extend_from_slice(&[0x20, 0x01]); // TCI
            }
        }
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn stacked_vlans_reach_ip() {
        let ip = [0x45u8, 0, 0, 20];
        for stack in [
            vec![0x0800],
            vec![0x8100, 0x0800],
            vec![0x88a8, 0x8100, 0x0800],
            vec![0x8100, 0x8100, 0x8100, 0x86dd],
        ] {
            let mut p = ip;
            if stack.last() == Some(&0x86dd) {
                p[0] = 0x60;
            }
            let f = eth(&stack, &p);
            assert_eq!(ip_payload(1, &f).unwrap(), &p, "{stack:x?}");
        }
        assert_eq!(
            ip_payload(1, &eth(&[0x0806], &[0; 28])),
            Err(DropReason::NonIp)
        );
        let deep = eth(&[0x8100; 12], &ip);
        assert!(ip_payload(1, &deep).is_err());
    }

    #[test]
    fn cooked_null_raw() {
        let mut sll = vec![0u8; 14];
        sll.extend_from_slice(&[0x08, 0x00, 0x45]);
        assert_eq!(ip_payload(113, &sll).unwrap(), &[0x45]);
        let mut sll2 = vec![0x86, 0xdd];
        sll2.extend_from_slice(&[0u8; 18]);
        sll2.push(0x60);
        assert_eq!(ip_payload(276, &sll2).unwrap(), &[0x60]);
        assert_eq!(ip_payload(0, &[2, 0, 0, 0, 0x45]).unwrap(), &[0x45]);
        assert_eq!(ip_payload(0, &[0, 0, 0, 30, 0x60]).unwrap(), &[0x60]);
        assert_eq!(ip_payload(101, &[0x60]).unwrap(), &[0x60]);
        assert_eq!(ip_payload(105, &[0x60]), Err(DropReason::UnsupportedLink));
    }

    #[test]
    fn truncation_sweep() {
        let mut f = eth(
            &[0x8100, 0x8864],
            &[0x11, 0, 0, 1, 0, 10, 0x00, 0x21, 0x45, 0, 0],
        );
        f.extend_from_slice(&[0; 4]);
        for lt in [0, 1, 9, 10, 12, 101, 108, 113, 276] {
            for cut in 0..f.len() {
                let _ = ip_payload(lt, &f[..cut]);
            }
        }
        assert_eq!(ip_payload(1, &f).unwrap()[0], 0x45);
    }
}
