//! Bounded reassembly of IPv4 and IPv6 fragments (etherparse's `IpDefragBuf` keeps each
//! datagram's pieces; this table bounds how many datagrams are open and for how long).

use foldhash::HashMap;
use std::net::IpAddr;

use etherparse::defrag::IpDefragBuf;
use etherparse::{IpFragOffset, IpNumber};

use super::packet::Fragment;

/// Most datagrams being reassembled at once.
pub const MAX_OPEN: usize = 256;
/// A datagram whose pieces span more capture time than this is given up (µs).
pub const MAX_AGE_US: i64 = 30_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    id: u32,
}

struct Open {
    buf: IpDefragBuf,
    first_ts: i64,
    /// (timestamp, IP length) of every fragment seen.
    pieces: Vec<(i64, u32)>,
}

/// A reassembled datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    pub ip_version: u8,
    pub proto: u8,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// The transport header and payload.
    pub payload: Vec<u8>,
    /// (timestamp, IP length) of the fragments it was made of, in arrival order.
    pub pieces: Vec<(i64, u32)>,
}

/// Open reassemblies of one capture.
#[derive(Default)]
pub struct Defrag {
    open: HashMap<Key, Open>,
}

/// What adding a fragment did.
#[derive(Debug)]
pub enum Added {
    /// Kept; the datagram is not complete yet.
    Pending,
    Complete(Datagram),
    /// Fragments given up (inconsistent, too big, table full, too old): how many packets.
    Dropped(usize),
}

impl Defrag {
    /// Adds a fragment seen at `ts`.
    pub fn add(&mut self, ts: i64, f: &Fragment<'_>) -> Added {
        let key = Key {
            src: f.src,
            dst: f.dst,
            proto: f.proto,
            id: f.id,
        };
        let mut dropped = self.expire(ts);
        if !self.open.contains_key(&key) && self.open.len() >= MAX_OPEN {
            // Full: give up the oldest datagram.
            if let Some(oldest) = self
                .open
                .iter()
                .min_by_key(|(_, o)| o.first_ts)
                .map(|(k, _)| *k)
            {
                dropped += self.open.remove(&oldest).map_or(0, |o| o.pieces.len());
            }
        }
        let entry = self.open.entry(key).or_insert_with(|| Open {
            buf: IpDefragBuf::new(IpNumber(f.proto), Vec::new(), Vec::new()),
            first_ts: ts,
            pieces: Vec::new(),
        });
        entry.pieces.push((ts, f.ip_len));
        let Ok(offset) = IpFragOffset::try_new(f.offset) else {
            return Added::Dropped(dropped + self.open.remove(&key).map_or(0, |o| o.pieces.len()));
        };
        if entry.buf.add(offset, f.more, f.payload).is_err() {
            return Added::Dropped(dropped + self.open.remove(&key).map_or(0, |o| o.pieces.len()));
        }
        if entry.buf.is_complete() {
            if let Some(o) = self.open.remove(&key) {
                let (payload, _) = o.buf.take_bufs();
                return Added::Complete(Datagram {
                    ip_version: f.ip_version,
                    proto: f.proto,
                    src: f.src,
                    dst: f.dst,
                    payload,
                    pieces: o.pieces,
                });
            }
        }
        if dropped > 0 {
            Added::Dropped(dropped)
        } else {
            Added::Pending
        }
    }

    /// Gives up datagrams older than [`MAX_AGE_US`] at `now`; returns their fragment count.
    fn expire(&mut self, now: i64) -> usize {
        let mut n = 0;
        self.open.retain(|_, o| {
            let keep = now.saturating_sub(o.first_ts) <= MAX_AGE_US;
            if !keep {
                n += o.pieces.len();
            }
            keep
        });
        n
    }

    /// Fragments of datagrams never completed (at the end of a capture).
    pub fn leftover(&self) -> usize {
        self.open.values().map(|o| o.pieces.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frag(id: u32, offset: u16, more: bool, payload: &[u8]) -> Fragment<'_> {
        Fragment {
            ip_version: 4,
            proto: 17,
            src: "10.0.0.1".parse().unwrap(),
            dst: "10.0.0.2".parse().unwrap(),
            id,
            offset,
            more,
            payload,
            ip_len: 20 + payload.len() as u32,
        }
    }

    #[test]
    fn reassembles_out_of_order() {
        let mut d = Defrag::default();
        let a = [1u8; 16];
        let b = [2u8; 16];
        let c = [3u8; 5];
        assert!(matches!(d.add(1, &frag(7, 4, false, &c)), Added::Pending));
        assert!(matches!(d.add(2, &frag(7, 0, true, &a)), Added::Pending));
        let Added::Complete(dg) = d.add(3, &frag(7, 2, true, &b)) else {
            panic!()
        };
        assert_eq!(dg.payload.len(), 37);
        assert_eq!(&dg.payload[..16], &a);
        assert_eq!(dg.pieces.len(), 3);
        assert_eq!(d.leftover(), 0);
    }

    #[test]
    fn bounded_and_expiring() {
        let mut d = Defrag::default();
        let p = [0u8; 8];
        for id in 0..(MAX_OPEN as u32 + 10) {
            d.add(i64::from(id), &frag(id, 0, true, &p));
        }
        assert!(d.open.len() <= MAX_OPEN);
        let Added::Dropped(n) = d.add(MAX_AGE_US * 2, &frag(99_999, 0, true, &p)) else {
            panic!()
        };
        assert!(n >= MAX_OPEN - 1);
        // Inconsistent pieces are dropped, not kept.
        assert!(matches!(
            d.add(MAX_AGE_US * 2, &frag(5, 0, true, &[1, 2, 3])),
            Added::Dropped(_)
        ));
    }
}
