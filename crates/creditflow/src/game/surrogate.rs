//! The surrogate value model of DESIGN §3.1 over one episode of a [`CsrBatch`].
//!
//! Presence e_m is computed in causal order (message index order): 0 when m is absent,
//! 1 for a present root, else α + (1 − α)·A(e_parents). Team quality Q sums q_G·max e
//! over redundancy groups, and v = link(Q). Environment messages are always present.
//!
//! [`CsrBatch`]: crate::csr::CsrBatch

pub use crate::options::{Aggregate, Link, ModelParams};

use std::borrow::Cow;

use super::Evaluator;
use crate::csr::{EpisodeView, NO_AGENT, Parents};

/// Who the players are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Agents: a coalition keeps the messages of its agents.
    Agents,
    /// Messages with an agent.
    Messages,
}

/// The surrogate game of one episode at one level, with its incremental state.
#[derive(Debug, Clone)]
pub struct Surrogate<'a> {
    view: EpisodeView<'a>,
    params: ModelParams,
    /// Message → redundancy group (the batch's row, or one group per message for
    /// [`Surrogate::linear_part`]).
    groups: Cow<'a, [u32]>,
    /// Group → q_G.
    scores: Cow<'a, [f64]>,
    /// Message → owning player or [`NO_AGENT`] (a row of the batch).
    owners: &'a [u32],
    /// Player → its messages: rows of `members` by `member_offsets`, or (message level)
    /// one message per player when `member_offsets` is `None` (rows of the batch).
    member_offsets: Option<&'a [u32]>,
    members: &'a [u32],
    /// Row offsets of each message's children slots (CSR), for incremental propagation.
    child_offsets: Vec<u32>,
    present: Vec<bool>,
    e: Vec<f64>,
    group_max: Vec<f64>,
    /// Per group: how many members, to skip the max scan for singletons.
    group_size: Vec<u32>,
    /// Messages added in the current `add` (recomputed from their parents).
    dirty: Vec<bool>,
    /// Mean aggregate: pending change of e pushed from changed parents.
    pending: Vec<f64>,
    /// Present children of each message, in its slots (CSR rows by `child_offsets`), filled as messages join: pushes touch present children only.
    present_children: Vec<u32>,
    present_child_count: Vec<u32>,
    /// Running aggregate of e before each message (`messages + 1` entries) when some
    /// message reads it (`track_to > 0`), else empty: a message of every earlier parent is
    /// recomputed from it in O(1), so an add costs O(messages) on a chat, not O(messages²).
    earlier: Vec<f64>,
    /// 1 + the last message whose parents are every earlier message (0 when none): the
    /// running aggregate is kept up to there.
    track_to: usize,
    /// A chat: no listed parent rows (every message is a root or has every earlier message
    /// as parents) and a `mean` or `max` aggregate. Adds take the fast path
    /// ([`Surrogate::add_chat`]) over present messages only.
    chat: bool,
    /// Chat: presence as bits, 64 messages a word.
    present_bits: Vec<u64>,
    /// Chat: e_m = base_m + slope_m · (running aggregate before m) for a present message
    /// (a root: base 1, slope 0).
    base: Vec<f64>,
    /// Per message: the factor of its parents' joined aggregate (`agg_slope`; 0 for a
    /// root). Under the mean, a listed child's presence moves by slope·δ when a parent's
    /// moves by δ.
    slope: Vec<f64>,
    /// Chat: the state of the empty coalition, kept by the first `init` and restored by
    /// the later ones (every walk starts there).
    start: Option<Box<ChatStart>>,
    q: f64,
    /// Per message: its score under v_lin (its group's q_G), when this game keeps v_lin
    /// beside v ([`Surrogate::tracking_linear`]); empty otherwise.
    lin_scores: Vec<f64>,
    /// v_lin = Σ_m q_m·e_m of the current coalition, when tracked.
    q_lin: f64,
}

/// The incremental state of a chat's empty coalition (a chat's walk reads presence from
/// the bits, never from `present`).
#[derive(Debug, Clone)]
struct ChatStart {
    present_bits: Vec<u64>,
    e: Vec<f64>,
    group_max: Vec<f64>,
    earlier: Vec<f64>,
    q: f64,
    q_lin: f64,
    v: f64,
}

impl<'a> Surrogate<'a> {
    /// The game of `view` at `level`. O(messages + parents): owners and members are the
    /// batch's derived rows, only the children rows are built here.
    pub fn new(view: EpisodeView<'a>, params: ModelParams, level: Level) -> Self {
        Self::with_groups(
            view,
            params,
            level,
            Cow::Borrowed(view.groups),
            Cow::Borrowed(view.group_scores),
        )
    }

    /// The linear surrogate of `view` (DESIGN §4's control variate): linear link, `mean`
    /// aggregate, redundancy groups ignored (every message its own group, scored with its
    /// group's score), so that its Shapley and Owen values have closed forms.
    pub fn linear_part(view: EpisodeView<'a>, alpha: f64, level: Level) -> Self {
        let params = ModelParams {
            alpha,
            aggregate: Aggregate::Mean,
            link: Link::Linear,
        };
        let n = view.len();
        let scores = (0..n)
            .map(|m| view.group_scores[view.groups[m] as usize])
            .collect();
        Self::with_groups(
            view,
            params,
            level,
            Cow::Owned((0..n as u32).collect()),
            Cow::Owned(scores),
        )
    }

    fn with_groups(
        view: EpisodeView<'a>,
        params: ModelParams,
        level: Level,
        groups: Cow<'a, [u32]>,
        scores: Cow<'a, [f64]>,
    ) -> Self {
        let n = view.len();
        // Agents without messages are null players: the agent game keeps only the active
        // agents, numbered in agent order (`view.active_agents`).
        let (owners, members, member_offsets) = match level {
            Level::Agents => (
                view.agent_players,
                view.union_messages,
                Some(view.union_offsets),
            ),
            Level::Messages => (view.players, view.player_messages, None),
        };
        let mut child_offsets = vec![0u32; n + 1];
        for m in 0..n {
            for &p in view.listed_parents(m) {
                child_offsets[p as usize + 1] += 1;
            }
        }
        for m in 0..n {
            child_offsets[m + 1] += child_offsets[m];
        }
        let mut group_size = vec![0u32; scores.len()];
        for &g in groups.iter() {
            group_size[g as usize] += 1;
        }
        let slots = child_offsets[n] as usize;
        let chat = view.listed_parent_count() == 0 && params.aggregate != Aggregate::Min;
        // A chat reads the running aggregate after any present message; otherwise only
        // messages of every earlier parent read it.
        let track_to = if chat {
            n
        } else {
            (0..n)
                .rev()
                .find(|&m| view.all_earlier(m))
                .map_or(0, |m| m + 1)
        };
        Surrogate {
            view,
            params,
            groups,
            scores,
            owners,
            member_offsets,
            members,
            child_offsets,

            present: vec![false; n],
            e: vec![0.0; n],
            group_max: vec![0.0; group_size.len()],
            group_size,
            dirty: vec![false; n],
            pending: vec![0.0; n],
            present_children: vec![0; slots],
            present_child_count: vec![0; n],
            earlier: if track_to > 0 {
                vec![0.0; n + 1]
            } else {
                Vec::new()
            },
            track_to,
            chat,
            present_bits: vec![0; n.div_ceil(64)],
            base: (0..n)
                .map(|m| match view.parents_of(m).len() {
                    0 => 1.0,
                    _ => params.alpha,
                })
                .collect(),
            slope: (0..n)
                .map(|m| match view.parents_of(m).len() {
                    0 => 0.0,
                    k => agg_slope(&params, k),
                })
                .collect(),
            start: None,
            q: 0.0,
            lin_scores: Vec::new(),
            q_lin: 0.0,
        }
    }

    /// This game, keeping beside v the value of its linear part
    /// ([`Surrogate::linear_part`]) for every coalition it evaluates
    /// ([`Surrogate::linear_value`]). Under the `mean` aggregate v_lin's presences are v's
    /// own (groups and the link act after them), so v_lin = Σ_m q_m·e_m costs one
    /// multiply-add per changed presence instead of a second game: the cheap control
    /// variate. Panics for another aggregate (a caller bug: v_lin would need presences of
    /// its own).
    pub fn tracking_linear(mut self) -> Self {
        assert_eq!(
            self.params.aggregate,
            Aggregate::Mean,
            "v_lin shares v's presences only under the mean aggregate"
        );
        let view = self.view;
        self.lin_scores = (0..view.len())
            .map(|m| view.group_scores[view.groups[m] as usize])
            .collect();
        self.start = None;
        self
    }

    /// v_lin of the coalition last evaluated (`init`, `add`, `value_mask`), when this game
    /// keeps it ([`Surrogate::tracking_linear`]); 0 otherwise.
    pub fn linear_value(&self) -> f64 {
        self.q_lin
    }

    /// Messages of player `p`.
    #[inline]
    pub fn members(&self, p: usize) -> &'a [u32] {
        match self.member_offsets {
            Some(o) => &self.members[o[p] as usize..o[p + 1] as usize],
            None => &self.members[p..p + 1],
        }
    }

    /// Refills the running aggregate of e up to the last message that reads it.
    fn refill_earlier(&mut self) {
        if self.earlier.is_empty() {
            return;
        }
        self.earlier[0] = agg_start(self.params.aggregate);
        for m in 0..self.track_to.min(self.view.len()) {
            self.earlier[m + 1] = agg_join(self.params.aggregate, self.earlier[m], self.e[m]);
        }
    }

    /// v of the coalition whose message presence is `present(m)`; a full evaluation,
    /// O(messages + parents). Uses (and overwrites) the scratch arrays.
    pub fn value_with(&mut self, present: impl Fn(usize) -> bool) -> f64 {
        let v = evaluate(
            &self.view,
            &self.params,
            (&self.groups, &self.scores),
            &mut self.e,
            &mut self.group_max,
            present,
        );
        if !self.lin_scores.is_empty() {
            self.q_lin = self
                .lin_scores
                .iter()
                .zip(&self.e)
                .map(|(q, x)| q * x)
                .sum();
        }
        v
    }

    #[inline]
    fn owner(&self, m: usize) -> u32 {
        self.owners[m]
    }

    /// Records present message `m` as a present child of each of its listed parents.
    #[inline]
    fn join_parents(&mut self, m: usize) {
        for &p in self.view.listed_parents(m) {
            let p = p as usize;
            let slot = self.child_offsets[p] + self.present_child_count[p];
            self.present_children[slot as usize] = m as u32;
            self.present_child_count[p] += 1;
        }
    }

    /// [`Evaluator::add`] on a chat: every present message from the first new one on is
    /// recomputed from the running aggregate of the present messages before it (absent
    /// messages hold 0, which changes neither a sum nor a max of presences), visiting
    /// present messages only through the presence bits. The same numbers as a full
    /// evaluation: the running aggregate folds the same presences in the same order.
    /// O(present messages after the first new one + groups touched).
    fn add_chat(&mut self, player: usize) -> f64 {
        let mut lo = usize::MAX;
        for &m in self.members(player) {
            let m = m as usize;
            self.present_bits[m / 64] |= 1 << (m % 64);
            lo = lo.min(m);
        }
        if lo == usize::MAX {
            return self.params.link.apply(self.q);
        }
        let mean = self.params.aggregate == Aggregate::Mean;
        // The aggregate before `lo`: after the last present message before it (0 when
        // there is none: absent messages are presences of 0).
        let mut acc = match last_bit_below(&self.present_bits, lo) {
            Some(p) => self.earlier[p + 1],
            None => 0.0,
        };
        let (e, earlier, group_max) = (&mut self.e, &mut self.earlier, &mut self.group_max);
        let (base, slope, groups, scores) = (&self.base, &self.slope, &self.groups, &self.scores);
        let lin = &self.lin_scores;
        let track = !lin.is_empty();
        let mut q = self.q;
        let mut q_lin = self.q_lin;
        let words = self.present_bits.len();
        let mut w = lo / 64;
        let mut bits = self.present_bits[w] & (!0u64 << (lo % 64));
        loop {
            while bits == 0 {
                w += 1;
                if w == words {
                    self.q = q;
                    self.q_lin = q_lin;
                    return self.params.link.apply(q);
                }
                bits = self.present_bits[w];
            }
            let m = w * 64 + bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let x = base[m] + slope[m] * acc;
            acc = if mean { acc + x } else { acc.max(x) };
            earlier[m + 1] = acc;
            if track {
                q_lin += lin[m] * (x - e[m]);
            }
            e[m] = x;
            // Presences only grow, so a group's max rises to x or stays (a singleton
            // group's max is its message's presence).
            let g = groups[m] as usize;
            let gm = group_max[g];
            let top = gm.max(x);
            q += scores[g] * (top - gm);
            group_max[g] = top;
        }
    }
}

/// The highest set bit of `bits` below position `m`.
#[inline]
fn last_bit_below(bits: &[u64], m: usize) -> Option<usize> {
    let mut w = m / 64;
    let mut word = bits[w] & ((1u64 << (m % 64)) - 1);
    loop {
        if word != 0 {
            return Some(w * 64 + 63 - word.leading_zeros() as usize);
        }
        if w == 0 {
            return None;
        }
        w -= 1;
        word = bits[w];
    }
}

/// The aggregate's identity: the start of a running aggregate.
#[inline]
fn agg_start(aggregate: Aggregate) -> f64 {
    match aggregate {
        Aggregate::Mean => 0.0,
        Aggregate::Min => f64::INFINITY,
        Aggregate::Max => f64::NEG_INFINITY,
    }
}

/// A running aggregate `acc` joined with one more presence `x` (a sum for the mean).
#[inline]
fn agg_join(aggregate: Aggregate, acc: f64, x: f64) -> f64 {
    match aggregate {
        Aggregate::Mean => acc + x,
        Aggregate::Min => acc.min(x),
        Aggregate::Max => acc.max(x),
    }
}

/// The factor of a non-root message's joined aggregate over its `k` parents:
/// (1 − α)/k for the mean (the aggregate is a sum), 1 − α for min and max.
#[inline]
fn agg_slope(params: &ModelParams, k: usize) -> f64 {
    match params.aggregate {
        Aggregate::Mean => (1.0 - params.alpha) / k as f64,
        Aggregate::Min | Aggregate::Max => 1.0 - params.alpha,
    }
}

/// Presence of a present non-root message from its parents' joined aggregate `acc` over
/// `k` parents: α + slope·acc.
#[inline]
fn agg_presence(params: &ModelParams, acc: f64, k: usize) -> f64 {
    params.alpha + agg_slope(params, k) * acc
}

/// Presence of present message `m` of `view` given the presences in `e`; `earlier` is
/// the running aggregate of `e[..m]`, read when m's parents are every earlier message
/// (O(1) then, O(parents) for a listed row). The running aggregate folds `e` in index
/// order, the order a listed row 0..m would be read in, so both give the same number.
#[inline(always)]
fn presence(view: &EpisodeView, params: &ModelParams, m: usize, e: &[f64], earlier: f64) -> f64 {
    let (acc, k) = match view.parents_of(m) {
        Parents::Earlier(0) | Parents::Listed([]) => return 1.0,
        Parents::Earlier(k) => (earlier, k as usize),
        Parents::Listed(ps) => {
            let x = ps.iter().map(|&p| e[p as usize]);
            let acc = match params.aggregate {
                Aggregate::Mean => x.fold(0.0, |a, b| a + b),
                Aggregate::Min => x.fold(f64::INFINITY, f64::min),
                Aggregate::Max => x.fold(f64::NEG_INFINITY, f64::max),
            };
            (acc, ps.len())
        }
    };
    agg_presence(params, acc, k)
}

/// The full evaluation behind [`Surrogate::value_with`] and [`value_of`], on scratch `e`
/// (one per message) and `group_max` (one per group). O(messages + listed parents).
fn evaluate(
    view: &EpisodeView,
    params: &ModelParams,
    (groups, scores): (&[u32], &[f64]),
    e: &mut [f64],
    group_max: &mut [f64],
    present: impl Fn(usize) -> bool,
) -> f64 {
    let n = view.len();
    // The running aggregate of e (read by messages of every earlier parent), with the
    // aggregate's join chosen once, outside the loop.
    let mut presences = |join: fn(f64, f64) -> f64| {
        let mut earlier = agg_start(params.aggregate);
        for m in 0..n {
            let x = if present(m) {
                presence(view, params, m, e, earlier)
            } else {
                0.0
            };
            e[m] = x;
            earlier = join(earlier, x);
        }
    };
    match params.aggregate {
        Aggregate::Mean => presences(|a, x| a + x),
        Aggregate::Min => presences(f64::min),
        Aggregate::Max => presences(f64::max),
    }
    group_max.iter_mut().for_each(|g| *g = 0.0);
    for m in 0..n {
        let g = groups[m] as usize;
        group_max[g] = group_max[g].max(e[m]);
    }
    let q: f64 = group_max.iter().zip(scores).map(|(x, s)| x * s).sum();
    params.link.apply(q)
}

/// v of the coalition whose message presence is `present(m)` in `view`'s surrogate game,
/// without building the incremental game (v(∅) and v(N) for calibration).
/// O(messages + parents).
pub fn value_of(view: EpisodeView, params: &ModelParams, present: impl Fn(usize) -> bool) -> f64 {
    let mut e = vec![0.0; view.len()];
    let mut group_max = vec![0.0; view.group_scores.len()];
    evaluate(
        &view,
        params,
        (view.groups, view.group_scores),
        &mut e,
        &mut group_max,
        present,
    )
}

impl Evaluator for Surrogate<'_> {
    fn players(&self) -> usize {
        match self.member_offsets {
            Some(o) => o.len() - 1,
            None => self.members.len(),
        }
    }

    fn value_mask(&mut self, mask: u64) -> f64 {
        let owners = self.owners;
        self.value_with(|m| {
            let o = owners[m];
            o == NO_AGENT || mask >> o & 1 == 1
        })
    }

    fn init(&mut self) -> f64 {
        if let Some(s) = &self.start {
            self.present_bits.copy_from_slice(&s.present_bits);
            self.e.copy_from_slice(&s.e);
            self.group_max.copy_from_slice(&s.group_max);
            self.earlier.copy_from_slice(&s.earlier);
            self.q = s.q;
            self.q_lin = s.q_lin;
            return s.v;
        }
        let n = self.view.len();
        for m in 0..n {
            self.present[m] = self.owner(m) == NO_AGENT;
            self.dirty[m] = false;
            self.pending[m] = 0.0;
            self.present_child_count[m] = 0;
        }
        for m in 0..n {
            if self.present[m] {
                self.join_parents(m);
            }
        }
        let present = std::mem::take(&mut self.present);
        let v = self.value_with(|m| present[m]);
        self.present = present;
        self.refill_earlier();
        if self.chat {
            for (m, &p) in self.present.iter().enumerate() {
                if p {
                    self.present_bits[m / 64] |= 1 << (m % 64);
                } else {
                    self.present_bits[m / 64] &= !(1 << (m % 64));
                }
            }
        }
        self.q = self
            .group_max
            .iter()
            .zip(self.scores.iter())
            .map(|(x, s)| x * s)
            .sum();
        if self.chat {
            self.start = Some(Box::new(ChatStart {
                present_bits: self.present_bits.clone(),
                e: self.e.clone(),
                group_max: self.group_max.clone(),
                earlier: self.earlier.clone(),
                q: self.q,
                q_lin: self.q_lin,
                v,
            }));
        }
        v
    }

    /// Adds the player's messages and propagates the change of presence to their present
    /// descendants, in causal order. A message whose parents are every earlier message is
    /// recomputed from the running aggregate (O(1)); for a listed row, with the mean
    /// aggregate e is linear in the parents' presences, so a change δ of e_p is pushed to
    /// each present listed child as slope·δ (one pass over children), and min and max
    /// recompute changed children from their parents. O(messages + listed parents).
    fn add(&mut self, player: usize) -> f64 {
        if self.chat {
            return self.add_chat(player);
        }
        let mut lo = usize::MAX;
        for &m in self.members(player) {
            let m = m as usize;
            self.present[m] = true;
            self.dirty[m] = true;
            self.join_parents(m);
            lo = lo.min(m);
        }
        let n = self.view.len();
        let params = self.params;
        let linear = params.aggregate == Aggregate::Mean;
        // The running aggregate is read by messages of every earlier parent only: keep it
        // up to the last of them.
        let limit = self.track_to;
        let Surrogate {
            view,
            e,
            dirty,
            pending,
            present,
            earlier,
            groups,
            scores,
            group_size,
            group_max,
            q,
            child_offsets,
            present_children,
            present_child_count,
            slope,
            lin_scores,
            q_lin,
            ..
        } = self;
        let track = !lin_scores.is_empty();
        for m in lo..n {
            let old = e[m];
            let acc = if m < limit { earlier[m] } else { 0.0 };
            // (The flag first: it is rarely set and predictable; presence is not.)
            let new = if dirty[m] || (m < limit && view.earlier[m] == 1 && present[m]) {
                // New messages, messages of every earlier parent, and (min/max) listed
                // children of changed messages: recompute.
                dirty[m] = false;
                pending[m] = 0.0;
                presence(view, &params, m, e, acc)
            } else if pending[m] != 0.0 {
                let d = pending[m];
                pending[m] = 0.0;
                old + d
            } else {
                old
            };
            if m < limit {
                earlier[m + 1] = agg_join(params.aggregate, acc, new);
            }
            if new == old {
                continue;
            }
            e[m] = new;
            if track {
                *q_lin += lin_scores[m] * (new - old);
            }
            // Presences only grow as players are added (e is monotone in the coalition
            // for every aggregate), so a group's max can only rise.
            let g = groups[m] as usize;
            if group_size[g] == 1 {
                *q += scores[g] * (new - old);
                group_max[g] = new;
            } else if new > group_max[g] {
                *q += scores[g] * (new - group_max[g]);
                group_max[g] = new;
            }
            let delta = new - old;
            let first = child_offsets[m] as usize;
            for &ch in &present_children[first..first + present_child_count[m] as usize] {
                let ch = ch as usize;
                if linear {
                    pending[ch] += slope[ch] * delta;
                } else {
                    dirty[ch] = true;
                }
            }
        }
        self.params.link.apply(self.q)
    }
}
