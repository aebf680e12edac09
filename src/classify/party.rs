//! The four-party classifier: First-, Platform-, Support- or Third-party, with the rule that
//! decided (the reason), the owning organisation and the IoT platform, if any.
//!
//! Precedence, first match wins:
//! 1. First-party — `first-party-domain`: a suffix of the host is a domain of the device
//!    manufacturer's group (the manufacturer, its owners and their subsidiaries);
//!    `first-party-file`: a user's `first_party_domains.txt` suffix matches;
//!    `first-party-platform`: an IoT platform owned by the group (AWS IoT for an Amazon device);
//!    `first-party-provider`: infrastructure owned by the group (CloudFront for an Amazon device).
//! 2. Platform-party — `platform`: the host matches an IoT platform pattern.
//! 3. Support-party — `support-domain`: the host is a provider's; `support-cname`: the domain is
//!    unknown to every rule and its CNAME chain ends at a provider; `asn`: the domain is unknown
//!    (or there is only an IP) and the IP's AS organisation is a provider's.
//! 4. Third-party — `tracker`, `other-manufacturer` (another maker's domain), or `unknown`.

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
    let org = as_org.to_ascii_lowercase();
    p.as_org_patterns
        .iter()
        .any(|pat| org.contains(pat.as_str()))
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
        Classifier {
            rules,
            by_name,
            root,
            domain_owner,
        }
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

    fn provider_of_cname(&self, cname: &str) -> Option<&Provider> {
        self.rules.providers.iter().find(|p| {
            p.cname_suffixes
                .iter()
                .chain(p.domains.iter())
                .any(|d| host_matches_suffix(cname, d))
        })
    }

    fn provider_of_as(&self, as_org: &str) -> Option<&Provider> {
        self.rules
            .providers
            .iter()
            .find(|p| as_org_matches(p, as_org))
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
    /// stayed unattributed; `cname` the end of its CNAME chain; `as_org` its IP's AS org.
    pub fn classify(
        &self,
        dev: &DeviceContext,
        host: &str,
        cname: Option<&str>,
        as_org: Option<&str>,
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
        if !known {
            if let Some(c) = cname.map(|c| c.trim().trim_end_matches('.').to_ascii_lowercase()) {
                if self.provider_of_cname(&c).is_some() {
                    return verdict(Category::Support, "support-cname");
                }
            }
            if as_org.and_then(|a| self.provider_of_as(a)).is_some() {
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
}
