//! `asn(ip)`, `as_org(ip)`, `country_iso(ip)`, `country_name(ip)`, `ip_scope(ip)`: look-ups in
//! the MaxMind-format databases opened once per session (null without a database or a match).

use std::net::IpAddr;
use std::sync::Arc;

use datafusion::logical_expr::ScalarUDF;

use super::adapter::{Out, OutType, TextUdf};
use crate::classify::geo::Geo;

pub fn asn(geo: Arc<Geo>) -> ScalarUDF {
    TextUdf::new("asn", 1, OutType::Int, move |a| {
        Out::Int(
            a[0].and_then(|ip| geo.asn(ip))
                .and_then(|x| x.number)
                .map(i64::from),
        )
    })
}

pub fn as_org(geo: Arc<Geo>) -> ScalarUDF {
    TextUdf::new("as_org", 1, OutType::Text, move |a| {
        Out::Text(a[0].and_then(|ip| geo.asn(ip)).and_then(|x| x.organization))
    })
}

pub fn country_iso(geo: Arc<Geo>) -> ScalarUDF {
    TextUdf::new("country_iso", 1, OutType::Text, move |a| {
        Out::Text(a[0].and_then(|ip| geo.country(ip)).map(|c| c.iso_code))
    })
}

pub fn country_name(geo: Arc<Geo>) -> ScalarUDF {
    TextUdf::new("country_name", 1, OutType::Text, move |a| {
        Out::Text(a[0].and_then(|ip| geo.country(ip)).and_then(|c| c.name))
    })
}

/// `internet`, `local` (private, link-local, ULA, loopback, CGNAT, unspecified) or `multicast`
/// (multicast and broadcast); null for text that is not an IP.
pub fn ip_scope_of(ip: &str) -> Option<&'static str> {
    let ip: IpAddr = ip.parse().ok()?;
    let scope = match ip {
        IpAddr::V4(v4) => {
            if v4.is_multicast() || v4.is_broadcast() {
                "multicast"
            } else if v4.is_private()
                || v4.is_link_local()
                || v4.is_loopback()
                || v4.is_unspecified()
                || {
                    let o = v4.octets();
                    o[0] == 100 && (o[1] & 0xc0) == 64
                }
            {
                "local"
            } else {
                "internet"
            }
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            if v6.is_multicast() {
                "multicast"
            } else if v6.is_loopback()
                || v6.is_unspecified()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
            {
                "local"
            } else {
                "internet"
            }
        }
    };
    Some(scope)
}

pub fn ip_scope() -> ScalarUDF {
    TextUdf::new("ip_scope", 1, OutType::Text, |a| {
        Out::Text(a[0].and_then(ip_scope_of).map(str::to_string))
    })
}
