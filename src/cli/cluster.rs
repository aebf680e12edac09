//! `iotdest cluster scheduler` and `iotdest cluster executor`: the parts of an Apache DataFusion
//! Ballista cluster, from this binary, with the project's UDFs.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Subcommand};

use super::analysis::{runtime, GeoArgs, RuleArgs};
use super::Outcome;
use crate::query::cluster::{run_executor, run_scheduler, ExecutorOptions, Udfs};

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  iotdest cluster scheduler --bind 0.0.0.0:50050
  iotdest cluster executor --scheduler sched.lab:50050 --bind 10.0.0.7 --concurrency 8
  iotdest analyze --dataset s3://iot/dataset --cluster df://sched.lab:50050

Start every node with the same --rules, --devices, --manufacturer, --first-party-dir, --geo-db
and --asn-db as the clients (the UDFs run on the executors), and with the AWS_* variables of the
object store the datasets live on.")]
pub struct ClusterArgs {
    #[command(subcommand)]
    pub command: ClusterCommand,
}

#[derive(Subcommand, Debug)]
pub enum ClusterCommand {
    /// Run a Ballista scheduler (until stopped).
    Scheduler(SchedulerArgs),
    /// Run a Ballista executor (until stopped).
    Executor(ExecutorArgs),
}

#[derive(Args, Debug)]
pub struct SchedulerArgs {
    /// Address to listen on.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:50050")]
    pub bind: SocketAddr,
    #[command(flatten)]
    pub geo: GeoArgs,
    #[command(flatten)]
    pub rules: RuleArgs,
}

fn host_port(s: &str) -> Result<(String, u16), String> {
    let (h, p) = s
        .rsplit_once(':')
        .ok_or_else(|| format!("{s:?} is not HOST:PORT"))?;
    let port = p.parse().map_err(|_| format!("{s:?}: bad port"))?;
    if h.is_empty() {
        return Err(format!("{s:?}: no host"));
    }
    Ok((h.to_string(), port))
}

#[derive(Args, Debug)]
pub struct ExecutorArgs {
    /// The scheduler to serve.
    #[arg(long, value_name = "HOST:PORT", value_parser = host_port)]
    pub scheduler: (String, u16),
    /// Address to listen on (also the one given to the scheduler).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1")]
    pub bind: String,
    /// Arrow Flight port (results and shuffles).
    #[arg(long, value_name = "PORT", default_value_t = 50051)]
    pub flight_port: u16,
    /// gRPC port (tasks from the scheduler).
    #[arg(long, value_name = "PORT", default_value_t = 50052)]
    pub grpc_port: u16,
    /// Tasks run at once (default: all cores).
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,
    /// Folder for shuffle and spill files (default: a temporary folder).
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<String>,
    #[command(flatten)]
    pub geo: GeoArgs,
    #[command(flatten)]
    pub rules: RuleArgs,
}

fn udfs(geo: &GeoArgs, rules: &RuleArgs) -> anyhow::Result<Udfs> {
    Ok(Udfs {
        geo: Arc::new(geo.open()?),
        devices: Arc::new(rules.devices()?),
    })
}

pub fn run(a: ClusterArgs) -> anyhow::Result<Outcome> {
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .max(2);
    let rt = runtime(threads)?;
    match a.command {
        ClusterCommand::Scheduler(s) => {
            let u = udfs(&s.geo, &s.rules)?;
            rt.block_on(run_scheduler(s.bind, u))
                .with_context(|| format!("scheduler on {}", s.bind))?;
        }
        ClusterCommand::Executor(e) => {
            let u = udfs(&e.geo, &e.rules)?;
            let opts = ExecutorOptions {
                scheduler: e.scheduler.clone(),
                bind_host: e.bind.clone(),
                flight_port: e.flight_port,
                grpc_port: e.grpc_port,
                concurrency: e
                    .concurrency
                    .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
                work_dir: e.work_dir.clone(),
            };
            rt.block_on(run_executor(opts, u)).with_context(|| {
                format!("executor for scheduler {}:{}", e.scheduler.0, e.scheduler.1)
            })?;
        }
    }
    Ok(Outcome::Ok)
}
