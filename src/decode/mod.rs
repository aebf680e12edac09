//! Decode: link → IP → TCP/UDP/ICMP, zero-copy. Knows nothing of files or rows.

pub mod defrag;
pub mod link;
pub mod packet;
pub mod tunnel;

pub use packet::{decode, decode_any, transport, Decoded, Decoded2, Fragment, TcpFlags, Transport};
