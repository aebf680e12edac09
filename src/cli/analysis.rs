//! `iotdest analyze`, `iotdest sql`, `iotdest classify`, `iotdest first-party`,
//! `iotdest geolocate`: everything that reads rules or a dataset rather than captures.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};
use clap::Args;

use super::Outcome;
use crate::classify::devices::Devices;
use crate::classify::domain;
use crate::classify::geo::Geo;
use crate::classify::{Classifier, Rules};
use crate::query::analyze::{analyze, AnalyzeParams};
use crate::query::session;

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

/// MaxMind-format databases.
#[derive(Args, Debug, Clone)]
pub struct GeoArgs {
    /// Country database (GeoLite2-Country, DB-IP lite, …).
    #[arg(long, value_name = "FILE")]
    pub geo_db: Option<PathBuf>,
    /// ASN database (GeoLite2-ASN, …).
    #[arg(long, value_name = "FILE")]
    pub asn_db: Option<PathBuf>,
}

impl GeoArgs {
    pub fn open(&self) -> anyhow::Result<Geo> {
        Ok(Geo::open(self.geo_db.as_deref(), self.asn_db.as_deref())?)
    }
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

Writes DATASET/analysis/{flow_domains,ips,destinations,platforms}/device=/year=/month=/.")]
pub struct AnalyzeArgs {
    /// Dataset written by `extract`.
    #[arg(long, value_name = "DATASET")]
    pub dataset: PathBuf,
    #[command(flatten)]
    pub geo: GeoArgs,
    #[command(flatten)]
    pub rules: RuleArgs,
    /// How far back a DNS answer may be and still name a flow (method `dns`).
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = parse_duration)]
    pub lookback: u64,
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

fn threads(n: Option<usize>) -> anyhow::Result<usize> {
    match n {
        Some(0) => bail!("--threads must be at least 1"),
        Some(n) => Ok(n),
        None => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
    }
}

fn runtime(threads: usize) -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()?)
}

/// Runs the analysis; used by `analyze` and `run`.
pub fn run_analysis(
    dataset: &Path,
    geo: Geo,
    devices: Devices,
    lookback: u64,
    threads: usize,
) -> anyhow::Result<BTreeMap<String, usize>> {
    if !dataset.is_dir() {
        bail!(
            "dataset {} does not exist (run `iotdest extract` first)",
            dataset.display()
        );
    }
    let rt = runtime(threads)?;
    rt.block_on(async {
        let ctx = session::open(dataset, Arc::new(geo), Arc::new(devices), threads, false).await?;
        let params = AnalyzeParams {
            lookback_secs: lookback,
            ..Default::default()
        };
        Ok(analyze(&ctx, dataset, &params).await?)
    })
}

pub fn run_analyze(a: AnalyzeArgs) -> anyhow::Result<Outcome> {
    let t = threads(a.threads)?;
    let start = Instant::now();
    let report = run_analysis(&a.dataset, a.geo.open()?, a.rules.devices()?, a.lookback, t)?;
    let parts: Vec<String> = report.iter().map(|(t, n)| format!("{n} {t}")).collect();
    eprintln!(
        "iotdest: analysis of {} written in {:.2} s: {}",
        a.dataset.display(),
        start.elapsed().as_secs_f64(),
        parts.join(", ")
    );
    Ok(Outcome::Ok)
}

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  iotdest sql --dataset ds \"SELECT device, COUNT(*) FROM flows GROUP BY device\"
  iotdest sql --dataset ds -f query.sql --format csv > out.csv
  iotdest sql --dataset ds \"SELECT registrable_domain(query), COUNT(*) FROM dns GROUP BY 1\"

Tables: captures, dns, names, flows, and (after analyze) flow_domains, ips, destinations,
platforms. UDFs: registrable_domain, sld, public_suffix, classify_party, party_reason,
organization, iot_platform, manufacturer, asn, as_org, country_iso, country_name, ip_scope.")]
pub struct SqlArgs {
    #[arg(long, value_name = "DATASET")]
    pub dataset: PathBuf,
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
    let devices = a.rules.devices()?;
    let geo = a.geo.open()?;
    let batches = rt.block_on(async {
        let ctx = session::open(&a.dataset, Arc::new(geo), Arc::new(devices), t, true).await?;
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
        let v = devices.classifier().classify(&ctx, &host, None, None);
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
    /// Country database (MaxMind format).
    #[arg(long, value_name = "FILE")]
    pub db: PathBuf,
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
    let geo = Geo::open(Some(&a.db), None)?;
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
