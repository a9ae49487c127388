//! The spans and evaluations of one trace → one episode (DESIGN §2.5). The rules are
//! the table of docs/traces.md; each step below names the row it implements. Every step
//! is linear in the spans (or n log n where messages are ordered): a trace of 10^6
//! spans imports in seconds.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{Value, json};

use super::wire::{Eval, Span};
use super::{Outcome, TraceOptions};
use crate::options::Provenance;
use crate::schema::{Id, IdList, InputMessage, InputOutcome, InputRecord};
use crate::validate::MAX_MESSAGES;

/// Model-call operations (`gen_ai.operation.name`): the GenAI conventions' and the ones
/// instrumentations use (`call_llm`: any-agent, ADK wrappers).
pub const MODEL_OPERATIONS: &[&str] = &[
    "chat",
    "generate_content",
    "text_completion",
    "completion",
    "responses",
    "call_llm",
];

/// What a span is, for the mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// An agent invocation: names the model calls below it.
    Agent,
    /// A model call (innermost ones become messages).
    Model,
    /// A tool execution: an environment message.
    Tool,
    /// A handoff or transfer of control: an environment message the next agent's first
    /// call depends on.
    Handoff,
    /// Anything else (workflows, chains, transport, embeddings): structure only.
    Other,
}

/// The role of a span, by the first rule that holds (docs/traces.md, "What a span is").
pub(crate) fn role(s: &Span) -> Role {
    let op = s.op.as_deref().unwrap_or("");
    let kind = s.oi_kind.as_deref().unwrap_or("");
    let fw = s.fw_kind.as_deref().unwrap_or("");
    let ty = s.span_type.as_deref().unwrap_or("");
    let name = s.name.as_str();
    let lower = name.to_ascii_lowercase();
    if op.starts_with("embedding") || kind == "EMBEDDING" || fw == "embedding" {
        Role::Other
    } else if op == "agent_handoff"
        || op == "handoff"
        || lower.starts_with("handoff")
        || lower.starts_with("transfer_to")
        || s.handoff.1.is_some()
    {
        Role::Handoff
    } else if op == "execute_tool"
        || kind == "TOOL"
        || fw == "tool"
        || ty == "tool"
        || name.starts_with("Function:")
    {
        Role::Tool
    } else if op == "invoke_agent"
        || (kind == "AGENT" && !s.graph_step)
        || fw == "agent"
        || name.starts_with("Agent run")
    {
        Role::Agent
    } else if MODEL_OPERATIONS.contains(&op)
        || kind == "LLM"
        || fw == "llm"
        || ty == "llm_request"
        || (s.model.is_some() && (s.has_messages || s.has_output || s.has_usage))
    {
        Role::Model
    } else if s.node.is_some() && op.is_empty() && (kind.is_empty() || kind == "CHAIN") {
        Role::Agent
    } else {
        Role::Other
    }
}

/// The name an agent invocation span gives its agent: the name in its span name
/// (`invoke_agent NAME`, `NAME.agent`), else its own name attributes (OpenInference
/// `agent.name`, AgentOps `agent.role`, …), else `gen_ai.agent.name` on it, else its graph
/// node id, else its span name without a method suffix (an OpenInference `AGENT` span
/// `CodeAgent.run` names `CodeAgent`).
pub(crate) fn invoked_agent(s: &Span) -> Option<String> {
    let in_name = s
        .name
        .strip_prefix("invoke_agent ")
        .map(|n| {
            n.trim()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .trim()
                .to_string()
        })
        .filter(|n| !n.is_empty());
    in_name
        .or_else(|| s.own_names.first().cloned())
        .or_else(|| {
            s.name
                .strip_suffix(".agent")
                .filter(|n| !n.trim().is_empty())
                .map(|n| n.trim().to_string())
        })
        .or_else(|| s.agent.clone())
        .or_else(|| s.node.clone())
        .or_else(|| {
            // `CodeAgent.run` names the agent `CodeAgent`: a method name is not part of it.
            let name = s.name.trim();
            let bare = [".run", ".arun", ".invoke", ".ainvoke", ".__call__"]
                .iter()
                .find_map(|m| name.strip_suffix(m))
                .filter(|n| !n.is_empty())
                .unwrap_or(name);
            (!bare.is_empty()).then(|| bare.to_string())
        })
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
    /// The trace holds nothing to import (no model call or tool execution, and no span
    /// that looks like one): a note, not an error.
    pub empty: bool,
}

fn err(span: Option<&str>, field: &str, message: String) -> MapError {
    MapError {
        span: span.map(str::to_string),
        field: field.to_string(),
        message,
        empty: false,
    }
}

/// What a trace's mapping found besides the episode: notes for the user.
#[derive(Debug, Default)]
pub struct MapNotes {
    /// Spans that look like model calls (a request model and messages or usage) and are
    /// not messages, by span id.
    pub dropped: Vec<String>,
    /// Agents with messages none of which has a path to the episode's last message.
    pub unreachable: Vec<String>,
}

/// A message of the episode being built.
#[derive(Debug)]
struct Msg {
    span: usize,
    agent: Option<String>,
    /// The context it runs in: the nearest agent invocation or tool that runs an agent
    /// (span index), if any.
    context: Option<usize>,
    role: Role,
}

/// "Rightmost index ≤ `hi` whose value is ≥ `x`" over a fixed array, in O(log n): a
/// max segment tree.
struct MaxTree {
    size: usize,
    tree: Vec<u64>,
}

impl MaxTree {
    fn new(values: &[u64]) -> Self {
        let size = values.len().next_power_of_two().max(1);
        let mut tree = vec![0; 2 * size];
        tree[size..size + values.len()].copy_from_slice(values);
        for i in (1..size).rev() {
            tree[i] = tree[2 * i].max(tree[2 * i + 1]);
        }
        MaxTree { size, tree }
    }

    fn rightmost_at_least(&self, hi: usize, x: u64) -> Option<usize> {
        fn go(t: &MaxTree, node: usize, lo: usize, len: usize, hi: usize, x: u64) -> Option<usize> {
            if lo > hi || t.tree[node] < x {
                return None;
            }
            if len == 1 {
                return Some(lo);
            }
            let half = len / 2;
            go(t, 2 * node + 1, lo + half, half, hi, x).or_else(|| go(t, 2 * node, lo, half, hi, x))
        }
        go(self, 1, 0, self.size, hi, x)
    }
}

/// Builds the episode of trace `trace` from its spans and evaluations.
pub fn map_trace(
    trace: &str,
    spans: Vec<Span>,
    evals: Vec<Eval>,
    opts: &TraceOptions,
    outcome: Option<&Outcome>,
) -> Result<(InputRecord, MapNotes), MapError> {
    let spans = dedupe(spans)?;
    let n = spans.len();
    if n == 0 {
        return Err(err(
            None,
            "resourceSpans",
            "no spans: only evaluation results name this trace".into(),
        ));
    }
    let mut index: HashMap<&str, usize> = HashMap::with_capacity(n);
    for (i, s) in spans.iter().enumerate() {
        index.insert(s.span.as_str(), i);
    }
    // Span tree: a parent outside the trace (remote or not exported) makes a root.
    let parent: Vec<Option<usize>> = spans
        .iter()
        .map(|s| s.parent.as_deref().and_then(|p| index.get(p).copied()))
        .collect();
    let order = tree_order(&spans, &parent)?;
    let roles: Vec<Role> = spans.iter().map(role).collect();
    // Bottom-up (children before parents): what lies below each span.
    let mut model_below = vec![false; n];
    let mut tool_below = vec![false; n];
    for &i in order.iter().rev() {
        if let Some(p) = parent[i] {
            if roles[i] == Role::Model || model_below[i] {
                model_below[p] = true;
            }
            if roles[i] == Role::Tool || tool_below[i] {
                tool_below[p] = true;
            }
        }
    }
    // A tool with model calls below it runs an agent (an agent called as a tool); a tool
    // with tools below it is a container (ADK's "execute_tool (merged)"), not a call.
    let runs_agent = |i: usize| roles[i] == Role::Tool && model_below[i];
    let is_message = |i: usize| match roles[i] {
        Role::Model => !model_below[i],
        Role::Tool => !tool_below[i] || model_below[i],
        Role::Handoff => true,
        Role::Agent | Role::Other => false,
    };
    // Top-down (parents before children): each span's context (nearest enclosing agent
    // invocation, or tool that runs an agent), its nearest enclosing invocation, and its
    // nearest graph node.
    let mut context: Vec<Option<usize>> = vec![None; n];
    let mut invocation: Vec<Option<usize>> = vec![None; n];
    let mut node: Vec<Option<usize>> = vec![None; n];
    let mut tin = vec![0usize; n];
    let mut tout = vec![0usize; n];
    for &i in &order {
        if let Some(p) = parent[i] {
            context[i] = if roles[p] == Role::Agent || runs_agent(p) {
                Some(p)
            } else {
                context[p]
            };
            invocation[i] = if roles[p] == Role::Agent {
                Some(p)
            } else {
                invocation[p]
            };
            node[i] = if spans[p].node.is_some() {
                Some(p)
            } else {
                node[p]
            };
        }
        if spans[i].node.is_some() {
            node[i] = Some(i);
        }
    }
    // Subtree intervals (pre-order numbering) for ancestor tests.
    euler(&parent, &order, &mut tin, &mut tout);
    // A span whose parent is missing from the trace (a broken or remote link) and that no
    // invocation encloses belongs to the innermost agent invocation whose time interval
    // contains it.
    let mut agents_by_start: Vec<usize> = (0..n).filter(|&i| roles[i] == Role::Agent).collect();
    agents_by_start.sort_by_key(|&i| (spans[i].start, i));
    if !agents_by_start.is_empty() {
        let tree = MaxTree::new(
            &agents_by_start
                .iter()
                .map(|&a| spans[a].end)
                .collect::<Vec<_>>(),
        );
        for i in 0..n {
            if context[i].is_some()
                || roles[i] == Role::Agent
                || parent[i].is_some_and(|p| context[p].is_some())
            {
                continue;
            }
            let hi = agents_by_start.partition_point(|&a| spans[a].start <= spans[i].start);
            if hi == 0 {
                continue;
            }
            if let Some(j) = tree.rightmost_at_least(hi - 1, spans[i].end) {
                context[i] = Some(agents_by_start[j]);
                invocation[i] = Some(agents_by_start[j]);
            }
        }
    }
    let is_ancestor = |a: usize, b: usize| tin[a] <= tin[b] && tout[b] <= tout[a];
    // Row "agent": the name of each context.
    let fallback_agent = spans
        .iter()
        .find_map(|s| s.span_service.clone().or_else(|| s.service.clone()))
        .unwrap_or_else(|| "unknown_service".to_string());
    let context_name = |c: usize, own: Option<&String>| -> Option<String> {
        if roles[c] == Role::Tool {
            // An agent called as a tool: the tool's sub-agent, else the call's own agent
            // attribute when it differs from the invocation around the tool, else the
            // tool's name.
            let outer = invocation[c].and_then(|a| invoked_agent(&spans[a]));
            spans[c]
                .subagent
                .clone()
                .or_else(|| own.filter(|o| outer.as_ref() != Some(*o)).cloned())
                .or_else(|| spans[c].tool.clone())
                .or_else(|| Some(spans[c].name.clone()))
        } else {
            invoked_agent(&spans[c])
        }
    };
    // Messages, in start-time order.
    let mut order_k: Vec<usize> = (0..n).filter(|&i| is_message(i)).collect();
    order_k.sort_by_key(|&i| (spans[i].start, spans[i].end, spans[i].seq));
    let msgs: Vec<Msg> = order_k
        .iter()
        .map(|&i| {
            let c = context[i];
            let agent = match roles[i] {
                Role::Model => c
                    .and_then(|c| context_name(c, spans[i].agent.as_ref()))
                    .or_else(|| spans[i].agent.clone())
                    .or_else(|| spans[i].own_names.first().cloned())
                    .or_else(|| Some(fallback_agent.clone())),
                _ => None,
            };
            Msg {
                span: i,
                agent,
                context: c,
                role: roles[i],
            }
        })
        .collect();
    // Spans that look like model calls (output messages or token usage recorded on them, no
    // model call below) but are not one — no request model, or an agent invocation
    // that records its model's work on itself: said per trace, never dropped silently.
    let dropped: Vec<String> = (0..n)
        .filter(|&i| {
            matches!(roles[i], Role::Other | Role::Agent)
                && !model_below[i]
                && !tool_below[i]
                && (spans[i].has_output || spans[i].has_usage)
        })
        .map(|i| spans[i].span.clone())
        .collect();
    if msgs.is_empty() {
        let looks = !dropped.is_empty();
        return Err(MapError {
            span: None,
            field: "spans".into(),
            message: if looks {
                format!(
                    "{} spans look like model calls (output messages or token usage, no model call below) but none is one (a model call needs a request model): {}",
                    dropped.len(),
                    dropped.join(", ")
                )
            } else {
                format!(
                    "nothing to import: none of the trace's {n} spans is a model call or a tool execution"
                )
            },
            empty: !looks,
        });
    }
    if msgs.len() > MAX_MESSAGES {
        return Err(err(
            None,
            "spans",
            format!(
                "too_large: {} model calls and tool executions; an episode holds at most {MAX_MESSAGES} messages",
                msgs.len()
            ),
        ));
    }
    let parents = parents_of(
        &spans,
        &parent,
        &msgs,
        &context,
        &invocation,
        &node,
        &roles,
        &is_ancestor,
        &order,
    );
    let (records, unreachable) = build_messages(&spans, &msgs, &parents, opts);
    let mut records = records;
    // Judge scores: the evaluation attached to a span scores that span's message; one
    // attached to a wrapper or container scores the last message below it.
    let mut msg_of_span: HashMap<usize, usize> = HashMap::with_capacity(msgs.len());
    for (k, m) in msgs.iter().enumerate() {
        msg_of_span.insert(m.span, k);
    }
    let last_below = last_message_below(&msgs, &parent, &order, &spans);
    let target_of = |i: usize| -> Option<usize> { msg_of_span.get(&i).copied().or(last_below[i]) };
    score_messages(&evals, opts, &index, &target_of, &mut records)?;
    let roots: Vec<usize> = (0..n).filter(|&i| parent[i].is_none()).collect();
    let trace_outcome = outcome_evaluation(&evals, opts)?;
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
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    for m in &msgs {
        if let Some(a) = &m.agent
            && seen.insert(a.as_str())
        {
            agents.push(a.clone());
        }
    }
    let first = &spans[roots.first().copied().unwrap_or(0)];
    // Token totals of the messages' own spans, saturating (never wrapping).
    let (tokens_in, tokens_out) = msgs.iter().fold((0u64, 0u64), |(a, b), m| {
        (
            a.saturating_add(spans[m.span].input_tokens),
            b.saturating_add(spans[m.span].output_tokens),
        )
    });
    let mut meta = json!({
        "source": "otlp",
        "root": first.name,
        "service": first.service,
        "conversation": spans.iter().find_map(|s| s.conversation.clone()),
        "spans": n,
        "status": if failed { "error" } else { "ok" },
        "tokens": {"input": tokens_in, "output": tokens_out},
    });
    if !unreachable.is_empty() {
        meta["flags"] = json!(["unreachable_agent"]);
        meta["unreachable_agents"] = json!(unreachable);
    }
    Ok((
        InputRecord {
            id: Some(Id(trace.to_string())),
            agents: Some(agents),
            messages: Some(records),
            outcome: Some(out),
            meta: Some(meta),
            ..Default::default()
        },
        MapNotes {
            dropped,
            unreachable,
        },
    ))
}

/// Duplicate deliveries of one span are dropped; conflicting ones are an error.
fn dedupe(mut spans: Vec<Span>) -> Result<Vec<Span>, MapError> {
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
    Ok(kept)
}

/// The spans parents first (breadth-first from the roots); a span never reached sits on
/// a cycle of the span tree, which is an error. O(n).
fn tree_order(spans: &[Span], parent: &[Option<usize>]) -> Result<Vec<usize>, MapError> {
    let n = spans.len();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut order: Vec<usize> = Vec::with_capacity(n);
    for (i, p) in parent.iter().enumerate() {
        match p {
            Some(p) => children[*p].push(i),
            None => order.push(i),
        }
    }
    let mut at = 0;
    while at < order.len() {
        let i = order[at];
        order.extend_from_slice(&children[i]);
        at += 1;
    }
    if order.len() < n {
        let mut reached = vec![false; n];
        for &i in &order {
            reached[i] = true;
        }
        let on_cycle = (0..n).find(|&i| !reached[i]).expect("an unreached span");
        return Err(err(
            Some(&spans[on_cycle].span),
            "parentSpanId",
            "the span tree has a cycle through this span".into(),
        ));
    }
    Ok(order)
}

/// Pre-order entry and exit numbers of every span (iterative depth-first walk).
fn euler(parent: &[Option<usize>], order: &[usize], tin: &mut [usize], tout: &mut [usize]) {
    let n = parent.len();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut roots = Vec::new();
    for &i in order {
        match parent[i] {
            Some(p) => children[p].push(i),
            None => roots.push(i),
        }
    }
    let mut clock = 0;
    let mut stack: Vec<(usize, usize)> = roots.iter().rev().map(|&r| (r, 0)).collect();
    while let Some((i, next)) = stack.pop() {
        if next == 0 {
            tin[i] = clock;
            clock += 1;
        }
        if next < children[i].len() {
            stack.push((i, next + 1));
            stack.push((children[i][next], 0));
        } else {
            tout[i] = clock;
        }
    }
}

/// For every span, the message below it (strictly) that ends last, by (end, index).
fn last_message_below(
    msgs: &[Msg],
    parent: &[Option<usize>],
    order: &[usize],
    spans: &[Span],
) -> Vec<Option<usize>> {
    let n = parent.len();
    let mut own: Vec<Option<usize>> = vec![None; n];
    for (k, m) in msgs.iter().enumerate() {
        own[m.span] = Some(k);
    }
    let key = |k: usize| (spans[msgs[k].span].end, k);
    let mut below: Vec<Option<usize>> = vec![None; n];
    for &i in order.iter().rev() {
        if let Some(p) = parent[i] {
            let best = [own[i], below[i], below[p]]
                .into_iter()
                .flatten()
                .max_by_key(|&k| key(k));
            below[p] = best;
        }
    }
    below
}

/// Rows "parents of …": each message's causal parents (message indices), or `None` where
/// the structure says nothing (then `--provenance` applies).
#[allow(clippy::too_many_arguments)]
fn parents_of(
    spans: &[Span],
    parent: &[Option<usize>],
    msgs: &[Msg],
    context: &[Option<usize>],
    invocation: &[Option<usize>],
    node: &[Option<usize>],
    roles: &[Role],
    is_ancestor: &dyn Fn(usize, usize) -> bool,
    order: &[usize],
) -> Vec<Option<BTreeSet<usize>>> {
    let start = |k: usize| spans[msgs[k].span].start;
    let end = |k: usize| spans[msgs[k].span].end;
    let last_below = last_message_below(msgs, parent, order, spans);
    // Agents invoked beside a tool (not under it) within its time: the innermost tool
    // message containing each invocation that has messages.
    let tools: Vec<usize> = (0..msgs.len())
        .filter(|&k| msgs[k].role == Role::Tool)
        .collect();
    let tree = MaxTree::new(&tools.iter().map(|&k| end(k)).collect::<Vec<_>>());
    let mut beside_tool: HashMap<usize, usize> = HashMap::new(); // invocation span → tool message
    let mut beside_last: HashMap<usize, Vec<usize>> = HashMap::new(); // tool message → last messages of the agents beside it
    let mut invocations: Vec<usize> = msgs
        .iter()
        .filter_map(|m| m.context)
        .filter(|&c| roles[c] == Role::Agent)
        .collect();
    invocations.sort_unstable();
    invocations.dedup();
    for a in invocations {
        let (sa, ea) = (spans[a].start, spans[a].end);
        // Tools that started no later than the invocation, rightmost first.
        let hi = tools.partition_point(|&k| start(k) <= sa);
        if hi == 0 {
            continue;
        }
        // The innermost tool containing it; when that tool is its ancestor, the tree
        // already says the agent runs inside the tool.
        if let Some(j) = tree.rightmost_at_least(hi - 1, ea) {
            let t = tools[j];
            let ts = msgs[t].span;
            if !is_ancestor(ts, a) && !is_ancestor(a, ts) {
                beside_tool.insert(a, t);
                if let Some(l) = last_below[a] {
                    beside_last.entry(t).or_default().push(l);
                }
            }
        }
    }
    let mut out: Vec<Option<BTreeSet<usize>>> = vec![None; msgs.len()];
    // Per context: its last model call, and the tools returned to it since.
    let mut last_call: HashMap<Option<usize>, usize> = HashMap::new();
    let mut pending_tools: HashMap<Option<usize>, Vec<usize>> = HashMap::new();
    // Ended messages by (end, index), with their context, for "latest before".
    let mut ended: BTreeMap<(u64, usize), Option<usize>> = BTreeMap::new();
    let mut ended_by_node: HashMap<&str, BTreeMap<(u64, usize), ()>> = HashMap::new();
    // Handoffs by target agent: the latest one.
    let mut handoff_to: HashMap<&str, usize> = HashMap::new();
    // Answers of agents run by a tool that were still running when the tool returned (a
    // background sub-agent): they reach the caller's first call after they end.
    let mut deferred: HashMap<Option<usize>, Vec<usize>> = HashMap::new();
    // Earlier messages not yet ended, by end time (messages come in start order, so one
    // that ended before message k started has ended before every later one started).
    let mut running: std::collections::BinaryHeap<std::cmp::Reverse<(u64, usize)>> =
        std::collections::BinaryHeap::new();
    let mut msg_of_span: HashMap<usize, usize> = HashMap::with_capacity(msgs.len());
    for (k, m) in msgs.iter().enumerate() {
        msg_of_span.insert(m.span, k);
    }
    for k in 0..msgs.len() {
        let sk = start(k);
        while let Some(&std::cmp::Reverse((e, j))) = running.peek() {
            if e > sk {
                break;
            }
            running.pop();
            ended.insert((e, j), msgs[j].context);
            if let Some(nd) = node[msgs[j].span].and_then(|x| spans[x].node.as_deref()) {
                ended_by_node.entry(nd).or_default().insert((e, j), ());
            }
        }
        let latest_before = |skip: Option<Option<usize>>| -> Option<usize> {
            ended
                .range(..=(sk, usize::MAX))
                .rev()
                .find(|(_, c)| skip.is_none_or(|s| **c != s))
                .map(|((_, j), _)| *j)
        };
        let ctx = msgs[k].context;
        let mut p = BTreeSet::new();
        match msgs[k].role {
            Role::Tool | Role::Handoff => {
                // Row "tool execution" / "handoff": the call that requested it.
                match last_call.get(&ctx) {
                    Some(&j) => {
                        p.insert(j);
                    }
                    None => {
                        if let Some(j) = latest_before(None) {
                            p.insert(j);
                        }
                    }
                }
                pending_tools.entry(ctx).or_default().push(k);
                if msgs[k].role == Role::Handoff
                    && let Some(to) = spans[msgs[k].span].handoff.1.as_deref()
                {
                    handoff_to.insert(to, k);
                }
            }
            _ => match last_call.get(&ctx) {
                Some(&j) => {
                    // Row "next model call": the previous call, and every tool result that
                    // came back since (with the answer of an agent run inside or beside
                    // the tool).
                    p.insert(j);
                    for t in pending_tools.remove(&ctx).unwrap_or_default() {
                        if end(t) <= sk {
                            p.insert(t);
                            let answers = last_below[msgs[t].span]
                                .into_iter()
                                .chain(beside_last.get(&t).into_iter().flatten().copied());
                            for l in answers {
                                if l < k && end(l) <= sk {
                                    p.insert(l);
                                } else if l > t {
                                    deferred.entry(ctx).or_default().push(l);
                                }
                            }
                        }
                    }
                    if let Some(waiting) = deferred.get_mut(&ctx) {
                        waiting.retain(|&l| {
                            let arrived = l < k && end(l) <= sk;
                            if arrived {
                                p.insert(l);
                            }
                            !arrived
                        });
                    }
                }
                None => {
                    // Row "first call of a context": what handed control to it.
                    let span = msgs[k].span;
                    let agent = msgs[k].agent.as_deref();
                    // The tool that runs this context's agent: the context itself, or the
                    // tool around its invocation (ADK's AgentTool).
                    let enclosing_tool = ctx
                        .and_then(|c| {
                            if roles[c] == Role::Tool {
                                Some(c)
                            } else {
                                context[c].filter(|&t| roles[t] == Role::Tool)
                            }
                        })
                        .and_then(|c| msg_of_span.get(&c).copied())
                        .filter(|&t| t < k);
                    let beside = invocation[span]
                        .and_then(|a| beside_tool.get(&a).copied())
                        .filter(|&t| t < k);
                    let handoff = agent.and_then(|a| handoff_to.get(a).copied());
                    let graph = spans[span]
                        .node_parent
                        .as_deref()
                        .or_else(|| node[span].and_then(|x| spans[x].node_parent.as_deref()))
                        .and_then(|np| ended_by_node.get(np))
                        .and_then(|m| m.range(..=(sk, usize::MAX)).next_back())
                        .map(|((_, j), _)| *j);
                    if let Some(t) = enclosing_tool.or(beside).or(handoff) {
                        p.insert(t);
                    } else if let Some(g) = graph {
                        p.insert(g);
                    } else if let Some(j) = latest_before(Some(ctx)) {
                        p.insert(j);
                    }
                    pending_tools.remove(&ctx);
                }
            },
        }
        if msgs[k].role == Role::Model {
            last_call.insert(ctx, k);
        }
        if !p.is_empty() {
            out[k] = Some(p);
        }
        running.push(std::cmp::Reverse((end(k), k)));
    }
    out
}

/// The messages as input records, and the agents none of whose messages has a path to
/// the episode's last message. A message the structure leaves without parents follows
/// `--provenance`: under `prefix` (the default) it is written without `parents`, and the
/// scorer's own provenance (every earlier message, stored in O(1)) applies, so that a
/// trace without structure never spells out n²/2 parent ids.
fn build_messages(
    spans: &[Span],
    msgs: &[Msg],
    parents: &[Option<BTreeSet<usize>>],
    opts: &TraceOptions,
) -> (Vec<InputMessage>, Vec<String>) {
    let id = |j: usize| Id(spans[msgs[j].span].span.clone());
    let mut records = Vec::with_capacity(msgs.len());
    for (k, m) in msgs.iter().enumerate() {
        let s = &spans[m.span];
        let list = match (&parents[k], k) {
            (Some(p), _) => Some(p.iter().map(|&j| id(j)).collect()),
            (None, 0) => Some(IdList::default()),
            (None, _) => match opts.provenance {
                Provenance::Prefix => None,
                Provenance::Chain => Some(if k > 1 {
                    [id(0), id(k - 1)].into_iter().collect()
                } else {
                    [id(0)].into_iter().collect()
                }),
                Provenance::None => Some(IdList::default()),
            },
        };
        let name = match m.role {
            Role::Tool => s.tool.clone().unwrap_or_else(|| s.name.clone()),
            _ => s.name.clone(),
        };
        records.push(InputMessage {
            id: Some(id(k)),
            agent: m.agent.clone(),
            parents: list,
            text: Some(Value::String(s.text.clone().unwrap_or_default())),
            role: Some(Value::String(
                match m.role {
                    Role::Model => "assistant",
                    _ => "tool",
                }
                .to_string(),
            )),
            name: Some(Value::String(name)),
            ..Default::default()
        });
    }
    // Reachability of the last message, backwards: a reached message without parents
    // under the prefix provenance depends on every earlier one.
    let last = msgs.len() - 1;
    let mut reach = vec![false; msgs.len()];
    reach[last] = true;
    let mut cut = 0usize; // every message below `cut` is reached
    for k in (0..msgs.len()).rev() {
        if k < cut {
            reach[k] = true;
        }
        if !reach[k] {
            continue;
        }
        match &parents[k] {
            Some(p) => {
                for &j in p {
                    reach[j] = true;
                }
            }
            None if k > 0 => match opts.provenance {
                Provenance::Prefix => cut = cut.max(k),
                Provenance::Chain => {
                    reach[0] = true;
                    reach[k - 1] = true;
                }
                Provenance::None => {}
            },
            None => {}
        }
    }
    let mut has: BTreeMap<&str, bool> = BTreeMap::new();
    for (k, m) in msgs.iter().enumerate() {
        if let Some(a) = &m.agent {
            *has.entry(a.as_str()).or_insert(false) |= reach[k];
        }
    }
    let unreachable = has
        .into_iter()
        .filter(|(_, r)| !r)
        .map(|(a, _)| a.to_string())
        .collect();
    (records, unreachable)
}

/// Row "score": the evaluation chosen by `--evaluation` scores the message it is
/// attached to (or the last message below a wrapper or container); several on one
/// message are averaged.
fn score_messages(
    evals: &[Eval],
    opts: &TraceOptions,
    index: &HashMap<&str, usize>,
    target_of: &dyn Fn(usize) -> Option<usize>,
    records: &mut [InputMessage],
) -> Result<(), MapError> {
    let mut names: BTreeSet<&str> = BTreeSet::new();
    for e in evals {
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
    let mut sums: Vec<(f64, u32)> = vec![(0.0, 0); records.len()];
    for e in evals {
        let name = e.name.as_deref().unwrap_or("");
        if opts.outcome_evaluation.as_deref() == Some(name) || chosen.as_deref() != Some(name) {
            continue;
        }
        let span_index = e.span.as_deref().and_then(|s| index.get(s).copied());
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
    Ok(())
}

/// Row "outcome": the `--outcome-evaluation` of the trace, when it has one.
fn outcome_evaluation(evals: &[Eval], opts: &TraceOptions) -> Result<Option<f64>, MapError> {
    let mut out = None;
    for e in evals {
        if opts.outcome_evaluation.as_deref() == Some(e.name.as_deref().unwrap_or("")) {
            out = Some(eval_score(e, opts, false)?);
        }
    }
    Ok(out)
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
