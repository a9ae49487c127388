//! Scoring one validated record: pick the estimator, compute raw credits on the
//! episode's CSR view, calibrate them to R − R0, and build the output record.

pub use crate::options::{MessageCreditKind, Players, ScoreOptions};

use crate::csr::{EpisodeView, NO_AGENT};
use crate::error::{ErrorKind, RecordError};
use crate::estimate::{
    AUTO_EXACT_PLAYERS, McEstimate, Method, SampleOptions, closed_form, exact, permutation,
};
use crate::game::{Evaluator, Level, Mobius, Surrogate, Table, calibrate};
use crate::model::{Episode, Game, GameForm, Record};
use crate::output::FirstError;
use crate::output::{AgentCredit, EpisodeOut, GameOut, MessageCredit, OutRecord, clean};
use crate::signals::{
    FirstErrorMethod, Split, first_error_counterfactual, first_error_label, preference_pairs,
    repair_rewards, split_by_labels,
};
use crate::stream::tag;

/// Raw (uncalibrated) credits of one episode.
#[derive(Debug, Clone, Default)]
struct Raw {
    /// Per agent of the episode (inactive agents 0).
    agents: Vec<f64>,
    agents_se: Vec<f64>,
    /// Per message-game player.
    messages: Vec<f64>,
    messages_se: Vec<f64>,
    method: &'static str,
    samples: u64,
}

fn too_large(ep: &Episode, field: &str, msg: String) -> RecordError {
    RecordError::new(
        Some(ep.id.clone()),
        ep.line,
        field,
        ErrorKind::TooLarge,
        msg,
    )
}

/// Spreads compact (active-agent) values onto all agents of the episode.
fn expand(active: &[u32], agent_count: usize, compact: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; agent_count];
    for (&a, &x) in active.iter().zip(compact) {
        out[a as usize] = x;
    }
    out
}

/// Which estimator an episode gets, and whether the closed form applies to it.
fn choose_method(view: &EpisodeView, opts: &ScoreOptions) -> (Method, bool) {
    let want_msgs = opts.players != Players::Agents;
    let owen = opts.message_credit == MessageCreditKind::Owen;
    let by_agent = view.messages_by_agent();
    let a = by_agent.iter().filter(|m| !m.is_empty()).count();
    let np = view.meta.player_count as usize;
    // Agent credit as the sum of Owen message credit needs the Owen closed form.
    let owen_path = !want_msgs || owen;
    let closed_ok = opts.model.is_linear()
        && closed_form::applies(view)
        && if owen_path {
            closed_form::owen_states(view) <= closed_form::MAX_OWEN_STATES
        } else {
            a <= exact::MAX_EXACT_PLAYERS || opts.players == Players::Messages
        };
    let method = match opts.method {
        Method::Auto => {
            if a <= AUTO_EXACT_PLAYERS && (!want_msgs || np <= AUTO_EXACT_PLAYERS) {
                Method::Exact
            } else if closed_ok {
                Method::ClosedForm
            } else {
                Method::Permutation
            }
        }
        m => m,
    };
    (method, closed_ok)
}

/// The Monte Carlo games a record needs under `opts` (empty unless it is sampled), with
/// the stream tag of each: what a backend must compute ahead for [`Precomputed`].
pub fn mc_requests(
    rec: &Record,
    view: Option<EpisodeView>,
    opts: &ScoreOptions,
) -> Vec<(McGame, u32)> {
    match rec {
        Record::Game(_) => {
            if opts.method == Method::Permutation {
                vec![(McGame::Game, tag::PERMUTATION)]
            } else {
                Vec::new()
            }
        }
        Record::Episode(ep) => {
            let Some(view) = view else { return Vec::new() };
            if ep.coalition_values.is_some() || choose_method(&view, opts).0 != Method::Permutation
            {
                return Vec::new();
            }
            let want_msgs = opts.players != Players::Agents;
            if want_msgs && opts.message_credit == MessageCreditKind::Owen {
                vec![(McGame::SurrogateOwen, tag::PERMUTATION)]
            } else if want_msgs {
                let mut r = vec![(McGame::SurrogateMessages, tag::PERMUTATION)];
                if opts.players == Players::Both {
                    r.push((McGame::SurrogateAgents, tag::AGENT_PERMUTATION));
                }
                r
            } else {
                vec![(McGame::SurrogateAgents, tag::PERMUTATION)]
            }
        }
    }
}

fn surrogate_raw(
    ep: &Episode,
    view: EpisodeView,
    opts: &ScoreOptions,
    sampler: &mut dyn Sampler,
) -> Result<Raw, RecordError> {
    let want_msgs = opts.players != Players::Agents;
    let owen = opts.message_credit == MessageCreditKind::Owen;
    let mut ag = Surrogate::new(view, opts.model, Level::Agents);
    let active = ag.active_agents().to_vec();
    let a = active.len();
    let np = view.meta.player_count as usize;
    let agent_count = view.meta.agent_count as usize;
    let owen_path = !want_msgs || owen;
    let (method, closed_ok) = choose_method(&view, opts);
    let sum_by_union = |msgs: &[f64]| -> Vec<f64> {
        view.unions()
            .iter()
            .map(|u| u.iter().map(|&p| msgs[p]).sum())
            .collect()
    };
    let mut raw = Raw {
        method: method.name(),
        ..Raw::default()
    };
    match method {
        Method::Exact => {
            if a > exact::MAX_EXACT_PLAYERS {
                return Err(too_large(
                    ep,
                    "agents",
                    format!(
                        "{a} agents with messages; exact enumeration handles at most {}",
                        exact::MAX_EXACT_PLAYERS
                    ),
                ));
            }
            if want_msgs && np > exact::MAX_EXACT_PLAYERS {
                return Err(too_large(
                    ep,
                    "messages",
                    format!(
                        "{np} messages with an agent; exact enumeration handles at most {} (use --method permutation or closed-form)",
                        exact::MAX_EXACT_PLAYERS
                    ),
                ));
            }
            if want_msgs {
                let mut mg = Surrogate::new(view, opts.model, Level::Messages);
                let table = exact::value_table(&mut mg);
                if owen {
                    raw.messages = exact::owen_from_table(&table, &view.unions());
                    raw.agents = expand(&active, agent_count, &sum_by_union(&raw.messages));
                } else {
                    raw.messages = exact::shapley_from_table(&table);
                }
            }
            if raw.agents.is_empty() && opts.players != Players::Messages {
                raw.agents = expand(&active, agent_count, &exact::shapley_exact(&mut ag));
            }
        }
        Method::ClosedForm => {
            if !closed_ok {
                return Err(RecordError::new(
                    Some(ep.id.clone()),
                    ep.line,
                    "messages",
                    ErrorKind::MethodNotApplicable,
                    "the closed form needs --link linear, --aggregate mean, no redundancy groups, and a state table within bounds (use --method permutation)",
                ));
            }
            if owen_path {
                let owen_vals = closed_form::message_owen(&view, opts.model.alpha);
                raw.agents = expand(&active, agent_count, &sum_by_union(&owen_vals));
                if want_msgs {
                    raw.messages = owen_vals;
                }
            } else {
                raw.messages = closed_form::message_shapley(&view, opts.model.alpha);
                if opts.players == Players::Both {
                    raw.agents = expand(&active, agent_count, &exact::shapley_exact(&mut ag));
                }
            }
        }
        Method::Permutation | Method::Auto => {
            let record = ep.ordinal as u32;
            let s = &opts.sampling;
            if want_msgs && owen {
                let mut mg = Surrogate::new(view, opts.model, Level::Messages);
                let (pm, pa) = sampler.owen(&mut mg, &view.unions(), record, s);
                raw.agents = expand(&active, agent_count, &sum_by_union(&pm.mean));
                raw.agents_se = expand(&active, agent_count, &pa.se);
                set_messages(&mut raw, pm);
            } else if want_msgs {
                let mut mg = Surrogate::new(view, opts.model, Level::Messages);
                set_messages(
                    &mut raw,
                    sampler.shapley(
                        McGame::SurrogateMessages,
                        tag::PERMUTATION,
                        &mut mg,
                        record,
                        s,
                    ),
                );
                if opts.players == Players::Both {
                    let pa = sampler.shapley(
                        McGame::SurrogateAgents,
                        tag::AGENT_PERMUTATION,
                        &mut ag,
                        record,
                        s,
                    );
                    raw.agents = expand(&active, agent_count, &pa.mean);
                    raw.agents_se = expand(&active, agent_count, &pa.se);
                }
            } else {
                let pa = sampler.shapley(
                    McGame::SurrogateAgents,
                    tag::PERMUTATION,
                    &mut ag,
                    record,
                    s,
                );
                raw.samples = pa.samples;
                raw.agents = expand(&active, agent_count, &pa.mean);
                raw.agents_se = expand(&active, agent_count, &pa.se);
            }
        }
    }
    Ok(raw)
}

fn set_messages(raw: &mut Raw, est: McEstimate) {
    raw.samples = est.samples;
    raw.messages = est.mean;
    raw.messages_se = est.se;
}

/// Scores one episode whose rows are `view` in the batch.
pub fn score_episode(
    ep: &Episode,
    view: EpisodeView,
    opts: &ScoreOptions,
) -> Result<EpisodeOut, RecordError> {
    score_episode_with_pairs(ep, view, opts).map(|(out, _)| out)
}

/// Scores one episode and returns its output record and preference pairs, sampling on
/// the CPU.
pub fn score_episode_with_pairs(
    ep: &Episode,
    view: EpisodeView,
    opts: &ScoreOptions,
) -> Result<(EpisodeOut, Vec<serde_json::Value>), RecordError> {
    score_episode_using(ep, view, opts, &mut CpuSampler)
}

/// Scores one episode and returns its output record and its preference-pair records
/// (empty unless pairs are requested and the episode failed with a first error), with
/// Monte Carlo estimates from `sampler`.
pub fn score_episode_using(
    ep: &Episode,
    view: EpisodeView,
    opts: &ScoreOptions,
    sampler: &mut dyn Sampler,
) -> Result<(EpisodeOut, Vec<serde_json::Value>), RecordError> {
    let agent_count = ep.agents.len();
    let np = view.meta.player_count as usize;
    let mut flags = Vec::new();
    if ep.structural {
        flags.push("structural");
    }
    let (raw, v_empty, v_full, baseline) = match &ep.coalition_values {
        Some(cv) => {
            let mut t = Table::new(cv);
            let raw = Raw {
                agents: exact::shapley_exact(&mut t),
                method: "exact+label-split",
                ..Raw::default()
            };
            (raw, cv[0], cv[cv.len() - 1], ep.baseline.unwrap_or(cv[0]))
        }
        None => {
            let mut full = Surrogate::new(view, opts.model, Level::Agents);
            let v_empty = full.value_with(|m| view.authors[m] == NO_AGENT);
            let v_full = full.value_with(|_| true);
            (
                surrogate_raw(ep, view, opts, sampler)?,
                v_empty,
                v_full,
                ep.baseline.unwrap_or(0.0),
            )
        }
    };
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
    let rewards: Vec<f64> = if msg_credit.is_empty() || opts.players == Players::Agents {
        Vec::new()
    } else if ep.success {
        match opts.signals.split {
            Split::Owen if ep.coalition_values.is_none() => msg_credit.clone(),
            _ => split_by_labels(&view, &agent_credit, opts.signals.rho),
        }
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
                let per_message =
                    repair_rewards(ep, &view, t, opts.signals.eta, opts.signals.gamma);
                if opts.signals.pairs {
                    let repairs: Vec<usize> = (t + 1..ep.messages.len())
                        .filter(|&m| {
                            ep.messages[m].agent.is_some()
                                && ep.messages[m].score.unwrap_or(0.0) > 0.0
                        })
                        .collect();
                    pairs = preference_pairs(ep, &view, t, &repairs);
                }
                let mut r = vec![0.0; np];
                for (m, x) in per_message.into_iter().enumerate() {
                    if view.players[m] != NO_AGENT {
                        r[view.players[m] as usize] = x;
                    }
                }
                r
            }
            None => {
                flags.push("no_first_error");
                msg_credit.clone()
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
            method: raw.method.to_string(),
            samples: raw.samples,
            flags,
            agents,
            messages,
            first_error,
        },
        pairs,
    ))
}

/// Scores one game record, sampling on the CPU.
pub fn score_game(g: &Game, opts: &ScoreOptions) -> Result<GameOut, RecordError> {
    score_game_using(g, opts, &mut CpuSampler)
}

/// Scores one game record with Monte Carlo estimates from `sampler`.
pub fn score_game_using(
    g: &Game,
    opts: &ScoreOptions,
    sampler: &mut dyn Sampler,
) -> Result<GameOut, RecordError> {
    let n = g.players as usize;
    let record = g.ordinal as u32;
    let err = |msg: String| {
        RecordError::new(
            Some(g.id.clone()),
            g.line,
            "game.players",
            ErrorKind::TooLarge,
            msg,
        )
    };
    let (method, est) = match &g.form {
        GameForm::Mobius(terms) => {
            let mut game = Mobius::new(n, terms);
            match opts.method {
                Method::Auto | Method::ClosedForm => {
                    (Method::ClosedForm, exact_est(game.shapley_closed_form()))
                }
                Method::Exact => {
                    if n > exact::MAX_EXACT_PLAYERS {
                        return Err(err(format!(
                            "{n} players; exact enumeration handles at most {}",
                            exact::MAX_EXACT_PLAYERS
                        )));
                    }
                    (Method::Exact, exact_est(exact::shapley_exact(&mut game)))
                }
                Method::Permutation => (
                    Method::Permutation,
                    sampler.shapley(
                        McGame::Game,
                        tag::PERMUTATION,
                        &mut game,
                        record,
                        &opts.sampling,
                    ),
                ),
            }
        }
        GameForm::Table(table) => {
            let mut game = Table::new(table);
            match opts.method {
                Method::Auto | Method::Exact => {
                    (Method::Exact, exact_est(exact::shapley_from_table(table)))
                }
                Method::ClosedForm => {
                    return Err(RecordError::new(
                        Some(g.id.clone()),
                        g.line,
                        "game.table",
                        ErrorKind::TooLarge,
                        "a table game has no closed form; use --method exact or permutation",
                    ));
                }
                Method::Permutation => (
                    Method::Permutation,
                    sampler.shapley(
                        McGame::Game,
                        tag::PERMUTATION,
                        &mut game,
                        record,
                        &opts.sampling,
                    ),
                ),
            }
        }
    };
    Ok(GameOut {
        id: g.id.clone(),
        method: method.name(),
        samples: est.samples,
        shapley: est.mean.into_iter().map(clean).collect(),
        se: est.se.into_iter().map(clean).collect(),
    })
}

fn exact_est(mean: Vec<f64>) -> McEstimate {
    McEstimate {
        se: vec![0.0; mean.len()],
        mean,
        samples: 0,
    }
}

/// Scores a validated record (an episode needs its batch view), sampling on the CPU;
/// returns the output record and any preference-pair records.
pub fn score_record(
    rec: &Record,
    view: Option<EpisodeView>,
    opts: &ScoreOptions,
) -> Result<(OutRecord, Vec<serde_json::Value>), RecordError> {
    score_record_using(rec, view, opts, &mut CpuSampler)
}

/// [`score_record`] with Monte Carlo estimates from `sampler`.
pub fn score_record_using(
    rec: &Record,
    view: Option<EpisodeView>,
    opts: &ScoreOptions,
    sampler: &mut dyn Sampler,
) -> Result<(OutRecord, Vec<serde_json::Value>), RecordError> {
    match rec {
        Record::Episode(ep) => {
            let view = view.expect("an episode is scored from its CSR view");
            score_episode_using(ep, view, opts, sampler).map(|(o, p)| (OutRecord::Episode(o), p))
        }
        Record::Game(g) => {
            score_game_using(g, opts, sampler).map(|o| (OutRecord::Game(o), Vec::new()))
        }
    }
}

/// The Monte Carlo games of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum McGame {
    /// The surrogate agent game (players: active agents, in agent order).
    SurrogateAgents,
    /// The surrogate message game, flat Shapley (players: message-game players).
    SurrogateMessages,
    /// The surrogate message game, Owen with agents as unions.
    SurrogateOwen,
    /// A Möbius or table game record.
    Game,
}

/// Where Monte Carlo estimates come from: sampled here on the CPU ([`CpuSampler`]), or
/// computed ahead by another backend for the same (record, game, tag) ([`Precomputed`]).
pub trait Sampler {
    /// Shapley estimates of `game`, the `kind` game of `record`, drawn under `tag`.
    fn shapley(
        &mut self,
        kind: McGame,
        tag: u32,
        game: &mut dyn Evaluator,
        record: u32,
        opts: &SampleOptions,
    ) -> McEstimate;

    /// Owen estimates (players, unions) of the message game of `record` (tag 0).
    fn owen(
        &mut self,
        game: &mut dyn Evaluator,
        unions: &[Vec<usize>],
        record: u32,
        opts: &SampleOptions,
    ) -> (McEstimate, McEstimate);
}

/// Samples on the CPU with [`permutation`].
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuSampler;

impl Sampler for CpuSampler {
    fn shapley(
        &mut self,
        _kind: McGame,
        tag: u32,
        game: &mut dyn Evaluator,
        record: u32,
        opts: &SampleOptions,
    ) -> McEstimate {
        permutation::shapley(game, record, tag, opts)
    }

    fn owen(
        &mut self,
        game: &mut dyn Evaluator,
        unions: &[Vec<usize>],
        record: u32,
        opts: &SampleOptions,
    ) -> (McEstimate, McEstimate) {
        permutation::owen(game, unions, record, tag::PERMUTATION, opts)
    }
}

/// Estimates computed ahead for one record, in the order of [`mc_requests`]: each entry
/// is the players' estimate and, for [`McGame::SurrogateOwen`], the unions' estimate.
#[derive(Debug, Clone, Default)]
pub struct Precomputed {
    /// (game, tag) → estimates.
    pub results: Vec<((McGame, u32), McEstimate, Option<McEstimate>)>,
}

impl Precomputed {
    fn take(&mut self, key: (McGame, u32)) -> (McEstimate, Option<McEstimate>) {
        let i = self
            .results
            .iter()
            .position(|(k, _, _)| *k == key)
            .unwrap_or_else(|| {
                panic!("no precomputed estimate for {key:?}: the plan and the scorer disagree")
            });
        let (_, p, u) = self.results.swap_remove(i);
        (p, u)
    }
}

impl Sampler for Precomputed {
    fn shapley(
        &mut self,
        kind: McGame,
        tag: u32,
        _game: &mut dyn Evaluator,
        _record: u32,
        _opts: &SampleOptions,
    ) -> McEstimate {
        self.take((kind, tag)).0
    }

    fn owen(
        &mut self,
        _game: &mut dyn Evaluator,
        _unions: &[Vec<usize>],
        _record: u32,
        _opts: &SampleOptions,
    ) -> (McEstimate, McEstimate) {
        let (p, u) = self.take((McGame::SurrogateOwen, tag::PERMUTATION));
        (p, u.expect("an Owen estimate carries its unions"))
    }
}
