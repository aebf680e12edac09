//! Partition keys and their paths: `<table>/device=<d>/year=<YYYY>/month=<MM>`.
//!
//! Values are percent-encoded (everything but ASCII letters, digits, `-` and `_`, plus a `.` that
//! is not leading) so that no device name can leave its folder or fake another key.

use std::path::{Path, PathBuf};

/// One device-month.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartitionKey {
    pub device: String,
    pub year: i32,
    pub month: u32,
}

/// Percent-encodes a partition value for use as one path component.
pub fn encode_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for (i, b) in v.bytes().enumerate() {
        let keep = b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || (b == b'.' && i > 0);
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.is_empty() {
        out.push_str("%00");
    }
    out
}

/// Decodes [`encode_value`] (invalid escapes are kept as they are).
pub fn decode_value(v: &str) -> String {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 3 <= b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl PartitionKey {
    /// Folder of this partition under a table folder.
    pub fn rel_dir(&self) -> PathBuf {
        Path::new(&format!("device={}", encode_value(&self.device)))
            .join(format!("year={:04}", self.year))
            .join(format!("month={:02}", self.month))
    }

    /// `device=<d>/year=<YYYY>/month=<MM>`, `/`-separated (for object keys and URLs).
    pub fn rel(&self) -> String {
        format!(
            "device={}/year={:04}/month={:02}",
            encode_value(&self.device),
            self.year,
            self.month
        )
    }

    /// This partition of `table` at a dataset location.
    pub fn at(&self, dataset: &super::Location, table: &str) -> super::Location {
        dataset.join(table).join(self.rel())
    }

    /// Folder of this partition of `table` under `dataset`.
    pub fn dir(&self, dataset: &Path, table: &str) -> PathBuf {
        dataset.join(table).join(self.rel_dir())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_confined() {
        for d in ["..", "../x", "a/b", "a=b", "x\ny", ".hidden", "", "é"] {
            let e = encode_value(d);
            assert!(
                !e.contains('/') && !e.contains('=') && !e.starts_with('.') && !e.is_empty(),
                "{d:?} -> {e}"
            );
            assert_eq!(
                decode_value(&e),
                if d.is_empty() {
                    "\0".to_string()
                } else {
                    d.to_string()
                }
            );
        }
        let k = PartitionKey {
            device: "sonos_speaker".into(),
            year: 2025,
            month: 7,
        };
        assert_eq!(
            k.rel_dir(),
            PathBuf::from("device=sonos_speaker/year=2025/month=07")
        );
    }
}
