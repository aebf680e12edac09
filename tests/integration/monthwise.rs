//! Month-wise analysis: on random data that crosses month boundaries (answers in the last hours
//! of a month, flows in the first hours of the next, captures that run past the end of their
//! month or start before it), `iotdest analyze` (month by month, device-months in parallel)
//! gives exactly the rows of one pass of the same SQL over the whole dataset; a re-run
//! recomputes only what changed and still gives those rows; `--force` redoes everything; a
//! month that does not fit in `--memory-limit` fails with a message naming it.

use std::path::Path;
use std::sync::Arc;

use iotdest::classify::devices::Devices;
use iotdest::classify::geo::Geo;
use iotdest::classify::{Classifier, Rules};
use iotdest::extract::fingerprint::Fingerprints;
use iotdest::extract::{DnsRow, Endpoints, NameRow, L4};
use iotdest::flow::Flow;
use iotdest::query::analyze::{analyze_whole, AnalyzeParams, ANALYSIS_TABLES};

use super::analysis::{dns_row, flow, write_partition};
use super::common::run_bin;
use super::dataset::dump_table;

const S: i64 = 1_000_000;
const H: i64 = 3600 * S;
/// 2024-12-01, 2025-01-01, 2025-02-01, 2025-03-01 (UTC).
const MONTH_STARTS: [i64; 4] = [
    1_733_011_200 * S,
    1_735_689_600 * S,
    1_738_368_000 * S,
    1_740_787_200 * S,
];
const MONTHS: [(i32, u32); 3] = [(2024, 12), (2025, 1), (2025, 2)];
const DEVICES: [(&str, &str); 3] = [
    ("echo_dot", "192.168.1.10"),
    ("sonos_speaker", "192.168.1.11"),
    ("plug a%b", "192.168.1.12"),
];
const IPS: [&str; 5] = ["52.0.0.1", "52.0.0.2", "52.0.0.3", "9.9.9.9", "52.0.0.4"];
const QUERIES: [&str; 4] = [
    "api.amazon.com",
    "edge.sonos.com",
    "time.example.net",
    "b.example.org",
];

struct Rng(u64);
impl Rng {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % n
    }
    /// A time of partition month `m`: mostly near its start or end (where the look-back
    /// crosses months), sometimes before its start (a capture named in local time east of
    /// UTC) or after its end (a capture running on).
    fn time(&mut self, m: usize) -> i64 {
        let (start, end) = (MONTH_STARTS[m], MONTH_STARTS[m + 1]);
        match self.next(6) {
            0 | 1 => start + self.next(30) as i64 * H + self.next(3600) as i64 * S,
            2 | 3 => end - 1 - self.next(30) as i64 * H - self.next(3600) as i64 * S,
            4 => start - self.next(5) as i64 * H - self.next(3600) as i64 * S,
            _ => end + self.next(10) as i64 * H,
        }
    }
}

/// Writes one device-month of random answers and flows.
fn write_unit(ds: &Path, rng: &mut Rng, d: usize, m: usize, answers: u64, flows: u64) {
    let (device, dev_ip) = DEVICES[d];
    let mut dns: Vec<DnsRow> = (0..answers)
        .map(|_| {
            let q = QUERIES[rng.next(4) as usize];
            let rr = if q.starts_with('e') {
                "cdn.sonos.net"
            } else {
                q
            };
            dns_row(rng.time(m), dev_ip, q, rr, "A", IPS[rng.next(5) as usize])
        })
        .collect();
    dns.sort_by_key(|r| r.ts_us);
    let mut fl: Vec<Flow> = (0..flows)
        .map(|i| {
            flow(
                rng.time(m),
                dev_ip,
                20_000 + (i % 40_000) as u16,
                IPS[rng.next(5) as usize],
                443,
                100 + rng.next(1000),
            )
        })
        .collect();
    fl.sort_by_key(|f| f.stats.first_ts);
    // A client hello on every third flow, from one of two client stacks.
    let names: Vec<NameRow> = fl
        .iter()
        .step_by(3)
        .map(|f| {
            let stack = rng.next(2);
            NameRow {
                ts_us: f.stats.first_ts,
                ends: Endpoints {
                    client_ip: f.key.local_ip,
                    client_port: f.key.local_port,
                    server_ip: f.key.remote_ip,
                    server_port: f.key.remote_port,
                    transport: L4::Tcp,
                },
                protocol: "tls",
                name: Some(QUERIES[rng.next(4) as usize].into()),
                alpn: None,
                tls_version: Some("TLS 1.3".into()),
                user_agent: None,
                fingerprint: Some(
                    Fingerprints {
                        ja4: format!("t13d15{stack}6h2_8daaf6152771_d8a2da3f94cd"),
                        ja4_r: format!("raw{stack}"),
                        ja3: format!("ja3-{stack}-{}", rng.next(2)),
                        ja3_full: "771,4865".into(),
                    }
                    .into(),
                ),
            }
        })
        .collect();
    let (y, mo) = MONTHS[m];
    write_partition(ds, device, y, mo, &dns, &names, &fl);
}

fn whole(ds: &Path, out: &Path, lookback: u64) {
    let devices = Devices::new(
        Classifier::new(Rules::embedded().unwrap()),
        None,
        None,
        None,
    )
    .unwrap();
    let params = AnalyzeParams {
        lookback_secs: lookback,
        ..Default::default()
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(analyze_whole(
        &iotdest::store::Location::Local(ds.to_path_buf()),
        out,
        Arc::new(Geo::default()),
        Arc::new(devices),
        &params,
        1 << 30,
    ))
    .unwrap();
}

fn analyze(ds: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let none = ds.with_file_name("no-first-party");
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "analyze".as_ref(),
        "--dataset".as_ref(),
        ds.as_os_str(),
        "--first-party-dir".as_ref(),
        none.as_os_str(),
    ];
    args.extend(extra.iter().map(|s| std::ffi::OsStr::new(*s)));
    run_bin(&args)
}

fn assert_same_rows(monthly: &Path, reference: &Path, what: &str) {
    for table in ANALYSIS_TABLES {
        let a = dump_table(monthly, table, &[]);
        let b = dump_table(reference, table, &[]);
        assert!(
            !b.is_empty() || table == "platforms",
            "{what}: no {table} rows at all"
        );
        if a != b {
            let first = a
                .iter()
                .zip(&b)
                .find(|(x, y)| x != y)
                .map(|(x, y)| format!("month-wise: {x}\nwhole:      {y}"))
                .unwrap_or_default();
            panic!(
                "{what}: {table} differs ({} vs {} rows)\n{first}",
                a.len(),
                b.len()
            );
        }
    }
}

#[test]
fn month_wise_analysis_equals_whole_dataset_and_reruns_only_what_changed() {
    let tmp = tempfile::tempdir().unwrap();
    for (seed, lookback, secs) in [(1u64, "6h", 21_600), (2, "24h", 86_400), (3, "2d", 172_800)] {
        let ds = tmp.path().join(format!("ds{seed}"));
        let mut rng = Rng(seed.wrapping_mul(0x5851_f42d_4c95_7f2d));
        for d in 0..DEVICES.len() {
            for m in 0..MONTHS.len() {
                // One device-month without answers, one without flows.
                let (answers, flows) = match (d, m) {
                    (2, 0) => (0, 40),
                    (1, 2) => (60, 0),
                    _ => (60, 40),
                };
                write_unit(&ds, &mut rng, d, m, answers, flows);
            }
        }
        let (code, err) = analyze(&ds, &["--lookback", lookback, "--threads", "2"]);
        assert_eq!(code, Some(0), "{err}");
        assert!(
            err.contains("3 months analysed (9 device-months), 0 up to date"),
            "{err}"
        );
        let reference = tmp.path().join(format!("whole{seed}"));
        whole(&ds, &reference, secs);
        assert_same_rows(&ds.join("analysis"), &reference, &format!("seed {seed}"));
        // The months recorded what they were computed from.
        let state = std::fs::read_to_string(ds.join("analysis/_months/2025-01.json")).unwrap();
        assert!(
            state.contains("window dns/device=echo_dot/year=2024/month=12"),
            "{state}"
        );

        // Nothing changed: nothing is recomputed.
        let (code, err) = analyze(&ds, &["--lookback", lookback]);
        assert_eq!(code, Some(0), "{err}");
        assert!(
            err.contains("0 months analysed (0 device-months), 3 up to date"),
            "{err}"
        );

        // The same rows written again (new files, as a re-extraction writes them): that
        // device-month, and the next month's device-month whose look-back reads it, are redone.
        let mut again = Rng(seed.wrapping_mul(0x5851_f42d_4c95_7f2d));
        for d in 0..DEVICES.len() {
            for m in 0..MONTHS.len() {
                let (answers, flows) = match (d, m) {
                    (2, 0) => (0, 40),
                    (1, 2) => (60, 0),
                    _ => (60, 40),
                };
                let tmp_ds = tmp.path().join("scratch");
                let target = if (d, m) == (0, 0) { &ds } else { &tmp_ds };
                write_unit(target, &mut again, d, m, answers, flows);
            }
        }
        let (code, err) = analyze(&ds, &["--lookback", lookback]);
        assert_eq!(code, Some(0), "{err}");
        assert!(
            err.contains("2 months analysed (2 device-months), 1 up to date"),
            "{err}"
        );
        assert_same_rows(
            &ds.join("analysis"),
            &reference,
            &format!("seed {seed}, re-run"),
        );

        // New answers in one device-month change the month's shared answers: that month is
        // redone for every device, and the next month's look-back for that device.
        let mut more = Rng(seed + 100);
        write_unit(&ds, &mut more, 1, 1, 80, 40);
        let (code, err) = analyze(&ds, &["--lookback", lookback]);
        assert_eq!(code, Some(0), "{err}");
        let reference2 = tmp.path().join(format!("whole{seed}-b"));
        whole(&ds, &reference2, secs);
        assert_same_rows(
            &ds.join("analysis"),
            &reference2,
            &format!("seed {seed}, changed"),
        );

        // A device-month whose captures are gone loses its analysis.
        std::fs::remove_dir_all(ds.join("flows/device=sonos_speaker/year=2025/month=02")).unwrap();
        for t in ["captures", "dns", "names"] {
            std::fs::remove_dir_all(
                ds.join(format!("{t}/device=sonos_speaker/year=2025/month=02")),
            )
            .unwrap();
        }
        let (code, err) = analyze(&ds, &["--lookback", lookback, "--force"]);
        assert_eq!(code, Some(0), "{err}");
        assert!(err.contains("3 months analysed (8 device-months)"), "{err}");
        assert!(!ds
            .join("analysis/destinations/device=sonos_speaker/year=2025/month=02")
            .exists());
        let reference3 = tmp.path().join(format!("whole{seed}-c"));
        whole(&ds, &reference3, secs);
        assert_same_rows(
            &ds.join("analysis"),
            &reference3,
            &format!("seed {seed}, removed"),
        );
    }
}

#[test]
fn a_month_over_the_memory_limit_fails_naming_it_and_the_flag() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = tmp.path().join("ds");
    let mut rng = Rng(9);
    write_unit(&ds, &mut rng, 0, 1, 20_000, 60_000);
    let (code, err) = analyze(&ds, &["--memory-limit", "1MiB", "--threads", "1"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("2025-01"), "{err}");
    assert!(err.contains("--memory-limit"), "{err}");
    let (code, err) = analyze(&ds, &["--memory-limit", "100KiB"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("at least 1MiB"), "{err}");
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// `run` after one capture's modification time changed: only that device-month is extracted
/// again, only device-months whose inputs changed are analysed and exported again, and the
/// analysis tables equal those of a fresh run.
#[test]
fn run_after_touching_one_capture_redoes_only_what_changed() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("captures");
    copy_tree(
        &super::common::root().join("data-samples").join("captures"),
        &root,
    );
    let run = |out: &Path| {
        run_bin(&[
            "run".as_ref(),
            "--root".as_ref(),
            root.as_os_str(),
            "--all".as_ref(),
            "--out".as_ref(),
            out.as_os_str(),
            "--first-party-dir".as_ref(),
            tmp.path().join("none").as_os_str(),
        ])
    };
    let ds = tmp.path().join("ds");
    let (code, err) = run(&ds);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("3 months analysed (15 device-months)"),
        "{err}"
    );
    let legacy_file = ds.join("analysis_longitudinal/echo_dot/2024/Dec_2024/ip_list/all_ips.json");
    let other_file = ds.join("analysis_longitudinal/tuya_bulb/2024/Nov_2024/ip_list/all_ips.json");
    let before = |p: &Path| std::fs::metadata(p).unwrap().modified().unwrap();
    let (echo_before, tuya_before) = (before(&legacy_file), before(&other_file));

    let touched = root.join("echo_dot/ctrl2/2024-12-11_07.30.40_192.168.1.57.pcapng");
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(60);
    std::fs::File::options()
        .append(true)
        .open(&touched)
        .unwrap()
        .set_modified(later)
        .unwrap();
    let (code, err) = run(&ds);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("extracted 2 files in 1 device-months (14 device-months unchanged)"),
        "{err}"
    );
    assert!(
        err.contains("1 months analysed (1 device-months), 2 up to date"),
        "{err}"
    );
    assert!(
        err.contains("legacy layout of 1 device-months written"),
        "{err}"
    );
    assert!(
        before(&legacy_file) > echo_before,
        "the changed month's legacy files were rewritten"
    );
    assert_eq!(
        before(&other_file),
        tuya_before,
        "an unchanged month's legacy files were left"
    );

    let fresh = tmp.path().join("fresh");
    let (code, err) = run(&fresh);
    assert_eq!(code, Some(0), "{err}");
    assert_same_rows(
        &ds.join("analysis"),
        &fresh.join("analysis"),
        "after touching a capture",
    );
    let (code, err) = run(&ds);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("nothing changed"), "{err}");
}
