//! Scoring one validated record: pick the estimator, compute raw credits on the
//! episode's CSR view, calibrate them to R − R0, and build the output record.

use crate::csr::{EpisodeView, NO_AGENT};
use crate::error::{ErrorKind, RecordError};
use crate::estimate::{
    AUTO_EXACT_PLAYERS, McEstimate, Method, SampleOptions, closed_form, exact, permutation,
};
use crate::game::{Level, Mobius, ModelParams, Surrogate, Table, calibrate};
use crate::output::FirstError;
use crate::output::{AgentCredit, EpisodeOut, GameOut, MessageCredit, OutRecord, clean};
use crate::sample::tag;
use crate::signals::{
    FirstErrorMethod, SignalOptions, Split, first_error_counterfactual, first_error_label,
    preference_pairs, repair_rewards, split_by_labels,
};
use crate::validate::{Episode, Game, GameForm, ValidateOptions};

/// Which credits to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Players {
    /// Agent credit only.
    Agents,
    /// Message credit (agent credit too when message credit is the Owen value, as the
    /// sum of each agent's message credits).
    Messages,
    /// Both (default).
    #[default]
    Both,
}

/// How message credit is defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum MessageCreditKind {
    /// The Owen value with agents as a priori unions: refines agent credit exactly.
    #[default]
    Owen,
    /// Flat Shapley values of the message game.
    Shapley,
}

/// Everything that shapes scoring.
#[derive(Debug, Clone, Copy)]
pub struct ScoreOptions {
    /// The surrogate model.
    pub model: ModelParams,
    /// Which credits.
    pub players: Players,
    /// Owen or flat Shapley message credit.
    pub message_credit: MessageCreditKind,
    /// The estimator.
    pub method: Method,
    /// Monte Carlo budget and seed.
    pub sampling: SampleOptions,
    /// Validation options.
    pub validate: ValidateOptions,
    /// Training-signal options.
    pub signals: SignalOptions,
}

impl Default for ScoreOptions {
    fn default() -> Self {
        ScoreOptions {
            model: ModelParams::default(),
            players: Players::Both,
            message_credit: MessageCreditKind::Owen,
            method: Method::Auto,
            sampling: SampleOptions::default(),
            validate: ValidateOptions::default(),
            signals: SignalOptions::default(),
        }
    }
}

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

/// The unions of the message game: per active agent, its players.
fn unions(view: &EpisodeView) -> Vec<Vec<usize>> {
    view.messages_by_agent()
        .into_iter()
        .filter(|ms| !ms.is_empty())
        .map(|ms| {
            ms.into_iter()
                .map(|m| view.players[m as usize] as usize)
                .collect()
        })
        .collect()
}

/// Spreads compact (active-agent) values onto all agents of the episode.
fn expand(active: &[u32], agent_count: usize, compact: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; agent_count];
    for (&a, &x) in active.iter().zip(compact) {
        out[a as usize] = x;
    }
    out
}

fn surrogate_raw(ep: &Episode, view: EpisodeView, opts: &ScoreOptions) -> Result<Raw, RecordError> {
    let want_msgs = opts.players != Players::Agents;
    let owen = opts.message_credit == MessageCreditKind::Owen;
    let mut ag = Surrogate::new(view, opts.model, Level::Agents);
    let active = ag.active_agents().to_vec();
    let a = active.len();
    let np = view.meta.player_count as usize;
    let agent_count = view.meta.agent_count as usize;
    // Agent credit as the sum of Owen message credit needs the Owen closed form.
    let owen_path = !want_msgs || owen;
    let closed_ok = opts.model.is_linear()
        && closed_form::applies(&view)
        && if owen_path {
            closed_form::owen_states(&view) <= closed_form::MAX_OWEN_STATES
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
    let sum_by_union = |msgs: &[f64]| -> Vec<f64> {
        unions(&view)
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
                    raw.messages = exact::owen_from_table(&table, &unions(&view));
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
                let (pm, pa) =
                    permutation::owen(&mut mg, &unions(&view), record, tag::PERMUTATION, s);
                raw.agents = expand(&active, agent_count, &sum_by_union(&pm.mean));
                raw.agents_se = expand(&active, agent_count, &pa.se);
                set_messages(&mut raw, pm);
            } else if want_msgs {
                let mut mg = Surrogate::new(view, opts.model, Level::Messages);
                set_messages(
                    &mut raw,
                    permutation::shapley(&mut mg, record, tag::PERMUTATION, s),
                );
                if opts.players == Players::Both {
                    let pa = permutation::shapley(&mut ag, record, tag::AGENT_PERMUTATION, s);
                    raw.agents = expand(&active, agent_count, &pa.mean);
                    raw.agents_se = expand(&active, agent_count, &pa.se);
                }
            } else {
                let pa = permutation::shapley(&mut ag, record, tag::PERMUTATION, s);
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

/// Scores one episode and returns its output record and its preference-pair records
/// (empty unless pairs are requested and the episode failed with a first error).
pub fn score_episode_with_pairs(
    ep: &Episode,
    view: EpisodeView,
    opts: &ScoreOptions,
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
                surrogate_raw(ep, view, opts)?,
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

/// Scores one game record.
pub fn score_game(g: &Game, opts: &ScoreOptions) -> Result<GameOut, RecordError> {
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
                    permutation::shapley(&mut game, record, tag::PERMUTATION, &opts.sampling),
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
                    permutation::shapley(&mut game, record, tag::PERMUTATION, &opts.sampling),
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

/// Scores a validated record (an episode needs its batch view); returns the output
/// record and any preference-pair records.
pub fn score_record(
    rec: &crate::validate::Record,
    view: Option<EpisodeView>,
    opts: &ScoreOptions,
) -> Result<(OutRecord, Vec<serde_json::Value>), RecordError> {
    match rec {
        crate::validate::Record::Episode(ep) => {
            let view = view.expect("an episode is scored from its CSR view");
            score_episode_with_pairs(ep, view, opts).map(|(o, p)| (OutRecord::Episode(o), p))
        }
        crate::validate::Record::Game(g) => {
            score_game(g, opts).map(|o| (OutRecord::Game(o), Vec::new()))
        }
    }
}
