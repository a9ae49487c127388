//! `creditflow export otel`: scored episodes → OTLP/JSON log records named
//! `gen_ai.evaluation.result` on the original trace and span ids (DESIGN §2.5), so the
//! credits show up in trace viewers (Phoenix, Langfuse, Jaeger) next to the spans they
//! judge.
//!
//! The evaluations written are listed in `docs/traces.md`.
//!
//! Every record also carries `gen_ai.agent.name` where an agent is meant. One OTLP/JSON
//! document per episode, as JSON Lines (the collector's file-exporter format); record
//! times are the end times of the spans they judge, so the output is deterministic.
//! Only traces named by the scored file are indexed (span id and end time per span);
//! past `--memory` the index is spilled to bucket files by trace id ([`export_otel`]).

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::map::{Role, invoked_agent, role};
use super::wire;
use crate::io::ImportError;
use crate::io::files::Location;
use crate::io::scored::{self, Scored, ScoredEpisode};

/// Evaluation names written by [`export_otel`].
pub const CREDIT: &str = "creditflow.credit";
/// Per-message reward.
pub const REWARD: &str = "creditflow.reward";
/// The first error of a failed episode.
pub const FIRST_ERROR: &str = "creditflow.first_error";
/// An agent's credit.
pub const AGENT_CREDIT: &str = "creditflow.agent_credit";
/// The episode's reward and branch.
pub const EPISODE: &str = "creditflow.episode";

/// The spans of one trace that records can point at. Ids are held as the integers their
/// normalised hex spells (an OTLP span id is 8 bytes, a trace id 16, never all zero), so
/// an indexed span costs a few dozen bytes rather than two heap strings per map.
#[derive(Debug, Default)]
struct TraceIndex {
    /// Span id → end time.
    ends: HashMap<u64, u64>,
    /// Agent name → the start and id of its first agent span (by start time; the first
    /// read on a tie).
    agents: HashMap<String, (u64, u64)>,
    /// The earliest top-level span: (start, id).
    root: Option<(u64, u64)>,
    /// (span, parent or 0, start) of every span, to find the top-level spans once all
    /// are read; emptied then.
    spans: Vec<(u64, u64, u64)>,
}

/// A normalised hex id (what [`wire::normalize_id`] returns) as the integer it spells.
fn span_key(hex: &str) -> Option<u64> {
    u64::from_str_radix(hex, 16).ok()
}

/// A span id as OTLP/JSON writes it: 16 lowercase hex digits.
fn span_hex(id: u64) -> String {
    format!("{id:016x}")
}

/// What an export wrote.
#[derive(Debug, Default)]
pub struct Exported {
    /// Episodes written.
    pub episodes: usize,
    /// Log records written.
    pub records: usize,
    /// Scored lines that were not exported (error records, games, episodes whose trace
    /// or spans are missing), and why.
    pub errors: Vec<ImportError>,
    /// Whether the span index was spilled to bucket files (the documents then come
    /// bucket by bucket).
    pub spilled: bool,
}

/// The trace id of a scored episode's id, when it is one: its normalised hex and the
/// integer the index keys it by.
fn trace_of(id: &str) -> Option<(String, u128)> {
    let hex = wire::normalize_id(id, 16).ok().flatten()?;
    let key = u128::from_str_radix(&hex, 16).ok()?;
    Some((hex, key))
}

/// Buckets of a spilling export (as many as `import` uses).
const BUCKETS: usize = 64;
/// Bytes an indexed span costs while held: its end-time map entry, its (span, parent,
/// start) row, and the maps' growth slack.
const SPAN_BYTES: usize = 96;
/// Bytes a trace's index costs before its spans (its maps and their smallest tables).
/// With [`SPAN_BYTES`]: 928 bytes for a 7-span trace, measured 910 (peak RSS of 10⁶
/// ADK-shaped traces held).
const TRACE_BYTES: usize = 256;
/// Bytes a wanted trace id costs while held (set entry and slack).
const WANTED_BYTES: usize = 40;

impl TraceIndex {
    fn add_span(&mut self, span: u64, parent: u64, start: u64, end: u64) {
        self.spans.push((span, parent, start));
        self.ends.insert(span, end);
    }

    /// An agent span of `name`: kept when it is the agent's earliest (the first read on
    /// a tie).
    fn add_agent(&mut self, name: &str, start: u64, span: u64) {
        match self.agents.get_mut(name) {
            Some(e) if start < e.0 => *e = (start, span),
            Some(_) => {}
            None => {
                self.agents.insert(name.to_string(), (start, span));
            }
        }
    }

    /// Finds the root once every span is read, and frees the span rows.
    fn finish(&mut self) {
        let mut root: Option<(u64, u64)> = None;
        for &(span, parent, start) in &self.spans {
            let top = parent == 0 || !self.ends.contains_key(&parent);
            if top && root.is_none_or(|r| (start, span) < r) {
                root = Some((start, span));
            }
        }
        self.root = root;
        self.spans = Vec::new();
        self.ends.shrink_to_fit();
    }
}

/// The bucket of a trace id (a fixed mix of its bits: the same on every run).
fn bucket_of(trace: u128) -> usize {
    let folded = (trace as u64) ^ ((trace >> 64) as u64);
    (folded.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58) as usize % BUCKETS
}

/// Builds the span index of the wanted traces in memory, and past `limit` bytes spills
/// it to bucket files by trace id, as compact binary events: `0`, trace, span, parent,
/// start, end (a span), or `1`, trace, start, span, name length, name (an agent span).
struct Indexer {
    /// Trace ids to index; `None`: every trace (the set alone was too large to hold).
    wanted: Option<HashSet<u128>>,
    index: HashMap<u128, TraceIndex>,
    bytes: usize,
    limit: usize,
    spill: Option<Spill>,
}

/// The bucket files of a spilling export, in a private directory (owner-only, a random
/// name; removed with the export, or by the signal handler): `s{b}` span events, `e{b}`
/// the scored episodes of the bucket's traces.
struct Spill {
    dir: crate::io::outfile::PrivateDir,
    spans: Vec<BufWriter<File>>,
}

impl Spill {
    fn io(&self, source: std::io::Error) -> ImportError {
        ImportError::Io {
            path: self.dir.path().to_path_buf(),
            source,
        }
    }
}

fn write_span(w: &mut impl Write, trace: u128, ids: [u64; 4]) -> std::io::Result<()> {
    w.write_all(&[0])?;
    w.write_all(&trace.to_le_bytes())?;
    for x in ids {
        w.write_all(&x.to_le_bytes())?;
    }
    Ok(())
}

fn write_agent(
    w: &mut impl Write,
    trace: u128,
    name: &str,
    start: u64,
    span: u64,
) -> std::io::Result<()> {
    w.write_all(&[1])?;
    w.write_all(&trace.to_le_bytes())?;
    w.write_all(&start.to_le_bytes())?;
    w.write_all(&span.to_le_bytes())?;
    w.write_all(&(name.len() as u64).to_le_bytes())?;
    w.write_all(name.as_bytes())
}

impl Indexer {
    fn wants(&self, trace: u128) -> bool {
        self.wanted.as_ref().is_none_or(|w| w.contains(&trace))
    }

    fn span(
        &mut self,
        trace: u128,
        span: u64,
        parent: u64,
        start: u64,
        end: u64,
    ) -> std::io::Result<()> {
        if let Some(s) = &mut self.spill {
            return write_span(
                &mut s.spans[bucket_of(trace)],
                trace,
                [span, parent, start, end],
            );
        }
        self.entry(trace).add_span(span, parent, start, end);
        self.bytes += SPAN_BYTES;
        self.check()
    }

    fn agent(&mut self, trace: u128, name: &str, start: u64, span: u64) -> std::io::Result<()> {
        if let Some(s) = &mut self.spill {
            return write_agent(&mut s.spans[bucket_of(trace)], trace, name, start, span);
        }
        self.entry(trace).add_agent(name, start, span);
        self.bytes += SPAN_BYTES + name.len();
        self.check()
    }

    /// The index of a trace, counted when new.
    fn entry(&mut self, trace: u128) -> &mut TraceIndex {
        match self.index.entry(trace) {
            std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                self.bytes += TRACE_BYTES;
                v.insert(TraceIndex::default())
            }
        }
    }

    /// Spills everything held once the held bytes pass the limit.
    fn check(&mut self) -> std::io::Result<()> {
        if self.bytes <= self.limit {
            return Ok(());
        }
        let dir = crate::io::outfile::PrivateDir::new("creditflow-export-")?;
        let mut spans = Vec::with_capacity(BUCKETS);
        for b in 0..BUCKETS {
            spans.push(BufWriter::new(dir.create(&format!("s{b}"))?));
        }
        for (trace, t) in std::mem::take(&mut self.index) {
            let w = &mut spans[bucket_of(trace)];
            // Agents first: the held entry is the earliest so far, and a later span of
            // the same start must not displace it.
            for (name, &(start, span)) in &t.agents {
                write_agent(w, trace, name, start, span)?;
            }
            for &(span, parent, start) in &t.spans {
                write_span(w, trace, [span, parent, start, t.ends[&span]])?;
            }
        }
        self.spill = Some(Spill { dir, spans });
        self.bytes = 0;
        Ok(())
    }
}

/// Replays a bucket's span events into an index of the traces in `wanted`.
fn load_bucket(path: &Path, wanted: &HashSet<u128>) -> std::io::Result<HashMap<u128, TraceIndex>> {
    let mut r = BufReader::new(File::open(path)?);
    let mut index: HashMap<u128, TraceIndex> = HashMap::new();
    let mut tag = [0u8; 1];
    let mut b16 = [0u8; 16];
    let mut b8 = [0u8; 8];
    let mut u64_of = |r: &mut BufReader<File>| -> std::io::Result<u64> {
        r.read_exact(&mut b8)?;
        Ok(u64::from_le_bytes(b8))
    };
    loop {
        match r.read_exact(&mut tag) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(e),
        }
        r.read_exact(&mut b16)?;
        let trace = u128::from_le_bytes(b16);
        if tag[0] == 0 {
            let [span, parent, start, end] = [
                u64_of(&mut r)?,
                u64_of(&mut r)?,
                u64_of(&mut r)?,
                u64_of(&mut r)?,
            ];
            if wanted.contains(&trace) {
                index
                    .entry(trace)
                    .or_default()
                    .add_span(span, parent, start, end);
            }
        } else {
            let (start, span, len) = (u64_of(&mut r)?, u64_of(&mut r)?, u64_of(&mut r)?);
            let mut name = vec![0u8; len as usize];
            r.read_exact(&mut name)?;
            if wanted.contains(&trace) {
                let name = String::from_utf8(name).map_err(std::io::Error::other)?;
                index
                    .entry(trace)
                    .or_default()
                    .add_agent(&name, start, span);
            }
        }
    }
    for t in index.values_mut() {
        t.finish();
    }
    Ok(index)
}

/// A scored episode to export: its position in the scored file (from 1), where it is
/// (for errors), its trace id (normalised hex, and the integer the index keys it by),
/// and the record.
struct Found {
    seq: u64,
    at: String,
    trace: String,
    key: u128,
    episode: Box<ScoredEpisode>,
}

impl Found {
    /// One line of a bucket file: the trace id's 32 hex digits, a space, then `[seq, at,
    /// episode]` as JSON, so a bucket's trace ids are read without the records.
    fn write_line(&self, w: &mut impl Write) -> std::io::Result<()> {
        write!(w, "{} ", self.trace)?;
        serde_json::to_writer(&mut *w, &(self.seq, &self.at, &self.episode))?;
        w.write_all(b"\n")
    }
}

/// The lines of a bucket file of episodes ([`Found::write_line`]), in the order written:
/// each line's trace hex, its key, and the rest of the line.
fn bucket_lines(
    path: &Path,
) -> Result<impl Iterator<Item = Result<(String, u128, String), ImportError>>, ImportError> {
    let io = |path: &Path, source| ImportError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(|e| io(path, e))?;
    let path = path.to_path_buf();
    Ok(BufReader::new(file).lines().map(move |line| {
        let mut line = line.map_err(|e| io(&path, e))?;
        let key = line
            .get(..32)
            .filter(|_| line.as_bytes().get(32) == Some(&b' '))
            .and_then(|hex| u128::from_str_radix(hex, 16).ok())
            .ok_or_else(|| {
                io(
                    &path,
                    std::io::Error::other("a bucket line without its trace id"),
                )
            })?;
        let rest = line.split_off(33);
        line.truncate(32);
        Ok((line, key, rest))
    }))
}

/// Every record of the scored file, in order: an exportable episode goes to `f` (with
/// the error list), anything else to `errors`.
fn each_exportable(
    scored_path: &Path,
    errors: &mut Vec<(u64, ImportError)>,
    mut f: impl FnMut(Found, &mut Vec<(u64, ImportError)>) -> Result<(), ImportError>,
) -> Result<(), ImportError> {
    let mut records = scored::open(scored_path)?;
    let mut seq = 0u64;
    while let Some(record) = records.next() {
        seq += 1;
        if let Some(found) = exportable(record, records.location(), seq, errors) {
            f(found, errors)?;
        }
    }
    Ok(())
}

/// Writes the OTLP/JSON log records for every scored episode of the file `scored_path`
/// (what `score` wrote: JSON Lines, or the Parquet tables) whose trace is in `traces`,
/// one document per line, to `out`. The scored file is read one record at a time, so
/// the scored records never sit in memory; what does is the index of the wanted traces'
/// spans. Past `memory` bytes the index is spilled to 64 bucket files by trace id (with
/// the scored episodes of each bucket's traces), and each bucket is exported on its own:
/// memory is then about 1/64 of the index, and the documents come bucket by bucket (in
/// the scored file's order within each). A scored record that cannot be read or
/// exported is an error of the result, naming file, line and field.
pub fn export_otel(
    scored_path: &Path,
    traces: &[PathBuf],
    out: &mut dyn Write,
    memory: usize,
) -> Result<Exported, ImportError> {
    let mut result = Exported::default();
    let mut wanted: Option<HashSet<u128>> = Some(HashSet::new());
    for record in scored::open(scored_path)? {
        if let Ok(Scored::Episode(e)) = record
            && let Some((_, trace)) = trace_of(&e.id.0)
            && let Some(w) = &mut wanted
        {
            w.insert(trace);
            if w.len() * WANTED_BYTES > memory / 2 {
                // Too many traces to list: index every trace, and spill.
                wanted = None;
                break;
            }
        }
    }
    let mut indexer = Indexer {
        bytes: wanted.as_ref().map_or(0, |w| w.len() * WANTED_BYTES),
        wanted,
        index: HashMap::new(),
        limit: memory,
        spill: None,
    };
    let mut seq = 0u64;
    for source in super::inputs(traces)? {
        let (path, reader) = source.open()?;
        super::read_source(
            &path,
            reader,
            &mut seq,
            &mut result.errors,
            &mut |d, _at, _seq, _errors| {
                for s in d.spans {
                    let (Ok(trace), Some(span)) =
                        (u128::from_str_radix(&s.trace, 16), span_key(&s.span))
                    else {
                        continue;
                    };
                    if !indexer.wants(trace) {
                        continue;
                    }
                    if role(&s) == Role::Agent
                        && let Some(name) = invoked_agent(&s)
                    {
                        indexer.agent(trace, &name, s.start, span)?;
                    }
                    let parent = s.parent.as_deref().and_then(span_key).unwrap_or(0);
                    indexer.span(trace, span, parent, s.start, s.end)?;
                }
                Ok(())
            },
        )?;
    }
    let Indexer { index, spill, .. } = indexer;
    let mut errors: Vec<(u64, ImportError)> = Vec::new();
    result.spilled = spill.is_some();
    match spill {
        None => {
            let mut index = index;
            for t in index.values_mut() {
                t.finish();
            }
            each_exportable(scored_path, &mut errors, |found, errors| {
                emit(&found, &index, out, &mut result, errors)
            })?;
        }
        Some(mut spill) => {
            let mut episodes = Vec::with_capacity(BUCKETS);
            for b in 0..BUCKETS {
                let f = spill
                    .dir
                    .create(&format!("e{b}"))
                    .map_err(|e| spill.io(e))?;
                episodes.push(BufWriter::new(f));
            }
            each_exportable(scored_path, &mut errors, |found, _| {
                found
                    .write_line(&mut episodes[bucket_of(found.key)])
                    .map_err(|e| spill.io(e))
            })?;
            for w in spill.spans.iter_mut().chain(&mut episodes) {
                w.flush().map_err(|source| ImportError::Io {
                    path: spill.dir.path().to_path_buf(),
                    source,
                })?;
            }
            drop(episodes);
            for b in 0..BUCKETS {
                let path = spill.dir.path().join(format!("e{b}"));
                let mut keys = HashSet::new();
                for line in bucket_lines(&path)? {
                    keys.insert(line?.1);
                }
                let index = load_bucket(&spill.dir.path().join(format!("s{b}")), &keys)
                    .map_err(|e| spill.io(e))?;
                drop(keys);
                for line in bucket_lines(&path)? {
                    let (trace, key, rest) = line?;
                    let (seq, at, episode) =
                        serde_json::from_str(&rest).map_err(|source| ImportError::Json {
                            at: Location::file(&path),
                            source,
                        })?;
                    let found = Found {
                        seq,
                        at,
                        trace,
                        key,
                        episode,
                    };
                    emit(&found, &index, out, &mut result, &mut errors)?;
                }
            }
        }
    }
    errors.sort_by_key(|(seq, _)| *seq);
    result.errors.extend(errors.into_iter().map(|(_, e)| e));
    Ok(result)
}

/// A scored record (the `seq`-th, at `at`) as an episode to export, or its error.
fn exportable(
    record: Result<Scored, scored::ScoredError>,
    at: String,
    seq: u64,
    errors: &mut Vec<(u64, ImportError)>,
) -> Option<Found> {
    let skip = |id: Option<&str>, why: String| ImportError::Trace {
        at: at.clone(),
        trace: id.unwrap_or("?").to_string(),
        span: None,
        field: "id".into(),
        message: why,
    };
    let row = match record {
        Err(e) => {
            errors.push((seq, ImportError::Scored(e)));
            return None;
        }
        Ok(Scored::Error(f)) => {
            errors.push((
                seq,
                skip(
                    f.id.as_ref().map(|i| i.0.as_str()),
                    "an error record of the scorer: nothing to export".into(),
                ),
            ));
            return None;
        }
        Ok(Scored::Game(g)) => {
            errors.push((
                seq,
                skip(
                    Some(&g.id.0),
                    "a game record, not an episode of a trace".into(),
                ),
            ));
            return None;
        }
        Ok(Scored::Episode(e)) => e,
    };
    let Some((trace, key)) = trace_of(&row.id.0) else {
        errors.push((
            seq,
            skip(Some(&row.id.0), "the episode id is not a trace id".into()),
        ));
        return None;
    };
    Some(Found {
        seq,
        at,
        trace,
        key,
        episode: row,
    })
}

/// Writes one episode's document, or records why it cannot be exported.
fn emit(
    found: &Found,
    index: &HashMap<u128, TraceIndex>,
    out: &mut dyn Write,
    result: &mut Exported,
    errors: &mut Vec<(u64, ImportError)>,
) -> Result<(), ImportError> {
    let Found {
        seq,
        ref at,
        ref trace,
        key,
        episode: ref row,
    } = *found;
    let Some(t) = index.get(&key) else {
        errors.push((
            seq,
            ImportError::Trace {
                at: at.clone(),
                trace: row.id.0.clone(),
                span: None,
                field: "id".into(),
                message: format!("no trace {trace} in the --traces input"),
            },
        ));
        return Ok(());
    };
    match episode_records(trace, row, t) {
        Ok(records) => {
            result.records += records.len();
            result.episodes += 1;
            let doc = json!({"resourceLogs": [{
                "resource": {"attributes": [attr_str("service.name", "creditflow")]},
                "scopeLogs": [{
                    "scope": {"name": "creditflow", "version": env!("CARGO_PKG_VERSION")},
                    "logRecords": records,
                }],
            }]});
            serde_json::to_writer(&mut *out, &doc).map_err(|e| ImportError::Io {
                path: PathBuf::from("output"),
                source: e.into(),
            })?;
            out.write_all(b"\n").map_err(|source| ImportError::Io {
                path: PathBuf::from("output"),
                source,
            })?;
        }
        Err((span, message)) => errors.push((
            seq,
            ImportError::Trace {
                at: at.clone(),
                trace: trace.clone(),
                span,
                field: "messages".into(),
                message,
            },
        )),
    }
    Ok(())
}

fn attr_str(key: &str, v: &str) -> Value {
    json!({"key": key, "value": {"stringValue": v}})
}

fn attr_f64(key: &str, v: f64) -> Value {
    json!({"key": key, "value": {"doubleValue": v}})
}

/// One evaluation result record.
fn record(trace: &str, span: &str, time: u64, name: &str, value: f64, extra: Vec<Value>) -> Value {
    let mut attributes = vec![
        attr_str("event.name", wire::EVALUATION_EVENT),
        attr_str("gen_ai.evaluation.name", name),
        attr_f64("gen_ai.evaluation.score.value", value),
    ];
    attributes.extend(extra);
    json!({
        "timeUnixNano": time.to_string(),
        "observedTimeUnixNano": time.to_string(),
        "severityNumber": 9,
        "severityText": "INFO",
        "eventName": wire::EVALUATION_EVENT,
        "traceId": trace,
        "spanId": span,
        "attributes": attributes,
    })
}

type RecordsResult = Result<Vec<Value>, (Option<String>, String)>;

fn episode_records(trace: &str, row: &ScoredEpisode, t: &TraceIndex) -> RecordsResult {
    let mut out = Vec::new();
    let mut span_of_message: HashMap<&str, u64> = HashMap::new();
    for m in &row.messages {
        let id = m.id.0.as_str();
        let (span, end) = wire::normalize_id(id, 8)
            .ok()
            .flatten()
            .and_then(|s| span_key(&s))
            .and_then(|s| Some((s, *t.ends.get(&s)?)))
            .ok_or_else(|| {
                (
                    Some(id.to_string()),
                    format!("message `{id}` is not a span of trace {trace}"),
                )
            })?;
        let hex = span_hex(span);
        let extra = vec![attr_str("gen_ai.agent.name", &m.agent)];
        let mut e = extra.clone();
        e.push(attr_f64("creditflow.se", m.se));
        out.push(record(trace, &hex, end, CREDIT, m.credit, e));
        out.push(record(trace, &hex, end, REWARD, m.reward, extra));
        span_of_message.insert(id, span);
    }
    if let Some(fe) = &row.first_error
        && let Some(&span) = span_of_message.get(fe.message.0.as_str())
    {
        let extra = vec![
            attr_str("gen_ai.evaluation.score.label", "first_error"),
            attr_str("gen_ai.agent.name", &fe.agent),
            attr_str(
                "gen_ai.evaluation.explanation",
                &format!("first error located by creditflow ({})", fe.method),
            ),
        ];
        out.push(record(
            trace,
            &span_hex(span),
            t.ends[&span],
            FIRST_ERROR,
            1.0,
            extra,
        ));
    }
    let root = t.root.map(|(_, s)| s);
    for a in &row.agents {
        let Some(span) = t.agents.get(&a.agent).map(|&(_, s)| s).or(root) else {
            continue;
        };
        let extra = vec![
            attr_str("gen_ai.agent.name", &a.agent),
            attr_f64("creditflow.se", a.se),
        ];
        out.push(record(
            trace,
            &span_hex(span),
            t.ends[&span],
            AGENT_CREDIT,
            a.credit,
            extra,
        ));
    }
    if let Some(span) = root {
        out.push(record(
            trace,
            &span_hex(span),
            t.ends[&span],
            EPISODE,
            row.reward,
            vec![attr_str("gen_ai.evaluation.score.label", &row.branch)],
        ));
    }
    Ok(out)
}
