//! The domain types every stage shares: a validated [`Episode`] (agents, messages with
//! resolved parents, the outcome), a general [`Game`], and the [`Record`] that is either.
//! They depend on nothing above them; validation builds them from the input schema
//! ([`crate::schema`]), every later stage reads them.

use crate::schema::Alternative;

/// A validated message. Indices are local to the episode.
#[derive(Debug, Clone)]
pub struct Message {
    /// The message id (its index as text when the input gave none).
    pub id: String,
    /// Index into [`Episode::agents`], `None` for environment messages.
    pub agent: Option<u32>,
    /// Indices of parent messages, each smaller than this message's index (empty when
    /// [`all_earlier`](Self::all_earlier)).
    pub parents: Vec<u32>,
    /// The parents are every earlier message (a chat's `prefix` provenance, or a listed
    /// row naming them all), stored in O(1) instead of as a row of the message's index.
    pub all_earlier: bool,
    /// The score as given (None when absent).
    pub score: Option<f64>,
    /// Index into [`Episode::group_scores`].
    pub group: u32,
    /// Marked `"final": true`.
    pub is_final: bool,
    /// The message text, kept for preference pairs.
    pub text: Option<serde_json::Value>,
    /// Alternative responses, kept for preference pairs.
    pub alternatives: Vec<Alternative>,
}

/// A validated episode (DESIGN §2.1).
#[derive(Debug, Clone)]
pub struct Episode {
    /// Record id.
    pub id: String,
    /// 1-based input line.
    pub line: u64,
    /// The record's stream key: [`crate::rng::record_key`] of its id.
    pub key: u64,
    /// Agent names; message `agent` fields index into this.
    pub agents: Vec<String>,
    /// Messages in causal order.
    pub messages: Vec<Message>,
    /// q_G per redundancy group: the members' common score, or the structural score.
    pub group_scores: Vec<f64>,
    /// True when no message had a score and structural credit applies.
    pub structural: bool,
    /// R.
    pub reward: f64,
    /// R0, when the input gave one.
    pub baseline: Option<f64>,
    /// Success as given or as `reward >= threshold`.
    pub success: bool,
    /// Measured coalition values, length 2^agents.
    pub coalition_values: Option<Vec<f64>>,
}

/// The two forms of a general game.
#[derive(Debug, Clone)]
pub enum GameForm {
    /// Sparse Möbius terms: coefficient and a sorted, duplicate-free player set.
    Mobius(Vec<(f64, Vec<u32>)>),
    /// v(S) for every bitmask S (length 2^players).
    Table(Vec<f64>),
}

/// A validated game record (DESIGN §2.2).
#[derive(Debug, Clone)]
pub struct Game {
    /// Record id.
    pub id: String,
    /// 1-based input line.
    pub line: u64,
    /// The record's stream key: [`crate::rng::record_key`] of its id.
    pub key: u64,
    /// Number of players.
    pub players: u32,
    /// The game itself.
    pub form: GameForm,
}

/// A validated input record.
#[derive(Debug, Clone)]
pub enum Record {
    /// An episode.
    Episode(Episode),
    /// A general game.
    Game(Game),
}

impl Record {
    /// The record id.
    pub fn id(&self) -> &str {
        match self {
            Record::Episode(e) => &e.id,
            Record::Game(g) => &g.id,
        }
    }
}
