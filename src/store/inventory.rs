//! What a dataset folder holds, without reading a row: the partitions of a table
//! (`<table>/device=/year=/month=`), each part file's name, size and modification time, and the
//! time span of a timestamp column from the Parquet footers' column statistics.
//!
//! The month-wise analysis plans from this: which months exist, what each was computed from,
//! and which neighbouring partitions hold answers inside a month's DNS look-back.

use parquet::file::statistics::Statistics;

use super::location::{Entry, Location};
use super::partition::{decode_value, PartitionKey};
use super::writer::StoreError;

/// One Parquet part file (or object) as found.
pub type PartFile = Entry;

/// One partition folder of a table.
#[derive(Debug, Clone)]
pub struct Partition {
    pub key: PartitionKey,
    /// The device value as it is spelled in the path (percent-encoded), which is also what
    /// DataFusion's hive partitioning puts in the `device` column.
    pub device_value: String,
    pub dir: Location,
    /// Part files, sorted by name.
    pub files: Vec<PartFile>,
}

impl Partition {
    /// Each part file's location and size.
    pub fn parts(&self) -> impl Iterator<Item = (Location, u64)> + '_ {
        self.files.iter().map(|f| (self.dir.join(&f.name), f.size))
    }
}

fn subdirs(dir: &Location, prefix: &str) -> Result<Vec<(String, Location)>, StoreError> {
    Ok(dir
        .dirs()?
        .into_iter()
        .filter_map(|(name, loc)| Some((name.strip_prefix(prefix)?.to_string(), loc)))
        .collect())
}

/// The Parquet part files of a folder (hidden files left out), sorted by name.
pub fn part_files(dir: &Location) -> Result<Vec<PartFile>, StoreError> {
    Ok(dir
        .files()?
        .into_iter()
        .filter(|f| f.name.ends_with(".parquet"))
        .collect())
}

/// Every `device=/year=/month=` folder under `table_dir` that holds at least one part file,
/// sorted by key. Folders whose names are not such keys are ignored.
pub fn partitions(table_dir: &Location) -> Result<Vec<Partition>, StoreError> {
    let mut out = Vec::new();
    for (device_value, ddir) in subdirs(table_dir, "device=")? {
        for (year, ydir) in subdirs(&ddir, "year=")? {
            let Ok(year) = year.parse::<i32>() else {
                continue;
            };
            for (month, mdir) in subdirs(&ydir, "month=")? {
                let Ok(month) = month.parse::<u32>() else {
                    continue;
                };
                if !(1..=12).contains(&month) {
                    continue;
                }
                let files = part_files(&mdir)?;
                if files.is_empty() {
                    continue;
                }
                out.push(Partition {
                    key: PartitionKey {
                        device: decode_value(&device_value),
                        year,
                        month,
                    },
                    device_value: device_value.clone(),
                    dir: mdir,
                    files,
                });
            }
        }
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}

/// The span of a timestamp column over some part files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    /// No rows.
    Empty,
    /// Smallest and largest value (microseconds), both inclusive.
    Range(i64, i64),
    /// A footer could not be read or lacks statistics: the rows may be anywhere.
    Unknown,
}

impl Span {
    fn add(self, other: Span) -> Span {
        match (self, other) {
            (Span::Unknown, _) | (_, Span::Unknown) => Span::Unknown,
            (Span::Empty, s) | (s, Span::Empty) => s,
            (Span::Range(a, b), Span::Range(c, d)) => Span::Range(a.min(c), b.max(d)),
        }
    }

    /// Whether any row may fall inside `[from, to]`.
    pub fn overlaps(self, from: i64, to: i64) -> bool {
        match self {
            Span::Empty => false,
            Span::Unknown => true,
            Span::Range(a, b) => a <= to && b >= from,
        }
    }
}

fn file_span(part: &Location, size: u64, column: &str) -> Span {
    let Ok(meta) = part.parquet_metadata(size) else {
        return Span::Unknown;
    };
    let schema = meta.file_metadata().schema_descr();
    let Some(idx) = (0..schema.num_columns()).find(|&i| schema.column(i).name() == column) else {
        return Span::Unknown;
    };
    let mut span = Span::Empty;
    for rg in meta.row_groups() {
        if rg.num_rows() == 0 {
            continue;
        }
        let range = match rg.column(idx).statistics() {
            Some(Statistics::Int64(s)) => match (s.min_opt(), s.max_opt()) {
                (Some(&lo), Some(&hi)) => Span::Range(lo, hi),
                _ => Span::Unknown,
            },
            _ => Span::Unknown,
        };
        span = span.add(range);
    }
    span
}

/// The span of the INT64-backed timestamp `column` over a partition's part files.
pub fn time_span(partition: &Partition, column: &str) -> Span {
    partition.parts().fold(Span::Empty, |acc, (p, size)| {
        acc.add(file_span(&p, size, column))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_combine_and_overlap() {
        let r = Span::Range(10, 20);
        assert_eq!(Span::Empty.add(r), r);
        assert_eq!(r.add(Span::Range(5, 12)), Span::Range(5, 20));
        assert_eq!(r.add(Span::Unknown), Span::Unknown);
        assert!(r.overlaps(20, 30) && r.overlaps(0, 10) && !r.overlaps(21, 30));
        assert!(!Span::Empty.overlaps(i64::MIN, i64::MAX));
        assert!(Span::Unknown.overlaps(0, 0));
    }

    #[test]
    fn partitions_are_listed_by_key_and_malformed_folders_ignored() {
        use std::fs;
        let tmp = std::env::temp_dir().join(format!("iotdest-inv-{}", std::process::id()));
        let _ = fs::remove_dir_all(&tmp);
        for rel in [
            "device=b/year=2024/month=02",
            "device=a%20x/year=2024/month=11",
            "device=a%20x/year=2024/month=13",
            "device=c/year=20x4/month=01",
            "other/year=2024/month=01",
            "device=d/year=2024/month=03",
        ] {
            let d = tmp.join(rel);
            fs::create_dir_all(&d).unwrap();
            if !rel.starts_with("device=d") {
                fs::write(d.join("part-0.parquet"), b"x").unwrap();
            }
            fs::write(d.join(".part-1.parquet"), b"hidden").unwrap();
        }
        let parts = partitions(&Location::Local(tmp.clone())).unwrap();
        let keys: Vec<(String, i32, u32, usize)> = parts
            .iter()
            .map(|p| (p.key.device.clone(), p.key.year, p.key.month, p.files.len()))
            .collect();
        assert_eq!(
            keys,
            vec![("a x".into(), 2024, 11, 1), ("b".into(), 2024, 2, 1)]
        );
        assert_eq!(parts[0].device_value, "a%20x");
        assert_eq!(time_span(&parts[0], "ts"), Span::Unknown);
        let _ = fs::remove_dir_all(&tmp);
    }
}
