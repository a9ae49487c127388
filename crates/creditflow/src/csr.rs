//! The CSR batch: the one flat representation of a batch of episodes that both
//! backends read (CPU evaluators through [`EpisodeView`], WGSL kernels through the
//! same arrays uploaded as storage buffers).
//!
//! Every index is a `u32`; a batch that would need more is refused by
//! [`CsrBuilder::try_push`] (never wrapped). Indices inside one record are local to
//! that record (a parent is a message index of the same episode), so a record's rows can
//! be read without knowing where the record sits in the batch.

use bytemuck::{Pod, Zeroable};

use crate::model::Episode;

/// Marks an environment message in [`CsrBatch::authors`] and [`CsrBatch::players`].
pub const NO_AGENT: u32 = u32::MAX;

/// Where one record's rows sit in the batch. Mirrored in WGSL (`shaders/shared/types.wgsl`
/// once the GPU path lands); 32 bytes, `u32` fields only.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
pub struct RecordMeta {
    /// First message of the record in the per-message arrays.
    pub message_offset: u32,
    /// Number of messages.
    pub message_count: u32,
    /// Number of agents (players of the agent game, including agents without messages).
    pub agent_count: u32,
    /// Number of messages with an agent (players of the message game).
    pub player_count: u32,
    /// First group of the record in [`CsrBatch::group_scores`].
    pub group_offset: u32,
    /// Number of redundancy groups (a message without `group` is its own group).
    pub group_count: u32,
    /// Low word of the record's stream key.
    pub key_lo: u32,
    /// High word of the record's stream key.
    pub key_hi: u32,
}

/// A batch of episodes flattened into CSR arrays.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CsrBatch {
    /// One entry per record, in batch order; `message_offset`s are increasing and
    /// contiguous (`records[r+1].message_offset == records[r].message_offset + records[r].message_count`).
    pub records: Vec<RecordMeta>,
    /// Row offsets into [`parents`](Self::parents): always `messages + 1` long, starts at 0,
    /// non-decreasing, last element equals `parents.len()`.
    pub parent_offsets: Vec<u32>,
    /// Column indices: record-local message indices, each smaller than its row's local index.
    pub parents: Vec<u32>,
    /// Per message: 1 when its parents are every earlier message (its row of
    /// [`parents`](Self::parents) is then empty), else 0. A chat's `prefix` provenance costs
    /// O(1) per message instead of a row of O(messages).
    pub earlier: Vec<u32>,
    /// Per message: record-local agent index (< `agent_count`) or [`NO_AGENT`].
    pub authors: Vec<u32>,
    /// Per message: record-local player index in the message game (< `player_count`,
    /// increasing along the record) or [`NO_AGENT`].
    pub players: Vec<u32>,
    /// Per message: record-local group index (< `group_count`).
    pub groups: Vec<u32>,
    /// Per group: q_G (the group's score).
    pub group_scores: Vec<f64>,
    /// Per message: record-local player index in the agent game (the index of its author
    /// among the record's active agents) or [`NO_AGENT`].
    pub agent_players: Vec<u32>,
    /// Row offsets into [`active_agents`](Self::active_agents): always `records + 1` long,
    /// starts at 0, last element equals `active_agents.len()`.
    pub active_offsets: Vec<u32>,
    /// Per record: its active agents (agents with at least one message), in agent order:
    /// player p of the agent game is agent `active_agents[p]`.
    pub active_agents: Vec<u32>,
    /// Per record, `active + 1` record-local offsets (from 0 to `player_count`) into the
    /// record's rows of [`union_members`](Self::union_members) and
    /// [`union_messages`](Self::union_messages): the record's row starts at
    /// `active_offsets[r] + r`.
    pub union_offsets: Vec<u32>,
    /// Per record (`player_count` entries, starting at the record's player offset): the
    /// Owen unions — per active agent, its message-game players in message order.
    pub union_members: Vec<u32>,
    /// The same rows as messages: per active agent, its messages in order (the members of
    /// the agent game's players).
    pub union_messages: Vec<u32>,
    /// Row offsets of each record's players: always `records + 1` long.
    pub player_offsets: Vec<u32>,
    /// Per message-game player (rows by `player_offsets`): its record-local message.
    pub player_messages: Vec<u32>,
}

/// A batch would need an index past `u32::MAX`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} would exceed u32::MAX in the CSR batch")]
pub struct Overflow {
    /// Which count overflowed.
    pub what: &'static str,
}

fn fits(x: usize, what: &'static str) -> Result<u32, Overflow> {
    u32::try_from(x).map_err(|_| Overflow { what })
}

/// Builds a [`CsrBatch`] one episode at a time.
#[derive(Debug, Default)]
pub struct CsrBuilder {
    batch: CsrBatch,
}

impl CsrBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        let mut b = CsrBuilder::default();
        b.batch.parent_offsets.push(0);
        b.batch.active_offsets.push(0);
        b.batch.player_offsets.push(0);
        b
    }

    /// Appends one episode. On overflow the batch is left unchanged.
    pub fn try_push(&mut self, ep: &Episode) -> Result<(), Overflow> {
        let b = &mut self.batch;
        let n = ep.messages.len();
        let n_parents: usize = ep.messages.iter().map(|m| m.parents.len()).sum();
        let message_offset = fits(b.authors.len(), "message count")?;
        fits(b.authors.len() + n + 1, "message count")?;
        fits(b.parents.len() + n_parents, "parent count")?;
        let group_offset = fits(b.group_scores.len(), "group count")?;
        fits(b.group_scores.len() + ep.group_scores.len(), "group count")?;
        let agent_count = fits(ep.agents.len(), "agent count")?;
        let mut player = 0u32;
        for m in &ep.messages {
            b.parents.extend_from_slice(&m.parents);
            b.parent_offsets.push(b.parents.len() as u32);
            b.earlier.push(u32::from(m.all_earlier));
            match m.agent {
                Some(a) => {
                    b.authors.push(a);
                    b.players.push(player);
                    player += 1;
                }
                None => {
                    b.authors.push(NO_AGENT);
                    b.players.push(NO_AGENT);
                }
            }
            b.groups.push(m.group);
        }
        b.group_scores.extend_from_slice(&ep.group_scores);
        b.derive_rows(message_offset as usize, ep.agents.len());
        b.records.push(RecordMeta {
            message_offset,
            message_count: n as u32,
            agent_count,
            player_count: player,
            group_offset,
            group_count: ep.group_scores.len() as u32,
            key_lo: ep.key as u32,
            key_hi: (ep.key >> 32) as u32,
        });
        Ok(())
    }

    /// The finished batch; its invariants are checked (a violation is a bug and panics).
    pub fn finish(self) -> CsrBatch {
        let b = self.batch;
        if let Err(e) = b.check() {
            panic!("CSR invariant broken: {e}");
        }
        b
    }
}

impl CsrBatch {
    /// Appends the derived rows of the record whose messages start at `m0` (its per-message
    /// rows already pushed): agent-game players, active agents, unions, player messages.
    /// O(messages + agents).
    fn derive_rows(&mut self, m0: usize, agent_count: usize) {
        let authors = &self.authors[m0..];
        let mut count = vec![0u32; agent_count];
        for &a in authors {
            if a != NO_AGENT {
                count[a as usize] += 1;
            }
        }
        // Compact agent-game player of each agent, and each union's start.
        let mut compact = vec![NO_AGENT; agent_count];
        let mut start = vec![0u32; agent_count];
        let mut at = 0u32;
        for (a, &c) in count.iter().enumerate() {
            if c > 0 {
                compact[a] = (self.active_agents.len()
                    - self.active_offsets[self.active_offsets.len() - 1] as usize)
                    as u32;
                self.active_agents.push(a as u32);
                self.union_offsets.push(at);
                start[a] = at;
                at += c;
            }
        }
        self.union_offsets.push(at);
        self.active_offsets.push(self.active_agents.len() as u32);
        let p0 = self.union_members.len();
        self.union_members.resize(p0 + at as usize, 0);
        self.union_messages.resize(p0 + at as usize, 0);
        for (m, &a) in authors.iter().enumerate() {
            if a == NO_AGENT {
                self.agent_players.push(NO_AGENT);
                continue;
            }
            self.agent_players.push(compact[a as usize]);
            let slot = p0 + start[a as usize] as usize;
            self.union_members[slot] = self.players[m0 + m];
            self.union_messages[slot] = m as u32;
            start[a as usize] += 1;
            self.player_messages.push(m as u32);
        }
        self.player_offsets.push(self.player_messages.len() as u32);
    }

    /// Flattens episodes; fails only when the batch would overflow u32 indices.
    pub fn from_episodes<'a>(eps: impl IntoIterator<Item = &'a Episode>) -> Result<Self, Overflow> {
        let mut b = CsrBuilder::new();
        for e in eps {
            b.try_push(e)?;
        }
        Ok(b.finish())
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Read access to record `r`. Panics if `r >= len()`.
    pub fn episode(&self, r: usize) -> EpisodeView<'_> {
        let meta = self.records[r];
        let m0 = meta.message_offset as usize;
        let m1 = m0 + meta.message_count as usize;
        let g0 = meta.group_offset as usize;
        let (a0, a1) = (
            self.active_offsets[r] as usize,
            self.active_offsets[r + 1] as usize,
        );
        let (p0, p1) = (
            self.player_offsets[r] as usize,
            self.player_offsets[r + 1] as usize,
        );
        EpisodeView {
            meta,
            parent_offsets: &self.parent_offsets[m0..=m1],
            parents: &self.parents,
            earlier: &self.earlier[m0..m1],
            authors: &self.authors[m0..m1],
            players: &self.players[m0..m1],
            groups: &self.groups[m0..m1],
            group_scores: &self.group_scores[g0..g0 + meta.group_count as usize],
            agent_players: &self.agent_players[m0..m1],
            active_agents: &self.active_agents[a0..a1],
            union_offsets: &self.union_offsets[a0 + r..=a1 + r],
            union_members: &self.union_members[p0..p1],
            union_messages: &self.union_messages[p0..p1],
            player_messages: &self.player_messages[p0..p1],
        }
    }

    /// Checks every documented invariant; O(size of the batch).
    pub fn check(&self) -> Result<(), String> {
        let m = self.authors.len();
        if self.parent_offsets.len() != m + 1 || self.parent_offsets[0] != 0 {
            return Err("parent_offsets must be messages + 1 long and start at 0".into());
        }
        if *self.parent_offsets.last().unwrap() as usize != self.parents.len() {
            return Err("last parent offset must equal parents.len()".into());
        }
        if self.players.len() != m
            || self.groups.len() != m
            || self.agent_players.len() != m
            || self.earlier.len() != m
        {
            return Err("per-message arrays differ in length".into());
        }
        let r = self.records.len();
        if self.active_offsets.len() != r + 1
            || self.player_offsets.len() != r + 1
            || self.union_offsets.len() != self.active_agents.len() + r
            || self.union_members.len() != self.player_messages.len()
            || self.union_messages.len() != self.player_messages.len()
        {
            return Err("derived rows do not match the records".into());
        }
        let mut next_msg = 0u32;
        let mut next_group = 0u32;
        for (r, meta) in self.records.iter().enumerate() {
            if meta.message_offset != next_msg || meta.group_offset != next_group {
                return Err(format!("record {r}: offsets are not contiguous"));
            }
            next_msg += meta.message_count;
            next_group += meta.group_count;
            let v = self.episode(r);
            let mut player = 0;
            for i in 0..v.len() {
                if v.parent_offsets[i] > v.parent_offsets[i + 1] {
                    return Err(format!(
                        "record {r}: parent offsets decrease at message {i}"
                    ));
                }
                if v.listed_parents(i).iter().any(|&p| p as usize >= i) {
                    return Err(format!(
                        "record {r}: message {i} has a parent that is not earlier"
                    ));
                }
                if v.earlier[i] > 1 || (v.earlier[i] == 1 && !v.listed_parents(i).is_empty()) {
                    return Err(format!(
                        "record {r}: message {i} has a bad all-earlier flag or a row beside it"
                    ));
                }
                let a = v.authors[i];
                if a != NO_AGENT && a >= meta.agent_count {
                    return Err(format!(
                        "record {r}: message {i} has author {a} out of range"
                    ));
                }
                let expect = if a == NO_AGENT { NO_AGENT } else { player };
                if v.players[i] != expect {
                    return Err(format!("record {r}: message {i} has a wrong player index"));
                }
                if a != NO_AGENT {
                    player += 1;
                }
                if v.groups[i] >= meta.group_count {
                    return Err(format!("record {r}: message {i} has group out of range"));
                }
            }
            if player != meta.player_count {
                return Err(format!("record {r}: player_count is wrong"));
            }
            if let Err(e) = v.check_derived() {
                return Err(format!("record {r}: {e}"));
            }
        }
        if next_msg as usize != m || next_group as usize != self.group_scores.len() {
            return Err("records do not cover the per-message arrays".into());
        }
        Ok(())
    }
}

/// The parents of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parents<'a> {
    /// Every earlier message: 0..m for message m.
    Earlier(u32),
    /// A stored row.
    Listed(&'a [u32]),
}

impl<'a> Parents<'a> {
    /// Number of parents.
    #[inline]
    pub fn len(&self) -> usize {
        match *self {
            Parents::Earlier(m) => m as usize,
            Parents::Listed(ps) => ps.len(),
        }
    }

    /// The parents in increasing order for `Earlier`, in row order for `Listed`.
    pub fn iter(&self) -> impl Iterator<Item = u32> + 'a {
        let (earlier, listed): (u32, &'a [u32]) = match *self {
            Parents::Earlier(m) => (m, &[]),
            Parents::Listed(ps) => (0, ps),
        };
        (0..earlier).chain(listed.iter().copied())
    }
}

/// One record's rows, with record-local indices.
#[derive(Debug, Clone, Copy)]
pub struct EpisodeView<'a> {
    /// The record's meta row.
    pub meta: RecordMeta,
    /// `len() + 1` row offsets into `parents` (global values).
    pub parent_offsets: &'a [u32],
    /// The batch's whole column array.
    pub parents: &'a [u32],
    /// Per message: 1 when its parents are every earlier message (see [`CsrBatch::earlier`]).
    pub earlier: &'a [u32],
    /// Per message: agent or [`NO_AGENT`].
    pub authors: &'a [u32],
    /// Per message: message-game player or [`NO_AGENT`].
    pub players: &'a [u32],
    /// Per message: group.
    pub groups: &'a [u32],
    /// Per group: q_G.
    pub group_scores: &'a [f64],
    /// Per message: agent-game player or [`NO_AGENT`].
    pub agent_players: &'a [u32],
    /// Agents with at least one message, in agent order: the players of the agent game.
    pub active_agents: &'a [u32],
    /// `active_agents.len() + 1` offsets from 0 into `union_members` / `union_messages`.
    pub union_offsets: &'a [u32],
    /// The Owen unions of the message game: per active agent, its players in message order.
    pub union_members: &'a [u32],
    /// Per active agent, its messages in order.
    pub union_messages: &'a [u32],
    /// Per message-game player, its message.
    pub player_messages: &'a [u32],
}

impl<'a> EpisodeView<'a> {
    /// Number of messages.
    pub fn len(&self) -> usize {
        self.authors.len()
    }

    /// Parents of message `m` (record-local indices). O(1).
    #[inline]
    pub fn parents_of(&self, m: usize) -> Parents<'a> {
        if self.earlier[m] == 1 {
            Parents::Earlier(m as u32)
        } else {
            Parents::Listed(self.listed_parents(m))
        }
    }

    /// True when the parents of message `m` are every earlier message.
    #[inline]
    pub fn all_earlier(&self, m: usize) -> bool {
        self.earlier[m] == 1
    }

    /// The stored row of message `m`'s parents (empty when they are every earlier message).
    /// O(1).
    #[inline]
    pub fn listed_parents(&self, m: usize) -> &'a [u32] {
        &self.parents[self.parent_offsets[m] as usize..self.parent_offsets[m + 1] as usize]
    }

    /// Stored parent entries of the episode (every-earlier parents count none). O(1).
    pub fn listed_parent_count(&self) -> usize {
        (self.parent_offsets[self.len()] - self.parent_offsets[0]) as usize
    }

    #[cfg_attr(not(any(test, feature = "internals")), expect(dead_code, reason = "read by the CSR tests"))]
    /// True when some message's parents are every earlier message.
    pub fn has_all_earlier(&self) -> bool {
        self.earlier.contains(&1)
    }

    /// True when every message is its own redundancy group.
    pub fn has_groups(&self) -> bool {
        self.group_scores.len() != self.len()
    }

    /// Number of unions (active agents).
    pub fn union_count(&self) -> usize {
        self.active_agents.len()
    }

    /// Union `u`: the message-game players of active agent `u`, in message order. O(1).
    pub fn union(&self, u: usize) -> &'a [u32] {
        &self.union_members[self.union_offsets[u] as usize..self.union_offsets[u + 1] as usize]
    }

    /// The messages of active agent `u`, in order. O(1).
    pub fn union_messages_of(&self, u: usize) -> &'a [u32] {
        &self.union_messages[self.union_offsets[u] as usize..self.union_offsets[u + 1] as usize]
    }

    /// Per union, the sum of its members' values `players[p]` (in member order): an
    /// active agent's credit from its messages' credits.
    pub fn union_sums(&self, players: &[f64]) -> Vec<f64> {
        (0..self.union_count())
            .map(|u| self.union(u).iter().map(|&p| players[p as usize]).sum())
            .collect()
    }

    /// The Owen unions as owned lists (for the estimators' `&[Vec<usize>]` interface).
    pub fn unions(&self) -> Vec<Vec<usize>> {
        (0..self.union_count())
            .map(|u| self.union(u).iter().map(|&p| p as usize).collect())
            .collect()
    }

    /// Checks the derived rows against the per-message rows: O(messages + agents).
    fn check_derived(&self) -> Result<(), String> {
        let n = self.meta.player_count as usize;
        if self.player_messages.len() != n
            || self.union_offsets.first() != Some(&0)
            || *self.union_offsets.last().unwrap_or(&0) as usize != n
            || self.union_offsets.len() != self.active_agents.len() + 1
        {
            return Err("derived row lengths are wrong".into());
        }
        for u in 0..self.union_count() {
            let a = self.active_agents[u];
            let ms = self.union_messages_of(u);
            if ms.is_empty() || self.union(u).len() != ms.len() {
                return Err(format!("union {u} is empty or misaligned"));
            }
            for (&m, &p) in ms.iter().zip(self.union(u)) {
                let m = m as usize;
                if self.authors.get(m) != Some(&a)
                    || self.agent_players[m] != u as u32
                    || self.players[m] != p
                    || self.player_messages[p as usize] as usize != m
                {
                    return Err(format!("union {u} does not match message {m}"));
                }
            }
        }
        let owned = self
            .agent_players
            .iter()
            .filter(|&&p| p != NO_AGENT)
            .count();
        if owned != n {
            return Err("agent-game players do not cover the messages with an agent".into());
        }
        Ok(())
    }

    /// The messages of each agent, in order: `result[a]` lists record-local message indices.
    pub fn messages_by_agent(&self) -> Vec<Vec<u32>> {
        let mut out = vec![Vec::new(); self.meta.agent_count as usize];
        for (m, &a) in self.authors.iter().enumerate() {
            if a != NO_AGENT {
                out[a as usize].push(m as u32);
            }
        }
        out
    }
}
