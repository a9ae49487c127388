// Types and constants shared by every creditflow kernel.
//
// Mirrored field for field by src/cpu/types.rs (`#[repr(C)]`, `u32`/`f32` only); the
// naga test in tests/shaders.rs checks that sizes, offsets and constants agree. WGSL has
// no includes: the Rust side concatenates this file, the other shared files a kernel
// lists (src/gpu/shaders.rs) and the kernel.

// Threads per workgroup of every kernel (`cpu::types::WORKGROUP_SIZE`).
const WORKGROUP_SIZE: u32 = 64u;
// State words per thread of sample_surrogate_local (`cpu::types::LOCAL_STRIDE`), and the
// workgroup array that holds them.
const LOCAL_STRIDE: u32 = 96u;
const LOCAL_WORDS: u32 = 6144u;
// Most messages of an episode that sample_chat takes (`cpu::types::CHAT_MAX_MESSAGES`).
const CHAT_MAX_MESSAGES: u32 = 512u;

// An environment message: no owner in the sampled game (`csr::NO_AGENT`).
const NO_AGENT: u32 = 0xffffffffu;

// `Config::aggregate` (`game::Aggregate`).
const AGGREGATE_MEAN: u32 = 0u;
const AGGREGATE_MIN: u32 = 1u;
const AGGREGATE_MAX: u32 = 2u;

// `Config::link` (`game::Link`).
const LINK_LINEAR: u32 = 0u;
const LINK_LOGISTIC: u32 = 1u;
const LINK_SATURATING: u32 = 2u;

// `Slice::control` (`cpu::types::CONTROL_*`): plain sampling of v, or the residual
// v - beta * v_lin with v_lin = sum of q_m * e_m over v's own presences (mean aggregate),
// or over v_lin's own mean-aggregate presences walked beside v's (min / max).
const CONTROL_NONE: u32 = 0u;
const CONTROL_SHARED: u32 = 1u;
const CONTROL_OWN: u32 = 2u;

// Bits of the status word: which kernel had a loop cut short by the driver.
const STATUS_DRAW: u32 = 1u;
const STATUS_SAMPLE: u32 = 2u;
const STATUS_REDUCE: u32 = 4u;
// sample_chat_subgroup ran in a subgroup of another size than it was built for.
const STATUS_SUBGROUP: u32 = 8u;

// Per dispatch: the seed, the thread counts and the surrogate model.
struct Config {
    seed_lo: u32,
    seed_hi: u32,
    // Number of `Slice`s in `slices`.
    slice_count: u32,
    // Threads that do work in the pair kernels (one per slice pair).
    pair_threads: u32,
    // Threads that do work in the reduce kernel (one per slice row).
    row_threads: u32,
    aggregate: u32,
    link: u32,
    alpha: f32,
    // Logistic: slope kappa; saturating: the cap.
    link_a: f32,
    // Logistic: threshold tau.
    link_b: f32,
    // Always 2: the trip count of each kernel's loop-cap check (see check_loops).
    canary: u32,
    // The sampling kernels' walk: 0 forwards (stores each marginal), 1 reversed (turns it
    // into the pair mean); one dispatch per walk.
    walk: u32,
}

// Pairs `pair_first .. pair_first + pairs` of one job, as laid out in one chunk.
// Offsets count elements of the named buffer.
struct Slice {
    // The low word of the record's stream key.
    key_lo: u32,
    // The Philox tag word.
    tag: u32,
    // Players n of the sampled game.
    players: u32,
    // Unions m (1 for a Shapley job: all players in one union).
    unions: u32,
    // 1 when union rows (Owen) are reduced after the player rows.
    owen: u32,
    // The Philox sample word of the slice's first pair.
    pair_first: u32,
    // Pairs in this slice.
    pairs: u32,
    // First pair thread of the slice.
    thread_first: u32,
    // First reduce thread (row) of the slice: rows = players (+ unions when owen).
    row_first: u32,
    // In `words`: m + 1 union offsets (0 .. n), then the n union members.
    union_offset: u32,
    // In `perms` and `marginals`: pair k's n entries start at perm_offset + k * n.
    perm_offset: u32,
    // In `scratch`: pair k's scratch starts at scratch_offset + k * scratch_stride.
    scratch_offset: u32,
    scratch_stride: u32,
    // Index into the kernel's game array.
    game: u32,
    // The high word of the record's stream key.
    key_hi: u32,
    // The control variate's beta (a controlled slice samples v - beta * v_lin).
    beta: f32,
    // CONTROL_NONE, CONTROL_SHARED or CONTROL_OWN.
    control: u32,
    _pad1: u32,
    _pad2: u32,
    _pad3: u32,
}

// A surrogate game (DESIGN 3.1) of one episode; offsets index `words`.
struct SurrogateGame {
    messages: u32,
    groups: u32,
    // messages + 1 offsets into the parents row, starting at 0.
    parent_offsets: u32,
    // Record-local parent message indices.
    parents: u32,
    // Per message: its player in this game, or NO_AGENT.
    owners: u32,
    // Per message: its redundancy group.
    group_of: u32,
    // Per group: q_G as f32 bits.
    scores: u32,
    // players + 1 offsets into the members row, starting at 0.
    member_offsets: u32,
    // Per player: its messages in increasing order.
    members: u32,
    // Per message: 1 when its parents are every earlier message (its parents row is then
    // empty), else 0.
    earlier: u32,
    _pad1: u32,
    _pad2: u32,
}

// A sparse Moebius game; offsets index `words`. Empty terms are left out (they only
// shift v and never change a marginal).
struct MobiusGame {
    terms: u32,
    // Per term: its coefficient as f32 bits.
    coefficients: u32,
    // terms + 1 offsets into the term_members row, starting at 0.
    term_offsets: u32,
    // Per term: its players, increasing.
    term_members: u32,
}

// A table game: v(S) for every bitmask S, as f32 bits at `values` in `words`.
struct TableGame {
    values: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

// One reduced row of one slice: mean and sum of squared deviations of `count` values.
struct Moments {
    count: u32,
    mean: f32,
    m2: f32,
    _pad: u32,
}

// The record's rows in the CSR batch (`csr::RecordMeta`); kept here so that both sides
// name the same layout.
struct RecordMeta {
    message_offset: u32,
    message_count: u32,
    agent_count: u32,
    player_count: u32,
    group_offset: u32,
    group_count: u32,
    key_lo: u32,
    key_hi: u32,
}

// A raw Philox block request: counter and key (philox_kat.wgsl).
struct KatCase {
    ctr0: u32,
    ctr1: u32,
    ctr2: u32,
    ctr3: u32,
    key0: u32,
    key1: u32,
    _pad0: u32,
    _pad1: u32,
}

// `count` bounded draws in 0..n from one stream (draw_bounded.wgsl).
struct BoundedCase {
    seed_lo: u32,
    seed_hi: u32,
    key_lo: u32,
    key_hi: u32,
    sample: u32,
    tag: u32,
    n: u32,
    count: u32,
    out_offset: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}
