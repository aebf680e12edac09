//! The legacy layout and the drop-in replacements of the lab's Python scripts:
//! `export-legacy`, `domains`, `map_ips`, `compare_domains`, `init-empty-ip-maps`, `party`,
//! and `run` (the whole `run_longitudinal.sh` in one command).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};
use clap::Args;

use super::analysis::{
    parse_duration, run_analysis, runtime, summary_line, AnalysisRequest, GeoArgs, MemoryArgs,
    RuleArgs, StorageArgs,
};
use super::Outcome;
use crate::classify::geo::Geo;
use crate::extract::ExtractLimits;
use crate::ingest::discover::{discover_list, discover_root, CaptureFile, DiscoverOptions};
use crate::output::export::{self, LegacyMonth, MonthKey};
use crate::output::pyfmt::{csv_bytes, month_abbr, write_atomic, write_json, MONTHS};
use crate::pipeline::ExtractConfig;
use crate::query::analyze::pending_months;
use crate::query::plan::month_label;
use crate::query::session::{self, PartSource, DEFAULT_MEMORY_LIMIT};
use crate::store::inventory::{part_files, partitions, Partition};
use crate::store::manifest::{current_stamp, stored_stamps};
use crate::store::shard::Shard;
use crate::store::Location;
use crate::store::PartitionKey;

fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The analysis tables the legacy layout is drawn from.
const LEGACY_TABLES: [&str; 5] = ["summary", "hostnames", "destinations", "ips", "platforms"];

/// Calls `f` with the legacy facts of every analysed device-month of `dataset` that `only`
/// selects, one month at a time (one session per month over that month's analysis partitions,
/// so memory does not grow with the months). Returns how many device-months were given.
fn for_each_month(
    dataset: &Location,
    rules: &RuleArgs,
    memory_limit: usize,
    only: &dyn Fn(&PartitionKey) -> bool,
    mut f: impl FnMut(MonthKey, LegacyMonth) -> anyhow::Result<()>,
) -> anyhow::Result<usize> {
    let analysis = dataset.join("analysis");
    let destinations = partitions(&analysis.join("destinations"))?;
    if destinations.is_empty() {
        bail!("{dataset} has no analysis yet: run `iotdest analyze --dataset {dataset}` first");
    }
    let mut months: BTreeMap<(i32, u32), Vec<Partition>> = BTreeMap::new();
    for p in destinations {
        if only(&p.key) {
            months.entry((p.key.year, p.key.month)).or_default().push(p);
        }
    }
    let devices = Arc::new(rules.devices()?);
    let threads = default_threads();
    let rt = runtime(threads)?;
    let env = session::runtime(memory_limit, None, dataset)?;
    let mut given = 0;
    rt.block_on(async {
        for units in months.values() {
            let ctx = session::context(&env, Arc::new(Geo::default()), devices.clone(), threads);
            for table in LEGACY_TABLES {
                let mut parts = Vec::new();
                for u in units {
                    let dir = u.key.at(&analysis, table);
                    if part_files(&dir)?.is_empty() {
                        bail!(
                            "{dataset} lacks analysis/{table}/{} (an analysis by an older \
                             iotdest): run `iotdest analyze --dataset {dataset}`",
                            u.key.rel()
                        );
                    }
                    parts.push(PartSource {
                        dir,
                        device: u.key.device.clone(),
                        year: u.key.year,
                        month: u.key.month,
                    });
                }
                session::register_parts(&ctx, table, None, &parts, None).await?;
            }
            for (key, m) in export::gather(&ctx, &[]).await? {
                given += 1;
                f(key, m)?;
            }
        }
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(given)
}

fn relocate(m: &mut LegacyMonth, geo: Option<&Geo>) {
    if let Some(geo) = geo {
        m.countries = m
            .ips
            .keys()
            .filter_map(|ip| geo.country(ip).map(|c| (ip.clone(), (c.iso_code, c.name))))
            .collect();
        m.with_geolocation = true;
    }
}

/// Writes the legacy layout of the device-months `only` selects; returns how many were written.
pub fn export_dataset(
    dataset: &Location,
    out: &Path,
    only: &dyn Fn(&PartitionKey) -> bool,
    rules: &RuleArgs,
    geo_db: &[PathBuf],
    memory_limit: usize,
) -> anyhow::Result<usize> {
    let geo = (!geo_db.is_empty())
        .then(|| Geo::open_all(geo_db, &[]))
        .transpose()?;
    for_each_month(
        dataset,
        rules,
        memory_limit,
        only,
        |(device, year, month), mut m| {
            relocate(&mut m, geo.as_ref());
            export::write_month(out, &device, year, month, &m)
        },
    )
}

#[derive(Args, Debug)]
#[command(after_help = "Example:
  iotdest export-legacy --dataset iotdest-out --out analysis_longitudinal
  iotdest export-legacy --dataset ds --out analysis_longitudinal --device sonos_speaker --geo-db GeoLite2-Country.mmdb")]
pub struct ExportArgs {
    /// Dataset with raw and analysis tables (a folder or s3://bucket/prefix).
    #[arg(long, value_name = "DATASET")]
    pub dataset: String,
    #[command(flatten)]
    pub storage: StorageArgs,
    /// The analysis_longitudinal folder to write.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Only this device (repeatable).
    #[arg(long = "device", value_name = "NAME")]
    pub devices: Vec<String>,
    /// Country database (repeatable; any layout `analyze --geo-db` takes): (re)locate every IP
    /// and always write geolocation.json.
    #[arg(long, value_name = "FILE")]
    pub geo_db: Vec<PathBuf>,
    #[command(flatten)]
    pub rules: RuleArgs,
    #[command(flatten)]
    pub memory: MemoryArgs,
}

/// A selection of devices (empty: all).
fn device_filter(devices: &[String]) -> impl Fn(&PartitionKey) -> bool + '_ {
    move |k| devices.is_empty() || devices.contains(&k.device)
}

pub fn run_export(a: ExportArgs) -> anyhow::Result<Outcome> {
    let dataset = a.storage.dataset(&a.dataset)?;
    let n = export_dataset(
        &dataset,
        &a.out,
        &device_filter(&a.devices),
        &a.rules,
        &a.geo_db,
        a.memory.memory_limit,
    )?;
    eprintln!(
        "iotdest: wrote the legacy layout of {n} device-months under {}",
        a.out.display()
    );
    Ok(Outcome::Ok)
}

/// Flags every drop-in of `destination_analysis.py` has.
#[derive(Args, Debug)]
pub struct DropInArgs {
    /// PCAP list (one path a line, `#` comments).
    #[arg(long = "input_file", value_name = "FILE")]
    pub input_file: PathBuf,
    /// Month folder to write into.
    #[arg(long = "output_dir", value_name = "DIR")]
    pub output_dir: PathBuf,
    /// Experiment name (kept for compatibility; names nothing).
    #[arg(long, default_value = "destination")]
    pub exp: String,
    #[command(flatten)]
    pub rules: RuleArgs,
}

/// Extracts and analyses a PCAP list in a scratch dataset; returns each device's facts merged
/// over the months the list covers.
fn analyse_list(a: &DropInArgs) -> anyhow::Result<(Vec<(String, LegacyMonth)>, bool)> {
    let found = discover_list(
        &a.input_file,
        None,
        &DiscoverOptions {
            experiment: "ctrl2".into(),
            ..Default::default()
        },
    )?;
    for s in &found.skipped {
        eprintln!("iotdest: skipped {}: {}", s.path.display(), s.reason);
    }
    if found.captures.is_empty() {
        bail!("no usable captures listed in {}", a.input_file.display());
    }
    std::fs::create_dir_all(&a.output_dir)
        .with_context(|| format!("cannot create {}", a.output_dir.display()))?;
    let scratch = tempfile_dir(&a.output_dir)?;
    let scratch_dataset = Location::Local(scratch.clone());
    let cfg = ExtractConfig {
        dataset: scratch_dataset.clone(),
        threads: default_threads(),
        limits: ExtractLimits::default(),
        split_at: crate::pipeline::SPLIT_AT,
    };
    let report = super::extract::extract_with_progress(&found.captures, &cfg);
    let result = (|| {
        let report = report?;
        run_analysis(&AnalysisRequest {
            dataset: &scratch_dataset,
            geo: &GeoArgs::default(),
            rules: &a.rules,
            lookback: 86_400,
            threads: default_threads(),
            memory_limit: DEFAULT_MEMORY_LIMIT,
            force: false,
            shard: None,
            cluster: None,
        })?;
        let mut per_device: BTreeMap<String, LegacyMonth> = BTreeMap::new();
        for_each_month(
            &scratch_dataset,
            &a.rules,
            DEFAULT_MEMORY_LIMIT,
            &|_| true,
            |(device, _, _), m| {
                per_device.entry(device).or_default().merge(m);
                Ok(())
            },
        )?;
        let bad =
            report.files_partial + report.files_failed + report.files_undated + found.skipped.len()
                > 0;
        Ok((per_device.into_iter().collect(), bad))
    })();
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

fn tempfile_dir(parent: &Path) -> anyhow::Result<PathBuf> {
    let p = parent.join(format!(".iotdest-scratch-{}", std::process::id()));
    if p.exists() {
        std::fs::remove_dir_all(&p)?;
    }
    std::fs::create_dir_all(&p)?;
    Ok(p)
}

fn as_refs(v: &[(String, LegacyMonth)]) -> Vec<(&str, &LegacyMonth)> {
    v.iter().map(|(d, m)| (d.as_str(), m)).collect()
}

pub fn run_domains(a: DropInArgs) -> anyhow::Result<Outcome> {
    let (devices, bad) = analyse_list(&a)?;
    export::write_domain_lists(&a.output_dir, &as_refs(&devices))?;
    eprintln!(
        "iotdest: domain lists of {} device(s) written under {}",
        devices.len(),
        a.output_dir.join("domain_list").display()
    );
    Ok(if bad {
        Outcome::SomeFilesFailed
    } else {
        Outcome::Ok
    })
}

pub fn run_map_ips(a: DropInArgs) -> anyhow::Result<Outcome> {
    let (devices, bad) = analyse_list(&a)?;
    export::write_ip_lists(&a.output_dir, &as_refs(&devices))?;
    eprintln!(
        "iotdest: IP lists of {} device(s) written under {}",
        devices.len(),
        a.output_dir.display()
    );
    Ok(if bad {
        Outcome::SomeFilesFailed
    } else {
        Outcome::Ok
    })
}

#[derive(Args, Debug)]
pub struct CompareArgs {
    #[arg(long, value_name = "FILE")]
    pub file1: PathBuf,
    #[arg(long, value_name = "FILE")]
    pub file2: PathBuf,
    #[arg(long = "output_dir", value_name = "DIR")]
    pub output_dir: PathBuf,
    #[arg(long, default_value = "destination")]
    pub exp: String,
}

fn load_comparable(p: &Path) -> anyhow::Result<serde_json::Value> {
    let text =
        std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?;
    match p.extension().and_then(|e| e.to_str()) {
        Some("json") => {
            Ok(serde_json::from_str(&text)
                .with_context(|| format!("{} is not JSON", p.display()))?)
        }
        Some("txt") => {
            let set: BTreeSet<String> = text.lines().map(|l| l.trim().to_string()).collect();
            Ok(serde_json::Value::Array(
                set.into_iter().map(serde_json::Value::String).collect(),
            ))
        }
        _ => bail!("{}: only .json and .txt files can be compared", p.display()),
    }
}

pub fn run_compare(a: CompareArgs) -> anyhow::Result<Outcome> {
    use serde_json::{Map, Value};
    let (v1, v2) = (load_comparable(&a.file1)?, load_comparable(&a.file2)?);
    let doc = match (&v1, &v2) {
        (Value::Object(d1), Value::Object(d2)) => {
            let only = |x: &Map<String, Value>, y: &Map<String, Value>| -> Map<String, Value> {
                x.iter()
                    .filter(|(k, _)| !y.contains_key(*k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            };
            let mut differing = Map::new();
            let mut intersection = Map::new();
            for (k, v) in d1 {
                if let Some(w) = d2.get(k) {
                    if v != w {
                        differing.insert(k.clone(), serde_json::json!({"first": v, "second": w}));
                    } else {
                        intersection.insert(k.clone(), v.clone());
                    }
                }
            }
            serde_json::json!({"only_in_first": only(d1, d2), "only_in_second": only(d2, d1), "differing_values": differing, "intersection": intersection})
        }
        (Value::Array(l1), Value::Array(l2)) => {
            let s1: BTreeSet<String> = l1
                .iter()
                .map(|v| v.as_str().map_or(v.to_string(), str::to_string))
                .collect();
            let s2: BTreeSet<String> = l2
                .iter()
                .map(|v| v.as_str().map_or(v.to_string(), str::to_string))
                .collect();
            serde_json::json!({
                "only_in_first": s1.difference(&s2).collect::<Vec<_>>(),
                "only_in_second": s2.difference(&s1).collect::<Vec<_>>(),
                "intersection": s1.intersection(&s2).collect::<Vec<_>>(),
            })
        }
        _ => bail!(
            "{} and {} hold different kinds of data (an object and a list)",
            a.file1.display(),
            a.file2.display()
        ),
    };
    let stem = |p: &Path| {
        p.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let out = a.output_dir.join(format!(
        "{}_vs_{}_comparison.json",
        stem(&a.file1),
        stem(&a.file2)
    ));
    write_json(&out, &doc, 4)?;
    eprintln!("iotdest: comparison written to {}", out.display());
    Ok(Outcome::Ok)
}

#[derive(Args, Debug)]
pub struct InitEmptyArgs {
    /// Device folder under the base folder.
    #[arg(value_name = "DEVICE")]
    pub device: String,
    /// Years to look at.
    #[arg(value_name = "YEAR", required = true, num_args = 1..)]
    pub years: Vec<String>,
    /// Base folder (the legacy script always uses analysis_longitudinal).
    #[arg(long = "base_dir", default_value = "analysis_longitudinal")]
    pub base_dir: PathBuf,
}

pub fn run_init_empty(a: InitEmptyArgs) -> anyhow::Result<Outcome> {
    let empty = crate::output::pyfmt::pickle_bytes(&serde_pickle::Value::Dict(Default::default()))?;
    for year in &a.years {
        let ydir = a.base_dir.join(export::device_dir(&a.device)).join(year);
        let Ok(entries) = std::fs::read_dir(&ydir) else {
            continue;
        };
        let mut months: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        months.sort();
        for m in months {
            let dl = m.join("domain_list");
            let pkl = dl.join("ip_domain_map.pkl");
            if dl.is_dir() && !pkl.exists() {
                write_atomic(&pkl, &empty)?;
                println!("Created empty {}", pkl.display());
            }
        }
    }
    Ok(Outcome::Ok)
}

#[derive(Args, Debug)]
pub struct PartyArgs {
    #[arg(long, value_name = "DEVICE")]
    pub device: String,
    #[arg(long, value_name = "YEAR", num_args = 1.., default_values_t = ["2023".to_string(), "2024".to_string(), "2025".to_string()])]
    pub years: Vec<String>,
    #[arg(long = "base_dir", default_value = "analysis_longitudinal")]
    pub base_dir: PathBuf,
    #[command(flatten)]
    pub rules: RuleArgs,
}

fn json_names(v: &serde_json::Value) -> Vec<String> {
    let mut out = BTreeSet::new();
    match v {
        serde_json::Value::Array(a) => {
            out.extend(a.iter().filter_map(|x| x.as_str().map(str::to_string)))
        }
        serde_json::Value::Object(m) => {
            for list in m.values() {
                if let Some(a) = list.as_array() {
                    out.extend(a.iter().filter_map(|x| x.as_str().map(str::to_string)));
                }
            }
        }
        _ => {}
    }
    out.into_iter().collect()
}

pub fn run_party(a: PartyArgs) -> anyhow::Result<Outcome> {
    let devices = a.rules.devices()?;
    let ctx = devices.context(&a.device);
    let mut written = 0;
    for year in &a.years {
        let y: i32 = year.parse().with_context(|| format!("year {year:?}"))?;
        for (i, mon) in MONTHS.iter().enumerate() {
            let dir = a
                .base_dir
                .join(&a.device)
                .join(year)
                .join(format!("{mon}_{year}"));
            let dl = dir.join("domain_list");
            let contacted_p = dl.join("contacted_domains.json");
            let pkl_p = dl.join("ip_domain_map.pkl");
            if !contacted_p.is_file() || !pkl_p.is_file() {
                continue;
            }
            let contacted: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&contacted_p)?)
                    .with_context(|| format!("{} is not JSON", contacted_p.display()))?;
            let pkl = std::fs::read(&pkl_p)?;
            let map: serde_pickle::Value =
                serde_pickle::value_from_slice(&pkl, serde_pickle::DeOptions::new())
                    .with_context(|| format!("{} is not a pickle", pkl_p.display()))?;
            let info = |domain: &str, key: &str| -> Option<String> {
                let serde_pickle::Value::Dict(top) = &map else {
                    return None;
                };
                let serde_pickle::Value::Dict(d) =
                    top.get(&serde_pickle::HashableValue::String(domain.into()))?
                else {
                    return None;
                };
                match d.get(&serde_pickle::HashableValue::String(key.into()))? {
                    serde_pickle::Value::String(s) => Some(s.clone()),
                    _ => None,
                }
            };
            let mut m = LegacyMonth::default();
            for domain in json_names(&contacted) {
                let v = devices
                    .classifier()
                    .classify(&ctx, &domain, None, None, None);
                let organization = info(&domain, "organization")
                    .or_else(|| Some(v.organization.clone()).filter(|o| o != "Unknown"))
                    .unwrap_or_else(|| export::UNIDENTIFIED.to_string());
                m.categorized.push(export::Categorized {
                    category: info(&domain, "category")
                        .unwrap_or_else(|| v.category.name().to_string()),
                    organization,
                    query_types: info(&domain, "query_type"),
                    domain,
                });
            }
            let month = i as u32 + 1;
            let csv = a.base_dir.join(&a.device).join(format!(
                "categorized_domains_{}_{year}.csv",
                month_abbr(month)
            ));
            write_atomic(&csv, &csv_bytes(&export::categorized_rows(y, month, &m))?)?;
            println!("Categorized domain data saved to {}", csv.display());
            written += 1;
        }
    }
    if written == 0 {
        eprintln!(
            "iotdest: no month folder with contacted_domains.json and ip_domain_map.pkl under {}",
            a.base_dir.join(&a.device).display()
        );
    }
    Ok(Outcome::Ok)
}

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  iotdest run                                   # the bundled data-samples/ into ./iotdest-out/
  iotdest run --root /data/disk1/traffic/by-name --device sonos_speaker --years 2024 2025 --out ds
  iotdest run --root captures --all --out ds --legacy-out analysis_longitudinal --geo-db C.mmdb --asn-db A.mmdb

Writes the dataset to --out, the legacy layout to --legacy-out and the HTML report to
<out>/report.html. Device-months whose captures (path, size, mtime) are unchanged since the last
run are not extracted again; only device-months whose inputs changed are analysed and exported
again, and the report is rebuilt from the small analysis tables; when nothing changed, nothing is
redone.")]
pub struct RunArgs {
    /// Capture tree (default: data-samples/captures when present).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Devices to process (repeatable).
    #[arg(long = "device", value_name = "NAME", conflicts_with = "all")]
    pub devices: Vec<String>,
    /// Every device under the root.
    #[arg(long)]
    pub all: bool,
    /// Only these years.
    #[arg(long, value_name = "YYYY", num_args = 1..)]
    pub years: Vec<i32>,
    /// Dataset: a folder or s3://bucket/prefix.
    #[arg(long, value_name = "DATASET", default_value = "iotdest-out")]
    pub out: String,
    #[command(flatten)]
    pub storage: StorageArgs,
    /// Legacy layout folder (default <out>/analysis_longitudinal; ./analysis_longitudinal when
    /// the dataset is on an object store).
    #[arg(long, value_name = "DIR")]
    pub legacy_out: Option<PathBuf>,
    /// Experiment folder under each device.
    #[arg(long, default_value = "ctrl2", value_name = "NAME")]
    pub experiment: String,
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Extract, analyse and export everything again, changed or not.
    #[arg(long)]
    pub force: bool,
    /// Worker I of N: extract this worker's device-months, wait until the others' are extracted,
    /// analyse and export this worker's months; worker 0 then waits for every month and writes
    /// the report. N workers with the same arguments fill one dataset with no coordination.
    #[arg(long, value_name = "I/N", value_parser = Shard::parse)]
    pub shard: Option<Shard>,
    /// How long a shard waits for the other workers before it gives up.
    #[arg(long, value_name = "DURATION", default_value = "12h", value_parser = parse_duration)]
    pub shard_wait: u64,
    #[command(flatten)]
    pub geo: GeoArgs,
    #[command(flatten)]
    pub rules: RuleArgs,
    #[command(flatten)]
    pub memory: MemoryArgs,
}

pub fn run_run(a: RunArgs) -> anyhow::Result<Outcome> {
    let start = Instant::now();
    let root = match &a.root {
        Some(r) => {
            if a.devices.is_empty() && !a.all {
                bail!("with --root, name the devices (--device NAME…) or pass --all");
            }
            r.clone()
        }
        None => {
            let d = PathBuf::from("data-samples").join("captures");
            if !d.is_dir() {
                bail!("no --root given and no data-samples/captures here (run from the repository, or pass --root)");
            }
            d
        }
    };
    let threads = match a.threads {
        Some(0) => bail!("--threads must be at least 1"),
        Some(n) => n,
        None => default_threads(),
    };
    let opts = DiscoverOptions {
        devices: a.devices.clone(),
        years: a.years.clone(),
        experiment: a.experiment.clone(),
        ..Default::default()
    };
    let out = a.storage.location(&a.out)?;
    out.check()?;
    let found = discover_root(&root, &opts)?;
    for s in &found.skipped {
        eprintln!("iotdest: skipped {}: {}", s.path.display(), s.reason);
    }
    if found.captures.is_empty() {
        bail!("no capture files found under {}", root.display());
    }
    // Device-months whose stored manifest matches the files on disk are not extracted again.
    let mut by_month: BTreeMap<PartitionKey, Vec<CaptureFile>> = BTreeMap::new();
    for c in &found.captures {
        by_month
            .entry(PartitionKey {
                device: c.device.clone(),
                year: c.year,
                month: c.month,
            })
            .or_default()
            .push(c.clone());
    }
    let mine = |k: &PartitionKey| a.shard.is_none_or(|s| s.owns_device_month(k));
    let extracted = |key: &PartitionKey, files: &[CaptureFile]| {
        let now: Option<BTreeSet<_>> = files.iter().map(|f| current_stamp(&f.path)).collect();
        now.is_some() && now == stored_stamps(&out, key)
    };
    let mut todo = Vec::new();
    let mut skipped_months = 0;
    for (key, files) in by_month.iter().filter(|(k, _)| mine(k)) {
        if !a.force && extracted(key, files) {
            skipped_months += 1;
        } else {
            todo.extend(files.iter().cloned());
        }
    }
    let mut outcome = if found.skipped.is_empty() {
        Outcome::Ok
    } else {
        Outcome::SomeFilesFailed
    };
    let legacy_out = a.legacy_out.clone().unwrap_or_else(|| {
        out.local()
            .unwrap_or(Path::new("."))
            .join("analysis_longitudinal")
    });
    if !todo.is_empty() {
        let cfg = ExtractConfig {
            dataset: out.clone(),
            threads,
            limits: ExtractLimits::default(),
            split_at: crate::pipeline::SPLIT_AT,
        };
        let report = super::extract::extract_with_progress(&todo, &cfg)?;
        if report.files_partial + report.files_failed + report.files_undated > 0 {
            outcome = Outcome::SomeFilesFailed;
        }
        eprintln!(
            "iotdest: extracted {} files in {} device-months ({} device-months unchanged)",
            report.files, report.partitions, skipped_months
        );
    }
    if a.years.is_empty() {
        crate::pipeline::clear_undated(&out, &found.captures, mine)?;
    }
    let shared = a.shard.filter(|s| s.count > 1);
    if let Some(shard) = shared {
        // A month's look-back reads its neighbours, which other workers extract.
        wait_for(
            shard,
            "device-months extracted by the other workers",
            a.shard_wait,
            || {
                Ok(by_month
                    .iter()
                    .filter(|(k, files)| !mine(k) && !extracted(k, files))
                    .map(|(k, _)| format!("{} {:04}-{:02}", k.device, k.year, k.month))
                    .collect())
            },
        )?;
    }
    let analysis_start = Instant::now();
    let request = AnalysisRequest {
        dataset: &out,
        geo: &a.geo,
        rules: &a.rules,
        lookback: 86_400,
        threads,
        memory_limit: a.memory.memory_limit,
        force: a.force,
        shard: a.shard,
        cluster: None,
    };
    let analysis = run_analysis(&request)?;
    let changed: BTreeSet<&PartitionKey> = analysis.units_analysed.iter().collect();
    let report_path = out.join("report.html");
    let writes_report = a.shard.is_none_or(|s| s.index == 0);
    let legacy_present = legacy_out.is_dir();
    if todo.is_empty()
        && changed.is_empty()
        && legacy_present
        && (!writes_report || report_path.exists()?)
    {
        eprintln!(
            "iotdest: nothing changed ({} device-months, {} months up to date) in {:.2} s",
            skipped_months,
            analysis.months_up_to_date,
            start.elapsed().as_secs_f64()
        );
        return Ok(outcome);
    }
    eprintln!(
        "{}",
        summary_line(&out, &analysis, analysis_start.elapsed().as_secs_f64())
    );
    // The legacy layout of what changed (all of it when the folder is new).
    let wanted = |k: &PartitionKey| {
        (a.devices.is_empty() || a.devices.contains(&k.device))
            && a.shard.is_none_or(|s| s.owns_month((k.year, k.month)))
    };
    let only = |k: &PartitionKey| wanted(k) && (a.force || !legacy_present || changed.contains(k));
    // (A worker whose share holds no month has nothing to export.)
    let n = if analysis.months == 0 {
        0
    } else {
        export_dataset(
            &out,
            &legacy_out,
            &only,
            &a.rules,
            &a.geo.geo_db,
            a.memory.memory_limit,
        )?
    };
    let report_note = if writes_report {
        if let Some(shard) = shared {
            let opts = request.options()?;
            wait_for(
                shard,
                "months analysed by the other workers",
                a.shard_wait,
                || {
                    Ok(pending_months(&out, &opts)?
                        .into_iter()
                        .map(month_label)
                        .collect())
                },
            )?;
        }
        super::report::write_report(
            &out,
            &report_path,
            &a.devices,
            &a.rules,
            a.memory.memory_limit,
            None,
        )?;
        format!("report in {report_path}")
    } else {
        "worker 0 writes the report".to_string()
    };
    eprintln!(
        "iotdest: legacy layout of {n} device-months written in {}; {report_note}; done in {:.2} s",
        legacy_out.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(outcome)
}

/// Waits (polling every second, a line on stderr every 30 s) until `pending` lists nothing; an
/// error naming what is still missing after `timeout_secs`.
fn wait_for(
    shard: Shard,
    what: &str,
    timeout_secs: u64,
    mut pending: impl FnMut() -> anyhow::Result<Vec<String>>,
) -> anyhow::Result<()> {
    let start = Instant::now();
    let mut told = None::<Instant>;
    loop {
        let missing = pending()?;
        if missing.is_empty() {
            return Ok(());
        }
        let shown = missing
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if start.elapsed().as_secs() >= timeout_secs {
            bail!(
                "shard {shard}: gave up after {} s waiting for {} {what} ({shown}…); \
                 did another worker fail? (--shard-wait sets the wait)",
                start.elapsed().as_secs(),
                missing.len()
            );
        }
        if told.is_none_or(|t| t.elapsed().as_secs() >= 30) {
            eprintln!(
                "iotdest: shard {shard}: waiting for {} {what} ({shown})",
                missing.len()
            );
            told = Some(Instant::now());
        }
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}
