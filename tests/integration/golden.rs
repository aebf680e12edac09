//! Golden end-to-end test over `data-samples/`: `iotdest extract` on the bundled captures must
//! give exactly the decoded rows in `data-samples/expected/raw.txt`, with one thread or two, and
//! with every capture split across threads by flow.
//! Set `IOTDEST_BLESS=1` to rewrite the expected file after a deliberate change.

use std::process::Command;

use super::common::{bin, root};
use super::dataset::dump_dataset;

fn extract(threads: &str, out: &std::path::Path) -> String {
    extract_with(&["--threads", threads], out)
}

fn extract_with(args: &[&str], out: &std::path::Path) -> String {
    let captures = root().join("data-samples").join("captures");
    let status = Command::new(bin())
        .args(["extract", "--root"])
        .arg(&captures)
        .arg("--out")
        .arg(out)
        .args(args)
        .status()
        .expect("run iotdest");
    assert_eq!(status.code(), Some(0), "extract failed");
    dump_dataset(out, &captures)
}

#[test]
fn data_samples_match_expected_rows_for_any_thread_count() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let one = extract("1", &tmp.path().join("t1"));
    let two = extract("2", &tmp.path().join("t2"));
    assert!(
        one == two,
        "--threads 1 and --threads 2 give different rows"
    );
    // Every capture split across three threads by flow: the same rows.
    let split = extract_with(
        &["--threads", "3", "--split-at", "0"],
        &tmp.path().join("t3"),
    );
    assert!(one == split, "captures split by flow give different rows");
    // Extracting again into the same dataset replaces months, never duplicates rows.
    let again = extract("2", &tmp.path().join("t1"));
    assert!(one == again, "re-extracting changed the rows");
    let expected_path = root().join("data-samples").join("expected").join("raw.txt");
    if std::env::var_os("IOTDEST_BLESS").is_some() {
        std::fs::create_dir_all(expected_path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&expected_path, &one).expect("write expected");
    }
    let expected = std::fs::read_to_string(&expected_path)
        .expect("data-samples/expected/raw.txt exists (IOTDEST_BLESS=1 writes it)");
    if one != expected {
        let diff: Vec<String> = one
            .lines()
            .zip(expected.lines())
            .filter(|(a, b)| a != b)
            .take(5)
            .map(|(a, b)| format!("got:      {a}\nexpected: {b}"))
            .collect();
        panic!(
            "rows differ from data-samples/expected/raw.txt ({} vs {} lines); first differences:\n{}",
            one.lines().count(),
            expected.lines().count(),
            diff.join("\n")
        );
    }
    // The sample set exercises what it is meant to.
    for needle in [
        "transport=tcp",
        "rr_type=CNAME",
        "rr_type=AAAA",
        "protocol=tls",
        "rcode=NXDOMAIN",
        "format=pcapng",
        "format=pcap+gzip",
        "format=pcap-ns",
    ] {
        assert!(one.contains(needle), "data-samples output lacks {needle}");
    }
}

/// Golden analysis: `iotdest analyze` over the sample dataset must give exactly the rows in
/// `data-samples/expected/analysis.txt` (built-in rules, no databases).
#[test]
fn data_samples_analysis_matches_expected() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ds = tmp.path().join("ds");
    extract("2", &ds);
    let status = Command::new(bin())
        .args(["analyze", "--dataset"])
        .arg(&ds)
        .arg("--first-party-dir")
        .arg(tmp.path().join("none"))
        .status()
        .expect("run iotdest");
    assert_eq!(status.code(), Some(0), "analyze failed");
    let mut got = String::new();
    for table in iotdest::query::analyze::ANALYSIS_TABLES {
        got.push_str(&format!("## {table}\n"));
        for line in super::dataset::dump_table(&ds.join("analysis"), table, &[]) {
            got.push_str(&line);
            got.push('\n');
        }
    }
    let expected_path = root()
        .join("data-samples")
        .join("expected")
        .join("analysis.txt");
    if std::env::var_os("IOTDEST_BLESS").is_some() {
        std::fs::write(&expected_path, &got).expect("write expected");
    }
    let expected = std::fs::read_to_string(&expected_path)
        .expect("data-samples/expected/analysis.txt exists (IOTDEST_BLESS=1 writes it)");
    if got != expected {
        let diff: Vec<String> = got
            .lines()
            .zip(expected.lines())
            .filter(|(a, b)| a != b)
            .take(5)
            .map(|(a, b)| format!("got:      {a}\nexpected: {b}"))
            .collect();
        panic!(
            "analysis differs from expected ({} vs {} lines):\n{}",
            got.lines().count(),
            expected.lines().count(),
            diff.join("\n")
        );
    }
    for needle in [
        "method=sni",
        "method=dns",
        "category=First-party",
        "category=Platform-party",
        "category=Support-party",
        "category=Third-party",
        "platform=AWS IoT Core",
    ] {
        assert!(got.contains(needle), "sample analysis lacks {needle}");
    }
}
