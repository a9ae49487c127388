// Pair-mean marginals of sparse Moebius games along each drawn permutation and its
// reverse, by a pass over terms. Twin: src/cpu/sample_mobius.rs (the reference walk).
//
// In a permutation, a term's coefficient goes to the member that completes it: the member
// of highest rank on the forward walk, of lowest rank on the reversed one. So one thread
// per (slice, pair) ranks its players, then runs over the game's terms once, adding each
// coefficient to those two members; the pair mean of player p is half its sum. Both walks
// take one pass (the chunk dispatches this kernel once; the per-walk countdown it replaces
// touched every term of every added player twice). Lanes of a slice read the same term at
// the same time (one broadcast read of its row), and the ranks and sums are interleaved
// with the slice's other pairs (entry i of pair k at scratch_offset + i * pairs + k), so
// the rank reads of a warp are contiguous. The slice lookup and loop check are
// shared/jobs.wgsl.

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
    let step = s.pairs;
    let rank = s.scratch_offset + k;
    let sum = rank + n * step;

    for (var i = 0u; i < n; i += 1u) {
        scratch[rank + perms[perm + i] * step] = i;
        scratch[sum + i * step] = bitcast<u32>(0.0);
    }
    for (var term = 0u; term < g.terms; term += 1u) {
        let r0 = words[g.term_offsets + term];
        let r1 = words[g.term_offsets + term + 1u];
        var last = words[g.term_members + r0];
        var first = last;
        var hi = scratch[rank + last * step];
        var lo = hi;
        for (var r = r0 + 1u; r < r1; r += 1u) {
            let p = words[g.term_members + r];
            let x = scratch[rank + p * step];
            if (x > hi) {
                hi = x;
                last = p;
            }
            if (x < lo) {
                lo = x;
                first = p;
            }
        }
        let c = bitcast<f32>(words[g.coefficients + term]);
        let a = sum + last * step;
        scratch[a] = bitcast<u32>(bitcast<f32>(scratch[a]) + c);
        let b = sum + first * step;
        scratch[b] = bitcast<u32>(bitcast<f32>(scratch[b]) + c);
    }
    for (var p = 0u; p < n; p += 1u) {
        marginals[perm + p] = 0.5 * bitcast<f32>(scratch[sum + p * step]);
    }
    check_loops(STATUS_SAMPLE);
}
