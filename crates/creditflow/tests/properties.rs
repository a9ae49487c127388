//! Property tests: invariants that hold on any valid input, over random episodes, games
//! and bad lines (proptest shrinks a failure to a small case).
//!
//! - one output line per input record, in input order, whatever lies between them;
//! - efficiency: agent credits sum to R − R0, and Owen message credits to their agent's;
//! - a good record's output does not depend on the bad records around it;
//! - a record's numbers depend only on the record, the options and the seed: shuffling
//!   and splitting the input change nothing (the id-keyed random stream).

use std::collections::BTreeMap;
use std::io::Cursor;

use creditflow::io::jsonl::run_score;
use creditflow::options::{Method, RunOptions};
use proptest::prelude::*;
use serde_json::{Value, json};

/// A random valid episode with id `id`: 1–4 agents, 1–8 messages (the first an
/// environment message), parents among earlier messages or absent, scores in [−1, 1].
fn episode(id: String) -> impl Strategy<Value = String> {
    (1usize..=4, 1usize..=8).prop_flat_map(move |(agents, messages)| {
        let id = id.clone();
        (
            proptest::collection::vec(
                (
                    0..agents + 1,
                    proptest::option::of(proptest::collection::vec(any::<u8>(), 0..3)),
                    proptest::option::of(-100i32..=100),
                ),
                messages,
            ),
            0u32..=100,
            proptest::option::of(0u32..=40),
        )
            .prop_map(move |(msgs, reward, baseline)| {
                let names: Vec<String> = (0..agents).map(|a| format!("a{a}")).collect();
                let mut out = Vec::new();
                for (i, (author, parents, score)) in msgs.into_iter().enumerate() {
                    let mut m = json!({"id": format!("m{i}")});
                    m["agent"] = if i == 0 || author == agents {
                        Value::Null
                    } else {
                        json!(names[author])
                    };
                    if let Some(ps) = parents {
                        let mut ps: Vec<usize> = ps
                            .into_iter()
                            .filter(|_| i > 0)
                            .map(|p| p as usize % i.max(1))
                            .collect();
                        ps.sort_unstable();
                        ps.dedup();
                        m["parents"] =
                            json!(ps.iter().map(|p| format!("m{p}")).collect::<Vec<_>>());
                    }
                    if let Some(s) = score {
                        m["score"] = json!(s as f64 / 100.0);
                    }
                    out.push(m);
                }
                let mut outcome = json!({"reward": reward as f64 / 100.0});
                if let Some(b) = baseline {
                    outcome["baseline"] = json!(b as f64 / 100.0);
                }
                json!({"id": id, "agents": names, "messages": out, "outcome": outcome}).to_string()
            })
    })
}

/// A random bad line: junk text, a non-object, or a record with an unknown parent.
fn bad_line() -> impl Strategy<Value = String> {
    prop_oneof![
        // A first line that opens a JSON array, or is a lone `{`, makes the whole input
        // "not JSON Lines" (a JSON array or a pretty-printed document): bad lines here
        // are bad records.
        "[a-z{}\\[\\]\":,0-9 ]{1,30}".prop_filter("a bad record", |s| {
            let t = s.trim();
            !t.is_empty() && !t.starts_with('[') && t != "{"
        }),
        Just("[1, 2, 3]".to_string()),
        Just(r#"{"id": "bad-parent", "messages": [{"id": "m0", "parents": ["zz"]}], "outcome": {"reward": 1}}"#.to_string()),
        Just(r#"{"messages": []}"#.to_string()),
    ]
}

fn run(input: &str, opts: &RunOptions) -> Vec<Value> {
    let mut out = Vec::new();
    run_score(Cursor::new(input.as_bytes()), &mut out, opts, |_| {}).unwrap();
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn sampled() -> RunOptions {
    let mut o = RunOptions::default();
    o.score.method = Method::Permutation;
    o.score.sampling.samples = 8;
    o
}

fn episodes(n: usize) -> impl Strategy<Value = Vec<String>> {
    (0..n)
        .map(|i| episode(format!("ep-{i}")).boxed())
        .collect::<Vec<_>>()
}

fn by_id(records: &[Value]) -> BTreeMap<String, Value> {
    records
        .iter()
        .filter(|r| r.get("error").is_none())
        .map(|r| (r["id"].as_str().unwrap().to_string(), r.clone()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn one_output_per_record_in_order(
        eps in episodes(4),
        bad in proptest::collection::vec(bad_line(), 0..4),
        blanks in 0usize..3,
    ) {
        let mut lines: Vec<String> = Vec::new();
        for (i, e) in eps.iter().enumerate() {
            if let Some(b) = bad.get(i) {
                lines.push(b.clone());
            }
            for _ in 0..blanks {
                lines.push(String::new());
            }
            lines.push(e.clone());
        }
        let out = run(&(lines.join("\n") + "\n"), &RunOptions::default());
        let records = lines.iter().filter(|l| !l.trim().is_empty()).count();
        prop_assert_eq!(out.len(), records);
        let good: Vec<&str> = out
            .iter()
            .filter(|r| r.get("error").is_none())
            .map(|r| r["id"].as_str().unwrap())
            .collect();
        let want: Vec<String> = (0..eps.len()).map(|i| format!("ep-{i}")).collect();
        prop_assert_eq!(good, want.iter().map(String::as_str).collect::<Vec<_>>());
    }

    #[test]
    fn credits_are_efficient(eps in episodes(3), exact in any::<bool>()) {
        let opts = if exact { RunOptions::default() } else { sampled() };
        for r in run(&(eps.join("\n") + "\n"), &opts) {
            prop_assert!(r.get("error").is_none(), "{}", r);
            let gain = r["reward"].as_f64().unwrap() - r["baseline"].as_f64().unwrap();
            let agents = r["agents"].as_array().unwrap();
            let total: f64 = agents.iter().map(|a| a["credit"].as_f64().unwrap()).sum();
            let scale = 1.0 + gain.abs();
            // With no message by any agent there is no player to give the gain to.
            if r["messages"].as_array().is_some_and(|m| !m.is_empty()) {
                prop_assert!((total - gain).abs() <= 1e-9 * scale, "{} vs {}: {}", total, gain, r);
            }
            // Owen message credit refines agent credit exactly.
            for a in agents {
                let name = a["agent"].as_str().unwrap();
                let sum: f64 = r["messages"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|m| m["agent"] == name)
                    .map(|m| m["credit"].as_f64().unwrap())
                    .sum();
                prop_assert!((sum - a["credit"].as_f64().unwrap()).abs() <= 1e-9 * scale, "{}", r);
            }
        }
    }

    #[test]
    fn good_records_ignore_their_bad_neighbours(
        eps in episodes(3),
        bad in proptest::collection::vec(bad_line(), 1..5),
    ) {
        let opts = sampled();
        let alone = by_id(&run(&(eps.join("\n") + "\n"), &opts));
        let mut mixed = bad.clone();
        mixed.extend(eps.iter().cloned());
        mixed.rotate_left(bad.len() / 2);
        let noisy = by_id(&run(&(mixed.join("\n") + "\n"), &opts));
        prop_assert_eq!(alone, noisy);
    }

    #[test]
    fn shuffling_and_splitting_change_no_number(
        eps in episodes(5),
        seed in any::<u64>(),
        parts in 1usize..4,
    ) {
        let opts = sampled();
        let whole = by_id(&run(&(eps.join("\n") + "\n"), &opts));
        let mut order: Vec<usize> = (0..eps.len()).collect();
        // A seeded shuffle of the lines.
        let mut s = seed | 1;
        for i in (1..order.len()).rev() {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            order.swap(i, (s % (i as u64 + 1)) as usize);
        }
        let mut split = BTreeMap::new();
        for p in 0..parts {
            let part: Vec<&str> = order
                .iter()
                .enumerate()
                .filter(|(k, _)| k % parts == p)
                .map(|(_, &i)| eps[i].as_str())
                .collect();
            split.extend(by_id(&run(&(part.join("\n") + "\n"), &opts)));
        }
        prop_assert_eq!(whole, split);
    }
}
