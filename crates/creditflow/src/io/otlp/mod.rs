//! OpenTelemetry traces in, credit back out (DESIGN §2.5).
//!
//! `creditflow import` reads OTLP/JSON trace exports — a document with `resourceSpans`
//! (and `resourceLogs`) per file, or JSON Lines of such documents as the collector's
//! file exporter writes them — with the OpenTelemetry GenAI semantic conventions or
//! OpenInference attributes, and writes one episode per trace. `creditflow export otel`
//! ([`export`]) writes scored results back as `gen_ai.evaluation.result` log records on
//! the original span ids.
//!
//! # Mapping
//!
//! The mapping from spans to messages, agents, parents, scores and outcomes is one table,
//! in `docs/traces.md` (the user's reference); [`map`] implements it row by row.
//!
//! # Grouping and memory
//!
//! The spans of one trace may arrive in any order and spread over any files of a
//! directory, so a trace is complete only when the whole input has been read. Spans are
//! kept in a compact form (ids, times and the dozen attributes above; about 200 bytes
//! plus the recorded text) grouped by trace id in memory; when the held records pass
//! `--memory` MiB, everything is spilled to 64 bucket files by a hash of the trace id
//! in a temporary directory, and each bucket is grouped on its own at the end. Memory is
//! then bounded by the largest bucket (about 1/64 of the input's compact size) plus one
//! document. Episodes come out in order of first appearance when nothing was spilled,
//! and bucket by bucket (first appearance within each) otherwise.

pub mod export;
pub mod map;
pub mod stream;
pub mod wire;

use std::collections::HashMap;
use std::fs::{self, File};
use std::hash::{Hash, Hasher};
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::io::files::{ImportError, Location};
use crate::io::jsonl::LineReader;
use crate::options::Provenance;
use crate::schema::InputRecord;

pub use wire::{Eval, Span};

/// Options of a trace import.
#[derive(Debug, Clone)]
pub struct TraceOptions {
    /// Fills the parents of messages the structure leaves open.
    pub provenance: Provenance,
    /// The evaluation name that becomes message scores.
    pub evaluation: Option<String>,
    /// The evaluation name that becomes the trace's reward.
    pub outcome_evaluation: Option<String>,
    /// Score labels as numbers (`pass=1`).
    pub label_scores: Vec<(String, f64)>,
    /// Maps message score values from [lo, hi] onto [-1, 1].
    pub score_range: Option<(f64, f64)>,
    /// The reward of every trace (instead of the status rule).
    pub reward: Option<f64>,
    /// A JSON Lines side file of outcomes keyed by trace id.
    pub outcomes: Option<PathBuf>,
    /// Held compact records (bytes) before spilling to bucket files.
    pub memory_bytes: usize,
}

impl Default for TraceOptions {
    fn default() -> Self {
        Self {
            provenance: Provenance::Prefix,
            evaluation: None,
            outcome_evaluation: None,
            label_scores: Vec::new(),
            score_range: None,
            reward: None,
            outcomes: None,
            memory_bytes: 512 << 20,
        }
    }
}

/// One trace's outcome from the `--outcomes` side file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Outcome {
    /// R.
    pub reward: f64,
    /// R0.
    #[serde(default)]
    pub baseline: Option<f64>,
    /// Success.
    #[serde(default)]
    pub success: Option<bool>,
}

impl TraceOptions {
    /// The trace options of `s` (the rows of [`crate::options::OPTIONS`] taken by
    /// `import`), every value checked.
    pub fn from_settings(
        s: &crate::options::Settings,
    ) -> Result<Self, crate::options::OptionError> {
        s.build()?;
        Ok(TraceOptions {
            provenance: s.provenance,
            evaluation: s.evaluation.clone(),
            outcome_evaluation: s.outcome_evaluation.clone(),
            label_scores: s.label_score.clone(),
            score_range: s.score_range,
            reward: s.reward,
            outcomes: s.outcomes.clone(),
            memory_bytes: s.memory.saturating_mul(1 << 20),
        })
    }
}

/// How many leading bytes [`sniff`] looks at (of a file, or of standard input).
pub const SNIFF_BYTES: usize = 64 << 10;

/// Whether a file's first bytes look like OTLP/JSON (`resourceSpans` / `resourceLogs`
/// near the start).
pub fn sniff(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(head);
    let first = text.find('{').unwrap_or(usize::MAX);
    ["\"resourceSpans\"", "\"resourceLogs\""]
        .iter()
        .filter_map(|k| text.find(k))
        .any(|at| at > first)
}

/// Whether `path` (a file, or the first importable file of a directory) holds OTLP/JSON.
pub fn sniff_path(path: &Path) -> Result<bool, ImportError> {
    let files = input_files(path)?;
    let Some(first) = files.first() else {
        return Ok(false);
    };
    let mut head = vec![0u8; SNIFF_BYTES];
    let mut f = File::open(first).map_err(|source| ImportError::Io {
        path: first.clone(),
        source,
    })?;
    let k = read_up_to(&mut f, &mut head).map_err(|source| ImportError::Io {
        path: first.clone(),
        source,
    })?;
    Ok(sniff(&head[..k]))
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut k = 0;
    while k < buf.len() {
        match r.read(&mut buf[k..])? {
            0 => break,
            n => k += n,
        }
    }
    Ok(k)
}

/// A `.json`, `.jsonl` or `.ndjson` file, whatever the case of its extension.
fn is_trace_file(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| ["json", "jsonl", "ndjson"].contains(&e.to_ascii_lowercase().as_str()))
}

/// The `.json`, `.jsonl` and `.ndjson` files under `path` (or `path` itself), sorted;
/// the walk is the chat importer's (hidden entries and links to directories skipped).
pub fn input_files(path: &Path) -> Result<Vec<PathBuf>, ImportError> {
    let meta = fs::metadata(path).map_err(|source| ImportError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    crate::io::files::walk(path, Path::new(""), is_trace_file, &mut files)?;
    files.sort();
    Ok(files.into_iter().map(|rel| path.join(rel)).collect())
}

/// What a trace import produced.
#[derive(Debug, Default)]
pub struct TraceImport {
    /// One episode per usable trace.
    pub episodes: Vec<InputRecord>,
    /// Broken documents, spans, events and traces (nothing else is lost).
    pub errors: Vec<ImportError>,
    /// Whether the records were spilled to bucket files.
    pub spilled: bool,
    /// Episodes built (handed to the callback of [`import_each`], or in `episodes`).
    pub count: usize,
    /// What the user should know that is not an error, one line each: traces with
    /// nothing to import, spans that look like model calls and are not, agents with no
    /// path to the episode's last message.
    pub notes: Vec<String>,
}

/// One trace's problem as held while grouping.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Held {
    at: String,
    span: Option<String>,
    field: String,
    message: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct TraceBuf {
    first: u64,
    spans: Vec<Span>,
    evals: Vec<Eval>,
    problems: Vec<Held>,
}

#[derive(Debug, Serialize, Deserialize)]
enum Item {
    S(Box<Span>),
    E(Eval),
    P(String, Held),
}

const BUCKETS: usize = 64;

/// Groups records by trace, in memory or in bucket files.
struct Collector {
    traces: HashMap<String, TraceBuf>,
    bytes: usize,
    limit: usize,
    spill: Option<Spill>,
}

/// The bucket files of a spilling import, in a private directory (owner-only, a random
/// name, in the system's temporary directory; removed with the import, or by the signal
/// handler).
struct Spill {
    dir: crate::io::outfile::PrivateDir,
    files: Vec<BufWriter<File>>,
}

fn bucket_of(trace: &str) -> usize {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    trace.hash(&mut h);
    (h.finish() % BUCKETS as u64) as usize
}

fn item_trace(item: &Item) -> &str {
    match item {
        Item::S(s) => &s.trace,
        Item::E(e) => &e.trace,
        Item::P(t, _) => t,
    }
}

/// Bytes an item takes while held: the struct, its strings' heap blocks, and the
/// grouping's share of a trace entry.
fn item_size(item: &Item) -> usize {
    let heap = |s: &str| s.len().next_multiple_of(16) + 16;
    let opt = |s: &Option<String>| s.as_deref().map_or(0, heap);
    match item {
        Item::S(s) => {
            std::mem::size_of::<Span>()
                + 96
                + [&s.trace, &s.span, &s.name, &s.at]
                    .map(|x| heap(x))
                    .iter()
                    .sum::<usize>()
                + [
                    &s.parent,
                    &s.op,
                    &s.oi_kind,
                    &s.agent,
                    &s.node,
                    &s.node_parent,
                ]
                .map(opt)
                .iter()
                .sum::<usize>()
                + [&s.tool, &s.model, &s.conversation, &s.text, &s.service]
                    .map(opt)
                    .iter()
                    .sum::<usize>()
        }
        Item::E(e) => std::mem::size_of::<Eval>() + 96 + heap(&e.trace) + heap(&e.at),
        Item::P(t, h) => 200 + heap(t) + heap(&h.at) + heap(&h.message),
    }
}

impl Collector {
    fn new(limit: usize) -> Self {
        Self {
            traces: HashMap::new(),
            bytes: 0,
            limit,
            spill: None,
        }
    }

    fn add(&mut self, item: Item, seq: u64) -> std::io::Result<()> {
        if let Some(spill) = &mut self.spill {
            let b = bucket_of(item_trace(&item));
            serde_json::to_writer(&mut spill.files[b], &(seq, &item))?;
            spill.files[b].write_all(b"\n")?;
            return Ok(());
        }
        self.bytes += item_size(&item);
        Self::hold(&mut self.traces, item, seq);
        if self.bytes > self.limit {
            self.start_spill()?;
        }
        Ok(())
    }

    fn hold(traces: &mut HashMap<String, TraceBuf>, item: Item, seq: u64) {
        let buf = traces
            .entry(item_trace(&item).to_string())
            .or_insert_with(|| TraceBuf {
                first: seq,
                ..Default::default()
            });
        match item {
            Item::S(s) => buf.spans.push(*s),
            Item::E(e) => buf.evals.push(e),
            Item::P(_, h) => buf.problems.push(h),
        }
    }

    fn start_spill(&mut self) -> std::io::Result<()> {
        let dir = crate::io::outfile::PrivateDir::new("creditflow-import-")?;
        let mut files = Vec::with_capacity(BUCKETS);
        for b in 0..BUCKETS {
            files.push(BufWriter::new(dir.create(&format!("{b}.jsonl"))?));
        }
        self.spill = Some(Spill { dir, files });
        let held = std::mem::take(&mut self.traces);
        for (trace, buf) in held {
            let first = buf.first;
            for s in buf.spans {
                self.add(Item::S(Box::new(s)), first)?;
            }
            for e in buf.evals {
                self.add(Item::E(e), first)?;
            }
            for p in buf.problems {
                self.add(Item::P(trace.clone(), p), first)?;
            }
        }
        self.bytes = 0;
        Ok(())
    }
}

/// Imports every OTLP/JSON file under `paths` (files or directories): one episode per
/// trace, every broken document, span, event or trace an entry of
/// [`TraceImport::errors`].
pub fn import_traces(paths: &[PathBuf], opts: &TraceOptions) -> Result<TraceImport, ImportError> {
    import_readers(inputs(paths)?, opts)
}

/// Imports OTLP/JSON from readers (files, standard input), each named for errors.
pub fn import_readers(
    sources: Vec<Source>,
    opts: &TraceOptions,
) -> Result<TraceImport, ImportError> {
    let mut episodes = Vec::new();
    let mut out = import_each(sources, opts, &mut |rec| {
        episodes.push(rec);
        Ok(())
    })?;
    out.episodes = episodes;
    Ok(out)
}

/// One input: a file, opened only when it is read (a directory of many files holds one
/// descriptor at a time), or an already open stream such as standard input.
pub enum Source {
    /// A file.
    File(PathBuf),
    /// A stream and the name its errors are reported under.
    Stream(PathBuf, Box<dyn BufRead>),
}

impl Source {
    /// The name and reader of this input, opening a file.
    fn open(self) -> Result<(PathBuf, Box<dyn BufRead>), ImportError> {
        match self {
            Source::Stream(name, reader) => Ok((name, reader)),
            Source::File(path) => {
                let file = File::open(&path).map_err(|source| ImportError::Io {
                    path: path.clone(),
                    source,
                })?;
                Ok((path, Box::new(BufReader::new(file))))
            }
        }
    }
}

/// What [`import_each`] calls per episode, as soon as its trace is complete.
pub type OnEpisode<'a> = dyn FnMut(InputRecord) -> std::io::Result<()> + 'a;

/// The files under `paths` (files and directories), in order, for [`import_each`].
pub fn inputs(paths: &[PathBuf]) -> Result<Vec<Source>, ImportError> {
    let mut sources = Vec::new();
    for p in paths {
        sources.extend(input_files(p)?.into_iter().map(Source::File));
    }
    Ok(sources)
}

/// Imports OTLP/JSON from readers and hands each episode to `on_episode` as it is
/// built, so that the episodes are never all held at once ([`TraceImport::episodes`]
/// stays empty); a failing `on_episode` stops the import with its error.
pub fn import_each(
    sources: Vec<Source>,
    opts: &TraceOptions,
    on_episode: &mut OnEpisode<'_>,
) -> Result<TraceImport, ImportError> {
    let outcomes = match &opts.outcomes {
        Some(p) => read_outcomes(p)?,
        None => HashMap::new(),
    };
    let mut out = TraceImport::default();
    let mut collector = Collector::new(opts.memory_bytes);
    let mut seq = 0u64;
    for source in sources {
        let (path, reader) = source.open()?;
        read_source(
            &path,
            reader,
            &mut seq,
            &mut out.errors,
            &mut |doc, at, seq, errors| take_document(doc, at, *seq, &mut collector, errors),
        )?;
    }
    out.spilled = collector.spill.is_some();
    let mut emit = |trace: String,
                    buf: TraceBuf,
                    out: &mut TraceImport|
     -> Result<(), ImportError> {
        if !buf.problems.is_empty() {
            for h in buf.problems {
                out.errors.push(ImportError::Trace {
                    at: h.at,
                    trace: trace.clone(),
                    span: h.span,
                    field: h.field,
                    message: h.message,
                });
            }
            return Ok(());
        }
        // Where each span was read, for the error of a trace that cannot be mapped.
        let spans_in = buf.spans.len();
        let first_at = buf
            .spans
            .iter()
            .min_by_key(|s| s.seq)
            .map(|s| s.at.clone())
            .unwrap_or_default();
        let ats: HashMap<String, String> = buf
            .spans
            .iter()
            .map(|s| (s.span.clone(), s.at.clone()))
            .collect();
        match map::map_trace(&trace, buf.spans, buf.evals, opts, outcomes.get(&trace)) {
                Ok((rec, notes)) => {
                    out.count += 1;
                    if !notes.dropped.is_empty() {
                        out.notes.push(format!(
                            "trace {trace}: {} spans look like model calls (output messages or token usage, no model call below) but are not messages (a model call needs a request model): {}",
                            notes.dropped.len(),
                            notes.dropped.join(", ")
                        ));
                    }
                    if !notes.unreachable.is_empty() {
                        out.notes.push(format!(
                            "trace {trace}: agents {} have no path through `parents` to the episode's last message (flagged `unreachable_agent`; their credit will be 0)",
                            notes.unreachable.join(", ")
                        ));
                    }
                    on_episode(rec).map_err(|source| ImportError::Io {
                        path: PathBuf::from("output"),
                        source,
                    })?;
                }
                Err(e) if e.empty => out.notes.push(format!(
                    "trace {trace}: nothing to import (none of its {spans_in} spans is a model call or a tool execution)"
                )),
                Err(e) => out.errors.push(ImportError::Trace {
                    at: e
                        .span
                        .as_ref()
                        .and_then(|s| ats.get(s).cloned())
                        .unwrap_or(first_at),
                    trace,
                    span: e.span,
                    field: e.field,
                    message: e.message,
                }),
            }
        Ok(())
    };
    match collector.spill.take() {
        None => {
            let mut traces: Vec<(String, TraceBuf)> = collector.traces.into_iter().collect();
            traces.sort_by_key(|(_, b)| b.first);
            for (t, b) in traces {
                emit(t, b, &mut out)?;
            }
        }
        Some(mut spill) => {
            for f in &mut spill.files {
                f.flush().map_err(|source| ImportError::Io {
                    path: spill.dir.path().to_path_buf(),
                    source,
                })?;
            }
            for b in 0..BUCKETS {
                let path = spill.dir.path().join(format!("{b}.jsonl"));
                let io = |source| ImportError::Io {
                    path: path.clone(),
                    source,
                };
                let reader = BufReader::new(File::open(&path).map_err(io)?);
                let mut traces: HashMap<String, TraceBuf> = HashMap::new();
                for line in reader.lines() {
                    let line = line.map_err(|source| ImportError::Io {
                        path: path.clone(),
                        source,
                    })?;
                    let (first, item): (u64, Item) =
                        serde_json::from_str(&line).map_err(|source| ImportError::Json {
                            at: Location::file(&path),
                            source,
                        })?;
                    Collector::hold(&mut traces, item, first);
                }
                let mut traces: Vec<(String, TraceBuf)> = traces.into_iter().collect();
                traces.sort_by_key(|(_, b)| b.first);
                for (t, b) in traces {
                    emit(t, b, &mut out)?;
                }
            }
        }
    }
    Ok(out)
}

/// What [`read_source`] calls per document: the document (placed: numbered and
/// located), where it is, the arrival counter after it, the error list.
pub(crate) type OnDocument<'a> =
    dyn FnMut(wire::Document, &str, &u64, &mut Vec<ImportError>) -> std::io::Result<()> + 'a;

/// Reads one file or stream: JSON Lines of documents when its first line is a whole
/// JSON object, else one (or several concatenated) pretty-printed documents. Each
/// document is read as it streams ([`stream::Streamed`]): never held as a JSON tree.
pub(crate) fn read_source(
    path: &Path,
    mut reader: Box<dyn BufRead>,
    seq: &mut u64,
    errors: &mut Vec<ImportError>,
    on_doc: &mut OnDocument<'_>,
) -> Result<(), ImportError> {
    let io = |source| ImportError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut first = String::new();
    let mut line_no = 0usize;
    // Skip leading blank lines.
    loop {
        first.clear();
        if reader.read_line(&mut first).map_err(io)? == 0 {
            return Ok(());
        }
        line_no += 1;
        if !first.trim().is_empty() {
            break;
        }
    }
    // JSON Lines when the first line is a whole object (then it is read once, here).
    let first_doc = if first.trim_start().starts_with('{') {
        serde_json::from_str::<stream::Streamed>(first.trim()).ok()
    } else {
        None
    };
    if let Some(doc) = first_doc {
        // JSON Lines of documents: the first line read above, then the one line reader.
        let at = format!("{}, line {line_no}", path.display());
        let d = doc.place(&at, seq);
        on_doc(d, &at, seq, errors).map_err(io)?;
        drop(first);
        let mut lines = LineReader::starting_at(reader, line_no);
        while let Some(l) = lines.next_record().map_err(io)? {
            line_no = l.number as usize;
            let at = format!("{}, line {line_no}", path.display());
            match l
                .text
                .map(|t| serde_json::from_str::<stream::Streamed>(t.trim()))
            {
                Ok(Ok(doc)) => {
                    let d = doc.place(&at, seq);
                    on_doc(d, &at, seq, errors).map_err(io)?
                }
                Ok(Err(source)) => errors.push(ImportError::Json {
                    at: Location::line(path, line_no),
                    source,
                }),
                Err(problem) => errors.push(ImportError::Trace {
                    at,
                    trace: "?".into(),
                    span: None,
                    field: "(line)".into(),
                    message: problem.to_string(),
                }),
            }
        }
        return Ok(());
    }
    let start_line = line_no;
    let chained = std::io::Cursor::new(first.into_bytes()).chain(reader);
    let stream = serde_json::Deserializer::from_reader(chained).into_iter::<stream::Streamed>();
    for (k, doc) in stream.enumerate() {
        match doc {
            Ok(doc) => {
                let at = format!("{}, document {}", path.display(), k + 1);
                let d = doc.place(&at, seq);
                on_doc(d, &at, seq, errors).map_err(io)?;
            }
            Err(source) => {
                let line = start_line + source.line().saturating_sub(1);
                errors.push(ImportError::Json {
                    at: Location::line(path, line),
                    source,
                });
                break;
            }
        }
    }
    Ok(())
}

fn take_document(
    d: wire::Document,
    at: &str,
    seq: u64,
    collector: &mut Collector,
    errors: &mut Vec<ImportError>,
) -> std::io::Result<()> {
    for p in d.problems {
        match p.trace {
            Some(trace) => collector.add(
                Item::P(
                    trace,
                    Held {
                        at: at.to_string(),
                        span: p.span,
                        field: p.field,
                        message: p.message,
                    },
                ),
                seq,
            )?,
            None => errors.push(ImportError::Document {
                at: at.to_string(),
                field: p.field,
                message: p.message,
            }),
        }
    }
    for s in d.spans {
        let k = s.seq;
        collector.add(Item::S(Box::new(s)), k)?;
    }
    for e in d.evals {
        let k = e.seq;
        collector.add(Item::E(e), k)?;
    }
    Ok(())
}

fn read_outcomes(path: &Path) -> Result<HashMap<String, Outcome>, ImportError> {
    #[derive(Deserialize)]
    struct Row {
        trace: String,
        #[serde(flatten)]
        outcome: Outcome,
    }
    let mut out = HashMap::new();
    for (line, value) in crate::io::files::read_jsonl(path)? {
        let at = Location::line(path, line);
        let row: Row = serde_json::from_value(value).map_err(|source| ImportError::Json {
            at: at.clone(),
            source,
        })?;
        let trace = wire::normalize_id(&row.trace, 16)
            .ok()
            .flatten()
            .ok_or_else(|| ImportError::WrongType {
                at: at.clone(),
                field: "trace".into(),
                expected: "a trace id (32 hex digits or base64)",
                found: row.trace.clone(),
            })?;
        if !row.outcome.reward.is_finite() {
            return Err(ImportError::WrongType {
                at,
                field: "reward".into(),
                expected: "a finite number",
                found: row.outcome.reward.to_string(),
            });
        }
        out.insert(trace, row.outcome);
    }
    Ok(out)
}
