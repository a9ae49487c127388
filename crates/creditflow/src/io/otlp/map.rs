//! The spans and evaluations of one trace → one episode (DESIGN §2.5). The rules are
//! the table in the [module docs](super); each step below names the row it implements.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Value, json};

use super::wire::{Eval, Span};
use super::{Outcome, TraceOptions};
use crate::options::Provenance;
use crate::schema::{Id, InputMessage, InputOutcome, InputRecord};

/// Model-call operations of the GenAI conventions (`gen_ai.operation.name`).
pub const MODEL_OPERATIONS: &[&str] = &[
    "chat",
    "generate_content",
    "text_completion",
    "completion",
    "responses",
];

/// What a span is, for the mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// An agent invocation (`invoke_agent`, OpenInference `AGENT`, a graph node).
    Agent,
    /// A model call (innermost ones become messages).
    Model,
    /// A tool execution, handoff or transfer: an environment message.
    Tool,
    /// Anything else (workflows, chains, retrievers): structure only.
    Other,
}

pub(crate) fn role(s: &Span) -> Role {
    let op = s.op.as_deref().unwrap_or("");
    let kind = s.oi_kind.as_deref().unwrap_or("");
    let name = s.name.as_str();
    if op == "execute_tool"
        || kind == "TOOL"
        || op == "handoff"
        || name.starts_with("handoff")
        || name.starts_with("transfer_to")
    {
        Role::Tool
    } else if op == "invoke_agent" || kind == "AGENT" {
        Role::Agent
    } else if MODEL_OPERATIONS.contains(&op)
        || kind == "LLM"
        || (op.is_empty() && kind.is_empty() && s.model.is_some())
    {
        Role::Model
    } else if s.node.is_some() && op.is_empty() && kind != "LLM" {
        Role::Agent
    } else {
        Role::Other
    }
}

/// The agent an agent span invokes: `gen_ai.agent.name` / `agent.name`, else the
/// name after `invoke_agent `, else the graph node id.
pub(crate) fn invoked_agent(s: &Span) -> Option<String> {
    s.agent
        .clone()
        .or_else(|| {
            s.name
                .strip_prefix("invoke_agent ")
                .map(|n| n.trim().to_string())
                .filter(|n| !n.is_empty())
        })
        .or_else(|| s.node.clone())
}

/// One trace's episode, or why it has none (`field`, `span`, message).
#[derive(Debug)]
pub struct MapError {
    /// The span at fault, if one is.
    pub span: Option<String>,
    /// The field.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

fn err(span: Option<&str>, field: &str, message: String) -> MapError {
    MapError {
        span: span.map(str::to_string),
        field: field.to_string(),
        message,
    }
}

/// A message of the episode being built.
#[derive(Debug)]
struct Msg {
    span: usize,
    agent: Option<String>,
    /// The agent invocation it belongs to (span index), if any.
    invocation: Option<usize>,
    tool: bool,
}

/// Builds the episode of trace `trace` from its spans and evaluations.
pub fn map_trace(
    trace: &str,
    mut spans: Vec<Span>,
    evals: Vec<Eval>,
    opts: &TraceOptions,
    outcome: Option<&Outcome>,
) -> Result<InputRecord, MapError> {
    // Duplicate deliveries of one span are dropped; conflicting ones are an error.
    spans.sort_by_key(|s| s.seq);
    let mut index: HashMap<String, usize> = HashMap::with_capacity(spans.len());
    let mut kept: Vec<Span> = Vec::with_capacity(spans.len());
    for s in spans {
        match index.get(&s.span) {
            Some(&i) => {
                let k = &kept[i];
                if (k.start, k.end, &k.name, &k.parent) != (s.start, s.end, &s.name, &s.parent) {
                    return Err(err(
                        Some(&s.span),
                        "spanId",
                        "appears twice with different contents".into(),
                    ));
                }
            }
            None => {
                index.insert(s.span.clone(), kept.len());
                kept.push(s);
            }
        }
    }
    let spans = kept;
    let n = spans.len();
    if n == 0 {
        return Err(err(
            None,
            "resourceSpans",
            "no spans: only evaluation results name this trace".into(),
        ));
    }
    // Span tree: a parent outside the trace (remote or not exported) makes a root.
    let parent: Vec<Option<usize>> = spans
        .iter()
        .map(|s| s.parent.as_ref().and_then(|p| index.get(p).copied()))
        .collect();
    // Cycles: walk up from every span at most n steps.
    let mut depth = vec![usize::MAX; n];
    for start in 0..n {
        let mut chain = Vec::new();
        let mut at = Some(start);
        while let Some(i) = at {
            if depth[i] != usize::MAX {
                break;
            }
            if chain.len() > n || chain.contains(&i) {
                return Err(err(
                    Some(&spans[i].span),
                    "parentSpanId",
                    "the span tree has a cycle through this span".into(),
                ));
            }
            chain.push(i);
            at = parent[i];
        }
        let base = at.map_or(0, |i| depth[i] + 1);
        for (d, &i) in (base..).zip(chain.iter().rev()) {
            depth[i] = d;
        }
    }
    let roles: Vec<Role> = spans.iter().map(role).collect();
    // A model span with a model span below it is a wrapper (ADK's call_llm around
    // generate_content): only the innermost one is the call.
    let mut has_model_below = vec![false; n];
    let mut by_depth: Vec<usize> = (0..n).collect();
    by_depth.sort_by_key(|&i| std::cmp::Reverse(depth[i]));
    for &i in &by_depth {
        if let Some(p) = parent[i]
            && (roles[i] == Role::Model || has_model_below[i])
        {
            has_model_below[p] = true;
        }
    }
    let ancestors = |i: usize| std::iter::successors(parent[i], |&p| parent[p]);
    let invocation_of = |i: usize| ancestors(i).find(|&a| roles[a] == Role::Agent);
    let fallback_agent = spans
        .iter()
        .find_map(|s| s.service.clone())
        .unwrap_or_else(|| "assistant".to_string());
    let mut order: Vec<usize> = (0..n)
        .filter(|&i| roles[i] == Role::Tool || (roles[i] == Role::Model && !has_model_below[i]))
        .collect();
    order.sort_by_key(|&i| (spans[i].start, spans[i].end, spans[i].seq));
    let msgs: Vec<Msg> = order
        .iter()
        .map(|&i| {
            let invocation = invocation_of(i);
            let tool = roles[i] == Role::Tool;
            let agent = if tool {
                None
            } else {
                spans[i]
                    .agent
                    .clone()
                    .or_else(|| invocation.and_then(|a| invoked_agent(&spans[a])))
                    .or_else(|| Some(fallback_agent.clone()))
            };
            Msg {
                span: i,
                agent,
                invocation,
                tool,
            }
        })
        .collect();
    if msgs.is_empty() {
        return Err(err(
            None,
            "spans",
            format!(
                "none of the trace's {n} spans is a model call or a tool execution \
                 (gen_ai.operation.name chat/generate_content/text_completion/execute_tool, \
                 or openinference.span.kind LLM/TOOL)"
            ),
        ));
    }
    let msg_of_span: HashMap<usize, usize> =
        msgs.iter().enumerate().map(|(k, m)| (m.span, k)).collect();
    // Messages below each span (for "the last message of a subtree").
    let below = |k: usize, root: usize| ancestors(msgs[k].span).any(|a| a == root);
    let last_in_subtree = |root: usize| -> Option<usize> {
        (0..msgs.len())
            .filter(|&k| msgs[k].span != root && below(k, root))
            .max_by_key(|&k| (spans[msgs[k].span].end, k))
    };
    let start = |k: usize| spans[msgs[k].span].start;
    let end = |k: usize| spans[msgs[k].span].end;
    // The latest-ending earlier message that had ended when message k started.
    let latest_before = |k: usize, skip_inside: Option<usize>| -> Option<usize> {
        (0..k)
            .filter(|&j| end(j) <= start(k))
            .filter(|&j| skip_inside.is_none_or(|inv| msgs[j].invocation != Some(inv)))
            .max_by_key(|&j| (end(j), j))
    };
    // The nearest value of an OpenInference graph attribute on a span or above it.
    let nearest = |i: usize, field: fn(&Span) -> &Option<String>| -> Option<String> {
        std::iter::once(i)
            .chain(ancestors(i))
            .find_map(|a| field(&spans[a]).clone())
    };
    let mut parents: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); msgs.len()];
    for k in 0..msgs.len() {
        let inv = msgs[k].invocation;
        let same_inv = |j: usize| msgs[j].invocation == inv;
        // The last model call of the same invocation that started before this message.
        let prev_call = (0..k)
            .rev()
            .find(|&j| !msgs[j].tool && same_inv(j) && start(j) <= start(k));
        let p = &mut parents[k];
        if msgs[k].tool {
            // Row "tool execution": the call that requested it.
            match prev_call {
                Some(j) => {
                    p.insert(j);
                }
                None => {
                    if let Some(j) = latest_before(k, None) {
                        p.insert(j);
                    }
                }
            }
            continue;
        }
        match prev_call {
            Some(j) => {
                // Row "next model call": the previous call, and every tool result that
                // came back to this invocation since (with the answer of an agent that
                // ran inside the tool).
                p.insert(j);
                for (t, m) in msgs.iter().enumerate().take(k).skip(j + 1) {
                    if m.tool && same_inv(t) && end(t) <= start(k) {
                        p.insert(t);
                        if let Some(inner) = last_in_subtree(msgs[t].span)
                            && inner < k
                        {
                            p.insert(inner);
                        }
                    }
                }
            }
            None => {
                // Row "first call of an invocation": what handed control to it.
                let span = msgs[k].span;
                let enclosing_tool = ancestors(span).find_map(|a| msg_of_span.get(&a).copied());
                let graph_parent = nearest(span, |s| &s.node_parent).and_then(|np| {
                    (0..k)
                        .filter(|&j| end(j) <= start(k))
                        .filter(|&j| {
                            nearest(msgs[j].span, |s| &s.node).as_deref() == Some(np.as_str())
                        })
                        .max_by_key(|&j| (end(j), j))
                });
                if let Some(t) = enclosing_tool.filter(|&t| t < k) {
                    p.insert(t);
                } else if let Some(g) = graph_parent {
                    p.insert(g);
                } else if let Some(j) = latest_before(k, inv) {
                    p.insert(j);
                }
            }
        }
    }
    // Messages the structure leaves without parents (other than the first) follow
    // --provenance.
    let mut records: Vec<InputMessage> = Vec::with_capacity(msgs.len());
    for (k, m) in msgs.iter().enumerate() {
        let s = &spans[m.span];
        let list: Vec<usize> = if parents[k].is_empty() && k > 0 {
            match opts.provenance {
                Provenance::Prefix => (0..k).collect(),
                Provenance::Chain => {
                    let mut v = vec![0];
                    if k > 1 {
                        v.push(k - 1);
                    }
                    v
                }
                Provenance::None => Vec::new(),
            }
        } else {
            parents[k].iter().copied().collect()
        };
        records.push(InputMessage {
            id: Some(Id(s.span.clone())),
            agent: m.agent.clone(),
            parents: Some(
                list.iter()
                    .map(|&j| Id(spans[msgs[j].span].span.clone()))
                    .collect(),
            ),
            text: Some(Value::String(s.text.clone().unwrap_or_default())),
            role: Some(Value::String(
                if m.tool { "tool" } else { "assistant" }.to_string(),
            )),
            name: Some(Value::String(s.name.clone())),
            ..Default::default()
        });
    }
    // Judge scores: the evaluation attached to a span scores that span's message; one
    // attached to a wrapper or container scores the last message below it.
    let target_of =
        |i: usize| -> Option<usize> { msg_of_span.get(&i).copied().or_else(|| last_in_subtree(i)) };
    let mut names: BTreeSet<&str> = BTreeSet::new();
    for e in &evals {
        if Some(e.name.as_deref().unwrap_or("")) != opts.outcome_evaluation.as_deref() {
            names.insert(e.name.as_deref().unwrap_or(""));
        }
    }
    let chosen: Option<String> = match &opts.evaluation {
        Some(name) => Some(name.clone()),
        None if names.len() == 1 => names.iter().next().map(|s| s.to_string()),
        None if names.is_empty() => None,
        None => {
            return Err(err(
                None,
                "gen_ai.evaluation.name",
                format!(
                    "the trace carries evaluations named {}; pick the judge score with --evaluation NAME",
                    names
                        .iter()
                        .map(|s| format!("`{s}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    };
    let mut sums: Vec<(f64, u32)> = vec![(0.0, 0); msgs.len()];
    let mut trace_outcome: Option<f64> = None;
    let roots: Vec<usize> = (0..n).filter(|&i| parent[i].is_none()).collect();
    for e in &evals {
        let name = e.name.as_deref().unwrap_or("");
        let span_index = e.span.as_ref().and_then(|s| index.get(s).copied());
        if opts.outcome_evaluation.as_deref() == Some(name) {
            trace_outcome = Some(eval_score(e, opts, false)?);
            continue;
        }
        if chosen.as_deref() != Some(name) {
            continue;
        }
        let Some(target) = span_index.and_then(target_of) else {
            // Trace-level (no span, unknown span, or a span with no message below).
            continue;
        };
        let x = eval_score(e, opts, true)?;
        sums[target].0 += x;
        sums[target].1 += 1;
    }
    for (k, (sum, count)) in sums.iter().enumerate() {
        if *count > 0 {
            records[k].score = Some(sum / f64::from(*count));
        }
    }
    // Outcome: named evaluation, side file, --reward, else the status of the top spans.
    let failed = roots.iter().any(|&r| spans[r].error);
    let out = match (trace_outcome, outcome, opts.reward) {
        (Some(r), _, _) => InputOutcome {
            reward: Some(r),
            ..Default::default()
        },
        (None, Some(o), _) => InputOutcome {
            reward: Some(o.reward),
            baseline: o.baseline,
            success: o.success,
        },
        (None, None, Some(r)) => InputOutcome {
            reward: Some(r),
            ..Default::default()
        },
        (None, None, None) => InputOutcome {
            reward: Some(if failed { 0.0 } else { 1.0 }),
            baseline: None,
            success: Some(!failed),
        },
    };
    let mut agents: Vec<String> = Vec::new();
    for m in &msgs {
        if let Some(a) = &m.agent
            && !agents.contains(a)
        {
            agents.push(a.clone());
        }
    }
    let first = &spans[roots.first().copied().unwrap_or(0)];
    let (tokens_in, tokens_out) = msgs.iter().fold((0u64, 0u64), |(a, b), m| {
        (
            a + spans[m.span].input_tokens,
            b + spans[m.span].output_tokens,
        )
    });
    Ok(InputRecord {
        id: Some(Id(trace.to_string())),
        agents: Some(agents),
        messages: Some(records),
        outcome: Some(out),
        meta: Some(json!({
            "source": "otlp",
            "root": first.name,
            "service": first.service,
            "conversation": spans.iter().find_map(|s| s.conversation.clone()),
            "spans": n,
            "status": if failed { "error" } else { "ok" },
            "tokens": {"input": tokens_in, "output": tokens_out},
        })),
        ..Default::default()
    })
}

/// An evaluation as a number: `score.value` (rescaled by `--score-range` when it is a
/// message score), else its label through `--label-score`.
fn eval_score(e: &Eval, opts: &TraceOptions, message: bool) -> Result<f64, MapError> {
    let name = e.name.as_deref().unwrap_or("");
    let x = match (e.value, &e.label) {
        (Some(v), _) => v,
        (None, Some(label)) => match opts.label_scores.iter().find(|(l, _)| l == label) {
            Some((_, x)) => *x,
            None => {
                return Err(err(
                    e.span.as_deref(),
                    "gen_ai.evaluation.score.label",
                    format!(
                        "evaluation `{name}` ({}) has label `{label}` and no score.value; \
                         map labels to scores with --label-score {label}=X",
                        e.at
                    ),
                ));
            }
        },
        (None, None) => {
            return Err(err(
                e.span.as_deref(),
                "gen_ai.evaluation.score.value",
                format!(
                    "evaluation `{name}` ({}) has neither score.value nor score.label",
                    e.at
                ),
            ));
        }
    };
    if !message {
        return Ok(x);
    }
    let x = match opts.score_range {
        Some((lo, hi)) => -1.0 + 2.0 * (x - lo) / (hi - lo),
        None => x,
    };
    if !(-1.0..=1.0).contains(&x) {
        return Err(err(
            e.span.as_deref(),
            "gen_ai.evaluation.score.value",
            format!(
                "evaluation `{name}` ({}) scores {x}, outside [-1, 1]; rescale with \
                 --score-range LO:HI",
                e.at
            ),
        ));
    }
    Ok(x)
}
