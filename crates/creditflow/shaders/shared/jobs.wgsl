// What every kernel over a chunk's slices shares (draw_permutations, the sample_* kernels,
// exact_surrogate, reduce): which slice a thread works for, and the loop-cap check behind
// the status word. Twins: `slice_of` in src/cpu/draw_permutations.rs and `slice_of_row` in
// src/cpu/reduce.rs (a CPU loop is never cut short, so check_loops has none).
//
// Not a module on its own: it reads the kernel's bindings `config: Config`,
// `slices: array<Slice>` and `status: array<atomic<u32>>`, which each kernel declares at
// its own binding numbers (WGSL resolves module-scope names in any order).

// The last slice whose first row (`rows`) or first pair thread (otherwise) is <= t.
fn slice_search(t: u32, rows: bool) -> u32 {
    var lo = 0u;
    var hi = config.slice_count;
    while (hi - lo > 1u) {
        let mid = (lo + hi) / 2u;
        if (select(slices[mid].thread_first, slices[mid].row_first, rows) <= t) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return lo;
}

// The slice of pair (or coalition) thread t.
fn slice_of(t: u32) -> u32 {
    return slice_search(t, false);
}

// The slice of row thread t (reduce).
fn slice_of_row(t: u32) -> u32 {
    return slice_search(t, true);
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
