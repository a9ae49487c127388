//! Planning: the one place where a record's estimators are decided.
//!
//! Each validated record gets one [`Plan`], built once: the estimator jobs it needs (in a
//! chunk-wide job list that either backend executes, see [`crate::engine::execute`] and
//! `crate::backend`) and where its credits come from in their results. The finish step
//! ([`crate::finish`]) reads the results as the plan says and never re-decides.
//!
//! The rule (`--method auto`): an episode is enumerated exactly when its agent game and
//! (if message credit is wanted) its message game have at most
//! [`AUTO_EXACT_PLAYERS`] players; else the closed form where it applies (linear link,
//! `mean` aggregate, no redundancy groups, and for the Owen value a state table within
//! bounds and, past [`AUTO_CLOSED_FORM_FLOOR`] steps, a cost of at most
//! [`AUTO_CLOSED_FORM_COST`] times the permutations it replaces); else permutation
//! sampling. Measured coalition values are enumerated exactly.
//! A Möbius game uses its closed form, a table game enumeration.
//!
//! A sampled surrogate job of a nonlinear model (link ≠ linear, aggregate ≠ `mean`, or
//! redundancy groups) may take the control variate (DESIGN §4,
//! [`crate::estimate::control`]) when v_lin's closed form fits (the Owen state table
//! within bounds for Owen and agent jobs). `--control-variate on` takes it there;
//! `auto` (the default) runs the job's pilot round and takes it where
//! [`Pilot::pays_with`]: where the residual's summed variance, times the measured
//! relative cost of a controlled pair ([`COST_SHARED`] when v_lin shares v's presences
//! under the `mean` aggregate, [`COST_OWN`] otherwise) and the share of the time its
//! closed form takes ([`closed_form_overhead`]), is below plain sampling's. The record's
//! `method` is then `permutation+cv`.
//!
//! [`closed_form_overhead`]: crate::estimate::control::closed_form_overhead

use std::ops::Range;

use crate::csr::{EpisodeView, NO_AGENT};
use crate::engine::Control;
use crate::engine::{Estimator, GameBatch, Job, JobGame};
use crate::error::{ErrorKind, RecordError};
use crate::estimate::control::{
    COST_OWN, COST_SHARED, Controlled, PILOT_PAIRS, Pilot, closed_form_steps, pilot,
    sampling_steps,
};
use crate::estimate::{
    AUTO_CLOSED_FORM_COST, AUTO_CLOSED_FORM_FLOOR, AUTO_EXACT_PLAYERS, closed_form, exact,
    regression,
};
use crate::game::{Evaluator, Level, surrogate};
use crate::model::{Episode, Game, GameForm};
use crate::options::{Aggregate, ControlVariate, MessageCreditKind, Method, Players, ScoreOptions};
use crate::rng::tag;

/// Where an episode's agent credit comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentSource {
    /// No agent credit (message Shapley only).
    None,
    /// The players of job `k` (of the plan's jobs) are the episode's active agents.
    ActiveAgents(usize),
    /// Job `k` is an Owen job: an active agent's credit is the sum of its union's
    /// message credits, its standard error the union estimate's.
    Unions(usize),
    /// The players of job `k` are all the episode's agents (measured coalition values).
    AllAgents(usize),
}

/// An episode's plan.
#[derive(Debug, Clone, PartialEq)]
pub struct EpisodePlan {
    /// The name written to the output's `method` field.
    pub method: &'static str,
    /// v(∅) of the agent game (surrogate or measured), for calibration.
    pub v_empty: f64,
    /// v(N).
    pub v_full: f64,
    /// R0: the outcome's baseline, or (measured values) v(∅) when the outcome has none.
    pub baseline: f64,
    /// Where agent credit comes from.
    pub agents: AgentSource,
    /// The job whose players are the message-game players' credits, if message credit is
    /// computed from the game (not for measured coalition values: label split).
    pub messages: Option<usize>,
}

/// What the finish step does with a record's results.
#[derive(Debug, Clone, PartialEq)]
pub enum PlanKind {
    /// An episode.
    Episode(EpisodePlan),
    /// A game record: job 0 holds its Shapley values.
    Game,
}

/// One record's plan: its jobs (a range of the chunk's job list) and how to read them.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The record's jobs in the chunk's job list. The first job's sample count is the
    /// record's `samples`.
    pub jobs: Range<usize>,
    /// How the results are read.
    pub kind: PlanKind,
}

/// A chunk's job list, filled as records are planned.
#[derive(Debug, Default)]
pub struct JobList {
    /// The jobs, in record order.
    pub jobs: Vec<Job>,
    /// The Möbius and table games the jobs name (game records and measured coalition
    /// values).
    pub games: GameBatch,
}

/// Most work one record may plan, in evaluation steps (DESIGN §2.6): 2^38 ≈ 2.7·10^11,
/// about two minutes of one core at the measured 2·10^9 steps/s. A record past it is a
/// `too_large` error record, so that no record holds its chunk back without bound.
pub const MAX_RECORD_WORK: f64 = (1u64 << 38) as f64;

/// True when the sampled surrogate jobs of episode `view` may take the control variate:
/// asked for (`on` or `auto`) and a nonlinear model (a linear link and the `mean`
/// aggregate without redundancy groups make v = v_lin: nothing to control).
fn may_control(opts: &ScoreOptions, view: &EpisodeView) -> bool {
    opts.control_variate != ControlVariate::Off && (!opts.model.is_linear() || view.has_groups())
}

/// The control variate of sampled surrogate job `job` of episode `view` (DESIGN §4), or
/// `None`: only where v_lin's closed form fits (the Owen state table within bounds for
/// Owen and agent jobs), and under `auto` only where its pilot round says it pays
/// ([`Pilot::pays`]). The pilot runs in parallel over its pairs.
fn control(view: EpisodeView, job: &Job, opts: &ScoreOptions) -> Option<Control> {
    let (level, owen) = match job.game {
        JobGame::SurrogateAgents => (Level::Agents, false),
        JobGame::SurrogateMessages => (Level::Messages, false),
        JobGame::SurrogateOwen => (Level::Messages, true),
        JobGame::Mobius(_) | JobGame::Table(_) => return None,
    };
    if job.estimator != Estimator::Permutation {
        return None;
    }
    let states = closed_form::owen_states(&view);
    if job.game != JobGame::SurrogateMessages && states > closed_form::MAX_OWEN_STATES {
        return None;
    }
    let game = Controlled::new(view, opts.model, level, 0.0);
    if game.players() == 0 {
        return None;
    }
    let cost = if game.shared() { COST_SHARED } else { COST_OWN };
    let pairs = crate::estimate::permutation::pair_budget(&job.sampling(&opts.sampling)) as f64;
    let overhead =
        closed_form_steps(&view, states) / sampling_steps(&view, game.players(), pairs);
    if opts.control_variate == ControlVariate::Auto && overhead >= 1.0 {
        // The closed form alone outlasts plain sampling: no pilot needed to say no.
        return None;
    }
    let unions = owen.then(|| view.unions());
    let p: Pilot = pilot(
        &game,
        unions.as_deref(),
        opts.sampling.seed,
        job.key,
        job.tag,
    );
    let take = match opts.control_variate {
        ControlVariate::On => true,
        ControlVariate::Auto => p.pays_with(cost, overhead),
        ControlVariate::Off => false,
    };
    take.then(|| Control::new(p.beta, &opts.model))
}

/// An upper bound on the evaluation steps of `job` (an incremental walk touches at most
/// every message and parent per added player; enumeration evaluates 2^n coalitions).
fn work(job: &Job, view: Option<&EpisodeView>, games: &GameBatch, opts: &ScoreOptions) -> f64 {
    let pairs = crate::estimate::permutation::pair_budget(&job.sampling(&opts.sampling)) as f64;
    let (n, eval) = match (job.game, view) {
        (JobGame::Mobius(i), _) => {
            let g = games.games[i];
            let size = games.term_offsets[(g.term_offset + g.term_count) as usize]
                - games.term_offsets[g.term_offset as usize];
            (g.players as f64, (size + g.term_count + g.players) as f64)
        }
        (JobGame::Table(i), _) => (games.games[i].players as f64, 1.0),
        (JobGame::SurrogateAgents, Some(v)) => (
            v.active_agents.len() as f64,
            (v.len() + v.listed_parent_count()) as f64,
        ),
        (_, Some(v)) => (
            v.meta.player_count as f64,
            (v.len() + v.listed_parent_count()) as f64,
        ),
        (_, None) => (0.0, 0.0),
    };
    // A sampled surrogate job of a nonlinear model may run its pilot round and walk v_lin
    // as a second game (`min` / `max`): counted as if it did.
    let surrogate = matches!(
        job.game,
        JobGame::SurrogateAgents | JobGame::SurrogateMessages | JobGame::SurrogateOwen
    );
    let (pairs, games) = if surrogate && view.is_some_and(|v| may_control(opts, v)) {
        let games = if opts.model.aggregate == Aggregate::Mean {
            COST_SHARED
        } else {
            COST_OWN
        };
        (pairs + PILOT_PAIRS as f64, games)
    } else {
        (pairs, 1.0)
    };
    match job.estimator {
        Estimator::Permutation => pairs * 2.0 * n * eval * games,
        Estimator::Exact => n.exp2() * (eval + n),
        // The Owen closed form is bounded by its state table; the flat one by paths.
        Estimator::ClosedForm => eval * eval,
        // n adds per evaluated pair, and the three-way screen's bounded rounds.
        Estimator::Regression => {
            let budget = regression::budget(&opts.sampling, n as usize);
            regression::work(n as usize, budget, eval)
        }
    }
}

/// Pairs of a permutation job of `n` players under `--budget b`: P permutations cost
/// P·(n − 1) + 2 value evaluations (shapiq's count, ∅ and N included), so P =
/// ⌊(b − 2)/(n − 1)⌋, in whole antithetic pairs, at least one.
pub fn budget_pairs(b: u64, n: u64) -> u64 {
    (b.saturating_sub(2) / n.saturating_sub(1).max(1) / 2).max(1)
}

/// Value evaluations of exact enumeration over `n` players: 2^n.
fn exact_cost(n: usize) -> u64 {
    if n < 64 { 1u64 << n } else { u64::MAX }
}

/// The players of `job`'s game.
fn job_players(job: &Job, view: Option<&EpisodeView>, games: &GameBatch) -> u64 {
    match (job.game, view) {
        (JobGame::Mobius(i) | JobGame::Table(i), _) => u64::from(games.games[i].players),
        (JobGame::SurrogateAgents, Some(v)) => v.active_agents.len() as u64,
        (_, Some(v)) => u64::from(v.meta.player_count),
        (_, None) => 0,
    }
}

/// Sizes the permutation jobs of `jobs[start..]` by `--budget`, when given.
fn size_by_budget(list: &mut JobList, start: usize, view: Option<&EpisodeView>, opts: &ScoreOptions) {
    let Some(b) = opts.sampling.budget else {
        return;
    };
    for k in start..list.jobs.len() {
        if list.jobs[k].estimator == Estimator::Permutation {
            let n = job_players(&list.jobs[k], view, &list.games);
            list.jobs[k].pairs = Some(budget_pairs(b, n));
        }
    }
}

/// The error of `--method exact` on a record whose enumeration costs more than
/// `--budget`.
fn over_budget(id: &str, line: u64, field: &str, n: usize, b: u64) -> RecordError {
    RecordError::new(
        Some(id.to_string()),
        line,
        field,
        ErrorKind::MethodNotApplicable,
        format!(
            "exact enumeration of {n} players evaluates 2^{n} coalitions, more than --budget {b} (use --method auto or permutation)"
        ),
    )
}

/// Refuses a record whose planned jobs (`jobs[start..]`) exceed [`MAX_RECORD_WORK`].
fn check_work(
    list: &JobList,
    start: usize,
    view: Option<&EpisodeView>,
    opts: &ScoreOptions,
    id: &str,
    line: u64,
) -> Result<(), RecordError> {
    let total: f64 = list.jobs[start..]
        .iter()
        .map(|j| work(j, view, &list.games, opts))
        .sum();
    if total > MAX_RECORD_WORK {
        return Err(too_large(
            id,
            line,
            "(record)",
            format!(
                "about {total:.1e} evaluation steps; a record may take at most {MAX_RECORD_WORK:.1e} (use fewer --samples, --method closed-form, or split the episode)"
            ),
        ));
    }
    Ok(())
}

fn too_large(id: &str, line: u64, field: &str, msg: String) -> RecordError {
    RecordError::new(Some(id.to_string()), line, field, ErrorKind::TooLarge, msg)
}

impl JobList {
    /// An empty list.
    pub fn new() -> Self {
        JobList::default()
    }

    fn push(&mut self, estimator: Estimator, record: u32, key: u64, tag: u32, game: JobGame) {
        self.jobs.push(Job {
            estimator,
            record,
            key,
            tag,
            game,
            control: None,
            pairs: None,
        });
    }

    /// Plans episode `ep`, which is record `record` of the chunk's CSR batch (`view`).
    /// Adds its jobs; on an error nothing is added.
    pub fn plan_episode(
        &mut self,
        ep: &Episode,
        view: EpisodeView,
        record: u32,
        opts: &ScoreOptions,
    ) -> Result<Plan, RecordError> {
        let start = self.jobs.len();
        if let Some(cv) = &ep.coalition_values {
            let players = ep.agents.len() as u32;
            let i = self
                .games
                .push_table(players, cv, ep.key)
                .map_err(|o| too_large(&ep.id, ep.line, "coalition_values", o.to_string()))?;
            self.push(
                Estimator::Exact,
                0,
                ep.key,
                tag::PERMUTATION,
                JobGame::Table(i),
            );
            return Ok(Plan {
                jobs: start..self.jobs.len(),
                kind: PlanKind::Episode(EpisodePlan {
                    method: "exact+label-split",
                    v_empty: cv[0],
                    v_full: cv[cv.len() - 1],
                    baseline: ep.baseline.unwrap_or(cv[0]),
                    agents: AgentSource::AllAgents(0),
                    messages: None,
                }),
            });
        }
        let want_msgs = opts.players != Players::Agents;
        let owen = opts.message_credit == MessageCreditKind::Owen;
        // Agent credit as the sum of Owen message credit needs the Owen closed form.
        let owen_path = !want_msgs || owen;
        let a = view.active_agents.len();
        let np = view.meta.player_count as usize;
        let linear = opts.model.is_linear() && closed_form::applies(&view);
        // The Owen closed form's state count, where it would be the one computed.
        let owen_states = (linear && owen_path).then(|| closed_form::owen_states(&view));
        let closed_ok = linear
            && match owen_states {
                Some(states) => states <= closed_form::MAX_OWEN_STATES,
                None => a <= exact::MAX_EXACT_PLAYERS || opts.players == Players::Messages,
            };
        // Exact enumeration evaluates 2^n coalitions of the largest game it enumerates.
        let exact_n = if want_msgs { a.max(np) } else { a };
        let fits = |b: u64| exact_cost(exact_n) <= b;
        let estimator = match opts.method {
            Method::Auto => {
                if a <= AUTO_EXACT_PLAYERS
                    && (!want_msgs || np <= AUTO_EXACT_PLAYERS)
                    && opts.sampling.budget.is_none_or(fits)
                {
                    Estimator::Exact
                } else if closed_ok
                    && owen_states.is_none_or(|states| {
                        let steps = closed_form_steps(&view, states);
                        let pairs = crate::estimate::permutation::pair_budget(&opts.sampling);
                        let players = if want_msgs { np } else { a };
                        steps <= AUTO_CLOSED_FORM_FLOOR
                            || steps / sampling_steps(&view, players, pairs as f64)
                                <= AUTO_CLOSED_FORM_COST
                    })
                {
                    Estimator::ClosedForm
                } else {
                    Estimator::Permutation
                }
            }
            Method::Exact => match opts.sampling.budget {
                Some(b) if !fits(b) => {
                    return Err(over_budget(&ep.id, ep.line, "messages", exact_n, b));
                }
                _ => Estimator::Exact,
            },
            Method::ClosedForm => Estimator::ClosedForm,
            Method::Permutation => Estimator::Permutation,
            Method::Regression => {
                return Err(RecordError::new(
                    Some(ep.id.clone()),
                    ep.line,
                    "(record)",
                    ErrorKind::MethodNotApplicable,
                    "--method regression estimates game records (black-box values); episodes use auto, exact, closed-form or permutation",
                ));
            }
        };
        match estimator {
            Estimator::Exact if a > exact::MAX_EXACT_PLAYERS => {
                return Err(too_large(
                    &ep.id,
                    ep.line,
                    "agents",
                    format!(
                        "{a} agents with messages; exact enumeration handles at most {}",
                        exact::MAX_EXACT_PLAYERS
                    ),
                ));
            }
            Estimator::Exact if want_msgs && np > exact::MAX_EXACT_PLAYERS => {
                return Err(too_large(
                    &ep.id,
                    ep.line,
                    "messages",
                    format!(
                        "{np} messages with an agent; exact enumeration handles at most {} (use --method permutation or closed-form)",
                        exact::MAX_EXACT_PLAYERS
                    ),
                ));
            }
            Estimator::ClosedForm if !closed_ok => {
                return Err(RecordError::new(
                    Some(ep.id.clone()),
                    ep.line,
                    "messages",
                    ErrorKind::MethodNotApplicable,
                    "the closed form needs --link linear, --aggregate mean, no redundancy groups, and a state table within bounds (use --method permutation)",
                ));
            }
            _ => {}
        }
        let key = ep.key;
        let add = |l: &mut Self, e, t, g| l.push(e, record, key, t, g);
        let sampled = estimator == Estimator::Permutation;
        let (agents, messages) = if want_msgs && owen {
            // The Owen value: message credit, and agent credit as its union sums.
            add(self, estimator, tag::PERMUTATION, JobGame::SurrogateOwen);
            (AgentSource::Unions(0), Some(0))
        } else if want_msgs {
            // Flat message Shapley values, and (both) the agent game apart: sampled on its
            // own stream, or enumerated next to a closed form.
            add(
                self,
                estimator,
                tag::PERMUTATION,
                JobGame::SurrogateMessages,
            );
            if opts.players == Players::Both {
                let (e, t) = if sampled {
                    (Estimator::Permutation, tag::AGENT_PERMUTATION)
                } else {
                    (Estimator::Exact, tag::PERMUTATION)
                };
                add(self, e, t, JobGame::SurrogateAgents);
                (AgentSource::ActiveAgents(1), Some(0))
            } else {
                (AgentSource::None, Some(0))
            }
        } else if estimator == Estimator::ClosedForm {
            // Agent credit alone by the closed form: the Owen value's union sums.
            add(self, estimator, tag::PERMUTATION, JobGame::SurrogateOwen);
            (AgentSource::Unions(0), None)
        } else {
            add(self, estimator, tag::PERMUTATION, JobGame::SurrogateAgents);
            (AgentSource::ActiveAgents(0), None)
        };
        size_by_budget(self, start, Some(&view), opts);
        if let Err(e) = check_work(self, start, Some(&view), opts, &ep.id, ep.line) {
            self.jobs.truncate(start);
            return Err(e);
        }
        let mut method = estimator.name();
        if sampled && may_control(opts, &view) {
            for job in &mut self.jobs[start..] {
                job.control = control(view, job, opts);
                if job.control.is_some() {
                    method = "permutation+cv";
                }
            }
        }
        let params = &opts.model;
        let v_empty = surrogate::value_of(view, params, |m| view.authors[m] == NO_AGENT);
        let v_full = surrogate::value_of(view, params, |_| true);
        Ok(Plan {
            jobs: start..self.jobs.len(),
            kind: PlanKind::Episode(EpisodePlan {
                method,
                v_empty,
                v_full,
                baseline: ep.baseline.unwrap_or(0.0),
                agents,
                messages,
            }),
        })
    }

    /// Plans game record `g`. Adds its one job; on an error nothing is added.
    pub fn plan_game(&mut self, g: &Game, opts: &ScoreOptions) -> Result<Plan, RecordError> {
        let n = g.players as usize;
        let budget = opts.sampling.budget;
        let over = budget.is_some_and(|b| exact_cost(n) > b);
        let estimator = match (&g.form, opts.method) {
            (GameForm::Mobius(_), Method::Auto | Method::ClosedForm) => Estimator::ClosedForm,
            (_, Method::Exact) if over => {
                return Err(over_budget(&g.id, g.line, "game.players", n, budget.unwrap_or(0)));
            }
            (GameForm::Mobius(_), Method::Exact) => {
                if n > exact::MAX_EXACT_PLAYERS {
                    return Err(too_large(
                        &g.id,
                        g.line,
                        "game.players",
                        format!(
                            "{n} players; exact enumeration handles at most {}",
                            exact::MAX_EXACT_PLAYERS
                        ),
                    ));
                }
                Estimator::Exact
            }
            // A table under --budget: enumerate when the budget covers every coalition,
            // else the regression (the best black-box estimator at a fixed budget).
            (GameForm::Table(_), Method::Auto) if over => Self::regression_fits(g, opts)?,
            (GameForm::Table(_), Method::Auto | Method::Exact) => Estimator::Exact,
            (GameForm::Table(_), Method::ClosedForm) => {
                return Err(RecordError::new(
                    Some(g.id.clone()),
                    g.line,
                    "game.table",
                    ErrorKind::TooLarge,
                    "a table game has no closed form; use --method exact or permutation",
                ));
            }
            (_, Method::Permutation) => Estimator::Permutation,
            (_, Method::Regression) => Self::regression_fits(g, opts)?,
        };
        let i = self
            .games
            .push(g)
            .map_err(|o| too_large(&g.id, g.line, "game", o.to_string()))?;
        let game = match g.form {
            GameForm::Mobius(_) => JobGame::Mobius(i),
            GameForm::Table(_) => JobGame::Table(i),
        };
        let start = self.jobs.len();
        self.push(estimator, 0, g.key, tag::PERMUTATION, game);
        size_by_budget(self, start, None, opts);
        if let Err(e) = check_work(self, start, None, opts, &g.id, g.line) {
            // The game stays in the batch, unused by any job.
            self.jobs.truncate(start);
            return Err(e);
        }
        Ok(Plan {
            jobs: start..self.jobs.len(),
            kind: PlanKind::Game,
        })
    }

    /// The regression for game `g`, when its budget allows it.
    fn regression_fits(g: &Game, opts: &ScoreOptions) -> Result<Estimator, RecordError> {
        let n = g.players as usize;
        let budget = regression::budget(&opts.sampling, n);
        if budget < regression::min_budget(n) {
            return Err(RecordError::new(
                Some(g.id.clone()),
                g.line,
                "game.players",
                ErrorKind::MethodNotApplicable,
                format!(
                    "--budget {budget} is below the {} value evaluations the regression needs for {n} players (∅, N and n complementary pairs)",
                    regression::min_budget(n)
                ),
            ));
        }
        if (n as f64) * (budget as f64) / 2.0 > regression::MAX_CELLS {
            return Err(too_large(
                &g.id,
                g.line,
                "game.players",
                format!(
                    "{n} players × {budget} evaluations: the regression's design would hold more than {:.1e} cells (lower --budget)",
                    regression::MAX_CELLS
                ),
            ));
        }
        Ok(Estimator::Regression)
    }
}
