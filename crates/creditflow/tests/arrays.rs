//! The batch's results as ndarray arrays equal the JSON output field for field, and the
//! dense agent matrix keeps efficiency (each row sums to R − R0).

use std::io::Cursor;

use creditflow::io::jsonl::run_score;
use creditflow::options::{Method, RunOptions};
use creditflow::score_arrays;
use serde_json::Value;

fn batch() -> String {
    let mut text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/episodes.jsonl"
    ))
    .unwrap();
    text.push_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/data/golden/inputs/dag_large.jsonl"
        ))
        .unwrap(),
    );
    text.push_str(r#"{"id": "g", "game": {"players": 3, "terms": [[1.0, [0, 1]], [0.5, [2]]]}}"#);
    text.push('\n');
    text
}

#[test]
fn arrays_equal_the_json_output() {
    for method in [Method::Auto, Method::Permutation] {
        let mut opts = RunOptions::default();
        opts.score.method = method;
        opts.score.sampling.samples = 64;
        let mut json = Vec::new();
        run_score(Cursor::new(batch()), &mut json, &opts, |_| {}).unwrap();
        let (arrays, summary) = score_arrays(Cursor::new(batch()), &opts).unwrap();
        let records: Vec<Value> = String::from_utf8(json)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let episodes: Vec<&Value> = records
            .iter()
            .filter(|r| r.get("branch").is_some())
            .collect();
        let games: Vec<&Value> = records
            .iter()
            .filter(|r| r.get("shapley").is_some())
            .collect();
        assert_eq!(arrays.episodes.len(), episodes.len());
        assert_eq!(summary.episodes as usize, episodes.len());
        assert_eq!(summary.errors as usize, 1, "the example's bad record");
        for (e, rec) in episodes.iter().enumerate() {
            assert_eq!(arrays.episodes[e], rec["id"].as_str().unwrap());
            assert_eq!(arrays.reward[e], rec["reward"].as_f64().unwrap());
            let agents = rec["agents"].as_array().unwrap();
            let a0 = arrays.agent_offsets[e] as usize;
            assert_eq!(arrays.agent_offsets[e + 1] as usize - a0, agents.len());
            for (j, a) in agents.iter().enumerate() {
                assert_eq!(arrays.agent_credit[a0 + j], a["credit"].as_f64().unwrap());
                assert_eq!(arrays.agent_se[a0 + j], a["se"].as_f64().unwrap());
            }
            let msgs = rec["messages"].as_array().unwrap();
            let m0 = arrays.message_offsets[e] as usize;
            assert_eq!(arrays.message_offsets[e + 1] as usize - m0, msgs.len());
            for (j, m) in msgs.iter().enumerate() {
                assert_eq!(
                    arrays.message_index[m0 + j] as u64,
                    m["index"].as_u64().unwrap()
                );
                assert_eq!(arrays.message_credit[m0 + j], m["credit"].as_f64().unwrap());
                assert_eq!(arrays.message_reward[m0 + j], m["reward"].as_f64().unwrap());
                assert_eq!(arrays.message_se[m0 + j], m["se"].as_f64().unwrap());
            }
            let fe = rec["first_error"]
                .get("index")
                .and_then(Value::as_i64)
                .unwrap_or(-1);
            assert_eq!(arrays.first_error[e], fe);
        }
        assert_eq!(arrays.games.len(), games.len());
        for (g, rec) in games.iter().enumerate() {
            let want: Vec<f64> = rec["shapley"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect();
            let (a, b) = (
                arrays.game_offsets[g] as usize,
                arrays.game_offsets[g + 1] as usize,
            );
            assert_eq!(arrays.game_shapley.as_slice().unwrap()[a..b], want[..]);
        }
    }
}

#[test]
fn agent_matrix_rows_sum_to_the_reward_gain() {
    let (arrays, _) = score_arrays(Cursor::new(batch()), &RunOptions::default()).unwrap();
    let m = arrays.agent_matrix();
    let width = (0..arrays.episodes.len())
        .map(|e| arrays.agent_offsets[e + 1] - arrays.agent_offsets[e])
        .max()
        .unwrap() as usize;
    assert_eq!(m.dim(), (arrays.episodes.len(), width));
    for e in 0..arrays.episodes.len() {
        let n = (arrays.agent_offsets[e + 1] - arrays.agent_offsets[e]) as usize;
        let row = m.row(e);
        let sum: f64 = row.iter().take(n).sum();
        let gain = arrays.reward[e] - arrays.baseline[e];
        assert!((sum - gain).abs() < 1e-9, "episode {e}: {sum} vs {gain}");
        assert!(row.iter().skip(n).all(|x| x.is_nan()), "padding is NaN");
    }
    assert_eq!(arrays.agent_se_matrix().dim(), m.dim());
}
