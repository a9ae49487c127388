//! Twin of `shaders/shared/pairs.wgsl`: a drawn permutation walked forwards and
//! reversed, and the pair mean of every player's marginal.

use rayon::prelude::*;

use super::types::{Config, Slice};
use crate::game::Evaluator;

/// The shared body of the three sampling twins: thread (slice, pair) walks its
/// permutation forwards, then reversed, with the slice's evaluator, and stores the pair
/// mean `((0 + d_fwd) + d_rev)·0.5` of every player, as `permutation::shapley` does.
/// Slices run in parallel (each has its own evaluator and its own output rows).
pub fn sample_pairs<G: Evaluator + Send>(
    _config: &Config,
    slices: &[Slice],
    games: &mut [G],
    perms: &[u32],
    marginals: &mut [f64],
) {
    let used = slices
        .last()
        .map_or(0, |s| (s.perm_offset + s.pairs * s.players) as usize);
    let mut rest = &mut marginals[..used];
    let mut work = Vec::with_capacity(slices.len());
    let mut games: Vec<Option<&mut G>> = games.iter_mut().map(Some).collect();
    for s in slices {
        let (mine, tail) = rest.split_at_mut((s.pairs * s.players) as usize);
        rest = tail;
        let game = games[s.game as usize].take().expect("one game per slice");
        work.push((s, game, mine));
    }
    work.into_par_iter().for_each(|(s, g, out)| {
        let n = s.players as usize;
        let own = &perms[s.perm_offset as usize..s.perm_offset as usize + s.pairs as usize * n];
        for k in 0..s.pairs as usize {
            let perm = &own[k * n..(k + 1) * n];
            let marg = &mut out[k * n..(k + 1) * n];
            for dir in 0..2 {
                let mut prev = g.init();
                for i in 0..n {
                    let p = if dir == 0 { perm[i] } else { perm[n - 1 - i] } as usize;
                    let v = g.add(p);
                    let d = v - prev;
                    prev = v;
                    if dir == 0 {
                        marg[p] = 0.0 + d;
                    } else {
                        marg[p] = (marg[p] + d) * 0.5;
                    }
                }
            }
        }
    });
}
