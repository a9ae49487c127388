//! Twin of `shaders/sample_surrogate.wgsl`: pair-mean marginals of the surrogate game,
//! or of a controlled slice's residual game v − β·v_lin (`Slice::control`). The values
//! come from the reference evaluators ([`Sampled`]: [`crate::game::Surrogate`] and
//! [`crate::estimate::control::Controlled`], incremental `init`/`add` in f64, β in f64),
//! so that this twin reproduces [`crate::estimate::permutation`] exactly; the shader
//! evaluates the same model in f32 (β as `Slice::beta`) by recomputing presences from the
//! first new message on.

use super::pairs::sample_pairs;
use super::types::{Config, Slice};
use crate::estimate::control::Sampled;

/// Thread (slice, pair) walks its permutation forwards and reversed with
/// `games[slice.game]` (the slice's game, controlled when `slice.control` is set) and
/// writes the pair means to `marginals`.
pub fn sample_surrogate(
    config: &Config,
    slices: &[Slice],
    games: &mut [Sampled<'_>],
    perms: &[u32],
    marginals: &mut [f64],
) {
    sample_pairs(config, slices, games, perms, marginals);
}
