//! IP → country and IP → AS (number, organisation) from the databases a user has: MaxMind-format
//! `.mmdb` files of any common record layout (GeoLite2/GeoIP2 Country, City and ASN, DB-IP lite,
//! ip-location-db, IPinfo lite) and CSV/TSV range files (ip-location-db, iptoasn; see
//! `ipranges`). The kind of a file is read from its content, never its name. Several files per
//! question are allowed (an IPv4 and an IPv6 file, or several sources): the first that answers
//! wins. Opened once and shared; no network look-ups.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use maxminddb::{PathElement, Reader};

use super::ipranges::RangeIndex;

/// `internet`, `local` (private, link-local, ULA, loopback, CGNAT, unspecified) or `multicast`
/// (multicast and broadcast).
pub fn scope_of(ip: IpAddr) -> &'static str {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            if v4.is_multicast() || v4.is_broadcast() {
                "multicast"
            } else if v4.is_private()
                || v4.is_link_local()
                || v4.is_loopback()
                || v4.is_unspecified()
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
            {
                "local"
            } else {
                "internet"
            }
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            if v6.is_multicast() {
                "multicast"
            } else if v6.is_loopback()
                || v6.is_unspecified()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
            {
                "local"
            } else {
                "internet"
            }
        }
    }
}

/// A database that cannot be used for what it was given for (a configuration error).
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
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

/// What a flag asks of its databases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Country,
    Asn,
}

impl Need {
    fn flag(self) -> &'static str {
        match self {
            Need::Country => "--geo-db",
            Need::Asn => "--asn-db",
        }
    }
}

/// Where a record layout keeps each field (paths into the record).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MmdbLayout {
    pub country: Option<&'static [&'static str]>,
    pub country_name: Option<&'static [&'static str]>,
    pub asn: Option<&'static [&'static str]>,
    pub as_org: Option<&'static [&'static str]>,
}

// Candidate paths, most specific first. GeoIP2/GeoLite2 and DB-IP: `country.iso_code`,
// `country.names.en`; their ASN files and ip-location-db's: `autonomous_system_number` /
// `autonomous_system_organization`; ip-location-db country files and IPinfo lite:
// `country_code` (IPinfo also `country` as a name, `asn` as "AS13335", `as_name`).
const COUNTRY_PATHS: &[&[&str]] = &[
    &["country", "iso_code"],
    &["country_code"],
    &["registered_country", "iso_code"],
    &["country_iso_code"],
];
const COUNTRY_NAME_PATHS: &[&[&str]] =
    &[&["country", "names", "en"], &["country"], &["country_name"]];
const ASN_PATHS: &[&[&str]] = &[&["autonomous_system_number"], &["asn"], &["as_number"]];
const AS_ORG_PATHS: &[&[&str]] = &[
    &["autonomous_system_organization"],
    &["as_name"],
    &["as_org"],
    &["asn_org"],
    &["organization"],
];

fn elems<'a>(path: &'a [&'a str]) -> Vec<PathElement<'a>> {
    path.iter().map(|k| PathElement::Key(k)).collect()
}

fn text_at(r: &maxminddb::LookupResult<'_, Vec<u8>>, path: &[&str]) -> Option<String> {
    r.decode_path::<String>(&elems(path))
        .ok()
        .flatten()
        .filter(|s| !s.trim().is_empty())
}

fn number_at(r: &maxminddb::LookupResult<'_, Vec<u8>>, path: &[&str]) -> Option<u32> {
    let p = elems(path);
    if let Ok(Some(n)) = r.decode_path::<u32>(&p) {
        return Some(n);
    }
    // Writers differ in the integer type they store (uint32, uint64, int32, even double).
    if let Ok(Some(n)) = r.decode_path::<u64>(&p) {
        return u32::try_from(n).ok();
    }
    if let Ok(Some(n)) = r.decode_path::<i64>(&p) {
        return u32::try_from(n).ok();
    }
    if let Ok(Some(f)) = r.decode_path::<f64>(&p) {
        return (f.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&f)).then_some(f as u32);
    }
    let s = r.decode_path::<String>(&p).ok().flatten()?;
    let t = s.trim();
    t.strip_prefix("AS")
        .or_else(|| t.strip_prefix("as"))
        .unwrap_or(t)
        .parse()
        .ok()
}

fn is_code(s: &str) -> bool {
    s.len() == 2 && s.bytes().all(|b| b.is_ascii_alphabetic())
}

/// How many records are sampled to learn a layout.
const LAYOUT_SAMPLE: usize = 500;

struct Mmdb {
    reader: Reader<Vec<u8>>,
    layout: MmdbLayout,
}

impl Mmdb {
    /// Reads the layout from the first records of the file (both address families).
    fn detect(reader: &Reader<Vec<u8>>) -> (MmdbLayout, Vec<String>) {
        let mut layout = MmdbLayout::default();
        let mut keys: Vec<String> = Vec::new();
        {
            let Ok(iter) = reader.networks(Default::default()) else {
                return (layout, keys);
            };
            for item in iter.take(LAYOUT_SAMPLE) {
                let Ok(r) = item else { break };
                if keys.is_empty() {
                    if let Ok(Some(m)) =
                        r.decode::<std::collections::BTreeMap<String, serde::de::IgnoredAny>>()
                    {
                        keys = m.into_keys().collect();
                    }
                }
                if layout.country.is_none() {
                    layout.country = COUNTRY_PATHS
                        .iter()
                        .copied()
                        .find(|p| text_at(&r, p).is_some_and(|s| is_code(&s)));
                }
                if layout.country_name.is_none() {
                    layout.country_name = COUNTRY_NAME_PATHS
                        .iter()
                        .copied()
                        .find(|p| text_at(&r, p).is_some_and(|s| !is_code(&s)));
                }
                if layout.asn.is_none() {
                    layout.asn = ASN_PATHS
                        .iter()
                        .copied()
                        .find(|p| number_at(&r, p).is_some());
                }
                if layout.as_org.is_none() {
                    layout.as_org = AS_ORG_PATHS
                        .iter()
                        .copied()
                        .find(|p| text_at(&r, p).is_some());
                }
                if layout.country.is_some() && layout.asn.is_some() && layout.as_org.is_some() {
                    break;
                }
            }
        }
        (layout, keys)
    }

    fn lookup(&self, ip: IpAddr) -> Option<maxminddb::LookupResult<'_, Vec<u8>>> {
        if self.reader.metadata().ip_version == 4 && ip.is_ipv6() {
            return None;
        }
        let r = self.reader.lookup(ip).ok()?;
        r.has_data().then_some(r)
    }

    fn country(&self, ip: IpAddr) -> Option<CountryInfo> {
        let r = self.lookup(ip)?;
        let iso = text_at(&r, self.layout.country?)?.to_ascii_uppercase();
        let name = self.layout.country_name.and_then(|p| text_at(&r, p));
        Some(CountryInfo {
            iso_code: iso,
            name,
        })
    }

    fn asn(&self, ip: IpAddr) -> Option<AsInfo> {
        let r = self.lookup(ip)?;
        let number = self
            .layout
            .asn
            .and_then(|p| number_at(&r, p))
            .filter(|&n| n != 0);
        let organization = self.layout.as_org.and_then(|p| text_at(&r, p));
        (number.is_some() || organization.is_some()).then_some(AsInfo {
            number,
            organization,
        })
    }
}

enum Kind {
    Mmdb(Box<Mmdb>),
    Ranges(Box<RangeIndex>),
}

/// One database file given for one question.
pub struct Source {
    pub path: PathBuf,
    /// A short description of the layout found ("mmdb GeoIP2-Country: country.iso_code").
    pub layout: String,
    kind: Kind,
}

impl Source {
    /// Whether the file holds IPv4 and IPv6 data.
    fn families(&self) -> (bool, bool) {
        match &self.kind {
            Kind::Ranges(x) => {
                let (v4, v6) = x.len();
                (v4 > 0, v6 > 0)
            }
            Kind::Mmdb(m) => {
                let v6 = m.reader.metadata().ip_version == 6;
                // An IPv6 tree may or may not carry the IPv4 space: probe well-known anycast
                // resolvers' addresses, which every Internet-wide database covers.
                let v4 = !v6
                    || ["1.1.1.1", "8.8.8.8", "9.9.9.9", "208.67.222.222"]
                        .iter()
                        .filter_map(|s| s.parse().ok())
                        .any(|ip| m.lookup(ip).is_some());
                (v4, v6)
            }
        }
    }

    fn country(&self, ip: IpAddr) -> Option<CountryInfo> {
        match &self.kind {
            Kind::Mmdb(m) => m.country(ip),
            Kind::Ranges(x) => x.lookup(ip).and_then(|v| v.country).map(|c| CountryInfo {
                iso_code: String::from_utf8_lossy(&c).into_owned(),
                name: None,
            }),
        }
    }

    fn asn(&self, ip: IpAddr) -> Option<AsInfo> {
        match &self.kind {
            Kind::Mmdb(m) => m.asn(ip),
            Kind::Ranges(x) => x.lookup(ip).filter(|v| v.asn.is_some()).map(|v| AsInfo {
                number: v.asn,
                organization: x.org(v).map(str::to_string),
            }),
        }
    }
}

fn open_source(path: &Path, need: Need) -> Result<Source, GeoError> {
    let err = |message: String| GeoError {
        path: path.to_path_buf(),
        message,
    };
    let bytes = std::fs::read(path).map_err(|e| err(format!("cannot read: {e}")))?;
    let is_mmdb = bytes
        .windows(14)
        .rev()
        .take(128 * 1024)
        .any(|w| w == b"\xab\xcd\xefMaxMind.com");
    let (kind, layout) = if is_mmdb {
        let reader = Reader::from_source(bytes)
            .map_err(|e| err(format!("a MaxMind DB file that cannot be read: {e}")))?;
        let db_type = reader.metadata().database_type.clone();
        let (layout, keys) = Mmdb::detect(&reader);
        let found = match need {
            Need::Country => layout.country.map(|p| p.join(".")),
            Need::Asn => layout.asn.or(layout.as_org).map(|_| {
                [layout.asn, layout.as_org]
                    .iter()
                    .flatten()
                    .map(|p| p.join("."))
                    .collect::<Vec<_>>()
                    .join(", ")
            }),
        };
        let Some(found) = found else {
            let expected = match need {
                Need::Country => "a country code (country.iso_code or country_code)",
                Need::Asn => {
                    "an AS number or organisation (autonomous_system_number/_organization, asn, as_name)"
                }
            };
            let keys = if keys.is_empty() {
                "no readable records".to_string()
            } else {
                format!("records with the fields {}", keys.join(", "))
            };
            return Err(err(format!(
                "{} needs {expected}, but this MaxMind DB (type {db_type:?}) has {keys}",
                need.flag()
            )));
        };
        (
            Kind::Mmdb(Box::new(Mmdb { reader, layout })),
            format!("mmdb {db_type}: {found}"),
        )
    } else {
        let text = String::from_utf8_lossy(&bytes);
        let idx = RangeIndex::parse(&text).map_err(|e| {
            err(format!(
                "neither a MaxMind DB (no metadata marker) nor an IP range CSV/TSV: {}",
                e.0
            ))
        })?;
        let f = idx.fields;
        let ok = match need {
            Need::Country => f.country,
            Need::Asn => f.asn,
        };
        if !ok {
            let has = match (f.country, f.asn) {
                (true, true) => "country codes and AS numbers",
                (true, false) => "country codes only",
                (false, _) => "AS numbers only",
            };
            let expected = match need {
                Need::Country => "country codes (start,end,CC)",
                Need::Asn => "AS numbers (start,end,AS,organisation)",
            };
            return Err(err(format!(
                "{} needs {expected}, but this range file has {has}",
                need.flag()
            )));
        }
        let (v4, v6) = idx.len();
        (
            Kind::Ranges(Box::new(idx)),
            format!("ranges: {v4} IPv4, {v6} IPv6"),
        )
    };
    Ok(Source {
        path: path.to_path_buf(),
        layout,
        kind,
    })
}

/// Country and ASN databases, each a list tried in order.
#[derive(Default)]
pub struct Geo {
    country: Vec<Source>,
    asn: Vec<Source>,
}

impl Geo {
    /// Opens the databases that are given; each must hold what its flag needs.
    pub fn open_all(country: &[PathBuf], asn: &[PathBuf]) -> Result<Self, GeoError> {
        Ok(Geo {
            country: country
                .iter()
                .map(|p| open_source(p, Need::Country))
                .collect::<Result<_, _>>()?,
            asn: asn
                .iter()
                .map(|p| open_source(p, Need::Asn))
                .collect::<Result<_, _>>()?,
        })
    }

    /// Opens at most one database per question.
    pub fn open(country: Option<&Path>, asn: Option<&Path>) -> Result<Self, GeoError> {
        let v = |p: Option<&Path>| p.map(Path::to_path_buf).into_iter().collect::<Vec<_>>();
        Self::open_all(&v(country), &v(asn))
    }

    pub fn has_country(&self) -> bool {
        !self.country.is_empty()
    }

    pub fn has_asn(&self) -> bool {
        !self.asn.is_empty()
    }

    /// The sources, with their question.
    pub fn sources(&self) -> impl Iterator<Item = (Need, &Source)> {
        self.country
            .iter()
            .map(|s| (Need::Country, s))
            .chain(self.asn.iter().map(|s| (Need::Asn, s)))
    }

    /// Country of `ip` (None when no database, not an IP, or in no database).
    pub fn country(&self, ip: &str) -> Option<CountryInfo> {
        let ip: IpAddr = ip.trim().parse().ok()?;
        self.country.iter().find_map(|s| s.country(ip))
    }

    /// AS of `ip` (None when no database, not an IP, or in no database).
    pub fn asn(&self, ip: &str) -> Option<AsInfo> {
        let ip: IpAddr = ip.trim().parse().ok()?;
        self.asn.iter().find_map(|s| s.asn(ip))
    }

    /// Checks the databases against a sample of the dataset's public IPs: a flag whose files
    /// together answer for none of them is an error (it would give an empty column). Returns
    /// warnings for single files that answered for none while another did.
    pub fn check_against(&self, public_ips: &[IpAddr]) -> Result<Vec<String>, GeoError> {
        let mut warnings = Vec::new();
        if public_ips.is_empty() {
            return Ok(warnings);
        }
        for (need, list) in [(Need::Country, &self.country), (Need::Asn, &self.asn)] {
            if list.is_empty() {
                continue;
            }
            let hits: Vec<usize> = list
                .iter()
                .map(|s| {
                    public_ips
                        .iter()
                        .filter(|&&ip| match need {
                            Need::Country => s.country(ip).is_some(),
                            Need::Asn => s.asn(ip).is_some(),
                        })
                        .count()
                })
                .collect();
            if hits.iter().all(|&h| h == 0) {
                let first = &list[0];
                let names: Vec<String> =
                    list.iter().map(|s| s.path.display().to_string()).collect();
                return Err(GeoError {
                    path: first.path.clone(),
                    message: format!(
                        "{} {} matched none of {} public IPs of the dataset (a database of another \
                         address family, or not an Internet-wide database?)",
                        need.flag(),
                        names.join(", "),
                        public_ips.len(),
                    ),
                });
            }
            for (s, h) in list.iter().zip(&hits) {
                let (v4, v6) = s.families();
                let eligible = public_ips
                    .iter()
                    .filter(|ip| if ip.is_ipv4() { v4 } else { v6 })
                    .count();
                if *h == 0 && eligible > 0 {
                    warnings.push(format!(
                        "{} {} matched none of {} public IPs of its address family (the other \
                         files matched some)",
                        need.flag(),
                        s.path.display(),
                        eligible
                    ));
                }
            }
        }
        Ok(warnings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_file_is_no_database() {
        let dir = std::env::temp_dir().join(format!("iotdest-geo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("notes.txt");
        std::fs::write(&p, "hello\nworld\n").unwrap();
        let e = Geo::open(Some(&p), None).err().unwrap();
        assert!(e.to_string().contains("neither a MaxMind DB"), "{e}");
        let p = dir.join("asn.csv");
        std::fs::write(&p, "1.0.0.0,1.0.0.255,13335,CLOUDFLARENET\n").unwrap();
        let e = Geo::open(Some(&p), None).err().unwrap();
        assert!(
            e.to_string().contains("--geo-db needs country codes"),
            "{e}"
        );
        let g = Geo::open(None, Some(&p)).unwrap();
        assert_eq!(g.asn("1.0.0.7").unwrap().number, Some(13335));
        assert!(g
            .check_against(&["1.0.0.7".parse().unwrap()])
            .unwrap()
            .is_empty());
        assert!(g.check_against(&["9.9.9.9".parse().unwrap()]).is_err());
        std::fs::remove_dir_all(&dir).ok();
    }
}
