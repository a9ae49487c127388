//! Finishing a record from its plan and its jobs' results: calibrate the raw credits to
//! R − R0, derive the training signals (DESIGN §5), and build the output record. The plan
//! ([`crate::plan`]) decided everything; this reads the results where it says.

use crate::csr::{EpisodeView, NO_AGENT};
use crate::engine::{Estimator, Job, JobResult};
use crate::error::{ErrorKind, RecordError};
use crate::game::calibrate;
use crate::model::{Episode, Game};
use crate::options::{FailureReward, FirstErrorMethod};
use crate::options::{MessageCreditKind, Players, ScoreOptions, Split};
use crate::output::{AgentCredit, EpisodeOut, FirstError, GameOut, MessageCredit, clean};
use crate::plan::{AgentSource, EpisodePlan};
use crate::signals::{
    first_error_counterfactual, first_error_label, preference_pairs, repair_rewards,
    split_by_labels,
};

/// Most bytes of one record's preference pairs (DESIGN §2.6), bounded before they are
/// built: (first error + repairs) × the episode's text.
pub const MAX_PAIR_BYTES: usize = 256 << 20;

/// Bytes of a message text (a string's length, else its JSON).
fn text_bytes(v: &serde_json::Value) -> usize {
    match v {
        serde_json::Value::String(s) => s.len(),
        other => other.to_string().len(),
    }
}

/// Raw (uncalibrated) credits of one episode, read from its jobs' results.
#[derive(Debug, Clone, Default)]
struct Raw {
    /// Per agent of the episode (inactive agents 0).
    agents: Vec<f64>,
    /// Standard errors of sampled agent credit (empty when exact).
    agents_se: Vec<f64>,
    /// Per message-game player.
    messages: Vec<f64>,
    /// Standard errors of sampled message credit (empty when exact).
    messages_se: Vec<f64>,
    /// Permutations drawn (the plan's first job).
    samples: u64,
}

/// Spreads compact (active-agent) values onto all agents of the episode.
fn expand(active: &[u32], agent_count: usize, compact: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; agent_count];
    for (&a, &x) in active.iter().zip(compact) {
        out[a as usize] = x;
    }
    out
}

impl Raw {
    /// `jobs` and `results` are the episode's own (plan-local indices).
    fn read(
        plan: &EpisodePlan,
        view: EpisodeView,
        jobs: &[Job],
        results: &[JobResult],
        agent_count: usize,
    ) -> Raw {
        let sampled = |k: usize| jobs[k].estimator == Estimator::Permutation;
        let active = view.active_agents;
        let mut raw = Raw {
            samples: results.first().map_or(0, |r| r.players.samples),
            ..Raw::default()
        };
        match plan.agents {
            AgentSource::None => {}
            AgentSource::ActiveAgents(k) => {
                let r = &results[k].players;
                raw.agents = expand(active, agent_count, &r.mean);
                if sampled(k) {
                    raw.agents_se = expand(active, agent_count, &r.se);
                }
            }
            AgentSource::Unions(k) => {
                let r = &results[k];
                raw.agents = expand(active, agent_count, &view.union_sums(&r.players.mean));
                if sampled(k) {
                    let unions = r.unions.as_ref().expect("an Owen job estimates its unions");
                    raw.agents_se = expand(active, agent_count, &unions.se);
                }
            }
            AgentSource::AllAgents(k) => raw.agents = results[k].players.mean.clone(),
        }
        if let Some(k) = plan.messages {
            raw.messages = results[k].players.mean.clone();
            if sampled(k) {
                raw.messages_se = results[k].players.se.clone();
            }
        }
        raw
    }
}

/// Finishes episode `ep` (rows `view`) from its plan, its jobs and their results; returns
/// the output record and its preference-pair records (empty unless pairs are requested
/// and the episode failed with a first error).
pub fn finish_episode(
    ep: &Episode,
    view: EpisodeView,
    plan: &EpisodePlan,
    jobs: &[Job],
    results: &[JobResult],
    opts: &ScoreOptions,
) -> Result<(EpisodeOut, Vec<serde_json::Value>), RecordError> {
    let agent_count = ep.agents.len();
    let np = view.meta.player_count as usize;
    let mut flags = Vec::new();
    if ep.structural {
        flags.push("structural");
    }
    let raw = Raw::read(plan, view, jobs, results, agent_count);
    let (v_empty, v_full, baseline) = (plan.v_empty, plan.v_full, plan.baseline);
    let cal = calibrate(v_empty, v_full, ep.reward, baseline);
    if cal.degenerate {
        flags.push("degenerate");
    }
    if cal.mismatch {
        flags.push("label_outcome_mismatch");
    }
    let dr = ep.reward - baseline;
    let mut agent_credit: Vec<f64>;
    let mut agent_se: Vec<f64>;
    let mut msg_credit: Vec<f64>;
    let mut msg_se: Vec<f64>;
    let by_agent = view.messages_by_agent();
    if cal.fallback {
        // The equal-share game of calibrate.rs: exact, no sampling error.
        let share = if np > 0 { dr / np as f64 } else { 0.0 };
        agent_credit = by_agent.iter().map(|ms| share * ms.len() as f64).collect();
        agent_se = vec![0.0; agent_count];
        msg_credit = vec![share; np];
        msg_se = vec![0.0; np];
    } else {
        let s = cal.scale;
        agent_credit = raw.agents.iter().map(|x| s * x).collect();
        agent_se = raw.agents_se.iter().map(|x| s.abs() * x).collect();
        msg_credit = raw.messages.iter().map(|x| s * x).collect();
        msg_se = raw.messages_se.iter().map(|x| s.abs() * x).collect();
    }
    if ep.coalition_values.is_some() && opts.players != Players::Agents {
        // Measured agent credit refined by the label split (DESIGN §3.2).
        msg_credit = split_by_labels(&view, &agent_credit, opts.signals.rho);
        msg_se = vec![0.0; np];
    }
    // Training rewards (DESIGN §5), per message-game player.
    let mut first_error = None;
    let mut pairs = Vec::new();
    // The success branch's rewards: Owen credit, or the label split of agent credit.
    let credit_rewards = |msg_credit: &Vec<f64>| match opts.signals.split {
        Split::Owen if ep.coalition_values.is_none() => msg_credit.clone(),
        _ => split_by_labels(&view, &agent_credit, opts.signals.rho),
    };
    let rewards: Vec<f64> = if msg_credit.is_empty() || opts.players == Players::Agents {
        Vec::new()
    } else if ep.success {
        credit_rewards(&msg_credit)
    } else {
        let t = match opts.signals.first_error {
            FirstErrorMethod::Label => first_error_label(ep),
            FirstErrorMethod::Counterfactual => {
                first_error_counterfactual(ep, view, &opts.model, opts.validate.threshold)
            }
        };
        match t {
            Some(t) => {
                let msg = &ep.messages[t];
                first_error = Some(FirstError {
                    index: t as u32,
                    message: msg.id.clone(),
                    agent: msg
                        .agent
                        .map_or_else(String::new, |a| ep.agents[a as usize].clone()),
                    method: opts.signals.first_error.name().to_string(),
                });
                if opts.signals.pairs {
                    let repairs: Vec<usize> = (t + 1..ep.messages.len())
                        .filter(|&m| {
                            ep.messages[m].agent.is_some()
                                && ep.messages[m].score.unwrap_or(0.0) > 0.0
                        })
                        .collect();
                    // Each pair's prompt holds at most the episode's whole text: bound the
                    // pairs' size before building them (DESIGN §2.6).
                    let text: usize = ep
                        .messages
                        .iter()
                        .map(|m| m.text.as_ref().map_or(0, text_bytes) + 64)
                        .sum();
                    let bound = (1 + repairs.len()).saturating_mul(text);
                    if bound > MAX_PAIR_BYTES {
                        return Err(RecordError::new(
                            Some(ep.id.clone()),
                            ep.line,
                            "messages",
                            ErrorKind::TooLarge,
                            format!(
                                "its preference pairs could take {bound} bytes ({} steps × {text} bytes of text); a record's pairs may take at most {MAX_PAIR_BYTES}",
                                1 + repairs.len()
                            ),
                        ));
                    }
                    pairs = preference_pairs(ep, &view, t, &repairs);
                }
                let schedule = || {
                    let per_message =
                        repair_rewards(ep, &view, t, opts.signals.eta, opts.signals.gamma);
                    let mut r = vec![0.0; np];
                    for (m, x) in per_message.into_iter().enumerate() {
                        if view.players[m] != NO_AGENT {
                            r[view.players[m] as usize] = x;
                        }
                    }
                    r
                };
                match opts.signals.failure_reward {
                    FailureReward::Credit => credit_rewards(&msg_credit),
                    FailureReward::RepairSchedule => schedule(),
                    FailureReward::CreditPlusSchedule => {
                        // The schedule at the credits' scale: divided by the number of
                        // agent messages (docs/learning.md, the ablation).
                        let agent_messages =
                            view.players.iter().filter(|&&p| p != NO_AGENT).count().max(1);
                        let mut r = credit_rewards(&msg_credit);
                        for (x, s) in r.iter_mut().zip(schedule()) {
                            *x += s / agent_messages as f64;
                        }
                        r
                    }
                }
            }
            None => {
                flags.push("no_first_error");
                match opts.signals.failure_reward {
                    FailureReward::Credit | FailureReward::CreditPlusSchedule => {
                        credit_rewards(&msg_credit)
                    }
                    FailureReward::RepairSchedule => msg_credit.clone(),
                }
            }
        }
    };
    if opts.players == Players::Messages && opts.message_credit == MessageCreditKind::Shapley {
        agent_credit.clear();
    }
    if opts.players == Players::Agents {
        msg_credit.clear();
    }
    if agent_se.len() != agent_credit.len() {
        agent_se = vec![0.0; agent_credit.len()];
    }
    if msg_se.len() != msg_credit.len() {
        msg_se = vec![0.0; msg_credit.len()];
    }
    let agents = agent_credit
        .iter()
        .zip(&agent_se)
        .enumerate()
        .map(|(a, (&c, &se))| AgentCredit {
            agent: ep.agents[a].clone(),
            credit: clean(c),
            se: clean(se),
        })
        .collect();
    // Every number out is a number: values past f64 (e.g. measured coalition values of
    // ±1e308) make an error record, never a `null`.
    let all = agent_credit
        .iter()
        .chain(&agent_se)
        .chain(&msg_credit)
        .chain(&msg_se)
        .chain(&rewards);
    if let Some(x) = all.copied().find(|x| !x.is_finite()) {
        return Err(RecordError::new(
            Some(ep.id.clone()),
            ep.line,
            "outcome",
            ErrorKind::NonFinite,
            format!(
                "a credit came out as {x}: the rewards or coalition values are too large for f64 arithmetic (scale them down)"
            ),
        ));
    }
    let mut messages = Vec::with_capacity(msg_credit.len());
    if !msg_credit.is_empty() {
        for (m, msg) in ep.messages.iter().enumerate() {
            let p = view.players[m];
            if p == NO_AGENT {
                continue;
            }
            let c = clean(msg_credit[p as usize]);
            messages.push(MessageCredit {
                id: msg.id.clone(),
                agent: ep.agents[view.authors[m] as usize].clone(),
                index: m as u32,
                credit: c,
                se: clean(msg_se[p as usize]),
                reward: clean(rewards[p as usize]),
            });
        }
    }
    Ok((
        EpisodeOut {
            id: ep.id.clone(),
            branch: if ep.success { "success" } else { "failure" },
            reward: ep.reward,
            baseline,
            method: plan.method.to_string(),
            samples: raw.samples,
            flags,
            agents,
            messages,
            first_error,
        },
        pairs,
    ))
}

/// Finishes game record `g` from its one job and result.
pub fn finish_game(g: &Game, job: &Job, result: &JobResult) -> Result<GameOut, RecordError> {
    let est = &result.players;
    if let Some(x) = est.mean.iter().chain(&est.se).find(|x| !x.is_finite()) {
        return Err(RecordError::new(
            Some(g.id.clone()),
            g.line,
            "game",
            ErrorKind::NonFinite,
            format!(
                "a Shapley value came out as {x}: the game's values are too large for f64 arithmetic"
            ),
        ));
    }
    Ok(GameOut {
        id: g.id.clone(),
        method: job.estimator.name(),
        samples: est.samples,
        shapley: est.mean.iter().copied().map(clean).collect(),
        se: est.se.iter().copied().map(clean).collect(),
    })
}
