//! A Ballista cluster from the iotdest binary (one scheduler, two executors, on free loopback
//! ports) over a dataset on a real S3-compatible server: `analyze --cluster`, `sql --cluster` and
//! `report --cluster` give the rows and bytes of the same commands run locally, and the legacy
//! layout exported from the cluster's analysis equals the local one. An unreachable scheduler is
//! one clear error. Skipped with a notice where s3s-fs is not installed (`.ci/run` installs it).

use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::process::{Command, Output};

use super::common::{bin, root};
use super::dataset::dump_table;
use super::servers::{free_port, s3_env, s3s_fs, start_cluster, start_s3};

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

fn os(s: impl AsRef<OsStr>) -> OsString {
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

const QUERY: &str = "SELECT device, method, COUNT(*) AS flows, \
                     COUNT(DISTINCT registrable_domain(domain)) AS domains, \
                     SUM(CASE WHEN classify_party(device, domain, cname, NULL) = 'First-party' \
                     THEN 1 ELSE 0 END) AS first_party \
                     FROM flow_domains GROUP BY 1, 2 ORDER BY 1, 2";

#[test]
fn a_ballista_cluster_gives_the_rows_of_a_local_run() {
    let Some(server_bin) = s3s_fs() else {
        eprintln!("cluster test skipped: s3s-fs is not installed (.ci/run installs it)");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let store_root = tmp.path().join("s3");
    std::fs::create_dir_all(store_root.join("lab")).unwrap();
    let s3 = start_s3(&server_bin, &store_root);
    let env = s3_env(s3.port);
    let none = tmp.path().join("none");
    let fp = [os("--first-party-dir"), os(&none)];
    let fp_refs: Vec<&OsStr> = fp.iter().map(|s| s.as_os_str()).collect();
    let (scheduler, executors) = start_cluster(&bin(), 2, &env, &fp_refs);
    let cluster = format!("df://127.0.0.1:{}", scheduler.port);
    let captures = root().join("data-samples").join("captures");

    let local = tmp.path().join("local");
    for ds in [os("s3://lab/cl"), os(&local)] {
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
    }
    let mut analyze = vec![
        os("analyze"),
        os("--dataset"),
        os("s3://lab/cl"),
        os("--cluster"),
        os(&cluster),
    ];
    analyze.extend(fp.iter().cloned());
    ok(iotdest(&env, &analyze));
    let mut analyze = vec![os("analyze"), os("--dataset"), os(&local)];
    analyze.extend(fp.iter().cloned());
    ok(iotdest(&env, &analyze));
    let on_cluster = store_root.join("lab").join("cl");
    assert_eq!(analysis_rows(&on_cluster), analysis_rows(&local));

    let sql = |ds: OsString, cluster: Option<&str>| {
        let mut args = vec![os("sql"), os("--dataset"), ds, os("--format"), os("csv")];
        if let Some(c) = cluster {
            args.extend([os("--cluster"), os(c)]);
        }
        args.extend(fp.iter().cloned());
        args.push(os(QUERY));
        ok(iotdest(&env, &args))
    };
    let on = sql(os("s3://lab/cl"), Some(&cluster));
    assert!(on.lines().count() > 5, "{on}");
    assert_eq!(on, sql(os(&local), None));

    ok(iotdest(
        &env,
        &[
            os("report"),
            os("--dataset"),
            os("s3://lab/cl"),
            os("--cluster"),
            os(&cluster),
            os("--out"),
            os(tmp.path().join("cl.html")),
        ],
    ));
    ok(iotdest(
        &env,
        &[
            os("report"),
            os("--dataset"),
            os(&local),
            os("--out"),
            os(tmp.path().join("local.html")),
        ],
    ));
    let report = |p: &str, name: &str| {
        std::fs::read_to_string(tmp.path().join(p))
            .unwrap()
            .replace(name, "DS")
    };
    assert_eq!(
        report("cl.html", "s3://lab/cl"),
        report("local.html", &local.display().to_string())
    );

    for (ds, out) in [
        (os("s3://lab/cl"), "legacy-cl"),
        (os(&local), "legacy-local"),
    ] {
        ok(iotdest(
            &env,
            &[
                os("export-legacy"),
                os("--dataset"),
                ds,
                os("--out"),
                os(tmp.path().join(out)),
            ],
        ));
    }
    assert_eq!(
        files_under(&tmp.path().join("legacy-cl")),
        files_under(&tmp.path().join("legacy-local"))
    );

    // Nobody listens there.
    let nowhere = format!("df://127.0.0.1:{}", free_port());
    let out = iotdest(
        &env,
        &[
            os("sql"),
            os("--dataset"),
            os(&local),
            os("--cluster"),
            os(&nowhere),
            os("SELECT 1"),
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("cannot reach the Ballista scheduler"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    drop(executors);
    drop(scheduler);
    drop(s3);
}
