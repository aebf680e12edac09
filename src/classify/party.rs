//! The four-party classifier: First-, Platform-, Support- or Third-party, with the rule that
//! decided (the reason), the owning organisation and the IoT platform, if any.
//!
//! Precedence, first match wins:
//! 1. First-party — `first-party-domain`: a suffix of the host is a domain of the device
//!    manufacturer's group (the manufacturer, its owners and their subsidiaries);
//!    `first-party-file`: a user's `first_party_domains.txt` suffix matches;
//!    `first-party-platform`: an IoT platform owned by the group (AWS IoT for an Amazon device);
//!    `first-party-provider`: infrastructure owned by the group (CloudFront for an Amazon device).
//!    `first-party-name`: a domain no rule knows whose registrable label or a host label is the
//!    maker's name or a distinctive alias (so makers absent from the rules still get their own
//!    domains); `first-party-asn`: a bare IP (no name attributed) on an AS the device's own group
//!    operates.
//! 2. Platform-party — `platform`: the host matches an IoT platform pattern.
//! 3. Support-party — `support-domain`: the host is a provider's (CDN, cloud, NTP, DNS, CA,
//!    connectivity check); `asn`: a bare IP (no name attributed) whose AS is a provider's, by AS
//!    number first, else by organisation name (whole words).
//! 4. Third-party — `tracker`, `other-manufacturer` (another maker's domain), or `unknown`.
//!
//! Who operates a service decides its party, not who hosts it: a domain is classified by its
//! owner. Its CNAME end and its IP's AS are kept as evidence (`cname`, `asn`, `as_org` columns)
//! but make no domain Support-party; they speak only for bare IPs.

use std::collections::HashMap;
use std::net::IpAddr;

use super::domain::host_matches_suffix;
use super::rules::{Provider, Rules};

/// The four classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    First,
    Platform,
    Support,
    Third,
}

impl Category {
    pub fn name(self) -> &'static str {
        match self {
            Category::First => "First-party",
            Category::Platform => "Platform-party",
            Category::Support => "Support-party",
            Category::Third => "Third-party",
        }
    }
}

/// The classifier's answer for one destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub category: Category,
    pub reason: &'static str,
    pub organization: String,
    pub platform: Option<String>,
}

/// What the classifier knows of the device.
#[derive(Debug, Clone, Default)]
pub struct DeviceContext {
    /// Index of the device's manufacturer in the rules, if known.
    pub manufacturer: Option<usize>,
    /// Suffixes from a user's `first_party_domains.txt`.
    pub first_party_suffixes: Vec<String>,
}

/// Anything that knows the classifier and each device's context (see `devices::Devices`).
pub trait HasDevices: Send + Sync {
    fn classifier(&self) -> &Classifier;
    fn context(&self, device: &str) -> DeviceContext;
}

/// Rules compiled for look-ups.
pub struct Classifier {
    rules: Rules,
    by_name: HashMap<String, usize>,
    root: Vec<usize>,
    /// Domain → manufacturer index (first listing wins).
    domain_owner: HashMap<String, usize>,
    /// Per group root: the name tokens of `first-party-name` (see `name_tokens`).
    group_tokens: HashMap<usize, Vec<String>>,
}

/// Lower-case ASCII alphanumerics of `s` (`Harman Kardon` → `harmankardon`).
pub fn fold(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Shortest maker token compared with a whole label (`tcl`, `jbl`).
const NAME_MIN: usize = 3;
/// Shortest maker token that may start a longer registrable label (`wyze` → `wyzecam`).
const NAME_PREFIX_MIN: usize = 4;
/// Shortest device-name alias used as a domain token (aliases such as `echo` or `hue` are
/// words too common in host names to mean the maker).
const ALIAS_MIN: usize = 6;

/// Tokens of `first-party-name` for one maker: the folded name, each folded word of it of at
/// least `NAME_PREFIX_MIN` characters, and aliases of at least `ALIAS_MIN` characters.
fn name_tokens(name: &str, aliases: &[String]) -> Vec<String> {
    let mut out = vec![fold(name)];
    out.extend(
        name.split(|c: char| !c.is_ascii_alphanumeric())
            .map(fold)
            .filter(|w| w.len() >= NAME_PREFIX_MIN),
    );
    out.extend(aliases.iter().filter(|a| a.len() >= ALIAS_MIN).cloned());
    out.retain(|t| t.len() >= NAME_MIN);
    out.sort();
    out.dedup();
    out
}

/// Words of an AS organisation or pattern: lower-case, split on anything but letters, digits,
/// `-` and `&` (so a handle such as `GOOGLE-FIBER` stays one word).
fn as_words(s: &str) -> Vec<String> {
    s.to_ascii_lowercase()
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '&'))
        .map(|w| w.trim_matches('-'))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// Parts of a handle that qualify it without changing whose it is: digits (`AMAZON-02`,
/// `ORACLE-BMC-31898`), `as`/`asn`/`asnN`, and two-letter region or country codes (`AS-CHOOPA`,
/// `TENCENT-NET-AP`, `US-NATIONAL-…`).
fn qualifier(part: &str) -> bool {
    part.len() <= 2
        || part.bytes().all(|b| b.is_ascii_digit())
        || part == "as"
        || (part.starts_with("asn") && part[3..].bytes().all(|b| b.is_ascii_digit()))
}

/// Words of a company name that only give its legal form or country.
fn legal_form(word: &str) -> bool {
    matches!(
        word,
        "inc"
            | "llc"
            | "ltd"
            | "co"
            | "corp"
            | "corporation"
            | "company"
            | "limited"
            | "gmbh"
            | "bv"
            | "b"
            | "v"
            | "nv"
            | "sa"
            | "sas"
            | "sarl"
            | "ag"
            | "pte"
            | "plc"
            | "srl"
            | "spa"
            | "kk"
            | "oy"
            | "ab"
            | "pty"
            | "lp"
            | "llp"
            | "se"
    ) || word.len() == 2
}

/// A word of an organisation equals a pattern word, or is a hyphenated handle holding it
/// with qualifiers only around it.
fn word_matches(word: &str, pat: &str) -> bool {
    if word == pat {
        return true;
    }
    let (w, p): (Vec<&str>, Vec<&str>) = (word.split('-').collect(), pat.split('-').collect());
    if p.len() > w.len() {
        return false;
    }
    (0..=w.len() - p.len()).any(|i| {
        w[i..i + p.len()] == p[..]
            && w[..i].iter().all(|x| qualifier(x))
            && w[i + p.len()..].iter().all(|x| qualifier(x))
    })
}

/// Whether an AS organisation string names the pattern, by whole words: a pattern of several
/// words is a consecutive run of the organisation's words; a one-word pattern is the whole
/// organisation (a handle, qualifiers allowed) or its first word followed by legal-form or
/// country words only. `GOOGLE` matches `GOOGLE`, `Google LLC`, but not `GOOGLE-FIBER` or
/// `Google Fiber Inc.`. RIR-style `HANDLE - Name CC` strings are tried part by part.
pub fn as_org_names(as_org: &str, pattern: &str) -> bool {
    let pat = as_words(pattern);
    if pat.is_empty() {
        return false;
    }
    as_org.split(" - ").any(|part| {
        let org = as_words(part);
        if org.len() < pat.len() {
            return false;
        }
        if pat.len() > 1 {
            return (0..=org.len() - pat.len()).any(|i| {
                org[i..i + pat.len()]
                    .iter()
                    .zip(&pat)
                    .all(|(w, p)| word_matches(w, p))
            });
        }
        word_matches(&org[0], &pat[0]) && org[1..].iter().all(|w| legal_form(w))
    })
}

/// Whole-string glob: `*` matches any run of characters (dots included).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0usize, 0usize);
    let (mut star, mut mark) = (None::<usize>, 0usize);
    while ti < t.len() {
        if pi < p.len() && p[pi] != b'*' && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

fn as_org_matches(p: &Provider, as_org: &str) -> bool {
    p.as_org_patterns
        .iter()
        .any(|pat| as_org_names(as_org, pat))
}

impl Classifier {
    pub fn new(rules: Rules) -> Self {
        let by_name: HashMap<String, usize> = rules
            .manufacturers
            .iter()
            .enumerate()
            .map(|(i, m)| (m.name.to_ascii_lowercase(), i))
            .collect();
        let root = (0..rules.manufacturers.len())
            .map(|mut i| {
                // Follow parents (bounded, in case of a cycle in user rules).
                for _ in 0..32 {
                    match rules.manufacturers[i]
                        .parent
                        .as_ref()
                        .and_then(|p| by_name.get(&p.to_ascii_lowercase()))
                    {
                        Some(&p) if p != i => i = p,
                        _ => break,
                    }
                }
                i
            })
            .collect();
        let mut domain_owner = HashMap::new();
        for (i, m) in rules.manufacturers.iter().enumerate() {
            for d in &m.domains {
                domain_owner.entry(d.clone()).or_insert(i);
            }
        }
        let mut c = Classifier {
            rules,
            by_name,
            root,
            domain_owner,
            group_tokens: HashMap::new(),
        };
        c.index_tokens();
        c
    }

    fn index_tokens(&mut self) {
        let mut tokens: HashMap<usize, Vec<String>> = HashMap::new();
        for (i, m) in self.rules.manufacturers.iter().enumerate() {
            tokens
                .entry(self.root[i])
                .or_default()
                .extend(name_tokens(&m.name, &m.aliases));
        }
        for t in tokens.values_mut() {
            t.sort();
            t.dedup();
        }
        self.group_tokens = tokens;
    }

    /// The index of manufacturer `name`, adding a maker the rules do not know (its own group,
    /// no domains: `first-party-name` and the other rules still apply).
    pub fn ensure_manufacturer(&mut self, name: &str) -> usize {
        if let Some(i) = self.manufacturer_index(name) {
            return i;
        }
        // A brand written as one of a maker's aliases (`Harman Kardon` → Harman).
        let folded = fold(name);
        if let Some(i) = self
            .rules
            .manufacturers
            .iter()
            .position(|m| !folded.is_empty() && m.aliases.contains(&folded))
        {
            return i;
        }
        let name = name.trim().to_string();
        let i = self.rules.manufacturers.len();
        self.rules.manufacturers.push(super::rules::Manufacturer {
            name: name.clone(),
            parent: None,
            aliases: Vec::new(),
            domains: Vec::new(),
        });
        self.by_name.insert(name.to_ascii_lowercase(), i);
        self.root.push(i);
        self.index_tokens();
        i
    }

    /// Whether `host`'s registrable label, or another label of it, names the group's maker.
    fn names_group(&self, group: usize, host: &str) -> bool {
        let Some(tokens) = self.group_tokens.get(&group) else {
            return false;
        };
        let Some(split) = super::domain::split(host) else {
            return false;
        };
        let sld = fold(split.sld);
        let sub = host.len().saturating_sub(split.registrable.len());
        let labels: Vec<String> = host[..sub]
            .split('.')
            .map(fold)
            .filter(|l| !l.is_empty())
            .collect();
        tokens.iter().any(|t| {
            sld == *t
                || (t.len() >= NAME_PREFIX_MIN && sld.starts_with(t.as_str()))
                || labels.iter().any(|l| l == t)
        })
    }

    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// Index of a manufacturer by name (case-insensitive).
    pub fn manufacturer_index(&self, name: &str) -> Option<usize> {
        self.by_name.get(&name.trim().to_ascii_lowercase()).copied()
    }

    /// Name of a manufacturer by index.
    pub fn manufacturer_name(&self, i: usize) -> &str {
        &self.rules.manufacturers[i].name
    }

    /// The manufacturer whose alias occurs in the device name (longest alias wins).
    pub fn manufacturer_from_device(&self, device: &str) -> Option<usize> {
        let dev: String = device
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect();
        let mut best: Option<(usize, usize)> = None;
        for (i, m) in self.rules.manufacturers.iter().enumerate() {
            for a in &m.aliases {
                if dev.contains(a.as_str()) && best.is_none_or(|(len, _)| a.len() > len) {
                    best = Some((a.len(), i));
                }
            }
        }
        best.map(|(_, i)| i)
    }

    /// Every first-party domain of manufacturer `i`'s group, sorted.
    pub fn group_domains(&self, i: usize) -> Vec<String> {
        let g = self.group_of(i);
        let mut out: Vec<String> = (0..self.rules.manufacturers.len())
            .filter(|&j| self.group_of(j) == g)
            .flat_map(|j| self.rules.manufacturers[j].domains.iter().cloned())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    fn group_of(&self, i: usize) -> usize {
        self.root[i]
    }

    fn owner_group(&self, owner: &str) -> Option<usize> {
        self.manufacturer_index(owner).map(|i| self.group_of(i))
    }

    /// Manufacturer owning a suffix of `host` (longest suffix wins).
    fn manufacturer_of_host(&self, host: &str) -> Option<usize> {
        let mut rest = host;
        loop {
            if let Some(&i) = self.domain_owner.get(rest) {
                return Some(i);
            }
            match rest.find('.') {
                Some(d) => rest = &rest[d + 1..],
                None => return None,
            }
        }
    }

    /// The IoT platform (name, owner) whose pattern matches `host`.
    pub fn platform_of(&self, host: &str) -> Option<(&str, &str)> {
        self.rules
            .platforms
            .iter()
            .find(|p| glob_match(&p.pattern, host))
            .map(|p| (p.platform.as_str(), p.owner.as_str()))
    }

    fn provider_of_host(&self, host: &str) -> Option<&Provider> {
        self.rules
            .providers
            .iter()
            .find(|p| p.domains.iter().any(|d| host_matches_suffix(host, d)))
    }

    /// The provider operating an AS: by number first, else by organisation name.
    fn provider_of_as(&self, asn: Option<u32>, as_org: Option<&str>) -> Option<&Provider> {
        if let Some(n) = asn {
            if let Some(p) = self
                .rules
                .providers
                .iter()
                .find(|p| p.as_numbers.contains(&n))
            {
                return Some(p);
            }
        }
        let org = as_org.map(str::trim).filter(|s| !s.is_empty())?;
        self.rules.providers.iter().find(|p| as_org_matches(p, org))
    }

    fn tracker_of(&self, host: &str) -> Option<&super::rules::Tracker> {
        self.rules
            .trackers
            .iter()
            .find(|t| host_matches_suffix(host, &t.domain))
    }

    /// The organisation behind a host: rules first, then the AS organisation, else `Unknown`.
    pub fn organization(&self, host: Option<&str>, as_org: Option<&str>) -> String {
        if let Some(h) = host.filter(|h| h.parse::<IpAddr>().is_err()) {
            if let Some(i) = self.manufacturer_of_host(h) {
                return self.rules.manufacturers[i].name.clone();
            }
            if let Some((_, owner)) = self.platform_of(h) {
                return owner.to_string();
            }
            if let Some(p) = self.provider_of_host(h) {
                return p.name.clone();
            }
            if let Some(t) = self.tracker_of(h) {
                return t.owner.clone();
            }
        }
        match as_org.map(str::trim).filter(|s| !s.is_empty()) {
            Some(a) => a.to_string(),
            None => "Unknown".to_string(),
        }
    }

    /// Classifies one destination: `host` is the attributed domain, or the IP when the flow
    /// stayed unattributed; `cname` the end of its CNAME chain (evidence only); `as_org` and
    /// `asn` its IP's AS organisation and number (used for bare IPs).
    pub fn classify(
        &self,
        dev: &DeviceContext,
        host: &str,
        _cname: Option<&str>,
        as_org: Option<&str>,
        asn: Option<u32>,
    ) -> Verdict {
        let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
        let is_ip = host.parse::<IpAddr>().is_ok();
        let group = dev.manufacturer.map(|i| self.group_of(i));
        let in_group = |owner: &str| group.is_some() && self.owner_group(owner) == group;
        let platform = if is_ip { None } else { self.platform_of(&host) };
        let organization = self.organization(Some(&host), as_org);
        let verdict = |category, reason| Verdict {
            category,
            reason,
            organization: organization.clone(),
            platform: platform.map(|(p, _)| p.to_string()),
        };
        let maker = if is_ip {
            None
        } else {
            self.manufacturer_of_host(&host)
        };
        if !is_ip {
            if let (Some(m), Some(g)) = (maker, group) {
                if self.group_of(m) == g {
                    return verdict(Category::First, "first-party-domain");
                }
            }
            if dev
                .first_party_suffixes
                .iter()
                .any(|s| host_matches_suffix(&host, s))
            {
                return verdict(Category::First, "first-party-file");
            }
            if let Some((_, owner)) = platform {
                if in_group(owner) {
                    return verdict(Category::First, "first-party-platform");
                }
                return verdict(Category::Platform, "platform");
            }
            if let Some(p) = self.provider_of_host(&host) {
                if in_group(&p.owner) {
                    return verdict(Category::First, "first-party-provider");
                }
                return verdict(Category::Support, "support-domain");
            }
        }
        let tracker = if is_ip { None } else { self.tracker_of(&host) };
        let known = maker.is_some() || tracker.is_some();
        if !known && !is_ip {
            if let Some(g) = group {
                if self.names_group(g, &host) {
                    return verdict(Category::First, "first-party-name");
                }
            }
        }
        if is_ip {
            if let Some(p) = self.provider_of_as(asn, as_org) {
                if in_group(&p.owner) {
                    return verdict(Category::First, "first-party-asn");
                }
                return verdict(Category::Support, "asn");
            }
        }
        if tracker.is_some() {
            return verdict(Category::Third, "tracker");
        }
        if maker.is_some() {
            return verdict(Category::Third, "other-manufacturer");
        }
        verdict(Category::Third, "unknown")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match(
            "*-ats.iot.*.amazonaws.com",
            "a1b2-ats.iot.us-east-1.amazonaws.com"
        ));
        assert!(!glob_match(
            "*-ats.iot.*.amazonaws.com",
            "a1b2.iot.us-east-1.amazonaws.com"
        ));
        assert!(glob_match("*.tuyaus.com", "a1.tuyaus.com"));
        assert!(!glob_match("*.tuyaus.com", "tuyaus.com"));
        assert!(glob_match("tuyaus.com", "tuyaus.com"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(!glob_match("a*b*c", "axxbyy"));
    }

    #[test]
    fn as_names_match_by_whole_words() {
        assert!(as_org_names("GOOGLE", "google"));
        assert!(as_org_names("Google LLC", "google"));
        assert!(!as_org_names("GOOGLE-FIBER", "google"));
        assert!(!as_org_names("Google Fiber Inc.", "google"));
        assert!(as_org_names("AMAZON-02", "amazon"));
        assert!(!as_org_names("AMAZON-AES", "amazon"));
        assert!(as_org_names(
            "AMAZON-02 - Amazon.com, Inc. US",
            "amazon.com"
        ));
        assert!(as_org_names("ORACLE-BMC-31898", "oracle-bmc"));
        assert!(as_org_names("AS-CHOOPA", "choopa"));
        assert!(as_org_names(
            "Hangzhou Alibaba Advertising Co.,Ltd.",
            "alibaba advertising"
        ));
        assert!(!as_org_names(
            "Hangzhou Alibaba Advertising Co.,Ltd.",
            "alibaba"
        ));
        assert!(!as_org_names("", "google"));
        assert!(!as_org_names("GOOGLE", ""));
    }

    #[test]
    fn name_tokens_skip_short_and_generic() {
        let t = name_tokens("Harman Kardon", &["jbl".into(), "harmankardon".into()]);
        assert!(t.contains(&"harmankardon".to_string()) && t.contains(&"harman".to_string()));
        assert!(
            !t.contains(&"jbl".to_string()),
            "aliases shorter than 6 are not domain tokens"
        );
        assert!(name_tokens("Yi", &[]).is_empty());
    }
}
