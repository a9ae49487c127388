// Per (slice, row) moments of the pair-mean marginals: rows 0..n are the players, rows
// n..n+m (Owen jobs) the unions, whose value per pair is the sum of their members'.
// Twin: src/cpu/reduce.rs.
//
// One thread per row, two passes over the slice's pairs in f32 with Kahan-compensated
// sums: the mean, then the sum of squared deviations from it. The CPU merges the rows of
// successive chunks in f64 (Chan et al.), so f32 only ever sums one chunk. The slice
// lookup (`slice_of_row`) and loop check are shared/jobs.wgsl.

@group(0) @binding(0) var<uniform> config: Config;
@group(0) @binding(1) var<storage, read> slices: array<Slice>;
@group(0) @binding(2) var<storage, read> words: array<u32>;
@group(0) @binding(3) var<storage, read> marginals: array<f32>;
@group(0) @binding(4) var<storage, read_write> moments: array<Moments>;
@group(0) @binding(5) var<storage, read_write> status: array<atomic<u32>>;

// Pair k's value of `row`.
fn row_value(s: Slice, row: u32, k: u32) -> f32 {
    let base = s.perm_offset + k * s.players;
    if (row < s.players) {
        return marginals[base + row];
    }
    let u = row - s.players;
    let members = s.union_offset + s.unions + 1u;
    var sum = 0.0;
    for (var j = words[s.union_offset + u]; j < words[s.union_offset + u + 1u]; j += 1u) {
        sum += marginals[base + words[members + j]];
    }
    return sum;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let t = gid.x;
    if (t >= config.row_threads) {
        return;
    }
    let s = slices[slice_of_row(t)];
    let row = t - s.row_first;

    var sum = 0.0;
    var c = 0.0;
    for (var k = 0u; k < s.pairs; k += 1u) {
        let y = row_value(s, row, k) - c;
        let next = sum + y;
        c = (next - sum) - y;
        sum = next;
    }
    let mean = sum / f32(s.pairs);

    var m2 = 0.0;
    c = 0.0;
    for (var k = 0u; k < s.pairs; k += 1u) {
        let d = row_value(s, row, k) - mean;
        let y = d * d - c;
        let next = m2 + y;
        c = (next - m2) - y;
        m2 = next;
    }
    moments[t] = Moments(s.pairs, mean, m2, 0u);
    check_loops(STATUS_REDUCE);
}
