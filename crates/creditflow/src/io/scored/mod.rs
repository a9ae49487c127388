//! The one typed reader of what `creditflow score` wrote (DESIGN §6), one record at a
//! time: JSON Lines records (through the one line reader, [`crate::io::jsonl::LineReader`]),
//! or the Parquet tables (feature `parquet`) joined by episode id. Only one record is
//! held at a time; a bad line names the file, the line and the field, and every record
//! is checked for what serde cannot see (branch names, distinct message positions below
//! the message limit), so that the report, `export otel`, `eval-failures`, `verify` and
//! Python read the same records the same way.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use crate::io::jsonl::LineReader;
use crate::validate::MAX_MESSAGES;

use serde::Deserialize;

use crate::schema::Id;

#[cfg(feature = "parquet")]
mod parquet;
#[cfg(feature = "parquet")]
pub use parquet::ParquetScored;

/// Why a scored file cannot be read: every error names the file, and the line and field
/// (JSON Lines) or the row and column (Parquet) when one record is at fault.
#[derive(Debug, thiserror::Error)]
pub enum ScoredError {
    /// A file could not be opened or read.
    #[error("reading {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A scored record is not what `creditflow score` writes.
    #[error("{path}, line {line}, field `{field}`: {message}")]
    Bad {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// The field.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A row of a scored Parquet table is not what `creditflow score` writes.
    #[error("{path}, row {row}, column `{column}`: {message}")]
    BadRow {
        /// The file.
        path: PathBuf,
        /// 1-based row.
        row: u64,
        /// The column.
        column: String,
        /// What is wrong.
        message: String,
    },
    /// A Parquet file could not be read as a whole.
    #[error("{0}")]
    Columnar(String),
    /// A Parquet file in a build without the `parquet` feature.
    #[error(
        "{path}: reading Parquet needs the `parquet` feature, which this creditflow was built without"
    )]
    NoParquet {
        /// The file.
        path: PathBuf,
    },
}

impl ScoredError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        ScoredError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// An agent's credit as written by `score`.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
pub struct ScoredAgent {
    /// Agent name.
    pub agent: String,
    /// Shapley credit.
    pub credit: f64,
    /// Its standard error.
    #[serde(default)]
    pub se: f64,
}

/// A message's credit and training reward as written by `score`.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
pub struct ScoredMessage {
    /// Message id.
    pub id: Id,
    /// Author.
    pub agent: String,
    /// 0-based position in the episode's messages (environment messages included).
    pub index: u32,
    /// Message credit.
    pub credit: f64,
    /// Its standard error.
    #[serde(default)]
    pub se: f64,
    /// Training reward (repair-aware on the failure branch).
    pub reward: f64,
}

/// A failed episode's first error as written by `score`.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
pub struct ScoredFirstError {
    /// 0-based position in the episode's messages.
    pub index: u32,
    /// Message id.
    pub message: Id,
    /// The blamed agent.
    pub agent: String,
    /// `label` or `counterfactual`.
    pub method: String,
}

/// One scored episode (DESIGN §6).
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
pub struct ScoredEpisode {
    /// Record id.
    pub id: Id,
    /// `success` or `failure`.
    pub branch: String,
    /// R.
    pub reward: f64,
    /// R0.
    #[serde(default)]
    pub baseline: f64,
    /// The estimator used.
    pub method: String,
    /// Monte Carlo permutations per credit.
    #[serde(default)]
    pub samples: u64,
    /// Flags (`structural`, `degenerate`, ...).
    #[serde(default)]
    pub flags: Vec<String>,
    /// Agent credits.
    pub agents: Vec<ScoredAgent>,
    /// Message credits and rewards (messages with an agent).
    pub messages: Vec<ScoredMessage>,
    /// The first error of a failed episode.
    #[serde(default)]
    pub first_error: Option<ScoredFirstError>,
}

impl ScoredEpisode {
    /// True on the failure branch.
    pub fn failed(&self) -> bool {
        self.branch == "failure"
    }

    /// Checks what serde cannot: the branch's name, that message positions are distinct
    /// and within the limit, and that every number is finite. Returns the offending
    /// field and why.
    pub(crate) fn check(&self) -> Result<(), (String, String)> {
        if self.branch != "success" && self.branch != "failure" {
            return Err((
                "branch".into(),
                format!(
                    "must be \"success\" or \"failure\", found {:?}",
                    self.branch
                ),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for (i, m) in self.messages.iter().enumerate() {
            if m.index as usize >= MAX_MESSAGES {
                return Err((
                    format!("messages[{i}].index"),
                    format!(
                        "position {} is past the message limit ({MAX_MESSAGES})",
                        m.index
                    ),
                ));
            }
            if !seen.insert(m.index) {
                return Err((
                    format!("messages[{i}].index"),
                    format!("position {} appears twice", m.index),
                ));
            }
        }
        if let Some(fe) = &self.first_error
            && fe.index as usize >= MAX_MESSAGES
        {
            return Err((
                "first_error.index".into(),
                format!(
                    "position {} is past the message limit ({MAX_MESSAGES})",
                    fe.index
                ),
            ));
        }
        // JSON cannot hold a non-finite number, a Parquet file can: each is an error
        // naming its field, never a null in an export or a NaN in a report.
        let finite = |field: String, x: f64| {
            if x.is_finite() {
                Ok(())
            } else {
                Err((field, format!("must be finite, found {x}")))
            }
        };
        finite("reward".into(), self.reward)?;
        finite("baseline".into(), self.baseline)?;
        for (i, m) in self.messages.iter().enumerate() {
            finite(format!("messages[{i}].credit"), m.credit)?;
            finite(format!("messages[{i}].se"), m.se)?;
            finite(format!("messages[{i}].reward"), m.reward)?;
        }
        for (i, a) in self.agents.iter().enumerate() {
            finite(format!("agents[{i}].credit"), a.credit)?;
            finite(format!("agents[{i}].se"), a.se)?;
        }
        Ok(())
    }
}

/// A game record's Shapley values as written by `score`.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
pub struct ScoredGame {
    /// Record id.
    pub id: Id,
    /// The estimator used.
    pub method: String,
    /// Monte Carlo permutations (or, for the regression, value evaluations).
    #[serde(default)]
    pub samples: u64,
    /// Shapley values per player.
    pub shapley: Vec<f64>,
    /// Their standard errors.
    pub se: Vec<f64>,
}

/// A bad input record as `score` reported it.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
pub struct ScoredFailure {
    /// Record id, when it was readable.
    #[serde(default)]
    pub id: Option<Id>,
    /// 1-based line (or row) of the input.
    #[serde(default)]
    pub line: Option<u64>,
    /// The field.
    #[serde(default)]
    pub field: Option<String>,
    /// Its error kind (`malformed_json`, ...; `error` when absent).
    #[serde(default = "default_kind")]
    pub kind: String,
    /// The message.
    pub error: String,
}

fn default_kind() -> String {
    "error".into()
}

/// One record of a scored file (written back as score wrote it).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(untagged)]
pub enum Scored {
    /// An episode's credits.
    Episode(Box<ScoredEpisode>),
    /// A game record's Shapley values.
    Game(ScoredGame),
    /// A bad input record that `score` reported.
    Error(ScoredFailure),
}

impl Scored {
    /// The record's id, when it has one.
    pub fn id(&self) -> Option<&str> {
        match self {
            Scored::Episode(e) => Some(&e.id.0),
            Scored::Game(g) => Some(&g.id.0),
            Scored::Error(f) => f.id.as_ref().map(|i| i.0.as_str()),
        }
    }
}

/// The records of a scored JSON Lines file.
pub struct JsonlScored<R> {
    lines: LineReader<R>,
    path: PathBuf,
    line: u64,
}

impl JsonlScored<BufReader<File>> {
    /// Opens `path`.
    pub fn open(path: &Path) -> Result<Self, ScoredError> {
        let file = File::open(path).map_err(|e| ScoredError::io(path, e))?;
        Ok(JsonlScored::new(
            BufReader::with_capacity(1 << 20, file),
            path,
        ))
    }
}

impl<R: BufRead> JsonlScored<R> {
    /// Records from `input`; `path` names it in errors.
    pub fn new(input: R, path: &Path) -> Self {
        JsonlScored {
            lines: LineReader::new(input),
            path: path.to_path_buf(),
            line: 0,
        }
    }

    /// The line of the record last read (1-based).
    pub fn line(&self) -> u64 {
        self.line
    }

    fn bad(&self, field: impl Into<String>, message: impl Into<String>) -> ScoredError {
        ScoredError::Bad {
            path: self.path.clone(),
            line: self.line,
            field: field.into(),
            message: message.into(),
        }
    }

    fn parse(&self, text: &str) -> Result<Scored, ScoredError> {
        parse_record(text).map_err(|(field, message)| self.bad(field, message))
    }
}

fn typed<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, (String, String)> {
    serde_path_to_error::deserialize(value)
        .map_err(|e| (e.path().to_string(), e.into_inner().to_string()))
}

/// Reads one JSON text of score's output into its typed record, checked; an error is
/// the field and what is wrong with it.
pub fn parse_record(text: &str) -> Result<Scored, (String, String)> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| ("(line)".to_string(), format!("not JSON: {e}")))?;
    parse_value(value)
}

/// [`parse_record`] of a JSON value already parsed.
pub fn parse_value(value: serde_json::Value) -> Result<Scored, (String, String)> {
    let Some(obj) = value.as_object() else {
        return Err((
            "(line)".into(),
            "a scored record must be a JSON object".into(),
        ));
    };
    if obj.contains_key("error") {
        return Ok(Scored::Error(typed(value)?));
    }
    if obj.contains_key("shapley") {
        let g: ScoredGame = typed(value)?;
        if g.se.len() != g.shapley.len() {
            return Err(("se".into(), "must have one entry per Shapley value".into()));
        }
        return Ok(Scored::Game(g));
    }
    if !obj.contains_key("branch") {
        return Err((
            "branch".into(),
            "missing field (not an episode, game or error record of `creditflow score`)".into(),
        ));
    }
    let episode: ScoredEpisode = typed(value)?;
    episode.check()?;
    Ok(Scored::Episode(Box::new(episode)))
}

impl<R: BufRead> Iterator for JsonlScored<R> {
    type Item = Result<Scored, ScoredError>;

    fn next(&mut self) -> Option<Self::Item> {
        let line = match self.lines.next_record() {
            Ok(None) => return None,
            Ok(Some(line)) => line,
            Err(e) => {
                self.line = self.lines.line_number() + 1;
                return Some(Err(self.bad("(line)", format!("unreadable: {e}"))));
            }
        };
        self.line = line.number;
        Some(match line.text {
            Ok(text) => self.parse(text.trim()),
            Err(problem) => Err(self.bad("(line)", problem.to_string())),
        })
    }
}

/// The records of a scored file, JSON Lines or (by the `.parquet` extension) the §6
/// Parquet tables, one at a time, with the place of the last one read.
pub struct ScoredReader {
    inner: Inner,
    path: PathBuf,
}

enum Inner {
    Jsonl(JsonlScored<BufReader<File>>),
    #[cfg(feature = "parquet")]
    Parquet(Box<ParquetScored>, u64),
}

impl ScoredReader {
    /// Where the record last read is: `file, line N` (JSON Lines) or `file, record N`
    /// (Parquet, counted in output order).
    pub fn location(&self) -> String {
        match &self.inner {
            Inner::Jsonl(j) => format!("{}, line {}", self.path.display(), j.line()),
            #[cfg(feature = "parquet")]
            Inner::Parquet(_, n) => format!("{}, record {n}", self.path.display()),
        }
    }
}

impl Iterator for ScoredReader {
    type Item = Result<Scored, ScoredError>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.inner {
            Inner::Jsonl(j) => j.next(),
            #[cfg(feature = "parquet")]
            Inner::Parquet(p, n) => {
                *n += 1;
                p.next()
            }
        }
    }
}

/// Opens the records of a scored file, JSON Lines or (by the `.parquet` extension) the
/// §6 Parquet tables.
pub fn open(path: &Path) -> Result<ScoredReader, ScoredError> {
    let inner = if is_parquet(path) {
        #[cfg(feature = "parquet")]
        {
            Inner::Parquet(Box::new(ParquetScored::open(path)?), 0)
        }
        #[cfg(not(feature = "parquet"))]
        return Err(ScoredError::NoParquet {
            path: path.to_path_buf(),
        });
    } else {
        Inner::Jsonl(JsonlScored::open(path)?)
    };
    Ok(ScoredReader {
        inner,
        path: path.to_path_buf(),
    })
}

/// True when `path` names a Parquet file (by extension).
pub fn is_parquet(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Vec<Result<Scored, ScoredError>> {
        JsonlScored::new(text.as_bytes(), Path::new("s.jsonl")).collect()
    }

    #[test]
    fn episodes_games_and_errors_are_told_apart() {
        let text = r#"{"id":"e","branch":"failure","reward":0,"baseline":0,"method":"exact","samples":0,"flags":[],"agents":[{"agent":"a","credit":0,"se":0}],"messages":[{"id":"m","agent":"a","index":1,"credit":0,"se":0,"reward":-1}],"first_error":{"index":1,"message":"m","agent":"a","method":"label"}}

{"id":"g","method":"exact","samples":0,"shapley":[1],"se":[0]}
{"id":null,"line":4,"error":"bad","field":"x","kind":"malformed_json"}
"#;
        let recs: Vec<Scored> = read(text).into_iter().map(Result::unwrap).collect();
        assert_eq!(recs.len(), 3);
        let Scored::Episode(e) = &recs[0] else {
            panic!("an episode first")
        };
        assert!(e.failed());
        assert_eq!(e.first_error.as_ref().unwrap().index, 1);
        assert!(matches!(&recs[1], Scored::Game(g) if g.shapley == [1.0]));
        assert!(
            matches!(&recs[2], Scored::Error(f) if f.kind == "malformed_json" && f.line == Some(4))
        );
    }

    #[test]
    fn a_bad_line_names_file_line_and_field() {
        let text = "\n{\"id\":\"e\",\"branch\":\"success\",\"reward\":\"high\",\"method\":\"exact\",\"agents\":[],\"messages\":[]}\n";
        let err = read(text).remove(0).unwrap_err().to_string();
        assert!(err.contains("s.jsonl"), "{err}");
        assert!(err.contains("line 2"), "{err}");
        assert!(err.contains("`reward`"), "{err}");
        let err = read("{\"id\":\"e\",\"branch\":\"maybe\",\"reward\":1,\"method\":\"x\",\"agents\":[],\"messages\":[]}")
            .remove(0)
            .unwrap_err()
            .to_string();
        assert!(err.contains("`branch`"), "{err}");
        let err = read("{not json").remove(0).unwrap_err().to_string();
        assert!(err.contains("line 1") && err.contains("not JSON"), "{err}");
        let err = read("{\"id\":\"e\",\"branch\":\"success\",\"reward\":1,\"method\":\"x\",\"agents\":[],\"messages\":[{\"id\":\"m\",\"agent\":\"a\",\"index\":-1,\"credit\":0,\"reward\":0}]}")
            .remove(0)
            .unwrap_err()
            .to_string();
        assert!(err.contains("messages[0].index"), "{err}");
        // A position past the message limit is an error, never an allocation.
        let err = read("{\"id\":\"e\",\"branch\":\"success\",\"reward\":1,\"method\":\"x\",\"agents\":[],\"messages\":[{\"id\":\"m\",\"agent\":\"a\",\"index\":200000,\"credit\":0,\"reward\":0}]}")
            .remove(0)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("messages[0].index") && err.contains("limit"),
            "{err}"
        );
        let err = read("{\"id\":\"e\",\"branch\":\"failure\",\"reward\":0,\"method\":\"x\",\"agents\":[],\"messages\":[],\"first_error\":{\"index\":4000000000,\"message\":\"m\",\"agent\":\"a\",\"method\":\"label\"}}")
            .remove(0)
            .unwrap_err()
            .to_string();
        assert!(err.contains("first_error.index"), "{err}");
        // A game's standard errors match its values.
        let err = read("{\"id\":\"g\",\"method\":\"exact\",\"shapley\":[1,2],\"se\":[0]}")
            .remove(0)
            .unwrap_err()
            .to_string();
        assert!(err.contains("`se`"), "{err}");
    }
}
