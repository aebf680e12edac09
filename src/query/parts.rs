//! A table over chosen partition folders: their Parquet files scanned as one source, each file
//! carrying its device/year/month values as partition columns — what a hive-partitioned listing
//! table gives for those folders, without listing the rest of the dataset.
//!
//! (A union of per-folder scans with literal device/year/month columns is not equivalent:
//! DataFusion 55 treats such literals as constants of the union and, after merging its
//! partitions, skips sorts the data still needs.)

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, FieldRef, Schema, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder};
use datafusion::datasource::table_schema::TableSchema;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::Expr;
use datafusion::object_store::ObjectMeta;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::scalar::ScalarValue;

use super::session::PARTITION_COLS;
use crate::store::inventory::part_files;
use crate::store::{Location, StoreError};

/// One file and the partition values of its rows (device, year, month).
#[derive(Debug, Clone)]
pub struct PartFileRef {
    pub location: Location,
    pub size: u64,
    pub values: [String; 3],
}

/// The table.
#[derive(Debug)]
pub struct PartsTable {
    file_schema: SchemaRef,
    schema: SchemaRef,
    files: Vec<PartFileRef>,
    /// The store all files are in (`file:///` or `s3://bucket`).
    store: ObjectStoreUrl,
}

fn partition_fields() -> Vec<FieldRef> {
    PARTITION_COLS
        .iter()
        .map(|c| Arc::new(Field::new(*c, DataType::Utf8, false)))
        .collect()
}

impl PartsTable {
    /// A table of `files` (all in one store) whose columns are `file_schema` plus device, year
    /// and month.
    pub fn new(file_schema: SchemaRef, files: Vec<PartFileRef>) -> Result<Self> {
        let mut fields: Vec<FieldRef> = file_schema.fields().iter().cloned().collect();
        fields.extend(partition_fields());
        let store = match files.first().and_then(|f| f.location.store()) {
            Some((url, _)) => ObjectStoreUrl::parse(url.as_str())?,
            None => ObjectStoreUrl::local_filesystem(),
        };
        Ok(PartsTable {
            file_schema,
            schema: Arc::new(Schema::new(fields)),
            files,
            store,
        })
    }
}

fn partitioned_file(f: &PartFileRef) -> Result<PartitionedFile> {
    let location = f
        .location
        .store_path()
        .map_err(|e| DataFusionError::External(Box::new(e)))?;
    let meta = ObjectMeta {
        location,
        last_modified: Default::default(),
        size: f.size,
        e_tag: None,
        version: None,
    };
    Ok(PartitionedFile::new_from_meta(meta).with_partition_values(
        f.values
            .iter()
            .map(|v| ScalarValue::Utf8(Some(v.clone())))
            .collect(),
    ))
}

#[async_trait]
impl TableProvider for PartsTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if self.files.is_empty() {
            let schema = match projection {
                Some(p) => Arc::new(self.schema.project(p)?),
                None => self.schema.clone(),
            };
            return Ok(Arc::new(EmptyExec::new(schema)));
        }
        let files = self
            .files
            .iter()
            .map(partitioned_file)
            .collect::<Result<Vec<_>>>()?;
        // Files in path order, in contiguous groups, one per target partition.
        let groups_wanted = state.config().target_partitions().clamp(1, files.len());
        let per_group = files.len().div_ceil(groups_wanted);
        let groups: Vec<FileGroup> = files
            .chunks(per_group)
            .map(|c| FileGroup::new(c.to_vec()))
            .collect();
        let format = ParquetFormat::default();
        let table_schema = TableSchema::builder(self.file_schema.clone())
            .with_table_partition_cols(partition_fields())
            .build();
        let source = format.file_source(table_schema);
        let config = FileScanConfigBuilder::new(self.store.clone(), source)
            .with_file_groups(groups)
            .with_projection_indices(projection.cloned())?
            .with_limit(limit)
            .build();
        format.create_physical_plan(state, config).await
    }
}

/// The Parquet files of a partition folder (sorted by name), each with `values`.
pub fn files_of(
    dir: &Location,
    values: [String; 3],
) -> std::result::Result<Vec<PartFileRef>, StoreError> {
    Ok(part_files(dir)?
        .into_iter()
        .map(|f| PartFileRef {
            location: dir.join(&f.name),
            size: f.size,
            values: values.clone(),
        })
        .collect())
}
