//! `iotdest report`: the longitudinal HTML report of a dataset.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::bail;
use clap::Args;

use super::analysis::{runtime, ClusterArg, MemoryArgs, RuleArgs, StorageArgs};
use super::Outcome;
use crate::classify::geo::Geo;
use crate::output::report;
use crate::query::cluster::Udfs;
use crate::query::session;
use crate::store::inventory::partitions;
use crate::store::Location;

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  iotdest report --dataset iotdest-out
  iotdest report --dataset ds --out echo.html --device echo_dot

One self-contained HTML file (inline SVG and CSS; no scripts, nothing fetched): for all devices
together and for each device, party share per month by destinations and by bytes, top
organizations and countries over time, domains that appeared and disappeared, detected IoT
platforms with their evidence, and data-quality facts. Needs `iotdest analyze` first.")]
pub struct ReportArgs {
    /// Dataset written by `extract` and `analyze` (a folder or s3://bucket/prefix).
    #[arg(long, value_name = "DATASET")]
    pub dataset: String,
    #[command(flatten)]
    pub storage: StorageArgs,
    /// Output file (default DATASET/report.html, also on an object store).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Only these devices (repeatable; default: every device).
    #[arg(long = "device", value_name = "NAME")]
    pub devices: Vec<String>,
    #[command(flatten)]
    pub rules: RuleArgs,
    #[command(flatten)]
    pub memory: MemoryArgs,
    #[command(flatten)]
    pub cluster: ClusterArg,
}

/// Writes the report of `dataset` to `out`; returns how many devices it covers.
pub fn write_report(
    dataset: &Location,
    out: &Location,
    devices: &[String],
    rules: &RuleArgs,
    memory_limit: usize,
    cluster: Option<&str>,
) -> anyhow::Result<usize> {
    if partitions(&dataset.join("analysis").join("summary"))?.is_empty() {
        bail!(
            "{dataset} has no analysis (or one by an older iotdest): run `iotdest analyze \
             --dataset {dataset}` first"
        );
    }
    let devs: Arc<dyn crate::query::udf::DeviceContexts> = Arc::new(rules.devices()?);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let rt = runtime(threads)?;
    let data = rt.block_on(async {
        let env = session::runtime(memory_limit, None, dataset)?;
        let geo = Arc::new(Geo::default());
        let ctx = match cluster {
            None => session::open(dataset, &env, geo, devs, threads, false, true).await?,
            Some(url) => {
                let udfs = Udfs { geo, devices: devs };
                let ctx = crate::query::cluster::client(url, env, &udfs, threads).await?;
                session::register_dataset(&ctx, dataset, false, true).await?;
                ctx
            }
        };
        report::gather(&ctx, &dataset.to_string(), devices).await
    })?;
    for d in devices {
        if !data.devices.contains(d) {
            eprintln!("iotdest: report: no data for device {d:?} in {dataset}");
        }
    }
    out.write(report::render(&data).into_bytes().into())?;
    Ok(data.devices.len())
}

pub fn run_report(a: ReportArgs) -> anyhow::Result<Outcome> {
    let dataset = a.storage.dataset(&a.dataset)?;
    let out = match &a.out {
        Some(p) => Location::Local(p.clone()),
        None => dataset.join("report.html"),
    };
    let n = write_report(
        &dataset,
        &out,
        &a.devices,
        &a.rules,
        a.memory.memory_limit,
        a.cluster.cluster.as_deref(),
    )?;
    eprintln!("iotdest: report of {n} device(s) written to {out}");
    Ok(Outcome::Ok)
}
