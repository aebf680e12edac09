//! `iotdest analyze`, `iotdest sql`, `iotdest classify`, `iotdest first-party`,
//! `iotdest geolocate`: everything that reads rules or a dataset rather than captures.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Outcome;
use crate::classify::devices::Devices;
use crate::classify::domain;
use crate::classify::geo::Geo;
use crate::classify::{Classifier, Rules};
use crate::query::analyze::{analyze, AnalyzeOptions, AnalyzeParams, AnalyzeSummary, Progress};
use crate::query::cluster::Udfs;
use crate::query::plan::{month_label, sha256_hex};
use crate::query::session;
use crate::query::udf::DeviceContexts;
use crate::store::shard::Shard;
use crate::store::Location;

/// Options shared by commands that classify.
#[derive(Args, Debug, Clone)]
pub struct RuleArgs {
    /// Folder with rule files replacing the built-in ones (manufacturers.csv, platforms.csv,
    /// providers.csv, trackers.csv; any subset).
    #[arg(long, value_name = "DIR")]
    pub rules: Option<PathBuf>,
    /// CSV with columns device,manufacturer (takes precedence over names).
    #[arg(long = "devices", value_name = "FILE")]
    pub devices_file: Option<PathBuf>,
    /// Manufacturer for devices neither the devices file nor the device name identify.
    #[arg(long, value_name = "NAME")]
    pub manufacturer: Option<String>,
    /// Folder holding legacy `<device>/first_party_domains.txt` files.
    #[arg(long, value_name = "DIR", default_value = "analysis")]
    pub first_party_dir: PathBuf,
}

impl RuleArgs {
    /// Lines identifying what these options make the classifier do (the rule files' contents,
    /// the devices file, the default manufacturer, the first-party files): a change of any of
    /// them makes `analyze` recompute.
    pub fn identity(&self) -> anyhow::Result<Vec<String>> {
        let mut out: Vec<String> = Rules::texts(self.rules.as_deref())?
            .iter()
            .map(|(name, text)| format!("rules {name} {}", sha256_hex(text.as_bytes())))
            .collect();
        out.push(match &self.devices_file {
            Some(p) => {
                let bytes =
                    std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?;
                format!("devices-file {}", sha256_hex(&bytes))
            }
            None => "devices-file none".into(),
        });
        out.push(format!(
            "manufacturer {}",
            self.manufacturer.as_deref().unwrap_or("none")
        ));
        let mut first_party: Vec<String> = std::fs::read_dir(&self.first_party_dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let bytes = std::fs::read(e.path().join("first_party_domains.txt")).ok()?;
                Some(format!(
                    "first-party {} {}",
                    e.file_name().to_string_lossy(),
                    sha256_hex(&bytes)
                ))
            })
            .collect();
        first_party.sort();
        out.extend(first_party);
        Ok(out)
    }

    pub fn devices(&self) -> anyhow::Result<Devices> {
        let rules = Rules::load(self.rules.as_deref())?;
        Ok(Devices::new(
            Classifier::new(rules),
            self.devices_file.as_deref(),
            self.manufacturer.as_deref(),
            Some(&self.first_party_dir),
        )?)
    }
}

/// IP databases: MaxMind-format `.mmdb` (any common layout) or CSV/TSV range files.
#[derive(Args, Debug, Clone, Default)]
pub struct GeoArgs {
    /// Country database (repeatable; first match wins): GeoLite2/GeoIP2 Country or City, DB-IP
    /// lite, ip-location-db country .mmdb or CSV, IPinfo lite, iptoasn TSV
    #[arg(long, value_name = "FILE")]
    pub geo_db: Vec<PathBuf>,
    /// ASN database (repeatable; first match wins): GeoLite2-ASN, DB-IP ASN lite, IPinfo lite,
    /// ip-location-db asn .mmdb or CSV (asn-ipv4.csv, asn-ipv6.csv, -num), iptoasn TSV
    #[arg(long, value_name = "FILE")]
    pub asn_db: Vec<PathBuf>,
}

impl GeoArgs {
    pub fn open(&self) -> anyhow::Result<Geo> {
        Ok(Geo::open_all(&self.geo_db, &self.asn_db)?)
    }

    /// Lines identifying the databases (path, size, modification time).
    pub fn identity(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (flag, paths) in [("geo-db", &self.geo_db), ("asn-db", &self.asn_db)] {
            if paths.is_empty() {
                out.push(format!("{flag} none"));
            }
            for p in paths {
                let meta = std::fs::metadata(p).ok();
                let mtime = meta
                    .as_ref()
                    .and_then(|m| m.modified().ok())
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_micros());
                let full = p.canonicalize().unwrap_or_else(|_| p.clone());
                out.push(format!(
                    "{flag} {} {} {mtime}",
                    full.display(),
                    meta.map_or(0, |m| m.len())
                ));
            }
        }
        out
    }
}

/// Parses `1GiB`, `512MiB`, `2G`, `800M`, `64k` or plain bytes (binary units).
pub fn parse_bytes(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size like 1GiB, 512MiB, 2G"))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" | "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        u => return Err(format!("{s:?}: unknown unit {u:?} (use KiB, MiB, GiB)")),
    };
    let bytes = n * mult;
    if !(bytes >= 1024.0 * 1024.0 && bytes < usize::MAX as f64) {
        return Err(format!("{s:?}: give at least 1MiB"));
    }
    Ok(bytes as usize)
}

/// Parses `key=value`.
fn parse_kv(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("{s:?} is not KEY=VALUE"))
}

/// Object-store settings for `s3://` datasets.
#[derive(Args, Debug, Clone, Default)]
pub struct StorageArgs {
    /// An object-store setting for s3:// datasets, over the AWS_* variables (repeatable):
    /// endpoint=http://127.0.0.1:9000, allow_http=true, region=eu-west-1, access_key_id=…
    #[arg(long = "storage-option", value_name = "KEY=VALUE", value_parser = parse_kv)]
    pub storage_options: Vec<(String, String)>,
}

impl StorageArgs {
    /// A dataset location: a local folder or `s3://bucket/prefix`.
    pub fn location(&self, spec: &str) -> anyhow::Result<Location> {
        Ok(Location::parse(spec, &self.storage_options)?)
    }

    /// An existing dataset (its listing works: bucket, endpoint and credentials are right).
    pub fn dataset(&self, spec: &str) -> anyhow::Result<Location> {
        let loc = self.location(spec)?;
        match loc.local() {
            Some(p) if !p.is_dir() => bail!(
                "dataset {} does not exist (run `iotdest extract` first)",
                p.display()
            ),
            Some(_) => {}
            None => {
                loc.check()?;
                if loc.dirs()?.is_empty() {
                    bail!("dataset {loc} is empty (run `iotdest extract --out {loc}` first)");
                }
            }
        }
        Ok(loc)
    }
}

/// Memory limit of the DataFusion sessions of a command.
#[derive(Args, Debug, Clone)]
pub struct MemoryArgs {
    /// Memory the queries may use (sorts and aggregations spill to disk beyond it; a step that
    /// cannot spill fails with a message naming it): 1GiB, 512MiB, 4G…
    #[arg(long, value_name = "SIZE", default_value = "1GiB", value_parser = parse_bytes)]
    pub memory_limit: usize,
}

/// Parses `24h`, `90m`, `3600s`, `2d` or plain seconds.
pub fn parse_duration(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 24h, 90m, 3600s, 2d"))?;
    let mult = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{s:?}: unknown unit {unit:?} (use s, m, h or d)")),
    };
    Ok(n * mult)
}

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  iotdest analyze --dataset iotdest-out
  iotdest analyze --dataset ds --geo-db GeoLite2-Country.mmdb --asn-db GeoLite2-ASN.mmdb
  iotdest analyze --dataset ds --devices devices.csv --lookback 6h
  iotdest analyze --dataset ds --memory-limit 4GiB --threads 2

Writes DATASET/analysis/{flow_domains,ips,destinations,platforms,hostnames,summary}/
device=/year=/month=/, month by month: only device-months whose inputs changed since the last
run (captures, the look-back window's partitions, rules, databases, flags) are recomputed, and
DATASET/analysis/_months/YYYY-MM.json records what each month was computed from. DATASET may be
s3://bucket/prefix (AWS_* variables, --storage-option).")]
pub struct AnalyzeArgs {
    /// Dataset written by `extract` (a folder or s3://bucket/prefix).
    #[arg(long, value_name = "DATASET")]
    pub dataset: String,
    #[command(flatten)]
    pub storage: StorageArgs,
    #[command(flatten)]
    pub geo: GeoArgs,
    #[command(flatten)]
    pub rules: RuleArgs,
    /// How far back a DNS answer may be and still name a flow (method `dns`).
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = parse_duration)]
    pub lookback: u64,
    /// Device-months analysed at once (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Recompute every month, even those up to date.
    #[arg(long)]
    pub force: bool,
    /// Analyse only this worker's share of the months (worker I of N; months are given out by a
    /// stable hash, all devices of a month together).
    #[arg(long, value_name = "I/N", value_parser = Shard::parse)]
    pub shard: Option<Shard>,
    #[command(flatten)]
    pub memory: MemoryArgs,
    #[command(flatten)]
    pub cluster: ClusterArg,
}

pub(super) fn threads(n: Option<usize>) -> anyhow::Result<usize> {
    match n {
        Some(0) => bail!("--threads must be at least 1"),
        Some(n) => Ok(n),
        None => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
    }
}

/// Stack of the query threads: planning and (de)serialising the analysis' deeply nested plans
/// recurses deeper than the default 2 MiB allows, on a cluster's scheduler above all.
pub(super) const QUERY_STACK: usize = 32 << 20;

pub(super) fn runtime(threads: usize) -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_stack_size(QUERY_STACK)
        .enable_all()
        .build()?)
}

/// What `analyze`, `run` and the drop-ins need to analyse a dataset.
pub struct AnalysisRequest<'a> {
    pub dataset: &'a Location,
    pub geo: &'a GeoArgs,
    pub rules: &'a RuleArgs,
    pub lookback: u64,
    pub threads: usize,
    pub memory_limit: usize,
    pub force: bool,
    /// Only this worker's months.
    pub shard: Option<Shard>,
    /// Run the SQL on this Ballista cluster.
    pub cluster: Option<String>,
}

impl AnalysisRequest<'_> {
    /// The analysis options (the configuration lines identify rules, devices and databases).
    pub fn options(&self) -> anyhow::Result<AnalyzeOptions> {
        let mut config = self.rules.identity()?;
        config.extend(self.geo.identity());
        Ok(AnalyzeOptions {
            params: AnalyzeParams {
                lookback_secs: self.lookback,
                ..Default::default()
            },
            threads: self.threads,
            memory_limit: self.memory_limit,
            force: self.force,
            config,
            shard: self.shard,
            cluster: self.cluster.clone(),
        })
    }
}

/// Analyses the months of a dataset that need it, with a progress bar by month on a terminal;
/// used by `analyze`, `run` and the drop-ins. Device-months that fail are reported and make it
/// an error once the others are done.
pub fn run_analysis(r: &AnalysisRequest) -> anyhow::Result<AnalyzeSummary> {
    let opts = r.options()?;
    let geo = Arc::new(r.geo.open()?);
    let devices = Arc::new(r.rules.devices()?);
    let pb = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
    pb.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} months {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let progress = |p: &Progress| match p {
        Progress::Planned { months, .. } => pb.set_length(*months as u64),
        Progress::MonthDone { month, units } => {
            pb.inc(1);
            pb.set_message(format!("{} ({units} device-months)", month_label(*month)));
        }
    };
    let rt = runtime(r.threads)?;
    let summary = rt.block_on(analyze(r.dataset, geo, devices, &opts, &progress));
    pb.finish_and_clear();
    let summary = summary?;
    for w in &summary.warnings {
        eprintln!("iotdest: warning: {w}");
    }
    for f in &summary.failures {
        eprintln!("iotdest: analyze: {f}");
    }
    if !summary.failures.is_empty() {
        bail!(
            "{} analysis step(s) failed (see above); {} months of {} are up to date, the others \
             keep their previous analysis",
            summary.failures.len(),
            summary.months_up_to_date + summary.months_analysed.len()
                - summary
                    .months_analysed
                    .iter()
                    .filter(|m| summary
                        .failures
                        .iter()
                        .any(|f| f.contains(&month_label(**m))))
                    .count(),
            r.dataset
        );
    }
    Ok(summary)
}

/// One line: months analysed, months up to date, rows, time.
pub fn summary_line(dataset: &Location, s: &AnalyzeSummary, secs: f64) -> String {
    let rows: Vec<String> = s.rows.iter().map(|(t, n)| format!("{n} {t}")).collect();
    let mut line = format!(
        "iotdest: analysis of {}: {} months analysed ({} device-months), {} up to date",
        dataset,
        s.months_analysed.len(),
        s.units_analysed.len(),
        s.months_up_to_date
    );
    if !s.months_removed.is_empty() {
        line.push_str(&format!(", {} removed", s.months_removed.len()));
    }
    line.push_str(&format!(" in {secs:.2} s"));
    if !rows.is_empty() {
        line.push_str(&format!(" ({} rows written)", rows.join(", ")));
    }
    line
}

pub fn run_analyze(a: AnalyzeArgs) -> anyhow::Result<Outcome> {
    let start = Instant::now();
    let dataset = a.storage.dataset(&a.dataset)?;
    let summary = run_analysis(&AnalysisRequest {
        dataset: &dataset,
        geo: &a.geo,
        rules: &a.rules,
        lookback: a.lookback,
        threads: threads(a.threads)?,
        memory_limit: a.memory.memory_limit,
        force: a.force,
        shard: a.shard,
        cluster: a.cluster.cluster.clone(),
    })?;
    eprintln!(
        "{}",
        summary_line(&dataset, &summary, start.elapsed().as_secs_f64())
    );
    Ok(Outcome::Ok)
}

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  iotdest sql --dataset ds \"SELECT device, COUNT(*) FROM flows GROUP BY device\"
  iotdest sql --dataset ds -f query.sql --format csv > out.csv
  iotdest sql --dataset ds \"SELECT registrable_domain(query), COUNT(*) FROM dns GROUP BY 1\"

Tables: captures, dns, names, flows, and (after analyze) flow_domains, ips, destinations,
platforms, hostnames, summary. UDFs: registrable_domain, sld, public_suffix, classify_party,
party_reason, organization, iot_platform, manufacturer, asn, as_org, country_iso, country_name,
ip_scope.")]
pub struct SqlArgs {
    /// A folder or s3://bucket/prefix.
    #[arg(long, value_name = "DATASET")]
    pub dataset: String,
    #[command(flatten)]
    pub storage: StorageArgs,
    /// The query (or use -f).
    #[arg(value_name = "QUERY", required_unless_present = "file")]
    pub query: Option<String>,
    /// Read the query from a file.
    #[arg(
        short = 'f',
        long = "file",
        value_name = "FILE",
        conflicts_with = "query"
    )]
    pub file: Option<PathBuf>,
    #[arg(long, default_value = "table", value_parser = ["table", "csv", "json"])]
    pub format: String,
    #[command(flatten)]
    pub geo: GeoArgs,
    #[command(flatten)]
    pub rules: RuleArgs,
    #[command(flatten)]
    pub memory: MemoryArgs,
    #[command(flatten)]
    pub cluster: ClusterArg,
}

/// `--cluster df://host:port`.
#[derive(Args, Debug, Clone, Default)]
pub struct ClusterArg {
    /// Run the SQL on an Apache DataFusion Ballista cluster (see `iotdest cluster`); its nodes
    /// must reach the dataset (an s3:// location, or a path every node sees).
    #[arg(long, value_name = "df://HOST:PORT")]
    pub cluster: Option<String>,
}

pub fn run_sql(a: SqlArgs) -> anyhow::Result<Outcome> {
    let query = match (&a.query, &a.file) {
        (Some(q), _) => q.clone(),
        (None, Some(f)) => {
            std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?
        }
        (None, None) => bail!("give a query or -f FILE"),
    };
    let t = threads(None)?;
    let rt = runtime(t)?;
    let dataset = a.storage.dataset(&a.dataset)?;
    let devices = a.rules.devices()?;
    let geo = a.geo.open()?;
    let batches = rt.block_on(async {
        let env = session::runtime(a.memory.memory_limit, None, &dataset)?;
        let (geo, devices): (Arc<Geo>, Arc<dyn DeviceContexts>) =
            (Arc::new(geo), Arc::new(devices));
        let ctx = match &a.cluster.cluster {
            Some(url) => {
                let udfs = Udfs { geo, devices };
                let ctx = crate::query::cluster::client(url, env, &udfs, t).await?;
                session::register_dataset(&ctx, &dataset, true, true).await?;
                ctx
            }
            None => session::open(&dataset, &env, geo, devices, t, true, true).await?,
        };
        let mut last = Vec::new();
        for stmt in crate::query::analyze::statements(&query, &AnalyzeParams::default()) {
            last = ctx.sql(&stmt).await?.collect().await?;
        }
        Ok::<_, datafusion::error::DataFusionError>(last)
    })?;
    let mut out = std::io::stdout().lock();
    crate::output::table::write_batches(&mut out, &batches, &a.format)?;
    out.flush()?;
    Ok(Outcome::Ok)
}

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  echo api.sonos.com | iotdest classify --manufacturer Sonos
  iotdest classify --device echo_dot domains.txt
  iotdest classify --manufacturer TP-Link destinations.csv   # a CSV with a `domain` column

Prints CSV: domain,registrable_domain,sld,tld,category,organization,platform,reason.")]
pub struct ClassifyArgs {
    /// File of domains (one a line, or CSV with a `domain` column); stdin when absent.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Device name (its manufacturer is looked up like in analyze).
    #[arg(long, value_name = "NAME")]
    pub device: Option<String>,
    #[command(flatten)]
    pub rules: RuleArgs,
}

fn read_domains(input: &mut dyn BufRead) -> anyhow::Result<Vec<String>> {
    let mut text = String::new();
    input.read_to_string(&mut text)?;
    let mut lines = text.lines();
    let first = lines.next().unwrap_or("");
    let header: Vec<String> = first
        .split(',')
        .map(|h| h.trim().trim_matches('"').to_ascii_lowercase())
        .collect();
    if let Some(col) = header.iter().position(|h| h == "domain") {
        let mut rdr = csv::ReaderBuilder::new().from_reader(text.as_bytes());
        let mut out = Vec::new();
        for rec in rdr.records() {
            let rec = rec?;
            out.push(rec.get(col).unwrap_or("").trim().to_string());
        }
        return Ok(out);
    }
    Ok(text
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect())
}

pub fn run_classify(a: ClassifyArgs) -> anyhow::Result<Outcome> {
    if a.device.is_none() && a.rules.manufacturer.is_none() {
        bail!("give --manufacturer NAME or --device NAME");
    }
    let devices = a.rules.devices()?;
    let device = a.device.clone().unwrap_or_default();
    let ctx = devices.context(&device);
    let domains = match &a.file {
        Some(f) => read_domains(&mut std::io::BufReader::new(
            std::fs::File::open(f).with_context(|| format!("cannot read {}", f.display()))?,
        ))?,
        None => read_domains(&mut std::io::stdin().lock())?,
    };
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(std::io::stdout().lock());
    w.write_record([
        "domain",
        "registrable_domain",
        "sld",
        "tld",
        "category",
        "organization",
        "platform",
        "reason",
    ])?;
    for d in domains {
        let host = d.trim().trim_end_matches('.').to_ascii_lowercase();
        let split = domain::split(&host);
        let v = devices.classifier().classify(&ctx, &host, None, None, None);
        w.write_record([
            d.as_str(),
            split.as_ref().map_or("", |s| s.registrable),
            split.as_ref().map_or("", |s| s.sld),
            split.as_ref().and_then(|s| s.suffix).unwrap_or(""),
            v.category.name(),
            &v.organization,
            v.platform.as_deref().unwrap_or(""),
            v.reason,
        ])?;
    }
    w.flush()?;
    Ok(Outcome::Ok)
}

#[derive(Args, Debug)]
#[command(after_help = "Example:
  iotdest first-party --manufacturer Sonos --output analysis/sonos_speaker/first_party_domains.txt")]
pub struct FirstPartyArgs {
    #[arg(long, value_name = "NAME")]
    pub manufacturer: String,
    /// Where to write the suffixes (one a line).
    #[arg(long, value_name = "FILE")]
    pub output: PathBuf,
    /// Folder with rule files replacing the built-in ones.
    #[arg(long, value_name = "DIR")]
    pub rules: Option<PathBuf>,
}

pub fn run_first_party(a: FirstPartyArgs) -> anyhow::Result<Outcome> {
    let c = Classifier::new(Rules::load(a.rules.as_deref())?);
    let Some(i) = c.manufacturer_index(&a.manufacturer) else {
        bail!(
            "manufacturer {:?} is not in the rules (see rules/manufacturers.csv)",
            a.manufacturer
        );
    };
    let domains = c.group_domains(i);
    if let Some(parent) = a.output.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let mut text = domains.join("\n");
    text.push('\n');
    std::fs::write(&a.output, text)
        .with_context(|| format!("cannot write {}", a.output.display()))?;
    eprintln!(
        "iotdest: wrote {} first-party suffixes of {} to {}",
        domains.len(),
        c.manufacturer_name(i),
        a.output.display()
    );
    Ok(Outcome::Ok)
}

#[derive(Args, Debug)]
#[command(after_help = "Example:
  iotdest geolocate --input ip_list/all_ips.json --output geolocation.json --db GeoLite2-Country.mmdb")]
pub struct GeolocateArgs {
    /// JSON list of IPs, or an object whose values are lists of IPs.
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,
    #[arg(long, value_name = "FILE")]
    pub output: PathBuf,
    /// Country database (repeatable; first match wins; any layout `analyze --geo-db` takes).
    #[arg(
        long = "db",
        visible_alias = "geo-db",
        value_name = "FILE",
        required = true
    )]
    pub db: Vec<PathBuf>,
}

pub fn run_geolocate(a: GeolocateArgs) -> anyhow::Result<Outcome> {
    let text = std::fs::read_to_string(&a.input)
        .with_context(|| format!("cannot read {}", a.input.display()))?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not JSON", a.input.display()))?;
    let mut ips: Vec<String> = Vec::new();
    let mut take = |list: &serde_json::Value| {
        if let Some(items) = list.as_array() {
            ips.extend(items.iter().filter_map(|x| x.as_str().map(str::to_string)));
        }
    };
    match &v {
        serde_json::Value::Array(_) => take(&v),
        serde_json::Value::Object(m) => m.values().for_each(&mut take),
        _ => bail!(
            "{}: expected a list of IPs or an object of lists",
            a.input.display()
        ),
    }
    let geo = Geo::open_all(&a.db, &[])?;
    let public: Vec<std::net::IpAddr> = ips
        .iter()
        .filter_map(|ip| ip.parse().ok())
        .filter(|ip| crate::classify::geo::scope_of(*ip) == "internet")
        .collect();
    for w in geo.check_against(&public)? {
        eprintln!("iotdest: warning: {w}");
    }
    let map = crate::output::legacy::geolocation_map(&geo, &ips);
    crate::output::pyfmt::write_json(&a.output, &map, 2)?;
    eprintln!(
        "iotdest: {} of {} IPs located, written to {}",
        map.len(),
        ips.len(),
        a.output.display()
    );
    Ok(Outcome::Ok)
}
