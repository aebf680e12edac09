//! iotdest: where does each IoT device send its data?
//!
//! Data flows one way, and each module imports only the stages above it:
//!
//! ```text
//! ingest   → discover capture files; read pcap/pcapng[.gz] packets
//! decode   → link → IP → TCP/UDP/ICMP (zero-copy)
//! flow     → per-capture flow table; bounded TCP stream reassembly
//! extract  → DNS answers, TLS server names, flows → plain rows
//! one_capture → one large capture on several threads (mapped chunks, or batches)
//! columnar → rows → Arrow batches (schemas as constants)
//! store    → hive-partitioned Parquet, month replaced atomically
//! pipeline → rayon over captures, ordered writes
//! classify → registrable domains, rules, party classifier, MaxMind look-ups (pure Rust)
//! query    → DataFusion session, UDFs (thin adapters over classify), sql/*.sql analysis
//! output   → query results as text; legacy JSON/CSV/pickle files
//! cli      → clap commands
//! ```
//! Without the default `full` feature only the packet parsers (ingest, decode, flow, extract,
//! drops) are built — what the fuzz targets need.
//!
//! `drops` (per-packet drop reasons) is a leaf every stage may use; `synth` generates test
//! captures and depends on no other module.

#[cfg(feature = "full")]
pub mod classify;
#[cfg(feature = "full")]
pub mod cli;
#[cfg(feature = "full")]
pub mod columnar;
pub mod decode;
pub mod drops;
pub mod extract;
pub mod flow;
pub mod ingest;
pub mod one_capture;
#[cfg(feature = "full")]
pub mod output;
#[cfg(feature = "full")]
pub mod pipeline;
#[cfg(feature = "full")]
pub mod query;
#[cfg(feature = "full")]
pub mod store;
#[cfg(feature = "full")]
pub mod synth;
