//! Formats, one folder each, reader beside writer, below the pipeline: [`jsonl`] (JSON
//! Lines records in, output records out), `arrow` (the §2.4 rows in, the §6 tables out;
//! feature `arrow`), `parquet` (the same in files; feature `parquet`), [`chat`] (chat
//! logs in), [`otlp`] (traces in,
//! evaluations out), [`scored`] (the one typed reader of what `score` wrote, JSON Lines
//! and Parquet) and [`outfile`] (the commit-on-success rule every output follows).

#[cfg(feature = "arrow")]
pub mod arrow;
pub mod chat;
mod files;
pub mod jsonl;
pub mod otlp;
pub mod outfile;
#[cfg(feature = "parquet")]
pub mod parquet;
pub mod scored;

pub use files::{ImportError, Location};
