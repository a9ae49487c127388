// Pair-mean marginals of the surrogate game (DESIGN 3.1) along each drawn permutation
// and its reverse. Twin: src/cpu/sample_surrogate.rs.
//
// One thread per (slice, pair) and walk: the chunk dispatches this kernel once per walk
// (forwards, then reversed), so no invocation walks a permutation twice (a driver's loop
// cap bounds one invocation). Its scratch lives in global memory, interleaved with the
// slice's other pairs (entry i of pair k at scratch_offset + i * pairs + k) so that
// neighbouring invocations touch neighbouring words: e (messages x f32), present
// (messages x u32), the group maxima (groups x f32) and the running aggregate of e before
// each message (messages + 1 x f32). Adding a player marks its messages present and
// recomputes, in causal order, every present message from the first new one on,
// refreshing the running aggregate as it goes: a message whose parents are every earlier
// message (a chat) reads it in O(1), so an add costs O(messages) on a chat. Presences only
// grow, so a group's max only rises, and Q = sum of q_G * max e is kept up to date as
// maxima rise (Kahan-compensated), not summed afresh. The model (`presence`,
// `group_maxima`, `quality`, `link`) is shared/surrogate.wgsl, the walk and the pair mean
// shared/pairs.wgsl, the slice lookup and loop check shared/jobs.wgsl.

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
    let step = s.pairs;
    let e = s.scratch_offset + k;
    let present = e + nm * step;
    let gmax = present + nm * step;
    let run = gmax + g.groups * step;
    let dir = config.walk;

    // The empty coalition: environment messages only.
    var earlier = agg_start();
    scratch[run] = bitcast<u32>(earlier);
    for (var m = 0u; m < nm; m += 1u) {
        let here = words[g.owners + m] == NO_AGENT;
        scratch[present + m * step] = select(0u, 1u, here);
        var x = 0.0;
        if (here) {
            x = presence(g, m, e, step, earlier);
        }
        scratch[e + m * step] = bitcast<u32>(x);
        earlier = agg_join(earlier, x);
        scratch[run + (m + 1u) * step] = bitcast<u32>(earlier);
    }
    group_maxima(g, e, gmax, step);
    var q = quality(g, gmax, step);
    var qc = 0.0;
    var prev = link(q);

    for (var i = 0u; i < n; i += 1u) {
        let p = walk_player(perm, n, i, dir);
        var lo = nm;
        let r0 = words[g.member_offsets + p];
        let r1 = words[g.member_offsets + p + 1u];
        for (var r = r0; r < r1; r += 1u) {
            let m = words[g.members + r];
            scratch[present + m * step] = 1u;
            lo = min(lo, m);
        }
        var acc = bitcast<f32>(scratch[run + lo * step]);
        for (var m = lo; m < nm; m += 1u) {
            var x = bitcast<f32>(scratch[e + m * step]);
            if (scratch[present + m * step] == 1u) {
                let fresh = presence(g, m, e, step, acc);
                if (fresh != x) {
                    x = fresh;
                    scratch[e + m * step] = bitcast<u32>(fresh);
                    let group = words[g.group_of + m];
                    let gi = gmax + group * step;
                    let top = bitcast<f32>(scratch[gi]);
                    if (fresh > top) {
                        scratch[gi] = bitcast<u32>(fresh);
                        let y = bitcast<f32>(words[g.scores + group]) * (fresh - top) - qc;
                        let next = q + y;
                        qc = (next - q) - y;
                        q = next;
                    }
                }
            }
            acc = agg_join(acc, x);
            scratch[run + (m + 1u) * step] = bitcast<u32>(acc);
        }
        let v = link(q);
        store_marginal(perm, p, dir, v - prev);
        prev = v;
    }
    check_loops(STATUS_SAMPLE);
}
