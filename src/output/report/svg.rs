//! Hand-built SVG: a 100 % stacked bar chart with axis, month labels, legend and hover titles.

use std::fmt::Write as _;

/// The four party classes, in stacking order, with the colors every chart uses for them.
pub const PARTY_COLORS: [(&str, &str); 4] = [
    ("First-party", "#1b9e77"),
    ("Platform-party", "#7570b3"),
    ("Support-party", "#e6ab02"),
    ("Third-party", "#d95f02"),
];

/// Colors for ranked labels (organizations, countries), then `Other` and `Unknown`.
pub const PALETTE: [&str; 8] = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
];
pub const OTHER_COLOR: &str = "#9c9c9c";
pub const UNKNOWN_COLOR: &str = "#d4d4d4";

/// Escapes text for HTML/SVG content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// One stacked series.
#[derive(Debug, Clone)]
pub struct Series {
    pub label: String,
    pub color: String,
    /// One value per month (same order as the chart's months).
    pub values: Vec<f64>,
}

/// Formats a byte count for people (decimal units).
pub fn human_bytes(b: f64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut v = b;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < units.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{v:.0} {}", units[u])
    } else {
        format!("{v:.1} {}", units[u])
    }
}

/// A 100 % stacked bar chart: one bar per month, each series' share of the month's total.
/// `unit` names what is counted ("destinations", "bytes"); months with no total are drawn as
/// an outlined empty bar labelled "no data".
pub fn stacked_share(title: &str, unit: &str, months: &[String], series: &[Series]) -> String {
    let n = months.len().max(1);
    let bar_w = (560.0 / n as f64).clamp(10.0, 44.0);
    let gap = (bar_w * 0.25).max(2.0);
    let (left, top, plot_h): (f64, f64, f64) = (46.0, 28.0, 200.0);
    let plot_w = n as f64 * (bar_w + gap) + gap;
    let legend_x = left + plot_w + 24.0;
    let legend_w = 210.0;
    let rotate = n > 8;
    let bottom: f64 = if rotate { 64.0 } else { 36.0 };
    let legend_h = 22.0 + series.len() as f64 * 20.0;
    let height = (top + plot_h + bottom).max(top + legend_h + 10.0);
    let width = legend_x + legend_w;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" aria-label="{t}" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}">"#,
        t = esc(title)
    );
    let _ = write!(
        s,
        r#"<text x="{left}" y="16" class="ct">{}</text>"#,
        esc(title)
    );
    // Axis and grid.
    for pct in [0, 25, 50, 75, 100] {
        let y = top + plot_h - plot_h * pct as f64 / 100.0;
        let _ = write!(
            s,
            r##"<line x1="{left}" y1="{y:.1}" x2="{x2:.1}" y2="{y:.1}" stroke="#e3e3e3"/><text x="{tx}" y="{ty:.1}" class="ax" text-anchor="end">{pct}%</text>"##,
            x2 = left + plot_w,
            tx = left - 6.0,
            ty = y + 4.0
        );
    }
    let totals: Vec<f64> = (0..months.len())
        .map(|m| {
            series
                .iter()
                .map(|se| se.values.get(m).copied().unwrap_or(0.0))
                .sum()
        })
        .collect();
    for (m, month) in months.iter().enumerate() {
        let x = left + gap + m as f64 * (bar_w + gap);
        let total = totals[m];
        if total <= 0.0 {
            let _ = write!(
                s,
                r##"<rect x="{x:.1}" y="{top}" width="{bar_w:.1}" height="{plot_h}" fill="none" stroke="#cccccc" stroke-dasharray="3 3"><title>{} — no data</title></rect>"##,
                esc(month)
            );
        } else {
            let mut y = top + plot_h;
            for se in series {
                let v = se.values.get(m).copied().unwrap_or(0.0);
                if v <= 0.0 {
                    continue;
                }
                let h = plot_h * v / total;
                y -= h;
                let amount = if unit == "bytes" {
                    human_bytes(v)
                } else {
                    format!("{v:.0} {unit}")
                };
                let _ = write!(
                    s,
                    r#"<rect x="{x:.1}" y="{y:.2}" width="{bar_w:.1}" height="{h:.2}" fill="{c}"><title>{mo} · {l}: {p:.1}% ({a})</title></rect>"#,
                    c = esc(&se.color),
                    mo = esc(month),
                    l = esc(&se.label),
                    p = 100.0 * v / total,
                    a = esc(&amount)
                );
            }
        }
        let lx = x + bar_w / 2.0;
        let ly = top + plot_h + 14.0;
        if rotate {
            let _ = write!(
                s,
                r#"<text x="{lx:.1}" y="{ly:.1}" class="ax" text-anchor="end" transform="rotate(-45 {lx:.1} {ly:.1})">{}</text>"#,
                esc(month)
            );
        } else {
            let _ = write!(
                s,
                r#"<text x="{lx:.1}" y="{ly:.1}" class="ax" text-anchor="middle">{}</text>"#,
                esc(month)
            );
        }
    }
    // Legend (top of the stack first, as it reads).
    let _ = write!(
        s,
        r#"<text x="{legend_x:.1}" y="{y:.1}" class="lg lh">share of {u}</text>"#,
        y = top + 4.0,
        u = esc(unit)
    );
    for (i, se) in series.iter().rev().enumerate() {
        let y = top + 18.0 + i as f64 * 20.0;
        let _ = write!(
            s,
            r#"<rect x="{legend_x:.1}" y="{y:.1}" width="12" height="12" fill="{c}"/><text x="{tx:.1}" y="{ty:.1}" class="lg">{l}</text>"#,
            c = esc(&se.color),
            tx = legend_x + 18.0,
            ty = y + 10.5,
            l = esc(&truncate(&se.label, 30))
        );
    }
    s.push_str("</svg>");
    s
}

/// Shortens a label for a legend (the full text stays in the hover titles and tables).
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_stack_to_the_full_height_and_escape_labels() {
        let months = vec!["2024-11".to_string(), "2024-12".to_string()];
        let series = vec![
            Series {
                label: "A <&> B".into(),
                color: "#111111".into(),
                values: vec![1.0, 0.0],
            },
            Series {
                label: "C".into(),
                color: "#222222".into(),
                values: vec![3.0, 0.0],
            },
        ];
        let svg = stacked_share("t", "destinations", &months, &series);
        assert!(svg.contains("A &lt;&amp;&gt; B"));
        assert!(!svg.contains("A <&> B"));
        assert!(svg.contains("25.0% (1 destinations)"));
        assert!(svg.contains("75.0% (3 destinations)"));
        assert!(svg.contains("2024-12 — no data"));
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
    }

    #[test]
    fn bytes_read_like_people_write_them() {
        assert_eq!(human_bytes(999.0), "999 B");
        assert_eq!(human_bytes(1500.0), "1.5 kB");
        assert_eq!(human_bytes(2_350_000_000.0), "2.4 GB");
    }
}
