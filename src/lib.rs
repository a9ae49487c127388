//! creditflow: who gets the reward and who gets the blame in a multi-agent LLM episode.
//!
//! The data flow, one module per stage (see ARCHITECTURE.md):
//! [`record`] (parse JSONL) → [`validate`] (resolve and check) → [`csr`] (flatten a batch)
//! → [`sample`] (the Philox random stream) → [`game`] (evaluate v) → [`estimate`]
//! (exact, closed form, Monte Carlo) → [`signals`] (training rewards) → [`score`] and
//! [`output`] (one record out per record in) — driven by [`pipeline`] for whole files.
//! [`generate`] writes synthetic batches.

pub mod arrays;
pub mod backend;
pub mod bench;
pub mod cpu;
pub mod csr;
pub mod engine;
pub mod error;
pub mod estimate;
pub mod eval;
pub mod finish;
pub mod game;
pub mod generate;
#[cfg(feature = "gpu")]
pub mod gpu;
pub mod import;
pub mod model;
pub mod options;
pub mod output;
pub mod pipeline;
pub mod plan;
pub mod read;
pub mod schema;
pub mod score;
pub mod signals;
pub mod stream;
pub mod validate;
pub mod verify;

pub use error::{Error, ErrorKind, RecordError};
