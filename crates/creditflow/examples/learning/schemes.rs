//! The reward schemes: how a played episode becomes one reward per message (turn), for
//! either task. Every creditflow scheme builds an input record, validates it and scores
//! it with [`creditflow::score_record`], and reads the output record's fields.

use creditflow::Record;
use creditflow::options::{FailureReward, Method, Players, ScoreOptions};
use creditflow::schema::{Id, InputMessage, InputOutcome, InputRecord};
use creditflow::score_record;
use creditflow::validate;
use creditflow::{EpisodeOut, OutRecord};

use crate::chat::{ACT_NAMES, Chat, ChatTranscript};
use crate::env::{ACTION_NAMES, Env, Probs, Rng, Transcript};
use crate::failure::{self, Failed, Variant};

/// What scoring needs from a played episode of either task.
pub trait Played {
    /// Messages (turns) by agents.
    fn turns(&self) -> usize;
    /// Author of turn `t`.
    fn agent(&self, t: usize) -> usize;
    /// Parent message indices of turn `t` (0 = the task message, turn t is message
    /// t + 1); `None`: every earlier message (prefix provenance, no `parents` written).
    fn parents(&self, t: usize) -> Option<&[usize]>;
    /// The act of turn `t` (the message's text).
    fn text(&self, t: usize) -> &'static str;
    /// True helpfulness of turn `t` in {−1, 0, 1}.
    fn truth(&self, t: usize) -> f64;
    /// The evaluator's score R.
    fn reward(&self) -> f64;
    /// R = 1.
    fn success(&self) -> bool;
}

impl Played for Transcript {
    fn turns(&self) -> usize {
        self.steps.len()
    }
    fn agent(&self, t: usize) -> usize {
        self.steps[t].agent
    }
    fn parents(&self, t: usize) -> Option<&[usize]> {
        Some(&self.steps[t].parents)
    }
    fn text(&self, t: usize) -> &'static str {
        ACTION_NAMES[self.steps[t].action]
    }
    fn truth(&self, t: usize) -> f64 {
        self.steps[t].truth
    }
    fn reward(&self) -> f64 {
        self.reward
    }
    fn success(&self) -> bool {
        self.success
    }
}

impl Played for ChatTranscript {
    fn turns(&self) -> usize {
        self.steps.len()
    }
    fn agent(&self, t: usize) -> usize {
        self.steps[t].agent
    }
    fn parents(&self, _: usize) -> Option<&[usize]> {
        None
    }
    fn text(&self, t: usize) -> &'static str {
        ACT_NAMES[self.steps[t].action]
    }
    fn truth(&self, t: usize) -> f64 {
        self.steps[t].truth
    }
    fn reward(&self) -> f64 {
        self.reward
    }
    fn success(&self) -> bool {
        self.success
    }
}

/// What a scheme needs from a task besides the played episode.
pub trait Task {
    /// A played episode.
    type Ep: Played;
    /// Agents.
    fn agents(&self) -> usize;
    /// The agent a biased judge favours.
    fn favoured(&self) -> usize;
    /// Difference rewards R − R(without agent i).
    fn difference_rewards(&self, probs: &Probs, u: &[f64], ep: &Self::Ep) -> Vec<f64>;
    /// Every measured v(S) (2^n reruns), where the task offers them.
    fn coalition_values(&self, probs: &Probs, u: &[f64]) -> Vec<f64>;
    /// The estimator of message credit.
    fn message_method(&self) -> Method;
    /// Permutations per record when sampling.
    fn samples(&self) -> u64 {
        ScoreOptions::default().sampling.samples
    }
}

impl Task for Env {
    type Ep = Transcript;
    fn agents(&self) -> usize {
        self.n
    }
    fn favoured(&self) -> usize {
        2
    }
    fn difference_rewards(&self, probs: &Probs, u: &[f64], ep: &Transcript) -> Vec<f64> {
        Env::difference_rewards(self, probs, u, ep.reward)
    }
    fn coalition_values(&self, probs: &Probs, u: &[f64]) -> Vec<f64> {
        Env::coalition_values(self, probs, u)
    }
    /// The surrogate's polynomial closed form: exact here (linear link, mean
    /// aggregate, no redundancy groups), and at these sizes as fast as or faster than
    /// the auto rule's enumeration (≤ 12 messages).
    fn message_method(&self) -> Method {
        Method::ClosedForm
    }
}

impl Task for Chat {
    type Ep = ChatTranscript;
    fn agents(&self) -> usize {
        self.n
    }
    fn favoured(&self) -> usize {
        self.favoured
    }
    fn difference_rewards(&self, probs: &Probs, u: &[f64], ep: &ChatTranscript) -> Vec<f64> {
        Chat::difference_rewards(self, probs, u, ep.reward)
    }
    fn coalition_values(&self, _: &Probs, _: &[f64]) -> Vec<f64> {
        panic!("the chat task does not measure 2^n coalition values")
    }
    /// Permutation sampling, 128 permutations (`--samples 128`): the auto rule picks the
    /// Owen closed form up to its state limit, which at 10 agents over ~80 prefix messages
    /// costs about half a second per episode, against about 6 ms for the default 1,024
    /// permutations and under 1 ms for 128.
    fn message_method(&self) -> Method {
        Method::Permutation
    }
    fn samples(&self) -> u64 {
        128
    }
}

/// A judge: each message's true helpfulness plus Gaussian noise σ, plus `bias` on the
/// favoured agent's messages, clipped to [−1, 1].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Judge {
    /// Noise σ.
    pub sigma: f64,
    /// Added to the favoured agent's scores.
    pub bias: f64,
}

impl Judge {
    /// An unbiased judge of noise `sigma`.
    pub const fn noisy(sigma: f64) -> Judge {
        Judge { sigma, bias: 0.0 }
    }

    /// The JSON's suffix.
    pub fn name(self) -> String {
        if self.bias == 0.0 {
            format!("{}", self.sigma)
        } else {
            format!("{}-bias{}", self.sigma, self.bias)
        }
    }

    /// The report's label.
    pub fn label(self) -> String {
        if self.bias == 0.0 {
            format!("σ={}", self.sigma)
        } else {
            format!("σ={}, bias +{}", self.sigma, self.bias)
        }
    }

    /// One score per turn of `ep` (one normal draw per turn, in order).
    pub fn scores(self, ep: &impl Played, favoured: usize, rng: &mut Rng) -> Vec<f64> {
        (0..ep.turns())
            .map(|t| {
                let bias = if ep.agent(t) == favoured {
                    self.bias
                } else {
                    0.0
                };
                (ep.truth(t) + self.sigma * rng.normal() + bias).clamp(-1.0, 1.0)
            })
            .collect()
    }
}

/// A reward scheme.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scheme {
    /// Every message gets the team reward R.
    Team,
    /// Every message gets its agent's Shapley credit from measured coalition values
    /// (2^n reruns).
    ShapleyMeasured,
    /// Every message gets its agent's Shapley credit from the surrogate over the
    /// judge's scores.
    ShapleyJudge(Judge),
    /// Every message gets its Owen message credit, both branches (creditflow's
    /// `reward` with `--failure-reward credit`).
    Owen(Judge),
    /// The paper's schedule: repair-aware rewards from the first error on failure, Owen
    /// message credit on success (creditflow's `--failure-reward repair-schedule`).
    Repair(Judge),
    /// Owen credit on success, a variant on failure (the ablation and the candidates).
    Variant(Variant, Judge),
    /// Every message gets R − R(without its agent) (not creditflow).
    Difference,
}

impl Scheme {
    /// The scheme's short name (the JSON's `scheme`).
    pub fn name(self) -> String {
        match self {
            Scheme::Team => "team".into(),
            Scheme::ShapleyMeasured => "shapley-measured".into(),
            Scheme::ShapleyJudge(j) => format!("shapley-judge-{}", j.name()),
            Scheme::Owen(j) => format!("owen-{}", j.name()),
            Scheme::Repair(j) => format!("repair-{}", j.name()),
            Scheme::Variant(v, j) => format!("{}-{}", v.name(), j.name()),
            Scheme::Difference => "difference".into(),
        }
    }

    /// The report's label.
    pub fn label(self) -> String {
        match self {
            Scheme::Team => "team reward R".into(),
            Scheme::Difference => "difference R − R₋ᵢ (env)".into(),
            Scheme::ShapleyMeasured => "Shapley, measured v(S)".into(),
            Scheme::ShapleyJudge(j) => format!("Shapley, surrogate {}", j.label()),
            Scheme::Owen(j) => format!("Owen credit {}", j.label()),
            Scheme::Repair(j) => format!("repair schedule {}", j.label()),
            Scheme::Variant(v, j) => format!("{} {}", v.label(), j.label()),
        }
    }

    /// The judge, for the schemes that read judge scores.
    pub fn judge(self) -> Option<Judge> {
        match self {
            Scheme::ShapleyJudge(j)
            | Scheme::Owen(j)
            | Scheme::Repair(j)
            | Scheme::Variant(_, j) => Some(j),
            _ => None,
        }
    }

    /// Whether the reward is one number per agent (copied to its messages).
    pub fn agent_level(self) -> bool {
        matches!(
            self,
            Scheme::Team | Scheme::Difference | Scheme::ShapleyMeasured | Scheme::ShapleyJudge(_)
        )
    }

    /// Whether the learner's baseline is the per-turn group mean (else one group mean).
    pub fn per_turn_baseline(self) -> bool {
        match self {
            Scheme::Variant(v, _) => v.per_turn_baseline(),
            _ => true,
        }
    }

    /// One reward per turn of `ep` (played by `task` under `probs` with numbers `u`).
    /// `judge_rng` draws the judge's noise.
    pub fn rewards<T: Task>(
        self,
        task: &T,
        probs: &Probs,
        u: &[f64],
        ep: &T::Ep,
        id: &str,
        judge_rng: &mut Rng,
    ) -> Vec<f64> {
        let turns = ep.turns();
        match self {
            Scheme::Team => vec![ep.reward(); turns],
            Scheme::Difference => {
                let d = task.difference_rewards(probs, u, ep);
                (0..turns).map(|t| d[ep.agent(t)]).collect()
            }
            Scheme::ShapleyMeasured => {
                let values = task.coalition_values(probs, u);
                let out = score(task, ep, None, Some(values), id, Players::Agents, None);
                (0..turns).map(|t| out.agents[ep.agent(t)].credit).collect()
            }
            Scheme::ShapleyJudge(j) => {
                let scores = j.scores(ep, task.favoured(), judge_rng);
                let out = score(task, ep, Some(&scores), None, id, Players::Agents, None);
                (0..turns).map(|t| out.agents[ep.agent(t)].credit).collect()
            }
            Scheme::Owen(j) | Scheme::Repair(j) | Scheme::Variant(_, j) => {
                let scores = j.scores(ep, task.favoured(), judge_rng);
                let failure = match self {
                    Scheme::Repair(_) => FailureReward::RepairSchedule,
                    _ => FailureReward::Credit,
                };
                let out = score(
                    task,
                    ep,
                    Some(&scores),
                    None,
                    id,
                    Players::Messages,
                    Some(failure),
                );
                let (credit, reward) = per_turn(&out, turns);
                match self {
                    Scheme::Owen(_) | Scheme::Repair(_) => reward,
                    Scheme::Variant(..) if ep.success() => credit,
                    Scheme::Variant(v, _) => {
                        let first = out.first_error.as_ref().map(|f| f.index as usize - 1);
                        variant_rewards(v, ep, &credit, &scores, first)
                    }
                    _ => unreachable!("a message-credit scheme"),
                }
            }
        }
    }
}

/// The credit and the reward of every turn of an output record (message index t + 1).
pub fn per_turn(out: &EpisodeOut, turns: usize) -> (Vec<f64>, Vec<f64>) {
    let mut credit = vec![0.0; turns];
    let mut reward = vec![0.0; turns];
    for m in &out.messages {
        let t = m.index as usize - 1;
        credit[t] = m.credit;
        reward[t] = m.reward;
    }
    (credit, reward)
}

/// Parent turns of every turn (the task message dropped; `None`: prefix).
fn parent_turns(ep: &impl Played) -> Vec<Option<Vec<usize>>> {
    (0..ep.turns())
        .map(|t| {
            ep.parents(t)
                .map(|ps| ps.iter().filter(|&&p| p > 0).map(|&p| p - 1).collect())
        })
        .collect()
}

/// A failed episode's rewards under variant `v`, from its credits, scores and first
/// error (a turn).
pub fn variant_rewards(
    v: Variant,
    ep: &impl Played,
    credit: &[f64],
    scores: &[f64],
    first_error: Option<usize>,
) -> Vec<f64> {
    let true_error = (0..ep.turns()).find(|&t| ep.truth(t) < 0.0);
    let first = if v == Variant::ScheduleTrueError {
        true_error
    } else {
        first_error
    };
    let parents = parent_turns(ep);
    let built_on = match first {
        Some(t) => failure::built_on(&parents, t),
        None => vec![false; ep.turns()],
    };
    let defaults = creditflow::options::SignalOptions::default();
    failure::rewards(
        v,
        &Failed {
            credit,
            score: scores,
            built_on: &built_on,
            first_error: first,
            eta: defaults.eta,
            gamma: defaults.gamma,
        },
    )
}

/// The input record of an episode: the task message, one message per turn with its
/// provenance (none written for prefix provenance) and judge score when given, the
/// outcome, and measured coalition values when given.
pub fn input_record(
    agents: usize,
    ep: &impl Played,
    scores: Option<&[f64]>,
    values: Option<Vec<f64>>,
    id: &str,
) -> InputRecord {
    let mut messages = Vec::with_capacity(ep.turns() + 1);
    messages.push(InputMessage {
        id: Some(Id::from("m0")),
        agent: None,
        parents: Some(Default::default()),
        text: Some(serde_json::Value::String("task".into())),
        ..InputMessage::default()
    });
    for t in 0..ep.turns() {
        messages.push(InputMessage {
            id: Some(Id(format!("m{}", t + 1))),
            agent: Some(format!("a{}", ep.agent(t))),
            parents: ep
                .parents(t)
                .map(|ps| ps.iter().map(|p| Id(format!("m{p}"))).collect()),
            score: scores.map(|sc| sc[t]),
            text: Some(serde_json::Value::String(ep.text(t).into())),
            ..InputMessage::default()
        });
    }
    InputRecord {
        id: Some(Id(id.to_string())),
        agents: Some((0..agents).map(|i| format!("a{i}")).collect()),
        messages: Some(messages),
        outcome: Some(InputOutcome {
            reward: Some(ep.reward()),
            baseline: Some(0.0),
            success: Some(ep.success()),
        }),
        coalition_values: values,
        ..InputRecord::default()
    }
}

/// Validates and scores an episode's record with creditflow's defaults (label first
/// error, η = γ = 0.5) except the failure reward when `failure` is given: agent credit
/// alone by the auto rule (enumeration over at most 10 agents, or of the measured
/// values); message credit by the task's [`Task::message_method`].
pub fn score<T: Task>(
    task: &T,
    ep: &T::Ep,
    scores: Option<&[f64]>,
    values: Option<Vec<f64>>,
    id: &str,
    players: Players,
    failure: Option<FailureReward>,
) -> EpisodeOut {
    let method = if players == Players::Agents {
        Method::Auto
    } else {
        task.message_method()
    };
    let mut opts = ScoreOptions {
        players,
        method,
        ..ScoreOptions::default()
    };
    opts.sampling.samples = task.samples();
    if let Some(f) = failure {
        opts.signals.failure_reward = f;
    }
    let rec = validate(
        input_record(task.agents(), ep, scores, values, id),
        1,
        &opts.validate,
    )
    .expect("the tasks write valid records");
    assert!(matches!(rec, Record::Episode(_)));
    match score_record(&rec, &opts).expect("scores").0 {
        OutRecord::Episode(e) => e,
        other => panic!("an episode's output, got {other:?}"),
    }
}
