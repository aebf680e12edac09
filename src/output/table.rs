//! Query results to text: an aligned table, CSV (RFC 4180) or JSON lines.

use std::io::Write;

use arrow::array::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};

/// Writes `batches` in `format` (`table`, `csv` or `json`).
pub fn write_batches(
    out: &mut dyn Write,
    batches: &[RecordBatch],
    format: &str,
) -> anyhow::Result<()> {
    let Some(first) = batches.first() else {
        if format == "table" {
            writeln!(out, "(no rows)")?;
        }
        return Ok(());
    };
    let schema = first.schema();
    let headers: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let opts = FormatOptions::default().with_null("");
    let mut rows: Vec<Vec<Option<String>>> = Vec::new();
    for b in batches {
        let fmts: Vec<ArrayFormatter> = b
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &opts))
            .collect::<Result<_, _>>()?;
        for i in 0..b.num_rows() {
            rows.push(
                b.columns()
                    .iter()
                    .zip(&fmts)
                    .map(|(c, f)| {
                        if c.is_null(i) {
                            None
                        } else {
                            Some(f.value(i).to_string())
                        }
                    })
                    .collect(),
            );
        }
    }
    match format {
        "csv" => {
            let mut w = csv::WriterBuilder::new()
                .terminator(csv::Terminator::Any(b'\n'))
                .from_writer(out);
            w.write_record(&headers)?;
            for r in &rows {
                w.write_record(r.iter().map(|v| v.as_deref().unwrap_or("")))?;
            }
            w.flush()?;
        }
        "json" => {
            for r in &rows {
                let obj: serde_json::Map<String, serde_json::Value> = headers
                    .iter()
                    .zip(r)
                    .map(|(h, v)| {
                        (
                            h.clone(),
                            v.clone()
                                .map_or(serde_json::Value::Null, serde_json::Value::String),
                        )
                    })
                    .collect();
                serde_json::to_writer(&mut *out, &obj)?;
                writeln!(out)?;
            }
        }
        _ => {
            let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
            for r in &rows {
                for (w, v) in widths.iter_mut().zip(r) {
                    *w = (*w).max(v.as_deref().map_or(0, |s| s.chars().count()));
                }
            }
            let line = |cells: Vec<&str>, out: &mut dyn Write| -> std::io::Result<()> {
                let padded: Vec<String> = cells
                    .iter()
                    .zip(&widths)
                    .map(|(c, w)| format!("{c:<w$}"))
                    .collect();
                writeln!(out, "| {} |", padded.join(" | "))
            };
            line(headers.iter().map(String::as_str).collect(), out)?;
            writeln!(
                out,
                "|{}|",
                widths
                    .iter()
                    .map(|w| "-".repeat(w + 2))
                    .collect::<Vec<_>>()
                    .join("|")
            )?;
            for r in &rows {
                line(r.iter().map(|v| v.as_deref().unwrap_or("")).collect(), out)?;
            }
            writeln!(out, "({} rows)", rows.len())?;
        }
    }
    Ok(())
}
