//! The crate's error types: one enum for whole-run failures and one struct for a bad
//! input record, which names the record id, the line and the field (DESIGN §2.3).

use std::fmt;

/// What is wrong with a bad record. Each kind of DESIGN §2.3 has its own variant so
/// that callers and tests can tell them apart without parsing messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The line is not valid JSON, or a field has the wrong JSON type.
    MalformedJson,
    /// A required field is absent.
    MissingField,
    /// Two messages of one episode, two agents, or two records share an id.
    DuplicateId,
    /// A parent id names no message of the episode.
    UnknownParent,
    /// A parent appears at or after its child: a cycle or a break of causal order.
    ForwardParent,
    /// A message names an agent that is not in `agents`.
    UnknownAgent,
    /// A number is NaN or infinite (or overflows an f64).
    NonFinite,
    /// A number lies outside its allowed range (e.g. a score outside [-1, 1]).
    OutOfRange,
    /// A game table or `coalition_values` does not have 2^players entries.
    TableLength,
    /// A Möbius term names a player outside 0..players.
    TermPlayer,
    /// Members of one redundancy group carry different scores.
    GroupScoreMismatch,
    /// The record has too many players or elements for the requested computation,
    /// or a count does not fit the u32 indices of the CSR batch.
    TooLarge,
    /// The requested `--method` does not apply to this record (e.g. a closed form for a
    /// table game or a logistic link).
    MethodNotApplicable,
    /// The record is neither an episode (`messages`) nor a game (`game`).
    UnknownRecord,
    /// A columnar row breaks the schema of DESIGN §2.4 (no episode id, or an
    /// episode-level column that differs between an episode's rows).
    Schema,
    /// An episode's rows are not contiguous (DESIGN §2.6): its id reappears after other
    /// episodes' rows. Every fragment is this error, never a partial score.
    NotContiguous,
    /// An option value is invalid (only from the per-record library calls; a run checks
    /// its options before reading any record).
    InvalidOption,
}

/// A bad input record: what, where and which field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct RecordError {
    /// The record's id when it could be read, else `None`.
    pub id: Option<String>,
    /// 1-based line number in the input file; for columnar input (DESIGN §2.4), the
    /// 1-based row number ([`RecordError::row`] says which).
    pub line: u64,
    /// True when `line` counts rows of a columnar input rather than lines.
    pub row: bool,
    /// Path of the offending field, e.g. `messages[3].parents[0]`.
    pub field: String,
    /// The kind of error.
    pub kind: ErrorKind,
    /// Human-readable explanation.
    pub message: String,
}

impl RecordError {
    /// A new error for the record on `line`.
    pub fn new(
        id: Option<String>,
        line: u64,
        field: impl Into<String>,
        kind: ErrorKind,
        message: impl Into<String>,
    ) -> Self {
        RecordError {
            id,
            line,
            row: false,
            field: field.into(),
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = if self.row { "row" } else { "line" };
        write!(f, "{unit} {}", self.line)?;
        if let Some(id) = &self.id {
            write!(f, ", record {id:?}")?;
        }
        write!(f, ", field `{}`: {}", self.field, self.message)
    }
}

/// Errors that stop a whole run (as opposed to one bad record).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading the input or writing the output failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A bad record under `--strict`.
    #[error("{0}")]
    Record(#[from] RecordError),
    /// An option value is invalid (e.g. `alpha = 2`).
    #[error(transparent)]
    Option(#[from] crate::options::OptionError),
    /// The GPU backend failed (no adapter for `--backend gpu`, or a device error).
    #[cfg(feature = "gpu")]
    #[error("GPU backend: {0}")]
    Gpu(#[from] crate::gpu::GpuError),
    /// The GPU backend asked for in a build without the `gpu` feature.
    #[cfg(not(feature = "gpu"))]
    #[error(
        "this creditflow was built without the `gpu` feature: use the cpu or auto backend, or rebuild with the `gpu` feature"
    )]
    NoGpuSupport,
    /// The input is not JSON Lines: a JSON array, or one JSON document spread over many
    /// lines.
    #[error(
        "line {line}: the input looks like {what}; JSON Lines expected (one record per line, e.g. `jq -c '.[]' in.json > in.jsonl`)"
    )]
    NotJsonLines {
        /// The first line of the input.
        line: u64,
        /// `a JSON array` or `one JSON document over several lines`.
        what: &'static str,
    },
    /// The run was interrupted (Ctrl-C in Python): nothing was committed.
    #[error("interrupted")]
    Interrupted,
    /// A columnar input or output failed as a whole: a column of the wrong type
    /// (DESIGN §2.4), or an Arrow or Parquet error.
    #[error("{0}")]
    Columnar(String),
    /// Writing JSON output failed.
    #[error("JSON output error: {0}")]
    Json(#[from] serde_json::Error),
}

impl Error {
    /// True for the error of asking for the GPU backend in a build without the `gpu`
    /// feature (callers word it their own way: a flag, a keyword argument).
    pub fn no_gpu_support(&self) -> bool {
        #[cfg(not(feature = "gpu"))]
        return matches!(self, Error::NoGpuSupport);
        #[cfg(feature = "gpu")]
        false
    }
}
