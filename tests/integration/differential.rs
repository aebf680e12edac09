//! Differential test against tshark on the real corpus (`../shared/corpus/`).
//!
//! For every capture: the set of (query, record type, answer IP) from DNS responses, the set
//! of (server IP, name) from TLS and QUIC ClientHellos (SNI), gQUIC CHLOs (SNI tag) and HTTP
//! requests (Host), and the set of (server IP, JA3) of client hellos must equal what tshark
//! reports (`tls.handshake.ja3`) with the legacy pipeline's commands
//! (`../shared/corpus/README.md`). The two display filters run in one
//! tshark pass per file, with `ipv6.dst` added beside `ip.dst` so IPv6 servers are compared
//! too. Every file allowed to differ is listed in `EXCEPTIONS` with its reason, and even there
//! iotdest must not report anything tshark does not (it may only miss).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use iotdest::extract::dns::type_name_of;
use iotdest::extract::RrType;

use super::common::{captures_under, corpus, extract_file, have_tshark, par_map};

type DnsSet = BTreeSet<(String, String, String)>;
type SniSet = BTreeSet<(String, String)>;

/// What one side reports for a capture: DNS (query, type, answer) tuples, ("proto server",
/// name) tuples of TLS/QUIC/gQUIC server names and HTTP hosts, and ("proto server", JA3)
/// tuples of client hellos.
#[derive(Debug, Default, PartialEq)]
pub struct Sets {
    pub dns: DnsSet,
    pub sni: SniSet,
    pub ja3: SniSet,
}

/// What a listed file may differ in.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Allowed {
    /// iotdest may miss tuples tshark reports (never report others). No file needs it now.
    #[allow(dead_code)]
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
];

pub fn tshark_sets(path: &Path) -> Sets {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(path)
        .args([
            "-Y",
            "(dns.flags.response==1 && not mdns) || tls.handshake.type == 1 || gquic.tag.sni || (http.request && tcp)",
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
            "-e",
            "tls.handshake.ja3",
            "-e",
            "gquic.tag.sni",
            "-e",
            "tcp.srcport",
        ])
        .output()
        .expect("tshark runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut dns = DnsSet::new();
    let mut sni = SniSet::new();
    let mut ja3s = SniSet::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let get = |i: usize| f.get(i).copied().unwrap_or("");
        if get(0).split(',').any(|v| v == "1" || v == "True") && !get(1).is_empty() {
            let q = get(1).split(',').next().unwrap_or("").to_ascii_lowercase();
            let t = get(2)
                .split(',')
                .next()
                .and_then(|t| t.parse::<u16>().ok())
                .map(|t| type_name_of(t).into_owned())
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
        // Innermost IP header is the last occurrence; TCP inside a UDP tunnel is TCP.
        let dst = if !get(7).is_empty() { get(7) } else { get(6) };
        let dst = dst.rsplit(',').next().unwrap_or("").to_string();
        let proto = if get(12).is_empty() { "udp" } else { "tcp" };
        for name in get(5).split(',').filter(|s| !s.is_empty()) {
            sni.insert((format!("{proto} {dst}"), name.to_ascii_lowercase()));
        }
        for ja3 in get(10).split(',').filter(|s| !s.is_empty()) {
            ja3s.insert((format!("{proto} {dst}"), ja3.to_string()));
        }
        for name in get(11).split(',').filter(|s| !s.is_empty()) {
            sni.insert((format!("udp {dst}"), name.to_ascii_lowercase()));
        }
        if !get(9).is_empty() {
            for host in get(9).split(',') {
                let host = iotdest::extract::http::host_of(host.as_bytes()).unwrap_or_default();
                sni.insert((format!("http {dst}"), host));
            }
        }
    }
    Sets {
        dns,
        sni,
        ja3: ja3s,
    }
}

pub fn our_sets(path: &Path) -> Sets {
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
        let q = rows[0].query.as_deref().unwrap_or_default().to_string();
        let t = rows[0]
            .qtype
            .map(RrType::name)
            .unwrap_or_default()
            .to_string();
        let mut any = false;
        for r in rows {
            if matches!(r.rr_type, Some(RrType(1 | 28))) {
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
    let proto = |n: &iotdest::extract::NameRow| match n.protocol {
        "quic" => "udp",
        "http" => "http",
        _ => "tcp",
    };
    let sni = out
        .names
        .iter()
        .filter_map(|n| {
            n.name
                .clone()
                .map(|name| (format!("{} {}", proto(n), n.ends.server_ip), name))
        })
        .collect();
    let ja3 = out
        .names
        .iter()
        .filter_map(|n| {
            let f = n.fingerprint.as_ref()?;
            Some((format!("{} {}", proto(n), n.ends.server_ip), f.ja3.clone()))
        })
        .collect();
    Sets { dns, sni, ja3 }
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
    for (f, (t, o)) in files.iter().zip(results) {
        let (t_dns, t_sni, t_ja3) = (t.dns, t.sni, t.ja3);
        let (o_dns, o_sni, o_ja3) = (o.dns, o.sni, o.ja3);
        dns_rows += t_dns.len();
        sni_rows += t_sni.len();
        let e = per_proto.entry("dns").or_default();
        e.0 += t_dns.len();
        e.1 += t_dns.intersection(&o_dns).count();
        e.2 += o_dns.difference(&t_dns).count();
        let e = per_proto.entry("ja3").or_default();
        e.0 += t_ja3.len();
        e.1 += t_ja3.intersection(&o_ja3).count();
        e.2 += o_ja3.difference(&t_ja3).count();
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
        let missing_ja3: Vec<_> = t_ja3.difference(&o_ja3).collect();
        let extra_ja3: Vec<_> = o_ja3.difference(&t_ja3).collect();
        let extra = !extra_dns.is_empty() || !extra_sni.is_empty() || !extra_ja3.is_empty();
        let missing = !missing_dns.is_empty() || !missing_sni.is_empty() || !missing_ja3.is_empty();
        let differs = extra || missing;
        let report = format!(
            "{rel}: missing dns {missing_dns:?} extra dns {extra_dns:?} missing sni {missing_sni:?} \
             extra sni {extra_sni:?} missing ja3 {missing_ja3:?} extra ja3 {extra_ja3:?}"
        );
        match exception {
            Some((_, allowed, why)) => {
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
