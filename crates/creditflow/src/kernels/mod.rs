//! The compute kernels: the kernel table ([`table`]: each kernel's WGSL sources, named
//! bindings and CPU twin status) and the CPU twins, one file per `.wgsl` file with the
//! same stem (`shaders/draw_permutations.wgsl` ↔ [`draw_permutations`]), the shared WGSL
//! pieces included (`shaders/shared/types.wgsl` ↔ [`types`], `philox.wgsl` ↔
//! [`philox`], `jobs.wgsl` ↔ [`jobs`], `pairs.wgsl` ↔ [`pairs`]; `surrogate.wgsl`'s twin
//! is the reference evaluator [`crate::game::Surrogate`]), with the same structs, binding
//! order and per-thread loops. Nothing here touches wgpu.
//!
//! The twins are not a second implementation of the estimators: where the reference code
//! *is* the twin (Philox and its draw protocol in [`crate::rng`], the incremental
//! evaluators in [`crate::game`], Welford's update) they call it. The engine runs them
//! chunk by chunk ([`crate::engine::twins`]) exactly as the GPU runs the kernels.
//!
//! Data flow of one chunk, as on the GPU: [`draw_permutations`] (integer index streams)
//! → [`sample_surrogate`] / [`sample_mobius`] / [`sample_table`] (pair-mean marginals) →
//! [`reduce`] (per-row statistics, continued across chunks). Exact enumeration:
//! [`exact_surrogate`] (one value per coalition) → [`crate::estimate::exact`] in f64.

pub mod table;

#[cfg_attr(
    not(any(test, feature = "internals")),
    expect(dead_code, reason = "the CPU twins are the reference the GPU is tested against")
)]
pub mod draw_bounded;
pub mod draw_permutations;
pub mod exact_surrogate;
pub mod jobs;
#[cfg_attr(
    not(any(test, feature = "internals")),
    expect(dead_code, reason = "the CPU twins are the reference the GPU is tested against")
)]
pub mod loop_probe;
pub mod pairs;
#[cfg_attr(
    not(any(test, feature = "internals")),
    expect(dead_code, reason = "the CPU twins are the reference the GPU is tested against")
)]
pub mod philox;
#[cfg_attr(
    not(any(test, feature = "internals")),
    expect(dead_code, reason = "the CPU twins are the reference the GPU is tested against")
)]
pub mod philox_kat;
pub mod reduce;
pub mod sample_mobius;
pub mod sample_surrogate;
pub mod sample_table;
pub mod types;

pub use table::*;
