//! Parquet files in and out (feature `parquet`): the §2.4 rows read by row group into
//! an [`ArrowSource`], the §6 tables written one file per table, streaming, so memory is
//! bounded by a chunk and a row group whatever the file's size.
//!
//! `-o out.parquet` writes the `messages` table to `out.parquet` and the others beside
//! it: `out.agents.parquet`, `out.episodes.parquet`, `out.errors.parquet`, and
//! `out.games.parquet` when the input held game records. Every file goes through a
//! temporary file and replaces its target only when the run commits.

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::error::Error;
use crate::io::arrow::{ArrowSource, TABLES, Tables, TablesBuilder, input_schema, schema};
use crate::io::outfile::OutFile;
use crate::options::RunOptions;
use crate::pipeline::{Scored, Sink, Source, Summary, score};

/// Rows per Arrow batch read from a Parquet file.
pub const READ_BATCH_ROWS: usize = 8192;

/// Rows per row group written.
pub const ROW_GROUP_ROWS: usize = 64 * 1024;

fn parquet_error(what: &str, path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Columnar(format!("{what} {}: {e}", path.display()))
}

/// The §2.4 rows of a Parquet file, as a record source, and its row count (for
/// progress).
pub fn open(path: &Path) -> Result<(ArrowSource<ParquetRecordBatchReader>, u64), Error> {
    let file = File::open(path)
        .map_err(|e| std::io::Error::new(e.kind(), format!("opening {}: {e}", path.display())))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| parquet_error("reading", path, e))?;
    let rows = builder.metadata().file_metadata().num_rows().max(0) as u64;
    let reader = builder
        .with_batch_size(READ_BATCH_ROWS)
        .build()
        .map_err(|e| parquet_error("reading", path, e))?;
    Ok((ArrowSource::new(reader), rows))
}

/// How creditflow writes Parquet: zstd, and row groups of at most `rows` rows (`None`:
/// a row group ends only where the writer flushes).
/// (Parquet sets no byte limit on row groups by default.)
fn properties(rows: Option<usize>) -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_max_row_group_row_count(rows)
        .build()
}

/// The files of a Parquet output: the target (messages) and its siblings, by table.
pub fn table_paths(target: &Path) -> Vec<(&'static str, PathBuf)> {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.strip_suffix(".parquet").unwrap_or(&name).to_string();
    TABLES
        .iter()
        .map(|&t| {
            let p = if t == "messages" {
                target.to_path_buf()
            } else {
                target.with_file_name(format!("{stem}.{t}.parquet"))
            };
            (t, p)
        })
        .collect()
}

/// The §6 tables of a run written as Parquet files, one per table (see the module docs),
/// a chunk at a time: a [`Sink`]. Nothing replaces a target before [`ParquetSink::commit`].
pub struct ParquetSink {
    writers: Vec<(&'static str, PathBuf, ArrowWriter<OutFile>, u64)>,
    tables: TablesBuilder,
}

impl ParquetSink {
    /// Opens every table's temporary file beside `target`.
    pub fn create(target: &Path) -> Result<ParquetSink, Error> {
        let props = properties(Some(ROW_GROUP_ROWS));
        let mut writers = Vec::new();
        for (t, p) in table_paths(target) {
            let out = OutFile::create(Some(&p))?;
            let w = ArrowWriter::try_new(out, schema(t), Some(props.clone()))
                .map_err(|e| parquet_error("writing", &p, e))?;
            writers.push((t, p, w, 0));
        }
        Ok(ParquetSink {
            writers,
            tables: TablesBuilder::new(),
        })
    }

    /// Appends one chunk's tables.
    fn write_tables(&mut self, tables: &Tables) -> Result<(), Error> {
        for ((_, batch), (_, path, w, rows)) in tables.named().iter().zip(&mut self.writers) {
            if batch.num_rows() > 0 {
                w.write(batch)
                    .map_err(|e| parquet_error("writing", path, e))?;
                *rows += batch.num_rows() as u64;
            }
        }
        Ok(())
    }

    /// Closes every file and moves it over its target. The games file is written only
    /// when there were games.
    pub fn commit(self) -> Result<(), Error> {
        for (t, path, w, rows) in self.writers {
            let out = w
                .into_inner()
                .map_err(|e| parquet_error("writing", &path, e))?;
            if t == "games" && rows == 0 {
                continue;
            }
            out.commit()?;
        }
        Ok(())
    }
}

impl Sink for ParquetSink {
    fn write(&mut self, results: Vec<Scored>) -> Result<(), Error> {
        self.tables.write(results)?;
        let tables = self.tables.finish()?;
        self.write_tables(&tables)
    }
}

/// Scores `source` and writes the §6 tables as Parquet files at `target` and beside it.
/// The files are committed when the run succeeds or stops at a bad record under
/// `strict` (keeping the records before it, as the JSONL output does).
pub fn write_parquet(
    source: impl Source,
    target: &Path,
    opts: &RunOptions,
    progress: impl FnMut(u64),
) -> Result<Summary, Error> {
    let mut sink = ParquetSink::create(target)?;
    let result = score(source, &mut sink, opts, progress);
    if matches!(result, Ok(_) | Err(Error::Record(_))) {
        sink.commit()?;
    }
    result
}

/// Writes record batches (e.g. [`crate::io::arrow::RowsBuilder`] output) to one Parquet file
/// through a temporary file.
pub struct RowsFile {
    path: PathBuf,
    writer: ArrowWriter<OutFile>,
}

impl RowsFile {
    /// A new file at `path` (untouched until [`RowsFile::commit`]).
    pub fn create(path: &Path) -> Result<RowsFile, Error> {
        // Row groups end where a written batch ends, never by a row count, so that a
        // caller writing batches of whole episodes gets row groups of whole episodes
        // (readers such as Ray Data split files at row-group boundaries).
        let props = properties(None);
        let out = OutFile::create(Some(path))?;
        let writer = ArrowWriter::try_new(out, input_schema(), Some(props))
            .map_err(|e| parquet_error("writing", path, e))?;
        Ok(RowsFile {
            path: path.to_path_buf(),
            writer,
        })
    }

    /// Appends rows as one row group (write batches of whole episodes).
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), Error> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        self.writer
            .write(batch)
            .and_then(|()| self.writer.flush())
            .map_err(|e| parquet_error("writing", &self.path, e))
    }

    /// Closes the file and moves it over its target.
    pub fn commit(self) -> Result<(), Error> {
        let out = self
            .writer
            .into_inner()
            .map_err(|e| parquet_error("writing", &self.path, e))?;
        out.commit()?;
        Ok(())
    }
}
