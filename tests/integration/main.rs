//! The single integration-test binary (`autotests = false`): end-to-end, golden, differential
//! (tshark) and CLI behaviour tests.

mod cli;
mod common;
mod dataset;
mod differential;
mod golden;
