//! The surrogate value model of DESIGN §3.1 over one episode of a [`CsrBatch`].
//!
//! Presence e_m is computed in causal order (message index order): 0 when m is absent,
//! 1 for a present root, else α + (1 − α)·A(e_parents). Team quality Q sums q_G·max e
//! over redundancy groups, and v = link(Q). Environment messages are always present.
//!
//! [`CsrBatch`]: crate::csr::CsrBatch

pub use crate::options::{Aggregate, Link, ModelParams};

use super::Evaluator;
use crate::csr::{EpisodeView, NO_AGENT};

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
    level: Level,
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
    /// Mean aggregate: (1 − α)/|parents| per message (0 for roots).
    weight: Vec<f64>,
    q: f64,
}

impl<'a> Surrogate<'a> {
    /// The game of `view` at `level`. O(messages + parents): owners and members are the
    /// batch's derived rows, only the children rows are built here.
    pub fn new(view: EpisodeView<'a>, params: ModelParams, level: Level) -> Self {
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
            for &p in view.parents_of(m) {
                child_offsets[p as usize + 1] += 1;
            }
        }
        for m in 0..n {
            child_offsets[m + 1] += child_offsets[m];
        }
        let mut group_size = vec![0u32; view.group_scores.len()];
        for &g in view.groups {
            group_size[g as usize] += 1;
        }
        let slots = child_offsets[n] as usize;
        Surrogate {
            view,
            params,
            level,
            owners,
            member_offsets,
            members,
            child_offsets,

            present: vec![false; n],
            e: vec![0.0; n],
            group_max: vec![0.0; view.group_scores.len()],
            group_size,
            dirty: vec![false; n],
            pending: vec![0.0; n],
            present_children: vec![0; slots],
            present_child_count: vec![0; n],
            weight: (0..n)
                .map(|m| match view.parents_of(m).len() {
                    0 => 0.0,
                    k => (1.0 - params.alpha) / k as f64,
                })
                .collect(),
            q: 0.0,
        }
    }

    /// The episode this game reads.
    pub fn view(&self) -> &EpisodeView<'a> {
        &self.view
    }

    /// The model parameters.
    pub fn params(&self) -> &ModelParams {
        &self.params
    }

    /// The level of the players.
    pub fn level(&self) -> Level {
        self.level
    }

    /// Agents with at least one message, in agent order: player p of the agent game is
    /// agent `active_agents()[p]` of the episode.
    pub fn active_agents(&self) -> &'a [u32] {
        self.view.active_agents
    }

    /// Messages of player `p`.
    pub fn members(&self, p: usize) -> &'a [u32] {
        match self.member_offsets {
            Some(o) => &self.members[o[p] as usize..o[p + 1] as usize],
            None => &self.members[p..p + 1],
        }
    }

    /// Presence of message `m` given its parents' presences in `e`.
    #[inline]
    fn presence(&self, m: usize, e: &[f64]) -> f64 {
        presence(&self.view, &self.params, m, e)
    }

    /// v of the coalition whose message presence is `present(m)`; a full evaluation,
    /// O(messages + parents). Uses (and overwrites) the scratch arrays.
    pub fn value_with(&mut self, present: impl Fn(usize) -> bool) -> f64 {
        evaluate(
            &self.view,
            &self.params,
            &mut self.e,
            &mut self.group_max,
            present,
        )
    }

    #[inline]
    fn owner(&self, m: usize) -> u32 {
        self.owners[m]
    }

    /// Records present message `m` as a present child of each of its parents.
    #[inline]
    fn join_parents(&mut self, m: usize) {
        for &p in self.view.parents_of(m) {
            let p = p as usize;
            let slot = self.child_offsets[p] + self.present_child_count[p];
            self.present_children[slot as usize] = m as u32;
            self.present_child_count[p] += 1;
        }
    }

    /// Recomputes group g's max and updates Q.
    #[inline]
    fn update_group(&mut self, m: usize, old: f64, new: f64) {
        let g = self.view.groups[m] as usize;
        let score = self.view.group_scores[g];
        if self.group_size[g] == 1 {
            self.q += score * (new - old);
            self.group_max[g] = new;
            return;
        }
        // Presences only grow as players are added (e is monotone in the coalition for
        // every aggregate), so the group max can only rise.
        if new > self.group_max[g] {
            self.q += score * (new - self.group_max[g]);
            self.group_max[g] = new;
        }
    }
}

/// Presence of message `m` of `view` given its parents' presences in `e`.
#[inline]
fn presence(view: &EpisodeView, params: &ModelParams, m: usize, e: &[f64]) -> f64 {
    let ps = view.parents_of(m);
    if ps.is_empty() {
        return 1.0;
    }
    let agg = match params.aggregate {
        Aggregate::Mean => ps.iter().map(|&p| e[p as usize]).sum::<f64>() / ps.len() as f64,
        Aggregate::Min => ps
            .iter()
            .map(|&p| e[p as usize])
            .fold(f64::INFINITY, f64::min),
        Aggregate::Max => ps
            .iter()
            .map(|&p| e[p as usize])
            .fold(f64::NEG_INFINITY, f64::max),
    };
    params.alpha + (1.0 - params.alpha) * agg
}

/// The full evaluation behind [`Surrogate::value_with`] and [`value_of`], on scratch `e`
/// (one per message) and `group_max` (one per group).
#[expect(
    clippy::needless_range_loop,
    reason = "the index is the formula's own index (several arrays are read at it)"
)]
fn evaluate(
    view: &EpisodeView,
    params: &ModelParams,
    e: &mut [f64],
    group_max: &mut [f64],
    present: impl Fn(usize) -> bool,
) -> f64 {
    let n = view.len();
    for m in 0..n {
        let x = if present(m) {
            presence(view, params, m, e)
        } else {
            0.0
        };
        e[m] = x;
    }
    group_max.iter_mut().for_each(|g| *g = 0.0);
    for m in 0..n {
        let g = view.groups[m] as usize;
        group_max[g] = group_max[g].max(e[m]);
    }
    let q: f64 = group_max
        .iter()
        .zip(view.group_scores)
        .map(|(x, s)| x * s)
        .sum();
    params.link.apply(q)
}

/// v of the coalition whose message presence is `present(m)` in `view`'s surrogate game,
/// without building the incremental game (v(∅) and v(N) for calibration).
/// O(messages + parents).
pub fn value_of(view: EpisodeView, params: &ModelParams, present: impl Fn(usize) -> bool) -> f64 {
    let mut e = vec![0.0; view.len()];
    let mut group_max = vec![0.0; view.group_scores.len()];
    evaluate(&view, params, &mut e, &mut group_max, present)
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
        self.q = self
            .group_max
            .iter()
            .zip(self.view.group_scores)
            .map(|(x, s)| x * s)
            .sum();
        v
    }

    /// Adds the player's messages and propagates the change of presence to their present
    /// descendants, in causal order. With the mean aggregate e is linear in the parents'
    /// presences, so a change δ of e_p is pushed to each present child as weight·δ (one
    /// pass over children); min and max recompute changed children from their parents.
    fn add(&mut self, player: usize) -> f64 {
        let mut lo = usize::MAX;
        for &m in self.members(player) {
            let m = m as usize;
            self.present[m] = true;
            self.dirty[m] = true;
            self.join_parents(m);
            lo = lo.min(m);
        }
        let n = self.view.len();
        let linear = self.params.aggregate == Aggregate::Mean;
        for m in lo..n {
            let old = self.e[m];
            let new = if self.dirty[m] {
                // New messages, and (min/max) children of changed messages: recompute.
                self.dirty[m] = false;
                self.pending[m] = 0.0;
                self.presence(m, &self.e)
            } else if self.pending[m] != 0.0 {
                let d = self.pending[m];
                self.pending[m] = 0.0;
                old + d
            } else {
                continue;
            };
            if new == old {
                continue;
            }
            self.e[m] = new;
            self.update_group(m, old, new);
            let delta = new - old;
            let first = self.child_offsets[m] as usize;
            for c in first..first + self.present_child_count[m] as usize {
                let ch = self.present_children[c] as usize;
                if linear {
                    self.pending[ch] += self.weight[ch] * delta;
                } else {
                    self.dirty[ch] = true;
                }
            }
        }
        self.params.link.apply(self.q)
    }
}
