//! `benches/compare.sh` runs end to end on a few bundled captures and prints its table. It
//! measures only: nothing here looks at the times.

use std::process::Command;

use super::common::{bin, root};

#[test]
fn comparison_script_completes_and_prints_its_table() {
    let out = Command::new("bash")
        .current_dir(root())
        .arg("benches/compare.sh")
        .arg("data-samples/captures")
        .args(["--runs", "1", "--tshark-runs", "1", "--limit", "3", "--bin"])
        .arg(bin())
        .output()
        .expect("run bash");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "set: data-samples/captures: 3 files",
        "cat > /dev/null (warm)",
        "iotdest extract --threads 1",
        "iotdest extract --threads 2",
        "ratio iotdest (--threads 2)/cat:",
        "ratio --threads 2/--threads 1:",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    // tshark's row when it is installed (CI installs it), a notice otherwise.
    assert!(
        text.contains("tshark x3 (legacy)") || text.contains("legacy comparison skipped"),
        "{text}"
    );
    println!("{text}");
}

/// `benches/analysis.sh` runs end to end (on a copy of the samples: it touches a capture) and
/// prints every row of its table. Skipped with a notice without GNU time.
#[test]
fn analysis_script_completes_and_prints_its_table() {
    if !std::path::Path::new("/usr/bin/time").exists() {
        eprintln!("analysis script test skipped: /usr/bin/time (GNU time) is not installed");
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let captures = tmp.path().join("captures");
    let status = Command::new("cp")
        .arg("-r")
        .arg(root().join("data-samples").join("captures"))
        .arg(&captures)
        .status()
        .expect("cp");
    assert!(status.success());
    let out = Command::new("bash")
        .current_dir(root())
        .env("TMPDIR", tmp.path())
        .arg("benches/analysis.sh")
        .arg(&captures)
        .args(["--runs", "1", "--bin"])
        .arg(bin())
        .output()
        .expect("run bash");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "| x1: analyze (every month)",
        "| x4: analyze (nothing changed)",
        "| x4: export-legacy",
        "| one device-year",
        "| x4: run (first)",
        "| x4: run after touching",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    println!("{text}");
}
