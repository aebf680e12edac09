//! Store: hive-partitioned Parquet (`<table>/device=/year=/month=/part-<n>.parquet`).

pub mod columns;
pub mod inventory;
pub mod location;
pub mod manifest;
pub mod partition;
pub mod shard;
pub mod writer;

pub use location::Location;
pub use partition::{decode_value, encode_value, PartitionKey};
pub use writer::{
    clean_stale_staging, publish, publish_dir, remove_partition, remove_partition_at, replace_dir,
    PartitionWriter, StoreError,
};
