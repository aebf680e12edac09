//! `classify_party(device, host, cname, as_org[, asn])`, `party_reason(…)` (same arguments),
//! `organization(host, as_org)`, `iot_platform(host)`, `manufacturer(device)`.

use std::sync::Arc;

use datafusion::logical_expr::ScalarUDF;

use super::adapter::{Out, OutType, TextUdf};
use crate::classify::party::HasDevices as DeviceContexts;

fn verdict(ctx: &dyn DeviceContexts, a: &[Option<&str>]) -> Option<crate::classify::Verdict> {
    let device = a[0].unwrap_or("");
    let host = a[1]?;
    Some(
        ctx.classifier().classify(
            &ctx.context(device),
            host,
            a[2],
            a[3],
            a.get(4)
                .copied()
                .flatten()
                .and_then(|n| n.trim().parse().ok()),
        ),
    )
}

pub fn classify_party(ctx: Arc<dyn DeviceContexts>) -> ScalarUDF {
    TextUdf::with_optional("classify_party", 4, 5, OutType::Text, move |a| {
        Out::Text(verdict(ctx.as_ref(), a).map(|v| v.category.name().to_string()))
    })
}

pub fn party_reason(ctx: Arc<dyn DeviceContexts>) -> ScalarUDF {
    TextUdf::with_optional("party_reason", 4, 5, OutType::Text, move |a| {
        Out::Text(verdict(ctx.as_ref(), a).map(|v| v.reason.to_string()))
    })
}

pub fn organization(ctx: Arc<dyn DeviceContexts>) -> ScalarUDF {
    TextUdf::new("organization", 2, OutType::Text, move |a| {
        Out::Text(Some(ctx.classifier().organization(a[0], a[1])))
    })
}

pub fn iot_platform(ctx: Arc<dyn DeviceContexts>) -> ScalarUDF {
    TextUdf::new("iot_platform", 1, OutType::Text, move |a| {
        Out::Text(a[0].and_then(|h| {
            ctx.classifier()
                .platform_of(&h.to_ascii_lowercase())
                .map(|(p, _)| p.to_string())
        }))
    })
}

pub fn manufacturer(ctx: Arc<dyn DeviceContexts>) -> ScalarUDF {
    TextUdf::new("manufacturer", 1, OutType::Text, move |a| {
        Out::Text(a[0].and_then(|d| {
            ctx.context(d)
                .manufacturer
                .map(|i| ctx.classifier().manufacturer_name(i).to_string())
        }))
    })
}
