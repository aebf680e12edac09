//! Hostile input and interrupted runs: every corpus file (and cut and corrupted copies of the
//! edge cases) goes through `extract` without a panic; outputs never leave `--out` whatever the
//! device names hold; a run killed at any moment and run again gives the rows of a clean run.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::common::{bin, captures_under, corpus, root, run_bin};
use super::dataset::dump_dataset;

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

#[test]
fn corpus_and_mangled_copies_never_crash_extract() {
    let Some(corpus) = corpus() else {
        eprintln!("NOTICE: ../shared/corpus not found; hostile-file test skipped");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dev = tmp.path().join("root").join("edge").join("ctrl2");
    std::fs::create_dir_all(&dev).unwrap();
    let mut n = 0;
    for (i, f) in captures_under(&corpus.join("edge")).iter().enumerate() {
        let bytes = std::fs::read(f).unwrap();
        let name = |k: &str| {
            dev.join(format!(
                "2020-01-01_00.00.{:02}_10.0.0.{}.pcap{k}",
                i % 60,
                i % 250
            ))
        };
        std::fs::write(name(""), &bytes).unwrap();
        // Cut in the middle of a packet, and with bytes flipped all over the file.
        std::fs::write(name("1"), &bytes[..bytes.len() / 2 + 3]).unwrap();
        let mut flipped = bytes.clone();
        let mut x: u32 = 0x9e37_79b9 ^ i as u32;
        for _ in 0..(flipped.len() / 50).max(1) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let at = 24 + (x as usize) % flipped.len().saturating_sub(24).max(1);
            if at < flipped.len() {
                flipped[at] ^= (x >> 8) as u8 | 1;
            }
        }
        std::fs::write(name("2"), &flipped).unwrap();
        n += 3;
    }
    let out = tmp.path().join("ds");
    let (code, err) = run_bin(&[
        os("extract"),
        os("--root"),
        tmp.path().join("root").as_os_str(),
        os("--out"),
        out.as_os_str(),
    ]);
    assert!(matches!(code, Some(0) | Some(1)), "exit {code:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
    let caps = super::dataset::dump_table(&out, "captures", &[]);
    assert_eq!(caps.len(), n, "every file has its manifest row");
    assert!(caps.iter().any(|l| l.contains("status=partial")));
    // Every capture split across threads by flow: the same rows, mangled or not.
    let split = tmp.path().join("ds-split");
    let (code2, err) = run_bin(&[
        os("extract"),
        os("--root"),
        tmp.path().join("root").as_os_str(),
        os("--out"),
        split.as_os_str(),
        os("--threads"),
        os("3"),
        os("--split-at"),
        os("0"),
    ]);
    assert_eq!(code2, code, "{err}");
    for table in ["captures", "dns", "names", "flows"] {
        assert!(
            super::dataset::dump_table(&out, table, &[])
                == super::dataset::dump_table(&split, table, &[]),
            "{table}: split captures give other rows"
        );
    }
    // The real testbed captures too.
    let out2 = tmp.path().join("ds2");
    let (code, err) = run_bin(&[
        os("extract"),
        os("--root"),
        corpus.join("ctrl2").as_os_str(),
        os("--out"),
        out2.as_os_str(),
    ]);
    assert_eq!(code, Some(0), "{err}");
}

fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn outputs_stay_inside_out_whatever_the_names() {
    use std::os::unix::ffi::OsStrExt;
    let tmp = tempfile::tempdir().unwrap();
    let sample = root()
        .join("data-samples")
        .join("captures")
        .join("tplink_plug")
        .join("ctrl2");
    let one = std::fs::read_dir(&sample)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "pcap"))
        .unwrap();
    let rootdir = tmp.path().join("root");
    // (Folders starting with "." are hidden and not devices.)
    let weird: Vec<&[u8]> = vec![
        b"a=b",
        b"x\ny",
        b"dots..",
        b"\xff\xfe-bytes",
        b"name with space",
        b"%2e%2e",
    ];
    for w in &weird {
        let d = rootdir.join(OsStr::from_bytes(w)).join("ctrl2");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::copy(&one, d.join(one.file_name().unwrap())).unwrap();
    }
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let ds = work.join("ds");
    let legacy = work.join("legacy");
    let (code, err) = run_bin(&[
        os("extract"),
        os("--root"),
        rootdir.as_os_str(),
        os("--out"),
        ds.as_os_str(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    // A device named on the command line, from a legacy list.
    let list = tmp.path().join("list.txt");
    std::fs::write(&list, format!("{}\n", one.display())).unwrap();
    for dev in ["../../escape", "/abs/path", "a/../../b"] {
        let (code, err) = run_bin(&[
            os("extract"),
            os("--input-list"),
            list.as_os_str(),
            os("--device"),
            os(dev),
            os("--out"),
            ds.as_os_str(),
        ]);
        assert_eq!(code, Some(0), "{dev}: {err}");
    }
    let none = tmp.path().join("nofp");
    let (code, err) = run_bin(&[
        os("analyze"),
        os("--dataset"),
        ds.as_os_str(),
        os("--first-party-dir"),
        none.as_os_str(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    let (code, err) = run_bin(&[
        os("export-legacy"),
        os("--dataset"),
        ds.as_os_str(),
        os("--out"),
        legacy.as_os_str(),
        os("--first-party-dir"),
        none.as_os_str(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    for f in all_files(tmp.path()) {
        let inside =
            f.starts_with(&ds) || f.starts_with(&legacy) || f.starts_with(&rootdir) || f == list;
        assert!(inside, "{} was written outside --out", f.display());
    }
    let devices: Vec<String> = std::fs::read_dir(ds.join("dns"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(devices.len(), weird.len() + 3, "{devices:?}");
    assert!(
        devices
            .iter()
            .all(|d| d.starts_with("device=") && !d[7..].contains(['/', '=', '\n'])),
        "{devices:?}"
    );
    let legacy_devs: Vec<String> = std::fs::read_dir(&legacy)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(legacy_devs.len(), weird.len() + 3, "{legacy_devs:?}");
}

/// Starts `args`, kills it with SIGKILL after `after`, waits.
fn kill_after(args: &[&OsStr], after: Duration) {
    let mut child = Command::new(bin())
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(after);
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn killed_runs_leave_no_trace_in_the_next_run() {
    let tmp = tempfile::tempdir().unwrap();
    let captures = root().join("data-samples").join("captures");
    let clean = tmp.path().join("clean");
    let none = tmp.path().join("nofp");
    let steps = |ds: &Path, legacy: &Path| -> Vec<Vec<std::ffi::OsString>> {
        vec![
            vec![
                "extract".into(),
                "--root".into(),
                captures.clone().into(),
                "--out".into(),
                ds.into(),
            ],
            vec![
                "analyze".into(),
                "--dataset".into(),
                ds.into(),
                "--first-party-dir".into(),
                none.clone().into(),
            ],
            vec![
                "export-legacy".into(),
                "--dataset".into(),
                ds.into(),
                "--out".into(),
                legacy.into(),
                "--first-party-dir".into(),
                none.clone().into(),
            ],
        ]
    };
    for s in steps(&clean, &clean.join("legacy")) {
        let args: Vec<&OsStr> = s.iter().map(|a| a.as_os_str()).collect();
        let (code, err) = run_bin(&args);
        assert_eq!(code, Some(0), "{err}");
    }
    let reference = snapshot(&clean, &captures);
    // Kill each step at several moments, then run the whole chain again.
    let ds = tmp.path().join("killed");
    let legacy = ds.join("legacy");
    for delay_ms in [0u64, 30, 80, 150, 300, 600] {
        for (i, s) in steps(&ds, &legacy).iter().enumerate() {
            let args: Vec<&OsStr> = s.iter().map(|a| a.as_os_str()).collect();
            if i == delay_ms as usize % 3 {
                kill_after(&args, Duration::from_millis(delay_ms));
            } else {
                let _ = run_bin(&args);
            }
        }
        for s in steps(&ds, &legacy) {
            let args: Vec<&OsStr> = s.iter().map(|a| a.as_os_str()).collect();
            let (code, err) = run_bin(&args);
            assert_eq!(code, Some(0), "after a kill at {delay_ms} ms: {err}");
        }
        assert!(
            snapshot(&ds, &captures) == reference,
            "outputs after a kill at {delay_ms} ms differ from a clean run"
        );
    }
}

/// Decoded rows of every table plus every legacy file's bytes.
fn snapshot(ds: &Path, captures: &Path) -> String {
    let mut s = dump_dataset(ds, captures);
    for table in ["flow_domains", "ips", "destinations", "platforms"] {
        for line in super::dataset::dump_table(&ds.join("analysis"), table, &[]) {
            s.push_str(&line);
            s.push('\n');
        }
    }
    let legacy = ds.join("legacy");
    let mut files = all_files(&legacy);
    files.sort();
    for f in files {
        s.push_str(&format!("{}\n", f.strip_prefix(&legacy).unwrap().display()));
        s.push_str(&String::from_utf8_lossy(&std::fs::read(&f).unwrap()));
    }
    let staging = ds.join(".staging");
    let leftovers = std::fs::read_dir(&staging).map(|r| r.count()).unwrap_or(0);
    s.push_str(&format!("staging entries: {leftovers}\n"));
    s
}
