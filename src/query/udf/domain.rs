//! `registrable_domain(host)`, `sld(host)`, `public_suffix(host)`: the PSL split, ICANN only.

use datafusion::logical_expr::ScalarUDF;

use super::adapter::{Out, OutType, TextUdf};
use crate::classify::domain;

pub fn registrable_domain() -> ScalarUDF {
    TextUdf::new("registrable_domain", 1, OutType::Text, |a| {
        Out::Text(
            a[0].and_then(|h| {
                domain::registrable_domain(&h.to_ascii_lowercase()).map(str::to_string)
            }),
        )
    })
}

pub fn sld() -> ScalarUDF {
    TextUdf::new("sld", 1, OutType::Text, |a| {
        Out::Text(a[0].and_then(|h| domain::sld(&h.to_ascii_lowercase()).map(str::to_string)))
    })
}

pub fn public_suffix() -> ScalarUDF {
    TextUdf::new("public_suffix", 1, OutType::Text, |a| {
        Out::Text(
            a[0].and_then(|h| domain::public_suffix(&h.to_ascii_lowercase()).map(str::to_string)),
        )
    })
}
