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
