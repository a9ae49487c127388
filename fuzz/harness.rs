//! The fuzz harness: one function per target, shared by the cargo-fuzz binaries
//! (`fuzz/fuzz_targets/`) and by `tests/fuzz_corpus.rs`, which replays the stored corpora
//! on stable in every `cargo test`. Each function must never panic on any input, and
//! checks the invariants that hold on any input.

use std::io::Cursor;

use creditflow::io::chat::{ImportOptions, import_text};
use creditflow::io::jsonl::run_score;
use creditflow::options::{
    Aggregate, Link, MessageCreditKind, Method, Players, Provenance, RunOptions, ValidateOptions,
};
use creditflow::parse_and_validate;

/// The record parser and validator, under every provenance.
pub fn parse_validate(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for provenance in [Provenance::Prefix, Provenance::Chain, Provenance::None] {
        let opts = ValidateOptions {
            provenance,
            threshold: 0.5,
        };
        if let Err(e) = parse_and_validate(text, 7, &opts) {
            assert_eq!(e.line, 7, "an error names its line");
            assert!(!e.field.is_empty(), "an error names its field");
        }
    }
}

/// Chat import from memory, as a single log and as JSON Lines.
pub fn import_chat(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for name in ["fuzz.json", "fuzz.jsonl"] {
        let imported = import_text(text, name, &ImportOptions::default());
        // Every imported episode is a valid input record for `score`.
        for e in &imported.episodes {
            let line = serde_json::to_string(e).expect("an input record serializes");
            let opts = ValidateOptions::default();
            if let Err(err) = parse_and_validate(&line, 1, &opts) {
                // The import keeps what the log says; only size limits may refuse it.
                assert_eq!(
                    err.kind,
                    creditflow::ErrorKind::TooLarge,
                    "an imported episode must validate: {err}"
                );
            }
        }
    }
}

/// The whole `score` pipeline on a small input; the first byte picks the options. One
/// output line per input record, each valid JSON with an `id` field.
pub fn score(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let mut opts = RunOptions::default();
    let s = &mut opts.score;
    s.method = [
        Method::Auto,
        Method::Exact,
        Method::Permutation,
        Method::ClosedForm,
    ][(pick & 3) as usize];
    s.players = [Players::Both, Players::Agents, Players::Messages][(pick >> 2 & 3) as usize % 3];
    s.message_credit =
        [MessageCreditKind::Owen, MessageCreditKind::Shapley][(pick >> 4 & 1) as usize];
    s.model.aggregate =
        [Aggregate::Mean, Aggregate::Min, Aggregate::Max][(pick >> 5 & 3) as usize % 3];
    s.model.link = if pick & 0x80 != 0 {
        Link::Logistic {
            kappa: 6.0,
            tau: 0.4,
        }
    } else {
        Link::Linear
    };
    s.sampling.samples = 4;
    s.signals.pairs = true;
    opts.chunk_records = 3;
    opts.chunk_bytes = 4096;
    let mut out = Vec::new();
    let summary = match run_score(Cursor::new(rest), &mut out, &opts, |_| {}) {
        Ok(s) => s,
        // A JSON array or a pretty-printed document is refused as a whole.
        Err(creditflow::Error::NotJsonLines { .. }) => return,
        Err(e) => panic!("a non-strict run over memory fails only on a non-JSON-Lines input: {e}"),
    };
    let text = String::from_utf8(out).expect("output is UTF-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.len() as u64,
        summary.records,
        "one output line per record"
    );
    for l in lines {
        let v: serde_json::Value = serde_json::from_str(l).expect("every output line is JSON");
        assert!(v.get("id").is_some(), "every output record has an id: {l}");
        assert!(!l.contains("null,\"se\""), "no null credit: {l}");
    }
}

/// A scratch file of this process for the readers that read files (one fuzzing process
/// runs one input at a time).
#[cfg(feature = "parquet")]
fn scratch_file(ext: &str, data: &[u8]) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!(
        "creditflow-fuzz-{}-{:?}.{ext}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::write(&path, data).expect("the temporary directory is writable");
    path
}

#[cfg(feature = "parquet")]
/// The Parquet reader on arbitrary bytes: never a panic (the parquet crate's own panics
/// on corrupt files are caught and become errors naming the file), and whatever is read
/// is scored like any input.
pub fn parquet(data: &[u8]) {
    // The parquet crate panics on some corrupt files; the reader catches those panics
    // (`creditflow::io::in_guard()` is true meanwhile) and reports an error. libFuzzer's
    // hook aborts on any panic, so it is kept for panics outside the guard only.
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let fuzzer = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !creditflow::io::in_guard() {
                fuzzer(info);
            }
        }));
    });
    let path = scratch_file("parquet", data);
    let mut opts = RunOptions::default();
    opts.score.sampling.samples = 2;
    opts.chunk_records = 8;
    if let Ok((source, _)) = creditflow::io::parquet::open(&path, true) {
        let mut sink: Vec<creditflow::Scored> = Vec::new();
        if let Err(e) = creditflow::score(source, &mut sink, &opts, |_| {}) {
            let text = e.to_string();
            assert!(!text.is_empty());
        }
    }
    let _ = std::fs::remove_file(&path);
}

/// A hostile but valid OTLP/JSON document built from the fuzz bytes: spans whose ids,
/// parents, times, names, kinds and attributes are drawn from a small alphabet, so that
/// parents point anywhere (cycles, self-parents, unknown ids), spans repeat, times run
/// backwards and attributes take every value kind.
fn otlp_document(data: &[u8]) -> serde_json::Value {
    use serde_json::json;
    let mut bytes = data.iter().copied();
    let mut next = move || bytes.next().unwrap_or(0);
    let names = [
        "invoke_agent coordinator",
        "invoke_agent helper",
        "chat gpt",
        "call_llm",
        "generate_content",
        "execute_tool search",
        "agent_handoff",
        "create_agent",
        "CodeAgent.run",
        "researcher.agent",
    ];
    let keys = [
        "gen_ai.operation.name",
        "gen_ai.agent.name",
        "gen_ai.request.model",
        "gen_ai.usage.input_tokens",
        "openinference.span.kind",
        "agent.name",
        "graph.node.id",
        "graph.node.parent_id",
        "gen_ai.tool.name",
        "traceloop.span.kind",
        "agentops.span.kind",
    ];
    let values = [
        json!({"stringValue": "chat"}),
        json!({"stringValue": "invoke_agent"}),
        json!({"stringValue": "execute_tool"}),
        json!({"stringValue": "AGENT"}),
        json!({"stringValue": "LLM"}),
        json!({"stringValue": "TOOL"}),
        json!({"stringValue": "agent"}),
        json!({"intValue": "9223372036854775807"}),
        json!({"intValue": -3}),
        json!({"doubleValue": 1e308}),
        json!({"boolValue": true}),
        json!({"arrayValue": {"values": [{"stringValue": "x"}]}}),
    ];
    let spans: Vec<serde_json::Value> = (0..(next() % 24))
        .map(|_| {
            let id = next() % 8;
            let parent = next() % 10;
            let start = u64::from(next()) * 1_000;
            let end = start
                .saturating_add(u64::from(next()) * 500)
                .saturating_sub(u64::from(next() % 3) * 100_000);
            let attributes: Vec<serde_json::Value> = (0..(next() % 5))
                .map(|_| {
                    json!({"key": keys[usize::from(next()) % keys.len()],
                           "value": values[usize::from(next()) % values.len()]})
                })
                .collect();
            let mut span = json!({
                "traceId": format!("{:032x}", next() % 3),
                "spanId": format!("{id:016x}"),
                "name": names[usize::from(next()) % names.len()],
                "startTimeUnixNano": start.to_string(),
                "endTimeUnixNano": end.to_string(),
                "attributes": attributes,
                "status": {"code": next() % 3},
            });
            if parent < 8 {
                span["parentSpanId"] = json!(format!("{parent:016x}"));
            }
            span
        })
        .collect();
    json!({"resourceSpans": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "fuzz"}}]},
        "scopeSpans": [{"scope": {"name": "fuzz"}, "spans": spans}]}]})
}

/// The trace importer on hostile structure (and on the raw bytes as text): never a
/// panic; every imported episode is a valid input record of `score`.
pub fn otlp(data: &[u8]) {
    let opts = creditflow::io::otlp::TraceOptions::default();
    let mut inputs = vec![serde_json::to_vec(&otlp_document(data)).expect("JSON")];
    if std::str::from_utf8(data).is_ok() {
        inputs.push(data.to_vec());
    }
    for input in inputs {
        let source =
            creditflow::io::otlp::Source::Stream("fuzz.json".into(), Box::new(Cursor::new(input)));
        let Ok(imported) = creditflow::io::otlp::import_readers(vec![source], &opts) else {
            continue;
        };
        for e in &imported.episodes {
            let line = serde_json::to_string(e).expect("an input record serializes");
            if let Err(err) = parse_and_validate(&line, 1, &ValidateOptions::default()) {
                assert_eq!(
                    err.kind,
                    creditflow::ErrorKind::TooLarge,
                    "an imported episode must validate: {err}"
                );
            }
        }
    }
}

/// The one reader of score's output on arbitrary JSON Lines: never a panic; a record it
/// accepts has distinct message positions below the message limit, and one standard
/// error per Shapley value.
pub fn scored(data: &[u8]) {
    use creditflow::io::scored::{JsonlScored, Scored};
    for r in JsonlScored::new(data, std::path::Path::new("fuzz.jsonl")) {
        match r {
            Ok(Scored::Episode(e)) => {
                let mut seen = std::collections::HashSet::new();
                for m in &e.messages {
                    assert!((m.index as usize) < 1 << 16, "index bounded");
                    assert!(seen.insert(m.index), "positions distinct");
                }
            }
            Ok(Scored::Game(g)) => assert_eq!(g.shapley.len(), g.se.len()),
            Ok(Scored::Error(_)) => {}
            Err(e) => assert!(e.to_string().contains("fuzz.jsonl"), "{e}"),
        }
    }
}
