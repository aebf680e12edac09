//! Apache DataFusion Ballista: the scheduler and executor processes that `iotdest cluster` runs,
//! and the client session behind `--cluster df://host:port`. Plans carry UDFs by name only, so
//! the project's UDFs are registered wherever a plan is decoded: the client plans with them, the
//! scheduler's session builder and every executor's function registry hold them too. Every node
//! finds `s3://` stores from its own `AWS_*` environment (a client's `--storage-option` does not
//! travel); local paths work when every node sees the same path.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use ballista::extension::SessionContextExt;
use ballista_core::extension::SessionConfigExt;
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_executor::executor_process::{start_executor_process, ExecutorProcessConfig};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::context::SessionContext;
use datafusion::execution::object_store::{DefaultObjectStoreRegistry, ObjectStoreRegistry};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::execution::session_state::{SessionState, SessionStateBuilder};
use datafusion::object_store::ObjectStore;
use datafusion::prelude::SessionConfig;
use url::Url;

use super::udf::{self, DeviceContexts};
use crate::classify::geo::Geo;
use crate::store::Location;

/// The UDFs' inputs (rules, device table, databases), as every node needs them.
#[derive(Clone)]
pub struct Udfs {
    pub geo: Arc<Geo>,
    pub devices: Arc<dyn DeviceContexts>,
}

/// Object stores for any `s3://bucket` a plan names, made from the `AWS_*` environment on first
/// use; everything else as DataFusion's default registry has it.
#[derive(Debug, Default)]
pub struct EnvStores {
    inner: DefaultObjectStoreRegistry,
}

impl ObjectStoreRegistry for EnvStores {
    fn register_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        self.inner.register_store(url, store)
    }

    fn deregister_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        self.inner.deregister_store(url)
    }

    fn get_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        match self.inner.get_store(url) {
            Ok(store) => Ok(store),
            Err(e) if url.scheme() == "s3" => {
                let bucket = url.host_str().ok_or(e)?;
                let loc = Location::parse(&format!("s3://{bucket}"), &[])
                    .map_err(|e| DataFusionError::External(Box::new(e)))?;
                let (base, store) = loc.store().ok_or_else(|| {
                    DataFusionError::Internal(format!("no store for s3://{bucket}"))
                })?;
                self.inner.register_store(&base, store.clone());
                Ok(store)
            }
            Err(e) => Err(e),
        }
    }
}

/// A runtime whose object stores come from the environment (spill files under `work_dir`).
fn env_runtime(work_dir: Option<&str>) -> Result<Arc<RuntimeEnv>> {
    let mut b = RuntimeEnvBuilder::new().with_object_store_registry(Arc::new(EnvStores::default()));
    if let Some(dir) = work_dir {
        b = b.with_temp_file_path(dir);
    }
    b.build_arc()
}

/// A session state with Ballista's planner extensions, the project's UDFs and `runtime`.
fn state(config: SessionConfig, runtime: Arc<RuntimeEnv>, udfs: &Udfs) -> SessionState {
    use ballista_core::extension::{
        ballista_aggregate_functions, ballista_scalar_functions, ballista_window_functions,
    };
    let mut scalar = ballista_scalar_functions();
    scalar.extend(
        udf::all(udfs.geo.clone(), udfs.devices.clone())
            .into_iter()
            .map(Arc::new),
    );
    SessionStateBuilder::new()
        .with_default_features()
        .with_config(config)
        .with_runtime_env(runtime)
        .with_optimizer_rules(ballista_core::optimizer::ballista_default_optimizer_rules())
        .with_scalar_functions(scalar)
        .with_aggregate_functions(ballista_aggregate_functions())
        .with_window_functions(ballista_window_functions())
        .build()
}

fn ballista_err(what: &str, e: impl std::fmt::Display) -> DataFusionError {
    DataFusionError::Execution(format!("{what}: {e}"))
}

/// Runs a scheduler on `bind` until the process is stopped.
pub async fn run_scheduler(bind: SocketAddr, udfs: Udfs) -> Result<()> {
    let config = SchedulerConfig {
        bind_host: bind.ip().to_string(),
        bind_port: bind.port(),
        external_host: bind.ip().to_string(),
        override_session_builder: Some(Arc::new(move |cfg: SessionConfig| {
            Ok(state(cfg, env_runtime(None)?, &udfs))
        })),
        ..Default::default()
    };
    let cluster = BallistaCluster::new_from_config(&config)
        .await
        .map_err(|e| ballista_err("cannot start the scheduler", e))?;
    eprintln!("iotdest: Ballista scheduler listening on {bind}");
    start_server(cluster, bind, Arc::new(config))
        .await
        .map_err(|e| ballista_err("scheduler", e))
}

/// Where an executor listens and which scheduler it serves.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    pub scheduler: (String, u16),
    pub bind_host: String,
    pub flight_port: u16,
    pub grpc_port: u16,
    /// Tasks at once.
    pub concurrency: usize,
    /// Shuffle and spill files.
    pub work_dir: Option<String>,
}

/// Runs an executor until the process is stopped.
pub async fn run_executor(opts: ExecutorOptions, udfs: Udfs) -> Result<()> {
    let registry = {
        let st = state(
            SessionConfig::new_with_ballista(),
            env_runtime(None)?,
            &udfs,
        );
        BallistaFunctionRegistry::from(&st)
    };
    let work_dir = opts.work_dir.clone();
    let config = ExecutorProcessConfig {
        bind_host: opts.bind_host.clone(),
        external_host: Some(opts.bind_host.clone()),
        port: opts.flight_port,
        grpc_port: opts.grpc_port,
        scheduler_host: opts.scheduler.0.clone(),
        scheduler_port: opts.scheduler.1,
        scheduler_connect_timeout_seconds: 30,
        vcores: opts.concurrency.max(1),
        work_dir: opts.work_dir.clone(),
        print_thread_info: false,
        override_function_registry: Some(Arc::new(registry)),
        override_runtime_producer: Some(Arc::new(move |_| env_runtime(work_dir.as_deref()))),
        ..Default::default()
    };
    eprintln!(
        "iotdest: Ballista executor on {} (Flight {}, gRPC {}) for scheduler {}:{}",
        opts.bind_host, opts.flight_port, opts.grpc_port, opts.scheduler.0, opts.scheduler.1
    );
    start_executor_process(Arc::new(config))
        .await
        .map_err(|e| ballista_err("executor", e))
}

/// `df://host:port` → (host, port).
pub fn parse_cluster_url(url: &str) -> Result<(String, u16)> {
    let bad = || {
        DataFusionError::Configuration(format!(
            "{url:?} is not a cluster address like df://scheduler-host:50050"
        ))
    };
    let rest = url.strip_prefix("df://").ok_or_else(bad)?;
    let rest = rest.trim_end_matches('/');
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().map_err(|_| bad())?),
        None => (rest, 50050),
    };
    if host.is_empty() {
        return Err(bad());
    }
    Ok((host.to_string(), port))
}

/// A client session on the cluster at `url` (`df://host:port`), planning with the project's UDFs
/// over `runtime` (which holds the dataset's object store). The scheduler must answer within a
/// few seconds: an unreachable one is one clear error.
pub async fn client(
    url: &str,
    runtime: Arc<RuntimeEnv>,
    udfs: &Udfs,
    threads: usize,
) -> Result<SessionContext> {
    let (host, port) = parse_cluster_url(url)?;
    let unreachable = |e: String| {
        DataFusionError::Configuration(format!(
            "cannot reach the Ballista scheduler at {host}:{port} ({url}): {e} \
             (start one with `iotdest cluster scheduler --bind {host}:{port}`)"
        ))
    };
    let addr = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(|e| unreachable(e.to_string()))?
        .next()
        .ok_or_else(|| unreachable("no address".into()))?;
    TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| unreachable(e.to_string()))?;
    // The static distributed planner: the adaptive one re-plans every stage as it goes, which
    // on the analysis' deep plans (windows over windows, a subquery joined five times) kept the
    // scheduler busy for minutes before the first task.
    let config = SessionConfig::new_with_ballista()
        .with_target_partitions(threads.max(1))
        .with_information_schema(true)
        .set_bool("ballista.planner.adaptive.enabled", false);
    let st = state(config, runtime, udfs);
    let ctx = SessionContext::remote_with_state(&format!("df://{host}:{port}"), st).await?;
    // (Ballista's upgrade of the state replaces its scalar functions with the built-in ones.)
    udf::register_all(&ctx, udfs.geo.clone(), udfs.devices.clone());
    Ok(ctx)
}
