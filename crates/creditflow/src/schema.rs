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

impl AsRef<str> for Id {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// The ids of one `parents` list, held as one string and the end of each id in it. A chat
/// that lists every earlier message names M²/2 ids (8,385 in a 130-message chat); held
/// as one string each they cost an allocation and about 40 bytes apiece, six times the
/// line they were read from. Written and read as a JSON array of ids (strings or
/// integers, as [`Id`]).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct IdList {
    text: String,
    ends: Vec<usize>,
}

impl IdList {
    /// Number of ids.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True when no id is listed.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The `k`-th id.
    pub fn get(&self, k: usize) -> Option<&str> {
        let end = *self.ends.get(k)?;
        let start = if k == 0 { 0 } else { self.ends[k - 1] };
        Some(&self.text[start..end])
    }

    /// The ids in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        (0..self.len()).map(|k| self.get(k).expect("k < len"))
    }

    /// Appends an id.
    pub fn push(&mut self, id: &str) {
        self.text.push_str(id);
        self.ends.push(self.text.len());
    }
}

impl std::fmt::Debug for IdList {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<S: AsRef<str>> FromIterator<S> for IdList {
    fn from_iter<I: IntoIterator<Item = S>>(ids: I) -> Self {
        let mut out = IdList::default();
        for id in ids {
            out.push(id.as_ref());
        }
        out
    }
}

impl Serialize for IdList {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for IdList {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// One element, appended to the list's text (what [`Id`] accepts, with its error).
        struct Append<'a>(&'a mut IdList);
        impl<'de> serde::de::DeserializeSeed<'de> for Append<'_> {
            type Value = ();
            fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
                struct V<'a>(&'a mut IdList);
                impl serde::de::Visitor<'_> for V<'_> {
                    type Value = ();
                    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                        f.write_str("a string or integer id")
                    }
                    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<(), E> {
                        self.0.push(s);
                        Ok(())
                    }
                    fn visit_i64<E: serde::de::Error>(self, i: i64) -> Result<(), E> {
                        self.0.push(&i.to_string());
                        Ok(())
                    }
                    fn visit_u64<E: serde::de::Error>(self, u: u64) -> Result<(), E> {
                        self.0.push(&u.to_string());
                        Ok(())
                    }
                }
                d.deserialize_any(V(self.0)).map_err(|_: D::Error| {
                    serde::de::Error::custom("expected a string or integer id")
                })
            }
        }
        struct Seq;
        impl<'de> serde::de::Visitor<'de> for Seq {
            type Value = IdList;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list of message ids")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<IdList, A::Error> {
                let mut out = IdList::default();
                if let Some(n) = seq.size_hint() {
                    out.ends.reserve(n);
                }
                while seq.next_element_seed(Append(&mut out))?.is_some() {}
                Ok(out)
            }
        }
        d.deserialize_seq(Seq)
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
    pub parents: Option<IdList>,
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
