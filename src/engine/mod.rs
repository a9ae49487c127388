//! The engine both backends share: what a backend is asked to estimate ([`jobs`]), how
//! jobs are packed into chunks and laid out for the kernels ([`config`]), the drivers
//! that run chunks round by round ([`drive`]), the kernel list ([`kernels`]), the
//! GPU-vs-CPU tolerance ([`tolerance`]), and the engine run on the CPU twins
//! ([`twins`]). Nothing here touches wgpu: `crate::gpu` runs the same chunks on a device.

pub mod config;
pub mod drive;
pub mod execute;
pub mod jobs;
pub mod kernels;
pub mod tolerance;
pub mod twins;

pub use config::{Chunk, ChunkLimits, ChunkPlan, Layout, PlanError, Request};
pub use jobs::{Control, Estimator, GameBatch, GameMeta, Job, JobGame, JobResult, JobShape, Kind};
pub use tolerance::{TOLERANCE, Tolerance};

/// Pairs per job: the CPU estimators' rule, so both paths draw the same pairs.
pub use crate::estimate::permutation::pair_budget;
