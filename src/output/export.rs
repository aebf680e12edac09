//! The legacy layout (DESIGN §5) under `analysis_longitudinal/<device>/`:
//!
//! ```text
//! <year>/<Mon_Year>/domain_list/{unique_domains,unique_slds,contacted_domains,contacted_slds}.json
//! <year>/<Mon_Year>/domain_list/{ip_domain_map,ip_sld_map}.pkl   (+ ip_list/ip_domain_map.pkl)
//! <year>/<Mon_Year>/ip_list/{all_ips.json,_untranslated_ip_stats.csv}
//! <year>/<Mon_Year>/platform_analysis/platforms_detected.json
//! <year>/<Mon_Year>/geolocation.json                            (with country data)
//! categorized_domains_<Mon>_<Year>.csv
//! ```
//! JSON as `json.dump(indent=4)` writes it (geolocation: indent 2), lists sorted; pickles for
//! `pickle.load`; CSVs as `csv.writer` writes them. The device key is the device name.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_pickle::{HashableValue, Value};

use super::pyfmt::{csv_bytes, month_abbr, pickle_bytes, py_float, write_atomic, write_json};
use crate::classify::domain;

/// What the legacy layout holds for one device and month.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LegacyMonth {
    pub unique_domains: BTreeSet<String>,
    pub contacted_domains: BTreeSet<String>,
    /// Remote Internet IP → attributed domain (None when unattributed).
    pub ips: BTreeMap<String, Option<String>>,
    /// IP → (ISO code, English name), for IPs the country database knows.
    pub countries: BTreeMap<String, (String, Option<String>)>,
    /// Contacted domains with their analysis facts.
    pub categorized: Vec<Categorized>,
    pub platforms: Vec<PlatformRow>,
    /// Write geolocation.json (a country database was used).
    pub with_geolocation: bool,
}

/// One row of `categorized_domains_<Mon>_<Year>.csv`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Categorized {
    pub domain: String,
    pub category: String,
    pub organization: String,
    pub query_types: Option<String>,
}

/// One detected platform.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlatformRow {
    pub platform: String,
    /// `;`-separated hostnames.
    pub evidence: String,
    /// `high`, `medium` or `low`.
    pub confidence: String,
    pub flows: i64,
}

/// Organisation written for domains nobody could name. Never `Unknown`: the legacy `party.py`
/// would run WHOIS on that.
pub const UNIDENTIFIED: &str = "Unidentified (no rule or AS match)";

/// `Jul_2025`.
pub fn month_folder(year: i32, month: u32) -> String {
    format!("{}_{year}", month_abbr(month))
}

/// A device name as one safe path component: `/`, `\`, `%`, control characters and a
/// leading `.` are percent-encoded, so no name can leave the output folder.
pub fn device_dir(device: &str) -> String {
    let mut out = String::with_capacity(device.len());
    for (i, c) in device.chars().enumerate() {
        if c == '/' || c == '\\' || c == '%' || c.is_control() || (i == 0 && c == '.') {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    if out.is_empty() {
        out.push_str("%00");
    }
    out
}

/// `<out>/<device>/<year>/<Mon_Year>`.
pub fn month_dir(out: &Path, device: &str, year: i32, month: u32) -> PathBuf {
    out.join(device_dir(device))
        .join(year.to_string())
        .join(month_folder(year, month))
}

/// Registrable domain as the legacy `extract_sld` gives it for ordinary names.
pub fn legacy_sld(d: &str) -> String {
    domain::registrable_domain(d).unwrap_or(d).to_string()
}

fn s(x: &str) -> HashableValue {
    HashableValue::String(x.to_string())
}

fn confidence_value(c: &str) -> f64 {
    match c {
        "high" => 1.0,
        "medium" => 0.6,
        _ => 0.3,
    }
}

/// Devices and their month data, as the legacy files key them (one entry per device).
pub type Devices<'a> = [(&'a str, &'a LegacyMonth)];

/// The untranslated-IP statistics rows (header, one row per device, Total row).
pub fn untranslated_rows(devices: &Devices) -> Vec<Vec<String>> {
    let pct = |u: usize, t: usize| {
        if t == 0 {
            "0".to_string()
        } else {
            py_float(u as f64 / t as f64 * 100.0)
        }
    };
    let mut rows = vec![vec![
        "Device".into(),
        "Percentage Untranslated".into(),
        "Untranslated IPs".into(),
        "Total IPs".into(),
    ]];
    let (mut su, mut st) = (0, 0);
    for (device, m) in devices {
        let total = m.ips.len();
        let untranslated = m.ips.values().filter(|d| d.is_none()).count();
        su += untranslated;
        st += total;
        rows.push(vec![
            device.to_string(),
            pct(untranslated, total),
            untranslated.to_string(),
            total.to_string(),
        ]);
    }
    rows.push(vec![
        "Total".into(),
        pct(su, st),
        su.to_string(),
        st.to_string(),
    ]);
    rows
}

/// `<prefix>_domains.json` and `<prefix>_slds.json`: `{device: [sorted names]}`.
fn write_name_lists(
    dl: &Path,
    prefix: &str,
    devices: &Devices,
    names: impl Fn(&LegacyMonth) -> &BTreeSet<String>,
) -> anyhow::Result<()> {
    let domains = per_device(devices, |m| names(m).iter().cloned().collect::<Vec<_>>());
    write_json(&dl.join(format!("{prefix}_domains.json")), &domains, 4)?;
    let slds = per_device(devices, |m| {
        names(m)
            .iter()
            .map(|d| legacy_sld(d))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
    });
    write_json(&dl.join(format!("{prefix}_slds.json")), &slds, 4)
}

fn per_device<T>(devices: &Devices, f: impl Fn(&LegacyMonth) -> T) -> BTreeMap<String, T> {
    devices.iter().map(|(d, m)| (d.to_string(), f(m))).collect()
}

/// The four `domain_list` files of `domains` (unique lists and the IP maps).
pub fn write_domain_lists(dir: &Path, devices: &Devices) -> anyhow::Result<()> {
    let dl = dir.join("domain_list");
    write_name_lists(&dl, "unique", devices, |m| &m.unique_domains)?;
    // {device: {ip: domain}} plus {domain: {"organization", "query_type", "category"}}: the
    // enriched map the legacy party.py looks organisations up in.
    let mut enriched = BTreeMap::new();
    let mut sld_map = BTreeMap::new();
    for (device, m) in devices {
        let mut ip_domain = BTreeMap::new();
        let mut ip_sld = BTreeMap::new();
        for (ip, d) in &m.ips {
            if let Some(d) = d {
                ip_domain.insert(s(ip), Value::String(d.clone()));
                ip_sld.insert(s(ip), Value::String(legacy_sld(d)));
            }
        }
        enriched.insert(s(device), Value::Dict(ip_domain));
        sld_map.insert(s(device), Value::Dict(ip_sld));
    }
    for (_, m) in devices {
        for c in &m.categorized {
            if devices.iter().any(|(d, _)| *d == c.domain) {
                continue;
            }
            let info = BTreeMap::from([
                (s("organization"), Value::String(c.organization.clone())),
                (
                    s("query_type"),
                    Value::String(c.query_types.clone().unwrap_or_default()),
                ),
                (s("category"), Value::String(c.category.clone())),
            ]);
            enriched.insert(s(&c.domain), Value::Dict(info));
        }
    }
    let enriched = pickle_bytes(&Value::Dict(enriched))?;
    write_atomic(&dl.join("ip_domain_map.pkl"), &enriched)?;
    write_atomic(&dir.join("ip_list").join("ip_domain_map.pkl"), &enriched)?;
    write_atomic(
        &dl.join("ip_sld_map.pkl"),
        &pickle_bytes(&Value::Dict(sld_map))?,
    )?;
    Ok(())
}

/// The files of `map_ips`: all_ips, untranslated stats, contacted lists, platforms.
pub fn write_ip_lists(dir: &Path, devices: &Devices) -> anyhow::Result<()> {
    let il = dir.join("ip_list");
    write_json(
        &il.join("all_ips.json"),
        &per_device(devices, |m| m.ips.keys().cloned().collect::<Vec<_>>()),
        4,
    )?;
    write_atomic(
        &il.join("_untranslated_ip_stats.csv"),
        &csv_bytes(&untranslated_rows(devices))?,
    )?;
    write_name_lists(&dir.join("domain_list"), "contacted", devices, |m| {
        &m.contacted_domains
    })?;
    let mut platforms: Vec<&PlatformRow> = devices
        .iter()
        .flat_map(|(_, m)| m.platforms.iter())
        .collect();
    platforms.sort_by(|a, b| {
        confidence_value(&b.confidence)
            .total_cmp(&confidence_value(&a.confidence))
            .then(b.flows.cmp(&a.flows))
            .then(a.platform.cmp(&b.platform))
    });
    let hosts = |p: &PlatformRow| {
        p.evidence
            .split(';')
            .filter(|e| !e.is_empty())
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let detected: Vec<serde_json::Value> = platforms
        .iter()
        .map(|p| serde_json::json!({"platform": p.platform, "confidence": confidence_value(&p.confidence), "evidence": hosts(p)}))
        .collect();
    let mut endpoints: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for p in &platforms {
        endpoints
            .entry(p.platform.clone())
            .or_default()
            .extend(hosts(p));
    }
    let doc = serde_json::json!({
        "primary_platform": platforms.first().map_or("Unknown", |p| p.platform.as_str()),
        "platforms_detected": detected,
        "platform_endpoints": endpoints,
    });
    write_json(
        &dir.join("platform_analysis")
            .join("platforms_detected.json"),
        &doc,
        4,
    )?;
    Ok(())
}

/// `geolocation.json` (indent 2).
pub fn write_geolocation(dir: &Path, m: &LegacyMonth) -> anyhow::Result<()> {
    let map: BTreeMap<&str, serde_json::Value> = m
        .countries
        .iter()
        .map(|(ip, (iso, name))| {
            (
                ip.as_str(),
                serde_json::json!({"country_iso_code": iso, "country_name": name}),
            )
        })
        .collect();
    write_json(&dir.join("geolocation.json"), &map, 2)
}

/// Rows of `categorized_domains_<Mon>_<Year>.csv`, header first, sorted by domain.
pub fn categorized_rows(year: i32, month: u32, m: &LegacyMonth) -> Vec<Vec<String>> {
    let mut rows = vec![[
        "Month-Year",
        "Domain",
        "SLD",
        "TLD",
        "Category",
        "Organization",
        "Query Type",
    ]
    .map(String::from)
    .to_vec()];
    let mut cats: Vec<&Categorized> = m.categorized.iter().collect();
    cats.sort_by(|a, b| a.domain.cmp(&b.domain));
    for c in cats {
        let split = domain::split(&c.domain);
        rows.push(vec![
            format!("{}-{year}", month_abbr(month)),
            c.domain.clone(),
            split.as_ref().map_or(String::new(), |s| s.sld.to_string()),
            split
                .as_ref()
                .and_then(|s| s.suffix)
                .unwrap_or("")
                .to_string(),
            c.category.clone(),
            c.organization.clone(),
            c.query_types.clone().unwrap_or_default(),
        ]);
    }
    rows
}

/// Writes every file of one device-month (and its categorized CSV beside the year folders).
pub fn write_month(
    out: &Path,
    device: &str,
    year: i32,
    month: u32,
    m: &LegacyMonth,
) -> anyhow::Result<()> {
    let dir = month_dir(out, device, year, month);
    write_domain_lists(&dir, &[(device, m)])?;
    write_ip_lists(&dir, &[(device, m)])?;
    if m.with_geolocation {
        write_geolocation(&dir, m)?;
    }
    let csv = out.join(device_dir(device)).join(format!(
        "categorized_domains_{}_{year}.csv",
        month_abbr(month)
    ));
    write_atomic(&csv, &csv_bytes(&categorized_rows(year, month, m))?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untranslated_stats_like_python() {
        let ips = BTreeMap::from([
            ("1.1.1.1".to_string(), None),
            ("2.2.2.2".to_string(), Some("a.com".to_string())),
            ("3.3.3.3".to_string(), Some("b.com".to_string())),
        ]);
        let m = LegacyMonth {
            ips,
            ..Default::default()
        };
        let rows = untranslated_rows(&[("plug", &m)]);
        assert_eq!(rows[1], vec!["plug", "33.33333333333333", "1", "3"]);
        assert_eq!(rows[2], vec!["Total", "33.33333333333333", "1", "3"]);
        let empty = LegacyMonth::default();
        assert_eq!(untranslated_rows(&[("x", &empty)])[1][1], "0");
        assert_eq!(month_folder(2025, 7), "Jul_2025");
        for d in ["..", "../x", "a/b", "x\ny", ".", ""] {
            let c = device_dir(d);
            assert!(
                !c.contains('/') && !c.starts_with('.') && !c.is_empty() && !c.contains('\n'),
                "{d:?} -> {c}"
            );
        }
        assert_eq!(device_dir("sonos_speaker"), "sonos_speaker");
    }
}

/// A (device, year, month) key.
pub type MonthKey = (String, i32, u32);

fn text_at(b: &arrow::array::RecordBatch, name: &str, row: usize) -> Option<String> {
    use arrow::array::{Array, StringArray};
    let i = b.schema().index_of(name).ok()?;
    let c = arrow::compute::cast(b.column(i), &arrow::datatypes::DataType::Utf8).ok()?;
    let a = c.as_any().downcast_ref::<StringArray>()?;
    (!a.is_null(row)).then(|| a.value(row).to_string())
}

/// Reads the legacy facts of every device-month from a session that has the raw and analysis
/// tables registered (see `query::session::open` with analysis).
pub async fn gather(
    ctx: &datafusion::execution::context::SessionContext,
    devices: &[String],
) -> anyhow::Result<BTreeMap<MonthKey, LegacyMonth>> {
    let sql = include_str!("../../sql/10_legacy.sql");
    for stmt in crate::query::analyze::statements(sql, &Default::default()) {
        ctx.sql(&stmt).await?.collect().await?;
    }
    let mut months: BTreeMap<MonthKey, LegacyMonth> = BTreeMap::new();
    let keep = |d: &str| devices.is_empty() || devices.iter().any(|x| x == d);
    let views = [
        "legacy_months",
        "legacy_unique",
        "legacy_contacted",
        "legacy_ips",
        "legacy_categorized",
        "legacy_platforms",
    ];
    for view in views {
        let batches = ctx
            .sql(&format!("SELECT * FROM {view}"))
            .await?
            .collect()
            .await?;
        for b in &batches {
            for r in 0..b.num_rows() {
                let get = |n: &str| text_at(b, n, r);
                let (Some(device), Some(year), Some(month)) =
                    (get("device"), get("year"), get("month"))
                else {
                    continue;
                };
                if !keep(&device) {
                    continue;
                }
                let key = (
                    device,
                    year.parse().unwrap_or(0),
                    month.parse().unwrap_or(0),
                );
                let m = months.entry(key).or_default();
                match view {
                    "legacy_months" => {}
                    "legacy_unique" => {
                        m.unique_domains.extend(get("domain"));
                    }
                    "legacy_contacted" => {
                        m.contacted_domains.extend(get("domain"));
                    }
                    "legacy_ips" => {
                        if let Some(ip) = get("ip") {
                            if let Some(iso) = get("country_iso") {
                                m.countries.insert(ip.clone(), (iso, get("country_name")));
                                m.with_geolocation = true;
                            }
                            m.ips.insert(ip, get("domain"));
                        }
                    }
                    "legacy_categorized" => {
                        let organization = get("organization")
                            .filter(|o| o != "Unknown")
                            .unwrap_or_else(|| UNIDENTIFIED.to_string());
                        m.categorized.push(Categorized {
                            domain: get("domain").unwrap_or_default(),
                            category: get("category").unwrap_or_default(),
                            organization,
                            query_types: get("query_types"),
                        });
                    }
                    _ => m.platforms.push(PlatformRow {
                        platform: get("platform").unwrap_or_default(),
                        evidence: get("evidence").unwrap_or_default(),
                        confidence: get("confidence").unwrap_or_default(),
                        flows: get("flows").and_then(|f| f.parse().ok()).unwrap_or(0),
                    }),
                }
            }
        }
    }
    for m in months.values_mut() {
        m.categorized.sort_by(|a, b| a.domain.cmp(&b.domain));
        m.platforms.sort_by(|a, b| a.platform.cmp(&b.platform));
    }
    Ok(months)
}

impl LegacyMonth {
    /// Adds another month's facts (the drop-in commands aggregate whatever a list covers).
    pub fn merge(&mut self, other: LegacyMonth) {
        self.unique_domains.extend(other.unique_domains);
        self.contacted_domains.extend(other.contacted_domains);
        for (ip, d) in other.ips {
            let e = self.ips.entry(ip).or_insert(None);
            if e.is_none() {
                *e = d;
            }
        }
        self.countries.extend(other.countries);
        for c in other.categorized {
            if !self.categorized.iter().any(|x| x.domain == c.domain) {
                self.categorized.push(c);
            }
        }
        for p in other.platforms {
            match self.platforms.iter_mut().find(|x| x.platform == p.platform) {
                Some(x) => {
                    let mut ev: BTreeSet<String> = x
                        .evidence
                        .split(';')
                        .chain(p.evidence.split(';'))
                        .filter(|e| !e.is_empty())
                        .map(str::to_string)
                        .collect();
                    x.evidence = std::mem::take(&mut ev)
                        .into_iter()
                        .collect::<Vec<_>>()
                        .join(";");
                    x.flows += p.flows;
                    if confidence_value(&p.confidence) > confidence_value(&x.confidence) {
                        x.confidence = p.confidence;
                    }
                }
                None => self.platforms.push(p),
            }
        }
        self.with_geolocation |= other.with_geolocation;
        self.categorized.sort_by(|a, b| a.domain.cmp(&b.domain));
        self.platforms.sort_by(|a, b| a.platform.cmp(&b.platform));
    }
}
