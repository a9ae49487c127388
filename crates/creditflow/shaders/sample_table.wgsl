// Pair-mean marginals of table games (v(S) for every bitmask S, at most 20 players)
// along each drawn permutation and its reverse. Twin: src/cpu/sample_table.rs.
// One thread per (slice, pair); the coalition is a bitmask, so no scratch is needed.
// The walk and the pair mean are shared/pairs.wgsl, the slice lookup and loop check
// shared/jobs.wgsl.

@group(0) @binding(0) var<uniform> config: Config;
@group(0) @binding(1) var<storage, read> slices: array<Slice>;
@group(0) @binding(2) var<storage, read> games: array<TableGame>;
@group(0) @binding(3) var<storage, read> words: array<u32>;
@group(0) @binding(4) var<storage, read> perms: array<u32>;
@group(0) @binding(5) var<storage, read_write> marginals: array<f32>;
@group(0) @binding(6) var<storage, read_write> status: array<atomic<u32>>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let t = gid.x;
    if (t >= config.pair_threads) {
        return;
    }
    let s = slices[slice_of(t)];
    let values = games[s.game].values;
    let k = t - s.thread_first;
    let n = s.players;
    let perm = s.perm_offset + k * n;

    let dir = config.walk;
    var mask = 0u;
    var prev = bitcast<f32>(words[values]);
    for (var i = 0u; i < n; i += 1u) {
        let p = walk_player(perm, n, i, dir);
        mask = mask | (1u << p);
        let v = bitcast<f32>(words[values + mask]);
        let d = v - prev;
        prev = v;
        store_marginal(perm, p, dir, d);
    }
    check_loops(STATUS_SAMPLE);
}
