//! Episodes as rows of DESIGN §2.4: the writer side of [`super::read`], for
//! `import -o logs.parquet`, `gen -o batch.parquet` and tests. Ids written as JSON
//! numbers become their decimal text (as validation reads them); a message `text` that
//! is not a JSON string is written as its JSON text; an episode's `agents` list, when it
//! has one, goes on its first row (an optional column beside §2.4's, which keeps the
//! agents' order and the agents without messages). Game records have no columnar form.

use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Float64Builder, ListBuilder, StringBuilder, StructBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef};

use crate::error::Error;
use crate::schema::InputRecord;

fn alt_fields() -> Fields {
    Fields::from(vec![
        Field::new("text", DataType::Utf8, true),
        Field::new("score", DataType::Float64, true),
    ])
}

/// The input schema of DESIGN §2.4.
pub fn input_schema() -> SchemaRef {
    let list = |t: DataType| DataType::List(Arc::new(Field::new("item", t, true)));
    Arc::new(Schema::new(vec![
        Field::new("episode_id", DataType::Utf8, false),
        Field::new("message_id", DataType::Utf8, true),
        Field::new("agent", DataType::Utf8, true),
        Field::new("parents", list(DataType::Utf8), true),
        Field::new("score", DataType::Float64, true),
        Field::new("group", DataType::Utf8, true),
        Field::new("final", DataType::Boolean, true),
        Field::new("text", DataType::Utf8, true),
        Field::new("reward", DataType::Float64, true),
        Field::new("baseline", DataType::Float64, true),
        Field::new("success", DataType::Boolean, true),
        Field::new("alternatives", list(DataType::Struct(alt_fields())), true),
        Field::new("coalition_values", list(DataType::Float64), true),
        Field::new("agents", list(DataType::Utf8), true),
    ]))
}

/// Builds §2.4 rows from episode records.
pub struct RowsBuilder {
    episode_id: StringBuilder,
    message_id: StringBuilder,
    agent: StringBuilder,
    parents: ListBuilder<StringBuilder>,
    score: Float64Builder,
    group: StringBuilder,
    is_final: BooleanBuilder,
    text: StringBuilder,
    reward: Float64Builder,
    baseline: Float64Builder,
    success: BooleanBuilder,
    alternatives: ListBuilder<StructBuilder>,
    coalition_values: ListBuilder<Float64Builder>,
    agents: ListBuilder<StringBuilder>,
    rows: usize,
}

impl Default for RowsBuilder {
    fn default() -> Self {
        Self::new()
    }
}

fn text_of(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl RowsBuilder {
    /// No rows yet.
    pub fn new() -> Self {
        let alt = StructBuilder::from_fields(alt_fields(), 0);
        RowsBuilder {
            episode_id: StringBuilder::new(),
            message_id: StringBuilder::new(),
            agent: StringBuilder::new(),
            parents: ListBuilder::new(StringBuilder::new()),
            score: Float64Builder::new(),
            group: StringBuilder::new(),
            is_final: BooleanBuilder::new(),
            text: StringBuilder::new(),
            reward: Float64Builder::new(),
            baseline: Float64Builder::new(),
            success: BooleanBuilder::new(),
            alternatives: ListBuilder::new(alt),
            coalition_values: ListBuilder::new(Float64Builder::new()),
            agents: ListBuilder::new(StringBuilder::new()),
            rows: 0,
        }
    }

    /// Rows added since the last [`RowsBuilder::finish`].
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Adds an episode's rows. A game record, an episode without an id or without
    /// messages has no rows: the error says which.
    pub fn push(&mut self, r: &InputRecord) -> Result<(), String> {
        let id = r.id.as_ref().ok_or("a record without an id has no rows")?;
        if r.game.is_some() {
            return Err(format!(
                "record {:?} is a game: games have no columnar form (DESIGN §2.4)",
                id.0
            ));
        }
        let messages = r
            .messages
            .as_ref()
            .filter(|m| !m.is_empty())
            .ok_or_else(|| format!("episode {:?} has no messages, hence no rows", id.0))?;
        let outcome = r.outcome.as_ref();
        for (k, m) in messages.iter().enumerate() {
            self.episode_id.append_value(&id.0);
            self.message_id.append_option(m.id.as_ref().map(|i| &i.0));
            self.agent.append_option(m.agent.as_ref());
            match &m.parents {
                Some(ps) => {
                    for p in ps.iter() {
                        self.parents.values().append_value(p);
                    }
                    self.parents.append(true);
                }
                None => self.parents.append(false),
            }
            self.score.append_option(m.score);
            self.group.append_option(m.group.as_ref().map(|g| &g.0));
            self.is_final.append_value(m.is_final);
            self.text.append_option(m.text.as_ref().map(text_of));
            self.reward.append_option(outcome.and_then(|o| o.reward));
            self.baseline
                .append_option(outcome.and_then(|o| o.baseline));
            self.success.append_option(outcome.and_then(|o| o.success));
            match &m.alternatives {
                Some(alts) => {
                    for a in alts {
                        let s = self.alternatives.values();
                        s.field_builder::<StringBuilder>(0)
                            .expect("alternatives.text is a string")
                            .append_value(text_of(&a.text));
                        s.field_builder::<Float64Builder>(1)
                            .expect("alternatives.score is a double")
                            .append_option(a.score);
                        s.append(true);
                    }
                    self.alternatives.append(true);
                }
                None => self.alternatives.append(false),
            }
            match (&r.coalition_values, k) {
                (Some(cv), 0) => {
                    self.coalition_values.values().append_slice(cv);
                    self.coalition_values.append(true);
                }
                _ => self.coalition_values.append(false),
            }
            match (&r.agents, k) {
                (Some(agents), 0) => {
                    for a in agents {
                        self.agents.values().append_value(a);
                    }
                    self.agents.append(true);
                }
                _ => self.agents.append(false),
            }
            self.rows += 1;
        }
        Ok(())
    }

    /// The rows added so far as one batch; the builder is left empty.
    pub fn finish(&mut self) -> Result<RecordBatch, Error> {
        self.rows = 0;
        let cols: Vec<ArrayRef> = vec![
            Arc::new(self.episode_id.finish()),
            Arc::new(self.message_id.finish()),
            Arc::new(self.agent.finish()),
            Arc::new(self.parents.finish()),
            Arc::new(self.score.finish()),
            Arc::new(self.group.finish()),
            Arc::new(self.is_final.finish()),
            Arc::new(self.text.finish()),
            Arc::new(self.reward.finish()),
            Arc::new(self.baseline.finish()),
            Arc::new(self.success.finish()),
            Arc::new(self.alternatives.finish()),
            Arc::new(self.coalition_values.finish()),
            Arc::new(self.agents.finish()),
        ];
        RecordBatch::try_new(input_schema(), cols)
            .map_err(|e| Error::Columnar(format!("building §2.4 rows: {e}")))
    }
}
