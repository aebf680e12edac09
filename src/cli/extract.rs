//! `iotdest extract`.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::analysis::StorageArgs;
use super::Outcome;
use crate::extract::{ExtractLimits, Status};
use crate::ingest::discover::CaptureFile;
use crate::ingest::discover::{discover_list, discover_root, parse_year_month, DiscoverOptions};
use crate::pipeline::{clear_undated, run_extract, ExtractConfig, ExtractReport};
use crate::store::shard::Shard;
use crate::store::PartitionKey;

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  iotdest extract --root /data/disk1/traffic/by-name --out dataset
  iotdest extract --root captures --out dataset --device sonos_speaker --years 2024 2025
  iotdest extract --root captures --out dataset --months 2025-07 --threads 2
  iotdest extract --input-list inputs/plug_longitudinal/2025/Jul_2025.txt --device plug --out dataset
  AWS_ENDPOINT_URL=http://127.0.0.1:9000 AWS_ALLOW_HTTP=true iotdest extract --root captures --out s3://lab/iot

Extracting a month again replaces that month's partitions (rows are never duplicated).")]
pub struct ExtractArgs {
    /// Root of the capture tree: <root>/<device>/<experiment>/<file>.
    #[arg(long, value_name = "DIR", required_unless_present = "input_list")]
    pub root: Option<PathBuf>,
    /// Output dataset: a folder (created if missing) or s3://bucket/prefix.
    #[arg(long, value_name = "DATASET")]
    pub out: String,
    #[command(flatten)]
    pub storage: StorageArgs,
    /// Only this device (repeatable). With --input-list: the device the listed files belong to.
    #[arg(long = "device", value_name = "NAME")]
    pub devices: Vec<String>,
    /// Only these years.
    #[arg(long, value_name = "YYYY", num_args = 1..)]
    pub years: Vec<i32>,
    /// Only these months.
    #[arg(long, value_name = "YYYY-MM", num_args = 1.., value_parser = parse_year_month)]
    pub months: Vec<(i32, u32)>,
    /// Experiment folder under each device.
    #[arg(long, default_value = "ctrl2", value_name = "NAME")]
    pub experiment: String,
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Captures at least this large, and at least an N-th of all the input, are split across
    /// the N threads by flow (both directions of a connection on one thread); the others run
    /// whole, several at a time. 0 splits every capture.
    #[arg(long, value_name = "SIZE", default_value = "64MiB", value_parser = parse_split_at)]
    pub split_at: u64,
    /// Read capture paths from a list file (one a line, `#` comments) instead of --root.
    #[arg(long, value_name = "FILE", conflicts_with = "root")]
    pub input_list: Option<PathBuf>,
    /// Date files whose names do not parse by their first packet (otherwise they are skipped).
    #[arg(long)]
    pub date_from_packets: bool,
    /// Extract only this worker's share of the device-months (worker I of N, by a stable hash):
    /// N workers with the same arguments and shards 0/N … N-1/N fill one dataset together.
    #[arg(long, value_name = "I/N", value_parser = Shard::parse)]
    pub shard: Option<Shard>,
}

fn parse_split_at(s: &str) -> Result<u64, String> {
    if s.trim() == "0" {
        return Ok(0);
    }
    super::analysis::parse_bytes(s).map(|b| b as u64)
}

/// Keeps the captures of the device-months `shard` owns; says how many that is.
pub fn take_share(captures: &mut Vec<CaptureFile>, shard: Option<Shard>) {
    let Some(shard) = shard else { return };
    let key = |c: &CaptureFile| PartitionKey {
        device: c.device.clone(),
        year: c.year,
        month: c.month,
    };
    let all: BTreeSet<PartitionKey> = captures.iter().map(key).collect();
    captures.retain(|c| shard.owns_device_month(&key(c)));
    let mine: BTreeSet<PartitionKey> = captures.iter().map(key).collect();
    eprintln!(
        "iotdest: shard {shard}: {} of {} device-months ({} files)",
        mine.len(),
        all.len(),
        captures.len()
    );
}

/// Runs the extraction with a progress bar on a terminal (none otherwise) and one stderr line
/// per file that failed or stopped early.
pub fn extract_with_progress(
    captures: &[CaptureFile],
    cfg: &ExtractConfig,
) -> anyhow::Result<ExtractReport> {
    let total_bytes: u64 = captures
        .iter()
        .map(|c| std::fs::metadata(&c.path).map_or(0, |m| m.len()))
        .sum();
    let pb = ProgressBar::with_draw_target(Some(total_bytes), ProgressDrawTarget::stderr());
    pb.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let report = run_extract(captures, cfg, |file, row| {
        pb.inc(row.size_bytes);
        pb.set_message(format!(
            "{} {:04}-{:02}",
            file.device, file.year, file.month
        ));
        if let Some(err) = &row.error {
            let kept = match row.status {
                Status::Partial => format!(" (kept the {} packets before it)", row.packets),
                _ => String::new(),
            };
            pb.suspend(|| eprintln!("iotdest: {}: {err}{kept}", file.path.display()));
        }
    })?;
    pb.finish_and_clear();
    Ok(report)
}

pub fn run(a: ExtractArgs) -> anyhow::Result<Outcome> {
    let threads = match a.threads {
        Some(0) => bail!("--threads must be at least 1"),
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let opts = DiscoverOptions {
        devices: a.devices.clone(),
        years: a.years.clone(),
        months: a.months.clone(),
        experiment: a.experiment.clone(),
        date_from_packets: a.date_from_packets,
    };
    let found = if let Some(list) = &a.input_list {
        if a.devices.len() > 1 {
            bail!(
                "--input-list takes at most one --device (the device the listed files belong to)"
            );
        }
        discover_list(list, a.devices.first().map(String::as_str), &opts)?
    } else {
        let root = a
            .root
            .as_ref()
            .context("--root or --input-list is required")?;
        discover_root(root, &opts)?
    };
    for s in &found.skipped {
        eprintln!("iotdest: skipped {}: {}", s.path.display(), s.reason);
    }
    if found.captures.is_empty() {
        bail!("no capture files found (check --root/--input-list, --experiment and the filters)");
    }
    let dataset = a.storage.location(&a.out)?;
    let all_months = a.years.is_empty() && a.months.is_empty();
    let all_inputs = all_months.then(|| found.captures.clone());
    let mut captures = found.captures;
    take_share(&mut captures, a.shard);
    if captures.is_empty() {
        eprintln!("iotdest: nothing to extract in this shard");
        return Ok(Outcome::Ok);
    }
    let cfg = ExtractConfig {
        dataset: dataset.clone(),
        threads,
        limits: ExtractLimits::default(),
        split_at: a.split_at,
    };
    let start = Instant::now();
    let report = extract_with_progress(&captures, &cfg)?;
    if let Some(all) = all_inputs {
        let owns = |k: &PartitionKey| a.shard.is_none_or(|s| s.owns_device_month(k));
        let cleared = clear_undated(&dataset, &all, owns)?;
        if cleared > 0 {
            eprintln!(
                "iotdest: removed the undated (0000-00) captures of {cleared} device(s) whose \
                 inputs are all dated now"
            );
        }
    }
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "iotdest: extracted {} files ({} ok, {} partial, {} failed, {} undated) into {} partitions of {}: \
         {} packets, {:.1} MB, {} dns rows, {} name rows, {} flows in {:.2} s",
        report.files,
        report.files_ok,
        report.files_partial,
        report.files_failed,
        report.files_undated,
        report.partitions,
        a.out,
        report.packets,
        report.bytes as f64 / 1e6,
        report.dns_rows,
        report.name_rows,
        report.flow_rows,
        secs
    );
    let bad =
        report.files_partial + report.files_failed + report.files_undated + found.skipped.len();
    Ok(if bad > 0 {
        Outcome::SomeFilesFailed
    } else {
        Outcome::Ok
    })
}
