// v(S) of the surrogate game (DESIGN 3.1) for every coalition S of each slice's range:
// the expensive half of exact enumeration. S is a bitmask over the job's players (at
// most 20); the CPU turns the table into Shapley or Owen values in f64 with
// `estimate::exact`. Twin: src/cpu/exact_surrogate.rs.
//
// One thread per coalition, from scratch: presences in causal order (a message is present
// when its owner is in S, or it has none), group maxima, then v = link(Q). Its scratch in
// global memory holds e (messages x f32) and the group maxima (groups x f32). A slice's
// `pair_first` is its first coalition and `perm_offset` where its values go.
// `link`, `presence` and `value` are those of sample_surrogate.wgsl (WGSL has no
// includes, and they read this kernel's bindings).

@group(0) @binding(0) var<uniform> config: Config;
@group(0) @binding(1) var<storage, read> slices: array<Slice>;
@group(0) @binding(2) var<storage, read> games: array<SurrogateGame>;
@group(0) @binding(3) var<storage, read> words: array<u32>;
@group(0) @binding(4) var<storage, read_write> scratch: array<u32>;
@group(0) @binding(5) var<storage, read_write> values: array<f32>;
@group(0) @binding(6) var<storage, read_write> status: array<atomic<u32>>;

// The last slice whose first thread is <= t.
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
    let mask = s.pair_first + k;
    let e = s.scratch_offset + k * s.scratch_stride;
    let gmax = e + g.messages;

    for (var m = 0u; m < g.messages; m += 1u) {
        let owner = words[g.owners + m];
        var x = 0.0;
        if (owner == NO_AGENT || ((mask >> owner) & 1u) == 1u) {
            x = presence(g, m, e);
        }
        scratch[e + m] = bitcast<u32>(x);
    }
    for (var i = 0u; i < g.groups; i += 1u) {
        scratch[gmax + i] = bitcast<u32>(0.0);
    }
    for (var m = 0u; m < g.messages; m += 1u) {
        let gi = gmax + words[g.group_of + m];
        scratch[gi] = bitcast<u32>(max(bitcast<f32>(scratch[gi]), bitcast<f32>(scratch[e + m])));
    }
    values[s.perm_offset + k] = value(g, gmax);
    check_loops(STATUS_SAMPLE);
}
