//! Files the lab's older Python scripts read (JSON written like Python's `json.dump`).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::classify::geo::Geo;

/// `{country_iso_code, country_name}` as the legacy geolocation.json holds it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct GeoEntry {
    pub country_iso_code: String,
    pub country_name: Option<String>,
}

/// Locates each valid IP; invalid IPs and IPs not in the database are left out (legacy rule).
pub fn geolocation_map(geo: &Geo, ips: &[String]) -> BTreeMap<String, GeoEntry> {
    ips.iter()
        .filter_map(|ip| {
            let ip = ip.trim();
            let c = geo.country(ip)?;
            Some((
                ip.to_string(),
                GeoEntry {
                    country_iso_code: c.iso_code,
                    country_name: c.name,
                },
            ))
        })
        .collect()
}

/// Writes `value` as JSON with `indent` spaces (Python's `json.dump(indent=…)` layout), to a
/// temporary name first, then renamed.
pub fn write_json_indent<T: Serialize>(
    path: &Path,
    value: &T,
    indent: usize,
) -> anyhow::Result<()> {
    let pad = vec![b' '; indent];
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(&pad);
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    value.serialize(&mut ser)?;
    write_atomic(path, &buf)
}

/// Writes bytes to `path` through a temporary file in the same folder.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = path.with_file_name(format!(
        ".{}.tmp-{}",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}
