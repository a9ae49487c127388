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
//! β is chosen without bias by a **pilot round** ([`pilot`]): [`PILOT_PAIRS`]-many
//! antithetic pairs drawn from their own stream (tag [`crate::rng::tag::PILOT`] + the
//! job's tag), never reused by the estimate, give β = Σᵢ Cov(Δvᵢ, Δv_linᵢ) / Σᵢ Var(Δv_linᵢ)
//! over the pair means, the β that minimises the summed variance of the players'
//! estimates (|β| at most [`MAX_BETA`], for the GPU's f32). Because β is independent of the estimate's samples, the estimate's standard
//! error is the ordinary standard error of the residual game's pair means.
//!
//! **Cost.** Under the `mean` aggregate v_lin's presences are v's own (groups and the link
//! act after them), so the residual game keeps v_lin = Σ_m q_m·e_m beside Q
//! ([`Surrogate::tracking_linear`]): one multiply-add per changed presence. Under `min` and
//! `max`, v_lin is walked as a second game beside v. [`COST_SHARED`] and [`COST_OWN`] are
//! the measured time of a controlled pair over a plain one in each case; the pilot's
//! variances weighed by them decide where the control variate pays ([`Pilot::pays`]).

use rayon::prelude::*;

use crate::game::{Aggregate, Evaluator, Level, ModelParams, Surrogate};
use crate::rng::{Stream, tag};

use super::closed_form;
use super::permutation::{owen_order, shapley_order};
use crate::csr::EpisodeView;

/// Antithetic pairs of the pilot round that chooses β.
pub const PILOT_PAIRS: u64 = 32;

/// The largest |β| the pilot returns (a larger fit is clamped to ±this). A very large β
/// arises when v_lin's pair means hardly vary, e.g. on a 3-player agent game, where
/// antithetic pairs take only 3 values and cancel v_lin's order-≤ 2 part exactly: the fit
/// then cancels v's order-3 part through v_lin's tiny varying part. That is correct in
/// f64, but on the GPU the f32 rounding of v_lin's marginals (about ε·|Δv_lin|) is
/// multiplied by β: at |β| ≈ 400 it reached 10⁻³ of the credits (`verify`). Bounding |β|
/// keeps the GPU within the documented tolerance, whose value scale counts
/// |β|·Σ_m |q_m| for a controlled job; any fixed β keeps the estimate unbiased and
/// efficient, and the pilot's residual variance is that of the clamped β.
pub const MAX_BETA: f64 = 16.0;

/// Time of a controlled pair over a plain one when v_lin shares v's presences (`mean`
/// aggregate), measured by `examples/cv_accuracy.rs` (docs/benchmarks.md: 1.06–1.12 on
/// 11-message chats), rounded up.
pub const COST_SHARED: f64 = 1.15;

/// Time of a controlled pair over a plain one when v_lin is a second game (`min` / `max`
/// aggregate), measured by `examples/cv_accuracy.rs` (docs/benchmarks.md: 1.49–1.56),
/// rounded up.
pub const COST_OWN: f64 = 1.6;

/// Walk steps per state and message of v_lin's Owen closed form, measured against the
/// plain walk on generated chats (`score --samples 2 --control-variate on` minus `off`,
/// against the sampling time at 1,024 permutations): 5.0 on chat-20 (3 agents × 20
/// messages), 5.4 on chat-130 (4 × 130), rounded up.
pub const CLOSED_FORM_STEP: f64 = 5.5;

/// The time of v_lin's closed form (the Owen path programme: [`closed_form::owen_states`]
/// states, each a pass over the messages, [`CLOSED_FORM_STEP`] steps per visit) over the
/// time of plain sampling with `pairs` antithetic pairs of `players` players (2 × players
/// adds per pair, each touching every message and listed parent), in the walk's steps.
/// The adding back of β·φ(v_lin) is paid once per job, whatever the permutations: on a
/// 130-message chat it costs about three times 1,024 permutations.
#[cfg_attr(
    not(any(test, feature = "internals")),
    expect(dead_code, reason = "the plan reuses its two parts; tests and cv_accuracy read it whole")
)]
pub fn closed_form_overhead(view: &EpisodeView, players: usize, pairs: f64) -> f64 {
    closed_form_steps(view, closed_form::owen_states(view)) / sampling_steps(view, players, pairs)
}

/// The Owen closed form's cost in walk steps, for `states` =
/// [`closed_form::owen_states`]: each state a pass over the messages,
/// [`CLOSED_FORM_STEP`] steps per visit.
pub fn closed_form_steps(view: &EpisodeView, states: usize) -> f64 {
    CLOSED_FORM_STEP * states as f64 * view.len() as f64
}

/// Plain sampling's cost in walk steps (at least 1): `pairs` antithetic pairs of
/// `players` players, 2 × players adds per pair, each touching every message and listed
/// parent.
pub fn sampling_steps(view: &EpisodeView, players: usize, pairs: f64) -> f64 {
    let eval = (view.len() + view.listed_parent_count()) as f64;
    (pairs * 2.0 * players as f64 * eval).max(1.0)
}

/// The residual game v − β·v_lin, evaluated incrementally along the same coalitions.
#[derive(Debug, Clone)]
pub struct Controlled<'a> {
    /// The surrogate (keeping v_lin beside it when `lin` is `None`).
    pub v: Surrogate<'a>,
    /// v_lin as a game of its own, when its presences are not v's (`min` / `max`).
    pub lin: Option<Surrogate<'a>>,
    /// The control's coefficient.
    pub beta: f64,
}

impl<'a> Controlled<'a> {
    /// The residual game of `view`'s surrogate at `level` under `params`: v_lin kept
    /// beside v under the `mean` aggregate, a second game otherwise.
    pub fn new(
        view: crate::csr::EpisodeView<'a>,
        params: ModelParams,
        level: Level,
        beta: f64,
    ) -> Self {
        let v = Surrogate::new(view, params, level);
        if params.aggregate == Aggregate::Mean {
            Controlled {
                v: v.tracking_linear(),
                lin: None,
                beta,
            }
        } else {
            Controlled {
                v,
                lin: Some(Surrogate::linear_part(view, params.alpha, level)),
                beta,
            }
        }
    }

    /// True when v_lin shares v's presences (no second game).
    pub fn shared(&self) -> bool {
        self.lin.is_none()
    }

    /// (v, v_lin) of the empty coalition (the start of every walk).
    pub fn init_both(&mut self) -> (f64, f64) {
        let v = self.v.init();
        match &mut self.lin {
            None => (v, self.v.linear_value()),
            Some(l) => (v, l.init()),
        }
    }

    /// (v, v_lin) after adding `player`.
    pub fn add_both(&mut self, player: usize) -> (f64, f64) {
        let v = self.v.add(player);
        match &mut self.lin {
            None => (v, self.v.linear_value()),
            Some(l) => (v, l.add(player)),
        }
    }

    /// (v, v_lin) of the coalition `mask`, by full evaluation.
    pub fn value_both(&mut self, mask: u64) -> (f64, f64) {
        let v = self.v.value_mask(mask);
        match &mut self.lin {
            None => (v, self.v.linear_value()),
            Some(l) => (v, l.value_mask(mask)),
        }
    }
}

impl Evaluator for Controlled<'_> {
    fn players(&self) -> usize {
        self.v.players()
    }

    fn value_mask(&mut self, mask: u64) -> f64 {
        let (v, l) = self.value_both(mask);
        v - self.beta * l
    }

    fn init(&mut self) -> f64 {
        let (v, l) = self.init_both();
        v - self.beta * l
    }

    fn add(&mut self, player: usize) -> f64 {
        let (v, l) = self.add_both(player);
        v - self.beta * l
    }
}

/// A sampled surrogate game: plain, or the residual game of its control variate.
#[derive(Debug, Clone)]
#[expect(
    clippy::large_enum_variant,
    reason = "one per job or slice, built once and walked many times: no boxing on the hot path"
)]
pub enum Sampled<'a> {
    /// v itself.
    Plain(Surrogate<'a>),
    /// v − β·v_lin.
    Controlled(Controlled<'a>),
}

impl Evaluator for Sampled<'_> {
    fn players(&self) -> usize {
        match self {
            Sampled::Plain(g) => g.players(),
            Sampled::Controlled(g) => g.players(),
        }
    }

    fn value_mask(&mut self, mask: u64) -> f64 {
        match self {
            Sampled::Plain(g) => g.value_mask(mask),
            Sampled::Controlled(g) => g.value_mask(mask),
        }
    }

    fn init(&mut self) -> f64 {
        match self {
            Sampled::Plain(g) => g.init(),
            Sampled::Controlled(g) => g.init(),
        }
    }

    fn add(&mut self, player: usize) -> f64 {
        match self {
            Sampled::Plain(g) => g.add(player),
            Sampled::Controlled(g) => g.add(player),
        }
    }
}

/// What the pilot round measured: β and the summed variances of the players' pair means
/// with and without the control.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pilot {
    /// β = Σᵢ Cov(Δvᵢ, Δv_linᵢ) / Σᵢ Var(Δv_linᵢ), clamped to ±[`MAX_BETA`]; 0 when
    /// v_lin's marginals do not vary.
    pub beta: f64,
    /// Σᵢ Var(Δvᵢ): plain sampling's summed variance per pair.
    pub plain: f64,
    /// Σᵢ Var(Δvᵢ − β·Δv_linᵢ): the residual game's.
    pub residual: f64,
}

impl Pilot {
    /// The rule of `--control-variate auto`: the control variate pays when the residual's
    /// summed variance times the relative cost of a controlled pair (`cost`: [`COST_SHARED`]
    /// or [`COST_OWN`]) is below plain sampling's summed variance, i.e. when it gives a
    /// smaller error for the same time. (β is fitted on the same pilot pairs, so the
    /// residual's variance is slightly optimistic, by about one part in [`PILOT_PAIRS`].)
    pub fn pays(&self, cost: f64) -> bool {
        self.residual * cost < self.plain
    }

    /// [`Pilot::pays`] when the closed form adds `overhead` (a share of plain sampling's
    /// time, [`closed_form_overhead`]): at equal time the controlled estimate keeps
    /// 1 − overhead of the pairs, so its cost per pair is `cost / (1 − overhead)`; never
    /// when the closed form alone takes as long as plain sampling.
    pub fn pays_with(&self, cost: f64, overhead: f64) -> bool {
        overhead < 1.0 && self.pays(cost / (1.0 - overhead))
    }
}

/// Walks `order` from the empty coalition, adding each player's marginals of v and v_lin
/// to `dv` and `dl`.
fn walk_both(
    g: &mut Controlled,
    order: impl Iterator<Item = usize>,
    dv: &mut [f64],
    dl: &mut [f64],
) {
    let (mut pv, mut pl) = g.init_both();
    for p in order {
        let (v, l) = g.add_both(p);
        dv[p] += v - pv;
        dl[p] += l - pl;
        (pv, pl) = (v, l);
    }
}

/// Each player's pair means of v and of v_lin along `order` and its reverse.
fn pair_both(g: &mut Controlled, order: &[usize], dv: &mut [f64], dl: &mut [f64]) {
    dv.iter_mut().for_each(|x| *x = 0.0);
    dl.iter_mut().for_each(|x| *x = 0.0);
    walk_both(g, order.iter().copied(), dv, dl);
    walk_both(g, order.iter().rev().copied(), dv, dl);
    dv.iter_mut().for_each(|x| *x *= 0.5);
    dl.iter_mut().for_each(|x| *x *= 0.5);
}

/// The pilot round of the job with stream key `record` and tag `job_tag` over `game` (its
/// β is ignored): [`PILOT_PAIRS`] pairs of the stream (seed, record, pair,
/// [`tag::PILOT`] + `job_tag`); `unions` selects the Owen protocol. The pairs run in
/// parallel and are summed in pair order, so the result does not depend on threads.
pub fn pilot(
    game: &Controlled,
    unions: Option<&[Vec<usize>]>,
    seed: u64,
    record: u64,
    job_tag: u32,
) -> Pilot {
    let n = game.players();
    let pairs: Vec<(Vec<f64>, Vec<f64>)> = (0..PILOT_PAIRS)
        .into_par_iter()
        .map_init(
            || {
                let scratch: Vec<Vec<usize>> = unions.map(<[_]>::to_vec).unwrap_or_default();
                (game.clone(), scratch, Vec::new(), Vec::with_capacity(n))
            },
            |(g, scratch, union_order, order), k| {
                let mut s = Stream::new(seed, record, k as u32, tag::PILOT + job_tag);
                match unions {
                    Some(u) => owen_order(&mut s, u, union_order, scratch, order),
                    None => shapley_order(&mut s, n, order),
                }
                let (mut dv, mut dl) = (vec![0.0; n], vec![0.0; n]);
                pair_both(g, order, &mut dv, &mut dl);
                (dv, dl)
            },
        )
        .collect();
    // Per player: sums of Δv, Δlin, Δv·Δlin, Δlin², Δv².
    let mut sums = vec![[0.0f64; 5]; n];
    for (dv, dl) in &pairs {
        for ((acc, &a), &b) in sums.iter_mut().zip(dv).zip(dl) {
            acc[0] += a;
            acc[1] += b;
            acc[2] += a * b;
            acc[3] += b * b;
            acc[4] += a * a;
        }
    }
    let k = PILOT_PAIRS as f64;
    let (mut cov, mut var, mut plain) = (0.0, 0.0, 0.0);
    for [sa, sb, sab, sbb, saa] in sums {
        cov += sab - sa * sb / k;
        var += sbb - sb * sb / k;
        plain += saa - sa * sa / k;
    }
    let beta = if var > 0.0 && var.is_finite() && cov.is_finite() {
        (cov / var).clamp(-MAX_BETA, MAX_BETA)
    } else {
        0.0
    };
    // Σ Var(Δv − β·Δlin) = Σ Var Δv − 2β Σ Cov + β² Σ Var Δlin (sums of squares / (k − 1)).
    let residual = (plain - 2.0 * beta * cov + beta * beta * var).max(0.0);
    Pilot {
        beta,
        plain: plain.max(0.0) / (k - 1.0),
        residual: residual / (k - 1.0),
    }
}
