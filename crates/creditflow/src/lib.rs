//! creditflow: who gets the reward and who gets the blame in a multi-agent LLM episode.
//!
//! Given episodes — messages, who wrote them, what each depended on, judge scores, the
//! final evaluation — creditflow computes Shapley credit per agent and Owen credit per
//! message, calibrated so that credits sum to the evaluator's R − R0, and for failed
//! episodes the first error, per-message rewards and preference pairs. Credits are
//! exact where the game allows and Monte Carlo with standard errors otherwise, on a
//! reproducible random stream keyed by record id, on the CPU or (feature `gpu`) through
//! wgpu, with both paths giving the same numbers.
//!
//! # Scoring
//!
//! A run reads records from a [`Source`] and hands the results, in input order, to a
//! [`Sink`]; [`score`] is the run. The formats are in [`io`]: JSON Lines
//! ([`io::jsonl::JsonlSource`], [`io::jsonl::JsonlSink`]), Arrow tables and Parquet
//! files (features `arrow` and `parquet`), chat logs and OpenTelemetry traces in
//! ([`io::chat`], [`io::otlp`]), and scored output read back ([`io::scored`]).
//!
//! ```
//! use creditflow::{RunOptions, io::jsonl::run_score};
//!
//! let input = r#"{"id": "e1", "messages": [
//!   {"id": "m0", "agent": null, "text": "task"},
//!   {"id": "m1", "agent": "planner", "score": 0.6},
//!   {"id": "m2", "agent": "coder", "score": 0.9}],
//!  "outcome": {"reward": 1.0}}"#.replace('\n', "");
//! let mut out = Vec::new();
//! let summary = run_score(input.as_bytes(), &mut out, &RunOptions::default(), |_| {})?;
//! assert_eq!(summary.episodes, 1);
//! let record: serde_json::Value = serde_json::from_slice(&out)?;
//! let credit: f64 = record["agents"].as_array().unwrap().iter()
//!     .map(|a| a["credit"].as_f64().unwrap()).sum();
//! assert!((credit - 1.0).abs() < 1e-9); // credits sum to R − R0
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! One record at a time: [`validate`] an [`InputRecord`](schema::InputRecord) into a
//! [`Record`], then [`score_record`].
//!
//! # Options
//!
//! Every option is one row of [`options::OPTIONS`] — name, type, default, range, doc —
//! from which the command line's flags and the Python keyword arguments are made;
//! [`options::Settings`] holds values by name and builds the typed [`RunOptions`].
//!
//! # Inside
//!
//! The stages (see ARCHITECTURE.md) are private: validate → CSR → plan → engine (games,
//! estimators, the random stream, the kernels and their CPU twins, the GPU) → finish
//! (calibration, training signals, output records).

// Without the `gpu` feature the chunk layout, the kernel table and the workgroup
// constants are still built (the tests check them against the shaders), but nothing
// outside the GPU path calls them.
#![cfg_attr(
    not(any(feature = "gpu", feature = "internals")),
    expect(
        dead_code,
        unused_imports,
        reason = "the GPU path's layout and kernel table are built and tested without the `gpu` feature"
    )
)]

/// Declares the stage modules: private to the crate, or public with the `internals`
/// feature (for the crate's own stage benchmarks and experiments: no stability promised).
macro_rules! stages {
    ($($(#[$attr:meta])* $m:ident;)*) => {
        $(
            $(#[$attr])*
            #[cfg(feature = "internals")]
            #[doc(hidden)]
            pub mod $m;
            $(#[$attr])*
            #[cfg(not(feature = "internals"))]
            pub(crate) mod $m;
        )*
    };
}

stages! {
    arrays;
    backend;
    csr;
    engine;
    error;
    estimate;
    finish;
    game;
    #[cfg(feature = "gpu")]
    gpu;
    kernels;
    model;
    output;
    pipeline;
    plan;
    rng;
    score;
    signals;
    validate;
}

pub mod generate;
pub mod io;
/// The documented size limits (DESIGN §2.6; README, "Limits and safety"): a record past
/// one is a `too_large` error record, never an abort.
pub mod limits {
    pub use crate::finish::MAX_PAIR_BYTES;
    pub use crate::io::jsonl::MAX_LINE_BYTES;
    pub use crate::validate::{MAX_GAME_PLAYERS, MAX_MESSAGES, MAX_PARENTS, MAX_TABLE_PLAYERS};
}
pub mod options;
pub mod schema;
pub mod workloads;

#[cfg(test)]
mod tests;

pub use arrays::{ArraysBuilder, BatchArrays, score_arrays};
pub use backend::{DeviceTimes, hardware_gpu_available};
#[cfg(feature = "gpu")]
pub use backend::{GpuAdapter, gpu_adapter};
pub use engine::{TOLERANCE, Tolerance};
pub use error::{Error, ErrorKind, RecordError};
#[cfg(feature = "gpu")]
pub use gpu::{GpuError, GpuTimes};
pub use io::jsonl::parse_and_validate;
pub use model::{Episode, Game, GameForm, Message, Record};
pub use options::{OptionError, RunOptions, ScoreOptions};
pub use output::{
    AgentCredit, EpisodeOut, ErrorOut, FirstError, GameOut, MessageCredit, OutRecord,
};
pub use pipeline::{
    KEPT_ERRORS, Progress, Scored, Sink, Source, StageTimes, Summary, Validated, score,
    score_cancellable,
};
pub use rng::record_key;
pub use score::score_record;
pub use validate::validate;
