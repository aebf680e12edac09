//! Table schemas of the raw layer. Column names are constants so that SQL, tests and docs agree.
//! Partition columns (device, year, month) are not part of these schemas: they live in the path.

use std::sync::{Arc, LazyLock};

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::drops::DropReason;

pub const TABLE_CAPTURES: &str = "captures";
pub const TABLE_DNS: &str = "dns";
pub const TABLE_NAMES: &str = "names";
pub const TABLE_FLOWS: &str = "flows";
/// Every raw table.
pub const RAW_TABLES: [&str; 4] = [TABLE_CAPTURES, TABLE_DNS, TABLE_NAMES, TABLE_FLOWS];

fn ts() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn f(name: &str, dt: DataType, nullable: bool) -> Field {
    Field::new(name, dt, nullable)
}

fn endpoint_fields() -> Vec<Field> {
    vec![
        f("client_ip", DataType::Utf8, false),
        f("client_port", DataType::UInt16, false),
        f("server_ip", DataType::Utf8, false),
        f("server_port", DataType::UInt16, false),
        f("transport", DataType::Utf8, false),
    ]
}

pub static DNS: LazyLock<SchemaRef> = LazyLock::new(|| {
    let mut fields = vec![f("ts", ts(), false), f("capture", DataType::Utf8, false)];
    fields.extend(endpoint_fields());
    fields.extend([
        f("txid", DataType::UInt16, false),
        f("query", DataType::Utf8, true),
        f("qtype", DataType::Utf8, true),
        f("rcode", DataType::Utf8, false),
        f("section", DataType::Utf8, true),
        f("rr_name", DataType::Utf8, true),
        f("rr_type", DataType::Utf8, true),
        f("rr_ttl", DataType::UInt32, true),
        f("answer", DataType::Utf8, true),
    ]);
    Arc::new(Schema::new(fields))
});

pub static NAMES: LazyLock<SchemaRef> = LazyLock::new(|| {
    let mut fields = vec![f("ts", ts(), false), f("capture", DataType::Utf8, false)];
    fields.extend(endpoint_fields());
    fields.extend([
        f("protocol", DataType::Utf8, false),
        f("name", DataType::Utf8, true),
        f("alpn", DataType::Utf8, true),
        f("tls_version", DataType::Utf8, true),
        f("user_agent", DataType::Utf8, true),
        f("ja4", DataType::Utf8, true),
        f("ja4_r", DataType::Utf8, true),
        f("ja3", DataType::Utf8, true),
        f("ja3_full", DataType::Utf8, true),
    ]);
    Arc::new(Schema::new(fields))
});

pub static FLOWS: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        f("capture", DataType::Utf8, false),
        f("first_ts", ts(), false),
        f("last_ts", ts(), false),
        f("proto", DataType::Utf8, false),
        f("ip_version", DataType::UInt8, false),
        f("local_ip", DataType::Utf8, false),
        f("local_port", DataType::UInt16, false),
        f("remote_ip", DataType::Utf8, false),
        f("remote_port", DataType::UInt16, false),
        f("initiator", DataType::Utf8, false),
        f("packets_out", DataType::Int64, false),
        f("bytes_out", DataType::Int64, false),
        f("packets_in", DataType::Int64, false),
        f("bytes_in", DataType::Int64, false),
    ]))
});

pub static CAPTURES: LazyLock<SchemaRef> = LazyLock::new(|| {
    let mut fields = vec![
        f("path", DataType::Utf8, false),
        f("file_name", DataType::Utf8, false),
        f("capture", DataType::Utf8, false),
        f("device_ip", DataType::Utf8, true),
        f("name_ts", ts(), true),
        f("size_bytes", DataType::Int64, false),
        f("mtime", ts(), true),
        f("format", DataType::Utf8, true),
        f("link_type", DataType::Int32, true),
        f("packets", DataType::Int64, false),
        f("bytes", DataType::Int64, false),
        f("first_ts", ts(), true),
        f("last_ts", ts(), true),
        f("dns_rows", DataType::Int64, false),
        f("name_rows", DataType::Int64, false),
        f("flow_rows", DataType::Int64, false),
        f("dropped", DataType::Int64, false),
    ];
    fields.extend(
        DropReason::ALL
            .iter()
            .map(|r| f(&format!("drop_{}", r.name()), DataType::Int64, false)),
    );
    fields.extend([
        f("status", DataType::Utf8, false),
        f("error", DataType::Utf8, true),
    ]);
    Arc::new(Schema::new(fields))
});

/// Schema of a raw table by name.
pub fn schema_of(table: &str) -> Option<SchemaRef> {
    match table {
        TABLE_CAPTURES => Some(CAPTURES.clone()),
        TABLE_DNS => Some(DNS.clone()),
        TABLE_NAMES => Some(NAMES.clone()),
        TABLE_FLOWS => Some(FLOWS.clone()),
        _ => None,
    }
}
