//! Failure-attribution evaluation: how often predicted first errors match gold labels.
//!
//! This is the Who&When benchmark's measure (arXiv 2505.00212): *agent-level accuracy*,
//! the share of failed episodes whose blamed agent is the gold `mistake_agent`, and
//! *step-level accuracy*, the share whose blamed message is the gold `mistake_step`.
//!
//! - Steps are compared as integers. The source stores `mistake_step` as a string and
//!   its official script compared by substring (so a prediction of `1` matched a gold
//!   `12`), which inflates step accuracy; this module does not.
//! - Agents are compared case-insensitively after stripping one trailing
//!   parenthesised suffix, as [`creditflow::io::chat::normalize_agent`] does
//!   (`Orchestrator (thought)` matches `orchestrator`). Environment labels are compared
//!   the same way rather than mapped to "no agent", so a gold label that names one can
//!   still be matched.
//! - A gold record without a prediction record counts as wrong and is reported as
//!   *missing*; a prediction with `first_error: null` (or a scorer error record) counts
//!   as wrong and is reported as *no prediction*; predictions without a gold record
//!   are reported and otherwise ignored.
//! - Results are given overall and per subset: the record's `meta.subset` (or `subset`)
//!   when present, else the first `/`-separated component of a multi-component id
//!   (`hand-crafted/7` → `hand-crafted`). Records with neither count only overall.
//!
//! Gold comes from Who&When logs (a `.json` file or a directory, read with
//! [`creditflow::io::chat::import_path`], so ids match an import of the same path) or from a
//! JSON Lines file of `{"id", "mistake_agent", "mistake_step"}` records, of episodes
//! carrying `meta.mistake_agent` / `meta.mistake_step` (the importer's output), or of
//! raw Who&When logs. Predictions are JSON Lines records with an `id` and either the
//! scorer's `first_error: {"index", "agent"}` (DESIGN §6) or
//! `mistake_agent` / `mistake_step`.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;

use serde_json::Value;

use creditflow::io::Location;
use creditflow::io::chat::gold::{GoldError, GoldLabel, Seen, read_gold, record_id};
use creditflow::io::chat::{step_value, strip_suffix};
use creditflow::io::jsonl::LineReader;
use creditflow::io::scored::{self, Scored, ScoredError};

/// Everything that can go wrong while reading predictions or gold labels.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The gold labels could not be read.
    #[error(transparent)]
    Gold(#[from] GoldError),
    /// A record of score's output could not be read.
    #[error(transparent)]
    Scored(#[from] ScoredError),
    /// A prediction record has neither `first_error` nor `mistake_agent`/`mistake_step`.
    #[error("{at}: prediction `{id}` has neither `first_error` nor `mistake_agent`/`mistake_step`")]
    NoPredictionField {
        /// Where.
        at: Location,
        /// The record's id.
        id: String,
    },
}

/// One predicted failure attribution; `None` fields are no prediction (counted wrong).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prediction {
    /// Episode id.
    pub id: String,
    /// The blamed agent.
    pub agent: Option<String>,
    /// The blamed message's 0-based index.
    pub step: Option<u64>,
}

/// Counts for one subset or for all episodes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Gold records.
    pub total: usize,
    /// Gold records whose predicted agent matches.
    pub agent_correct: usize,
    /// Gold records whose predicted step matches.
    pub step_correct: usize,
    /// Gold records with no prediction record at all.
    pub missing: usize,
    /// Gold records whose prediction record predicts neither agent nor step.
    pub no_prediction: usize,
}

impl Counts {
    /// Agent-level accuracy in [0, 1]; 0 when there are no gold records.
    pub fn agent_accuracy(&self) -> f64 {
        ratio(self.agent_correct, self.total)
    }

    /// Step-level accuracy in [0, 1]; 0 when there are no gold records.
    pub fn step_accuracy(&self) -> f64 {
        ratio(self.step_correct, self.total)
    }

    fn add(&mut self, agent_ok: bool, step_ok: bool, missing: bool, no_prediction: bool) {
        self.total += 1;
        self.agent_correct += usize::from(agent_ok);
        self.step_correct += usize::from(step_ok);
        self.missing += usize::from(missing);
        self.no_prediction += usize::from(no_prediction);
    }
}

fn ratio(num: usize, den: usize) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

/// Result of [`evaluate`]: counts overall and per subset, and the unmatched ids.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EvalReport {
    /// All gold records.
    pub overall: Counts,
    /// Gold records by subset, in name order.
    pub subsets: BTreeMap<String, Counts>,
    /// Ids of gold records without a prediction record, in gold order.
    pub missing: Vec<String>,
    /// Ids of prediction records without a gold record, in prediction order.
    pub unmatched: Vec<String>,
}

impl fmt::Display for EvalReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self
            .subsets
            .keys()
            .map(|k| k.chars().count())
            .chain(["overall".len()])
            .max()
            .unwrap_or(0);
        let rows = self
            .subsets
            .iter()
            .map(|(name, counts)| (name.as_str(), counts))
            .chain([("overall", &self.overall)]);
        for (name, c) in rows {
            write!(
                f,
                "{name:<width$}  agent {}/{} = {:.1}%  step {}/{} = {:.1}%",
                c.agent_correct,
                c.total,
                100.0 * c.agent_accuracy(),
                c.step_correct,
                c.total,
                100.0 * c.step_accuracy(),
            )?;
            if c.missing > 0 {
                write!(f, "  missing {}", c.missing)?;
            }
            if c.no_prediction > 0 {
                write!(f, "  no prediction {}", c.no_prediction)?;
            }
            writeln!(f)?;
        }
        if !self.missing.is_empty() {
            writeln!(
                f,
                "{} gold records have no prediction (counted wrong): {}",
                self.missing.len(),
                abbreviate(&self.missing)
            )?;
        }
        if !self.unmatched.is_empty() {
            writeln!(
                f,
                "{} predictions have no gold record (ignored): {}",
                self.unmatched.len(),
                abbreviate(&self.unmatched)
            )?;
        }
        Ok(())
    }
}

fn abbreviate(ids: &[String]) -> String {
    const SHOWN: usize = 10;
    let mut text = ids
        .iter()
        .take(SHOWN)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if ids.len() > SHOWN {
        text.push_str(&format!(", ... ({} more)", ids.len() - SHOWN));
    }
    text
}

/// The comparison key of an agent label: suffix stripped, lowercased.
fn agent_key(label: &str) -> String {
    strip_suffix(label).to_lowercase()
}

/// Scores `predictions` against `gold` (pure; see the module docs for the rules).
/// When `predictions` repeats an id, the last record wins.
pub fn evaluate_labels(predictions: &[Prediction], gold: &[GoldLabel]) -> EvalReport {
    let by_id: HashMap<&str, &Prediction> =
        predictions.iter().map(|p| (p.id.as_str(), p)).collect();
    let mut report = EvalReport::default();
    for label in gold {
        let prediction = by_id.get(label.id.as_str()).copied();
        let agent_ok = prediction
            .and_then(|p| p.agent.as_deref())
            .is_some_and(|a| agent_key(a) == agent_key(&label.agent));
        let step_ok = prediction.and_then(|p| p.step) == Some(label.step);
        let missing = prediction.is_none();
        let no_prediction = prediction.is_some_and(|p| p.agent.is_none() && p.step.is_none());
        if missing {
            report.missing.push(label.id.clone());
        }
        report
            .overall
            .add(agent_ok, step_ok, missing, no_prediction);
        if let Some(subset) = &label.subset {
            report.subsets.entry(subset.clone()).or_default().add(
                agent_ok,
                step_ok,
                missing,
                no_prediction,
            );
        }
    }
    let gold_ids: std::collections::HashSet<&str> = gold.iter().map(|g| g.id.as_str()).collect();
    report.unmatched = predictions
        .iter()
        .filter(|p| !gold_ids.contains(p.id.as_str()))
        .map(|p| p.id.clone())
        .collect();
    report
}

/// Reads predictions from `pred` and gold labels from `gold` and scores them.
pub fn evaluate(pred: &Path, gold: &Path) -> Result<EvalReport, EvalError> {
    let gold = read_gold(gold)?;
    let predictions = read_predictions(pred)?;
    Ok(evaluate_labels(&predictions, &gold))
}

fn wrong(at: &Location, field: &str, expected: &'static str, found: &Value) -> EvalError {
    EvalError::Gold(creditflow::io::chat::gold::wrong(
        at, field, expected, found,
    ))
}

/// Reads prediction records (JSON Lines, through the one line reader; see the module
/// docs). A record of score's output (one with `branch`, `shapley` or `error`) is read
/// by the typed reader of that output: a record with `first_error: null`, or a scorer
/// error record, predicts nothing. Other records give `first_error: {index, agent}` or
/// `mistake_agent` / `mistake_step`. Errors name the file, line and field.
pub fn read_predictions(path: &Path) -> Result<Vec<Prediction>, EvalError> {
    let file = std::fs::File::open(path).map_err(|source| {
        EvalError::Gold(GoldError::Import(creditflow::io::ImportError::Io {
            path: path.to_path_buf(),
            source,
        }))
    })?;
    let mut lines = LineReader::new(std::io::BufReader::new(file));
    let mut out = Vec::new();
    let mut seen = Seen::default();
    let io_error = |source| {
        EvalError::Gold(GoldError::Import(creditflow::io::ImportError::Io {
            path: path.to_path_buf(),
            source,
        }))
    };
    while let Some(line) = lines.next_record().map_err(io_error)? {
        let at = Location::line(path, line.number as usize);
        let bad = |field: String, message: String| {
            EvalError::Scored(ScoredError::Bad {
                path: path.to_path_buf(),
                line: line.number,
                field,
                message,
            })
        };
        let text = line.text.map_err(|p| bad("(line)".into(), p.to_string()))?;
        let record: Value = serde_json::from_str(text.trim()).map_err(|e| {
            EvalError::Gold(GoldError::Import(creditflow::io::ImportError::Json {
                at: at.clone(),
                source: e,
            }))
        })?;
        if !record.is_object() {
            return Err(wrong(&at, "(record)", "an object", &record));
        }
        let from_score = ["branch", "shapley", "error"]
            .iter()
            .any(|k| record.get(k).is_some());
        if from_score {
            match scored::parse_value(record).map_err(|(f, m)| bad(f, m))? {
                // A scorer error record predicts nothing. Its id may be null
                // (unreadable) or repeat another record's (it was the duplicate): then
                // it is left out, and never an error.
                Scored::Error(f) => {
                    if let Some(id) = f.id.map(|i| i.0)
                        && !seen.0.contains_key(&id)
                    {
                        seen.0.insert(id.clone(), at.clone());
                        out.push(Prediction {
                            id,
                            agent: None,
                            step: None,
                        });
                    }
                }
                Scored::Game(g) => {
                    return Err(bad(
                        "shapley".into(),
                        format!("record {:?} is a game, not an episode", g.id.0),
                    ));
                }
                Scored::Episode(e) => {
                    seen.check(&e.id.0, &at)?;
                    out.push(Prediction {
                        id: e.id.0,
                        agent: e.first_error.as_ref().map(|f| f.agent.clone()),
                        step: e.first_error.as_ref().map(|f| u64::from(f.index)),
                    });
                }
            }
            continue;
        }
        let id = record_id(&record, &at)?;
        seen.check(&id, &at)?;
        let optional_agent = |value: Option<&Value>, field: &str| match value {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(wrong(&at, field, "a string or null", other)),
        };
        let optional_step = |value: Option<&Value>, field: &str| match value {
            None | Some(Value::Null) => Ok(None),
            Some(v) => step_value(v)
                .map(Some)
                .ok_or_else(|| wrong(&at, field, "a non-negative integer or null", v)),
        };
        let (agent, step) = if let Some(first_error) = record.get("first_error") {
            match first_error {
                Value::Null => (None, None),
                Value::Object(fe) => (
                    optional_agent(fe.get("agent"), "first_error.agent")?,
                    optional_step(fe.get("index"), "first_error.index")?,
                ),
                other => {
                    return Err(wrong(&at, "first_error", "an object or null", other));
                }
            }
        } else if record.get("mistake_agent").is_some() || record.get("mistake_step").is_some() {
            (
                optional_agent(record.get("mistake_agent"), "mistake_agent")?,
                optional_step(record.get("mistake_step"), "mistake_step")?,
            )
        } else {
            return Err(EvalError::NoPredictionField { at, id });
        };
        out.push(Prediction { id, agent, step });
    }
    Ok(out)
}
