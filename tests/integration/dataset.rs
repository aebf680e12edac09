//! Reads a dataset back (every Parquet part of every partition) into canonical text lines, so
//! tests compare decoded contents rather than Parquet bytes.

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::util::display::{ArrayFormatter, FormatOptions};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// Parquet files of `table` under `dataset`, sorted by path.
pub fn parts(dataset: &Path, table: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dataset.join(table)];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "parquet") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Canonical lines of a table: the partition path, then `column=value` cells. Columns in
/// `skip` are left out (values that depend on where or when the test runs).
pub fn dump_table(dataset: &Path, table: &str, skip: &[&str]) -> Vec<String> {
    let mut lines = Vec::new();
    let opts = FormatOptions::default().with_null("");
    for part in parts(dataset, table) {
        let rel = part
            .strip_prefix(dataset)
            .unwrap_or(&part)
            .parent()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let file = File::open(&part).expect("open part");
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .expect("parquet")
            .build()
            .expect("reader");
        for batch in reader {
            let batch = batch.expect("batch");
            let schema = batch.schema();
            let cols: Vec<(String, ArrayFormatter)> = schema
                .fields()
                .iter()
                .zip(batch.columns())
                .filter(|(f, _)| !skip.contains(&f.name().as_str()))
                .map(|(f, c)| {
                    (
                        f.name().clone(),
                        ArrayFormatter::try_new(c.as_ref(), &opts).expect("formatter"),
                    )
                })
                .collect();
            for i in 0..batch.num_rows() {
                let cells: Vec<String> = cols
                    .iter()
                    .map(|(n, f)| format!("{n}={}", f.value(i)))
                    .collect();
                lines.push(format!("{rel}|{}", cells.join("|")));
            }
        }
    }
    lines
}

/// All four raw tables, in canonical text. `captures.path` is made relative to `root`.
pub fn dump_dataset(dataset: &Path, root: &Path) -> String {
    let mut out = String::new();
    for table in ["captures", "dns", "names", "flows"] {
        out.push_str(&format!("## {table}\n"));
        let skip: &[&str] = if table == "captures" { &["mtime"] } else { &[] };
        for line in dump_table(dataset, table, skip) {
            let root_text = format!("{}/", root.display());
            out.push_str(&line.replace(&root_text, ""));
            out.push('\n');
        }
    }
    out
}
