//! Classification rules as data: `rules/*.csv` in the repository, embedded in the binary as
//! defaults; a user's `--rules DIR` replaces any of the four files it contains.
//!
//! List cells use `;` between items. Files: `manufacturers.csv`
//! (`manufacturer,parent,aliases,domains,source`), `platforms.csv`
//! (`platform,owner,pattern,source`), `providers.csv`
//! (`provider,kind,owner,domains,cname_suffixes,as_org_patterns,as_numbers,source`; the
//! `as_numbers` column may be absent in a user's file), `trackers.csv`
//! (`domain,owner,kind,source`).

use std::path::{Path, PathBuf};

use serde::Deserialize;

const MANUFACTURERS: &str = include_str!("../../rules/manufacturers.csv");
const PLATFORMS: &str = include_str!("../../rules/platforms.csv");
const PROVIDERS: &str = include_str!("../../rules/providers.csv");
const TRACKERS: &str = include_str!("../../rules/trackers.csv");

/// A rules file that cannot be used (configuration error).
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("cannot read rules file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("rules file {file}: {message}")]
    Invalid { file: String, message: String },
}

/// A device maker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manufacturer {
    pub name: String,
    /// Owner, when this is a brand or subsidiary of another manufacturer.
    pub parent: Option<String>,
    /// Lower-case alphanumeric tokens that identify it inside device names.
    pub aliases: Vec<String>,
    /// First-party registrable domains.
    pub domains: Vec<String>,
}

/// One hostname pattern of an IoT platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformRule {
    pub platform: String,
    pub owner: String,
    /// Whole-host glob; `*` matches any run of characters, dots included.
    pub pattern: String,
}

/// An infrastructure provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provider {
    pub name: String,
    pub kind: String,
    pub owner: String,
    pub domains: Vec<String>,
    pub cname_suffixes: Vec<String>,
    /// AS organisation names or handles, matched by whole words (see `party::as_org_matches`).
    pub as_org_patterns: Vec<String>,
    /// AS numbers the provider operates (matched before any name).
    pub as_numbers: Vec<u32>,
}

/// A tracking/analytics/advertising zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracker {
    pub domain: String,
    pub owner: String,
    pub kind: String,
}

/// All rules.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    pub manufacturers: Vec<Manufacturer>,
    pub platforms: Vec<PlatformRule>,
    pub providers: Vec<Provider>,
    pub trackers: Vec<Tracker>,
}

#[derive(Deserialize)]
struct ManufacturerRow {
    manufacturer: String,
    #[serde(default)]
    parent: String,
    #[serde(default)]
    aliases: String,
    #[serde(default)]
    domains: String,
}

#[derive(Deserialize)]
struct PlatformRow {
    platform: String,
    #[serde(default)]
    owner: String,
    pattern: String,
}

#[derive(Deserialize)]
struct ProviderRow {
    provider: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    owner: String,
    #[serde(default)]
    domains: String,
    #[serde(default)]
    cname_suffixes: String,
    #[serde(default)]
    as_org_patterns: String,
    #[serde(default)]
    as_numbers: String,
}

#[derive(Deserialize)]
struct TrackerRow {
    domain: String,
    #[serde(default)]
    owner: String,
    #[serde(default)]
    kind: String,
}

fn list(cell: &str) -> Vec<String> {
    cell.split(';')
        .map(|s| s.trim().trim_start_matches('.').to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect()
}

fn alnum(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn opt(s: String) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

fn parse<T: for<'de> Deserialize<'de>>(file: &str, text: &str) -> Result<Vec<T>, RulesError> {
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(text.as_bytes());
    rdr.deserialize()
        .enumerate()
        .map(|(i, r)| {
            r.map_err(|e| RulesError::Invalid {
                file: file.to_string(),
                message: format!("row {}: {e}", i + 2),
            })
        })
        .collect()
}

impl Rules {
    /// The rules shipped with iotdest.
    pub fn embedded() -> Result<Self, RulesError> {
        Self::from_texts(MANUFACTURERS, PLATFORMS, PROVIDERS, TRACKERS)
    }

    /// Embedded rules, with each file present in `dir` replacing its default.
    pub fn load(dir: Option<&Path>) -> Result<Self, RulesError> {
        let [m, p, v, t] = Self::texts(dir)?;
        Self::from_texts(&m.1, &p.1, &v.1, &t.1)
    }

    /// The four rule files' names and texts as `load` uses them: each file present in `dir`
    /// replaces its embedded default.
    pub fn texts(dir: Option<&Path>) -> Result<[(&'static str, String); 4], RulesError> {
        let defaults = [
            ("manufacturers.csv", MANUFACTURERS),
            ("platforms.csv", PLATFORMS),
            ("providers.csv", PROVIDERS),
            ("trackers.csv", TRACKERS),
        ];
        let Some(dir) = dir else {
            return Ok(defaults.map(|(n, t)| (n, t.to_string())));
        };
        if !dir.is_dir() {
            return Err(RulesError::Io {
                path: dir.to_path_buf(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "not a directory"),
            });
        }
        let mut out = defaults.map(|(n, t)| (n, t.to_string()));
        for (name, text) in out.iter_mut() {
            let p = dir.join(*name);
            if p.exists() {
                *text = std::fs::read_to_string(&p)
                    .map_err(|source| RulesError::Io { path: p, source })?;
            }
        }
        Ok(out)
    }

    /// Parses the four files' texts and checks references between them.
    pub fn from_texts(
        manufacturers: &str,
        platforms: &str,
        providers: &str,
        trackers: &str,
    ) -> Result<Self, RulesError> {
        let manufacturers: Vec<Manufacturer> =
            parse::<ManufacturerRow>("manufacturers.csv", manufacturers)?
                .into_iter()
                .map(|r| Manufacturer {
                    name: r.manufacturer.trim().to_string(),
                    parent: opt(r.parent),
                    aliases: r
                        .aliases
                        .split(';')
                        .map(alnum)
                        .filter(|a| !a.is_empty())
                        .collect(),
                    domains: list(&r.domains),
                })
                .collect();
        let platforms = parse::<PlatformRow>("platforms.csv", platforms)?
            .into_iter()
            .map(|r| PlatformRule {
                platform: r.platform,
                owner: r.owner,
                pattern: r.pattern.trim().to_ascii_lowercase(),
            })
            .collect();
        let providers = parse::<ProviderRow>("providers.csv", providers)?
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                let as_numbers = r
                    .as_numbers
                    .split(';')
                    .map(|s| s.trim().trim_start_matches("AS").trim_start_matches("as"))
                    .filter(|s| !s.is_empty())
                    .map(|s| {
                        s.parse::<u32>().map_err(|_| RulesError::Invalid {
                            file: "providers.csv".into(),
                            message: format!("row {}: AS number {s:?} is not a number", i + 2),
                        })
                    })
                    .collect::<Result<Vec<u32>, _>>()?;
                Ok(Provider {
                    name: r.provider,
                    kind: r.kind,
                    owner: r.owner,
                    domains: list(&r.domains),
                    cname_suffixes: list(&r.cname_suffixes),
                    as_org_patterns: list(&r.as_org_patterns),
                    as_numbers,
                })
            })
            .collect::<Result<Vec<_>, RulesError>>()?;
        let trackers = parse::<TrackerRow>("trackers.csv", trackers)?
            .into_iter()
            .map(|r| Tracker {
                domain: r.domain.trim().trim_start_matches('.').to_ascii_lowercase(),
                owner: r.owner,
                kind: r.kind,
            })
            .collect();
        let rules = Rules {
            manufacturers,
            platforms,
            providers,
            trackers,
        };
        rules.check()?;
        Ok(rules)
    }

    fn check(&self) -> Result<(), RulesError> {
        let invalid = |file: &str, message: String| {
            Err(RulesError::Invalid {
                file: file.into(),
                message,
            })
        };
        let mut names = std::collections::HashSet::new();
        for m in &self.manufacturers {
            if m.name.is_empty() {
                return invalid("manufacturers.csv", "empty manufacturer name".into());
            }
            if !names.insert(m.name.to_ascii_lowercase()) {
                return invalid(
                    "manufacturers.csv",
                    format!("manufacturer {:?} listed twice", m.name),
                );
            }
        }
        for m in &self.manufacturers {
            if let Some(p) = &m.parent {
                if !names.contains(&p.to_ascii_lowercase()) {
                    return invalid(
                        "manufacturers.csv",
                        format!("{:?} has unknown parent {p:?}", m.name),
                    );
                }
            }
        }
        for p in &self.platforms {
            if p.pattern.is_empty() || p.platform.trim().is_empty() {
                return invalid(
                    "platforms.csv",
                    format!("platform row {:?} lacks a name or pattern", p.platform),
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_rules_load_and_meet_the_minimums() {
        let r = Rules::embedded().unwrap();
        assert!(r.manufacturers.len() >= 40, "{}", r.manufacturers.len());
        let platforms: std::collections::BTreeSet<_> =
            r.platforms.iter().map(|p| &p.platform).collect();
        assert!(platforms.len() >= 20, "{}", platforms.len());
        assert!(r.providers.len() >= 30, "{}", r.providers.len());
        assert!(!r.trackers.is_empty());
        assert!(r.manufacturers.iter().all(|m| !m.aliases.is_empty()));
    }

    #[test]
    fn bad_files_are_clear_errors() {
        let err = Rules::from_texts(
            "manufacturer,parent,aliases,domains,source\nA,Nobody,a,a.com,x\n",
            "platform,owner,pattern,source\n",
            "provider,kind,owner,domains,cname_suffixes,as_org_patterns,source\n",
            "domain,owner,kind,source\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown parent"));
        let err = Rules::from_texts("manufacturer,parent\nA\n", "", "", "").unwrap_err();
        assert!(err.to_string().contains("manufacturers.csv"));
    }
}
