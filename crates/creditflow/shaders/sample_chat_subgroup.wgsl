// Pair-mean marginals of the surrogate game on chats, one subgroup per (slice, pair) and
// walk: sample_chat's walk (shared/chat.wgsl) with the workgroup exactly one subgroup, so
// the scan of the affine maps is a Hillis-Steele scan by `subgroupShuffleUp` and the sums
// over lanes are `subgroupAdd`: no barrier in either. Only the group maxima, atomics in
// workgroup memory shared by all lanes, still take two barriers per added player (against
// sample_chat's two dozen). Twin: sample_chat's (src/kernels/table.rs).
//
// WGSL's `enable subgroups;` is not needed (naga 30 does not parse it yet): the subgroup
// builtins are available once the device has the SUBGROUP feature.
// Built only where the adapter offers wgpu's SUBGROUP feature with one subgroup size
// (`subgroup_min_size == subgroup_max_size`, e.g. 32 on NVIDIA, 8 on lavapipe): the
// pipeline sets SUBGROUP_WIDTH to that size, so a workgroup is one full subgroup and a
// lane's index is its subgroup invocation id. Elsewhere chats take sample_chat.

@group(0) @binding(0) var<uniform> config: Config;
@group(0) @binding(1) var<storage, read> slices: array<Slice>;
@group(0) @binding(2) var<storage, read> games: array<SurrogateGame>;
@group(0) @binding(3) var<storage, read> words: array<u32>;
@group(0) @binding(4) var<storage, read> perms: array<u32>;
@group(0) @binding(5) var<storage, read_write> scratch: array<u32>;
@group(0) @binding(6) var<storage, read_write> marginals: array<f32>;
@group(0) @binding(7) var<storage, read_write> status: array<atomic<u32>>;

// Lanes of the workgroup: the adapter's subgroup size, set when the pipeline is built.
override SUBGROUP_WIDTH: u32 = 32u;

// S before this lane's first message, by a scan of the lanes' composed maps through
// subgroup shuffles. Uniform control flow (every lane shuffles at every step).
fn scan_start(g: SurrogateGame, lane: u32, m0: u32, m1: u32, mean: bool) -> f32 {
    let own = lane_map(g, m0, m1, mean);
    var a = own.x;
    var b = own.y;
    // Inclusive scan over lanes: lane l ends with the composition of lanes 0..=l.
    for (var d = 1u; d < SUBGROUP_WIDTH; d = d << 1u) {
        let a_up = subgroupShuffleUp(a, d);
        let b_up = subgroupShuffleUp(b, d);
        if (lane >= d) {
            b = a * b_up + b;
            a = a * a_up;
        }
    }
    // S before this lane's first message: the lanes before it applied to S_0 = 0.
    let before = subgroupShuffleUp(b, 1u);
    return select(0.0, before, lane > 0u);
}

// The sum over lanes of each lane's `part`. Uniform control flow.
fn lane_sum(lane: u32, part: f32) -> f32 {
    return subgroupAdd(part);
}

@compute @workgroup_size(SUBGROUP_WIDTH)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(subgroup_invocation_id) lane: u32,
    @builtin(subgroup_size) width: u32,
) {
    // One workgroup per pair thread t: uniform across the workgroup.
    let t = wid.x + wid.y * groups.x;
    if (t >= config.pair_threads) {
        return;
    }
    // The lanes that share this subgroup (all of them unless the driver split the
    // workgroup into partial subgroups).
    let members = subgroupAdd(1u);
    if (width != SUBGROUP_WIDTH || members != SUBGROUP_WIDTH) {
        // The workgroup is not one full subgroup: the scan would be wrong. Never expected
        // (the pipeline is built for the adapter's one subgroup size); reported, not hidden.
        atomicOr(&status[0], STATUS_SUBGROUP);
        return;
    }
    walk_chat(t, lane, SUBGROUP_WIDTH);
}
