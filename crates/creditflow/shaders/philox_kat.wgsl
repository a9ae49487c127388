// Philox4x32-10 on raw (counter, key) pairs: the known-answer check of the WGSL twin
// (src/cpu/philox_kat.rs). One thread per case.

@group(0) @binding(0) var<storage, read> cases: array<KatCase>;
@group(0) @binding(1) var<storage, read_write> blocks: array<vec4<u32>>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i >= arrayLength(&cases)) {
        return;
    }
    let c = cases[i];
    blocks[i] = philox4x32_10(vec4<u32>(c.ctr0, c.ctr1, c.ctr2, c.ctr3), vec2<u32>(c.key0, c.key1));
}
