//! The extraction pipeline: captures → rows (in parallel) → partitioned Parquet (in order).
//!
//! Captures arrive sorted by device, month and start time. They are extracted in chunks on a
//! rayon pool; each chunk's results are collected in input order and appended to the current
//! partition's writer, which is committed when the next partition begins. Output therefore does
//! not depend on the number of threads, and memory holds one chunk of rows at a time.
//! This module owns the rayon pool (`store::columns` and `columnar::build` only hand a large
//! batch's columns to it).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex};

use arrow::array::RecordBatch;

use crate::columnar::schema::{
    CAPTURES, DNS, FLOWS, NAMES, TABLE_CAPTURES, TABLE_DNS, TABLE_FLOWS, TABLE_NAMES,
};
use crate::columnar::{captures_batch, dns_batch, flows_batch, names_batch};
use crate::extract::{extract_capture, CaptureRow, ExtractLimits, Status};
use crate::ingest::discover::CaptureFile;
use crate::one_capture::extract_threaded;
use crate::store::{clean_stale_staging, Location, PartitionKey, PartitionWriter, StoreError};

/// How to run an extraction.
#[derive(Debug, Clone)]
pub struct ExtractConfig {
    pub dataset: Location,
    /// Worker threads (≥ 1).
    pub threads: usize,
    pub limits: ExtractLimits,
    /// Captures of at least this many bytes on disk, and at least an N-th of all the input,
    /// are split across the N threads by flow (when N > 1); the others run whole, several at
    /// a time. 0 splits every capture.
    pub split_at: u64,
}

/// Totals of a run.
#[derive(Debug, Clone, Default)]
pub struct ExtractReport {
    pub partitions: usize,
    pub files: usize,
    pub files_ok: usize,
    pub files_partial: usize,
    pub files_failed: usize,
    /// Inputs that could not be dated (not read; their rows are in month 0000-00).
    pub files_undated: usize,
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

/// One capture's extraction, as the writer needs it: the manifest row and its three batches
/// (built on the worker, so the writer only encodes Parquet).
struct Done {
    capture: CaptureRow,
    batches: Result<[RecordBatch; 3], arrow::error::ArrowError>,
}

/// Default of [`ExtractConfig::split_at`]: a capture this large keeps every thread busy for
/// about a second on its own.
pub const SPLIT_AT: u64 = 64 << 20;

/// The size from which a capture is split: `split_at`, and at least an N-th of all the input
/// (below that, whole captures side by side already keep the N threads busy, at less cost);
/// `split_at` 0 splits every capture.
fn split_from(captures: &[CaptureFile], cfg: &ExtractConfig) -> u64 {
    if cfg.split_at == 0 {
        return 0;
    }
    let total: u64 = captures
        .iter()
        .filter_map(|c| std::fs::metadata(&c.path).ok())
        .map(|m| m.len())
        .sum();
    cfg.split_at.max(total / cfg.threads.max(1) as u64)
}

fn extract_one(file: &CaptureFile, cfg: &ExtractConfig, split_from: u64) -> Done {
    let (limits, threads) = (cfg.limits, cfg.threads.max(1));
    let big = std::fs::metadata(&file.path).is_ok_and(|m| m.len() >= split_from);
    let split = threads > 1 && big && file.undated.is_none();
    let out = if split {
        extract_threaded(file, limits, threads)
    } else {
        extract_capture(file, limits)
    };
    let cap = &out.capture.capture;
    // A split capture's threads are idle now: its three tables are built side by side.
    let ((dns, names), flows) = if split {
        rayon::join(
            || rayon::join(|| dns_batch(cap, &out.dns), || names_batch(cap, &out.names)),
            || flows_batch(cap, &out.flows),
        )
    } else {
        (
            (dns_batch(cap, &out.dns), names_batch(cap, &out.names)),
            flows_batch(cap, &out.flows),
        )
    };
    let batches = (|| Ok([dns?, names?, flows?]))();
    Done {
        capture: out.capture,
        batches,
    }
}

/// Removes the month-0000-00 partitions (undatable inputs) of the devices in `captures` that
/// have no undatable input any more (renamed, dated with `--date-from-packets`, or removed), so
/// that `captures` keeps equalling the inputs. `owns` says which partitions this run may touch
/// (a shard's share). Call only when `captures` are all of those devices' inputs (no year or
/// month filter).
pub fn clear_undated(
    dataset: &Location,
    captures: &[CaptureFile],
    owns: impl Fn(&PartitionKey) -> bool,
) -> Result<usize, StoreError> {
    let mut devices: BTreeMap<&str, bool> = BTreeMap::new();
    for c in captures {
        *devices.entry(c.device.as_str()).or_default() |= c.undated.is_some();
    }
    let mut cleared = 0;
    for (device, has_undated) in devices {
        let key = PartitionKey {
            device: device.to_string(),
            year: crate::ingest::discover::UNDATED.0,
            month: crate::ingest::discover::UNDATED.1,
        };
        if has_undated || !owns(&key) {
            continue;
        }
        let at = key.at(dataset, TABLE_CAPTURES);
        if !at.exists()? {
            continue;
        }
        for (table, _) in tables() {
            key.at(dataset, table).delete_tree()?;
        }
        cleared += 1;
    }
    Ok(cleared)
}

/// Extracts `captures` into `cfg.dataset`. `on_capture` is called once per capture, in input
/// order (progress and per-file error lines).
///
/// Scheduling: captures are spawned on the pool in input order, at most `window` ahead of the
/// one being written. The writer runs on a pool thread too: while the next capture in order is
/// not ready it runs queued extractions itself, so `--threads N` keeps exactly N threads busy
/// and Parquet encoding overlaps extraction. Results are written strictly in input order.
pub fn run_extract(
    captures: &[CaptureFile],
    cfg: &ExtractConfig,
    mut on_capture: impl FnMut(&CaptureFile, &CaptureRow) + Send,
) -> Result<ExtractReport, PipelineError> {
    let threads = cfg.threads.max(1);
    let split_from = split_from(captures, cfg);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("iotdest-extract-{i}"))
        .build()
        .map_err(|e| PipelineError::Threads(e.to_string()))?;
    match cfg.dataset.local() {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
            clean_stale_staging(dir);
        }
        // One clear error before any capture is read when the bucket, endpoint or credentials
        // are wrong.
        None => cfg.dataset.check()?,
    }
    let window = threads * 3;
    let (tx, rx) = mpsc::channel::<(usize, Done)>();
    // Partitions that are complete are closed (their last row groups encoded) and swapped
    // into place on the pool, while the writer goes on; at most `threads` wait at a time.
    let commits = Commits::default();
    let commits = &commits;
    let report = pool.scope_fifo(move |s| {
        let mut writer = Writer::new(cfg);
        let mut spawned = 0usize;
        let mut ready: BTreeMap<usize, Done> = BTreeMap::new();
        let spawn_commit = |part: Finished| {
            commits.pending.fetch_add(1, Ordering::SeqCst);
            s.spawn_fifo(move |_| {
                if let Err(e) = commit(part.0, part.1) {
                    commits.fail(e);
                }
                commits.pending.fetch_sub(1, Ordering::SeqCst);
            });
        };
        for next in 0..captures.len() {
            while spawned < captures.len() && spawned < next + window {
                let (tx, file, i) = (tx.clone(), &captures[spawned], spawned);
                s.spawn_fifo(move |_| {
                    let _ = tx.send((i, extract_one(file, cfg, split_from)));
                });
                spawned += 1;
            }
            let done = loop {
                if let Some(d) = ready.remove(&next) {
                    break d;
                }
                // (`tx` lives until the scope ends: the channel is never disconnected here.)
                if let Ok((i, d)) = rx.try_recv() {
                    ready.insert(i, d);
                    continue;
                }
                // Nothing ready: help with a queued task, or else sleep until a running one
                // sends its result. Only this thread queues tasks, so when none is queued
                // there is nothing to help with until then (a split capture runs on threads of
                // its own). Polling every 50 µs instead woke this thread ~14,000 times per
                // second and took turns on the cores a split capture's threads were using.
                // (The timeout only bounds the wait.)
                if rayon::yield_now() != Some(rayon::Yield::Executed) {
                    if let Ok((i, d)) = rx.recv_timeout(std::time::Duration::from_millis(20)) {
                        ready.insert(i, d);
                    }
                }
            };
            let file = &captures[next];
            if let Some(part) = writer.write(file, done, &mut on_capture)? {
                while commits.pending.load(Ordering::SeqCst) >= threads {
                    if rayon::yield_now() != Some(rayon::Yield::Executed) {
                        std::thread::sleep(std::time::Duration::from_micros(200));
                    }
                }
                spawn_commit(part);
            }
            if commits.failed() {
                break;
            }
        }
        let (report, last) = writer.finish();
        if let Some(part) = last {
            spawn_commit(part);
        }
        Ok::<_, PipelineError>(report)
    })?;
    // The scope has waited for every commit.
    match commits.error.lock().ok().and_then(|mut e| e.take()) {
        Some(e) => Err(e),
        None => Ok(report),
    }
}

/// A partition whose captures are all written: its writer and its manifest rows.
type Finished = (PartitionWriter, Vec<CaptureRow>);

/// Commits running on the pool: how many, and the first error.
#[derive(Default)]
struct Commits {
    pending: AtomicUsize,
    error: Mutex<Option<PipelineError>>,
}

impl Commits {
    fn fail(&self, e: PipelineError) {
        if let Ok(mut slot) = self.error.lock() {
            slot.get_or_insert(e);
        }
    }
    fn failed(&self) -> bool {
        self.error.lock().map_or(true, |e| e.is_some())
    }
}

/// Appends captures, in order, to the current partition; commits a partition when the next
/// begins.
struct Writer<'a> {
    cfg: &'a ExtractConfig,
    report: ExtractReport,
    current: Option<(PartitionKey, PartitionWriter, Vec<CaptureRow>)>,
}

impl<'a> Writer<'a> {
    fn new(cfg: &'a ExtractConfig) -> Self {
        Writer {
            cfg,
            report: ExtractReport::default(),
            current: None,
        }
    }

    /// Appends one capture; returns the previous partition when this capture starts a new one.
    fn write(
        &mut self,
        file: &CaptureFile,
        done: Done,
        on_capture: &mut impl FnMut(&CaptureFile, &CaptureRow),
    ) -> Result<Option<Finished>, PipelineError> {
        let key = key_of(file);
        let mut finished = None;
        if self.current.as_ref().is_none_or(|(k, _, _)| *k != key) {
            if let Some((_, w, rows)) = self.current.take() {
                finished = Some((w, rows));
                self.report.partitions += 1;
            }
            let w = PartitionWriter::at(&self.cfg.dataset, key.clone(), &tables())?;
            self.current = Some((key, w, Vec::new()));
        }
        let [dns, names, flows] = done.batches?;
        if let Some((_, w, rows)) = self.current.as_mut() {
            w.write(TABLE_DNS, &dns)?;
            w.write(TABLE_NAMES, &names)?;
            w.write(TABLE_FLOWS, &flows)?;
            on_capture(file, &done.capture);
            tally(&mut self.report, &done.capture);
            rows.push(done.capture);
        }
        Ok(finished)
    }

    /// The totals, and the last partition (still to commit).
    fn finish(mut self) -> (ExtractReport, Option<Finished>) {
        let last = self.current.take().map(|(_, w, rows)| {
            self.report.partitions += 1;
            (w, rows)
        });
        (self.report, last)
    }
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
        Status::Undated => r.files_undated += 1,
    }
    r.packets += c.packets;
    r.bytes += c.bytes;
    r.dns_rows += c.dns_rows;
    r.name_rows += c.name_rows;
    r.flow_rows += c.flow_rows;
}
