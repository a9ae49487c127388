// Pair-mean marginals of sparse Moebius games along each drawn permutation and its
// reverse. Twin: src/cpu/sample_mobius.rs. The walk and the pair mean are
// shared/pairs.wgsl, the slice lookup and loop check shared/jobs.wgsl.
//
// One thread per (slice, pair) and walk (the chunk dispatches this kernel once per walk:
// forwards, then reversed). Its scratch holds one countdown per term (members not yet in
// the coalition), interleaved with the slice's other pairs (term i of pair k at
// scratch_offset + i * pairs + k) so that neighbouring invocations touch neighbouring
// words; adding a player decrements the terms that contain it, and its marginal is the
// sum of the coefficients of the terms it completes.

@group(0) @binding(0) var<uniform> config: Config;
@group(0) @binding(1) var<storage, read> slices: array<Slice>;
@group(0) @binding(2) var<storage, read> games: array<MobiusGame>;
@group(0) @binding(3) var<storage, read> words: array<u32>;
@group(0) @binding(4) var<storage, read> perms: array<u32>;
@group(0) @binding(5) var<storage, read_write> scratch: array<u32>;
@group(0) @binding(6) var<storage, read_write> marginals: array<f32>;
@group(0) @binding(7) var<storage, read_write> status: array<atomic<u32>>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let t = gid.x;
    if (t >= config.pair_threads) {
        return;
    }
    let s = slices[slice_of(t)];
    let g = games[s.game];
    let k = t - s.thread_first;
    let n = s.players;
    let perm = s.perm_offset + k * n;
    let remaining = s.scratch_offset + k;
    let step = s.pairs;
    let dir = config.walk;

    for (var term = 0u; term < g.terms; term += 1u) {
        scratch[remaining + term * step] = words[g.sizes + term];
    }
    for (var i = 0u; i < n; i += 1u) {
        let p = walk_player(perm, n, i, dir);
        var d = 0.0;
        let r0 = words[g.player_offsets + p];
        let r1 = words[g.player_offsets + p + 1u];
        for (var r = r0; r < r1; r += 1u) {
            let at = remaining + words[g.player_terms + r] * step;
            let left = scratch[at] - 1u;
            scratch[at] = left;
            if (left == 0u) {
                d += bitcast<f32>(words[g.coefficients + words[g.player_terms + r]]);
            }
        }
        store_marginal(perm, p, dir, d);
    }
    check_loops(STATUS_SAMPLE);
}
