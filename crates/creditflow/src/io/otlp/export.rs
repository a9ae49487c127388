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
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::map::{Role, invoked_agent, role};
use super::wire;
use crate::io::chat::{ImportError, Location};

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

/// The spans of one trace that records can point at.
#[derive(Debug, Default)]
struct TraceIndex {
    /// Span id → end time.
    ends: HashMap<String, u64>,
    /// Agent name → its first agent span (by start time) and that span's start.
    agents: HashMap<String, (u64, String)>,
    /// The earliest top-level span.
    root: Option<(u64, String)>,
    /// Span id → parent id, to find the top-level spans once all are read.
    parents: HashMap<String, (Option<String>, u64)>,
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

/// Writes the OTLP/JSON log records for every scored episode of `scored` whose trace is
/// in `traces`, one document per line, to `out`.
pub fn export_otel(
    scored: Box<dyn BufRead>,
    scored_path: &Path,
    traces: &[PathBuf],
    out: &mut dyn Write,
) -> Result<Exported, ImportError> {
    let mut result = Exported::default();
    // The scored file, kept as lines of JSON (it is the smaller input).
    let mut rows: Vec<(usize, Value)> = Vec::new();
    for (i, line) in scored.lines().enumerate() {
        let line = line.map_err(|source| ImportError::Io {
            path: scored_path.to_path_buf(),
            source,
        })?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(&line) {
            Ok(v) => rows.push((i + 1, v)),
            Err(source) => result.errors.push(ImportError::Json {
                at: Location::line(scored_path, i + 1),
                source,
            }),
        }
    }
    let wanted: HashSet<String> = rows
        .iter()
        .filter_map(|(_, v)| v.get("id")?.as_str())
        .filter_map(|id| wire::normalize_id(id, 16).ok().flatten())
        .collect();
    let mut index: HashMap<String, TraceIndex> = HashMap::new();
    let mut seq = 0u64;
    for source in super::inputs(traces)? {
        let (path, reader) = source.open()?;
        super::read_source(
            &path,
            reader,
            &mut result.errors,
            &mut |doc, at, _errors| {
                let d = wire::read_document(doc, at, &mut seq);
                for s in d.spans {
                    if !wanted.contains(&s.trace) {
                        continue;
                    }
                    let t = index.entry(s.trace.clone()).or_default();
                    if role(&s) == Role::Agent {
                        if let Some(name) = invoked_agent(&s) {
                            let e = t.agents.entry(name).or_insert((s.start, s.span.clone()));
                            if s.start < e.0 {
                                *e = (s.start, s.span.clone());
                            }
                        }
                    }
                    t.parents
                        .insert(s.span.clone(), (s.parent.clone(), s.start));
                    t.ends.insert(s.span, s.end);
                }
                Ok(())
            },
        )?;
    }
    for t in index.values_mut() {
        let mut root: Option<(u64, String)> = None;
        for (span, (parent, start)) in &t.parents {
            let top = parent.as_ref().is_none_or(|p| !t.parents.contains_key(p));
            if top && root.as_ref().is_none_or(|r| (*start, span) < (r.0, &r.1)) {
                root = Some((*start, span.clone()));
            }
        }
        t.root = root;
        t.parents = HashMap::new();
    }
    for (line, row) in rows {
        let at = Location::line(scored_path, line);
        let skip = |why: String| ImportError::Trace {
            at: at.to_string(),
            trace: row
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_string(),
            span: None,
            field: "id".into(),
            message: why,
        };
        if row.get("error").is_some() {
            result.errors.push(skip(
                "an error record of the scorer: nothing to export".into(),
            ));
            continue;
        }
        if row.get("messages").is_none() {
            result.errors.push(skip(
                "not an episode record (a game or a preference pair)".into(),
            ));
            continue;
        }
        let Some(trace) = row
            .get("id")
            .and_then(Value::as_str)
            .and_then(|id| wire::normalize_id(id, 16).ok().flatten())
        else {
            result
                .errors
                .push(skip("the episode id is not a trace id".into()));
            continue;
        };
        let Some(t) = index.get(&trace) else {
            result
                .errors
                .push(skip(format!("no trace {trace} in the --traces input")));
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
                at: at.to_string(),
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

fn episode_records(trace: &str, row: &Value, t: &TraceIndex) -> RecordsResult {
    let num = |v: &Value, key: &str| v.get(key).and_then(Value::as_f64).filter(|x| x.is_finite());
    let mut out = Vec::new();
    let mut span_of_message: HashMap<String, String> = HashMap::new();
    for m in row
        .get("messages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let id = m.get("id").and_then(Value::as_str).unwrap_or("");
        let span = wire::normalize_id(id, 8)
            .ok()
            .flatten()
            .filter(|s| t.ends.contains_key(s))
            .ok_or_else(|| {
                (
                    Some(id.to_string()),
                    format!("message `{id}` is not a span of trace {trace}"),
                )
            })?;
        let end = t.ends[&span];
        let agent = m.get("agent").and_then(Value::as_str);
        let mut extra = Vec::new();
        if let Some(a) = agent {
            extra.push(attr_str("gen_ai.agent.name", a));
        }
        if let Some(credit) = num(m, "credit") {
            let mut e = extra.clone();
            if let Some(se) = num(m, "se") {
                e.push(attr_f64("creditflow.se", se));
            }
            out.push(record(trace, &span, end, CREDIT, credit, e));
        }
        if let Some(reward) = num(m, "reward") {
            out.push(record(trace, &span, end, REWARD, reward, extra.clone()));
        }
        span_of_message.insert(id.to_string(), span);
    }
    if let Some(fe) = row.get("first_error").filter(|v| !v.is_null()) {
        let id = fe.get("message").and_then(Value::as_str).unwrap_or("");
        if let Some(span) = span_of_message.get(id) {
            let mut extra = vec![attr_str("gen_ai.evaluation.score.label", "first_error")];
            if let Some(a) = fe.get("agent").and_then(Value::as_str) {
                extra.push(attr_str("gen_ai.agent.name", a));
            }
            if let Some(method) = fe.get("method").and_then(Value::as_str) {
                extra.push(attr_str(
                    "gen_ai.evaluation.explanation",
                    &format!("first error located by creditflow ({method})"),
                ));
            }
            out.push(record(trace, span, t.ends[span], FIRST_ERROR, 1.0, extra));
        }
    }
    let root = t.root.as_ref().map(|(_, s)| s.clone());
    for a in row
        .get("agents")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let (Some(name), Some(credit)) = (a.get("agent").and_then(Value::as_str), num(a, "credit"))
        else {
            continue;
        };
        let Some(span) = t
            .agents
            .get(name)
            .map(|(_, s)| s.clone())
            .or_else(|| root.clone())
        else {
            continue;
        };
        let mut extra = vec![attr_str("gen_ai.agent.name", name)];
        if let Some(se) = num(a, "se") {
            extra.push(attr_f64("creditflow.se", se));
        }
        out.push(record(
            trace,
            &span,
            t.ends[&span],
            AGENT_CREDIT,
            credit,
            extra,
        ));
    }
    if let (Some(span), Some(reward)) = (&root, num(row, "reward")) {
        let branch = row.get("branch").and_then(Value::as_str).unwrap_or("");
        out.push(record(
            trace,
            span,
            t.ends[span],
            EPISODE,
            reward,
            vec![attr_str("gen_ai.evaluation.score.label", branch)],
        ));
    }
    Ok(out)
}
