//! DataFusion sessions: over a whole dataset (every raw table as a listing table with its
//! device/year/month partition columns, every analysis table that exists, the project's UDFs),
//! or over chosen partitions only (what one month's analysis reads); and the runtime they share,
//! with its memory limit and spill folder.

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::datasource::file_format::parquet::{transform_schema_to_view, ParquetFormat};
use datafusion::datasource::listing::ListingOptions;
use datafusion::datasource::MemTable;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::context::SessionContext;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::{FairSpillPool, TrackConsumersPool};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::logical_expr::{col, lit, Expr};

use super::parts::{files_of, PartFileRef, PartsTable};
use datafusion::prelude::SessionConfig;
use datafusion::scalar::ScalarValue;

use crate::classify::geo::Geo;
use crate::columnar::schema::{schema_of, RAW_TABLES};
use crate::query::udf::{register_all, DeviceContexts};
use crate::store::inventory::part_files;
use crate::store::{Location, StoreError};

/// Partition columns of every table, in path order.
pub const PARTITION_COLS: [&str; 3] = ["device", "year", "month"];

fn partition_cols() -> Vec<(String, DataType)> {
    PARTITION_COLS
        .iter()
        .map(|c| (c.to_string(), DataType::Utf8))
        .collect()
}

/// Schema a table has when read through the session: file columns plus partition columns.
pub fn with_partition_fields(schema: &SchemaRef) -> SchemaRef {
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.extend(
        PARTITION_COLS
            .iter()
            .map(|c| Field::new(*c, DataType::Utf8, false)),
    );
    Arc::new(Schema::new(fields))
}

/// The first Parquet file under `dir` in path order, with its size.
fn first_parquet(dir: &Location) -> std::result::Result<Option<(Location, u64)>, StoreError> {
    if let Some(f) = part_files(dir)?.into_iter().next() {
        return Ok(Some((dir.join(&f.name), f.size)));
    }
    for (name, sub) in dir.dirs()? {
        if name.starts_with('_') {
            continue;
        }
        if let Some(found) = first_parquet(&sub)? {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

fn store_err(e: StoreError) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

/// The Arrow schema stored in a Parquet file's footer.
fn file_schema_of(file: &Location, size: u64) -> Result<SchemaRef> {
    let meta = file.parquet_metadata(size).map_err(store_err)?;
    let fm = meta.file_metadata();
    Ok(Arc::new(parquet::arrow::parquet_to_arrow_schema(
        fm.schema_descr(),
        fm.key_value_metadata(),
    )?))
}

/// Registers `dir` (hive-partitioned Parquet) as `name`; an absent or empty folder becomes an
/// empty table with `empty_schema` so queries still plan. The schema is the first file's (read
/// from one footer, not from every file of a large dataset).
pub async fn register_table(
    ctx: &SessionContext,
    name: &str,
    dir: &Location,
    empty_schema: Option<SchemaRef>,
) -> Result<()> {
    if let Some((first, size)) = first_parquet(dir).map_err(store_err)? {
        let opts = ListingOptions::new(Arc::new(ParquetFormat::default()))
            .with_file_extension(".parquet")
            .with_table_partition_cols(partition_cols());
        let schema = Arc::new(transform_schema_to_view(
            file_schema_of(&first, size)?.as_ref(),
        ));
        ctx.register_listing_table(name, dir.url(), opts, Some(schema), None)
            .await
    } else if let Some(schema) = empty_schema {
        let schema = with_partition_fields(&Arc::new(transform_schema_to_view(&schema)));
        let table = MemTable::try_new(schema.clone(), vec![vec![]])?;
        ctx.register_table(name, Arc::new(table)).map(|_| ())
    } else {
        Ok(())
    }
}

/// Default `--memory-limit`: 1 GiB.
pub const DEFAULT_MEMORY_LIMIT: usize = 1 << 30;

/// The runtime every session of one command shares: a memory pool of `memory_limit` bytes
/// (operators that can spill — sorts, aggregations — share it fairly and spill when it is full;
/// the others fail with a resources-exhausted error), a spill folder (`spill_dir`, else the
/// system's temporary folder, `TMPDIR`) and the object store of `dataset`, if it is on one.
pub fn runtime(
    memory_limit: usize,
    spill_dir: Option<PathBuf>,
    dataset: &Location,
) -> Result<Arc<RuntimeEnv>> {
    let pool = TrackConsumersPool::new(
        FairSpillPool::new(memory_limit),
        NonZeroUsize::new(5).unwrap_or(NonZeroUsize::MIN),
    );
    let mode = match spill_dir {
        Some(dir) => {
            std::fs::create_dir_all(&dir).map_err(|e| {
                DataFusionError::Execution(format!(
                    "cannot create the spill folder {}: {e}",
                    dir.display()
                ))
            })?;
            DiskManagerMode::Directories(vec![dir])
        }
        None => DiskManagerMode::OsTmpDirectory,
    };
    let env = RuntimeEnvBuilder::new()
        .with_memory_pool(Arc::new(pool))
        .with_disk_manager_builder(DiskManagerBuilder::default().with_mode(mode))
        .build_arc()?;
    if let Some((url, store)) = dataset.store() {
        env.register_object_store(&url, store);
    }
    Ok(env)
}

/// A session on `runtime` with the project's UDFs.
pub fn context(
    runtime: &Arc<RuntimeEnv>,
    geo: Arc<Geo>,
    devices: Arc<dyn DeviceContexts>,
    threads: usize,
) -> SessionContext {
    let config = SessionConfig::new()
        .with_target_partitions(threads.max(1))
        .with_information_schema(true);
    let ctx = SessionContext::new_with_config_rt(config, runtime.clone());
    register_all(&ctx, geo, devices);
    ctx
}

/// One partition folder to read, with the partition values its rows get.
#[derive(Debug, Clone)]
pub struct PartSource {
    pub dir: Location,
    /// The device name (decoded, as hive partitioning gives it in the `device` column).
    pub device: String,
    pub year: i32,
    pub month: u32,
}

fn ts_literal(us: i64) -> Expr {
    lit(ScalarValue::TimestampMicrosecond(
        Some(us),
        Some("UTC".into()),
    ))
}

/// Registers as `name` the rows of some partition folders, each with its device/year/month
/// columns, as a listing table over the whole table would give them (see `parts`). With
/// `window = (column, from, to)` only rows whose timestamp column lies in `[from, to]`
/// (microseconds, UTC) are kept. `file_schema` is the files' declared schema (strings are read
/// as views, like a listing table does); without it the first file's stored schema is used as it
/// is (the analysis steps read back what they wrote). No files and no schema: nothing is
/// registered.
pub async fn register_parts(
    ctx: &SessionContext,
    name: &str,
    file_schema: Option<&SchemaRef>,
    parts: &[PartSource],
    window: Option<(&str, i64, i64)>,
) -> Result<()> {
    let mut files: Vec<PartFileRef> = Vec::new();
    for p in parts {
        let values = [
            p.device.clone(),
            format!("{:04}", p.year),
            format!("{:02}", p.month),
        ];
        files.extend(files_of(&p.dir, values).map_err(store_err)?);
    }
    let schema = match (file_schema, files.first()) {
        (Some(s), _) => Arc::new(transform_schema_to_view(s)),
        (None, Some(f)) => file_schema_of(&f.location, f.size)?,
        (None, None) => return Ok(()),
    };
    let table = PartsTable::new(schema, files)?;
    match window {
        None => {
            ctx.register_table(name, Arc::new(table))?;
        }
        Some((column, from, to)) => {
            let df = ctx.read_table(Arc::new(table))?.filter(
                col(column)
                    .gt_eq(ts_literal(from))
                    .and(col(column).lt_eq(ts_literal(to))),
            )?;
            ctx.register_table(name, df.into_view())?;
        }
    }
    Ok(())
}

/// Registers as `name` the rows of `parts` of the hive-partitioned table at `root`, through a
/// listing table over `root` filtered on device/year/month (and on `ts` within `window`): a plan
/// a cluster can ship (listing tables serialize; the per-file table of `register_parts` does
/// not). `file_schema` as for `register_parts`.
pub async fn register_filtered(
    ctx: &SessionContext,
    name: &str,
    root: &Location,
    file_schema: Option<&SchemaRef>,
    parts: &[PartSource],
    window: Option<(i64, i64)>,
) -> Result<()> {
    let schema = match (file_schema, first_parquet(root).map_err(store_err)?) {
        (Some(s), _) => Arc::new(transform_schema_to_view(s)),
        (None, Some((first, size))) => file_schema_of(&first, size)?,
        (None, None) => {
            return Err(DataFusionError::Execution(format!(
                "{root} holds no Parquet file"
            )))
        }
    };
    let all = format!("{name}__all");
    let opts = ListingOptions::new(Arc::new(ParquetFormat::default()))
        .with_file_extension(".parquet")
        .with_table_partition_cols(partition_cols());
    ctx.register_listing_table(all.as_str(), root.url(), opts, Some(schema), None)
        .await?;
    let wanted = parts
        .iter()
        .map(|p| {
            col("device")
                .eq(lit(p.device.clone()))
                .and(col("year").eq(lit(format!("{:04}", p.year))))
                .and(col("month").eq(lit(format!("{:02}", p.month))))
        })
        .reduce(|a, b| a.or(b))
        .unwrap_or(lit(false));
    let mut df = ctx.table(all.as_str()).await?.filter(wanted)?;
    if let Some((from, to)) = window {
        df = df.filter(
            col("ts")
                .gt_eq(ts_literal(from))
                .and(col("ts").lt_eq(ts_literal(to))),
        )?;
    }
    ctx.register_table(name, df.into_view())?;
    Ok(())
}

/// A session with the UDFs and the tables of `dataset`: the raw ones (with `raw`) and the
/// analysis tables that exist (with `analysis`).
pub async fn open(
    dataset: &Location,
    runtime: &Arc<RuntimeEnv>,
    geo: Arc<Geo>,
    devices: Arc<dyn DeviceContexts>,
    threads: usize,
    raw: bool,
    with_analysis: bool,
) -> Result<SessionContext> {
    let ctx = context(runtime, geo, devices, threads);
    register_dataset(&ctx, dataset, raw, with_analysis).await?;
    Ok(ctx)
}

/// Registers the tables of `dataset` on `ctx` (a local session or a cluster client): the raw
/// ones (with `raw`) and the analysis tables that exist (with `with_analysis`).
pub async fn register_dataset(
    ctx: &SessionContext,
    dataset: &Location,
    raw: bool,
    with_analysis: bool,
) -> Result<()> {
    for table in RAW_TABLES.iter().filter(|_| raw) {
        register_table(ctx, table, &dataset.join(table), schema_of(table)).await?;
    }
    for table in crate::query::steps::ANALYSIS_TABLES
        .iter()
        .filter(|_| with_analysis)
    {
        let dir = dataset.join("analysis").join(table);
        register_table(ctx, table, &dir, None).await?;
    }
    Ok(())
}
