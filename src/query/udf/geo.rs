//! `asn(ip)`, `as_org(ip)`, `country_iso(ip)`, `country_name(ip)`, `ip_scope(ip)`: look-ups in
//! the MaxMind-format databases opened once per session (null without a database or a match).

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

/// See `classify::geo::scope_of`.
pub fn ip_scope_of(ip: &str) -> Option<&'static str> {
    ip.parse().ok().map(crate::classify::geo::scope_of)
}

pub fn ip_scope() -> ScalarUDF {
    TextUdf::new("ip_scope", 1, OutType::Text, |a| {
        Out::Text(a[0].and_then(ip_scope_of).map(str::to_string))
    })
}
