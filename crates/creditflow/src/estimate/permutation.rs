//! Monte Carlo estimators (DESIGN §4): permutation sampling with antithetic pairs for the
//! Shapley value, and two-level (agents, then each agent's messages) sampling for the
//! Owen value. Marginals are taken along each permutation's prefix chain with the game's
//! incremental `init / add`, so a permutation costs about one full evaluation.
//!
//! Sample k of the record with stream key r draws its permutation from the Philox stream
//! (seed, key r, sample k, tag); the pair is that permutation and its reverse.
//! Standard errors come from Welford's algorithm over *pair means* (the two halves of a
//! pair are correlated; pairs are independent), so se = sd(pair means)/√pairs.

pub use crate::options::SampleOptions;

use crate::game::Evaluator;
use crate::rng::Stream;

/// Pairs per adaptive round; the stopping rule is checked between rounds only, so the
/// result does not depend on timing.
pub const ADAPTIVE_ROUND: u64 = 32;

/// Running mean and variance (Welford), one per estimated quantity.
#[derive(Debug, Clone)]
pub struct Welford {
    count: u64,
    mean: Vec<f64>,
    m2: Vec<f64>,
}

impl Welford {
    /// `n` zeroed accumulators.
    pub fn new(n: usize) -> Self {
        Welford {
            count: 0,
            mean: vec![0.0; n],
            m2: vec![0.0; n],
        }
    }

    /// Adds one observation of every quantity.
    #[inline]
    pub fn push(&mut self, x: &[f64]) {
        self.count += 1;
        let inv = 1.0 / self.count as f64;
        for ((m, m2), &x) in self.mean.iter_mut().zip(&mut self.m2).zip(x) {
            let d = x - *m;
            *m += d * inv;
            *m2 += d * (x - *m);
        }
    }

    /// Standard errors of the means (0 with fewer than two observations).
    pub fn se(&self) -> Vec<f64> {
        if self.count < 2 {
            return vec![0.0; self.mean.len()];
        }
        let k = self.count as f64;
        self.m2
            .iter()
            .map(|m2| (m2 / (k - 1.0) / k).sqrt())
            .collect()
    }

    /// The largest standard error.
    pub fn max_se(&self) -> f64 {
        self.se().into_iter().fold(0.0, f64::max)
    }
}

/// A Monte Carlo estimate.
#[derive(Debug, Clone, PartialEq)]
pub struct McEstimate {
    /// Estimated values.
    pub mean: Vec<f64>,
    /// Their standard errors.
    pub se: Vec<f64>,
    /// Permutations drawn (twice the pairs).
    pub samples: u64,
}

/// Pairs to draw per record: `samples` rounded up to pairs (at least one), or the
/// adaptive budget `max_samples`. The GPU twins plan with the same rule.
pub fn pair_budget(opts: &SampleOptions) -> u64 {
    match opts.target_se {
        None => opts.samples.div_ceil(2).max(1),
        Some(_) => opts.max_samples.div_ceil(2).max(1),
    }
}

fn done(opts: &SampleOptions, acc: &[&Welford], pairs: u64) -> bool {
    match opts.target_se {
        None => false,
        Some(t) => {
            pairs.is_multiple_of(ADAPTIVE_ROUND)
                && pairs >= 2
                && acc.iter().all(|w| w.max_se() <= t)
        }
    }
}

/// How marginals along a permutation are evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Walk {
    /// `init` then `add` per player: about one full evaluation per permutation.
    #[default]
    Incremental,
    /// A full evaluation of v for every prefix (n + 1 per permutation; needs ≤ 64
    /// players). The baseline that benchmarks compare against; same numbers up to rounding.
    FromScratch,
}

/// Walks `order` from the empty coalition, adding each player's marginal to `out`.
#[inline]
fn walk<G: Evaluator + ?Sized>(
    game: &mut G,
    order: impl Iterator<Item = usize>,
    out: &mut [f64],
    how: Walk,
) {
    match how {
        Walk::Incremental => {
            let mut prev = game.init();
            for p in order {
                let v = game.add(p);
                out[p] += v - prev;
                prev = v;
            }
        }
        Walk::FromScratch => {
            let mut mask = 0u64;
            let mut prev = game.value_mask(0);
            for p in order {
                mask |= 1 << p;
                let v = game.value_mask(mask);
                out[p] += v - prev;
                prev = v;
            }
        }
    }
}

/// Each player's pair mean of marginals along `order` and its reverse, into `out`.
pub fn pair_means<G: Evaluator + ?Sized>(
    game: &mut G,
    order: &[usize],
    out: &mut [f64],
    how: Walk,
) {
    out.iter_mut().for_each(|x| *x = 0.0);
    walk(game, order.iter().copied(), out, how);
    walk(game, order.iter().rev().copied(), out, how);
    out.iter_mut().for_each(|x| *x *= 0.5);
}

/// The permutation of `n` players that stream `s` draws (Fisher–Yates from the identity),
/// into `order`.
pub fn shapley_order(s: &mut Stream, n: usize, order: &mut Vec<usize>) {
    order.clear();
    order.extend(0..n);
    s.shuffle(order);
}

/// The Owen order that stream `s` draws: the unions' order (into `union_order`), then
/// each union's members (unions in index order), concatenated in the union order, into
/// `order`; `scratch` holds one row per union (its length is kept).
pub fn owen_order(
    s: &mut Stream,
    unions: &[Vec<usize>],
    union_order: &mut Vec<usize>,
    scratch: &mut [Vec<usize>],
    order: &mut Vec<usize>,
) {
    union_order.clear();
    union_order.extend(0..unions.len());
    s.shuffle(union_order);
    for (l, members) in scratch.iter_mut().enumerate() {
        members.copy_from_slice(&unions[l]);
        s.shuffle(members);
    }
    order.clear();
    for &l in union_order.iter() {
        order.extend_from_slice(&scratch[l]);
    }
}

/// Shapley values by antithetic permutation sampling of `game`, for record `record`,
/// drawing from the stream tagged `tag`.
pub fn shapley<G: Evaluator + ?Sized>(
    game: &mut G,
    record: u64,
    tag: u32,
    opts: &SampleOptions,
) -> McEstimate {
    shapley_walk(game, record, tag, opts, Walk::Incremental)
}

/// [`shapley`] with a choice of how marginals are evaluated.
pub fn shapley_walk<G: Evaluator + ?Sized>(
    game: &mut G,
    record: u64,
    tag: u32,
    opts: &SampleOptions,
    how: Walk,
) -> McEstimate {
    let n = game.players();
    let mut acc = Welford::new(n);
    let mut perm: Vec<usize> = Vec::with_capacity(n);
    let mut pair = vec![0.0; n];
    let budget = pair_budget(opts);
    let mut k = 0u64;
    while k < budget {
        let mut s = Stream::new(opts.seed, record, k as u32, tag);
        shapley_order(&mut s, n, &mut perm);
        pair_means(game, &perm, &mut pair, how);
        acc.push(&pair);
        k += 1;
        if done(opts, &[&acc], k) {
            break;
        }
    }
    McEstimate {
        se: acc.se(),
        mean: acc.mean,
        samples: 2 * k,
    }
}

/// Owen values by two-level sampling: per sample a random order of the unions, then of
/// each union's members (unions in index order), walked forwards and reversed. Returns
/// the player estimates and the union (quotient game) estimates; per sample, a union's
/// members' marginals sum to the union's marginal exactly, so the estimates do too.
pub fn owen<G: Evaluator + ?Sized>(
    game: &mut G,
    unions: &[Vec<usize>],
    record: u64,
    tag: u32,
    opts: &SampleOptions,
) -> (McEstimate, McEstimate) {
    owen_walk(game, unions, record, tag, opts, Walk::Incremental)
}

/// [`owen`] with a choice of how marginals are evaluated.
pub fn owen_walk<G: Evaluator + ?Sized>(
    game: &mut G,
    unions: &[Vec<usize>],
    record: u64,
    tag: u32,
    opts: &SampleOptions,
    how: Walk,
) -> (McEstimate, McEstimate) {
    let n = game.players();
    let m = unions.len();
    let mut acc = Welford::new(n);
    let mut acc_u = Welford::new(m);
    let mut member_order: Vec<Vec<usize>> = unions.to_vec();
    let mut union_order: Vec<usize> = Vec::with_capacity(m);
    let mut order: Vec<usize> = Vec::with_capacity(n);
    let mut pair = vec![0.0; n];
    let mut pair_u = vec![0.0; m];
    let budget = pair_budget(opts);
    let mut k = 0u64;
    while k < budget {
        let mut s = Stream::new(opts.seed, record, k as u32, tag);
        owen_order(
            &mut s,
            unions,
            &mut union_order,
            &mut member_order,
            &mut order,
        );
        pair_means(game, &order, &mut pair, how);
        for (l, members) in unions.iter().enumerate() {
            pair_u[l] = members.iter().map(|&p| pair[p]).sum();
        }
        acc.push(&pair);
        acc_u.push(&pair_u);
        k += 1;
        if done(opts, &[&acc, &acc_u], k) {
            break;
        }
    }
    let players = McEstimate {
        se: acc.se(),
        mean: acc.mean,
        samples: 2 * k,
    };
    let agents = McEstimate {
        se: acc_u.se(),
        mean: acc_u.mean,
        samples: 2 * k,
    };
    (players, agents)
}
