// The surrogate value model (DESIGN 3.1) in f32, shared by sample_surrogate.wgsl (along
// permutations, incrementally) and exact_surrogate.wgsl (per coalition, from scratch).
// The CPU twins evaluate the same model in f64 with `game::Surrogate`.
//
// Not a module on its own: it reads the kernel's bindings `config: Config` and
// `words: array<u32>`, and the thread's state through the kernel's `ld(i)` / `st(i, x)`
// (global scratch, or workgroup memory in sample_surrogate_local). In the state, e
// (messages x f32 bits) starts at `e` and the group maxima (groups x f32 bits) at `gmax`,
// entry i at `i * step` (step is the number of threads whose state is interleaved: the
// slice's pairs or the workgroup's threads in the sampling kernels, 1 in
// exact_surrogate).

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

// The aggregate's identity: the start of a running aggregate (f32::MAX stands in for
// infinity; presences lie in [0, 1]).
fn agg_start() -> f32 {
    return agg_start_of(config.aggregate);
}

// `agg_start` for aggregate `kind` (v_lin's presences use AGGREGATE_MEAN whatever v's).
fn agg_start_of(kind: u32) -> f32 {
    switch kind {
        case AGGREGATE_MIN: {
            return bitcast<f32>(0x7f7fffffu);
        }
        case AGGREGATE_MAX: {
            return -bitcast<f32>(0x7f7fffffu);
        }
        default: {
            return 0.0;
        }
    }
}

// A running aggregate joined with one more presence (a sum for the mean).
fn agg_join(acc: f32, x: f32) -> f32 {
    return agg_join_of(config.aggregate, acc, x);
}

// `agg_join` for aggregate `kind`.
fn agg_join_of(kind: u32, acc: f32, x: f32) -> f32 {
    switch kind {
        case AGGREGATE_MIN: {
            return min(acc, x);
        }
        case AGGREGATE_MAX: {
            return max(acc, x);
        }
        default: {
            return acc + x;
        }
    }
}

// Presence of present message m from its parents' presences (e at `e` in scratch);
// `earlier` is the running aggregate of e over the messages before m, read in O(1) when
// m's parents are every earlier message (a listed row is read parent by parent).
fn presence(g: SurrogateGame, m: u32, e: u32, step: u32, earlier: f32) -> f32 {
    return presence_of(config.aggregate, g, m, e, step, earlier);
}

// `presence` under aggregate `kind`.
fn presence_of(kind: u32, g: SurrogateGame, m: u32, e: u32, step: u32, earlier: f32) -> f32 {
    var agg = earlier;
    var k = m;
    if (words[g.earlier + m] == 0u) {
        let p0 = words[g.parent_offsets + m];
        let p1 = words[g.parent_offsets + m + 1u];
        agg = agg_start_of(kind);
        for (var i = p0; i < p1; i += 1u) {
            agg = agg_join_of(kind, agg, bitcast<f32>(ld(e + words[g.parents + i] * step)));
        }
        k = p1 - p0;
    }
    if (k == 0u) {
        return 1.0;
    }
    if (kind == AGGREGATE_MEAN) {
        agg = agg / f32(k);
    }
    return config.alpha + (1.0 - config.alpha) * agg;
}

// Every group's max e over its messages, from all of e (absent messages hold 0).
fn group_maxima(g: SurrogateGame, e: u32, gmax: u32, step: u32) {
    for (var i = 0u; i < g.groups; i += 1u) {
        st(gmax + i * step, bitcast<u32>(0.0));
    }
    for (var m = 0u; m < g.messages; m += 1u) {
        let gi = gmax + words[g.group_of + m] * step;
        let x = bitcast<f32>(ld(e + m * step));
        st(gi, bitcast<u32>(max(bitcast<f32>(ld(gi)), x)));
    }
}

// Q = sum over groups of q_G * max e, Kahan-compensated.
fn quality(g: SurrogateGame, gmax: u32, step: u32) -> f32 {
    var sum = 0.0;
    var c = 0.0;
    for (var i = 0u; i < g.groups; i += 1u) {
        let y = bitcast<f32>(words[g.scores + i]) * bitcast<f32>(ld(gmax + i * step)) - c;
        let t = sum + y;
        c = (t - sum) - y;
        sum = t;
    }
    return sum;
}

// v = link(Q).
fn value(g: SurrogateGame, gmax: u32, step: u32) -> f32 {
    return link(quality(g, gmax, step));
}
