//! Arrow and Parquet (feature `arrow`; Parquet files with feature `parquet`): the
//! columnar input of DESIGN §2.4 ([`ArrowSource`]: one row per message, read into the
//! same records as JSONL lines) and the columnar output of §6 ([`TablesBuilder`]: the
//! `messages`, `agents`, `episodes`, `errors` and `games` tables). [`RowsBuilder`]
//! writes episodes as §2.4 rows.

mod read;
mod rows;
mod write;

#[cfg(feature = "parquet")]
pub mod parquet;

pub use read::ArrowSource;
pub use rows::{RowsBuilder, input_schema};
pub use write::{TABLES, Tables, TablesBuilder, schema};

use arrow_array::RecordBatch;
use arrow_schema::ArrowError;

use crate::error::Error;
use crate::pipeline::{RunOptions, Summary, score_source};

/// Scores Arrow record batches in the §2.4 schema into the §6 tables (and the run's
/// summary). Bad records are rows of the `errors` table; under `strict` the run fails
/// with the first.
pub fn score_batches(
    batches: impl Iterator<Item = Result<RecordBatch, ArrowError>>,
    opts: &RunOptions,
) -> Result<(Tables, Summary), Error> {
    let mut builder = TablesBuilder::new();
    let summary = score_source(
        ArrowSource::new(batches),
        opts,
        |_| {},
        |results| {
            for r in results {
                builder.push(r.as_ref().map(|(o, _)| o));
            }
            Ok(())
        },
    )?;
    Ok((builder.finish()?, summary))
}
