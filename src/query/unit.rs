//! Running the analysis SQL on chosen partitions: the month step (every device's DNS answers of a
//! month → the month-bound rules' tables, kept in memory: one row per device and address) and a
//! device-month step (one device's raw partitions, its look-back window and the month tables →
//! every analysis table, streamed in row order into a staging folder, one Parquet file per
//! partition). Nothing here knows which months are up to date; `analyze` decides that.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use arrow::array::{Array, RecordBatch, StringArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, SchemaRef};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::datasource::MemTable;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::context::SessionContext;
use datafusion::execution::runtime_env::RuntimeEnv;
use futures::StreamExt;

use super::cluster::{client, Udfs};
use super::plan::{Fingerprint, Unit};
use super::session::{context, register_filtered, register_parts, PartSource};
use super::steps::{run_file, AnalyzeParams, Step, DEVICE_STEPS, DNS_ADDRESSES, MONTH_STEPS};
use super::udf::DeviceContexts;
use crate::classify::geo::Geo;
use crate::columnar::schema::{schema_of, RAW_TABLES, TABLE_DNS};
use crate::store::inventory::Partition;
use crate::store::{Location, PartitionKey, PartitionWriter, StoreError};

/// What every session of one analysis shares.
#[derive(Clone)]
pub struct Env {
    pub runtime: Arc<RuntimeEnv>,
    pub geo: Arc<Geo>,
    pub devices: Arc<dyn DeviceContexts>,
    pub params: AnalyzeParams,
    /// DataFusion partitions per session.
    pub target_partitions: usize,
    /// Run the SQL on this Ballista cluster (`df://host:port`) instead of in this process. Its
    /// nodes then read every table from the dataset's location (staging included), so tables
    /// are hive listings with filters rather than in-memory or per-file tables.
    pub cluster: Option<String>,
}

impl Env {
    async fn session(&self) -> Result<SessionContext> {
        match &self.cluster {
            None => Ok(context(
                &self.runtime,
                self.geo.clone(),
                self.devices.clone(),
                self.target_partitions,
            )),
            Some(url) => {
                let udfs = Udfs {
                    geo: self.geo.clone(),
                    devices: self.devices.clone(),
                };
                client(url, self.runtime.clone(), &udfs, self.target_partitions).await
            }
        }
    }

    /// Registers as `name` the partitions `parts` of the table at `root` (a dataset's or a
    /// stage's `<table>` folder), cut to `window` on `ts`.
    async fn register(
        &self,
        ctx: &SessionContext,
        name: &str,
        root: &Location,
        schema: Option<&SchemaRef>,
        parts: &[PartSource],
        window: Option<(i64, i64)>,
    ) -> Result<()> {
        match self.cluster {
            None => {
                register_parts(ctx, name, schema, parts, window.map(|(f, t)| ("ts", f, t))).await
            }
            Some(_) => register_filtered(ctx, name, root, schema, parts, window).await,
        }
    }
}

/// A partition folder as a source.
pub fn source(p: &Partition) -> PartSource {
    PartSource {
        dir: p.dir.clone(),
        device: p.key.device.clone(),
        year: p.key.year,
        month: p.key.month,
    }
}

/// The raw partitions one analysis step reads.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// Raw table → partitions (the unit's own; several in whole-dataset mode).
    pub raw: BTreeMap<&'static str, Vec<PartSource>>,
    /// DNS partitions the `dns` rule may use (the look-back window)…
    pub dns_window: Vec<PartSource>,
    /// …and the time span `[from, to]` (microseconds) their rows are cut to.
    pub window: Option<(i64, i64)>,
}

impl Sources {
    /// Some device-months' own partitions and their look-back windows. Several device-months
    /// share one window spanning all of theirs: each device's `dns` rule then sees a superset of
    /// its own window's answers, which gives the same attribution (the rule only takes answers
    /// within the look-back of each flow).
    pub fn of_units(units: &[Unit]) -> Sources {
        let mut s = Sources::default();
        let mut window_dirs = BTreeSet::new();
        for u in units {
            for (t, p) in &u.raw {
                s.raw.entry(*t).or_default().push(source(p));
            }
            for (p, from, to) in &u.window {
                if window_dirs.insert(p.dir.to_string()) {
                    s.dns_window.push(source(p));
                }
                s.window = Some(match s.window {
                    None => (*from, *to),
                    Some((f, t)) => (f.min(*from), t.max(*to)),
                });
            }
        }
        s
    }
}

/// The month step's tables and a hash of their rows (on a cluster, they are also written to the
/// stage, where the executors read them).
#[derive(Clone)]
pub struct MonthTables {
    tables: Vec<(&'static str, SchemaRef, Vec<RecordBatch>)>,
    keys: BTreeSet<PartitionKey>,
    stage: Option<Location>,
    pub hash: String,
}

fn hash_rows(f: &mut Fingerprint, batches: &[RecordBatch]) -> Result<()> {
    let opts = FormatOptions::default().with_null("\u{0}");
    for b in batches {
        let cols = b
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &opts))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        for r in 0..b.num_rows() {
            let cells: Vec<String> = cols.iter().map(|c| c.value(r).to_string()).collect();
            f.line(&cells.join("\u{1}"));
        }
    }
    Ok(())
}

async fn collect_ordered(
    ctx: &SessionContext,
    step: &Step,
) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let df = ctx
        .sql(&format!(
            "SELECT * FROM {} ORDER BY {}",
            step.view, step.order
        ))
        .await?;
    let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
    Ok((schema, df.collect().await?))
}

/// The month step over `dns` (every device's DNS partitions of the month, in the dataset at
/// `dataset`), for the device-months `keys`; on a cluster its tables go to `stage` too.
pub async fn month_tables(
    env: &Env,
    dataset: &Location,
    dns: &[PartSource],
    keys: &BTreeSet<PartitionKey>,
    stage: &Location,
) -> Result<MonthTables> {
    let ctx = env.session().await?;
    let root = dataset.join(TABLE_DNS);
    env.register(
        &ctx,
        "dns_window",
        &root,
        schema_of(TABLE_DNS).as_ref(),
        dns,
        None,
    )
    .await?;
    run_file(&ctx, DNS_ADDRESSES.0, DNS_ADDRESSES.1, &env.params).await?;
    let mut tables = Vec::new();
    let mut hash = Fingerprint::default();
    for step in &MONTH_STEPS {
        if !step.text.is_empty() {
            run_file(&ctx, step.file, step.text, &env.params).await?;
        }
        let (schema, batches) = collect_ordered(&ctx, step).await?;
        hash.line(step.table);
        hash_rows(&mut hash, &batches)?;
        if env.cluster.is_some() {
            let stream = futures::stream::iter(batches.clone().into_iter().map(Ok));
            write_stream(stream, &schema, step.table, stage, keys).await?;
        }
        tables.push((step.table, schema, batches));
    }
    Ok(MonthTables {
        tables,
        keys: keys.clone(),
        stage: env.cluster.is_some().then(|| stage.clone()),
        hash: hash.hex(),
    })
}

fn store_err(e: StoreError) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

fn text_col(batch: &RecordBatch, i: usize) -> Result<StringArray> {
    let c = cast(batch.column(i), &DataType::Utf8)?;
    c.as_any()
        .downcast_ref::<StringArray>()
        .cloned()
        .ok_or_else(|| DataFusionError::Internal("partition column is not text".into()))
}

/// Streams `SELECT * FROM view ORDER BY order` into `stage/<table>/device=/year=/month=/` (see
/// `write_stream`). Returns the rows written per key.
async fn write_step(
    ctx: &SessionContext,
    step: &Step,
    stage: &Location,
    keys: &BTreeSet<PartitionKey>,
) -> Result<BTreeMap<PartitionKey, u64>> {
    let df = ctx
        .sql(&format!(
            "SELECT * FROM {} ORDER BY {}",
            step.view, step.order
        ))
        .await?;
    let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
    let stream = df.execute_stream().await?;
    write_stream(stream, &schema, step.table, stage, keys).await
}

/// Writes batches (ordered by device, year and month first) into
/// `stage/<table>/device=/year=/month=/`, one partition after the other, without the partition
/// columns. Every key of `keys` gets its partition, empty when it has no rows. Returns the rows
/// written per key.
async fn write_stream(
    mut stream: impl futures::Stream<Item = Result<RecordBatch>> + Unpin,
    schema: &SchemaRef,
    table: &'static str,
    stage: &Location,
    keys: &BTreeSet<PartitionKey>,
) -> Result<BTreeMap<PartitionKey, u64>> {
    let index = |n: &str| {
        schema
            .index_of(n)
            .map_err(|_| DataFusionError::Plan(format!("{table} lacks column {n}")))
    };
    let (d, y, m) = (index("device")?, index("year")?, index("month")?);
    let keep: Vec<usize> = (0..schema.fields().len())
        .filter(|i| ![d, y, m].contains(i))
        .collect();
    let out_schema: SchemaRef = Arc::new(schema.project(&keep)?);
    let tables = [(table, out_schema.clone())];
    let mut current: Option<(PartitionKey, PartitionWriter)> = None;
    let mut rows: BTreeMap<PartitionKey, u64> = keys.iter().map(|k| (k.clone(), 0)).collect();
    let mut written = BTreeSet::new();
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        let (dev, year, month) = (
            text_col(&batch, d)?,
            text_col(&batch, y)?,
            text_col(&batch, m)?,
        );
        let projected = batch.project(&keep)?;
        let key_at = |r: usize| PartitionKey {
            device: dev.value(r).to_string(),
            year: year.value(r).parse().unwrap_or(0),
            month: month.value(r).parse().unwrap_or(0),
        };
        let mut start = 0;
        while start < batch.num_rows() {
            let key = key_at(start);
            let mut end = start + 1;
            while end < batch.num_rows() && key_at(end) == key {
                end += 1;
            }
            if current.as_ref().is_none_or(|(k, _)| *k != key) {
                if let Some((k, w)) = current.take() {
                    w.commit().map_err(store_err)?;
                    written.insert(k);
                }
                current = Some((
                    key.clone(),
                    PartitionWriter::at(stage, key.clone(), &tables).map_err(store_err)?,
                ));
            }
            if let Some((_, w)) = current.as_mut() {
                w.write(table, &projected.slice(start, end - start))
                    .map_err(store_err)?;
            }
            *rows.entry(key).or_default() += (end - start) as u64;
            start = end;
        }
    }
    if let Some((k, w)) = current.take() {
        w.commit().map_err(store_err)?;
        written.insert(k);
    }
    for key in keys.iter().filter(|k| !written.contains(*k)) {
        PartitionWriter::at(stage, key.clone(), &tables)
            .and_then(PartitionWriter::commit)
            .map_err(store_err)?;
    }
    Ok(rows)
}

/// Rows written per partition and table.
pub type RowCounts = BTreeMap<PartitionKey, BTreeMap<String, u64>>;

/// The device-month step: reads `sources` (partitions of the dataset at `dataset`) and the month
/// tables, writes every analysis table of `keys` under `stage`. Returns the rows written.
pub async fn run_unit(
    env: &Env,
    dataset: &Location,
    month: &MonthTables,
    sources: &Sources,
    stage: &Location,
    keys: &BTreeSet<PartitionKey>,
) -> Result<RowCounts> {
    let ctx = env.session().await?;
    for table in RAW_TABLES {
        let parts = sources.raw.get(table).map_or(&[][..], Vec::as_slice);
        let root = dataset.join(table);
        env.register(&ctx, table, &root, schema_of(table).as_ref(), parts, None)
            .await?;
    }
    env.register(
        &ctx,
        "dns_window",
        &dataset.join(TABLE_DNS),
        schema_of(TABLE_DNS).as_ref(),
        &sources.dns_window,
        sources.window,
    )
    .await?;
    for (name, schema, batches) in &month.tables {
        match &month.stage {
            None => {
                let t = MemTable::try_new(schema.clone(), vec![batches.clone()])?;
                ctx.register_table(*name, Arc::new(t))?;
            }
            Some(month_stage) => {
                let parts = staged_parts(month_stage, name, &month.keys);
                let root = month_stage.join(name);
                register_filtered(&ctx, name, &root, None, &parts, None).await?;
            }
        }
    }
    run_file(&ctx, DNS_ADDRESSES.0, DNS_ADDRESSES.1, &env.params).await?;
    let mut rows = RowCounts::new();
    for step in &DEVICE_STEPS {
        run_file(&ctx, step.file, step.text, &env.params).await?;
        for (key, n) in write_step(&ctx, step, stage, keys).await? {
            rows.entry(key)
                .or_default()
                .insert(step.table.to_string(), n);
        }
        // Later steps read the table back from its staged partitions.
        let parts = staged_parts(stage, step.table, keys);
        env.register(
            &ctx,
            step.table,
            &stage.join(step.table),
            None,
            &parts,
            None,
        )
        .await?;
    }
    Ok(rows)
}

/// The staged partitions of `table` for `keys`.
fn staged_parts(stage: &Location, table: &str, keys: &BTreeSet<PartitionKey>) -> Vec<PartSource> {
    keys.iter()
        .map(|k| PartSource {
            dir: k.at(stage, table),
            device: k.device.clone(),
            year: k.year,
            month: k.month,
        })
        .collect()
}
