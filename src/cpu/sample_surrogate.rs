//! Twin of `shaders/sample_surrogate.wgsl`: pair-mean marginals of the surrogate game.
//! The values come from the reference [`Surrogate`] evaluator (incremental `init`/`add`
//! in f64), so that this twin reproduces [`crate::estimate::permutation`] exactly; the
//! shader evaluates the same model in f32 by recomputing presences from the first new
//! message on.

use super::pairs::sample_pairs;
use super::types::{Config, Slice};
use crate::game::Surrogate;

/// Thread (slice, pair) walks its permutation forwards and reversed with
/// `games[slice.game]` and writes the pair means to `marginals`.
pub fn sample_surrogate(
    config: &Config,
    slices: &[Slice],
    games: &mut [Surrogate<'_>],
    perms: &[u32],
    marginals: &mut [f64],
) {
    sample_pairs(config, slices, games, perms, marginals);
}
