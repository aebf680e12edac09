//! The DataFusion session over a dataset: every raw table as a listing table with its
//! device/year/month partition columns (so filters on them prune folders), every analysis
//! table that exists, and the project's UDFs.

use std::path::Path;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::ListingOptions;
use datafusion::datasource::MemTable;
use datafusion::error::Result;
use datafusion::execution::context::SessionContext;
use datafusion::prelude::SessionConfig;

use crate::classify::geo::Geo;
use crate::columnar::schema::{schema_of, RAW_TABLES};
use crate::query::udf::{register_all, DeviceContexts};

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

fn has_parquet(dir: &Path) -> bool {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "parquet") {
                return true;
            }
        }
    }
    false
}

/// Registers `dir` (hive-partitioned Parquet) as `name`; an absent or empty folder becomes an
/// empty table with `empty_schema` so queries still plan.
pub async fn register_table(
    ctx: &SessionContext,
    name: &str,
    dir: &Path,
    empty_schema: Option<SchemaRef>,
) -> Result<()> {
    if has_parquet(dir) {
        let opts = ListingOptions::new(Arc::new(ParquetFormat::default()))
            .with_file_extension(".parquet")
            .with_table_partition_cols(partition_cols());
        let url = format!(
            "{}/",
            dir.canonicalize()
                .unwrap_or_else(|_| dir.to_path_buf())
                .display()
        );
        ctx.register_listing_table(name, url, opts, None, None)
            .await
    } else if let Some(schema) = empty_schema {
        let schema = with_partition_fields(&schema);
        let table = MemTable::try_new(schema.clone(), vec![vec![]])?;
        ctx.register_table(name, Arc::new(table)).map(|_| ())
    } else {
        Ok(())
    }
}

/// A session with the raw tables of `dataset`, the UDFs, and (with `with_analysis`) the
/// analysis tables that exist.
pub async fn open(
    dataset: &Path,
    geo: Arc<Geo>,
    devices: Arc<dyn DeviceContexts>,
    threads: usize,
    with_analysis: bool,
) -> Result<SessionContext> {
    let config = SessionConfig::new()
        .with_target_partitions(threads.max(1))
        .with_information_schema(true);
    let ctx = SessionContext::new_with_config(config);
    register_all(&ctx, geo, devices);
    for table in RAW_TABLES {
        register_table(&ctx, table, &dataset.join(table), schema_of(table)).await?;
    }
    for table in crate::query::analyze::ANALYSIS_TABLES
        .iter()
        .filter(|_| with_analysis)
    {
        let dir = dataset.join("analysis").join(table);
        register_table(&ctx, table, &dir, None).await?;
    }
    Ok(ctx)
}
