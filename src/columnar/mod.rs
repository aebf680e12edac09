//! Columnar: the raw tables' Arrow schemas and the builders that turn rows into batches.

pub mod build;
pub mod schema;

pub use build::{captures_batch, dns_batch, flows_batch, names_batch};
