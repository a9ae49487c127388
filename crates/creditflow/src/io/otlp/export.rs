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
//! Only traces named by the scored file are indexed (span id and end time per span).

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::map::{Role, invoked_agent, role};
use super::wire;
use crate::io::ImportError;
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
}

/// The trace id of a scored episode's id, when it is one: its normalised hex and the
/// integer the index keys it by.
fn trace_of(id: &str) -> Option<(String, u128)> {
    let hex = wire::normalize_id(id, 16).ok().flatten()?;
    let key = u128::from_str_radix(&hex, 16).ok()?;
    Some((hex, key))
}

/// Writes the OTLP/JSON log records for every scored episode of the file `scored_path`
/// (what `score` wrote: JSON Lines, or the Parquet tables) whose trace is in `traces`,
/// one document per line, to `out`. The scored file is read twice, one record at a time
/// (first for the trace ids to index, then to write), so memory holds only the index of
/// the wanted traces' spans, whatever the number of episodes. A scored record that
/// cannot be read or exported is an error of the result, naming file, line and field.
pub fn export_otel(
    scored_path: &Path,
    traces: &[PathBuf],
    out: &mut dyn Write,
) -> Result<Exported, ImportError> {
    let mut result = Exported::default();
    let mut wanted: HashSet<u128> = HashSet::new();
    for record in scored::open(scored_path)? {
        if let Ok(Scored::Episode(e)) = record
            && let Some((_, trace)) = trace_of(&e.id.0)
        {
            wanted.insert(trace);
        }
    }
    let mut index: HashMap<u128, TraceIndex> = HashMap::new();
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
                    if !wanted.contains(&trace) {
                        continue;
                    }
                    let t = index.entry(trace).or_default();
                    if role(&s) == Role::Agent
                        && let Some(name) = invoked_agent(&s)
                    {
                        let e = t.agents.entry(name).or_insert((s.start, span));
                        if s.start < e.0 {
                            *e = (s.start, span);
                        }
                    }
                    let parent = s.parent.as_deref().and_then(span_key).unwrap_or(0);
                    t.spans.push((span, parent, s.start));
                    t.ends.insert(span, s.end);
                }
                Ok(())
            },
        )?;
    }
    drop(wanted);
    for t in index.values_mut() {
        let mut root: Option<(u64, u64)> = None;
        for &(span, parent, start) in &t.spans {
            let top = parent == 0 || !t.ends.contains_key(&parent);
            if top && root.is_none_or(|r| (start, span) < r) {
                root = Some((start, span));
            }
        }
        t.root = root;
        t.spans = Vec::new();
        t.ends.shrink_to_fit();
    }
    let mut records = scored::open(scored_path)?;
    while let Some(record) = records.next() {
        let at = records.location();
        let skip = |id: Option<&str>, why: String| ImportError::Trace {
            at: at.clone(),
            trace: id.unwrap_or("?").to_string(),
            span: None,
            field: "id".into(),
            message: why,
        };
        let row = match record {
            Err(e) => {
                result.errors.push(ImportError::Scored(e));
                continue;
            }
            Ok(Scored::Error(f)) => {
                result.errors.push(skip(
                    f.id.as_ref().map(|i| i.0.as_str()),
                    "an error record of the scorer: nothing to export".into(),
                ));
                continue;
            }
            Ok(Scored::Game(g)) => {
                result.errors.push(skip(
                    Some(&g.id.0),
                    "a game record, not an episode of a trace".into(),
                ));
                continue;
            }
            Ok(Scored::Episode(e)) => e,
        };
        let Some((trace, key)) = trace_of(&row.id.0) else {
            result.errors.push(skip(
                Some(&row.id.0),
                "the episode id is not a trace id".into(),
            ));
            continue;
        };
        let Some(t) = index.get(&key) else {
            result.errors.push(skip(
                Some(&row.id.0),
                format!("no trace {trace} in the --traces input"),
            ));
            continue;
        };
        match episode_records(&trace, &row, t) {
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
            Err((span, message)) => result.errors.push(ImportError::Trace {
                at: at.clone(),
                trace,
                span,
                field: "messages".into(),
                message,
            }),
        }
    }
    Ok(result)
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
