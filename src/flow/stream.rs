//! Bounded TCP stream reassembly for one direction of one connection.
//!
//! Bytes are delivered in sequence order; retransmitted bytes are trimmed; a few out-of-order
//! segments are held (count and bytes capped); past `cap` buffered bytes the stream stops taking
//! data and says so. Callers consume what they parsed, so a stream of many small messages (DNS
//! over TCP) never holds more than one message plus a segment.

/// Most out-of-order segments held per stream.
const MAX_PENDING: usize = 16;

/// What a push did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// New in-order bytes are available.
    Appended,
    /// Held for later (a gap before it).
    Held,
    /// Nothing new (retransmission, empty, or dropped out-of-order segment).
    Nothing,
    /// The cap was reached: some bytes were refused.
    Overflow,
}

/// One direction of a TCP connection.
#[derive(Debug)]
pub struct Stream {
    next: Option<u32>,
    buf: Vec<u8>,
    start: usize,
    pending: Vec<(u32, Vec<u8>)>,
    pending_bytes: usize,
    cap: usize,
    overflowed: bool,
}

impl Stream {
    pub fn new(cap: usize) -> Self {
        Stream {
            next: None,
            buf: Vec::new(),
            start: 0,
            pending: Vec::new(),
            pending_bytes: 0,
            cap,
            overflowed: false,
        }
    }

    /// Records the initial sequence number from a SYN.
    pub fn syn(&mut self, seq: u32) {
        if self.next.is_none() {
            self.next = Some(seq.wrapping_add(1));
        }
    }

    pub fn overflowed(&self) -> bool {
        self.overflowed
    }

    /// Contiguous bytes not consumed yet.
    pub fn data(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// Drops `n` bytes from the front.
    pub fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.buf.len());
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start > 4096 && self.start * 2 > self.buf.len() {
            self.buf.drain(..self.start);
            self.start = 0;
        }
    }

    /// Adds a segment's payload.
    pub fn push(&mut self, seq: u32, data: &[u8]) -> Pushed {
        if data.is_empty() || self.overflowed {
            return if self.overflowed && !data.is_empty() {
                Pushed::Overflow
            } else {
                Pushed::Nothing
            };
        }
        let next = *self.next.get_or_insert(seq);
        let diff = seq.wrapping_sub(next) as i32;
        if diff > 0 {
            if self.pending.len() >= MAX_PENDING || self.pending_bytes + data.len() > self.cap {
                return Pushed::Nothing;
            }
            self.pending_bytes += data.len();
            self.pending.push((seq, data.to_vec()));
            return Pushed::Held;
        }
        let skip = diff.unsigned_abs() as usize;
        if skip >= data.len() {
            return Pushed::Nothing;
        }
        let mut result = self.append(&data[skip..]);
        // Drain held segments that now fit.
        loop {
            let Some(next) = self.next else { break };
            let Some(i) = self.pending.iter().position(|(s, d)| {
                let diff = s.wrapping_sub(next) as i32;
                diff <= 0 && (diff.unsigned_abs() as usize) < d.len()
            }) else {
                // Throw away segments that are entirely old.
                self.pending
                    .retain(|(s, _)| (s.wrapping_sub(next) as i32) > 0);
                self.pending_bytes = self.pending.iter().map(|(_, d)| d.len()).sum();
                break;
            };
            let (s, d) = self.pending.swap_remove(i);
            self.pending_bytes -= d.len();
            let skip = (next.wrapping_sub(s)) as usize;
            if self.append(&d[skip..]) == Pushed::Overflow {
                result = Pushed::Overflow;
            }
        }
        result
    }

    fn append(&mut self, data: &[u8]) -> Pushed {
        let room = self.cap.saturating_sub(self.buf.len() - self.start);
        let take = room.min(data.len());
        self.buf.extend_from_slice(&data[..take]);
        self.next = self.next.map(|n| n.wrapping_add(data.len() as u32));
        if take < data.len() {
            self.overflowed = true;
            self.pending.clear();
            self.pending_bytes = 0;
            Pushed::Overflow
        } else {
            Pushed::Appended
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_retransmit_and_out_of_order() {
        let mut s = Stream::new(100);
        s.syn(999);
        assert_eq!(s.push(1000, b"abc"), Pushed::Appended);
        assert_eq!(s.push(1000, b"abc"), Pushed::Nothing);
        assert_eq!(s.push(1006, b"ghi"), Pushed::Held);
        assert_eq!(s.push(1002, b"cdef"), Pushed::Appended);
        assert_eq!(s.data(), b"abcdefghi");
        s.consume(4);
        assert_eq!(s.data(), b"efghi");
    }

    #[test]
    fn sequence_wraps() {
        let mut s = Stream::new(100);
        assert_eq!(s.push(u32::MAX - 1, b"ab"), Pushed::Appended);
        assert_eq!(s.push(0, b"cd"), Pushed::Appended);
        assert_eq!(s.data(), b"abcd");
    }

    #[test]
    fn cap_is_hard() {
        let mut s = Stream::new(5);
        assert_eq!(s.push(0, b"abcdefgh"), Pushed::Overflow);
        assert_eq!(s.data(), b"abcde");
        assert!(s.overflowed());
        assert_eq!(s.push(8, b"x"), Pushed::Overflow);
        let mut s = Stream::new(10);
        for i in 0..100u32 {
            s.push(1 + i * 2, b"z");
        }
        assert!(s.pending.len() <= MAX_PENDING);
    }
}
