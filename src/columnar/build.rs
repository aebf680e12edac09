//! Rows → Arrow record batches, one builder per table.

use std::net::IpAddr;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, Int32Builder, Int64Builder, RecordBatch, StringArray, StringBuilder,
    TimestampMicrosecondBuilder, UInt16Builder, UInt32Builder, UInt8Builder,
};
use arrow::buffer::{Buffer, OffsetBuffer, ScalarBuffer};
use arrow::error::ArrowError;

use super::schema::{CAPTURES, DNS, FLOWS, NAMES};
use crate::drops::DropReason;
use crate::extract::text::{ipv4_text, ipv6_text};
use crate::extract::{CaptureRow, DnsRow, Endpoints, NameRow, RrType};
use crate::flow::Flow;

fn ts_builder(n: usize) -> TimestampMicrosecondBuilder {
    TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC")
}

fn proto_name(p: u8) -> std::borrow::Cow<'static, str> {
    match p {
        6 => "tcp".into(),
        17 => "udp".into(),
        1 => "icmp".into(),
        58 => "icmpv6".into(),
        n => format!("ip{n}").into(),
    }
}

/// The text of the last address appended to one column: a column's rows mostly repeat the
/// address before them (the device, its resolver), which is then not formatted again.
#[derive(Default)]
struct IpText {
    last: Option<IpAddr>,
    text: String,
}

/// Appends `ip` in its standard text form (as `Display` writes it); IPv4, the common case,
/// without the formatting machinery.
fn append_ip(b: &mut StringBuilder, memo: &mut IpText, ip: &IpAddr) {
    if memo.last != Some(*ip) {
        memo.text.clear();
        match ip {
            IpAddr::V4(v4) => memo.text.push_str(ipv4_text(v4.octets(), &mut [0; 15])),
            IpAddr::V6(v6) => memo.text.push_str(ipv6_text(v6.octets(), &mut [0; 39])),
        }
        memo.last = Some(*ip);
    }
    b.append_value(&memo.text);
}

/// The column of a capture's rows naming the capture: `value` on each of `n` rows, built in one
/// piece (a `memcpy` per doubling and computed offsets) rather than appended row by row, which
/// copied the name once per row (a third of the DNS batch's copying on the synth set).
fn repeated(value: &str, n: usize) -> Result<ArrayRef, ArrowError> {
    let len = value.len();
    let too_long =
        || ArrowError::ComputeError(format!("{n} rows of {len} bytes overflow a column"));
    i32::try_from(n.checked_mul(len).ok_or_else(too_long)?).map_err(|_| too_long())?;
    let offsets: Vec<i32> = (0..=n).map(|i| (i * len) as i32).collect();
    let values = Buffer::from_vec(value.repeat(n).into_bytes());
    Ok(Arc::new(StringArray::try_new(
        OffsetBuffer::new(ScalarBuffer::from(offsets)),
        values,
        None,
    )?))
}

struct EndpointCols {
    client_ip: StringBuilder,
    client_port: UInt16Builder,
    server_ip: StringBuilder,
    server_port: UInt16Builder,
    transport: StringBuilder,
    client_text: IpText,
    server_text: IpText,
}

impl EndpointCols {
    fn new(n: usize) -> Self {
        EndpointCols {
            client_ip: StringBuilder::with_capacity(n, n * 16),
            client_port: UInt16Builder::with_capacity(n),
            server_ip: StringBuilder::with_capacity(n, n * 16),
            server_port: UInt16Builder::with_capacity(n),
            transport: StringBuilder::with_capacity(n, n * 3),
            client_text: IpText::default(),
            server_text: IpText::default(),
        }
    }
    fn push(&mut self, e: &Endpoints) {
        append_ip(&mut self.client_ip, &mut self.client_text, &e.client_ip);
        self.client_port.append_value(e.client_port);
        append_ip(&mut self.server_ip, &mut self.server_text, &e.server_ip);
        self.server_port.append_value(e.server_port);
        self.transport.append_value(e.transport.name());
    }
    fn finish(mut self, cols: &mut Vec<ArrayRef>) {
        cols.push(Arc::new(self.client_ip.finish()));
        cols.push(Arc::new(self.client_port.finish()));
        cols.push(Arc::new(self.server_ip.finish()));
        cols.push(Arc::new(self.server_port.finish()));
        cols.push(Arc::new(self.transport.finish()));
    }
}

/// Rows from which a batch's column groups are built as two tasks on the caller's rayon pool
/// (on a busy pool, or a pool of one thread, the caller builds both).
const PARALLEL_ROWS: usize = 4096;

/// `dns` rows of one capture.
pub fn dns_batch(capture: &str, rows: &[DnsRow]) -> Result<RecordBatch, ArrowError> {
    let n = rows.len();
    // Two groups of columns of about equal cost: time, endpoints (address text) and ids; the
    // question and record texts.
    let head = || {
        let mut ts = ts_builder(n);
        let mut ends = EndpointCols::new(n);
        let mut txid = UInt16Builder::with_capacity(n);
        for r in rows {
            ts.append_value(r.ts_us);
            ends.push(&r.ends);
            txid.append_value(r.txid);
        }
        (ts, ends, txid)
    };
    let records = || {
        // Exact sizes for the long texts: no buffer grows (each doubling copied the column and
        // touched new memory). Type and response-code names are short (`AAAA`, `NXDOMAIN`).
        let mut bytes = [0usize; 4];
        for r in rows {
            let lens = [
                r.query.as_deref().map_or(0, str::len),
                r.section.map_or(0, str::len),
                r.rr_name.as_deref().map_or(0, str::len),
                r.answer.as_deref().map_or(0, str::len),
            ];
            for (b, l) in bytes.iter_mut().zip(lens) {
                *b += l;
            }
        }
        let [mut query, mut section, mut rr_name, mut answer] =
            bytes.map(|b| StringBuilder::with_capacity(n, b));
        let [mut qtype, mut rcode, mut rr_type] =
            std::array::from_fn(|_| StringBuilder::with_capacity(n, n * 8));
        let mut rr_ttl = UInt32Builder::with_capacity(n);
        for r in rows {
            query.append_option(r.query.as_deref());
            qtype.append_option(r.qtype.map(RrType::name));
            rcode.append_value(r.rcode.name());
            section.append_option(r.section);
            rr_name.append_option(r.rr_name.as_deref());
            rr_type.append_option(r.rr_type.map(RrType::name));
            rr_ttl.append_option(r.rr_ttl);
            answer.append_option(r.answer.as_deref());
        }
        [
            Arc::new(query.finish()) as ArrayRef,
            Arc::new(qtype.finish()),
            Arc::new(rcode.finish()),
            Arc::new(section.finish()),
            Arc::new(rr_name.finish()),
            Arc::new(rr_type.finish()),
            Arc::new(rr_ttl.finish()),
            Arc::new(answer.finish()),
        ]
    };
    let ((mut ts, ends, mut txid), records) = if n >= PARALLEL_ROWS {
        rayon::join(head, records)
    } else {
        (head(), records())
    };
    let mut cols: Vec<ArrayRef> = vec![Arc::new(ts.finish()), repeated(capture, n)?];
    ends.finish(&mut cols);
    cols.push(Arc::new(txid.finish()));
    cols.extend(records);
    RecordBatch::try_new(DNS.clone(), cols)
}

/// `names` rows of one capture.
pub fn names_batch(capture: &str, rows: &[NameRow]) -> Result<RecordBatch, ArrowError> {
    let n = rows.len();
    let mut ts = ts_builder(n);
    let mut ends = EndpointCols::new(n);
    let mut protocol = StringBuilder::with_capacity(n, n * 4);
    // Exact sizes, as for `dns`: the fingerprint columns are long (a full JA3 string is a few
    // hundred bytes), and growing them by doubling was most of this batch's copying.
    let mut bytes = [0usize; 8];
    for r in rows {
        let f = r.fingerprint.as_deref();
        let lens = [
            r.name.as_deref().map_or(0, str::len),
            r.alpn.as_deref().map_or(0, str::len),
            r.tls_version.as_deref().map_or(0, str::len),
            r.user_agent.as_deref().map_or(0, str::len),
            f.map_or(0, |f| f.ja4.len()),
            f.map_or(0, |f| f.ja4_r.len()),
            f.map_or(0, |f| f.ja3.len()),
            f.map_or(0, |f| f.ja3_full.len()),
        ];
        for (b, l) in bytes.iter_mut().zip(lens) {
            *b += l;
        }
    }
    let [mut name, mut alpn, mut version, mut ua, mut ja4, mut ja4_r, mut ja3, mut ja3_full] =
        bytes.map(|b| StringBuilder::with_capacity(n, b));
    for r in rows {
        ts.append_value(r.ts_us);
        ends.push(&r.ends);
        protocol.append_value(r.protocol);
        name.append_option(r.name.as_deref());
        alpn.append_option(r.alpn.as_deref());
        version.append_option(r.tls_version.as_deref());
        ua.append_option(r.user_agent.as_deref());
        let f = r.fingerprint.as_ref();
        ja4.append_option(f.map(|f| f.ja4.as_str()));
        ja4_r.append_option(f.map(|f| f.ja4_r.as_str()));
        ja3.append_option(f.map(|f| f.ja3.as_str()));
        ja3_full.append_option(f.map(|f| f.ja3_full.as_str()));
    }
    let mut cols: Vec<ArrayRef> = vec![Arc::new(ts.finish()), repeated(capture, n)?];
    ends.finish(&mut cols);
    cols.extend([
        Arc::new(protocol.finish()) as ArrayRef,
        Arc::new(name.finish()),
        Arc::new(alpn.finish()),
        Arc::new(version.finish()),
        Arc::new(ua.finish()),
        Arc::new(ja4.finish()),
        Arc::new(ja4_r.finish()),
        Arc::new(ja3.finish()),
        Arc::new(ja3_full.finish()),
    ]);
    RecordBatch::try_new(NAMES.clone(), cols)
}

/// `flows` rows of one capture.
pub fn flows_batch(capture: &str, rows: &[Flow]) -> Result<RecordBatch, ArrowError> {
    let n = rows.len();
    let mut first = ts_builder(n);
    let mut last = ts_builder(n);
    let mut proto = StringBuilder::with_capacity(n, n * 3);
    let mut ipv = UInt8Builder::with_capacity(n);
    let (mut local_text, mut remote_text) = (IpText::default(), IpText::default());
    let mut lip = StringBuilder::with_capacity(n, n * 15);
    let mut lport = UInt16Builder::with_capacity(n);
    let mut rip = StringBuilder::with_capacity(n, n * 15);
    let mut rport = UInt16Builder::with_capacity(n);
    let mut init = StringBuilder::with_capacity(n, n * 7);
    let mut po = Int64Builder::with_capacity(n);
    let mut bo = Int64Builder::with_capacity(n);
    let mut pi = Int64Builder::with_capacity(n);
    let mut bi = Int64Builder::with_capacity(n);
    for fl in rows {
        let (k, s) = (&fl.key, &fl.stats);
        first.append_value(s.first_ts);
        last.append_value(s.last_ts);
        proto.append_value(&*proto_name(k.proto));
        ipv.append_value(s.ip_version);
        append_ip(&mut lip, &mut local_text, &k.local_ip);
        lport.append_value(k.local_port);
        append_ip(&mut rip, &mut remote_text, &k.remote_ip);
        rport.append_value(k.remote_port);
        init.append_value(s.initiator.name());
        po.append_value(s.packets_out as i64);
        bo.append_value(s.bytes_out as i64);
        pi.append_value(s.packets_in as i64);
        bi.append_value(s.bytes_in as i64);
    }
    let cols: Vec<ArrayRef> = vec![
        repeated(capture, n)?,
        Arc::new(first.finish()),
        Arc::new(last.finish()),
        Arc::new(proto.finish()),
        Arc::new(ipv.finish()),
        Arc::new(lip.finish()),
        Arc::new(lport.finish()),
        Arc::new(rip.finish()),
        Arc::new(rport.finish()),
        Arc::new(init.finish()),
        Arc::new(po.finish()),
        Arc::new(bo.finish()),
        Arc::new(pi.finish()),
        Arc::new(bi.finish()),
    ];
    RecordBatch::try_new(FLOWS.clone(), cols)
}

/// `captures` rows.
pub fn captures_batch(rows: &[&CaptureRow]) -> Result<RecordBatch, ArrowError> {
    let n = rows.len();
    let mut path = StringBuilder::new();
    let mut file_name = StringBuilder::new();
    let mut capture = StringBuilder::new();
    let mut device_ip = StringBuilder::new();
    let mut name_ts = ts_builder(n);
    let mut size = Int64Builder::with_capacity(n);
    let mut mtime = ts_builder(n);
    let mut format = StringBuilder::new();
    let mut link = Int32Builder::with_capacity(n);
    let mut packets = Int64Builder::with_capacity(n);
    let mut bytes = Int64Builder::with_capacity(n);
    let mut first = ts_builder(n);
    let mut last = ts_builder(n);
    let mut dns_rows = Int64Builder::with_capacity(n);
    let mut name_rows = Int64Builder::with_capacity(n);
    let mut flow_rows = Int64Builder::with_capacity(n);
    let mut dropped = Int64Builder::with_capacity(n);
    let mut per_reason: Vec<Int64Builder> = DropReason::ALL
        .iter()
        .map(|_| Int64Builder::with_capacity(n))
        .collect();
    let mut status = StringBuilder::new();
    let mut error = StringBuilder::new();
    for r in rows {
        path.append_value(&r.path);
        file_name.append_value(&r.file_name);
        capture.append_value(&r.capture);
        device_ip.append_option(r.device_ip.map(|ip| ip.to_string()));
        name_ts.append_option(r.name_ts_us);
        size.append_value(r.size_bytes as i64);
        mtime.append_option(r.mtime_us);
        format.append_option(r.format.as_deref());
        link.append_option(r.link_type.map(|l| l as i32));
        packets.append_value(r.packets as i64);
        bytes.append_value(r.bytes as i64);
        first.append_option(r.first_ts_us);
        last.append_option(r.last_ts_us);
        dns_rows.append_value(r.dns_rows as i64);
        name_rows.append_value(r.name_rows as i64);
        flow_rows.append_value(r.flow_rows as i64);
        dropped.append_value(r.drops.total() as i64);
        for (b, reason) in per_reason.iter_mut().zip(DropReason::ALL) {
            b.append_value(r.drops.get(reason) as i64);
        }
        status.append_value(r.status.name());
        error.append_option(r.error.as_deref());
    }
    let mut cols: Vec<ArrayRef> = vec![
        Arc::new(path.finish()),
        Arc::new(file_name.finish()),
        Arc::new(capture.finish()),
        Arc::new(device_ip.finish()),
        Arc::new(name_ts.finish()),
        Arc::new(size.finish()),
        Arc::new(mtime.finish()),
        Arc::new(format.finish()),
        Arc::new(link.finish()),
        Arc::new(packets.finish()),
        Arc::new(bytes.finish()),
        Arc::new(first.finish()),
        Arc::new(last.finish()),
        Arc::new(dns_rows.finish()),
        Arc::new(name_rows.finish()),
        Arc::new(flow_rows.finish()),
        Arc::new(dropped.finish()),
    ];
    cols.extend(
        per_reason
            .into_iter()
            .map(|mut b| Arc::new(b.finish()) as ArrayRef),
    );
    cols.push(Arc::new(status.finish()));
    cols.push(Arc::new(error.finish()));
    RecordBatch::try_new(CAPTURES.clone(), cols)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Array;
    use proptest::prelude::*;

    #[test]
    fn repeated_column_equals_appended_rows() {
        for n in [0, 1, 3, 1000] {
            let mut b = StringBuilder::new();
            for _ in 0..n {
                b.append_value("2024-01-01_00.00.00_10.0.0.1.pcap");
            }
            let want: ArrayRef = Arc::new(b.finish());
            let got = repeated("2024-01-01_00.00.00_10.0.0.1.pcap", n).unwrap();
            assert_eq!(&got, &want, "{n} rows");
        }
        assert!(repeated("x", i32::MAX as usize + 1).is_err());
        assert!(repeated("xy", usize::MAX).is_err());
    }

    #[test]
    fn remembered_address_text_follows_the_rows() {
        let ips: Vec<IpAddr> = [
            "10.0.0.1", "10.0.0.1", "::1", "::1", "10.0.0.1", "1.2.3.4", "::2",
        ]
        .iter()
        .map(|t| t.parse().unwrap())
        .collect();
        let (mut b, mut memo) = (StringBuilder::new(), IpText::default());
        for ip in &ips {
            append_ip(&mut b, &mut memo, ip);
        }
        let a = b.finish();
        let got: Vec<String> = (0..a.len()).map(|i| a.value(i).to_string()).collect();
        let want: Vec<String> = ips.iter().map(IpAddr::to_string).collect();
        assert_eq!(got, want);
    }

    fn formatted(ip: IpAddr) -> String {
        let mut b = StringBuilder::new();
        append_ip(&mut b, &mut IpText::default(), &ip);
        let a = b.finish();
        assert_eq!(a.len(), 1);
        a.value(0).to_string()
    }

    #[test]
    fn ip_text_edges() {
        for ip in [
            "0.0.0.0",
            "255.255.255.255",
            "10.0.100.9",
            "192.168.1.57",
            "::1",
            "fe80::1",
        ] {
            assert_eq!(formatted(ip.parse().unwrap()), ip);
        }
    }

    proptest! {
        #[test]
        fn ip_text_matches_display(v4 in any::<[u8; 4]>(), v6 in any::<[u8; 16]>()) {
            let a = IpAddr::from(v4);
            prop_assert_eq!(formatted(a), a.to_string());
            let b = IpAddr::from(v6);
            prop_assert_eq!(formatted(b), b.to_string());
        }
    }
}
