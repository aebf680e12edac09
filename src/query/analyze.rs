//! `analyze`: month by month, incrementally, within a memory limit.
//!
//! Each month is analysed on its own (see `plan` for what a month and a device-month read): the
//! month step, then every device-month, each written into a staging folder and swapped into
//! `DATASET/analysis/<table>/device=/year=/month=` on its own. `DATASET/analysis/_months/
//! YYYY-MM.json` records what each month and device-month was computed from; a device-month is
//! recomputed only when its fingerprint changed (its raw partitions, its look-back window's
//! partitions, the month step's tables, the rules, databases, flags, the SQL or the version) or
//! its outputs are missing. Device-months run in parallel up to `threads`, all sessions sharing one
//! memory pool of `memory_limit` bytes that spills to `DATASET/.staging/<pid>-spill/`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::PathBuf;
use std::sync::Arc;

use datafusion::error::{DataFusionError, Result};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

pub use super::plan::Month;
use super::plan::{
    fingerprint, month_inputs, month_label, plan, read_state, sha256_hex, state_file, state_months,
    unit_inputs, MonthPlan, MonthState, Unit, UnitState, STATE_FORMAT,
};
use super::session;
pub use super::steps::{statements, AnalyzeParams, ANALYSIS_TABLES};
use super::udf::DeviceContexts;
use super::unit::{month_tables, run_unit, source, Env, MonthTables, Sources};
use crate::classify::geo::Geo;
use crate::columnar::schema::TABLE_DNS;
use crate::store::inventory::part_files;
use crate::store::inventory::partitions;
pub use crate::store::shard::Shard;
use crate::store::writer::{clean_stale_in, staging_root};
use crate::store::{decode_value, publish, remove_partition_at, Location, PartitionKey};

/// How to analyse.
#[derive(Debug, Clone)]
pub struct AnalyzeOptions {
    pub params: AnalyzeParams,
    /// Device-months analysed at once.
    pub threads: usize,
    /// Bytes of the memory pool all sessions share.
    pub memory_limit: usize,
    /// Recompute every month, up to date or not.
    pub force: bool,
    /// What else decides the results (rules, device table, databases), one line each; a change
    /// of any line recomputes every month.
    pub config: Vec<String>,
    /// Only the months of this worker's share (the plan still covers the whole dataset, since
    /// a month's look-back reads its neighbours).
    pub shard: Option<Shard>,
    /// Run the SQL on this Ballista cluster (`df://host:port`).
    pub cluster: Option<String>,
}

/// What a run of `analyze` did.
#[derive(Debug, Clone, Default)]
pub struct AnalyzeSummary {
    /// Months the dataset holds.
    pub months: usize,
    /// Months (re)computed, wholly or in part.
    pub months_analysed: Vec<Month>,
    /// Months that needed nothing.
    pub months_up_to_date: usize,
    /// Months whose raw partitions are gone, and whose analysis was removed.
    pub months_removed: Vec<Month>,
    /// Device-months (re)computed.
    pub units_analysed: Vec<PartitionKey>,
    /// Rows written per analysis table by this run.
    pub rows: BTreeMap<String, u64>,
    /// Device-months that failed, with the reason (their previous analysis stays in place).
    pub failures: Vec<String>,
    /// Things the user should know that did not stop the run (a database file that matched
    /// none of the dataset's public IPs while another file for the same question did).
    pub warnings: Vec<String>,
}

/// Progress reports, in the order they happen.
#[derive(Debug, Clone)]
pub enum Progress {
    /// The plan: months to (re)compute, and device-months among them known so far.
    Planned { months: usize, up_to_date: usize },
    /// A month finished (its device-months swapped in).
    MonthDone { month: Month, units: usize },
}

/// The lines that identify the configuration: the caller's plus version, SQL and flags.
fn config_lines(opts: &AnalyzeOptions) -> Vec<String> {
    let mut sql = String::new();
    for text in super::steps::analysis_sql() {
        sql.push_str(text);
    }
    let mut lines = vec![
        format!("iotdest {}", env!("CARGO_PKG_VERSION")),
        format!("state format {STATE_FORMAT}"),
        format!("sql {}", sha256_hex(sql.as_bytes())),
        format!("lookback_seconds {}", opts.params.lookback_secs),
        format!("skew_seconds {}", opts.params.skew_secs),
    ];
    lines.extend(opts.config.iter().cloned());
    lines
}

fn unit_fingerprint(config: &[String], u: &Unit, month_tables: &str) -> (String, Vec<String>) {
    let mut inputs = unit_inputs(u);
    inputs.push(format!("month tables {month_tables}"));
    (fingerprint(config, &inputs), inputs)
}

fn outputs_exist(analysis: &Location, key: &PartitionKey) -> bool {
    ANALYSIS_TABLES
        .iter()
        .all(|t| part_files(&key.at(analysis, t)).is_ok_and(|f| !f.is_empty()))
}

fn store_error(e: crate::store::StoreError) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

fn write_state(analysis: &Location, state: &MonthState, month: Month) -> Result<()> {
    let text =
        serde_json::to_string_pretty(state).map_err(|e| DataFusionError::External(Box::new(e)))?;
    state_file(analysis, month)
        .write(text.into_bytes().into())
        .map_err(store_error)
}

fn remove_unit(analysis: &Location, key: &PartitionKey) -> Result<()> {
    for t in ANALYSIS_TABLES {
        remove_partition_at(&analysis.join(t), &key.at(analysis, t)).map_err(store_error)?;
    }
    Ok(())
}

/// The local folder analysis results are staged in before they are put in place: inside a local
/// dataset (same filesystem, so renames), else in the system's temporary folder.
fn local_staging(dataset: &Location) -> PathBuf {
    match dataset.local() {
        Some(p) => staging_root(p),
        None => std::env::temp_dir().join("iotdest-staging"),
    }
}

/// Whether an error (or its cause) is the memory pool refusing an allocation.
pub fn is_resources_exhausted(e: &DataFusionError) -> bool {
    matches!(e.find_root(), DataFusionError::ResourcesExhausted(_))
        || e.to_string().contains("Resources exhausted")
}

/// A month to work on.
struct Todo {
    plan: MonthPlan,
    state: Option<MonthState>,
    month_fp: String,
}

/// What the month tasks share.
struct Shared {
    env: Env,
    dataset: Location,
    analysis: Location,
    /// Local staging folder.
    staging: PathBuf,
    config: Vec<String>,
    force: bool,
    threads: u32,
    memory_limit: usize,
    /// One permit per device-month (or month step) running.
    permits: Semaphore,
}

/// Result of one month's task.
struct MonthOutcome {
    month: Month,
    units: Vec<(PartitionKey, BTreeMap<String, u64>)>,
    failures: Vec<String>,
}

/// A size as the `--memory-limit` flag takes it (`1.5GiB`, `512MiB`).
pub fn flag_bytes(n: usize) -> String {
    let gib = n as f64 / (1u64 << 30) as f64;
    if gib >= 1.0 {
        format!("{}GiB", (gib * 10.0).round() / 10.0)
    } else {
        format!("{}MiB", (n as f64 / (1u64 << 20) as f64).round())
    }
}

fn failure(shared: &Shared, what: &str, e: &DataFusionError) -> String {
    if is_resources_exhausted(e) {
        // DataFusion's message lists the top consumers; its last line says what was refused.
        let root = e.find_root().to_string();
        let detail = root
            .lines()
            .last()
            .unwrap_or_default()
            .trim_start_matches("Error: ");
        format!(
            "{what} does not fit in --memory-limit {} (raise it, e.g. --memory-limit {}): {detail}",
            flag_bytes(shared.memory_limit),
            flag_bytes(shared.memory_limit.saturating_mul(2).max(256 << 20)),
        )
    } else {
        format!("{what}: {e}")
    }
}

/// Raw Parquet bytes up to which small device-months of one month are analysed together (each
/// session, plan and set of Parquet writers has a fixed cost of tens of milliseconds, which
/// dominates for device-months of a few hundred kB; larger ones run alone, so a session's
/// memory follows the largest device-month, not the month).
pub const GROUP_BYTES: u64 = 1 << 20;

fn unit_bytes(u: &Unit) -> u64 {
    u.raw
        .values()
        .flat_map(|p| p.files.iter().map(|f| f.size))
        .sum()
}

/// Groups device-months (in device order) into runs of at most `GROUP_BYTES` raw bytes; a
/// device-month larger than that is a group of its own.
fn group_units<T>(units: Vec<(Unit, T, Vec<String>)>) -> Vec<Vec<(Unit, T, Vec<String>)>> {
    let mut groups: Vec<Vec<(Unit, T, Vec<String>)>> = Vec::new();
    let mut bytes = 0;
    for item in units {
        let b = unit_bytes(&item.0);
        match groups.last_mut() {
            Some(g) if !g.is_empty() && bytes + b <= GROUP_BYTES => {
                bytes += b;
                g.push(item);
            }
            _ => {
                bytes = b;
                groups.push(vec![item]);
            }
        }
    }
    groups
}

/// Runs `f` under one permit; if the memory pool refuses while other work shares it, runs it
/// again alone (holding every permit).
async fn with_permit<T, F, Fut>(shared: &Shared, f: F) -> Result<T>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let first = {
        let _p = shared
            .permits
            .acquire()
            .await
            .map_err(|e| DataFusionError::Internal(e.to_string()))?;
        f().await
    };
    match first {
        Err(e) if is_resources_exhausted(&e) && shared.threads > 1 => {
            let _all = shared
                .permits
                .acquire_many(shared.threads)
                .await
                .map_err(|e| DataFusionError::Internal(e.to_string()))?;
            f().await
        }
        other => other,
    }
}

async fn analyse_month(shared: Arc<Shared>, todo: Todo) -> MonthOutcome {
    let month = todo.plan.month;
    let label = month_label(month);
    let mut out = MonthOutcome {
        month,
        units: Vec::new(),
        failures: Vec::new(),
    };
    let dns: Vec<_> = todo.plan.dns().map(source).collect();
    let run_name = format!("{}-analysis-{label}", std::process::id());
    // On a cluster the executors read the stage: it lives with the dataset.
    let stage = match shared.env.cluster {
        None => Location::Local(shared.staging.join(&run_name)),
        Some(_) => shared.dataset.join(".staging").join(&run_name),
    };
    let _ = stage.delete_tree();
    let month_keys: BTreeSet<PartitionKey> =
        todo.plan.units.iter().map(|u| u.key.clone()).collect();
    let tables: MonthTables = match with_permit(&shared, || {
        month_tables(&shared.env, &shared.dataset, &dns, &month_keys, &stage)
    })
    .await
    {
        Ok(t) => t,
        Err(e) => {
            out.failures
                .push(failure(&shared, &format!("month {label}"), &e));
            let _ = stage.delete_tree();
            return out;
        }
    };
    let tables = Arc::new(tables);
    let mut jobs = JoinSet::new();
    let mut states: BTreeMap<String, UnitState> = BTreeMap::new();
    let mut stale: Vec<(Unit, String, Vec<String>)> = Vec::new();
    for u in &todo.plan.units {
        let (fp, inputs) = unit_fingerprint(&shared.config, u, &tables.hash);
        let old = todo
            .state
            .as_ref()
            .and_then(|s| s.units.get(&u.device_value));
        let current = !shared.force
            && old.is_some_and(|o| o.fingerprint == fp)
            && outputs_exist(&shared.analysis, &u.key);
        // An old state is kept until a new analysis replaces it (a failure leaves it in place,
        // with a fingerprint that makes the next run try again).
        if let Some(o) = old {
            states.insert(u.device_value.clone(), o.clone());
        }
        if !current {
            stale.push((u.clone(), fp, inputs));
        }
    }
    for group in group_units(stale) {
        let (shared, tables, stage) = (shared.clone(), tables.clone(), stage.clone());
        jobs.spawn(async move {
            let units: Vec<Unit> = group.iter().map(|(u, _, _)| u.clone()).collect();
            let sources = Sources::of_units(&units);
            let keys: BTreeSet<PartitionKey> = units.iter().map(|u| u.key.clone()).collect();
            let r = with_permit(&shared, || {
                run_unit(
                    &shared.env,
                    &shared.dataset,
                    &tables,
                    &sources,
                    &stage,
                    &keys,
                )
            })
            .await;
            (group, r)
        });
    }
    while let Some(joined) = jobs.join_next().await {
        let (group, r) = match joined {
            Ok(x) => x,
            Err(e) => {
                out.failures
                    .push(format!("month {label}: a task failed: {e}"));
                continue;
            }
        };
        let devices: Vec<&str> = group
            .iter()
            .map(|(u, _, _)| u.key.device.as_str())
            .collect();
        let what = format!("month {label}, device {}", devices.join(", "));
        let mut rows = match r {
            Ok(rows) => rows,
            Err(e) => {
                out.failures.push(failure(&shared, &what, &e));
                continue;
            }
        };
        for (u, fp, inputs) in group {
            let swapped = ANALYSIS_TABLES.iter().try_for_each(|t| {
                let staged = u.key.at(&stage, t);
                let fin = u.key.at(&shared.analysis, t);
                let old = shared.staging.join(format!("{run_name}-{t}.old"));
                publish(&staged, &fin, &old)
            });
            match swapped {
                Ok(()) => {
                    let rows = rows.remove(&u.key).unwrap_or_default();
                    states.insert(
                        u.device_value.clone(),
                        UnitState {
                            fingerprint: fp,
                            inputs,
                            rows: rows.clone(),
                        },
                    );
                    out.units.push((u.key.clone(), rows));
                }
                Err(e) => out
                    .failures
                    .push(format!("month {label}, device {}: {e}", u.key.device)),
            }
        }
    }
    // Device-months that left this month (their captures are gone).
    let present: BTreeSet<&str> = todo
        .plan
        .units
        .iter()
        .map(|u| u.device_value.as_str())
        .collect();
    for gone in todo
        .state
        .iter()
        .flat_map(|s| s.units.keys())
        .filter(|d| !present.contains(d.as_str()))
    {
        let key = PartitionKey {
            device: decode_value(gone),
            year: month.0,
            month: month.1,
        };
        if let Err(e) = remove_unit(&shared.analysis, &key) {
            out.failures.push(format!("month {label}: {e}"));
        }
    }
    let state = MonthState {
        format: STATE_FORMAT,
        month: label.clone(),
        config: shared.config.clone(),
        month_inputs: todo.month_fp,
        month_tables: tables.hash.clone(),
        units: states,
    };
    if let Err(e) = write_state(&shared.analysis, &state, month) {
        out.failures.push(format!("month {label}: {e}"));
    }
    let _ = stage.delete_tree();
    out.units.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The plan of every month, and the months that need (re)computing.
fn stale(
    dataset: &Location,
    opts: &AnalyzeOptions,
    config: &[String],
) -> Result<(Vec<MonthPlan>, Vec<Todo>)> {
    let analysis = dataset.join("analysis");
    let us = |s: u64| (s as i64).saturating_mul(1_000_000);
    let params = &opts.params;
    let plans =
        plan(dataset, us(params.lookback_secs), us(params.skew_secs)).map_err(store_error)?;
    let mut todo = Vec::new();
    for p in &plans {
        let state = read_state(&analysis, p.month);
        let month_fp = fingerprint(config, &month_inputs(p));
        let up_to_date = !opts.force
            && state
                .as_ref()
                .filter(|s| s.config == config)
                .is_some_and(|s| {
                    s.month_inputs == month_fp
                        && s.units.len() == p.units.len()
                        && p.units.iter().all(|u| {
                            let (fp, _) = unit_fingerprint(config, u, &s.month_tables);
                            s.units
                                .get(&u.device_value)
                                .is_some_and(|o| o.fingerprint == fp)
                                && outputs_exist(&analysis, &u.key)
                        })
                });
        if !up_to_date {
            todo.push(Todo {
                plan: p.clone(),
                state,
                month_fp,
            });
        }
    }
    Ok((plans, todo))
}

/// Months of `dataset` (all shards) whose analysis is missing or out of date for `opts`, without
/// analysing anything: what a worker waits on before it writes a report of the whole dataset.
/// How many distinct public IPs the database check looks at.
const IP_SAMPLE: usize = 5_000;

/// Up to `IP_SAMPLE` distinct Internet IPs of the flows of `months` (the remote-IP column only),
/// to check the IP databases against before anything is written.
async fn public_ip_sample(
    dataset: &Location,
    months: &BTreeSet<Month>,
    memory_limit: usize,
) -> Result<Vec<std::net::IpAddr>> {
    let runtime = session::runtime(memory_limit, None, dataset)?;
    let ctx = session::open(
        dataset,
        &runtime,
        Arc::new(Geo::default()),
        Arc::new(
            crate::classify::devices::Devices::new(
                crate::classify::Classifier::new(crate::classify::Rules::default()),
                None,
                None,
                None,
            )
            .map_err(|e| DataFusionError::External(Box::new(e)))?,
        ),
        1,
        true,
        false,
    )
    .await?;
    let filter: Vec<String> = months
        .iter()
        .map(|(y, m)| format!("(year = '{y:04}' AND month = '{m:02}')"))
        .collect();
    let sql = format!(
        "SELECT DISTINCT remote_ip FROM flows WHERE {} ORDER BY remote_ip",
        filter.join(" OR ")
    );
    let batches = ctx.sql(&sql).await?.collect().await?;
    let mut out = Vec::new();
    for b in &batches {
        let col = datafusion::arrow::compute::cast(
            b.column(0),
            &datafusion::arrow::datatypes::DataType::Utf8,
        )?;
        let Some(a) = col
            .as_any()
            .downcast_ref::<datafusion::arrow::array::StringArray>()
        else {
            continue;
        };
        out.extend(
            a.iter()
                .flatten()
                .filter_map(|s| s.parse().ok())
                .filter(|ip| crate::classify::geo::scope_of(*ip) == "internet"),
        );
        if out.len() >= IP_SAMPLE {
            out.truncate(IP_SAMPLE);
            break;
        }
    }
    Ok(out)
}

pub fn pending_months(dataset: &Location, opts: &AnalyzeOptions) -> Result<Vec<Month>> {
    let (_, todo) = stale(dataset, opts, &config_lines(opts))?;
    Ok(todo.iter().map(|t| t.plan.month).collect())
}

/// Analyses the months of `dataset` that need it and removes the analysis of months that are
/// gone. Failures of single device-months are reported in the summary; the rest goes on.
pub async fn analyze(
    dataset: &Location,
    geo: Arc<Geo>,
    devices: Arc<dyn DeviceContexts>,
    opts: &AnalyzeOptions,
    progress: &(dyn Fn(&Progress) + Sync),
) -> Result<AnalyzeSummary> {
    let analysis = dataset.join("analysis");
    let staging = local_staging(dataset);
    clean_stale_in(&staging);
    let params = &opts.params;
    let config = config_lines(opts);
    let mine = |m: Month| opts.shard.is_none_or(|s| s.owns_month(m));
    let (plans, todo) = stale(dataset, opts, &config)?;
    let todo: Vec<Todo> = todo.into_iter().filter(|t| mine(t.plan.month)).collect();
    let mut summary = AnalyzeSummary {
        months: plans.iter().filter(|p| mine(p.month)).count(),
        ..Default::default()
    };
    summary.months_up_to_date = summary.months - todo.len();
    progress(&Progress::Planned {
        months: todo.len(),
        up_to_date: summary.months_up_to_date,
    });
    // Months whose raw partitions are gone.
    let planned: BTreeSet<Month> = plans.iter().map(|p| p.month).collect();
    for month in state_months(&analysis).map_err(store_error)? {
        if !planned.contains(&month) && mine(month) {
            summary.months_removed.push(month);
            state_file(&analysis, month).delete().map_err(store_error)?;
        }
    }
    if !todo.is_empty() && geo.sources().next().is_some() {
        let months: BTreeSet<Month> = todo.iter().map(|t| t.plan.month).collect();
        let ips = public_ip_sample(dataset, &months, opts.memory_limit).await?;
        summary.warnings = geo
            .check_against(&ips)
            .map_err(|e| DataFusionError::Configuration(e.to_string()))?;
    }
    if !todo.is_empty() {
        let spill = staging.join(format!("{}-spill", std::process::id()));
        let runtime = session::runtime(opts.memory_limit, Some(spill.clone()), dataset)?;
        let threads = opts.threads.max(1);
        let shared = Arc::new(Shared {
            env: Env {
                runtime,
                geo,
                devices,
                params: params.clone(),
                target_partitions: if opts.cluster.is_some() { threads } else { 1 },
                cluster: opts.cluster.clone(),
            },
            dataset: dataset.clone(),
            analysis: analysis.clone(),
            staging: staging.clone(),
            config,
            force: opts.force,
            threads: threads as u32,
            memory_limit: opts.memory_limit,
            permits: Semaphore::new(threads),
        });
        // At most `threads` months in flight, so finished month steps do not pile up.
        let mut queue = todo.into_iter();
        let mut running = JoinSet::new();
        loop {
            while running.len() < threads {
                let Some(t) = queue.next() else { break };
                running.spawn(analyse_month(shared.clone(), t));
            }
            let Some(done) = running.join_next().await else {
                break;
            };
            let done = done.map_err(|e| DataFusionError::Internal(e.to_string()))?;
            progress(&Progress::MonthDone {
                month: done.month,
                units: done.units.len(),
            });
            summary.months_analysed.push(done.month);
            for (key, rows) in done.units {
                for (t, n) in rows {
                    *summary.rows.entry(t).or_default() += n;
                }
                summary.units_analysed.push(key);
            }
            summary.failures.extend(done.failures);
        }
        let _ = fs::remove_dir_all(&spill);
    }
    remove_strays(&analysis, &plans, &mine)?;
    summary.months_analysed.sort();
    summary.units_analysed.sort();
    Ok(summary)
}

/// Removes analysis partitions of device-months the raw layer no longer has (or never had: an
/// analysis written by an older version that replaced the whole tables).
fn remove_strays(
    analysis: &Location,
    plans: &[MonthPlan],
    mine: &dyn Fn(Month) -> bool,
) -> Result<()> {
    let keys: BTreeSet<&PartitionKey> = plans
        .iter()
        .flat_map(|p| p.units.iter().map(|u| &u.key))
        .collect();
    for t in ANALYSIS_TABLES {
        let root = analysis.join(t);
        for p in partitions(&root).map_err(store_error)? {
            if !keys.contains(&p.key) && mine((p.key.year, p.key.month)) {
                remove_partition_at(&root, &p.dir).map_err(store_error)?;
            }
        }
    }
    Ok(())
}

/// The whole dataset analysed as one unit (every device and month in one pass of the same SQL),
/// written under `out/<table>/`: the reference the month-wise analysis must equal, row for row.
pub async fn analyze_whole(
    dataset: &Location,
    out: &std::path::Path,
    geo: Arc<Geo>,
    devices: Arc<dyn DeviceContexts>,
    params: &AnalyzeParams,
    memory_limit: usize,
) -> Result<super::unit::RowCounts> {
    let plans = plan(dataset, i64::MAX, i64::MAX).map_err(store_error)?;
    let mut sources = Sources::default();
    let mut keys = BTreeSet::new();
    for u in plans.iter().flat_map(|p| p.units.iter()) {
        for (t, p) in &u.raw {
            sources.raw.entry(t).or_default().push(source(p));
        }
        keys.insert(u.key.clone());
    }
    sources.dns_window = sources.raw.get(TABLE_DNS).cloned().unwrap_or_default();
    let env = Env {
        runtime: session::runtime(memory_limit, None, dataset)?,
        geo,
        devices,
        params: params.clone(),
        target_partitions: 2,
        cluster: None,
    };
    let stage = Location::Local(out.to_path_buf());
    let tables = month_tables(&env, dataset, &sources.dns_window, &keys, &stage).await?;
    run_unit(&env, dataset, &tables, &sources, &stage, &keys).await
}
