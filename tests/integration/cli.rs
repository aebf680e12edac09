//! Command-line behaviour: exit codes, per-file errors, filters, input lists, help.

use std::ffi::OsStr;
use std::path::Path;

use super::common::{dns_a_response, run_bin, udp_frame, write_pcap};
use super::dataset::dump_table;

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

fn good_capture(path: &Path, name: &str, ts: i64) {
    let resp = dns_a_response(7, name, [52, 1, 2, 3]);
    write_pcap(
        path,
        &[(
            ts,
            udp_frame([192, 168, 1, 1], 53, [192, 168, 1, 5], 40000, &resp),
        )],
    );
}

#[test]
fn corrupt_file_is_reported_and_the_run_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = tmp.path().join("root").join("plug").join("ctrl2");
    good_capture(
        &exp.join("2025-07-01_10.00.00_192.168.1.5.pcap"),
        "a.example.com",
        1_751_364_000_000_000,
    );
    // A second file: one good packet, then a record header claiming 16 MB.
    let cut = exp.join("2025-07-02_10.00.00_192.168.1.5.pcap");
    good_capture(&cut, "b.example.com", 1_751_450_400_000_000);
    let mut bytes = std::fs::read(&cut).unwrap();
    bytes.extend_from_slice(&[0; 8]);
    bytes.extend_from_slice(&(16u32 << 20).to_le_bytes());
    bytes.extend_from_slice(&(16u32 << 20).to_le_bytes());
    std::fs::write(&cut, bytes).unwrap();
    std::fs::write(
        exp.join("2025-07-03_10.00.00_192.168.1.5.pcap"),
        b"this is not a capture at all",
    )
    .unwrap();
    std::fs::write(exp.join("holiday.pcap"), b"x").unwrap();
    let out = tmp.path().join("ds");
    let (code, err) = run_bin(&[
        os("extract"),
        os("--root"),
        tmp.path().join("root").as_os_str(),
        os("--out"),
        out.as_os_str(),
    ]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("2025-07-02_10.00.00_192.168.1.5.pcap: record at byte"),
        "{err}"
    );
    assert!(err.contains("kept the 1 packets"), "{err}");
    assert!(
        err.contains("2025-07-03_10.00.00_192.168.1.5.pcap: not a pcap"),
        "{err}"
    );
    assert!(
        err.contains("holiday.pcap: file name is not") && err.contains("1 undated"),
        "{err}"
    );
    let dns = dump_table(&out, "dns", &[]);
    assert!(dns.iter().any(|l| l.contains("query=a.example.com")));
    assert!(
        dns.iter().any(|l| l.contains("query=b.example.com")),
        "packets before the corrupt record are kept"
    );
    // Every input has a captures row; the undatable one sits in month 0000-00.
    let caps = dump_table(&out, "captures", &[]);
    assert_eq!(caps.len(), 4, "{caps:#?}");
    assert!(caps.iter().any(|l| l.contains("status=partial")));
    assert!(caps.iter().any(|l| l.contains("status=failed")));
    let (dated, undated): (Vec<_>, Vec<_>) = caps
        .iter()
        .partition(|l| l.starts_with("captures/device=plug/year=2025/month=07"));
    assert_eq!(dated.len(), 3, "{caps:#?}");
    assert!(
        undated[0].starts_with("captures/device=plug/year=0000/month=00")
            && undated[0].contains("status=undated")
            && undated[0].contains("holiday.pcap"),
        "{caps:#?}"
    );
}

#[test]
fn filters_input_lists_and_fatal_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    good_capture(
        &root
            .join("cam")
            .join("ctrl2")
            .join("2024-12-31_23.59.59_10.0.0.2.pcap"),
        "x.example",
        1_735_689_599_000_000,
    );
    good_capture(
        &root
            .join("cam")
            .join("ctrl2")
            .join("2025-01-01_00.00.01_10.0.0.2.pcap.gz.notreally"),
        "y.example",
        1,
    );
    good_capture(
        &root
            .join("plug")
            .join("ctrl2")
            .join("2025-01-05_00.00.00_10.0.0.3.pcap1"),
        "z.example",
        1_736_035_200_000_000,
    );
    let out = tmp.path().join("ds");
    let (code, err) = run_bin(&[
        os("extract"),
        os("--root"),
        root.as_os_str(),
        os("--out"),
        out.as_os_str(),
        os("--months"),
        os("2025-01"),
    ]);
    assert_eq!(code, Some(0), "{err}");
    let caps = dump_table(&out, "captures", &[]);
    assert_eq!(caps.len(), 1, "{caps:?}");
    assert!(caps[0].starts_with("captures/device=plug/year=2025/month=01"));
    // An unknown device is a configuration error.
    let (code, err) = run_bin(&[
        os("extract"),
        os("--root"),
        root.as_os_str(),
        os("--out"),
        out.as_os_str(),
        os("--device"),
        os("nope"),
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("nope"));
    // A legacy input list with comments, device named on the command line.
    let list = tmp.path().join("Dec_2024.txt");
    let cam_file = root
        .join("cam")
        .join("ctrl2")
        .join("2024-12-31_23.59.59_10.0.0.2.pcap");
    std::fs::write(&list, format!("# December\n\n{}\n", cam_file.display())).unwrap();
    let out2 = tmp.path().join("ds2");
    let (code, err) = run_bin(&[
        os("extract"),
        os("--input-list"),
        list.as_os_str(),
        os("--device"),
        os("camera"),
        os("--out"),
        out2.as_os_str(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    let dns = dump_table(&out2, "dns", &[]);
    assert_eq!(dns.len(), 1);
    assert!(
        dns[0].starts_with("dns/device=camera/year=2024/month=12|"),
        "{}",
        dns[0]
    );
    // Missing root.
    let (code, _) = run_bin(&[
        os("extract"),
        os("--root"),
        tmp.path().join("missing").as_os_str(),
        os("--out"),
        out.as_os_str(),
    ]);
    assert_eq!(code, Some(2));
}

#[test]
fn undated_names_are_dated_by_first_packet_on_request() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = tmp.path().join("root").join("hub").join("ctrl2");
    good_capture(
        &exp.join("capture-morning.pcap"),
        "q.example",
        1_700_000_000_000_000,
    );
    let out = tmp.path().join("ds");
    let root = tmp.path().join("root");
    let (code, _) = run_bin(&[
        os("extract"),
        os("--root"),
        root.as_os_str(),
        os("--out"),
        out.as_os_str(),
    ]);
    assert_eq!(code, Some(1), "an undatable capture is a per-file problem");
    let caps = dump_table(&out, "captures", &[]);
    assert!(
        caps.len() == 1 && caps[0].contains("status=undated"),
        "{caps:#?}"
    );
    let (code, err) = run_bin(&[
        os("extract"),
        os("--root"),
        root.as_os_str(),
        os("--out"),
        out.as_os_str(),
        os("--date-from-packets"),
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(dump_table(&out, "dns", &[])[0].starts_with("dns/device=hub/year=2023/month=11|"));
    // Now dated, the capture leaves month 0000-00: captures equals the inputs again.
    let caps = dump_table(&out, "captures", &[]);
    assert!(
        caps.len() == 1 && caps[0].starts_with("captures/device=hub/year=2023/month=11|"),
        "{caps:#?}"
    );
}

#[test]
fn help_has_examples() {
    let (code, _) = run_bin(&[os("extract"), os("--help")]);
    assert_eq!(code, Some(0));
    let out = std::process::Command::new(super::common::bin())
        .args(["extract", "--help"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Examples:") && text.contains("--input-list"),
        "{text}"
    );
}

#[test]
fn sql_command_formats() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = tmp.path().join("root").join("plug").join("ctrl2");
    good_capture(
        &exp.join("2025-07-01_10.00.00_192.168.1.5.pcap"),
        "a.example.com",
        1_751_364_000_000_000,
    );
    let ds = tmp.path().join("ds");
    let (code, _) = run_bin(&[
        os("extract"),
        os("--root"),
        tmp.path().join("root").as_os_str(),
        os("--out"),
        ds.as_os_str(),
    ]);
    assert_eq!(code, Some(0));
    let q = "SELECT device, year, month, query, answer, registrable_domain(query) AS reg FROM dns";
    let run = |fmt: &str| {
        let out = std::process::Command::new(super::common::bin())
            .args(["sql", "--dataset"])
            .arg(&ds)
            .args([q, "--format", fmt])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(
        run("csv"),
        "device,year,month,query,answer,reg\nplug,2025,07,a.example.com,52.1.2.3,example.com\n"
    );
    assert_eq!(run("json"), "{\"device\":\"plug\",\"year\":\"2025\",\"month\":\"07\",\"query\":\"a.example.com\",\"answer\":\"52.1.2.3\",\"reg\":\"example.com\"}\n");
    assert!(run("table").contains("| plug   | 2025 | 07    | a.example.com |"));
    let (code, err) = run_bin(&[
        os("sql"),
        os("--dataset"),
        ds.as_os_str(),
        os("SELECT nope FROM dns"),
    ]);
    assert_eq!(code, Some(2));
    assert!(err.contains("nope"), "{err}");
}
