//! The structs and constants shared with the WGSL kernels, field for field: this file is
//! the Rust side of `shaders/shared/types.wgsl` (`tests/shaders.rs` checks that sizes,
//! offsets, constants and workgroup sizes agree). `u32`/`f32` fields only, `#[repr(C)]`,
//! padded to 16 bytes.

use bytemuck::{Pod, Zeroable};

/// Threads per workgroup of every kernel (`WORKGROUP_SIZE` in WGSL).
pub const WORKGROUP_SIZE: u32 = 64;
/// State words per thread of `sample_surrogate_local` (`LOCAL_STRIDE` in WGSL): a chunk
/// whose every pair's surrogate state fits runs it, with the state in workgroup memory.
pub const LOCAL_STRIDE: u32 = 96;
/// Words of the workgroup array of `sample_surrogate_local` (`LOCAL_WORDS` in WGSL).
pub const LOCAL_WORDS: u32 = WORKGROUP_SIZE * LOCAL_STRIDE;
/// Most messages of an episode that `sample_chat` takes (`CHAT_MAX_MESSAGES` in WGSL):
/// its workgroup holds a presence flag and a group maximum per message.
pub const CHAT_MAX_MESSAGES: u32 = 512;

/// `Config::aggregate` for [`crate::game::Aggregate::Mean`].
pub const AGGREGATE_MEAN: u32 = 0;
/// `Config::aggregate` for [`crate::game::Aggregate::Min`].
pub const AGGREGATE_MIN: u32 = 1;
/// `Config::aggregate` for [`crate::game::Aggregate::Max`].
pub const AGGREGATE_MAX: u32 = 2;
/// `Config::link` for [`crate::game::Link::Linear`].
pub const LINK_LINEAR: u32 = 0;
/// `Config::link` for [`crate::game::Link::Logistic`].
pub const LINK_LOGISTIC: u32 = 1;
/// `Config::link` for [`crate::game::Link::Saturating`].
pub const LINK_SATURATING: u32 = 2;

/// `Slice::control`: plain sampling of v.
pub const CONTROL_NONE: u32 = 0;
/// `Slice::control`: the residual v − β·v_lin with v_lin = Σ q_m·e_m over v's own
/// presences (`mean` aggregate).
pub const CONTROL_SHARED: u32 = 1;
/// `Slice::control`: the residual v − β·v_lin with v_lin's presences (`mean` aggregate)
/// walked beside v's (`min` / `max` aggregate; more scratch per pair).
pub const CONTROL_OWN: u32 = 2;

/// [`Config::canary`]: the kernels' last loop runs this many times unless the driver
/// cut the thread's loops short (see `check_loops` in the kernels).
pub const CANARY: u32 = 2;
/// Status bit: `draw_permutations` had a loop cut short.
pub const STATUS_DRAW: u32 = 1;
/// Status bit: a sampling kernel had a loop cut short.
pub const STATUS_SAMPLE: u32 = 2;
/// Status bit: `reduce` had a loop cut short.
pub const STATUS_REDUCE: u32 = 4;
/// Status bit: `sample_chat_subgroup` ran in a subgroup of another size than it was
/// built for (never expected: it is built only for an adapter with one subgroup size).
pub const STATUS_SUBGROUP: u32 = 8;

/// Per dispatch: the seed, the thread counts and the surrogate model (WGSL `Config`,
/// bound as a uniform).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Pod, Zeroable)]
pub struct Config {
    /// Low word of the seed (Philox key word 0).
    pub seed_lo: u32,
    /// High word of the seed (Philox key word 1).
    pub seed_hi: u32,
    /// Number of [`Slice`]s in the chunk.
    pub slice_count: u32,
    /// Threads that do work in the pair kernels: one per (slice, pair).
    pub pair_threads: u32,
    /// Threads that do work in the reduce kernel: one per (slice, row).
    pub row_threads: u32,
    /// One of the `AGGREGATE_*` constants.
    pub aggregate: u32,
    /// One of the `LINK_*` constants.
    pub link: u32,
    /// Self-sufficiency α.
    pub alpha: f32,
    /// Logistic: slope κ; saturating: the cap.
    pub link_a: f32,
    /// Logistic: threshold τ.
    pub link_b: f32,
    /// Always [`CANARY`]: the trip count of each kernel's loop-cap check.
    pub canary: u32,
    /// The sampling kernels' walk: 0 forwards (stores each marginal), 1 reversed (turns
    /// it into the pair mean). A chunk runs its sampling kernel once per walk, so that no
    /// invocation walks a permutation twice.
    pub walk: u32,
}

/// Pairs `pair_first .. pair_first + pairs` of one job as laid out in one chunk (WGSL
/// `Slice`). Offsets count elements of the named buffer.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Pod, Zeroable)]
pub struct Slice {
    /// The low word of the record's stream key ([`crate::rng::record_key`]).
    pub key_lo: u32,
    /// The Philox tag word.
    pub tag: u32,
    /// Players n of the sampled game.
    pub players: u32,
    /// Unions m (1 for a Shapley job: all players in one union, in order).
    pub unions: u32,
    /// 1 when union rows (Owen) are reduced after the player rows.
    pub owen: u32,
    /// The Philox sample word of the slice's first pair.
    pub pair_first: u32,
    /// Pairs in this slice (≥ 1).
    pub pairs: u32,
    /// First pair thread of the slice.
    pub thread_first: u32,
    /// First reduce thread of the slice; its rows are the players, then (Owen) the unions.
    pub row_first: u32,
    /// In `words`: m + 1 union offsets (0..=n), then the n union members.
    pub union_offset: u32,
    /// In `perms` and `marginals`: pair k's n entries start at `perm_offset + k·n`.
    pub perm_offset: u32,
    /// In `scratch`: pair k's scratch starts at `scratch_offset + k·scratch_stride`.
    pub scratch_offset: u32,
    /// Scratch words per pair: max(2m for the draw, the sampler's own).
    pub scratch_stride: u32,
    /// Index into the chunk's game array.
    pub game: u32,
    /// The high word of the record's stream key.
    pub key_hi: u32,
    /// The control variate's β (a controlled slice samples v − β·v_lin).
    pub beta: f32,
    /// [`CONTROL_NONE`], [`CONTROL_SHARED`] or [`CONTROL_OWN`].
    pub control: u32,
    /// Padding.
    pub _pad1: u32,
    /// Padding.
    pub _pad2: u32,
    /// Padding.
    pub _pad3: u32,
}

impl Slice {
    /// Rows reduced for this slice: the players, plus the unions of an Owen job.
    pub fn rows(&self) -> u32 {
        self.players + if self.owen == 1 { self.unions } else { 0 }
    }
}

/// A surrogate game of one episode (WGSL `SurrogateGame`); offsets index `words`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct SurrogateGame {
    /// Messages of the episode.
    pub messages: u32,
    /// Redundancy groups.
    pub groups: u32,
    /// `messages + 1` offsets into the parents row, starting at 0.
    pub parent_offsets: u32,
    /// Record-local parent message indices.
    pub parents: u32,
    /// Per message: its player in this game, or [`crate::csr::NO_AGENT`].
    pub owners: u32,
    /// Per message: its redundancy group.
    pub group_of: u32,
    /// Per group: q_G as f32 bits.
    pub scores: u32,
    /// `players + 1` offsets into the members row, starting at 0.
    pub member_offsets: u32,
    /// Per player: its messages, increasing.
    pub members: u32,
    /// Per message: 1 when its parents are every earlier message (its parents row is
    /// then empty), else 0.
    pub earlier: u32,
    /// Padding.
    pub _pad1: u32,
    /// Padding.
    pub _pad2: u32,
}

/// A sparse Möbius game (WGSL `MobiusGame`); offsets index `words`. Empty terms are left
/// out: they shift v and never change a marginal.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct MobiusGame {
    /// Non-empty terms.
    pub terms: u32,
    /// Per term: its coefficient as f32 bits.
    pub coefficients: u32,
    /// `terms + 1` offsets into the term_members row, starting at 0.
    pub term_offsets: u32,
    /// Per term: its players, increasing.
    pub term_members: u32,
}

/// A table game (WGSL `TableGame`): v(S) for every bitmask S as f32 bits at `values`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct TableGame {
    /// Offset of v(∅) in `words`.
    pub values: u32,
    /// Padding.
    pub _pad0: u32,
    /// Padding.
    pub _pad1: u32,
    /// Padding.
    pub _pad2: u32,
}

/// One reduced row of one slice (WGSL `Moments`): mean and sum of squared deviations of
/// `count` pair means.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Pod, Zeroable)]
pub struct Moments {
    /// Pairs summed.
    pub count: u32,
    /// Their mean.
    pub mean: f32,
    /// Σ (x − mean)².
    pub m2: f32,
    /// Padding.
    pub _pad: u32,
}

/// A raw Philox block request (WGSL `KatCase`, `philox_kat.wgsl`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct KatCase {
    /// Counter word 0.
    pub ctr0: u32,
    /// Counter word 1.
    pub ctr1: u32,
    /// Counter word 2.
    pub ctr2: u32,
    /// Counter word 3.
    pub ctr3: u32,
    /// Key word 0.
    pub key0: u32,
    /// Key word 1.
    pub key1: u32,
    /// Padding.
    pub _pad0: u32,
    /// Padding.
    pub _pad1: u32,
}

impl KatCase {
    #[cfg_attr(not(any(test, feature = "internals")), expect(dead_code, reason = "the known-answer cases of the GPU tests"))]
    /// The case for `ctr` and `key`.
    pub fn new(ctr: [u32; 4], key: [u32; 2]) -> Self {
        KatCase {
            ctr0: ctr[0],
            ctr1: ctr[1],
            ctr2: ctr[2],
            ctr3: ctr[3],
            key0: key[0],
            key1: key[1],
            _pad0: 0,
            _pad1: 0,
        }
    }
}

/// `count` bounded draws in 0..n from one stream (WGSL `BoundedCase`, `draw_bounded.wgsl`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct BoundedCase {
    /// Low word of the seed.
    pub seed_lo: u32,
    /// High word of the seed.
    pub seed_hi: u32,
    /// Low word of the record key.
    pub key_lo: u32,
    /// High word of the record key.
    pub key_hi: u32,
    /// The sample word.
    pub sample: u32,
    /// The tag word.
    pub tag: u32,
    /// Bound (≥ 1).
    pub n: u32,
    /// Draws.
    pub count: u32,
    /// Where the draws go in the output.
    pub out_offset: u32,
    /// Padding.
    pub _pad0: u32,
    /// Padding.
    pub _pad1: u32,
    /// Padding.
    pub _pad2: u32,
}
