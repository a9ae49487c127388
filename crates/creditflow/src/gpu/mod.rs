//! The GPU path: the estimators of DESIGN §4 as WGSL compute kernels (`shaders/`), run
//! through wgpu over the CSR batches. Every wgpu call of the crate lives in this module;
//! the CPU twins in [`crate::kernels`] verify it and never depend on it.
//!
//! Per chunk of jobs ([`crate::engine::chunks`]): `draw_permutations` writes each
//! (job, antithetic pair)'s permutation (Philox4x32-10, bit for bit the CPU's draws);
//! `sample_surrogate` (or `sample_surrogate_local`) / `sample_table`, dispatched once per
//! walk, walk each permutation forwards and then reversed, and `sample_mobius` gives every
//! term's coefficient to its last and first member in one pass; all write pair-mean
//! marginals; `reduce` turns them into per-(job, row)
//! f32 means and sums of squared deviations with compensated sums; the CPU merges the
//! chunks in f64 (Chan et al.) and finishes the standard errors. Exact enumeration
//! ([`Gpu::exact_jobs`]): `exact_surrogate` evaluates every coalition of a surrogate game,
//! one thread each, and the CPU turns the table into Shapley or Owen values in f64.
//!
//! **One thread per (job, pair).** A thread keeps its evaluator state (presences, group
//! maxima, ranks) in workgroup memory when every pair of the chunk fits
//! [`crate::kernels::types::LOCAL_STRIDE`] words (`sample_surrogate_local`), else in a storage
//! buffer interleaved across the slice's pairs, so an episode larger than one workgroup's
//! memory is handled like any other: the only bound is that one pair's scratch fits a
//! storage binding, and chunks shrink (down to one pair) to respect that. A job whose pair
//! cannot fit even alone is refused by [`admit`] and scored on the CPU, never computed
//! wrongly. Layout, reasoning and measurements: docs/gpu.md.
//!
//! **Drivers that cap loops.** Mesa's llvmpipe (lavapipe, the CI adapter) silently stops
//! the loops of an invocation after 65535 iterations in all, which would truncate long
//! walks into wrong numbers. [`Gpu::new`] measures such a cap with a probe kernel, and
//! the planner bounds every thread's loop iterations from the job's shape
//! ([`crate::engine::JobShape`]): reduce slices get fewer pairs, and a job whose single
//! walk could pass the cap is refused with [`crate::engine::PlanError::LoopBudget`] (the
//! backend runs that job alone on the CPU). Because lanes that run together share the cap, the
//! bound is not exact; so every kernel also ends with a two-iteration check loop, which
//! runs short exactly when the thread's budget was spent, and a chunk where that happened
//! fails with [`GpuError::LoopCap`] instead of returning truncated numbers. On drivers
//! without a cap nothing is limited.
//!
//! **What agrees with the CPU, and how closely.** Integer stages agree bit for bit: the
//! permutation index streams equal the CPU's for any chunking. Estimates agree within
//! [`TOLERANCE`]; see [`Tolerance`] for the bound and why.
//!
//! **Adaptive sampling** (`target_se`) runs rounds of
//! [`crate::estimate::permutation::ADAPTIVE_ROUND`] pairs and checks the stopping rule on
//! the CPU between rounds, like the CPU path. Because the GPU's standard errors carry f32
//! rounding, a job whose SE lands within rounding of the target can stop one round
//! earlier or later than on the CPU.

mod buffers;
mod device;
mod run;

pub use device::{Gpu, GpuTimes};

/// Estimates `jobs` on the process-wide device ([`Gpu::shared`], opened on first use):
/// the GPU twin of [`crate::engine::twins::run_jobs`], equal to it within [`TOLERANCE`] and its
/// permutations bit for bit. Errors when there is no adapter, when a job is too large
/// for the device, or when the driver cut a kernel short; the caller then falls back to
/// the CPU.
///
/// Panics when a job names a record or game that does not exist (a caller bug).
pub fn run_jobs(
    batch: &crate::csr::CsrBatch,
    games: &crate::engine::GameBatch,
    jobs: &[crate::engine::Job],
    model: &crate::game::ModelParams,
    sampling: &crate::estimate::SampleOptions,
) -> Result<(Vec<crate::engine::JobResult>, GpuTimes), GpuError> {
    let mut gpu = Gpu::shared()?.lock().unwrap_or_else(|e| e.into_inner());
    gpu.take_times();
    let results = gpu.run_jobs(batch, games, jobs, model, sampling)?;
    Ok((results, gpu.take_times()))
}

/// Whether the process-wide device can run `job` at all (players, loop cap, one pair
/// within a binding): `Err(why)` sends the job to the CPU alone. Errors when there is no
/// adapter.
pub fn admit(
    batch: &crate::csr::CsrBatch,
    games: &crate::engine::GameBatch,
    job: &crate::engine::Job,
) -> Result<Result<(), String>, GpuError> {
    let gpu = Gpu::shared()?.lock().unwrap_or_else(|e| e.into_inner());
    Ok(gpu.admit(&crate::engine::JobShape::new(batch, games, job)))
}

/// Most players of one GPU job. One thread draws and walks a whole permutation of its
/// job, so past this the CPU path is the better tool (and a driver's loop cap would be
/// reached); bigger jobs are refused with [`GpuError::TooManyPlayers`].
pub const MAX_PLAYERS: u32 = 1 << 13;

/// The GPU path's errors.
#[derive(Debug, Clone, thiserror::Error)]
pub enum GpuError {
    /// No adapter could be found (or none matched `WGPU_ADAPTER_NAME`).
    #[error("no GPU adapter: {0}")]
    NoAdapter(String),
    /// The adapter refused to open a device.
    #[error("could not open a device on the adapter: {0}")]
    Device(String),
    /// wgpu reported a validation, out-of-memory or internal error.
    #[error("GPU error during {during}: {message}")]
    Wgpu {
        /// What was being done.
        during: &'static str,
        /// wgpu's message.
        message: String,
    },
    /// Mapping a readback buffer or waiting for the device failed.
    #[error("GPU readback failed: {0}")]
    Readback(String),
    /// A job does not fit the chunk budget even as a single pair, or one of its threads
    /// would pass the device's loop cap.
    #[error(transparent)]
    Plan(#[from] crate::engine::PlanError),
    /// The driver cut a kernel's loops short (Mesa's llvmpipe stops an invocation's loops
    /// after 65535 iterations in all); the chunk's results were discarded. Use the CPU
    /// path, or fewer players or messages per job.
    #[error(
        "the GPU driver stopped loops early in {0}; results discarded (use the CPU path for jobs this large)"
    )]
    LoopCap(String),
    /// `sample_chat_subgroup` found a subgroup of another size than the adapter reported;
    /// the chunk's results were discarded. `CREDITFLOW_GPU_SUBGROUPS=0` walks chats
    /// without subgroups.
    #[error(
        "the GPU ran sample_chat_subgroup in a subgroup of another size than the adapter reported; results discarded (set CREDITFLOW_GPU_SUBGROUPS=0)"
    )]
    SubgroupSize,
    /// The chunk's games do not fit the u32 indices of a game batch.
    #[error(transparent)]
    Overflow(#[from] crate::csr::Overflow),
    /// A job has more players than `MAX_PLAYERS` (8,192).
    #[error("job {job} has {players} players; the GPU path takes at most {max}")]
    TooManyPlayers {
        /// Index of the job.
        job: usize,
        /// Its players.
        players: u32,
        /// `MAX_PLAYERS` (8,192).
        max: u32,
    },
}
