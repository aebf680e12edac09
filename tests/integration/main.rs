//! The single integration-test binary (`autotests = false`): end-to-end, golden, differential
//! (tshark), analysis, classification and CLI behaviour tests.

mod analysis;
mod bench_script;
mod classification;
mod cli;
mod cluster;
mod common;
mod crafted;
mod dataset;
mod differential;
mod golden;
mod hostile;
mod ipdb;
mod legacy;
mod monthwise;
mod object_store;
mod report;
mod servers;
mod shards;
