// Pair-mean marginals of the surrogate game (DESIGN 3.1) along each drawn permutation
// and its reverse. Twin: src/cpu/sample_surrogate.rs.
//
// One thread per (slice, pair) and walk: the chunk dispatches this kernel once per walk
// (forwards, then reversed), so no invocation walks a permutation twice (a driver's loop
// cap bounds one invocation). Its state lives in global scratch, interleaved with the
// slice's other pairs (entry i of pair k at scratch_offset + i * pairs + k): e (messages x
// f32), present (messages x u32), the group maxima (groups x f32) and the running
// aggregate of e before each message (messages + 1 x f32). Chunks whose state fits a
// workgroup's memory run sample_surrogate_local instead. The walk is
// shared/walk_surrogate.wgsl, the model (`presence`, `group_maxima`, `quality`, `link`)
// shared/surrogate.wgsl, the pair mean shared/pairs.wgsl, the slice lookup and loop check
// shared/jobs.wgsl.

@group(0) @binding(0) var<uniform> config: Config;
@group(0) @binding(1) var<storage, read> slices: array<Slice>;
@group(0) @binding(2) var<storage, read> games: array<SurrogateGame>;
@group(0) @binding(3) var<storage, read> words: array<u32>;
@group(0) @binding(4) var<storage, read> perms: array<u32>;
@group(0) @binding(5) var<storage, read_write> scratch: array<u32>;
@group(0) @binding(6) var<storage, read_write> marginals: array<f32>;
@group(0) @binding(7) var<storage, read_write> status: array<atomic<u32>>;

fn ld(i: u32) -> u32 {
    return scratch[i];
}

fn st(i: u32, x: u32) {
    scratch[i] = x;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let t = gid.x;
    if (t >= config.pair_threads) {
        return;
    }
    let s = slices[slice_of(t)];
    walk_pair(t, s.scratch_offset + t - s.thread_first, s.pairs);
    check_loops(STATUS_SAMPLE);
}
