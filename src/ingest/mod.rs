//! Ingest: find capture files and read their packets (first stage of the pipeline).

pub mod discover;
pub mod name;
pub mod reader;
