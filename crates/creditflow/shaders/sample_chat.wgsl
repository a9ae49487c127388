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
// marginal. The walk itself is shared/chat.wgsl (shared with sample_chat_subgroup, which
// scans by subgroup shuffles); the slice lookup and loop check are shared/jobs.wgsl, the
// walk order and the pair mean shared/pairs.wgsl, `link` shared/surrogate.wgsl.
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

// The scan's and the sum's lanes (shared/chat.wgsl holds the walk's own arrays).
var<workgroup> scan_a: array<f32, WORKGROUP_SIZE>;
var<workgroup> scan_b: array<f32, WORKGROUP_SIZE>;
var<workgroup> partial: array<f32, WORKGROUP_SIZE>;

// S before this lane's first message (lane `lane` owns messages m0..m1) for the mean's
// maps (`mean`) or the max's, by composing the lane's maps and a Hillis-Steele scan over
// the lanes. Uniform control flow.
fn scan_start(g: SurrogateGame, lane: u32, m0: u32, m1: u32, mean: bool) -> f32 {
    let own = lane_map(g, m0, m1, mean);
    let a = own.x;
    let b = own.y;
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
    walk_chat(t, lane, WORKGROUP_SIZE);
}
