//! Analysis end to end on small hand-made datasets: flow → domain attribution order, look-back,
//! fallbacks, classification of unattributed IPs by AS organisation, and the MaxMind-backed
//! columns, using country/ASN databases the test writes itself (never a downloaded one).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

use iotdest::columnar::schema::{CAPTURES, DNS, FLOWS, NAMES};
use iotdest::columnar::{dns_batch, flows_batch, names_batch};
use iotdest::extract::{DnsRow, Endpoints, NameRow, Rcode, RrType, L4};
use iotdest::flow::{Flow, FlowKey, FlowStats, Initiator};
use iotdest::store::{PartitionKey, PartitionWriter};

use super::common::run_bin;
use super::dataset::dump_table;

const T0: i64 = 1_736_000_000_000_000; // 2025-01-04
const S: i64 = 1_000_000;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

pub fn dns_row(
    ts: i64,
    device_ip: &str,
    query: &str,
    rr_name: &str,
    rr_type: &str,
    answer: &str,
) -> DnsRow {
    DnsRow {
        ts_us: ts,
        ends: Endpoints {
            client_ip: ip(device_ip),
            client_port: 5000,
            server_ip: ip("192.168.1.1"),
            server_port: 53,
            transport: L4::Udp,
        },
        txid: 1,
        query: Some(query.into()),
        qtype: Some(if rr_type == "AAAA" {
            RrType(28)
        } else {
            RrType(1)
        }),
        rcode: Rcode(0),
        section: Some("answer"),
        rr_name: Some(rr_name.into()),
        rr_type: Some(RrType(match rr_type {
            "A" => 1,
            "CNAME" => 5,
            "AAAA" => 28,
            other => panic!("no type number for {other} in this test"),
        })),
        rr_ttl: Some(60),
        answer: Some(answer.into()),
    }
}

pub fn flow(
    ts: i64,
    device_ip: &str,
    local_port: u16,
    remote: &str,
    remote_port: u16,
    bytes: u64,
) -> Flow {
    Flow {
        key: FlowKey {
            proto: 6,
            local_ip: ip(device_ip),
            local_port,
            remote_ip: ip(remote),
            remote_port,
        },
        stats: FlowStats {
            ip_version: 4,
            first_ts: ts,
            last_ts: ts + S,
            packets_out: 3,
            bytes_out: bytes,
            packets_in: 2,
            bytes_in: bytes / 2,
            initiator: Initiator::Local,
        },
    }
}

pub fn write_partition(
    ds: &Path,
    device: &str,
    year: i32,
    month: u32,
    dns: &[DnsRow],
    names: &[NameRow],
    flows: &[Flow],
) {
    let key = PartitionKey {
        device: device.into(),
        year,
        month,
    };
    let tables = [
        ("captures", CAPTURES.clone()),
        ("dns", DNS.clone()),
        ("names", NAMES.clone()),
        ("flows", FLOWS.clone()),
    ];
    let mut w = PartitionWriter::new(ds, key, &tables).unwrap();
    w.write("dns", &dns_batch("c.pcap", dns).unwrap()).unwrap();
    w.write("names", &names_batch("c.pcap", names).unwrap())
        .unwrap();
    w.write("flows", &flows_batch("c.pcap", flows).unwrap())
        .unwrap();
    w.commit().unwrap();
}

/// Writes small country and ASN databases.
pub fn write_dbs(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let mut country = mmdb_writer::Writer::new("GeoLite2-Country");
    let c = |iso: &str, name: &str| serde_json::json!({"country": {"iso_code": iso, "names": {"en": name}}});
    country
        .insert(
            "52.0.0.0/8".parse::<ipnet::IpNet>().unwrap(),
            &c("US", "United States"),
        )
        .unwrap();
    country
        .insert(
            "9.9.9.0/24".parse::<ipnet::IpNet>().unwrap(),
            &c("CH", "Switzerland"),
        )
        .unwrap();
    country
        .insert(
            "2600::/16".parse::<ipnet::IpNet>().unwrap(),
            &c("US", "United States"),
        )
        .unwrap();
    let mut asn = mmdb_writer::Writer::new("GeoLite2-ASN");
    #[derive(serde::Serialize)]
    struct Asn<'a> {
        autonomous_system_number: u32,
        autonomous_system_organization: &'a str,
    }
    let a = |n: u32, org: &'static str| Asn {
        autonomous_system_number: n,
        autonomous_system_organization: org,
    };
    asn.insert(
        "52.0.0.0/8".parse::<ipnet::IpNet>().unwrap(),
        &a(16509, "AMAZON-02"),
    )
    .unwrap();
    asn.insert(
        "9.9.9.0/24".parse::<ipnet::IpNet>().unwrap(),
        &a(19281, "QUAD9-AS-1"),
    )
    .unwrap();
    let (cp, ap) = (dir.join("country.mmdb"), dir.join("asn.mmdb"));
    std::fs::write(&cp, country.to_bytes().unwrap()).unwrap();
    std::fs::write(&ap, asn.to_bytes().unwrap()).unwrap();
    (cp, ap)
}

/// A table as rows of column → value (partition path under `_partition`).
pub fn rows(ds: &Path, table: &str) -> Vec<BTreeMap<String, String>> {
    dump_table(&ds.join("analysis"), table, &[])
        .into_iter()
        .map(|line| {
            let mut parts = line.split('|');
            let mut m = BTreeMap::new();
            m.insert(
                "_partition".to_string(),
                parts.next().unwrap_or("").to_string(),
            );
            for cell in parts {
                let (k, v) = cell.split_once('=').unwrap_or((cell, ""));
                m.insert(k.to_string(), v.to_string());
            }
            m
        })
        .collect()
}

fn by(rows: &[BTreeMap<String, String>], col: &str, val: &str) -> BTreeMap<String, String> {
    rows.iter()
        .find(|r| r.get(col).map(String::as_str) == Some(val))
        .cloned()
        .unwrap_or_else(|| panic!("no row with {col}={val}"))
}

#[test]
fn attribution_order_lookback_fallbacks_and_as_classification() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = tmp.path().join("ds");
    let dev = "192.168.1.57";
    let dns = vec![
        dns_row(
            T0 - 10 * S,
            dev,
            "dns.example.com",
            "dns.example.com",
            "A",
            "52.1.1.1",
        ),
        dns_row(
            T0 - 3000 * S,
            dev,
            "old.example.com",
            "old.example.com",
            "A",
            "52.2.2.2",
        ),
        dns_row(
            T0 - 100 * S,
            dev,
            "new.example.com",
            "new.example.com",
            "A",
            "52.2.2.2",
        ),
        dns_row(
            T0 + 1 * S,
            dev,
            "skew.example.com",
            "skew.example.com",
            "A",
            "52.9.9.9",
        ),
        dns_row(
            T0 + 100 * S,
            dev,
            "after.example.com",
            "after.example.com",
            "A",
            "52.2.2.2",
        ),
        dns_row(
            T0 - 2 * 86_400 * S,
            dev,
            "stale.example.com",
            "stale.example.com",
            "A",
            "52.3.3.3",
        ),
        dns_row(
            T0 + 3600 * S,
            dev,
            "later.example.com",
            "later.example.com",
            "A",
            "52.4.4.4",
        ),
        dns_row(
            T0 - 20 * S,
            dev,
            "www.unknownvendor.io",
            "www.unknownvendor.io",
            "CNAME",
            "d1.cloudfront.net",
        ),
        dns_row(
            T0 - 20 * S,
            dev,
            "www.unknownvendor.io",
            "d1.cloudfront.net",
            "A",
            "52.7.7.7",
        ),
    ];
    let names = vec![NameRow {
        ts_us: T0,
        ends: Endpoints {
            client_ip: ip(dev),
            client_port: 40001,
            server_ip: ip("52.1.1.1"),
            server_port: 443,
            transport: L4::Tcp,
        },
        protocol: "tls",
        name: Some("sni.example.com".into()),
        alpn: None,
        tls_version: Some("TLS 1.3".into()),
        user_agent: None,
        fingerprint: Some(
            iotdest::extract::fingerprint::Fingerprints {
                ja4: "t13d1516h2_8daaf6152771_d8a2da3f94cd".into(),
                ja4_r: "t13d1516h2_raw".into(),
                ja3: "98487aa16281980e7d1120d399efb6a4".into(),
                ja3_full: "771,…".into(),
            }
            .into(),
        ),
    }];
    // An IP literal as the HTTP Host is not a name: the flow falls through to the DNS rules.
    let mut names = names;
    names.push(NameRow {
        ends: Endpoints {
            client_port: 40002,
            server_ip: ip("52.2.2.2"),
            ..names[0].ends
        },
        protocol: "http",
        name: Some("52.2.2.2".into()),
        tls_version: None,
        fingerprint: None,
        ..names[0].clone()
    });
    let flows = vec![
        flow(T0, dev, 40001, "52.1.1.1", 443, 1000),
        flow(T0, dev, 40002, "52.2.2.2", 443, 1000),
        flow(T0, dev, 40003, "52.3.3.3", 443, 1000),
        flow(T0, dev, 40004, "52.4.4.4", 443, 1000),
        flow(T0, dev, 40005, "52.5.5.5", 443, 1000),
        flow(T0, dev, 40006, "52.6.6.6", 443, 1000),
        flow(T0, dev, 40007, "9.9.9.9", 443, 1000),
        flow(T0, dev, 40008, "52.7.7.7", 443, 1000),
        flow(T0, dev, 40009, "52.9.9.9", 443, 1000),
        flow(T0, dev, 53, "192.168.1.1", 53, 100),
    ];
    write_partition(&ds, "echo_dot", 2025, 1, &dns, &names, &flows);
    let other = vec![dns_row(
        T0 - 50 * S,
        "192.168.1.32",
        "other.example.com",
        "other.example.com",
        "A",
        "52.5.5.5",
    )];
    write_partition(&ds, "tplink_plug", 2025, 1, &other, &[], &[]);
    let (cdb, adb) = write_dbs(tmp.path());
    let (code, err) = run_bin(&[
        "analyze".as_ref(),
        "--dataset".as_ref(),
        ds.as_os_str(),
        "--geo-db".as_ref(),
        cdb.as_os_str(),
        "--asn-db".as_ref(),
        adb.as_os_str(),
        "--first-party-dir".as_ref(),
        tmp.path().join("none").as_os_str(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    let fd = rows(&ds, "flow_domains");
    assert_eq!(fd.len(), 10);
    let check = |remote: &str, domain: &str, method: &str| {
        let r = by(&fd, "remote_ip", remote);
        assert_eq!(
            (r["domain"].as_str(), r["method"].as_str()),
            (domain, method),
            "flow to {remote}"
        );
    };
    check("52.1.1.1", "sni.example.com", "sni"); // SNI beats DNS
    check("52.2.2.2", "new.example.com", "dns"); // latest earlier answer; later answer ignored
                                                 // (its Host header, an IP literal, is no name)
    check("52.9.9.9", "skew.example.com", "dns"); // 1 s after the flow: within the skew
    check("52.3.3.3", "stale.example.com", "dns-month"); // older than the look-back
    check("52.4.4.4", "later.example.com", "dns-month"); // only after the flow
    check("52.5.5.5", "other.example.com", "dns-other"); // another device's answer
    check("52.6.6.6", "", ""); // unattributed
    let r = by(&fd, "remote_ip", "52.7.7.7");
    assert_eq!(
        (r["domain"].as_str(), r["cname"].as_str()),
        ("www.unknownvendor.io", "d1.cloudfront.net")
    );
    assert_eq!(by(&fd, "remote_ip", "192.168.1.1")["remote_scope"], "local");
    assert!(fd
        .iter()
        .all(|r| r["_partition"].starts_with("flow_domains/device=echo_dot/year=2025/month=01")));

    let fp = rows(&ds, "fingerprints");
    assert_eq!(fp.len(), 1);
    assert_eq!(
        (
            fp[0]["ja4"].as_str(),
            fp[0]["server_names"].as_str(),
            fp[0]["hellos"].as_str(),
            fp[0]["flows"].as_str(),
            fp[0]["bytes"].as_str()
        ),
        (
            "t13d1516h2_8daaf6152771_d8a2da3f94cd",
            "sni.example.com",
            "1",
            "1",
            "1500"
        )
    );
    assert!(rows(&ds, "hostnames")
        .iter()
        .all(|r| r["hostname"] != "52.2.2.2"));

    let dest = rows(&ds, "destinations");
    assert!(
        dest.iter().all(|r| r["destination"] != "192.168.1.1"),
        "local destinations are left out"
    );
    let d = by(&dest, "destination", "52.6.6.6");
    assert_eq!(
        (
            d["category"].as_str(),
            d["reason"].as_str(),
            d["organization"].as_str()
        ),
        // echo_dot is an Amazon device and AMAZON-02 is its group's own AS.
        ("First-party", "first-party-asn", "AMAZON-02")
    );
    assert_eq!(
        (
            d["asn"].as_str(),
            d["countries"].as_str(),
            d["domain"].as_str()
        ),
        ("16509", "US", "")
    );
    let d = by(&dest, "destination", "9.9.9.9");
    assert_eq!(
        (d["category"].as_str(), d["reason"].as_str()),
        ("Third-party", "unknown")
    );
    let d = by(&dest, "destination", "www.unknownvendor.io");
    assert_eq!(
        (
            d["category"].as_str(),
            d["reason"].as_str(),
            d["registrable_domain"].as_str()
        ),
        // A CDN in front of a service does not make it Support-party: by its owner, unknown.
        ("Third-party", "unknown", "unknownvendor.io")
    );
    let d = by(&dest, "destination", "new.example.com");
    assert_eq!(
        (
            d["sld"].as_str(),
            d["tld"].as_str(),
            d["query_types"].as_str(),
            d["ip_count"].as_str()
        ),
        ("example", "com", "A", "1")
    );

    let ips = rows(&ds, "ips");
    let i = by(&ips, "ip", "52.2.2.2");
    assert_eq!(
        (
            i["domain"].as_str(),
            i["method"].as_str(),
            i["as_org"].as_str(),
            i["country_iso"].as_str(),
            i["country_name"].as_str()
        ),
        ("new.example.com", "dns", "AMAZON-02", "US", "United States")
    );
    assert_eq!(by(&ips, "ip", "52.6.6.6")["domain"], "");
    assert_eq!(ips.len(), 9);

    // Without databases the geo columns are null, and analysis still runs.
    let (code, err) = run_bin(&[
        "analyze".as_ref(),
        "--dataset".as_ref(),
        ds.as_os_str(),
        "--lookback".as_ref(),
        "1h".as_ref(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    let ips = rows(&ds, "ips");
    assert_eq!(by(&ips, "ip", "52.2.2.2")["country_iso"], "");
    let d = by(&rows(&ds, "destinations"), "destination", "52.6.6.6");
    assert_eq!(
        (
            d["category"].as_str(),
            d["reason"].as_str(),
            d["organization"].as_str()
        ),
        ("Third-party", "unknown", "Unknown")
    );
}

#[test]
fn geolocate_and_sql_and_classify_commands() {
    let tmp = tempfile::tempdir().unwrap();
    let (cdb, _) = write_dbs(tmp.path());
    let input = tmp.path().join("all_ips.json");
    std::fs::write(
        &input,
        r#"{"echo_dot": ["52.1.2.3", "10.0.0.1", "not-an-ip", "9.9.9.9", "2600::1"]}"#,
    )
    .unwrap();
    let out = tmp.path().join("geolocation.json");
    let (code, err) = run_bin(&[
        "geolocate".as_ref(),
        "--input".as_ref(),
        input.as_os_str(),
        "--output".as_ref(),
        out.as_os_str(),
        "--db".as_ref(),
        cdb.as_os_str(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(v.as_object().unwrap().len(), 3);
    assert_eq!(v["52.1.2.3"]["country_iso_code"], "US");
    assert_eq!(v["9.9.9.9"]["country_name"], "Switzerland");
    assert!(std::fs::read_to_string(&out)
        .unwrap()
        .contains("\n  \"2600::1\": {\n    \"country_iso_code\""));

    let bin = super::common::bin();
    let mut child = std::process::Command::new(&bin)
        .args(["classify", "--manufacturer", "Amazon", "--first-party-dir"])
        .arg(tmp.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"api.amazon.com\nd1.cloudfront.net\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "domain,registrable_domain,sld,tld,category,organization,platform,reason"
    );
    assert!(
        lines[1].starts_with("api.amazon.com,amazon.com,amazon,com,First-party,"),
        "{text}"
    );
    assert!(
        lines[2].starts_with("d1.cloudfront.net,cloudfront.net,cloudfront,net,First-party,"),
        "{text}"
    );

    let fp = tmp.path().join("fp").join("first_party_domains.txt");
    let (code, err) = run_bin(&[
        "first-party".as_ref(),
        "--manufacturer".as_ref(),
        "Amazon".as_ref(),
        "--output".as_ref(),
        fp.as_os_str(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    let fp_text = std::fs::read_to_string(&fp).unwrap();
    assert!(fp_text.lines().any(|l| l == "amazon.com"));
    let (code, _) = run_bin(&[
        "first-party".as_ref(),
        "--manufacturer".as_ref(),
        "No Such Maker".as_ref(),
        "--output".as_ref(),
        fp.as_os_str(),
    ]);
    assert_eq!(code, Some(2));
}

/// The SQL computes the `dns` rule as an interval join over runs of answers (for speed); this
/// checks it against the rule as DESIGN states it, written plainly here, on random data full of
/// repeated answers, ties and look-back edges, across two devices and two months.
#[test]
fn dns_rules_match_a_plain_reference_on_random_data() {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |n: u64| {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % n
    };
    const H: i64 = 3600 * S;
    let lookback = 24 * H;
    let skew = 2 * S;
    let devices = [("dev_a", "192.168.1.10"), ("dev_b", "192.168.1.11")];
    let ips = ["52.0.0.1", "52.0.0.2", "52.0.0.3", "52.0.0.4"];
    let queries = ["a.example.com", "b.example.com", "c.example.net"];
    // A cname that is a function of the query, so ties never hinge on NULL ordering.
    let rr_name = |q: &str| {
        if q.starts_with('b') {
            "edge.cdn.example".to_string()
        } else {
            q.to_string()
        }
    };
    // Times on a coarse grid (many equal timestamps) plus exact look-back and skew edges.
    let month_start = |m: u32| if m == 1 { T0 } else { T0 + 31 * 24 * H };
    #[derive(Debug)]
    struct Answer {
        dev: usize,
        month: u32,
        ts: i64,
        ip: &'static str,
        query: &'static str,
    }
    let mut answers = Vec::new();
    let mut flows_in = Vec::new();
    for month in [1u32, 2] {
        for _ in 0..160 {
            // 52.0.0.5 is only ever resolved by dev_b (so dev_a's flows to it use `dns-other`).
            let dev = next(2) as usize;
            let ip = if dev == 1 && next(4) == 0 {
                "52.0.0.5"
            } else {
                ips[next(4) as usize]
            };
            answers.push(Answer {
                dev,
                month,
                ts: month_start(month) + next(72) as i64 * H,
                ip,
                query: queries[next(3) as usize],
            });
        }
        for i in 0..160u64 {
            let base = month_start(month) + next(80) as i64 * H;
            let edge = [0, skew, -skew, lookback, -lookback, 1, -1][next(7) as usize];
            // 52.0.0.6 is never resolved.
            let ip = [
                "52.0.0.1", "52.0.0.2", "52.0.0.3", "52.0.0.4", "52.0.0.5", "52.0.0.6",
            ][next(6) as usize];
            flows_in.push((next(2) as usize, month, base + edge, ip, i));
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let ds = tmp.path().join("ds");
    for (d, (name, dev_ip)) in devices.iter().enumerate() {
        for month in [1u32, 2] {
            let mut dns: Vec<DnsRow> = answers
                .iter()
                .filter(|a| a.dev == d && a.month == month)
                .map(|a| dns_row(a.ts, dev_ip, a.query, &rr_name(a.query), "A", a.ip))
                .collect();
            dns.sort_by_key(|r| r.ts_us);
            let flows: Vec<Flow> = flows_in
                .iter()
                .filter(|f| f.0 == d && f.1 == month)
                .map(|f| {
                    flow(
                        f.2,
                        dev_ip,
                        10_000 + f.4 as u16 + 200 * month as u16,
                        f.3,
                        443,
                        100,
                    )
                })
                .collect();
            write_partition(&ds, name, 2025, month, &dns, &[], &flows);
        }
    }
    let (code, err) = run_bin(&["analyze".as_ref(), "--dataset".as_ref(), ds.as_os_str()]);
    assert_eq!(code, Some(0), "{err}");
    let got = rows(&ds, "flow_domains");
    assert_eq!(got.len(), flows_in.len());

    type Key = (i64, &'static str, String);
    fn best<'a>(cands: Vec<(&'a Answer, Key)>) -> Option<&'a Answer> {
        cands
            .into_iter()
            .min_by(|a, b| a.1.cmp(&b.1))
            .map(|(a, _)| a)
    }
    let mut checked = [0usize; 4];
    for (d, month, t, ip, i) in &flows_in {
        let same = |a: &&Answer| a.dev == *d && a.ip == *ip;
        let time = best(
            answers
                .iter()
                .filter(same)
                .filter(|a| a.ts <= t + skew && a.ts >= t - lookback)
                .map(|a| (a, (-a.ts, "", a.query.to_string())))
                .collect(),
        );
        let in_month = best(
            answers
                .iter()
                .filter(same)
                .filter(|a| a.month == *month)
                .map(|a| (a, (-a.ts, "", a.query.to_string())))
                .collect(),
        );
        let other = best(
            answers
                .iter()
                .filter(|a| a.dev != *d && a.ip == *ip && a.month == *month)
                .map(|a| (a, (-a.ts, devices[a.dev].0, a.query.to_string())))
                .collect(),
        );
        let (method, domain) = match (time, in_month, other) {
            (Some(a), _, _) => ("dns", a.query),
            (None, Some(a), _) => ("dns-month", a.query),
            (None, None, Some(a)) => ("dns-other", a.query),
            (None, None, None) => ("", ""),
        };
        checked[["dns", "dns-month", "dns-other", ""]
            .iter()
            .position(|m| *m == method)
            .unwrap()] += 1;
        let port = (10_000 + *i as u16 + 200 * *month as u16).to_string();
        let row = got
            .iter()
            .find(|r| {
                r["_partition"].contains(&format!("device={}/", devices[*d].0))
                    && r["local_port"] == port
            })
            .unwrap_or_else(|| panic!("flow {i} missing"));
        assert_eq!(
            (row["method"].as_str(), row["domain"].as_str()),
            (method, domain),
            "flow {i} of {} at {t} to {ip}",
            devices[*d].0
        );
        let cname = if domain.is_empty() || rr_name(domain) == domain {
            String::new()
        } else {
            rr_name(domain)
        };
        assert_eq!(row["cname"], cname, "cname of flow {i}");
    }
    // Every rule was exercised.
    assert!(checked.iter().all(|&n| n > 0), "{checked:?}");
}
