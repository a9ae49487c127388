//! The chunk planner: every buffer size and dispatch count of a chunk is computed here,
//! once, on the CPU (vello's `RenderConfig` habit), and both backends run the same chunks.
//!
//! A round asks for pairs `k0..k1` of some jobs ([`Request`]). [`plan`] packs requests into
//! chunks, splitting a job's pairs across chunks where needed, so that every binding of
//! every kernel fits [`ChunkLimits`]; [`super::encode`] lays one chunk out as the kernels
//! read it. Chunking never changes which permutation a pair draws (the stream is keyed by
//! the job's record key and the pair's global index), so integer outputs do not depend
//! on the limits.

use super::jobs::{JobShape, Kind};
use crate::kernels::types::{MobiusGame, Slice, SurrogateGame, TableGame, WORKGROUP_SIZE};

/// Why a batch cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// One pair of one job needs more than a binding may hold.
    #[error(
        "job {job}: one pair needs {needed} bytes in the `{buffer}` binding; the limit is {limit}"
    )]
    TooLarge {
        /// Index of the job in the caller's list.
        job: usize,
        /// The binding that overflows.
        buffer: &'static str,
        /// Bytes one pair needs.
        needed: u64,
        /// The binding limit in bytes.
        limit: u64,
    },
    /// Exact enumeration was asked for a job with too many players.
    #[error("job {job}: exact enumeration of {players} players; at most {max} are supported")]
    TooManyPlayers {
        /// Index of the job in the caller's list.
        job: usize,
        /// Its players.
        players: u32,
        /// The most exact enumeration takes.
        max: u32,
    },
    /// One thread of one kernel would loop more often than the device allows (Mesa's
    /// llvmpipe silently stops an invocation's loops after 65535 iterations in all).
    #[error(
        "job {job}: one `{kernel}` thread may loop {needed} times; this device stops loops after {limit} (use the CPU path)"
    )]
    LoopBudget {
        /// Index of the job in the caller's list.
        job: usize,
        /// The kernel.
        kernel: &'static str,
        /// Upper bound on its loop iterations.
        needed: u64,
        /// The device's cap.
        limit: u64,
    },
}

/// The budget a chunk must fit: injectable so that tests can force many small chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkLimits {
    /// Most bytes in any one storage binding (and buffer).
    pub max_binding_bytes: u64,
    /// Most threads of one dispatch (workgroups per dimension × workgroup size).
    pub max_threads: u64,
    /// Most loop iterations one thread may run (`u64::MAX` when the driver sets no cap;
    /// see [`PlanError::LoopBudget`]).
    pub max_loop_iterations: u64,
}

impl ChunkLimits {
    /// The CPU twin's budget: large chunks (64 MiB per u32 buffer; the twin's f64
    /// marginals take twice that), bounded so that every element offset fits a `u32`.
    pub const CPU: ChunkLimits = ChunkLimits {
        max_binding_bytes: 64 << 20,
        max_threads: 1 << 24,
        max_loop_iterations: u64::MAX,
    };

    /// The budget of a device with these limits (values as wgpu reports them), clamped
    /// so that every element offset fits a `u32`.
    pub fn from_device(
        max_storage_buffer_binding_size: u64,
        max_buffer_size: u64,
        max_compute_workgroups_per_dimension: u32,
    ) -> Self {
        let bytes = max_storage_buffer_binding_size
            .min(max_buffer_size)
            .min(u32::MAX as u64)
            & !3;
        ChunkLimits {
            max_binding_bytes: bytes,
            max_threads: max_compute_workgroups_per_dimension as u64 * WORKGROUP_SIZE as u64,
            max_loop_iterations: u64::MAX,
        }
    }
}

/// Pairs `k0..k1` of job `job`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    /// Index into the job list.
    pub job: usize,
    /// First pair (the Philox sample word).
    pub k0: u32,
    /// One past the last pair.
    pub k1: u32,
}

/// Element counts of every buffer of a chunk. A zero-length buffer is rounded up to one
/// element when it is allocated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BufferSizes {
    /// [`Slice`]s.
    pub slices: u64,
    /// Bytes of the game array.
    pub game_bytes: u64,
    /// u32 words of game and union data.
    pub words: u64,
    /// u32 permutation entries (= f32 marginals).
    pub perms: u64,
    /// u32 scratch words.
    pub scratch: u64,
    /// Reduced rows ([`crate::kernels::types::Moments`]).
    pub moments: u64,
    /// Threads of the pair kernels.
    pub pair_threads: u64,
    /// Threads of the reduce kernel.
    pub row_threads: u64,
}

impl BufferSizes {
    /// Bytes of the binding named `buffer`, for checking against the limits.
    fn bytes(&self) -> [(&'static str, u64); 6] {
        [
            ("slices", self.slices * size_of::<Slice>() as u64),
            ("games", self.game_bytes),
            ("words", self.words * 4),
            ("perms", self.perms * 4),
            ("scratch", self.scratch * 4),
            ("moments", self.moments * 16),
        ]
    }

    fn add(&mut self, o: &BufferSizes) {
        self.slices += o.slices;
        self.game_bytes += o.game_bytes;
        self.words += o.words;
        self.perms += o.perms;
        self.scratch += o.scratch;
        self.moments += o.moments;
        self.pair_threads += o.pair_threads;
        self.row_threads += o.row_threads;
    }

    /// Workgroups of the pair kernels.
    pub fn pair_workgroups(&self) -> u32 {
        self.pair_threads.div_ceil(WORKGROUP_SIZE as u64) as u32
    }

    /// Workgroups of the reduce kernel.
    pub fn row_workgroups(&self) -> u32 {
        self.row_threads.div_ceil(WORKGROUP_SIZE as u64) as u32
    }
}

fn game_struct_bytes(kind: Kind) -> u64 {
    match kind {
        Kind::Surrogate => size_of::<SurrogateGame>() as u64,
        Kind::Mobius => size_of::<MobiusGame>() as u64,
        Kind::Table => size_of::<TableGame>() as u64,
    }
}

/// A slice's sizes: the part paid once, and the part paid per pair.
fn footprint(shape: &JobShape, layout: Layout) -> (BufferSizes, BufferSizes) {
    let rows = match layout {
        Layout::Pairs => shape.rows() as u64,
        Layout::Coalitions => 0,
    };
    let fixed = BufferSizes {
        slices: 1,
        game_bytes: game_struct_bytes(shape.kind),
        words: shape.union_words() + shape.game_words,
        moments: rows,
        row_threads: rows,
        ..BufferSizes::default()
    };
    let per_pair = BufferSizes {
        perms: layout.outputs(shape),
        scratch: layout.stride(shape),
        pair_threads: 1,
        ..BufferSizes::default()
    };
    (fixed, per_pair)
}

/// What a slice's threads stand for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// One thread per antithetic pair (sampling): `k0..k1` are pairs; each writes its
    /// permutation and its n marginals.
    Pairs,
    /// One thread per coalition (exact enumeration, surrogate jobs only): `k0..k1` are
    /// coalition bitmasks; each writes one value.
    Coalitions,
}

impl Layout {
    /// Outputs (`perms` / `marginals` / values elements) per thread.
    pub(super) fn outputs(self, shape: &JobShape) -> u64 {
        match self {
            Layout::Pairs => shape.players as u64,
            Layout::Coalitions => 1,
        }
    }

    /// Scratch words per thread.
    pub(super) fn stride(self, shape: &JobShape) -> u64 {
        match self {
            Layout::Pairs => shape.scratch_stride(),
            Layout::Coalitions => shape.exact_scratch,
        }
    }
}

/// How many pairs of a slice fit beside `used`: 0 when even the fixed part does not.
fn capacity(
    used: &BufferSizes,
    fixed: &BufferSizes,
    per_pair: &BufferSizes,
    l: &ChunkLimits,
) -> u64 {
    let mut base = *used;
    base.add(fixed);
    let mut cap = u64::MAX;
    for ((_, b), (_, p)) in base.bytes().iter().zip(per_pair.bytes()) {
        if *b > l.max_binding_bytes {
            return 0;
        }
        if let Some(fit) = (l.max_binding_bytes - b).checked_div(p) {
            cap = cap.min(fit);
        }
    }
    if base.row_threads > l.max_threads || base.pair_threads >= l.max_threads {
        return 0;
    }
    cap.min(l.max_threads - base.pair_threads)
}

/// One planned chunk: slices of jobs of one kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkPlan {
    /// Which sampling kernel runs it.
    pub kind: Kind,
    /// Pairs (sampling) or coalitions (exact enumeration).
    pub layout: Layout,
    /// One slice per part, in order.
    pub parts: Vec<Request>,
    /// Its buffer sizes and thread counts.
    pub sizes: BufferSizes,
}

/// Packs `requests` (in order, grouped by kernel: surrogate, Möbius, table) into chunks
/// that fit `limits`. Jobs with no players take no slice. Fails only when a single pair
/// of a job does not fit. O(requests + chunks).
pub fn plan(
    requests: &[Request],
    shapes: &[JobShape],
    limits: &ChunkLimits,
) -> Result<Vec<ChunkPlan>, PlanError> {
    plan_layout(requests, shapes, limits, Layout::Pairs)
}

/// [`plan`] for `layout`. With [`Layout::Coalitions`] only surrogate requests are planned
/// (the other games' tables are built on the CPU).
pub fn plan_layout(
    requests: &[Request],
    shapes: &[JobShape],
    limits: &ChunkLimits,
    layout: Layout,
) -> Result<Vec<ChunkPlan>, PlanError> {
    let mut chunks = Vec::new();
    let kinds: &[Kind] = match layout {
        Layout::Pairs => &[Kind::Surrogate, Kind::Mobius, Kind::Table],
        Layout::Coalitions => &[Kind::Surrogate],
    };
    for &kind in kinds {
        let mut cur = ChunkPlan {
            kind,
            layout,
            parts: Vec::new(),
            sizes: BufferSizes::default(),
        };
        // Lanes of one SIMD batch share a loop cap on some drivers and run every loop as
        // long as their longest lane, so the reduce cost per pair is the widest of all.
        let widest = requests
            .iter()
            .filter(|r| shapes[r.job].kind == kind)
            .map(|r| shapes[r.job].reduce_loops_per_pair())
            .max()
            .unwrap_or(1);
        for r in requests {
            let shape = &shapes[r.job];
            if shape.kind != kind || shape.players == 0 {
                continue;
            }
            admit(r.job, shape, limits, layout)?;
            let (fixed, per_pair) = footprint(shape, layout);
            let budget = limits.max_loop_iterations;
            let pair_cap = (budget - REDUCE_FIXED_LOOPS) / widest;
            let mut k = r.k0;
            while k < r.k1 {
                let cap = capacity(&cur.sizes, &fixed, &per_pair, limits);
                if cap == 0 {
                    if cur.parts.is_empty() {
                        return Err(too_large(r.job, &fixed, &per_pair, limits));
                    }
                    chunks.push(std::mem::replace(
                        &mut cur,
                        ChunkPlan {
                            kind,
                            layout,
                            parts: Vec::new(),
                            sizes: BufferSizes::default(),
                        },
                    ));
                    continue;
                }
                let take = cap.min(pair_cap).min((r.k1 - k) as u64) as u32;
                cur.parts.push(Request {
                    job: r.job,
                    k0: k,
                    k1: k + take,
                });
                cur.sizes.add(&fixed);
                let mut p = per_pair;
                p.perms *= take as u64;
                p.scratch *= take as u64;
                p.pair_threads *= take as u64;
                cur.sizes.add(&p);
                k += take;
            }
        }
        if !cur.parts.is_empty() {
            chunks.push(cur);
        }
    }
    Ok(chunks)
}

/// Whether a device with `limits` can run job `job` (of shape `shape`) at all: every
/// kernel's loops within the device's cap, and one pair's (or coalition's) buffers
/// within a binding. A job refused here runs on the CPU alone; [`plan`] fails with the
/// same error.
pub fn admit(
    job: usize,
    shape: &JobShape,
    limits: &ChunkLimits,
    layout: Layout,
) -> Result<(), PlanError> {
    let budget = limits.max_loop_iterations;
    let costs = match layout {
        Layout::Pairs => vec![
            ("draw_permutations", shape.draw_loops()),
            (sample_kernel(shape.kind), shape.sample_loops),
            ("reduce", REDUCE_FIXED_LOOPS + shape.reduce_loops_per_pair()),
        ],
        Layout::Coalitions => vec![("exact_surrogate", shape.exact_loops)],
    };
    for (kernel, needed) in costs {
        if needed > budget {
            return Err(PlanError::LoopBudget {
                job,
                kernel,
                needed,
                limit: budget,
            });
        }
    }
    let (fixed, per_pair) = footprint(shape, layout);
    if shape.players > 0 && capacity(&BufferSizes::default(), &fixed, &per_pair, limits) == 0 {
        return Err(too_large(job, &fixed, &per_pair, limits));
    }
    Ok(())
}

/// Loop iterations of a `reduce` thread besides its pairs: the slice search and the two
/// pass loops' exits.
const REDUCE_FIXED_LOOPS: u64 = 36;

fn sample_kernel(kind: Kind) -> &'static str {
    match kind {
        Kind::Surrogate => "sample_surrogate",
        Kind::Mobius => "sample_mobius",
        Kind::Table => "sample_table",
    }
}

fn too_large(
    job: usize,
    fixed: &BufferSizes,
    per_pair: &BufferSizes,
    l: &ChunkLimits,
) -> PlanError {
    let mut one = *fixed;
    one.add(per_pair);
    let (buffer, needed) = one
        .bytes()
        .into_iter()
        .find(|(_, b)| *b > l.max_binding_bytes)
        .unwrap_or(("threads", one.row_threads.max(one.pair_threads)));
    PlanError::TooLarge {
        job,
        buffer,
        needed,
        limit: l.max_binding_bytes,
    }
}
