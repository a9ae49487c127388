//! Executing a job list on the CPU with the reference estimators (`crate::estimate`):
//! every job's game is built once, from the batch's rows, and estimated by its planned
//! estimator. Jobs run in parallel (rayon); each result depends only on its job, so the
//! numbers do not depend on threads or chunking.

use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;

use super::jobs::{Estimator, GameBatch, Job, JobGame, JobResult, add_linear_part};
use crate::csr::{CsrBatch, EpisodeView};
use crate::estimate::control::{Controlled, Sampled};
use crate::estimate::{McEstimate, closed_form, exact, permutation, regression};
use crate::game::{Evaluator, Level, Surrogate};
use crate::options::{ModelParams, SampleOptions};

/// Where the CPU executor reads an episode's rows: a whole [`CsrBatch`], or one
/// [`EpisodeView`] (every job naming record 0).
pub trait EpisodeRows: Sync {
    /// The rows of record `r`.
    fn rows(&self, r: usize) -> EpisodeView<'_>;
}

impl EpisodeRows for CsrBatch {
    fn rows(&self, r: usize) -> EpisodeView<'_> {
        self.episode(r)
    }
}

impl EpisodeRows for EpisodeView<'_> {
    fn rows(&self, _r: usize) -> EpisodeView<'_> {
        *self
    }
}

/// The results of `jobs`, in order, computed on the CPU.
///
/// Panics when a job names a record or game that does not exist, or a job the planner
/// never makes (exact enumeration past [`exact::MAX_EXACT_PLAYERS`], a closed form of a
/// table): caller bugs.
pub fn run_cpu(
    batch: &dyn EpisodeRows,
    games: &GameBatch,
    jobs: &[Job],
    model: &ModelParams,
    sampling: &SampleOptions,
) -> Vec<JobResult> {
    run_cpu_until(batch, games, jobs, model, sampling, None)
}

/// [`run_cpu`], skipping the jobs not yet started once `cancel` is set: their results
/// are empty and the caller discards the chunk.
pub fn run_cpu_until(
    batch: &dyn EpisodeRows,
    games: &GameBatch,
    jobs: &[Job],
    model: &ModelParams,
    sampling: &SampleOptions,
    cancel: Option<&AtomicBool>,
) -> Vec<JobResult> {
    jobs.par_iter()
        .map(|job| {
            if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
                return plain(exact_est(Vec::new()));
            }
            run_one(batch, games, job, model, sampling)
        })
        .collect()
}

fn exact_est(mean: Vec<f64>) -> McEstimate {
    McEstimate {
        se: vec![0.0; mean.len()],
        mean,
        samples: 0,
    }
}

/// An Owen job's result from exact player values: the unions are their sums, exactly.
fn owen_result(view: &EpisodeView, players: Vec<f64>) -> JobResult {
    let sums = view.union_sums(&players);
    JobResult {
        players: exact_est(players),
        unions: Some(exact_est(sums)),
    }
}

fn plain(players: McEstimate) -> JobResult {
    JobResult {
        players,
        unions: None,
    }
}

/// The paired regression of a game record at its budget.
fn regressed<E: Evaluator>(g: &mut E, record: u64, sampling: &SampleOptions) -> McEstimate {
    let budget = regression::budget(sampling, g.players());
    regression::shapley(g, record, sampling.seed, budget).estimate
}

/// The game a sampled surrogate job walks: v, or (controlled) the residual v − β·v_lin.
pub fn sampled_game<'a>(
    view: EpisodeView<'a>,
    model: &ModelParams,
    level: Level,
    job: &Job,
) -> Sampled<'a> {
    match job.control {
        None => Sampled::Plain(Surrogate::new(view, *model, level)),
        Some(c) => Sampled::Controlled(Controlled::new(view, *model, level, c.beta)),
    }
}

/// One job on the CPU.
pub fn run_one(
    batch: &dyn EpisodeRows,
    games: &GameBatch,
    job: &Job,
    model: &ModelParams,
    sampling: &SampleOptions,
) -> JobResult {
    let (record, tag) = (job.key, job.tag);
    let sampling = &job.sampling(sampling);
    match job.game {
        JobGame::SurrogateAgents | JobGame::SurrogateMessages | JobGame::SurrogateOwen => {
            let view = batch.rows(job.record as usize);
            let level = match job.game {
                JobGame::SurrogateAgents => Level::Agents,
                _ => Level::Messages,
            };
            let owen = job.game == JobGame::SurrogateOwen;
            match job.estimator {
                Estimator::Exact => {
                    let mut g = Surrogate::new(view, *model, level);
                    let table = exact::value_table(&mut g);
                    if owen {
                        owen_result(&view, exact::owen_from_table(&table, &view.unions()))
                    } else {
                        plain(exact_est(exact::shapley_from_table(&table)))
                    }
                }
                Estimator::ClosedForm => match job.game {
                    JobGame::SurrogateOwen => {
                        owen_result(&view, closed_form::message_owen(&view, model.alpha))
                    }
                    JobGame::SurrogateMessages => {
                        plain(exact_est(closed_form::message_shapley(&view, model.alpha)))
                    }
                    _ => panic!("the agent game has no closed form of its own"),
                },
                Estimator::Regression => panic!("episodes are never planned for regression"),
                Estimator::Permutation => {
                    let mut g = sampled_game(view, model, level, job);
                    let mut result = if owen {
                        let (players, unions) =
                            permutation::owen(&mut g, &view.unions(), record, tag, sampling);
                        JobResult {
                            players,
                            unions: Some(unions),
                        }
                    } else {
                        plain(permutation::shapley(&mut g, record, tag, sampling))
                    };
                    add_linear_part(&view, model.alpha, job, &mut result);
                    result
                }
            }
        }
        JobGame::Mobius(i) => {
            let mut g = games.mobius(i);
            plain(match job.estimator {
                Estimator::Exact => exact_est(exact::shapley_exact(&mut g)),
                Estimator::ClosedForm => exact_est(g.shapley_closed_form()),
                Estimator::Permutation => permutation::shapley(&mut g, record, tag, sampling),
                Estimator::Regression => regressed(&mut g, record, sampling),
            })
        }
        JobGame::Table(i) => plain(match job.estimator {
            Estimator::Exact => exact_est(exact::shapley_from_table(games.table_values(i))),
            Estimator::ClosedForm => panic!("a table game has no closed form"),
            Estimator::Permutation => {
                permutation::shapley(&mut games.table(i), record, tag, sampling)
            }
            Estimator::Regression => regressed(&mut games.table(i), record, sampling),
        }),
    }
}
