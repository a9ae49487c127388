//! The engine both backends share: what a backend is asked to estimate ([`jobs`]), how
//! jobs are packed into chunks ([`chunks`], the planner) and laid out for the kernels
//! ([`encode`]), the drivers that run chunks round by round ([`drive`]), the GPU-vs-CPU
//! tolerance ([`tolerance`]), the reference
//! execution on the CPU ([`execute`]) and the engine run on the kernels' CPU twins
//! ([`twins`]). Nothing here touches wgpu: `crate::gpu` runs the same chunks on a device.

pub mod chunks;
pub mod drive;
pub mod encode;
pub mod execute;
pub mod jobs;
pub mod tolerance;
#[cfg_attr(
    not(any(test, feature = "internals")),
    expect(dead_code, reason = "the CPU twins are the reference the GPU is tested against")
)]
pub mod twins;

pub use chunks::{ChunkLimits, ChunkPlan, PlanError};
pub use encode::Chunk;
pub use jobs::{Control, Estimator, GameBatch, Job, JobGame, JobResult, JobShape, Kind};
pub use tolerance::{TOLERANCE, Tolerance};

