//! IP databases by content: every common `.mmdb` record layout and the CSV/TSV range files are
//! read whatever their file names say; a file of the wrong kind, or one that matches none of the
//! dataset's public IPs, is a clear error (exit 2).

use std::path::{Path, PathBuf};

use iotdest::classify::geo::Geo;
use serde_json::json;

use super::analysis::{dns_row, flow, write_partition};
use super::common::run_bin;

fn mmdb(dir: &Path, name: &str, db_type: &str, rows: &[(&str, serde_json::Value)]) -> PathBuf {
    let mut w = mmdb_writer::Writer::new(db_type);
    for (net, v) in rows {
        w.insert(net.parse::<ipnet::IpNet>().unwrap(), v).unwrap();
    }
    let p = dir.join(name);
    std::fs::write(&p, w.to_bytes().unwrap()).unwrap();
    p
}

fn text(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p
}

fn country(g: &Geo, ip: &str) -> Option<(String, Option<String>)> {
    g.country(ip).map(|c| (c.iso_code, c.name))
}

fn asn(g: &Geo, ip: &str) -> Option<(Option<u32>, Option<String>)> {
    g.asn(ip).map(|a| (a.number, a.organization))
}

#[test]
fn every_common_layout_is_read_by_content() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // File names that lie: the layout comes from the records.
    let geolite_city = mmdb(
        d,
        "asn.mmdb",
        "GeoLite2-City",
        &[(
            "52.0.0.0/8",
            json!({"city": {"names": {"en": "Ashburn"}}, "country": {"iso_code": "US", "names": {"en": "United States"}}, "location": {"latitude": 39.0}}),
        )],
    );
    let dbip = mmdb(
        d,
        "dbip-country-lite.mmdb",
        "DBIP-Country-Lite",
        &[(
            "5.0.0.0/8",
            json!({"continent": {"code": "EU"}, "country": {"iso_code": "DE", "names": {"en": "Germany", "de": "Deutschland"}}}),
        )],
    );
    let ild_country = mmdb(
        d,
        "GeoLite2-ASN.mmdb",
        "geo-whois-asn-country",
        &[("1.0.0.0/24", json!({"country_code": "AU"}))],
    );
    let ipinfo = mmdb(
        d,
        "country.mmdb",
        "ipinfo lite.mmdb",
        &[(
            "1.1.1.0/24",
            json!({"asn": "AS13335", "as_name": "Cloudflare, Inc.", "as_domain": "cloudflare.com", "country_code": "AU", "country": "Australia", "continent_code": "OC", "continent": "Oceania"}),
        )],
    );
    let geolite_asn = mmdb(
        d,
        "geo.mmdb",
        "GeoLite2-ASN",
        &[(
            "52.0.0.0/8",
            json!({"autonomous_system_number": 16509, "autonomous_system_organization": "AMAZON-02"}),
        )],
    );
    let g = Geo::open_all(
        &[geolite_city.clone(), dbip, ild_country, ipinfo.clone()],
        &[geolite_asn.clone(), ipinfo.clone()],
    )
    .unwrap();
    assert_eq!(
        country(&g, "52.1.2.3"),
        Some(("US".into(), Some("United States".into())))
    );
    assert_eq!(
        country(&g, "5.6.7.8"),
        Some(("DE".into(), Some("Germany".into())))
    );
    assert_eq!(country(&g, "1.0.0.9"), Some(("AU".into(), None)));
    assert_eq!(
        country(&g, "1.1.1.1"),
        Some(("AU".into(), Some("Australia".into())))
    );
    assert_eq!(country(&g, "8.8.8.8"), None);
    assert_eq!(
        asn(&g, "52.9.9.9"),
        Some((Some(16509), Some("AMAZON-02".into())))
    );
    assert_eq!(
        asn(&g, "1.1.1.1"),
        Some((Some(13335), Some("Cloudflare, Inc.".into())))
    );
    assert!(g.sources().any(|(_, s)| s.layout.contains("country_code")));

    // Range files: ip-location-db ASN (text and -num, IPv4 and IPv6), country CSV, iptoasn TSV.
    let asn4 = text(
        d,
        "a.csv",
        "1.0.0.0,1.0.0.255,13335,\"Cloudflare, Inc.\"\n52.0.0.0,52.255.255.255,16509,\"Amazon.com, Inc.\"\n",
    );
    let asn6 = text(
        d,
        "b.csv",
        "2600:1f00::,2600:1fff:ffff:ffff:ffff:ffff:ffff:ffff,16509,\"Amazon.com, Inc.\"\n",
    );
    let asn4num = text(d, "c.csv", "134744064,134744319,15169,Google LLC\n");
    let cc = text(
        d,
        "d.csv",
        "9.9.9.0,9.9.9.255,CH\n2620:fe::,2620:fe::ffff,CH\n",
    );
    let tsv = text(
        d,
        "e.tsv",
        "1.0.0.0\t1.0.0.255\t13335\tUS\tCLOUDFLARENET\n1.0.1.0\t1.0.3.255\t0\tNone\tNot routed\n",
    );
    let g = Geo::open_all(&[cc.clone(), tsv.clone()], &[asn4, asn6, asn4num, tsv]).unwrap();
    assert_eq!(
        asn(&g, "1.0.0.1"),
        Some((Some(13335), Some("Cloudflare, Inc.".into())))
    );
    assert_eq!(
        asn(&g, "2600:1f18::1"),
        Some((Some(16509), Some("Amazon.com, Inc.".into())))
    );
    assert_eq!(
        asn(&g, "8.8.8.8"),
        Some((Some(15169), Some("Google LLC".into())))
    );
    assert_eq!(
        asn(&g, "1.0.2.2"),
        None,
        "iptoasn's not-routed rows answer nothing"
    );
    assert_eq!(country(&g, "9.9.9.9"), Some(("CH".into(), None)));
    assert_eq!(country(&g, "2620:fe::fe"), Some(("CH".into(), None)));
    assert_eq!(country(&g, "1.0.0.3"), Some(("US".into(), None)));

    // First match wins.
    let other = mmdb(
        d,
        "other.mmdb",
        "X",
        &[("52.0.0.0/8", json!({"country_code": "IE"}))],
    );
    let g = Geo::open_all(&[other.clone(), geolite_city.clone()], &[]).unwrap();
    assert_eq!(country(&g, "52.1.1.1").unwrap().0, "IE");
    let g = Geo::open_all(&[geolite_city.clone(), other], &[]).unwrap();
    assert_eq!(country(&g, "52.1.1.1").unwrap().0, "US");

    // Wrong kinds are clear errors naming the file and what was expected.
    let e = Geo::open_all(&[geolite_asn.clone()], &[])
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("geo.mmdb")
            && e.contains("--geo-db needs")
            && e.contains("autonomous_system_number"),
        "{e}"
    );
    let e = Geo::open_all(&[], &[cc]).err().unwrap().to_string();
    assert!(
        e.contains("--asn-db needs") && e.contains("country codes only"),
        "{e}"
    );
    let e = Geo::open_all(&[], &[geolite_city])
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("--asn-db needs"), "{e}");
    for (name, body) in [
        ("notes.txt", "hello\nworld\n"),
        ("empty.csv", ""),
        ("x.mmdb", "\u{0}\u{1}junk"),
    ] {
        let p = text(d, name, body);
        let e = Geo::open_all(&[p], &[]).err().unwrap().to_string();
        assert!(
            e.contains(name) && e.contains("neither a MaxMind DB"),
            "{e}"
        );
    }
    let e = Geo::open_all(&[d.join("missing.mmdb")], &[])
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("missing.mmdb") && e.contains("cannot read"),
        "{e}"
    );
}

#[test]
fn analyze_refuses_databases_that_do_not_fit_the_dataset() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = tmp.path().join("ds");
    write_partition(
        &ds,
        "tplink_plug",
        2025,
        1,
        &[dns_row(
            1_735_700_000_000_000,
            "192.168.1.20",
            "api.example.com",
            "api.example.com",
            "A",
            "52.1.1.1",
        )],
        &[],
        &[flow(
            1_735_700_001_000_000,
            "192.168.1.20",
            40000,
            "52.1.1.1",
            443,
            600,
        )],
    );
    let run = |extra: &[&Path]| {
        let mut args: Vec<&std::ffi::OsStr> = vec![
            "analyze".as_ref(),
            "--dataset".as_ref(),
            ds.as_os_str(),
            "--force".as_ref(),
        ];
        for (i, p) in extra.iter().enumerate() {
            args.push(if i % 2 == 0 {
                "--geo-db".as_ref()
            } else {
                "--asn-db".as_ref()
            });
            args.push(p.as_os_str());
        }
        run_bin(&args)
    };
    let d = tmp.path();
    let private_only = mmdb(
        d,
        "lan.mmdb",
        "X",
        &[("10.0.0.0/8", json!({"country_code": "ZZ"}))],
    );
    let good_asn = text(d, "asn.csv", "52.0.0.0,52.255.255.255,16509,AMAZON-02\n");
    let (code, err) = run(&[&private_only, &good_asn]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("lan.mmdb") && err.contains("matched none of 1 public IPs"),
        "{err}"
    );
    // An ASN file given as the country database: exit 2, the file and what was expected.
    let (code, err) = run(&[&good_asn, &good_asn]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("asn.csv") && err.contains("--geo-db needs country codes"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let good_cc = text(d, "cc.csv", "52.0.0.0,52.255.255.255,US\n");
    let (code, err) = run(&[&good_cc, &good_asn]);
    assert_eq!(code, Some(0), "{err}");
}
