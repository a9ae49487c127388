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
    let summary = run_score(Cursor::new(rest), &mut out, &opts, |_| {})
        .expect("a non-strict run over memory never fails");
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
