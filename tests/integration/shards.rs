//! `--shard I/N`: workers given the same arguments fill one dataset together, with no
//! coordination, and the union of their work equals one unsharded run.

use std::path::Path;
use std::process::{Command, Stdio};

use super::common::{bin, root};
use super::dataset::{dump_dataset, dump_table};

fn run_cmd(args: &[&std::ffi::OsStr]) -> std::process::Child {
    Command::new(bin())
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start iotdest")
}

fn finish(child: std::process::Child) -> String {
    let out = child.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{err}");
    err
}

fn files_under(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

fn analysis_rows(ds: &Path) -> String {
    let mut s = String::new();
    for t in iotdest::query::analyze::ANALYSIS_TABLES {
        for line in dump_table(&ds.join("analysis"), t, &[]) {
            s.push_str(&line);
            s.push('\n');
        }
    }
    s
}

#[test]
fn shards_in_parallel_equal_one_run() {
    let tmp = tempfile::tempdir().unwrap();
    let captures = root().join("data-samples").join("captures");
    let none = tmp.path().join("none");
    let os = |s: &str| std::ffi::OsString::from(s);
    let run_args = |out: &Path, shard: Option<&str>| {
        let mut v = vec![
            os("run"),
            os("--root"),
            captures.clone().into_os_string(),
            os("--all"),
            os("--out"),
            out.as_os_str().to_owned(),
            os("--first-party-dir"),
            none.clone().into_os_string(),
        ];
        if let Some(s) = shard {
            v.extend([os("--shard"), os(s)]);
        }
        v
    };
    let one = tmp.path().join("one");
    finish(run_cmd(
        &run_args(&one, None)
            .iter()
            .map(|s| s.as_os_str())
            .collect::<Vec<_>>(),
    ));

    // `run`: three workers at once.
    let sharded = tmp.path().join("sharded");
    let workers: Vec<_> = ["0/3", "1/3", "2/3"]
        .iter()
        .map(|s| {
            let args = run_args(&sharded, Some(s));
            run_cmd(&args.iter().map(|s| s.as_os_str()).collect::<Vec<_>>())
        })
        .collect();
    let errs: Vec<String> = workers.into_iter().map(finish).collect();
    assert!(errs[0].contains("report in"), "{}", errs[0]);
    assert!(
        errs[1].contains("worker 0 writes the report"),
        "{}",
        errs[1]
    );
    assert_eq!(
        dump_dataset(&sharded, &captures),
        dump_dataset(&one, &captures)
    );
    assert_eq!(analysis_rows(&sharded), analysis_rows(&one));
    assert_eq!(
        files_under(&sharded.join("analysis_longitudinal")),
        files_under(&one.join("analysis_longitudinal"))
    );
    let report = |ds: &Path, name: &str| {
        std::fs::read_to_string(ds.join("report.html"))
            .unwrap()
            .replace(&ds.display().to_string(), name)
    };
    assert_eq!(report(&sharded, "DS"), report(&one, "DS"));

    // `extract --shard` and then `analyze --shard`, two workers each.
    let two = tmp.path().join("two");
    for step in ["extract", "analyze"] {
        let children: Vec<_> = ["0/2", "1/2"]
            .iter()
            .map(|s| {
                let mut args = vec![os(step)];
                if step == "extract" {
                    args.extend([os("--root"), captures.clone().into_os_string(), os("--out")]);
                } else {
                    args.extend([
                        os("--first-party-dir"),
                        none.clone().into_os_string(),
                        os("--dataset"),
                    ]);
                }
                args.extend([two.as_os_str().to_owned(), os("--shard"), os(s)]);
                run_cmd(&args.iter().map(|s| s.as_os_str()).collect::<Vec<_>>())
            })
            .collect();
        let errs: Vec<String> = children.into_iter().map(finish).collect();
        if step == "extract" {
            assert!(
                errs.iter().all(|e| e.contains("of 15 device-months")),
                "{errs:?}"
            );
        }
    }
    assert_eq!(dump_dataset(&two, &captures), dump_dataset(&one, &captures));
    assert_eq!(analysis_rows(&two), analysis_rows(&one));

    // A shard that is not one.
    let out = Command::new(bin())
        .args(["analyze", "--dataset"])
        .arg(&two)
        .args(["--shard", "2/2"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("below the number of workers"));
}
