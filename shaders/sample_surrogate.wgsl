// Pair-mean marginals of the surrogate game (DESIGN 3.1) along each drawn permutation
// and its reverse. Twin: src/cpu/sample_surrogate.rs.
//
// One thread per (slice, pair), with its scratch in global memory (no workgroup memory,
// so an episode of any size fits as long as one pair's scratch fits a binding):
// e (messages x f32), present (messages x u32), the group maxima (groups x f32) and the
// running aggregate of e before each message (messages + 1 x f32). Adding a player marks
// its messages present and recomputes, in causal order, every present message from the
// first new one on, refreshing the running aggregate as it goes: a message whose parents
// are every earlier message (a chat) reads it in O(1), so an add costs O(messages) on a
// chat. Presences only grow, so a group's max is updated with max(). Q is summed afresh (compensated) after every step so that f32
// rounding does not accumulate along the walk. The model (`presence`, `group_maxima`,
// `value`) is shared/surrogate.wgsl, the walk and the pair mean shared/pairs.wgsl, the
// slice lookup and loop check shared/jobs.wgsl.

@group(0) @binding(0) var<uniform> config: Config;
@group(0) @binding(1) var<storage, read> slices: array<Slice>;
@group(0) @binding(2) var<storage, read> games: array<SurrogateGame>;
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
    let nm = g.messages;
    let perm = s.perm_offset + k * n;
    let e = s.scratch_offset + k * s.scratch_stride;
    let present = e + nm;
    let gmax = present + nm;
    let run = gmax + g.groups;

    for (var dir = 0u; dir < 2u; dir += 1u) {
        // The empty coalition: environment messages only.
        for (var m = 0u; m < nm; m += 1u) {
            scratch[present + m] = select(0u, 1u, words[g.owners + m] == NO_AGENT);
        }
        var earlier = agg_start();
        scratch[run] = bitcast<u32>(earlier);
        for (var m = 0u; m < nm; m += 1u) {
            var x = 0.0;
            if (scratch[present + m] == 1u) {
                x = presence(g, m, e, earlier);
            }
            scratch[e + m] = bitcast<u32>(x);
            earlier = agg_join(earlier, x);
            scratch[run + m + 1u] = bitcast<u32>(earlier);
        }
        group_maxima(g, e, gmax);
        var prev = value(g, gmax);

        for (var i = 0u; i < n; i += 1u) {
            let p = walk_player(perm, n, i, dir);
            var lo = nm;
            let r0 = words[g.member_offsets + p];
            let r1 = words[g.member_offsets + p + 1u];
            for (var r = r0; r < r1; r += 1u) {
                let m = words[g.members + r];
                scratch[present + m] = 1u;
                lo = min(lo, m);
            }
            var earlier = bitcast<f32>(scratch[run + lo]);
            for (var m = lo; m < nm; m += 1u) {
                var x = bitcast<f32>(scratch[e + m]);
                if (scratch[present + m] == 1u) {
                    let fresh = presence(g, m, e, earlier);
                    if (fresh != x) {
                        x = fresh;
                        scratch[e + m] = bitcast<u32>(fresh);
                        let gi = gmax + words[g.group_of + m];
                        scratch[gi] = bitcast<u32>(max(bitcast<f32>(scratch[gi]), fresh));
                    }
                }
                earlier = agg_join(earlier, x);
                scratch[run + m + 1u] = bitcast<u32>(earlier);
            }
            let v = value(g, gmax);
            let d = v - prev;
            prev = v;
            store_marginal(perm, p, dir, d);
        }
    }
    check_loops(STATUS_SAMPLE);
}
