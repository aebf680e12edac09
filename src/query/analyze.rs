//! `analyze`: runs `sql/*.sql` in order on a session over the raw tables, materialises the four
//! analysis tables, and writes them hive-partitioned under `DATASET/analysis/<table>/`, each
//! table folder replaced as a whole (staged, then renamed into place).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, RecordBatch, StringArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Schema, SchemaRef};
use datafusion::datasource::MemTable;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::context::SessionContext;

use crate::store::{decode_value, PartitionKey, PartitionWriter};

/// The analysis tables, in the order they are produced.
pub const ANALYSIS_TABLES: [&str; 4] = ["flow_domains", "ips", "destinations", "platforms"];

/// The SQL steps, embedded (file name, text).
pub const SQL_STEPS: [(&str, &str); 4] = [
    (
        "01_flow_domains.sql",
        include_str!("../../sql/01_flow_domains.sql"),
    ),
    ("02_ips.sql", include_str!("../../sql/02_ips.sql")),
    (
        "03_destinations.sql",
        include_str!("../../sql/03_destinations.sql"),
    ),
    (
        "04_platforms.sql",
        include_str!("../../sql/04_platforms.sql"),
    ),
];

/// Parameters of the analysis.
#[derive(Debug, Clone)]
pub struct AnalyzeParams {
    /// DNS look-back window for the `dns` method, seconds.
    pub lookback_secs: u64,
    /// Clock skew allowed between a DNS answer and the flow it names, seconds.
    pub skew_secs: u64,
}

impl Default for AnalyzeParams {
    fn default() -> Self {
        AnalyzeParams {
            lookback_secs: 86_400,
            skew_secs: 2,
        }
    }
}

/// Row counts written, per table.
pub type AnalyzeReport = BTreeMap<String, usize>;

/// Splits a SQL file into statements (`;` at the end of a line ends one), substituting
/// `${name}` parameters. Comment lines are dropped.
pub fn statements(text: &str, params: &AnalyzeParams) -> Vec<String> {
    let text = text
        .replace("${lookback_seconds}", &params.lookback_secs.to_string())
        .replace("${skew_seconds}", &params.skew_secs.to_string());
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in text.lines() {
        if line.trim_start().starts_with("--") {
            continue;
        }
        cur.push_str(line);
        cur.push('\n');
        if line.trim_end().ends_with(';') {
            let stmt = cur.trim().trim_end_matches(';').trim().to_string();
            if !stmt.is_empty() {
                out.push(stmt);
            }
            cur.clear();
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

async fn run_file(
    ctx: &SessionContext,
    name: &str,
    text: &str,
    params: &AnalyzeParams,
) -> Result<()> {
    for stmt in statements(text, params) {
        ctx.sql(&stmt)
            .await
            .map_err(|e| DataFusionError::Context(format!("sql/{name}"), Box::new(e)))?
            .collect()
            .await?;
    }
    Ok(())
}

async fn materialise(
    ctx: &SessionContext,
    view: &str,
    order: &str,
) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let df = ctx
        .sql(&format!("SELECT * FROM {view} ORDER BY {order}"))
        .await?;
    let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
    let batches = df.collect().await?;
    Ok((schema, batches))
}

/// Runs the analysis on `ctx` (raw tables and UDFs registered) and writes the tables under
/// `dataset/analysis/`.
pub async fn analyze(
    ctx: &SessionContext,
    dataset: &Path,
    params: &AnalyzeParams,
) -> Result<AnalyzeReport> {
    let orders = [
        ("flow_domains_v", "device, year, month, first_ts, capture, proto, local_ip, local_port, remote_ip, remote_port"),
        ("ips_v", "device, year, month, ip"),
        ("destinations_v", "device, year, month, first_seen, destination"),
        ("platforms_v", "device, year, month, platform"),
    ];
    let mut results = Vec::new();
    for (i, (name, text)) in SQL_STEPS.iter().enumerate() {
        run_file(ctx, name, text, params).await?;
        let (view, order) = orders[i];
        let (schema, batches) = materialise(ctx, view, order).await?;
        let table = ANALYSIS_TABLES[i];
        ctx.register_table(
            table,
            Arc::new(MemTable::try_new(schema.clone(), vec![batches.clone()])?),
        )?;
        results.push((table, schema, batches));
    }
    write_tables(dataset, &results).map_err(|e| DataFusionError::External(Box::new(e)))
}

/// Column index by name.
fn col(schema: &Schema, name: &str) -> Option<usize> {
    schema.index_of(name).ok()
}

fn text_col(batch: &RecordBatch, i: usize) -> Result<StringArray> {
    let c = cast(batch.column(i), &DataType::Utf8)?;
    Ok(c.as_any()
        .downcast_ref::<StringArray>()
        .cloned()
        .unwrap_or_else(|| StringArray::new_null(batch.num_rows())))
}

/// Splits sorted batches into runs per partition key, without the partition columns.
fn split_by_partition(
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> Result<(SchemaRef, BTreeMap<PartitionKey, Vec<RecordBatch>>)> {
    let (Some(d), Some(y), Some(m)) = (
        col(schema, "device"),
        col(schema, "year"),
        col(schema, "month"),
    ) else {
        return Err(DataFusionError::Plan(
            "analysis table lacks device/year/month".into(),
        ));
    };
    let keep: Vec<usize> = (0..schema.fields().len())
        .filter(|i| ![d, y, m].contains(i))
        .collect();
    let out_schema = Arc::new(schema.project(&keep)?);
    let mut parts: BTreeMap<PartitionKey, Vec<RecordBatch>> = BTreeMap::new();
    for batch in batches {
        let (dev, year, month) = (
            text_col(batch, d)?,
            text_col(batch, y)?,
            text_col(batch, m)?,
        );
        let projected = batch.project(&keep)?;
        let key_at = |r: usize| PartitionKey {
            device: decode_value(dev.value(r)),
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
            parts
                .entry(key)
                .or_default()
                .push(projected.slice(start, end - start));
            start = end;
        }
    }
    Ok((out_schema, parts))
}

fn write_tables(
    dataset: &Path,
    results: &[(&str, SchemaRef, Vec<RecordBatch>)],
) -> std::result::Result<AnalyzeReport, crate::store::StoreError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| crate::store::StoreError::Io { path, source }
    };
    let staging: PathBuf = crate::store::writer::staging_root(dataset)
        .join(format!("{}-analysis", std::process::id()));
    if staging.exists() {
        fs::remove_dir_all(&staging).map_err(io(&staging))?;
    }
    let mut split = Vec::new();
    let mut keys = BTreeSet::new();
    for (table, schema, batches) in results {
        let (s, parts) =
            split_by_partition(schema, batches).map_err(|e| crate::store::StoreError::Io {
                path: dataset.join("analysis").join(table),
                source: std::io::Error::other(e.to_string()),
            })?;
        keys.extend(parts.keys().cloned());
        split.push((*table, s, parts));
    }
    let schemas: Vec<(&str, SchemaRef)> = split.iter().map(|(t, s, _)| (*t, s.clone())).collect();
    let mut report = AnalyzeReport::new();
    for key in keys {
        let mut w = PartitionWriter::new(&staging, key.clone(), &schemas)?;
        for (table, _, parts) in &split {
            for b in parts.get(&key).into_iter().flatten() {
                w.write(table, b)?;
            }
        }
        for (t, n) in w.commit()? {
            *report.entry(t).or_default() += n as usize;
        }
    }
    let analysis = dataset.join("analysis");
    fs::create_dir_all(&analysis).map_err(io(&analysis))?;
    for (table, _, _) in &split {
        let fin = analysis.join(table);
        let new = staging.join(table);
        let old = staging.join(format!("{table}.old"));
        if fin.exists() {
            fs::rename(&fin, &old).map_err(io(&fin))?;
        }
        if new.exists() {
            fs::rename(&new, &fin).map_err(io(&fin))?;
        }
        report.entry(table.to_string()).or_default();
    }
    let _ = fs::remove_dir_all(&staging);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_split_and_substitute() {
        let s = statements(
            "-- header\nCREATE VIEW a AS\nSELECT 1 WHERE x > ${lookback_seconds};\n\nSELECT 2;\n",
            &AnalyzeParams::default(),
        );
        assert_eq!(
            s,
            vec![
                "CREATE VIEW a AS\nSELECT 1 WHERE x > 86400".to_string(),
                "SELECT 2".to_string()
            ]
        );
        for (name, text) in SQL_STEPS {
            assert!(text.starts_with("-- Purpose:"), "{name} lacks its header");
            assert!(
                text.contains("-- Inputs:") && text.contains("-- Outputs:"),
                "{name}"
            );
        }
    }
}
