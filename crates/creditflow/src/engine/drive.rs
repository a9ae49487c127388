//! The drivers both backends run: the sampling rounds ([`drive`], adaptive stopping
//! included), exact enumeration ([`exact_with`]) and the permutation-stream digests
//! ([`digest_with`]). Each plans chunks with [`super::chunks`] and leaves the running of
//! one chunk to its caller: the CPU twins ([`super::twins`]) or the GPU
//! (`crate::gpu`), so both paths fold the same chunks in the same order.

use rayon::prelude::*;

use super::chunks::{self, ChunkLimits, ChunkPlan, Layout, PlanError, Request};
use super::encode::{self, Chunk};
use super::jobs::{GameBatch, Job, JobGame, JobResult, JobShape, Kind, add_linear_part};
use crate::kernels::draw_permutations::StreamDigest;
use crate::kernels::reduce::RowState;
use crate::csr::CsrBatch;
use crate::estimate::permutation::{ADAPTIVE_ROUND, SampleOptions, pair_budget};
use crate::estimate::{McEstimate, exact};
use crate::game::ModelParams;

/// How a backend runs the chunks of a sampling round, in two steps so that a device can
/// work on one chunk while the host lays out and launches the next (double buffering):
/// [`drive`] starts chunk k + 1 before it finishes chunk k, and finishes the chunks in
/// the order it started them. A chunk's pairs depend on its plan only, never on the rows
/// of the chunks before it, so the numbers are the same whatever the overlap.
pub trait ChunkRunner {
    /// The backend's error (a chunk-planning error converts into it).
    type Error: From<PlanError>;
    /// A started chunk.
    type Started;
    /// Launches one chunk (lays it out, and on a device uploads and submits it).
    fn start(&mut self, plan: &ChunkPlan, shapes: &[JobShape]) -> Result<Self::Started, Self::Error>;
    /// Folds a started chunk's pairs into `rows` (one [`RowState`] per row thread of the
    /// chunk, in row-thread order), waiting for it where it still runs.
    fn finish(
        &mut self,
        plan: &ChunkPlan,
        shapes: &[JobShape],
        started: Self::Started,
        rows: &mut [RowState],
    ) -> Result<(), Self::Error>;
}

/// A [`ChunkRunner`] of one closure that runs a chunk start to finish (no overlap).
pub struct Serial<F>(pub F);

impl<F, E> ChunkRunner for Serial<F>
where
    F: FnMut(&ChunkPlan, &[JobShape], &mut [RowState]) -> Result<(), E>,
    E: From<PlanError>,
{
    type Error = E;
    type Started = ();
    fn start(&mut self, _: &ChunkPlan, _: &[JobShape]) -> Result<(), E> {
        Ok(())
    }
    fn finish(
        &mut self,
        plan: &ChunkPlan,
        shapes: &[JobShape],
        (): (),
        rows: &mut [RowState],
    ) -> Result<(), E> {
        (self.0)(plan, shapes, rows)
    }
}

/// The rounds both backends run: one round of all pairs, or (adaptive) rounds of
/// [`ADAPTIVE_ROUND`] pairs with the stopping rule of `permutation` checked between
/// rounds on the f64 row states. Each planned chunk goes through `runner` (see
/// [`ChunkRunner`]: at most two chunks started and not finished, folded in plan order).
/// Returns the estimates per job, a controlled job's completed with β·φ(v_lin)
/// ([`add_linear_part`], in f64 on the CPU for both backends).
///
/// Panics when a job names a record or game that does not exist (a caller bug).
pub fn drive<R: ChunkRunner>(
    batch: &CsrBatch,
    games: &GameBatch,
    jobs: &[Job],
    model: &ModelParams,
    sampling: &SampleOptions,
    limits: &ChunkLimits,
    runner: &mut R,
) -> Result<Vec<JobResult>, R::Error> {
    let shapes: Vec<JobShape> = jobs
        .iter()
        .map(|j| JobShape::new(batch, games, j))
        .collect();
    let mut states: Vec<Vec<RowState>> = shapes
        .iter()
        .map(|s| vec![RowState::default(); s.rows() as usize])
        .collect();
    let mut pairs = vec![0u64; jobs.len()];
    // Each job's pair budget: the run's, or its own (`--budget`).
    let budgets: Vec<u64> = jobs.iter().map(|j| pair_budget(&j.sampling(sampling))).collect();
    let mut active: Vec<usize> = (0..jobs.len()).collect();
    let budget = budgets.iter().copied().max().unwrap_or(0);
    let step = match sampling.target_se {
        None => budget,
        Some(_) => ADAPTIVE_ROUND,
    };
    let mut k0 = 0u64;
    while k0 < budget && !active.is_empty() {
        let k1 = (k0 + step).min(budget);
        active.retain(|&job| budgets[job] > k0);
        let requests: Vec<Request> = active
            .iter()
            .map(|&job| Request {
                job,
                k0: k0 as u32,
                k1: k1.min(budgets[job]) as u32,
            })
            .collect();
        let plans = chunks::plan(&requests, &shapes, limits)?;
        // Chunk k + 1 is started before chunk k is folded in; the chunks are folded in
        // plan order (a job split over chunks merges them in order).
        let mut in_flight: Option<(&ChunkPlan, R::Started)> = None;
        for plan in &plans {
            let started = runner.start(plan, &shapes)?;
            if let Some((before, s)) = in_flight.replace((plan, started)) {
                fold(runner, before, &shapes, s, &mut states)?;
            }
        }
        if let Some((before, s)) = in_flight {
            fold(runner, before, &shapes, s, &mut states)?;
        }
        for &job in &active {
            pairs[job] = k1.min(budgets[job]);
        }
        if let Some(t) = sampling.target_se {
            active.retain(|&job| {
                let done = k1.is_multiple_of(ADAPTIVE_ROUND)
                    && k1 >= 2
                    && states[job].iter().all(|r| r.se() <= t);
                !done
            });
        }
        k0 = k1;
    }
    let mut results: Vec<JobResult> = shapes
        .iter()
        .zip(&states)
        .zip(&pairs)
        .map(|((shape, rows), &k)| {
            let est = |rows: &[RowState]| McEstimate {
                mean: rows.iter().map(|r| r.mean).collect(),
                se: rows.iter().map(|r| r.se()).collect(),
                samples: 2 * k,
            };
            let n = shape.players as usize;
            JobResult {
                players: est(&rows[..n]),
                unions: shape.owen.then(|| est(&rows[n..])),
            }
        })
        .collect();
    // The closed forms of the controlled jobs, in parallel (each depends on its job only).
    results
        .par_iter_mut()
        .zip(jobs)
        .filter(|(_, job)| job.control.is_some())
        .for_each(|(result, job)| {
            let view = batch.episode(job.record as usize);
            add_linear_part(&view, model.alpha, job, result);
        });
    Ok(results)
}

/// Finishes a started chunk into the job states: their rows gathered in row-thread
/// order, folded by the runner, scattered back.
fn fold<R: ChunkRunner>(
    runner: &mut R,
    plan: &ChunkPlan,
    shapes: &[JobShape],
    started: R::Started,
    states: &mut [Vec<RowState>],
) -> Result<(), R::Error> {
    let mut rows: Vec<RowState> = Vec::with_capacity(plan.sizes.row_threads as usize);
    for part in &plan.parts {
        rows.extend_from_slice(&states[part.job]);
    }
    runner.finish(plan, shapes, started, &mut rows)?;
    let mut at = 0;
    for part in &plan.parts {
        let r = states[part.job].len();
        states[part.job].copy_from_slice(&rows[at..at + r]);
        at += r;
    }
    Ok(())
}

/// The digests of [`super::twins::permutation_digests`] with `draw(chunk)` producing a chunk's
/// permutations (the twin, or the GPU kernel). Jobs with no players digest nothing.
pub fn digest_with<E: From<PlanError>>(
    batch: &CsrBatch,
    games: &GameBatch,
    jobs: &[Job],
    sampling: &SampleOptions,
    limits: &ChunkLimits,
    mut draw: impl FnMut(&Chunk) -> Result<Vec<u32>, E>,
) -> Result<Vec<StreamDigest>, E> {
    let shapes: Vec<JobShape> = jobs
        .iter()
        .map(|j| JobShape::new(batch, games, j))
        .collect();
    let budget = pair_budget(&SampleOptions {
        target_se: None,
        ..*sampling
    }) as u32;
    let requests: Vec<Request> = (0..jobs.len())
        .map(|job| Request {
            job,
            k0: 0,
            k1: budget,
        })
        .collect();
    let mut digests = vec![StreamDigest::default(); jobs.len()];
    let model = ModelParams::default();
    for plan in chunks::plan(&requests, &shapes, limits)? {
        let chunk = encode::encode(&plan, batch, games, jobs, &shapes, &model, sampling);
        let perms = draw(&chunk)?;
        for (s, part) in chunk.slices.iter().zip(&chunk.parts) {
            let r = s.perm_offset as usize..(s.perm_offset + s.pairs * s.players) as usize;
            digests[part.job].update(&perms[r]);
        }
    }
    Ok(digests)
}

/// The exact driver both backends run: plans the coalitions of every surrogate job into
/// chunks ([`Layout::Coalitions`]), has `eval(chunk, shapes)` return the chunk's values
/// (slice by slice, coalitions in order), builds Möbius and table tables on the CPU, and
/// turns every table into Shapley values (Owen values and their union sums for Owen jobs)
/// in f64 with [`crate::estimate::exact`].
pub fn exact_with<E: From<PlanError>>(
    batch: &CsrBatch,
    games: &GameBatch,
    jobs: &[Job],
    model: &ModelParams,
    limits: &ChunkLimits,
    mut eval: impl FnMut(&Chunk, &[JobShape]) -> Result<Vec<f64>, E>,
) -> Result<Vec<JobResult>, E> {
    let shapes: Vec<JobShape> = jobs
        .iter()
        .map(|j| JobShape::new(batch, games, j))
        .collect();
    for (job, shape) in shapes.iter().enumerate() {
        if shape.players as usize > exact::MAX_EXACT_PLAYERS {
            return Err(PlanError::TooManyPlayers {
                job,
                players: shape.players,
                max: exact::MAX_EXACT_PLAYERS as u32,
            }
            .into());
        }
    }
    let mut tables: Vec<Vec<f64>> = jobs
        .iter()
        .zip(&shapes)
        .map(|(job, shape)| match job.game {
            JobGame::Mobius(i) => exact::value_table(&mut games.mobius(i)),
            JobGame::Table(i) => games.table_values(i).to_vec(),
            _ => vec![0.0; 1 << shape.players],
        })
        .collect();
    let requests: Vec<Request> = (0..jobs.len())
        .filter(|&j| shapes[j].kind == Kind::Surrogate)
        .map(|job| Request {
            job,
            k0: 0,
            k1: 1 << shapes[job].players,
        })
        .collect();
    for plan in chunks::plan_layout(&requests, &shapes, limits, Layout::Coalitions)? {
        let sampling = SampleOptions::default();
        let chunk = encode::encode(&plan, batch, games, jobs, &shapes, model, &sampling);
        let values = eval(&chunk, &shapes)?;
        for (s, part) in chunk.slices.iter().zip(&chunk.parts) {
            let from = s.perm_offset as usize;
            tables[part.job][part.k0 as usize..part.k1 as usize]
                .copy_from_slice(&values[from..from + s.pairs as usize]);
        }
    }
    let exact_est = |mean: Vec<f64>| McEstimate {
        se: vec![0.0; mean.len()],
        mean,
        samples: 0,
    };
    Ok(shapes
        .iter()
        .zip(&tables)
        .map(|(shape, table)| {
            if !shape.owen {
                return JobResult {
                    players: exact_est(exact::shapley_from_table(table)),
                    unions: None,
                };
            }
            let unions: Vec<Vec<usize>> = shape
                .union_offsets
                .windows(2)
                .map(|w| {
                    shape.union_members[w[0] as usize..w[1] as usize]
                        .iter()
                        .map(|&p| p as usize)
                        .collect()
                })
                .collect();
            let players = exact::owen_from_table(table, &unions);
            let sums = unions
                .iter()
                .map(|u| u.iter().map(|&p| players[p]).sum())
                .collect();
            JobResult {
                players: exact_est(players),
                unions: Some(exact_est(sums)),
            }
        })
        .collect())
}
