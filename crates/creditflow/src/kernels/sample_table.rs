//! Twin of `shaders/sample_table.wgsl`: pair-mean marginals of table games, from the
//! reference [`Table`] evaluator (a bitmask lookup, in f64).

use super::pairs::sample_pairs;
use super::types::{Config, Slice};
use crate::game::Table;

/// Thread (slice, pair) walks its permutation forwards and reversed with
/// `games[slice.game]` and writes the pair means to `marginals`.
pub fn sample_table(
    config: &Config,
    slices: &[Slice],
    games: &mut [Table<'_>],
    perms: &[u32],
    marginals: &mut [f64],
) {
    sample_pairs(config, slices, games, perms, marginals);
}
