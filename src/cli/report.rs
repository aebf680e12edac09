//! `iotdest report`: the longitudinal HTML report of a dataset.

use std::path::{Path, PathBuf};

use clap::Args;

use super::analysis::RuleArgs;
use super::legacy::analysis_session;
use super::Outcome;
use crate::output::pyfmt::write_atomic;
use crate::output::report;

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  iotdest report --dataset iotdest-out
  iotdest report --dataset ds --out echo.html --device echo_dot

One self-contained HTML file (inline SVG and CSS; no scripts, nothing fetched): for all devices
together and for each device, party share per month by destinations and by bytes, top
organizations and countries over time, domains that appeared and disappeared, detected IoT
platforms with their evidence, and data-quality facts. Needs `iotdest analyze` first.")]
pub struct ReportArgs {
    /// Dataset written by `extract` and `analyze`.
    #[arg(long, value_name = "DATASET")]
    pub dataset: PathBuf,
    /// Output file (default DATASET/report.html).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Only these devices (repeatable; default: every device).
    #[arg(long = "device", value_name = "NAME")]
    pub devices: Vec<String>,
    #[command(flatten)]
    pub rules: RuleArgs,
}

/// Writes the report of `dataset` to `out`; returns how many devices it covers.
pub fn write_report(
    dataset: &Path,
    out: &Path,
    devices: &[String],
    rules: &RuleArgs,
) -> anyhow::Result<usize> {
    let (rt, ctx) = analysis_session(dataset, rules)?;
    let data = rt.block_on(report::gather(
        &ctx,
        &dataset.display().to_string(),
        devices,
    ))?;
    for d in devices {
        if !data.devices.contains(d) {
            eprintln!(
                "iotdest: report: no data for device {d:?} in {}",
                dataset.display()
            );
        }
    }
    write_atomic(out, report::render(&data).as_bytes())?;
    Ok(data.devices.len())
}

pub fn run_report(a: ReportArgs) -> anyhow::Result<Outcome> {
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| a.dataset.join("report.html"));
    let n = write_report(&a.dataset, &out, &a.devices, &a.rules)?;
    eprintln!(
        "iotdest: report of {n} device(s) written to {}",
        out.display()
    );
    Ok(Outcome::Ok)
}
