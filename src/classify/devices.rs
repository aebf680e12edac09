//! Device → manufacturer, and a device's user-supplied first-party suffixes.
//!
//! The manufacturer comes from a devices file (`device,manufacturer` CSV), else from the device
//! name matched against manufacturer aliases (`sonos_speaker` → Sonos), else from a default
//! (`--manufacturer`). A legacy `<dir>/<device>/first_party_domains.txt` (one suffix a line,
//! `#` comments) adds First-party suffixes for that device.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::party::{Classifier, DeviceContext};

/// A devices or first-party file that cannot be used (configuration error).
#[derive(Debug, thiserror::Error)]
pub enum DevicesError {
    #[error("cannot read {path}: {message}")]
    Read { path: PathBuf, message: String },
}

/// How devices are tied to manufacturers.
pub struct Devices {
    classifier: Classifier,
    explicit: HashMap<String, usize>,
    default: Option<usize>,
    first_party_dir: Option<PathBuf>,
    cache: Mutex<HashMap<String, DeviceContext>>,
}

/// Reads `first_party_domains.txt` suffixes.
pub fn read_suffix_file(path: &Path) -> Result<Vec<String>, std::io::Error> {
    let text = std::fs::read_to_string(path)?;
    Ok(text
        .lines()
        .map(|l| {
            l.split('#')
                .next()
                .unwrap_or("")
                .trim()
                .trim_start_matches("*.")
                .trim_start_matches('.')
                .to_ascii_lowercase()
        })
        .filter(|l| !l.is_empty())
        .collect())
}

impl Devices {
    pub fn new(
        mut classifier: Classifier,
        devices_file: Option<&Path>,
        default_manufacturer: Option<&str>,
        first_party_dir: Option<&Path>,
    ) -> Result<Self, DevicesError> {
        let mut explicit = HashMap::new();
        if let Some(path) = devices_file {
            let read_err = |message: String| DevicesError::Read {
                path: path.to_path_buf(),
                message,
            };
            let mut rdr = csv::ReaderBuilder::new()
                .trim(csv::Trim::All)
                .from_path(path)
                .map_err(|e| read_err(e.to_string()))?;
            let headers = rdr.headers().map_err(|e| read_err(e.to_string()))?.clone();
            let col = |n: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(n));
            let (Some(d), Some(m)) = (col("device"), col("manufacturer")) else {
                return Err(read_err("needs the columns device,manufacturer".into()));
            };
            for rec in rdr.records() {
                let rec = rec.map_err(|e| read_err(e.to_string()))?;
                let (device, name) = (rec.get(d).unwrap_or(""), rec.get(m).unwrap_or(""));
                if device.is_empty() || name.is_empty() {
                    continue;
                }
                // A maker the rules do not know is added (no domains of its own):
                // `first-party-name` and every other rule still apply to it.
                let i = classifier.ensure_manufacturer(name);
                explicit.insert(device.to_string(), i);
            }
        }
        let default = default_manufacturer
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(|n| classifier.ensure_manufacturer(n));
        Ok(Devices {
            classifier,
            explicit,
            default,
            first_party_dir: first_party_dir.map(Path::to_path_buf),
            cache: Mutex::new(HashMap::new()),
        })
    }

    pub fn classifier(&self) -> &Classifier {
        &self.classifier
    }

    /// The device's manufacturer index and how it was found (`devices-file`, `name`, `default`).
    pub fn manufacturer(&self, device: &str) -> Option<(usize, &'static str)> {
        if let Some(&i) = self.explicit.get(device) {
            return Some((i, "devices-file"));
        }
        if let Some(i) = self.classifier.manufacturer_from_device(device) {
            return Some((i, "name"));
        }
        self.default.map(|i| (i, "default"))
    }

    /// Everything the classifier needs about `device` (cached).
    pub fn context(&self, device: &str) -> DeviceContext {
        if let Ok(cache) = self.cache.lock() {
            if let Some(c) = cache.get(device) {
                return c.clone();
            }
        }
        let first_party_suffixes = self
            .first_party_dir
            .as_ref()
            .map(|d| d.join(device).join("first_party_domains.txt"))
            .filter(|p| p.is_file())
            .and_then(|p| read_suffix_file(&p).ok())
            .unwrap_or_default();
        let ctx = DeviceContext {
            manufacturer: self.manufacturer(device).map(|(i, _)| i),
            first_party_suffixes,
        };
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(device.to_string(), ctx.clone());
        }
        ctx
    }
}

impl crate::classify::party::HasDevices for Devices {
    fn classifier(&self) -> &Classifier {
        Devices::classifier(self)
    }
    fn context(&self, device: &str) -> DeviceContext {
        Devices::context(self, device)
    }
}
