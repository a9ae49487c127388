// Bounded draws from one Philox stream per case: checks Lemire's multiply-shift and its
// rejection loop against `stream::Stream::bounded` (twin: src/cpu/draw_bounded.rs).
// One thread per case; case i writes `count` draws at `out_offset`.

@group(0) @binding(0) var<storage, read> cases: array<BoundedCase>;
@group(0) @binding(1) var<storage, read_write> draws: array<u32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i >= arrayLength(&cases)) {
        return;
    }
    let c = cases[i];
    var s = stream_new(c.seed_lo, c.seed_hi, c.key_lo, c.key_hi, c.sample, c.tag);
    for (var j = 0u; j < c.count; j += 1u) {
        draws[c.out_offset + j] = stream_bounded(&s, c.n);
    }
}
