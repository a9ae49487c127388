// The surrogate sampling walk shared by sample_surrogate (state in global scratch) and
// sample_surrogate_local (state in workgroup memory): one walk (`config.walk`: forwards,
// or reversed) of one pair's permutation. The state (e, present, group maxima, running
// aggregate) lives in the kernel's `ld` / `st` space, entry i at `base + i * step`.
// Adding a player marks its messages present and recomputes, in causal order, every
// present message from the first new one on, refreshing the running aggregate as it goes:
// a message whose parents are every earlier message (a chat) reads it in O(1), so an add
// costs O(messages) on a chat. Presences only grow, so a group's max only rises, and
// Q = sum of q_G * max e is kept up to date as maxima rise (Kahan-compensated).
//
// Not a module on its own: it reads the kernel's `config`, `slices`, `games`, `words` and
// `perms`, writes its `marginals`, and needs shared/surrogate.wgsl, shared/pairs.wgsl and
// shared/jobs.wgsl.

// Pair thread t's walk (`config.walk`) over its permutation, with its state at
// `base + i * step` in the kernel's `ld` / `st` space; writes the marginals.
fn walk_pair(t: u32, base: u32, step: u32) {
    let s = slices[slice_of(t)];
    let g = games[s.game];
    let k = t - s.thread_first;
    let n = s.players;
    let nm = g.messages;
    let perm = s.perm_offset + k * n;
    let e = base;
    let present = e + nm * step;
    let gmax = present + nm * step;
    let run = gmax + g.groups * step;
    let dir = config.walk;

    // The empty coalition: environment messages only.
    var earlier = agg_start();
    st(run, bitcast<u32>(earlier));
    for (var m = 0u; m < nm; m += 1u) {
        let here = words[g.owners + m] == NO_AGENT;
        st(present + m * step, select(0u, 1u, here));
        var x = 0.0;
        if (here) {
            x = presence(g, m, e, step, earlier);
        }
        st(e + m * step, bitcast<u32>(x));
        earlier = agg_join(earlier, x);
        st(run + (m + 1u) * step, bitcast<u32>(earlier));
    }
    group_maxima(g, e, gmax, step);
    var q = quality(g, gmax, step);
    var qc = 0.0;
    var prev = link(q);

    for (var i = 0u; i < n; i += 1u) {
        let p = walk_player(perm, n, i, dir);
        var lo = nm;
        let r0 = words[g.member_offsets + p];
        let r1 = words[g.member_offsets + p + 1u];
        for (var r = r0; r < r1; r += 1u) {
            let m = words[g.members + r];
            st(present + m * step, 1u);
            lo = min(lo, m);
        }
        var acc = bitcast<f32>(ld(run + lo * step));
        for (var m = lo; m < nm; m += 1u) {
            var x = bitcast<f32>(ld(e + m * step));
            if (ld(present + m * step) == 1u) {
                let fresh = presence(g, m, e, step, acc);
                if (fresh != x) {
                    x = fresh;
                    st(e + m * step, bitcast<u32>(fresh));
                    let group = words[g.group_of + m];
                    let gi = gmax + group * step;
                    let top = bitcast<f32>(ld(gi));
                    if (fresh > top) {
                        st(gi, bitcast<u32>(fresh));
                        let y = bitcast<f32>(words[g.scores + group]) * (fresh - top) - qc;
                        let next = q + y;
                        qc = (next - q) - y;
                        q = next;
                    }
                }
            }
            acc = agg_join(acc, x);
            st(run + (m + 1u) * step, bitcast<u32>(acc));
        }
        let v = link(q);
        store_marginal(perm, p, dir, v - prev);
        prev = v;
    }
}
