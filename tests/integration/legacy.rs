//! Legacy layout and drop-in commands: `run` on the bundled samples produces the whole tree;
//! the drop-ins (`domains`, `map_ips`, `party`) write the same bytes as `export-legacy` for the
//! same input; `compare_domains` and `init-empty-ip-maps` behave like the scripts; and the real
//! Python readers (json, pickle, csv, pandas; polars, pyarrow, datafusion) read everything.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::common::{bin, root, run_bin};

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// A Python with the packages the compatibility checks need, or None (with a notice).
fn python() -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(p) = std::env::var_os("IOTDEST_PYTHON") {
        candidates.push(PathBuf::from(p));
    }
    if let Some(home) = std::env::var_os("HOME") {
        candidates.push(PathBuf::from(home).join(".cache/iotdest-venv/bin/python"));
    }
    candidates.push(PathBuf::from("python3"));
    for p in candidates {
        let ok = Command::new(&p)
            .args(["-c", "import pandas, polars, pyarrow, datafusion"])
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return Some(p);
        }
    }
    eprintln!("NOTICE: no Python with pandas, polars, pyarrow and datafusion (CI installs them); reader-compatibility checks skipped");
    None
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

/// `iotdest run` in a copy of the repository layout (cwd with data-samples/captures).
fn run_in(dir: &Path) -> PathBuf {
    let out = Command::new(bin())
        .arg("run")
        .current_dir(dir)
        .output()
        .expect("run iotdest run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir.join("iotdest-out")
}

#[test]
fn run_writes_full_tree_and_real_readers_read_it() {
    let tmp = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(root().join("data-samples"), tmp.path().join("data-samples"))
        .unwrap();
    let out = run_in(tmp.path());
    let legacy = out.join("analysis_longitudinal");
    let files = files_under(&legacy);
    let months = files
        .iter()
        .filter(|f| f.ends_with("domain_list/unique_domains.json"))
        .count();
    assert_eq!(months, 15, "5 devices × 3 months");
    for kind in [
        "domain_list/unique_domains.json",
        "domain_list/unique_slds.json",
        "domain_list/contacted_domains.json",
        "domain_list/contacted_slds.json",
        "domain_list/ip_domain_map.pkl",
        "domain_list/ip_sld_map.pkl",
        "ip_list/all_ips.json",
        "ip_list/_untranslated_ip_stats.csv",
        "ip_list/ip_domain_map.pkl",
        "platform_analysis/platforms_detected.json",
    ] {
        assert_eq!(
            files
                .iter()
                .filter(|f| f.to_string_lossy().ends_with(kind))
                .count(),
            15,
            "{kind}"
        );
    }
    assert!(legacy
        .join("sonos_speaker")
        .join("categorized_domains_Nov_2024.csv")
        .is_file());
    assert!(legacy
        .join("tplink_plug")
        .join("2025")
        .join("Jan_2025")
        .join("ip_list")
        .join("all_ips.json")
        .is_file());
    let csv = std::fs::read_to_string(
        legacy
            .join("sonos_speaker")
            .join("categorized_domains_Dec_2024.csv"),
    )
    .unwrap();
    assert!(csv.starts_with("Month-Year,Domain,SLD,TLD,Category,Organization,Query Type\r\n"));
    assert!(
        csv.contains("Dec-2024,api.sonos.com,sonos,com,First-party,Sonos,"),
        "{csv}"
    );
    assert!(
        csv.contains("-ats.iot.us-east-1.amazonaws.com,amazonaws,com,Platform-party,"),
        "{csv}"
    );
    // A second run with nothing changed skips everything.
    let again = Command::new(bin())
        .arg("run")
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&again.stderr)
        .contains("nothing changed (15 device-months, 3 months up to date)"));

    let Some(py) = python() else { return };
    for (script, arg) in [("check_legacy.py", &legacy), ("check_parquet.py", &out)] {
        let o = Command::new(&py)
            .arg(root().join("tests").join("compat").join(script))
            .arg(arg)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stdout);
        eprintln!("{script}:\n{text}");
        assert!(
            o.status.success(),
            "{script} failed:\n{text}\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

#[test]
fn drop_in_commands_write_what_export_legacy_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let captures = root()
        .join("data-samples")
        .join("captures")
        .join("sonos_speaker")
        .join("ctrl2");
    let mut listed: Vec<PathBuf> = std::fs::read_dir(&captures)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("2024-12")
        })
        .collect();
    listed.sort();
    let list = tmp.path().join("Dec_2024.txt");
    let mut text = String::from("# sonos_speaker, December 2024\n");
    for p in &listed {
        text.push_str(&format!("{}\n", p.display()));
    }
    std::fs::write(&list, text).unwrap();

    // export-legacy over a dataset of exactly the listed files.
    let ds = tmp.path().join("ds");
    let exported = tmp.path().join("exported");
    let none = tmp.path().join("no-first-party");
    for args in [
        vec![
            os("extract"),
            os("--input-list"),
            list.as_os_str(),
            os("--out"),
            ds.as_os_str(),
        ],
        vec![
            os("analyze"),
            os("--dataset"),
            ds.as_os_str(),
            os("--first-party-dir"),
            none.as_os_str(),
        ],
        vec![
            os("export-legacy"),
            os("--dataset"),
            ds.as_os_str(),
            os("--out"),
            exported.as_os_str(),
            os("--first-party-dir"),
            none.as_os_str(),
        ],
    ] {
        let (code, err) = run_bin(&args);
        assert_eq!(code, Some(0), "{args:?}: {err}");
    }
    // The drop-ins into a month folder of a legacy tree.
    let base = tmp.path().join("analysis_longitudinal");
    let month = base.join("sonos_speaker").join("2024").join("Dec_2024");
    for cmd in ["domains", "map_ips"] {
        let (code, err) = run_bin(&[
            os(cmd),
            os("--input_file"),
            list.as_os_str(),
            os("--output_dir"),
            month.as_os_str(),
            os("--exp"),
            os("x"),
            os("--first-party-dir"),
            none.as_os_str(),
        ]);
        assert_eq!(code, Some(0), "{cmd}: {err}");
    }
    let (code, err) = run_bin(&[
        os("party"),
        os("--device"),
        os("sonos_speaker"),
        os("--years"),
        os("2024"),
        os("--base_dir"),
        base.as_os_str(),
        os("--first-party-dir"),
        none.as_os_str(),
    ]);
    assert_eq!(code, Some(0), "party: {err}");
    let exp_month = exported.join("sonos_speaker").join("2024").join("Dec_2024");
    let got = files_under(&month);
    assert_eq!(got, files_under(&exp_month));
    for f in &got {
        assert_eq!(
            std::fs::read(month.join(f)).unwrap(),
            std::fs::read(exp_month.join(f)).unwrap(),
            "{} differs",
            f.display()
        );
    }
    let csv = "categorized_domains_Dec_2024.csv";
    assert_eq!(
        std::fs::read(base.join("sonos_speaker").join(csv)).unwrap(),
        std::fs::read(exported.join("sonos_speaker").join(csv)).unwrap(),
        "party's CSV differs from export-legacy's"
    );
}

#[test]
fn compare_domains_and_init_empty_ip_maps() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a.json");
    let b = tmp.path().join("b.json");
    std::fs::write(&a, r#"{"x": ["1"], "y": ["2"], "z": ["3"]}"#).unwrap();
    std::fs::write(&b, r#"{"y": ["2"], "z": ["4"], "w": []}"#).unwrap();
    let (code, err) = run_bin(&[
        os("compare_domains"),
        os("--file1"),
        a.as_os_str(),
        os("--file2"),
        b.as_os_str(),
        os("--output_dir"),
        tmp.path().as_os_str(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    let v: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(tmp.path().join("a_vs_b_comparison.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(v["only_in_first"], serde_json::json!({"x": ["1"]}));
    assert_eq!(v["only_in_second"], serde_json::json!({"w": []}));
    assert_eq!(
        v["differing_values"],
        serde_json::json!({"z": {"first": ["3"], "second": ["4"]}})
    );
    assert_eq!(v["intersection"], serde_json::json!({"y": ["2"]}));
    let (t1, t2) = (tmp.path().join("l1.txt"), tmp.path().join("l2.txt"));
    std::fs::write(&t1, "a\nb\n").unwrap();
    std::fs::write(&t2, "b\nc\n").unwrap();
    let (code, err) = run_bin(&[
        os("compare_domains"),
        os("--file1"),
        t1.as_os_str(),
        os("--file2"),
        t2.as_os_str(),
        os("--output_dir"),
        tmp.path().as_os_str(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    let v: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(tmp.path().join("l1_vs_l2_comparison.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(v["intersection"], serde_json::json!(["b"]));

    let base = tmp.path().join("analysis_longitudinal");
    let with = base
        .join("cam")
        .join("2025")
        .join("Jan_2025")
        .join("domain_list");
    let without = base
        .join("cam")
        .join("2025")
        .join("Feb_2025")
        .join("domain_list");
    std::fs::create_dir_all(&with).unwrap();
    std::fs::create_dir_all(&without).unwrap();
    std::fs::write(with.join("ip_domain_map.pkl"), b"keep").unwrap();
    let out = Command::new(bin())
        .args(["init-empty-ip-maps", "cam", "2025", "2026"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        std::fs::read(with.join("ip_domain_map.pkl")).unwrap(),
        b"keep"
    );
    let empty = std::fs::read(without.join("ip_domain_map.pkl")).unwrap();
    let v: serde_pickle::Value =
        serde_pickle::value_from_slice(&empty, Default::default()).unwrap();
    assert_eq!(v, serde_pickle::Value::Dict(Default::default()));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Created empty"));
    if let Some(py) = python() {
        let o = Command::new(py)
            .args([
                "-c",
                "import pickle,sys; assert pickle.load(open(sys.argv[1],'rb')) == {}",
            ])
            .arg(without.join("ip_domain_map.pkl"))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
}

/// A device-month whose captures reach no Internet destination still gets its legacy folder,
/// with empty lists, as the Python pipeline writes it.
#[test]
fn a_month_without_destinations_gets_empty_lists() {
    use super::common::{dns_a_response, udp_frame, write_pcap};
    let tmp = tempfile::tempdir().unwrap();
    let cap = tmp
        .path()
        .join("root")
        .join("hub")
        .join("ctrl2")
        .join("2025-07-01_10.00.00_192.168.1.5.pcap");
    // Only a local resolver answering for a local name: no Internet flow, no destination.
    let resp = dns_a_response(9, "printer.lan", [192, 168, 1, 20]);
    write_pcap(
        &cap,
        &[(
            1_751_364_000_000_000,
            udp_frame([192, 168, 1, 1], 53, [192, 168, 1, 5], 40000, &resp),
        )],
    );
    let (root, ds, legacy) = (
        tmp.path().join("root"),
        tmp.path().join("ds"),
        tmp.path().join("legacy"),
    );
    let none = tmp.path().join("no-first-party");
    for args in [
        vec![
            os("extract"),
            os("--root"),
            root.as_os_str(),
            os("--out"),
            ds.as_os_str(),
        ],
        vec![
            os("analyze"),
            os("--dataset"),
            ds.as_os_str(),
            os("--first-party-dir"),
            none.as_os_str(),
        ],
        vec![
            os("export-legacy"),
            os("--dataset"),
            ds.as_os_str(),
            os("--out"),
            legacy.as_os_str(),
            os("--first-party-dir"),
            none.as_os_str(),
        ],
    ] {
        let (code, err) = run_bin(&args);
        assert_eq!(code, Some(0), "{args:?}: {err}");
    }
    let month = legacy.join("hub").join("2025").join("Jul_2025");
    for file in [
        "domain_list/contacted_domains.json",
        "domain_list/contacted_slds.json",
        "ip_list/all_ips.json",
    ] {
        let text = std::fs::read_to_string(month.join(file))
            .unwrap_or_else(|e| panic!("{file}: {e}; tree: {:?}", files_under(&legacy)));
        assert_eq!(text.trim(), "{\n    \"hub\": []\n}", "{file}");
    }
    for file in [
        "domain_list/unique_domains.json",
        "domain_list/ip_domain_map.pkl",
        "ip_list/ip_domain_map.pkl",
        "platform_analysis/platforms_detected.json",
    ] {
        assert!(
            month.join(file).is_file(),
            "{file}: {:?}",
            files_under(&legacy)
        );
    }
    assert!(legacy
        .join("hub")
        .join("categorized_domains_Jul_2025.csv")
        .is_file());
}

/// Two different files with one name in a device-month (`a/input.pcap`, `b/input.pcap` in an
/// input list) stay two captures: distinct `capture` values, counted twice in the summary.
#[test]
fn files_with_one_name_stay_separate_captures() {
    use super::common::{dns_a_response, udp_frame, write_pcap};
    use super::dataset::dump_table;
    let tmp = tempfile::tempdir().unwrap();
    let mut list = String::new();
    for (i, dir) in ["a", "b"].into_iter().enumerate() {
        let path = tmp.path().join("in").join(dir).join("input.pcap");
        let resp = dns_a_response(i as u16, &format!("n{i}.example.com"), [52, 1, 2, i as u8]);
        write_pcap(
            &path,
            &[(
                1_751_364_000_000_000 + i as i64 * 1_000_000,
                udp_frame([192, 168, 1, 1], 53, [192, 168, 1, 5], 40000, &resp),
            )],
        );
        list.push_str(&format!("{}\n", path.display()));
    }
    let list_file = tmp.path().join("list.txt");
    std::fs::write(&list_file, list).unwrap();
    let ds = tmp.path().join("ds");
    let none = tmp.path().join("no-first-party");
    let (code, err) = run_bin(&[
        os("extract"),
        os("--input-list"),
        list_file.as_os_str(),
        os("--device"),
        os("hub"),
        os("--date-from-packets"),
        os("--out"),
        ds.as_os_str(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    let caps = dump_table(&ds, "captures", &[]);
    assert_eq!(caps.len(), 2, "{caps:#?}");
    assert!(
        caps.iter().any(|l| l.contains("capture=a/input.pcap"))
            && caps.iter().any(|l| l.contains("capture=b/input.pcap")),
        "{caps:#?}"
    );
    let dns = dump_table(&ds, "dns", &[]);
    assert!(
        dns.iter()
            .any(|l| l.contains("capture=a/input.pcap") && l.contains("n0.example.com"))
            && dns
                .iter()
                .any(|l| l.contains("capture=b/input.pcap") && l.contains("n1.example.com")),
        "{dns:#?}"
    );
    let (code, err) = run_bin(&[
        os("analyze"),
        os("--dataset"),
        ds.as_os_str(),
        os("--first-party-dir"),
        none.as_os_str(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    let summary = dump_table(&ds.join("analysis"), "summary", &[]);
    assert!(summary[0].contains("|captures=2|"), "{summary:#?}");
}
