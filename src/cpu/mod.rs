//! The CPU twins of the WGSL kernels (`shaders/*.wgsl`), one file per kernel with the
//! same stem, the same structs ([`types`]), the same binding order and the same
//! per-thread loops, plus the backend-neutral job encoding both paths run ([`jobs`],
//! [`config`]). Nothing here touches wgpu: the CPU path builds and runs without it, and
//! [`crate::gpu`] imports this module, never the other way round.
//!
//! The twins are not a second implementation of the estimators: where the reference code
//! *is* the twin (Philox and its draw protocol in [`crate::sample`], the incremental
//! evaluators in [`crate::game`], Welford's update) they call it. So [`run_jobs`] equals
//! [`crate::estimate::permutation::shapley`] / [`crate::estimate::permutation::owen`]
//! exactly, for any chunking, and the GPU is checked against these twins.
//!
//! Data flow of one chunk, as on the GPU: [`draw_permutations`] (integer index streams)
//! → `sample_surrogate` / `sample_mobius` / `sample_table` (pair-mean marginals) →
//! [`reduce`] (per-row statistics, continued across chunks). Exact enumeration:
//! [`exact_surrogate`] (one value per coalition) → [`crate::estimate::exact`] in f64.
//!
//! The twins index like shaders (`for i in 0..n`) on purpose, to keep them easy to
//! compare with the WGSL; `clippy::needless_range_loop` is allowed crate-wide for that.

pub mod config;
pub mod draw_bounded;
pub mod draw_permutations;
pub mod exact_surrogate;
pub mod jobs;
pub mod loop_probe;
pub mod philox;
pub mod philox_kat;
pub mod reduce;
pub mod sample_mobius;
pub mod sample_surrogate;
pub mod sample_table;
pub mod types;

use rayon::prelude::*;

pub use config::{Chunk, ChunkLimits, ChunkPlan, Layout, PlanError, Request};
pub use draw_permutations::StreamDigest;
pub use jobs::{GameBatch, GameMeta, Job, JobGame, JobResult, JobShape, Kind};
pub use reduce::RowState;

use crate::csr::CsrBatch;
use crate::estimate::permutation::{ADAPTIVE_ROUND, SampleOptions};
use crate::estimate::{McEstimate, exact};
use crate::game::{Evaluator, Mobius, ModelParams, Surrogate, Table};
use types::{Config, Slice};

/// Pairs per job: the CPU estimators' rule, so both paths draw the same pairs.
pub use crate::estimate::permutation::pair_budget;

/// The shared body of the three sampling twins: thread (slice, pair) walks its
/// permutation forwards, then reversed, with the slice's evaluator, and stores the pair
/// mean `((0 + d_fwd) + d_rev)·0.5` of every player, as `permutation::shapley` does.
/// Slices run in parallel (each has its own evaluator and its own output rows).
fn sample_pairs<G: Evaluator + Send>(
    _config: &Config,
    slices: &[Slice],
    games: &mut [G],
    perms: &[u32],
    marginals: &mut [f64],
) {
    let used = slices
        .last()
        .map_or(0, |s| (s.perm_offset + s.pairs * s.players) as usize);
    let mut rest = &mut marginals[..used];
    let mut work = Vec::with_capacity(slices.len());
    let mut games: Vec<Option<&mut G>> = games.iter_mut().map(Some).collect();
    for s in slices {
        let (mine, tail) = rest.split_at_mut((s.pairs * s.players) as usize);
        rest = tail;
        let game = games[s.game as usize].take().expect("one game per slice");
        work.push((s, game, mine));
    }
    work.into_par_iter().for_each(|(s, g, out)| {
        let n = s.players as usize;
        let own = &perms[s.perm_offset as usize..s.perm_offset as usize + s.pairs as usize * n];
        for k in 0..s.pairs as usize {
            let perm = &own[k * n..(k + 1) * n];
            let marg = &mut out[k * n..(k + 1) * n];
            for dir in 0..2 {
                let mut prev = g.init();
                for i in 0..n {
                    let p = if dir == 0 { perm[i] } else { perm[n - 1 - i] } as usize;
                    let v = g.add(p);
                    let d = v - prev;
                    prev = v;
                    if dir == 0 {
                        marg[p] = 0.0 + d;
                    } else {
                        marg[p] = (marg[p] + d) * 0.5;
                    }
                }
            }
        }
    });
}

/// Estimates `jobs` on the CPU through the twins, with the CPU's chunk budget. Equals
/// `permutation::shapley` / `permutation::owen` on the same games exactly (means and
/// standard errors, in f64), adaptive mode (`target_se`) included.
///
/// Panics when a job names a record or game that does not exist (a caller bug).
pub fn run_jobs(
    batch: &CsrBatch,
    games: &GameBatch,
    jobs: &[Job],
    model: &ModelParams,
    sampling: &SampleOptions,
) -> Result<Vec<JobResult>, PlanError> {
    run_jobs_with_limits(batch, games, jobs, model, sampling, &ChunkLimits::CPU)
}

/// [`run_jobs`] under an explicit chunk budget (tests force tiny ones).
pub fn run_jobs_with_limits(
    batch: &CsrBatch,
    games: &GameBatch,
    jobs: &[Job],
    model: &ModelParams,
    sampling: &SampleOptions,
    limits: &ChunkLimits,
) -> Result<Vec<JobResult>, PlanError> {
    drive(
        batch,
        games,
        jobs,
        sampling,
        limits,
        |plan, shapes, rows| {
            let chunk = config::encode(plan, batch, games, jobs, shapes, model, sampling);
            let (_perms, marginals) = run_chunk(&chunk, batch, games, jobs, shapes, model);
            reduce::reduce(&chunk.config, &chunk.slices, &chunk.words, &marginals, rows);
            Ok::<(), PlanError>(())
        },
    )
}

/// Draws and samples one chunk with the twins; returns the permutations and the marginals.
fn run_chunk(
    chunk: &Chunk,
    batch: &CsrBatch,
    games: &GameBatch,
    jobs: &[Job],
    shapes: &[JobShape],
    model: &ModelParams,
) -> (Vec<u32>, Vec<f64>) {
    let sizes = &chunk.sizes;
    let mut scratch = vec![0u32; sizes.scratch as usize];
    let mut perms = vec![0u32; sizes.perms as usize];
    draw_permutations::draw_permutations(
        &chunk.config,
        &chunk.slices,
        &chunk.words,
        &mut scratch,
        &mut perms,
    );
    let mut marginals = vec![0f64; sizes.perms as usize];
    let job_of = |i: usize| &jobs[chunk.parts[i].job];
    match chunk.kind {
        Kind::Surrogate => {
            let mut g: Vec<Surrogate> = (0..chunk.slices.len())
                .map(|i| {
                    let view = batch.episode(job_of(i).record as usize);
                    Surrogate::new(view, *model, shapes[chunk.parts[i].job].level)
                })
                .collect();
            sample_surrogate::sample_surrogate(
                &chunk.config,
                &chunk.slices,
                &mut g,
                &perms,
                &mut marginals,
            );
        }
        Kind::Mobius => {
            let mut g: Vec<Mobius> = (0..chunk.slices.len())
                .map(|i| match job_of(i).game {
                    JobGame::Mobius(gi) => games.mobius(gi),
                    _ => unreachable!("a Möbius chunk holds Möbius jobs"),
                })
                .collect();
            sample_mobius::sample_mobius(
                &chunk.config,
                &chunk.slices,
                &mut g,
                &perms,
                &mut marginals,
            );
        }
        Kind::Table => {
            let mut g: Vec<Table> = (0..chunk.slices.len())
                .map(|i| match job_of(i).game {
                    JobGame::Table(gi) => games.table(gi),
                    _ => unreachable!("a table chunk holds table jobs"),
                })
                .collect();
            sample_table::sample_table(
                &chunk.config,
                &chunk.slices,
                &mut g,
                &perms,
                &mut marginals,
            );
        }
    }
    (perms, marginals)
}

/// The rounds both backends run: one round of all pairs, or (adaptive) rounds of
/// [`ADAPTIVE_ROUND`] pairs with the stopping rule of `permutation` checked between
/// rounds on the f64 row states. For each planned chunk, `run_chunk(plan, shapes, rows)`
/// must fold the chunk's pairs into `rows` (one [`RowState`] per row thread of the
/// chunk, in row-thread order). Returns the estimates per job.
///
/// Panics when a job names a record or game that does not exist (a caller bug).
pub fn drive<E: From<PlanError>>(
    batch: &CsrBatch,
    games: &GameBatch,
    jobs: &[Job],
    sampling: &SampleOptions,
    limits: &ChunkLimits,
    mut run_chunk: impl FnMut(&ChunkPlan, &[JobShape], &mut [RowState]) -> Result<(), E>,
) -> Result<Vec<JobResult>, E> {
    let shapes: Vec<JobShape> = jobs
        .iter()
        .map(|j| JobShape::new(batch, games, j))
        .collect();
    let mut states: Vec<Vec<RowState>> = shapes
        .iter()
        .map(|s| vec![RowState::default(); s.rows() as usize])
        .collect();
    let mut pairs = vec![0u64; jobs.len()];
    let mut active: Vec<usize> = (0..jobs.len()).collect();
    let budget = pair_budget(sampling);
    let step = match sampling.target_se {
        None => budget,
        Some(_) => ADAPTIVE_ROUND,
    };
    let mut k0 = 0u64;
    while k0 < budget && !active.is_empty() {
        let k1 = (k0 + step).min(budget);
        let requests: Vec<Request> = active
            .iter()
            .map(|&job| Request {
                job,
                k0: k0 as u32,
                k1: k1 as u32,
            })
            .collect();
        for plan in config::plan(&requests, &shapes, limits)? {
            let mut rows: Vec<RowState> = Vec::with_capacity(plan.sizes.row_threads as usize);
            for part in &plan.parts {
                rows.extend_from_slice(&states[part.job]);
            }
            run_chunk(&plan, &shapes, &mut rows)?;
            let mut at = 0;
            for part in &plan.parts {
                let r = states[part.job].len();
                states[part.job].copy_from_slice(&rows[at..at + r]);
                at += r;
            }
        }
        for &job in &active {
            pairs[job] = k1;
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
    Ok(shapes
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
        .collect())
}

/// Per job, the digest of its permutation stream: every pair's permutation, pairs in
/// order (the pairs of a fixed-budget run). Computed with the twins under `limits`.
pub fn permutation_digests(
    batch: &CsrBatch,
    games: &GameBatch,
    jobs: &[Job],
    sampling: &SampleOptions,
    limits: &ChunkLimits,
) -> Result<Vec<StreamDigest>, PlanError> {
    digest_with(batch, games, jobs, sampling, limits, |chunk| {
        let mut scratch = vec![0u32; chunk.sizes.scratch as usize];
        let mut perms = vec![0u32; chunk.sizes.perms as usize];
        draw_permutations::draw_permutations(
            &chunk.config,
            &chunk.slices,
            &chunk.words,
            &mut scratch,
            &mut perms,
        );
        Ok::<_, PlanError>(perms)
    })
}

/// The digests of [`permutation_digests`] with `draw(chunk)` producing a chunk's
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
    for plan in config::plan(&requests, &shapes, limits)? {
        let chunk = config::encode(&plan, batch, games, jobs, &shapes, &model, sampling);
        let perms = draw(&chunk)?;
        for (s, part) in chunk.slices.iter().zip(&chunk.parts) {
            let r = s.perm_offset as usize..(s.perm_offset + s.pairs * s.players) as usize;
            digests[part.job].update(&perms[r]);
        }
    }
    Ok(digests)
}

/// Exact Shapley (or Owen) values of `jobs` by enumerating all 2^n coalitions, through
/// the twin `exact_surrogate` for surrogate games; Möbius and table games take their
/// table from the CPU evaluators. Equals `estimate::exact` on the same games exactly
/// (standard errors 0, samples 0). Fails for jobs of more than
/// [`exact::MAX_EXACT_PLAYERS`] players.
///
/// Panics when a job names a record or game that does not exist (a caller bug).
pub fn exact_jobs(
    batch: &CsrBatch,
    games: &GameBatch,
    jobs: &[Job],
    model: &ModelParams,
) -> Result<Vec<JobResult>, PlanError> {
    exact_jobs_with_limits(batch, games, jobs, model, &ChunkLimits::CPU)
}

/// [`exact_jobs`] under an explicit chunk budget.
pub fn exact_jobs_with_limits(
    batch: &CsrBatch,
    games: &GameBatch,
    jobs: &[Job],
    model: &ModelParams,
    limits: &ChunkLimits,
) -> Result<Vec<JobResult>, PlanError> {
    exact_with(batch, games, jobs, model, limits, |chunk, shapes| {
        let mut g: Vec<Surrogate> = chunk
            .parts
            .iter()
            .map(|part| {
                let view = batch.episode(jobs[part.job].record as usize);
                Surrogate::new(view, *model, shapes[part.job].level)
            })
            .collect();
        let mut values = vec![0f64; chunk.sizes.perms as usize];
        exact_surrogate::exact_surrogate(&chunk.config, &chunk.slices, &mut g, &mut values);
        Ok::<_, PlanError>(values)
    })
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
    for plan in config::plan_layout(&requests, &shapes, limits, Layout::Coalitions)? {
        let sampling = SampleOptions::default();
        let chunk = config::encode(&plan, batch, games, jobs, &shapes, model, &sampling);
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
