//! Parquet files in and out (feature `parquet`): the §2.4 rows read by row group into
//! an [`ArrowSource`], the §6 tables written one file per table, streaming, so memory is
//! bounded by a chunk and a row group whatever the file's size.
//!
//! `-o out.parquet` writes the `messages` table to `out.parquet` and the others beside
//! it: `out.agents.parquet`, `out.episodes.parquet`, `out.errors.parquet` and
//! `out.games.parquet` (empty when the input held no game records): the whole table set
//! of the run, so that nothing of an earlier run survives beside it. Every file goes
//! through a temporary file; the run commits them all or none.

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use arrow_schema::ArrowError;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader,
    ParquetRecordBatchReaderBuilder,
};
use parquet::arrow::{ArrowWriter, ProjectionMask};
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

/// The record batches of a Parquet file, one row group at a time. The reader is guarded:
/// a corrupt file (bad offsets, a broken page or dictionary) makes the parquet crate
/// panic on some inputs, and that panic becomes an error naming the file and the row
/// group, like the errors it returns. After the first error the batches end.
pub struct ParquetBatches {
    path: PathBuf,
    file: File,
    metadata: ArrowReaderMetadata,
    /// Only these columns, when set.
    projection: Option<ProjectionMask>,
    group: usize,
    /// Rows of the row groups before `group`.
    before: u64,
    current: Option<ParquetRecordBatchReader>,
    failed: bool,
}

impl ParquetBatches {
    fn fail(&mut self, what: impl std::fmt::Display) -> Option<Result<RecordBatch, ArrowError>> {
        self.failed = true;
        self.current = None;
        let groups = self.metadata.metadata().num_row_groups();
        let rows = self
            .metadata
            .metadata()
            .row_groups()
            .get(self.group)
            .map_or(0, |g| g.num_rows().max(0) as u64);
        let message = format!(
            "{}, row group {} of {groups} (rows {}–{}): {what}",
            self.path.display(),
            self.group + 1,
            self.before + 1,
            self.before + rows
        );
        Some(Err(ArrowError::ExternalError(Box::new(Error::Columnar(
            message,
        )))))
    }
}

impl Iterator for ParquetBatches {
    type Item = Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.failed {
                return None;
            }
            if let Some(reader) = self.current.as_mut() {
                match crate::io::guard(|| reader.next()) {
                    Ok(Some(Ok(batch))) => return Some(Ok(batch)),
                    Ok(Some(Err(e))) => return self.fail(e),
                    Err(panic) => return self.fail(format!("the file is corrupt ({panic})")),
                    Ok(None) => {
                        self.current = None;
                        self.before += self.metadata.metadata().row_groups()[self.group]
                            .num_rows()
                            .max(0) as u64;
                        self.group += 1;
                    }
                }
            }
            if self.group >= self.metadata.metadata().num_row_groups() {
                return None;
            }
            let file = match self.file.try_clone() {
                Ok(f) => f,
                Err(e) => return self.fail(e),
            };
            let (metadata, group) = (self.metadata.clone(), self.group);
            // Dictionary pages are checked before the decoder sizes its dictionary
            // from their header: a corrupt count would make it allocate gigabytes.
            let checked = match self.file.try_clone() {
                Ok(f) => crate::io::guard(|| check_dictionaries(f, metadata.metadata(), group)),
                Err(e) => return self.fail(e),
            };
            match checked {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return self.fail(e),
                Err(panic) => return self.fail(format!("the file is corrupt ({panic})")),
            }
            let projection = self.projection.clone();
            let built = crate::io::guard(|| {
                let mut b = ParquetRecordBatchReaderBuilder::new_with_metadata(file, metadata)
                    .with_row_groups(vec![group])
                    .with_batch_size(READ_BATCH_ROWS);
                if let Some(p) = projection {
                    b = b.with_projection(p);
                }
                b.build()
            });
            match built {
                Ok(Ok(reader)) => self.current = Some(reader),
                Ok(Err(e)) => return self.fail(e),
                Err(panic) => return self.fail(format!("the file is corrupt ({panic})")),
            }
        }
    }
}

/// Every dictionary page of row group `group` holds as many values as its header claims:
/// at least that many times the smallest encoded size of one value of the column's type
/// (PLAIN-encoded dictionaries, as the format requires). Only dictionary pages, the first
/// page of a column chunk, are read here.
fn check_dictionaries(
    file: File,
    metadata: &parquet::file::metadata::ParquetMetaData,
    group: usize,
) -> Result<(), String> {
    use parquet::basic::Type;
    use parquet::column::page::{Page, PageReader};
    use parquet::file::serialized_reader::SerializedPageReader;
    let row_group = &metadata.row_groups()[group];
    let file = std::sync::Arc::new(file);
    for (c, column) in row_group.columns().iter().enumerate() {
        let min_bytes: u64 = match column.column_type() {
            Type::BOOLEAN => continue,
            Type::INT32 | Type::FLOAT | Type::BYTE_ARRAY => 4,
            Type::INT64 | Type::DOUBLE => 8,
            Type::INT96 => 12,
            Type::FIXED_LEN_BYTE_ARRAY => metadata
                .file_metadata()
                .schema_descr()
                .column(c)
                .type_length()
                .max(1) as u64,
        };
        let rows = row_group.num_rows().max(0) as usize;
        let mut pages = SerializedPageReader::new(file.clone(), column, rows, None)
            .map_err(|e| e.to_string())?;
        if !pages
            .peek_next_page()
            .map_err(|e| e.to_string())?
            .is_some_and(|p| p.is_dict)
        {
            continue;
        }
        if let Some(Page::DictionaryPage {
            buf, num_values, ..
        }) = pages.get_next_page().map_err(|e| e.to_string())?
            && u64::from(num_values) * min_bytes > buf.len() as u64
        {
            return Err(format!(
                "column {}: the dictionary page claims {num_values} values in {} bytes",
                column.column_path(),
                buf.len()
            ));
        }
    }
    Ok(())
}

/// The §2.4 rows of a Parquet file, as a record source, and its row count (for
/// progress). A file that is not Parquet, or whose footer is broken, is an error naming
/// it; a broken row group is an error naming the file and the row group when it is read.
/// With `scan`, the `episode_id` column is read first for episodes whose rows are not
/// contiguous (each fragment is then an error record, never a partial score); skip it
/// only for inputs known to have unique, contiguous ids (`--assume-unique-ids`).
pub fn open(path: &Path, scan: bool) -> Result<(ArrowSource<ParquetBatches>, u64), Error> {
    let batches = batches(path)?;
    let rows = batches
        .metadata
        .metadata()
        .file_metadata()
        .num_rows()
        .max(0) as u64;
    let mut source = ArrowSource::new(batches);
    if scan {
        let mut ids = crate::io::parquet::batches(path)?;
        let schema = ids.metadata.metadata().file_metadata().schema_descr_ptr();
        ids.projection = Some(ProjectionMask::columns(&schema, ["episode_id"]));
        let fragmented = crate::io::arrow::fragmented_ids(ids.map(|b| {
            b.map(std::borrow::Cow::Owned).map_err(|e| match e {
                ArrowError::ExternalError(e) => Error::Columnar(e.to_string()),
                e => Error::Columnar(e.to_string()),
            })
        }))?;
        source = source.with_fragmented(fragmented);
    }
    Ok((source, rows))
}

/// The record batches of the Parquet file `path` (see [`ParquetBatches`]).
pub fn batches(path: &Path) -> Result<ParquetBatches, Error> {
    let file = File::open(path)
        .map_err(|e| std::io::Error::new(e.kind(), format!("opening {}: {e}", path.display())))?;
    let footer = file.try_clone()?;
    let metadata =
        crate::io::guard(|| ArrowReaderMetadata::load(&footer, ArrowReaderOptions::new()))
            .map_err(|panic| {
                Error::Columnar(format!(
                    "{}: not a readable Parquet file: its footer is corrupt ({panic})",
                    path.display()
                ))
            })?
            .map_err(|e| {
                Error::Columnar(format!(
                    "{}: not a readable Parquet file: {e}",
                    path.display()
                ))
            })?;
    Ok(ParquetBatches {
        path: path.to_path_buf(),
        file,
        metadata,
        projection: None,
        group: 0,
        before: 0,
        current: None,
        failed: false,
    })
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

    /// Closes every file, checks every target, then moves them over their targets: the
    /// whole table set of this run (the `games` table too, empty when there were no
    /// games, so that nothing of an earlier run survives beside it), all or nothing.
    pub fn commit(self) -> Result<(), Error> {
        let mut outs = Vec::with_capacity(self.writers.len());
        for (_, path, w, _) in self.writers {
            outs.push(
                w.into_inner()
                    .map_err(|e| parquet_error("writing", &path, e))?,
            );
        }
        crate::io::outfile::commit_all(outs)?;
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
    progress: impl FnMut(crate::Progress),
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
