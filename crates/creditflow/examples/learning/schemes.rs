//! The reward schemes: how a played episode becomes one reward per message (turn).
//! Every creditflow scheme builds an input record, validates it and scores it with
//! [`creditflow::score_record`], and reads the output record's fields.

use creditflow::Record;
use creditflow::options::{Method, Players, ScoreOptions};
use creditflow::schema::{Id, InputMessage, InputOutcome, InputRecord};
use creditflow::score_record;
use creditflow::validate;
use creditflow::{EpisodeOut, OutRecord};

use crate::env::{ACTION_NAMES, Env, Probs, Rng, Transcript, judge};

/// A reward scheme.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scheme {
    /// Every message gets the team reward R.
    Team,
    /// Every message gets its agent's Shapley credit from measured coalition values
    /// (2^n reruns).
    ShapleyMeasured,
    /// Every message gets its agent's Shapley credit from the surrogate over the noisy
    /// judge's scores.
    ShapleyJudge(f64),
    /// Every message gets its Owen message credit (surrogate, noisy judge).
    Owen(f64),
    /// creditflow's training reward: repair-aware rewards from the first error on
    /// failure, Owen message credit on success (noisy judge).
    Repair(f64),
    /// Every message gets R − R(without its agent) (not creditflow).
    Difference,
}

impl Scheme {
    /// The scheme's short name (the JSON's `scheme`).
    pub fn name(self) -> String {
        match self {
            Scheme::Team => "team".into(),
            Scheme::ShapleyMeasured => "shapley-measured".into(),
            Scheme::ShapleyJudge(s) => format!("shapley-judge-{s}"),
            Scheme::Owen(s) => format!("owen-{s}"),
            Scheme::Repair(s) => format!("repair-{s}"),
            Scheme::Difference => "difference".into(),
        }
    }

    /// The judge's noise, for the schemes that read judge scores.
    pub fn noise(self) -> Option<f64> {
        match self {
            Scheme::ShapleyJudge(s) | Scheme::Owen(s) | Scheme::Repair(s) => Some(s),
            _ => None,
        }
    }

    /// One reward per turn of `tr` (played by `env` under `probs` with numbers `u`).
    /// `judge_rng` draws the judge's noise.
    pub fn rewards(
        self,
        env: &Env,
        probs: &Probs,
        u: &[f64],
        tr: &Transcript,
        id: &str,
        judge_rng: &mut Rng,
    ) -> Vec<f64> {
        let turns = tr.steps.len();
        match self {
            Scheme::Team => vec![tr.reward; turns],
            Scheme::Difference => {
                let d = env.difference_rewards(probs, u, tr.reward);
                tr.steps.iter().map(|s| d[s.agent]).collect()
            }
            Scheme::ShapleyMeasured => {
                let values = env.coalition_values(probs, u);
                let out = score(env, tr, None, Some(values), id, Players::Agents);
                tr.steps
                    .iter()
                    .map(|s| out.agents[s.agent].credit)
                    .collect()
            }
            Scheme::ShapleyJudge(sigma) => {
                let scores = judge(tr, sigma, judge_rng);
                let out = score(env, tr, Some(&scores), None, id, Players::Agents);
                tr.steps
                    .iter()
                    .map(|s| out.agents[s.agent].credit)
                    .collect()
            }
            Scheme::Owen(sigma) | Scheme::Repair(sigma) => {
                let scores = judge(tr, sigma, judge_rng);
                let out = score(env, tr, Some(&scores), None, id, Players::Messages);
                let mut r = vec![0.0; turns];
                for m in &out.messages {
                    // Output index 0 is the task message: turn t is message t + 1.
                    let t = m.index as usize - 1;
                    r[t] = if matches!(self, Scheme::Owen(_)) {
                        m.credit
                    } else {
                        m.reward
                    };
                }
                r
            }
        }
    }
}

/// The input record of an episode: the task message, one message per turn with its
/// provenance (and judge score when given), the outcome, and measured coalition values
/// when given.
pub fn input_record(
    env: &Env,
    tr: &Transcript,
    scores: Option<&[f64]>,
    values: Option<Vec<f64>>,
    id: &str,
) -> InputRecord {
    let mut messages = Vec::with_capacity(tr.steps.len() + 1);
    messages.push(InputMessage {
        id: Some(Id::from("m0")),
        agent: None,
        parents: Some(Vec::new()),
        text: Some(serde_json::Value::String("task".into())),
        ..InputMessage::default()
    });
    for (t, s) in tr.steps.iter().enumerate() {
        messages.push(InputMessage {
            id: Some(Id(format!("m{}", t + 1))),
            agent: Some(format!("a{}", s.agent)),
            parents: Some(s.parents.iter().map(|p| Id(format!("m{p}"))).collect()),
            score: scores.map(|sc| sc[t]),
            text: Some(serde_json::Value::String(ACTION_NAMES[s.action].into())),
            ..InputMessage::default()
        });
    }
    InputRecord {
        id: Some(Id(id.to_string())),
        agents: Some((0..env.n).map(|i| format!("a{i}")).collect()),
        messages: Some(messages),
        outcome: Some(InputOutcome {
            reward: Some(tr.reward),
            baseline: Some(0.0),
            success: Some(tr.success),
        }),
        coalition_values: values,
        ..InputRecord::default()
    }
}

/// Validates and scores an episode's record with creditflow's defaults (label first
/// error, η = γ = 0.5), every credit exact: agent credit alone by the auto rule
/// (enumeration over at most 10 agents, or of the measured values); message credit by
/// the surrogate's polynomial closed form (exact here: linear link, mean aggregate, no
/// redundancy groups), which at these sizes is as fast as or faster than the auto rule's
/// enumeration (≤ 12 messages) and exact where the auto rule would also pick it.
pub fn score(
    env: &Env,
    tr: &Transcript,
    scores: Option<&[f64]>,
    values: Option<Vec<f64>>,
    id: &str,
    players: Players,
) -> EpisodeOut {
    let method = if players == Players::Agents {
        Method::Auto
    } else {
        Method::ClosedForm
    };
    let opts = ScoreOptions {
        players,
        method,
        ..ScoreOptions::default()
    };
    let rec = validate(input_record(env, tr, scores, values, id), 1, &opts.validate)
        .expect("the environment writes valid records");
    assert!(matches!(rec, Record::Episode(_)));
    match score_record(&rec, &opts).expect("scores").0 {
        OutRecord::Episode(e) => e,
        other => panic!("an episode's output, got {other:?}"),
    }
}
