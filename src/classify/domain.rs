//! Registrable-domain split with the Public Suffix List, ICANN section only.
//!
//! With the private section every `*.cloudfront.net` or `*.googleapis.com` host would be its own
//! registrable domain; researchers count those as one organisation's zone. When the longest
//! matching rule is a private one, the longest ICANN rule inside it is used instead.
//! Names that are IP addresses have no registrable domain. Unknown TLDs follow tldextract: no
//! public suffix, and the last label is the SLD.

use std::net::IpAddr;

use psl::Type;

/// The parts of a host name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split<'a> {
    /// ICANN public suffix (`co.uk`), None for unknown TLDs.
    pub suffix: Option<&'a str>,
    /// The label left of the suffix (`bbc` in `www.bbc.co.uk`).
    pub sld: &'a str,
    /// `sld.suffix` (`bbc.co.uk`), or just the SLD for unknown TLDs.
    pub registrable: &'a str,
}

fn icann_suffix(name: &str) -> Option<&str> {
    let mut candidate = name;
    loop {
        let s = psl::suffix(candidate.as_bytes())?;
        let text = std::str::from_utf8(s.as_bytes()).ok()?;
        match s.typ() {
            Some(Type::Icann) => return Some(text),
            None => return None,
            Some(Type::Private) => {
                // Drop the private rule's leftmost label and look again inside it.
                let start = name.len() - text.len();
                let inner = &name[start..];
                let dot = inner.find('.')?;
                candidate = &inner[dot + 1..];
                if candidate.is_empty() {
                    return None;
                }
            }
        }
    }
}

/// Splits a normalised host name (lower-case, no trailing dot). None for IPs and empty names.
pub fn split(name: &str) -> Option<Split<'_>> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty()
        || name.parse::<IpAddr>().is_ok()
        || name.starts_with('.')
        || name.contains("..")
    {
        return None;
    }
    match icann_suffix(name) {
        Some(suffix) if suffix.len() < name.len() => {
            let rest = &name[..name.len() - suffix.len() - 1];
            let sld = rest.rsplit('.').next().unwrap_or(rest);
            let registrable = &name[name.len() - suffix.len() - 1 - sld.len()..];
            Some(Split {
                suffix: Some(suffix),
                sld,
                registrable,
            })
        }
        // The whole name is a public suffix: no registrable domain (tldextract gives an empty
        // domain); keep the name itself as SLD so nothing is lost.
        Some(suffix) => Some(Split {
            suffix: Some(suffix),
            sld: name,
            registrable: name,
        }),
        None => {
            let sld = name.rsplit('.').next().unwrap_or(name);
            Some(Split {
                suffix: None,
                sld,
                registrable: sld,
            })
        }
    }
}

/// `registrable_domain("a.b.cloudfront.net")` = `cloudfront.net`.
pub fn registrable_domain(name: &str) -> Option<&str> {
    split(name).map(|s| s.registrable)
}

/// `sld("www.bbc.co.uk")` = `bbc`.
pub fn sld(name: &str) -> Option<&str> {
    split(name).map(|s| s.sld)
}

/// `public_suffix("www.bbc.co.uk")` = `co.uk`.
pub fn public_suffix(name: &str) -> Option<&str> {
    split(name).and_then(|s| s.suffix)
}

/// True when `host` equals `suffix` or ends with `.suffix`.
pub fn host_matches_suffix(host: &str, suffix: &str) -> bool {
    host == suffix
        || (host.len() > suffix.len()
            && host.ends_with(suffix)
            && host.as_bytes()[host.len() - suffix.len() - 1] == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icann_only() {
        let cases = [
            (
                "d3p8zr0ffa9t17.cloudfront.net",
                Some("cloudfront.net"),
                Some("cloudfront"),
                Some("net"),
            ),
            (
                "home-devices.googleapis.com",
                Some("googleapis.com"),
                Some("googleapis"),
                Some("com"),
            ),
            (
                "a1-ats.iot.us-east-1.amazonaws.com",
                Some("amazonaws.com"),
                Some("amazonaws"),
                Some("com"),
            ),
            (
                "x.s3.us-west-2.amazonaws.com",
                Some("amazonaws.com"),
                Some("amazonaws"),
                Some("com"),
            ),
            (
                "www.bbc.co.uk",
                Some("bbc.co.uk"),
                Some("bbc"),
                Some("co.uk"),
            ),
            (
                "e1234.a.akamaiedge.net",
                Some("akamaiedge.net"),
                Some("akamaiedge"),
                Some("net"),
            ),
            (
                "foo.herokuapp.com",
                Some("herokuapp.com"),
                Some("herokuapp"),
                Some("com"),
            ),
            (
                "api.tuyaus.com",
                Some("tuyaus.com"),
                Some("tuyaus"),
                Some("com"),
            ),
            ("printer.local", Some("local"), Some("local"), None),
            ("co.uk", Some("co.uk"), Some("co.uk"), Some("co.uk")),
            ("10.0.0.1", None, None, None),
            ("2001:db8::1", None, None, None),
            ("", None, None, None),
        ];
        for (name, reg, s, suf) in cases {
            assert_eq!(registrable_domain(name), reg, "{name}");
            assert_eq!(sld(name), s, "{name}");
            assert_eq!(public_suffix(name), suf, "{name}");
        }
    }

    #[test]
    fn suffix_matching() {
        assert!(host_matches_suffix("a.cloudfront.net", "cloudfront.net"));
        assert!(host_matches_suffix("cloudfront.net", "cloudfront.net"));
        assert!(!host_matches_suffix("evilcloudfront.net", "cloudfront.net"));
    }

    #[test]
    fn odd_names_do_not_panic() {
        for n in [
            ".",
            "..",
            "a..b",
            ".com",
            "com.",
            "\\x00.com",
            "é.com",
            "*.example.com",
        ] {
            let _ = split(n);
        }
    }
}
