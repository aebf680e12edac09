//! Files the lab's older Python scripts read (JSON written like Python's `json.dump`).

use std::collections::BTreeMap;

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
