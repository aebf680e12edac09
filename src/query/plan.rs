//! Month-wise analysis plan: which device-months a dataset holds, what each one's analysis reads,
//! and fingerprints of those inputs, so that a re-run recomputes only what changed.
//!
//! A month is analysed in two steps. The month step reads every device's DNS answers of the month
//! and keeps, per address, the answers the month-bound rules need (`dns-month`, `dns-other`).
//! Then each device-month (a *unit*) is analysed on its own: its flows, names, captures and DNS
//! rows, the month step's small tables, and the DNS answers of the same device inside the `dns`
//! rule's look-back window — which may lie in the previous month's partitions (or in any other
//! partition whose rows overlap it in time: partitions are keyed by the capture's start, rows by
//! packet time). The window is found from the Parquet footers' column statistics: a unit's flows
//! start within `[lo, hi]`, so only answers within `[lo - lookback, hi + skew]` can name them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::columnar::schema::{RAW_TABLES, TABLE_DNS, TABLE_FLOWS};
use crate::store::inventory::{partitions, time_span, Partition, Span};
use crate::store::{Location, PartitionKey, StoreError};

/// A (year, month).
pub type Month = (i32, u32);

/// One device-month to analyse.
#[derive(Debug, Clone)]
pub struct Unit {
    /// Year and month of the partition; `key.device` is decoded.
    pub key: PartitionKey,
    /// The device as spelled in partition paths (and in the tables' `device` column).
    pub device_value: String,
    /// This device-month's partition of each raw table that has one.
    pub raw: BTreeMap<&'static str, Partition>,
    /// DNS partitions of the same device holding answers inside the look-back window of this
    /// unit's flows, each with the window `[from, to]` (microseconds) its rows are cut to.
    pub window: Vec<(Partition, i64, i64)>,
}

/// One month: every device that has data in it.
#[derive(Debug, Clone)]
pub struct MonthPlan {
    pub month: Month,
    /// By device value.
    pub units: Vec<Unit>,
}

impl MonthPlan {
    /// `2024-11`.
    pub fn label(&self) -> String {
        month_label(self.month)
    }

    /// The month's DNS partitions (all devices): the month step's input.
    pub fn dns(&self) -> impl Iterator<Item = &Partition> {
        self.units.iter().filter_map(|u| u.raw.get(TABLE_DNS))
    }
}

/// `2024-11`.
pub fn month_label((y, m): Month) -> String {
    format!("{y:04}-{m:02}")
}

/// Lists the raw partitions of `dataset` and plans every month, with look-back windows of
/// `lookback_us` back and `skew_us` ahead of each unit's flows.
pub fn plan(
    dataset: &Location,
    lookback_us: i64,
    skew_us: i64,
) -> Result<Vec<MonthPlan>, StoreError> {
    // (year, month, device value) → table → partition.
    let mut units: BTreeMap<(Month, String), BTreeMap<&'static str, Partition>> = BTreeMap::new();
    for table in RAW_TABLES {
        for p in partitions(&dataset.join(table))? {
            units
                .entry(((p.key.year, p.key.month), p.device_value.clone()))
                .or_default()
                .insert(table, p);
        }
    }
    // Every DNS partition of a device with the span of its answers.
    let mut dns_spans: BTreeMap<&str, Vec<(&Partition, Span)>> = BTreeMap::new();
    for ((_, device), raw) in &units {
        if let Some(p) = raw.get(TABLE_DNS) {
            dns_spans
                .entry(device.as_str())
                .or_default()
                .push((p, time_span(p, "ts")));
        }
    }
    let mut months: BTreeMap<Month, Vec<Unit>> = BTreeMap::new();
    for ((month, device), raw) in &units {
        let window = raw
            .get(TABLE_FLOWS)
            .map_or(Span::Empty, |p| time_span(p, "first_ts"));
        let bounds = match window {
            Span::Empty => None,
            Span::Range(lo, hi) => {
                Some((lo.saturating_sub(lookback_us), hi.saturating_add(skew_us)))
            }
            Span::Unknown => Some((i64::MIN, i64::MAX)),
        };
        let window = bounds.map_or_else(Vec::new, |(from, to)| {
            dns_spans
                .get(device.as_str())
                .into_iter()
                .flatten()
                .filter(|(_, span)| span.overlaps(from, to))
                .map(|(p, _)| ((*p).clone(), from, to))
                .collect()
        });
        let key = raw
            .values()
            .next()
            .map(|p| p.key.clone())
            .unwrap_or_else(|| PartitionKey {
                device: device.clone(),
                year: month.0,
                month: month.1,
            });
        months.entry(*month).or_default().push(Unit {
            key,
            device_value: device.clone(),
            raw: raw.clone(),
            window,
        });
    }
    Ok(months
        .into_iter()
        .map(|(month, units)| MonthPlan { month, units })
        .collect())
}

/// Accumulates lines into a SHA-256 fingerprint (hex).
#[derive(Default)]
pub struct Fingerprint(Sha256);

impl Fingerprint {
    pub fn line(&mut self, s: &str) -> &mut Self {
        self.0.update(s.as_bytes());
        self.0.update(b"\n");
        self
    }

    pub fn hex(self) -> String {
        self.0
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// The SHA-256 of some bytes (hex).
pub fn sha256_hex(bytes: &[u8]) -> String {
    let mut f = Fingerprint::default();
    f.0.update(bytes);
    f.hex()
}

fn partition_lines(table: &str, p: &Partition, out: &mut Vec<String>) {
    let rel = format!(
        "{table}/device={}/year={:04}/month={:02}",
        p.device_value, p.key.year, p.key.month
    );
    for f in &p.files {
        let etag = f.etag.as_deref().map_or(String::new(), |e| format!(" {e}"));
        out.push(format!("{rel}/{} {} {}{etag}", f.name, f.size, f.mtime_us));
    }
}

/// What the month step reads: every DNS part file of the month (name, size, mtime).
pub fn month_inputs(m: &MonthPlan) -> Vec<String> {
    let mut out = Vec::new();
    for p in m.dns() {
        partition_lines(TABLE_DNS, p, &mut out);
    }
    out
}

/// What a unit reads besides the month step's tables: its raw partitions and the look-back
/// window's DNS partitions with the window's bounds.
pub fn unit_inputs(u: &Unit) -> Vec<String> {
    let mut out = Vec::new();
    for (table, p) in &u.raw {
        partition_lines(table, p, &mut out);
    }
    for (p, from, to) in &u.window {
        let mut lines = Vec::new();
        partition_lines("window dns", p, &mut lines);
        out.extend(lines.into_iter().map(|l| format!("{l} [{from}, {to}]")));
    }
    out
}

/// A fingerprint of the configuration and some input lines.
pub fn fingerprint<'a>(config: &[String], inputs: impl IntoIterator<Item = &'a String>) -> String {
    let mut f = Fingerprint::default();
    for l in config {
        f.line("config").line(l);
    }
    for l in inputs {
        f.line("input").line(l);
    }
    f.hex()
}

/// What one analysed device-month was computed from (stored in the month's state).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UnitState {
    /// Fingerprint of the configuration, the unit's inputs and the month step's tables.
    pub fingerprint: String,
    /// The unit's inputs, one line per part file (for people; the fingerprint decides).
    pub inputs: Vec<String>,
    /// Rows written per analysis table.
    pub rows: BTreeMap<String, u64>,
}

/// What an analysed month was computed from: `DATASET/analysis/_months/YYYY-MM.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MonthState {
    pub format: u32,
    pub month: String,
    /// The configuration lines (version, SQL, rules, databases, flags).
    pub config: Vec<String>,
    /// Fingerprint of the configuration and the month step's inputs.
    pub month_inputs: String,
    /// Hash of the month step's tables (the answers the month-bound rules use).
    pub month_tables: String,
    /// By device value.
    pub units: BTreeMap<String, UnitState>,
}

/// Version of the state file layout.
pub const STATE_FORMAT: u32 = 1;

/// Folder of the month states.
pub fn state_dir(analysis: &Location) -> Location {
    analysis.join("_months")
}

/// Where a month's state lives.
pub fn state_file(analysis: &Location, month: Month) -> Location {
    state_dir(analysis).join(format!("{}.json", month_label(month)))
}

/// Reads a month's state (None when absent, unreadable or of another format).
pub fn read_state(analysis: &Location, month: Month) -> Option<MonthState> {
    let bytes = state_file(analysis, month).read().ok()??;
    let s: MonthState = serde_json::from_slice(&bytes).ok()?;
    (s.format == STATE_FORMAT).then_some(s)
}

/// Months that have a state file.
pub fn state_months(analysis: &Location) -> Result<Vec<Month>, StoreError> {
    let mut out: Vec<Month> = state_dir(analysis)
        .files()?
        .into_iter()
        .filter_map(|e| {
            let (y, m) = e.name.strip_suffix(".json")?.split_once('-')?;
            Some((y.parse().ok()?, m.parse().ok()?))
        })
        .collect();
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::inventory::PartFile;

    fn part(device: &str, month: u32) -> Partition {
        Partition {
            key: PartitionKey {
                device: device.into(),
                year: 2024,
                month,
            },
            device_value: device.into(),
            dir: Location::Local(format!("/x/{device}/{month}").into()),
            files: vec![PartFile {
                name: "part-0.parquet".into(),
                size: 10,
                mtime_us: 5,
                etag: None,
            }],
        }
    }

    #[test]
    fn fingerprints_follow_inputs_and_config() {
        let u = Unit {
            key: part("a", 11).key,
            device_value: "a".into(),
            raw: BTreeMap::from([(TABLE_FLOWS, part("a", 11))]),
            window: vec![(part("a", 10), 1, 2)],
        };
        let inputs = unit_inputs(&u);
        assert_eq!(
            inputs,
            vec![
                "flows/device=a/year=2024/month=11/part-0.parquet 10 5".to_string(),
                "window dns/device=a/year=2024/month=10/part-0.parquet 10 5 [1, 2]".to_string(),
            ]
        );
        let config = vec!["lookback 86400".to_string()];
        let a = fingerprint(&config, &inputs);
        assert_eq!(a, fingerprint(&config, &inputs));
        assert_ne!(a, fingerprint(&["lookback 3600".to_string()], &inputs));
        let mut touched = u.clone();
        touched.window[0].0.files[0].mtime_us = 6;
        assert_ne!(a, fingerprint(&config, &unit_inputs(&touched)));
        assert_eq!(month_label((2024, 3)), "2024-03");
        assert_eq!(sha256_hex(b"").len(), 64);
    }
}
