//! Bad input (DESIGN §2.3): every error kind names the record id, the 1-based line and
//! the exact field; plus provenance fill-in, derived agents and structural credit.

use std::io::Cursor;

use crate::csr::{CsrBatch, Parents};
use crate::io::jsonl::parse_and_validate;
use crate::io::jsonl::run_score;
use crate::model::{Episode, Game, GameForm, Record};
use crate::options::RunOptions;
use crate::validate::{Provenance, ValidateOptions};
use crate::{ErrorKind, RecordError};
use serde_json::Value;

fn opts() -> ValidateOptions {
    ValidateOptions::default()
}

fn bad(text: &str, line: u64) -> RecordError {
    match parse_and_validate(text, line, &opts()) {
        Ok(r) => panic!("line {line} should be rejected, got {r:?}"),
        Err(e) => e,
    }
}

/// Asserts the kind, id, line and field of the error for `text` read from `line`.
fn expect(text: &str, line: u64, kind: ErrorKind, id: Option<&str>, field: &str) -> RecordError {
    let e = bad(text, line);
    assert_eq!(e.kind, kind, "kind for {text}: {e}");
    assert_eq!(e.id.as_deref(), id, "id for {text}: {e}");
    assert_eq!(e.line, line, "line for {text}: {e}");
    assert_eq!(e.field, field, "field for {text}: {e}");
    // The human-readable message names the line, the record and the field too.
    let shown = e.to_string();
    assert!(shown.contains(&format!("line {line}")), "{shown}");
    if let Some(id) = id {
        assert!(shown.contains(&format!("{id:?}")), "{shown}");
    }
    assert!(shown.contains(field), "{shown}");
    e
}

fn episode_with(text: &str, o: &ValidateOptions) -> Episode {
    match parse_and_validate(text, 1, o) {
        Ok(Record::Episode(e)) => e,
        other => panic!("expected an episode from {text}, got {other:?}"),
    }
}

fn episode(text: &str) -> Episode {
    episode_with(text, &opts())
}

fn game(text: &str) -> Game {
    match parse_and_validate(text, 1, &opts()) {
        Ok(Record::Game(g)) => g,
        other => panic!("expected a game from {text}, got {other:?}"),
    }
}

/// Every message's parents, with "every earlier message" spelled out.
fn parents(ep: &Episode) -> Vec<Vec<u32>> {
    ep.messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            assert!(
                !m.all_earlier || m.parents.is_empty(),
                "a row beside the flag"
            );
            if m.all_earlier {
                (0..i as u32).collect()
            } else {
                m.parents.clone()
            }
        })
        .collect()
}

/// The group score of each message.
fn message_scores(ep: &Episode) -> Vec<f64> {
    ep.messages
        .iter()
        .map(|m| ep.group_scores[m.group as usize])
        .collect()
}

const GOOD: &str = r#"{"id":"ep","agents":["a","b"],"messages":[{"id":"m0","agent":null,"parents":[]},{"id":"m1","agent":"a","parents":["m0"],"score":0.5},{"id":"m2","agent":"b","parents":["m0","m1"],"score":-0.5}],"outcome":{"reward":1.0}}"#;

#[test]
fn the_reference_record_is_valid() {
    // Every bad record below is this one with one thing broken.
    let ep = episode(GOOD);
    assert_eq!(ep.id, "ep");
    assert_eq!(ep.agents, ["a", "b"]);
    assert_eq!(parents(&ep), [vec![], vec![0], vec![0, 1]]);
    assert_eq!(message_scores(&ep), [0.0, 0.5, -0.5]);
    assert!(!ep.structural);
    assert!(ep.success);
}

// ---- malformed JSON ----

#[test]
fn a_line_that_is_not_json() {
    expect(
        "this is not json",
        4,
        ErrorKind::MalformedJson,
        None,
        "(record)",
    );
    expect("42", 5, ErrorKind::MalformedJson, None, "(record)");
    expect(
        r#""a string""#,
        6,
        ErrorKind::MalformedJson,
        None,
        "(record)",
    );
    let e = bad("[1, 2, 3]", 7);
    assert_eq!(
        (e.kind, e.id.as_deref(), e.line),
        (ErrorKind::MalformedJson, None, 7)
    );
}

#[test]
fn a_json_array_is_not_a_record() {
    expect(
        r#"["ep",null,[{"id":"m0","agent":"a","score":0.5}],{"reward":1},null,null]"#,
        3,
        ErrorKind::MalformedJson,
        None,
        "(record)",
    );
}

#[test]
fn a_bad_line_names_its_record_id_not_a_message_id() {
    let e = bad(
        r#"{"messages":[{"id":"m0","agent":"a"}],"id":"ep9","outcome":{"reward":1}} x"#,
        4,
    );
    assert_eq!(e.kind, ErrorKind::MalformedJson);
    assert_eq!(e.id.as_deref(), Some("ep9"), "{e}");
}

#[test]
fn trailing_garbage_after_the_record() {
    let e = expect(
        r#"{"id":"tg","messages":[],"outcome":{"reward":1}} x"#,
        9,
        ErrorKind::MalformedJson,
        Some("tg"),
        "(record)",
    );
    assert!(!e.message.is_empty());
    // Two records on one line are one bad line, not two records.
    expect(
        r#"{"id":"two","messages":[],"outcome":{"reward":1}} {"id":"three"}"#,
        10,
        ErrorKind::MalformedJson,
        Some("two"),
        "(record)",
    );
}

#[test]
fn a_truncated_line_keeps_its_id() {
    let e = bad(r#"{"id":"cut","messages":[{"id":"m0","agent":"a""#, 12);
    assert_eq!(e.kind, ErrorKind::MalformedJson);
    assert_eq!(e.id.as_deref(), Some("cut"));
    assert_eq!(e.line, 12);
}

#[test]
fn a_field_of_the_wrong_type_is_malformed_and_named() {
    expect(
        r#"{"id":"wt","messages":[{"id":"m0","agent":"a"},{"id":"m1","agent":"a","score":"high"}],"outcome":{"reward":1}}"#,
        3,
        ErrorKind::MalformedJson,
        Some("wt"),
        "messages[1].score",
    );
    expect(
        r#"{"id":"wt2","messages":[{"id":"m0","agent":"a","parents":"m0"}],"outcome":{"reward":1}}"#,
        3,
        ErrorKind::MalformedJson,
        Some("wt2"),
        "messages[0].parents",
    );
    expect(
        r#"{"id":"wt3","game":{"players":2,"terms":[[1.0,[0,-1]]]}}"#,
        3,
        ErrorKind::MalformedJson,
        Some("wt3"),
        "game.terms[0][1][1]",
    );
}

#[test]
fn numeric_record_ids_are_recovered_from_bad_lines() {
    expect(
        r#"{"id": 17, "messages": ]"#,
        2,
        ErrorKind::MalformedJson,
        Some("17"),
        "messages",
    );
}

// ---- missing fields ----

#[test]
fn missing_id() {
    expect(
        r#"{"messages":[{"id":"m0","agent":"a"}],"outcome":{"reward":1}}"#,
        6,
        ErrorKind::MissingField,
        None,
        "id",
    );
    expect(
        r#"{"game":{"players":1,"table":[0,1]}}"#,
        7,
        ErrorKind::MissingField,
        None,
        "id",
    );
}

#[test]
fn missing_outcome_reward() {
    expect(
        r#"{"id":"nr","messages":[{"id":"m0","agent":"a"}],"outcome":{"baseline":0.1}}"#,
        2,
        ErrorKind::MissingField,
        Some("nr"),
        "outcome.reward",
    );
    expect(
        r#"{"id":"no","messages":[{"id":"m0","agent":"a"}]}"#,
        3,
        ErrorKind::MissingField,
        Some("no"),
        "outcome.reward",
    );
}

#[test]
fn missing_game_players() {
    expect(
        r#"{"id":"np","game":{"terms":[[1.0,[0]]]}}"#,
        8,
        ErrorKind::MissingField,
        Some("np"),
        "game.players",
    );
    expect(
        r#"{"id":"nt","game":{"players":2}}"#,
        8,
        ErrorKind::MissingField,
        Some("nt"),
        "game",
    );
}

// ---- duplicate ids ----

#[test]
fn duplicate_message_ids_within_an_episode() {
    expect(
        r#"{"id":"dm","messages":[{"id":"m0"},{"id":"m1","agent":"a"},{"id":"m0","agent":"a"}],"outcome":{"reward":1}}"#,
        5,
        ErrorKind::DuplicateId,
        Some("dm"),
        "messages[2].id",
    );
    // An absent id defaults to the message's index, which can collide with a given one.
    expect(
        r#"{"id":"dd","messages":[{"id":"1"},{"agent":"a"}],"outcome":{"reward":1}}"#,
        5,
        ErrorKind::DuplicateId,
        Some("dd"),
        "messages[1].id",
    );
}

#[test]
fn agents_listed_twice() {
    expect(
        r#"{"id":"da","agents":["a","b","a"],"messages":[{"id":"m0","agent":"a"}],"outcome":{"reward":1}}"#,
        2,
        ErrorKind::DuplicateId,
        Some("da"),
        "agents[2]",
    );
}

#[test]
fn a_parent_listed_twice() {
    expect(
        r#"{"id":"dp","messages":[{"id":"m0"},{"id":"m1","agent":"a","parents":["m0","m0"]}],"outcome":{"reward":1}}"#,
        2,
        ErrorKind::DuplicateId,
        Some("dp"),
        "messages[1].parents[1]",
    );
}

#[test]
fn two_records_with_the_same_id_in_one_file() {
    let game = |id: &str| format!(r#"{{"id":"{id}","game":{{"players":2,"table":[0,1,1,3]}}}}"#);
    let ep =
        r#"{"id":"x","messages":[{"id":"m0","agent":"a","score":0.5}],"outcome":{"reward":1}}"#;
    // Line 3 is blank; the second "x" sits on line 5, and a numeric id equal to an
    // earlier string id is the same id.
    let input = format!(
        "{ep}\n{}\n\n{}\n{}\n{}\n",
        game("y"),
        game("z"),
        game("x"),
        r#"{"id":1,"game":{"players":1,"table":[0,1]}}"#
    );
    let input = input + r#"{"id":"1","game":{"players":1,"table":[0,1]}}"# + "\n";
    for chunk_records in [1, 2, 4096] {
        let mut out = Vec::new();
        let run = RunOptions {
            chunk_records,
            ..RunOptions::default()
        };
        let summary = run_score(Cursor::new(input.as_bytes()), &mut out, &run, |_| {}).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 6, "{text}");
        // The first occurrences are scored.
        assert!(lines[0].get("branch").is_some(), "{}", lines[0]);
        assert!(lines[1].get("shapley").is_some(), "{}", lines[1]);
        assert!(lines[2].get("shapley").is_some(), "{}", lines[2]);
        assert!(lines[4].get("shapley").is_some(), "{}", lines[4]);
        // The later ones are error records.
        for (k, line, id) in [(3, 5, "x"), (5, 7, "1")] {
            let e = &lines[k];
            assert_eq!(e["id"], id, "{e}");
            assert_eq!(e["line"], line, "{e}");
            assert_eq!(e["field"], "id", "{e}");
            assert_eq!(e["kind"], "duplicate_id", "{e}");
            assert!(
                e["error"]
                    .as_str()
                    .unwrap()
                    .contains(&format!("line {line}")),
                "{e}"
            );
        }
        assert_eq!(summary.errors, 2);
        assert_eq!(summary.first_errors[0].kind, ErrorKind::DuplicateId);
        assert_eq!(summary.first_errors[0].line, 5);
        assert_eq!(summary.first_errors[0].id.as_deref(), Some("x"));
        assert_eq!(summary.first_errors[1].line, 7);
    }
}

// ---- parents ----

#[test]
fn unknown_parent() {
    expect(
        r#"{"id":"up","messages":[{"id":"m0"},{"id":"m1","agent":"a","parents":["m0"]},{"id":"m2","agent":"a","parents":["m9"]}],"outcome":{"reward":1}}"#,
        4,
        ErrorKind::UnknownParent,
        Some("up"),
        "messages[2].parents[0]",
    );
    expect(
        r#"{"id":"up2","messages":[{"id":"m0"},{"id":"m1","agent":"a","parents":["m0","nope"]}],"outcome":{"reward":1}}"#,
        4,
        ErrorKind::UnknownParent,
        Some("up2"),
        "messages[1].parents[1]",
    );
}

#[test]
fn a_parent_that_appears_later() {
    expect(
        r#"{"id":"fp","messages":[{"id":"m0"},{"id":"m1","agent":"a","parents":["m0","m2"]},{"id":"m2","agent":"a","parents":["m0"]}],"outcome":{"reward":1}}"#,
        11,
        ErrorKind::ForwardParent,
        Some("fp"),
        "messages[1].parents[1]",
    );
}

#[test]
fn a_self_parent_cycle() {
    expect(
        r#"{"id":"sp","messages":[{"id":"m0"},{"id":"m1","agent":"a","parents":["m1"]}],"outcome":{"reward":1}}"#,
        13,
        ErrorKind::ForwardParent,
        Some("sp"),
        "messages[1].parents[0]",
    );
    // A two-message cycle is caught at its first edge that points forward.
    expect(
        r#"{"id":"cy","messages":[{"id":"m0"},{"id":"m1","agent":"a","parents":["m2"]},{"id":"m2","agent":"a","parents":["m1"]}],"outcome":{"reward":1}}"#,
        14,
        ErrorKind::ForwardParent,
        Some("cy"),
        "messages[1].parents[0]",
    );
}

// ---- agents ----

#[test]
fn unknown_agent() {
    expect(
        r#"{"id":"ua","agents":["a","b"],"messages":[{"id":"m0"},{"id":"m1","agent":"a"},{"id":"m2","agent":"c"}],"outcome":{"reward":1}}"#,
        21,
        ErrorKind::UnknownAgent,
        Some("ua"),
        "messages[2].agent",
    );
}

// ---- numbers ----

#[test]
fn nan_in_a_score() {
    // Python's json.dumps writes a bare NaN token.
    expect(
        r#"{"id":"nan","messages":[{"id":"m0"},{"id":"m1","agent":"a","score":NaN}],"outcome":{"reward":1}}"#,
        2,
        ErrorKind::NonFinite,
        Some("nan"),
        "messages[1].score",
    );
    expect(
        r#"{"id":"ninf","messages":[{"id":"m0","agent":"a","score":-Infinity}],"outcome":{"reward":1}}"#,
        2,
        ErrorKind::NonFinite,
        Some("ninf"),
        "messages[0].score",
    );
}

#[test]
fn infinity_in_a_score() {
    expect(
        r#"{"id":"inf","messages":[{"id":"m0"},{"id":"m1","agent":"a","score":0.5},{"id":"m2","agent":"a","score":1e999}],"outcome":{"reward":1}}"#,
        3,
        ErrorKind::NonFinite,
        Some("inf"),
        "messages[2].score",
    );
    expect(
        r#"{"id":"rinf","messages":[{"id":"m0","agent":"a"}],"outcome":{"reward":-1e999}}"#,
        3,
        ErrorKind::NonFinite,
        Some("rinf"),
        "outcome.reward",
    );
    expect(
        r#"{"id":"tinf","game":{"players":1,"table":[0,1e400]}}"#,
        3,
        ErrorKind::NonFinite,
        Some("tinf"),
        "game.table[1]",
    );
}

#[test]
fn out_of_range_score() {
    expect(
        r#"{"id":"oor","messages":[{"id":"m0"},{"id":"m1","agent":"a","score":1.5}],"outcome":{"reward":1}}"#,
        30,
        ErrorKind::OutOfRange,
        Some("oor"),
        "messages[1].score",
    );
    expect(
        r#"{"id":"oor2","messages":[{"id":"m0","agent":"a","score":-1.0000001}],"outcome":{"reward":1}}"#,
        30,
        ErrorKind::OutOfRange,
        Some("oor2"),
        "messages[0].score",
    );
    // The bounds themselves are allowed.
    let ep = episode(
        r#"{"id":"edge","messages":[{"id":"m0","agent":"a","score":1.0},{"id":"m1","agent":"a","score":-1}],"outcome":{"reward":1}}"#,
    );
    assert_eq!(message_scores(&ep), [1.0, -1.0]);
}

// ---- games ----

#[test]
fn wrong_table_length() {
    expect(
        r#"{"id":"tl","game":{"players":2,"table":[0,1,1]}}"#,
        5,
        ErrorKind::TableLength,
        Some("tl"),
        "game.table",
    );
    expect(
        r#"{"id":"cv","agents":["a","b"],"messages":[{"id":"m0","agent":"a"},{"id":"m1","agent":"b"}],"coalition_values":[0,0.5,0.5,1,1],"outcome":{"reward":1}}"#,
        6,
        ErrorKind::TableLength,
        Some("cv"),
        "coalition_values",
    );
    let g = game(r#"{"id":"ok","game":{"players":2,"table":[0,1,1,3]}}"#);
    assert_eq!(g.players, 2);
    assert!(matches!(g.form, GameForm::Table(ref t) if t == &[0.0, 1.0, 1.0, 3.0]));
}

#[test]
fn term_player_out_of_range() {
    expect(
        r#"{"id":"tp","game":{"players":4,"terms":[[0.5,[0,3]],[1.0,[2,4]]]}}"#,
        7,
        ErrorKind::TermPlayer,
        Some("tp"),
        "game.terms[1][1][1]",
    );
    let g = game(r#"{"id":"ok","game":{"players":4,"terms":[[0.5,[3,0,3]]]}}"#);
    assert!(matches!(g.form, GameForm::Mobius(ref t) if t == &[(0.5, vec![0, 3])]));
}

// ---- groups ----

#[test]
fn group_score_mismatch() {
    expect(
        r#"{"id":"gm","messages":[{"id":"m0"},{"id":"m1","agent":"a","score":0.5,"group":"g"},{"id":"m2","agent":"b","score":0.25,"group":"g"}],"outcome":{"reward":1}}"#,
        8,
        ErrorKind::GroupScoreMismatch,
        Some("gm"),
        "messages[2].score",
    );
    // Members that agree, or leave the score to the group, are fine.
    let ep = episode(
        r#"{"id":"ga","messages":[{"id":"m0","agent":"a","score":0.5,"group":"g"},{"id":"m1","agent":"b","group":"g"},{"id":"m2","agent":"b","score":0.5,"group":"g"}],"outcome":{"reward":1}}"#,
    );
    assert_eq!(ep.group_scores, [0.5]);
    assert!(ep.messages.iter().all(|m| m.group == 0));
}

// ---- unknown records ----

#[test]
fn unknown_record() {
    expect(
        r#"{"id":"u","outcome":{"reward":1}}"#,
        19,
        ErrorKind::UnknownRecord,
        Some("u"),
        "(record)",
    );
    expect(
        r#"{"id":"both","messages":[],"game":{"players":1,"table":[0,1]},"outcome":{"reward":1}}"#,
        19,
        ErrorKind::UnknownRecord,
        Some("both"),
        "(record)",
    );
}

#[test]
fn unknown_fields_are_ignored() {
    let ep = episode(
        r#"{"id":"uf","extra":{"x":[1,2]},"messages":[{"id":"m0","agent":"a","score":0.5,"meta":null}],"outcome":{"reward":1,"note":"ok"}}"#,
    );
    assert_eq!(ep.messages.len(), 1);
}

// ---- provenance ----

const NO_PARENTS: &str = r#"{"id":"p","messages":[{"id":"t","agent":null},{"id":"a1","agent":"a","score":0.2},{"id":"b1","agent":"b","score":0.3},{"id":"a2","agent":"a","score":0.4},{"id":"b2","agent":"b","score":0.5}],"outcome":{"reward":1}}"#;

fn with_provenance(p: Provenance) -> ValidateOptions {
    ValidateOptions {
        provenance: p,
        ..opts()
    }
}

#[test]
fn provenance_prefix_gives_every_earlier_message() {
    let ep = episode_with(NO_PARENTS, &with_provenance(Provenance::Prefix));
    assert_eq!(
        parents(&ep),
        [vec![], vec![0], vec![0, 1], vec![0, 1, 2], vec![0, 1, 2, 3]]
    );
    // Prefix is the default.
    assert_eq!(parents(&episode(NO_PARENTS)), parents(&ep));
}

/// "Every earlier message" is stored as a flag, not as a row as long as the message's
/// index (DESIGN §4: cost is linear in the chat), whether filled in by `prefix` or listed.
#[test]
fn every_earlier_parent_is_a_flag_not_a_row() {
    let ep = episode_with(NO_PARENTS, &with_provenance(Provenance::Prefix));
    let flags: Vec<bool> = ep.messages.iter().map(|m| m.all_earlier).collect();
    assert_eq!(flags, [false, true, true, true, true]);
    assert!(ep.messages.iter().all(|m| m.parents.is_empty()));
    // GOOD lists m2's parents as m0 and m1: all of them; m1's single parent m0 too.
    let good = episode(GOOD);
    let flags: Vec<bool> = good.messages.iter().map(|m| m.all_earlier).collect();
    assert_eq!(flags, [false, true, true]);
    let batch = CsrBatch::from_episodes([&ep]).unwrap();
    assert!(batch.parents.is_empty());
    assert_eq!(batch.earlier, [0, 1, 1, 1, 1]);
    let view = batch.episode(0);
    assert_eq!(view.parents_of(3).iter().collect::<Vec<_>>(), [0, 1, 2]);
    assert_eq!(view.parents_of(3), Parents::Earlier(3));
}

#[test]
fn provenance_chain_gives_the_previous_and_the_first_message() {
    let ep = episode_with(NO_PARENTS, &with_provenance(Provenance::Chain));
    assert_eq!(
        parents(&ep),
        [vec![], vec![0], vec![0, 1], vec![0, 2], vec![0, 3]]
    );
}

#[test]
fn provenance_none_makes_every_message_a_root() {
    let ep = episode_with(NO_PARENTS, &with_provenance(Provenance::None));
    assert!(
        parents(&ep).iter().all(|p| p.is_empty()),
        "{:?}",
        parents(&ep)
    );
}

#[test]
fn explicit_empty_parents_stay_a_root() {
    let text = r#"{"id":"mix","messages":[{"id":"t"},{"id":"a1","agent":"a","parents":[]},{"id":"b1","agent":"b"},{"id":"a2","agent":"a","parents":["b1"]},{"id":"b2","agent":"b"}],"outcome":{"reward":1}}"#;
    let prefix = episode_with(text, &with_provenance(Provenance::Prefix));
    assert_eq!(
        parents(&prefix),
        [vec![], vec![], vec![0, 1], vec![2], vec![0, 1, 2, 3]]
    );
    let chain = episode_with(text, &with_provenance(Provenance::Chain));
    assert_eq!(
        parents(&chain),
        [vec![], vec![], vec![0, 1], vec![2], vec![0, 3]]
    );
    let none = episode_with(text, &with_provenance(Provenance::None));
    assert_eq!(parents(&none), [vec![], vec![], vec![], vec![2], vec![]]);
}

// ---- agents derived from messages ----

#[test]
fn absent_agents_come_from_messages_in_order_of_first_appearance() {
    let ep = episode(
        r#"{"id":"ag","messages":[{"id":"t","agent":null},{"id":"1","agent":"critic"},{"id":"2","agent":"planner"},{"id":"3","agent":"critic"},{"id":"4"},{"id":"5","agent":"coder"},{"id":"6","agent":"planner"}],"outcome":{"reward":1}}"#,
    );
    assert_eq!(ep.agents, ["critic", "planner", "coder"]);
    let authors: Vec<Option<u32>> = ep.messages.iter().map(|m| m.agent).collect();
    assert_eq!(
        authors,
        [None, Some(0), Some(1), Some(0), None, Some(2), Some(1)]
    );
    // A listed order wins, including agents that never speak.
    let listed = episode(
        r#"{"id":"ag2","agents":["coder","idle","critic"],"messages":[{"id":"1","agent":"critic"},{"id":"2","agent":"coder"}],"outcome":{"reward":1}}"#,
    );
    assert_eq!(listed.agents, ["coder", "idle", "critic"]);
    let authors: Vec<Option<u32>> = listed.messages.iter().map(|m| m.agent).collect();
    assert_eq!(authors, [Some(2), Some(0)]);
}

// ---- structural credit ----

#[test]
fn structural_credit_goes_to_the_last_agent_message() {
    let ep = episode(
        r#"{"id":"st","messages":[{"id":"t","agent":null},{"id":"a1","agent":"a"},{"id":"b1","agent":"b"},{"id":"a2","agent":"a"},{"id":"tool","agent":null}],"outcome":{"reward":1}}"#,
    );
    assert!(ep.structural);
    assert_eq!(message_scores(&ep), [0.0, 0.0, 0.0, 1.0, 0.0]);
}

#[test]
fn structural_credit_goes_to_the_final_messages() {
    let ep = episode(
        r#"{"id":"sf","messages":[{"id":"t","agent":null},{"id":"a1","agent":"a","final":true},{"id":"b1","agent":"b","final":true},{"id":"a2","agent":"a"}],"outcome":{"reward":1}}"#,
    );
    assert!(ep.structural);
    assert_eq!(message_scores(&ep), [0.0, 1.0, 1.0, 0.0]);
}

#[test]
fn one_score_turns_structural_credit_off() {
    let ep = episode(
        r#"{"id":"ns","messages":[{"id":"t","agent":null},{"id":"a1","agent":"a","score":0.25},{"id":"b1","agent":"b","final":true},{"id":"a2","agent":"a"}],"outcome":{"reward":1}}"#,
    );
    assert!(!ep.structural);
    assert_eq!(message_scores(&ep), [0.0, 0.25, 0.0, 0.0]);
}

#[test]
fn structural_episodes_are_flagged_and_credit_flows_back_from_the_answer() {
    let input = r#"{"id":"st","agents":["a","b","c"],"messages":[{"id":"t","agent":null,"parents":[]},{"id":"c1","agent":"c","parents":["t"]},{"id":"a1","agent":"a","parents":["t"]},{"id":"b1","agent":"b","parents":["a1"]}],"outcome":{"reward":1}}"#;
    let mut out = Vec::new();
    run_score(
        Cursor::new(input.as_bytes()),
        &mut out,
        &RunOptions::default(),
        |_| {},
    )
    .unwrap();
    let v: Value = serde_json::from_slice(&out).unwrap();
    let flags = v["flags"].as_array().unwrap();
    assert!(flags.iter().any(|f| f == "structural"), "{v}");
    let credit = |name: &str| {
        v["agents"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["agent"] == name)
            .unwrap()["credit"]
            .as_f64()
            .unwrap()
    };
    // b wrote the answer, a fed it, c's side branch does not reach it.
    assert!(credit("b") > credit("a") && credit("a") > 0.0, "{v}");
    assert_eq!(credit("c"), 0.0, "{v}");
    assert!(
        (credit("a") + credit("b") + credit("c") - 1.0).abs() < 1e-12,
        "{v}"
    );
}

/// A scored episode whose numbers are not all finite (a Parquet file can hold NaN and
/// infinities, JSON cannot) is refused, naming the field — every float field in turn.
#[test]
fn a_scored_episode_with_a_non_finite_number_names_its_field() {
    use crate::io::scored::ScoredEpisode;
    let good: ScoredEpisode = serde_json::from_str(
        r#"{"id": "e", "branch": "failure", "reward": 0.5, "baseline": 0.1,
            "method": "exact", "agents": [{"agent": "a", "credit": 0.4, "se": 0.0}],
            "messages": [{"id": "m1", "agent": "a", "index": 1, "credit": 0.4,
                          "se": 0.0, "reward": 0.3}]}"#,
    )
    .unwrap();
    assert_eq!(good.check(), Ok(()));
    type Set = fn(&mut ScoredEpisode, f64);
    let fields: [(&str, Set); 7] = [
        ("reward", |e, x| e.reward = x),
        ("baseline", |e, x| e.baseline = x),
        ("messages[0].credit", |e, x| e.messages[0].credit = x),
        ("messages[0].se", |e, x| e.messages[0].se = x),
        ("messages[0].reward", |e, x| e.messages[0].reward = x),
        ("agents[0].credit", |e, x| e.agents[0].credit = x),
        ("agents[0].se", |e, x| e.agents[0].se = x),
    ];
    for (field, set) in fields {
        for x in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let mut bad = good.clone();
            set(&mut bad, x);
            let (got, why) = bad.check().unwrap_err();
            assert_eq!(got, field, "{x}");
            assert!(why.contains("must be finite"), "{why}");
        }
    }
}

/// A `parents` row is held as one string and the ends of its ids: read from strings and
/// integers like [`crate::schema::Id`], written back as an array of strings, and a bad
/// element refused with `Id`'s own words.
#[test]
fn a_parents_row_reads_and_writes_like_a_list_of_ids() {
    use crate::schema::{IdList, InputMessage};
    let m: InputMessage =
        serde_json::from_str(r#"{"agent": "a", "parents": ["m0", 7, "", "m12"]}"#).unwrap();
    let p = m.parents.as_ref().unwrap();
    assert_eq!(p.len(), 4);
    assert_eq!(p.iter().collect::<Vec<_>>(), ["m0", "7", "", "m12"]);
    assert_eq!(
        (p.get(2), p.get(3), p.get(4)),
        (Some(""), Some("m12"), None)
    );
    assert_eq!(serde_json::to_string(p).unwrap(), r#"["m0","7","","m12"]"#);
    assert_eq!(p, &["m0", "7", "", "m12"].into_iter().collect::<IdList>());
    let empty: InputMessage = serde_json::from_str(r#"{"agent": "a", "parents": []}"#).unwrap();
    assert!(empty.parents.unwrap().is_empty());
    for bad in [r#"["m0", 1.5]"#, r#"["m0", null]"#, r#"[["m0"]]"#] {
        let text = format!(r#"{{"agent": "a", "parents": {bad}}}"#);
        let e = serde_json::from_str::<InputMessage>(&text).unwrap_err();
        assert!(
            e.to_string().contains("expected a string or integer id"),
            "{bad}: {e}"
        );
    }
    let e = serde_json::from_str::<InputMessage>(r#"{"agent": "a", "parents": "m0"}"#).unwrap_err();
    assert!(e.to_string().contains("a list of message ids"), "{e}");
}
