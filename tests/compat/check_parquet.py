"""Reads every raw and analysis table of a dataset with polars (scan_parquet, hive
partitioning), pyarrow.dataset (hive partitioning) and the Python datafusion package (plain SQL,
no project UDFs), checking partition columns and documented column types.

usage: check_parquet.py DATASET
"""
import os
import sys

import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
from datafusion import SessionContext

root = sys.argv[1]
failures = []
passed = 0


def expect(cond, msg):
    global passed
    if cond:
        passed += 1
    else:
        failures.append(msg)


TS = pl.Datetime("us", "UTC")
tables = {
    "captures": {"path": pl.Utf8, "packets": pl.Int64, "first_ts": TS, "status": pl.Utf8, "drop_non_ip": pl.Int64},
    "dns": {"ts": TS, "query": pl.Utf8, "rr_ttl": pl.UInt32, "client_port": pl.UInt16, "answer": pl.Utf8, "section": pl.Utf8},
    "names": {"ts": TS, "name": pl.Utf8, "server_port": pl.UInt16, "protocol": pl.Utf8, "tls_version": pl.Utf8},
    "flows": {"first_ts": TS, "bytes_out": pl.Int64, "local_port": pl.UInt16, "ip_version": pl.UInt8, "initiator": pl.Utf8},
    "analysis/flow_domains": {"domain": pl.Utf8, "method": pl.Utf8, "bytes_in": pl.Int64, "first_ts": TS},
    "analysis/destinations": {"destination": pl.Utf8, "category": pl.Utf8, "reason": pl.Utf8, "flows": pl.Int64, "first_seen": TS},
    "analysis/ips": {"ip": pl.Utf8, "domain": pl.Utf8, "country_iso": pl.Utf8},
    "analysis/platforms": {"platform": pl.Utf8, "evidence": pl.Utf8, "confidence": pl.Utf8},
    "analysis/hostnames": {"hostname": pl.Utf8, "dns_rows": pl.Int64, "name_rows": pl.Int64, "first_seen": TS},
    "analysis/summary": {"captures": pl.Int64, "packets": pl.Int64, "internet_flows": pl.Int64, "internet_bytes_unattributed": pl.Int64},
}
ctx = SessionContext()
for table, cols in tables.items():
    path = os.path.join(root, table)
    df = pl.scan_parquet(os.path.join(path, "**", "*.parquet"), hive_partitioning=True).collect()
    expect(df.height > 0, f"polars {table}: no rows")
    for c in ["device", "year", "month"]:
        expect(c in df.columns, f"polars {table}: no partition column {c}")
    for c, t in cols.items():
        expect(c in df.columns and df.schema[c] == t, f"polars {table}.{c}: {df.schema.get(c)} != {t}")
    at = ds.dataset(path, format="parquet", partitioning="hive").to_table()
    expect(at.num_rows == df.height, f"pyarrow {table}: {at.num_rows} rows vs polars {df.height}")
    for c in ["device", "year", "month"]:
        expect(c in at.column_names, f"pyarrow {table}: no partition column {c}")
    name = table.replace("/", "_")
    ctx.sql(f"CREATE EXTERNAL TABLE {name} STORED AS PARQUET LOCATION '{path}/'")
    n = ctx.sql(f"SELECT device, COUNT(*) AS n FROM {name} GROUP BY device").to_pydict()
    expect(sum(n["n"]) == df.height, f"datafusion {table}: {sum(n['n'])} rows vs {df.height}")
    print(f"read {table}: {df.height} rows (polars, pyarrow.dataset, datafusion)")

print(f"{passed} passed, {len(failures)} failed")
for f in failures:
    print("FAIL", f)
sys.exit(1 if failures else 0)
