//! Store: hive-partitioned Parquet (`<table>/device=/year=/month=/part-<n>.parquet`).

pub mod inventory;
pub mod manifest;
pub mod partition;
pub mod shard;
pub mod writer;

pub use partition::{decode_value, encode_value, PartitionKey};
pub use writer::{clean_stale_staging, remove_partition, replace_dir, PartitionWriter, StoreError};
