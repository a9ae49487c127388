//! Gold failure labels of chat logs (the Who&When benchmark's `mistake_agent` /
//! `mistake_step`), for `eval-failures` and the report: from Who&When logs (a `.json`
//! file or a directory, read with [`super::import_path`], so ids match an import of the
//! same path) or from a JSON Lines file of `{"id", "mistake_agent", "mistake_step"}`
//! records, of episodes carrying `meta.mistake_agent` / `meta.mistake_step` (the
//! importer's output), or of raw Who&When logs. `mistake_step` is an integer (or a
//! string holding one); errors name the file, the line and the field.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use super::{
    ImportError, ImportOptions, Location, describe, episode_from_log, id_text, import_path,
    is_jsonl, jsonl_record_id, read_jsonl, step_value,
};
use crate::options::Provenance;
use crate::schema::InputRecord;

/// Everything that can go wrong while reading gold labels or predictions.
#[derive(Debug, thiserror::Error)]
pub enum GoldError {
    /// A file could not be read, a line is not JSON, or a Who&When log is malformed.
    #[error(transparent)]
    Import(#[from] ImportError),
    /// A record has no `id`.
    #[error("{at}: missing field `id`")]
    MissingId {
        /// Where.
        at: Location,
    },
    /// A field holds a value of the wrong type or form.
    #[error("{at}: field `{field}` must be {expected}, found {found}")]
    WrongType {
        /// Where.
        at: Location,
        /// The field, as a path such as `first_error.index`.
        field: String,
        /// What it must hold.
        expected: &'static str,
        /// What it holds, abbreviated.
        found: String,
    },
    /// A gold record lacks `mistake_agent` or `mistake_step`.
    #[error("{at}: gold record `{id}` has no `{field}` (nor `meta.{field}`)")]
    MissingLabel {
        /// Where.
        at: Location,
        /// The record's id.
        id: String,
        /// The missing field.
        field: &'static str,
    },
    /// Two records of one file share an id.
    #[error("{at}: id `{id}` already appeared at {first}")]
    DuplicateId {
        /// Where the second one is.
        at: Location,
        /// The id.
        id: String,
        /// Where the first one is.
        first: Location,
    },
}

/// One gold failure label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoldLabel {
    /// Episode id.
    pub id: String,
    /// Subset the episode is reported under, if any.
    pub subset: Option<String>,
    /// The agent to blame, as written in the gold data.
    pub agent: String,
    /// The 0-based index of the decisive error in the episode's messages.
    pub step: u64,
}

/// The error of a field holding a value of the wrong type or form.
pub fn wrong(at: &Location, field: &str, expected: &'static str, found: &Value) -> GoldError {
    GoldError::WrongType {
        at: at.clone(),
        field: field.into(),
        expected,
        found: describe(found),
    }
}

/// The `id` of a record, as text.
pub fn record_id(record: &Value, at: &Location) -> Result<String, GoldError> {
    match record.get("id") {
        None | Some(Value::Null) => Err(GoldError::MissingId { at: at.clone() }),
        Some(value) => id_text(value).ok_or_else(|| wrong(at, "id", "a string", value)),
    }
}

/// Checks ids are unique, remembering where each was first seen.
/// Checks ids are unique, remembering where each was first seen.
#[derive(Default)]
pub struct Seen(pub HashMap<String, Location>);

impl Seen {
    /// An error when `id` was seen before; remembers where it is.
    pub fn check(&mut self, id: &str, at: &Location) -> Result<(), GoldError> {
        if let Some(first) = self.0.get(id) {
            return Err(GoldError::DuplicateId {
                at: at.clone(),
                id: id.into(),
                first: first.clone(),
            });
        }
        self.0.insert(id.into(), at.clone());
        Ok(())
    }
}

/// The subset of a record: `meta.subset`, else `subset`, else the first component of a
/// multi-component id.
fn subset_of(record: &Value, id: &str) -> Option<String> {
    let explicit = record
        .pointer("/meta/subset")
        .or_else(|| record.get("subset"))
        .and_then(Value::as_str);
    match explicit {
        Some(s) => Some(s.to_string()),
        None => id.split_once('/').map(|(head, _)| head.to_string()),
    }
}

/// The gold label carried by `record` (top-level or under `meta`).
fn label_of(record: &Value, id: String, at: &Location) -> Result<GoldLabel, GoldError> {
    let field = |name: &'static str| {
        record
            .get(name)
            .filter(|v| !v.is_null())
            .map(|v| (v, name.to_string()))
            .or_else(|| {
                record
                    .get("meta")?
                    .get(name)
                    .filter(|v| !v.is_null())
                    .map(|v| (v, format!("meta.{name}")))
            })
            .ok_or_else(|| GoldError::MissingLabel {
                at: at.clone(),
                id: id.clone(),
                field: name,
            })
    };
    let (agent_value, agent_field) = field("mistake_agent")?;
    let agent = agent_value
        .as_str()
        .ok_or_else(|| wrong(at, &agent_field, "a string", agent_value))?
        .to_string();
    let (step_value_, step_field) = field("mistake_step")?;
    let step = step_value(step_value_).ok_or_else(|| {
        wrong(
            at,
            &step_field,
            "a non-negative integer or a string holding one",
            step_value_,
        )
    })?;
    let subset = subset_of(record, &id);
    Ok(GoldLabel {
        id,
        subset,
        agent,
        step,
    })
}

/// The gold label of an episode built by the importer: its `id` and `meta`, read as in
/// the episode's JSON form (the labels live under `meta`; no other field holds one).
fn imported_label(episode: InputRecord, at: &Location) -> Result<GoldLabel, GoldError> {
    let mut record = serde_json::Map::new();
    if let Some(id) = episode.id {
        record.insert("id".into(), Value::String(id.0));
    }
    if let Some(meta) = episode.meta {
        record.insert("meta".into(), meta);
    }
    let record = Value::Object(record);
    let id = record_id(&record, at)?;
    label_of(&record, id, at)
}

/// Reads gold labels from Who&When logs (a directory or `.json` file) or from a JSON
/// Lines file (see the module docs).
pub fn read_gold(path: &Path) -> Result<Vec<GoldLabel>, GoldError> {
    let opts = ImportOptions {
        provenance: Provenance::None,
        ..ImportOptions::default()
    };
    let mut out = Vec::new();
    let mut seen = Seen::default();
    if path.is_dir() || !is_jsonl(path) && path.extension().is_some_and(|e| e == "json") {
        let root = Location::file(path);
        for episode in import_path(path, &opts)? {
            out.push(imported_label(episode, &root)?);
        }
        return Ok(out);
    }
    for (line, record) in read_jsonl(path)? {
        let at = Location::line(path, line);
        if !record.is_object() {
            return Err(wrong(&at, "(record)", "an object", &record));
        }
        let label = if record.get("history").is_some() {
            let id = jsonl_record_id(&record, line);
            let episode = episode_from_log(&record, id, None, &at, &opts)?;
            imported_label(episode, &at)?
        } else {
            let id = record_id(&record, &at)?;
            label_of(&record, id, &at)?
        };
        seen.check(&label.id, &at)?;
        out.push(label);
    }
    Ok(out)
}
