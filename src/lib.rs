//! creditflow: who gets the reward and who gets the blame in a multi-agent LLM episode.
//!
//! The data flow, one module per stage (see ARCHITECTURE.md): [`read`] (parse JSONL
//! into the [`schema`]) → [`validate`] (resolve and check into the [`model`]) → [`csr`]
//! (flatten a batch) → [`plan`] (each record's estimator jobs, decided once) →
//! [`engine`] / [`backend`] (execute the jobs: the [`game`]s, the [`estimate`]ors, the
//! [`stream`] of random permutations; CPU twins in [`cpu`], the GPU behind the `gpu`
//! feature) → [`finish`] (calibrate, [`signals`], [`output`] records, [`arrays`]) —
//! driven by [`pipeline`] for whole files and by [`score`] for single records. Every
//! option lives in [`options`]. [`generate`] writes synthetic batches; [`report`] draws
//! what `score` wrote as an HTML page.

pub mod arrays;
pub mod backend;
pub mod bench;
#[cfg(feature = "arrow")]
pub mod columnar;
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
pub mod otlp;
pub mod outfile;
pub mod output;
pub mod pipeline;
pub mod plan;
pub mod read;
pub mod report;
pub mod schema;
pub mod score;
pub mod signals;
pub mod stream;
pub mod validate;
pub mod verify;

pub use error::{Error, ErrorKind, RecordError};
