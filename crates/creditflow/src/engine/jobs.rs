//! What both backends are asked to estimate: [`Job`]s over a [`CsrBatch`] of episodes and
//! a [`GameBatch`] of general games, and what they answer ([`JobResult`]).
//!
//! A job names one sampled game: the surrogate of one episode at the agent level, the
//! message level (flat Shapley) or the message level with agents as unions (Owen), or
//! one Möbius or table game. [`JobShape`] says how big that game is, so that chunks can
//! be planned before anything is encoded.

use bytemuck::{Pod, Zeroable};

use crate::csr::{CsrBatch, EpisodeView, Overflow};
use crate::estimate::{McEstimate, closed_form};
use crate::game::{Level, Mobius, ModelParams, Table};
use crate::options::SampleOptions;
#[cfg(test)]
use crate::game::Link;
use crate::model::{Game, GameForm};

/// Which game a job samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobGame {
    /// The surrogate agent game of record `Job::record`: players are its active agents
    /// (agents with at least one message, in agent order), as numbered by
    /// [`crate::game::Surrogate::active_agents`].
    SurrogateAgents,
    /// The surrogate message game of record `Job::record`, flat Shapley: players are its
    /// messages with an agent (`CsrBatch::players`).
    SurrogateMessages,
    /// The surrogate message game with each active agent's messages as a union (Owen).
    SurrogateOwen,
    /// Game `i` of the [`GameBatch`], which must be a Möbius game.
    Mobius(usize),
    /// Game `i` of the [`GameBatch`], which must be a table game.
    Table(usize),
}

/// How a job is estimated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Estimator {
    /// Enumeration of all 2^n coalitions.
    Exact,
    /// A polynomial closed form (surrogate Owen and flat Shapley message values under the
    /// linear model, Möbius games).
    ClosedForm,
    /// Antithetic permutation sampling (Owen sampling for Owen jobs).
    Permutation,
    /// Paired, size-stratified regression (game records; CPU only).
    Regression,
}

impl Estimator {
    /// The name written to the output's `method` field.
    pub fn name(self) -> &'static str {
        match self {
            Estimator::Exact => "exact",
            Estimator::ClosedForm => "closed-form",
            Estimator::Permutation => "permutation",
            Estimator::Regression => "regression",
        }
    }
}

/// The control variate of a sampled surrogate job (DESIGN §4, [`crate::estimate::control`]):
/// the job samples the residual game v − β·v_lin along its permutations, and its result
/// carries β·φ(v_lin) from the closed form ([`add_linear_part`]). Decided by the plan.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Control {
    /// β, from the job's pilot round.
    pub beta: f64,
    /// v_lin shares v's presences (`mean` aggregate): the walk keeps Σ_m q_m·e_m beside
    /// Q. Otherwise v_lin's presences are walked beside v's (more state per pair).
    pub shared: bool,
}

impl Control {
    /// The control of coefficient `beta` under `model`.
    pub fn new(beta: f64, model: &ModelParams) -> Self {
        Control {
            beta,
            shared: model.aggregate == crate::game::Aggregate::Mean,
        }
    }
}

/// One estimate to compute: a game and its estimator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Job {
    /// How it is estimated. The sampling drivers ([`super::drive`]) take permutation jobs.
    pub estimator: Estimator,
    /// Index into the [`CsrBatch`] (surrogate jobs; ignored otherwise).
    pub record: u32,
    /// The record's stream key: `Episode::key` or `Game::key`.
    pub key: u64,
    /// The Philox tag word (see [`crate::rng::tag`]).
    pub tag: u32,
    /// The game.
    pub game: JobGame,
    /// Sampled surrogate jobs: the control variate, when the plan chose it.
    pub control: Option<Control>,
    /// Sampled jobs sized apart from the run's `--samples`: the most antithetic pairs
    /// (`--budget B`: ⌊(B − 2)/(n − 1)⌋ permutations of the job's n players); `None`: the
    /// run's [`SampleOptions`].
    pub pairs: Option<u64>,
}

impl Job {
    /// The sampling options of this job: the run's, with its own pair count when the
    /// plan gave it one.
    pub fn sampling(&self, run: &SampleOptions) -> SampleOptions {
        match self.pairs {
            Some(p) => SampleOptions {
                samples: 2 * p,
                target_se: None,
                ..*run
            },
            None => *run,
        }
    }
}

/// The estimate of one job.
#[derive(Debug, Clone, PartialEq)]
pub struct JobResult {
    /// Per player of the sampled game.
    pub players: McEstimate,
    /// Owen jobs: per active agent (union), in active-agent order.
    pub unions: Option<McEstimate>,
}

/// [`GameMeta::kind`] of a Möbius game.
pub const GAME_MOBIUS: u32 = 0;
/// [`GameMeta::kind`] of a table game.
pub const GAME_TABLE: u32 = 1;

/// Where one game's rows sit in a [`GameBatch`].
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct GameMeta {
    /// [`GAME_MOBIUS`] or [`GAME_TABLE`].
    pub kind: u32,
    /// Number of players.
    pub players: u32,
    /// First term in [`GameBatch::term_offsets`] (Möbius).
    pub term_offset: u32,
    /// Number of terms, empty ones included (Möbius).
    pub term_count: u32,
    /// First value in [`GameBatch::tables`] (table).
    pub table_offset: u32,
    /// 2^players for a table game, else 0.
    pub table_len: u32,
    /// Low word of the record's stream key.
    pub key_lo: u32,
    /// High word of the record's stream key.
    pub key_hi: u32,
}

/// Möbius and table games flattened into CSR arrays.
#[derive(Debug, Clone, PartialEq)]
pub struct GameBatch {
    /// One entry per game, in input order.
    pub games: Vec<GameMeta>,
    /// Row offsets into [`term_players`](Self::term_players): always terms + 1 long,
    /// starts at 0, non-decreasing, last element equals `term_players.len()`.
    pub term_offsets: Vec<u32>,
    /// Players of each term: sorted, duplicate-free, game-local.
    pub term_players: Vec<u32>,
    /// Coefficient per term.
    pub coefficients: Vec<f64>,
    /// The tables of table games, back to back.
    pub tables: Vec<f64>,
}

impl Default for GameBatch {
    fn default() -> Self {
        GameBatch {
            games: Vec::new(),
            term_offsets: vec![0],
            term_players: Vec::new(),
            coefficients: Vec::new(),
            tables: Vec::new(),
        }
    }
}

fn fits(x: usize, what: &'static str) -> Result<u32, Overflow> {
    u32::try_from(x).map_err(|_| Overflow { what })
}

impl GameBatch {
    /// Flattens validated games; fails only when an index would pass `u32::MAX`.
    pub fn new(games: &[&Game]) -> Result<Self, Overflow> {
        let mut b = GameBatch::default();
        for g in games {
            b.push(g)?;
        }
        Ok(b)
    }

    /// Appends a validated game; returns its index. On overflow the batch is unchanged.
    pub fn push(&mut self, g: &Game) -> Result<usize, Overflow> {
        match &g.form {
            GameForm::Mobius(terms) => {
                let term_offset = fits(self.coefficients.len(), "term count")?;
                let term_count = fits(terms.len(), "term count")?;
                fits(self.coefficients.len() + terms.len() + 1, "term count")?;
                let size: usize = terms.iter().map(|(_, s)| s.len()).sum();
                fits(self.term_players.len() + size, "term player count")?;
                for (c, set) in terms {
                    self.coefficients.push(*c);
                    self.term_players.extend_from_slice(set);
                    self.term_offsets.push(self.term_players.len() as u32);
                }
                self.games.push(GameMeta {
                    kind: GAME_MOBIUS,
                    players: g.players,
                    term_offset,
                    term_count,
                    key_lo: g.key as u32,
                    key_hi: (g.key >> 32) as u32,
                    ..GameMeta::default()
                });
                Ok(self.games.len() - 1)
            }
            GameForm::Table(t) => self.push_table(g.players, t, g.key),
        }
    }

    /// Appends a table game of `players` players (`values` has 2^players entries, e.g. an
    /// episode's measured coalition values); returns its index.
    pub fn push_table(
        &mut self,
        players: u32,
        values: &[f64],
        key: u64,
    ) -> Result<usize, Overflow> {
        let table_offset = fits(self.tables.len(), "table length")?;
        let table_len = fits(values.len(), "table length")?;
        fits(self.tables.len() + values.len(), "table length")?;
        self.tables.extend_from_slice(values);
        self.games.push(GameMeta {
            kind: GAME_TABLE,
            players,
            table_offset,
            table_len,
            key_lo: key as u32,
            key_hi: (key >> 32) as u32,
            ..GameMeta::default()
        });
        Ok(self.games.len() - 1)
    }

    /// Term `t` (batch-global index): coefficient and players.
    pub fn term(&self, t: usize) -> (f64, &[u32]) {
        let r = self.term_offsets[t] as usize..self.term_offsets[t + 1] as usize;
        (self.coefficients[t], &self.term_players[r])
    }

    /// The terms of Möbius game `i`, as validation produced them. Panics if game `i` is
    /// not a Möbius game.
    pub fn mobius_terms(&self, i: usize) -> Vec<(f64, Vec<u32>)> {
        let g = self.games[i];
        assert_eq!(g.kind, GAME_MOBIUS, "game {i} is not a Möbius game");
        (g.term_offset..g.term_offset + g.term_count)
            .map(|t| {
                let (c, set) = self.term(t as usize);
                (c, set.to_vec())
            })
            .collect()
    }

    /// The CPU evaluator of Möbius game `i` (the same one `score` builds). Panics if game
    /// `i` is not a Möbius game. O(total term size).
    pub fn mobius(&self, i: usize) -> Mobius {
        Mobius::new(self.games[i].players as usize, &self.mobius_terms(i))
    }

    /// The values of table game `i`. Panics if game `i` is not a table game.
    pub fn table_values(&self, i: usize) -> &[f64] {
        let g = self.games[i];
        assert_eq!(g.kind, GAME_TABLE, "game {i} is not a table game");
        &self.tables[g.table_offset as usize..(g.table_offset + g.table_len) as usize]
    }

    /// The CPU evaluator of table game `i`. Panics if game `i` is not a table game.
    pub fn table(&self, i: usize) -> Table<'_> {
        Table::new(self.table_values(i))
    }
}

/// The three families of sampled games; each has its own sampling kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `sample_surrogate`.
    Surrogate,
    /// `sample_mobius`.
    Mobius,
    /// `sample_table`.
    Table,
}

/// How big a job's game is: what chunk planning needs, computed without encoding it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobShape {
    /// Which sampling kernel.
    pub kind: Kind,
    /// The surrogate level (surrogate jobs).
    pub level: Level,
    /// Players n.
    pub players: u32,
    /// Union offsets (m + 1, from 0 to n): one union of all players for Shapley jobs.
    pub union_offsets: Vec<u32>,
    /// Union members, players in each union's order.
    pub union_members: Vec<u32>,
    /// True for Owen jobs: union rows are reduced too.
    pub owen: bool,
    /// Words the game takes in the `words` buffer.
    pub game_words: u64,
    /// Scratch words the sampling kernel needs per pair.
    pub sample_scratch: u64,
    /// Upper bound on the loop iterations of one thread of the sampling kernel (each
    /// loop counted as its iterations + 1), for drivers that cap them.
    pub sample_loops: u64,
    /// Largest union (Owen), which sets the reduce kernel's cost per pair.
    pub largest_union: u32,
    /// Scratch words one coalition of exact enumeration needs (surrogate: e and the group
    /// maxima).
    pub exact_scratch: u64,
    /// Upper bound on the loop iterations of one `exact_surrogate` thread.
    pub exact_loops: u64,
}

impl JobShape {
    /// Unions m.
    pub fn unions(&self) -> u32 {
        self.union_offsets.len() as u32 - 1
    }

    /// Rows reduced: the players, plus the unions of an Owen job.
    pub fn rows(&self) -> u32 {
        self.players + if self.owen { self.unions() } else { 0 }
    }

    /// Words of the union table (offsets, then members).
    pub fn union_words(&self) -> u64 {
        (self.union_offsets.len() + self.union_members.len()) as u64
    }

    /// Upper bound on the loop iterations of one thread of `draw_permutations`: six
    /// loops over the unions, a copy and a shuffle per union, the slice search, and room
    /// for Lemire rejections (each draw is rejected with probability below n/2³²).
    pub fn draw_loops(&self) -> u64 {
        6 * self.unions() as u64 + 2 * self.players as u64 + SEARCH_LOOPS + 67
    }

    /// Upper bound on the loop iterations one `reduce` thread spends per pair (two passes;
    /// a union row sums its members).
    pub fn reduce_loops_per_pair(&self) -> u64 {
        2 * (self.largest_union as u64 + 2)
    }

    /// Scratch words per pair: the draw's 2m words or the sampler's, whichever is more.
    pub fn scratch_stride(&self) -> u64 {
        (2 * self.unions() as u64).max(self.sample_scratch)
    }

    /// The shape of `job`. Panics when the job names a record or game that does not exist
    /// or a game of the other family (a caller bug).
    pub fn new(batch: &CsrBatch, games: &GameBatch, job: &Job) -> Self {
        let whole = |n: u32| (vec![0, n], (0..n).collect::<Vec<u32>>());
        match job.game {
            JobGame::SurrogateAgents | JobGame::SurrogateMessages | JobGame::SurrogateOwen => {
                assert!(
                    (job.record as usize) < batch.len(),
                    "job names record {} of a batch of {}",
                    job.record,
                    batch.len()
                );
                let view = batch.episode(job.record as usize);
                let m = view.len() as u64;
                // Stored parent entries: a message of every earlier parent reads the
                // running aggregate instead (O(1)).
                let n_parents = view.listed_parent_count() as u64;
                let groups = view.group_scores.len() as u64;
                let owned = view.meta.player_count as u64;
                let (level, players) = match job.game {
                    JobGame::SurrogateAgents => (Level::Agents, view.active_agents.len() as u32),
                    _ => (Level::Messages, view.meta.player_count),
                };
                let (union_offsets, union_members, owen) = if job.game == JobGame::SurrogateOwen {
                    (
                        view.union_offsets.to_vec(),
                        view.union_members.to_vec(),
                        true,
                    )
                } else {
                    let (o, u) = whole(players);
                    (o, u, false)
                };
                let n = players as u64;
                // One walk (one direction per dispatch): the empty coalition, Q, then per
                // added player its members and the messages after the first of them;
                // with v_lin's own presences (a controlled job under `min` / `max`) every
                // listed parent row is read twice.
                let own = job.control.is_some_and(|c| !c.shared);
                let walk = 3 * m
                    + 2 * groups
                    + n_parents
                    + owned
                    + 2 * n
                    + 6
                    + n * (m + n_parents + 2)
                    + if own { n_parents * (n + 1) } else { 0 };
                JobShape {
                    exact_scratch: m + groups,
                    exact_loops: SEARCH_LOOPS + 6 + 3 * m + n_parents + 3 * groups,
                    sample_loops: SEARCH_LOOPS + 3 + walk,
                    largest_union: largest(&union_offsets, owen),
                    kind: Kind::Surrogate,
                    level,
                    players,
                    union_offsets,
                    union_members,
                    owen,
                    // parent offsets, parents, earlier, owners, group_of, scores, member
                    // offsets, members
                    game_words: (m + 1)
                        + n_parents
                        + m
                        + m
                        + m
                        + groups
                        + (players as u64 + 1)
                        + owned,
                    // e, present, group maxima, running aggregate (and v_lin's own e and
                    // running aggregate)
                    sample_scratch: 2 * m + groups + (m + 1) + if own { 2 * m + 1 } else { 0 },
                }
            }
            JobGame::Mobius(i) => {
                let g = games.games[i];
                assert_eq!(g.kind, GAME_MOBIUS, "job names game {i}, not a Möbius game");
                let mut terms = 0u64;
                let mut size = 0u64;
                for t in g.term_offset..g.term_offset + g.term_count {
                    let s = (games.term_offsets[t as usize + 1] - games.term_offsets[t as usize])
                        as u64;
                    if s > 0 {
                        terms += 1;
                        size += s;
                    }
                }
                let (union_offsets, union_members) = whole(g.players);
                let n = g.players as u64;
                JobShape {
                    exact_scratch: 0,
                    exact_loops: 0,
                    // Ranks and sums (2n), each term's members, the pair means (n).
                    sample_loops: SEARCH_LOOPS + 3 + (terms + size + 3 * n + 2),
                    largest_union: 0,
                    kind: Kind::Mobius,
                    level: Level::Messages,
                    players: g.players,
                    union_offsets,
                    union_members,
                    owen: false,
                    // coefficients, term offsets, term members
                    game_words: terms + (terms + 1) + size,
                    // ranks and sums, per player
                    sample_scratch: 2 * n,
                }
            }
            JobGame::Table(i) => {
                let g = games.games[i];
                assert_eq!(g.kind, GAME_TABLE, "job names game {i}, not a table game");
                let (union_offsets, union_members) = whole(g.players);
                JobShape {
                    exact_scratch: 0,
                    exact_loops: 0,
                    sample_loops: SEARCH_LOOPS + 3 + (g.players as u64 + 1),
                    largest_union: 0,
                    kind: Kind::Table,
                    level: Level::Messages,
                    players: g.players,
                    union_offsets,
                    union_members,
                    owen: false,
                    game_words: g.table_len as u64,
                    sample_scratch: 0,
                }
            }
        }
    }
}

/// Loop iterations of the binary search for a thread's slice (≤ 33 halvings of a u32 range).
const SEARCH_LOOPS: u64 = 34;

fn largest(offsets: &[u32], owen: bool) -> u32 {
    if !owen {
        return 0;
    }
    offsets.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0)
}

/// The value scale of `job`'s game: a bound on |v| (at least 1), the unit of the GPU
/// tolerance's absolute part. Surrogate: Σ|q_G| (times κ/4, the steepest slope, for the
/// logistic link, whose input carries the rounding), plus |β|·Σ_m |q_m| (v_lin's bound)
/// for a controlled job, whose sampled game is v − β·v_lin; Möbius: Σ|c_k|; table: max |v|.
#[cfg(test)]
pub fn value_scale(batch: &CsrBatch, games: &GameBatch, job: &Job, model: &ModelParams) -> f64 {
    let s = match job.game {
        JobGame::SurrogateAgents | JobGame::SurrogateMessages | JobGame::SurrogateOwen => {
            let view = batch.episode(job.record as usize);
            let q: f64 = view.group_scores.iter().map(|q| q.abs()).sum();
            let lin: f64 = match job.control {
                Some(c) => {
                    c.beta.abs()
                        * view
                            .groups
                            .iter()
                            .map(|&g| view.group_scores[g as usize].abs())
                            .sum::<f64>()
                }
                None => 0.0,
            };
            lin + match model.link {
                Link::Logistic { kappa, .. } => q * kappa.abs() / 4.0,
                Link::Saturating { cap } => q.max(cap.abs()),
                Link::Linear => q,
            }
        }
        JobGame::Mobius(i) => {
            let g = games.games[i];
            (g.term_offset..g.term_offset + g.term_count)
                .map(|t| games.coefficients[t as usize].abs())
                .sum()
        }
        JobGame::Table(i) => games
            .table_values(i)
            .iter()
            .fold(0.0f64, |a, v| a.max(v.abs())),
    };
    s.max(1.0)
}

/// Completes the result of controlled job `job` (of record `view`): adds β·φ(v_lin) from
/// the closed form to the residual game's estimates (and β times its union sums to an
/// Owen job's union estimates). Standard errors are unchanged: the closed form is exact
/// and β came from an independent pilot round. Nothing for a job without control.
pub fn add_linear_part(view: &EpisodeView, alpha: f64, job: &Job, result: &mut JobResult) {
    let Some(c) = job.control else {
        return;
    };
    let phi = match job.game {
        JobGame::SurrogateMessages => closed_form::message_shapley(view, alpha),
        JobGame::SurrogateOwen => closed_form::message_owen(view, alpha),
        // The agent game is the Owen value's quotient game: its Shapley values are the
        // Owen union sums.
        JobGame::SurrogateAgents => view.union_sums(&closed_form::message_owen(view, alpha)),
        JobGame::Mobius(_) | JobGame::Table(_) => {
            panic!("only surrogate jobs take the control variate")
        }
    };
    for (m, l) in result.players.mean.iter_mut().zip(&phi) {
        *m += c.beta * l;
    }
    if let Some(u) = &mut result.unions {
        for (m, l) in u.mean.iter_mut().zip(view.union_sums(&phi)) {
            *m += c.beta * l;
        }
    }
}
