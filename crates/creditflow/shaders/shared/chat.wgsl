// The walk of one chat pair by a workgroup of lanes, shared by sample_chat (a workgroup of
// WORKGROUP_SIZE lanes: scans and sums through workgroup memory) and sample_chat_subgroup
// (one subgroup: scans by shuffles, sums by subgroupAdd). Each kernel declares the
// bindings this file reads (`config`, `slices`, `games`, `words`, `scratch`) and defines
// `scan_start(g, lane, m0, m1, mean)` (S before the lane's first message) and
// `lane_sum(lane, part)` (the sum over lanes), both in uniform control flow. The method
// is described at the top of sample_chat.wgsl.

// Per message: its presence flag (written and read by the lane that owns the message).
var<workgroup> present: array<u32, CHAT_MAX_MESSAGES>;
// Per redundancy group: the max presence (the bits of a non-negative f32), shared by all
// lanes.
var<workgroup> gmax: array<atomic<u32>, CHAT_MAX_MESSAGES>;
// Controlled slices: each message's v_lin presence in the previous coalition (written
// and read by the lane that owns the message only).
var<workgroup> lin_prev: array<f32, CHAT_MAX_MESSAGES>;

// shared/surrogate.wgsl's state accessors (its `link` is all the chat kernels use of it).
fn ld(i: u32) -> u32 {
    return scratch[i];
}

fn st(i: u32, x: u32) {
    scratch[i] = x;
}

// True when message m is a root (no parents).
fn is_root(g: SurrogateGame, m: u32) -> bool {
    return m == 0u || words[g.earlier + m] == 0u;
}

// The factor of S_m in a present non-root message's presence (mean: the sum's (1 - alpha)/m).
fn slope(m: u32, mean: bool) -> f32 {
    if (!mean) {
        return 1.0 - config.alpha;
    }
    return (1.0 - config.alpha) / f32(m);
}

// Presence of message m (lane-local) from S_m, the running aggregate before it.
fn chat_presence(g: SurrogateGame, m: u32, s: f32, mean: bool) -> f32 {
    if (present[m] == 0u) {
        return 0.0;
    }
    if (is_root(g, m)) {
        return 1.0;
    }
    return config.alpha + slope(m, mean) * s;
}

// This lane's run of maps (messages m0..m1), composed in message order: x -> a * x + b,
// returned as (a, b).
fn lane_map(g: SurrogateGame, m0: u32, m1: u32, mean: bool) -> vec2<f32> {
    var a = 1.0;
    var b = 0.0;
    for (var m = m0; m < m1; m += 1u) {
        var am = 1.0;
        var bm = 0.0;
        if (present[m] == 1u) {
            if (is_root(g, m)) {
                am = select(0.0, 1.0, mean);
                bm = 1.0;
            } else {
                am = select(1.0 - config.alpha, 1.0 + slope(m, mean), mean);
                bm = config.alpha;
            }
        }
        b = am * b + bm;
        a = am * a;
    }
    return vec2<f32>(a, b);
}

// (v, dv_lin) of the coalition whose presence flags are in `present`, computed by the
// whole workgroup of `lanes` lanes (lane `lane` owns messages m0..m1): dv_lin is v_lin's change since the
// previous call (`lin_prev`), 0 unless the slice is controlled (`ctl`). Uniform control
// flow.
fn value_of_present(g: SurrogateGame, lane: u32, lanes: u32, m0: u32, m1: u32, ctl: u32) -> vec2<f32> {
    let mean = config.aggregate != AGGREGATE_MAX;
    var s = scan_start(g, lane, m0, m1, mean);
    for (var i = lane; i < g.groups; i += lanes) {
        atomicStore(&gmax[i], 0u);
    }
    workgroupBarrier();
    var part_lin = 0.0;
    for (var m = m0; m < m1; m += 1u) {
        let x = chat_presence(g, m, s, mean);
        if (present[m] == 1u) {
            let group = words[g.group_of + m];
            atomicMax(&gmax[group], bitcast<u32>(x));
            if (ctl == CONTROL_SHARED) {
                part_lin += bitcast<f32>(words[g.scores + group]) * (x - lin_prev[m]);
                lin_prev[m] = x;
            }
        }
        if (mean) {
            s = s + x;
        } else {
            s = max(s, x);
        }
    }
    workgroupBarrier();
    var part = 0.0;
    for (var i = lane; i < g.groups; i += lanes) {
        part += bitcast<f32>(words[g.scores + i]) * bitcast<f32>(atomicLoad(&gmax[i]));
    }
    // Every lane has read the maxima before the next call resets them.
    workgroupBarrier();
    let q = lane_sum(lane, part);
    var d_lin = 0.0;
    if (ctl == CONTROL_SHARED) {
        d_lin = lane_sum(lane, part_lin);
    } else if (ctl == CONTROL_OWN) {
        // v_lin's own presences: the mean's maps over the same flags.
        var s_lin = scan_start(g, lane, m0, m1, true);
        var part_own = 0.0;
        for (var m = m0; m < m1; m += 1u) {
            let x = chat_presence(g, m, s_lin, true);
            if (present[m] == 1u) {
                let q = bitcast<f32>(words[g.scores + words[g.group_of + m]]);
                part_own += q * (x - lin_prev[m]);
                lin_prev[m] = x;
            }
            s_lin = s_lin + x;
        }
        d_lin = lane_sum(lane, part_own);
    }
    return vec2<f32>(link(q), d_lin);
}

// The walk of pair thread t (uniform across the workgroup) by the workgroup's `lanes`
// lanes, this one `lane`: each added player's marginal stored by lane 0.
fn walk_chat(t: u32, lane: u32, lanes: u32) {
    let s = slices[slice_of(t)];
    let g = games[s.game];
    let k = t - s.thread_first;
    let n = s.players;
    let nm = g.messages;
    let perm = s.perm_offset + k * n;
    let dir = config.walk;
    let per = (nm + lanes - 1u) / lanes;
    let m0 = min(lane * per, nm);
    let m1 = min(m0 + per, nm);

    // The empty coalition: environment messages only.
    for (var m = m0; m < m1; m += 1u) {
        present[m] = select(0u, 1u, words[g.owners + m] == NO_AGENT);
        lin_prev[m] = 0.0;
    }
    workgroupBarrier();
    let ctl = s.control;
    var prev = value_of_present(g, lane, lanes, m0, m1, ctl);
    for (var i = 0u; i < n; i += 1u) {
        let p = walk_player(perm, n, i, dir);
        for (var m = m0; m < m1; m += 1u) {
            if (words[g.owners + m] == p) {
                present[m] = 1u;
            }
        }
        let v = value_of_present(g, lane, lanes, m0, m1, ctl);
        var d = v.x - prev.x;
        if (ctl != CONTROL_NONE) {
            d = d - s.beta * v.y;
        }
        if (lane == 0u) {
            store_marginal(perm, p, dir, d);
        }
        prev = v;
    }
    check_loops(STATUS_SAMPLE);
}
