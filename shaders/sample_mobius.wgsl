// Pair-mean marginals of sparse Moebius games along each drawn permutation and its
// reverse. Twin: src/cpu/sample_mobius.rs.
//
// One thread per (slice, pair). Its scratch holds one countdown per term (members not
// yet in the coalition); adding a player decrements the terms that contain it, and its
// marginal is the sum of the coefficients of the terms it completes.

@group(0) @binding(0) var<uniform> config: Config;
@group(0) @binding(1) var<storage, read> slices: array<Slice>;
@group(0) @binding(2) var<storage, read> games: array<MobiusGame>;
@group(0) @binding(3) var<storage, read> words: array<u32>;
@group(0) @binding(4) var<storage, read> perms: array<u32>;
@group(0) @binding(5) var<storage, read_write> scratch: array<u32>;
@group(0) @binding(6) var<storage, read_write> marginals: array<f32>;
@group(0) @binding(7) var<storage, read_write> status: array<atomic<u32>>;

// The last slice whose first pair thread is <= t.
fn slice_of(t: u32) -> u32 {
    var lo = 0u;
    var hi = config.slice_count;
    while (hi - lo > 1u) {
        let mid = (lo + hi) / 2u;
        if (slices[mid].thread_first <= t) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return lo;
}

// Some drivers stop an invocation's loops after a fixed number of iterations in all
// (Mesa's llvmpipe: 65535), silently. Once that budget is spent every further loop runs
// its body at most once, so this loop of `config.canary` (2, a runtime value so that it is
// not unrolled) runs short exactly when some loop of this thread may have been cut.
fn check_loops(bit: u32) {
    var runs = 0u;
    for (var i = 0u; i < config.canary; i += 1u) {
        runs += 1u;
    }
    if (runs != config.canary) {
        atomicOr(&status[0], bit);
    }
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
    let n = s.players;
    let perm = s.perm_offset + k * n;
    let remaining = s.scratch_offset + k * s.scratch_stride;

    for (var dir = 0u; dir < 2u; dir += 1u) {
        for (var term = 0u; term < g.terms; term += 1u) {
            scratch[remaining + term] = words[g.sizes + term];
        }
        for (var i = 0u; i < n; i += 1u) {
            var p = perms[perm + i];
            if (dir == 1u) {
                p = perms[perm + n - 1u - i];
            }
            var d = 0.0;
            let r0 = words[g.player_offsets + p];
            let r1 = words[g.player_offsets + p + 1u];
            for (var r = r0; r < r1; r += 1u) {
                let term = words[g.player_terms + r];
                let left = scratch[remaining + term] - 1u;
                scratch[remaining + term] = left;
                if (left == 0u) {
                    d += bitcast<f32>(words[g.coefficients + term]);
                }
            }
            if (dir == 0u) {
                marginals[perm + p] = d;
            } else {
                marginals[perm + p] = (marginals[perm + p] + d) * 0.5;
            }
        }
    }
    check_loops(STATUS_SAMPLE);
}
