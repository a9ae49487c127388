//! Columnar output (DESIGN §6): a run's output records as Arrow tables keyed by the
//! ids the user already has — `messages`, `agents`, `episodes`, `errors`, and `games`
//! for game records (an addition to §6: a game's Shapley values, one row per player).
//! The same numbers as the JSONL output, field for field.

use std::sync::Arc;

use arrow_array::builder::{
    Float64Builder, ListBuilder, StringBuilder, UInt32Builder, UInt64Builder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use crate::error::{Error, RecordError};
use crate::output::{EpisodeOut, ErrorOut, GameOut, OutRecord};

/// The output tables, by name, in the order they are written.
pub const TABLES: [&str; 5] = ["messages", "agents", "episodes", "errors", "games"];

fn utf8(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Utf8, nullable)
}

fn f64_field(name: &str) -> Field {
    Field::new(name, DataType::Float64, false)
}

/// The schema of one output table (one of [`TABLES`]).
pub fn schema(table: &str) -> SchemaRef {
    let fields = match table {
        "messages" => vec![
            utf8("episode_id", false),
            utf8("message_id", false),
            utf8("agent", false),
            Field::new("index", DataType::UInt32, false),
            f64_field("credit"),
            f64_field("se"),
            f64_field("reward"),
        ],
        "agents" => vec![
            utf8("episode_id", false),
            utf8("agent", false),
            f64_field("credit"),
            f64_field("se"),
        ],
        "episodes" => vec![
            utf8("episode_id", false),
            utf8("branch", false),
            f64_field("reward"),
            f64_field("baseline"),
            utf8("method", false),
            Field::new("samples", DataType::UInt64, false),
            Field::new(
                "flags",
                DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
                false,
            ),
            Field::new("first_error_index", DataType::UInt32, true),
            utf8("first_error_message", true),
            utf8("first_error_agent", true),
            utf8("first_error_method", true),
        ],
        "errors" => vec![
            utf8("episode_id", true),
            Field::new("line", DataType::UInt64, false),
            utf8("field", false),
            utf8("kind", false),
            utf8("error", false),
        ],
        "games" => vec![
            utf8("game_id", false),
            utf8("method", false),
            Field::new("samples", DataType::UInt64, false),
            Field::new("player", DataType::UInt32, false),
            f64_field("shapley"),
            f64_field("se"),
        ],
        other => panic!("no output table {other:?}"),
    };
    Arc::new(Schema::new(fields))
}

/// Builds the output tables from output records, in input order.
pub struct TablesBuilder {
    m_episode: StringBuilder,
    m_message: StringBuilder,
    m_agent: StringBuilder,
    m_index: UInt32Builder,
    m_credit: Float64Builder,
    m_se: Float64Builder,
    m_reward: Float64Builder,
    a_episode: StringBuilder,
    a_agent: StringBuilder,
    a_credit: Float64Builder,
    a_se: Float64Builder,
    e_episode: StringBuilder,
    e_branch: StringBuilder,
    e_reward: Float64Builder,
    e_baseline: Float64Builder,
    e_method: StringBuilder,
    e_samples: UInt64Builder,
    e_flags: ListBuilder<StringBuilder>,
    e_fe_index: UInt32Builder,
    e_fe_message: StringBuilder,
    e_fe_agent: StringBuilder,
    e_fe_method: StringBuilder,
    x_episode: StringBuilder,
    x_line: UInt64Builder,
    x_field: StringBuilder,
    x_kind: StringBuilder,
    x_error: StringBuilder,
    g_game: StringBuilder,
    g_method: StringBuilder,
    g_samples: UInt64Builder,
    g_player: UInt32Builder,
    g_shapley: Float64Builder,
    g_se: Float64Builder,
}

impl Default for TablesBuilder {
    fn default() -> Self {
        Self::new()
    }
}

/// The output tables of a run (or of one chunk of it).
#[derive(Debug, Clone)]
pub struct Tables {
    /// One row per message with an agent: episode_id, message_id, agent, index,
    /// credit, se, reward.
    pub messages: RecordBatch,
    /// One row per agent: episode_id, agent, credit, se.
    pub agents: RecordBatch,
    /// One row per episode: episode_id, branch, reward, baseline, method, samples,
    /// flags, first_error_{index,message,agent,method}.
    pub episodes: RecordBatch,
    /// One row per bad record: episode_id, line (the row for columnar input), field,
    /// kind, error.
    pub errors: RecordBatch,
    /// One row per player of each game record: game_id, method, samples, player,
    /// shapley, se.
    pub games: RecordBatch,
}

impl Tables {
    /// The tables with their names, in the order of [`TABLES`].
    pub fn named(&self) -> [(&'static str, &RecordBatch); 5] {
        [
            ("messages", &self.messages),
            ("agents", &self.agents),
            ("episodes", &self.episodes),
            ("errors", &self.errors),
            ("games", &self.games),
        ]
    }
}

impl TablesBuilder {
    /// Empty tables.
    pub fn new() -> Self {
        TablesBuilder {
            m_episode: StringBuilder::new(),
            m_message: StringBuilder::new(),
            m_agent: StringBuilder::new(),
            m_index: UInt32Builder::new(),
            m_credit: Float64Builder::new(),
            m_se: Float64Builder::new(),
            m_reward: Float64Builder::new(),
            a_episode: StringBuilder::new(),
            a_agent: StringBuilder::new(),
            a_credit: Float64Builder::new(),
            a_se: Float64Builder::new(),
            e_episode: StringBuilder::new(),
            e_branch: StringBuilder::new(),
            e_reward: Float64Builder::new(),
            e_baseline: Float64Builder::new(),
            e_method: StringBuilder::new(),
            e_samples: UInt64Builder::new(),
            e_flags: ListBuilder::new(StringBuilder::new()),
            e_fe_index: UInt32Builder::new(),
            e_fe_message: StringBuilder::new(),
            e_fe_agent: StringBuilder::new(),
            e_fe_method: StringBuilder::new(),
            x_episode: StringBuilder::new(),
            x_line: UInt64Builder::new(),
            x_field: StringBuilder::new(),
            x_kind: StringBuilder::new(),
            x_error: StringBuilder::new(),
            g_game: StringBuilder::new(),
            g_method: StringBuilder::new(),
            g_samples: UInt64Builder::new(),
            g_player: UInt32Builder::new(),
            g_shapley: Float64Builder::new(),
            g_se: Float64Builder::new(),
        }
    }

    /// Adds one record's output, or its error.
    pub fn push(&mut self, r: Result<&OutRecord, &RecordError>) {
        match r {
            Ok(OutRecord::Episode(e)) => self.episode(e),
            Ok(OutRecord::Game(g)) => self.game(g),
            Ok(OutRecord::Error(x)) => self.error(x),
            Err(e) => self.error(&ErrorOut::from(e)),
        }
    }

    fn episode(&mut self, e: &EpisodeOut) {
        for m in &e.messages {
            self.m_episode.append_value(&e.id);
            self.m_message.append_value(&m.id);
            self.m_agent.append_value(&m.agent);
            self.m_index.append_value(m.index);
            self.m_credit.append_value(m.credit);
            self.m_se.append_value(m.se);
            self.m_reward.append_value(m.reward);
        }
        for a in &e.agents {
            self.a_episode.append_value(&e.id);
            self.a_agent.append_value(&a.agent);
            self.a_credit.append_value(a.credit);
            self.a_se.append_value(a.se);
        }
        self.e_episode.append_value(&e.id);
        self.e_branch.append_value(e.branch);
        self.e_reward.append_value(e.reward);
        self.e_baseline.append_value(e.baseline);
        self.e_method.append_value(&e.method);
        self.e_samples.append_value(e.samples);
        for f in &e.flags {
            self.e_flags.values().append_value(f);
        }
        self.e_flags.append(true);
        let fe = e.first_error.as_ref();
        self.e_fe_index.append_option(fe.map(|f| f.index));
        self.e_fe_message.append_option(fe.map(|f| &f.message));
        self.e_fe_agent.append_option(fe.map(|f| &f.agent));
        self.e_fe_method.append_option(fe.map(|f| &f.method));
    }

    fn game(&mut self, g: &GameOut) {
        for (i, (s, se)) in g.shapley.iter().zip(&g.se).enumerate() {
            self.g_game.append_value(&g.id);
            self.g_method.append_value(g.method);
            self.g_samples.append_value(g.samples);
            self.g_player.append_value(i as u32);
            self.g_shapley.append_value(*s);
            self.g_se.append_value(*se);
        }
    }

    fn error(&mut self, x: &ErrorOut) {
        self.x_episode.append_option(x.id.as_ref());
        self.x_line.append_value(x.line);
        self.x_field.append_value(&x.field);
        self.x_kind.append_value(
            serde_json::to_value(x.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
        );
        self.x_error.append_value(&x.error);
    }

    /// The tables built so far; the builder is left empty, ready for the next chunk.
    pub fn finish(&mut self) -> Result<Tables, Error> {
        fn batch(table: &str, cols: Vec<ArrayRef>) -> Result<RecordBatch, Error> {
            RecordBatch::try_new(schema(table), cols)
                .map_err(|e| Error::Columnar(format!("building the {table} table: {e}")))
        }
        Ok(Tables {
            messages: batch(
                "messages",
                vec![
                    Arc::new(self.m_episode.finish()),
                    Arc::new(self.m_message.finish()),
                    Arc::new(self.m_agent.finish()),
                    Arc::new(self.m_index.finish()),
                    Arc::new(self.m_credit.finish()),
                    Arc::new(self.m_se.finish()),
                    Arc::new(self.m_reward.finish()),
                ],
            )?,
            agents: batch(
                "agents",
                vec![
                    Arc::new(self.a_episode.finish()),
                    Arc::new(self.a_agent.finish()),
                    Arc::new(self.a_credit.finish()),
                    Arc::new(self.a_se.finish()),
                ],
            )?,
            episodes: batch(
                "episodes",
                vec![
                    Arc::new(self.e_episode.finish()),
                    Arc::new(self.e_branch.finish()),
                    Arc::new(self.e_reward.finish()),
                    Arc::new(self.e_baseline.finish()),
                    Arc::new(self.e_method.finish()),
                    Arc::new(self.e_samples.finish()),
                    Arc::new(self.e_flags.finish()),
                    Arc::new(self.e_fe_index.finish()),
                    Arc::new(self.e_fe_message.finish()),
                    Arc::new(self.e_fe_agent.finish()),
                    Arc::new(self.e_fe_method.finish()),
                ],
            )?,
            errors: batch(
                "errors",
                vec![
                    Arc::new(self.x_episode.finish()),
                    Arc::new(self.x_line.finish()),
                    Arc::new(self.x_field.finish()),
                    Arc::new(self.x_kind.finish()),
                    Arc::new(self.x_error.finish()),
                ],
            )?,
            games: batch(
                "games",
                vec![
                    Arc::new(self.g_game.finish()),
                    Arc::new(self.g_method.finish()),
                    Arc::new(self.g_samples.finish()),
                    Arc::new(self.g_player.finish()),
                    Arc::new(self.g_shapley.finish()),
                    Arc::new(self.g_se.finish()),
                ],
            )?,
        })
    }
}
