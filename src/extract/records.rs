//! The rows extraction produces, as plain Rust values (the columnar stage turns them into Arrow).

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;

use super::fingerprint::Fingerprints;
use crate::drops::DropCounts;
use crate::flow::Flow;

/// Transport of a DNS message or named flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L4 {
    Udp,
    Tcp,
}

impl L4 {
    pub fn name(self) -> &'static str {
        match self {
            L4::Udp => "udp",
            L4::Tcp => "tcp",
        }
    }
}

/// Endpoints of a message: client asked, server answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoints {
    pub client_ip: IpAddr,
    pub client_port: u16,
    pub server_ip: IpAddr,
    pub server_port: u16,
    pub transport: L4,
}

/// A DNS record type number; named ([`RrType::name`]: `A`, `HTTPS`, `TYPE65534`) only when a
/// row is written, so a row carries two bytes rather than a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RrType(pub u16);

impl RrType {
    pub fn name(self) -> Cow<'static, str> {
        super::dns::type_name_of(self.0)
    }
}

/// A DNS response code (the header's 4-bit RCODE); named ([`Rcode::name`]: `NOERROR`,
/// `NXDOMAIN`) only when a row is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rcode(pub u8);

impl Rcode {
    pub fn name(self) -> Cow<'static, str> {
        super::dns::rcode_name(self.0)
    }
}

/// One DNS answer record (or one row for a response without answers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsRow {
    pub ts_us: i64,
    pub ends: Endpoints,
    pub txid: u16,
    /// Shared by the rows of one response.
    pub query: Option<Arc<str>>,
    pub qtype: Option<RrType>,
    pub rcode: Rcode,
    /// Section of the record: `answer`, `authority` or `additional` (null with no records).
    pub section: Option<&'static str>,
    /// Shared by the records of one owner name in a response.
    pub rr_name: Option<Arc<str>>,
    pub rr_type: Option<RrType>,
    pub rr_ttl: Option<u32>,
    pub answer: Option<String>,
}

/// A server name seen on a flow (TLS/QUIC SNI, HTTP Host).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameRow {
    pub ts_us: i64,
    pub ends: Endpoints,
    /// `tls`, `quic` or `http`.
    pub protocol: &'static str,
    pub name: Option<String>,
    /// ALPN protocols offered, comma-separated.
    pub alpn: Option<String>,
    /// Highest version offered (supported_versions-aware), e.g. `TLS 1.3`; `gQUIC Q043` for a
    /// gQUIC CHLO.
    pub tls_version: Option<String>,
    /// User agent the client announced (gQUIC `UAID`).
    pub user_agent: Option<String>,
    /// JA4/JA3 of a TLS ClientHello (TCP or QUIC), shared by the rows of one client stack.
    pub fingerprint: Option<std::sync::Arc<Fingerprints>>,
}

/// Per-file outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    /// Read stopped early; rows up to the error were kept.
    Partial,
    /// Nothing could be read.
    Failed,
    /// The capture could not be dated, so it was not read (its row is in month `0000-00`).
    Undated,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Partial => "partial",
            Status::Failed => "failed",
            Status::Undated => "undated",
        }
    }
}

/// One row of the `captures` manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureRow {
    pub path: String,
    pub file_name: String,
    /// Identity in the device-month (see `CaptureFile::capture`).
    pub capture: String,
    pub device_ip: Option<IpAddr>,
    pub name_ts_us: Option<i64>,
    pub size_bytes: u64,
    pub mtime_us: Option<i64>,
    pub format: Option<String>,
    pub link_type: Option<u32>,
    pub packets: u64,
    pub bytes: u64,
    pub first_ts_us: Option<i64>,
    pub last_ts_us: Option<i64>,
    pub dns_rows: u64,
    pub name_rows: u64,
    pub flow_rows: u64,
    pub drops: DropCounts,
    pub status: Status,
    pub error: Option<String>,
}

/// Everything one capture produced.
#[derive(Debug, Clone)]
pub struct CaptureOutput {
    pub capture: CaptureRow,
    pub dns: Vec<DnsRow>,
    pub names: Vec<NameRow>,
    pub flows: Vec<Flow>,
}
