// The permutations of every (slice, pair), exactly as `estimate::permutation::owen`
// draws them (a Shapley job is one union holding players 0..n in order, which draws
// exactly what `permutation::shapley` draws). Twin: src/cpu/draw_permutations.rs.
//
// Per pair: shuffle the union order 0..m (Fisher-Yates, i = m-1 down to 1,
// j = bounded(i + 1)); then, in union-index order, copy each union's members to where
// that union lands in the concatenation and shuffle them in place. One thread per pair;
// its 2m words of scratch hold the union order and each union's start. The slice lookup
// and loop check are shared/jobs.wgsl.

@group(0) @binding(0) var<uniform> config: Config;
@group(0) @binding(1) var<storage, read> slices: array<Slice>;
@group(0) @binding(2) var<storage, read> words: array<u32>;
@group(0) @binding(3) var<storage, read_write> scratch: array<u32>;
@group(0) @binding(4) var<storage, read_write> perms: array<u32>;
@group(0) @binding(5) var<storage, read_write> status: array<atomic<u32>>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let t = gid.x;
    if (t >= config.pair_threads) {
        return;
    }
    let s = slices[slice_of(t)];
    let k = t - s.thread_first;
    let n = s.players;
    let m = s.unions;
    var stream = stream_new(config.seed_lo, config.seed_hi, s.key_lo, s.key_hi, s.pair_first + k, s.tag);
    let order = s.scratch_offset + k * s.scratch_stride;
    let start = order + m;
    let out = s.perm_offset + k * n;
    let offsets = s.union_offset;
    let members = offsets + m + 1u;

    for (var l = 0u; l < m; l += 1u) {
        scratch[order + l] = l;
    }
    for (var i = m; i > 1u; i -= 1u) {
        let j = stream_bounded(&stream, i);
        let a = scratch[order + i - 1u];
        scratch[order + i - 1u] = scratch[order + j];
        scratch[order + j] = a;
    }
    var pos = 0u;
    for (var q = 0u; q < m; q += 1u) {
        let l = scratch[order + q];
        scratch[start + l] = pos;
        pos += words[offsets + l + 1u] - words[offsets + l];
    }
    for (var l = 0u; l < m; l += 1u) {
        let first = words[offsets + l];
        let size = words[offsets + l + 1u] - first;
        let dst = out + scratch[start + l];
        for (var x = 0u; x < size; x += 1u) {
            perms[dst + x] = words[members + first + x];
        }
        for (var i = size; i > 1u; i -= 1u) {
            let j = stream_bounded(&stream, i);
            let a = perms[dst + i - 1u];
            perms[dst + i - 1u] = perms[dst + j];
            perms[dst + j] = a;
        }
    }
    check_loops(STATUS_DRAW);
}
