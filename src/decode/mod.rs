//! Decode: link → IP → TCP/UDP/ICMP, zero-copy. Knows nothing of files or rows.

pub mod link;
pub mod packet;

pub use packet::{decode, Decoded, TcpFlags, Transport};
