//! `creditflow report`: a self-contained HTML page (DESIGN §7) drawn from what `score`
//! wrote — no network, no external file, readable with scripts off.
//!
//! Two passes at most, each streaming, so memory is bounded whatever the batch's size:
//!
//! 1. **Scored records** ([`scored`]: JSON Lines, or the §6 Parquet tables) feed the batch
//!    aggregate ([`aggregate`]: counts and per-agent reservoirs) and a capped sample of
//!    episodes to embed in full: the first [`ReportOptions::sample`] failed episodes in
//!    file order, then, while room is left, the first successful ones (at most
//!    2 × `sample` episodes are held while reading). With `--episode ID` only that
//!    episode is kept and reading stops when it is found.
//! 2. **Input episodes** (`--input`, JSON Lines or Parquet rows, read by the scorer's own
//!    reader and validator) are read once, keeping only the embedded episodes: their
//!    environment messages, parent edges, judge scores and texts join the credits by
//!    episode id and message position.
//!
//! Gold labels (`--gold`, the `eval-failures` formats) are matched by episode id: the
//! batch page shows agent and step accuracy, an episode its gold step.
//!
//! The page ([`html`]) holds the charts as SVG ([`svg`]), the embedded episodes' data
//! once as JSON in `<script type="application/json" id="data">`, and a short script that
//! only fills a details panel on hover or keyboard focus.

pub mod aggregate;
pub mod html;
pub mod svg;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::eval::{EvalError, EvalReport, Prediction, evaluate_labels};
use aggregate::BatchStats;
use creditflow::io::chat::gold::{GoldLabel, read_gold};
use creditflow::io::scored::{
    self as scored, Scored, ScoredAgent, ScoredEpisode, ScoredError, ScoredFirstError,
};
use creditflow::{Episode, Record};

/// Episodes embedded in a batch page by default.
pub const DEFAULT_SAMPLE: usize = 200;

/// Characters of a message's text kept for its hover details.
pub const TEXT_CHARS: usize = 240;

/// Everything that can stop a report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The scored file could not be read.
    #[error(transparent)]
    Scored(#[from] ScoredError),
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
    /// `--episode ID` names no episode of the scored file.
    #[error("episode {id:?} is not among the scored episodes of {path}")]
    NoEpisode {
        /// The id asked for.
        id: String,
        /// The scored file.
        path: PathBuf,
    },
    /// The gold labels could not be read.
    #[error("--gold: {0}")]
    Gold(#[from] EvalError),
    /// The input episodes could not be read.
    #[error("--input {path}: {source}")]
    Input {
        /// The file.
        path: PathBuf,
        /// Why.
        source: creditflow::Error,
    },
}

impl ReportError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        ReportError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// What to draw.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// The input episodes that were scored (for environment messages, edges, judge
    /// scores and texts).
    pub input: Option<PathBuf>,
    /// Draw this episode alone.
    pub episode: Option<String>,
    /// Gold failure labels (the `eval-failures` formats).
    pub gold: Option<PathBuf>,
    /// Episodes embedded in a batch page (failed ones first).
    pub sample: usize,
    /// A link per episode to the user's trace viewer: `{trace_id}` (or `{id}`) is
    /// replaced by the episode's id, e.g. `http://localhost:16686/trace/{trace_id}`.
    pub trace_url: Option<String>,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            input: None,
            episode: None,
            gold: None,
            sample: DEFAULT_SAMPLE,
            trace_url: None,
        }
    }
}

/// A message's parents as the swimlane draws them.
#[derive(Debug, Clone, PartialEq)]
pub enum ParentsView {
    /// Not known (no `--input`).
    Unknown,
    /// Listed parents: message positions, each earlier.
    Listed(Vec<u32>),
    /// Every earlier message (a chat's prefix provenance): drawn as one bracket.
    AllEarlier,
}

/// One message of an embedded episode.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageView {
    /// Message id (empty for an environment message known only by its position).
    pub id: String,
    /// Author; `None` for the environment.
    pub agent: Option<String>,
    /// Message credit (`None` for the environment).
    pub credit: Option<f64>,
    /// Its standard error.
    pub se: f64,
    /// Training reward.
    pub reward: Option<f64>,
    /// Judge score (from `--input`).
    pub score: Option<f64>,
    /// Text, cut to [`TEXT_CHARS`] (from `--input`).
    pub text: Option<String>,
    /// Parents.
    pub parents: ParentsView,
    /// What the message is, in the input's words (its `name`: the span name or tool
    /// name of an imported trace).
    pub label: Option<String>,
}

/// One embedded episode: its scored record joined with its input and gold label.
#[derive(Debug, Clone, PartialEq)]
pub struct EpisodeView {
    /// Record id.
    pub id: String,
    /// What the episode is, in the input's words (`meta.root`: an imported trace's root
    /// operation, e.g. `invoke_workflow coordinator`; or `meta.title`).
    pub title: Option<String>,
    /// `success` or `failure`.
    pub branch: String,
    /// R.
    pub reward: f64,
    /// R0.
    pub baseline: f64,
    /// Estimator.
    pub method: String,
    /// Permutations.
    pub samples: u64,
    /// Flags.
    pub flags: Vec<String>,
    /// Agent credits.
    pub agents: Vec<ScoredAgent>,
    /// Lanes: agent names in the episode's order.
    pub lanes: Vec<String>,
    /// Every message by position (environment messages included).
    pub messages: Vec<MessageView>,
    /// The first error.
    pub first_error: Option<ScoredFirstError>,
    /// The gold label.
    pub gold: Option<GoldLabel>,
    /// True when the input episode was found and matched the scored one.
    pub joined: bool,
}

fn cut(text: &serde_json::Value) -> String {
    let s = match text {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if s.chars().count() <= TEXT_CHARS {
        s
    } else {
        s.chars().take(TEXT_CHARS - 1).chain(['…']).collect()
    }
}

impl EpisodeView {
    /// Joins a scored episode with its input (when given and consistent: every scored
    /// message's position holds a message of that id and author) and its gold label.
    pub fn new(s: &ScoredEpisode, input: Option<&Input>, gold: Option<&GoldLabel>) -> Self {
        let mut lanes: Vec<String> = s.agents.iter().map(|a| a.agent.clone()).collect();
        for m in &s.messages {
            if !lanes.contains(&m.agent) {
                lanes.push(m.agent.clone());
            }
        }
        let consistent = |e: &Episode| {
            s.messages.iter().all(|m| {
                e.messages.get(m.index as usize).is_some_and(|im| {
                    im.id == m.id.0
                        && im.agent.map(|a| e.agents[a as usize].as_str()) == Some(m.agent.as_str())
                })
            })
        };
        let labels = input.map(|i| &i.labels);
        let input = input.map(|i| &i.episode).filter(|e| consistent(e));
        let scored_at: HashMap<usize, usize> = s
            .messages
            .iter()
            .enumerate()
            .map(|(k, m)| (m.index as usize, k))
            .collect();
        let messages: Vec<MessageView> = match input {
            Some(e) => e
                .messages
                .iter()
                .enumerate()
                .map(|(i, im)| {
                    let sm = scored_at.get(&i).map(|&k| &s.messages[k]);
                    MessageView {
                        id: im.id.clone(),
                        agent: im.agent.map(|a| e.agents[a as usize].clone()),
                        credit: sm.map(|m| m.credit),
                        se: sm.map_or(0.0, |m| m.se),
                        reward: sm.map(|m| m.reward),
                        score: im.score,
                        text: im.text.as_ref().map(cut),
                        parents: if im.all_earlier && i > 0 {
                            ParentsView::AllEarlier
                        } else {
                            ParentsView::Listed(im.parents.clone())
                        },
                        label: labels.and_then(|l| l.names.get(i).cloned().flatten()),
                    }
                })
                .collect(),
            None => {
                let n = s
                    .messages
                    .iter()
                    .map(|m| m.index as usize + 1)
                    .chain(s.first_error.as_ref().map(|f| f.index as usize + 1))
                    .max()
                    .unwrap_or(0);
                (0..n)
                    .map(|i| match scored_at.get(&i).map(|&k| &s.messages[k]) {
                        Some(m) => MessageView {
                            id: m.id.0.clone(),
                            agent: Some(m.agent.clone()),
                            credit: Some(m.credit),
                            se: m.se,
                            reward: Some(m.reward),
                            score: None,
                            text: None,
                            parents: ParentsView::Unknown,
                            label: None,
                        },
                        // A position `score` wrote no message for is an environment one.
                        None => MessageView {
                            id: String::new(),
                            agent: None,
                            credit: None,
                            se: 0.0,
                            reward: None,
                            score: None,
                            text: None,
                            parents: ParentsView::Unknown,
                            label: None,
                        },
                    })
                    .collect()
            }
        };
        EpisodeView {
            id: s.id.0.clone(),
            title: labels.and_then(|l| l.title.clone()),
            branch: s.branch.clone(),
            reward: s.reward,
            baseline: s.baseline,
            method: s.method.clone(),
            samples: s.samples,
            flags: s.flags.clone(),
            agents: s.agents.clone(),
            lanes,
            messages,
            first_error: s.first_error.clone(),
            gold: gold.cloned(),
            joined: input.is_some(),
        }
    }

    /// How the page names the episode: its title, else its id.
    pub fn name(&self) -> &str {
        self.title.as_deref().unwrap_or(&self.id)
    }

    /// True on the failure branch.
    pub fn failed(&self) -> bool {
        self.branch == "failure"
    }
}

/// Keeps the episodes to embed: failed ones first, then others, `cap` in all.
struct Sampler {
    cap: usize,
    failed: Vec<ScoredEpisode>,
    others: Vec<ScoredEpisode>,
}

impl Sampler {
    fn push(&mut self, e: &ScoredEpisode) {
        let keep = if e.failed() {
            &mut self.failed
        } else {
            &mut self.others
        };
        if keep.len() < self.cap {
            keep.push(e.clone());
        }
    }

    fn finish(mut self) -> Vec<ScoredEpisode> {
        let room = self.cap - self.failed.len().min(self.cap);
        self.others.truncate(room);
        self.failed.append(&mut self.others);
        self.failed
    }
}

/// The report's contents, ready to render.
#[derive(Debug, Clone)]
pub struct Report {
    /// The scored file's name, as the page titles it.
    pub title: String,
    /// The batch aggregate (`None` on a one-episode page).
    pub batch: Option<BatchStats>,
    /// Gold accuracy (with `--gold`, on the batch page).
    pub gold: Option<EvalReport>,
    /// The embedded episodes, in page order.
    pub episodes: Vec<EpisodeView>,
    /// The sample cap the batch page used.
    pub sample: usize,
    /// Input episodes asked for but not found (or not matching) in `--input`.
    pub unjoined: usize,
    /// True when `--input` was given.
    pub with_input: bool,
    /// `--trace-url`.
    pub trace_url: Option<String>,
}

impl Report {
    /// The trace viewer's URL of an episode, when `--trace-url` was given.
    pub fn trace_link(&self, id: &str) -> Option<String> {
        let t = self.trace_url.as_deref()?;
        Some(t.replace("{trace_id}", id).replace("{id}", id))
    }
}

/// Reads the scored file (and the input and gold files) into a [`Report`].
pub fn build(scored_path: &Path, opts: &ReportOptions) -> Result<Report, ReportError> {
    let gold: HashMap<String, GoldLabel> = match &opts.gold {
        Some(p) => read_gold(p)
            .map_err(EvalError::Gold)?
            .into_iter()
            .map(|g| (g.id.clone(), g))
            .collect(),
        None => HashMap::new(),
    };
    let mut batch = opts.episode.is_none().then(BatchStats::default);
    let mut predictions = Vec::new();
    let mut sampler = Sampler {
        cap: if opts.episode.is_some() {
            1
        } else {
            opts.sample
        },
        failed: Vec::new(),
        others: Vec::new(),
    };
    for record in scored::open(scored_path)? {
        let record = record?;
        if let Some(b) = &mut batch {
            b.push(&record);
        }
        let Scored::Episode(e) = &record else {
            continue;
        };
        if let Some(want) = &opts.episode {
            if &e.id.0 == want {
                sampler.push(e);
                break;
            }
            continue;
        }
        if gold.contains_key(&e.id.0) {
            predictions.push(Prediction {
                id: e.id.0.clone(),
                agent: e.first_error.as_ref().map(|f| f.agent.clone()),
                step: e.first_error.as_ref().map(|f| u64::from(f.index)),
            });
        }
        sampler.push(e);
    }
    let chosen = sampler.finish();
    if let Some(want) = &opts.episode
        && chosen.is_empty()
    {
        return Err(ReportError::NoEpisode {
            id: want.clone(),
            path: scored_path.to_path_buf(),
        });
    }
    let inputs = match &opts.input {
        Some(p) => read_inputs(p, &chosen)?,
        None => HashMap::new(),
    };
    let episodes: Vec<EpisodeView> = chosen
        .iter()
        .map(|s| EpisodeView::new(s, inputs.get(&s.id.0), gold.get(&s.id.0)))
        .collect();
    let unjoined = if opts.input.is_some() {
        episodes.iter().filter(|e| !e.joined).count()
    } else {
        0
    };
    let gold_report = (batch.is_some() && !gold.is_empty()).then(|| {
        let labels: Vec<GoldLabel> = gold.into_values().collect();
        evaluate_labels(&predictions, &labels)
    });
    Ok(Report {
        title: scored_path.file_name().map_or_else(
            || scored_path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        ),
        batch,
        gold: gold_report,
        episodes,
        sample: opts.sample,
        unjoined,
        with_input: opts.input.is_some(),
        trace_url: opts.trace_url.clone(),
    })
}

/// An input episode as the scorer reads it, with the labels it does not keep.
#[derive(Debug)]
pub struct Input {
    /// The validated episode.
    pub episode: Episode,
    /// Its title and message labels (JSON Lines input only; the §2.4 rows carry none).
    pub labels: Labels,
}

/// What an input record calls itself and its messages.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Labels {
    /// `meta.root` (an imported trace's root operation) or `meta.title`.
    pub title: Option<String>,
    /// Each message's `name` (span name or tool name), by position.
    pub names: Vec<Option<String>>,
}

impl Labels {
    fn of(raw: &creditflow::schema::InputRecord) -> Self {
        let text = |v: &serde_json::Value| v.as_str().map(str::to_string);
        Labels {
            title: raw
                .meta
                .as_ref()
                .and_then(|m| m.get("root").or_else(|| m.get("title")))
                .and_then(text),
            names: raw
                .messages
                .iter()
                .flatten()
                .map(|m| m.name.as_ref().and_then(text))
                .collect(),
        }
    }
}

/// Reads the input episodes once, keeping only those of `wanted` (by id): memory is the
/// scorer's reading chunk and the kept episodes. Bad input records are skipped (`score`
/// reported them already); a whole-file failure (unreadable, not Parquet) is an error.
fn read_inputs(
    path: &Path,
    wanted: &[ScoredEpisode],
) -> Result<HashMap<String, Input>, ReportError> {
    let ids: std::collections::HashSet<&str> = wanted.iter().map(|e| e.id.0.as_str()).collect();
    let mut kept: HashMap<String, Input> = HashMap::new();
    let opts = creditflow::options::RunOptions::default();
    if scored::is_parquet(path) {
        #[cfg(feature = "parquet")]
        {
            use creditflow::Source;
            let wrap = |source: creditflow::Error| ReportError::Input {
                path: path.to_path_buf(),
                source,
            };
            let (mut source, _) = creditflow::io::parquet::open(path, false).map_err(wrap)?;
            loop {
                let (chunk, _) = source.next_chunk(&opts).map_err(wrap)?;
                if chunk.is_empty() || kept.len() == ids.len() {
                    break;
                }
                for r in chunk.into_iter().flatten() {
                    if let Record::Episode(e) = r
                        && ids.contains(e.id.as_str())
                    {
                        kept.entry(e.id.clone()).or_insert(Input {
                            episode: e,
                            labels: Labels::default(),
                        });
                    }
                }
            }
        }
        #[cfg(not(feature = "parquet"))]
        return Err(ReportError::NoParquet {
            path: path.to_path_buf(),
        });
    } else {
        // JSON Lines: the ids are scanned first, so only wanted records are parsed.
        use creditflow::io::jsonl::{LineReader, parse_line, scan_id};
        let file = std::fs::File::open(path).map_err(|e| ReportError::io(path, e))?;
        let mut lines = LineReader::new(std::io::BufReader::new(file));
        while kept.len() < ids.len() {
            let Some(line) = lines.next_record().map_err(|e| ReportError::io(path, e))? else {
                break;
            };
            let Ok(text) = line.text else { continue };
            if !scan_id(&text).is_some_and(|id| ids.contains(id.as_str())) {
                continue;
            }
            let Ok(raw) = parse_line(&text, line.number) else {
                continue;
            };
            let labels = Labels::of(&raw);
            if let Ok(Record::Episode(e)) =
                creditflow::validate(raw, line.number, &opts.score.validate)
            {
                kept.entry(e.id.clone())
                    .or_insert(Input { episode: e, labels });
            }
        }
    }
    Ok(kept)
}

/// Builds the report of `scored_path` and renders it as one HTML page.
pub fn render(scored_path: &Path, opts: &ReportOptions) -> Result<String, ReportError> {
    let report = build(scored_path, opts)?;
    Ok(html::page(&report).into_string())
}
