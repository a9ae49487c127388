//! Import of Who&When chat logs and failure-attribution evaluation, on the logs bundled
//! under `tests/data/whowhen` and, when present, on all 184 logs of the shared data set.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use creditflow::io::chat::gold::GoldError;
use creditflow::io::chat::*;
use creditflow_cli::eval::*;
use serde_json::{Value, json};

/// The four logs bundled with the repository (two per subset).
fn bundled() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/whowhen")
}

const BUNDLED_IDS: [&str; 4] = [
    "algorithm-generated/14",
    "algorithm-generated/30",
    "hand-crafted/14",
    "hand-crafted/6",
];

/// The full data set next to the repository, if it is there; a loud skip otherwise,
/// or a failure when `CREDITFLOW_REQUIRE_SHARED=1`.
fn shared() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/whowhen");
    if dir.is_dir() {
        return Some(dir);
    }
    let message = format!(
        "the Who&When logs were not found at {}; only the bundled logs were tested",
        dir.display()
    );
    if std::env::var("CREDITFLOW_REQUIRE_SHARED").as_deref() == Ok("1") {
        panic!("{message} (CREDITFLOW_REQUIRE_SHARED=1)");
    }
    crate::util::skipped(
        "Who&When over all 184 logs",
        &format!("{message} (CREDITFLOW_REQUIRE_SHARED=1 makes this a failure)"),
    );
    None
}

/// [`import_path`], each episode as its JSON value (what `creditflow import` writes), the
/// form the assertions below index.
fn import_json(path: &Path, opts: &ImportOptions) -> Result<Vec<Value>, ImportError> {
    let episodes = import_path(path, opts)?;
    Ok(episodes
        .iter()
        .map(|e| serde_json::to_value(e).expect("an episode record serializes"))
        .collect())
}

/// A temporary directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "creditflow-import-test-{}-{name}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.0.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, text).unwrap();
        path
    }

    fn write_jsonl(&self, rel: &str, records: &[Value]) -> PathBuf {
        let text: String = records.iter().map(|r| format!("{r}\n")).collect();
        self.write(rel, &text)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// The raw logs under `root`, as (id, subset, parsed JSON), found without the importer.
fn raw_logs(root: &Path) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for subset in ["algorithm-generated", "hand-crafted"] {
        for entry in fs::read_dir(root.join(subset)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                let stem = path.file_stem().unwrap().to_str().unwrap();
                let raw: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
                out.push((format!("{subset}/{stem}"), subset.to_string(), raw));
            }
        }
    }
    out
}

fn speaker(message: &Value) -> &str {
    message["name"]
        .as_str()
        .or_else(|| message["role"].as_str())
        .unwrap()
}

fn prefix_parents(i: usize) -> Value {
    json!((0..i).map(|p| format!("m{p}")).collect::<Vec<_>>())
}

/// Checks one imported episode against its source log; returns whether the gold
/// `mistake_step` falls on a message made environment (`agent: null`).
fn check_episode(episode: &Value, id: &str, subset: &str, raw: &Value) -> bool {
    assert_eq!(episode["id"], json!(id));
    let history = raw["history"].as_array().unwrap();
    let messages = episode["messages"].as_array().unwrap();
    assert_eq!(
        messages.len(),
        history.len(),
        "{id}: one message per history entry"
    );

    let mut first_seen: Vec<String> = Vec::new();
    for (i, (message, source)) in messages.iter().zip(history).enumerate() {
        assert_eq!(message["id"], json!(format!("m{i}")), "{id} message {i}");
        assert_eq!(message["text"], source["content"], "{id} message {i}");
        assert_eq!(message["parents"], prefix_parents(i), "{id} message {i}");
        let expected = normalize_agent(speaker(source));
        assert_eq!(message["agent"], json!(expected), "{id} message {i}");
        if let Some(agent) = expected {
            assert!(!agent.contains('('), "{id}: suffix left in {agent}");
            if !first_seen.contains(&agent) {
                first_seen.push(agent);
            }
        }
    }
    assert_eq!(
        episode["agents"],
        json!(first_seen),
        "{id}: agents in order of appearance"
    );

    let step: u64 = raw["mistake_step"].as_str().unwrap().parse().unwrap();
    let meta = &episode["meta"];
    assert_eq!(
        meta["mistake_step"],
        json!(step),
        "{id}: mistake_step as integer"
    );
    assert_eq!(meta["mistake_agent"], raw["mistake_agent"]);
    assert_eq!(meta["mistake_reason"], raw["mistake_reason"]);
    assert_eq!(meta["question_ID"], raw["question_ID"]);
    assert_eq!(meta["subset"], json!(subset));
    assert_eq!(episode["outcome"], json!({"reward": 0.0, "success": false}));
    messages[step as usize]["agent"].is_null()
}

#[test]
fn bundled_logs_import_one_message_per_history_entry() {
    let episodes = import_json(&bundled(), &ImportOptions::default()).unwrap();
    let ids: Vec<&str> = episodes.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids, BUNDLED_IDS, "sorted relative paths without extension");

    let raw: BTreeMap<String, (String, Value)> = raw_logs(&bundled())
        .into_iter()
        .map(|(id, subset, raw)| (id, (subset, raw)))
        .collect();
    let mut on_environment = 0;
    for episode in &episodes {
        let id = episode["id"].as_str().unwrap();
        let (subset, raw) = &raw[id];
        on_environment += usize::from(check_episode(episode, id, subset, raw));
    }
    // algorithm-generated/14 puts its gold step on a Computer_terminal message.
    assert_eq!(on_environment, 1);

    // Importing twice gives the same records.
    assert_eq!(
        episodes,
        import_json(&bundled(), &ImportOptions::default()).unwrap()
    );
}

#[test]
fn magentic_one_variants_collapse_and_terminals_are_environment() {
    let episodes = import_json(&bundled(), &ImportOptions::default()).unwrap();
    let m1 = episodes
        .iter()
        .find(|e| e["id"] == "hand-crafted/14")
        .unwrap();
    assert_eq!(
        m1["agents"],
        json!(["Orchestrator", "WebSurfer", "FileSurfer"])
    );
    let mut roles = BTreeSet::new();
    for message in m1["messages"].as_array().unwrap() {
        let role = message["role"].as_str().unwrap();
        roles.insert(role);
        let expected = match role {
            "human" | "ComputerTerminal" => Value::Null,
            r if r.starts_with("Orchestrator") => json!("Orchestrator"),
            r => json!(r),
        };
        assert_eq!(message["agent"], expected, "role {role}");
    }
    for variant in [
        "Orchestrator (thought)",
        "Orchestrator (-> WebSurfer)",
        "Orchestrator (-> ComputerTerminal)",
        "Orchestrator (termination condition)",
    ] {
        assert!(roles.contains(variant), "the log exercises {variant}");
    }
    assert_eq!(m1["meta"]["level"], json!(3));

    let ag2 = episodes
        .iter()
        .find(|e| e["id"] == "algorithm-generated/14")
        .unwrap();
    assert_eq!(
        ag2["agents"],
        json!([
            "Ali_Khan_Shows_and_New_Mexican_Cuisine_Expert",
            "Culinary_Awards_Expert"
        ])
    );
    for message in ag2["messages"].as_array().unwrap() {
        let terminal = message["name"] == "Computer_terminal";
        assert_eq!(message["agent"].is_null(), terminal);
    }
    assert_eq!(ag2["meta"]["level"], json!(1), "level \"1\" becomes 1");
    let no_level = episodes
        .iter()
        .find(|e| e["id"] == "hand-crafted/6")
        .unwrap();
    assert!(no_level["meta"].get("level").is_none());
}

#[test]
fn normalize_agent_rules() {
    let cases = [
        ("Orchestrator (thought)", Some("Orchestrator")),
        ("Orchestrator (-> WebSurfer)", Some("Orchestrator")),
        ("Orchestrator (termination condition)", Some("Orchestrator")),
        ("  WebSurfer ", Some("WebSurfer")),
        ("Verification_Expert", Some("Verification_Expert")),
        ("assistant", Some("assistant")),
        ("Planner (a (b))", Some("Planner")),
        ("(thought)", Some("(thought)")),
        ("human", None),
        ("user", None),
        ("System", None),
        ("tool", None),
        ("Computer_terminal", None),
        ("ComputerTerminal", None),
        ("ComputerTerminal (output)", None),
        ("user_proxy", None),
        ("   ", None),
    ];
    for (label, expected) in cases {
        assert_eq!(normalize_agent(label).as_deref(), expected, "{label:?}");
    }
}

#[test]
fn single_file_bare_array_and_jsonl_inputs() {
    let tmp = TempDir::new("forms");
    // One Who&When file: the id is its stem, there is no subset.
    let single = import_json(
        &bundled().join("hand-crafted/6.json"),
        &ImportOptions::default(),
    )
    .unwrap();
    assert_eq!(single.len(), 1);
    assert_eq!(single[0]["id"], "6");
    assert!(single[0]["meta"].get("subset").is_none());

    // A bare message array.
    let bare = tmp.write(
        "chat.json",
        r#"[{"role": "user", "content": "task"},
            {"role": "assistant", "name": "planner", "content": "plan"},
            {"role": "Orchestrator (thought)", "content": {"x": 1}},
            {"role": "tool", "content": null},
            {"role": "assistant", "name": "planner"}]"#,
    );
    let episodes = import_json(&bare, &ImportOptions::default()).unwrap();
    let episode = &episodes[0];
    assert_eq!(episode["id"], "chat");
    assert_eq!(episode["agents"], json!(["planner", "Orchestrator"]));
    let agents: Vec<&Value> = episode["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["agent"])
        .collect();
    assert_eq!(
        agents,
        [
            &Value::Null,
            &json!("planner"),
            &json!("Orchestrator"),
            &Value::Null,
            &json!("planner")
        ]
    );
    assert_eq!(episode["messages"][2]["text"], r#"{"x":1}"#);
    assert_eq!(episode["messages"][3]["text"], "");
    assert_eq!(episode["messages"][4]["text"], "");
    assert_eq!(
        episode["outcome"],
        json!({"reward": 0.0}),
        "no gold label: no success flag"
    );
    assert!(episode.get("meta").is_none());

    // JSON Lines: `id`, then `question_ID`, then `line-N`; blank lines are skipped.
    let log = |extra: Value| {
        let mut record = json!({"history": [{"role": "user", "content": "q"},
                                            {"role": "WebSurfer", "content": "a"}]});
        record
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        record.to_string()
    };
    let jsonl = tmp.write(
        "logs.jsonl",
        &format!(
            "{}\n{}\n\n{}\n",
            log(json!({"id": "a", "question_ID": "ignored"})),
            log(json!({"question_ID": "q-2", "mistake_step": 1, "mistake_agent": "WebSurfer"})),
            log(json!({})),
        ),
    );
    let episodes = import_json(&jsonl, &ImportOptions::default()).unwrap();
    let ids: Vec<&str> = episodes.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["a", "q-2", "line-4"]);
    assert_eq!(episodes[1]["meta"]["mistake_step"], json!(1));
    assert_eq!(episodes[1]["outcome"]["success"], json!(false));

    let duplicate = tmp.write(
        "dup.jsonl",
        &format!("{}\n{}\n", log(json!({"id": "x"})), log(json!({"id": "x"}))),
    );
    let err = import_json(&duplicate, &ImportOptions::default()).unwrap_err();
    assert!(
        matches!(&err, ImportError::DuplicateId { at, first_line: 1, .. } if at.line == Some(2)),
        "{err}"
    );

    // Reward override, and a non-finite reward is refused.
    let opts = ImportOptions {
        reward: 0.25,
        ..ImportOptions::default()
    };
    let episodes = import_json(&bundled(), &opts).unwrap();
    assert!(
        episodes
            .iter()
            .all(|e| e["outcome"]["reward"] == json!(0.25))
    );
    let opts = ImportOptions {
        reward: f64::NAN,
        ..ImportOptions::default()
    };
    assert!(matches!(
        import_json(&bundled(), &opts),
        Err(ImportError::NonFiniteReward(_))
    ));
}

#[test]
fn directory_walk_is_sorted_and_recursive() {
    let tmp = TempDir::new("walk");
    let log = r#"{"history": [{"role": "user", "content": "q"}]}"#;
    for rel in [
        "b/2.json",
        "a/10.json",
        "a/9.json",
        "top.json",
        "a/deep/1.json",
        ".hidden.json",
    ] {
        tmp.write(rel, log);
    }
    tmp.write("notes.txt", "not a log");
    let episodes = import_json(&tmp.0, &ImportOptions::default()).unwrap();
    let ids: Vec<&str> = episodes.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["a/10", "a/9", "a/deep/1", "b/2", "top"]);
    let subsets: Vec<&Value> = episodes.iter().map(|e| &e["meta"]["subset"]).collect();
    assert_eq!(
        subsets,
        [
            &json!("a"),
            &json!("a"),
            &json!("a"),
            &json!("b"),
            &Value::Null
        ]
    );
}

#[test]
fn provenance_modes() {
    let tmp = TempDir::new("provenance");
    let path = tmp.write(
        "p.json",
        r#"{"history": [{"role": "human", "content": "0"}, {"role": "A", "content": "1"},
                        {"role": "B", "content": "2"}, {"role": "A", "content": "3"}]}"#,
    );
    let parents = |provenance| -> Vec<Option<Value>> {
        let opts = ImportOptions {
            provenance,
            ..ImportOptions::default()
        };
        import_json(&path, &opts).unwrap()[0]["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m.get("parents").cloned())
            .collect()
    };
    let some = |ids: &[&str]| Some(json!(ids));
    assert_eq!(
        parents(Provenance::Prefix),
        [
            some(&[]),
            some(&["m0"]),
            some(&["m0", "m1"]),
            some(&["m0", "m1", "m2"])
        ]
    );
    assert_eq!(
        parents(Provenance::Chain),
        [
            some(&[]),
            some(&["m0"]),
            some(&["m0", "m1"]),
            some(&["m0", "m2"])
        ]
    );
    assert_eq!(parents(Provenance::None), [None, None, None, None]);
    assert_eq!(ImportOptions::default().provenance, Provenance::Prefix);

    // The same rules on the real logs.
    let opts = ImportOptions {
        provenance: Provenance::Chain,
        ..ImportOptions::default()
    };
    for episode in import_json(&bundled(), &opts).unwrap() {
        for (i, message) in episode["messages"].as_array().unwrap().iter().enumerate() {
            let expected = match i {
                0 => json!([]),
                1 => json!(["m0"]),
                _ => json!(["m0", format!("m{}", i - 1)]),
            };
            assert_eq!(message["parents"], expected);
        }
    }
}

#[test]
fn scores_side_file_merges_and_bad_lines_are_named() {
    let tmp = TempDir::new("scores");
    let good = tmp.write_jsonl(
        "scores.jsonl",
        &[
            json!({"episode": "hand-crafted/6", "step": 5, "score": -0.5}),
            json!({"episode": "algorithm-generated/30", "step": 0, "score": 0.75}),
        ],
    );
    let opts = |scores: &Path| ImportOptions {
        scores: Some(scores.to_path_buf()),
        ..ImportOptions::default()
    };
    let episodes = import_json(&bundled(), &opts(&good)).unwrap();
    let mut scored = Vec::new();
    for episode in &episodes {
        for message in episode["messages"].as_array().unwrap() {
            if let Some(score) = message.get("score") {
                scored.push((episode["id"].clone(), message["id"].clone(), score.clone()));
            }
        }
    }
    assert_eq!(
        scored,
        [
            (json!("algorithm-generated/30"), json!("m0"), json!(0.75)),
            (json!("hand-crafted/6"), json!("m5"), json!(-0.5)),
        ]
    );

    let ok = r#"{"episode": "hand-crafted/6", "step": 0, "score": 0.1}"#;
    let bad_lines = [
        (r#"{"episode": "nope", "step": 0, "score": 0.1}"#, "nope"),
        (
            r#"{"episode": "hand-crafted/6", "step": 8, "score": 0.1}"#,
            "step",
        ),
        (
            r#"{"episode": "hand-crafted/6", "step": 1, "score": 1.5}"#,
            "score",
        ),
        (
            r#"{"episode": "hand-crafted/6", "step": -1, "score": 0.1}"#,
            "step",
        ),
        (r#"{"episode": "hand-crafted/6", "step": 1}"#, "score"),
        (
            r#"{"episode": "hand-crafted/6", "step": 0, "score": 0.2}"#,
            "already scored",
        ),
        (
            r#"{"episode": "hand-crafted/6", "step": 1, "score": 0.1"#,
            "malformed JSON",
        ),
    ];
    for (bad, needle) in bad_lines {
        let path = tmp.write("bad.jsonl", &format!("{ok}\n\n{bad}\n"));
        let err = import_json(&bundled(), &opts(&path)).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("bad.jsonl, line 3"), "{text}");
        assert!(text.contains(needle), "{text} should mention {needle}");
    }
    let path = tmp.write("unknown.jsonl", &format!("{ok}\n{}\n", bad_lines[0].0));
    let err = import_json(&bundled(), &opts(&path)).unwrap_err();
    assert!(
        matches!(&err, ImportError::UnknownEpisode { at, episode } if at.line == Some(2) && episode == "nope"),
        "{err}"
    );
}

#[test]
fn malformed_logs_are_errors_naming_file_and_field() {
    let tmp = TempDir::new("errors");
    let cases = [
        ("broken.json", r#"{"history": ["#, "malformed JSON"),
        ("nohistory.json", r#"{"messages": []}"#, "`history`"),
        ("scalar.json", r#"{"history": "hi"}"#, "`history`"),
        (
            "notmessage.json",
            r#"{"history": [{"role": "user"}, 3]}"#,
            "`history[1]`",
        ),
        (
            "nospeaker.json",
            r#"{"history": [{"role": "user"}, {"content": "x"}]}"#,
            "history[1]",
        ),
        (
            "badrole.json",
            r#"{"history": [{"role": 7}]}"#,
            "`history[0].role`",
        ),
        (
            "badstep.json",
            r#"{"history": [{"role": "A"}], "mistake_step": "one"}"#,
            "`mistake_step`",
        ),
        (
            "farstep.json",
            r#"{"history": [{"role": "A"}], "mistake_step": "1"}"#,
            "mistake_step",
        ),
        ("number.json", "42", "(record)"),
    ];
    for (name, text, needle) in cases {
        let path = tmp.write(name, text);
        let err = import_json(&path, &ImportOptions::default()).unwrap_err();
        let message = err.to_string();
        assert!(message.contains(name), "{message} should name {name}");
        assert!(
            message.contains(needle),
            "{message} should mention {needle}"
        );
    }
    let err = import_json(&tmp.0.join("nospeaker.json"), &ImportOptions::default()).unwrap_err();
    assert!(matches!(err, ImportError::MissingSpeaker { index: 1, .. }));

    let jsonl = tmp.write("logs.jsonl", "{\"history\": []}\n{\"history\": 5}\n");
    let err = import_json(&jsonl, &ImportOptions::default()).unwrap_err();
    assert!(err.to_string().contains("logs.jsonl, line 2"), "{err}");

    let missing = tmp.0.join("absent.json");
    assert!(matches!(
        import_json(&missing, &ImportOptions::default()),
        Err(ImportError::Io { .. })
    ));
}

#[test]
fn all_shared_logs_import() {
    let Some(root) = shared() else { return };
    let episodes = import_json(&root, &ImportOptions::default()).unwrap();
    let raw: BTreeMap<String, (String, Value)> = raw_logs(&root)
        .into_iter()
        .map(|(id, subset, raw)| (id, (subset, raw)))
        .collect();
    assert_eq!(episodes.len(), 184);
    assert_eq!(raw.len(), 184);

    let mut per_subset: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut on_environment = Vec::new();
    for episode in &episodes {
        let id = episode["id"].as_str().unwrap();
        let (subset, log) = &raw[id];
        if check_episode(episode, id, subset, log) {
            on_environment.push(id.to_string());
        }
        let entry = per_subset.entry(subset.clone()).or_default();
        entry.0 += 1;
        entry.1 += episode["messages"].as_array().unwrap().len();
        if subset == "hand-crafted" {
            for agent in episode["agents"].as_array().unwrap() {
                let agent = agent.as_str().unwrap();
                assert!(
                    ["Orchestrator", "WebSurfer", "FileSurfer", "Assistant"].contains(&agent),
                    "{id}: unexpected Magentic-One agent {agent}"
                );
            }
        }
    }
    assert_eq!(per_subset["algorithm-generated"], (126, 1099));
    assert_eq!(per_subset["hand-crafted"], (58, 2993));
    eprintln!(
        "gold mistake_step on an environment (agent: null) message: {} of 184 ({})",
        on_environment.len(),
        on_environment.join(", ")
    );
    assert_eq!(
        on_environment,
        ["algorithm-generated/14", "algorithm-generated/59"]
    );
}

/// Writes `records` as prediction JSONL.
fn predictions(tmp: &TempDir, name: &str, records: &[Value]) -> PathBuf {
    tmp.write_jsonl(name, records)
}

fn assert_perfect(report: &EvalReport, total: usize) {
    assert_eq!(report.overall.total, total);
    assert_eq!(report.overall.agent_correct, total, "{report}");
    assert_eq!(report.overall.step_correct, total, "{report}");
    assert!(report.missing.is_empty() && report.unmatched.is_empty());
    for counts in report.subsets.values() {
        assert_eq!(counts.agent_accuracy(), 1.0);
        assert_eq!(counts.step_accuracy(), 1.0);
    }
}

fn gold_against_itself(root: &Path, total: usize) {
    let tmp = TempDir::new("self");
    let episodes = import_json(root, &ImportOptions::default()).unwrap();
    // Labels as Who&When writes them (step as a string), in mistake_* form.
    let labels: Vec<Value> = episodes
        .iter()
        .map(|e| {
            json!({"id": e["id"], "mistake_agent": e["meta"]["mistake_agent"],
                   "mistake_step": e["meta"]["mistake_step"].to_string()})
        })
        .collect();
    let pred = predictions(&tmp, "labels.jsonl", &labels);
    let report = evaluate(&pred, root).unwrap();
    assert_perfect(&report, total);
    assert_eq!(report.subsets.len(), 2);
    assert_eq!(report.overall.agent_accuracy(), 1.0);
    assert_eq!(report.overall.step_accuracy(), 1.0);

    // Gold as the importer's episode JSONL, predictions as the scorer's first_error,
    // agent spelled in another case.
    let gold = tmp.write_jsonl("episodes.jsonl", &episodes);
    let first_errors: Vec<Value> = episodes
        .iter()
        .map(|e| {
            let step = e["meta"]["mistake_step"].as_u64().unwrap();
            json!({"id": e["id"], "first_error": {"index": step, "message": format!("m{step}"),
                   "agent": e["meta"]["mistake_agent"].as_str().unwrap().to_uppercase(),
                   "method": "label"}})
        })
        .collect();
    let pred = predictions(&tmp, "first_errors.jsonl", &first_errors);
    let report = evaluate(&pred, &gold).unwrap();
    assert_perfect(&report, total);
    // And the label JSONL itself as gold.
    let report = evaluate(&pred, &tmp.0.join("labels.jsonl")).unwrap();
    assert_perfect(&report, total);
}

#[test]
fn eval_gold_against_itself_is_perfect() {
    gold_against_itself(&bundled(), 4);
    if let Some(root) = shared() {
        gold_against_itself(&root, 184);
    }
}

/// The baseline "blame the last message that has an agent", evaluated by the module and
/// counted here directly from the source logs.
fn last_agent_baseline(root: &Path) -> EvalReport {
    let tmp = TempDir::new("baseline");
    let episodes = import_json(root, &ImportOptions::default()).unwrap();
    let records: Vec<Value> = episodes
        .iter()
        .map(|e| {
            let messages = e["messages"].as_array().unwrap();
            let index = messages
                .iter()
                .rposition(|m| !m["agent"].is_null())
                .unwrap();
            json!({"id": e["id"],
                   "first_error": {"index": index, "message": messages[index]["id"],
                                   "agent": messages[index]["agent"], "method": "baseline"}})
        })
        .collect();
    let pred = predictions(&tmp, "baseline.jsonl", &records);
    let report = evaluate(&pred, root).unwrap();

    // Independent count: straight from the raw logs.
    let mut expected: BTreeMap<String, [usize; 3]> = BTreeMap::new();
    for (_, subset, raw) in raw_logs(root) {
        let history = raw["history"].as_array().unwrap();
        let (index, agent) = history
            .iter()
            .enumerate()
            .rev()
            .find_map(|(i, m)| Some((i, normalize_agent(speaker(m))?)))
            .unwrap();
        let gold_step: usize = raw["mistake_step"].as_str().unwrap().parse().unwrap();
        let gold_agent = raw["mistake_agent"].as_str().unwrap();
        let counts = expected.entry(subset).or_default();
        counts[0] += 1;
        counts[1] += usize::from(agent.eq_ignore_ascii_case(gold_agent));
        counts[2] += usize::from(index == gold_step);
    }
    for (subset, [total, agent, step]) in &expected {
        let got = report.subsets[subset];
        assert_eq!(
            (got.total, got.agent_correct, got.step_correct),
            (*total, *agent, *step),
            "{subset}"
        );
    }
    let sum = |k: usize| expected.values().map(|c| c[k]).sum::<usize>();
    assert_eq!(
        (
            report.overall.total,
            report.overall.agent_correct,
            report.overall.step_correct
        ),
        (sum(0), sum(1), sum(2))
    );
    for accuracy in [
        report.overall.agent_accuracy(),
        report.overall.step_accuracy(),
    ] {
        assert!(
            (0.0..1.0).contains(&accuracy),
            "baseline accuracy {accuracy}"
        );
    }
    report
}

#[test]
fn eval_last_agent_baseline() {
    let report = last_agent_baseline(&bundled());
    eprintln!("last-agent baseline on the bundled logs:\n{report}");
    if let Some(root) = shared() {
        let report = last_agent_baseline(&root);
        eprintln!("last-agent baseline on all 184 Who&When logs:\n{report}");
        let text = report.to_string();
        assert!(text.contains("hand-crafted "), "{text}");
        assert!(text.contains("overall"), "{text}");
    }
}

#[test]
fn eval_compares_integers_and_normalised_names_and_reports_gaps() {
    let tmp = TempDir::new("compare");
    let gold = tmp.write_jsonl(
        "gold.jsonl",
        &[
            json!({"id": "s/a", "mistake_agent": "WebSurfer", "mistake_step": "12"}),
            json!({"id": "s/b", "mistake_agent": "Orchestrator", "mistake_step": 3}),
            json!({"id": "t/c", "meta": {"mistake_agent": "Coder", "mistake_step": 0}}),
            json!({"id": "t/d", "mistake_agent": "Coder", "mistake_step": 1}),
            json!({"id": "t/e", "mistake_agent": "Coder", "mistake_step": 1}),
        ],
    );
    let pred = predictions(
        &tmp,
        "pred.jsonl",
        &[
            // Agent right, and step 1 is not step 12 (the official script's substring test
            // would say it is).
            json!({"id": "s/a", "mistake_agent": "websurfer", "mistake_step": 1}),
            json!({"id": "s/b", "first_error": {"index": 3, "agent": "Orchestrator (thought)"}}),
            json!({"id": "t/c", "first_error": null}),
            json!({"id": "t/e", "error": "cycle in parents"}),
            json!({"id": "extra", "mistake_agent": "Coder", "mistake_step": 0}),
        ],
    );
    let report = evaluate(&pred, &gold).unwrap();
    assert_eq!(
        report.overall,
        Counts {
            total: 5,
            agent_correct: 2,
            step_correct: 1,
            missing: 1,
            no_prediction: 2
        }
    );
    assert_eq!(report.subsets["s"].agent_correct, 2);
    assert_eq!(report.subsets["t"].total, 3);
    assert_eq!(report.missing, ["t/d"]);
    assert_eq!(report.unmatched, ["extra"]);
    let text = report.to_string();
    assert!(
        text.contains("s        agent 2/2 = 100.0%  step 1/2 = 50.0%"),
        "{text}"
    );
    assert!(text.contains("1 gold records have no prediction"), "{text}");
    assert!(text.contains("extra"), "{text}");
}

#[test]
fn eval_errors_name_the_line() {
    let tmp = TempDir::new("evalerr");
    let good = r#"{"id": "hand-crafted/6", "first_error": {"index": 5, "agent": "Orchestrator"}}"#;
    let cases = [
        (
            r#"{"id": "hand-crafted/14", "first_error": "#,
            "malformed JSON",
        ),
        (
            r#"{"id": "hand-crafted/14", "first_error": {"index": "x"}}"#,
            "first_error.index",
        ),
        (
            r#"{"id": "hand-crafted/14", "first_error": {"index": -2}}"#,
            "first_error.index",
        ),
        (
            r#"{"id": "hand-crafted/14", "first_error": 4}"#,
            "first_error",
        ),
        (r#"{"first_error": null}"#, "`id`"),
        (r#"{"id": "hand-crafted/14"}"#, "neither"),
        (
            r#"{"id": "hand-crafted/6", "first_error": null}"#,
            "already appeared",
        ),
        ("[1, 2]", "(record)"),
    ];
    for (bad, needle) in cases {
        let pred = tmp.write("pred.jsonl", &format!("{good}\n{bad}\n"));
        let err = evaluate(&pred, &bundled()).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("pred.jsonl, line 2"), "{text}");
        assert!(text.contains(needle), "{text} should mention {needle}");
    }
    // Gold without a label is an error too.
    let gold = tmp.write_jsonl("gold.jsonl", &[json!({"id": "a", "mistake_step": 1})]);
    let pred = tmp.write("pred.jsonl", &format!("{good}\n"));
    let err = evaluate(&pred, &gold).unwrap_err();
    assert!(
        matches!(
            &err,
            EvalError::Gold(GoldError::MissingLabel {
                field: "mistake_agent",
                ..
            })
        ),
        "{err}"
    );
    assert!(err.to_string().contains("gold.jsonl, line 1"), "{err}");
}

#[test]
fn run_import_writes_one_episode_per_line() {
    let tmp = TempDir::new("run");
    let output = tmp.0.join("episodes.jsonl");
    let bin = env!("CARGO_BIN_EXE_creditflow");
    let run = std::process::Command::new(bin)
        .arg("import")
        .arg(bundled())
        .arg("-o")
        .arg(&output)
        .args(["--provenance", "none", "--reward", "-0.5"])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let written: Vec<Value> = fs::read_to_string(&output)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let opts = ImportOptions {
        provenance: Provenance::None,
        reward: -0.5,
        scores: None,
    };
    assert_eq!(written, import_json(&bundled(), &opts).unwrap());

    // The written episodes serve as gold for `eval-failures`.
    let pred = tmp.write_jsonl(
        "pred.jsonl",
        &[json!({"id": "hand-crafted/6", "mistake_agent": "Orchestrator", "mistake_step": 5})],
    );
    let run = std::process::Command::new(bin)
        .arg("eval-failures")
        .arg(&pred)
        .arg(&output)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let report = evaluate(&pred, &output).unwrap();
    assert_eq!(String::from_utf8(run.stdout).unwrap(), report.to_string());
    assert_eq!(report.overall.agent_correct, 1);
    assert_eq!(report.overall.step_correct, 1);
    assert_eq!(report.missing.len(), 3);
}

/// A deliberately simple judge for the end-to-end run: a message that mentions an error
/// or a failure scores −0.5, every other agent message 0.3. Real users bring their own.
fn keyword_judge(content: &str) -> f64 {
    let c = content.to_lowercase();
    if ["error", "failed", "unable", "cannot", "not found"]
        .iter()
        .any(|k| c.contains(k))
    {
        -0.5
    } else {
        0.3
    }
}

/// The whole pipeline on real logs: import with a judge's scores side file, score with
/// preference pairs and reward rows, and evaluate the first errors against the gold labels.
fn end_to_end(root: &Path, expect_episodes: usize) {
    let tmp = TempDir::new(&format!("e2e-{expect_episodes}"));
    let bin = env!("CARGO_BIN_EXE_creditflow");
    let episodes = import_json(root, &ImportOptions::default()).expect("import");
    assert_eq!(episodes.len(), expect_episodes);
    let mut scores = String::new();
    for ep in &episodes {
        for (i, m) in ep["messages"].as_array().unwrap().iter().enumerate() {
            if !m["agent"].is_null() {
                let s = keyword_judge(m["text"].as_str().unwrap_or(""));
                scores.push_str(&format!(
                    "{}\n",
                    json!({"episode": ep["id"], "step": i, "score": s})
                ));
            }
        }
    }
    let scores_path = tmp.write("scores.jsonl", &scores);
    let eps_path = tmp.0.join("episodes.jsonl");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(bin).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    run(&[
        "import",
        root.to_str().unwrap(),
        "--scores",
        scores_path.to_str().unwrap(),
        "-o",
        eps_path.to_str().unwrap(),
    ]);
    let scored = tmp.0.join("scored.jsonl");
    let pairs = tmp.0.join("pairs.jsonl");
    let rewards = tmp.0.join("rewards.jsonl");
    run(&[
        "score",
        eps_path.to_str().unwrap(),
        "--strict",
        "-o",
        scored.to_str().unwrap(),
        "--pairs",
        pairs.to_str().unwrap(),
        "--rewards",
        rewards.to_str().unwrap(),
    ]);
    let out: Vec<Value> = fs::read_to_string(&scored)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(out.len(), expect_episodes);
    let mut with_error = 0;
    for (o, ep) in out.iter().zip(&episodes) {
        assert_eq!(o["id"], ep["id"]);
        assert_eq!(o["branch"], "failure");
        if let Some(fe) = o["first_error"].as_object() {
            with_error += 1;
            let i = fe["index"].as_u64().unwrap() as usize;
            let m = &ep["messages"][i];
            assert!(!m["agent"].is_null(), "the first error is an agent message");
            assert_eq!(fe["agent"], m["agent"]);
        }
    }
    assert!(with_error > 0);
    let n_pairs = fs::read_to_string(&pairs).unwrap().lines().count();
    let n_rows = fs::read_to_string(&rewards).unwrap().lines().count();
    let n_agent_msgs: usize = episodes
        .iter()
        .map(|e| {
            e["messages"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|m| !m["agent"].is_null())
                .count()
        })
        .sum();
    assert_eq!(n_rows, n_agent_msgs, "one reward row per agent message");
    assert!(n_pairs >= with_error, "a pair record at every first error");
    let report = evaluate(&scored, root).expect("eval");
    assert_eq!(report.overall.total, expect_episodes);
    eprintln!(
        "end to end over {expect_episodes} logs, keyword judge + label first error:\n{report}"
    );
}

#[test]
fn end_to_end_on_bundled_logs() {
    end_to_end(&bundled(), BUNDLED_IDS.len());
}

#[test]
fn end_to_end_on_all_184_logs() {
    if let Some(root) = shared() {
        end_to_end(&root, 184);
    }
}
