// The walk of the sampling kernels (sample_surrogate, sample_mobius, sample_table): pair
// thread k walks its drawn permutation forwards (dir 0), then reversed (dir 1), and keeps
// each player's pair mean (d_fwd + d_rev) * 0.5. Twin: `sample_pairs` in src/cpu/mod.rs.
//
// Not a module on its own: it reads the kernel's binding `perms: array<u32>` and writes
// its `marginals: array<f32>`; `perm` is where the pair's n entries start in both.

// The player added at step i of walk `dir` over the pair's n players.
fn walk_player(perm: u32, n: u32, i: u32, dir: u32) -> u32 {
    if (dir == 1u) {
        return perms[perm + n - 1u - i];
    }
    return perms[perm + i];
}

// Player p's marginal d on walk `dir`: the forward walk stores it, the reverse walk turns
// it into the pair mean.
fn store_marginal(perm: u32, p: u32, dir: u32, d: f32) {
    if (dir == 0u) {
        marginals[perm + p] = d;
    } else {
        marginals[perm + p] = (marginals[perm + p] + d) * 0.5;
    }
}
