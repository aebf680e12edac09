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
    /// The capture's identity in its device-month (the `capture` column of every table): the
    /// file name, or, when several inputs of the device-month share it, the shortest ending of
    /// their paths that tells them apart (`a/input.pcap`, `b/input.pcap`).
    pub capture: String,
    /// Why the capture cannot be dated, when it cannot: it is not read, and its `captures` row
    /// goes to the device's month `0000-00` with status `undated` (or `failed` for a listed
    /// file that does not exist).
    pub undated: Option<String>,
}

/// Year and month of the partition that holds undatable captures' rows.
pub const UNDATED: (i32, u32) = (0, 0);

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
        if !opts.devices.is_empty() && device.is_none() && !opts.devices.contains(&dev) {
            continue;
        }
        if !path.is_file() {
            undated(path, dev, opts, &mut out, "listed file does not exist");
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
                return undated(
                    path,
                    device,
                    opts,
                    out,
                    "file name does not parse and the capture has no packet to date it by",
                )
            }
            Err(e) => {
                return undated(
                    path,
                    device,
                    opts,
                    out,
                    &format!("cannot date by first packet: {e}"),
                )
            }
        },
        None => {
            return undated(
                path,
                device,
                opts,
                out,
                "file name is not YYYY-MM-DD_HH.MM.SS_<ip>.pcap (use --date-from-packets)",
            )
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
        capture: name,
        undated: None,
    });
}

/// An input that cannot be dated: kept (its `captures` row says why), unless month filters
/// are given (it is in none of them).
fn undated(path: PathBuf, device: String, opts: &DiscoverOptions, out: &mut Discovery, why: &str) {
    if !opts.years.is_empty() || !opts.months.is_empty() {
        return;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    out.captures.push(CaptureFile {
        path,
        device,
        name_ts: None,
        device_ip: None,
        year: UNDATED.0,
        month: UNDATED.1,
        rotation: 0,
        capture: name,
        undated: Some(why.to_string()),
    });
}

fn finish(out: &mut Discovery) {
    out.captures.sort_by(|a, b| {
        (&a.device, a.year, a.month, a.name_ts, a.rotation, &a.path)
            .cmp(&(&b.device, b.year, b.month, b.name_ts, b.rotation, &b.path))
    });
    out.captures
        .dedup_by(|a, b| a.path == b.path && a.device == b.device);
    // Capture identities: unique within each device-month (sorted above, so groups are runs).
    let mut start = 0;
    while start < out.captures.len() {
        let c = &out.captures[start];
        let key = (c.device.clone(), c.year, c.month);
        let end = start
            + out.captures[start..]
                .iter()
                .take_while(|c| (c.device.clone(), c.year, c.month) == key)
                .count();
        let ids = capture_ids(&out.captures[start..end]);
        for (c, id) in out.captures[start..end].iter_mut().zip(ids) {
            c.capture = id;
        }
        start = end;
    }
}

/// The capture ids of one device-month's inputs: the file name, or for names that repeat, the
/// shortest path ending (in `/`-joined components) that is unique among the files sharing it.
fn capture_ids(files: &[CaptureFile]) -> Vec<String> {
    let name = |c: &CaptureFile| {
        c.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let names: Vec<String> = files.iter().map(name).collect();
    let ending = |c: &CaptureFile, k: usize| {
        let parts: Vec<String> = c
            .path
            .components()
            .map(|p| p.as_os_str().to_string_lossy().into_owned())
            .collect();
        parts[parts.len().saturating_sub(k)..].join("/")
    };
    let mut ids = names.clone();
    for (i, n) in names.iter().enumerate() {
        let same: Vec<usize> = (0..files.len()).filter(|&j| &names[j] == n).collect();
        if same.len() < 2 {
            continue;
        }
        let depth = files[i].path.components().count();
        for k in 2..=depth.max(2) {
            let mine = ending(&files[i], k);
            if same
                .iter()
                .filter(|&&j| j != i)
                .all(|&j| ending(&files[j], k) != mine)
            {
                ids[i] = mine;
                break;
            }
            ids[i] = files[i].path.to_string_lossy().into_owned();
        }
    }
    ids
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

    fn file(path: &str) -> CaptureFile {
        CaptureFile {
            path: PathBuf::from(path),
            device: "d".into(),
            name_ts: None,
            device_ip: None,
            year: 2024,
            month: 1,
            rotation: 0,
            capture: String::new(),
            undated: None,
        }
    }

    #[test]
    fn capture_ids_are_unique_in_a_month() {
        let files = [
            file("/x/a/input.pcap"),
            file("/x/b/input.pcap"),
            file("/y/a/input.pcap"),
            file("/x/c/other.pcap"),
        ];
        assert_eq!(
            capture_ids(&files),
            [
                "x/a/input.pcap",
                "b/input.pcap",
                "y/a/input.pcap",
                "other.pcap"
            ]
        );
    }

    #[test]
    fn undatable_inputs_are_kept_in_month_zero() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a").join("dev").join("ctrl2");
        let b = dir.path().join("b").join("dev").join("ctrl2");
        fs::create_dir_all(&a).unwrap();
        fs::create_dir_all(&b).unwrap();
        fs::write(a.join("input.pcap"), b"").unwrap();
        fs::write(b.join("input.pcap"), b"not a capture").unwrap();
        let list = dir.path().join("list.txt");
        fs::write(
            &list,
            format!(
                "{}\n{}\n{}\n",
                a.join("input.pcap").display(),
                b.join("input.pcap").display(),
                a.join("missing.pcap").display()
            ),
        )
        .unwrap();
        let opts = DiscoverOptions {
            date_from_packets: true,
            ..Default::default()
        };
        let d = discover_list(&list, None, &opts).unwrap();
        assert!(d.skipped.is_empty());
        assert_eq!(d.captures.len(), 3);
        assert!(d
            .captures
            .iter()
            .all(|c| (c.year, c.month) == UNDATED && c.undated.is_some()));
        let ids: Vec<&str> = d.captures.iter().map(|c| c.capture.as_str()).collect();
        assert!(ids.contains(&"missing.pcap"), "{ids:?}");
        assert!(
            ids.iter().any(|i| i.ends_with("a/dev/ctrl2/input.pcap")),
            "{ids:?}"
        );
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
        // garbage.pcap cannot be dated: with a year filter it is in none of them.
        assert_eq!(d.captures.len(), 2);
        assert!(d.captures[0]
            .path
            .ends_with("2025-07-01_10.00.00_192.168.1.5.pcap"));
        assert!(d.skipped.is_empty());
        let all = discover_root(
            dir.path(),
            &DiscoverOptions {
                experiment: "ctrl2".into(),
                ..Default::default()
            },
        )
        .unwrap();
        let undated: Vec<_> = all
            .captures
            .iter()
            .filter(|c| c.undated.is_some())
            .collect();
        assert_eq!(undated.len(), 1);
        assert_eq!(undated[0].capture, "garbage.pcap");
        assert_eq!((undated[0].year, undated[0].month), UNDATED);
        let bad = DiscoverOptions {
            devices: vec!["nope".into()],
            ..opts
        };
        assert!(discover_root(dir.path(), &bad).is_err());
    }
}
