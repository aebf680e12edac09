//! The report page: one section for all devices together, then one per device.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::data::{Amount, Month, Quality, ReportData};
use super::svg::{
    esc, human_bytes, stacked_share, Series, OTHER_COLOR, PALETTE, PARTY_COLORS, UNKNOWN_COLOR,
};

/// Most months one chart spans (the latest are kept).
const MAX_MONTHS: usize = 120;
/// Organizations and countries drawn by name; the rest are "Other".
const TOP_LABELS: usize = 7;
/// Domain names listed per month and direction before "and N more".
const MAX_LISTED: usize = 12;

const CSS: &str = "
body{font-family:-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif;margin:0;color:#222;background:#fff}
main{max-width:1180px;margin:0 auto;padding:16px 24px 48px}
h1{font-size:26px;margin:8px 0 4px}h2{font-size:21px;border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:40px}
h3{font-size:16px;margin:24px 0 6px}p.sub{color:#555;margin:0 0 12px}
nav a{margin-right:12px}nav{margin:8px 0 16px;font-size:14px}
table{border-collapse:collapse;font-size:13px;margin:6px 0 12px}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums}
.charts{display:flex;flex-wrap:wrap;gap:8px 24px}
svg.chart{font-size:11px;background:#fff}svg .ct{font-size:13px;font-weight:600;fill:#222}
svg .ax{fill:#555}svg .lg{fill:#222;font-size:12px}svg .lh{font-weight:600}
.note{color:#666;font-size:13px}.plus{color:#1b7e3a}.minus{color:#b3261e}
.key span{display:inline-block;width:11px;height:11px;margin:0 4px 0 12px;vertical-align:-1px}
";

fn month_name(m: Month) -> String {
    format!("{:04}-{:02}", m.0, m.1)
}

/// Every month from the first to the last one with data (gaps shown as empty bars).
fn month_range(present: &BTreeSet<Month>) -> Vec<Month> {
    let (Some(&first), Some(&last)) = (present.first(), present.last()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut m = first;
    while m <= last {
        out.push(m);
        m = if m.1 >= 12 {
            (m.0 + 1, 1)
        } else {
            (m.0, m.1 + 1)
        };
    }
    if out.len() > MAX_MONTHS {
        out.drain(..out.len() - MAX_MONTHS);
    }
    out
}

/// What one section shows: a device, or all of them summed.
struct Scope<'a> {
    title: String,
    id: String,
    device: Option<&'a str>,
}

impl Scope<'_> {
    fn has(&self, device: &str) -> bool {
        self.device.is_none_or(|d| d == device)
    }
}

/// Sums amounts of the scope by (month, label).
fn summed(rows: &[Amount], scope: &Scope<'_>) -> BTreeMap<(Month, Option<String>), (u64, u64)> {
    let mut out: BTreeMap<(Month, Option<String>), (u64, u64)> = BTreeMap::new();
    for a in rows.iter().filter(|a| scope.has(&a.device)) {
        let e = out.entry((a.month, a.label.clone())).or_default();
        e.0 += a.destinations;
        e.1 += a.bytes;
    }
    out
}

fn party_series(
    sums: &BTreeMap<(Month, Option<String>), (u64, u64)>,
    months: &[Month],
    bytes: bool,
) -> Vec<Series> {
    PARTY_COLORS
        .iter()
        .map(|(label, color)| Series {
            label: label.to_string(),
            color: color.to_string(),
            values: months
                .iter()
                .map(|m| {
                    sums.get(&(*m, Some(label.to_string()))).map_or(0.0, |v| {
                        if bytes {
                            v.1 as f64
                        } else {
                            v.0 as f64
                        }
                    })
                })
                .collect(),
        })
        .collect()
}

/// Top labels by bytes over the scope's months, then "Other", then the unknown label.
fn ranked_series(
    sums: &BTreeMap<(Month, Option<String>), (u64, u64)>,
    months: &[Month],
    unknown: &str,
) -> Vec<Series> {
    let mut total: BTreeMap<&str, u64> = BTreeMap::new();
    for ((_, l), v) in sums {
        if let Some(l) = l {
            *total.entry(l.as_str()).or_default() += v.1;
        }
    }
    let mut ranked: Vec<(&str, u64)> = total.into_iter().filter(|(_, b)| *b > 0).collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let top: Vec<&str> = ranked.iter().take(TOP_LABELS).map(|(l, _)| *l).collect();
    let value = |m: &Month, pick: &dyn Fn(&Option<String>) -> bool| -> f64 {
        sums.iter()
            .filter(|((mm, l), _)| mm == m && pick(l))
            .map(|(_, v)| v.1 as f64)
            .sum()
    };
    let mut out: Vec<Series> = top
        .iter()
        .enumerate()
        .map(|(i, l)| Series {
            label: l.to_string(),
            color: PALETTE[i % PALETTE.len()].to_string(),
            values: months
                .iter()
                .map(|m| value(m, &|x| x.as_deref() == Some(*l)))
                .collect(),
        })
        .collect();
    let other: Vec<f64> = months
        .iter()
        .map(|m| value(m, &|x| x.as_deref().is_some_and(|l| !top.contains(&l))))
        .collect();
    if other.iter().any(|v| *v > 0.0) {
        out.push(Series {
            label: "Other".into(),
            color: OTHER_COLOR.into(),
            values: other,
        });
    }
    let unk: Vec<f64> = months.iter().map(|m| value(m, &|x| x.is_none())).collect();
    if unk.iter().any(|v| *v > 0.0) {
        out.push(Series {
            label: unknown.into(),
            color: UNKNOWN_COLOR.into(),
            values: unk,
        });
    }
    out
}

fn pct(part: u64, whole: u64) -> String {
    if whole == 0 {
        "–".into()
    } else {
        format!("{:.1}%", 100.0 * part as f64 / whole as f64)
    }
}

fn quality_table(s: &mut String, data: &ReportData, scope: &Scope<'_>, months: &[Month]) {
    let mut by_month: BTreeMap<Month, Quality> = BTreeMap::new();
    for ((d, m), q) in &data.quality {
        if scope.has(d) {
            *by_month.entry(*m).or_default() += *q;
        }
    }
    s.push_str("<h3>Data quality</h3><table><tr><th>month</th><th>captures read</th><th>files with errors</th><th>packets</th><th>Internet flows</th><th>flows unattributed</th><th>Internet bytes</th><th>bytes unattributed</th><th>Internet IPs</th><th>IPs with a country</th><th>IPs with an AS</th><th>bytes with a country</th><th>bytes with an AS</th></tr>");
    let mut total = Quality::default();
    let row = |s: &mut String, name: &str, q: &Quality| {
        let _ = write!(
            s,
            r#"<tr><td>{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
            esc(name),
            q.captures,
            q.captures_with_errors,
            q.packets,
            q.flows,
            pct(q.flows_unattributed, q.flows),
            human_bytes(q.bytes as f64),
            pct(q.bytes_unattributed, q.bytes),
            q.ips,
            pct(q.ips_country, q.ips),
            pct(q.ips_as, q.ips),
            pct(q.bytes_country, q.ip_bytes),
            pct(q.bytes_as, q.ip_bytes)
        );
    };
    for m in months {
        if let Some(q) = by_month.get(m) {
            row(s, &month_name(*m), q);
            total += *q;
        }
    }
    row(s, "all months", &total);
    s.push_str("</table>");
}

fn domain_changes(s: &mut String, data: &ReportData, scope: &Scope<'_>, months: &[Month]) {
    let mut sets: BTreeMap<Month, BTreeSet<&str>> = BTreeMap::new();
    for (d, m, dom) in &data.domains {
        if scope.has(d) {
            sets.entry(*m).or_default().insert(dom.as_str());
        }
    }
    s.push_str("<h3>Domains that appeared and disappeared</h3>");
    let list = |names: Vec<&&str>| -> String {
        let shown: Vec<String> = names.iter().take(MAX_LISTED).map(|n| esc(n)).collect();
        let more = names.len().saturating_sub(MAX_LISTED);
        let mut t = shown.join(", ");
        if more > 0 {
            let _ = write!(t, " … and {more} more");
        }
        t
    };
    let present: Vec<&Month> = months.iter().filter(|m| sets.contains_key(m)).collect();
    if present.len() < 2 {
        s.push_str(r#"<p class="note">Fewer than two months with named destinations: nothing to compare.</p>"#);
        return;
    }
    s.push_str("<table><tr><th>month</th><th>registrable domains</th><th>new since the previous month</th><th>gone since the previous month</th></tr>");
    let empty = BTreeSet::new();
    for (i, m) in present.iter().enumerate() {
        let cur = sets.get(m).unwrap_or(&empty);
        if i == 0 {
            let _ = write!(
                s,
                r#"<tr><td>{}</td><td class="n">{}</td><td colspan="2" class="note">first month</td></tr>"#,
                month_name(**m),
                cur.len()
            );
            continue;
        }
        let prev = sets.get(present[i - 1]).unwrap_or(&empty);
        let new: Vec<&&str> = cur.difference(prev).collect();
        let gone: Vec<&&str> = prev.difference(cur).collect();
        let _ = write!(
            s,
            r#"<tr><td>{}</td><td class="n">{}</td><td><span class="plus">+{}</span> {}</td><td><span class="minus">−{}</span> {}</td></tr>"#,
            month_name(**m),
            cur.len(),
            new.len(),
            list(new.clone()),
            gone.len(),
            list(gone.clone())
        );
    }
    s.push_str("</table>");
}

fn platforms(s: &mut String, data: &ReportData, scope: &Scope<'_>) {
    s.push_str("<h3>IoT platforms detected</h3>");
    let rows: Vec<_> = data
        .platforms
        .iter()
        .filter(|p| scope.has(&p.device))
        .collect();
    if rows.is_empty() {
        s.push_str(r#"<p class="note">No listed IoT platform was resolved or contacted.</p>"#);
        return;
    }
    s.push_str("<table><tr><th>month</th><th>device</th><th>platform</th><th>confidence</th><th>evidence (hostnames)</th><th>flows</th><th>bytes</th></tr>");
    for p in rows {
        let _ = write!(
            s,
            r#"<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
            month_name(p.month),
            esc(&p.device),
            esc(&p.platform),
            esc(&p.confidence),
            esc(&p.evidence.replace(';', "; ")),
            p.flows,
            human_bytes(p.bytes as f64)
        );
    }
    s.push_str("</table>");
}

/// Most server names listed per stack and month.
const MAX_NAMES: usize = 6;

/// Per device: the TLS client stacks (JA4) it used, month by month; a stack is marked new in
/// the first month it appears (from the first month with data on, so the first month's stacks
/// are the baseline, not news).
fn client_stacks(s: &mut String, data: &ReportData, scope: &Scope<'_>, months: &[Month]) {
    let Some(device) = scope.device else {
        return;
    };
    s.push_str("<h3>TLS client stacks (JA4) month by month</h3>");
    let rows: Vec<_> = data.stacks.iter().filter(|r| r.device == device).collect();
    if rows.is_empty() {
        s.push_str(r#"<p class="note">No TLS or QUIC ClientHello was seen.</p>"#);
        return;
    }
    let first_data = months.first().copied();
    s.push_str("<table><tr><th>month</th><th>JA4</th><th></th><th>hellos</th><th>flows</th><th>server names</th><th>JA3</th></tr>");
    for r in rows {
        let new = r.first_month == r.month && Some(r.month) != first_data;
        let names: Vec<&str> = r
            .server_names
            .split(';')
            .filter(|n| !n.is_empty())
            .collect();
        let mut listed = names
            .iter()
            .take(MAX_NAMES)
            .copied()
            .collect::<Vec<_>>()
            .join(", ");
        if names.len() > MAX_NAMES {
            let _ = write!(listed, " and {} more", names.len() - MAX_NAMES);
        }
        let ja3s: Vec<&str> = r.ja3.split(';').filter(|n| !n.is_empty()).collect();
        let ja3 = match ja3s.as_slice() {
            [] => String::new(),
            [one] => (*one).to_string(),
            [one, rest @ ..] => format!("{one} (+{} more)", rest.len()),
        };
        let _ = write!(
            s,
            r#"<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td class="n">{}</td><td class="n">{}</td><td>{}</td><td><code>{}</code></td></tr>"#,
            month_name(r.month),
            esc(&r.ja4),
            if new {
                r#"<b class="plus">new</b>"#
            } else {
                ""
            },
            r.hellos,
            r.flows,
            esc(&listed),
            esc(&ja3)
        );
    }
    s.push_str("</table>");
}

fn section(s: &mut String, data: &ReportData, scope: &Scope<'_>) {
    let mut present = BTreeSet::new();
    present.extend(
        data.quality
            .keys()
            .filter(|(d, _)| scope.has(d))
            .map(|(_, m)| *m),
    );
    present.extend(
        data.party
            .iter()
            .filter(|a| scope.has(&a.device))
            .map(|a| a.month),
    );
    let months = month_range(&present);
    let names: Vec<String> = months.iter().map(|m| month_name(*m)).collect();
    let _ = write!(
        s,
        r#"<section id="{}"><h2>{}</h2>"#,
        esc(&scope.id),
        esc(&scope.title)
    );
    if months.is_empty() {
        s.push_str(r#"<p class="note">No data.</p></section>"#);
        return;
    }
    let party = summed(&data.party, scope);
    s.push_str("<h3>Who receives the data: party share per month</h3><div class=\"charts\">");
    s.push_str(&stacked_share(
        "Destinations by party",
        "destinations",
        &names,
        &party_series(&party, &months, false),
    ));
    s.push_str(&stacked_share(
        "Bytes by party",
        "bytes",
        &names,
        &party_series(&party, &months, true),
    ));
    s.push_str("</div>");
    let orgs = summed(&data.orgs, scope);
    let countries = summed(&data.countries, scope);
    s.push_str("<h3>Organizations and countries over time</h3><div class=\"charts\">");
    s.push_str(&stacked_share(
        "Top organizations (bytes)",
        "bytes",
        &names,
        &ranked_series(&orgs, &months, "Unknown"),
    ));
    s.push_str(&stacked_share(
        "Countries (bytes)",
        "bytes",
        &names,
        &ranked_series(&countries, &months, "No country known"),
    ));
    s.push_str("</div>");
    if countries.keys().all(|(_, l)| l.is_none()) {
        s.push_str(r#"<p class="note">No country is known for any address: give a country database (<code>--geo-db</code>) to <code>analyze</code>/<code>run</code>.</p>"#);
    }
    domain_changes(s, data, scope, &months);
    platforms(s, data, scope);
    client_stacks(s, data, scope, &months);
    quality_table(s, data, scope, &months);
    s.push_str("</section>");
}

/// The whole page.
pub fn render(data: &ReportData) -> String {
    let mut s = String::new();
    s.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    s.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    // Self-contained by policy: the browser refuses (and reports) any fetch.
    s.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">");
    let _ = write!(s, "<title>iotdest report: {}</title>", esc(&data.dataset));
    let _ = write!(s, "<style>{CSS}</style></head><body><main>");
    s.push_str("<h1>Where do the devices send their data?</h1>");
    let _ = write!(
        s,
        r#"<p class="sub">Dataset <code>{}</code> · {} device(s) · iotdest {}</p>"#,
        esc(&data.dataset),
        data.devices.len(),
        env!("CARGO_PKG_VERSION")
    );
    s.push_str(r#"<p class="key">Party colors, the same in every chart:"#);
    for (label, color) in PARTY_COLORS {
        let _ = write!(s, r#"<span style="background:{color}"></span>{label}"#);
    }
    s.push_str("</p><nav><a href=\"#all\">All devices</a>");
    for (i, d) in data.devices.iter().enumerate() {
        let _ = write!(s, r##"<a href="#device-{i}">{}</a>"##, esc(d));
    }
    s.push_str("</nav>");
    let mut scopes = vec![Scope {
        title: "All devices".into(),
        id: "all".into(),
        device: None,
    }];
    scopes.extend(data.devices.iter().enumerate().map(|(i, d)| Scope {
        title: d.clone(),
        id: format!("device-{i}"),
        device: Some(d.as_str()),
    }));
    for scope in &scopes {
        section(&mut s, data, scope);
    }
    s.push_str(r#"<p class="note">Shares are of each month's total. Destinations are attributed domains (or bare IPs) per device and month; bytes count both directions of Internet flows. Hover a bar for its numbers.</p>"#);
    s.push_str("</main></body></html>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::super::data::Stack;
    use super::*;

    fn amount(device: &str, month: Month, label: Option<&str>, dest: u64, bytes: u64) -> Amount {
        Amount {
            device: device.into(),
            month,
            label: label.map(str::to_string),
            destinations: dest,
            bytes,
        }
    }

    #[test]
    fn page_has_a_section_per_device_and_all_devices_and_fills_month_gaps() {
        let mut data = ReportData {
            dataset: "ds <x>".into(),
            devices: vec!["cam".into(), "plug".into()],
            ..Default::default()
        };
        data.party = vec![
            amount("cam", (2024, 11), Some("First-party"), 3, 3000),
            amount("cam", (2025, 1), Some("Third-party"), 1, 100),
            amount("plug", (2024, 11), Some("Support-party"), 2, 50),
        ];
        data.domains = vec![
            ("cam".into(), (2024, 11), "a.com".into()),
            ("cam".into(), (2025, 1), "b.com".into()),
        ];
        let html = render(&data);
        assert!(html.contains("<title>iotdest report: ds &lt;x&gt;</title>"));
        assert!(html.contains(r#"<section id="all">"#));
        assert!(html.contains(r#"<section id="device-0"><h2>cam</h2>"#));
        assert!(html.contains(r#"<section id="device-1"><h2>plug</h2>"#));
        // December has no data: an empty bar, not a missing one.
        assert!(html.contains("2024-12 — no data"));
        assert!(html.contains("+1</span> b.com"));
        assert!(html.contains("−1</span> a.com"));
        for (_, color) in PARTY_COLORS {
            assert!(html.contains(color));
        }
        assert!(!html.contains("<script"));
        assert_eq!(render(&data), html, "deterministic");
    }

    #[test]
    fn client_stacks_mark_a_stack_new_in_the_month_it_first_appears() {
        let stack = |month: Month, ja4: &str, first: Month, names: &str| Stack {
            device: "cam".into(),
            month,
            ja4: ja4.into(),
            ja3: "aaa;bbb".into(),
            server_names: names.into(),
            hellos: 3,
            flows: 2,
            first_month: first,
        };
        let mut data = ReportData {
            dataset: "ds".into(),
            devices: vec!["cam".into(), "plug".into()],
            ..Default::default()
        };
        data.party = vec![
            amount("cam", (2024, 11), Some("First-party"), 1, 10),
            amount("cam", (2024, 12), Some("First-party"), 1, 10),
            amount("plug", (2024, 11), Some("First-party"), 1, 10),
        ];
        let many = "a1.x;a2.x;a3.x;a4.x;a5.x;a6.x;a7.x;a8.x";
        data.stacks = vec![
            stack((2024, 11), "t12d0907h1_old", (2024, 11), "a.example"),
            stack((2024, 12), "t12d0907h1_old", (2024, 11), "a.example"),
            stack((2024, 12), "t13d1516h2_new<", (2024, 12), many),
        ];
        let html = render(&data);
        let cam = &html[html.find(r#"<section id="device-0">"#).unwrap()..];
        let cam = &cam[..cam.find("</section>").unwrap()];
        assert!(cam.contains("TLS client stacks (JA4) month by month"));
        // The first data month is the baseline: nothing new there; December's stack is new.
        assert_eq!(
            cam.matches(r#"<b class="plus">new</b>"#).count(),
            1,
            "{cam}"
        );
        let new_row = cam
            .split("<tr>")
            .find(|r| r.contains("t13d1516h2_new"))
            .unwrap();
        assert!(new_row.contains(r#"<b class="plus">new</b>"#) && new_row.contains("&lt;"));
        assert!(new_row.contains("a6.x and 2 more") && new_row.contains("aaa (+1 more)"));
        let plug = &html[html.find(r#"<section id="device-1">"#).unwrap()..];
        assert!(plug.contains("No TLS or QUIC ClientHello was seen."));
    }

    #[test]
    fn ranked_labels_keep_the_top_and_group_the_rest() {
        let mut rows = Vec::new();
        for i in 0..10u64 {
            rows.push(amount("d", (2025, 1), Some(&format!("org{i}")), 1, 100 + i));
        }
        rows.push(amount("d", (2025, 1), None, 1, 5));
        let scope = Scope {
            title: String::new(),
            id: String::new(),
            device: None,
        };
        let series = ranked_series(&summed(&rows, &scope), &[(2025, 1)], "Unknown");
        let labels: Vec<&str> = series.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(labels[0], "org9");
        assert_eq!(labels.len(), TOP_LABELS + 2);
        assert_eq!(labels[TOP_LABELS], "Other");
        assert_eq!(series[TOP_LABELS].values, vec![(100 + 101 + 102) as f64]);
        assert_eq!(labels[TOP_LABELS + 1], "Unknown");
    }
}
