//! IP → country and IP → AS (number, organisation) from MaxMind-format databases (GeoLite2,
//! DB-IP lite, …), opened once and shared. No network look-ups: the same files give the same
//! answers anywhere. IPs missing from a database give None (the legacy tool leaves them out).

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use maxminddb::{geoip2, Reader};

/// A database that could not be opened (a configuration error).
#[derive(Debug, thiserror::Error)]
#[error("cannot open MaxMind database {path}: {message}")]
pub struct GeoError {
    pub path: PathBuf,
    pub message: String,
}

/// Country of an IP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountryInfo {
    pub iso_code: String,
    pub name: Option<String>,
}

/// AS of an IP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsInfo {
    pub number: Option<u32>,
    pub organization: Option<String>,
}

/// Optional country and ASN databases.
#[derive(Default)]
pub struct Geo {
    country: Option<Reader<Vec<u8>>>,
    asn: Option<Reader<Vec<u8>>>,
}

fn open(path: &Path) -> Result<Reader<Vec<u8>>, GeoError> {
    Reader::open_readfile(path).map_err(|e| GeoError {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

impl Geo {
    /// Opens the databases that are given.
    pub fn open(country: Option<&Path>, asn: Option<&Path>) -> Result<Self, GeoError> {
        Ok(Geo {
            country: country.map(open).transpose()?,
            asn: asn.map(open).transpose()?,
        })
    }

    pub fn has_country(&self) -> bool {
        self.country.is_some()
    }

    pub fn has_asn(&self) -> bool {
        self.asn.is_some()
    }

    /// Country of `ip` (None when no database, not an IP, or not in the database).
    pub fn country(&self, ip: &str) -> Option<CountryInfo> {
        let reader = self.country.as_ref()?;
        let ip: IpAddr = ip.parse().ok()?;
        let found = reader.lookup(ip).ok()?;
        let c: geoip2::Country = found.decode().ok()??;
        let iso = c.country.iso_code?;
        Some(CountryInfo {
            iso_code: iso.to_string(),
            name: c.country.names.english.map(str::to_string),
        })
    }

    /// AS of `ip` (None when no database, not an IP, or not in the database).
    pub fn asn(&self, ip: &str) -> Option<AsInfo> {
        let reader = self.asn.as_ref()?;
        let ip: IpAddr = ip.parse().ok()?;
        let found = reader.lookup(ip).ok()?;
        let a: geoip2::Asn = found.decode().ok()??;
        if a.autonomous_system_number.is_none() && a.autonomous_system_organization.is_none() {
            return None;
        }
        Some(AsInfo {
            number: a.autonomous_system_number,
            organization: a.autonomous_system_organization.map(str::to_string),
        })
    }
}
