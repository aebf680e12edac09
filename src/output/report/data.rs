//! The report's facts, read with `sql/20_report.sql` from the raw and analysis tables.

use std::collections::BTreeMap;

use arrow::array::{Array, RecordBatch, StringArray};
use arrow::datatypes::DataType;
use datafusion::execution::context::SessionContext;

/// (year, month).
pub type Month = (i32, u32);

/// One labelled amount of a device-month (a party class, an organization, a country).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Amount {
    pub device: String,
    pub month: Month,
    /// None when the analysis could not say (e.g. no country database).
    pub label: Option<String>,
    pub destinations: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub device: String,
    pub month: Month,
    pub platform: String,
    pub confidence: String,
    pub evidence: String,
    pub flows: u64,
    pub bytes: u64,
}

/// A TLS client stack (JA4) a device used in a month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stack {
    pub device: String,
    pub month: Month,
    pub ja4: String,
    pub ja3: String,
    pub server_names: String,
    pub hellos: u64,
    pub flows: u64,
    /// The first month (of the dataset) the device used this stack in.
    pub first_month: Month,
}

/// Data-quality facts of a device-month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Quality {
    pub captures: u64,
    pub captures_with_errors: u64,
    pub packets: u64,
    /// Internet flows and bytes, and those no rule attributed to a domain.
    pub flows: u64,
    pub flows_unattributed: u64,
    pub bytes: u64,
    pub bytes_unattributed: u64,
    /// Internet IPs (one per device-month) and their bytes, and those with a country / an AS.
    pub ips: u64,
    pub ips_country: u64,
    pub ips_as: u64,
    pub ip_bytes: u64,
    pub bytes_country: u64,
    pub bytes_as: u64,
}

impl std::ops::AddAssign for Quality {
    fn add_assign(&mut self, o: Quality) {
        self.ips += o.ips;
        self.ips_country += o.ips_country;
        self.ips_as += o.ips_as;
        self.ip_bytes += o.ip_bytes;
        self.bytes_country += o.bytes_country;
        self.bytes_as += o.bytes_as;
        self.captures += o.captures;
        self.captures_with_errors += o.captures_with_errors;
        self.packets += o.packets;
        self.flows += o.flows;
        self.flows_unattributed += o.flows_unattributed;
        self.bytes += o.bytes;
        self.bytes_unattributed += o.bytes_unattributed;
    }
}

/// Everything the page shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportData {
    /// The dataset's path as given, for the heading.
    pub dataset: String,
    pub devices: Vec<String>,
    pub party: Vec<Amount>,
    pub orgs: Vec<Amount>,
    pub countries: Vec<Amount>,
    /// (device, month, registrable domain).
    pub domains: Vec<(String, Month, String)>,
    pub platforms: Vec<Platform>,
    pub quality: BTreeMap<(String, Month), Quality>,
    pub stacks: Vec<Stack>,
}

struct Cells<'a> {
    batch: &'a RecordBatch,
    cols: BTreeMap<&'static str, StringArray>,
}

impl<'a> Cells<'a> {
    fn new(batch: &'a RecordBatch, names: &[&'static str]) -> Self {
        let mut cols = BTreeMap::new();
        for &n in names {
            let Ok(i) = batch.schema().index_of(n) else {
                continue;
            };
            let Ok(c) = arrow::compute::cast(batch.column(i), &DataType::Utf8) else {
                continue;
            };
            if let Some(a) = c.as_any().downcast_ref::<StringArray>() {
                cols.insert(n, a.clone());
            }
        }
        Cells { batch, cols }
    }
    fn text(&self, name: &str, row: usize) -> Option<String> {
        let a = self.cols.get(name)?;
        (row < self.batch.num_rows() && !a.is_null(row)).then(|| a.value(row).to_string())
    }
    fn num(&self, name: &str, row: usize) -> u64 {
        self.text(name, row)
            .and_then(|t| t.parse::<i64>().ok())
            .map_or(0, |v| v.max(0) as u64)
    }
    /// Device (the partition value, which DataFusion gives decoded) and month.
    fn key(&self, row: usize) -> Option<(String, Month)> {
        let device = self.text("device", row)?;
        let year = self.text("year", row)?.parse().ok()?;
        let month = self.text("month", row)?.parse().ok()?;
        Some((device, (year, month)))
    }
}

async fn rows(ctx: &SessionContext, sql: &str) -> anyhow::Result<Vec<RecordBatch>> {
    Ok(ctx.sql(sql).await?.collect().await?)
}

/// Reads the report's facts; `devices` limits them (empty: every device).
pub async fn gather(
    ctx: &SessionContext,
    dataset: &str,
    devices: &[String],
) -> anyhow::Result<ReportData> {
    for stmt in crate::query::analyze::statements(
        include_str!("../../../sql/20_report.sql"),
        &Default::default(),
    ) {
        ctx.sql(&stmt).await?.collect().await?;
    }
    let keep = |d: &str| devices.is_empty() || devices.iter().any(|x| x == d);
    let mut data = ReportData {
        dataset: dataset.to_string(),
        ..Default::default()
    };
    let amount_cols = ["device", "year", "month", "label", "destinations", "bytes"];
    for (view, out) in [
        ("report_party", &mut data.party),
        ("report_orgs", &mut data.orgs),
        ("report_countries", &mut data.countries),
    ] {
        let sql = format!("SELECT * FROM {view} ORDER BY device, year, month, label");
        for b in rows(ctx, &sql).await? {
            let c = Cells::new(&b, &amount_cols);
            for r in 0..b.num_rows() {
                let Some((device, month)) = c.key(r).filter(|(d, _)| keep(d)) else {
                    continue;
                };
                out.push(Amount {
                    device,
                    month,
                    label: c.text("label", r),
                    destinations: c.num("destinations", r),
                    bytes: c.num("bytes", r),
                });
            }
        }
    }
    let sql = "SELECT * FROM report_domains ORDER BY device, year, month, label";
    for b in rows(ctx, sql).await? {
        let c = Cells::new(&b, &["device", "year", "month", "label"]);
        for r in 0..b.num_rows() {
            if let (Some((device, month)), Some(label)) = (c.key(r), c.text("label", r)) {
                if keep(&device) {
                    data.domains.push((device, month, label));
                }
            }
        }
    }
    let sql = "SELECT * FROM report_platforms ORDER BY device, year, month, platform";
    let cols = [
        "device",
        "year",
        "month",
        "platform",
        "confidence",
        "evidence",
        "flows",
        "bytes",
    ];
    for b in rows(ctx, sql).await? {
        let c = Cells::new(&b, &cols);
        for r in 0..b.num_rows() {
            let Some((device, month)) = c.key(r).filter(|(d, _)| keep(d)) else {
                continue;
            };
            data.platforms.push(Platform {
                device,
                month,
                platform: c.text("platform", r).unwrap_or_default(),
                confidence: c.text("confidence", r).unwrap_or_default(),
                evidence: c.text("evidence", r).unwrap_or_default(),
                flows: c.num("flows", r),
                bytes: c.num("bytes", r),
            });
        }
    }
    let cols = [
        "device",
        "year",
        "month",
        "captures",
        "captures_with_errors",
        "packets",
        "flows",
        "flows_unattributed",
        "bytes",
        "bytes_unattributed",
    ];
    for b in rows(ctx, "SELECT * FROM report_quality").await? {
        let c = Cells::new(&b, &cols);
        for r in 0..b.num_rows() {
            let Some(key) = c.key(r).filter(|(d, _)| keep(d)) else {
                continue;
            };
            *data.quality.entry(key).or_default() += Quality {
                captures: c.num("captures", r),
                captures_with_errors: c.num("captures_with_errors", r),
                packets: c.num("packets", r),
                flows: c.num("flows", r),
                flows_unattributed: c.num("flows_unattributed", r),
                bytes: c.num("bytes", r),
                bytes_unattributed: c.num("bytes_unattributed", r),
                ..Default::default()
            };
        }
    }
    let cols = [
        "device",
        "year",
        "month",
        "ips",
        "ips_country",
        "ips_as",
        "ip_bytes",
        "bytes_country",
        "bytes_as",
    ];
    for b in rows(ctx, "SELECT * FROM report_geo").await? {
        let c = Cells::new(&b, &cols);
        for r in 0..b.num_rows() {
            let Some(key) = c.key(r).filter(|(d, _)| keep(d)) else {
                continue;
            };
            *data.quality.entry(key).or_default() += Quality {
                ips: c.num("ips", r),
                ips_country: c.num("ips_country", r),
                ips_as: c.num("ips_as", r),
                ip_bytes: c.num("ip_bytes", r),
                bytes_country: c.num("bytes_country", r),
                bytes_as: c.num("bytes_as", r),
                ..Default::default()
            };
        }
    }
    let sql = "SELECT * FROM report_fingerprints ORDER BY device, year, month, ja4";
    let cols = [
        "device",
        "year",
        "month",
        "ja4",
        "ja3",
        "server_names",
        "hellos",
        "flows",
        "first_month",
    ];
    for b in rows(ctx, sql).await? {
        let c = Cells::new(&b, &cols);
        for r in 0..b.num_rows() {
            let Some((device, month)) = c.key(r).filter(|(d, _)| keep(d)) else {
                continue;
            };
            let first_month = c
                .text("first_month", r)
                .and_then(|t| {
                    let (y, m) = t.split_once('-')?;
                    Some((y.parse().ok()?, m.parse().ok()?))
                })
                .unwrap_or(month);
            data.stacks.push(Stack {
                device,
                month,
                ja4: c.text("ja4", r).unwrap_or_default(),
                ja3: c.text("ja3", r).unwrap_or_default(),
                server_names: c.text("server_names", r).unwrap_or_default(),
                hellos: c.num("hellos", r),
                flows: c.num("flows", r),
                first_month,
            });
        }
    }
    let mut devs: Vec<String> = data.quality.keys().map(|(d, _)| d.clone()).collect();
    devs.extend(data.party.iter().map(|a| a.device.clone()));
    devs.sort();
    devs.dedup();
    data.devices = devs;
    Ok(data)
}
