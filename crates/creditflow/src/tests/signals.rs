//! Training signals: conservation, documented bounds on adversarial inputs, first error
//! by label and by counterfactual, repair-aware rewards and preference pairs.

use super::common::*;
use crate::csr::NO_AGENT;
use crate::game::{Level, ModelParams, Surrogate, calibrate};
use crate::generate::Topology;
use crate::options::{FailureReward, FirstErrorMethod, ScoreOptions, SignalOptions, Split};
use crate::score::{score_episode, score_episode_with_pairs};
use crate::signals::reward_bound;

fn with_signals(signals: SignalOptions) -> ScoreOptions {
    ScoreOptions {
        signals,
        ..ScoreOptions::default()
    }
}

#[test]
fn rewards_conserve_agent_credit_on_every_success_episode() {
    for split in [Split::Owen, Split::Label] {
        for topo in TOPOLOGIES {
            let eps = generated(topo, 4, 10, 0.2, 77, 40);
            let b = batch(&eps);
            let opts = with_signals(SignalOptions {
                split,
                ..SignalOptions::default()
            });
            let mut seen = 0;
            for (r, ep) in eps.iter().enumerate() {
                let out = score_episode(ep, b.episode(r), &opts).unwrap();
                if out.branch != "success" {
                    continue;
                }
                seen += 1;
                let dr = out.reward - out.baseline;
                let mut total = 0.0;
                for a in &out.agents {
                    let s: f64 = out
                        .messages
                        .iter()
                        .filter(|m| m.agent == a.agent)
                        .map(|m| m.reward)
                        .sum();
                    assert_close(
                        s,
                        a.credit,
                        1e-9,
                        &format!("{split:?} {topo:?} {} agent {}", out.id, a.agent),
                    );
                    total += s;
                }
                assert_close(
                    total,
                    dr,
                    1e-9,
                    &format!("{split:?} {topo:?} {} total", out.id),
                );
            }
            assert!(seen > 5, "too few success episodes ({seen}) to test");
        }
    }
}

/// Checks every success reward against the documented bound.
fn check_bounds(json: &str, rho: f64) {
    check_episode_bounds(parse_episode(json), rho);
}

fn check_episode_bounds(ep: crate::model::Episode, rho: f64) {
    let b = batch(std::slice::from_ref(&ep));
    let view = b.episode(0);
    let model = ModelParams::default();
    let mut g = Surrogate::new(view, model, Level::Agents);
    let v0 = g.value_with(|m| view.authors[m] == NO_AGENT);
    let v1 = g.value_with(|_| true);
    let cal = calibrate(v0, v1, ep.reward, ep.baseline.unwrap_or(0.0));
    for split in [Split::Owen, Split::Label] {
        let opts = with_signals(SignalOptions {
            split,
            rho,
            ..SignalOptions::default()
        });
        let out = score_episode(&ep, view, &opts).unwrap();
        assert_eq!(out.branch, "success", "{}", ep.id);
        let dr = out.reward - out.baseline;
        let m_players = out.messages.len() as f64;
        for m in &out.messages {
            let bound = if split == Split::Label {
                let phi = out
                    .agents
                    .iter()
                    .find(|a| a.agent == m.agent)
                    .unwrap()
                    .credit;
                (1.0 + rho) * phi.abs()
            } else if cal.fallback {
                dr.abs() / m_players
            } else {
                reward_bound(&view, &model, m.index as usize, cal.scale)
            };
            assert!(
                m.reward.abs() <= bound + 1e-12,
                "{} {split:?} {}: |{}| > {bound}",
                ep.id,
                m.id,
                m.reward
            );
        }
        let total: f64 = out.messages.iter().map(|m| m.reward).sum();
        assert_close(
            total,
            dr,
            1e-9,
            &format!("{} {split:?} conservation", ep.id),
        );
    }
}

#[test]
fn documented_bounds_hold_on_adversarial_inputs() {
    let rho = 0.25;
    // All messages harmful.
    check_bounds(
        r#"{"id":"harmful","messages":[{"id":"t","agent":null},{"id":"a","agent":"x","score":-0.5},{"id":"b","agent":"y","score":-1.0},{"id":"c","agent":"x","score":-0.2}],"outcome":{"reward":1.0,"success":true}}"#,
        rho,
    );
    // All redundant: one group carried by everyone.
    check_bounds(
        r#"{"id":"redundant","messages":[{"id":"t","agent":null},{"id":"a","agent":"x","score":0.7,"group":"g"},{"id":"b","agent":"y","score":0.7,"group":"g"},{"id":"c","agent":"z","score":0.7,"group":"g"}],"outcome":{"reward":0.9}}"#,
        rho,
    );
    // One agent.
    check_bounds(
        r#"{"id":"solo","messages":[{"id":"t","agent":null},{"id":"a","agent":"x","score":0.4},{"id":"b","agent":"x","score":-0.3},{"id":"c","agent":"x","score":0.9}],"outcome":{"reward":0.8}}"#,
        rho,
    );
    // Zero reward (declared a success).
    check_bounds(
        r#"{"id":"zero","messages":[{"id":"a","agent":"x","score":0.4},{"id":"b","agent":"y","score":0.6}],"outcome":{"reward":0.0,"success":true}}"#,
        rho,
    );
    // Reward below baseline.
    check_bounds(
        r#"{"id":"below","messages":[{"id":"a","agent":"x","score":0.4},{"id":"b","agent":"y","score":-0.6},{"id":"c","agent":"y","score":0.9}],"outcome":{"reward":0.6,"baseline":0.9,"success":true}}"#,
        rho,
    );
    // Large mixed batch.
    let mut checked = 0;
    for ep in generated(Topology::Dag, 3, 9, 0.3, 8, 40) {
        if ep.success {
            check_episode_bounds(ep, rho);
            checked += 1;
        }
    }
    assert!(checked > 5);
}

const FAILED: &str = r#"{"id":"f","agents":["a","b","c"],"messages":[
    {"id":"t","agent":null,"text":"task"},
    {"id":"m1","agent":"a","parents":["t"],"score":0.5,"text":"good start"},
    {"id":"m2","agent":"b","parents":["t","m1"],"score":0.2,"text":"subtly wrong","alternatives":[{"text":"right","score":0.9},{"text":"worse","score":-0.9}]},
    {"id":"m3","agent":"c","parents":["m2"],"score":-0.6,"text":"builds on it"},
    {"id":"m4","agent":"a","parents":["t"],"score":0.0,"text":"unrelated"},
    {"id":"m5","agent":"b","parents":["m3"],"score":0.8,"text":"repair","alternatives":[{"text":"bad repair","score":0.1}]},
    {"id":"m6","agent":"c","parents":["m5"],"score":0.0,"text":"builds on the repair"}],
    "outcome":{"reward":0.1}}"#;

#[test]
fn first_error_by_label_and_repair_rewards() {
    let ep = parse_episode(FAILED);
    let b = batch(std::slice::from_ref(&ep));
    let (out, pairs) = score_episode_with_pairs(
        &ep,
        b.episode(0),
        &with_signals(SignalOptions {
            pairs: true,
            failure_reward: FailureReward::RepairSchedule,
            eta: 0.3,
            gamma: 0.7,
            ..SignalOptions::default()
        }),
    )
    .unwrap();
    assert_eq!(out.branch, "failure");
    let fe = out.first_error.as_ref().expect("a harmful message exists");
    // The earliest negative score is m3 (index 3), by agent c.
    assert_eq!(
        (
            fe.index,
            fe.message.as_str(),
            fe.agent.as_str(),
            fe.method.as_str()
        ),
        (3, "m3", "c", "label")
    );
    let r: Vec<(String, f64)> = out
        .messages
        .iter()
        .map(|m| (m.id.clone(), m.reward))
        .collect();
    let want = [
        ("m1", 0.0),
        ("m2", 0.0),
        ("m3", -1.0),
        ("m4", 0.0),
        ("m5", 0.3),
        ("m6", -0.7),
    ];
    for ((id, x), (wid, w)) in r.iter().zip(want) {
        assert_eq!((id.as_str(), *x), (wid, w));
    }
    // Pairs: at the error (no alternatives: needs a chosen), and at the repair m5.
    assert_eq!(pairs.len(), 2);
    assert_eq!(pairs[0]["step"], "first_error");
    assert_eq!(pairs[0]["needs"], "chosen");
    assert_eq!(pairs[0]["rejected"][0]["content"], "builds on it");
    assert_eq!(pairs[1]["step"], "repair");
    assert_eq!(pairs[1]["chosen"][0]["content"], "repair");
    assert_eq!(pairs[1]["rejected"][0]["content"], "bad repair");
    // The repair's prompt is the closure of its provenance in order: t, m1, m2, m3.
    let prompt: Vec<&str> = pairs[1]["prompt"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["content"].as_str().unwrap())
        .collect();
    assert_eq!(
        prompt,
        ["task", "good start", "subtly wrong", "builds on it"]
    );
    let roles: Vec<&str> = pairs[1]["prompt"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["role"].as_str().unwrap())
        .collect();
    assert_eq!(
        roles,
        ["user", "user", "assistant", "user"],
        "the author's own earlier message is the assistant's"
    );
}

#[test]
fn failure_rewards_credit_credit_plus_schedule_and_repair_schedule() {
    let ep = parse_episode(FAILED);
    let b = batch(std::slice::from_ref(&ep));
    let score = |failure_reward, split| {
        score_episode_with_pairs(
            &ep,
            b.episode(0),
            &with_signals(SignalOptions {
                pairs: true,
                failure_reward,
                split,
                eta: 0.3,
                gamma: 0.7,
                ..SignalOptions::default()
            }),
        )
        .unwrap()
    };
    // `credit`: the reward is the Owen message credit, exactly as on success; the first
    // error and the preference pairs are still computed.
    let (out, pairs) = score(FailureReward::Credit, Split::Owen);
    assert_eq!(out.branch, "failure");
    assert_eq!(out.first_error.as_ref().map(|f| f.index), Some(3));
    assert_eq!(pairs.len(), 2);
    assert!(out.messages.iter().any(|m| m.credit != 0.0));
    for m in &out.messages {
        assert_eq!(m.reward, m.credit, "{}", m.id);
    }
    let total: f64 = out.messages.iter().map(|m| m.reward).sum();
    assert_close(
        total,
        out.reward - out.baseline,
        1e-9,
        "credit conserves R − R0",
    );
    // With the label split, the failure branch uses the same split as success: each
    // agent's rewards sum to its credit.
    let (out, _) = score(FailureReward::Credit, Split::Label);
    for a in &out.agents {
        let s: f64 = out
            .messages
            .iter()
            .filter(|m| m.agent == a.agent)
            .map(|m| m.reward)
            .sum();
        assert_close(
            s,
            a.credit,
            1e-9,
            &format!("label split, agent {}", a.agent),
        );
    }
    // `credit-plus-schedule` (the default): the credit plus the schedule below divided
    // by the 6 agent messages.
    assert_eq!(
        SignalOptions::default().failure_reward,
        FailureReward::CreditPlusSchedule
    );
    let (out, pairs) = score(FailureReward::CreditPlusSchedule, Split::Owen);
    assert_eq!(pairs.len(), 2);
    let schedule = [0.0, 0.0, -1.0, 0.0, 0.3, -0.7];
    for (m, s) in out.messages.iter().zip(schedule) {
        assert_close(m.reward, m.credit + s / 6.0, 1e-12, &m.id);
    }
    // `repair-schedule`: 0 before the first error (m3), −1 at it, +η for the later
    // helpful m5, −γ for m6 built on the error, 0 for m4 (before it).
    let (out, pairs) = score(FailureReward::RepairSchedule, Split::Owen);
    assert_eq!(pairs.len(), 2);
    let r: Vec<(&str, f64)> = out
        .messages
        .iter()
        .map(|m| (m.id.as_str(), m.reward))
        .collect();
    assert_eq!(
        r,
        [
            ("m1", 0.0),
            ("m2", 0.0),
            ("m3", -1.0),
            ("m4", 0.0),
            ("m5", 0.3),
            ("m6", -0.7)
        ]
    );
}

#[test]
fn first_error_by_counterfactual() {
    let ep = parse_episode(FAILED);
    let b = batch(std::slice::from_ref(&ep));
    let opts = with_signals(SignalOptions {
        first_error: FirstErrorMethod::Counterfactual,
        ..SignalOptions::default()
    });
    let out = score_episode(&ep, b.episode(0), &opts).unwrap();
    let fe = out.first_error.unwrap();
    assert_eq!(fe.method, "counterfactual");
    // Check against a brute-force computation of the definition.
    let view = b.episode(0);
    let mut g = Surrogate::new(view, ModelParams::default(), Level::Messages);
    let v = g.value_with(|_| true);
    let gains: Vec<(usize, f64)> = (0..view.len())
        .filter(|&m| view.authors[m] != NO_AGENT)
        .map(|m| (m, g.value_with(|x| x != m) - v))
        .collect();
    // No single removal reaches 0.5 here, so the definition falls back to the largest gain.
    assert!(gains.iter().all(|&(_, gain)| ep.reward + gain < 0.5));
    let best = gains
        .iter()
        .copied()
        .fold((usize::MAX, 0.0), |b, x| if x.1 > b.1 { x } else { b });
    assert_eq!(fe.index as usize, best.0);
    assert_eq!(fe.message, "m3", "removing the harmful m3 helps most");

    // Removing m2 lifts 0 + 0.9·e_m2 + … over 0.5; m1 (earlier) does not reach it.
    let ep = parse_episode(
        r#"{"id":"cf","messages":[{"id":"t","agent":null},{"id":"m1","agent":"a","parents":["t"],"score":0.1},{"id":"m2","agent":"b","parents":["m1"],"score":-0.9},{"id":"m3","agent":"a","parents":["m2"],"score":0.1}],"outcome":{"reward":0.0}}"#,
    );
    let b = batch(std::slice::from_ref(&ep));
    let out = score_episode(&ep, b.episode(0), &opts).unwrap();
    assert_eq!(out.first_error.unwrap().message, "m2");
    // No removal helps: no first error, flagged, rewards fall back to credit.
    let ep = parse_episode(
        r#"{"id":"none","messages":[{"id":"m1","agent":"a","score":0.1},{"id":"m2","agent":"b","score":0.2}],"outcome":{"reward":0.0}}"#,
    );
    let b = batch(std::slice::from_ref(&ep));
    let out = score_episode(&ep, b.episode(0), &opts).unwrap();
    assert!(out.first_error.is_none());
    assert!(out.flags.contains(&"no_first_error"));
    for m in &out.messages {
        assert_eq!(m.reward, m.credit);
    }
}

#[test]
fn failure_rewards_are_bounded() {
    for topo in TOPOLOGIES {
        let eps = generated(topo, 3, 12, 0.2, 31, 40);
        let b = batch(&eps);
        for method in [FirstErrorMethod::Label, FirstErrorMethod::Counterfactual] {
            let opts = with_signals(SignalOptions {
                first_error: method,
                failure_reward: FailureReward::RepairSchedule,
                eta: 0.4,
                gamma: 1.5,
                ..SignalOptions::default()
            });
            for (r, ep) in eps.iter().enumerate() {
                let out = score_episode(ep, b.episode(r), &opts).unwrap();
                if out.branch == "failure" && out.first_error.is_some() {
                    for m in &out.messages {
                        assert!(m.reward.abs() <= 1.5, "{}: {}", out.id, m.reward);
                    }
                }
            }
        }
    }
}
