//! Twin of `shaders/exact_surrogate.wgsl`: v(S) of the surrogate game for every
//! coalition of each slice's range, through the reference [`Surrogate::value_mask`]
//! (a full evaluation in f64), so that the tables equal `estimate::exact::value_table`.

use super::types::{Config, Slice};
use crate::game::{Evaluator, Surrogate};

/// Thread (slice, k) writes v of coalition `slice.pair_first + k` to
/// `values[slice.perm_offset + k]`, with `games[slice.game]`.
pub fn exact_surrogate(
    config: &Config,
    slices: &[Slice],
    games: &mut [Surrogate<'_>],
    values: &mut [f64],
) {
    for t in 0..config.pair_threads {
        let s = &slices[super::jobs::slice_of(slices, t)];
        let k = t - s.thread_first;
        let mask = s.pair_first + k;
        values[(s.perm_offset + k) as usize] = games[s.game as usize].value_mask(mask as u64);
    }
}
