//! One local Parquet part file whose columns are encoded side by side.
//!
//! `ArrowWriter` encodes a batch one column after the other on the calling thread. A table's
//! columns are independent until their row group is written out, so here each column of a
//! large batch (and each column chunk at the end of a row group) is a task on the caller's
//! rayon pool: idle threads take some, and on a busy pool the caller runs them all itself.
//! This matters at the end of a split capture or of a run, when one thread would otherwise
//! encode a whole month while the others wait.
//!
//! The file is the one `ArrowWriter` writes with the same properties, byte for byte: the same
//! file writer and column writers (taken from `ArrowWriter::into_serialized_writer`), row
//! groups cut at the same rows, column chunks appended in schema order.

use std::fs::File;
use std::io::BufWriter;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use parquet::arrow::arrow_writer::{
    compute_leaves, ArrowColumnChunk, ArrowColumnWriter, ArrowLeafColumn,
    ArrowRowGroupWriterFactory,
};
use parquet::arrow::ArrowWriter;
use parquet::errors::{ParquetError, Result};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use rayon::prelude::*;

/// Rows from which a batch's columns (or a row group's chunks) are encoded as separate tasks;
/// below it a task costs more than it saves (a month of small captures writes many small
/// batches).
const PARALLEL_ROWS: usize = 4096;

/// A part file being written.
pub struct ColumnsWriter {
    file: SerializedFileWriter<BufWriter<File>>,
    factory: ArrowRowGroupWriterFactory,
    schema: SchemaRef,
    /// Rows per row group (the properties' limit, as `ArrowWriter` takes it).
    group_rows: usize,
    /// The row group being encoded: its column writers and rows so far.
    group: Option<(Vec<ArrowColumnWriter>, usize)>,
}

impl ColumnsWriter {
    /// Starts a part in `out` with `props` (row groups cut at its row limit).
    pub fn try_new(
        out: BufWriter<File>,
        schema: SchemaRef,
        props: WriterProperties,
    ) -> Result<ColumnsWriter> {
        let group_rows = props.max_row_group_row_count().unwrap_or(usize::MAX);
        let (file, factory) =
            ArrowWriter::try_new(out, schema.clone(), Some(props))?.into_serialized_writer()?;
        Ok(ColumnsWriter {
            file,
            factory,
            schema,
            group_rows: group_rows.max(1),
            group: None,
        })
    }

    /// Encodes `batch`, closing each row group as it fills.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let mut at = 0;
        while at < batch.num_rows() {
            let (writers, rows) = match &mut self.group {
                Some(g) => g,
                None => {
                    let index = self.file.flushed_row_groups().len();
                    self.group
                        .insert((self.factory.create_column_writers(index)?, 0))
                }
            };
            let n = (batch.num_rows() - at).min(self.group_rows - *rows);
            encode(writers, &self.schema, &batch.slice(at, n))?;
            *rows += n;
            at += n;
            if *rows >= self.group_rows {
                self.flush()?;
            }
        }
        Ok(())
    }

    /// Closes the row group being encoded (if any) and appends it to the file.
    fn flush(&mut self) -> Result<()> {
        let Some((writers, rows)) = self.group.take() else {
            return Ok(());
        };
        let chunks: Result<Vec<ArrowColumnChunk>> = if rows >= PARALLEL_ROWS {
            writers.into_par_iter().map(|w| w.close()).collect()
        } else {
            writers.into_iter().map(|w| w.close()).collect()
        };
        let mut group = self.file.next_row_group()?;
        for chunk in chunks? {
            chunk.append_to_row_group(&mut group)?;
        }
        group.close()?;
        Ok(())
    }

    /// Writes the last row group and the footer.
    pub fn close(mut self) -> Result<()> {
        self.flush()?;
        self.file.close()?;
        Ok(())
    }
}

/// Encodes one slice of a batch (all in one row group) into the group's column writers.
fn encode(
    writers: &mut [ArrowColumnWriter],
    schema: &SchemaRef,
    batch: &RecordBatch,
) -> Result<()> {
    let mut leaves: Vec<ArrowLeafColumn> = Vec::with_capacity(writers.len());
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        leaves.extend(compute_leaves(field, column)?);
    }
    if leaves.len() != writers.len() {
        return Err(ParquetError::General(format!(
            "{} leaf columns for {} column writers",
            leaves.len(),
            writers.len()
        )));
    }
    if batch.num_rows() >= PARALLEL_ROWS {
        writers
            .par_iter_mut()
            .zip(leaves.par_iter())
            .try_for_each(|(w, leaf)| w.write(leaf))
    } else {
        writers
            .iter_mut()
            .zip(&leaves)
            .try_for_each(|(w, leaf)| w.write(leaf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringArray, TimestampMicrosecondArray};
    use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
    use std::sync::Arc;

    fn batch(schema: &SchemaRef, from: i64, rows: usize) -> RecordBatch {
        let ts: Vec<i64> = (0..rows as i64).map(|i| from + i * 1_000_003).collect();
        let names: Vec<String> = (0..rows)
            .map(|i| format!("host{}.example", i % 97))
            .collect();
        let sizes: Vec<Option<i64>> = (0..rows as i64)
            .map(|i| (i % 5 != 0).then_some(i * 7))
            .collect();
        RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(TimestampMicrosecondArray::from(ts)),
                Arc::new(StringArray::from(names)),
                Arc::new(Int64Array::from(sizes)),
            ],
        )
        .unwrap()
    }

    /// Small and large batches, row groups cut inside batches and between them: the file is
    /// the one `ArrowWriter` writes, byte for byte.
    #[test]
    fn the_file_is_arrow_writers_byte_for_byte() {
        let schema: SchemaRef = Arc::new(Schema::new(vec![
            Field::new(
                "ts",
                DataType::Timestamp(TimeUnit::Microsecond, None),
                false,
            ),
            Field::new("name", DataType::Utf8, false),
            Field::new("bytes", DataType::Int64, true),
        ]));
        let props = || super::super::writer::writer_properties(&schema);
        let group_rows = 10_000;
        let props_rows = || {
            let mut p = props().into_builder();
            p = p.set_max_row_group_row_count(Some(group_rows));
            p.build()
        };
        let dir = tempfile::tempdir().unwrap();
        let (ours, theirs) = (dir.path().join("ours"), dir.path().join("theirs"));
        let batches: Vec<RecordBatch> = [3, 5000, 9000, 1, 4096, 12_345, 0, 7]
            .iter()
            .enumerate()
            .map(|(i, &rows)| batch(&schema, i as i64 * 1_000_000_000, rows))
            .collect();
        let mut w = ColumnsWriter::try_new(
            BufWriter::new(File::create(&ours).unwrap()),
            schema.clone(),
            props_rows(),
        )
        .unwrap();
        let mut a = ArrowWriter::try_new(
            BufWriter::new(File::create(&theirs).unwrap()),
            schema.clone(),
            Some(props_rows()),
        )
        .unwrap();
        for b in &batches {
            w.write(b).unwrap();
            a.write(b).unwrap();
        }
        w.close().unwrap();
        a.close().unwrap();
        let (x, y) = (
            std::fs::read(&ours).unwrap(),
            std::fs::read(&theirs).unwrap(),
        );
        assert!(x.len() > 1000);
        assert!(x == y, "files differ ({} vs {} bytes)", x.len(), y.len());

        // And with no rows at all: the schema-only file.
        let (ours, theirs) = (dir.path().join("e1"), dir.path().join("e2"));
        ColumnsWriter::try_new(
            BufWriter::new(File::create(&ours).unwrap()),
            schema.clone(),
            props_rows(),
        )
        .unwrap()
        .close()
        .unwrap();
        ArrowWriter::try_new(
            BufWriter::new(File::create(&theirs).unwrap()),
            schema.clone(),
            Some(props_rows()),
        )
        .unwrap()
        .close()
        .unwrap();
        assert_eq!(
            std::fs::read(&ours).unwrap(),
            std::fs::read(&theirs).unwrap()
        );
    }
}
