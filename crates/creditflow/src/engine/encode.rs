//! Encoding: one planned chunk ([`super::chunks::ChunkPlan`]) laid out as the kernels
//! read it ([`Chunk`]): the uniform, the slices, the game structs and the words (copies
//! of the batch's rows, nothing rebuilt). Both backends run the chunks encoded here.

use crate::csr::CsrBatch;
use crate::estimate::SampleOptions;
use crate::game::{Aggregate, Level, Link, ModelParams};

use super::chunks::{BufferSizes, ChunkPlan, Layout, Request};
use super::jobs::{GameBatch, Job, JobGame, JobShape, Kind};
use crate::kernels::types::{
    AGGREGATE_MAX, AGGREGATE_MEAN, AGGREGATE_MIN, CANARY, CONTROL_NONE, CONTROL_OWN,
    CONTROL_SHARED, Config, LINK_LINEAR, LINK_LOGISTIC, LINK_SATURATING, MobiusGame, Slice,
    SurrogateGame, TableGame,
};

/// One chunk laid out as the kernels read it.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    /// Which sampling kernel runs it.
    pub kind: Kind,
    /// The uniform of every dispatch of this chunk.
    pub config: Config,
    /// Per slice: which job and pairs (parallel to `slices`).
    pub parts: Vec<Request>,
    /// The slices.
    pub slices: Vec<Slice>,
    /// The kind's game array as u32 words ([`SurrogateGame`], [`MobiusGame`] or
    /// [`TableGame`] per slice).
    pub games: Vec<u32>,
    /// Union tables and game rows.
    pub words: Vec<u32>,
    /// Surrogate sampling chunk whose every pair's state fits
    /// [`crate::kernels::types::LOCAL_STRIDE`] words: it may run `sample_surrogate_local`.
    pub local: bool,
    /// Surrogate sampling chunk of chats only (no listed parent rows, `mean` or `max`
    /// aggregate, at most [`crate::kernels::types::CHAT_MAX_MESSAGES`] messages): it may run
    /// `sample_chat`, one workgroup per pair walk.
    pub chat: bool,
    /// Element counts and thread counts.
    pub sizes: BufferSizes,
}

/// The uniform for `model` and `seed`; thread counts are filled in per chunk.
pub fn base_config(model: &ModelParams, seed: u64) -> Config {
    let (link, link_a, link_b) = match model.link {
        Link::Linear => (LINK_LINEAR, 0.0, 0.0),
        Link::Logistic { kappa, tau } => (LINK_LOGISTIC, kappa as f32, tau as f32),
        Link::Saturating { cap } => (LINK_SATURATING, cap as f32, 0.0),
    };
    Config {
        seed_lo: seed as u32,
        seed_hi: (seed >> 32) as u32,
        aggregate: match model.aggregate {
            Aggregate::Mean => AGGREGATE_MEAN,
            Aggregate::Min => AGGREGATE_MIN,
            Aggregate::Max => AGGREGATE_MAX,
        },
        link,
        alpha: model.alpha as f32,
        link_a,
        link_b,
        canary: CANARY,
        ..Config::default()
    }
}

/// Lays out `plan`: slices, game structs and words. O(size of the chunk's games).
pub fn encode(
    plan: &ChunkPlan,
    batch: &CsrBatch,
    games: &GameBatch,
    jobs: &[Job],
    shapes: &[JobShape],
    model: &ModelParams,
    sampling: &SampleOptions,
) -> Chunk {
    let mut slices = Vec::with_capacity(plan.parts.len());
    let mut game_words: Vec<u32> = Vec::new();
    let mut words: Vec<u32> = Vec::with_capacity(plan.sizes.words as usize);
    let (mut thread, mut row, mut perm, mut scratch) = (0u32, 0u32, 0u32, 0u32);
    for (i, part) in plan.parts.iter().enumerate() {
        let job = &jobs[part.job];
        let shape = &shapes[part.job];
        let pairs = part.k1 - part.k0;
        let union_offset = words.len() as u32;
        words.extend_from_slice(&shape.union_offsets);
        words.extend_from_slice(&shape.union_members);
        match job.game {
            JobGame::SurrogateAgents | JobGame::SurrogateMessages | JobGame::SurrogateOwen => {
                let g = encode_surrogate(batch, job.record as usize, shape.level, &mut words);
                game_words.extend_from_slice(bytemuck::cast_slice(&[g]));
            }
            JobGame::Mobius(gi) => {
                let g = encode_mobius(games, gi, &mut words);
                game_words.extend_from_slice(bytemuck::cast_slice(&[g]));
            }
            JobGame::Table(gi) => {
                let values = words.len() as u32;
                words.extend(games.table_values(gi).iter().map(|&v| (v as f32).to_bits()));
                game_words.extend_from_slice(bytemuck::cast_slice(&[TableGame {
                    values,
                    ..TableGame::default()
                }]));
            }
        }
        let stride = plan.layout.stride(shape) as u32;
        let s = Slice {
            key_lo: job.key as u32,
            key_hi: (job.key >> 32) as u32,
            tag: job.tag,
            players: shape.players,
            unions: shape.unions(),
            owen: shape.owen as u32,
            pair_first: part.k0,
            pairs,
            thread_first: thread,
            row_first: row,
            union_offset,
            perm_offset: perm,
            scratch_offset: scratch,
            scratch_stride: stride,
            game: i as u32,
            beta: job.control.map_or(0.0, |c| c.beta as f32),
            control: match job.control {
                None => CONTROL_NONE,
                Some(c) if c.shared => CONTROL_SHARED,
                Some(_) => CONTROL_OWN,
            },
            ..Slice::default()
        };
        thread += pairs;
        if plan.layout == Layout::Pairs {
            row += s.rows();
        }
        perm += pairs * plan.layout.outputs(shape) as u32;
        scratch += pairs * stride;
        slices.push(s);
    }
    debug_assert_eq!(words.len() as u64, plan.sizes.words);
    debug_assert_eq!(perm as u64, plan.sizes.perms);
    let mut config = base_config(model, sampling.seed);
    config.slice_count = slices.len() as u32;
    config.pair_threads = thread;
    config.row_threads = row;
    let local = plan.kind == Kind::Surrogate
        && plan.layout == Layout::Pairs
        && plan
            .parts
            .iter()
            .all(|part| shapes[part.job].sample_scratch <= crate::kernels::types::LOCAL_STRIDE as u64);
    let chat = plan.kind == Kind::Surrogate
        && plan.layout == Layout::Pairs
        && model.aggregate != Aggregate::Min
        && plan.parts.iter().all(|part| {
            let view = batch.episode(jobs[part.job].record as usize);
            view.listed_parent_count() == 0
                && view.len() <= crate::kernels::types::CHAT_MAX_MESSAGES as usize
        });
    Chunk {
        kind: plan.kind,
        config,
        parts: plan.parts.clone(),
        slices,
        games: game_words,
        words,
        sizes: plan.sizes,
        local,
        chat,
    }
}

/// Appends the rows of record `r`'s surrogate game at `level` to `words`: copies of the
/// batch's rows (parents, all-earlier flags, owners, groups, scores, members), nothing
/// rebuilt.
fn encode_surrogate(
    batch: &CsrBatch,
    r: usize,
    level: Level,
    words: &mut Vec<u32>,
) -> SurrogateGame {
    let view = batch.episode(r);
    let n = view.len();
    let mut g = SurrogateGame {
        messages: n as u32,
        groups: view.group_scores.len() as u32,
        ..SurrogateGame::default()
    };
    g.parent_offsets = words.len() as u32;
    let p0 = view.parent_offsets[0];
    words.extend(view.parent_offsets.iter().map(|&o| o - p0));
    g.parents = words.len() as u32;
    words.extend_from_slice(&view.parents[p0 as usize..view.parent_offsets[n] as usize]);
    g.earlier = words.len() as u32;
    words.extend_from_slice(view.earlier);
    g.owners = words.len() as u32;
    words.extend_from_slice(match level {
        Level::Agents => view.agent_players,
        Level::Messages => view.players,
    });
    g.group_of = words.len() as u32;
    words.extend_from_slice(view.groups);
    g.scores = words.len() as u32;
    words.extend(view.group_scores.iter().map(|&q| (q as f32).to_bits()));
    g.member_offsets = words.len() as u32;
    match level {
        Level::Agents => {
            words.extend_from_slice(view.union_offsets);
            g.members = words.len() as u32;
            words.extend_from_slice(view.union_messages);
        }
        Level::Messages => {
            words.extend(0..=view.player_messages.len() as u32);
            g.members = words.len() as u32;
            words.extend_from_slice(view.player_messages);
        }
    }
    g
}

/// Appends the rows of Möbius game `gi` (non-empty terms only: coefficients, then each
/// term's members) to `words`.
fn encode_mobius(games: &GameBatch, gi: usize, words: &mut Vec<u32>) -> MobiusGame {
    let meta = games.games[gi];
    let terms: Vec<usize> = (meta.term_offset..meta.term_offset + meta.term_count)
        .map(|t| t as usize)
        .filter(|&t| !games.term(t).1.is_empty())
        .collect();
    let mut g = MobiusGame {
        terms: terms.len() as u32,
        ..MobiusGame::default()
    };
    g.coefficients = words.len() as u32;
    words.extend(
        terms
            .iter()
            .map(|&t| (games.coefficients[t] as f32).to_bits()),
    );
    g.term_offsets = words.len() as u32;
    words.push(0);
    let mut at = 0u32;
    for &t in &terms {
        at += games.term(t).1.len() as u32;
        words.push(at);
    }
    g.term_members = words.len() as u32;
    for &t in &terms {
        words.extend_from_slice(games.term(t).1);
    }
    g
}
