//! The engine run on the CPU twins of the kernels (`src/cpu/`), chunk by chunk as the
//! GPU runs it: the reference the GPU is checked against. [`run_jobs`] equals
//! [`crate::estimate::permutation::shapley`] / [`crate::estimate::permutation::owen`]
//! exactly, for any chunking; [`exact_jobs`] equals [`crate::estimate::exact`].

use super::chunks::{ChunkLimits, PlanError};
use super::encode::{self, Chunk};
use super::drive::{Serial, digest_with, drive, exact_with};
use super::execute::sampled_game;
use super::jobs::{GameBatch, Job, JobGame, JobResult, JobShape, Kind};
use crate::kernels::draw_permutations::{self, StreamDigest};
use crate::kernels::{exact_surrogate, reduce, sample_mobius, sample_surrogate, sample_table};
use crate::csr::CsrBatch;
use crate::estimate::SampleOptions;
use crate::estimate::control::Sampled;
use crate::game::{Mobius, ModelParams, Surrogate, Table};

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
        model,
        sampling,
        limits,
        &mut Serial(|plan: &_, shapes: &[_], rows: &mut [_]| {
            let chunk = encode::encode(plan, batch, games, jobs, shapes, model, sampling);
            let (_perms, marginals) = run_chunk(&chunk, batch, games, jobs, shapes, model);
            reduce::reduce(&chunk.config, &chunk.slices, &chunk.words, &marginals, rows);
            Ok::<(), PlanError>(())
        }),
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
            let mut g: Vec<Sampled> = (0..chunk.slices.len())
                .map(|i| {
                    let job = job_of(i);
                    let view = batch.episode(job.record as usize);
                    sampled_game(view, model, shapes[chunk.parts[i].job].level, job)
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

/// Exact Shapley (or Owen) values of `jobs` by enumerating all 2^n coalitions, through
/// the twin `exact_surrogate` for surrogate games; Möbius and table games take their
/// table from the CPU evaluators. Equals `estimate::exact` on the same games exactly
/// (standard errors 0, samples 0). Fails for jobs of more than
/// [`crate::estimate::exact::MAX_EXACT_PLAYERS`] players.
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
