//! Reading the `captures` manifest back: which files (path, size, mtime) a stored month was
//! extracted from, so a later run can skip months whose captures have not changed.

use std::collections::BTreeSet;
use std::path::Path;

use arrow::array::{Array, Int64Array, StringArray, TimestampMicrosecondArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, TimeUnit};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::inventory::part_files;
use super::location::Location;
use super::partition::PartitionKey;
use crate::columnar::schema::{CAPTURES, TABLE_CAPTURES};

/// Identity of one capture file as the manifest records it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileStamp {
    pub path: String,
    pub size: i64,
    pub mtime_us: Option<i64>,
}

/// The file stamps of a stored month, or None when the month is absent or unreadable.
pub fn stored_stamps(dataset: &Location, key: &PartitionKey) -> Option<BTreeSet<FileStamp>> {
    let dir = key.at(dataset, TABLE_CAPTURES);
    let mut out = BTreeSet::new();
    let mut any = false;
    for part in part_files(&dir).ok()? {
        any = true;
        let bytes = dir.join(&part.name).read().ok()??;
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
            .ok()?
            .build()
            .ok()?;
        for batch in reader {
            let batch = batch.ok()?;
            let schema = batch.schema();
            // A month written by an older iotdest (other columns) is extracted again.
            if CAPTURES
                .fields()
                .iter()
                .any(|f| schema.index_of(f.name()).is_err())
            {
                return None;
            }
            let path = cast(batch.column(schema.index_of("path").ok()?), &DataType::Utf8).ok()?;
            let path = path.as_any().downcast_ref::<StringArray>()?.clone();
            let size = batch
                .column(schema.index_of("size_bytes").ok()?)
                .as_any()
                .downcast_ref::<Int64Array>()?
                .clone();
            let mtime = cast(
                batch.column(schema.index_of("mtime").ok()?),
                &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            )
            .ok()?;
            let mtime = mtime
                .as_any()
                .downcast_ref::<TimestampMicrosecondArray>()?
                .clone();
            for i in 0..batch.num_rows() {
                out.insert(FileStamp {
                    path: path.value(i).to_string(),
                    size: size.value(i),
                    mtime_us: (!mtime.is_null(i)).then(|| mtime.value(i)),
                });
            }
        }
    }
    any.then_some(out)
}

/// The stamp of a file on disk now (as `extract` would record it).
pub fn current_stamp(path: &Path) -> Option<FileStamp> {
    let meta = std::fs::metadata(path).ok()?;
    let mtime_us = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_micros() as i64);
    Some(FileStamp {
        path: path.to_string_lossy().into_owned(),
        size: meta.len() as i64,
        mtime_us,
    })
}
