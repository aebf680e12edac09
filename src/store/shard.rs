//! `--shard I/N`: a stable share of the work for one of N workers that run the same command with
//! no coordination. Extraction is shared out by device-month, analysis by month (all devices of
//! a month stay together). A key's shard is a hash of the key alone (SHA-256, first 8 bytes,
//! modulo N), so it does not depend on which other keys exist, on the order of the inputs or on
//! the machine, and a month keeps its worker as the archive grows.

use sha2::{Digest, Sha256};

use super::partition::PartitionKey;

/// Worker `index` of `count` (0 ≤ index < count).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// Parses `I/N`.
    pub fn parse(s: &str) -> Result<Shard, String> {
        let bad = || format!("{s:?} is not a shard like 0/4 (worker index / number of workers)");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (u32, u32) = (
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if count == 0 || index >= count {
            return Err(format!(
                "{s:?}: the index must be below the number of workers (0/{count} … {}/{count})",
                count.saturating_sub(1)
            ));
        }
        Ok(Shard { index, count })
    }

    fn owns(&self, key: &str) -> bool {
        let digest = Sha256::digest(key.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        u64::from_be_bytes(first) % u64::from(self.count) == u64::from(self.index)
    }

    /// Whether this worker extracts the device-month `key`.
    pub fn owns_device_month(&self, key: &PartitionKey) -> bool {
        self.owns(&format!(
            "device-month\n{}\n{:04}-{:02}",
            key.device, key.year, key.month
        ))
    }

    /// Whether this worker analyses the month `(year, month)`.
    pub fn owns_month(&self, (year, month): (i32, u32)) -> bool {
        self.owns(&format!("month\n{year:04}-{month:02}"))
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_split_keys_into_disjoint_covering_shares() {
        assert_eq!(Shard::parse("1/4"), Ok(Shard { index: 1, count: 4 }));
        for bad in ["4/4", "1/0", "x/2", "1", "-1/2", ""] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
        let shards: Vec<Shard> = (0..3).map(|i| Shard { index: i, count: 3 }).collect();
        let mut per = [0usize; 3];
        for year in 2016..2026 {
            for month in 1..=12 {
                let owners: Vec<usize> = (0..3)
                    .filter(|&i| shards[i].owns_month((year, month)))
                    .collect();
                assert_eq!(owners.len(), 1, "{year}-{month}");
                per[owners[0]] += 1;
                let key = PartitionKey {
                    device: "plug".into(),
                    year,
                    month,
                };
                assert_eq!(
                    shards.iter().filter(|s| s.owns_device_month(&key)).count(),
                    1
                );
            }
        }
        // 120 months over 3 workers: no worker is left idle or gets most of them.
        assert!(per.iter().all(|&n| (20..=60).contains(&n)), "{per:?}");
        // The same key always goes to the same worker.
        assert_eq!(
            shards[0].owns_month((2024, 11)),
            Shard { index: 0, count: 3 }.owns_month((2024, 11))
        );
        let one = Shard { index: 0, count: 1 };
        assert!(one.owns_month((2024, 1)));
    }
}
