//! `--method regression --budget B` on the command line.

fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

fn score(input: &str, args: &[&str]) -> (String, String, bool) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let path = std::env::temp_dir().join(format!(
        "creditflow-regression-{}-{}.jsonl",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&path, input).unwrap();
    let out = crate::util::bin()
        .arg("score")
        .arg(&path)
        .args(["--backend", "cpu"])
        .args(args)
        .output()
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.success(),
    )
}

#[test]
fn command_line_budget_method_and_errors() {
    let game = r#"{"id":"g","game":{"players":6,"terms":[[1.0,[0,1,2]],[0.5,[3]],[-0.25,[4,5]]]}}"#;
    let (out, err, ok) = score(
        &format!("{game}\n"),
        &["--method", "regression", "--budget", "60"],
    );
    assert!(ok, "{err}");
    let rec: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(rec["method"], "regression");
    assert!(rec["samples"].as_u64().unwrap() <= 60);
    let phi: Vec<f64> = rec["shapley"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    let want = [1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0, 0.5, -0.125, -0.125];
    assert!(max_abs_diff(&phi, &want) < 1e-9, "{phi:?}");

    // Below the smallest budget: an error record naming the record and the field.
    let (out, _, _) = score(
        &format!("{game}\n"),
        &["--method", "regression", "--budget", "13"],
    );
    assert!(out.contains("\"error\""), "{out}");
    assert!(out.contains("game.players") && out.contains("14"), "{out}");

    // --budget sizes the other estimators too: 40 evaluations buy ⌊38/5⌋ = 7
    // permutations of 6 players, in whole pairs: 6.
    let (out, err, ok) = score(
        &format!("{game}\n"),
        &["--method", "permutation", "--budget", "40"],
    );
    assert!(ok, "{err}");
    let rec: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(rec["samples"], 6, "{rec}");

    // Episodes are not black-box games.
    let episode = r#"{"id":"e","agents":["a","b"],"messages":[{"id":"m1","agent":"a","score":0.5},{"id":"m2","agent":"b","score":0.7}],"outcome":{"reward":1.0}}"#;
    let (out, _, _) = score(&format!("{episode}\n"), &["--method", "regression"]);
    assert!(
        out.contains("\"error\"") && out.contains("regression"),
        "{out}"
    );
}
