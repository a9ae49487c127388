//! What `creditflow score` wrote (DESIGN §6), read back one record at a time: JSON Lines
//! records, or the Parquet tables (feature `parquet`) joined by episode id. Only one
//! record is held at a time; a bad line names the file, the line and the field.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

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
#[derive(Debug, Clone, PartialEq, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Deserialize)]
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

    /// Checks what serde cannot: the branch's name and that message positions are
    /// distinct. Returns the offending field and why.
    fn check(&self) -> Result<(), (String, String)> {
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
            if !seen.insert(m.index) {
                return Err((
                    format!("messages[{i}].index"),
                    format!("position {} appears twice", m.index),
                ));
            }
        }
        Ok(())
    }
}

/// One record of a scored file.
#[derive(Debug, Clone, PartialEq)]
pub enum Scored {
    /// An episode's credits.
    Episode(Box<ScoredEpisode>),
    /// A game record (counted, not drawn).
    Game,
    /// A bad input record that `score` reported.
    Error {
        /// Its error kind (`malformed_json`, ...), or `error` when absent.
        kind: String,
    },
}

/// The records of a scored JSON Lines file.
pub struct JsonlScored<R> {
    input: R,
    path: PathBuf,
    line: u64,
    buf: String,
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
            input,
            path: path.to_path_buf(),
            line: 0,
            buf: String::new(),
        }
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
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| self.bad("(line)", format!("not JSON: {e}")))?;
        let Some(obj) = value.as_object() else {
            return Err(self.bad("(line)", "a scored record must be a JSON object"));
        };
        if obj.contains_key("error") {
            let kind = obj
                .get("kind")
                .and_then(|k| k.as_str())
                .unwrap_or("error")
                .to_string();
            return Ok(Scored::Error { kind });
        }
        if obj.contains_key("shapley") {
            return Ok(Scored::Game);
        }
        if !obj.contains_key("branch") {
            return Err(self.bad(
                "branch",
                "missing field (not an episode, game or error record of `creditflow score`)",
            ));
        }
        let episode: ScoredEpisode = serde_path_to_error::deserialize(value).map_err(|e| {
            let field = e.path().to_string();
            self.bad(field, e.into_inner().to_string())
        })?;
        episode.check().map_err(|(f, m)| self.bad(f, m))?;
        Ok(Scored::Episode(Box::new(episode)))
    }
}

impl<R: BufRead> Iterator for JsonlScored<R> {
    type Item = Result<Scored, ScoredError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            self.buf.clear();
            match self.input.read_line(&mut self.buf) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => {
                    self.line += 1;
                    let field = "(line)";
                    return Some(Err(self.bad(field, format!("unreadable: {e}"))));
                }
            }
            self.line += 1;
            let text = self.buf.trim_start_matches('\u{feff}').trim();
            if text.is_empty() {
                continue;
            }
            return Some(self.parse(text));
        }
    }
}

/// The records of a scored file, JSON Lines or (by the `.parquet` extension) the §6
/// Parquet tables.
pub fn open(
    path: &Path,
) -> Result<Box<dyn Iterator<Item = Result<Scored, ScoredError>>>, ScoredError> {
    if is_parquet(path) {
        #[cfg(feature = "parquet")]
        return Ok(Box::new(ParquetScored::open(path)?));
        #[cfg(not(feature = "parquet"))]
        return Err(ScoredError::NoParquet {
            path: path.to_path_buf(),
        });
    }
    Ok(Box::new(JsonlScored::open(path)?))
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
        assert_eq!(recs[1], Scored::Game);
        assert_eq!(
            recs[2],
            Scored::Error {
                kind: "malformed_json".into()
            }
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
    }
}
