//! Partitioned Parquet writer with all-or-nothing replacement of a device-month.
//!
//! Every table of a partition is first written under `<dataset>/.staging/<run>/`, then each
//! table's month folder is swapped in with renames: extracting a month again replaces it, never
//! duplicates it, and an interrupted run leaves either the old month or the new one.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

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
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writer properties shared by every table: ZSTD, dictionary-encoded strings, statistics.
pub fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).unwrap_or_default()))
        .set_dictionary_enabled(true)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .build()
}

struct TableOut {
    schema: SchemaRef,
    writer: Option<ArrowWriter<BufWriter<File>>>,
    part: usize,
    rows_in_part: usize,
    rows: u64,
}

/// Writes one partition (all tables) into staging, then commits it.
pub struct PartitionWriter {
    dataset: PathBuf,
    staging: PathBuf,
    key: PartitionKey,
    tables: BTreeMap<String, TableOut>,
}

/// Folder for this process's staging.
pub fn staging_root(dataset: &Path) -> PathBuf {
    dataset.join(".staging")
}

/// Removes staging folders left by processes that no longer run (after a crash or kill).
pub fn clean_stale_staging(dataset: &Path) {
    let root = staging_root(dataset);
    let Ok(entries) = fs::read_dir(&root) else {
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

impl PartitionWriter {
    /// Starts a partition; `tables` gives each table's schema (all are written, even if empty).
    pub fn new(
        dataset: &Path,
        key: PartitionKey,
        tables: &[(&str, SchemaRef)],
    ) -> Result<Self, StoreError> {
        let unique = format!(
            "{}-{}-{:04}-{:02}",
            std::process::id(),
            super::partition::encode_value(&key.device),
            key.year,
            key.month
        );
        let staging = staging_root(dataset).join(unique);
        if staging.exists() {
            fs::remove_dir_all(&staging).map_err(io_err(&staging))?;
        }
        fs::create_dir_all(&staging).map_err(io_err(&staging))?;
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
                    },
                )
            })
            .collect();
        Ok(PartitionWriter {
            dataset: dataset.to_path_buf(),
            staging,
            key,
            tables,
        })
    }

    fn part_path(&self, table: &str, part: usize) -> PathBuf {
        self.staging
            .join(table)
            .join(format!("part-{part}.parquet"))
    }

    fn open(
        &self,
        table: &str,
        part: usize,
        schema: &SchemaRef,
    ) -> Result<ArrowWriter<BufWriter<File>>, StoreError> {
        let path = self.part_path(table, part);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(io_err(parent))?;
        }
        let file = File::create(&path).map_err(io_err(&path))?;
        ArrowWriter::try_new(
            BufWriter::with_capacity(1 << 20, file),
            schema.clone(),
            Some(writer_properties()),
        )
        .map_err(|source| StoreError::Parquet { path, source })
    }

    /// Appends a batch to `table` (rows must already be in time order).
    pub fn write(&mut self, table: &str, batch: &RecordBatch) -> Result<(), StoreError> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let Some(t) = self.tables.get(table) else {
            return Err(StoreError::Io {
                path: self.staging.join(table),
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
            if let Some(t) = self.tables.get_mut(table) {
                t.writer = Some(w);
            }
        }
        let path = self.part_path(table, part);
        let Some(t) = self.tables.get_mut(table) else {
            return Ok(());
        };
        if let Some(w) = t.writer.as_mut() {
            w.write(batch)
                .map_err(|source| StoreError::Parquet { path, source })?;
        }
        t.rows += batch.num_rows() as u64;
        t.rows_in_part += batch.num_rows();
        Ok(())
    }

    fn close_table(&mut self, table: &str) -> Result<(), StoreError> {
        let Some(t) = self.tables.get_mut(table) else {
            return Ok(());
        };
        if let Some(w) = t.writer.take() {
            let path = self
                .staging
                .join(table)
                .join(format!("part-{}.parquet", t.part));
            w.close()
                .map_err(|source| StoreError::Parquet { path, source })?;
            t.part += 1;
            t.rows_in_part = 0;
        }
        Ok(())
    }

    /// Finishes every table and swaps the month folders into place. Returns rows per table.
    pub fn commit(mut self) -> Result<BTreeMap<String, u64>, StoreError> {
        let names: Vec<String> = self.tables.keys().cloned().collect();
        for name in &names {
            self.close_table(name)?;
            let t = &self.tables[name];
            if t.part == 0 {
                // No rows: an empty file keeps the schema and replaces any older month.
                let schema = t.schema.clone();
                let w = self.open(name, 0, &schema)?;
                let path = self.part_path(name, 0);
                w.close()
                    .map_err(|source| StoreError::Parquet { path, source })?;
            }
        }
        let mut rows = BTreeMap::new();
        for name in &names {
            let staged = self.staging.join(name);
            let fin = self.key.dir(&self.dataset, name);
            let old = self.staging.join(format!("{name}.old"));
            replace_dir(&staged, &fin, &old)?;
            rows.insert(name.clone(), self.tables[name].rows);
        }
        let _ = fs::remove_dir_all(&self.staging);
        Ok(rows)
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

impl Drop for PartitionWriter {
    fn drop(&mut self) {
        // After a commit the folder is gone; after an error this discards the half-written month.
        let _ = fs::remove_dir_all(&self.staging);
    }
}
