//! OTLP/JSON on the wire → compact span and evaluation records.
//!
//! Reads one `ExportTraceServiceRequest` / `ExportLogsServiceRequest` document (a JSON
//! object with `resourceSpans` and/or `resourceLogs`; the legacy
//! `instrumentationLibrarySpans` / `instrumentationLibraryLogs` keys are read too) and
//! keeps, per span, only what the mapping needs ([`Span`]); evaluation results — span
//! events and log records named `gen_ai.evaluation.result` — become [`Eval`]s. Every
//! encoding seen in the wild is accepted: ids as hex of either case or as base64
//! (the protobuf JSON mapping of `bytes`), timestamps as decimal strings or JSON
//! numbers, attribute values of every OTLP kind (`stringValue`, `intValue` as string
//! or number, `doubleValue`, `boolValue`, `bytesValue`, `arrayValue`, `kvlistValue`).
//! A broken span or event is a [`Problem`] naming its field path; it poisons its trace
//! only.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The OTLP name of an evaluation result event (span event or log record).
pub const EVALUATION_EVENT: &str = "gen_ai.evaluation.result";

/// One span, reduced to what the mapping reads.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Span {
    /// Trace id, lowercase hex (32 digits).
    pub trace: String,
    /// Span id, lowercase hex (16 digits).
    pub span: String,
    /// Parent span id, if any (an empty or all-zero id is none).
    pub parent: Option<String>,
    /// Span name.
    pub name: String,
    /// Start time, Unix nanoseconds.
    pub start: u64,
    /// End time, Unix nanoseconds (the start when absent).
    pub end: u64,
    /// `gen_ai.operation.name`.
    pub op: Option<String>,
    /// `openinference.span.kind`, upper case.
    pub oi_kind: Option<String>,
    /// The span kind of the AgentOps / OpenLLMetry (Traceloop) instrumentations
    /// (`agentops.span.kind`, `traceloop.span.kind`), lower case: `agent`, `llm`, `tool`,
    /// `workflow`, `task`, …
    pub fw_kind: Option<String>,
    /// Claude Code's `span.type` (`interaction`, `llm_request`, `tool`,
    /// `tool.execution`, …).
    pub span_type: Option<String>,
    /// `gen_ai.agent.name` on this span (instrumentations may copy one constant onto
    /// every span: it names an agent only where no invocation does).
    pub agent: Option<String>,
    /// The names an agent invocation span gives itself, in rule order: OpenInference
    /// `agent.name`, AgentOps `agent.role`, OpenLLMetry `traceloop.entity.name`, a legacy
    /// `agent_name`, the OpenAI Agents SDK's `name` (Logfire's `Agent run: …` spans).
    pub own_names: Vec<String>,
    /// A tool that runs an agent: Claude Code's `subagent_type`.
    pub subagent: Option<String>,
    /// An OpenInference LangGraph node step (`metadata` names a `langgraph_node`): a step
    /// of the enclosing agent, not an agent.
    pub graph_step: bool,
    /// A handoff's source and target agents (`from_agent` / `to_agent`,
    /// `gen_ai.handoff.*`).
    pub handoff: (Option<String>, Option<String>),
    /// The span carries input messages (`gen_ai.input.messages`, `gen_ai.prompt…`,
    /// OpenInference `llm.input_messages…`).
    pub has_messages: bool,
    /// Output messages recorded on the span (`gen_ai.output.messages`, `gen_ai.completion…`,
    /// `llm.output_messages…`).
    pub has_output: bool,
    /// The span carries its own token usage (`gen_ai.usage.*`, OpenInference
    /// `llm.token_count.*`, Claude Code `input_tokens`; aggregated usage does not count).
    pub has_usage: bool,
    /// The span-level `service.name` attribute (some exporters set it per span).
    pub span_service: Option<String>,
    /// OpenInference `graph.node.id`.
    pub node: Option<String>,
    /// OpenInference `graph.node.parent_id`.
    pub node_parent: Option<String>,
    /// `gen_ai.tool.name`, else OpenInference `tool.name`.
    pub tool: Option<String>,
    /// `gen_ai.request.model`, else OpenInference `llm.model_name`.
    pub model: Option<String>,
    /// `gen_ai.conversation.id`, else OpenInference `session.id`.
    pub conversation: Option<String>,
    /// What the span produced, when recorded: the text parts of
    /// `gen_ai.output.messages`, a tool's `gen_ai.tool.call.result`, or OpenInference
    /// `output.value`.
    pub text: Option<String>,
    /// `gen_ai.usage.input_tokens` (OpenInference `llm.token_count.prompt`).
    pub input_tokens: u64,
    /// `gen_ai.usage.output_tokens` (OpenInference `llm.token_count.completion`).
    pub output_tokens: u64,
    /// Status code ERROR (2 or `STATUS_CODE_ERROR`).
    pub error: bool,
    /// The resource's `service.name`.
    pub service: Option<String>,
    /// Arrival order over the whole input (ties in start time keep it).
    pub seq: u64,
    /// Where it was read (`file, line` and the span's path), for error messages.
    pub at: String,
}

/// One `gen_ai.evaluation.result`, from a span event or a log record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Eval {
    /// Trace id, lowercase hex.
    pub trace: String,
    /// The evaluated span (for span events: the span carrying the event); none for a
    /// trace-level evaluation.
    pub span: Option<String>,
    /// `gen_ai.evaluation.name`.
    pub name: Option<String>,
    /// `gen_ai.evaluation.score.value`.
    pub value: Option<f64>,
    /// `gen_ai.evaluation.score.label`.
    pub label: Option<String>,
    /// Where it was read, for error messages (`file, line`).
    pub at: String,
    /// Arrival order over the whole input.
    pub seq: u64,
}

/// Something in a document that cannot be used: where, and for which trace and span.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    /// The trace, when its id could be read.
    pub trace: Option<String>,
    /// The span, when its id could be read.
    pub span: Option<String>,
    /// The field, as a path from the document root.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// What one document held.
#[derive(Debug, Default)]
pub struct Document {
    /// Its spans.
    pub spans: Vec<Span>,
    /// Its evaluation results.
    pub evals: Vec<Eval>,
    /// Its broken parts (the rest is still read).
    pub problems: Vec<Problem>,
}

/// Whether a parsed JSON value is an OTLP document (has `resourceSpans` or `resourceLogs`).
pub fn is_document(v: &Value) -> bool {
    v.get("resourceSpans").is_some() || v.get("resourceLogs").is_some()
}

/// One `resourceLogs` entry: its evaluation results.
pub(crate) fn read_resource_logs(
    rl: &Map<String, Value>,
    path: &str,
    at: &str,
    seq: &mut u64,
    out: &mut Document,
) {
    for key in ["scopeLogs", "instrumentationLibraryLogs"] {
        if key == "instrumentationLibraryLogs" && rl.contains_key("scopeLogs") {
            continue;
        }
        for_each(rl, key, path, out, |sl, path, out| {
            for_each(sl, "logRecords", &path, out, |lr, path, out| {
                read_log(lr, &path, at, seq, out);
            });
        });
    }
}

fn problem(trace: Option<&str>, span: Option<&str>, field: &str, message: &str) -> Problem {
    Problem {
        trace: trace.map(str::to_string),
        span: span.map(str::to_string),
        field: field.to_string(),
        message: message.to_string(),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Calls `f` on each object of the array `obj[key]` (absent or null: nothing); a
/// non-array or non-object element is a problem.
fn for_each(
    obj: &Map<String, Value>,
    key: &str,
    path: &str,
    out: &mut Document,
    mut f: impl FnMut(&Map<String, Value>, String, &mut Document),
) {
    let field = join(path, key);
    match obj.get(key) {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let p = format!("{field}[{i}]");
                match item.as_object() {
                    Some(o) => f(o, p, out),
                    None => out
                        .problems
                        .push(problem(None, None, &p, "must be an object")),
                }
            }
        }
        Some(_) => out
            .problems
            .push(problem(None, None, &field, "must be an array")),
    }
}

/// The `service.name` of a `resource` object.
pub(crate) fn resource_service(resource: &Value) -> Option<String> {
    let attrs = resource.get("attributes")?;
    let map = attributes(Some(attrs)).ok()?;
    map.get("service.name")?.as_str().map(str::to_string)
}

/// An OTLP `AnyValue` as plain JSON.
pub fn any_value(v: &Value) -> Result<Value, String> {
    let Some(obj) = v.as_object() else {
        return Err("an attribute value must be an object such as {\"stringValue\": …}".into());
    };
    let Some((kind, inner)) = obj.iter().next() else {
        return Ok(Value::Null);
    };
    Ok(match kind.as_str() {
        "stringValue" | "bytesValue" => match inner {
            Value::String(_) | Value::Null => inner.clone(),
            _ => return Err(format!("`{kind}` must be a string")),
        },
        "boolValue" => match inner {
            Value::Bool(_) => inner.clone(),
            Value::String(s) if s == "true" || s == "false" => Value::Bool(s == "true"),
            _ => return Err("`boolValue` must be a boolean".into()),
        },
        "intValue" => match inner {
            Value::Number(n) if n.is_i64() || n.is_u64() => inner.clone(),
            Value::String(s) => s
                .trim()
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| format!("`intValue` must be an integer, found \"{s}\""))?,
            _ => return Err("`intValue` must be an integer".into()),
        },
        "doubleValue" => match inner {
            Value::Number(_) => inner.clone(),
            Value::String(s) => match s.trim().parse::<f64>() {
                Ok(x) if x.is_finite() => Value::from(x),
                _ => {
                    return Err(format!(
                        "`doubleValue` must be a finite number, found \"{s}\""
                    ));
                }
            },
            _ => return Err("`doubleValue` must be a number".into()),
        },
        "arrayValue" => {
            let values = inner.get("values").and_then(Value::as_array);
            let mut out = Vec::new();
            for item in values.into_iter().flatten() {
                out.push(any_value(item)?);
            }
            Value::Array(out)
        }
        "kvlistValue" => Value::Object(attributes(inner.get("values"))?),
        other => return Err(format!("unknown attribute value kind `{other}`")),
    })
}

/// A list of `{key, value}` attributes as a JSON object.
fn attributes(list: Option<&Value>) -> Result<Map<String, Value>, String> {
    let mut map = Map::new();
    let Some(list) = list else {
        return Ok(map);
    };
    if list.is_null() {
        return Ok(map);
    }
    let Some(items) = list.as_array() else {
        return Err("attributes must be an array of {key, value}".into());
    };
    for (i, kv) in items.iter().enumerate() {
        let Some(key) = kv.get("key").and_then(Value::as_str) else {
            return Err(format!("[{i}]: an attribute needs a string `key`"));
        };
        let value = match kv.get("value") {
            None | Some(Value::Null) => Value::Null,
            Some(v) => any_value(v).map_err(|e| format!("`{key}`: {e}"))?,
        };
        map.insert(key.to_string(), value);
    }
    Ok(map)
}

/// Normalises a trace id (`bytes` = 16) or span id (`bytes` = 8): hex of either case,
/// or base64; an empty or all-zero id is `None`.
pub fn normalize_id(raw: &str, bytes: usize) -> Result<Option<String>, String> {
    let s = raw.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let hex = if s.len() == 2 * bytes && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        s.to_ascii_lowercase()
    } else {
        match base64(s) {
            Some(decoded) if decoded.len() == bytes => {
                decoded.iter().map(|b| format!("{b:02x}")).collect()
            }
            _ => {
                return Err(format!(
                    "`{raw}` is neither {} hex digits nor the base64 of {bytes} bytes",
                    2 * bytes
                ));
            }
        }
    };
    Ok((!hex.bytes().all(|b| b == b'0')).then_some(hex))
}

/// Standard or URL-safe base64, padding optional.
fn base64(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// A Unix-nanosecond timestamp written as a decimal string or a JSON number.
pub fn timestamp(v: &Value) -> Result<Option<u64>, String> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => {
            s.trim().parse::<u64>().map(Some).map_err(|_| {
                format!("must be a non-negative integer of nanoseconds, found \"{s}\"")
            })
        }
        Value::Number(n) => match (n.as_u64(), n.as_f64()) {
            (Some(u), _) => Ok(Some(u)),
            (None, Some(x)) if x.is_finite() && x >= 0.0 => Ok(Some(x.round() as u64)),
            _ => Err(format!(
                "must be a non-negative number of nanoseconds, found {n}"
            )),
        },
        _ => Err("must be a string or a number of nanoseconds".into()),
    }
}

fn str_attr(map: &Map<String, Value>, keys: &[&str]) -> Result<Option<String>, String> {
    for key in keys {
        match map.get(*key) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => return Ok(Some(s.clone())),
            Some(Value::Number(n)) => return Ok(Some(n.to_string())),
            Some(_) => return Err(format!("attributes.{key}: must be a string")),
        }
    }
    Ok(None)
}

/// The names an agent invocation span gives itself (see [`Span::own_names`]).
fn own_names(map: &Map<String, Value>, span_name: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for key in [
        "agent.name",
        "agent.role",
        "traceloop.entity.name",
        "agent_name",
    ] {
        if let Some(v) = str_attr(map, &[key])?.filter(|v| !v.trim().is_empty()) {
            out.push(v);
        }
    }
    // The OpenAI Agents SDK through Logfire: "Agent run: 'name'" with a plain `name`.
    if span_name.starts_with("Agent run")
        && let Some(v) = str_attr(map, &["name"])?.filter(|v| !v.trim().is_empty())
    {
        out.push(v);
    }
    Ok(out)
}

/// A handoff's (source, target) agents: `from_agent` / `to_agent`, or the
/// `gen_ai.handoff.*` attributes (`…source…` / `…from…`, `…target…` / `…to…`).
fn handoff_agents(map: &Map<String, Value>) -> Result<(Option<String>, Option<String>), String> {
    let mut from = str_attr(map, &["from_agent"])?;
    let mut to = str_attr(map, &["to_agent"])?;
    for (k, v) in map {
        let Some(rest) = k.strip_prefix("gen_ai.handoff.") else {
            continue;
        };
        let Some(v) = v.as_str() else { continue };
        if from.is_none() && (rest.contains("source") || rest.contains("from")) {
            from = Some(v.to_string());
        } else if to.is_none() && (rest.contains("target") || rest.contains("to")) {
            to = Some(v.to_string());
        }
    }
    Ok((from, to))
}

fn int_attr(map: &Map<String, Value>, keys: &[&str]) -> Result<u64, String> {
    for key in keys {
        match map.get(*key) {
            None | Some(Value::Null) => {}
            Some(v) => {
                return v
                    .as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                    .ok_or_else(|| format!("attributes.{key}: must be a non-negative integer"));
            }
        }
    }
    Ok(0)
}

/// The text parts of a `gen_ai.output.messages` value (a JSON string or structured).
fn output_text(v: &Value) -> Option<String> {
    let parsed;
    let v = match v {
        Value::String(s) => {
            parsed = serde_json::from_str::<Value>(s).ok()?;
            &parsed
        }
        other => other,
    };
    let mut parts = Vec::new();
    for message in v.as_array()? {
        for part in message
            .get("parts")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if part.get("type").and_then(Value::as_str) == Some("text")
                && let Some(t) = part.get("content").and_then(Value::as_str)
            {
                parts.push(t.to_string());
            }
        }
    }
    (!parts.is_empty()).then(|| parts.join("\n"))
}

fn status_is_error(span: &Map<String, Value>) -> bool {
    match span.get("status").and_then(|s| s.get("code")) {
        Some(Value::Number(n)) => n.as_u64() == Some(2),
        Some(Value::String(s)) => s == "STATUS_CODE_ERROR" || s == "2" || s == "ERROR",
        _ => false,
    }
}

/// The id in `obj[key]` (`bytes` long), normalised; absent or null is `None`.
fn id_field(obj: &Map<String, Value>, key: &str, bytes: usize) -> Result<Option<String>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => normalize_id(s, bytes),
        Some(_) => Err("must be a string".into()),
    }
}

/// The trace id a span or log record must carry; without a readable one it is a problem
/// of the document (`missing` says why it is needed).
fn required_trace(
    obj: &Map<String, Value>,
    path: &str,
    missing: &str,
    out: &mut Document,
) -> Option<String> {
    let field = join(path, "traceId");
    match id_field(obj, "traceId", 16) {
        Ok(Some(t)) => Some(t),
        Ok(None) => {
            out.problems.push(problem(None, None, &field, missing));
            None
        }
        Err(e) => {
            out.problems.push(problem(None, None, &field, &e));
            None
        }
    }
}

/// Whether an event or log record is a `gen_ai.evaluation.result`: by its own name
/// (`name` / `eventName`) or by the `event.name` attribute.
/// An evaluation result, in every form it is recorded: a span event or a log record
/// named `gen_ai.evaluation.result` (its `name` / `eventName`), or a log record whose
/// `event.name` or `otel.event.name` attribute says so.
fn is_evaluation(obj: &Map<String, Value>, name_key: &str, attrs: &Map<String, Value>) -> bool {
    obj.get(name_key).and_then(Value::as_str) == Some(EVALUATION_EVENT)
        || ["event.name", "otel.event.name"]
            .iter()
            .any(|k| attrs.get(*k).and_then(Value::as_str) == Some(EVALUATION_EVENT))
}

/// Records an evaluation result, numbered in arrival order.
fn push_eval(
    out: &mut Document,
    seq: &mut u64,
    trace: String,
    span: Option<String>,
    (name, value, label): Evaluation,
    at: String,
) {
    *seq += 1;
    out.evals.push(Eval {
        trace,
        span,
        name,
        value,
        label,
        at,
        seq: *seq,
    });
}

pub(crate) fn read_span(
    sp: &Map<String, Value>,
    path: &str,
    service: Option<&str>,
    at: &str,
    seq: &mut u64,
    out: &mut Document,
) {
    let id = |key: &str, bytes: usize| id_field(sp, key, bytes);
    let Some(trace) = required_trace(sp, path, "missing: a span must name its trace", out) else {
        return;
    };
    let span = match id("spanId", 8) {
        Ok(Some(s)) => s,
        Ok(None) => {
            out.problems.push(problem(
                Some(&trace),
                None,
                &join(path, "spanId"),
                "missing",
            ));
            return;
        }
        Err(e) => {
            out.problems
                .push(problem(Some(&trace), None, &join(path, "spanId"), &e));
            return;
        }
    };
    let fail = |out: &mut Document, field: &str, message: String| {
        out.problems.push(Problem {
            trace: Some(trace.clone()),
            span: Some(span.clone()),
            field: join(path, field),
            message,
        });
    };
    let parent = match id("parentSpanId", 8) {
        Ok(p) => p,
        Err(e) => return fail(out, "parentSpanId", e),
    };
    let name = match sp.get("name") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return fail(out, "name", "must be a string".into()),
    };
    let start = match timestamp(sp.get("startTimeUnixNano").unwrap_or(&Value::Null)) {
        Ok(t) => t,
        Err(e) => return fail(out, "startTimeUnixNano", e),
    };
    let end = match timestamp(sp.get("endTimeUnixNano").unwrap_or(&Value::Null)) {
        Ok(t) => t,
        Err(e) => return fail(out, "endTimeUnixNano", e),
    };
    let (start, end) = match (start, end) {
        (Some(s), Some(e)) => (s, e.max(s)),
        (Some(s), None) => (s, s),
        (None, _) => {
            return fail(
                out,
                "startTimeUnixNano",
                "missing: spans are ordered by start time".into(),
            );
        }
    };
    let attrs = match attributes(sp.get("attributes")) {
        Ok(m) => m,
        Err(e) => return fail(out, "attributes", e),
    };
    let read = || -> Result<Span, String> {
        let op = str_attr(&attrs, &["gen_ai.operation.name"])?;
        let text = match (
            attrs.get("gen_ai.output.messages"),
            attrs.get("gen_ai.tool.call.result"),
            attrs.get("output.value"),
        ) {
            (Some(v), _, _) if !v.is_null() => output_text(v),
            (_, Some(v), _) if !v.is_null() => Some(match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            }),
            (_, _, Some(Value::String(s))) => Some(s.clone()),
            _ => None,
        };
        Ok(Span {
            trace: trace.clone(),
            span: span.clone(),
            parent: parent.clone(),
            name: name.clone(),
            start,
            end,
            op,
            oi_kind: str_attr(&attrs, &["openinference.span.kind"])?
                .map(|k| k.to_ascii_uppercase()),
            fw_kind: str_attr(&attrs, &["agentops.span.kind", "traceloop.span.kind"])?
                .map(|k| k.to_ascii_lowercase()),
            span_type: str_attr(&attrs, &["span.type"])?,
            agent: str_attr(&attrs, &["gen_ai.agent.name"])?,
            own_names: own_names(&attrs, &name)?,
            subagent: str_attr(&attrs, &["subagent_type"])?,
            graph_step: attrs
                .get("metadata")
                .and_then(Value::as_str)
                .is_some_and(|m| m.contains("\"langgraph_node\"")),
            handoff: handoff_agents(&attrs)?,
            has_messages: attrs.keys().any(|k| {
                k == "gen_ai.input.messages"
                    || k.starts_with("gen_ai.prompt")
                    || k.starts_with("llm.input_messages")
            }),
            has_output: attrs.keys().any(|k| {
                k == "gen_ai.output.messages"
                    || k.starts_with("gen_ai.completion")
                    || k.starts_with("llm.output_messages")
            }),
            has_usage: attrs.keys().any(|k| {
                k.starts_with("gen_ai.usage.")
                    || k.starts_with("llm.token_count.")
                    || k == "input_tokens"
                    || k == "output_tokens"
            }),
            span_service: str_attr(&attrs, &["service.name"])?,
            node: str_attr(&attrs, &["graph.node.id"])?,
            node_parent: str_attr(&attrs, &["graph.node.parent_id"])?,
            tool: match str_attr(&attrs, &["gen_ai.tool.name", "tool.name", "tool_name"])? {
                // The OpenAI Agents SDK's function tools as Logfire names them.
                None if name.starts_with("Function:") => str_attr(&attrs, &["name"])?,
                t => t,
            },
            model: str_attr(&attrs, &["gen_ai.request.model", "llm.model_name", "model"])?,
            conversation: str_attr(&attrs, &["gen_ai.conversation.id", "session.id"])?,
            text,
            input_tokens: int_attr(
                &attrs,
                &[
                    "gen_ai.usage.input_tokens",
                    "gen_ai.usage.prompt_tokens",
                    "llm.token_count.prompt",
                    "input_tokens",
                ],
            )?,
            output_tokens: int_attr(
                &attrs,
                &[
                    "gen_ai.usage.output_tokens",
                    "gen_ai.usage.completion_tokens",
                    "llm.token_count.completion",
                    "output_tokens",
                ],
            )?,
            error: status_is_error(sp),
            service: service.map(str::to_string),
            seq: 0,
            at: format!("{at}, {path}"),
        })
    };
    let mut record = match read() {
        Ok(r) => r,
        Err(e) => {
            let (field, message) = e.split_once(": ").unwrap_or(("attributes", &e));
            return fail(out, field, message.to_string());
        }
    };
    // Evaluation results recorded as span events.
    match sp.get("events") {
        None | Some(Value::Null) => {}
        Some(Value::Array(events)) => {
            for (i, ev) in events.iter().enumerate() {
                let epath = format!("events[{i}]");
                let Some(ev) = ev.as_object() else {
                    return fail(out, &epath, "must be an object".into());
                };
                let ev_attrs = match attributes(ev.get("attributes")) {
                    Ok(m) => m,
                    Err(e) => return fail(out, &format!("{epath}.attributes"), e),
                };
                if !is_evaluation(ev, "name", &ev_attrs) {
                    continue;
                }
                match evaluation(&ev_attrs) {
                    Ok(e) => push_eval(
                        out,
                        seq,
                        trace.clone(),
                        Some(span.clone()),
                        e,
                        format!("{at}, {path}.{epath}"),
                    ),
                    Err(e) => return fail(out, &format!("{epath}.attributes"), e),
                }
            }
        }
        Some(_) => return fail(out, "events", "must be an array".into()),
    }
    *seq += 1;
    record.seq = *seq;
    out.spans.push(record);
}

type Evaluation = (Option<String>, Option<f64>, Option<String>);

fn evaluation(attrs: &Map<String, Value>) -> Result<Evaluation, String> {
    let name = str_attr(attrs, &["gen_ai.evaluation.name"])?;
    let value = match attrs.get("gen_ai.evaluation.score.value") {
        None | Some(Value::Null) => None,
        Some(v) => match v
            .as_f64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        {
            Some(x) if x.is_finite() => Some(x),
            _ => return Err("`gen_ai.evaluation.score.value` must be a finite number".into()),
        },
    };
    let label = str_attr(attrs, &["gen_ai.evaluation.score.label"])?;
    Ok((name, value, label))
}

fn read_log(lr: &Map<String, Value>, path: &str, at: &str, seq: &mut u64, out: &mut Document) {
    let attrs = match attributes(lr.get("attributes")) {
        Ok(m) => m,
        Err(e) => {
            out.problems
                .push(problem(None, None, &join(path, "attributes"), &e));
            return;
        }
    };
    if !is_evaluation(lr, "eventName", &attrs) {
        return;
    }
    let missing = "missing: an evaluation result must name the trace it judges";
    let Some(trace) = required_trace(lr, path, missing, out) else {
        return;
    };
    let span = match id_field(lr, "spanId", 8) {
        Ok(s) => s,
        Err(e) => {
            out.problems
                .push(problem(Some(&trace), None, &join(path, "spanId"), &e));
            return;
        }
    };
    match evaluation(&attrs) {
        Ok(e) => push_eval(out, seq, trace, span, e, format!("{at}, {path}")),
        Err(e) => out.problems.push(Problem {
            trace: Some(trace),
            span,
            field: join(path, "attributes"),
            message: e,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_in_every_encoding_normalise_to_lowercase_hex() {
        let hex = "a431b808b2875b517ac14878e4ed7673";
        assert_eq!(normalize_id(hex, 16).unwrap().as_deref(), Some(hex));
        assert_eq!(
            normalize_id(&hex.to_ascii_uppercase(), 16)
                .unwrap()
                .as_deref(),
            Some(hex)
        );
        // The same 16 bytes in base64, with and without padding.
        let b64 = "pDG4CLKHW1F6wUh45O12cw==";
        assert_eq!(normalize_id(b64, 16).unwrap().as_deref(), Some(hex));
        assert_eq!(
            normalize_id(b64.trim_end_matches('='), 16)
                .unwrap()
                .as_deref(),
            Some(hex)
        );
        assert_eq!(
            normalize_id("0RYhLC5Rvvg=", 8).unwrap().as_deref(),
            Some("d116212c2e51bef8")
        );
        assert_eq!(normalize_id("", 8).unwrap(), None);
        assert_eq!(normalize_id("0000000000000000", 8).unwrap(), None);
        assert!(normalize_id("xyz", 8).is_err());
        assert!(normalize_id("a431b808", 16).is_err());
    }

    #[test]
    fn timestamps_as_strings_or_numbers() {
        assert_eq!(
            timestamp(&json!("1790607510417877530")).unwrap(),
            Some(1790607510417877530)
        );
        assert_eq!(
            timestamp(&json!(1760000000000000000u64)).unwrap(),
            Some(1760000000000000000)
        );
        assert_eq!(timestamp(&json!(1.5e9)).unwrap(), Some(1_500_000_000));
        assert!(timestamp(&json!("soon")).is_err());
        assert!(timestamp(&json!(-1)).is_err());
        assert_eq!(timestamp(&Value::Null).unwrap(), None);
    }

    #[test]
    fn every_attribute_value_kind() {
        let v = |x: Value| any_value(&x).unwrap();
        assert_eq!(v(json!({"stringValue": "a"})), json!("a"));
        assert_eq!(v(json!({"intValue": "25"})), json!(25));
        assert_eq!(v(json!({"intValue": 25})), json!(25));
        assert_eq!(v(json!({"doubleValue": 0.5})), json!(0.5));
        assert_eq!(v(json!({"boolValue": true})), json!(true));
        assert_eq!(v(json!({"bytesValue": "AAE="})), json!("AAE="));
        assert_eq!(
            v(json!({"arrayValue": {"values": [{"stringValue": "stop"}, {"intValue": "1"}]}})),
            json!(["stop", 1])
        );
        assert_eq!(
            v(json!({"kvlistValue": {"values": [{"key": "k", "value": {"boolValue": false}}]}})),
            json!({"k": false})
        );
        assert_eq!(v(json!({})), Value::Null);
        assert!(any_value(&json!({"intValue": "many"})).is_err());
        assert!(any_value(&json!({"fooValue": 1})).is_err());
        assert!(any_value(&json!("bare")).is_err());
    }
}
