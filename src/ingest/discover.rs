//! Finding capture files: the `<root>/<device>/<experiment>/<file>` layout, or a legacy input
//! list (one path a line, `#` comments). Results are sorted so that every run sees the same order.

use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use super::name::{parse_capture_name, year_month_of_us};
use super::reader::first_packet_ts;

/// One capture to extract, with the partition it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureFile {
    pub path: PathBuf,
    pub device: String,
    /// Capture start from the file name (µs since epoch, UTC), when the name parses.
    pub name_ts: Option<i64>,
    /// Device address from the file name.
    pub device_ip: Option<IpAddr>,
    pub year: i32,
    pub month: u32,
    /// Rotation number from a tcpdump `-C` name (`…pcap2` → 2).
    pub rotation: u32,
}

/// A file that was found but cannot be used, with the reason (reported, the run goes on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: String,
}

/// What to look for.
#[derive(Debug, Clone, Default)]
pub struct DiscoverOptions {
    /// Only these devices (all when empty).
    pub devices: Vec<String>,
    /// Only these years (all when empty).
    pub years: Vec<i32>,
    /// Only these (year, month) pairs (all when empty).
    pub months: Vec<(i32, u32)>,
    /// Experiment folder under each device (`ctrl2`).
    pub experiment: String,
    /// Date files whose names do not parse by their first packet.
    pub date_from_packets: bool,
}

/// Everything discovery found.
#[derive(Debug, Default)]
pub struct Discovery {
    pub captures: Vec<CaptureFile>,
    pub skipped: Vec<Skipped>,
}

/// Configuration errors (fatal: the run cannot start).
#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

fn looks_like_capture(name: &str) -> bool {
    let stem = name.strip_suffix(".gz").unwrap_or(name);
    match stem.rfind(".pcap") {
        Some(i) => {
            let ext = &stem[i + 5..];
            let digits = ext.strip_prefix("ng").unwrap_or(ext);
            digits.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

/// Walks `<root>/<device>/<experiment>/`.
pub fn discover_root(root: &Path, opts: &DiscoverOptions) -> Result<Discovery, DiscoverError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| DiscoverError::Io { path, source }
    };
    let meta = fs::metadata(root).map_err(io(root))?;
    if !meta.is_dir() {
        return Err(DiscoverError::Invalid(format!(
            "--root {} is not a directory",
            root.display()
        )));
    }
    let mut devices: Vec<(String, PathBuf)> = Vec::new();
    for entry in fs::read_dir(root).map_err(io(root))? {
        let entry = entry.map_err(io(root))?;
        // Device names that are not UTF-8 are kept (lossily); partition paths encode them.
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || !entry.path().is_dir() {
            continue;
        }
        if !opts.devices.is_empty() && !opts.devices.iter().any(|d| d == &name) {
            continue;
        }
        devices.push((name, entry.path()));
    }
    devices.sort();
    for wanted in &opts.devices {
        if !devices.iter().any(|(d, _)| d == wanted) {
            return Err(DiscoverError::Invalid(format!(
                "device {wanted:?} not found under {}",
                root.display()
            )));
        }
    }
    let mut out = Discovery::default();
    for (device, dir) in devices {
        let exp = dir.join(&opts.experiment);
        if !exp.is_dir() {
            continue;
        }
        let mut files = Vec::new();
        for entry in fs::read_dir(&exp).map_err(io(&exp))? {
            let entry = entry.map_err(io(&exp))?;
            if entry.path().is_file() {
                files.push(entry.path());
            }
        }
        files.sort();
        for path in files {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if !looks_like_capture(&name) {
                continue;
            }
            classify(path, device.clone(), opts, &mut out);
        }
    }
    finish(&mut out);
    Ok(out)
}

/// Reads a legacy input list. The device is `device` when given, else the folder two levels
/// above each file (`…/<device>/<experiment>/<file>`).
pub fn discover_list(
    list: &Path,
    device: Option<&str>,
    opts: &DiscoverOptions,
) -> Result<Discovery, DiscoverError> {
    let text = fs::read_to_string(list).map_err(|source| DiscoverError::Io {
        path: list.to_path_buf(),
        source,
    })?;
    let base = list.parent().unwrap_or(Path::new("."));
    let mut out = Discovery::default();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut path = PathBuf::from(line);
        if path.is_relative() && !path.exists() {
            path = base.join(path);
        }
        let dev = match device {
            Some(d) => d.to_string(),
            None => match path
                .parent()
                .and_then(Path::parent)
                .and_then(Path::file_name)
            {
                Some(d) => d.to_string_lossy().into_owned(),
                None => {
                    out.skipped.push(Skipped {
                        path,
                        reason: "cannot tell the device from the path; pass --device".into(),
                    });
                    continue;
                }
            },
        };
        if !path.is_file() {
            out.skipped.push(Skipped {
                path,
                reason: "listed file does not exist".into(),
            });
            continue;
        }
        if !opts.devices.is_empty() && device.is_none() && !opts.devices.contains(&dev) {
            continue;
        }
        classify(path, dev, opts, &mut out);
    }
    finish(&mut out);
    Ok(out)
}

fn classify(path: PathBuf, device: String, opts: &DiscoverOptions, out: &mut Discovery) {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (name_ts, device_ip, rotation, year, month) = match parse_capture_name(&name) {
        Some(p) => (Some(p.ts_us), p.device_ip, p.rotation, p.year, p.month),
        None if opts.date_from_packets => match first_packet_ts(&path) {
            Ok(Some(ts)) => {
                let (y, m) = year_month_of_us(ts);
                (None, None, 0, y, m)
            }
            Ok(None) => {
                out.skipped.push(Skipped {
                    path,
                    reason: "file name does not parse and the capture has no packet to date it by"
                        .into(),
                });
                return;
            }
            Err(e) => {
                out.skipped.push(Skipped {
                    path,
                    reason: format!("cannot date by first packet: {e}"),
                });
                return;
            }
        },
        None => {
            out.skipped.push(Skipped {
                path,
                reason: "file name is not YYYY-MM-DD_HH.MM.SS_<ip>.pcap (use --date-from-packets)"
                    .into(),
            });
            return;
        }
    };
    if !opts.years.is_empty() && !opts.years.contains(&year) {
        return;
    }
    if !opts.months.is_empty() && !opts.months.contains(&(year, month)) {
        return;
    }
    out.captures.push(CaptureFile {
        path,
        device,
        name_ts,
        device_ip,
        year,
        month,
        rotation,
    });
}

fn finish(out: &mut Discovery) {
    out.captures.sort_by(|a, b| {
        (&a.device, a.year, a.month, a.name_ts, a.rotation, &a.path)
            .cmp(&(&b.device, b.year, b.month, b.name_ts, b.rotation, &b.path))
    });
    out.captures
        .dedup_by(|a, b| a.path == b.path && a.device == b.device);
}

/// Parses `YYYY-MM` as given to `--months`.
pub fn parse_year_month(s: &str) -> Result<(i32, u32), String> {
    let (y, m) = s
        .split_once('-')
        .ok_or_else(|| format!("{s:?} is not YYYY-MM"))?;
    let y: i32 = y.parse().map_err(|_| format!("{s:?} is not YYYY-MM"))?;
    let m: u32 = m.parse().map_err(|_| format!("{s:?} is not YYYY-MM"))?;
    if y.to_string().len() != 4 || !(1..=12).contains(&m) {
        return Err(format!("{s:?} is not YYYY-MM"));
    }
    Ok((y, m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_like_names() {
        assert!(looks_like_capture("a.pcap"));
        assert!(looks_like_capture("a.pcap12"));
        assert!(looks_like_capture("a.pcapng.gz"));
        assert!(!looks_like_capture("a.pcap.txt"));
        assert!(!looks_like_capture("notes.md"));
    }

    #[test]
    fn year_month_flag() {
        assert_eq!(parse_year_month("2025-07"), Ok((2025, 7)));
        assert!(parse_year_month("2025-13").is_err());
        assert!(parse_year_month("25-01").is_err());
    }

    #[test]
    fn walks_layout_and_reports_bad_names() {
        let dir = tempfile::tempdir().unwrap();
        let exp = dir.path().join("plug").join("ctrl2");
        fs::create_dir_all(&exp).unwrap();
        fs::write(exp.join("2025-07-02_10.00.00_192.168.1.5.pcap"), b"x").unwrap();
        fs::write(exp.join("2025-07-01_10.00.00_192.168.1.5.pcap"), b"x").unwrap();
        fs::write(exp.join("2024-01-01_10.00.00_192.168.1.5.pcap"), b"x").unwrap();
        fs::write(exp.join("garbage.pcap"), b"x").unwrap();
        fs::write(exp.join("README"), b"x").unwrap();
        let opts = DiscoverOptions {
            experiment: "ctrl2".into(),
            years: vec![2025],
            ..Default::default()
        };
        let d = discover_root(dir.path(), &opts).unwrap();
        assert_eq!(d.captures.len(), 2);
        assert!(d.captures[0]
            .path
            .ends_with("2025-07-01_10.00.00_192.168.1.5.pcap"));
        assert_eq!(d.skipped.len(), 1);
        let bad = DiscoverOptions {
            devices: vec!["nope".into()],
            ..opts
        };
        assert!(discover_root(dir.path(), &bad).is_err());
    }
}
