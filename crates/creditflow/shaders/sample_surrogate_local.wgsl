// sample_surrogate with each thread's state in workgroup memory instead of global
// scratch: the chunk runs it when every slice's state fits LOCAL_STRIDE words (small
// episodes, e.g. chats of up to about 30 messages) and the device offers the workgroup
// memory. The same walk and the same numbers as sample_surrogate; twin
// src/cpu/sample_surrogate_local.rs (the same reference).
//
// One thread per (slice, pair) and walk. Entry i of thread l's state sits at
// local[i * WORKGROUP_SIZE + l]: neighbouring threads touch neighbouring banks whatever
// entry each reads. The global scratch binding stays bound (and unused) so that both
// kernels share one binding list.

@group(0) @binding(0) var<uniform> config: Config;
@group(0) @binding(1) var<storage, read> slices: array<Slice>;
@group(0) @binding(2) var<storage, read> games: array<SurrogateGame>;
@group(0) @binding(3) var<storage, read> words: array<u32>;
@group(0) @binding(4) var<storage, read> perms: array<u32>;
@group(0) @binding(5) var<storage, read_write> scratch: array<u32>;
@group(0) @binding(6) var<storage, read_write> marginals: array<f32>;
@group(0) @binding(7) var<storage, read_write> status: array<atomic<u32>>;

var<workgroup> local: array<u32, LOCAL_WORDS>;

fn ld(i: u32) -> u32 {
    return local[i];
}

fn st(i: u32, x: u32) {
    local[i] = x;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let t = gid.x;
    if (t >= config.pair_threads) {
        return;
    }
    walk_pair(t, lid, WORKGROUP_SIZE);
    check_loops(STATUS_SAMPLE);
}
