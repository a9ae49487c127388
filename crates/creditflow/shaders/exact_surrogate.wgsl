// v(S) of the surrogate game (DESIGN 3.1) for every coalition S of each slice's range:
// the expensive half of exact enumeration. S is a bitmask over the job's players (at
// most 20); the CPU turns the table into Shapley or Owen values in f64 with
// `estimate::exact`. Twin: src/cpu/exact_surrogate.rs.
//
// One thread per coalition, from scratch: presences in causal order (a message is present
// when its owner is in S, or it has none), group maxima, then v = link(Q). Its scratch in
// global memory holds e (messages x f32) and the group maxima (groups x f32). A slice's
// `pair_first` is its first coalition and `perm_offset` where its values go.
// The model itself (`presence`, `group_maxima`, `value`) is shared/surrogate.wgsl, the
// slice lookup and loop check shared/jobs.wgsl.

@group(0) @binding(0) var<uniform> config: Config;
@group(0) @binding(1) var<storage, read> slices: array<Slice>;
@group(0) @binding(2) var<storage, read> games: array<SurrogateGame>;
@group(0) @binding(3) var<storage, read> words: array<u32>;
@group(0) @binding(4) var<storage, read_write> scratch: array<u32>;
@group(0) @binding(5) var<storage, read_write> values: array<f32>;
@group(0) @binding(6) var<storage, read_write> status: array<atomic<u32>>;

fn ld(i: u32) -> u32 {
    return scratch[i];
}

fn st(i: u32, x: u32) {
    scratch[i] = x;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let t = gid.x;
    if (t >= config.pair_threads) {
        return;
    }
    let s = slices[slice_of(t)];
    let g = games[s.game];
    let k = t - s.thread_first;
    let mask = s.pair_first + k;
    let e = s.scratch_offset + k * s.scratch_stride;
    let gmax = e + g.messages;

    var earlier = agg_start();
    for (var m = 0u; m < g.messages; m += 1u) {
        let owner = words[g.owners + m];
        var x = 0.0;
        if (owner == NO_AGENT || ((mask >> owner) & 1u) == 1u) {
            x = presence(g, m, e, 1u, earlier);
        }
        st(e + m, bitcast<u32>(x));
        earlier = agg_join(earlier, x);
    }
    group_maxima(g, e, gmax, 1u);
    values[s.perm_offset + k] = value(g, gmax, 1u);
    check_loops(STATUS_SAMPLE);
}
