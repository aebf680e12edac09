//! The extraction pipeline: captures → rows (in parallel) → partitioned Parquet (in order).
//!
//! Captures arrive sorted by device, month and start time. They are extracted in chunks on a
//! rayon pool; each chunk's results are collected in input order and appended to the current
//! partition's writer, which is committed when the next partition begins. Output therefore does
//! not depend on the number of threads, and memory holds one chunk of rows at a time.
//! This is the only module that knows rayon.

use std::path::PathBuf;

use rayon::prelude::*;

use crate::columnar::schema::{
    CAPTURES, DNS, FLOWS, NAMES, TABLE_CAPTURES, TABLE_DNS, TABLE_FLOWS, TABLE_NAMES,
};
use crate::columnar::{captures_batch, dns_batch, flows_batch, names_batch};
use crate::extract::{extract_capture, CaptureOutput, CaptureRow, ExtractLimits, Status};
use crate::ingest::discover::CaptureFile;
use crate::store::{clean_stale_staging, PartitionKey, PartitionWriter, StoreError};

/// How to run an extraction.
#[derive(Debug, Clone)]
pub struct ExtractConfig {
    pub dataset: PathBuf,
    /// Worker threads (≥ 1).
    pub threads: usize,
    pub limits: ExtractLimits,
}

/// Totals of a run.
#[derive(Debug, Clone, Default)]
pub struct ExtractReport {
    pub partitions: usize,
    pub files: usize,
    pub files_ok: usize,
    pub files_partial: usize,
    pub files_failed: usize,
    pub packets: u64,
    pub bytes: u64,
    pub dns_rows: u64,
    pub name_rows: u64,
    pub flow_rows: u64,
}

/// Fatal pipeline errors.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot build Arrow batch: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    #[error("cannot start worker threads: {0}")]
    Threads(String),
}

fn tables() -> [(&'static str, arrow::datatypes::SchemaRef); 4] {
    [
        (TABLE_CAPTURES, CAPTURES.clone()),
        (TABLE_DNS, DNS.clone()),
        (TABLE_NAMES, NAMES.clone()),
        (TABLE_FLOWS, FLOWS.clone()),
    ]
}

fn key_of(c: &CaptureFile) -> PartitionKey {
    PartitionKey {
        device: c.device.clone(),
        year: c.year,
        month: c.month,
    }
}

/// Extracts `captures` into `cfg.dataset`. `on_capture` is called once per capture, in input
/// order, from the calling thread (progress and per-file error lines).
pub fn run_extract(
    captures: &[CaptureFile],
    cfg: &ExtractConfig,
    mut on_capture: impl FnMut(&CaptureFile, &CaptureRow),
) -> Result<ExtractReport, PipelineError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(cfg.threads.max(1))
        .thread_name(|i| format!("iotdest-extract-{i}"))
        .build()
        .map_err(|e| PipelineError::Threads(e.to_string()))?;
    std::fs::create_dir_all(&cfg.dataset).map_err(|source| StoreError::Io {
        path: cfg.dataset.clone(),
        source,
    })?;
    clean_stale_staging(&cfg.dataset);
    let chunk = (cfg.threads.max(1) * 4).max(4);
    let mut report = ExtractReport::default();
    let mut current: Option<(PartitionKey, PartitionWriter, Vec<CaptureRow>)> = None;
    for files in captures.chunks(chunk) {
        let outputs: Vec<CaptureOutput> = pool.install(|| {
            files
                .par_iter()
                .map(|f| extract_capture(f, cfg.limits))
                .collect()
        });
        for (file, out) in files.iter().zip(outputs) {
            let key = key_of(file);
            if current.as_ref().is_none_or(|(k, _, _)| *k != key) {
                if let Some((_, w, rows)) = current.take() {
                    commit(w, rows)?;
                    report.partitions += 1;
                }
                let w = PartitionWriter::new(&cfg.dataset, key.clone(), &tables())?;
                current = Some((key, w, Vec::new()));
            }
            let Some((_, w, rows)) = current.as_mut() else {
                continue;
            };
            let cap = &out.capture.file_name;
            w.write(TABLE_DNS, &dns_batch(cap, &out.dns)?)?;
            w.write(TABLE_NAMES, &names_batch(cap, &out.names)?)?;
            w.write(TABLE_FLOWS, &flows_batch(cap, &out.flows)?)?;
            on_capture(file, &out.capture);
            tally(&mut report, &out.capture);
            rows.push(out.capture);
        }
    }
    if let Some((_, w, rows)) = current.take() {
        commit(w, rows)?;
        report.partitions += 1;
    }
    Ok(report)
}

fn commit(mut w: PartitionWriter, rows: Vec<CaptureRow>) -> Result<(), PipelineError> {
    let refs: Vec<&CaptureRow> = rows.iter().collect();
    w.write(TABLE_CAPTURES, &captures_batch(&refs)?)?;
    w.commit()?;
    Ok(())
}

fn tally(r: &mut ExtractReport, c: &CaptureRow) {
    r.files += 1;
    match c.status {
        Status::Ok => r.files_ok += 1,
        Status::Partial => r.files_partial += 1,
        Status::Failed => r.files_failed += 1,
    }
    r.packets += c.packets;
    r.bytes += c.bytes;
    r.dns_rows += c.dns_rows;
    r.name_rows += c.name_rows;
    r.flow_rows += c.flow_rows;
}
