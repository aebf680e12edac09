//! Differential test against tshark on the real corpus (`../shared/corpus/`).
//!
//! For every capture: the set of (query, record type, answer IP) from DNS responses and the set
//! of (server IP, name) from TLS and QUIC ClientHellos (SNI) and HTTP requests (Host) must equal what tshark reports with the legacy
//! pipeline's commands (`../shared/corpus/README.md`). The two display filters run in one
//! tshark pass per file, with `ipv6.dst` added beside `ip.dst` so IPv6 servers are compared
//! too. Every file allowed to differ is listed in `EXCEPTIONS` with its reason, and even there
//! iotdest must not report anything tshark does not (it may only miss).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use iotdest::extract::dns::type_name_of;

use super::common::{captures_under, corpus, extract_file, have_tshark, par_map};

type DnsSet = BTreeSet<(String, String, String)>;
type SniSet = BTreeSet<(String, String)>;

/// What a listed file may differ in.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Allowed {
    /// iotdest may miss tuples tshark reports (never report others).
    Missing,
    /// iotdest may report tuples tshark does not (never miss any).
    Extra,
}

/// Files (path suffix) where iotdest and tshark are allowed to differ, and why.
const EXCEPTIONS: &[(&str, Allowed, &str)] = &[
    // tshark leaves TCP 8443 to its HTTP-alternate heuristics and never dissects the TLS
    // ClientHello there; iotdest recognises ClientHellos by content on any port.
    (
        "WeMoInsightSwitch/ctrl2/2016-09-13_12.28.53_10.10.10.158.pcap",
        Allowed::Extra,
        "TLS on TCP 8443 not dissected by tshark",
    ),
    (
        "WeMoInsightSwitch2/ctrl2/2016-08-17_16.56.26_10.10.10.124.pcap",
        Allowed::Extra,
        "TLS on TCP 8443 not dissected by tshark",
    ),
    (
        "WeMoLink/ctrl2/2016-04-22_13.32.07_10.10.10.144.pcap",
        Allowed::Extra,
        "TLS on TCP 8443 not dissected by tshark",
    ),
    (
        "WeMoLink/ctrl2/2016-09-09_14.20.18_10.10.10.144.pcap",
        Allowed::Extra,
        "TLS on TCP 8443 not dissected by tshark",
    ),
    // Tunnels are not decapsulated: the device's own traffic is never tunnelled in the testbed.
    (
        "tunnels/geneve-vxlan-dns-truncated.pcap",
        Allowed::Missing,
        "DNS inside Geneve+VXLAN tunnels is not decapsulated",
    ),
];

fn tshark_sets(path: &Path) -> (DnsSet, SniSet) {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(path)
        .args([
            "-Y",
            "(dns.flags.response==1 && not mdns) || tls.handshake.extensions_server_name || (http.request && tcp)",
        ])
        .args(["-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,"])
        .args([
            "-e",
            "dns.flags.response",
            "-e",
            "dns.qry.name",
            "-e",
            "dns.qry.type",
            "-e",
            "dns.a",
            "-e",
            "dns.aaaa",
        ])
        .args([
            "-e",
            "tls.handshake.extensions_server_name",
            "-e",
            "ip.dst",
            "-e",
            "ipv6.dst",
            "-e",
            "udp.srcport",
            "-e",
            "http.host",
        ])
        .output()
        .expect("tshark runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut dns = DnsSet::new();
    let mut sni = SniSet::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let get = |i: usize| f.get(i).copied().unwrap_or("");
        if get(0).split(',').any(|v| v == "1" || v == "True") && !get(1).is_empty() {
            let q = get(1).split(',').next().unwrap_or("").to_ascii_lowercase();
            let t = get(2)
                .split(',')
                .next()
                .and_then(|t| t.parse::<u16>().ok())
                .map(type_name_of)
                .unwrap_or_default();
            let ips: Vec<&str> = get(3)
                .split(',')
                .chain(get(4).split(','))
                .filter(|s| !s.is_empty())
                .collect();
            if ips.is_empty() {
                dns.insert((q.clone(), t.clone(), String::new()));
            }
            for ip in ips {
                dns.insert((q.clone(), t.clone(), ip.to_string()));
            }
        }
        if !get(5).is_empty() {
            // Innermost IP header is the last occurrence.
            let dst = if !get(7).is_empty() { get(7) } else { get(6) };
            let dst = dst.rsplit(',').next().unwrap_or("").to_string();
            let proto = if get(8).is_empty() { "tcp" } else { "udp" };
            for name in get(5).split(',') {
                sni.insert((format!("{proto} {dst}"), name.to_ascii_lowercase()));
            }
        }
        if !get(9).is_empty() {
            let dst = if !get(7).is_empty() { get(7) } else { get(6) };
            let dst = dst.rsplit(',').next().unwrap_or("").to_string();
            for host in get(9).split(',') {
                let host = iotdest::extract::http::host_of(host.as_bytes()).unwrap_or_default();
                sni.insert((format!("http {dst}"), host));
            }
        }
    }
    (dns, sni)
}

fn our_sets(path: &Path) -> (DnsSet, SniSet) {
    let out = extract_file(path);
    let mut dns = DnsSet::new();
    // Group rows by response message.
    let mut groups: std::collections::BTreeMap<(i64, u16, String, u16), Vec<_>> =
        Default::default();
    for r in &out.dns {
        groups
            .entry((
                r.ts_us,
                r.txid,
                r.ends.client_ip.to_string(),
                r.ends.client_port,
            ))
            .or_default()
            .push(r);
    }
    for rows in groups.values() {
        let q = rows[0].query.clone().unwrap_or_default();
        let t = rows[0].qtype.clone().unwrap_or_default();
        let mut any = false;
        for r in rows {
            if matches!(r.rr_type.as_deref(), Some("A") | Some("AAAA")) {
                if let Some(a) = &r.answer {
                    dns.insert((q.clone(), t.clone(), a.clone()));
                    any = true;
                }
            }
        }
        if !any {
            dns.insert((q, t, String::new()));
        }
    }
    let sni = out
        .names
        .iter()
        .filter_map(|n| {
            let proto = match n.protocol {
                "quic" => "udp",
                "http" => "http",
                _ => "tcp",
            };
            n.name
                .clone()
                .map(|name| (format!("{proto} {}", n.ends.server_ip), name))
        })
        .collect();
    (dns, sni)
}

#[test]
fn dns_and_sni_agree_with_tshark() {
    let Some(corpus) = corpus() else {
        eprintln!("NOTICE: ../shared/corpus not found; differential test skipped");
        return;
    };
    if !have_tshark() {
        eprintln!("NOTICE: tshark not installed; differential test skipped (CI installs it)");
        return;
    }
    let mut files = captures_under(&corpus.join("ctrl2"));
    files.extend(captures_under(&corpus.join("edge").join("zeek")));
    let results = par_map(&files, |f| (tshark_sets(f), our_sets(f)));
    let (mut dns_rows, mut sni_rows, mut failures) = (0usize, 0usize, Vec::new());
    let mut excused = Vec::new();
    // Per protocol: (tshark tuples, tuples both report, tuples only iotdest reports).
    let mut per_proto: std::collections::BTreeMap<&str, (usize, usize, usize)> = Default::default();
    for (f, ((t_dns, t_sni), (o_dns, o_sni))) in files.iter().zip(results) {
        dns_rows += t_dns.len();
        sni_rows += t_sni.len();
        let e = per_proto.entry("dns").or_default();
        e.0 += t_dns.len();
        e.1 += t_dns.intersection(&o_dns).count();
        e.2 += o_dns.difference(&t_dns).count();
        for (label, prefix) in [("tls", "tcp "), ("quic", "udp "), ("http", "http ")] {
            let t: BTreeSet<_> = t_sni
                .iter()
                .filter(|(k, _)| k.starts_with(prefix))
                .collect();
            let o: BTreeSet<_> = o_sni
                .iter()
                .filter(|(k, _)| k.starts_with(prefix))
                .collect();
            let e = per_proto.entry(label).or_default();
            e.0 += t.len();
            e.1 += t.intersection(&o).count();
            e.2 += o.difference(&t).count();
        }
        let rel = f
            .strip_prefix(&corpus)
            .unwrap_or(f)
            .to_string_lossy()
            .into_owned();
        let exception = EXCEPTIONS.iter().find(|(p, _, _)| rel.ends_with(p));
        let missing_dns: Vec<_> = t_dns.difference(&o_dns).collect();
        let extra_dns: Vec<_> = o_dns.difference(&t_dns).collect();
        let missing_sni: Vec<_> = t_sni.difference(&o_sni).collect();
        let extra_sni: Vec<_> = o_sni.difference(&t_sni).collect();
        let differs = !(missing_dns.is_empty()
            && extra_dns.is_empty()
            && missing_sni.is_empty()
            && extra_sni.is_empty());
        let report = format!(
            "{rel}: missing dns {missing_dns:?} extra dns {extra_dns:?} missing sni {missing_sni:?} extra sni {extra_sni:?}"
        );
        match exception {
            Some((_, allowed, why)) => {
                let extra = !extra_dns.is_empty() || !extra_sni.is_empty();
                let missing = !missing_dns.is_empty() || !missing_sni.is_empty();
                let bad = match allowed {
                    Allowed::Missing => extra,
                    Allowed::Extra => missing,
                };
                if bad {
                    failures.push(format!(
                        "{report} (excepted for {allowed:?}: {why}, but differs the other way)"
                    ));
                } else {
                    excused.push(format!("{rel}: {why} (differs now: {differs})"));
                }
            }
            None if differs => failures.push(report),
            None => {}
        }
    }
    eprintln!(
        "differential: {} files, {} tshark DNS tuples, {} tshark SNI tuples, {} excepted files",
        files.len(),
        dns_rows,
        sni_rows,
        excused.len()
    );
    for (proto, (t, both, only_ours)) in &per_proto {
        eprintln!(
            "  {proto}: tshark {t} tuples, iotdest agrees on {both}, iotdest-only {only_ours}"
        );
    }
    for e in &excused {
        eprintln!("  exception {e}");
    }
    assert!(
        failures.is_empty(),
        "{} files differ from tshark:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
