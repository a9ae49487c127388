//! Output records (DESIGN §6), one JSON line per input record, in input order.

use serde::Serialize;

use crate::error::{ErrorKind, RecordError};

/// Rounds −0.0 to 0.0 so that output never shows a signed zero.
pub fn clean(x: f64) -> f64 {
    x + 0.0
}

/// An agent's credit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentCredit {
    /// Agent name.
    pub agent: String,
    /// Shapley credit φ_i (calibrated: credits sum to R − R0).
    pub credit: f64,
    /// Standard error (0 for exact methods).
    pub se: f64,
}

/// A message's credit and training reward.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MessageCredit {
    /// Message id.
    pub id: String,
    /// Author.
    pub agent: String,
    /// 0-based position in the episode's `messages`.
    pub index: u32,
    /// Message credit (Owen by default; flat Shapley or label split on request).
    pub credit: f64,
    /// Standard error.
    pub se: f64,
    /// Training reward r_m (DESIGN §5).
    pub reward: f64,
}

/// Where a failed episode went wrong first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FirstError {
    /// 0-based position in the episode's `messages`.
    pub index: u32,
    /// Message id.
    pub message: String,
    /// The blamed agent.
    pub agent: String,
    /// `label` or `counterfactual`.
    pub method: String,
}

/// The output for an episode.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EpisodeOut {
    /// Record id.
    pub id: String,
    /// `success` or `failure`.
    pub branch: &'static str,
    /// R.
    pub reward: f64,
    /// R0.
    pub baseline: f64,
    /// The estimator used.
    pub method: String,
    /// Monte Carlo permutations per credit (0 for exact methods).
    pub samples: u64,
    /// Flags: `structural`, `degenerate`, `label_outcome_mismatch`, ...
    pub flags: Vec<&'static str>,
    /// Agent credits.
    pub agents: Vec<AgentCredit>,
    /// Message credits and rewards (messages with an agent).
    pub messages: Vec<MessageCredit>,
    /// The first error of a failed episode.
    pub first_error: Option<FirstError>,
}

/// The output for a game record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GameOut {
    /// Record id.
    pub id: String,
    /// The estimator used.
    pub method: &'static str,
    /// Monte Carlo permutations (0 for exact methods).
    pub samples: u64,
    /// Shapley values per player.
    pub shapley: Vec<f64>,
    /// Their standard errors.
    pub se: Vec<f64>,
}

/// The output for a bad record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorOut {
    /// Record id, when readable.
    pub id: Option<String>,
    /// 1-based line number.
    pub line: u64,
    /// The message: record, line and field.
    pub error: String,
    /// The field path.
    pub field: String,
    /// The error kind.
    pub kind: ErrorKind,
}

impl From<&RecordError> for ErrorOut {
    fn from(e: &RecordError) -> Self {
        ErrorOut {
            id: e.id.clone(),
            line: e.line,
            error: e.to_string(),
            field: e.field.clone(),
            kind: e.kind,
        }
    }
}

/// One output line.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum OutRecord {
    /// An episode's credits.
    Episode(EpisodeOut),
    /// A game's Shapley values.
    Game(GameOut),
    /// A bad record.
    Error(ErrorOut),
}
