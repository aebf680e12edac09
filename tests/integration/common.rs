//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::Command;

use iotdest::extract::{extract_capture, CaptureOutput, ExtractLimits};
use iotdest::ingest::discover::CaptureFile;
use iotdest::ingest::name::parse_capture_name;

/// The project root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared/corpus`, when present.
pub fn corpus() -> Option<PathBuf> {
    let p = root().join("..").join("shared").join("corpus");
    p.is_dir().then_some(p)
}

/// True when `tshark` runs here.
pub fn have_tshark() -> bool {
    Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The built binary.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_iotdest"))
}

/// Every capture file under `dir` (recursively), sorted.
pub fn captures_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.contains(".pcap"))
            {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Extracts one file in-process, as `extract` would.
pub fn extract_file(path: &Path) -> CaptureOutput {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let parsed = parse_capture_name(name);
    let file = CaptureFile {
        path: path.to_path_buf(),
        device: "test".into(),
        name_ts: parsed.as_ref().map(|p| p.ts_us),
        device_ip: parsed.as_ref().and_then(|p| p.device_ip),
        year: parsed.as_ref().map_or(1970, |p| p.year),
        month: parsed.as_ref().map_or(1, |p| p.month),
        rotation: 0,
        capture: name.to_string(),
        undated: None,
    };
    extract_capture(&file, ExtractLimits::default())
}

/// Runs `f` over `items` on two threads, keeping order.
pub fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let mid = items.len() / 2;
    let (a, b) = items.split_at(mid);
    std::thread::scope(|s| {
        let h = s.spawn(|| a.iter().map(&f).collect::<Vec<_>>());
        let mut rb: Vec<R> = b.iter().map(&f).collect();
        let mut ra = h.join().expect("worker panicked");
        ra.append(&mut rb);
        ra
    })
}

/// Writes a classic little-endian µs Ethernet pcap.
pub fn write_pcap(path: &Path, packets: &[(i64, Vec<u8>)]) {
    let mut out = Vec::new();
    for v in [0xa1b2_c3d4u32] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    for (ts, data) in packets {
        out.extend_from_slice(&((ts / 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&((ts % 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(data);
    }
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).expect("mkdir");
    }
    std::fs::write(path, out).expect("write pcap");
}

/// An Ethernet/IPv4/UDP frame.
pub fn udp_frame(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16, payload: &[u8]) -> Vec<u8> {
    let b = etherparse::PacketBuilder::ethernet2([2; 6], [4; 6])
        .ipv4(src, dst, 64)
        .udp(sport, dport);
    let mut out = Vec::new();
    b.write(&mut out, payload).expect("build frame");
    out
}

/// A DNS response for `name` A → `ip`.
pub fn dns_a_response(id: u16, name: &str, ip: [u8; 4]) -> Vec<u8> {
    let mut m = id.to_be_bytes().to_vec();
    m.extend_from_slice(&[0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
    for label in name.split('.') {
        m.push(label.len() as u8);
        m.extend_from_slice(label.as_bytes());
    }
    m.extend_from_slice(&[0, 0, 1, 0, 1, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
    m.extend_from_slice(&ip);
    m
}

/// Runs the binary; returns (exit code, stderr).
pub fn run_bin(args: &[&std::ffi::OsStr]) -> (Option<i32>, String) {
    let out = Command::new(bin())
        .args(args)
        .output()
        .expect("run iotdest");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
