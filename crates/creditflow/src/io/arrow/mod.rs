//! Arrow and Parquet (feature `arrow`; Parquet files with feature `parquet`): the
//! columnar input of DESIGN §2.4 ([`ArrowSource`]: one row per message, read into the
//! same records as JSONL lines) and the columnar output of §6 ([`TablesBuilder`], a
//! [`Sink`]: the
//! `messages`, `agents`, `episodes`, `errors` and `games` tables). [`RowsBuilder`]
//! writes episodes as §2.4 rows.

mod read;
mod rows;
mod write;

pub use read::{ArrowSource, fragmented_ids};
pub use rows::{RowsBuilder, input_schema};
pub use write::{TABLES, Tables, TablesBuilder, schema};

use arrow_array::RecordBatch;
use arrow_schema::ArrowError;

use crate::error::Error;
use crate::options::RunOptions;
use crate::pipeline::{Scored, Sink, Summary, score};

impl Sink for TablesBuilder {
    fn write(&mut self, results: Vec<Scored>) -> Result<(), Error> {
        for r in &results {
            self.push(r.as_ref().map(|(o, _)| o));
        }
        Ok(())
    }
}

/// Scores Arrow record batches in the §2.4 schema into the §6 tables (and the run's
/// summary). Bad records are rows of the `errors` table; under `strict` the run fails
/// with the first.
pub fn score_batches(
    batches: impl Iterator<Item = Result<RecordBatch, ArrowError>>,
    opts: &RunOptions,
) -> Result<(Tables, Summary), Error> {
    // Held in memory, the batches are scanned first for episodes whose rows are not
    // contiguous (each fragment an error record, never a partial score).
    let batches: Vec<RecordBatch> = batches
        .collect::<Result<_, _>>()
        .map_err(|e| Error::Columnar(format!("reading Arrow input: {e}")))?;
    let fragmented = if opts.unique_ids {
        Default::default()
    } else {
        fragmented_ids(batches.iter().map(|b| Ok(std::borrow::Cow::Borrowed(b))))?
    };
    let source = ArrowSource::new(batches.into_iter().map(Ok)).with_fragmented(fragmented);
    let mut builder = TablesBuilder::new();
    let summary = score(source, &mut builder, opts, |_| {})?;
    Ok((builder.finish()?, summary))
}
