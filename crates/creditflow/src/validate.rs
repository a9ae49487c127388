//! Validation: raw records become [`Episode`]s and [`Game`]s with every reference
//! resolved to an index, or a [`RecordError`] naming the record, line and field
//! (DESIGN §2.3). Also fills in provenance for logs without parents and decides
//! structural credit for episodes without scores (DESIGN §3.1).

pub use crate::options::{Provenance, ValidateOptions};

use rustc_hash::FxHashMap as HashMap;

use crate::error::{ErrorKind, RecordError};
use crate::model::{Episode, Game, GameForm, Message, Record};
use crate::schema::{InputGame, InputRecord};
use crate::rng::record_key;

/// Most players a table game may have: the table holds 2^players numbers.
pub const MAX_TABLE_PLAYERS: u32 = 20;
/// Most players a Möbius game may have (DESIGN §2.6): every estimate holds a few f64
/// per player per thread.
pub const MAX_GAME_PLAYERS: u64 = 1 << 16;
/// Most messages of one episode (DESIGN §2.6).
pub const MAX_MESSAGES: usize = 1 << 16;
/// Most parent entries of one episode, after `--provenance` filled in the missing ones
/// (DESIGN §2.6): a `prefix` chat of M messages has M(M−1)/2, so up to 2,896 messages.
/// Checked before the parents are stored.
pub const MAX_PARENTS: usize = 1 << 22;

struct Ctx<'a> {
    id: &'a str,
    line: u64,
}

impl Ctx<'_> {
    fn err(
        &self,
        field: impl Into<String>,
        kind: ErrorKind,
        msg: impl Into<String>,
    ) -> RecordError {
        RecordError::new(Some(self.id.to_string()), self.line, field, kind, msg)
    }
    /// `x`, or an error at the field `field()` names (formatted only on error).
    fn finite(&self, field: impl FnOnce() -> String, x: f64) -> Result<f64, RecordError> {
        if x.is_finite() {
            Ok(x)
        } else {
            Err(self.err(
                field(),
                ErrorKind::NonFinite,
                format!("{x} is not a finite number"),
            ))
        }
    }
}

/// Validates one parsed record from `line` (1-based). Its stream key is
/// [`record_key`] of its id.
pub fn validate(
    raw: InputRecord,
    line: u64,
    opts: &ValidateOptions,
) -> Result<Record, RecordError> {
    let id = match &raw.id {
        Some(id) => id.0.clone(),
        None => {
            return Err(RecordError::new(
                None,
                line,
                "id",
                ErrorKind::MissingField,
                "every record needs an `id`",
            ));
        }
    };
    let ctx = Ctx { id: &id, line };
    let key = record_key(&id);
    match (&raw.messages, &raw.game) {
        (Some(_), Some(_)) => Err(ctx.err(
            "(record)",
            ErrorKind::UnknownRecord,
            "a record has either `messages` (an episode) or `game`, not both",
        )),
        (None, Some(_)) => {
            let game = raw.game.unwrap_or_default();
            validate_game(&ctx, game, key).map(Record::Game)
        }
        (Some(_), None) => validate_episode(&ctx, raw, key, opts).map(Record::Episode),
        (None, None) => Err(ctx.err(
            "(record)",
            ErrorKind::UnknownRecord,
            "record has neither `messages` (an episode) nor `game`",
        )),
    }
}

fn validate_game(ctx: &Ctx, game: InputGame, key: u64) -> Result<Game, RecordError> {
    let players = game.players.ok_or_else(|| {
        ctx.err(
            "game.players",
            ErrorKind::MissingField,
            "a game needs `players`",
        )
    })?;
    if players > MAX_GAME_PLAYERS {
        return Err(ctx.err(
            "game.players",
            ErrorKind::TooLarge,
            format!("{players} players; at most {MAX_GAME_PLAYERS} are supported"),
        ));
    }
    let players = players as u32;
    let form = match (game.terms, game.table) {
        (Some(_), Some(_)) => {
            return Err(ctx.err(
                "game",
                ErrorKind::UnknownRecord,
                "a game has either `terms` or `table`, not both",
            ));
        }
        (Some(terms), None) => {
            let mut out = Vec::with_capacity(terms.len());
            for (k, (c, set)) in terms.into_iter().enumerate() {
                ctx.finite(|| format!("game.terms[{k}][0]"), c)?;
                let mut s = Vec::with_capacity(set.len());
                for (i, &p) in set.iter().enumerate() {
                    if p >= players as u64 {
                        return Err(ctx.err(
                            format!("game.terms[{k}][1][{i}]"),
                            ErrorKind::TermPlayer,
                            format!("player {p} is out of range 0..{players}"),
                        ));
                    }
                    s.push(p as u32);
                }
                // A term is the set T of v(S) = Σ c·[T ⊆ S]; a repeated player is the same set.
                s.sort_unstable();
                s.dedup();
                out.push((c, s));
            }
            GameForm::Mobius(out)
        }
        (None, Some(table)) => {
            if players > MAX_TABLE_PLAYERS {
                return Err(ctx.err(
                    "game.players",
                    ErrorKind::TooLarge,
                    format!("a table game has at most {MAX_TABLE_PLAYERS} players, got {players}"),
                ));
            }
            let want = 1usize << players;
            if table.len() != want {
                return Err(ctx.err(
                    "game.table",
                    ErrorKind::TableLength,
                    format!(
                        "{} entries; {players} players need 2^{players} = {want}",
                        table.len()
                    ),
                ));
            }
            for (i, &v) in table.iter().enumerate() {
                ctx.finite(|| format!("game.table[{i}]"), v)?;
            }
            GameForm::Table(table)
        }
        (None, None) => {
            return Err(ctx.err(
                "game",
                ErrorKind::MissingField,
                "a game needs `terms` (Möbius form) or `table`",
            ));
        }
    };
    Ok(Game {
        id: ctx.id.to_string(),
        line: ctx.line,
        key,
        players,
        form,
    })
}

fn validate_episode(
    ctx: &Ctx,
    raw: InputRecord,
    key: u64,
    opts: &ValidateOptions,
) -> Result<Episode, RecordError> {
    let raw_messages = raw.messages.unwrap_or_default();
    let n = raw_messages.len();
    if n > MAX_MESSAGES {
        return Err(ctx.err(
            "messages",
            ErrorKind::TooLarge,
            format!("{n} messages; an episode has at most {MAX_MESSAGES}"),
        ));
    }
    // Parent entries once provenance is filled in, counted before any is stored.
    let parent_entries: usize = raw_messages
        .iter()
        .enumerate()
        .map(|(i, m)| match (&m.parents, opts.provenance) {
            (Some(p), _) => p.len(),
            (None, Provenance::Prefix) => i,
            (None, Provenance::Chain) => i.min(2),
            (None, Provenance::None) => 0,
        })
        .sum();
    if parent_entries > MAX_PARENTS {
        return Err(ctx.err(
            "messages",
            ErrorKind::TooLarge,
            format!(
                "{parent_entries} parent entries (with --provenance {} for messages without `parents`); an episode has at most {MAX_PARENTS}",
                opts.provenance
            ),
        ));
    }
    // Agents: as listed, else in order of first appearance.
    let mut agent_index: HashMap<String, u32> = HashMap::default();
    let agents: Vec<String> = match &raw.agents {
        Some(list) => {
            for (i, a) in list.iter().enumerate() {
                if agent_index.insert(a.clone(), i as u32).is_some() {
                    return Err(ctx.err(
                        format!("agents[{i}]"),
                        ErrorKind::DuplicateId,
                        format!("agent {a:?} is listed twice"),
                    ));
                }
            }
            list.clone()
        }
        None => {
            let mut list = Vec::new();
            for m in &raw_messages {
                if let Some(a) = &m.agent
                    && !agent_index.contains_key(a.as_str()) {
                        agent_index.insert(a.clone(), list.len() as u32);
                        list.push(a.clone());
                    }
            }
            list
        }
    };
    let outcome = raw.outcome.unwrap_or_default();
    let reward = outcome.reward.ok_or_else(|| {
        ctx.err(
            "outcome.reward",
            ErrorKind::MissingField,
            "an episode needs `outcome.reward`",
        )
    })?;
    ctx.finite(|| "outcome.reward".into(), reward)?;
    if let Some(b) = outcome.baseline {
        ctx.finite(|| "outcome.baseline".into(), b)?;
        // Credits sum to R − R0: it must be a number too.
        if !(reward - b).is_finite() {
            return Err(ctx.err(
                "outcome.baseline",
                ErrorKind::NonFinite,
                format!("reward − baseline = {reward:e} − {b:e} overflows an f64"),
            ));
        }
    }
    let coalition_values = match raw.coalition_values {
        Some(cv) => {
            if agents.len() > MAX_TABLE_PLAYERS as usize {
                return Err(ctx.err(
                    "coalition_values",
                    ErrorKind::TooLarge,
                    format!(
                        "coalition_values support at most {MAX_TABLE_PLAYERS} agents, got {}",
                        agents.len()
                    ),
                ));
            }
            let want = 1usize << agents.len();
            if cv.len() != want {
                return Err(ctx.err(
                    "coalition_values",
                    ErrorKind::TableLength,
                    format!(
                        "{} entries; {} agents need 2^{} = {want}",
                        cv.len(),
                        agents.len(),
                        agents.len()
                    ),
                ));
            }
            for (i, &v) in cv.iter().enumerate() {
                ctx.finite(|| format!("coalition_values[{i}]"), v)?;
            }
            Some(cv)
        }
        None => None,
    };

    // All ids first, so a parent that names a later message is told apart from an unknown one.
    let ids: Vec<String> = raw_messages
        .iter()
        .enumerate()
        .map(|(i, m)| m.id.as_ref().map_or_else(|| i.to_string(), |r| r.0.clone()))
        .collect();
    let mut index_of: HashMap<&str, u32> = HashMap::with_capacity_and_hasher(ids.len(), Default::default());
    for (i, id) in ids.iter().enumerate() {
        if index_of.insert(id.as_str(), i as u32).is_some() {
            return Err(ctx.err(
                format!("messages[{i}].id"),
                ErrorKind::DuplicateId,
                format!("message id {id:?} appears twice"),
            ));
        }
    }
    let mut listed = vec![0u32; ids.len()];
    let mut group_index: HashMap<String, u32> = HashMap::default();
    let mut group_given: Vec<Option<(f64, usize)>> = Vec::new();
    let mut messages = Vec::with_capacity(raw_messages.len());
    let any_score = raw_messages.iter().any(|m| m.score.is_some());
    for (i, m) in raw_messages.into_iter().enumerate() {
        let id = ids[i].clone();
        let agent = match &m.agent {
            None => None,
            Some(a) => Some(*agent_index.get(a.as_str()).ok_or_else(|| {
                ctx.err(
                    format!("messages[{i}].agent"),
                    ErrorKind::UnknownAgent,
                    format!("agent {a:?} is not in `agents`"),
                )
            })?),
        };
        let parents = match &m.parents {
            Some(ps) => {
                let mut out = Vec::with_capacity(ps.len());
                for (k, p) in ps.iter().enumerate() {
                    let field = || format!("messages[{i}].parents[{k}]");
                    let pi = match index_of.get(p) {
                        Some(&pi) if pi as usize >= i => {
                            return Err(ctx.err(
                                field(),
                                ErrorKind::ForwardParent,
                                format!("parent {:?} is not earlier than message {id:?} (a cycle or a break of causal order)", p),
                            ));
                        }
                        Some(&pi) => pi,
                        None => {
                            return Err(ctx.err(
                                field(),
                                ErrorKind::UnknownParent,
                                format!("parent {:?} names no message of this episode", p),
                            ));
                        }
                    };
                    // A stamp per message (the listing message's position + 1) finds a
                    // repeated parent in O(1), not by a scan of the row so far: a prefix
                    // row of a 130-message chat would otherwise cost O(M³) per episode.
                    if listed[pi as usize] == i as u32 + 1 {
                        return Err(ctx.err(
                            field(),
                            ErrorKind::DuplicateId,
                            format!("parent {:?} is listed twice", p),
                        ));
                    }
                    listed[pi as usize] = i as u32 + 1;
                    out.push(pi);
                }
                out
            }
            None => match opts.provenance {
                Provenance::Prefix => vec![],
                Provenance::Chain => match i {
                    0 => vec![],
                    1 => vec![0],
                    _ => vec![0, i as u32 - 1],
                },
                Provenance::None => vec![],
            },
        };
        if let Some(s) = m.score {
            ctx.finite(|| format!("messages[{i}].score"), s)?;
            if !(-1.0..=1.0).contains(&s) {
                return Err(ctx.err(
                    format!("messages[{i}].score"),
                    ErrorKind::OutOfRange,
                    format!("score {s} is outside [-1, 1]"),
                ));
            }
        }
        if let Some(alts) = &m.alternatives {
            for (k, a) in alts.iter().enumerate() {
                if let Some(s) = a.score {
                    ctx.finite(|| format!("messages[{i}].alternatives[{k}].score"), s)?;
                }
            }
        }
        let group = match &m.group {
            Some(g) => {
                let next = group_given.len() as u32;
                let gi = *group_index.entry(g.0.clone()).or_insert(next);
                if gi == next {
                    group_given.push(None);
                }
                if let Some(s) = m.score {
                    match group_given[gi as usize] {
                        Some((s0, i0)) if s0 != s => {
                            return Err(ctx.err(
                                format!("messages[{i}].score"),
                                ErrorKind::GroupScoreMismatch,
                                format!(
                                    "group {:?} has score {s0} at messages[{i0}] but {s} here",
                                    g.0
                                ),
                            ));
                        }
                        Some(_) => {}
                        None => group_given[gi as usize] = Some((s, i)),
                    }
                }
                gi
            }
            None => {
                group_given.push(m.score.map(|s| (s, i)));
                group_given.len() as u32 - 1
            }
        };
        // Every earlier message, listed or filled in, is stored as a flag (DESIGN §4: cost
        // is linear in the chat). Listed parents are distinct and earlier, so i of them
        // are all of 0..i.
        let all_earlier = i > 0
            && (parents.len() == i
                || (m.parents.is_none() && opts.provenance == Provenance::Prefix));
        let parents = if all_earlier { vec![] } else { parents };
        messages.push(Message {
            id,
            agent,
            parents,
            all_earlier,
            score: m.score,
            group,
            is_final: m.is_final,
            text: m.text,
            alternatives: m.alternatives.unwrap_or_default(),
        });
    }
    let group_scores: Vec<f64> = if any_score {
        group_given
            .iter()
            .map(|g| g.map_or(0.0, |(s, _)| s))
            .collect()
    } else {
        // Structural credit: the final message(s) score 1, all others 0.
        let mut q = vec![0.0; group_given.len()];
        let finals: Vec<usize> = messages
            .iter()
            .enumerate()
            .filter(|(_, m)| m.is_final)
            .map(|(i, _)| i)
            .collect();
        if finals.is_empty() {
            if let Some(last) = messages.iter().rposition(|m| m.agent.is_some()) {
                q[messages[last].group as usize] = 1.0;
            }
        } else {
            for i in finals {
                q[messages[i].group as usize] = 1.0;
            }
        }
        q
    };
    let success = outcome.success.unwrap_or(reward >= opts.threshold);
    Ok(Episode {
        id: ctx.id.to_string(),
        line: ctx.line,
        key,
        agents,
        messages,
        group_scores,
        structural: !any_score,
        reward,
        baseline: outcome.baseline,
        success,
        coalition_values,
    })
}
