//! Control variates for the surrogate (DESIGN §4).
//!
//! A nonlinear surrogate v (logistic or saturating link, `min` / `max` aggregate,
//! redundancy groups) is sampled as v − β·v_lin along the same permutations, where v_lin
//! is the linear surrogate ([`Surrogate::linear_part`]: linear link, `mean` aggregate,
//! groups ignored), and β·φ(v_lin) is added back from v_lin's exact closed form. For any
//! fixed β the estimate stays unbiased, and since one β serves every player, each sample's
//! credits still sum to v(N) − v(∅) exactly (v_lin's closed form sums to
//! v_lin(N) − v_lin(∅)). The Owen value works the same way, and its union sums (agent
//! credit) too.
//!
//! β is chosen without bias by a **pilot round**: [`PILOT_PAIRS`]-many antithetic pairs
//! drawn from their own stream (tag [`crate::stream::tag::PILOT`] + the job's tag), never
//! reused by the estimate, give β = Σᵢ Cov(Δvᵢ, Δv_linᵢ) / Σᵢ Var(Δv_linᵢ) over the pair
//! means, the β that minimises the summed variance of the players' estimates. Because β is
//! independent of the estimate's samples, the estimate's standard error is the ordinary
//! standard error of the residual game's pair means.

use crate::game::{Evaluator, Surrogate};
use crate::stream::{Stream, tag};

use super::permutation::{Walk, owen_order, pair_means, shapley_order};

/// Antithetic pairs of the pilot round that chooses β.
pub const PILOT_PAIRS: u64 = 32;

/// The residual game v − β·v_lin, evaluated incrementally along the same coalitions.
#[derive(Debug, Clone)]
pub struct Controlled<'a> {
    /// The surrogate.
    pub v: Surrogate<'a>,
    /// Its linear part.
    pub lin: Surrogate<'a>,
    /// The control's coefficient.
    pub beta: f64,
}

impl Evaluator for Controlled<'_> {
    fn players(&self) -> usize {
        self.v.players()
    }

    fn value_mask(&mut self, mask: u64) -> f64 {
        self.v.value_mask(mask) - self.beta * self.lin.value_mask(mask)
    }

    fn init(&mut self) -> f64 {
        self.v.init() - self.beta * self.lin.init()
    }

    fn add(&mut self, player: usize) -> f64 {
        self.v.add(player) - self.beta * self.lin.add(player)
    }
}

/// β = Σᵢ Cov(Δvᵢ, Δv_linᵢ) / Σᵢ Var(Δv_linᵢ) over [`PILOT_PAIRS`] pilot pairs of record
/// `record`'s stream (seed, record, pair, [`tag::PILOT`] + `job_tag`); `unions` selects
/// the Owen protocol. 0 when v_lin's marginals do not vary.
pub fn pilot_beta(
    v: &mut Surrogate,
    lin: &mut Surrogate,
    unions: Option<&[Vec<usize>]>,
    seed: u64,
    record: u64,
    job_tag: u32,
) -> f64 {
    let n = v.players();
    let mut order: Vec<usize> = Vec::with_capacity(n);
    let mut scratch: Vec<Vec<usize>> = unions.map(<[_]>::to_vec).unwrap_or_default();
    let mut union_order = Vec::new();
    let (mut dv, mut dl) = (vec![0.0; n], vec![0.0; n]);
    // Per player: sums of Δv, Δlin, Δv·Δlin, Δlin².
    let mut sums = vec![[0.0f64; 4]; n];
    for k in 0..PILOT_PAIRS {
        let mut s = Stream::new(seed, record, k as u32, tag::PILOT + job_tag);
        match unions {
            Some(u) => owen_order(&mut s, u, &mut union_order, &mut scratch, &mut order),
            None => shapley_order(&mut s, n, &mut order),
        }
        pair_means(v, &order, &mut dv, Walk::Incremental);
        pair_means(lin, &order, &mut dl, Walk::Incremental);
        for ((acc, &a), &b) in sums.iter_mut().zip(&dv).zip(&dl) {
            acc[0] += a;
            acc[1] += b;
            acc[2] += a * b;
            acc[3] += b * b;
        }
    }
    let k = PILOT_PAIRS as f64;
    let (mut cov, mut var) = (0.0, 0.0);
    for [sa, sb, sab, sbb] in sums {
        cov += sab - sa * sb / k;
        var += sbb - sb * sb / k;
    }
    if var > 0.0 && var.is_finite() && cov.is_finite() {
        cov / var
    } else {
        0.0
    }
}
