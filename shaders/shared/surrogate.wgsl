// The surrogate value model (DESIGN 3.1) in f32, shared by sample_surrogate.wgsl (along
// permutations, incrementally) and exact_surrogate.wgsl (per coalition, from scratch).
// The CPU twins evaluate the same model in f64 with `game::Surrogate`.
//
// Not a module on its own: it reads the kernel's bindings `config: Config`,
// `words: array<u32>` and `scratch: array<u32>`. In scratch, e (messages x f32 bits) starts
// at `e` and the group maxima (groups x f32 bits) at `gmax`.

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

// Every group's max e over its messages, from all of e (absent messages hold 0).
fn group_maxima(g: SurrogateGame, e: u32, gmax: u32) {
    for (var i = 0u; i < g.groups; i += 1u) {
        scratch[gmax + i] = bitcast<u32>(0.0);
    }
    for (var m = 0u; m < g.messages; m += 1u) {
        let gi = gmax + words[g.group_of + m];
        scratch[gi] = bitcast<u32>(max(bitcast<f32>(scratch[gi]), bitcast<f32>(scratch[e + m])));
    }
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
