//! Partitioned Parquet writer with all-or-nothing replacement of a device-month.
//!
//! Local datasets: every table of a partition is first written under `<dataset>/.staging/<run>/`,
//! then each table's month folder is swapped in with renames: extracting a month again replaces
//! it, never duplicates it, and an interrupted run leaves either the old month or the new one.
//!
//! Object stores have no rename. There every part is streamed up with parquet's async writer
//! (multipart uploads of ~10 MiB, never a whole table in memory) under a new name
//! (`part-<run>-<n>.parquet`) in the month's final prefix; once every table of the month is
//! complete, the month's older objects are deleted. A reader never sees a half-written object
//! (a multipart upload appears whole when it completes); one that lists the month during the few
//! requests between the last upload and the last delete may see the old and the new parts
//! together. An interrupted run leaves the old parts (and at most some of the new ones, which the
//! next run of that month deletes).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, SchemaRef};
use parquet::arrow::AsyncArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use super::columns::ColumnsWriter;
use super::location::{block, Location};
use super::partition::PartitionKey;

/// Rows per Parquet row group.
pub const ROW_GROUP_ROWS: usize = 256 * 1024;
/// Rows per part file before a new part starts.
pub const PART_ROWS: usize = 8 * 1024 * 1024;

/// Output failures (fatal for the run).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write Parquet {path}: {source}")]
    Parquet {
        path: PathBuf,
        source: parquet::errors::ParquetError,
    },
    #[error("{location}: {message}")]
    Object { location: String, message: String },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// ZSTD level of every Parquet file: 1, the default of Arrow C++ / pyarrow. Level 3 made the
/// synth set's tables 4 % smaller for 10 % more extraction CPU (README, Performance).
const ZSTD_LEVEL: i32 = 1;

/// Integer columns whose values jump at random from row to row (DNS transaction ids) or
/// repeat a few values in no order (TTLs): delta encoding made them larger (txid 1.1 -> 2.5 MB,
/// rr_ttl 1.4 -> 2.0 MB on the synth set), so they stay plain.
const PLAIN_INTEGERS: [&str; 2] = ["txid", "rr_ttl"];

/// Writer properties of a table: ZSTD, dictionary-encoded strings, statistics on numbers.
///
/// Only string columns get a dictionary. Numbers (times, ports, TTLs, counters) are written
/// plain: most are close to unique per row group, so their dictionaries overflowed and fell
/// back to plain after costing a hash and a lookup per value; plain numbers under ZSTD made the
/// synth set's tables 35 % smaller and extraction 13 % faster (README, Performance).
/// Integers and times are DELTA_BINARY_PACKED (times rise, ports and counters stay small):
/// ZSTD then has a third to a fifth of the bytes to compress. Writing the synth set's flows
/// took 205 -> 129 ms and they shrank 9.9 -> 8.5 MB; names 2.5 -> 1.6 MB (save
/// [`PLAIN_INTEGERS`]). pyarrow, polars and DataFusion read the encoding (Parquet format 2.0,
/// readable since 2015).
///
/// Only numbers and times get min/max statistics (the footer-only time spans of `inventory`
/// need them; so does row-group pruning on times and ports). String min/max cost a byte
/// comparison per value against both bounds, for bounds that prune nothing here: every row
/// group of a month holds the same mix of names and addresses.
pub fn writer_properties(schema: &SchemaRef) -> WriterProperties {
    let mut b = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(ZSTD_LEVEL).unwrap_or_default(),
        ))
        .set_dictionary_enabled(true)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS));
    for f in schema.fields() {
        let col = ColumnPath::from(f.name().as_str());
        b = match f.data_type() {
            DataType::Utf8 | DataType::LargeUtf8 => {
                b.set_column_statistics_enabled(col, EnabledStatistics::None)
            }
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
            | DataType::Timestamp(..)
                if !PLAIN_INTEGERS.contains(&f.name().as_str()) =>
            {
                b.set_column_dictionary_enabled(col.clone(), false)
                    .set_column_encoding(col, Encoding::DELTA_BINARY_PACKED)
            }
            _ => b.set_column_dictionary_enabled(col, false),
        };
    }
    b.build()
}

/// Where a part goes.
enum Sink {
    /// A local file, its columns encoded side by side on the rayon pool.
    Local(ColumnsWriter),
    Remote(Box<AsyncArrowWriter<object_store::buffered::BufWriter>>),
}

struct TableOut {
    schema: SchemaRef,
    writer: Option<Sink>,
    part: usize,
    rows_in_part: usize,
    rows: u64,
    /// Parts written (object names, on an object store).
    parts: Vec<String>,
}

/// Writes one partition (all tables) into staging (or under new names), then commits it.
pub struct PartitionWriter {
    dataset: Location,
    /// Local staging folder (local datasets only).
    staging: Option<PathBuf>,
    /// Unique name of this writer's parts on an object store.
    run: String,
    key: PartitionKey,
    tables: BTreeMap<String, TableOut>,
}

/// Folder for this process's staging.
pub fn staging_root(dataset: &Path) -> PathBuf {
    dataset.join(".staging")
}

/// Removes staging folders left by processes that no longer run (after a crash or kill).
pub fn clean_stale_staging(dataset: &Path) {
    clean_stale_in(&staging_root(dataset));
}

/// Removes the folders under `root` named `<pid>-…` of processes that no longer run.
pub fn clean_stale_in(root: &Path) {
    let Ok(entries) = fs::read_dir(root) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let pid = name.split('-').next().and_then(|p| p.parse::<u32>().ok());
        let alive = pid
            .is_some_and(|p| p == std::process::id() || Path::new(&format!("/proc/{p}")).exists());
        if !alive {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

/// A name no other writer (of this or another process or machine) uses.
pub fn unique_run_name() -> String {
    use std::hash::{BuildHasher, Hasher};
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros());
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(now);
    h.write_u32(std::process::id());
    format!("{now}-{:08x}", h.finish() as u32)
}

impl PartitionWriter {
    /// Starts a partition of a local dataset; `tables` gives each table's schema (all are
    /// written, even if empty).
    pub fn new(
        dataset: &Path,
        key: PartitionKey,
        tables: &[(&str, SchemaRef)],
    ) -> Result<Self, StoreError> {
        Self::at(&Location::Local(dataset.to_path_buf()), key, tables)
    }

    /// Starts a partition of a dataset at `dataset` (local or on an object store).
    pub fn at(
        dataset: &Location,
        key: PartitionKey,
        tables: &[(&str, SchemaRef)],
    ) -> Result<Self, StoreError> {
        let staging = match dataset.local() {
            Some(root) => {
                let unique = format!(
                    "{}-{}-{:04}-{:02}",
                    std::process::id(),
                    super::partition::encode_value(&key.device),
                    key.year,
                    key.month
                );
                let staging = staging_root(root).join(unique);
                if staging.exists() {
                    fs::remove_dir_all(&staging).map_err(io_err(&staging))?;
                }
                fs::create_dir_all(&staging).map_err(io_err(&staging))?;
                Some(staging)
            }
            None => None,
        };
        let tables = tables
            .iter()
            .map(|(name, schema)| {
                (
                    name.to_string(),
                    TableOut {
                        schema: schema.clone(),
                        writer: None,
                        part: 0,
                        rows_in_part: 0,
                        rows: 0,
                        parts: Vec::new(),
                    },
                )
            })
            .collect();
        Ok(PartitionWriter {
            dataset: dataset.clone(),
            staging,
            run: unique_run_name(),
            key,
            tables,
        })
    }

    /// The partition folder (or prefix) of `table`.
    fn final_dir(&self, table: &str) -> Location {
        self.key.at(&self.dataset, table)
    }

    fn part_name(&self, part: usize) -> String {
        match self.staging {
            Some(_) => format!("part-{part}.parquet"),
            None => format!("part-{}-{part:05}.parquet", self.run),
        }
    }

    fn part_path(&self, table: &str, part: usize) -> PathBuf {
        match &self.staging {
            Some(st) => st.join(table).join(self.part_name(part)),
            None => PathBuf::from(self.final_dir(table).join(self.part_name(part)).to_string()),
        }
    }

    fn open(&self, table: &str, part: usize, schema: &SchemaRef) -> Result<Sink, StoreError> {
        let path = self.part_path(table, part);
        let parquet = |source| StoreError::Parquet {
            path: path.clone(),
            source,
        };
        if self.staging.is_some() {
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).map_err(io_err(parent))?;
            }
            let file = File::create(&path).map_err(io_err(&path))?;
            return ColumnsWriter::try_new(
                BufWriter::with_capacity(1 << 20, file),
                schema.clone(),
                writer_properties(schema),
            )
            .map(Sink::Local)
            .map_err(parquet);
        }
        let object = self.final_dir(table).join(self.part_name(part));
        let (Some((_, store)), Ok(key)) = (object.store(), object.store_path()) else {
            return Err(StoreError::Object {
                location: object.to_string(),
                message: "not an object store location".into(),
            });
        };
        let upload = object_store::buffered::BufWriter::new(store, key);
        AsyncArrowWriter::try_new(upload, schema.clone(), Some(writer_properties(schema)))
            .map(|w| Sink::Remote(Box::new(w)))
            .map_err(parquet)
    }

    /// Appends a batch to `table` (rows must already be in time order).
    pub fn write(&mut self, table: &str, batch: &RecordBatch) -> Result<(), StoreError> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let Some(t) = self.tables.get(table) else {
            return Err(StoreError::Io {
                path: PathBuf::from(table),
                source: std::io::Error::other("unknown table"),
            });
        };
        let (part, schema) = (t.part, t.schema.clone());
        let needs_roll = t.writer.is_some() && t.rows_in_part >= PART_ROWS;
        if needs_roll {
            self.close_table(table)?;
        }
        let t = self.tables.get(table).map(|t| (t.writer.is_none(), t.part));
        if let Some((true, p)) = t {
            let w = self.open(table, p, &schema)?;
            let name = self.part_name(p);
            if let Some(t) = self.tables.get_mut(table) {
                t.writer = Some(w);
                t.parts.push(name);
            }
        }
        let path = self.part_path(table, part);
        let Some(t) = self.tables.get_mut(table) else {
            return Ok(());
        };
        let result = match t.writer.as_mut() {
            Some(Sink::Local(w)) => w.write(batch),
            Some(Sink::Remote(w)) => block(w.write(batch)),
            None => Ok(()),
        };
        result.map_err(|source| StoreError::Parquet { path, source })?;
        t.rows += batch.num_rows() as u64;
        t.rows_in_part += batch.num_rows();
        Ok(())
    }

    fn close_table(&mut self, table: &str) -> Result<(), StoreError> {
        let Some(part) = self.tables.get(table).map(|t| t.part) else {
            return Ok(());
        };
        let path = self.part_path(table, part);
        let Some(t) = self.tables.get_mut(table) else {
            return Ok(());
        };
        if let Some(w) = t.writer.take() {
            let closed = match w {
                Sink::Local(w) => w.close(),
                Sink::Remote(w) => block(w.close()).map(|_| ()),
            };
            closed.map_err(|source| StoreError::Parquet { path, source })?;
            t.part += 1;
            t.rows_in_part = 0;
        }
        Ok(())
    }

    /// Finishes every table and puts the month in place. Returns rows per table.
    pub fn commit(mut self) -> Result<BTreeMap<String, u64>, StoreError> {
        let names: Vec<String> = self.tables.keys().cloned().collect();
        for name in &names {
            self.close_table(name)?;
            let t = &self.tables[name];
            if t.part == 0 {
                // No rows: an empty file keeps the schema and replaces any older month.
                let schema = t.schema.clone();
                let w = self.open(name, 0, &schema)?;
                let part_name = self.part_name(0);
                if let Some(t) = self.tables.get_mut(name) {
                    t.writer = Some(w);
                    t.parts.push(part_name);
                }
                self.close_table(name)?;
            }
        }
        let mut rows = BTreeMap::new();
        for name in &names {
            match &self.staging {
                Some(staging) => {
                    let staged = staging.join(name);
                    let fin = self
                        .key
                        .dir(self.dataset.local().unwrap_or(Path::new(".")), name);
                    let old = staging.join(format!("{name}.old"));
                    replace_dir(&staged, &fin, &old)?;
                }
                None => {
                    // Everything new is up: now the month's older parts go.
                    let dir = self.final_dir(name);
                    let keep: BTreeSet<&String> = self.tables[name].parts.iter().collect();
                    for old in dir.files()? {
                        if !keep.contains(&old.name) {
                            dir.join(&old.name).delete()?;
                        }
                    }
                }
            }
            rows.insert(name.clone(), self.tables[name].rows);
        }
        if let Some(staging) = &self.staging {
            let _ = fs::remove_dir_all(staging);
        }
        Ok(rows)
    }
}

impl Drop for PartitionWriter {
    fn drop(&mut self) {
        // After a commit the folder is gone; after an error this discards the half-written month
        // (on an object store, uploads not completed never become objects).
        if let Some(staging) = &self.staging {
            let _ = fs::remove_dir_all(staging);
        }
    }
}

/// Puts the folder `staged` in the place of `fin` with renames (the old `fin`, if any, is moved to
/// `old` and deleted), so a reader sees the old folder or the new one, never a mix of files.
pub fn replace_dir(staged: &Path, fin: &Path, old: &Path) -> Result<(), StoreError> {
    if let Some(parent) = fin.parent() {
        fs::create_dir_all(parent).map_err(io_err(parent))?;
    }
    if old.exists() {
        fs::remove_dir_all(old).map_err(io_err(old))?;
    }
    if fin.exists() {
        fs::rename(fin, old).map_err(io_err(fin))?;
    }
    fs::rename(staged, fin).map_err(io_err(fin))?;
    if old.exists() {
        fs::remove_dir_all(old).map_err(io_err(old))?;
    }
    Ok(())
}

/// Removes a partition folder and the parents it leaves empty, up to (not including) `root`.
pub fn remove_partition(root: &Path, dir: &Path) -> Result<(), StoreError> {
    if dir.exists() {
        fs::remove_dir_all(dir).map_err(io_err(dir))?;
    }
    let mut parent = dir.parent();
    while let Some(p) = parent {
        if p == root || !p.starts_with(root) || fs::remove_dir(p).is_err() {
            break;
        }
        parent = p.parent();
    }
    Ok(())
}

/// Puts the local folder `staged` (Parquet parts) at `dest`: by renames when `dest` is local
/// (see [`replace_dir`]; `old` is the scratch name for the folder it replaces); on an object
/// store, by uploading each part under a new name (streamed, multipart) and then deleting the
/// older objects there.
pub fn publish_dir(staged: &Path, dest: &Location, old: &Path) -> Result<(), StoreError> {
    if let Some(fin) = dest.local() {
        return replace_dir(staged, fin, old);
    }
    let run = unique_run_name();
    let mut names = BTreeSet::new();
    let mut files: Vec<PathBuf> = fs::read_dir(staged)
        .map_err(io_err(staged))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    for file in files {
        let name = format!(
            "{}-{run}.parquet",
            file.file_stem()
                .map_or_else(String::new, |s| s.to_string_lossy().into_owned())
        );
        let object = dest.join(&name);
        upload_file(&file, &object)?;
        names.insert(name);
    }
    for entry in dest.files()? {
        if !names.contains(&entry.name) {
            dest.join(&entry.name).delete()?;
        }
    }
    let _ = fs::remove_dir_all(staged);
    Ok(())
}

/// Puts the staged partition `staged` (a local folder or an object-store prefix) at `dest`:
/// [`publish_dir`] for a local stage; on an object store, a server-side copy of each part under
/// a new name, then the deletion of `dest`'s older objects and of the staged ones.
pub fn publish(staged: &Location, dest: &Location, old: &Path) -> Result<(), StoreError> {
    if let Some(local) = staged.local() {
        return publish_dir(local, dest, old);
    }
    let run = unique_run_name();
    let mut names = BTreeSet::new();
    for part in staged.files()? {
        let stem = part.name.strip_suffix(".parquet").unwrap_or(&part.name);
        let name = format!("{stem}-{run}.parquet");
        staged.join(&part.name).copy_to(&dest.join(&name))?;
        names.insert(name);
    }
    for entry in dest.files()? {
        if !names.contains(&entry.name) {
            dest.join(&entry.name).delete()?;
        }
    }
    staged.delete_tree()
}

/// Streams a local file to an object (multipart beyond 10 MiB).
fn upload_file(file: &Path, object: &Location) -> Result<(), StoreError> {
    use std::io::Read;
    use tokio::io::AsyncWriteExt;
    let (Some((_, store)), Ok(key)) = (object.store(), object.store_path()) else {
        return Err(StoreError::Object {
            location: object.to_string(),
            message: "not an object store location".into(),
        });
    };
    let mut input = File::open(file).map_err(io_err(file))?;
    let failed = |e: std::io::Error| StoreError::Object {
        location: object.to_string(),
        message: format!("upload failed: {e}"),
    };
    block(async move {
        let mut up = object_store::buffered::BufWriter::new(store, key);
        let mut buf = vec![0u8; 8 << 20];
        loop {
            let n = input.read(&mut buf)?;
            if n == 0 {
                break;
            }
            up.write_all(&buf[..n]).await?;
        }
        up.shutdown().await
    })
    .map_err(failed)
}

/// Removes a partition (folder or prefix) of a dataset at `root`.
pub fn remove_partition_at(root: &Location, dir: &Location) -> Result<(), StoreError> {
    match (root.local(), dir.local()) {
        (Some(r), Some(d)) => remove_partition(r, d),
        _ => dir.delete_tree(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{ArrayRef, Int64Array, StringArray, UInt16Array};
    use arrow::datatypes::{Field, Schema};
    use parquet::arrow::ArrowWriter;
    use parquet::basic::Encoding;
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use std::sync::Arc;

    #[test]
    fn strings_get_dictionaries_numbers_get_statistics() {
        let schema: SchemaRef = Arc::new(Schema::new(vec![
            Field::new("name", DataType::Utf8, true),
            Field::new("ts", DataType::Int64, false),
            Field::new("port", DataType::UInt16, false),
        ]));
        let n = 1000;
        let cols: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(
                (0..n).map(|i| ["a.example", "b.example"][i % 2]),
            )),
            Arc::new(Int64Array::from_iter_values(0..n as i64)),
            Arc::new(UInt16Array::from_iter_values(
                (0..n).map(|i| (i % 3) as u16),
            )),
        ];
        let batch = RecordBatch::try_new(schema.clone(), cols).unwrap();
        let mut buf = Vec::new();
        let mut w =
            ArrowWriter::try_new(&mut buf, schema.clone(), Some(writer_properties(&schema)))
                .unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        let r = SerializedFileReader::new(bytes::Bytes::from(buf)).unwrap();
        let rg = r.metadata().row_group(0);
        let dict = |i: usize| {
            rg.column(i)
                .encodings()
                .any(|e| e == Encoding::RLE_DICTIONARY || e == Encoding::PLAIN_DICTIONARY)
        };
        assert!(dict(0), "string column without a dictionary");
        assert!(!dict(1) && !dict(2), "numeric column with a dictionary");
        for i in 1..3 {
            assert!(
                rg.column(i)
                    .encodings()
                    .any(|e| e == Encoding::DELTA_BINARY_PACKED),
                "integer column {i} not delta-encoded"
            );
        }
        for i in 0..3 {
            assert!(matches!(rg.column(i).compression(), Compression::ZSTD(_)));
        }
        assert!(
            rg.column(0).statistics().is_none(),
            "string column with statistics"
        );
        for i in 1..3 {
            assert!(
                rg.column(i).statistics().is_some(),
                "column {i} without statistics"
            );
        }
    }
}
