//! Datasets on an S3-compatible object store (a real s3s-fs server on a loopback port, started
//! and stopped by the test): extract, analyze, sql, export-legacy, report and run give the rows
//! and files of the same commands on a local folder; shards written in parallel equal one run;
//! a wrong key and a missing bucket give one clear error (exit 2). Skipped with a notice where
//! s3s-fs is not installed (`.ci/run` installs it).

use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, Output};

use super::common::{bin, root};
use super::dataset::{dump_dataset, dump_table};
use super::servers::{s3_env, s3s_fs, start_s3};

fn iotdest(env: &[(&str, String)], args: &[OsString]) -> Output {
    Command::new(bin())
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("run iotdest")
}

fn ok(out: Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{err}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn os(s: impl AsRef<std::ffi::OsStr>) -> OsString {
    s.as_ref().to_owned()
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

const QUERY: &str = "SELECT device, year, month, category, COUNT(*) AS n, SUM(bytes_in) AS b \
                     FROM destinations GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4";

#[test]
fn datasets_on_s3_give_the_rows_of_local_ones() {
    let Some(server_bin) = s3s_fs() else {
        eprintln!("object-store test skipped: s3s-fs is not installed (.ci/run installs it)");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let store_root = tmp.path().join("s3");
    std::fs::create_dir_all(store_root.join("lab")).unwrap();
    let server = start_s3(&server_bin, &store_root);
    let env = s3_env(server.port);
    let captures = root().join("data-samples").join("captures");
    let none = tmp.path().join("none");
    let fp = [os("--first-party-dir"), os(&none)];

    // The same commands on S3 and on a local folder.
    let local = tmp.path().join("local");
    for ds in [os("s3://lab/ds"), os(&local)] {
        ok(iotdest(
            &env,
            &[
                os("extract"),
                os("--root"),
                os(&captures),
                os("--out"),
                ds.clone(),
            ],
        ));
        let mut analyze = vec![os("analyze"), os("--dataset"), ds.clone()];
        analyze.extend(fp.iter().cloned());
        ok(iotdest(&env, &analyze));
    }
    let on_s3 = store_root.join("lab").join("ds");
    assert_eq!(
        dump_dataset(&on_s3, &captures),
        dump_dataset(&local, &captures)
    );
    assert_eq!(analysis_rows(&on_s3), analysis_rows(&local));
    assert!(on_s3.join("analysis/_months/2024-12.json").is_file());
    let sql = |ds: OsString| {
        ok(iotdest(
            &env,
            &[
                os("sql"),
                os("--dataset"),
                ds,
                os("--format"),
                os("csv"),
                os(QUERY),
            ],
        ))
    };
    let (s3_rows, local_rows) = (sql(os("s3://lab/ds")), sql(os(&local)));
    assert!(s3_rows.lines().count() > 10, "{s3_rows}");
    assert_eq!(s3_rows, local_rows);
    for (ds, out) in [
        (os("s3://lab/ds"), "legacy-s3"),
        (os(&local), "legacy-local"),
    ] {
        ok(iotdest(
            &env,
            &[
                os("export-legacy"),
                os("--dataset"),
                ds.clone(),
                os("--out"),
                os(tmp.path().join(out)),
            ],
        ));
        ok(iotdest(&env, &[os("report"), os("--dataset"), ds]));
    }
    assert_eq!(
        files_under(&tmp.path().join("legacy-s3")),
        files_under(&tmp.path().join("legacy-local"))
    );
    let report = |p: &Path, name: &str| std::fs::read_to_string(p).unwrap().replace(name, "DS");
    assert_eq!(
        report(&on_s3.join("report.html"), "s3://lab/ds"),
        report(&local.join("report.html"), &local.display().to_string())
    );
    // Nothing changed: nothing is redone.
    let mut again = vec![os("analyze"), os("--dataset"), os("s3://lab/ds")];
    again.extend(fp.iter().cloned());
    let out = iotdest(&env, &again);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        err.contains("0 months analysed (0 device-months), 3 up to date"),
        "{err}"
    );

    // `run` onto S3, twice.
    let mut run = vec![
        os("run"),
        os("--root"),
        os(&captures),
        os("--all"),
        os("--out"),
        os("s3://lab/run"),
        os("--legacy-out"),
        os(tmp.path().join("legacy-run")),
    ];
    run.extend(fp.iter().cloned());
    ok(iotdest(&env, &run));
    assert_eq!(
        analysis_rows(&store_root.join("lab/run")),
        analysis_rows(&local)
    );
    assert!(store_root.join("lab/run/report.html").is_file());
    let out = iotdest(&env, &run);
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing changed"));

    // Two extract shards at once, then two analyze shards at once.
    for step in ["extract", "analyze"] {
        let children: Vec<_> = ["0/2", "1/2"]
            .iter()
            .map(|shard| {
                let mut args = vec![os(step)];
                if step == "extract" {
                    args.extend([os("--root"), os(&captures), os("--out")]);
                } else {
                    args.extend(fp.iter().cloned());
                    args.push(os("--dataset"));
                }
                args.extend([os("s3://lab/sharded"), os("--shard"), os(shard)]);
                Command::new(bin())
                    .args(&args)
                    .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
                    .output()
            })
            .collect();
        for c in children {
            ok(c.expect("run iotdest"));
        }
    }
    let sharded = store_root.join("lab/sharded");
    assert_eq!(
        dump_dataset(&sharded, &captures),
        dump_dataset(&local, &captures)
    );
    assert_eq!(analysis_rows(&sharded), analysis_rows(&local));

    // One clear error each, exit 2.
    let mut wrong_key = env.clone();
    wrong_key.retain(|(k, _)| *k != "AWS_SECRET_ACCESS_KEY");
    wrong_key.push(("AWS_SECRET_ACCESS_KEY", "not-the-key".into()));
    for (env, ds, expect) in [
        (&wrong_key, "s3://lab/ds", "credentials refused"),
        (&env, "s3://no-such-bucket/ds", "no such bucket"),
    ] {
        let out = iotdest(env, &[os("analyze"), os("--dataset"), os(ds)]);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(expect) && err.contains(ds), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    drop(server);
}
