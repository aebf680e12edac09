//! The analysis SQL (`sql/*.sql`, embedded): which file defines which view, which table each
//! view is materialised as and in what row order, and the statement runner.

use datafusion::error::{DataFusionError, Result};
use datafusion::execution::context::SessionContext;

/// The analysis tables, in the order they are produced.
pub const ANALYSIS_TABLES: [&str; 7] = [
    "flow_domains",
    "ips",
    "destinations",
    "platforms",
    "hostnames",
    "summary",
    "fingerprints",
];

/// One SQL file whose view is materialised as a table.
#[derive(Debug, Clone, Copy)]
pub struct Step {
    pub file: &'static str,
    pub text: &'static str,
    pub view: &'static str,
    pub table: &'static str,
    /// Row order of the table (device, year and month first, so rows group by partition).
    pub order: &'static str,
}

/// The address answers every rule starts from (run in every session, over `dns_window`).
pub const DNS_ADDRESSES: (&str, &str) = (
    "00_dns_addresses.sql",
    include_str!("../../sql/00_dns_addresses.sql"),
);

/// The month step: per month, the answers the month-bound rules use, for all devices.
pub const MONTH_STEPS: [Step; 2] = [
    Step {
        file: "01_month_dns.sql",
        text: include_str!("../../sql/01_month_dns.sql"),
        view: "dns_month_latest_v",
        table: "dns_month_latest",
        order: "device, year, month, ip",
    },
    Step {
        file: "01_month_dns.sql",
        text: "",
        view: "dns_other_top2_v",
        table: "dns_other_top2",
        order: "year, month, ip, rank_in_month",
    },
];

/// The device-month steps, each materialised as the analysis table of the same position.
pub const DEVICE_STEPS: [Step; 7] = [
    Step {
        file: "02_flow_domains.sql",
        text: include_str!("../../sql/02_flow_domains.sql"),
        view: "flow_domains_v",
        table: "flow_domains",
        order: "device, year, month, first_ts, capture, proto, local_ip, local_port, remote_ip, remote_port",
    },
    Step {
        file: "03_ips.sql",
        text: include_str!("../../sql/03_ips.sql"),
        view: "ips_v",
        table: "ips",
        order: "device, year, month, ip",
    },
    Step {
        file: "04_destinations.sql",
        text: include_str!("../../sql/04_destinations.sql"),
        view: "destinations_v",
        table: "destinations",
        order: "device, year, month, first_seen, destination",
    },
    Step {
        file: "05_platforms.sql",
        text: include_str!("../../sql/05_platforms.sql"),
        view: "platforms_v",
        table: "platforms",
        order: "device, year, month, platform",
    },
    Step {
        file: "06_hostnames.sql",
        text: include_str!("../../sql/06_hostnames.sql"),
        view: "hostnames_v",
        table: "hostnames",
        order: "device, year, month, hostname",
    },
    Step {
        file: "07_summary.sql",
        text: include_str!("../../sql/07_summary.sql"),
        view: "summary_v",
        table: "summary",
        order: "device, year, month",
    },
    Step {
        file: "08_fingerprints.sql",
        text: include_str!("../../sql/08_fingerprints.sql"),
        view: "fingerprints_v",
        table: "fingerprints",
        order: "device, year, month, ja4",
    },
];

/// The views the legacy layout is drawn from.
pub const LEGACY_SQL: &str = include_str!("../../sql/10_legacy.sql");
/// The views the report is drawn from.
pub const REPORT_SQL: &str = include_str!("../../sql/20_report.sql");

/// Every analysis SQL text, for the fingerprint that makes a change of the SQL recompute.
pub fn analysis_sql() -> impl Iterator<Item = &'static str> {
    std::iter::once(DNS_ADDRESSES.1)
        .chain(MONTH_STEPS.iter().map(|s| s.text))
        .chain(DEVICE_STEPS.iter().map(|s| s.text))
}

/// Parameters of the analysis.
#[derive(Debug, Clone)]
pub struct AnalyzeParams {
    /// DNS look-back window for the `dns` method, seconds.
    pub lookback_secs: u64,
    /// Clock skew allowed between a DNS answer and the flow it names, seconds.
    pub skew_secs: u64,
}

impl Default for AnalyzeParams {
    fn default() -> Self {
        AnalyzeParams {
            lookback_secs: 86_400,
            skew_secs: 2,
        }
    }
}

/// Splits a SQL file into statements (`;` at the end of a line ends one), substituting
/// `${name}` parameters. Comment lines are dropped.
pub fn statements(text: &str, params: &AnalyzeParams) -> Vec<String> {
    let text = text
        .replace("${lookback_seconds}", &params.lookback_secs.to_string())
        .replace("${skew_seconds}", &params.skew_secs.to_string());
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in text.lines() {
        if line.trim_start().starts_with("--") {
            continue;
        }
        cur.push_str(line);
        cur.push('\n');
        if line.trim_end().ends_with(';') {
            let stmt = cur.trim().trim_end_matches(';').trim().to_string();
            if !stmt.is_empty() {
                out.push(stmt);
            }
            cur.clear();
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

/// Runs every statement of a SQL file on `ctx` (errors name the file).
pub async fn run_file(
    ctx: &SessionContext,
    name: &str,
    text: &str,
    params: &AnalyzeParams,
) -> Result<()> {
    for stmt in statements(text, params) {
        ctx.sql(&stmt)
            .await
            .map_err(|e| DataFusionError::Context(format!("sql/{name}"), Box::new(e)))?
            .collect()
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_split_and_substitute() {
        let s = statements(
            "-- header\nCREATE VIEW a AS\nSELECT 1 WHERE x > ${lookback_seconds};\n\nSELECT 2;\n",
            &AnalyzeParams::default(),
        );
        assert_eq!(
            s,
            vec![
                "CREATE VIEW a AS\nSELECT 1 WHERE x > 86400".to_string(),
                "SELECT 2".to_string()
            ]
        );
        let files = [
            DNS_ADDRESSES,
            ("10_legacy.sql", LEGACY_SQL),
            ("20_report.sql", REPORT_SQL),
        ]
        .into_iter()
        .chain(
            MONTH_STEPS
                .iter()
                .chain(DEVICE_STEPS.iter())
                .filter(|s| !s.text.is_empty())
                .map(|s| (s.file, s.text)),
        );
        for (name, text) in files {
            assert!(text.starts_with("-- Purpose:"), "{name} lacks its header");
            assert!(
                text.contains("-- Inputs:") && text.contains("-- Outputs:"),
                "{name}"
            );
        }
        for (s, t) in DEVICE_STEPS.iter().zip(ANALYSIS_TABLES) {
            assert_eq!(s.table, t);
            assert!(s.order.starts_with("device, year, month"));
            assert!(
                s.text.contains(&format!("CREATE VIEW {} AS", s.view)),
                "{}",
                s.file
            );
        }
    }
}
