//! Extract: DNS answers, TLS server names and flows from decoded packets, as plain rows.

pub mod capture;
pub mod dns;
mod dns_walk;
pub mod fingerprint;
pub mod gquic;
pub mod http;
pub mod quic;
pub mod records;
pub mod split;
pub mod text;
pub mod tls;

pub use capture::{extract_capture, extract_packets, ExtractLimits};
pub use records::{
    CaptureOutput, CaptureRow, DnsRow, Endpoints, NameRow, Rcode, RrType, Status, L4,
};
