//! The classification table: every case in `tests/data/classification_cases.csv` (device
//! manufacturer, domain, CNAME end, AS organisation, AS number) gets its expected category and
//! reason from the built-in rules. A manufacturer the rules do not know is added the way a
//! devices file or `--manufacturer` adds it.

use iotdest::classify::{Classifier, DeviceContext, Rules};

use super::common::root;

#[test]
fn classification_table() {
    let mut c = Classifier::new(Rules::embedded().expect("built-in rules load"));
    let path = root()
        .join("tests")
        .join("data")
        .join("classification_cases.csv");
    let mut rdr = csv::Reader::from_path(&path).expect("cases file");
    let headers = rdr.headers().unwrap().clone();
    let idx = |n: &str| {
        headers
            .iter()
            .position(|h| h == n)
            .unwrap_or_else(|| panic!("column {n}"))
    };
    let (im, id, ic, ia, inum, ie, ir, inote) = (
        idx("manufacturer"),
        idx("domain"),
        idx("cname"),
        idx("as_org"),
        idx("asn"),
        idx("expected_category"),
        idx("expected_reason"),
        idx("note"),
    );
    let mut failures = Vec::new();
    let mut n = 0;
    let mut reasons = std::collections::BTreeSet::new();
    for rec in rdr.records() {
        let rec = rec.unwrap();
        n += 1;
        let maker = rec.get(im).unwrap_or("");
        let manufacturer = if maker.is_empty() {
            None
        } else {
            Some(c.ensure_manufacturer(maker))
        };
        let ctx = DeviceContext {
            manufacturer,
            first_party_suffixes: vec![],
        };
        let opt = |i: usize| rec.get(i).filter(|s| !s.is_empty());
        let asn = opt(inum).map(|s| s.parse::<u32>().expect("asn is a number"));
        let v = c.classify(&ctx, rec.get(id).unwrap(), opt(ic), opt(ia), asn);
        reasons.insert(v.reason);
        if v.category.name() != rec.get(ie).unwrap() || v.reason != rec.get(ir).unwrap() {
            failures.push(format!(
                "{maker:?} {:?} cname={:?} as={:?}: got {} {} expected {} {} ({})",
                rec.get(id).unwrap(),
                opt(ic),
                opt(ia),
                v.category.name(),
                v.reason,
                rec.get(ie).unwrap(),
                rec.get(ir).unwrap(),
                rec.get(inote).unwrap_or("")
            ));
        }
    }
    assert!(n >= 150, "only {n} cases");
    assert!(
        failures.is_empty(),
        "{} of {n} cases differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
    for r in [
        "first-party-domain",
        "first-party-platform",
        "first-party-provider",
        "platform",
        "support-domain",
        "asn",
        "first-party-name",
        "first-party-asn",
        "tracker",
        "other-manufacturer",
        "unknown",
    ] {
        assert!(reasons.contains(r), "no case decided by {r}");
    }
}

#[test]
fn first_party_file_and_device_names() {
    let c = Classifier::new(Rules::embedded().unwrap());
    let ctx = DeviceContext {
        manufacturer: None,
        first_party_suffixes: vec!["myvendor.io".into()],
    };
    let v = c.classify(&ctx, "api.myvendor.io", None, None, None);
    assert_eq!(
        (v.category.name(), v.reason),
        ("First-party", "first-party-file")
    );
    for (device, maker) in [
        ("sonos_speaker", "Sonos"),
        ("echo_dot", "Amazon"),
        ("TP-LinkPlugHS110", "TP-Link"),
        ("D-LinkCam", "D-Link"),
        ("HueBridge", "Philips Hue"),
    ] {
        let i = c
            .manufacturer_from_device(device)
            .unwrap_or_else(|| panic!("{device}"));
        assert_eq!(c.manufacturer_name(i), maker, "{device}");
    }
    assert!(c.manufacturer_from_device("xyz_unit_7").is_none());
}

#[test]
fn rules_override_and_devices_file() {
    use std::io::Write;
    let tmp = tempfile::tempdir().unwrap();
    let rules = tmp.path().join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    // A user's own manufacturers file replaces the built-in one; the other files stay built in.
    std::fs::write(
        rules.join("manufacturers.csv"),
        "manufacturer,parent,aliases,domains,source\nAcme Labs,,acmething,acme-iot.io,local\nAmazon,,echo,amazon.com,local\n",
    )
    .unwrap();
    let devices = tmp.path().join("devices.csv");
    std::fs::write(&devices, "device,manufacturer\nlab_unit_7,Acme Labs\n").unwrap();
    let classify = |args: &[&str], input: &str| -> (bool, String, String) {
        let mut child = std::process::Command::new(super::common::bin())
            .arg("classify")
            .args(args)
            .arg("--rules")
            .arg(&rules)
            .arg("--devices")
            .arg(&devices)
            .arg("--first-party-dir")
            .arg(tmp.path().join("none"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let o = child.wait_with_output().unwrap();
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (ok, out, err) = classify(
        &["--device", "lab_unit_7"],
        "api.acme-iot.io\nd1.cloudfront.net\n",
    );
    assert!(ok, "{err}");
    assert!(
        out.contains(
            "api.acme-iot.io,acme-iot.io,acme-iot,io,First-party,Acme Labs,,first-party-domain"
        ),
        "{out}"
    );
    assert!(
        out.contains("d1.cloudfront.net,cloudfront.net,cloudfront,net,Support-party,"),
        "{out}"
    );
    // A CSV with a domain column works too.
    let (ok, out, _) = classify(
        &["--device", "lab_unit_7"],
        "rank,domain\n1,x.acme-iot.io\n",
    );
    assert!(
        ok && out.lines().count() == 2 && out.contains("x.acme-iot.io,"),
        "{out}"
    );
    // A devices file naming a manufacturer the rules lack is accepted: its own name marks its
    // domains (`first-party-name`), everything else follows the usual rules.
    std::fs::write(&devices, "device,manufacturer\nlab_unit_7,Nobody Inc\n").unwrap();
    let (ok, out, err) = classify(
        &["--device", "lab_unit_7"],
        "api.nobody.io\nd1.cloudfront.net\n",
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("api.nobody.io,nobody.io,nobody,io,First-party,")
            && out.contains(",first-party-name"),
        "{out}"
    );
    assert!(
        out.contains("d1.cloudfront.net,cloudfront.net,cloudfront,net,Support-party,"),
        "{out}"
    );
    // The same with --manufacturer only.
    std::fs::write(&devices, "device,manufacturer\n").unwrap();
    let (ok, out, err) = classify(&["--manufacturer", "Harman Kardon"], "eu.harmankardon.de\n");
    assert!(
        ok && out.contains(",First-party,") && out.contains("first-party-name"),
        "{err}{out}"
    );
}
