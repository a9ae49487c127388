// Pair-mean marginals of the surrogate game (DESIGN 3.1) along each drawn permutation
// and its reverse. Twin: src/cpu/sample_surrogate.rs.
//
// One thread per (slice, pair), with its scratch in global memory (no workgroup memory,
// so an episode of any size fits as long as one pair's scratch fits a binding):
// e (messages x f32), present (messages x u32) and the group maxima (groups x f32).
// Adding a player marks its messages present and recomputes, in causal order, every
// present message from the first new one on; presences only grow, so a group's max is
// updated with max(). Q is summed afresh (compensated) after every step so that f32
// rounding does not accumulate along the walk.

@group(0) @binding(0) var<uniform> config: Config;
@group(0) @binding(1) var<storage, read> slices: array<Slice>;
@group(0) @binding(2) var<storage, read> games: array<SurrogateGame>;
@group(0) @binding(3) var<storage, read> words: array<u32>;
@group(0) @binding(4) var<storage, read> perms: array<u32>;
@group(0) @binding(5) var<storage, read_write> scratch: array<u32>;
@group(0) @binding(6) var<storage, read_write> marginals: array<f32>;
@group(0) @binding(7) var<storage, read_write> status: array<atomic<u32>>;

// The last slice whose first pair thread is <= t.
fn slice_of(t: u32) -> u32 {
    var lo = 0u;
    var hi = config.slice_count;
    while (hi - lo > 1u) {
        let mid = (lo + hi) / 2u;
        if (slices[mid].thread_first <= t) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return lo;
}

fn link(q: f32) -> f32 {
    switch config.link {
        case LINK_LOGISTIC: {
            return 1.0 / (1.0 + exp(-config.link_a * (q - config.link_b)));
        }
        case LINK_SATURATING: {
            return min(q, config.link_a);
        }
        default: {
            return q;
        }
    }
}

// Presence of present message m from its parents' presences (e at `e` in scratch).
fn presence(g: SurrogateGame, m: u32, e: u32) -> f32 {
    let p0 = words[g.parent_offsets + m];
    let p1 = words[g.parent_offsets + m + 1u];
    if (p0 == p1) {
        return 1.0;
    }
    var agg = bitcast<f32>(scratch[e + words[g.parents + p0]]);
    for (var i = p0 + 1u; i < p1; i += 1u) {
        let x = bitcast<f32>(scratch[e + words[g.parents + i]]);
        switch config.aggregate {
            case AGGREGATE_MIN: {
                agg = min(agg, x);
            }
            case AGGREGATE_MAX: {
                agg = max(agg, x);
            }
            default: {
                agg += x;
            }
        }
    }
    if (config.aggregate == AGGREGATE_MEAN) {
        agg = agg / f32(p1 - p0);
    }
    return config.alpha + (1.0 - config.alpha) * agg;
}

// v = link(Q), Q = sum over groups of q_G * max e, Kahan-compensated.
fn value(g: SurrogateGame, gmax: u32) -> f32 {
    var sum = 0.0;
    var c = 0.0;
    for (var i = 0u; i < g.groups; i += 1u) {
        let y = bitcast<f32>(words[g.scores + i]) * bitcast<f32>(scratch[gmax + i]) - c;
        let t = sum + y;
        c = (t - sum) - y;
        sum = t;
    }
    return link(sum);
}

// Some drivers stop an invocation's loops after a fixed number of iterations in all
// (Mesa's llvmpipe: 65535), silently. Once that budget is spent every further loop runs
// its body at most once, so this loop of `config.canary` (2, a runtime value so that it is
// not unrolled) runs short exactly when some loop of this thread may have been cut.
fn check_loops(bit: u32) {
    var runs = 0u;
    for (var i = 0u; i < config.canary; i += 1u) {
        runs += 1u;
    }
    if (runs != config.canary) {
        atomicOr(&status[0], bit);
    }
}

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

    for (var dir = 0u; dir < 2u; dir += 1u) {
        // The empty coalition: environment messages only.
        for (var m = 0u; m < nm; m += 1u) {
            scratch[present + m] = select(0u, 1u, words[g.owners + m] == NO_AGENT);
        }
        for (var m = 0u; m < nm; m += 1u) {
            var x = 0.0;
            if (scratch[present + m] == 1u) {
                x = presence(g, m, e);
            }
            scratch[e + m] = bitcast<u32>(x);
        }
        for (var i = 0u; i < g.groups; i += 1u) {
            scratch[gmax + i] = bitcast<u32>(0.0);
        }
        for (var m = 0u; m < nm; m += 1u) {
            let gi = gmax + words[g.group_of + m];
            scratch[gi] = bitcast<u32>(max(bitcast<f32>(scratch[gi]), bitcast<f32>(scratch[e + m])));
        }
        var prev = value(g, gmax);

        for (var i = 0u; i < n; i += 1u) {
            var p = perms[perm + i];
            if (dir == 1u) {
                p = perms[perm + n - 1u - i];
            }
            var lo = nm;
            let r0 = words[g.member_offsets + p];
            let r1 = words[g.member_offsets + p + 1u];
            for (var r = r0; r < r1; r += 1u) {
                let m = words[g.members + r];
                scratch[present + m] = 1u;
                lo = min(lo, m);
            }
            for (var m = lo; m < nm; m += 1u) {
                if (scratch[present + m] == 0u) {
                    continue;
                }
                let old = bitcast<f32>(scratch[e + m]);
                let fresh = presence(g, m, e);
                if (fresh != old) {
                    scratch[e + m] = bitcast<u32>(fresh);
                    let gi = gmax + words[g.group_of + m];
                    scratch[gi] = bitcast<u32>(max(bitcast<f32>(scratch[gi]), fresh));
                }
            }
            let v = value(g, gmax);
            let d = v - prev;
            prev = v;
            if (dir == 0u) {
                marginals[perm + p] = d;
            } else {
                marginals[perm + p] = (marginals[perm + p] + d) * 0.5;
            }
        }
    }
    check_loops(STATUS_SAMPLE);
}
