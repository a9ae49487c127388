//! OpenTelemetry trace import and `export otel` (DESIGN §2.5): real Google ADK
//! recordings and a hand-built evaluation fixture (tests/data/otlp, Apache-2.0, see its
//! README) checked against their truth files; every id, timestamp and file-layout
//! encoding; broken input; spilling; and the round trip import → score → export.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

use creditflow::io::otlp::{self, TraceOptions};
use creditflow::schema::InputRecord;
use proptest::prelude::*;
use serde_json::{Value, json};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/otlp")
        .join(name)
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn import(paths: &[PathBuf], opts: &TraceOptions) -> otlp::TraceImport {
    otlp::import_traces(paths, opts).unwrap()
}

fn one(name: &str) -> InputRecord {
    let got = import(&[data(&format!("{name}.json"))], &TraceOptions::default());
    assert!(got.errors.is_empty(), "{name}: {:?}", got.errors);
    assert_eq!(got.episodes.len(), 1, "{name}: one trace, one episode");
    got.episodes.into_iter().next().unwrap()
}

fn messages(ep: &InputRecord) -> &[creditflow::schema::InputMessage] {
    ep.messages.as_deref().unwrap()
}

fn id(m: &creditflow::schema::InputMessage) -> &str {
    &m.id.as_ref().unwrap().0
}

fn parents(ep: &InputRecord) -> BTreeMap<String, Vec<String>> {
    messages(ep)
        .iter()
        .map(|m| {
            (
                id(m).to_string(),
                m.parents
                    .iter()
                    .flat_map(|p| p.iter())
                    .map(String::from)
                    .collect(),
            )
        })
        .collect()
}

const FIXTURES: &[&str] = &[
    "adk_v2_S4a",
    "adk_v2_S4b",
    "adk_v2_S6a",
    "hand_ext_eval_eventName",
];

#[test]
fn recordings_match_their_truth_files() {
    for name in FIXTURES {
        let ep = one(name);
        let doc = read_json(&data(&format!("{name}.json")));
        let truth = read_json(&data(&format!("{name}.truth.json")));
        let turn = &truth["turns"][0];
        // One episode per trace, keyed by the trace id.
        let trace = doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"]
            .as_str()
            .unwrap();
        assert_eq!(ep.id.as_ref().unwrap().0, trace, "{name}");
        // Agents: every agent of the turn, delegates included.
        let agents: BTreeSet<&str> = ep
            .agents
            .as_ref()
            .unwrap()
            .iter()
            .map(String::as_str)
            .collect();
        let want: BTreeSet<&str> = turn["agents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert_eq!(agents, want, "{name}: agents");
        // One environment message per tool call.
        let tools: Vec<_> = messages(&ep).iter().filter(|m| m.agent.is_none()).collect();
        assert_eq!(
            tools.len(),
            turn["tool_calls"].as_array().unwrap().len(),
            "{name}: tool executions"
        );
        // One message per logical model call: the truth's token totals count each call
        // once, so counting a wrapper span too would double them.
        let meta = ep.meta.as_ref().unwrap();
        assert_eq!(
            meta["tokens"], truth["tokens"],
            "{name}: tokens of the model messages"
        );
        // Message order is start-time order and parents point backwards.
        let ids: Vec<&str> = messages(&ep).iter().map(id).collect();
        for (k, m) in messages(&ep).iter().enumerate() {
            for p in m.parents.as_ref().unwrap().iter() {
                let j = ids.iter().position(|x| *x == p).unwrap();
                assert!(j < k, "{name}: parent {} of {} comes later", p, ids[k]);
            }
        }
        // The recorded final text, where content capture put it on the span.
        if name.starts_with("hand") {
            let last = messages(&ep).last().unwrap();
            assert_eq!(last.text.as_ref().unwrap(), &turn["final_text"], "{name}");
        }
    }
}

#[test]
fn parents_follow_the_causal_structure() {
    // S4a: coordinator calls transfer_to_agent; billing_agent takes over, calls
    // issue_refund, answers.
    let ep = one("adk_v2_S4a");
    let want: BTreeMap<String, Vec<String>> = [
        ("d162612c2e51bef8", vec![]), // coordinator's call: the root
        ("53f4878dc2eea52e", vec!["d162612c2e51bef8"]), // transfer tool ← its call
        ("4052e168cae3a7ff", vec!["53f4878dc2eea52e"]), // billing's first call ← the transfer
        ("f31aeab78be954d7", vec!["4052e168cae3a7ff"]), // issue_refund ← billing's call
        (
            "05245c9e06a42822",
            vec!["4052e168cae3a7ff", "f31aeab78be954d7"],
        ), // answer ← previous call + the tool result
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.into_iter().map(String::from).collect()))
    .collect();
    assert_eq!(parents(&ep), want);
    let agents: Vec<Option<&str>> = messages(&ep).iter().map(|m| m.agent.as_deref()).collect();
    assert_eq!(
        agents,
        [
            Some("coordinator"),
            None,
            Some("billing_agent"),
            None,
            Some("billing_agent")
        ]
    );

    // S4b: coordinator calls research_agent as a tool; the sub-agent's answer returns
    // through the tool to the coordinator's second call.
    let ep = one("adk_v2_S4b");
    let want: BTreeMap<String, Vec<String>> = [
        ("a32f0dd854bc764c", vec![]),
        ("db5545beae843a11", vec!["a32f0dd854bc764c"]), // AgentTool ← the call
        ("3b372e31ecde3d93", vec!["db5545beae843a11"]), // sub-agent ← the tool's request
        (
            "38c087c607751e8c",
            vec!["3b372e31ecde3d93", "a32f0dd854bc764c", "db5545beae843a11"],
        ),
    ]
    .into_iter()
    .map(|(k, v)| {
        let mut v: Vec<String> = v.into_iter().map(String::from).collect();
        v.sort();
        (k.to_string(), v)
    })
    .collect();
    let mut got = parents(&ep);
    for v in got.values_mut() {
        v.sort();
    }
    assert_eq!(got, want);
    // The delegate's own conversation id does not split the episode.
    assert_eq!(
        ep.meta.as_ref().unwrap()["conversation"],
        "sess-S4b-v2_default"
    );
}

#[test]
fn a_run_whose_top_span_failed_is_a_failure() {
    let ep = one("adk_v2_S6a");
    let outcome = ep.outcome.as_ref().unwrap();
    assert_eq!(outcome.success, Some(false));
    assert_eq!(outcome.reward, Some(0.0));
    assert_eq!(ep.meta.as_ref().unwrap()["status"], "error");
    let ok = one("adk_v2_S4a");
    assert_eq!(ok.outcome.as_ref().unwrap().success, Some(true));
}

#[test]
fn evaluations_become_scores_and_outcomes() {
    // The log record's evaluation scores the chat span it names.
    let ep = one("hand_ext_eval_eventName");
    let m = &messages(&ep)[0];
    assert_eq!(id(m), "23a6bb157382841e");
    assert_eq!(m.score, Some(0.9));
    assert_eq!(m.agent.as_deref(), Some("helper"));

    // Two evaluation names: --evaluation is needed, and picks; labels map through
    // --label-score; a trace-level one is the outcome.
    let doc = read_json(&data("hand_ext_eval_eventName.json"));
    let mut two = doc.clone();
    let logs = two["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
        .as_array_mut()
        .unwrap();
    logs.push(json!({"eventName": "gen_ai.evaluation.result",
        "traceId": "92C93D977F8F17030759062D2FE3E487", "spanId": "I6a7FXOChB4=",
        "attributes": [{"key": "gen_ai.evaluation.name", "value": {"stringValue": "Safety"}},
                       {"key": "gen_ai.evaluation.score.label", "value": {"stringValue": "unsafe"}}]}));
    logs.push(json!({"eventName": "gen_ai.evaluation.result",
        "traceId": "92c93d977f8f17030759062d2fe3e487",
        "attributes": [{"key": "gen_ai.evaluation.name", "value": {"stringValue": "TaskDone"}},
                       {"key": "gen_ai.evaluation.score.value", "value": {"intValue": "3"}}]}));
    let dir = tempdir("evals");
    let file = dir.join("two.json");
    std::fs::write(&file, two.to_string()).unwrap();
    let got = import(std::slice::from_ref(&file), &TraceOptions::default());
    assert!(got.episodes.is_empty());
    let e = got.errors[0].to_string();
    assert!(
        e.contains("`Relevance`") && e.contains("`Safety`") && e.contains("--evaluation"),
        "{e}"
    );
    let opts = TraceOptions {
        evaluation: Some("Safety".into()),
        label_scores: creditflow::options::parse_labels("safe=1,unsafe=-0.5").unwrap(),
        outcome_evaluation: Some("TaskDone".into()),
        ..Default::default()
    };
    let got = import(std::slice::from_ref(&file), &opts);
    assert!(got.errors.is_empty(), "{:?}", got.errors);
    let ep = &got.episodes[0];
    assert_eq!(messages(ep)[0].score, Some(-0.5));
    assert_eq!(ep.outcome.as_ref().unwrap().reward, Some(3.0));
    // An unmapped label is an error naming the label and the option.
    let opts = TraceOptions {
        evaluation: Some("Safety".into()),
        ..Default::default()
    };
    let e = import(std::slice::from_ref(&file), &opts).errors[0].to_string();
    assert!(e.contains("unsafe") && e.contains("--label-score"), "{e}");
    // A score on another scale is an error unless rescaled.
    let opts = TraceOptions {
        evaluation: Some("TaskDone".into()),
        ..Default::default()
    };
    let got = import(std::slice::from_ref(&file), &opts);
    assert_eq!(
        got.episodes[0].messages.as_ref().unwrap()[0].score,
        None,
        "a trace-level evaluation scores no message"
    );
    let mut scaled = two.clone();
    scaled["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]["attributes"][1]["value"] =
        json!({"doubleValue": 4.0});
    std::fs::write(&file, scaled.to_string()).unwrap();
    let opts = TraceOptions {
        evaluation: Some("Relevance".into()),
        ..Default::default()
    };
    let e = import(std::slice::from_ref(&file), &opts).errors[0].to_string();
    assert!(
        e.contains("outside [-1, 1]") && e.contains("--score-range"),
        "{e}"
    );
    let opts = TraceOptions {
        evaluation: Some("Relevance".into()),
        score_range: Some((0.0, 5.0)),
        ..Default::default()
    };
    let got = import(&[file], &opts);
    let s = got.episodes[0].messages.as_ref().unwrap()[0].score.unwrap();
    assert!(
        (s - 0.6).abs() < 1e-12,
        "4 on 0..5 is 0.6 on -1..1, got {s}"
    );
}

/// A fresh directory under the target dir (removed first).
fn tempdir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("otlp-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn as_json(eps: &[InputRecord]) -> BTreeMap<String, String> {
    eps.iter()
        .map(|e| {
            (
                e.id.as_ref().unwrap().0.clone(),
                serde_json::to_string(e).unwrap(),
            )
        })
        .collect()
}

fn hex_to_base64(hex: &str) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes: Vec<u8> = (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(T[((n >> (18 - 6 * k)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Every span of a document, as (resource, scope, span) values.
fn spans_of(doc: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    for rs in doc["resourceSpans"].as_array().unwrap() {
        for ss in rs["scopeSpans"].as_array().unwrap() {
            for sp in ss["spans"].as_array().unwrap() {
                out.push(sp.clone());
            }
        }
    }
    out
}

fn doc_of(spans: Vec<Value>) -> Value {
    json!({"resourceSpans": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "adk-empirical"}}]},
        "scopeSpans": [{"scope": {"name": "gcp.vertex.agent"}, "spans": spans}]}]})
}

#[test]
fn every_encoding_and_layout_gives_the_same_episodes() {
    let files: Vec<PathBuf> = ["adk_v2_S4a", "adk_v2_S4b", "adk_v2_S6a"]
        .iter()
        .map(|n| data(&format!("{n}.json")))
        .collect();
    let reference = as_json(&import(&files, &TraceOptions::default()).episodes);
    assert_eq!(reference.len(), 3);

    let mut all: Vec<Value> = files.iter().flat_map(|f| spans_of(&read_json(f))).collect();
    // Re-encode: uppercase hex trace ids, base64 span ids, numeric timestamps.
    for (k, sp) in all.iter_mut().enumerate() {
        let t = sp["traceId"].as_str().unwrap().to_ascii_uppercase();
        sp["traceId"] = json!(t);
        for key in ["spanId", "parentSpanId"] {
            if let Some(s) = sp.get(key).and_then(Value::as_str).map(str::to_string) {
                sp[key] = json!(hex_to_base64(&s));
            }
        }
        if k % 2 == 0 {
            for key in ["startTimeUnixNano", "endTimeUnixNano"] {
                let n: u64 = sp[key].as_str().unwrap().parse().unwrap();
                sp[key] = json!(n);
            }
        }
    }
    // Shuffle deterministically (reverse + interleave) and spread the spans of each
    // trace over three files of a directory, one as JSON Lines of single-span documents.
    all.reverse();
    let dir = tempdir("layout");
    let mut parts: [Vec<Value>; 3] = Default::default();
    for (k, sp) in all.into_iter().enumerate() {
        parts[k % 3].push(sp);
    }
    std::fs::write(
        dir.join("a.json"),
        serde_json::to_string_pretty(&doc_of(parts[0].clone())).unwrap(),
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("sub/b.json"), doc_of(parts[1].clone()).to_string()).unwrap();
    let lines: Vec<String> = parts[2]
        .iter()
        .map(|sp| doc_of(vec![sp.clone()]).to_string())
        .collect();
    std::fs::write(dir.join("c.jsonl"), lines.join("\n") + "\n").unwrap();
    let got = import(std::slice::from_ref(&dir), &TraceOptions::default());
    assert!(got.errors.is_empty(), "{:?}", got.errors);
    assert!(!got.spilled);
    assert_eq!(as_json(&got.episodes), reference);

    // The same through bucket files (a memory budget of one byte spills at once).
    let spilled = import(
        &[dir],
        &TraceOptions {
            memory_bytes: 1,
            ..Default::default()
        },
    );
    assert!(spilled.spilled);
    assert!(spilled.errors.is_empty(), "{:?}", spilled.errors);
    assert_eq!(as_json(&spilled.episodes), reference);
}

#[test]
fn broken_input_names_file_trace_span_and_field_and_other_traces_still_import() {
    let dir = tempdir("broken");
    let good = read_json(&data("adk_v2_S4a.json"));
    let mut bad = read_json(&data("adk_v2_S6a.json"));
    bad["resourceSpans"][0]["scopeSpans"][0]["spans"][1]["startTimeUnixNano"] = json!("yesterday");
    let lines = [
        good.to_string(),
        "{\"resourceSpans\": [ this is not json".to_string(),
        bad.to_string(),
    ];
    let file = dir.join("mixed.jsonl");
    std::fs::write(&file, lines.join("\n")).unwrap();
    let got = import(std::slice::from_ref(&file), &TraceOptions::default());
    assert_eq!(got.episodes.len(), 1);
    assert_eq!(
        got.episodes[0].id.as_ref().unwrap().0,
        "a431b808b2875b517ac14878e4ed7673"
    );
    let errors: Vec<String> = got.errors.iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(
        errors
            .iter()
            .any(|e| e.contains("mixed.jsonl, line 2") && e.contains("malformed JSON")),
        "{errors:#?}"
    );
    let e = errors.iter().find(|e| e.contains("trace")).unwrap();
    for part in [
        "mixed.jsonl, line 3",
        "trace ef78e41d9b937ba1cddedb3be236370a",
        "span a0a9c1778a853e77",
        "spans[1].startTimeUnixNano",
        "yesterday",
    ] {
        assert!(e.contains(part), "`{part}` missing from: {e}");
    }

    // A cycle in the span tree, a span whose parent is itself: errors, not hangs.
    let mut cyc = read_json(&data("adk_v2_S4a.json"));
    let spans = cyc["resourceSpans"][0]["scopeSpans"][0]["spans"]
        .as_array_mut()
        .unwrap();
    spans[3]["parentSpanId"] = json!("71309795072e7f9c"); // invoke_agent under its own call_llm
    let f = dir.join("cycle.json");
    std::fs::write(&f, cyc.to_string()).unwrap();
    let got = import(&[f], &TraceOptions::default());
    assert!(got.episodes.is_empty());
    assert!(
        got.errors[0].to_string().contains("cycle"),
        "{}",
        got.errors[0]
    );
}

#[test]
fn import_score_export_round_trip() {
    let bin = env!("CARGO_BIN_EXE_creditflow");
    let dir = tempdir("roundtrip");
    let traces = dir.join("traces");
    std::fs::create_dir_all(&traces).unwrap();
    for n in FIXTURES {
        std::fs::copy(data(&format!("{n}.json")), traces.join(format!("{n}.json"))).unwrap();
    }
    let run = |args: &[&str]| {
        let out = Command::new(bin).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stderr).unwrap()
    };
    let eps = dir.join("episodes.jsonl");
    let scored = dir.join("scored.jsonl");
    let logs = dir.join("logs.jsonl");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let judge = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/traces/judge.jsonl");
    let stderr = run(&[
        "import",
        &s(&traces),
        &s(&judge),
        "--evaluation",
        "judge",
        "-o",
        &s(&eps),
    ]);
    assert!(stderr.contains("imported 4 episodes"), "{stderr}");
    run(&["score", &s(&eps), "-o", &s(&scored)]);
    let stderr = run(&[
        "export",
        "otel",
        &s(&scored),
        "--traces",
        &s(&traces),
        "-o",
        &s(&logs),
    ]);
    assert!(stderr.contains("for 4 episodes"), "{stderr}");

    // Every exported record points at a span of its trace and carries the scored number.
    let mut spans: HashMap<(String, String), ()> = HashMap::new();
    for n in FIXTURES {
        for sp in spans_of(&read_json(&data(&format!("{n}.json")))) {
            spans.insert(
                (
                    sp["traceId"].as_str().unwrap().into(),
                    sp["spanId"].as_str().unwrap().into(),
                ),
                (),
            );
        }
    }
    let mut exported: HashMap<(String, String, String), f64> = HashMap::new();
    for line in std::fs::read_to_string(&logs).unwrap().lines() {
        let doc: Value = serde_json::from_str(line).unwrap();
        for r in doc["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
            .as_array()
            .unwrap()
        {
            assert_eq!(r["eventName"], "gen_ai.evaluation.result");
            let key = (
                r["traceId"].as_str().unwrap().to_string(),
                r["spanId"].as_str().unwrap().to_string(),
            );
            assert!(
                spans.contains_key(&key),
                "record on a span that does not exist: {key:?}"
            );
            let attrs: HashMap<&str, &Value> = r["attributes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| (a["key"].as_str().unwrap(), &a["value"]))
                .collect();
            let name = attrs["gen_ai.evaluation.name"]["stringValue"]
                .as_str()
                .unwrap();
            let value = attrs["gen_ai.evaluation.score.value"]["doubleValue"]
                .as_f64()
                .unwrap();
            exported.insert((key.0, key.1, name.to_string()), value);
        }
    }
    let mut checked = 0;
    let mut first_errors = 0;
    for line in std::fs::read_to_string(&scored).unwrap().lines() {
        let row: Value = serde_json::from_str(line).unwrap();
        let trace = row["id"].as_str().unwrap().to_string();
        for m in row["messages"].as_array().unwrap() {
            let span = m["id"].as_str().unwrap().to_string();
            for (name, field) in [
                ("creditflow.credit", "credit"),
                ("creditflow.reward", "reward"),
            ] {
                let got = exported[&(trace.clone(), span.clone(), name.to_string())];
                assert_eq!(got, m[field].as_f64().unwrap(), "{trace} {span} {name}");
                checked += 1;
            }
        }
        if let Some(fe) = row["first_error"].as_object() {
            let span = fe["message"].as_str().unwrap().to_string();
            assert!(exported.contains_key(&(trace.clone(), span, "creditflow.first_error".into())));
            first_errors += 1;
        }
    }
    assert!(checked >= 16, "{checked}");
    assert_eq!(first_errors, 1, "S6a's failed run has a first error");

    // And back in: the traces plus the exported records, scored by creditflow.credit,
    // give each message its credit as its judge score.
    let back = dir.join("back.jsonl");
    std::fs::copy(&logs, traces.join("zz-credits.jsonl")).unwrap();
    run(&[
        "import",
        &s(&traces),
        "--evaluation",
        "creditflow.credit",
        "-o",
        &s(&back),
    ]);
    let mut matched = 0;
    for line in std::fs::read_to_string(&back).unwrap().lines() {
        let ep: Value = serde_json::from_str(line).unwrap();
        let trace = ep["id"].as_str().unwrap().to_string();
        for m in ep["messages"].as_array().unwrap() {
            if m["agent"].is_null() {
                continue;
            }
            let span = m["id"].as_str().unwrap().to_string();
            let want = exported[&(trace.clone(), span, "creditflow.credit".to_string())];
            assert_eq!(m["score"].as_f64().unwrap(), want);
            matched += 1;
        }
    }
    assert!(matched >= 8, "{matched}");
}

#[test]
fn standard_input_and_format_detection() {
    let bin = env!("CARGO_BIN_EXE_creditflow");
    let text = std::fs::read(data("adk_v2_S4a.json")).unwrap();
    for args in [
        &["import", "-"][..],
        &["import", "--format", "otlp", "-"][..],
    ] {
        let mut child = Command::new(bin)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(&text).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let ep: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(ep["id"], "a431b808b2875b517ac14878e4ed7673");
        assert_eq!(ep["messages"].as_array().unwrap().len(), 5);
    }
    // Trace options on chat logs are refused with the reason.
    let out = Command::new(bin)
        .args([
            "import",
            "tests/data/whowhen/hand-crafted/14.json",
            "--evaluation",
            "x",
        ])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("apply to traces"));
}

/// Replaces the value at a pseudo-random position of `v` with `junk`.
fn mutate(v: &mut Value, pick: u64, junk: &Value) {
    let next = pick
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407)
        >> 7;
    let child = match v {
        Value::Object(m) if !m.is_empty() => {
            let k = (pick % m.len() as u64) as usize;
            m.values_mut().nth(k)
        }
        Value::Array(a) if !a.is_empty() => {
            let k = (pick % a.len() as u64) as usize;
            a.get_mut(k)
        }
        _ => None,
    };
    if !next.is_multiple_of(5)
        && let Some(c) = child
    {
        return mutate(c, next, junk);
    }
    *v = junk.clone();
}

/// `export otel` past its memory: the span index spilled to bucket files (the wanted
/// trace ids still listed, and not: too many to hold) writes the same documents as the
/// export held in memory, bucket by bucket, with the same counts and the same errors in
/// the scored file's order.
#[test]
fn export_spilled_writes_the_documents_of_the_export_held_in_memory() {
    use creditflow::io::otlp::export::export_otel;
    let bin = env!("CARGO_BIN_EXE_creditflow");
    let dir = tempdir("export-spill");
    // 4 recordings × 150 copies under fresh trace ids: 600 traces, one JSON Lines file.
    let mut lines = String::new();
    for (f, n) in FIXTURES.iter().enumerate() {
        let text = std::fs::read_to_string(data(&format!("{n}.json"))).unwrap();
        let doc = read_json(&data(&format!("{n}.json")));
        let trace = spans_of(&doc)[0]["traceId"].as_str().unwrap().to_string();
        let compact =
            serde_json::to_string(&serde_json::from_str::<Value>(&text).unwrap()).unwrap();
        for k in 0..150u32 {
            lines += &compact.replace(&trace, &format!("{:08x}{:024x}", f + 1, k + 1));
            lines.push('\n');
        }
    }
    let traces = dir.join("traces.jsonl");
    std::fs::write(&traces, lines).unwrap();
    let (eps, scored) = (dir.join("e.jsonl"), dir.join("s.jsonl"));
    for args in [
        vec![
            "import",
            traces.to_str().unwrap(),
            "-o",
            eps.to_str().unwrap(),
        ],
        vec![
            "score",
            eps.to_str().unwrap(),
            "--samples",
            "2",
            "-o",
            scored.to_str().unwrap(),
        ],
    ] {
        let out = Command::new(bin).args(&args).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // One scored episode whose trace is not in the input, and one unreadable line.
    let mut text = std::fs::read_to_string(&scored).unwrap();
    let first = text.lines().next().unwrap().to_string();
    let mut stray: Value = serde_json::from_str(&first).unwrap();
    stray["id"] = json!("ffffffffffffffffffffffffffffffff");
    text = format!("{}\n{text}{{\"id\": 3\n", stray);
    std::fs::write(&scored, text).unwrap();

    let export = |memory: usize| {
        let mut out = Vec::new();
        let got = export_otel(&scored, std::slice::from_ref(&traces), &mut out, memory).unwrap();
        let mut docs: Vec<String> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(String::from)
            .collect();
        docs.sort();
        let errors: Vec<String> = got.errors.iter().map(|e| e.to_string()).collect();
        (got.spilled, got.episodes, got.records, errors, docs)
    };
    let held = export(usize::MAX);
    assert!(!held.0);
    assert_eq!(held.1, 600);
    assert_eq!(held.3.len(), 2, "{:?}", held.3);
    assert!(
        held.3[0].contains("no trace ffffffffffffffffffffffffffffffff"),
        "{:?}",
        held.3
    );
    // 600 wanted ids (24 KB) are listed; the index passes 64 KiB and spills.
    let listed = export(64 << 10);
    // 600 ids pass half of 16 KiB: every trace is indexed, and spilled.
    let unlisted = export(16 << 10);
    for spilled in [listed, unlisted] {
        assert!(spilled.0, "the index was not spilled");
        assert_eq!(spilled.1..=spilled.3.len(), held.1..=held.3.len());
        assert_eq!(spilled.2, held.2);
        assert_eq!(spilled.3, held.3, "errors, in the scored file's order");
        assert!(
            spilled.4 == held.4,
            "the documents differ from the export held in memory"
        );
    }
    // The bucket files went with the export.
    let left: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("creditflow-export-")
        })
        .collect();
    assert!(left.is_empty(), "spill directories left behind: {left:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    /// No mutation of a real recording makes the importer panic or fail as a whole: a
    /// broken part is an error record, the rest still imports.
    #[test]
    fn mutated_recordings_never_panic(pick in any::<u64>(), which in 0usize..4, junk in prop_oneof![
        Just(json!(null)), Just(json!("")), Just(json!("zz")), Just(json!(-1)),
        Just(json!(1.5)), Just(json!([])), Just(json!({})), Just(json!({"stringValue": 7})),
        Just(json!("0000000000000000")), Just(json!(true)),
    ]) {
        let mut doc = read_json(&data(&format!("{}.json", FIXTURES[which])));
        mutate(&mut doc, pick, &junk);
        let dir = tempdir(&format!("prop-{}", std::thread::current().name().unwrap_or("t").len()));
        let f = dir.join("m.json");
        std::fs::write(&f, doc.to_string()).unwrap();
        let got = otlp::import_traces(&[f], &TraceOptions::default());
        prop_assert!(got.is_ok(), "{:?}", got.err());
        let got = got.unwrap();
        prop_assert!(got.episodes.len() <= 1);
    }
}

/// An OpenInference trace (LangGraph-style: graph nodes, LLM and TOOL span kinds,
/// `output.value`), hand-built from the OpenInference attribute names; its outcome from
/// an `--outcomes` side file keyed by trace id.
#[test]
fn openinference_graph_nodes_and_an_outcomes_file() {
    let t = "5b8efff798038103d269b633813fc60c";
    let a = |k: &str, v: &str| json!({"key": k, "value": {"stringValue": v}});
    let span =
        |id: &str, parent: Option<&str>, name: &str, start: u64, end: u64, attrs: Vec<Value>| {
            let mut s = json!({"traceId": t, "spanId": id, "name": name,
            "startTimeUnixNano": start, "endTimeUnixNano": end, "attributes": attrs});
            if let Some(p) = parent {
                s["parentSpanId"] = json!(p);
            }
            s
        };
    let spans = vec![
        span(
            "0000000000000001",
            None,
            "LangGraph",
            0,
            100,
            vec![a("openinference.span.kind", "CHAIN")],
        ),
        span(
            "0000000000000002",
            Some("0000000000000001"),
            "researcher",
            1,
            40,
            vec![
                a("openinference.span.kind", "CHAIN"),
                a("graph.node.id", "researcher"),
            ],
        ),
        span(
            "0000000000000003",
            Some("0000000000000002"),
            "ChatOpenAI",
            2,
            20,
            vec![
                a("openinference.span.kind", "LLM"),
                a("llm.model_name", "gpt-4o"),
                a("output.value", "search for X"),
            ],
        ),
        span(
            "0000000000000004",
            Some("0000000000000002"),
            "search",
            21,
            30,
            vec![
                a("openinference.span.kind", "tool"),
                a("tool.name", "search"),
                a("output.value", "X is 42"),
            ],
        ),
        span(
            "0000000000000005",
            Some("0000000000000002"),
            "ChatOpenAI",
            31,
            39,
            vec![
                a("openinference.span.kind", "LLM"),
                a("output.value", "X is 42"),
            ],
        ),
        span(
            "0000000000000006",
            Some("0000000000000001"),
            "writer",
            50,
            99,
            vec![
                a("openinference.span.kind", "CHAIN"),
                a("graph.node.id", "writer"),
                a("graph.node.parent_id", "researcher"),
            ],
        ),
        span(
            "0000000000000007",
            Some("0000000000000006"),
            "ChatOpenAI",
            51,
            98,
            vec![
                a("openinference.span.kind", "LLM"),
                a("output.value", "The answer is 42."),
            ],
        ),
    ];
    let dir = tempdir("openinference");
    let file = dir.join("oi.json");
    std::fs::write(&file, doc_of(spans).to_string()).unwrap();
    let outcomes = dir.join("outcomes.jsonl");
    std::fs::write(
        &outcomes,
        format!(
            "{{\"trace\": \"{}\", \"reward\": 0.25, \"success\": false}}\n",
            t.to_uppercase()
        ),
    )
    .unwrap();
    let opts = TraceOptions {
        outcomes: Some(outcomes),
        ..Default::default()
    };
    let got = import(std::slice::from_ref(&file), &opts);
    assert!(got.errors.is_empty(), "{:?}", got.errors);
    let ep = &got.episodes[0];
    let agents: Vec<Option<&str>> = messages(ep).iter().map(|m| m.agent.as_deref()).collect();
    assert_eq!(
        agents,
        [Some("researcher"), None, Some("researcher"), Some("writer")]
    );
    assert_eq!(messages(ep)[3].text.as_ref().unwrap(), "The answer is 42.");
    let p = parents(ep);
    assert_eq!(p["0000000000000004"], ["0000000000000003"]);
    assert_eq!(
        p["0000000000000005"],
        ["0000000000000003", "0000000000000004"]
    );
    // The writer node starts from its graph parent's last message.
    assert_eq!(p["0000000000000007"], ["0000000000000005"]);
    let o = ep.outcome.as_ref().unwrap();
    assert_eq!((o.reward, o.success), (Some(0.25), Some(false)));
}

/// The older ADK vintage records no inner `generate_content` span and no
/// `invoke_workflow` root: `call_llm` (model attribute, no operation) is then the call,
/// and the episode keeps its agents, tool messages and token totals.
#[test]
fn older_vintage_without_inner_model_spans() {
    let doc = read_json(&data("adk_v2_S4a.json"));
    let spans: Vec<Value> = spans_of(&doc)
        .into_iter()
        .filter(|s| {
            let name = s["name"].as_str().unwrap();
            !name.starts_with("generate_content") && !name.starts_with("invoke_workflow")
        })
        .collect();
    let dir = tempdir("vintage");
    let file = dir.join("v1.json");
    std::fs::write(&file, doc_of(spans).to_string()).unwrap();
    let got = import(std::slice::from_ref(&file), &TraceOptions::default());
    assert!(got.errors.is_empty(), "{:?}", got.errors);
    let old = &got.episodes[0];
    let new = one("adk_v2_S4a");
    assert_eq!(old.agents, new.agents);
    assert_eq!(messages(old).len(), messages(&new).len());
    let truth = read_json(&data("adk_v2_S4a.truth.json"));
    assert_eq!(old.meta.as_ref().unwrap()["tokens"], truth["tokens"]);
    let kinds =
        |e: &InputRecord| -> Vec<bool> { messages(e).iter().map(|m| m.agent.is_none()).collect() };
    assert_eq!(kinds(old), kinds(&new));
}

/// Every framework recording in tests/data/otlp/frameworks (see its README: 16 real
/// traces from nine frameworks and five instrumentations) reads as its truth file says:
/// the agents, the model calls (by span id), the agent of each call, one environment
/// message per tool execution or handoff, the agent that speaks last, and every agent
/// with a path to the outcome.
#[test]
fn every_framework_recording_reads_as_its_truth() {
    let dir = data("frameworks");
    let mut truths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".creditflow.json"))
        .collect();
    truths.sort();
    assert!(
        truths.len() >= 16,
        "recordings missing from {}",
        dir.display()
    );
    let mut failures = Vec::new();
    for truth_path in &truths {
        let recording = PathBuf::from(
            truth_path
                .to_string_lossy()
                .replace(".creditflow.json", ".json"),
        );
        let name = recording.file_name().unwrap().to_string_lossy().to_string();
        let got = import(std::slice::from_ref(&recording), &TraceOptions::default());
        assert!(got.errors.is_empty(), "{name}: {:?}", got.errors);
        let truth = read_json(truth_path);
        for t in truth["traces"].as_array().unwrap() {
            let trace = t["trace_id"].as_str().unwrap();
            let Some(ep) = got
                .episodes
                .iter()
                .find(|e| e.id.as_ref().is_some_and(|i| i.0 == trace))
            else {
                failures.push(format!("{name}: no episode for trace {trace}"));
                continue;
            };
            let role = |m: &creditflow::schema::InputMessage| {
                m.role
                    .as_ref()
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string()
            };
            let calls: Vec<_> = messages(ep)
                .iter()
                .filter(|m| role(m) == "assistant")
                .collect();
            let env = messages(ep).iter().filter(|m| role(m) == "tool").count();
            let mut agents: Vec<String> = Vec::new();
            for m in &calls {
                let a = m.agent.clone().unwrap_or_default();
                if !agents.contains(&a) {
                    agents.push(a);
                }
            }
            let mut want_agents: Vec<String> = t["agents"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_string())
                .collect();
            want_agents.sort();
            agents.sort();
            let mut problems = Vec::new();
            if agents != want_agents {
                problems.push(format!("agents {agents:?}, truth {want_agents:?}"));
            }
            if calls.len() as u64 != t["model_calls"].as_u64().unwrap() {
                problems.push(format!(
                    "{} model calls, truth {}",
                    calls.len(),
                    t["model_calls"]
                ));
            }
            let got_spans: BTreeSet<&str> = calls.iter().map(|m| id(m)).collect();
            if let Some(want) = t["model_call_spans"].as_array() {
                let want: BTreeSet<&str> = want.iter().map(|s| s.as_str().unwrap()).collect();
                if want != got_spans {
                    problems.push(format!("model call spans {got_spans:?}, truth {want:?}"));
                }
            }
            if let Some(of) = t["agent_of_model_call"].as_object() {
                for (span, agent) in of {
                    if let Some(m) = calls.iter().find(|m| id(m) == span)
                        && m.agent.as_deref() != agent.as_str()
                    {
                        problems.push(format!("call {span} by {:?}, truth {agent}", m.agent));
                    }
                }
            }
            let want_env = t["tools"].as_array().map_or(0, Vec::len)
                + t["handoffs"].as_array().map_or(0, Vec::len);
            if env != want_env {
                problems.push(format!("{env} tool/handoff messages, truth {want_env}"));
            }
            if calls.last().and_then(|m| m.agent.as_deref()) != t["final_agent"].as_str() {
                problems.push(format!(
                    "last call by {:?}, truth {}",
                    calls.last().and_then(|m| m.agent.clone()),
                    t["final_agent"]
                ));
            }
            if let Some(flagged) = ep.meta.as_ref().and_then(|m| m.get("unreachable_agents")) {
                problems.push(format!("agents without a path to the outcome: {flagged}"));
            }
            if !problems.is_empty() {
                failures.push(format!("{name} {trace}: {}", problems.join("; ")));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A span for the rule tests below: id and parent are small numbers, attributes strings.
fn rule_span(
    trace: &str,
    id: u64,
    parent: Option<u64>,
    name: &str,
    (start, end): (u64, u64),
    attrs: &[(&str, &str)],
) -> Value {
    let mut s = json!({"traceId": trace, "spanId": format!("{id:016x}"), "name": name,
        "startTimeUnixNano": start, "endTimeUnixNano": end,
        "attributes": attrs.iter().map(|(k, v)| json!({"key": k, "value": {"stringValue": v}})).collect::<Vec<_>>()});
    if let Some(p) = parent {
        s["parentSpanId"] = json!(format!("{p:016x}"));
    }
    s
}

/// Imports one synthetic document and returns its single episode and the notes.
fn import_doc(name: &str, doc: &Value) -> (InputRecord, Vec<String>) {
    let dir = tempdir(name);
    let file = dir.join("trace.json");
    std::fs::write(&file, doc.to_string()).unwrap();
    let got = import(std::slice::from_ref(&file), &TraceOptions::default());
    assert!(got.errors.is_empty(), "{name}: {:?}", got.errors);
    assert_eq!(got.episodes.len(), 1, "{name}");
    (got.episodes.into_iter().next().unwrap(), got.notes)
}

fn agent_credits(ep: &InputRecord) -> BTreeMap<String, f64> {
    let opts = creditflow::ScoreOptions::default();
    let raw: InputRecord = serde_json::from_value(serde_json::to_value(ep).unwrap()).unwrap();
    let rec = creditflow::validate(raw, 1, &opts.validate).unwrap();
    let (out, _) = creditflow::score_record(&rec, &opts).unwrap();
    let creditflow::OutRecord::Episode(e) = out else {
        panic!("not an episode: {out:?}")
    };
    e.agents
        .iter()
        .map(|a| (a.agent.clone(), a.credit))
        .collect()
}

/// Rules 1 and 4 of docs/traces.md: an instrumentation that stamps the same
/// `gen_ai.agent.name` on every span does not rename the invocations, and specialists
/// whose `invoke_agent` is recorded beside the coordinator's tool span (not under it)
/// are linked both ways — their first call depends on the tool call, the tool's result
/// on their answer — so they earn credit.
#[test]
fn agents_called_as_tools_beside_the_tool_earn_credit() {
    let t = "7a0c000000000000000000000000000a";
    let same = [
        ("gen_ai.agent.name", "OpenAI Agent"),
        ("gen_ai.agent.id", "agent"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| -> Vec<(&'static str, &'static str)> {
        same.iter().chain(extra).copied().collect()
    };
    let chat = with(&[
        ("gen_ai.operation.name", "chat"),
        ("gen_ai.request.model", "gpt-4o"),
    ]);
    let tool = |n: &'static str| {
        with(&[
            ("gen_ai.operation.name", "execute_tool"),
            ("gen_ai.tool.name", n),
        ])
    };
    let spans = vec![
        rule_span(
            t,
            1,
            None,
            "invoke_agent coordinator",
            (0, 100),
            &with(&[("gen_ai.operation.name", "invoke_agent")]),
        ),
        rule_span(t, 2, Some(1), "chat gpt-4o", (1, 10), &chat),
        rule_span(
            t,
            3,
            Some(1),
            "execute_tool ask_researcher",
            (11, 40),
            &tool("ask_researcher"),
        ),
        rule_span(
            t,
            4,
            Some(1),
            "invoke_agent researcher",
            (12, 39),
            &with(&[("gen_ai.operation.name", "invoke_agent")]),
        ),
        rule_span(t, 5, Some(4), "chat gpt-4o", (13, 38), &chat),
        rule_span(
            t,
            6,
            Some(1),
            "execute_tool ask_writer",
            (41, 70),
            &tool("ask_writer"),
        ),
        rule_span(
            t,
            7,
            Some(1),
            "invoke_agent writer",
            (42, 69),
            &with(&[("gen_ai.operation.name", "invoke_agent")]),
        ),
        rule_span(t, 8, Some(7), "chat gpt-4o", (43, 68), &chat),
        rule_span(t, 9, Some(1), "chat gpt-4o", (71, 99), &chat),
    ];
    let (ep, notes) = import_doc("beside", &doc_of(spans));
    assert!(notes.is_empty(), "{notes:?}");
    let agents: Vec<Option<&str>> = messages(&ep).iter().map(|m| m.agent.as_deref()).collect();
    assert_eq!(
        agents,
        [
            Some("coordinator"),
            None,
            Some("researcher"),
            None,
            Some("writer"),
            Some("coordinator")
        ]
    );
    let p = parents(&ep);
    let h = |i: u64| format!("{i:016x}");
    assert_eq!(
        p[&h(3)],
        [h(2)],
        "the tool call depends on the call that asked for it"
    );
    assert_eq!(p[&h(5)], [h(3)], "the researcher starts from the tool call");
    assert_eq!(p[&h(8)], [h(6)], "the writer starts from its tool call");
    assert_eq!(
        p[&h(9)],
        [h(2), h(3), h(5), h(6), h(8)],
        "the coordinator's last call sees both tool results and both answers"
    );
    let credit = agent_credits(&ep);
    for who in ["researcher", "writer"] {
        assert!(
            credit[who] > 0.0,
            "{who} did work and earns credit: {credit:?}"
        );
    }
}

/// Rule 3: a handoff (`agent_handoff`, `transfer_to_*`, `gen_ai.handoff.*`; ERROR status
/// or not) is an environment message on the handing-off call, and the next agent's first
/// call depends on it — also when another agent's message ended later.
#[test]
fn handoffs_link_the_next_agent_in_every_form() {
    type Form<'a> = (&'a str, Vec<(&'a str, &'a str)>, bool);
    let forms: [Form; 3] = [
        (
            "agent_handoff",
            vec![
                ("gen_ai.operation.name", "agent_handoff"),
                ("gen_ai.handoff.target_agent", "billing"),
            ],
            true,
        ),
        ("transfer_to_billing", vec![], false),
        (
            "handoff",
            vec![("from_agent", "triage"), ("to_agent", "billing")],
            false,
        ),
    ];
    for (name, attrs, error) in forms {
        let t = "7a0c000000000000000000000000000b";
        let chat = [
            ("gen_ai.operation.name", "chat"),
            ("gen_ai.request.model", "m"),
        ];
        let invoke = [("gen_ai.operation.name", "invoke_agent")];
        let mut handoff = rule_span(t, 3, Some(1), name, (11, 12), &attrs);
        if error {
            handoff["status"] = json!({"code": 2, "message": "handoff raised"});
        }
        let spans = vec![
            rule_span(
                t,
                10,
                None,
                "invoke_workflow support",
                (0, 100),
                &[("gen_ai.operation.name", "invoke_workflow")],
            ),
            rule_span(t, 1, Some(10), "invoke_agent triage", (0, 30), &invoke),
            rule_span(t, 2, Some(1), "chat m", (1, 10), &chat),
            handoff,
            // A logger agent that finishes after the handoff, before billing starts.
            rule_span(t, 20, Some(10), "invoke_agent logger", (5, 35), &invoke),
            rule_span(t, 21, Some(20), "chat m", (6, 34), &chat),
            rule_span(t, 4, Some(10), "invoke_agent billing", (40, 90), &invoke),
            rule_span(t, 5, Some(4), "chat m", (41, 89), &chat),
        ];
        let (ep, _) = import_doc(&format!("handoff-{name}"), &doc_of(spans));
        let p = parents(&ep);
        let h = |i: u64| format!("{i:016x}");
        assert_eq!(
            p[&h(3)],
            [h(2)],
            "{name}: the handoff follows the call that made it"
        );
        if name == "transfer_to_billing" {
            // No target named: the latest message another agent ended wins; the logger's
            // answer ended after the handoff.
            assert_eq!(p[&h(5)], [h(21)], "{name}");
        } else {
            assert_eq!(p[&h(5)], [h(3)], "{name}: billing starts from the handoff");
        }
        let m = messages(&ep).iter().find(|m| id(m) == h(3)).unwrap();
        assert_eq!(m.agent, None, "{name}: a handoff is an environment message");
    }
}

/// Rule 1: AgentOps / OpenLLMetry agent spans (`agentops.span.kind`,
/// `traceloop.span.kind`, `<role>.agent`, `agent.role`) and OpenInference `AGENT` spans
/// without a name attribute name their agents; the resource's `service.name` is only the
/// last resort.
#[test]
fn agent_spans_of_every_instrumentation_name_their_agents() {
    let t = "7a0c000000000000000000000000000c";
    let llm = [
        ("traceloop.span.kind", "llm"),
        ("gen_ai.request.model", "m"),
        ("gen_ai.usage.input_tokens", "5"),
    ];
    let spans = vec![
        rule_span(
            t,
            1,
            None,
            "crew.workflow",
            (0, 100),
            &[("traceloop.span.kind", "workflow")],
        ),
        rule_span(
            t,
            2,
            Some(1),
            "Researcher.agent",
            (1, 30),
            &[("agentops.span.kind", "agent")],
        ),
        rule_span(t, 3, Some(2), "openai.chat", (2, 29), &llm),
        rule_span(
            t,
            4,
            Some(1),
            "write",
            (31, 60),
            &[("traceloop.span.kind", "agent"), ("agent.role", "Writer")],
        ),
        rule_span(t, 5, Some(4), "openai.chat", (32, 59), &llm),
        rule_span(
            t,
            6,
            Some(1),
            "CodeAgent.run",
            (61, 90),
            &[("openinference.span.kind", "AGENT")],
        ),
        rule_span(
            t,
            7,
            Some(6),
            "LiteLLMModel.__call__",
            (62, 89),
            &[("openinference.span.kind", "LLM"), ("llm.model_name", "m")],
        ),
        // No agent span at all: the service name.
        rule_span(t, 8, Some(1), "openai.chat", (91, 99), &llm),
    ];
    let mut doc = doc_of(spans);
    doc["resourceSpans"][0]["resource"]["attributes"][0]["value"]["stringValue"] =
        json!("agentops");
    let (ep, _) = import_doc("agent-spans", &doc);
    let agents: Vec<Option<&str>> = messages(&ep).iter().map(|m| m.agent.as_deref()).collect();
    assert_eq!(
        agents,
        [
            Some("Researcher"),
            Some("Writer"),
            Some("CodeAgent"),
            Some("agentops")
        ]
    );
}

/// Rule 2: a span with a request model and messages or usage is a model call whatever
/// its operation (`call_llm`); a wrapper and the provider span inside it are one call;
/// spans with output or usage but no request model are named in a note, not dropped
/// silently; a trace with nothing to import is a note.
#[test]
fn model_calls_by_shape_and_dropped_spans_are_said() {
    let t = "7a0c000000000000000000000000000d";
    let spans = vec![
        rule_span(
            t,
            1,
            None,
            "invoke_agent solver",
            (0, 100),
            &[("gen_ai.operation.name", "invoke_agent")],
        ),
        rule_span(
            t,
            2,
            Some(1),
            "call_llm",
            (1, 20),
            &[
                ("gen_ai.operation.name", "call_llm"),
                ("gen_ai.request.model", "m"),
                ("gen_ai.usage.output_tokens", "7"),
            ],
        ),
        rule_span(
            t,
            3,
            Some(1),
            "llm wrapper",
            (21, 50),
            &[
                ("gen_ai.request.model", "m"),
                ("gen_ai.usage.output_tokens", "9"),
            ],
        ),
        rule_span(
            t,
            4,
            Some(3),
            "chat m",
            (22, 49),
            &[
                ("gen_ai.operation.name", "chat"),
                ("gen_ai.request.model", "m"),
            ],
        ),
        rule_span(
            t,
            5,
            Some(1),
            "mystery",
            (51, 60),
            &[("gen_ai.output.messages", "[]")],
        ),
    ];
    let (ep, notes) = import_doc("shapes", &doc_of(spans));
    let ids: Vec<&str> = messages(&ep).iter().map(id).collect();
    assert_eq!(ids, [format!("{:016x}", 2), format!("{:016x}", 4)]);
    assert!(
        notes
            .iter()
            .any(|n| n.contains(t) && n.contains(&format!("{:016x}", 5))),
        "{notes:?}"
    );
    let nothing = doc_of(vec![rule_span(t, 1, None, "GET /health", (0, 1), &[])]);
    let dir = tempdir("nothing");
    let file = dir.join("trace.json");
    std::fs::write(&file, nothing.to_string()).unwrap();
    let got = import(std::slice::from_ref(&file), &TraceOptions::default());
    assert!(got.episodes.is_empty() && got.errors.is_empty());
    assert!(
        got.notes.iter().any(|n| n.contains("nothing to import")),
        "{:?}",
        got.notes
    );
}

/// Rule 5: an agent whose messages have no path through `parents` to the episode's last
/// message is flagged (`meta.flags`, `meta.unreachable_agents`) and reported.
#[test]
fn agents_without_a_path_to_the_outcome_are_flagged() {
    let t = "7a0c000000000000000000000000000e";
    let chat = [
        ("gen_ai.operation.name", "chat"),
        ("gen_ai.request.model", "m"),
    ];
    let spans = vec![
        rule_span(
            t,
            1,
            None,
            "invoke_agent main",
            (0, 100),
            &[("gen_ai.operation.name", "invoke_agent")],
        ),
        rule_span(t, 2, Some(1), "chat m", (1, 10), &chat),
        rule_span(t, 3, Some(1), "chat m", (50, 99), &chat),
        // A side agent between main's calls: main's last call continues its own
        // conversation, so nothing of the auditor reaches main's answer.
        rule_span(
            t,
            4,
            None,
            "invoke_agent auditor",
            (20, 40),
            &[("gen_ai.operation.name", "invoke_agent")],
        ),
        rule_span(t, 5, Some(4), "chat m", (21, 39), &chat),
    ];
    let (ep, notes) = import_doc("unreachable", &doc_of(spans));
    let meta = ep.meta.as_ref().unwrap();
    assert_eq!(meta["unreachable_agents"], json!(["auditor"]), "{meta}");
    assert_eq!(meta["flags"], json!(["unreachable_agent"]));
    assert!(notes.iter().any(|n| n.contains("auditor")), "{notes:?}");
}

/// Rule 6: `gen_ai.evaluation.result` as a span event, as a log record with
/// `eventName`, with an `event.name` attribute and with an `otel.event.name` attribute.
#[test]
fn judge_scores_in_every_event_form() {
    let t = "7a0c000000000000000000000000000f";
    let chat = [
        ("gen_ai.operation.name", "chat"),
        ("gen_ai.request.model", "m"),
    ];
    let mut spans = vec![rule_span(
        t,
        1,
        None,
        "invoke_agent a",
        (0, 100),
        &[("gen_ai.operation.name", "invoke_agent")],
    )];
    for k in 0..4u64 {
        spans.push(rule_span(
            t,
            2 + k,
            Some(1),
            "chat m",
            (1 + 10 * k, 9 + 10 * k),
            &chat,
        ));
    }
    let eval_attrs = |score: f64| {
        vec![
            json!({"key": "gen_ai.evaluation.name", "value": {"stringValue": "judge"}}),
            json!({"key": "gen_ai.evaluation.score.value", "value": {"doubleValue": score}}),
        ]
    };
    spans[1]["events"] = json!([{"name": "gen_ai.evaluation.result", "timeUnixNano": "9",
        "attributes": eval_attrs(0.1)}]);
    let log = |span: u64, score: f64, how: &str| {
        let mut r = json!({"traceId": t, "spanId": format!("{span:016x}"), "attributes": eval_attrs(score)});
        match how {
            "eventName" => r["eventName"] = json!("gen_ai.evaluation.result"),
            key => r["attributes"]
                .as_array_mut()
                .unwrap()
                .push(json!({"key": key, "value": {"stringValue": "gen_ai.evaluation.result"}})),
        }
        r
    };
    let mut doc = doc_of(spans);
    doc["resourceLogs"] = json!([{"resource": {}, "scopeLogs": [{"scope": {}, "logRecords": [
        log(3, 0.2, "eventName"), log(4, 0.3, "event.name"), log(5, 0.4, "otel.event.name")]}]}]);
    let (ep, _) = import_doc("event-forms", &doc);
    let scores: Vec<Option<f64>> = messages(&ep).iter().map(|m| m.score).collect();
    assert_eq!(scores, [Some(0.1), Some(0.2), Some(0.3), Some(0.4)]);
}

/// A flat trace of `n` model calls with no parents and no agent invocations (a concurrent
/// trace whose structure was lost), agents named on the spans.
fn flat_trace(n: u64) -> Value {
    let t = "7a0c0000000000000000000000000010";
    let spans: Vec<Value> = (0..n)
        .map(|k| {
            let agent = format!("agent_{}", k % 7);
            rule_span(
                t,
                k + 1,
                None,
                "chat m",
                (k, k + 1),
                &[
                    ("gen_ai.operation.name", "chat"),
                    ("gen_ai.agent.name", agent.as_str()),
                ],
            )
        })
        .collect();
    doc_of(spans)
}

/// Spans without structural parents do not expand to n²/2 parent ids (where the
/// structure says nothing, the scorer's `prefix` provenance applies, stored in O(1));
/// past the message limit the trace is one `too_large` error, not an abort.
#[test]
fn a_concurrent_trace_lists_no_parents_and_one_past_the_limit_is_too_large() {
    let (ep, _) = import_doc("flat-20000", &flat_trace(20_000));
    assert_eq!(messages(&ep).len(), 20_000);
    // Linear: each call follows the one before it (one conversation without context),
    // never every earlier message spelled out.
    let ids: usize = messages(&ep)
        .iter()
        .map(|m| m.parents.as_ref().map_or(0, |p| p.len()))
        .sum();
    assert!(ids < 20_000, "{ids} parent ids");
    let line = serde_json::to_string(&ep).unwrap();
    assert!(line.len() < 20_000 * 200, "{} bytes", line.len());
    let n = creditflow::limits::MAX_MESSAGES as u64 + 1;
    let dir = tempdir("flat-too-large");
    let file = dir.join("trace.json");
    std::fs::write(&file, flat_trace(n).to_string()).unwrap();
    let got = import(std::slice::from_ref(&file), &TraceOptions::default());
    assert!(got.episodes.is_empty());
    assert_eq!(got.errors.len(), 1);
    let e = got.errors[0].to_string();
    assert!(e.contains("too_large") && e.contains(&n.to_string()), "{e}");
}

/// Token totals saturate at the largest count instead of wrapping.
#[test]
fn token_totals_saturate() {
    let t = "7a0c0000000000000000000000000011";
    let max = u64::MAX.to_string();
    let spans: Vec<Value> = (0..3)
        .map(|k| {
            rule_span(
                t,
                k + 1,
                None,
                "chat m",
                (k, k + 1),
                &[
                    ("gen_ai.operation.name", "chat"),
                    ("gen_ai.usage.input_tokens", max.as_str()),
                    ("gen_ai.usage.output_tokens", "5"),
                ],
            )
        })
        .collect();
    let (ep, _) = import_doc("tokens", &doc_of(spans));
    let tokens = &ep.meta.as_ref().unwrap()["tokens"];
    assert_eq!(tokens["input"], json!(u64::MAX));
    assert_eq!(tokens["output"], json!(15));
}

/// A file with nothing importable is a non-zero exit naming it; a trace of only
/// `create_agent` spans beside a good one is a note, not an error.
#[test]
fn nothing_importable_is_an_exit_code_and_an_empty_trace_a_note() {
    let bin = env!("CARGO_BIN_EXE_creditflow");
    let dir = tempdir("nothing-importable");
    let good = std::fs::read_to_string(data("adk_v2_S4a.json")).unwrap();
    let truncated = dir.join("truncated.json");
    std::fs::write(&truncated, &good[..good.len() / 2]).unwrap();
    let t = "7a0c0000000000000000000000000012";
    let only_create = doc_of(vec![rule_span(
        t,
        1,
        None,
        "create_agent helper",
        (0, 1),
        &[("gen_ai.operation.name", "create_agent")],
    )]);
    let empty = dir.join("create_agent.json");
    std::fs::write(&empty, only_create.to_string()).unwrap();
    let out = dir.join("out.jsonl");
    let run = |files: &[&Path]| {
        Command::new(bin)
            .arg("import")
            .args(files)
            .arg("-o")
            .arg(&out)
            .output()
            .unwrap()
    };
    for f in [&truncated, &empty] {
        let o = run(&[f]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{}: {stderr}", f.display());
        assert!(stderr.contains(&f.display().to_string()), "{stderr}");
    }
    let o = run(&[&data("adk_v2_S4a.json"), &empty]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("trace {t}: nothing to import")),
        "{stderr}"
    );
}

/// Past `--memory` the import spills to a private directory in `$TMPDIR` and leaves
/// nothing there; a missing `$TMPDIR` is an error naming it, never created silently.
#[test]
fn spilling_needs_an_existing_tmpdir_and_leaves_nothing() {
    let bin = env!("CARGO_BIN_EXE_creditflow");
    let dir = tempdir("spill");
    let spans: Vec<Value> = (0..4000u64)
        .map(|k| {
            let mut s = rule_span(
                &format!("{:032x}", k + 1),
                k + 1,
                None,
                "chat m",
                (k, k + 1),
                &[("gen_ai.operation.name", "chat")],
            );
            s["attributes"].as_array_mut().unwrap().push(
                json!({"key": "gen_ai.agent.name", "value": {"stringValue": "a".repeat(300)}}),
            );
            s
        })
        .collect();
    let file = dir.join("many.json");
    std::fs::write(&file, doc_of(spans).to_string()).unwrap();
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let import = |tmpdir: &Path, memory: &str, out: &Path| {
        Command::new(bin)
            .env("TMPDIR", tmpdir)
            .args(["import", "--memory", memory, "-o"])
            .arg(out)
            .arg(&file)
            .output()
            .unwrap()
    };
    let (spilled, held) = (dir.join("spilled.jsonl"), dir.join("held.jsonl"));
    let o = import(&tmp, "1", &spilled);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(import(&tmp, "512", &held).status.success());
    let sorted = |p: &Path| {
        let mut l: Vec<String> = std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
        l.sort();
        l
    };
    assert_eq!(sorted(&spilled), sorted(&held));
    assert_eq!(sorted(&spilled).len(), 4000);
    assert_eq!(
        std::fs::read_dir(&tmp).unwrap().count(),
        0,
        "nothing left in TMPDIR"
    );
    let missing = dir.join("no-such-tmp");
    let o = import(&missing, "1", &dir.join("never.jsonl"));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        stderr.contains("TMPDIR") && stderr.contains("no-such-tmp"),
        "{stderr}"
    );
    assert!(!missing.exists(), "TMPDIR is not created");
    assert!(!dir.join("never.jsonl").exists());
}
