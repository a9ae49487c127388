//! The input schema of DESIGN §2.1–2.2, written once: what a JSONL line holds before
//! validation, typed, readable (`Deserialize`, used by [`crate::io::jsonl`]) and writable
//! (`Serialize`, used by `import` and `gen`). Unknown fields are ignored when reading.

use serde::{Deserialize, Serialize};

/// An id written as a JSON string or number; numbers are kept as their decimal text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Id(pub String);

impl From<String> for Id {
    fn from(s: String) -> Self {
        Id(s)
    }
}

impl From<&str> for Id {
    fn from(s: &str) -> Self {
        Id(s.to_string())
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A visitor, not an untagged enum: no buffering of the value.
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Id;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string or integer id")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Id, E> {
                Ok(Id(s.to_string()))
            }
            fn visit_string<E: serde::de::Error>(self, s: String) -> Result<Id, E> {
                Ok(Id(s))
            }
            fn visit_i64<E: serde::de::Error>(self, i: i64) -> Result<Id, E> {
                Ok(Id(i.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, u: u64) -> Result<Id, E> {
                Ok(Id(u.to_string()))
            }
        }
        d.deserialize_any(V)
            .map_err(|_: D::Error| serde::de::Error::custom("expected a string or integer id"))
    }
}

/// One input line: an episode (has `messages`) or a game (has `game`).
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct InputRecord {
    /// Record id (string or integer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<Id>,
    /// Agent names; when absent, taken from the messages in order of first appearance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agents: Option<Vec<String>>,
    /// Episode messages in causal order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<InputMessage>>,
    /// The evaluator's verdict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<InputOutcome>,
    /// Measured v(S) over agent coalitions, indexed by bitmask over `agents`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coalition_values: Option<Vec<f64>>,
    /// A general cooperative game.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub game: Option<InputGame>,
    /// Free-form metadata carried along untouched (e.g. a benchmark's gold labels, which
    /// `import` keeps here); never read by scoring.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta: Option<serde_json::Value>,
}

/// One message of an episode (DESIGN §2.1).
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct InputMessage {
    /// Message id; defaults to the message's 0-based index as text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<Id>,
    /// Author; `null` or absent marks an environment message (written as `null`).
    pub agent: Option<String>,
    /// Ids of earlier messages this one depended on; absent = filled by `--provenance`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parents: Option<Vec<Id>>,
    /// Signed helpfulness in [-1, 1].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// Redundancy group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<Id>,
    /// Marks a final answer for structural credit.
    #[serde(rename = "final", default, skip_serializing_if = "std::ops::Not::not")]
    pub is_final: bool,
    /// The message text (any JSON value; kept for preference pairs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<serde_json::Value>,
    /// Other candidate responses for the same context.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alternatives: Option<Vec<Alternative>>,
    /// The chat role the log gave (`user`, `assistant`, `tool`, …), kept for readers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<serde_json::Value>,
    /// The speaker name the log gave, kept for readers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<serde_json::Value>,
}

/// An alternative response for the same context.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Alternative {
    /// The alternative's text.
    pub text: serde_json::Value,
    /// Its judge score, if any.
    pub score: Option<f64>,
}

/// The evaluator's verdict on an episode.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct InputOutcome {
    /// R: the system-level score.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reward: Option<f64>,
    /// R0: the score with every agent ablated (default 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<f64>,
    /// Success; default `reward >= --threshold`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub success: Option<bool>,
}

/// A cooperative game in sparse Möbius form or as a table (DESIGN §2.2).
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct InputGame {
    /// Number of players.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub players: Option<u64>,
    /// Möbius terms `[coefficient, [players...]]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terms: Option<Vec<(f64, Vec<u64>)>>,
    /// v(S) for every bitmask S.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<Vec<f64>>,
}
