//! The project's UDFs: each is a pure Rust function (in `classify`) behind the shared adapter.

pub mod adapter;
pub mod domain;
pub mod geo;
pub mod party;

use std::sync::Arc;

use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::ScalarUDF;

pub use crate::classify::party::HasDevices as DeviceContexts;

/// Registers every UDF on `ctx`.
pub fn register_all(
    ctx: &SessionContext,
    geo: Arc<crate::classify::geo::Geo>,
    devices: Arc<dyn DeviceContexts>,
) {
    for udf in all(geo, devices) {
        ctx.register_udf(udf);
    }
}

/// Every UDF (a cluster's scheduler and executors register them by name).
pub fn all(
    geo: Arc<crate::classify::geo::Geo>,
    devices: Arc<dyn DeviceContexts>,
) -> Vec<ScalarUDF> {
    vec![
        domain::registrable_domain(),
        domain::sld(),
        domain::public_suffix(),
        geo::asn(geo.clone()),
        geo::as_org(geo.clone()),
        geo::country_iso(geo.clone()),
        geo::country_name(geo),
        geo::ip_scope(),
        party::classify_party(devices.clone()),
        party::party_reason(devices.clone()),
        party::organization(devices.clone()),
        party::iot_platform(devices.clone()),
        party::manufacturer(devices),
    ]
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Array, Int64Array, StringArray};
    use datafusion::execution::context::SessionContext;

    use crate::classify::devices::Devices;
    use crate::classify::geo::Geo;
    use crate::classify::{Classifier, Rules};

    fn ctx() -> SessionContext {
        let ctx = SessionContext::new();
        let devices = Devices::new(
            Classifier::new(Rules::embedded().unwrap()),
            None,
            None,
            None,
        )
        .unwrap();
        super::register_all(&ctx, Arc::new(Geo::default()), Arc::new(devices));
        ctx
    }

    async fn strings(ctx: &SessionContext, sql: &str) -> Vec<Option<String>> {
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let mut out = Vec::new();
        for b in batches {
            let c = arrow::compute::cast(b.column(0), &arrow::datatypes::DataType::Utf8).unwrap();
            let a = c.as_any().downcast_ref::<StringArray>().unwrap();
            out.extend((0..a.len()).map(|i| (!a.is_null(i)).then(|| a.value(i).to_string())));
        }
        out
    }

    #[tokio::test]
    async fn scalars_of_every_string_type_and_nulls() {
        let ctx = ctx();
        for t in ["Utf8", "LargeUtf8", "Utf8View"] {
            let sql =
                format!("SELECT registrable_domain(arrow_cast('x.d1.cloudfront.net', '{t}'))");
            assert_eq!(
                strings(&ctx, &sql).await,
                vec![Some("cloudfront.net".into())],
                "{t}"
            );
        }
        assert_eq!(strings(&ctx, "SELECT sld(NULL)").await, vec![None]);
        assert_eq!(
            strings(&ctx, "SELECT public_suffix('www.bbc.co.uk')").await,
            vec![Some("co.uk".into())]
        );
        assert_eq!(
            strings(&ctx, "SELECT ip_scope('10.1.2.3')").await,
            vec![Some("local".into())]
        );
        assert_eq!(
            strings(&ctx, "SELECT country_iso('8.8.8.8')").await,
            vec![None],
            "no database → null"
        );
    }

    #[tokio::test]
    async fn arrays_through_sql() {
        let ctx = ctx();
        let sql = "SELECT registrable_domain(h) FROM (VALUES ('a.b.example.co.uk'), (NULL), ('10.0.0.1'), ('API.Tuyaus.COM')) AS t(h)";
        assert_eq!(
            strings(&ctx, sql).await,
            vec![
                Some("example.co.uk".into()),
                None,
                None,
                Some("tuyaus.com".into())
            ]
        );
        let sql = "SELECT classify_party(d, h, NULL, NULL) FROM (VALUES ('echo_dot', 'api.amazon.com'), ('sonos_speaker', 'api.amazon.com'), ('x', NULL)) AS t(d, h)";
        let got = strings(&ctx, sql).await;
        assert_eq!(got[0].as_deref(), Some("First-party"));
        assert_ne!(got[1].as_deref(), Some("First-party"));
        assert_eq!(got[2], None);
        let batches = ctx
            .sql("SELECT asn(ip) FROM (VALUES ('1.1.1.1')) AS t(ip)")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let a = batches[0]
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        assert!(a.is_null(0));
    }
}
