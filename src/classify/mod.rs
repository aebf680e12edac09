//! Classify (pure Rust, no DataFusion): registrable-domain split, rules, the four-party
//! classifier and MaxMind-format geolocation. The query layer wraps these in UDFs.

pub mod devices;
pub mod domain;
pub mod geo;
pub mod ipranges;
pub mod party;
pub mod rules;

pub use party::{Category, Classifier, DeviceContext, Verdict};
pub use rules::Rules;
