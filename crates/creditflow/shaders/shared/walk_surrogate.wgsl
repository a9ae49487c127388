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
// A controlled slice (`Slice::control`, DESIGN 4) walks the residual game v - beta * v_lin,
// v_lin = sum of q_m * e_m: each add sums v_lin's marginal from the presences it changes,
// q_m * (new e_m - old e_m), over v's own presences (CONTROL_SHARED, the mean aggregate)
// or over v_lin's mean-aggregate presences, recomputed beside v's in the same pass over
// the messages with their own running aggregate (CONTROL_OWN, after v's state: e_lin,
// then its running aggregate). The marginal is (v - v_prev) - beta * dv_lin: summing the
// changes, not differencing two totals, keeps v_lin's f32 rounding relative to its
// marginal, so a large beta does not amplify it.
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
    let e_lin = run + (nm + 1u) * step;
    let run_lin = e_lin + nm * step;
    let dir = config.walk;
    let ctl = s.control;
    let own = ctl == CONTROL_OWN;

    // The empty coalition: environment messages only.
    var earlier = agg_start();
    var earlier_lin = 0.0;
    st(run, bitcast<u32>(earlier));
    if (own) {
        st(run_lin, bitcast<u32>(earlier_lin));
    }
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
        if (own) {
            var xl = 0.0;
            if (here) {
                xl = presence_of(AGGREGATE_MEAN, g, m, e_lin, step, earlier_lin);
            }
            st(e_lin + m * step, bitcast<u32>(xl));
            earlier_lin = earlier_lin + xl;
            st(run_lin + (m + 1u) * step, bitcast<u32>(earlier_lin));
        }
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
        // v_lin's marginal of this add (controlled slices).
        var dl = 0.0;
        var acc_lin = 0.0;
        if (own) {
            acc_lin = bitcast<f32>(ld(run_lin + lo * step));
        }
        for (var m = lo; m < nm; m += 1u) {
            var x = bitcast<f32>(ld(e + m * step));
            let is_present = ld(present + m * step) == 1u;
            if (is_present) {
                let fresh = presence(g, m, e, step, acc);
                if (fresh != x) {
                    let group = words[g.group_of + m];
                    if (ctl == CONTROL_SHARED) {
                        dl += bitcast<f32>(words[g.scores + group]) * (fresh - x);
                    }
                    x = fresh;
                    st(e + m * step, bitcast<u32>(fresh));
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
            if (own) {
                var xl = bitcast<f32>(ld(e_lin + m * step));
                if (is_present) {
                    let fresh = presence_of(AGGREGATE_MEAN, g, m, e_lin, step, acc_lin);
                    if (fresh != xl) {
                        let score = bitcast<f32>(words[g.scores + words[g.group_of + m]]);
                        dl += score * (fresh - xl);
                        xl = fresh;
                        st(e_lin + m * step, bitcast<u32>(fresh));
                    }
                }
                acc_lin = acc_lin + xl;
                st(run_lin + (m + 1u) * step, bitcast<u32>(acc_lin));
            }
        }
        let v = link(q);
        var d = v - prev;
        if (ctl != CONTROL_NONE) {
            d = d - s.beta * dl;
        }
        store_marginal(perm, p, dir, d);
        prev = v;
    }
}
