//! What every importer shares: where a problem is ([`Location`]), the one error type of
//! imports ([`ImportError`], by file, line, trace, span and field), the directory walk,
//! and JSON Lines records of a file through the one line reader.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// Where in the input a problem is: a file, and for JSON Lines files a line (from 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file.
    pub path: PathBuf,
    /// The line, counted from 1, for JSON Lines files.
    pub line: Option<usize>,
}

impl Location {
    /// A whole file.
    pub fn file(path: &Path) -> Self {
        Self {
            path: path.to_path_buf(),
            line: None,
        }
    }

    /// One line of a JSON Lines file, counted from 1.
    pub fn line(path: &Path, line: usize) -> Self {
        Self {
            path: path.to_path_buf(),
            line: Some(line),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}, line {line}", self.path.display()),
            None => write!(f, "{}", self.path.display()),
        }
    }
}

/// Everything that can go wrong while importing logs or reading a scores file.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A file or directory could not be read.
    #[error("{path}: cannot read: {source}", path = .path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A record of a scored file could not be read.
    #[error(transparent)]
    Scored(#[from] crate::io::scored::ScoredError),
    /// A file or line is not valid JSON.
    #[error("{at}: malformed JSON: {source}")]
    Json {
        /// Where.
        at: Location,
        /// The parser's message, with its column.
        #[source]
        source: serde_json::Error,
    },
    /// A required field is absent (a log without `history`, a score without `step`).
    #[error("{at}: missing field `{field}`")]
    MissingField {
        /// Where.
        at: Location,
        /// The field, as a path such as `history` or `score`.
        field: String,
    },
    /// A field holds a value of the wrong type or form.
    #[error("{at}: field `{field}` must be {expected}, found {found}")]
    WrongType {
        /// Where.
        at: Location,
        /// The field, as a path such as `history[3].role`.
        field: String,
        /// What it must hold.
        expected: &'static str,
        /// What it holds, abbreviated.
        found: String,
    },
    /// A message has neither a usable `name` nor a usable `role`, so it has no speaker.
    #[error("{at}: message `history[{index}]` has neither `name` nor `role`")]
    MissingSpeaker {
        /// Where.
        at: Location,
        /// The message's position in `history`.
        index: usize,
    },
    /// `mistake_step` points past the end of `history`.
    #[error("{at}: field `mistake_step` is {step} but `history` has {len} messages")]
    MistakeStepOutOfRange {
        /// Where.
        at: Location,
        /// The gold step.
        step: u64,
        /// The number of messages.
        len: usize,
    },
    /// Two records of one JSON Lines file get the same episode id.
    #[error("{at}: episode id `{id}` was already used on line {first_line}")]
    DuplicateId {
        /// Where the second one is.
        at: Location,
        /// The id.
        id: String,
        /// The line of the first one.
        first_line: usize,
    },
    /// A scores line names an episode that is not in the input.
    #[error("{at}: field `episode`: no episode `{episode}` in the input")]
    UnknownEpisode {
        /// The scores line.
        at: Location,
        /// The id it names.
        episode: String,
    },
    /// A scores line names a step past the end of its episode.
    #[error("{at}: field `step` is {step} but episode `{episode}` has {len} messages")]
    StepOutOfRange {
        /// The scores line.
        at: Location,
        /// The episode.
        episode: String,
        /// The step it names.
        step: u64,
        /// The episode's number of messages.
        len: usize,
    },
    /// A scores line's `score` is outside [-1, 1] (DESIGN §2.1).
    #[error("{at}: field `score` is {score}, outside [-1, 1]")]
    ScoreOutOfRange {
        /// The scores line.
        at: Location,
        /// The score.
        score: f64,
    },
    /// Two scores lines score the same message.
    #[error("{at}: episode `{episode}` step {step} was already scored on line {first_line}")]
    DuplicateScore {
        /// The second scores line.
        at: Location,
        /// The episode.
        episode: String,
        /// The step.
        step: u64,
        /// The line of the first score.
        first_line: usize,
    },
    /// A trace that cannot become an episode: a broken span or event of it, or a
    /// structure the mapping cannot use (DESIGN §2.5); its other records are skipped.
    #[error("{at}: trace {trace}{span}: field `{field}`: {message}", span = .span.as_ref().map(|s| format!(", span {s}")).unwrap_or_default())]
    Trace {
        /// Where (file, line or document, and the span's path).
        at: String,
        /// The trace id.
        trace: String,
        /// The span at fault, if one is.
        span: Option<String>,
        /// The field.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A part of an OTLP document that names no trace (a span without a readable trace
    /// id, a non-array `spans`, …).
    #[error("{at}: field `{field}`: {message}")]
    Document {
        /// Where (file, line or document).
        at: String,
        /// The field, as a path from the document root.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// `ImportOptions::reward` is NaN or infinite.
    #[error("reward must be finite, got {0}")]
    NonFiniteReward(f64),
}

pub(crate) fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> ImportError + '_ {
    move |source| ImportError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Collects the files under `dir` that `keep` accepts, as paths relative to the walk's
/// root; hidden entries and symbolic links to directories are skipped.
pub(crate) fn walk(
    dir: &Path,
    rel: &Path,
    keep: fn(&Path) -> bool,
    out: &mut Vec<PathBuf>,
) -> Result<(), ImportError> {
    let here = dir.join(rel);
    for entry in fs::read_dir(&here).map_err(io_error(&here))? {
        let entry = entry.map_err(io_error(&here))?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let entry_path = entry.path();
        let kind = entry.file_type().map_err(io_error(&entry_path))?;
        let child = rel.join(&name);
        if kind.is_dir() {
            walk(dir, &child, keep, out)?;
        } else if keep(Path::new(&name))
            && fs::metadata(&entry_path)
                .map_err(io_error(&entry_path))?
                .is_file()
        {
            out.push(child);
        }
    }
    Ok(())
}

/// The non-blank lines of a JSON Lines file, each parsed or its error, with their line
/// numbers (from 1), read one line at a time. Fails only when the file cannot be read.
pub(crate) fn read_jsonl_rows(path: &Path) -> Result<Vec<Row>, ImportError> {
    let file = fs::File::open(path).map_err(io_error(path))?;
    rows_of(std::io::BufReader::new(file), path)
}

/// One line of a JSON Lines file: (line number from 1, value), or why it is unreadable.
pub(crate) type Row = Result<(usize, Value), ImportError>;

/// The non-blank lines of JSON Lines `text`, each parsed or its error (located in `path`).
pub(crate) fn jsonl_rows(text: &str, path: &Path) -> Vec<Row> {
    rows_of(text.as_bytes(), path).unwrap_or_else(|e| vec![Err(e)])
}

/// The rows of `input` through the one JSON Lines reader (line cap, byte-order mark,
/// every line ending).
fn rows_of(input: impl std::io::BufRead, path: &Path) -> Result<Vec<Row>, ImportError> {
    let mut lines = crate::io::jsonl::LineReader::new(input);
    let mut rows = Vec::new();
    while let Some(line) = lines.next_record().map_err(io_error(path))? {
        let n = line.number as usize;
        rows.push(match line.text {
            Ok(text) => serde_json::from_str(text.trim())
                .map(|v| (n, v))
                .map_err(|source| ImportError::Json {
                    at: Location::line(path, n),
                    source,
                }),
            Err(problem) => Err(ImportError::Io {
                path: path.to_path_buf(),
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("line {n}: {problem}"),
                ),
            }),
        });
    }
    Ok(rows)
}

/// The non-blank lines of a JSON Lines file, parsed, with their line numbers (from 1);
/// the first unreadable line is the error.
pub(crate) fn read_jsonl(path: &Path) -> Result<Vec<(usize, Value)>, ImportError> {
    read_jsonl_rows(path)?.into_iter().collect()
}
