//! IP range files as a sorted interval index: ip-location-db's `asn-ipv4.csv`/`asn-ipv6.csv`
//! (`start,end,AS,organisation`), its country CSVs (`start,end,CC`), the `-num` variants (the
//! bounds as decimal integers), and iptoasn's `ip2asn-v4.tsv`/`ip2asn-v6.tsv`
//! (`start<TAB>end<TAB>AS<TAB>CC<TAB>description`). The layout is read from the rows, not the
//! file name. IPv4 and IPv6 ranges live in separate vectors keyed by `u32`/`u128` and are
//! found by binary search; organisation names are stored once.

use std::collections::HashMap;
use std::net::IpAddr;

/// What a range row carries.
#[derive(Debug, Clone, Default)]
pub struct RangeValue {
    pub country: Option<[u8; 2]>,
    pub asn: Option<u32>,
    /// Index into the organisation pool.
    pub org: Option<u32>,
}

/// Which fields the file's rows have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RangeFields {
    pub country: bool,
    pub asn: bool,
    pub org: bool,
}

/// A loaded range file.
#[derive(Debug, Default)]
pub struct RangeIndex {
    v4: Vec<(u32, u32, RangeValue)>,
    v6: Vec<(u128, u128, RangeValue)>,
    orgs: Vec<String>,
    pub fields: RangeFields,
}

/// Why a file is no range file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeError(pub String);

/// Splits one CSV line (double quotes, `""` inside quotes) or one TSV line into cells.
fn cells(line: &str, tab: bool) -> Vec<String> {
    if tab {
        return line.split('\t').map(|s| s.trim().to_string()).collect();
    }
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur).trim().to_string()),
            _ => cur.push(c),
        }
    }
    out.push(cur.trim().to_string());
    out
}

/// A bound: an address, or a decimal number (the `-num` files). `v6_hint` picks the family of
/// a number (numbers below 2^32 are IPv4 unless the other bound is not).
fn bound(s: &str) -> Option<Bound> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(match ip {
            IpAddr::V4(a) => Bound::V4(u32::from(a)),
            IpAddr::V6(a) => Bound::V6(u128::from(a)),
        });
    }
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse::<u128>().ok().map(Bound::Num);
    }
    None
}

#[derive(Debug, Clone, Copy)]
enum Bound {
    V4(u32),
    V6(u128),
    Num(u128),
}

fn country_code(s: &str) -> Option<[u8; 2]> {
    let b = s.as_bytes();
    (b.len() == 2 && b.iter().all(u8::is_ascii_alphabetic))
        .then(|| [b[0].to_ascii_uppercase(), b[1].to_ascii_uppercase()])
}

fn as_number(s: &str) -> Option<u32> {
    let t = s.trim();
    let t = t
        .strip_prefix("AS")
        .or_else(|| t.strip_prefix("as"))
        .unwrap_or(t);
    t.parse().ok()
}

/// Lines that are neither data nor a header are tolerated up to this share of the sample.
const SAMPLE: usize = 200;

impl RangeIndex {
    /// Parses a range file's text. `file_is_num_v6` is not needed: a number ≥ 2^32 is IPv6,
    /// and a `-num` file is IPv4 only when every bound of the sample fits 32 bits.
    pub fn parse(text: &str) -> Result<Self, RangeError> {
        let tab = text
            .lines()
            .find(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .is_some_and(|l| l.contains('\t'));
        // Decide the family of numeric bounds from the sample: any bound ≥ 2^32 means IPv6.
        let mut all_num_small = true;
        let mut any_num = false;
        for l in text.lines().take(SAMPLE * 50) {
            let c = cells(l, tab);
            for cell in c.iter().take(2) {
                if let Some(Bound::Num(n)) = bound(cell) {
                    any_num = true;
                    if n > u128::from(u32::MAX) {
                        all_num_small = false;
                    }
                }
            }
        }
        let num_is_v4 = any_num && all_num_small;
        let mut idx = RangeIndex::default();
        let mut org_ids: HashMap<String, u32> = HashMap::new();
        let (mut good, mut bad) = (0usize, 0usize);
        let mut layout: Option<(usize, usize, usize, usize)> = None; // (ncells, cc col, as col, org col)
        for line in text.lines() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let c = cells(line, tab);
            let (Some(lo), Some(hi)) = (
                c.first().and_then(|s| bound(s)),
                c.get(1).and_then(|s| bound(s)),
            ) else {
                bad += 1;
                if good == 0 && bad > SAMPLE {
                    break;
                }
                continue;
            };
            let fam = |b: Bound| match b {
                Bound::V4(x) => Some((false, u128::from(x))),
                Bound::V6(x) => Some((true, x)),
                Bound::Num(x) => Some((!num_is_v4, x)),
            };
            let (Some((v6a, lo)), Some((v6b, hi))) = (fam(lo), fam(hi)) else {
                continue;
            };
            if v6a != v6b || hi < lo {
                bad += 1;
                continue;
            }
            // Layout from the first data row: 3 cells = country; 4 = AS + organisation;
            // 5 (iptoasn) = AS, country, description.
            let l = *layout.get_or_insert_with(|| match c.len() {
                3 => (3, 2, usize::MAX, usize::MAX),
                4 => (4, usize::MAX, 2, 3),
                n if n >= 5 => (n, 3, 2, 4),
                n => (n, usize::MAX, usize::MAX, usize::MAX),
            });
            let get = |i: usize| c.get(i).map(String::as_str).unwrap_or("");
            let mut v = RangeValue::default();
            if l.1 != usize::MAX {
                v.country = country_code(get(l.1));
            }
            if l.2 != usize::MAX {
                v.asn = as_number(get(l.2)).filter(|&n| n != 0);
            }
            if l.3 != usize::MAX && v.asn.is_some() {
                let o = get(l.3);
                if !o.is_empty() && o != "Not routed" && o != "None" {
                    let next = org_ids.len() as u32;
                    let id = *org_ids.entry(o.to_string()).or_insert_with(|| {
                        idx.orgs.push(o.to_string());
                        next
                    });
                    v.org = Some(id);
                }
            }
            if v.country.is_none() && v.asn.is_none() {
                // iptoasn's "Not routed" rows, or an unusable row: nothing to answer.
                good += 1;
                continue;
            }
            idx.fields.country |= v.country.is_some();
            idx.fields.asn |= v.asn.is_some();
            idx.fields.org |= v.org.is_some();
            good += 1;
            if v6a {
                idx.v6.push((lo, hi, v));
            } else {
                // Both bounds came from IPv4 text or small numbers.
                idx.v4.push((lo as u32, hi as u32, v));
            }
        }
        if good == 0 {
            return Err(RangeError(
                "no line is an IP range (expected `start,end,…` rows: addresses or numbers)".into(),
            ));
        }
        if idx.v4.is_empty() && idx.v6.is_empty() {
            return Err(RangeError(
                "its ranges carry neither a country code nor an AS number".into(),
            ));
        }
        idx.v4.sort_by_key(|r| (r.0, r.1));
        idx.v6.sort_by_key(|r| (r.0, r.1));
        Ok(idx)
    }

    /// Number of ranges (IPv4, IPv6).
    pub fn len(&self) -> (usize, usize) {
        (self.v4.len(), self.v6.len())
    }

    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    /// The range holding `ip` (the last range starting at or before it, if it reaches it).
    pub fn lookup(&self, ip: IpAddr) -> Option<&RangeValue> {
        match ip {
            IpAddr::V4(a) => find(&self.v4, u32::from(a)),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) if self.v6.is_empty() => find(&self.v4, u32::from(v4)),
                _ => find(&self.v6, u128::from(a)),
            },
        }
    }

    pub fn org(&self, v: &RangeValue) -> Option<&str> {
        v.org
            .and_then(|i| self.orgs.get(i as usize))
            .map(String::as_str)
    }
}

fn find<T: Ord + Copy>(ranges: &[(T, T, RangeValue)], x: T) -> Option<&RangeValue> {
    let i = ranges.partition_point(|r| r.0 <= x);
    let r = ranges.get(i.checked_sub(1)?)?;
    (x <= r.1).then_some(&r.2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn asn_csv_with_quoted_names() {
        let t = "1.0.0.0,1.0.0.255,13335,\"Cloudflare, Inc.\"\n1.0.4.0,1.0.7.255,38803,Gtelecom Pty Ltd\n";
        let x = RangeIndex::parse(t).unwrap();
        let v = x.lookup(ip("1.0.0.1")).unwrap();
        assert_eq!(v.asn, Some(13335));
        assert_eq!(x.org(v), Some("Cloudflare, Inc."));
        assert!(x.lookup(ip("1.0.1.0")).is_none());
        assert_eq!(x.lookup(ip("1.0.7.255")).unwrap().asn, Some(38803));
        assert!(x.fields.asn && x.fields.org && !x.fields.country);
    }

    #[test]
    fn numeric_and_v6_and_country() {
        let t = "16777216,16777471,13335,\"Cloudflare, Inc.\"\n";
        let x = RangeIndex::parse(t).unwrap();
        assert_eq!(x.lookup(ip("1.0.0.9")).unwrap().asn, Some(13335));
        let t = "42540488161975842760550356425300246528,42540488241204005274814694018844196863,6939,Hurricane Electric LLC\n";
        let x = RangeIndex::parse(t).unwrap();
        assert_eq!(x.lookup(ip("2001::1")).unwrap().asn, Some(6939));
        let t = "2001:200::,2001:200:ffff:ffff:ffff:ffff:ffff:ffff,JP\n1.0.0.0,1.0.0.255,au\n";
        let x = RangeIndex::parse(t).unwrap();
        assert_eq!(x.lookup(ip("2001:200::5")).unwrap().country, Some(*b"JP"));
        assert_eq!(x.lookup(ip("1.0.0.5")).unwrap().country, Some(*b"AU"));
        assert!(x.fields.country && !x.fields.asn);
    }

    #[test]
    fn iptoasn_tsv() {
        let t = "1.0.0.0\t1.0.0.255\t13335\tUS\tCLOUDFLARENET\n1.0.1.0\t1.0.3.255\t0\tNone\tNot routed\n";
        let x = RangeIndex::parse(t).unwrap();
        let v = x.lookup(ip("1.0.0.200")).unwrap();
        assert_eq!((v.asn, v.country), (Some(13335), Some(*b"US")));
        assert_eq!(x.org(v), Some("CLOUDFLARENET"));
        assert!(x.lookup(ip("1.0.2.0")).is_none());
    }

    #[test]
    fn not_a_range_file() {
        assert!(RangeIndex::parse("hello,world\nfoo\n").is_err());
        assert!(RangeIndex::parse("").is_err());
        assert!(RangeIndex::parse("1.0.0.0,1.0.0.255\n").is_err());
    }

    #[test]
    fn truncation_never_panics() {
        let t = "1.0.0.0,1.0.0.255,13335,\"Cloudflare, Inc.\"\n2001::,2001::ffff,6939,HE\n";
        for n in 0..=t.len() {
            if t.is_char_boundary(n) {
                let _ = RangeIndex::parse(&t[..n]);
            }
        }
    }
}
