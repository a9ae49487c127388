// Pair-mean marginals of the surrogate game on chats, one workgroup per (slice, pair) and
// walk: the workgroup's threads cooperate on one walk, with lanes over messages. Twin:
// src/cpu/sample_chat.rs (the reference walk; the same numbers as sample_surrogate).
//
// A chat has no listed parent rows: every message is a root or has every earlier message
// as parents, and the aggregate is `mean` or `max`. Then the running aggregate S_m of the
// presences before message m obeys an affine recurrence, S_{m+1} = a_m * S_m + b_m:
//   mean, present, not a root: e_m = alpha + slope_m * S_m, S_{m+1} = S_m + e_m, so
//     (a, b) = (1 + slope_m, alpha) with slope_m = (1 - alpha) / m;
//   max, present, not a root: e_m = alpha + (1 - alpha) * S_m >= S_m (S_m <= 1), so
//     S_{m+1} = e_m: (a, b) = (1 - alpha, alpha);
//   present root: e_m = 1: (1, 1) for mean, (0, 1) for max;
//   absent: e_m = 0: (1, 0).
// After each added player the workgroup recomputes every S_m from S_0 = 0 by a parallel
// scan of these maps (each lane composes its own run of messages, then a Hillis-Steele
// scan over the lanes), every e_m, the group maxima (atomic max on the bits of
// non-negative f32) and Q (a tree reduction): O(M / lanes + log lanes) steps per add, and
// all lanes work on the same step's state, held in workgroup memory. No state carries
// from one add to the next but the presence flags, so nothing drifts. Lane 0 writes the
// marginal. The slice lookup and loop check are shared/jobs.wgsl, the walk order and the
// pair mean shared/pairs.wgsl, `link` shared/surrogate.wgsl.
//
// A controlled slice (`Slice::control`, DESIGN 4) walks the residual game
// v - beta * v_lin, v_lin = sum of q_m * e_m, over v's own presences (CONTROL_SHARED, the
// mean aggregate, in the same pass as the group maxima) or (CONTROL_OWN, the max
// aggregate) over v_lin's mean-aggregate presences, from a second scan of the mean's maps
// after v's. Each lane keeps its messages' previous v_lin presences (`lin_prev`) and sums
// q_m * (new - old); the lanes' sums, reduced beside Q, are v_lin's marginal dv_lin, and
// the marginal is (v - v_prev) - beta * dv_lin (summing changes, not differencing two
// totals, keeps v_lin's f32 rounding relative to its marginal).

@group(0) @binding(0) var<uniform> config: Config;
@group(0) @binding(1) var<storage, read> slices: array<Slice>;
@group(0) @binding(2) var<storage, read> games: array<SurrogateGame>;
@group(0) @binding(3) var<storage, read> words: array<u32>;
@group(0) @binding(4) var<storage, read> perms: array<u32>;
@group(0) @binding(5) var<storage, read_write> scratch: array<u32>;
@group(0) @binding(6) var<storage, read_write> marginals: array<f32>;
@group(0) @binding(7) var<storage, read_write> status: array<atomic<u32>>;

var<workgroup> present: array<u32, CHAT_MAX_MESSAGES>;
var<workgroup> gmax: array<atomic<u32>, CHAT_MAX_MESSAGES>;
var<workgroup> scan_a: array<f32, WORKGROUP_SIZE>;
var<workgroup> scan_b: array<f32, WORKGROUP_SIZE>;
var<workgroup> partial: array<f32, WORKGROUP_SIZE>;
// Controlled slices: each message's v_lin presence in the previous coalition (written
// and read by the lane that owns the message only).
var<workgroup> lin_prev: array<f32, CHAT_MAX_MESSAGES>;

// shared/surrogate.wgsl's state accessors (its `link` is all this kernel uses of it).
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

// S before this lane's first message (lane `lane` owns messages m0..m1) for the mean's
// maps (`mean`) or the max's, by composing the lane's maps and a Hillis-Steele scan over
// the lanes. Uniform control flow.
fn scan_start(g: SurrogateGame, lane: u32, m0: u32, m1: u32, mean: bool) -> f32 {
    // This lane's run of maps, composed in message order: x -> a * x + b.
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
    workgroupBarrier();
    scan_a[lane] = a;
    scan_b[lane] = b;
    workgroupBarrier();
    // Inclusive scan over lanes: lane l ends with the composition of lanes 0..=l.
    for (var d = 1u; d < WORKGROUP_SIZE; d = d << 1u) {
        var a2 = scan_a[lane];
        var b2 = scan_b[lane];
        if (lane >= d) {
            b2 = a2 * scan_b[lane - d] + b2;
            a2 = a2 * scan_a[lane - d];
        }
        workgroupBarrier();
        scan_a[lane] = a2;
        scan_b[lane] = b2;
        workgroupBarrier();
    }
    // S before this lane's first message: the lanes before it applied to S_0 = 0.
    var s = 0.0;
    if (lane > 0u) {
        s = scan_b[lane - 1u];
    }
    return s;
}

// The sum over lanes of each lane's `part` (a tree reduction). Uniform control flow.
fn lane_sum(lane: u32, part: f32) -> f32 {
    partial[lane] = part;
    workgroupBarrier();
    for (var d = WORKGROUP_SIZE / 2u; d > 0u; d = d >> 1u) {
        if (lane < d) {
            partial[lane] += partial[lane + d];
        }
        workgroupBarrier();
    }
    let total = partial[0];
    workgroupBarrier();
    return total;
}

// (v, dv_lin) of the coalition whose presence flags are in `present`, computed by the
// whole workgroup (lane `lane` owns messages m0..m1): dv_lin is v_lin's change since the
// previous call (`lin_prev`), 0 unless the slice is controlled (`ctl`). Uniform control
// flow.
fn value_of_present(g: SurrogateGame, lane: u32, m0: u32, m1: u32, ctl: u32) -> vec2<f32> {
    let mean = config.aggregate != AGGREGATE_MAX;
    var s = scan_start(g, lane, m0, m1, mean);
    for (var i = lane; i < g.groups; i += WORKGROUP_SIZE) {
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
    for (var i = lane; i < g.groups; i += WORKGROUP_SIZE) {
        part += bitcast<f32>(words[g.scores + i]) * bitcast<f32>(atomicLoad(&gmax[i]));
    }
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

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lane: u32,
) {
    // One workgroup per pair thread t: uniform across the workgroup.
    let t = wid.x + wid.y * groups.x;
    if (t >= config.pair_threads) {
        return;
    }
    let s = slices[slice_of(t)];
    let g = games[s.game];
    let k = t - s.thread_first;
    let n = s.players;
    let nm = g.messages;
    let perm = s.perm_offset + k * n;
    let dir = config.walk;
    let per = (nm + WORKGROUP_SIZE - 1u) / WORKGROUP_SIZE;
    let m0 = min(lane * per, nm);
    let m1 = min(m0 + per, nm);

    // The empty coalition: environment messages only.
    for (var m = m0; m < m1; m += 1u) {
        present[m] = select(0u, 1u, words[g.owners + m] == NO_AGENT);
        lin_prev[m] = 0.0;
    }
    workgroupBarrier();
    let ctl = s.control;
    var prev = value_of_present(g, lane, m0, m1, ctl);
    for (var i = 0u; i < n; i += 1u) {
        let p = walk_player(perm, n, i, dir);
        for (var m = m0; m < m1; m += 1u) {
            if (words[g.owners + m] == p) {
                present[m] = 1u;
            }
        }
        let v = value_of_present(g, lane, m0, m1, ctl);
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
