// Counts the iterations a loop of `n` really runs in one invocation. Some drivers cap
// them: Mesa's llvmpipe (lavapipe) silently stops every loop of an invocation after
// 65535 iterations in all. The device measures its cap with this kernel when it opens
// and plans no job whose threads could reach it. Twin: src/cpu/loop_probe.rs.

@group(0) @binding(0) var<storage, read> cases: array<u32>;
@group(0) @binding(1) var<storage, read_write> counts: array<u32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i >= arrayLength(&cases)) {
        return;
    }
    var count = 0u;
    for (var j = 0u; j < cases[i]; j += 1u) {
        count += 1u;
    }
    counts[i] = count;
}
