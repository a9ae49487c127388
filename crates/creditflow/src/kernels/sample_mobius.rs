//! Twin of `shaders/sample_mobius.wgsl`: pair-mean marginals of sparse Möbius games,
//! from the reference [`Mobius`] evaluator (term countdown along both walks, in f64).
//! The shader reaches the same marginals by one pass over the terms: a term's coefficient
//! goes to its last member in the permutation (forwards) and to its first (reversed).

use super::pairs::sample_pairs;
use super::types::{Config, Slice};
use crate::game::Mobius;

/// Thread (slice, pair) walks its permutation forwards and reversed with
/// `games[slice.game]` and writes the pair means to `marginals`.
pub fn sample_mobius(
    config: &Config,
    slices: &[Slice],
    games: &mut [Mobius],
    perms: &[u32],
    marginals: &mut [f64],
) {
    sample_pairs(config, slices, games, perms, marginals);
}
