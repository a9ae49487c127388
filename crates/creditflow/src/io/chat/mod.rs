//! Import of OpenAI-style chat logs as creditflow episode records (DESIGN §2.1).
//!
//! The importer owns one job: turn logs that say *who said what* into episodes the
//! scorer reads. It was built for the Who&When failure-attribution benchmark
//! (AG2/AutoGen CaptainAgent and Magentic-One teams) and reads any log of the same
//! shape.
//!
//! # Inputs
//!
//! A log is either an object with a `history` array (the Who&When format) or a bare
//! array of messages `[{"role", "name"?, "content"}]`. [`import_path`] accepts
//!
//! - one `.json` file holding one log — the episode id is the file stem;
//! - a directory, walked recursively, of `.json` logs (other files, hidden entries
//!   and symbolic links to directories are skipped) — the episode id is the path
//!   relative to the root, without extension, joined with `/` (`hand-crafted/1`),
//!   and its first component is the episode's `meta.subset` when there is more than
//!   one; files come in the order of their relative paths compared component by
//!   component, bytewise (`1`, `10`, `100`, `11`, …), so the output is deterministic;
//! - a `.jsonl` file with one log per line (blank lines skipped) — the id is the
//!   record's `id`, else its `question_ID`, else `line-N` (N counted from 1). Two
//!   records with one id are an error: the scorer needs unique ids. Who&When's
//!   `question_ID`s repeat across its two subsets, so a file holding both needs `id`s.
//!
//! # Messages
//!
//! History entry `i` becomes message `i`, id `m{i}`, in order: Who&When's
//! `mistake_step` and the scorer's `first_error.index` are both 0-based positions, so
//! they index the same message. `text` is `content` (`null` or missing → `""`, other
//! non-string content → its JSON text); the source `role` and `name` are kept
//! alongside for reference.
//!
//! # Agents and the environment
//!
//! The speaker is `name` when present (AG2 logs, where `role` is only `user` or
//! `assistant`), else `role` (Magentic-One logs). [`normalize_agent`] strips one
//! trailing parenthesised suffix, so `Orchestrator (thought)`,
//! `Orchestrator (-> WebSurfer)` and `Orchestrator (termination condition)` are all
//! `Orchestrator`, and maps environment speakers to `"agent": null`. A speaker is the
//! environment when, lowercased with everything but letters and digits removed, it is
//! one of [`ENVIRONMENT_SPEAKERS`]:
//!
//! | key | seen as | why |
//! | --- | --- | --- |
//! | `user`, `human` | `human` (Magentic-One's task message) | the task giver |
//! | `system` | | instructions |
//! | `tool`, `function`, `ipython` | | tool results in OpenAI / Llama chat formats |
//! | `computerterminal`, `terminal` | `Computer_terminal` (AG2), `ComputerTerminal` (Magentic-One) | run the code other agents write and report its output; no model behind them |
//! | `executor`, `codeexecutor`, `userproxy` | | AutoGen's code executors and user proxy |
//! | `environment` | | |
//!
//! Everything else is an agent, including `assistant` (a role-only log of one model)
//! and the tool-using but model-driven `WebSurfer` and `FileSurfer`. The agent keeps the
//! log's spelling; `agents` lists the distinct agents in order of first appearance.
//!
//! Consequence for the benchmark: 2 of Who&When's 184 gold labels put `mistake_step` on a
//! `Computer_terminal` message while naming an expert as `mistake_agent`
//! (`algorithm-generated/14` and `/59`); no label names a terminal as the culprit.
//! Treating the terminals as players instead would add a player with no model behind it
//! to 116 of the 126 AG2 teams and 3 of the 58 Magentic-One teams for the sake of two
//! step labels, so they stay environment. Gold labels are kept verbatim in `meta`: the
//! evaluator compares predictions with them, not with the agent of the gold step.
//!
//! # Provenance, scores, outcome, gold labels
//!
//! Chat logs carry no provenance, so `parents` is filled in per [`Provenance`].
//! An optional side file of per-step scores (JSON Lines
//! `{"episode": ID, "step": i, "score": x}`) sets each message's `score`.
//! `outcome.reward` is [`ImportOptions::reward`] (default 0: every Who&When episode is a
//! failure); `outcome.success` is `false` when the log carries a gold mistake label,
//! else the log's boolean `is_correct` when present, else left out so the scorer's
//! threshold decides. Gold labels and bookkeeping go under `meta`, which the scorer
//! ignores: `mistake_agent`, `mistake_step` (an integer; the source writes a string),
//! `mistake_reason`, `mistake_type`, `question_ID`, `level` (an integer when the source's
//! string or number is one, else kept as is; the source mixes `"2"`, `2` and `"Medium"`)
//! and `subset`.

pub mod gold;

pub use super::files::{ImportError, Location};
use super::files::{io_error, jsonl_rows, read_jsonl, read_jsonl_rows, walk};

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::schema::{Id, InputMessage, InputOutcome, InputRecord};

/// Speakers that are the environment rather than agents, as lowercase keys with every
/// character other than ASCII letters and digits removed (see the module docs).
pub const ENVIRONMENT_SPEAKERS: &[&str] = &[
    "user",
    "human",
    "system",
    "tool",
    "function",
    "ipython",
    "computerterminal",
    "terminal",
    "executor",
    "codeexecutor",
    "userproxy",
    "environment",
];

/// How parents are written: the same modes as `creditflow score --provenance`.
pub use crate::validate::Provenance;

/// Options of [`import_path`].
#[derive(Debug, Clone, PartialEq)]
pub struct ImportOptions {
    /// How `parents` is filled in.
    pub provenance: Provenance,
    /// `outcome.reward` written for every episode; must be finite.
    pub reward: f64,
    /// Optional JSON Lines file of per-step scores, `{"episode", "step", "score"}`.
    pub scores: Option<PathBuf>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            provenance: Provenance::Prefix,
            reward: 0.0,
            scores: None,
        }
    }
}

/// The agent behind a speaker label, or `None` for the environment.
///
/// Strips one trailing parenthesised suffix (`Orchestrator (-> WebSurfer)` →
/// `Orchestrator`) and surrounding whitespace, keeps the spelling otherwise, and returns
/// `None` when the label is empty or names the environment (see
/// [`ENVIRONMENT_SPEAKERS`] and the module docs).
///
/// ```
/// use creditflow::io::chat::normalize_agent;
/// assert_eq!(normalize_agent("Orchestrator (thought)").as_deref(), Some("Orchestrator"));
/// assert_eq!(normalize_agent("Computer_terminal"), None);
/// assert_eq!(normalize_agent("human"), None);
/// ```
pub fn normalize_agent(role_or_name: &str) -> Option<String> {
    let base = strip_suffix(role_or_name);
    if base.is_empty() || is_environment(base) {
        None
    } else {
        Some(base.to_string())
    }
}

/// The speaker label without one trailing parenthesised suffix, trimmed.
pub fn strip_suffix(label: &str) -> &str {
    let trimmed = label.trim();
    let Some(body) = trimmed.strip_suffix(')') else {
        return trimmed;
    };
    // Find the '(' that matches the final ')', allowing nested parentheses inside.
    let mut depth = 1usize;
    for (pos, ch) in body.char_indices().rev() {
        match ch {
            ')' => depth += 1,
            '(' => {
                depth -= 1;
                if depth == 0 {
                    let head = body[..pos].trim_end();
                    // A label that is nothing but a parenthesised phrase keeps it.
                    return if head.is_empty() { trimmed } else { head };
                }
            }
            _ => {}
        }
    }
    trimmed
}

fn is_environment(base: &str) -> bool {
    let key: String = base
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    ENVIRONMENT_SPEAKERS.contains(&key.as_str())
}

/// Imports every log under `path` (a `.json` file, a `.jsonl` file or a directory; see
/// the module docs) and returns the episode records, typed in the input schema
/// ([`InputRecord`]; serialize one to get its JSONL line), in input order.
///
/// Reads the whole input into memory; merges [`ImportOptions::scores`] when given.
pub fn import_path(path: &Path, opts: &ImportOptions) -> Result<Vec<InputRecord>, ImportError> {
    let imported = import_all(path, opts)?;
    match imported.errors.into_iter().next() {
        Some(e) => Err(e),
        None => Ok(imported.episodes),
    }
}

/// What an import produced: the episodes of every usable log, and one error for each log,
/// line or score row that could not be used (skipped, nothing else lost).
#[derive(Debug, Default)]
pub struct Imported {
    /// The episodes, in file (and line) order.
    pub episodes: Vec<InputRecord>,
    /// What was skipped, and why.
    pub errors: Vec<ImportError>,
}

/// Imports every usable log under `path` (a file, or a directory of `.json` / `.jsonl`
/// files); a broken log or score row is an entry of [`Imported::errors`]. Fails only when
/// `path` or the scores file cannot be read at all, or the reward is not finite.
pub fn import_all(path: &Path, opts: &ImportOptions) -> Result<Imported, ImportError> {
    if !opts.reward.is_finite() {
        return Err(ImportError::NonFiniteReward(opts.reward));
    }
    let mut out = Imported::default();
    let meta = fs::metadata(path).map_err(io_error(path))?;
    if meta.is_dir() {
        let mut files = Vec::new();
        walk(path, Path::new(""), is_log_file, &mut files)?;
        files.sort();
        for rel in files {
            let full = path.join(&rel);
            let parts: Vec<String> = rel
                .with_extension("")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            let subset = (parts.len() > 1).then(|| parts[0].clone());
            match read_text(&full) {
                Ok(text) => logs_from_text(&text, &full, parts.join("/"), subset, opts, &mut out),
                Err(e) => out.errors.push(e),
            }
        }
    } else {
        let text = read_text(path)?;
        let id = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        logs_from_text(&text, path, id, None, opts, &mut out);
    }
    if let Some(scores) = &opts.scores {
        merge_scores(&mut out.episodes, scores, &mut out.errors)?;
    }
    Ok(out)
}

/// Imports logs from `text` named `name` (standard input, in-memory data): one log (a
/// JSON document) or JSON Lines of logs, whichever the text is; then the scores file of
/// `opts`, if any. Everything that cannot be used is in [`Imported::errors`].
pub fn import_text(text: &str, name: &str, opts: &ImportOptions) -> Imported {
    let mut out = Imported::default();
    if !opts.reward.is_finite() {
        out.errors.push(ImportError::NonFiniteReward(opts.reward));
        return out;
    }
    logs_from_text(
        text,
        Path::new(name),
        name.to_string(),
        None,
        opts,
        &mut out,
    );
    if let Some(scores) = &opts.scores {
        let Imported { episodes, errors } = &mut out;
        if let Err(e) = merge_scores(episodes, scores, errors) {
            errors.push(e);
        }
    }
    out
}

/// The logs of one file's `text`: JSON Lines when the name says so or when the text is
/// not one JSON document; else one log with id `id`.
fn logs_from_text(
    text: &str,
    path: &Path,
    id: String,
    subset: Option<String>,
    opts: &ImportOptions,
    out: &mut Imported,
) {
    let single = if is_jsonl(path) {
        None
    } else {
        match serde_json::from_str::<Value>(text.trim_start_matches('\u{feff}')) {
            Ok(v) => Some(Ok(v)),
            // A file named .json that is not one document: JSON Lines if it has several
            // non-blank lines, else a malformed log.
            Err(e) if text.lines().filter(|l| !l.trim().is_empty()).count() < 2 => {
                Some(Err(ImportError::Json {
                    at: Location::file(path),
                    source: e,
                }))
            }
            Err(_) => None,
        }
    };
    match single {
        Some(Ok(log)) => match episode_from_log(&log, id, subset, &Location::file(path), opts) {
            Ok(e) => out.episodes.push(e),
            Err(e) => out.errors.push(e),
        },
        Some(Err(e)) => out.errors.push(e),
        None => {
            let mut seen: HashMap<String, usize> = HashMap::new();
            for row in jsonl_rows(text, path) {
                let (line_no, value) = match row {
                    Ok(r) => r,
                    Err(e) => {
                        out.errors.push(e);
                        continue;
                    }
                };
                let at = Location::line(path, line_no);
                let rid = jsonl_record_id(&value, line_no);
                let rid = match &subset {
                    Some(s) => format!("{s}/{rid}"),
                    None => rid,
                };
                if let Some(&first_line) = seen.get(&rid) {
                    out.errors.push(ImportError::DuplicateId {
                        at,
                        id: rid,
                        first_line,
                    });
                    continue;
                }
                seen.insert(rid.clone(), line_no);
                match episode_from_log(&value, rid, subset.clone(), &at, opts) {
                    Ok(e) => out.episodes.push(e),
                    Err(e) => out.errors.push(e),
                }
            }
        }
    }
}

pub(crate) fn is_jsonl(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("jsonl"))
}

/// A `.json` or `.jsonl` file, whatever the case of its extension.
fn is_log_file(path: &Path) -> bool {
    is_jsonl(path)
        || path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

/// A file's text (a UTF-8 byte-order mark is dropped by the JSON readers).
fn read_text(path: &Path) -> Result<String, ImportError> {
    let bytes = fs::read(path).map_err(io_error(path))?;
    String::from_utf8(bytes).map_err(|e| ImportError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
    })
}

/// The episode id of a JSON Lines record: `id`, else `question_ID`, else `line-N`.
pub(crate) fn jsonl_record_id(record: &Value, line: usize) -> String {
    ["id", "question_ID"]
        .iter()
        .find_map(|key| id_text(record.get(key)?))
        .unwrap_or_else(|| format!("line-{line}"))
}

/// A string or integer id as text.
pub(crate) fn id_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) if n.is_u64() || n.is_i64() => Some(n.to_string()),
        _ => None,
    }
}

/// A short description of a JSON value for error messages.
pub(crate) fn describe(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 40 {
        let head: String = text.chars().take(37).collect();
        format!("{head}...")
    } else {
        text
    }
}

/// A non-negative integer, or a string holding one (Who&When writes `"mistake_step": "3"`).
pub fn step_value(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn level_value(value: &Value) -> Value {
    match value {
        Value::String(s) => match s.trim().parse::<i64>() {
            Ok(n) => Value::from(n),
            Err(_) => value.clone(),
        },
        _ => value.clone(),
    }
}

fn speaker(
    message: &Map<String, Value>,
    index: usize,
    at: &Location,
) -> Result<String, ImportError> {
    for key in ["name", "role"] {
        match message.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if s.trim().is_empty() => {}
            Some(Value::String(s)) => return Ok(s.clone()),
            Some(other) => {
                return Err(ImportError::WrongType {
                    at: at.clone(),
                    field: format!("history[{index}].{key}"),
                    expected: "a string",
                    found: describe(other),
                });
            }
        }
    }
    Err(ImportError::MissingSpeaker {
        at: at.clone(),
        index,
    })
}

/// Converts one log (an object with `history`, or a bare message array) into an episode.
pub(crate) fn episode_from_log(
    log: &Value,
    id: String,
    subset: Option<String>,
    at: &Location,
    opts: &ImportOptions,
) -> Result<InputRecord, ImportError> {
    let (history, fields) = match log {
        Value::Array(history) => (history, None),
        Value::Object(fields) => match fields.get("history") {
            Some(Value::Array(history)) => (history, Some(fields)),
            Some(other) => {
                return Err(ImportError::WrongType {
                    at: at.clone(),
                    field: "history".into(),
                    expected: "an array of messages",
                    found: describe(other),
                });
            }
            None => {
                return Err(ImportError::MissingField {
                    at: at.clone(),
                    field: "history".into(),
                });
            }
        },
        other => {
            return Err(ImportError::WrongType {
                at: at.clone(),
                field: "(record)".into(),
                expected: "an object with `history` or an array of messages",
                found: describe(other),
            });
        }
    };

    let mut agents: Vec<String> = Vec::new();
    let mut messages = Vec::with_capacity(history.len());
    for (i, entry) in history.iter().enumerate() {
        let Value::Object(message) = entry else {
            return Err(ImportError::WrongType {
                at: at.clone(),
                field: format!("history[{i}]"),
                expected: "a message object",
                found: describe(entry),
            });
        };
        let agent = normalize_agent(&speaker(message, i, at)?);
        if let Some(name) = &agent
            && !agents.contains(name)
        {
            agents.push(name.clone());
        }
        let text = match message.get("content") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        };
        let parents: Option<Vec<usize>> = match opts.provenance {
            Provenance::Prefix => Some((0..i).collect()),
            Provenance::Chain => Some(match i {
                0 => vec![],
                1 => vec![0],
                _ => vec![0, i - 1],
            }),
            Provenance::None => None,
        };
        // The source's `role` and `name`, kept when they are strings.
        let label = |key: &str| message.get(key).filter(|v| v.is_string()).cloned();
        messages.push(InputMessage {
            id: Some(message_id(i)),
            agent,
            parents: parents.map(|ps| ps.into_iter().map(message_id).collect()),
            text: Some(Value::String(text)),
            role: label("role"),
            name: label("name"),
            ..InputMessage::default()
        });
    }

    let mut meta = Map::new();
    let mut success = None;
    if let Some(fields) = fields {
        for key in [
            "mistake_agent",
            "mistake_reason",
            "mistake_type",
            "question_ID",
        ] {
            if let Some(value) = fields.get(key).filter(|v| !v.is_null()) {
                meta.insert(key.into(), value.clone());
            }
        }
        if let Some(value) = fields.get("mistake_step").filter(|v| !v.is_null()) {
            let step = step_value(value).ok_or_else(|| ImportError::WrongType {
                at: at.clone(),
                field: "mistake_step".into(),
                expected: "a non-negative integer or a string holding one",
                found: describe(value),
            })?;
            if step >= history.len() as u64 {
                return Err(ImportError::MistakeStepOutOfRange {
                    at: at.clone(),
                    step,
                    len: history.len(),
                });
            }
            meta.insert("mistake_step".into(), Value::from(step));
        }
        if let Some(value) = fields.get("level").filter(|v| !v.is_null()) {
            meta.insert("level".into(), level_value(value));
        }
        if meta.contains_key("mistake_agent") || meta.contains_key("mistake_step") {
            success = Some(false);
        } else if let Some(Value::Bool(correct)) = fields.get("is_correct") {
            success = Some(*correct);
        }
    }
    if let Some(subset) = subset {
        meta.insert("subset".into(), Value::String(subset));
    }

    Ok(InputRecord {
        id: Some(Id(id)),
        agents: Some(agents),
        messages: Some(messages),
        outcome: Some(InputOutcome {
            reward: Some(opts.reward),
            success,
            ..InputOutcome::default()
        }),
        meta: (!meta.is_empty()).then_some(Value::Object(meta)),
        ..InputRecord::default()
    })
}

/// The id of message `i`: `m{i}`, so that it names its position in `history`.
fn message_id(i: usize) -> Id {
    Id(format!("m{i}"))
}

/// Merges the scores side file into `episodes`; a bad row is an error in `errors` (and
/// skipped), never the end of the import.
fn merge_scores(
    episodes: &mut [InputRecord],
    scores: &Path,
    errors: &mut Vec<ImportError>,
) -> Result<(), ImportError> {
    let index: HashMap<String, usize> = episodes
        .iter()
        .enumerate()
        .filter_map(|(i, e)| Some((e.id.as_ref()?.0.clone(), i)))
        .collect();
    let mut scored: HashMap<(usize, u64), usize> = HashMap::new();
    for row in read_jsonl_rows(scores)? {
        if let Err(e) = row.and_then(|(line_no, record)| {
            score_row(episodes, &index, &mut scored, scores, line_no, &record)
        }) {
            errors.push(e);
        }
    }
    Ok(())
}

/// One row of the scores file, applied to its episode.
fn score_row(
    episodes: &mut [InputRecord],
    index: &HashMap<String, usize>,
    scored: &mut HashMap<(usize, u64), usize>,
    scores: &Path,
    line_no: usize,
    record: &Value,
) -> Result<(), ImportError> {
    {
        let at = Location::line(scores, line_no);
        let field = |key: &str| -> Result<&Value, ImportError> {
            record.get(key).ok_or_else(|| ImportError::MissingField {
                at: at.clone(),
                field: key.into(),
            })
        };
        let wrong = |key: &str, expected: &'static str, found: &Value| ImportError::WrongType {
            at: at.clone(),
            field: key.into(),
            expected,
            found: describe(found),
        };
        if !record.is_object() {
            return Err(wrong("(record)", "an object", record));
        }
        let episode_value = field("episode")?;
        let episode =
            id_text(episode_value).ok_or_else(|| wrong("episode", "a string", episode_value))?;
        let step_field = field("step")?;
        let step = step_field
            .as_u64()
            .ok_or_else(|| wrong("step", "a non-negative integer", step_field))?;
        let score_field = field("score")?;
        let score = score_field
            .as_f64()
            .ok_or_else(|| wrong("score", "a number", score_field))?;
        if !(-1.0..=1.0).contains(&score) {
            return Err(ImportError::ScoreOutOfRange { at, score });
        }
        let Some(&ep) = index.get(&episode) else {
            return Err(ImportError::UnknownEpisode { at, episode });
        };
        let messages = episodes[ep].messages.as_deref_mut().unwrap_or_default();
        let len = messages.len();
        if step >= len as u64 {
            return Err(ImportError::StepOutOfRange {
                at,
                episode,
                step,
                len,
            });
        }
        if let Some(&first_line) = scored.get(&(ep, step)) {
            return Err(ImportError::DuplicateScore {
                at,
                episode,
                step,
                first_line,
            });
        }
        scored.insert((ep, step), line_no);
        messages[step as usize].score = Some(score);
    }
    Ok(())
}
